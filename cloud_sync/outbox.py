"""Journal -> QoS 1 publish -> mark delivered on PUBACK.

aiomqtt 2.5's ``await client.publish(..., qos=1)`` returns only when paho's ``on_publish`` fires,
which for QoS 1 is the broker's PUBACK (aiomqtt/client.py ``publish`` waits on an event set by
``_on_publish``; paho sets ``is_published`` on PUBACK). So a row is marked delivered only after
its PUBACK. To be fast, many publishes are kept in flight at once (one task each, bounded by a
semaphore and by paho's ``max_inflight_messages``) and delivered rows are stamped in batches.

Order: CRITICAL (alarms, permit transitions) before ACCESS before BULK (telemetry); within a lane,
journal order, because one MQTT connection carries them in order and the broker acknowledges in
order. A failed publish ends the session; the next one re-reads every undelivered row, so the
broker may see duplicates (the server dedupes by ``event_id``) but never a gap.

Size is bounded by design (issue 12 item 1): a message over ``max_message_bytes`` or the
broker's announced maximum packet goes as a summary event whose full payload is sent ahead in
parts on ``detail/{event_id}/{part}`` (``payloads.DetailPart``, joined by
``payloads.join_detail``). A publish the broker refuses (an MQTT 5 PUBACK failure code, e.g.
mosquitto's ``message_size_limit``) is never stamped delivered: a size refusal lowers the
limit and the event goes again in parts; any other refusal leaves the row undelivered for the
next connection and is reported (log, counts, a ``publish_refused`` journal event). Either way
the lane goes on: one event never blocks the ones behind it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import math
from collections import Counter, deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cloud_sync.link import BrokerClient, PacketTooLarge, PublishRefused, publish_packet_size
from cloud_sync.topics import DeviceTopics
from edge.journal import Journal
from edge.models import Event, EventKind, EventType, Lane

log = logging.getLogger("zonegate.mqtt.outbox")

LANE_ORDER = (Lane.CRITICAL, Lane.ACCESS, Lane.BULK)
IDLE_POLL_S = 1.0  # also picks up rows appended by another process (e.g. the CLI)
MIN_MESSAGE_BYTES = 1_024  # below this a broker limit is a misconfiguration, not a size to fit
PART_OVERHEAD = 400  # the JSON around a part's data, topic and packet header
SUMMARY_STRING = 120  # characters of a long string kept in a summary

StateSource = Callable[[str], dict[str, Any] | None]


class Outbox:
    """Drains one journal over whatever connection the link hands it."""

    def __init__(
        self,
        journal: Journal,
        topics: DeviceTopics,
        *,
        window: int = 32,
        batch: int = 500,
        publish_timeout_s: float = 30.0,
        downsample_above: int = 5_000,
        downsample_window_s: float = 60.0,
        max_bulk_backlog: int = 200_000,
        max_message_bytes: int = 64 * 1024,
        permit_state: StateSource | None = None,
        presence: Callable[[], Any] | None = None,
    ) -> None:
        self.journal = journal
        self.topics = topics
        self.window = window
        self.batch = batch
        self.publish_timeout_s = publish_timeout_s
        self.downsample_above = downsample_above
        self.downsample_window_s = downsample_window_s
        self.max_bulk_backlog = max_bulk_backlog
        self.max_message_bytes = max_message_bytes
        # Lowered when a broker refuses a size (message_size_limit is not announced).
        self.learned_limit: int | None = None
        self._reported: set[str] = set()
        self.permit_state = permit_state
        self.presence = presence
        self.counts: Counter[str] = Counter()
        self._wake = asyncio.Event()
        self._rewind = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- waking

    def notify(self, _event: Event | None = None) -> None:
        """A journal commit happened (ZoneController.event_listeners); safe from any thread."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is None or running is self._loop:
            self._wake.set()
        else:
            self._loop.call_soon_threadsafe(self._wake.set)

    def rewind(self) -> None:
        """Rows before the read position became undelivered again (a replay): read every
        lane from its start at the next pass. Call from the event loop's thread."""
        self._rewind = True
        self._wake.set()

    def health(self) -> dict[str, Any]:
        """Counters (published, delivered, refused, downsampled, dropped) and the message
        limit learned from the broker."""
        return {"counts": dict(self.counts), "message_limit": self.learned_limit}

    # ---- bounded backlog (runs connected or not)

    def enforce_bounds(self) -> int:
        """Drop the oldest telemetry beyond ``max_bulk_backlog`` (counted and journaled).

        Alarms, permit and access events are never dropped, whatever the backlog.
        """
        excess = self.journal.pending_count()[Lane.BULK] - self.max_bulk_backlog
        if excess <= 0:
            return 0
        dropped = 0
        while dropped < excess:
            rows = self.journal.pending(Lane.BULK, limit=min(5_000, excess - dropped))
            if not rows:
                break
            dropped += self.journal.mark_delivered(r.journal_id for r in rows)
        self.counts["telemetry_dropped"] += dropped
        ev = self.journal.append(
            EventKind.SYSTEM,
            EventType.TELEMETRY_DROPPED,
            {"dropped": dropped, "max_backlog": self.max_bulk_backlog, "policy": "oldest first"},
        )
        self.notify(ev)
        log.warning("outbox: dropped %d oldest telemetry rows over the bound", dropped)
        return dropped

    async def housekeeping(self, every_s: float = 30.0) -> None:
        """Enforce the backlog bound periodically, forever."""
        self._loop = asyncio.get_running_loop()
        while True:
            try:
                await asyncio.to_thread(self.enforce_bounds)
            except Exception:
                log.exception("outbox housekeeping failed")
            await asyncio.sleep(every_s)

    # ---- draining

    async def drain(self, client: BrokerClient) -> None:
        """Publish undelivered rows forever over ``client``; raises when the link fails."""
        self._loop = asyncio.get_running_loop()
        session_start = datetime.now().astimezone()
        cursors = dict.fromkeys(Lane, 0)
        buffers: dict[Lane, deque[tuple[Event, str]]] = {lane: deque() for lane in Lane}
        exhausted = dict.fromkeys(Lane, False)
        slots = asyncio.Semaphore(self.window)
        acked: list[int] = []
        ack_ready = asyncio.Event()
        loop = asyncio.get_running_loop()
        in_flight = 0
        progress_at = loop.time()

        async def take() -> tuple[Lane, Event, str] | None:
            if self._wake.is_set():
                self._wake.clear()
                exhausted.update(dict.fromkeys(Lane, False))
            if self._rewind:
                # Rows already buffered or in flight may be read again: at least once.
                self._rewind = False
                cursors.update(dict.fromkeys(Lane, 0))
            for lane in LANE_ORDER:
                if not buffers[lane] and not exhausted[lane]:
                    rows, backlog = await asyncio.to_thread(self._read, lane, cursors[lane])
                    if rows:
                        cursors[lane] = rows[-1].journal_id
                        buffers[lane].extend(self._prepare(lane, rows, backlog, acked, ack_ready))
                    else:
                        exhausted[lane] = True
                if buffers[lane]:
                    ev, sample = buffers[lane].popleft()
                    return lane, ev, sample
            return None

        async def publish(lane: Lane, ev: Event, sample: str) -> None:
            nonlocal in_flight, progress_at
            in_flight += 1
            try:
                topic, msg = self._message(lane, ev, sample, session_start)
                if not await self._send_event(client, topic, msg, ev):
                    return  # refused and reported; stays undelivered, the lane goes on
                if ev.kind is EventKind.PERMIT and self.permit_state is not None:
                    await self._publish_permit_state(client, ev)
                elif (
                    ev.kind is EventKind.ACCESS
                    and self.presence is not None
                    and ev.wall_time >= session_start  # live news only, not a replay
                ):
                    await self._publish_presence(client, ev)
            finally:
                in_flight -= 1
                slots.release()
                progress_at = loop.time()
            acked.append(ev.journal_id)
            ack_ready.set()
            self.counts["published"] += 1

        async def watchdog() -> None:
            while True:
                await asyncio.sleep(1.0)
                if in_flight and loop.time() - progress_at > self.publish_timeout_s:
                    raise TimeoutError(f"no PUBACK for {self.publish_timeout_s:.0f}s")

        async def mark() -> None:
            while True:
                await ack_ready.wait()
                ack_ready.clear()
                await self._flush(acked)

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(mark(), name="outbox-mark")
                tg.create_task(watchdog(), name="outbox-watchdog")
                while True:
                    item = await take()
                    if item is None:
                        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the
                        # shutdown's cancellation when a wake-up lands in the same iteration.
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(IDLE_POLL_S):
                                await self._wake.wait()
                        self._wake.set()  # re-read the journal either way
                        continue
                    await slots.acquire()
                    tg.create_task(publish(*item))
        finally:
            # Rows whose PUBACK arrived are stamped even though the session is ending.
            if acked:
                with contextlib.suppress(Exception):
                    self.journal.mark_delivered(list(acked))
                    self.counts["delivered"] += len(acked)
                acked.clear()

    async def _flush(self, acked: list[int]) -> None:
        ids = list(acked)
        acked.clear()
        if ids:
            await asyncio.to_thread(self.journal.mark_delivered, ids)
            self.counts["delivered"] += len(ids)

    def _message(
        self, lane: Lane, ev: Event, sample: str, since: datetime
    ) -> tuple[str, dict[str, Any]]:
        # Built by hand rather than through the pydantic model: this is the hot path of the
        # drain; tests check every message against cloud_sync.payloads.EventMessage.
        msg = {
            "v": 1,
            "event_id": ev.event_id,
            "boot_id": ev.boot_id,
            "seq": ev.seq,
            "kind": ev.kind.value,
            "type": ev.type,
            "lane": lane.value,
            "wall_time": ev.wall_time.isoformat(),
            "wall_trusted": ev.wall_trusted,
            "payload": ev.payload,
            "historical": ev.wall_time < since,
            "sample": sample,
        }
        if ev.kind is EventKind.TELEMETRY:
            topic = self.topics.telemetry(str(ev.payload.get("sensor_id") or ev.type))
        else:
            topic = self.topics.event(ev.kind.value)
        return topic, msg

    def _limit(self, client: BrokerClient, topic: str) -> int:
        """Largest payload (bytes) to send on ``topic`` over this connection."""
        limit = self.max_message_bytes
        if self.learned_limit is not None:
            limit = min(limit, self.learned_limit)
        if client.max_packet_size is not None:
            limit = min(limit, client.max_packet_size - publish_packet_size(topic, 0))
        return max(limit, MIN_MESSAGE_BYTES)

    async def _send_event(
        self, client: BrokerClient, topic: str, msg: dict[str, Any], ev: Event
    ) -> bool:
        """Publish one event whole or as summary + parts; False if the broker refused it."""
        body = _encode(msg)
        while True:
            limit = self._limit(client, topic)
            try:
                if len(body) <= limit:
                    await client.deliver(topic, body)
                else:
                    await self._send_split(client, topic, msg, limit)
            except (PublishRefused, PacketTooLarge) as err:
                refused = err if isinstance(err, PublishRefused) else None
                size = refused.size if refused is not None else limit
                if (refused is None or refused.too_large) and size > MIN_MESSAGE_BYTES:
                    # The broker's limit is below ours: remember half of what it refused
                    # and send this event again, split.
                    self.learned_limit = max(MIN_MESSAGE_BYTES, min(limit, size) // 2)
                    self._report(ev, err, f"split under {self.learned_limit} bytes")
                    continue
                self._report(ev, err, "left undelivered; retried on the next connection")
                return False
            else:
                return True

    async def _send_split(
        self, client: BrokerClient, topic: str, msg: dict[str, Any], limit: int
    ) -> None:
        """The full payload in parts on the detail topic, then the event with a summary."""
        raw = json.dumps(msg["payload"], ensure_ascii=False, default=str).encode("utf-8")
        digest = hashlib.sha256(raw).hexdigest()
        chunk = max(256, (limit - PART_OVERHEAD) * 3 // 4)  # base64 grows 4/3
        pieces = [raw[i : i + chunk] for i in range(0, len(raw), chunk)] or [b""]
        for index, piece in enumerate(pieces):
            part = {
                "v": 1,
                "event_id": msg["event_id"],
                "part": index,
                "parts": len(pieces),
                "sha256": digest,
                "data": base64.b64encode(piece).decode("ascii"),
            }
            await client.deliver(self.topics.detail(msg["event_id"], index), _encode(part))
        summary = dict(msg)
        summary["payload"] = summarise(msg["payload"], limit // 2)
        summary["detail"] = {"parts": len(pieces), "bytes": len(raw), "sha256": digest}
        await client.deliver(topic, _encode(summary))
        self.counts["split"] += 1

    def _report(self, ev: Event, err: Exception, action: str) -> None:
        self.counts["refused"] += 1
        log.warning("outbox: event %s (%s) refused: %s; %s", ev.event_id, ev.type, err, action)
        if ev.event_id in self._reported or ev.type == "publish_refused":
            return
        self._reported.add(ev.event_id)
        code = err.code if isinstance(err, PublishRefused) else None
        with contextlib.suppress(Exception):
            report = self.journal.append(
                EventKind.SYSTEM,
                EventType.PUBLISH_REFUSED,
                {
                    "event_id": ev.event_id,
                    "type": ev.type,
                    "reason_code": code,
                    "error": str(err)[:300],
                    "action": action,
                },
            )
            self.notify(report)

    async def _publish_permit_state(self, client: BrokerClient, ev: Event) -> None:
        permit_id = ev.payload.get("permit_id")
        if not isinstance(permit_id, str) or self.permit_state is None:
            return
        permit = self.permit_state(permit_id)
        if permit is None:
            return
        body = {"v": 1, "at": ev.wall_time.isoformat(), "permit": permit}
        await client.deliver(self.topics.permit_state(permit_id), _encode(body), retain=True)

    def _read(self, lane: Lane, after_id: int) -> tuple[list[Event], int]:
        rows = self.journal.pending(lane, self.batch, after_id)
        backlog = 0
        if rows and lane is Lane.BULK and self.downsample_above > 0:
            backlog = self.journal.pending_count()[Lane.BULK]
        return rows, backlog

    async def _publish_presence(self, client: BrokerClient, ev: Event) -> None:
        assert self.presence is not None
        body = {"v": 1, "at": ev.wall_time.isoformat(), "inside": self.presence()}
        await client.deliver(self.topics.presence, _encode(body), retain=True)

    def _prepare(
        self,
        lane: Lane,
        rows: list[Event],
        backlog: int,
        acked: list[int],
        ack_ready: asyncio.Event,
    ) -> list[tuple[Event, str]]:
        if lane is not Lane.BULK or self.downsample_above <= 0 or backlog <= self.downsample_above:
            return [(r, "all") for r in rows]
        kept = downsample(rows, self.downsample_window_s)
        keep_ids = {r.journal_id for r, _ in kept}
        skipped = [r.journal_id for r in rows if r.journal_id not in keep_ids]
        if skipped:
            # Skipped readings stay in the local journal (audit); they are settled, not sent.
            acked.extend(skipped)
            ack_ready.set()
            self.counts["telemetry_downsampled"] += len(skipped)
        return kept


def downsample(rows: list[Event], window_s: float) -> list[tuple[Event, str]]:
    """Keep min, max and last value per (sensor, gas, window); rows without a value are kept.

    Returns the kept rows in journal order, each labelled with the statistic it stands for.
    """
    groups: dict[tuple[str, str, int], list[Event]] = {}
    kept: dict[int, str] = {}
    for r in rows:
        value = r.payload.get("value")
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            kept[r.journal_id] = "all"  # faults and gaps are news, never thinned out
            continue
        key = (
            str(r.payload.get("sensor_id")),
            str(r.payload.get("gas")),
            int(r.wall_time.timestamp() // window_s),
        )
        groups.setdefault(key, []).append(r)
    for members in groups.values():
        lo = min(members, key=lambda e: float(e.payload["value"]))
        hi = max(members, key=lambda e: float(e.payload["value"]))
        for ev, label in ((members[-1], "last"), (hi, "max"), (lo, "min")):
            kept.setdefault(ev.journal_id, label)
    return [(r, kept[r.journal_id]) for r in rows if r.journal_id in kept]


def _encode(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, ensure_ascii=False, default=str).encode("utf-8")


def summarise(payload: dict[str, Any], budget: int) -> dict[str, Any]:
    """A payload cut to fit ``budget`` bytes: lists become counts, long strings are cut.

    Scalars and short strings are kept as they are (ids, reasons, counts); the rest says what
    it was (``{"items": n}`` for a list, ``{"keys": n}`` for an object) so the summary still
    tells central what happened. Shape: the same keys as ``payload``, plus ``"summary": true``.
    """
    out: dict[str, Any] = {"summary": True}
    for key, value in payload.items():
        if isinstance(value, list):
            out[key] = {"items": len(value)}
        elif isinstance(value, dict):
            out[key] = {"keys": len(value)}
        elif isinstance(value, str) and len(value) > SUMMARY_STRING:
            out[key] = value[:SUMMARY_STRING] + "…"
        else:
            out[key] = value
    if len(_encode(out)) > budget:
        return {"summary": True, "keys": sorted(payload)[:20]}
    return out
