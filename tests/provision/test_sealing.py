"""``zonegate provision --seal``: the secrets sealed with the real ``systemd-creds`` (host key),
the unit drop-in that loads them checked by ``systemd-analyze verify``, ``--force`` keeping what
central and the enrolled faces depend on, and technician commands run by hand on the sealed
secrets (issue 13 item 7).

Sealing with the host key reads ``/var/lib/systemd/credential.secret`` (created by
``systemd-creds`` itself on first use), which only root can: the tests run as root, as CI does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from edge.models import Worker
from edge.registry import Registry
from gateway.cli import main
from gateway.config import load_config
from gateway.credential_sealing import private_copies, ram_directory
from gateway.exitcodes import ExitCode
from gateway.provisioning import SEALED_SECRETS
from tests.conditions import until
from tests.datasets import face_photo
from tests.provision.conftest import (
    BROKER_PASSWORD,
    DEVICE,
    Broker,
    Provisioned,
    ProvisionFn,
    running_daemon,
)

SYSTEMD_CREDS = shutil.which("systemd-creds")
pytestmark = [
    pytest.mark.skipif(SYSTEMD_CREDS is None, reason="systemd-creds not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="sealing with the host key needs root"),
]
REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "zonegate.service"
INSTALLED = "/opt/zonegate/.venv/bin/zonegate"
FACES_ON = """\
identity:
  enabled: true
  enrol_jitters: 1
  camera:
    type: files
"""


def decrypt(cred: Path, name: str) -> subprocess.CompletedProcess[bytes]:
    assert SYSTEMD_CREDS is not None
    return subprocess.run(
        [SYSTEMD_CREDS, "decrypt", f"--name={name}", str(cred), "-"],
        capture_output=True,
        timeout=30,
        check=False,
    )


def plaintext(p: Provisioned, name: str) -> bytes:
    proc = decrypt(p.credentials / f"{name}.cred", name)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def files_holding(root: Path, secret: bytes) -> list[Path]:
    return [f for f in root.rglob("*") if f.is_file() and secret in f.read_bytes()]


def with_broker(broker: Broker, central_key: Path, tmp_path: Path, password: str) -> list[str]:
    pw = tmp_path / f"pw-{password}"
    pw.write_text(password + "\n")
    return [
        "--broker-host",
        "127.0.0.1",
        "--broker-port",
        str(broker.port),
        "--no-tls",
        "--broker-password-file",
        str(pw),
        "--central-key",
        str(central_key),
    ]


def registration(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return out


def selftest(p: Provisioned, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    rc = main(
        [
            "selftest",
            "--config",
            str(p.config),
            "--credentials",
            str(p.credentials),
            "--broker-seconds",
            "5",
            "--json",
        ]
    )
    out = capsys.readouterr().out.strip().splitlines()
    return rc, json.loads(out[-1]) if out else {}


def private_dirs(pid: int | None = None) -> set[Path]:
    """This test process's decrypted copies (or ``pid``'s): other runs on the machine make
    and remove their own meanwhile."""
    return private_copies(ram_directory(), os.getpid() if pid is None else pid)


def test_sealed_provision_leaves_no_plaintext_and_each_cred_opens_under_its_name_only(
    provision: ProvisionFn,
    broker: Broker,
    central_key: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    flags = with_broker(broker, central_key, tmp_path, BROKER_PASSWORD)
    provision(*flags)  # warm: the first call in a process pays for imports
    start = time.perf_counter()
    plain = provision(*flags, "--json")
    plain_s = time.perf_counter() - start
    start = time.perf_counter()
    p = provision(*flags, "--seal", "host", "--json")
    sealed_s = time.perf_counter() - start
    assert registration(capsys)["sealed"] == "host"
    print(f"provision: plain {plain_s * 1000:.0f} ms, --seal host {sealed_s * 1000:.0f} ms")
    assert (plain.credentials / "device-key.pem").exists()  # the plain one stays as it was

    assert sorted(f.name for f in p.credentials.iterdir()) == [
        "central-public-key.pem",  # public: stays a plain credential
        "device-key.pem.cred",
        "identity-key.cred",
        "mqtt-password.cred",
    ]
    assert (p.credentials.parent / "credentials.sealed").read_text() == "host\n"
    device_pem = plaintext(p, "device-key.pem")
    key = serialization.load_pem_private_key(device_pem, password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public == (p.root / "etc/zonegate/device-public-key.pem").read_bytes()
    assert plaintext(p, "mqtt-password") == BROKER_PASSWORD.encode() + b"\n"
    identity_key = plaintext(p, "identity-key")
    assert len(identity_key) == 32
    # No plaintext anywhere under the root: the PEM, its base64 body, the password, the key.
    body = b"".join(device_pem.splitlines()[1:-1])
    for secret in (device_pem, body, BROKER_PASSWORD.encode(), identity_key):
        assert files_holding(p.root, secret) == [], secret
    # The config names the face-encoding key where the unit shows the sealed credential.
    cfg = load_config(p.config)
    assert cfg.identity.key_file == Path("/run/credentials/zonegate.service/identity-key")
    # The name is bound: each cred opens under its own name and no other.
    for name in SEALED_SECRETS:
        for other in SEALED_SECRETS:
            proc = decrypt(p.credentials / f"{name}.cred", other)
            assert (proc.returncode == 0) == (name == other), (name, other, proc.stderr)


def test_a_cred_renamed_to_another_secret_is_refused_by_the_command_run_by_hand(
    provision: ProvisionFn,
    broker: Broker,
    central_key: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    p = provision(*with_broker(broker, central_key, tmp_path, BROKER_PASSWORD), "--seal", "host")
    # Someone swaps the broker password's cred in for the face-encoding key.
    os.replace(p.credentials / "mqtt-password.cred", p.credentials / "identity-key.cred")
    capsys.readouterr()
    rc = main(["selftest", "-c", str(p.config), "--credentials", str(p.credentials)])
    err = capsys.readouterr().err
    assert rc == ExitCode.DATA
    assert "identity-key.cred" in err and "无法作为凭据 'identity-key' 解密" in err
    assert private_dirs() == set()


def test_the_dropin_verifies_with_the_unit_and_replaces_the_plain_credentials(
    provision: ProvisionFn, tmp_path: Path
) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    p = provision("--seal", "host")
    dropin = p.root / "etc/systemd/system/zonegate.service.d/sealed.conf"
    text = dropin.read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "[Service]"
    loaded = dict(line.removeprefix("LoadCredentialEncrypted=").split(":", 1) for line in lines[1:])
    assert set(loaded) == set(SEALED_SECRETS)
    for name, path in loaded.items():
        # The path the service's systemd reads: /etc/zonegate/credentials, here under the root.
        assert path == f"/etc/zonegate/credentials/{name}.cred"
        assert (p.root / path.lstrip("/")).is_file()
    # The unit still names the plain IDs the drop-in replaces (one entry per ID in systemd).
    unit = UNIT.read_text()
    for name in ("device-key.pem", "mqtt-password"):
        assert f"LoadCredential={name}:/etc/zonegate/credentials/{name}\n" in unit

    units = tmp_path / "units"
    (units / "zonegate.service.d").mkdir(parents=True)
    here = Path(sys.executable).parent / "zonegate"
    (units / "zonegate.service").write_text(unit.replace(INSTALLED, str(here)))
    shutil.copy(dropin, units / "zonegate.service.d" / "sealed.conf")

    def verify() -> subprocess.CompletedProcess[str]:
        # SYSTEMD_UNIT_PATH puts the copy (and its .d drop-ins) first on the unit search path.
        return subprocess.run(
            ["systemd-analyze", "verify", "--man=no", str(units / "zonegate.service")],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "SYSTEMD_UNIT_PATH": f"{units}:"},
            check=False,
        )

    proc = verify()
    assert proc.returncode == 0, proc.stderr
    assert [
        line for line in proc.stderr.splitlines() if "zonegate" in line or "sealed" in line
    ] == []
    # The drop-in is really read: a broken line in it is reported, naming it.
    with (units / "zonegate.service.d" / "sealed.conf").open("a") as fh:
        fh.write("LoadCredentialEncrypted=bad/id:/etc/zonegate/credentials/x.cred\n")
    assert "sealed.conf" in verify().stderr


def test_force_on_a_sealed_gateway_keeps_the_device_key_and_the_password_and_reseals(
    provision: ProvisionFn,
    broker: Broker,
    central_key: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    p = provision(
        *with_broker(broker, central_key, tmp_path, BROKER_PASSWORD), "--seal", "host", "--json"
    )
    first = registration(capsys)
    identity_key = plaintext(p, "identity-key")
    cred_before = (p.credentials / "device-key.pem.cred").read_bytes()
    base = [
        "provision",
        "--root",
        str(p.root),
        "--device-id",
        first["device_id"],
        "--site",
        first["site"],
        "--zone-id",
        "weld-bay-3",
        "--work-kinds",
        "DHZY",
        "--state-dir",
        str(p.state_dir),
        "--broker-host",
        "127.0.0.1",
        "--broker-port",
        str(broker.port),
        "--no-tls",
        "--assume-clock-trusted",
        "--yes",
        "--json",
    ]
    # No --seal, no password, no central key: all kept, and still sealed (same mode).
    assert main([*base, "--force"]) == 0
    again = registration(capsys)
    assert again["device_key_id"] == first["device_key_id"]
    assert again["device_public_key_pem"] == first["device_public_key_pem"]
    assert again["device_key_kept"] is True and again["sealed"] == "host"
    assert (p.credentials / "device-key.pem.cred").read_bytes() != cred_before  # re-sealed
    assert not (p.credentials / "device-key.pem").exists()
    assert plaintext(p, "mqtt-password") == BROKER_PASSWORD.encode() + b"\n"
    assert plaintext(p, "identity-key") == identity_key
    rc, report = selftest(p, capsys)
    checks = {c["name"]: c for c in report["checks"]}
    assert rc == 0, [c for c in report["checks"] if c["status"] == "fail"]
    assert checks["broker"]["status"] == "pass"  # the kept password logs in
    # A new password given is the one sealed.
    pw = tmp_path / "new-pw"
    pw.write_text("another-pw\n")
    assert main([*base, "--force", "--broker-password-file", str(pw)]) == 0
    assert registration(capsys)["device_key_id"] == first["device_key_id"]
    assert plaintext(p, "mqtt-password") == b"another-pw\n"


def test_selftest_by_hand_unseals_the_broker_password_and_says_sealed(
    provision: ProvisionFn,
    broker: Broker,
    central_key: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    p = provision(*with_broker(broker, central_key, tmp_path, BROKER_PASSWORD), "--seal", "host")
    # A copy left by a `zonegate run` killed with SIGKILL (its pid is gone): the next command
    # that unseals removes it.
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = ram_directory() / f"zonegate-credentials.{dead.pid}.x1y2z3"
    orphan.mkdir(mode=0o700)
    (orphan / "mqtt-password").write_text("left behind\n")
    before = private_dirs()
    rc, report = selftest(p, capsys)
    assert not orphan.exists()
    checks = {c["name"]: c for c in report["checks"]}
    assert rc == 0, [c for c in report["checks"] if c["status"] == "fail"]
    assert checks["broker"]["status"] == "pass"  # logged in with the unsealed password
    assert checks["central key"]["status"] == "pass"
    assert checks["secrets"]["status"] == "pass"
    assert checks["secrets"]["code"] == "SECRETS_SEALED"
    assert private_dirs() == before  # the decrypted copies are gone with the command
    assert "CREDENTIALS_DIRECTORY" not in os.environ
    # Named the way the README's run-by-hand line does, without --credentials: the same.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CREDENTIALS_DIRECTORY", str(p.credentials))
        rc = main(["selftest", "-c", str(p.config), "--broker-seconds", "5", "--json"])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    checks = {c["name"]: c for c in report["checks"]}
    assert rc == 0 and checks["broker"]["status"] == "pass", checks["broker"]
    assert checks["secrets"]["code"] == "SECRETS_SEALED", checks["secrets"]


def test_a_plain_gateway_warns_not_sealed_with_the_fix(
    provision: ProvisionFn, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    rc, report = selftest(p, capsys)
    assert rc == 0
    secrets = next(c for c in report["checks"] if c["name"] == "secrets")
    assert secrets["status"] == "warn" and secrets["code"] == "SECRETS_NOT_SEALED"
    assert "device-key.pem" in secrets["reason"]
    assert "zonegate provision --force --seal" in secrets["fix"]
    assert "zonegate provision --force --seal" in secrets["fix_zh"]
    # Sealed afterwards (bare --seal: systemd-creds' auto, the host key where no TPM): passes.
    pw_args = ["--force", "--seal"]
    args = ["provision", "--root", str(p.root), "--device-id", "zg-test-1", "--site", "plant1"]
    args += ["--zone-id", "weld-bay-3", "--work-kinds", "DHZY", "--state-dir", str(p.state_dir)]
    assert main([*args, "--assume-clock-trusted", "--yes", *pw_args]) == 0
    assert (p.credentials.parent / "credentials.sealed").read_text() == "auto\n"
    rc, report = selftest(p, capsys)
    secrets = next(c for c in report["checks"] if c["name"] == "secrets")
    assert rc == 0 and secrets["status"] == "pass", secrets
    # A plaintext face key back beside the store (restored from an old backup): said.
    p.state_dir.mkdir(parents=True, exist_ok=True)
    (p.state_dir / "device.key").write_bytes(os.urandom(32))
    rc, report = selftest(p, capsys)
    secrets = next(c for c in report["checks"] if c["name"] == "secrets")
    assert secrets["status"] == "warn" and secrets["code"] == "SECRETS_PARTLY_SEALED", secrets
    assert str(p.state_dir / "device.key") in secrets["reason"]


def test_faces_whose_key_is_lost_are_not_sealed_under_a_new_key(
    provision: ProvisionFn, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision(template=FACES_ON, expect=0)
    p.state_dir.mkdir(parents=True, exist_ok=True)
    store = p.state_dir / "faces.enc"
    store.write_bytes(b"ZGFACE1\n" + os.urandom(64))  # enrolled faces; their device.key lost
    args = ["provision", "--root", str(p.root), "--device-id", "zg-test-1", "--site", "plant1"]
    args += ["--zone-id", "weld-bay-3", "--work-kinds", "DHZY", "--state-dir", str(p.state_dir)]
    capsys.readouterr()
    rc = main([*args, "--yes", "--force", "--seal", "host", "--lang", "en"])
    err = capsys.readouterr().err
    assert rc == ExitCode.DATA, err
    assert "holds enrolled faces but their key" in err and "reset-store" in err
    assert sorted(f.name for f in p.credentials.iterdir()) == [
        "central-public-key.pem",
        "device-key.pem",
        "mqtt-password",
    ]  # nothing sealed, nothing removed


def test_sealing_a_gateway_with_enrolled_faces_keeps_them_readable_by_hand(
    provision: ProvisionFn, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    p = provision(template=FACES_ON)
    registry = Registry(load_config(p.config).registry_path)
    for wid, name in [("W1", "Obama"), ("W2", "Obama again")]:
        registry.put_worker(Worker(worker_id=wid, name=name, badge_ids=(f"B-{wid}",)))
    registry.close()
    photos = [str(face_photo("obama.jpg")), str(face_photo("obama_knn_test1.jpg"))]
    assert main(["enroll", "W1", "-c", str(p.config), "--photos", *photos]) == 0
    plain_key = p.state_dir / "device.key"
    key_bytes = plain_key.read_bytes()  # made by the first enrolment, beside the store

    args = ["provision", "--root", str(p.root), "--device-id", "zg-test-1", "--site", "plant1"]
    args += ["--zone-id", "weld-bay-3", "--work-kinds", "DHZY", "--state-dir", str(p.state_dir)]
    tpl = p.root.parent / "faces.yaml"
    tpl.write_text(FACES_ON)
    args += ["--template", str(tpl), "--assume-clock-trusted", "--yes"]
    assert main([*args, "--force", "--seal", "host"]) == 0
    assert not plain_key.exists()  # taken into the sealed credential
    assert plaintext(p, "identity-key") == key_bytes
    assert files_holding(p.root, key_bytes) == []

    # By hand, as a technician would: the daemon's credentials directory named in the env.
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(p.credentials))
    capsys.readouterr()
    again = [str(face_photo("obama2.jpg")), str(face_photo("obama.jpg"))]
    rc = main(["enroll", "W2", "-c", str(p.config), "--photos", *again, "--lang", "en"])
    out = capsys.readouterr().out
    # The store written under the plain key is read under the sealed one: W1's face is found.
    assert rc == ExitCode.FAILED, out
    assert "FACE_ENROLLED_ELSEWHERE" in out and "W1" in out
    assert os.environ["CREDENTIALS_DIRECTORY"] == str(p.credentials)  # restored
    assert private_dirs() == set()


def test_without_systemd_creds_seal_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    root = tmp_path / "root"
    proc = subprocess.run(
        [
            str(bin_dir / "zonegate"),
            "provision",
            "--root",
            str(root),
            "--device-id",
            "zg1",
            "--site",
            "p1",
            "--zone-id",
            "z1",
            "--work-kinds",
            "DHZY",
            "--yes",
            "--seal",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": str(bin_dir)},  # a system without systemd-creds on PATH
        check=False,
    )
    assert proc.returncode == ExitCode.UNAVAILABLE, proc.stderr
    assert "未安装 systemd-creds" in proc.stderr and "systemd 250" in proc.stderr
    assert not root.exists()


def test_not_root_a_sealed_gateway_says_to_use_sudo(
    provision: ProvisionFn, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision("--seal", "host", "--language", "en")
    # The credentials directory stays root-only (0700); the way to it and the config do not.
    for d in [p.root, *p.root.parents][: len(p.root.relative_to(p.root.anchor).parts) - 1]:
        if d.stat().st_uid == 0 and str(d).startswith(("/tmp", "/var/tmp")):
            d.chmod(0o755)
    assert oct(p.credentials.stat().st_mode & 0o777) == "0o700"
    capsys.readouterr()
    os.seteuid(65534)  # nobody, for this call only (the saved uid stays root)
    try:
        rc = main(["selftest", "-c", str(p.config), "--credentials", str(p.credentials)])
    finally:
        os.seteuid(0)
    err = capsys.readouterr().err
    assert rc == ExitCode.NO_PERMISSION, err
    assert "only root can unseal" in err and "sudo" in err


async def test_the_daemon_run_by_hand_logs_in_with_the_sealed_password(
    provision: ProvisionFn,
    broker: Broker,
    central_key: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = provision(*with_broker(broker, central_key, tmp_path, BROKER_PASSWORD), "--seal", "host")
    assert broker.log is not None
    log = broker.log

    def logins() -> int:
        return log.read_text(errors="replace").count(f"u'{DEVICE}'")

    before = logins()
    # `sudo CREDENTIALS_DIRECTORY=/etc/zonegate/credentials zonegate run`, as the README says.
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(p.credentials))
    with running_daemon(p.config) as daemon:
        await until(lambda: logins() > before, 30, "the daemon's login at the broker")
        (private,) = private_dirs(daemon.pid)  # the daemon's own decrypted copy, in RAM
        assert private.stat().st_mode & 0o777 == 0o700
        assert (private / "mqtt-password").read_bytes() == BROKER_PASSWORD.encode() + b"\n"
    # A staged stop (SIGTERM) removes it with the process.
    assert not private.exists()
