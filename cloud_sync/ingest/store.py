"""Writes batches of rows to PostgreSQL, one transaction per batch.

Events are inserted once, keyed by ``event_id`` (``ON CONFLICT DO NOTHING``): a redelivery after
a consumer died, a gateway's resend after a lost PUBACK and a replay all land as no-ops. Retained
state is upserted "newest wins" by the device's own timestamp, so two consumers applying the same
retained messages in different interleavings end in the same state. The will of an older
connection (it arrives 1.5 keepalives late) never marks a restarted device offline.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg.errors
from psycopg.types.json import Jsonb

from cloud_sync.ingest.messages import (
    BirthRow,
    EventRow,
    PermitRow,
    PresenceRow,
    Rejected,
    Row,
    StatusRow,
)

_EVENT = """
INSERT INTO events (event_id, site, device, boot_id, seq, kind, type, lane, wall_time,
                    wall_trusted, historical, payload)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (event_id) DO NOTHING
"""

_STATUS = """
INSERT INTO devices (site, device, online, boot_id, connection, status_at, last_seen)
VALUES (%s, %s, %s, %s, %s, %s, clock_timestamp())
ON CONFLICT (site, device) DO UPDATE SET
    online = EXCLUDED.online, boot_id = EXCLUDED.boot_id, connection = EXCLUDED.connection,
    status_at = COALESCE(EXCLUDED.status_at, devices.status_at), last_seen = EXCLUDED.last_seen
WHERE NOT (
    -- a late will of an older boot or connection must not mark a live device offline
    (EXCLUDED.online IS FALSE AND devices.online IS TRUE
        AND (EXCLUDED.boot_id IS DISTINCT FROM devices.boot_id
             OR EXCLUDED.connection < devices.connection))
    -- nor a replayed older status overwrite a newer one
    OR (EXCLUDED.status_at IS NOT NULL AND devices.status_at IS NOT NULL
        AND EXCLUDED.status_at < devices.status_at)
)
"""

_BIRTH = """
INSERT INTO devices (site, device, birth, birth_at, last_seen)
VALUES (%s, %s, %s, %s, clock_timestamp())
ON CONFLICT (site, device) DO UPDATE SET birth = EXCLUDED.birth, birth_at = EXCLUDED.birth_at,
    last_seen = EXCLUDED.last_seen
WHERE devices.birth_at IS NULL OR EXCLUDED.birth_at >= devices.birth_at
"""

_PERMIT = """
INSERT INTO permit_state (site, device, permit_id, status, permit, at)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (site, device, permit_id) DO UPDATE SET
    status = EXCLUDED.status, permit = EXCLUDED.permit, at = EXCLUDED.at
WHERE EXCLUDED.at >= permit_state.at
"""

_PERMIT_GONE = "DELETE FROM permit_state WHERE site = %s AND device = %s AND permit_id = %s"

_PRESENCE = """
INSERT INTO presence_state (site, device, inside, at) VALUES (%s, %s, %s, %s)
ON CONFLICT (site, device) DO UPDATE SET inside = EXCLUDED.inside, at = EXCLUDED.at
WHERE EXCLUDED.at >= presence_state.at
"""

_REJECTED = "INSERT INTO rejected_messages (topic, reason, payload) VALUES (%s, %s, %s)"


@dataclass
class StoreCounts:
    """What one store has written since it started (for logs, health and the benchmark)."""

    events: int = 0
    duplicates: int = 0
    state: int = 0
    rejected: int = 0
    batches: int = 0
    retries: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


class IngestStore:
    """One connection; ``write(rows)`` commits them all or none (then it raises)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self.counts = StoreCounts()

    @classmethod
    async def connect(cls, dsn: str) -> IngestStore:
        """Open a connection (autocommit off: every batch is one explicit transaction)."""
        return cls(await psycopg.AsyncConnection.connect(dsn))

    async def close(self) -> None:
        """Close the database connection."""
        await self.conn.close()

    async def write(self, rows: Sequence[Row], attempts: int = 5) -> None:
        """Store a batch; raise ``psycopg.Error`` if any of it could not be committed.

        Two short transactions: the events (no shared rows: each ``event_id`` goes to one
        consumer), then the state rows, which several consumers update (a device's presence
        after every badge). Keeping the contended rows out of the event transaction keeps
        their locks short; they are taken in key order, and a deadlock or serialisation
        failure that still happens is retried. The caller acknowledges only after this
        returns, so a failure in either loses nothing: the broker delivers the batch again.
        """
        state = _newest_state(rows)
        events = [r for r in rows if isinstance(r, EventRow)]
        inserted = await self._retrying(self._write_events, events, attempts)
        await self._retrying(self._write_state, state, attempts)
        self.counts.batches += 1
        self.counts.events += inserted
        self.counts.duplicates += len(events) - inserted

    async def _retrying(self, step: Any, rows: Any, attempts: int) -> int:
        for attempt in range(attempts):
            try:
                return int(await step(rows))
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                if attempt == attempts - 1:
                    raise
                self.counts.retries += 1
        return 0

    async def _write_events(self, events: list[EventRow]) -> int:
        if not events:
            return 0
        async with self.conn.transaction(), self.conn.cursor() as cur:
            await cur.executemany(_EVENT, [_event_params(r) for r in events])
            # executemany's rowcount is the sum over the statements: new events only.
            return max(cur.rowcount, 0)

    async def _write_state(self, state: list[Row]) -> int:
        if not state:
            return 0
        async with self.conn.transaction(), self.conn.cursor() as cur:
            for row in state:
                await self._state(cur, row)
        return len(state)

    async def _state(self, cur: psycopg.AsyncCursor[Any], row: Row) -> None:
        if isinstance(row, StatusRow):
            await cur.execute(
                _STATUS, (row.site, row.device, row.online, row.boot_id, row.connection, row.at)
            )
        elif isinstance(row, BirthRow):
            await cur.execute(_BIRTH, (row.site, row.device, Jsonb(row.birth), row.at))
        elif isinstance(row, PermitRow):
            if row.permit is None:
                await cur.execute(_PERMIT_GONE, (row.site, row.device, row.permit_id))
            else:
                status = str(row.permit.get("status"))
                await cur.execute(
                    _PERMIT,
                    (row.site, row.device, row.permit_id, status, Jsonb(row.permit), row.at),
                )
        elif isinstance(row, PresenceRow):
            if row.at is None:
                await cur.execute(
                    "DELETE FROM presence_state WHERE site = %s AND device = %s",
                    (row.site, row.device),
                )
            else:
                await cur.execute(_PRESENCE, (row.site, row.device, Jsonb(row.inside), row.at))
        elif isinstance(row, Rejected):
            await cur.execute(_REJECTED, (row.topic, row.reason, row.payload))
            self.counts.rejected += 1
            return
        else:
            return
        self.counts.state += 1


def _state_key(row: Row) -> tuple[str, ...]:
    if isinstance(row, PermitRow):
        return ("permit", row.site, row.device, row.permit_id)
    if isinstance(row, PresenceRow):
        return ("presence", row.site, row.device)
    if isinstance(row, StatusRow | BirthRow):
        return ("device", row.site, row.device, type(row).__name__)
    return ("rejected",)


def _newest_state(rows: Sequence[Row]) -> list[Row]:
    """The non-event rows in lock order; of one state row's updates only the last arrived.

    Per topic the broker delivers in order, so the last of a batch is the newest; sorting by
    key makes every consumer lock rows in one order (no lock cycles between two batches).
    """
    last: dict[tuple[str, ...], Row] = {}
    rejected: list[Row] = []
    for row in rows:
        if isinstance(row, Rejected):
            rejected.append(row)
        elif not isinstance(row, EventRow):
            last[_state_key(row)] = row
    return [last[k] for k in sorted(last)] + rejected


def _event_params(row: EventRow) -> tuple[Any, ...]:
    m = row.message
    payload = json.loads(json.dumps(m.payload, default=str))  # datetimes etc. as JSON text
    return (
        m.event_id,
        row.site,
        row.device,
        m.boot_id,
        m.seq,
        m.kind.value,
        m.type,
        m.lane.value,
        m.wall_time,
        m.wall_trusted,
        m.historical,
        Jsonb(payload),
    )
