"""Fixtures for the sync tests: a real mosquitto with a test CA (TLS), passwords and the
repository's ACL file, keys for central, and a journal."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cloud_sync.link import LinkSettings, tls_context
from cloud_sync.signing import Signer, Verifier, generate_keypair, load_private_key, load_public_key
from edge.clock import ManualClock
from edge.journal import Journal
from firmware_adapters.tcpports import free_port
from tests.broker_config import render_acl
from tests.conditions import until
from tests.pki import Pki, make_pki

REPO = Path(__file__).resolve().parents[2]
ACL = REPO / "config" / "mosquitto" / "zonegate.acl"
BRIDGE_EXAMPLE = REPO / "config" / "mosquitto" / "bridge.conf"
SITE = "site1"
DEVICE = "dev-a"
"""The gateway of :func:`gateway_doc`: a device account of the broker's password file."""
PASSWORDS = {"dev-a": "pw-a", "dev-b": "pw-b", "central": "pw-central", "bridge": "pw-bridge"}


def wait_port(
    port: int, deadline_s: float = 10.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"broker exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


class Broker:
    """One mosquitto process with TLS, the password file and the repository's ACL."""

    def __init__(self, directory: Path, pki: Pki, *, extra: str = "") -> None:
        self.dir = directory
        self.pki = pki
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        passwd = directory / "passwd"
        for i, (user, pw) in enumerate(PASSWORDS.items()):
            args = ["mosquitto_passwd", "-b", *(["-c"] if i == 0 else []), str(passwd), user, pw]
            subprocess.run(args, check=True, capture_output=True)
        (directory / "data").mkdir(exist_ok=True)
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text(
            f"""
per_listener_settings false
user root
listener {self.port} 127.0.0.1
cafile {pki.ca_cert}
certfile {pki.server_cert}
keyfile {pki.server_key}
allow_anonymous false
password_file {passwd}
acl_file {render_acl(directory / "zonegate.acl", [SITE])}
persistence true
persistence_location {directory / "data"}/
autosave_interval 3600
max_queued_messages 0
max_inflight_messages 100
log_dest file {directory / "mosquitto.log"}
log_type error
log_type warning
log_type notice
{extra}
"""
        )

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, proc=self.proc)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None

    def settings(self, user: str, client_id: str | None = None, **kw: object) -> LinkSettings:
        base: dict[str, object] = {
            "host": "127.0.0.1",
            "port": self.port,
            "client_id": client_id or f"{user}-{os.getpid()}",
            "tls_context": tls_context(str(self.pki.ca_cert)),
            "username": user,
            "password": PASSWORDS[user],
            "backoff_initial_s": 0.05,
            "backoff_max_s": 0.5,
            "keepalive_s": 10,
        }
        base.update(kw)
        return LinkSettings(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def broker(tmp_path: Path, pki: Pki) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker", pki)
    b.start()
    yield b
    b.stop(signal.SIGKILL)


@pytest.fixture
def make_broker(tmp_path: Path, pki: Pki) -> Iterator[Callable[..., Broker]]:
    made: list[Broker] = []

    def make(name: str, extra: str = "") -> Broker:
        b = Broker(tmp_path / name, pki, extra=extra)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop(signal.SIGKILL)


@dataclass(frozen=True)
class Keys:
    signer: Signer
    verifier: Verifier
    private: Path
    public: Path


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    private, public = generate_keypair(tmp_path_factory.mktemp("keys"))
    return Keys(
        Signer(load_private_key(private)), Verifier(load_public_key(public)), private, public
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC))


@pytest.fixture
def journal(tmp_path: Path, clock: ManualClock) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.db", clock)
    yield j
    j.close()


@pytest.fixture
def wait_until() -> Callable[..., object]:
    return until


@pytest.fixture
async def tasks() -> AsyncIterator[list[asyncio.Task[None]]]:
    """Background tasks of a test, cancelled and awaited at the end (no leaks)."""
    running: list[asyncio.Task[None]] = []
    yield running
    for t in running:
        t.cancel()
    for t in running:
        try:
            await t
        except asyncio.CancelledError:
            pass
        except Exception:
            pass


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves tasks running (torn down after every other fixture)."""
    yield
    me = asyncio.current_task()
    end = time.monotonic() + 2.0
    while True:
        leaked = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        if not leaked or time.monotonic() > end:
            break
        await asyncio.sleep(0.01)  # cancelled tasks and aiomqtt's own need a few turns
    assert not leaked, f"tasks left running: {[t.get_name() for t in leaked]}"


def gateway_doc(
    broker: Broker,
    keys: Keys,
    tmp_path: Path,
    *,
    state_dir: Path | None = None,
    mqtt: dict[str, object] | None = None,
    **sections: object,
) -> dict[str, Any]:
    """The config document of gateway :data:`DEVICE` of :data:`SITE` on ``broker``.

    As a site writes it (TLS with the test CA, its password in ``tmp_path/pw``, central's public
    key from ``keys``), with reconnects fast enough for a test. ``state_dir`` defaults to
    ``tmp_path``; ``mqtt`` adds or replaces keys of the mqtt section; ``sections`` add or replace
    whole top-level sections (``gas=...``, ``daemon=...``). Written once here: six tests built
    the same document by hand.
    """
    (tmp_path / "pw").write_text(PASSWORDS[DEVICE] + "\n")
    return {
        "device": {"device_id": DEVICE},
        "zone": {"site": SITE, "zone_id": "z1", "work_kinds": ["DHZY"]},
        "storage": {"state_dir": str(state_dir or tmp_path)},
        **sections,
        "mqtt": {
            "enabled": True,
            "host": "127.0.0.1",
            "port": broker.port,
            "ca_file": str(broker.pki.ca_cert),
            "username": DEVICE,
            "password_file": str(tmp_path / "pw"),
            "central_public_key": str(keys.public),
            "backoff_initial_s": 0.05,
            "backoff_max_s": 0.5,
            **(mqtt or {}),
        },
    }
