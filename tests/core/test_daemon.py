"""The daemon as systemd runs it: READY, watchdog pings, SIGTERM shutdown, refusal to start."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.clock import ManualClock
from edge.journal import Journal
from edge.models import EventKind

REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, **storage: object) -> Path:
    extra = "".join(f"  {k}: {v}\n" for k, v in storage.items())
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(
        "device:\n  device_id: gw-t\nzone:\n  site: s\n  zone_id: z\n  work_kinds: [DHZY]\n"
        f"storage:\n  state_dir: {tmp_path / 'state'}\n{extra}"
        "daemon:\n  expiry_check_s: 0.2\n  shutdown_timeout_s: 5\n"
    )
    return cfg


def _recv_until(sock: socket.socket, wanted: str, deadline_s: float) -> list[str]:
    got: list[str] = []
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except TimeoutError:
            break
        got.extend(msg.split("\n"))
        if wanted in got:
            return got
    raise AssertionError(f"{wanted} not received; got {got}")


def test_notify_ready_watchdog_and_clean_sigterm(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "200000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(cfg)],
        env=env,
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        got = _recv_until(sock, "READY=1", 30)
        got += _recv_until(sock, "WATCHDOG=1", 5)
        got += _recv_until(sock, "WATCHDOG=1", 5)  # pings keep coming from the running loop
        proc.send_signal(signal.SIGTERM)
        got += _recv_until(sock, "STOPPING=1", 10)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    assert proc.stderr is not None
    assert "zonegate ready" in proc.stderr.read()
    journal = Journal(tmp_path / "state" / "journal.db", ManualClock(), boot_id="reader")
    types = [e.type for e in journal.events(kind=EventKind.SYSTEM)]
    journal.close()
    assert types == ["daemon_started", "daemon_stopped"]


def _run_once(cfg: Path) -> subprocess.CompletedProcess[str]:
    """``zonegate run`` expected to stop by itself (a refusal to start)."""
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(cfg)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _start_until_ready(cfg: Path) -> subprocess.Popen[str]:
    """``zonegate run`` in a child, returned once it logged that it is ready."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(cfg)],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while "zonegate ready" not in proc.stderr.readline():
        assert time.monotonic() < deadline and proc.poll() is None
    return proc


def test_a_second_daemon_on_the_same_state_refuses(tmp_path: Path) -> None:
    from gateway.daemon import daemon_running

    cfg = _config(tmp_path)
    first = _start_until_ready(cfg)
    try:
        assert daemon_running(tmp_path / "state")
        second = _run_once(cfg)
        assert second.returncode == 1 and "another zonegate daemon" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0
    assert not daemon_running(tmp_path / "state")


def test_refuses_to_start_when_disk_is_nearly_full(tmp_path: Path) -> None:
    cfg = _config(tmp_path, min_free_mb=10**12, warn_free_mb=10**12)
    proc = _run_once(cfg)
    assert proc.returncode == 1
    assert "cannot start" in proc.stderr and "min_free_mb" in proc.stderr


def test_config_error_exits_78_for_systemd(tmp_path: Path) -> None:
    cfg = tmp_path / "gw.yaml"
    cfg.write_text("device: {device_id: x}\nzone: {site: s, zone_id: z, work_kinds: [NOPE]}\n")
    proc = _run_once(cfg)
    assert proc.returncode == 78 and "zone.work_kinds" in proc.stderr


def test_status_reads_the_stores(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    # Start and stop once so the stores exist.
    proc = _start_until_ready(cfg)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "status", "-c", str(cfg), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    snap = json.loads(out.stdout)
    assert snap["zone"]["zone_id"] == "z" and snap["journal_problems"] == []
    assert snap["pending"]["critical"] == 2  # started + stopped, waiting for MQTT


@pytest.mark.slow
def test_demo_runs_and_prints_the_suspension(tmp_path: Path) -> None:
    capture = tmp_path / "demo-capture.jsonl"  # every MQTT message central received
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "demo", "--lang", "en", "--capture", str(capture)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "suspended automatically" in out
    assert "CERT_EXPIRED" in out
    assert "PERMIT_SUSPENDED" in out or "GAS_UNSAFE" in out
    assert "GAS_TEST_STALE" in out  # resume refused without a fresh test
    assert "is active" in out
    # One narrated language: the gateway's warnings (refusals the timeline already tells, in
    # the other language) go to demo.log, not between the lines; codes shown as [A, B].
    assert "badge_in CARD-" not in proc.stderr and "rejected:" not in proc.stderr, proc.stderr
    assert "['" not in out
    # The real parts this machine has (make test installs them all).
    from firmware_adapters.gps.gpsfake import gpsfake_available
    from gateway.face_demo import photos_available
    from gateway.local_broker import LocalBroker

    assert "Fixed detectors" in out  # gas from pty simulators through the real adapters
    if photos_available():
        assert "FACE_MISMATCH" in out and "recognised as W002" in out
    if LocalBroker.available():
        # The same run checks the MQTT contract: what central received is documented.
        from tests.sync.test_contract import check_capture

        check_capture(capture)
        assert "permit_resume → reply accepted" in out
        assert "GAS_TEST_MISSING" in out  # the leader's start before any test, at the terminal
        assert "permit_close → reply accepted" in out
        assert "waiting for sync: {'critical': 0, 'access': 0, 'bulk': 0}" in out
        # Central's view of each step is printed under that step: the gas alarm arrived under
        # "CO falls" in a fast badge-only run, and read as a second alarm while CO was falling.
        falls = out.index("after ventilation CO falls")
        assert out.index("[central] alert/gas_alarm seq=") < falls
        assert "[central] alert/gas_alarm seq=" not in out[falls:]
        assert "[central] permit/permit_suspend seq=" not in out[falls:]
    if gpsfake_available():
        assert "terminal inside the fence" in out and "at 31.23040,121.47370" in out


def _tap(fifo: Path, line: bytes) -> None:
    """One tap as a keyboard-wedge bridge (`echo ID > fifo`) makes it: open, write, close."""
    fd = os.open(fifo, os.O_WRONLY)  # blocks until the daemon's reader holds the FIFO
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def test_fifo_badge_reader_twenty_taps_then_sigterm_within_budget(tmp_path: Path) -> None:
    """Issue 12.4a: each tap is decided without the reader failing, and SIGTERM ends the
    daemon within its budget although no writer holds the FIFO (a thread parked in open()
    used to keep the process alive until the next tap)."""
    budget_s = 5.0
    fifo = tmp_path / "badge.fifo"
    os.mkfifo(fifo)
    cfg = _config(tmp_path)
    cfg.write_text(cfg.read_text() + f"badge:\n  type: file\n  port: {fifo}\n  mode: in\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(cfg)],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    try:
        decided: list[str] = []
        for i in range(20):
            badge = f"TAP-{i:02d}"  # distinct ids: a repeated tap may be debounced
            _tap(fifo, f"{badge}\n".encode())
            for line in proc.stderr:  # the terminal logs each decision
                if f"badge_in {badge}:" in line:
                    decided.append(badge)
                    break
        assert len(decided) == 20
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=budget_s) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    journal = Journal(tmp_path / "state" / "journal.db", ManualClock(), boot_id="reader")
    decisions = journal.events(kind=EventKind.ACCESS)
    failures = [e for e in journal.events() if e.type == "service_failed"]
    journal.close()
    assert len(decisions) == 20
    assert failures == []
