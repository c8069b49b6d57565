"""Self-test of how the gateway's secrets are kept: sealed with systemd-creds, or plain files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gateway.selftest.outcome import CheckResult, Status, Words

if TYPE_CHECKING:
    from gateway.config import GatewayConfig

SECRETS_SEALED = Words(
    "SECRETS_SEALED",
    "已用 systemd-creds 封存：{names}",
    "sealed with systemd-creds: {names}",
)
SECRETS_NOT_SEALED = Words(
    "SECRETS_NOT_SEALED",
    "密钥为明文文件，未封存：{names}；拿到存储卡的人可直接读取",
    "not sealed: {names} are plain files anyone holding the SD card can read",
    "用 systemd-creds 封存：sudo zonegate provision --force --seal（保留设备密钥和已采集的人脸）",
    "seal them with systemd-creds: sudo zonegate provision --force --seal (keeps the device key "
    "and the enrolled faces)",
)
SECRETS_PARTLY_SEALED = Words(
    "SECRETS_PARTLY_SEALED",
    "已封存 {sealed}，但仍有明文：{names}",
    "{sealed} sealed, but these are still plain: {names}",
    "重新封存并删除明文：sudo zonegate provision --force",
    "re-seal, which removes the plaintext: sudo zonegate provision --force",
)
SECRETS_UNSEALABLE = Words(
    "SECRETS_UNSEALABLE",
    "本系统没有 systemd-creds（需 systemd 250 以上），密钥为明文文件：{names}",
    "no systemd-creds on this system (systemd 250 or later), the secrets are plain files: {names}",
)
SECRETS_NONE = Words(
    "SECRETS_NONE",
    "{dir} 中没有密钥（尚未 provision）",
    "no secrets in {dir} (not provisioned yet)",
)
SECRETS_UNREADABLE = Words(
    "SECRETS_UNREADABLE",
    "无法读取凭据目录 {dir}（仅 root 可读）",
    "cannot read the credentials directory {dir} (root only)",
    "以 root 运行：sudo zonegate selftest",
    "run as root: sudo zonegate selftest",
)


def check_sealing(cfg: GatewayConfig, credentials_dir: Path) -> CheckResult:
    """``secrets``: pass when the secrets in ``credentials_dir`` are sealed (``<name>.cred``)
    and no plaintext copy is left, warn when they are plain files and ``systemd-creds`` could
    seal them (the fix keeps the device key), skipped when this system cannot seal."""
    from gateway.credential_sealing import sealed_names, systemd_creds_available
    from gateway.credentials import SERVICE_CREDENTIALS_DIR
    from gateway.provisioning import SEALED_SECRETS

    try:
        present = {p.name for p in credentials_dir.iterdir()}
    except FileNotFoundError:
        present = set()
    except OSError:
        return SECRETS_UNREADABLE.result("secrets", Status.FAIL, dir=credentials_dir)
    sealed = [n for n in sealed_names(credentials_dir) if n in SEALED_SECRETS]
    plain = [n for n in SEALED_SECRETS if n in present]
    # The face-encoding key beside the store it encrypts: where the config names it, and the
    # default place a key from before sealing (or a restored backup) would be.
    state = cfg.storage.state_dir
    for key in dict.fromkeys([cfg.identity.key_path(state), state / "device.key"]):
        if not key.is_relative_to(SERVICE_CREDENTIALS_DIR) and key.exists():
            plain.append(str(key))
    details = {"sealed": sealed, "plain": plain}
    if sealed and not plain:
        return SECRETS_SEALED.result("secrets", Status.PASS, details, names=", ".join(sealed))
    if sealed:
        return SECRETS_PARTLY_SEALED.result(
            "secrets", Status.WARN, details, sealed=", ".join(sealed), names=", ".join(plain)
        )
    if not plain:
        return SECRETS_NONE.result("secrets", Status.SKIPPED, details, dir=credentials_dir)
    names = ", ".join(plain)
    if not systemd_creds_available():
        return SECRETS_UNSEALABLE.result("secrets", Status.SKIPPED, details, names=names)
    return SECRETS_NOT_SEALED.result("secrets", Status.WARN, details, names=names)
