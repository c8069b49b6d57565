"""Fixtures for provisioning, self-test and roster import: a temporary root provisioned by the
real ``zonegate provision`` command, and a real mosquitto with passwords and the repository ACL."""

from __future__ import annotations

import os
import pty
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.clock import SystemClock
from edge.journal import Journal
from firmware_adapters.tcpports import free_port
from gateway.cli import main
from gateway.config import load_config
from tests.broker_config import render_acl
from tests.pki import Pki, make_pki

REPO = Path(__file__).resolve().parents[2]
ACL = REPO / "config" / "mosquitto" / "zonegate.acl"
DEVICE = "zg-test-1"
SITE = "plant1"
BROKER_PASSWORD = "s3cret-device-pw"


@dataclass(frozen=True)
class Provisioned:
    root: Path
    config: Path
    credentials: Path
    state_dir: Path


def broker_flags(port: int, password_file: Path, central_key: Path) -> tuple[str, ...]:
    """``zonegate provision`` flags for a plain-TCP mosquitto on this machine."""
    return (
        "--broker-host",
        "127.0.0.1",
        "--broker-port",
        str(port),
        "--no-tls",
        "--broker-password-file",
        str(password_file),
        "--central-key",
        str(central_key),
    )


def wait_port(port: int, proc: subprocess.Popen[bytes], deadline_s: float = 10.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


@dataclass
class Broker:
    port: int
    proc: subprocess.Popen[bytes] | None
    tls_port: int = 0
    log: Path | None = None  # mosquitto's own log: who logged in


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Broker]:
    """Passwords required, the repository's ACL file; plain MQTT on ``port``, TLS (the test
    CA) on ``tls_port``, both on loopback."""
    d = tmp_path_factory.mktemp("broker")
    passwd = d / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwd), DEVICE, BROKER_PASSWORD],
        check=True,
        capture_output=True,
    )
    port, tls_port = free_port(), free_port()
    acl = render_acl(d / "zonegate.acl", [SITE])  # the shipped ACL for this site
    conf = d / "mosquitto.conf"
    conf.write_text(
        f"per_listener_settings false\nuser root\n"
        f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
        f"persistence false\nlog_dest file {d / 'mosquitto.log'}\n"
        f"listener {port} 127.0.0.1\n"
        f"listener {tls_port} 127.0.0.1\n"
        f"cafile {pki.ca_cert}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
    )
    proc = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_port(port, proc)
        wait_port(tls_port, proc)
        yield Broker(port, proc, tls_port, d / "mosquitto.log")
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def central_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("central") / "central.pub"
    path.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return path


ProvisionFn = Callable[..., Provisioned]


@pytest.fixture
def provision(tmp_path: Path) -> ProvisionFn:
    """Run ``zonegate provision`` into a fresh root under tmp_path; extra flags as arguments."""
    counter = iter(range(1000))

    def run(*extra: str, template: str | None = None, expect: int = 0) -> Provisioned:
        root = tmp_path / f"root{next(counter)}"
        state = root / "var" / "lib" / "zonegate"
        args = [
            "provision",
            "--root",
            str(root),
            "--device-id",
            DEVICE,
            "--site",
            SITE,
            "--zone-id",
            "weld-bay-3",
            "--zone-name",
            "三号焊接区",
            "--work-kinds",
            "DHZY,YXKJ",
            "--state-dir",
            str(state),
            "--assume-clock-trusted",
            "--yes",
        ]
        if template is not None:
            tpl = tmp_path / f"template{next(counter)}.yaml"
            tpl.write_text(template, encoding="utf-8")
            args += ["--template", str(tpl)]
        assert main([*args, *extra]) == expect
        etc = root / "etc" / "zonegate"
        return Provisioned(root, etc / "gateway.yaml", etc / "credentials", state)

    return run


@contextmanager
def running_daemon(config: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``zonegate run`` on ``config``, yielded once it has journaled daemon_started."""
    cfg = load_config(config)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "NOTIFY_SOCKET": ""},
    )
    try:
        # 60 s: a start takes a few seconds, but a whole-suite run on two loaded cores once took
        # longer than the 20 s this used to allow (the deadline only bounds a hang).
        deadline = time.monotonic() + 60
        started = False
        while not started:  # poll an external process, with a deadline
            assert time.monotonic() < deadline, "the daemon did not start in 60 s"
            assert daemon.poll() is None, daemon.stderr.read() if daemon.stderr else b""
            if cfg.journal_path.exists():
                journal = Journal(cfg.journal_path, SystemClock(), boot_id="test-reader")
                try:
                    started = any(e.type == "daemon_started" for e in journal.events())
                finally:
                    journal.close()
            time.sleep(0.05)
        yield daemon
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


def zonegate_on_pty(*args: str, cwd: Path | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """``python -m gateway.cli ARGS`` with a pty as its terminal, as a technician's shell runs it
    (the prompts and the tables see a TTY). Returns the process and the pty's master end; close
    it when done."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=cwd,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    return proc, master


def read_to_end(master: int) -> bytes:
    """Everything a child writes to its pty until it closes the terminal (EIO or EOF)."""
    output = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    return output
