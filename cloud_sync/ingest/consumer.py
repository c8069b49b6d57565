"""One ingest consumer: a member of a shared-subscription group, acknowledging after commit.

Delivery contract (docs/mqtt/central.md): QoS 1 with a persistent session (clean_session false,
a client id stable across restarts). paho-mqtt 2.x can hold back PUBACK (``manual_ack``);
aiomqtt 2.x does not expose that switch, so it is set on aiomqtt's paho client before the
connection opens (so not even the messages the broker queued for our session are acknowledged
early). Each message is acknowledged only after the PostgreSQL transaction that stored it has
committed. A consumer killed at any point leaves its unacknowledged messages in its broker
session; they are delivered again when it reconnects with the same client id (systemd restarts
it), and the store's ``ON CONFLICT (event_id) DO NOTHING`` makes the repeat harmless.

Events and live state changes arrive through shared subscriptions
(``$share/<group>/edge/v1/+/+/event/#``, ``.../state/#``, ``.../status``, ``.../birth``), each
message to one member of the group. A broker does not send retained messages to a shared
subscription, so on every connect a consumer also subscribes to the state topics directly for
``retained_window_s``, takes the retained snapshot, and unsubscribes (otherwise every member
would write every state change). The store's newest-wins upserts (by the device's timestamp)
make the overlap, and two members committing one topic's updates out of order, harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiomqtt
import psycopg

from cloud_sync.ingest.messages import Row, parse
from cloud_sync.ingest.schema import migrate
from cloud_sync.ingest.store import IngestStore
from cloud_sync.link import LinkSettings
from firmware_adapters.backoff import Backoff

log = logging.getLogger("zonegate.ingest")

STATE_FILTERS = (
    "edge/v1/+/+/status",
    "edge/v1/+/+/birth",
    "edge/v1/+/+/state/#",
)


def shared_filters(group: str, telemetry: bool) -> tuple[str, ...]:
    """The shared-subscription filters of ``group``: events, live state, telemetry if stored."""
    filters = [f"$share/{group}/edge/v1/+/+/event/#"]
    filters += [f"$share/{group}/{f}" for f in STATE_FILTERS]
    if telemetry:
        filters.append(f"$share/{group}/edge/v1/+/+/telemetry/#")
    return tuple(filters)


GapHandler = Callable[[str, str, str, int, int], Awaitable[None]]
"""Called with (site, device, boot_id, from_seq, to_seq) for a gap that outlived the grace."""


@dataclass
class IngestSettings:
    """How one consumer runs; ``mqtt.client_id`` must be stable across its restarts."""

    mqtt: LinkSettings
    dsn: str
    group: str = "ingest"
    batch_max: int = 500
    batch_wait_s: float = 0.02
    telemetry: bool = False
    gap_check_s: float = 30.0
    gap_grace_s: float = 60.0
    retained_window_s: float = 3.0
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class Consumer:
    """Runs forever: reconnects to the broker and the database with backoff, never gives up."""

    def __init__(self, settings: IngestSettings, on_gap: GapHandler | None = None) -> None:
        self.settings = settings
        self.on_gap = on_gap
        self.store: IngestStore | None = None
        self.backoff = Backoff(settings.mqtt.backoff_initial_s, settings.mqtt.backoff_max_s)
        self.acked = 0
        self.last_error: str | None = None

    async def run(self) -> None:
        """Consume until cancelled."""
        while True:
            try:
                await self._session()
            except (aiomqtt.MqttError, psycopg.Error, OSError) as err:
                self.last_error = f"{type(err).__name__}: {err}"
                log.warning("ingest %s: %s; retrying", self.settings.mqtt.client_id, err)
            finally:
                if self.store is not None:
                    with contextlib.suppress(psycopg.Error):
                        await self.store.close()
                    self.store = None
            await asyncio.sleep(self.backoff.next_delay())

    async def _session(self) -> None:
        s = self.settings
        self.store = await IngestStore.connect(s.dsn)
        applied = await migrate(self.store.conn)
        if applied:
            log.info("database schema: applied %s", ", ".join(applied))
        client = _client(s.mqtt)
        # Before connecting: the broker may deliver our queued session messages at once.
        client._client.manual_ack_set(True)
        async with client:
            for topic in shared_filters(s.group, s.telemetry) + STATE_FILTERS:
                await client.subscribe(topic, qos=1)
            s.ready.set()
            log.info("%s: subscribed (group %s)", s.mqtt.client_id, s.group)
            tasks = [asyncio.create_task(self._retained_window(client), name="ingest-retained")]
            if self.on_gap is not None:
                tasks.append(asyncio.create_task(self._gaps(), name="ingest-gaps"))
            try:
                await self._consume(client)
            finally:
                for t in tasks:
                    t.cancel()
                for t in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await t

    async def _consume(self, client: aiomqtt.Client) -> None:
        assert self.store is not None
        messages = aiter(client.messages)
        while True:
            first = await anext(messages)
            # Let a batch gather, then take only what is already queued. Never cancel a
            # pending anext(): aiomqtt 2.5's iterator reads the queue in an inner task and
            # drops a message that task already took when the outer wait is cancelled (the
            # message would then sit unacknowledged until the next reconnect).
            if len(client.messages) < self.settings.batch_max:
                await asyncio.sleep(self.settings.batch_wait_s)
            batch = [first]
            while len(batch) < self.settings.batch_max and len(client.messages) > 0:
                batch.append(await anext(messages))
            rows: list[Row] = []
            for m in batch:
                row = parse(str(m.topic), _bytes(m.payload))
                if row is not None:
                    rows.append(row)
            await self.store.write(rows)  # raises: nothing acknowledged, all redelivered
            if log.isEnabledFor(logging.DEBUG):
                for m in batch:
                    log.debug("stored mid=%s %s %s", m.mid, m.topic, _bytes(m.payload)[:80])
            for m in batch:
                if m.qos > 0:
                    client._client.ack(m.mid, m.qos)
            self.acked += len(batch)
            self.backoff.reset()

    async def _retained_window(self, client: aiomqtt.Client) -> None:
        await asyncio.sleep(self.settings.retained_window_s)
        for topic in STATE_FILTERS:
            await client.unsubscribe(topic)

    async def _gaps(self) -> None:
        assert self.on_gap is not None
        while True:
            await asyncio.sleep(self.settings.gap_check_s)
            try:
                found = await find_gaps(self.settings.dsn, self.settings.gap_grace_s)
            except psycopg.Error as err:
                log.warning("gap check failed: %s", err)
                continue
            for gap in found:
                await self.on_gap(*gap)


GAPS_SQL = """
WITH ordered AS (
    SELECT site, device, boot_id, seq, ingested_at,
           lead(seq) OVER w AS next_seq, lead(ingested_at) OVER w AS next_at
    FROM events
    WINDOW w AS (PARTITION BY site, device, boot_id ORDER BY seq)
), holes AS (
    SELECT site, device, boot_id, seq + 1 AS from_seq, next_seq - 1 AS to_seq
    FROM ordered
    WHERE next_seq > seq + 1 AND next_at < clock_timestamp() - make_interval(secs => %s)
    UNION ALL
    SELECT site, device, boot_id, 1, min(seq) - 1
    FROM events GROUP BY site, device, boot_id
    HAVING min(seq) > 1 AND min(ingested_at) < clock_timestamp() - make_interval(secs => %s)
)
INSERT INTO replay_requests (site, device, boot_id, from_seq, to_seq)
SELECT site, device, boot_id, from_seq, to_seq FROM holes
ON CONFLICT DO NOTHING
RETURNING site, device, boot_id, from_seq, to_seq
"""


async def find_gaps(dsn: str, grace_s: float) -> list[tuple[str, str, str, int, int]]:
    """Record and return the (site, device, boot, from, to) seq gaps older than ``grace_s``.

    Lanes are sent by priority, not in seq order, so a hole is only a gap once it outlived the
    grace period; each hole is returned once (``replay_requests`` remembers it).
    """
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute(GAPS_SQL, (grace_s, grace_s))
        rows = await cur.fetchall()
        await conn.commit()
    return [(str(a), str(b), str(c), int(d), int(e)) for a, b, c, d, e in rows]


def _client(settings: LinkSettings) -> aiomqtt.Client:
    return aiomqtt.Client(
        settings.host,
        settings.port,
        identifier=settings.client_id,
        username=settings.username,
        password=settings.password,
        tls_context=settings.tls_context,
        keepalive=settings.keepalive_s,
        clean_session=False,
        # Unacknowledged messages are bounded by the broker's inflight window: nothing to drop.
        max_queued_incoming_messages=0,
    )


def _bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload if payload is not None else "").encode()
