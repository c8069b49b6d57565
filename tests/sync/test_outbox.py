"""The outbox against a real mosquitto: priority, PUBACK-only delivery, outages, bounds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from cloud_sync.central import Fleet, client_for, watch
from cloud_sync.link import Link, LinkSettings
from cloud_sync.outbox import Outbox
from cloud_sync.payloads import OPEN_PAYLOAD, EventMessage, Status
from cloud_sync.topics import DeviceTopics
from edge.journal import Journal
from edge.models import KIND_OF, EventKind, EventType, Lane

SITE = "site1"
TOPICS = DeviceTopics(SITE, "dev-a")
# One real event type per kind: the journal takes documented types only.
A_TYPE = {kind: next(t for t, k in KIND_OF.items() if k is kind) for kind in EventKind}
KIND_CYCLE = [EventKind.ALERT, EventKind.ACCESS, EventKind.TELEMETRY, EventKind.ACCESS,
              EventKind.TELEMETRY, EventKind.PERMIT, EventKind.TELEMETRY, EventKind.ACCESS,
              EventKind.TELEMETRY, EventKind.TELEMETRY]  # fmt: skip


def fill(journal: Journal, n: int, kinds: list[EventKind] = KIND_CYCLE, start: int = 0) -> None:
    for base in range(start, start + n, 1000):
        journal.append_many(
            [
                (
                    kinds[i % len(kinds)],
                    A_TYPE[kinds[i % len(kinds)]],
                    {"i": i, "sensor_id": "s1", "gas": "co", "value": i},
                )
                for i in range(base, min(base + 1000, start + n))
            ]
        )


@asynccontextmanager
async def device(broker: Any, outbox: Outbox) -> AsyncIterator[Link]:
    link = Link(
        broker.settings("dev-a", "site1-dev-a"), TOPICS, outbox.journal.boot_id, outbox.drain
    )
    async with link:
        yield link


class Central:
    """The reference watcher, recording first sightings per lane."""

    def __init__(self) -> None:
        self.fleet = Fleet()
        self.order: dict[str, list[int]] = defaultdict(list)
        self.ids: set[str] = set()
        self.ready = asyncio.Event()
        self.on_event: Callable[[EventMessage], None] = self.record

    def record(self, e: EventMessage) -> None:
        self.ids.add(e.event_id)
        self.order[e.lane.value].append(e.seq)

    def start(self, broker: Any, tasks: list[asyncio.Task[None]]) -> None:
        settings = broker.settings("central", "central-test", clean_session=False)
        tasks.append(asyncio.create_task(watch(settings, self.fleet, on_event=self.on_event,
                                               ready=self.ready)))  # fmt: skip


def lanes_in_order(order: dict[str, list[int]]) -> bool:
    return all(seqs == sorted(seqs) for seqs in order.values())


async def test_drains_by_priority_and_marks_only_after_puback(
    broker: Any, journal: Journal, wait_until: Callable[..., Any], tasks: list[asyncio.Task[None]]
) -> None:
    fill(journal, 2000)
    central = Central()
    received: list[tuple[str, str]] = []
    central.start(broker, tasks)
    await central.ready.wait()
    raw: list[bytes] = []

    async def tap() -> None:
        async with client_for(broker.settings("central", "central-tap"), clean_session=True) as c:
            await c.subscribe(f"{TOPICS.prefix}/#", qos=1)
            tap_ready.set()
            async for m in c.messages:
                raw.append(bytes(m.payload))
                received.append((str(m.topic), ""))

    tap_ready = asyncio.Event()
    tasks.append(asyncio.create_task(tap()))
    await tap_ready.wait()
    outbox = Outbox(journal, TOPICS, window=50, batch=200, downsample_above=0)
    async with device(broker, outbox) as link:
        await link.wait_connected()
        await wait_until(lambda: len(central.ids) == 2000, 30, "all events")
        await wait_until(lambda: sum(journal.pending_count().values()) == 0, 10, "all marked")
    # The payloads here are made up (this checks the outbox, not the payload models).
    events = [
        EventMessage.model_validate_json(r, context=OPEN_PAYLOAD) for r in raw if b'"event_id"' in r
    ]
    lanes = [e.lane for e in events]
    # every critical event before any access event, every access event before any telemetry
    assert lanes == sorted(lanes, key=[Lane.CRITICAL, Lane.ACCESS, Lane.BULK].index)
    assert lanes_in_order(central.order)
    assert {e.event_id for e in events} == journal.event_ids()
    telemetry_topics = {t for t, _ in received if "/telemetry/" in t}
    assert telemetry_topics == {TOPICS.telemetry("s1")}
    statuses = [Status.model_validate_json(r) for r in raw if b'"state"' in r]
    assert statuses[0].state == "online"
    assert statuses[0].boot_id == journal.boot_id


async def test_nothing_is_marked_delivered_without_a_puback(
    journal: Journal, wait_until: Callable[..., Any]
) -> None:
    """A peer speaking MQTT that acknowledges the status message but no event."""
    events_seen: list[str] = []

    async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
        head = (await reader.readexactly(1))[0]
        length, shift = 0, 0
        while True:
            byte = (await reader.readexactly(1))[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return head, await reader.readexactly(length)

    async def stingy_broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # MQTT 5 framing (the link speaks MQTT 5 to read PUBACK reason codes).
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await read_packet(reader)  # CONNECT
            writer.write(bytes([0x20, 0x03, 0x00, 0x00, 0x00]))  # CONNACK accepted, no props
            while True:
                head, body = await read_packet(reader)
                kind = head >> 4
                if kind == 8:  # SUBSCRIBE -> SUBACK granting QoS 1
                    writer.write(bytes([0x90, 0x04]) + body[:2] + b"\x00\x01")
                elif kind == 3:  # PUBLISH
                    n = int.from_bytes(body[:2], "big")
                    topic, mid = body[2 : 2 + n], body[2 + n : 4 + n]
                    if topic.endswith(b"/status"):  # only the status is acknowledged
                        writer.write(bytes([0x40, 0x02]) + mid)
                    else:
                        events_seen.append(topic.decode())

    server = await asyncio.start_server(stingy_broker, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    fill(journal, 50)
    outbox = Outbox(journal, TOPICS, window=8)
    settings = LinkSettings(host="127.0.0.1", port=port, client_id="stingy", keepalive_s=30)
    try:
        async with Link(settings, TOPICS, journal.boot_id, outbox.drain) as link:
            await link.wait_connected()
            await wait_until(lambda: len(events_seen) >= 8, 10, "a window of publishes")
            await asyncio.sleep(0.3)  # let any wrong stamping happen (a negative check)
            assert sum(journal.pending_count().values()) == 50
            assert outbox.counts["published"] == 0
    finally:
        server.close()


async def test_wrong_user_name_is_refused_before_anything_is_stamped(
    broker: Any, journal: Journal, wait_until: Callable[..., Any]
) -> None:
    """mosquitto acknowledges ACL-denied publishes; MQTT 5's PUBACK reason code says so."""
    fill(journal, 20)
    outbox = Outbox(journal, TOPICS)
    wrong = broker.settings("dev-b", "site1-dev-a")  # topics are dev-a's
    async with Link(wrong, TOPICS, journal.boot_id, outbox.drain) as link:
        # Refused by the PUBACK code (LinkRefused) or by mosquitto dropping the connection.
        await wait_until(lambda: link.backoff.attempt >= 3, 10, "repeated refusals")
        assert link.connects == 0
    assert sum(journal.pending_count().values()) == 20
    assert outbox.counts["published"] == 0


async def test_broker_restarted_during_10000_events_loses_nothing(
    broker: Any, journal: Journal, wait_until: Callable[..., Any], tasks: list[asyncio.Task[None]]
) -> None:
    fill(journal, 10_000)
    central = Central()
    central.start(broker, tasks)
    await central.ready.wait()
    outbox = Outbox(journal, TOPICS, downsample_above=0)
    async with device(broker, outbox) as link:
        await wait_until(lambda: len(central.ids) >= 2500, 30, "the stream to start")
        # A clean stop lets mosquitto save central's queued session (persistence); a SIGKILL
        # would lose what the broker had acknowledged but not saved, which no client can fix.
        broker.stop(signal.SIGTERM)
        await link.wait_disconnected()
        assert len(central.ids) < 10_000, "the outage must interrupt the stream"
        broker.start()
        await wait_until(lambda: len(central.ids) == 10_000, 60, "every event_id after restart")
        await wait_until(lambda: sum(journal.pending_count().values()) == 0, 10, "all marked")
        assert link.connects >= 2
    assert central.ids == journal.event_ids()
    assert lanes_in_order(central.order)


async def test_live_alarm_overtakes_a_telemetry_backlog(
    broker: Any, journal: Journal, wait_until: Callable[..., Any], tasks: list[asyncio.Task[None]]
) -> None:
    fill(journal, 20_000, [EventKind.TELEMETRY])
    central = Central()
    central.start(broker, tasks)
    await central.ready.wait()
    outbox = Outbox(journal, TOPICS, downsample_above=0)
    async with device(broker, outbox):
        await wait_until(lambda: len(central.ids) >= 1000, 30, "the backlog to flow")
        alarm = journal.append(EventKind.ALERT, EventType.GAS_ALARM, {"gas": "co", "value": 90})
        outbox.notify(alarm)
        # Measured at the device: the broker acknowledged the alarm while most of the
        # backlog was still waiting (the central consumer may lag behind its own queue).
        await wait_until(lambda: not journal.pending(Lane.CRITICAL), 10, "the alarm's PUBACK")
        behind = journal.pending_count()[Lane.BULK]
        await wait_until(lambda: alarm.event_id in central.ids, 10, "the alarm at central")
        await wait_until(lambda: len(central.ids) == 20_001, 60, "the backlog")
    assert behind > 5_000, f"the alarm waited for the backlog ({behind} left behind it)"


async def test_telemetry_is_downsampled_while_backlogged(
    broker: Any, journal: Journal, clock: Any, wait_until: Callable[..., Any],
    tasks: list[asyncio.Task[None]],
) -> None:  # fmt: skip
    items: list[tuple[EventKind, EventType, dict[str, Any]]] = []
    for i in range(1200):
        v = 100.0 if i == 17 else (-1.0 if i == 33 else float(i % 7))
        items.append(
            (EventKind.TELEMETRY, EventType.READING, {"sensor_id": "s1", "gas": "co", "value": v})
        )
    fault = {"sensor_id": "s1", "gas": "co", "value": None, "fault": True}
    items.append((EventKind.TELEMETRY, EventType.READING, fault))
    items.append((EventKind.ALERT, EventType.GAS_ALARM, {"gas": "co"}))
    journal.append_many(items)  # one wall instant = one window
    central = Central()
    got: list[EventMessage] = []
    central.on_event = got.append
    central.start(broker, tasks)
    await central.ready.wait()
    outbox = Outbox(journal, TOPICS, batch=2000, downsample_above=100, downsample_window_s=60)
    async with device(broker, outbox):
        await wait_until(lambda: sum(journal.pending_count().values()) == 0, 20, "settled")
        await wait_until(lambda: len(got) == 5, 10, "min/max/last + fault + alert")
    samples = {e.sample: e.payload.get("value") for e in got if e.kind is EventKind.TELEMETRY}
    assert samples == {"max": 100.0, "min": -1.0, "last": float(1199 % 7), "all": None}
    assert outbox.counts["telemetry_downsampled"] == 1197
    assert any(e.kind is EventKind.ALERT for e in got)


def test_backlog_bound_drops_oldest_telemetry_never_alarms(journal: Journal) -> None:
    fill(journal, 300, [EventKind.TELEMETRY, EventKind.TELEMETRY, EventKind.ALERT])
    outbox = Outbox(journal, TOPICS, max_bulk_backlog=50)
    assert outbox.enforce_bounds() == 150
    pending = journal.pending_count()
    assert pending[Lane.BULK] == 50
    assert pending[Lane.CRITICAL] == 101  # 100 alerts + the drop notice
    kept = journal.pending(Lane.BULK, limit=100)
    assert kept[0].payload["i"] > 200  # the newest telemetry is what is left
    notice = journal.events(EventKind.SYSTEM, EventType.TELEMETRY_DROPPED)
    assert notice[0].payload["dropped"] == 150
    assert json.dumps(outbox.health())
    assert outbox.enforce_bounds() == 0
