"""The systemd unit: ``systemd-analyze verify``, the security exposure score, the restart and
stop budgets against the daemon's own numbers, and sysusers / tmpfiles applied to a temp root."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import DaemonConfig
from gateway.daemon import SERVICE_FACTORIES

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "zonegate.service"
SYSUSERS = REPO / "systemd" / "zonegate.sysusers"
TMPFILES = REPO / "systemd" / "zonegate.tmpfiles"
INSTALLED = "/opt/zonegate/.venv/bin/zonegate"
MAX_EXPOSURE = 2.0
# The daemon's own loops (expiry, disk, retention, watchdog ...), each one more shutdown stage.
DAEMON_TASKS = set(
    re.findall(r'self\._tasks\["(\w+)"\]', (REPO / "gateway" / "daemon.py").read_text())
)

requires_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed"
)


def directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def seconds(value: str) -> float:
    m = re.fullmatch(r"(\d+)(s|min)?", value)
    assert m, value
    return int(m.group(1)) * (60 if m.group(2) == "min" else 1)


@requires_systemd_analyze
def test_unit_verifies(tmp_path: Path) -> None:
    # verify insists the ExecStart binary exists: check a copy pointing at this venv's command.
    here = Path(sys.executable).parent / "zonegate"
    assert here.exists(), "the venv has no zonegate entry point (pip install -e .)"
    copy = tmp_path / "zonegate.service"
    copy.write_text(UNIT.read_text().replace(INSTALLED, str(here)))
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    complaints = [line for line in proc.stderr.splitlines() if "zonegate" in line]
    assert proc.returncode == 0, proc.stderr
    assert complaints == []


@requires_systemd_analyze
def test_a_broken_unit_fails_verify(tmp_path: Path) -> None:
    # The check above can fail: an unknown directive is reported.
    here = Path(sys.executable).parent / "zonegate"
    copy = tmp_path / "zonegate.service"
    text = UNIT.read_text().replace(INSTALLED, str(here))
    copy.write_text(text.replace("Type=notify", "Type=notify\nWatchDogSecs=30"))
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "WatchDogSecs" in proc.stderr


@requires_systemd_analyze
def test_security_exposure_is_at_most_2() -> None:
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    m = re.search(r"Overall exposure level for zonegate\.service: (\d+\.\d+)", proc.stdout)
    assert m, proc.stdout + proc.stderr
    score = float(m.group(1))
    print(f"systemd-analyze security exposure: {score}")
    assert score <= MAX_EXPOSURE


def test_lifecycle_directives_match_the_daemon() -> None:
    d = directives(UNIT.read_text())
    assert d["Type"] == ["notify"]
    assert d["ExecStart"] == [f"{INSTALLED} run --config /etc/zonegate/gateway.yaml"]
    assert d["ExecStartPre"] == [f"{INSTALLED} check-config -c /etc/zonegate/gateway.yaml"]
    assert d["Restart"] == ["on-failure"]
    assert int(d["StartLimitBurst"][0]) >= 1 and seconds(d["StartLimitIntervalSec"][0]) > 0
    assert seconds(d["WatchdogSec"][0]) > 0
    # cmd_run exits 78 on a bad config: a restart cannot fix that.
    assert "78" in d["RestartPreventExitStatus"][0].split()
    assert {"expiry", "disk", "watchdog"} <= DAEMON_TASKS  # the pattern still finds them
    stages = len(SERVICE_FACTORIES) + len(DAEMON_TASKS)
    assert seconds(d["TimeoutStopSec"][0]) > stages * DaemonConfig().shutdown_timeout_s
    assert d["User"] == ["zonegate"] and d["StateDirectory"] == ["zonegate"]
    assert set(d["SupplementaryGroups"][0].split()) == {"dialout", "video", "gpio"}
    creds = {v.split(":", 1)[0] for v in d["LoadCredential"]}
    assert creds == {"mqtt-password", "central-public-key.pem", "device-key.pem"}
    # The clock check needs adjtimex(2): see the comment in the unit.
    assert "adjtimex" in " ".join(d["SystemCallFilter"])
    assert d.get("ProtectClock", ["no"]) == ["no"]


def test_credential_names_match_what_provision_writes() -> None:
    from gateway import provisioning

    d = directives(UNIT.read_text())
    sources = dict(v.split(":", 1) for v in d["LoadCredential"])
    for name in (
        provisioning.CRED_MQTT_PASSWORD,
        provisioning.CRED_CENTRAL_KEY,
        provisioning.CRED_DEVICE_KEY,
    ):
        assert sources[name] == str(provisioning.CREDENTIALS_DIR / name)


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("systemd-sysusers") is None,
    reason="needs root and systemd-sysusers / systemd-tmpfiles",
)
def test_sysusers_and_tmpfiles_apply_to_a_fresh_root(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    subprocess.run(
        ["systemd-sysusers", f"--root={tmp_path}", str(SYSUSERS)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    passwd = (tmp_path / "etc" / "passwd").read_text()
    entry = next(line for line in passwd.splitlines() if line.startswith("zonegate:"))
    uid = int(entry.split(":")[2])
    assert entry.endswith(":/var/lib/zonegate:/usr/sbin/nologin")
    subprocess.run(
        ["systemd-tmpfiles", f"--root={tmp_path}", "--create", str(TMPFILES)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    creds = tmp_path / "etc" / "zonegate" / "credentials"
    assert creds.stat().st_mode & 0o777 == 0o700 and creds.stat().st_uid == 0
    state = tmp_path / "var" / "lib" / "zonegate"
    assert state.stat().st_uid == uid and state.stat().st_mode & 0o777 == 0o700


INSTALL = REPO / "scripts" / "install-pi.sh"


def test_install_script_parses_and_installs_where_the_unit_looks() -> None:
    subprocess.run(["bash", "-n", str(INSTALL)], check=True, timeout=30)
    text = INSTALL.read_text()
    assert "PREFIX=${ZONEGATE_PREFIX:-/opt/zonegate}" in text
    assert INSTALLED.startswith("/opt/zonegate/.venv/")
    assert "--system-site-packages" in text
    assert "--no-deps 'face_recognition" in text
    for name in ("zonegate.service", "zonegate.sysusers", "zonegate.tmpfiles"):
        assert f"$SRC/systemd/{name}" in text


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_install_script_is_shellcheck_clean() -> None:
    proc = subprocess.run(["shellcheck", str(INSTALL)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout
