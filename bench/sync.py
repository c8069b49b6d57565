"""Sync benchmark: journal appends, outbox drain, raw MQTT baselines, gas alarm to subscriber.

``python bench/sync.py --json`` prints human lines on stderr, then one JSON object as the last
stdout line:

- ``enqueue_per_s``: durable ``Journal.append`` calls per second (one fsync'd commit each);
  ``sqlite_bare_per_s``: a bare SQLite (WAL, synchronous=FULL) insert-and-commit loop, same run,
  same disk. The loops take turns in five slices so that machine noise falls on both alike.
- ``drain_per_s``: a ``--events`` backlog (default 100,000) drained by the real Link + Outbox to
  a private local mosquitto at QoS 1, counted until every row is stamped delivered.
- ``aiomqtt_raw_per_s``: a bare aiomqtt loop awaiting each QoS 1 publish in turn;
  ``paho_raw_per_s``: paho publishing QoS 1 with its default in-flight window (20), waiting for
  every PUBACK. Same broker, same payload size, same run.
- ``outage_first_event_p50_s``: the broker is stopped for ``--outage-s`` (default 60) while a
  gas alarm is journaled, then started again; seconds from the broker accepting connections
  again to the alarm arriving at a subscriber (persistent session), p50 (and max) over
  ``--outage-runs``. The link runs with its default settings (issue 12.3: target <= 10 s).
  ``outage_cap60_p50_s``: the same outage, same run, for a second gateway whose backoff cap
  is the old default of 60 s (the baseline).
- ``intake_*``: the sync service as the daemon builds it takes a ``--flood-s`` flood of signed
  commands (one in ten new, the rest replays, a publisher window of 100, a permit_revoke half
  way): ``intake_sent``, ``intake_cmds_per_s`` (handled, until the last is journaled),
  ``intake_revoke_s`` (the revoke's PUBACK at the broker until the permit is REVOKED), and the
  badge decision latency (``ZoneController.badge_in``, what the terminal calls) during the
  flood, ``intake_badge_p50_ms`` / ``_p99_ms``, against the same with no flood in the same run
  (``intake_badge_idle_p50_ms``).
- ``alert_p99_ms`` / ``alert_p50_ms``: last byte of an over-limit Winsen frame written to the
  pty until the resulting ``gas_alarm`` event arrives at an MQTT subscriber (gas adapter,
  exposure rules, permit suspension and alert committed to the journal, outbox, broker);
  ``alert_commit_to_subscriber_*``: the sync's own share, from the alert's journal commit.

The broker listens on plain TCP on 127.0.0.1 (TLS would cost the same in every case).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from cloud_sync.link import Link, LinkSettings
from cloud_sync.outbox import Outbox
from cloud_sync.topics import DeviceTopics
from edge.clock import ManualClock, SystemClock
from edge.journal import Journal
from edge.models import Event, EventKind, EventType
from firmware_adapters.tcpports import free_port

TOPICS = DeviceTopics("bench", "gw-bench")
PAYLOAD = {"sensor_id": "co1", "gas": "co", "value": 12.5, "unit": "ppm", "note": "x" * 120}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@contextlib.contextmanager
def mosquitto(directory: Path) -> Iterator[int]:
    port = free_port()
    conf = directory / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
        f"max_inflight_messages 100\nlog_dest none\nuser root\n"
    )
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)])
    try:
        end = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > end or proc.poll() is not None:
                    raise
                time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


# ------------------------------------------------------------------ enqueue


def append_rates(directory: Path, n: int, rounds: int = 5) -> tuple[float, float, float]:
    """Appends per second: the journal (system clock), the journal (fixed clock), bare SQLite.

    The three loops take turns in ``rounds`` slices of ``n / rounds`` commits each, so that a
    noisy neighbour or a disk flush lands on all of them alike rather than on whichever ran
    first; their times are summed per loop.
    """
    system = Journal(directory / "system.db", SystemClock(assume_trusted=True))
    fixed = Journal(directory / "fixed.db", ManualClock())
    db = sqlite3.connect(directory / "bare.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, event_id TEXT UNIQUE, payload TEXT)")
    body = json.dumps(PAYLOAD)

    def bare(k: int) -> None:
        for _ in range(k):
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t(event_id, payload) VALUES (?, ?)", (str(uuid.uuid4()), body))
            db.execute("COMMIT")

    def journal(j: Journal) -> Callable[[int], None]:
        def run(k: int) -> None:
            for _ in range(k):
                j.append(EventKind.TELEMETRY, EventType.READING, PAYLOAD)

        return run

    loops = [journal(system), journal(fixed), bare]
    spent = [0.0] * len(loops)
    per_round = max(1, n // rounds)
    for _ in range(rounds):
        for i, loop in enumerate(loops):
            t0 = time.perf_counter()
            loop(per_round)
            spent[i] += time.perf_counter() - t0
    system.close()
    fixed.close()
    db.close()
    total = per_round * rounds
    return total / spent[0], total / spent[1], total / spent[2]


# ------------------------------------------------------------------ drain


def settings(port: int, client_id: str) -> LinkSettings:
    return LinkSettings(host="127.0.0.1", port=port, client_id=client_id, keepalive_s=30)


async def drain_rate(directory: Path, port: int, n: int) -> float:
    journal = Journal(directory / "drain.db", SystemClock(assume_trusted=True))
    for base in range(0, n, 2000):
        journal.append_many(
            [(EventKind.TELEMETRY, EventType.READING, PAYLOAD)] * min(2000, n - base)
        )
    # Downsampling off: every row crosses the wire, as for alarms and access events.
    outbox = Outbox(journal, TOPICS, downsample_above=0)
    t0 = time.perf_counter()
    async with Link(settings(port, "bench-drain"), TOPICS, journal.boot_id, outbox.drain):
        while sum(journal.pending_count().values()) > 0:  # noqa: ASYNC110 - rows in SQLite
            await asyncio.sleep(0.05)
    rate = n / (time.perf_counter() - t0)
    journal.close()
    return rate


def _wire_sized() -> bytes:
    # The same size as an outbox message carrying PAYLOAD.
    return json.dumps(
        {
            "v": 1,
            "event_id": str(uuid.uuid4()),
            "boot_id": uuid.uuid4().hex,
            "seq": 123456,
            "kind": "telemetry",
            "type": "reading",
            "lane": "bulk",
            "wall_time": "2026-11-24T08:00:00.000000+00:00",
            "wall_trusted": True,
            "payload": PAYLOAD,
            "historical": True,
            "sample": "all",
        }
    ).encode()


async def aiomqtt_raw_rate(port: int, n: int) -> float:
    body = _wire_sized()
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-aiomqtt") as client:
        t0 = time.perf_counter()
        for _ in range(n):
            await client.publish(TOPICS.telemetry("co1"), body, qos=1)
        return n / (time.perf_counter() - t0)


def paho_raw_rate(port: int, n: int) -> float:
    body = _wire_sized()
    done = threading.Event()
    acked = 0

    def on_publish(*_: Any) -> None:
        nonlocal acked
        acked += 1
        if acked == n:
            done.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-paho")
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            client.publish(TOPICS.telemetry("co1"), body, qos=1)
        if not done.wait(120):
            raise RuntimeError(f"paho: only {acked} of {n} PUBACKs")
        return n / (time.perf_counter() - t0)
    finally:
        client.disconnect()
        client.loop_stop()


# ------------------------------------------------------------------ gas alarm to subscriber


async def alert_latency(directory: Path, port: int, n: int) -> tuple[list[float], list[float]]:
    """(frame -> alert at the subscriber, alert committed -> alert at the subscriber), ms."""
    from hot_work_permit import issue_hot_work_permit

    from edge.air import GasService
    from edge.gas_config import GasConfig
    from edge.models import WorkKind, Zone
    from edge.registry import Registry
    from edge.zone import ZoneController
    from firmware_adapters.gas.config import WinsenZeConfig
    from firmware_adapters.sim.winsen import WinsenSimulator

    clock = SystemClock(assume_trusted=True)
    ctl = ZoneController(
        zone=Zone(site="bench", zone_id="zb", work_kinds=(WorkKind.HOT_WORK,)),
        registry=Registry(directory / "registry.json"),
        journal=Journal(directory / "alert.db", clock),
        clock=clock,
    )
    issue_hot_work_permit(ctl)
    ports = Path(tempfile.mkdtemp(prefix="zg-pty-"))
    cfg = GasConfig(
        sensors=(
            WinsenZeConfig(
                id="co1", port=str(ports / "ttyCO"), model="ze15", warmup_s=0, staleness_s=30
            ),
        )
    )
    arrivals: asyncio.Queue[int] = asyncio.Queue()
    subscribed = asyncio.Event()

    async def subscriber() -> None:
        async with aiomqtt.Client("127.0.0.1", port, identifier="bench-central") as sub:
            await sub.subscribe(TOPICS.event("alert"), qos=1)
            subscribed.set()
            async for m in sub.messages:
                if b'"gas_alarm"' in bytes(m.payload):
                    arrivals.put_nowait(time.perf_counter_ns())

    outbox = Outbox(ctl.journal, TOPICS)
    committed: list[int] = []

    def on_commit(ev: Event) -> None:
        if ev.type == "gas_alarm":
            committed.append(time.perf_counter_ns())

    ctl.event_listeners.append(on_commit)
    ctl.event_listeners.append(outbox.notify)
    samples: list[float] = []
    sync_part: list[float] = []
    async with (
        WinsenSimulator(ports / "ttyCO", fault_bit=True, value=1.0) as sim,
        Link(settings(port, "bench-gw"), TOPICS, ctl.journal.boot_id, outbox.drain) as link,
        asyncio.TaskGroup() as tg,
    ):
        sub_task = tg.create_task(subscriber())
        await asyncio.gather(subscribed.wait(), link.wait_connected())
        sim.streaming = False
        service = GasService(ctl, cfg, clock)
        runner = tg.create_task(service.run())
        try:
            while service.readings == 0:
                sim.send_now(1.0)
                await asyncio.sleep(0.05)
            for i in range(n + 5):
                sim.send_now(1.0)
                while not ctl.air.air_verdict().safe:  # noqa: ASYNC110 - a pty round trip
                    await asyncio.sleep(0.001)
                service.acknowledge("bench")
                ctl.record_gas_test(service.gas_test("bench"), "bench")
                if i == 0:
                    ctl.start_permit("DH-B", "bench", authorised=True)
                else:
                    ctl.resume_permit("DH-B", "bench", authorised=True)
                await asyncio.sleep(0.02)  # idle loop and an empty outbox, as between frames
                while not arrivals.empty():
                    arrivals.get_nowait()
                committed.clear()
                sim.send_now(80.0)
                written = sim.last_write_ns
                got = await asyncio.wait_for(arrivals.get(), 5.0)
                if i >= 5:
                    samples.append((got - written) / 1e6)
                    sync_part.append((got - committed[0]) / 1e6)
        finally:
            runner.cancel()
            sub_task.cancel()
    ctl.journal.close()
    ctl.registry.close()
    await asyncio.to_thread(shutil.rmtree, ports, True)
    return samples, sync_part


# ------------------------------------------------------------------ outage


def start_broker(directory: Path, port: int) -> subprocess.Popen[bytes]:
    """A mosquitto on ``port`` that keeps persistent sessions across its restarts."""
    data = directory / "outage-data"
    data.mkdir(exist_ok=True)
    conf = directory / "outage.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n"
        f"persistence true\npersistence_location {data}/\nlog_dest none\nuser root\n"
    )
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)])
    end = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            if time.monotonic() > end or proc.poll() is not None:
                raise
            time.sleep(0.005)
        else:
            return proc


async def outage_recovery(directory: Path, outage_s: float, runs: int) -> dict[str, list[float]]:
    """Seconds from the broker's return to the first event at central, per gateway and run."""
    port = free_port()
    proc = start_broker(directory, port)
    arrived: dict[str, float] = {}
    gateways = {
        "default": LinkSettings(host="127.0.0.1", port=port, client_id="bench-outage-default"),
        "cap60": LinkSettings(
            host="127.0.0.1", port=port, client_id="bench-outage-cap60", backoff_max_s=60.0
        ),
    }

    async def central() -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1", port, identifier="bench-outage-central", clean_session=False
                ) as client:
                    await client.subscribe("edge/v1/bench/+/event/#", qos=1)
                    async for message in client.messages:
                        body = json.loads(bytes(message.payload))
                        arrived.setdefault(body["event_id"], time.monotonic())
            except aiomqtt.MqttError:
                await asyncio.sleep(0.005)  # central retries fast: we time the gateway

    results: dict[str, list[float]] = {name: [] for name in gateways}
    journals = {
        name: Journal(directory / f"outage-{name}.db", SystemClock(assume_trusted=True))
        for name in gateways
    }
    outboxes = {
        name: Outbox(journals[name], DeviceTopics("bench", f"gw-{name}")) for name in gateways
    }
    links = [
        Link(s, DeviceTopics("bench", f"gw-{name}"), journals[name].boot_id, outboxes[name].drain)
        for name, s in gateways.items()
    ]
    watcher = asyncio.create_task(central())
    try:
        async with contextlib.AsyncExitStack() as stack:
            for link in links:
                await stack.enter_async_context(link)
            for run in range(runs):
                # A gateway that has been up a while: its link proved healthy.
                while not all(link.healthy for link in links):  # noqa: ASYNC110 - a flag set by the link
                    await asyncio.sleep(0.1)
                proc.terminate()
                proc.wait(10)
                alarms = {
                    name: journals[name].append(EventKind.ALERT, EventType.GAS_ALARM, {"run": run})
                    for name in gateways
                }
                for outbox in outboxes.values():
                    outbox.notify()
                await asyncio.sleep(outage_s)
                proc = await asyncio.to_thread(start_broker, directory, port)
                back = time.monotonic()
                for name, alarm in alarms.items():
                    while alarm.event_id not in arrived:  # noqa: ASYNC110 - set by the watcher
                        await asyncio.sleep(0.01)
                    results[name].append(arrived[alarm.event_id] - back)
                log(
                    f"outage run {run + 1}/{runs}: "
                    + ", ".join(f"{n} {v[-1]:.2f} s" for n, v in results.items())
                )
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        proc.terminate()
        proc.wait(10)
        for journal in journals.values():
            journal.close()
    return results


# ------------------------------------------------------------------ command intake


async def intake_flood(directory: Path, port: int, flood_s: float) -> dict[str, float]:
    """Commands handled per second under a flood, revoke latency, badge latency during it."""
    from datetime import UTC, datetime, timedelta

    from cloud_sync.central import sign_command
    from cloud_sync.service import SyncService
    from cloud_sync.signing import Signer, generate_keypair, load_private_key
    from edge.evidence import FixedAir
    from edge.models import PermitStatus
    from edge.registry import Registry
    from edge.zone import ZoneController
    from gateway.config import GatewayConfig
    from gateway.services import ServiceContext, build_sync

    private, public = generate_keypair(directory / "intake-keys")
    signer = Signer(load_private_key(private))
    config = GatewayConfig.model_validate(
        {
            "device": {"device_id": "gw-intake"},
            "zone": {"site": "bench", "zone_id": "z1", "work_kinds": ["DHZY"]},
            "storage": {"state_dir": str(directory / "intake")},
            "mqtt": {
                "enabled": True, "host": "127.0.0.1", "port": port, "tls": False,
                "central_public_key": str(public), "client_id": "bench-intake",
            },
        }
    )  # fmt: skip
    clock = SystemClock(assume_trusted=True)
    (directory / "intake").mkdir(exist_ok=True)
    registry = Registry(config.registry_path)
    journal = Journal(config.journal_path, clock)
    ctl = ZoneController(
        zone=config.zone, registry=registry, journal=journal, clock=clock, air=FixedAir()
    )
    service = build_sync(ServiceContext(config, None, ctl, registry, journal, clock))
    assert isinstance(service, SyncService)
    topics = DeviceTopics("bench", "gw-intake")
    now = datetime.now(UTC)
    permit = {
        "device": "gw-intake",
        "permit": {
            "permit_id": "P1", "zone_id": "z1", "kind": "DHZY", "level": "hot_2",
            "valid_from": (now - timedelta(minutes=1)).isoformat(),
            "valid_to": (now + timedelta(hours=4)).isoformat(),
            "members": [{"worker_id": "G1", "role": "guardian"}], "version": 1,
        },
    }  # fmt: skip

    def handled() -> int:
        return sum(service.commands.counts.values()) if service.commands else 0

    async def badge_latencies(until: Callable[[], bool]) -> list[float]:
        out: list[float] = []
        while not until():
            t0 = time.perf_counter()
            await ctl.badge_in("NO-SUCH-BADGE")
            out.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.05)
        return out

    run = asyncio.create_task(service.run())
    sent = 0
    try:
        async with aiomqtt.Client("127.0.0.1", port, identifier="bench-intake-central") as central:
            central.pending_calls_threshold = 200  # a window of 100 publishes on purpose
            window = asyncio.Semaphore(100)
            pending: set[asyncio.Task[None]] = set()

            async def publish(name: str, env: dict[str, Any]) -> None:
                try:
                    await central.publish(topics.cmd(name), json.dumps(env), qos=1)
                finally:
                    window.release()

            async def send(name: str, body: dict[str, Any], version: int) -> asyncio.Task[None]:
                nonlocal sent
                env = sign_command(signer, name, body, version)
                await window.acquire()
                task = asyncio.create_task(publish(name, env))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
                return task

            while service.link is None or not service.link.connected:  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # subscribed before the first command is sent
            await (await send("permit_issue", permit, 1))
            while handled() < 1:  # noqa: ASYNC110 - counted by the service
                await asyncio.sleep(0.05)
            idle_end = time.monotonic() + 2
            idle = await badge_latencies(lambda: time.monotonic() > idle_end)
            start = time.monotonic()
            flood_over = False
            during = asyncio.create_task(badge_latencies(lambda: flood_over))
            version, revoked_at = 0, 0.0
            acked: list[float] = []
            revoke: asyncio.Task[None] | None = None
            while (elapsed := time.monotonic() - start) < flood_s:
                if revoke is None and elapsed >= flood_s / 2:
                    body = {"device": "gw-intake", "permit_id": "P1", "reason": "bench"}
                    revoke = await send("permit_revoke", body, 2)
                    revoke.add_done_callback(lambda _t: acked.append(time.monotonic()))
                if sent % 10 == 0:
                    version += 1
                await send("badge_unlock", {"device": "gw-intake", "worker_id": "W9"}, version or 1)
                await asyncio.sleep(0)
            await asyncio.gather(*pending)
            total = sent
            while handled() < total:
                p1 = registry.permit("P1")
                if not revoked_at and p1 is not None and p1.status is PermitStatus.REVOKED:
                    revoked_at = time.monotonic()
                await asyncio.sleep(0.01)
            drained = time.monotonic() - start
            flood_over = True
            busy = await during
            if not revoked_at:
                revoked_at = time.monotonic()
            revoke_acked = acked[0] if acked else revoked_at
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        journal.close()
        registry.close()
    return {
        "intake_sent": float(total - 1),
        "intake_cmds_per_s": round((total - 1) / drained, 1),
        "intake_revoke_s": round(max(0.0, revoked_at - revoke_acked), 3),
        "intake_badge_p50_ms": round(percentile(busy, 50), 2),
        "intake_badge_p99_ms": round(percentile(busy, 99), 2),
        "intake_badge_idle_p50_ms": round(percentile(idle, 50), 2),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def bench(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="zg-sync-bench-", dir=args.state_dir) as tmp:
        root = Path(tmp)
        outage: dict[str, object] = {}
        if not (args.no_outage or args.only_intake):
            times = await outage_recovery(root, args.outage_s, args.outage_runs)
            outage = {
                "outage_s": args.outage_s,
                "outage_runs": args.outage_runs,
                "outage_first_event_p50_s": round(percentile(times["default"], 50), 3),
                "outage_first_event_max_s": round(max(times["default"]), 3),
                "outage_cap60_p50_s": round(percentile(times["cap60"], 50), 3),
            }
        if args.only_outage:
            return {**outage, "cores": os.cpu_count()}
        if args.only_intake:  # (the outage figure is skipped with --only-intake)
            with mosquitto(root) as port:
                return {**await intake_flood(root, port, args.flood_s), "cores": os.cpu_count()}
        enqueue, fixed, bare = append_rates(root, args.appends)
        log(
            f"enqueue {enqueue:.0f}/s (fixed clock {fixed:.0f}/s), bare sqlite {bare:.0f}/s "
            f"({enqueue / bare:.2f}x)"
        )
        with mosquitto(root) as port:
            drain = await drain_rate(root, port, args.events)
            log(f"drain {drain:.0f}/s over {args.events} events")
            raw = await aiomqtt_raw_rate(port, args.raw)
            log(f"aiomqtt await-each {raw:.0f}/s")
            paho_rate = await asyncio.to_thread(paho_raw_rate, port, args.raw)
            log(f"paho window 20 {paho_rate:.0f}/s")
            alerts: list[float] = []
            sync_part: list[float] = []
            if not args.no_alert:
                alerts, sync_part = await alert_latency(root, port, args.alerts)
                log(f"alert p50 {percentile(alerts, 50):.2f} ms p99 {percentile(alerts, 99):.2f}")
                log(
                    f"  of which commit -> subscriber p50 {percentile(sync_part, 50):.2f} ms "
                    f"p99 {percentile(sync_part, 99):.2f}"
                )
    result: dict[str, object] = {
        "enqueue_per_s": round(enqueue, 1),
        "sqlite_bare_per_s": round(bare, 1),
        "enqueue_vs_bare": round(enqueue / bare, 3),
        # The same appends with a clock that does not ask the kernel for NTP state: shows
        # what SystemClock.trust() costs per append (see the report).
        "enqueue_fixed_clock_per_s": round(fixed, 1),
        "drain_per_s": round(drain, 1),
        "aiomqtt_raw_per_s": round(raw, 1),
        "paho_raw_per_s": round(paho_rate, 1),
        "drain_vs_aiomqtt": round(drain / raw, 3),
        "drain_vs_paho": round(drain / paho_rate, 3),
        "events": args.events,
        "cores": os.cpu_count(),
    }
    result.update(outage)
    if alerts:
        result.update(
            {
                "alert_p50_ms": round(percentile(alerts, 50), 3),
                "alert_p99_ms": round(percentile(alerts, 99), 3),
                "alert_n": len(alerts),
                "alert_commit_to_subscriber_p50_ms": round(percentile(sync_part, 50), 3),
                "alert_commit_to_subscriber_p99_ms": round(percentile(sync_part, 99), 3),
            }
        )
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--json", action="store_true", help="print the JSON result line last")
    ap.add_argument("--events", type=int, default=100_000, help="backlog to drain")
    ap.add_argument("--appends", type=int, default=2_000, help="fsync'd appends to time")
    ap.add_argument("--raw", type=int, default=20_000, help="publishes for the raw baselines")
    ap.add_argument("--alerts", type=int, default=200, help="gas alarms to time")
    ap.add_argument("--no-alert", action="store_true", help="skip the gas alarm latency")
    ap.add_argument("--state-dir", default=None, help="where the journals go (default: temp)")
    ap.add_argument("--outage-s", type=float, default=60.0, help="broker outage to recover from")
    ap.add_argument("--outage-runs", type=int, default=3, help="outages timed (p50 reported)")
    ap.add_argument("--no-outage", action="store_true", help="skip the outage recovery figure")
    ap.add_argument("--flood-s", type=float, default=10.0, help="command flood length")
    ap.add_argument("--only-intake", action="store_true", help="only the command flood figures")
    ap.add_argument("--only-outage", action="store_true", help="only the outage recovery figure")
    args = ap.parse_args()
    result = asyncio.run(bench(args))
    if not args.json:
        for k, v in result.items():
            print(f"{k}: {v}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
