"""A fleet of simulated gateways on one broker, and the broker and consumers around them.

Each ``SimGateway`` is the real sync path of a gateway without the daemon (no sensors, no face
models): its own SQLite journal, the real ``Outbox`` and ``Link``, its own client id and broker
user (the device id, so the shipped ACL's ``%u`` patterns confine it to its own topics). It
journals a shift's events at configurable rates (access decisions, permit transitions, gas
alarms) and keeps the retained permit and presence state the outbox publishes. Used by
``tests/central`` and ``bench/fleet.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sqlite3
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cloud_sync.link import Link, LinkSettings
from cloud_sync.outbox import Outbox
from cloud_sync.topics import DeviceTopics
from edge.clock import SystemClock
from edge.journal import Journal
from edge.models import EventKind, EventType
from firmware_adapters.tcpports import free_port
from tests.broker_config import render_acl
from tests.sync.conftest import wait_port

REPO = Path(__file__).resolve().parents[1]
ACL = REPO / "config" / "mosquitto" / "zonegate.acl"
CENTRAL_PASSWORD = "pw-central"


class FleetBroker:
    """mosquitto on 127.0.0.1 with one user per gateway, ``central``, and the shipped ACL."""

    def __init__(self, directory: Path, devices: list[str], site: str) -> None:
        self.dir = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        passwd = directory / "passwd"
        lines = [f"{d}:pw-{d}" for d in devices] + [f"central:{CENTRAL_PASSWORD}"]
        passwd.write_text("\n".join(lines) + "\n")
        # -U hashes the whole plain-text file in one go (hundreds of users in a second).
        subprocess.run(["mosquitto_passwd", "-U", str(passwd)], check=True, capture_output=True)
        (directory / "data").mkdir(exist_ok=True)
        # max_queued_messages is large, never 0: "0 = no limit" drops messages in several
        # mosquitto 2.0.x releases (eclipse-mosquitto issues 2879, 3244); with 0, this
        # fleet lost about 1 event in 20 runs of 200 with three shared consumers.
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text(
            f"""
per_listener_settings false
user root
listener {self.port} 127.0.0.1
allow_anonymous false
password_file {passwd}
acl_file {render_acl(directory / "zonegate.acl", [site])}
persistence true
persistence_location {directory / "data"}/
autosave_interval 3600
max_queued_messages 1000000
max_inflight_messages 200
max_connections -1
log_dest file {directory / "mosquitto.log"}
log_type error
log_type warning
"""
        )

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def settings(self, user: str, client_id: str | None = None) -> LinkSettings:
        password = CENTRAL_PASSWORD if user == "central" else f"pw-{user}"
        return LinkSettings(
            host="127.0.0.1",
            port=self.port,
            client_id=client_id or user,
            username=user,
            password=password,
            keepalive_s=10,
            backoff_initial_s=0.05,
            backoff_max_s=1.0,
        )


class IngestProcesses:
    """``zonegate central ingest`` processes of one group, each with a stable client id."""

    def __init__(self, broker: FleetBroker, dsn: str, directory: Path, group: str) -> None:
        self.broker, self.dsn, self.dir, self.group = broker, dsn, directory, group
        self.pw = directory / "central.pw"
        self.pw.write_text(CENTRAL_PASSWORD + "\n")
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        """Start (or restart, as systemd would) the consumer with client id ``name``."""
        zonegate = Path(sys.executable).with_name("zonegate")
        args = [str(zonegate), "central", "ingest", "--no-tls", "--host", "127.0.0.1"]
        args += ["--port", str(self.broker.port), "--user", "central"]
        args += ["--password-file", str(self.pw), "--client-id", name, "--group", self.group]
        with (self.dir / f"{name}.log").open("ab") as out:
            self.procs[name] = subprocess.Popen([*args, "--dsn", self.dsn], stdout=out, stderr=out)

    def start_many(self, n: int) -> None:
        for i in range(1, n + 1):
            self.start(f"{self.group}-{i}")

    def subscribed(self) -> bool:
        """Every started consumer has logged its subscriptions (events before that are lost)."""
        return all(
            ": subscribed" in (self.dir / f"{n}.log").read_text(errors="replace")
            for n in self.procs
        )

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values() if p.poll() is None]

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = {}


@dataclass
class ShiftRates:
    """Events per gateway per second, by kind (a busy zone badges far more than it alarms)."""

    access_per_s: float = 2.0
    permit_per_s: float = 0.2
    alarm_per_s: float = 0.02


@dataclass
class SimGateway:
    """One gateway's journal, outbox and link, and the state its events describe."""

    site: str
    device: str
    directory: Path
    settings: LinkSettings
    rng: random.Random
    permits: dict[str, dict[str, Any]] = field(default_factory=dict)
    inside: list[dict[str, Any]] = field(default_factory=list)
    journaled: int = 0
    access_events: int = 0

    def __post_init__(self) -> None:
        self.journal = Journal(
            self.directory / f"{self.device}.db", SystemClock(assume_trusted=True)
        )
        self.topics = DeviceTopics(self.site, self.device)
        self.outbox = Outbox(
            self.journal,
            self.topics,
            permit_state=self.permits.get,
            presence=lambda: list(self.inside),
        )
        self.link = Link(self.settings, self.topics, self.journal.boot_id, self.outbox.drain)
        self._workers = [f"W{n:03d}" for n in range(1, 9)]

    def close(self) -> None:
        self.journal.close()

    async def run(self, rates: ShiftRates, duration_s: float) -> None:
        """Connect, journal a shift's events for ``duration_s``, keep draining until cancelled."""
        async with self.link:
            gen = asyncio.create_task(self.shift(rates, duration_s), name=f"shift-{self.device}")
            try:
                await self.link.serve_forever()
            finally:
                gen.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await gen

    async def shift(self, rates: ShiftRates, duration_s: float) -> None:
        """Journal events as Poisson arrivals at ``rates`` for ``duration_s``."""
        total = rates.access_per_s + rates.permit_per_s + rates.alarm_per_s
        loop = asyncio.get_running_loop()
        end = loop.time() + duration_s
        while True:
            await asyncio.sleep(self.rng.expovariate(total))
            if loop.time() >= end:
                return
            pick = self.rng.uniform(0, total)
            if pick < rates.alarm_per_s:
                self.gas_alarm()
            elif pick < rates.alarm_per_s + rates.permit_per_s:
                self.permit_transition()
            else:
                self.access_decision()

    def _append(self, kind: EventKind, type_: str, payload: dict[str, Any]) -> None:
        ev = self.journal.append(kind, EventType(type_), payload)
        self.journaled += 1
        self.outbox.notify(ev)

    def access_decision(self) -> None:
        worker = self.rng.choice(self._workers)
        present = any(p["worker_id"] == worker for p in self.inside)
        action = "badge_out" if present else "badge_in"
        if present:
            self.inside = [p for p in self.inside if p["worker_id"] != worker]
        else:
            self.inside.append(
                {"worker_id": worker, "since": datetime.now(UTC).isoformat(), "role": "worker"}
            )
        self.access_events += 1
        self._append(
            EventKind.ACCESS,
            "access_decision",
            {
                "action": action,
                "allowed": True,
                "badge_id": f"B-{worker}",
                "worker_id": worker,
                "reasons": [],
            },
        )

    def permit_transition(self) -> None:
        now = datetime.now(UTC)
        if not self.permits or self.rng.random() < 0.3:
            pid = f"P-{self.device}-{len(self.permits) + 1}"
            old, new = "approved", "active"
            self.permits[pid] = {
                "permit_id": pid,
                "status": new,
                "kind": "hot_work",
                "level": "level_2",
                "valid_from": now.isoformat(),
                "valid_to": (now + timedelta(hours=8)).isoformat(),
            }
        else:
            pid = self.rng.choice(sorted(self.permits))
            old = str(self.permits[pid]["status"])
            new = "suspended" if old == "active" else "active"
            self.permits[pid] = {**self.permits[pid], "status": new}
        self._append(
            EventKind.PERMIT,
            "permit_" + ("start" if new == "active" else "suspend"),
            {"permit_id": pid, "from": old, "to": new, "actor": "system"},
        )

    def gas_alarm(self) -> None:
        self._append(
            EventKind.ALERT,
            "gas_alarm",
            {
                "zone_id": f"Z-{self.device}",
                "gas": "co",
                "value": 85.0,
                "unit": "mg/m3",
                "limit": 30.0,
                "inside": list(self.inside),
                "suspended_permits": [],
            },
        )

    def event_ids(self) -> set[str]:
        """Every event this gateway journaled (read from its SQLite file)."""
        with sqlite3.connect(self.journal.path) as db:
            return {str(uuid.UUID(r[0])) for r in db.execute("SELECT event_id FROM events")}
