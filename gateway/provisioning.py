"""``zonegate provision``: turn a blank gateway into a configured one.

Writes ``/etc/zonegate/gateway.yaml`` (validated by ``gateway.config.parse_config`` before it is
written), generates the device's Ed25519 key pair, installs the central public key and the
broker password as systemd credentials under ``/etc/zonegate/credentials`` (loaded by the
unit's ``LoadCredential=``; never written into the YAML) and prints what central must
register. Every value can come from a flag; a missing one is asked for on a terminal.
``--root DIR`` writes under another root (an image being built, or a test).
``--seal [MODE]`` seals the secrets with ``systemd-creds`` (``gateway.credential_sealing``):
the device key, the broker password and the face-encoding key become ``<name>.cred`` files, a
unit drop-in loads them with ``LoadCredentialEncrypted=``, and no plaintext copy stays on disk.
``--overlay FILE`` (repeatable) merges a site's own YAML over the template before the flags are
applied (``merge_overlay``): the shipped example stays the base and the site keeps only what
differs (its serial ports, intervals, a camera) in a small file of its own.

The YAML names the credentials where the *service* sees them, under
``/run/credentials/zonegate.service``; ``zonegate selftest`` maps that back to the
credentials directory when a technician runs it outside the service.
"""

from __future__ import annotations

import argparse
import copy
import getpass
import hashlib
import ipaddress
import json
import os
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.models import WORK_KIND_ZH, WorkKind
from edge.reasons import Lang
from firmware_adapters.bilingual import Bilingual
from gateway.cli_options import DEFAULT_CONFIG
from gateway.credential_sealing import (
    CRED_SUFFIX,
    DROPIN,
    SEAL_MODES,
    SealError,
    dropin_text,
    find_systemd_creds,
    seal,
    seal_mark,
    sealed_names,
    unseal,
)
from gateway.errors import GatewayError
from gateway.exitcodes import ExitCode
from gateway.phrasebook import add_lang_arg, say

CONFIG_PATH = DEFAULT_CONFIG  # where the unit and every command look for it
from gateway.credentials import CREDENTIALS_DIR as CREDENTIALS_DIR  # noqa: E402
from gateway.credentials import SERVICE_CREDENTIALS_DIR as SERVICE_CREDENTIALS_DIR  # noqa: E402

CRED_MQTT_PASSWORD = "mqtt-password"  # noqa: S105 - a credential *name*, not a secret
CRED_CENTRAL_KEY = "central-public-key.pem"
CRED_DEVICE_KEY = "device-key.pem"
# The face-encoding key (identity.key_file), moved from the state directory when sealed.
CRED_IDENTITY_KEY = "identity-key"
# What --seal encrypts; the central key is public and stays a plain credential.
SEALED_SECRETS = (CRED_DEVICE_KEY, CRED_MQTT_PASSWORD, CRED_IDENTITY_KEY)
_IDENTITY_KEY_BYTES = 32
DEVICE_PUBLIC_KEY = Path("/etc/zonegate/device-public-key.pem")
# The broker CA is copied here: the unit's ProtectHome= hides a CA left in /home/pi.
BROKER_CA = Path("/etc/zonegate/broker-ca.pem")

# Names for the codes of the one table (gateway/exitcodes.py) this command answers with.
EXIT_OK = ExitCode.OK
EXIT_EXISTS = ExitCode.FAILED  # refused: a config or device key is there (--force)
EXIT_INVALID = ExitCode.DATA  # an answer, the template or a key file cannot be used
EXIT_MISSING = ExitCode.USAGE  # a required flag is missing and there is no terminal to ask
EXIT_NO_INPUT = ExitCode.NO_INPUT  # a file named on the command line cannot be read

_HEADER = """\
# zonegate gateway configuration, written by `zonegate provision`.
# Validate after editing:  zonegate check-config -c {config}
# Secrets are not in this file: the broker password and the central public key are systemd
# credentials in {creds} (LoadCredential= in zonegate.service; when sealed with
# `zonegate provision --seal`, LoadCredentialEncrypted= in zonegate.service.d/sealed.conf).
"""


class ProvisionError(Bilingual, GatewayError):
    """Provisioning cannot go on; the message says what to fix, in English (``str``) and
    zh-CN (``zh``; ``text(lang)`` picks)."""

    def __init__(self, en: str, zh: str | None = None, code: ExitCode = ExitCode.DATA) -> None:
        super().__init__(en, zh or en)
        self.code = code


class AnswerError(GatewayError, argparse.ArgumentTypeError, ValueError):
    """An answer (a flag's value or a typed answer) that cannot be used. ``str`` holds both
    languages (argparse shows it before the language is known); a prompt shows ``text(lang)``."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en

    def text(self, lang: str) -> str:
        """The message in ``lang`` (``zh-CN``, else English)."""
        return self.zh if lang == "zh-CN" else self.en


@dataclass
class ProvisionResult:
    """What ``provision`` wrote: the config, the credentials folder, the device's public key
    (to register at central) and its key id."""

    config_path: Path
    credentials_dir: Path
    device_public_key: Path
    device_key_id: str
    central_key_id: str | None
    registration: dict[str, Any]
    sealed_with: str | None = None
    dropin: Path | None = None


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw key, first 16 hex digits (the same id cloud_sync.signing uses)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _under(root: Path, path: Path) -> Path:
    return root / path.relative_to("/") if path.is_absolute() else root / path


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by its owner only, durably (temp + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def restore_state_ownership(state_dir: Path) -> list[Path]:
    """Give files root just wrote in the service's state directory back to its owner.

    A technician runs ``sudo zonegate import-roster`` / ``selftest``; a registry or journal
    left owned by root would stop the ``zonegate`` user's daemon from opening its own stores.
    Only the directory's top level (registry, journal and its WAL files) and only as root.
    """
    if os.geteuid() != 0 or not state_dir.is_dir():
        return []
    owner = state_dir.stat()
    if owner.st_uid == 0:
        return []
    fixed: list[Path] = []
    for path in sorted(state_dir.iterdir()):
        st = path.lstat()
        if st.st_uid == 0 and not path.is_symlink():
            os.chown(path, owner.st_uid, owner.st_gid)
            fixed.append(path)
    return fixed


def build_config(answers: dict[str, Any], template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The gateway.yaml document: the template (sensors, cameras ...) with the answers on top."""
    doc: dict[str, Any] = json.loads(json.dumps(template or {}))  # a deep copy of plain data
    device = doc.setdefault("device", {})
    device["device_id"] = answers["device_id"]
    for key in ("timezone", "language"):
        if answers.get(key):
            device[key] = answers[key]
    zone = doc.setdefault("zone", {})
    zone["site"] = answers["site"]
    zone["zone_id"] = answers["zone_id"]
    if answers.get("zone_name"):
        zone["name"] = answers["zone_name"]
    if answers.get("work_kinds"):
        zone["work_kinds"] = list(answers["work_kinds"])
    if answers.get("fence"):
        lat, lon, radius = answers["fence"]
        zone["geofence"] = {
            "type": "circle",
            "center": {"lat": lat, "lon": lon},
            "radius_m": radius,
        }
        # A fence is only enforced with a position: the config refuses one without GPS.
        doc.setdefault("gps", {}).setdefault("enabled", True)
    if answers.get("state_dir"):
        doc.setdefault("storage", {})["state_dir"] = str(answers["state_dir"])
    if answers.get("assume_clock_trusted"):
        doc.setdefault("clock", {})["assume_trusted"] = True
    if answers.get("sealed"):
        # The face-encoding key is a sealed credential now, no longer a file beside the store.
        identity = doc.get("identity") or {}
        identity["key_file"] = str(SERVICE_CREDENTIALS_DIR / CRED_IDENTITY_KEY)
        doc["identity"] = identity
    mqtt = doc.get("mqtt") or {}
    if answers.get("broker_host") or mqtt.get("enabled"):
        # Secrets only as credentials, whatever the template said about password files.
        mqtt.pop("password_file", None)
        mqtt.update(
            {
                "enabled": True,
                "password_credential": CRED_MQTT_PASSWORD,
                "central_public_key": str(SERVICE_CREDENTIALS_DIR / CRED_CENTRAL_KEY),
            }
        )
        # The broker ACL's %u patterns make the user name the device id; a template's user
        # name (the example's) would leave the gateway unable to write its topics.
        mqtt["username"] = answers.get("broker_username") or answers["device_id"]
        if answers.get("broker_host"):
            tls = answers.get("tls", True)
            mqtt.update(
                host=answers["broker_host"],
                port=answers.get("broker_port") or (8883 if tls else 1883),
                tls=tls,
            )
        if answers.get("ca_file"):
            mqtt["ca_file"] = str(BROKER_CA)
        doc["mqtt"] = mqtt
    return doc


def render_config(doc: dict[str, Any], template_text: str | None = None) -> str:
    """The config's text: over the template's own text when given (its comments kept)."""
    header = _HEADER.format(config=CONFIG_PATH, creds=CREDENTIALS_DIR) + "\n"
    if template_text is not None:
        from gateway.template_text import render_over_template

        merged = render_over_template(template_text, doc)
        if merged is not None:
            return header + merged
    body = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, default_flow_style=False)
    return header + body


def _rooted(root: Path, path: Path) -> Path:
    """``path`` as seen under ``root``: a path already inside it (a test's state dir) as is."""
    if root == Path("/") or path.is_relative_to(root):
        return path
    return _under(root, path)


def _existing_secret(creds: Path, name: str) -> bytes | None:
    """A secret already provisioned in ``creds``: sealed (decrypted), else plain, else None."""
    cred = creds / f"{name}{CRED_SUFFIX}"
    if cred.exists():
        return unseal(name, cred)
    plain = creds / name
    return plain.read_bytes() if plain.exists() else None


def _identity_key(
    root: Path, creds: Path, state_dir: Path, store: Path, template: dict[str, Any] | None
) -> tuple[bytes, Path]:
    """The face-encoding key to seal and the plaintext file it came from (removed once sealed).

    An already sealed key is kept; else the plaintext key of the state directory (or the
    template's ``identity.key_file``) is taken over, so the enrolled faces stay readable; else
    a new random key. A face store without any key is refused: a new key cannot read it.
    """
    named = ((template or {}).get("identity") or {}).get("key_file")
    plain = Path(named) if named else state_dir / "device.key"
    if plain.is_relative_to(SERVICE_CREDENTIALS_DIR):
        plain = state_dir / "device.key"
    plain = _rooted(root, plain)
    sealed = _existing_secret(creds, CRED_IDENTITY_KEY) if sealed_names(creds) else None
    if sealed is not None:
        return sealed, plain
    if plain.exists():
        key = plain.read_bytes()
        if len(key) < _IDENTITY_KEY_BYTES:
            raise ProvisionError(
                f"{plain}: the face-encoding key is shorter than {_IDENTITY_KEY_BYTES} bytes",
                f"{plain}：人脸特征加密密钥短于 {_IDENTITY_KEY_BYTES} 字节",
            )
        return key, plain
    store = _rooted(root, store)
    if store.exists():
        raise ProvisionError(
            f"{store} holds enrolled faces but their key ({plain}) is not there: sealing a new "
            "key would leave them unreadable; restore the key, or erase the store and enrol "
            "again (zonegate reset-store)",
            f"{store} 中有已采集的人脸，但其密钥（{plain}）不在：封存新密钥会使其无法读取；"
            "请恢复该密钥，或清除人脸库后重新采集（zonegate reset-store）",
        )
    return secrets.token_bytes(_IDENTITY_KEY_BYTES), plain


def _seal_mode(creds: Path) -> str:
    """The mode the credentials in ``creds`` were sealed with (``auto`` when not recorded)."""
    try:
        mode = seal_mark(creds).read_text(encoding="utf-8").strip()
    except OSError:
        return "auto"
    return mode if mode in SEAL_MODES else "auto"


# The config keys a flag of ``provision`` sets: an issue there is the flag's, not a file's.
_FLAG_OF_KEY = {
    "device.device_id": ("device_id", "--device-id"),
    "device.timezone": ("timezone", "--timezone"),
    "device.language": ("language", "--language"),
    "zone.site": ("site", "--site"),
    "zone.zone_id": ("zone_id", "--zone-id"),
    "zone.name": ("zone_name", "--zone-name"),
    "zone.work_kinds": ("work_kinds", "--work-kinds"),
    "zone.geofence": ("fence", "--fence"),
    "storage.state_dir": ("state_dir", "--state-dir"),
    "mqtt.host": ("broker_host", "--broker-host"),
    "mqtt.port": ("broker_port", "--broker-port"),
    "mqtt.username": ("broker_username", "--broker-username"),
}


def _prefixes(path: str) -> list[str]:
    """``gas.sensors[0].port`` -> its key paths, longest first (down to ``gas``)."""
    cuts = [i for i, ch in enumerate(path) if ch in ".[" and i > 0]
    return [path, *(path[:i] for i in reversed(cuts))]


def _place_issues(
    issues: list[Any], answers: dict[str, Any], sources: list[tuple[str, str]]
) -> tuple[list[str], list[str], ExitCode]:
    """Each issue of the merged config said where the technician can fix it: the flag that
    set the key, else the template/overlay line that gave it (the last file giving the longest
    part of the key path wins: it is what the merge kept), else the merged text as is.
    Returns the English lines, the zh-CN lines and the exit code (2 for a flag, 78 for a file,
    65 when neither is known)."""
    from gateway.config import ConfigIssue, key_lines

    lines = [(name, key_lines(text, name)) for name, text in sources]
    en: list[str] = []
    zh: list[str] = []
    flagged = filed = False
    for issue in issues:
        flag = next(
            (
                f
                for key, (answer, f) in _FLAG_OF_KEY.items()
                if answers.get(answer)
                and (issue.path == key or issue.path.startswith((key + ".", key + "[")))
            ),
            None,
        )
        if flag is not None:
            flagged = True
            en.append(f"{flag}: {issue.message}")
            zh.append(f"{flag}：{issue.message_zh or issue.message}")
            continue
        best: tuple[int, str, int] | None = None
        for name, known in lines:  # in merge order: a later file wins a tie
            for prefix in _prefixes(issue.path) if issue.path else []:
                if prefix in known:
                    if best is None or len(prefix) >= best[0]:
                        best = (len(prefix), name, known[prefix])
                    break
        if best is not None:
            filed = True
            issue = ConfigIssue(best[1], best[2], issue.path, issue.message, issue.message_zh)
        en.append(issue.text("en"))
        zh.append(issue.text("zh-CN"))
    code = EXIT_MISSING if flagged else ExitCode.CONFIG if filed else EXIT_INVALID
    return en, zh, code


def provision(
    answers: dict[str, Any],
    *,
    root: Path = Path("/"),
    template: dict[str, Any] | None = None,
    central_key_pem: bytes | None = None,
    broker_password: str | None = None,
    force: bool = False,
    rotate_key: bool = False,
    template_text: str | None = None,
    seal_with: str | None = None,
    sources: list[tuple[str, str]] | None = None,
) -> ProvisionResult:
    """Validate, then write config, keys and credentials under ``root``.

    Nothing is written if the config does not validate, the central key is not an Ed25519
    public key, or (without ``force``) a config or device key is already there. ``force``
    rewrites the config and credentials but keeps an existing device key (central knows the
    gateway by it) and, when none is given, the broker password and central key; only
    ``rotate_key`` makes a new device key, which central must register again.
    ``template_text`` is the template as written: its comments are kept in the config.

    ``sources`` are the template and overlay files as (path, text), in merge order: a config
    issue is reported at the file:line that gave the key (exit 78), one a flag gave names the
    flag (exit 2), not the line of the config not yet written.

    ``seal_with`` (a ``SEAL_MODES`` value) seals the secrets with ``systemd-creds``; a gateway
    sealed before is re-sealed with its recorded mode when it is None. Raises
    ``ProvisionError``, or ``SealError`` when ``systemd-creds`` is missing or refuses.
    """
    from gateway.config import ConfigError, parse_config

    creds = _under(root, CREDENTIALS_DIR)
    if seal_with is None and sealed_names(creds):
        seal_with = _seal_mode(creds)  # once sealed, a plain --force keeps it sealed
    if seal_with is not None:
        find_systemd_creds()  # missing or too old: said before anything else
    doc = build_config({**answers, "sealed": seal_with is not None}, template)
    text = render_config(doc, template_text)
    try:
        cfg = parse_config(text, str(CONFIG_PATH))
    except ConfigError as err:
        en, zh, code = _place_issues(err.issues, answers, sources or [])
        raise ProvisionError(
            "the config would not validate:\n" + "\n".join(en),
            "配置无法通过检查：\n" + "\n".join(zh),
            code,
        ) from err
    config_path = _under(root, CONFIG_PATH)
    device_key_path = creds / CRED_DEVICE_KEY
    device_key_cred = creds / f"{CRED_DEVICE_KEY}{CRED_SUFFIX}"
    pub_path = _under(root, DEVICE_PUBLIC_KEY)
    existing = [p for p in (config_path, device_key_path, device_key_cred) if p.exists()]
    if existing and not force:
        paths = ", ".join(map(str, existing))
        raise ProvisionError(
            f"{paths} already exist(s); use --force to rewrite the "
            "config and credentials (the device key is kept; --rotate-key replaces it, and "
            "central must then register the gateway again)",
            f"{paths} 已存在；用 --force 重写配置和凭据（设备密钥保留；--rotate-key 会换新密钥，"
            "之后中心端须重新登记本网关）",
            EXIT_EXISTS,
        )
    if force and cfg.mqtt.enabled:
        # Re-provisioning keeps what was given before unless a new value is given now.
        if broker_password is None:
            kept = _existing_secret(creds, CRED_MQTT_PASSWORD)
            lines = kept.decode("utf-8", "replace").splitlines() if kept else []
            broker_password = lines[0] if lines and lines[0] else None
        if central_key_pem is None:
            kept = _existing_secret(creds, CRED_CENTRAL_KEY)
            central_key_pem = kept or None
    if cfg.mqtt.enabled and (central_key_pem is None or broker_password is None):
        # A flag left out: the command line is wrong (exit 2), no input file is.
        raise ProvisionError(
            "a broker is configured: give --central-key and the broker password "
            "(--broker-password-file, or answer the prompt)",
            "已配置 MQTT 服务器：请给出 --central-key（中心公钥）和服务器密码"
            "（--broker-password-file，或在提示时输入）",
            EXIT_MISSING,
        )
    central: Ed25519PublicKey | None = None
    if central_key_pem is not None:
        try:
            loaded = serialization.load_pem_public_key(central_key_pem)
        except ValueError as err:
            raise ProvisionError(
                f"central key: not a PEM public key: {err}", f"中心公钥：不是 PEM 公钥（{err}）"
            ) from err
        if not isinstance(loaded, Ed25519PublicKey):
            raise ProvisionError(
                "central key: not an Ed25519 public key", "中心公钥：不是 Ed25519 公钥"
            )
        central = loaded
    if broker_password is not None and (not broker_password or "\n" in broker_password):
        raise ProvisionError(
            "broker password: empty or more than one line", "服务器密码：为空或多于一行"
        )
    ca_pem: bytes | None = None
    if answers.get("ca_file"):
        try:
            ca_pem = Path(answers["ca_file"]).read_bytes()
        except OSError as err:
            raise ProvisionError(
                f"--ca-file {answers['ca_file']}: {err.strerror}",
                f"--ca-file {answers['ca_file']}：无法读取（{err.strerror}）",
            ) from err
        if b"-----BEGIN CERTIFICATE-----" not in ca_pem:
            raise ProvisionError(
                f"--ca-file {answers['ca_file']}: not a PEM certificate",
                f"--ca-file {answers['ca_file']}：不是 PEM 证书",
            )

    private: Ed25519PrivateKey | None = None
    source = device_key_cred if device_key_cred.exists() else device_key_path
    if source.exists() and not rotate_key:
        try:
            loaded_key = serialization.load_pem_private_key(
                _existing_secret(creds, CRED_DEVICE_KEY) or b"", password=None
            )
        except (ValueError, TypeError) as err:
            raise ProvisionError(
                f"{source}: the existing device key is unreadable ({err}); "
                "use --rotate-key to make a new one (central must register it again)",
                f"{source}：现有设备密钥无法读取（{err}）；用 --rotate-key 生成新密钥"
                "（中心端须重新登记）",
            ) from err
        if not isinstance(loaded_key, Ed25519PrivateKey):
            raise ProvisionError(
                f"{source}: not an Ed25519 key; use --rotate-key",
                f"{source}：不是 Ed25519 密钥；用 --rotate-key",
            )
        private = loaded_key
    key_kept = private is not None
    if private is None:
        private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    password_bytes = b"" if broker_password is None else broker_password.encode() + b"\n"
    # Sealed: everything is encrypted (in memory, through systemd-creds' pipes) before the
    # first file is written, so a refused mode (tpm2 without a TPM) leaves nothing half done.
    sealed: dict[str, bytes] = {}
    identity_plain: Path | None = None
    if seal_with is not None:
        state_dir = cfg.storage.state_dir
        store = cfg.identity.store_path(state_dir)
        identity_key, identity_plain = _identity_key(root, creds, state_dir, store, template)
        plaintexts = {
            CRED_DEVICE_KEY: private_pem,
            CRED_MQTT_PASSWORD: password_bytes,
            CRED_IDENTITY_KEY: identity_key,
        }
        sealed = {name: seal(name, data, seal_with) for name, data in plaintexts.items()}

    creds.mkdir(parents=True, exist_ok=True)
    creds.chmod(0o700)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_public(pub_path, public_pem)
    # The unit's LoadCredential= fails the start when a source file is missing, so a gateway
    # without sync still gets (empty) files; an empty credential is never a usable secret.
    central_pem = b""
    if central is not None:
        central_pem = central.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    _write_private(creds / CRED_CENTRAL_KEY, central_pem)
    dropin: Path | None = None
    if seal_with is not None:
        for name, blob in sealed.items():
            _write_private(creds / f"{name}{CRED_SUFFIX}", blob)
            (creds / name).unlink(missing_ok=True)  # a plaintext copy from before sealing
        _write_public(seal_mark(creds), f"{seal_with}\n".encode())
        dropin = _under(root, DROPIN)
        _write_public(dropin, dropin_text(list(sealed), CREDENTIALS_DIR, seal_with).encode())
    else:
        if not key_kept or not device_key_path.exists():
            _write_private(device_key_path, private_pem)
        _write_private(creds / CRED_MQTT_PASSWORD, password_bytes)
    if ca_pem is not None:
        _write_public(_under(root, BROKER_CA), ca_pem)
    # The config last: its presence means the rest is in place.
    _write_public(config_path, text.encode("utf-8"))
    if identity_plain is not None:
        # Only now: the config names the sealed key, and the store stays readable under it.
        identity_plain.unlink(missing_ok=True)

    device_key_id = key_fingerprint(private.public_key())
    registration: dict[str, Any] = {
        "site": cfg.zone.site,
        "device_id": cfg.device.device_id,
        "zone_id": cfg.zone.zone_id,
        "device_public_key_pem": public_pem.decode(),
        "device_key_id": device_key_id,
        "device_key_kept": key_kept,
    }
    if cfg.mqtt.enabled:
        registration["broker_username"] = cfg.mqtt.username
        registration["topic_prefix"] = f"edge/v1/{cfg.zone.site}/{cfg.device.device_id}/"
        registration["central_key_id"] = key_fingerprint(central) if central else None
    return ProvisionResult(
        config_path=config_path,
        credentials_dir=creds,
        device_public_key=pub_path,
        device_key_id=device_key_id,
        central_key_id=key_fingerprint(central) if central else None,
        registration=registration,
        sealed_with=seal_with,
        dropin=dropin,
    )


# --------------------------------------------------------------------------------------------
# CLI


_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _ask(label: str, default: str | None = None) -> str:
    from rich.prompt import Prompt

    if default is None:
        answer = Prompt.ask(label)
    else:  # an empty default is not shown as "()"
        answer = Prompt.ask(label, default=default, show_default=bool(default))
    return str(answer).strip()


def _ask_until(label: str, check: Any, default: str | None = None, lang: str = "zh-CN") -> Any:
    """Ask until ``check(answer)`` accepts it; why not is shown at once, in ``lang``."""
    while True:
        text = _ask(label, default)
        try:
            return check(text)
        except AnswerError as err:
            print(f"  {err.text(lang)}")
        except (ValueError, argparse.ArgumentTypeError) as err:
            print(f"  {err}")


def _check_id(what: str) -> Any:
    def check(text: str) -> str:
        if not _ID.match(text):
            raise AnswerError(
                f"{what}：只能用字母、数字、- 和 _，1-64 个字符",
                f"{what}: letters, digits, - and _ only, 1-64 characters",
            )
        return text

    return check


def _check_existing_file(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_file():
        raise AnswerError(f"找不到文件：{path}", f"no such file: {path}")
    return path


# A DNS name (ASCII labels of letters, digits, - and _, dot-separated) or an IP address.
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_][A-Za-z0-9_-]{0,62})*\.?$"
)


def _check_host(text: str) -> str:
    """A broker host: an IP address or a host name (``二号区`` is neither)."""
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        pass
    else:
        return text
    if not _HOSTNAME.match(text) or text.replace(".", "").isdigit():
        raise AnswerError(
            f"不是主机名或 IP 地址：{text!r}（主机名只用 ASCII 字母、数字、- 和 .，"
            "如 broker.plant1.local 或 10.0.0.5）",
            f"not a host name or IP address: {text!r} (host names use ASCII letters, digits, "
            "- and ., e.g. broker.plant1.local or 10.0.0.5)",
        )
    return text


def _check_port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise AnswerError("端口为 1-65535 的数字", "a port is a number 1-65535")
    return int(text)


def _parse_fence(text: str) -> tuple[float, float, float]:
    parts = [p.strip() for p in text.replace("，", ",").split(",")]
    if len(parts) != 3:
        raise AnswerError(
            "格式：纬度,经度,半径米，例如 31.2304,121.4737,60",
            "use LAT,LON,RADIUS_M, e.g. 31.2304,121.4737,60",
        )
    try:
        lat, lon, radius = (float(p) for p in parts)
    except ValueError as err:
        raise AnswerError(f"不是数字：{text}", f"not numbers: {text}") from err
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise AnswerError(
            "纬度在 -90..90、经度在 -180..180 之间", "latitude -90..90, longitude -180..180"
        )
    if not 5 <= radius <= 5000:
        raise AnswerError("半径 5-5000 米", "radius 5-5000 m")
    return lat, lon, radius


def work_kinds_text() -> str:
    """``DHZY 动火作业, YXKJ 受限空间作业, ...``: what a technician picks from."""
    return ", ".join(f"{k.value} {WORK_KIND_ZH[k]}" for k in WorkKind)


def _parse_kinds(text: str) -> list[str]:
    kinds = [k.strip().upper() for k in re.split(r"[,，\s]+", text) if k.strip()]
    by_zh = {WORK_KIND_ZH[k]: k.value for k in WorkKind} | {
        WORK_KIND_ZH[k].removesuffix("作业"): k.value for k in WorkKind
    }
    kinds = [by_zh.get(k, k) for k in kinds]
    valid = {k.value for k in WorkKind}
    bad = [k for k in kinds if k not in valid]
    if bad or not kinds:
        names = ", ".join(bad) or "(none)"
        raise AnswerError(
            f"未知的作业类别 {names}；可选：{work_kinds_text()}",
            f"unknown work kind(s) {names}; use: {work_kinds_text()}",
        )
    return kinds


def _check_flags(answers: dict[str, Any]) -> None:
    """Refuse a flag's value the config would refuse, naming the flag and saying in words
    what it takes (exit 2: the command line is wrong), before a prompt or a file is read."""
    for key in ("device_id", "site", "zone_id"):
        value = answers[key]
        if value and not _ID.match(value):
            flag = f"--{key.replace('_', '-')}"
            raise ProvisionError(
                f"{flag} {value!r}: only ASCII letters, digits, - and _, 1-64 characters "
                "(no spaces, no Chinese characters: it is part of MQTT topics and file names)",
                f"{flag} {value!r}：只能用 ASCII 字母、数字、- 和 _，1-64 个字符"
                "（不能有空格或汉字：它是 MQTT 主题和文件名的一部分）",
                EXIT_MISSING,
            )
    host = answers["broker_host"]
    if host:
        try:
            _check_host(host)
        except AnswerError as err:
            raise ProvisionError(
                f"--broker-host: {err.en}", f"--broker-host：{err.zh}", EXIT_MISSING
            ) from None
    timezone = answers["timezone"]
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ProvisionError(
                f"--timezone {timezone!r}: not a known time zone; use an IANA name such as "
                "Asia/Shanghai",
                f"--timezone {timezone!r}：未知的时区；请用 IANA 名称，如 Asia/Shanghai",
                EXIT_MISSING,
            ) from None


def _fence_text(fence: Any) -> str | None:
    """A template's circle fence as the ``LAT,LON,RADIUS_M`` a prompt shows; None otherwise."""
    if not isinstance(fence, dict) or fence.get("type", "circle") != "circle":
        return None
    center = fence.get("center") or {}
    try:
        return f"{float(center['lat'])},{float(center['lon'])},{float(fence['radius_m']):g}"
    except (KeyError, TypeError, ValueError):
        return None


def _gather(
    args: argparse.Namespace, lang: str = "zh-CN", template: dict[str, Any] | None = None
) -> dict[str, Any]:
    interactive = sys.stdin.isatty() and not args.yes
    answers: dict[str, Any] = {
        "device_id": args.device_id,
        "site": args.site,
        "zone_id": args.zone_id,
        "zone_name": args.zone_name,
        "work_kinds": args.work_kinds,
        "fence": args.fence,
        "timezone": args.timezone,
        "language": args.language,
        "state_dir": args.state_dir,
        "assume_clock_trusted": args.assume_clock_trusted,
        "broker_host": args.broker_host,
        "broker_port": args.broker_port,
        "broker_username": args.broker_username,
        "tls": not args.no_tls,
        "ca_file": args.ca_file,
        "central_key": args.central_key,
    }
    prompts = {
        "device_id": "设备编号 Device id",
        "site": "厂区 Site",
        "zone_id": "区域编号 Zone id",
    }
    _check_flags(answers)
    for key, label in prompts.items():
        if answers[key]:
            continue
        if not interactive:
            flag = f"--{key.replace('_', '-')}"
            raise ProvisionError(
                f"{flag} is required (no terminal to ask)",
                f"需要 {flag}（没有终端可以提问）",
                EXIT_MISSING,
            )
        answers[key] = _ask_until(label, _check_id(label), lang=lang)
    if not answers["work_kinds"] and not args.template:
        if not interactive:
            raise ProvisionError(
                f"--work-kinds is required, e.g. DHZY,YXKJ ({work_kinds_text()})",
                f"需要 --work-kinds，例如 DHZY,YXKJ（{work_kinds_text()}）",
                EXIT_MISSING,
            )
        print(f"作业类别 Work kinds: {work_kinds_text()}")
        answers["work_kinds"] = _ask_until("作业类别 Work kinds", _parse_kinds, "DHZY", lang)
    tpl_zone = (template or {}).get("zone") or {}
    tpl_mqtt = (template or {}).get("mqtt") or {}
    if interactive and template is not None and answers["zone_name"] is None:
        # The example's zone name is another site's: asked, its value shown as the default.
        name = _ask("区域名称 Zone name", str(tpl_zone.get("name") or ""))
        answers["zone_name"] = name or None
    if interactive and answers["fence"] is None:
        tpl_fence = tpl_zone.get("geofence")
        shown = _fence_text(tpl_fence)
        if tpl_fence and shown is None:
            print(
                "沿用模板的电子围栏（非圆形）：请核对 zone.geofence"
                if lang == Lang.ZH.value
                else "the template's (non-circle) geofence is kept: check zone.geofence"
            )
        else:
            answers["fence"] = _ask_until(
                "电子围栏 Geofence LAT,LON,RADIUS_M (留空：无 / empty: none)",
                lambda t: _parse_fence(t) if t else None,
                shown or "",
                lang,
            )
    if interactive and answers["broker_host"] is None:
        if tpl_mqtt.get("enabled") and tpl_mqtt.get("host"):
            label, default = "MQTT 服务器 broker host", str(tpl_mqtt["host"])
        else:
            label, default = "MQTT 服务器 broker host (留空：不同步 / empty: no sync)", ""
        answers["broker_host"] = _ask_until(
            label, lambda t: _check_host(t) if t else None, default, lang
        )
    if interactive and answers["broker_host"]:
        if answers["broker_port"] is None:
            default = "1883" if args.no_tls else "8883"
            answers["broker_port"] = _ask_until("MQTT 端口 port", _check_port, default, lang)
        if not args.no_tls and answers["ca_file"] is None:
            # The example's ca_file is a path on another gateway: asked, never kept silently.
            tpl_ca = tpl_mqtt.get("ca_file")
            if tpl_ca:
                default_ca = str(tpl_ca) if Path(str(tpl_ca)).is_file() else None
                answers["ca_file"] = _ask_until(
                    "broker 的 CA 证书文件 broker CA file (PEM)",
                    _check_ca_file,
                    default_ca,
                    lang,
                )
            else:
                answers["ca_file"] = _ask_until(
                    "broker 的 CA 证书文件 broker CA file (PEM; 留空：系统 CA / empty: system CAs)",
                    lambda t: _check_ca_file(t) if t else None,
                    "",
                    lang,
                )
        if answers["central_key"] is None:
            answers["central_key"] = _ask_until(
                "中心公钥文件 central public key (PEM, from central)",
                _check_central_key,
                lang=lang,
            )
    return answers


def _check_ca_file(text: str) -> Path:
    if not text:
        raise AnswerError(
            "请输入签发 broker 证书的 CA 证书文件路径（PEM）",
            "give the path of the CA certificate that signed the broker's (PEM)",
        )
    path = _check_existing_file(text)
    if b"-----BEGIN CERTIFICATE-----" not in path.read_bytes():
        raise AnswerError(f"不是 PEM 证书：{path}", f"not a PEM certificate: {path}")
    return path


def _check_central_key(text: str) -> Path:
    if not text:
        raise AnswerError(
            "请输入中心公钥文件的路径（中心提供的 PEM 文件）",
            "give the path of central's public key file (PEM, from central)",
        )
    path = _check_existing_file(text)
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except ValueError as err:
        raise AnswerError(f"不是 PEM 公钥：{path}", f"not a PEM public key: {path}") from err
    if not isinstance(key, Ed25519PublicKey):
        raise AnswerError(f"不是 Ed25519 公钥：{path}", f"not an Ed25519 public key: {path}")
    return path


def merge_overlay(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``: mappings key by key (recursively), every other
    value, lists included, replaced whole (a sensor list is the site's list, not a blend). A
    mapping naming another ``type`` than the base's (a file camera for a picamera2) replaces it
    whole too: the other kind's keys would not fit it."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        old = out.get(key)
        if (
            isinstance(value, dict)
            and isinstance(old, dict)
            and value.get("type", old.get("type")) == old.get("type")
        ):
            out[key] = merge_overlay(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _load_template(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ProvisionError(
            f"{path}: not valid YAML: {err}", f"{path}：不是有效的 YAML（{err}）"
        ) from err
    if not isinstance(loaded, dict):
        raise ProvisionError(
            f"{path}: the top level must be a mapping", f"{path}：最外层必须是映射（键: 值）"
        )
    return loaded


def _ask_password(lang: str) -> str:
    """The broker password, asked (not echoed) until it is one non-empty line."""
    while True:
        password = getpass.getpass("MQTT 服务器密码 broker password: ")
        if password and "\n" not in password:
            return password
        print(
            "  密码不能为空，请再输入一次"
            if lang == Lang.ZH.value
            else "  the password cannot be empty; type it again"
        )


def cmd_provision(args: argparse.Namespace) -> int:
    """Gather the answers, provision, print what central registers (in ``--lang``, else the
    ``--language`` the gateway is given, else zh-CN)."""
    lang = str(args.lang or args.language or Lang.ZH.value)
    try:
        template = _load_template(args.template) if args.template is not None else None
        for overlay in args.overlay:
            template = merge_overlay(template or {}, _load_template(overlay))
        answers = _gather(args, lang, template)
        sources = [
            (str(path), path.read_text(encoding="utf-8"))
            for path in ([args.template] if args.template is not None else []) + args.overlay
        ]
        template_text = (
            args.template.read_text(encoding="utf-8") if args.template is not None else None
        )
        central_key = answers.pop("central_key", None)
        central_pem = central_key.read_bytes() if central_key else None
        password: str | None = None
        if args.broker_password_file is not None:
            lines = args.broker_password_file.read_text(encoding="utf-8").splitlines()
            password = lines[0] if lines else ""
        elif answers["broker_host"] and sys.stdin.isatty() and not args.yes:
            password = _ask_password(lang)
        result = provision(
            answers,
            root=args.root,
            template=template,
            central_key_pem=central_pem,
            broker_password=password,
            force=args.force,
            rotate_key=args.rotate_key,
            template_text=template_text,
            seal_with=args.seal,
            sources=sources,
        )
    except (ProvisionError, SealError) as err:
        print(f"provision: {err.text(lang)}", file=sys.stderr)
        return err.code
    except OSError as err:
        print(f"provision: {err.filename}: {err.strerror}", file=sys.stderr)
        return EXIT_NO_INPUT
    except (EOFError, KeyboardInterrupt):
        # Ctrl-D or Ctrl-C at a prompt: nothing is written before the last answer.
        said = "已取消，未写入任何文件" if lang == Lang.ZH.value else "aborted; nothing written"
        print(f"\nprovision: {said}", file=sys.stderr)
        return ExitCode.INTERRUPTED
    kept = _kept_from_template(args, template)
    if args.json:
        out = {"config": str(result.config_path), **result.registration}
        out["kept_from_template"] = {key: value for key, value, _ in kept}
        print(json.dumps({**out, "sealed": result.sealed_with}))
        return EXIT_OK
    _print_summary(result, args.root, lang)
    if kept:
        print(
            "\n注意：以下各项取自模板，不是本现场给出的值，请核对"
            "（或用对应的参数重新 provision --force）："
            if lang == Lang.ZH.value
            else "\nNote: these values were kept from the template, not given for this site; "
            "check them (or provision --force with the flags):"
        )
        for key, value, flag in kept:
            print(f"  {key}: {value}  ({flag})")
    return EXIT_OK


def _kept_from_template(
    args: argparse.Namespace, template: dict[str, Any] | None
) -> list[tuple[str, str, str]]:
    """The site-specific values the written config took from the template (an example's zone
    name, fence, broker and CA file belong to another site) because no flag or answer gave
    them: (key, value, flag). A ca_file that does not exist is said so."""
    if not template or (sys.stdin.isatty() and not args.yes):
        return []  # on a terminal these were asked, the template's value as the default
    zone = template.get("zone") or {}
    mqtt = template.get("mqtt") or {}
    kept: list[tuple[str, str, str]] = []
    if zone.get("name") and not args.zone_name:
        kept.append(("zone.name", str(zone["name"]), "--zone-name"))
    fence = zone.get("geofence")
    if fence and args.fence is None:
        kept.append(("zone.geofence", _fence_text(fence) or str(fence), "--fence"))
    if mqtt.get("enabled") and mqtt.get("host") and not args.broker_host:
        kept.append(("mqtt.host", str(mqtt["host"]), "--broker-host"))
    if mqtt.get("enabled") and mqtt.get("ca_file") and not args.ca_file and not args.no_tls:
        ca = str(mqtt["ca_file"])
        there = _under(args.root, Path(ca)).is_file() or Path(ca).is_file()
        kept.append(
            ("mqtt.ca_file", ca if there else f"{ca} (文件不存在 / no such file)", "--ca-file")
        )
    return kept


def _print_summary(result: ProvisionResult, root: Path, lang: str) -> None:
    """What was written and what central registers, in ``lang``. The registration's keys
    (site, device_id ...) are printed as they are: central's form and the JSON use them."""
    reg = result.registration
    print(say("provision.wrote", lang, path=result.config_path))
    print(say("provision.credentials", lang, path=result.credentials_dir))
    if result.sealed_with is not None:
        names = ", ".join(SEALED_SECRETS)
        print(say("provision.sealed", lang, mode=result.sealed_with, names=names))
        print(say("provision.dropin", lang, path=result.dropin))
        if root != Path("/"):
            print(say("provision.sealed_here", lang))
    print("\n" + say("provision.register", lang))
    for key in ("site", "device_id", "zone_id", "broker_username", "topic_prefix"):
        if key in reg:
            print(f"  {key}: {reg[key]}")
    kept = say("provision.key_kept" if reg["device_key_kept"] else "provision.key_new", lang)
    print("  " + say("provision.key_id", lang, id=reg["device_key_id"], kept=kept))
    print("  " + say("provision.public_key", lang, path=result.device_public_key))
    print("    " + reg["device_public_key_pem"].strip().replace("\n", "\n    "))
    if reg.get("broker_username"):
        print("  " + say("provision.broker_account", lang, user=reg["broker_username"]))
    config_arg = f" -c {result.config_path}" if root != Path("/") else ""
    creds_arg = f" --credentials {result.credentials_dir}" if root != Path("/") else ""
    shown = result.config_path if root != Path("/") else CONFIG_PATH
    print(
        "\n"
        + say(
            "provision.next",
            lang,
            check=f"zonegate check-config -c {shown}",
            selftest=f"zonegate selftest{config_arg}{creds_arg}",
        )
    )


def register(sub: Any) -> None:
    """Add ``provision`` to the ``zonegate`` command."""
    p = sub.add_parser(
        "provision",
        help="write gateway.yaml, device keys and credentials; print what central registers",
        description=(
            "Provision this gateway. Values not given as flags are asked for on a terminal. "
            "Secrets go to systemd credentials, never into the YAML."
        ),
    )
    p.add_argument("--root", type=Path, default=Path("/"), help="install under this root")
    p.add_argument("--template", type=Path, help="start from this YAML (sensors, camera ...)")
    p.add_argument(
        "--overlay",
        type=Path,
        action="append",
        default=[],
        help="YAML merged over the template, before the flags (repeatable, in order): the "
        "site's own ports and intervals; mappings merge key by key, lists and values replace",
    )
    p.add_argument("--device-id")
    p.add_argument("--site")
    p.add_argument("--zone-id")
    p.add_argument("--zone-name")
    p.add_argument("--work-kinds", type=_parse_kinds, help="comma list, e.g. DHZY,YXKJ,LSYD")
    p.add_argument("--fence", type=_parse_fence, help="circle geofence LAT,LON,RADIUS_M")
    p.add_argument("--timezone")
    p.add_argument("--language", choices=["zh-CN", "en"])
    p.add_argument("--state-dir", type=Path, help="default /var/lib/zonegate")
    p.add_argument(
        "--assume-clock-trusted",
        action="store_true",
        help="bench only: trust the wall clock without NTP/GPS",
    )
    p.add_argument("--broker-host", help="MQTT broker; omit for no sync")
    p.add_argument("--broker-port", type=int)
    p.add_argument(
        "--broker-username",
        help="default: the device id (the broker ACL's %%u), whatever the template says",
    )
    p.add_argument("--broker-password-file", type=Path, help="file whose first line is it")
    p.add_argument("--no-tls", action="store_true", help="plain MQTT (trusted loopback only)")
    p.add_argument("--ca-file", type=Path, help="CA of the broker certificate")
    p.add_argument("--central-key", type=Path, help="central's Ed25519 public key (PEM)")
    p.add_argument(
        "--force",
        action="store_true",
        help="rewrite an existing config and credentials; the device key is kept",
    )
    p.add_argument(
        "--rotate-key",
        action="store_true",
        help="make a new device key (central must register the gateway again)",
    )
    p.add_argument(
        "--seal",
        nargs="?",
        const="auto",
        choices=SEAL_MODES,
        default=None,
        help="seal the device key, broker password and face-encoding key with systemd-creds "
        "(auto: the TPM2 where there is one, plus the host key; host; tpm2; host+tpm2); "
        "a gateway sealed before stays sealed on --force",
    )
    p.add_argument("--yes", "-y", action="store_true", help="never prompt")
    p.add_argument("--json", action="store_true", help="print the registration as JSON")
    add_lang_arg(p)
    p.set_defaults(func=cmd_provision)
