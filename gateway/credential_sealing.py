"""The gateway's secrets sealed with ``systemd-creds``, and unsealed for a technician's run.

``zonegate provision --seal MODE`` writes each secret as ``<name>.cred`` in the credentials
directory, encrypted and authenticated by ``systemd-creds encrypt --name=<name>`` with the host
key (``/var/lib/systemd/credential.secret``), the TPM2 chip, both, or ``auto`` (the TPM2 where
there is one, plus the host key). The name is inside the ciphertext: systemd refuses a cred
loaded under another ID, so one secret cannot be swapped for another. The plaintext goes to
``systemd-creds`` through a pipe and never touches the disk. A drop-in
(``zonegate.service.d/sealed.conf``) loads them with ``LoadCredentialEncrypted=``.

Outside the service (``zonegate run`` on a bench, ``selftest``, ``enroll``) the secrets are
decrypted, as root, into a private directory on a RAM file system (``/run``; ``/dev/shm`` where
``/run`` is on disk, as in containers), which ``$CREDENTIALS_DIRECTORY`` then names, the way
systemd shows them to the unit; the directory is removed when the command ends.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from firmware_adapters.bilingual import Bilingual
from gateway.errors import GatewayError
from gateway.exitcodes import ExitCode

# What `systemd-creds encrypt --with-key=` takes (systemd 250+); `auto` is its own choice.
SEAL_MODES = ("auto", "host", "tpm2", "host+tpm2")
# LoadCredentialEncrypted= and systemd-creds itself came with systemd 250.
MIN_SYSTEMD = 250
CRED_SUFFIX = ".cred"
DROPIN = Path("/etc/systemd/system/zonegate.service.d/sealed.conf")
# RAM file systems: a decrypted secret on one never reaches the SD card.
_RAM_FS = frozenset({"tmpfs", "ramfs"})
_TIMEOUT_S = 30.0


class SealError(Bilingual, GatewayError):
    """Sealing or unsealing cannot go on; ``text(lang)`` says why and what to do, ``code`` is
    the command's exit code (``ExitCode``)."""

    def __init__(self, en: str, zh: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(en, zh)
        self.code = code


@dataclass(frozen=True)
class SystemdCreds:
    """The ``systemd-creds`` binary found on this system and its systemd version."""

    path: str
    version: int


def find_systemd_creds() -> SystemdCreds:
    """``systemd-creds`` on ``$PATH`` at systemd ``MIN_SYSTEMD`` or later.

    Raises ``SealError`` (``ExitCode.UNAVAILABLE``) when it is missing or too old to seal.
    """
    path = shutil.which("systemd-creds")
    if path is None:
        raise SealError(
            "systemd-creds is not installed (systemd 250 or later is needed to seal secrets); "
            "install systemd, or provision without --seal",
            "未安装 systemd-creds（封存密钥需要 systemd 250 或更新版本）；"
            "请安装 systemd，或不加 --seal 重新 provision",
            ExitCode.UNAVAILABLE,
        )
    try:
        # The one binary found on $PATH, with fixed arguments.
        out = subprocess.run(  # noqa: S603
            [path, "--version"], capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        ).stdout
    except OSError as err:
        raise SealError(
            f"{path}: cannot run it ({err.strerror})",
            f"{path}：无法运行（{err.strerror}）",
            ExitCode.UNAVAILABLE,
        ) from err
    m = re.match(r"systemd (\d+)", out)
    version = int(m.group(1)) if m else 0
    if version < MIN_SYSTEMD:
        raise SealError(
            f"{path} is systemd {version or 'of unknown version'}: sealing needs systemd "
            f"{MIN_SYSTEMD} or later (LoadCredentialEncrypted=); provision without --seal",
            f"{path} 的 systemd 版本为 {version or '未知'}：封存需要 systemd {MIN_SYSTEMD} "
            "或更新版本（LoadCredentialEncrypted=）；请不加 --seal 重新 provision",
            ExitCode.UNAVAILABLE,
        )
    return SystemdCreds(path, version)


def systemd_creds_available() -> bool:
    """True when secrets could be sealed on this system (``find_systemd_creds`` succeeds)."""
    try:
        find_systemd_creds()
    except SealError:
        return False
    return True


def _run(args: list[str], data: bytes) -> subprocess.CompletedProcess[bytes]:
    try:
        # systemd-creds with arguments built here; the secret goes in on stdin, never argv.
        return subprocess.run(  # noqa: S603
            args, input=data, capture_output=True, timeout=_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SealError(
            f"{args[0]} {args[1]}: {err}", f"{args[0]} {args[1]}：{err}", ExitCode.UNAVAILABLE
        ) from err


def _said(proc: subprocess.CompletedProcess[bytes]) -> str:
    # systemd-creds warns about a host key on unencrypted media on every call: not the reason.
    lines = proc.stderr.decode("utf-8", "replace").splitlines()
    why = [line for line in lines if "not located on encrypted media" not in line]
    return "; ".join(why) or f"exit {proc.returncode}"


def seal(name: str, secret: bytes, mode: str) -> bytes:
    """``secret`` encrypted for the credential ``name`` (the ``.cred`` file's bytes).

    The plaintext reaches ``systemd-creds`` on its standard input and the ciphertext comes back
    on its standard output: no plaintext file is ever written. Raises ``SealError`` when
    ``systemd-creds`` is missing or refuses (a TPM2 mode without a TPM, not root).
    """
    if mode not in SEAL_MODES:
        raise SealError(
            f"--seal {mode}: use one of {', '.join(SEAL_MODES)}",
            f"--seal {mode}：可选 {', '.join(SEAL_MODES)}",
            ExitCode.USAGE,
        )
    tool = find_systemd_creds()
    proc = _run([tool.path, "encrypt", f"--name={name}", f"--with-key={mode}", "-", "-"], secret)
    if proc.returncode != 0 or not proc.stdout:
        raise SealError(
            f"systemd-creds could not seal {name} with --with-key={mode}: {_said(proc)}",
            f"systemd-creds 无法以 --with-key={mode} 封存 {name}：{_said(proc)}",
            ExitCode.UNAVAILABLE,
        )
    return proc.stdout


def unseal(name: str, cred: Path) -> bytes:
    """The plaintext of ``cred``, which must have been sealed for the credential ``name``.

    Raises ``SealError``: not root (``ExitCode.NO_PERMISSION``), or a cred that does not
    decrypt (another machine's host key, another name, damaged: ``ExitCode.DATA``).
    """
    tool = find_systemd_creds()
    proc = _run([tool.path, "decrypt", f"--name={name}", str(cred), "-"], b"")
    if proc.returncode != 0:
        if os.geteuid() != 0:
            raise not_root(cred.parent)
        raise SealError(
            f"{cred}: does not decrypt as the credential {name!r} ({_said(proc)}): sealed "
            "on another machine or for another name, or damaged; re-provision with "
            "`zonegate provision --force --seal` (and --rotate-key if the device key is lost)",
            f"{cred}：无法作为凭据 {name!r} 解密（{_said(proc)}）：在另一台机器上或以另一名称"
            "封存，或已损坏；请 `zonegate provision --force --seal` 重新 provision"
            "（设备密钥已丢失时加 --rotate-key）",
            ExitCode.DATA,
        )
    return proc.stdout


def not_root(creds: Path) -> SealError:
    """The error for a command that needs the sealed secrets and does not run as root."""
    return SealError(
        f"the secrets in {creds} are sealed with systemd-creds, which only root can unseal: "
        "run the command with sudo",
        f"{creds} 中的密钥已用 systemd-creds 封存，只有 root 能解封：请用 sudo 运行此命令",
        ExitCode.NO_PERMISSION,
    )


def seal_mark(creds: Path) -> Path:
    """The file beside ``creds`` (``credentials.sealed``) holding the mode its secrets were
    sealed with: ``provision --force`` re-seals with it, and, world-readable where ``creds``
    is root-only, it tells a command run without root that it needs root."""
    return creds.with_name(f"{creds.name}.sealed")


def sealed_names(creds: Path) -> list[str]:
    """The credential names sealed in ``creds`` (``<name>.cred`` files), sorted; none when the
    directory is missing or cannot be listed (not root: the caller's read says so)."""
    try:
        entries = sorted(creds.iterdir())
    except OSError:
        return []
    return [p.name.removesuffix(CRED_SUFFIX) for p in entries if p.name.endswith(CRED_SUFFIX)]


def dropin_text(names: list[str], creds: Path, mode: str) -> str:
    """The unit drop-in loading each sealed name from ``creds`` (the path the service sees)."""
    lines = [
        f"# Written by `zonegate provision --seal {mode}`: the secrets are sealed with",
        "# systemd-creds (their plaintext is nowhere on disk). A LoadCredentialEncrypted= here",
        "# replaces the unit's LoadCredential= of the same ID: systemd (252, src/core/",
        "# load-fragment.c config_parse_load_credential) keeps one entry per ID and a later",
        "# assignment, as a drop-in's, overwrites its path and sets it encrypted.",
        "[Service]",
    ]
    lines += [f"LoadCredentialEncrypted={n}:{creds / (n + CRED_SUFFIX)}" for n in names]
    return "\n".join(lines) + "\n"


def _fs_type(path: Path) -> str:
    """The file system type ``path`` lives on, from ``/proc/self/mountinfo`` ("" unknown)."""
    try:
        text = Path("/proc/self/mountinfo").read_text(encoding="utf-8")
    except OSError:
        return ""
    best, kind = "", ""
    target = str(path.resolve())
    for line in text.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        mount = fields[4].replace("\\040", " ")
        fstype = line.split(" - ", 1)[1].split()[0]
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, kind = mount, fstype
    return kind


def ram_directory() -> Path:
    """Where decrypted secrets may go: ``/run`` on a RAM file system, else ``/dev/shm``.

    Raises ``SealError`` when neither is one: a decrypted secret must never reach the disk.
    """
    for base in (Path("/run"), Path("/dev/shm")):  # noqa: S108 - a RAM fs, checked below
        if base.is_dir() and _fs_type(base) in _RAM_FS:
            return base
    raise SealError(
        "neither /run nor /dev/shm is a RAM file system (tmpfs): the sealed secrets are not "
        "decrypted onto a disk; run the command where /run is a tmpfs (any systemd host)",
        "/run 和 /dev/shm 都不是内存文件系统（tmpfs）：封存的密钥不会解密到磁盘上；"
        "请在 /run 为 tmpfs 的系统上运行（任何使用 systemd 的主机）",
        ExitCode.UNAVAILABLE,
    )


PRIVATE_PREFIX = "zonegate-credentials."


def private_copies(base: Path, pid: int | None = None) -> set[Path]:
    """The decrypted copies under ``base`` (``ram_directory()``): all, or those of ``pid``."""
    return set(base.glob(f"{PRIVATE_PREFIX}{'*' if pid is None else pid}.*"))


def remove_orphaned_copies(base: Path) -> list[Path]:
    """Remove the decrypted copies whose process is gone (killed before its clean-up ran);
    returns what was removed. A copy whose pid is alive (or not ours to judge) is kept."""
    removed: list[Path] = []
    for path in private_copies(base):
        pid_text = path.name[len(PRIVATE_PREFIX) :].split(".", 1)[0]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        except PermissionError:
            continue  # alive, another user's
    return removed


@contextmanager
def unsealed_credentials(source: Path) -> Iterator[Path | None]:
    """While inside: ``$CREDENTIALS_DIRECTORY`` names a private RAM directory holding the
    secrets sealed in ``source`` (decrypted) and its plain files (copied), as systemd shows
    them to the unit; yields that directory, removed with everything in it on the way out.

    Yields None and changes nothing when ``source`` holds no sealed credential (plain
    credentials, or inside the service, where systemd has already decrypted them). Raises
    ``SealError`` when not root, or a credential does not decrypt.
    """
    if os.geteuid() != 0 and seal_mark(source).exists():
        raise not_root(source)  # the directory itself is root-only: the mark says it is sealed
    names = sealed_names(source)
    if not names:
        yield None
        return
    if os.geteuid() != 0:
        raise not_root(source)
    base = ram_directory()
    remove_orphaned_copies(base)
    # The owner's pid in the name: a copy left by a process killed with SIGKILL (no `finally`)
    # is known as orphaned, and removed, by the next command that unseals.
    prefix = f"{PRIVATE_PREFIX}{os.getpid()}."
    private = Path(tempfile.mkdtemp(prefix=prefix, dir=base))  # mode 0700
    before = os.environ.get("CREDENTIALS_DIRECTORY")
    try:
        for name in names:
            _write_secret(private / name, unseal(name, source / f"{name}{CRED_SUFFIX}"))
        for path in sorted(source.iterdir()):
            plain = path.is_file() and not path.name.endswith(CRED_SUFFIX)
            if plain and not (private / path.name).exists():
                _write_secret(private / path.name, path.read_bytes())
        os.environ["CREDENTIALS_DIRECTORY"] = str(private)
        yield private
    finally:
        if before is None:
            os.environ.pop("CREDENTIALS_DIRECTORY", None)
        else:
            os.environ["CREDENTIALS_DIRECTORY"] = before
        shutil.rmtree(private, ignore_errors=True)


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
