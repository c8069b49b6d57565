"""The append-only event journal: audit trail and MQTT outbox in one SQLite (WAL) file.

Durability: WAL with ``synchronous=FULL``, so ``append`` returns only once the event is on disk
(peer-lessons L2). Rows are never updated except to stamp ``delivered_at`` after a PUBACK, and
deleted only by retention of rows already delivered (never undelivered ones).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.clock import Clock
from edge.errors import StoreError
from edge.models import KIND_OF, LANE_OF, Event, EventKind, EventType, Lane

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Row ids only grow (the outbox pages by id): without AUTOINCREMENT SQLite takes max(id) + 1,
-- and prune_delivered never deletes the newest row, so an id is never handed out twice.
-- That spares the sqlite_sequence write AUTOINCREMENT adds to every append.
CREATE TABLE IF NOT EXISTS events (
    id           INTEGER PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    boot_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    type         TEXT NOT NULL,
    lane         TEXT NOT NULL,
    wall_time    TEXT NOT NULL,
    wall_trusted INTEGER NOT NULL,
    mono_ts      REAL NOT NULL,
    payload      TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS events_pending ON events (lane, id) WHERE delivered_at IS NULL;
-- Telemetry is the bulk of the rows and is never looked up by kind: leaving it out of this
-- index saves a page write on every telemetry append. Queries repeat the WHERE term verbatim,
-- which is how SQLite knows it may use a partial index.
DROP INDEX IF EXISTS events_kind;
CREATE INDEX IF NOT EXISTS events_kind_audit ON events (kind, id) WHERE kind != 'telemetry';
CREATE TABLE IF NOT EXISTS boots (
    boot_id    TEXT PRIMARY KEY,
    started_at TEXT NOT NULL
);
"""


def _checked_type(kind: EventKind, type_: EventType | str) -> EventType:
    """The event type, refused when unknown or of another kind: every type on the wire is
    documented in docs/mqtt/events.md, so a new one must be added to ``EventType`` first."""
    try:
        typed = EventType(type_)
    except ValueError:
        raise ValueError(f"unknown event type {type_!r}: add it to edge.models.EventType") from None
    if KIND_OF[typed] is not kind:
        raise ValueError(
            f"event type {typed.value!r} is of kind {KIND_OF[typed].value}, not {kind}"
        )
    return typed


class JournalError(StoreError):
    """The journal cannot be opened or written; the caller must fail safe."""


class JournalCorrupt(JournalError):
    """SQLite reports the journal file damaged (integrity check or open failed, a damaged
    header, not a journal at all)."""


class JournalFull(JournalError):
    """An append failed because the disk is full: nothing of it was written."""


def count_events(path: Path) -> int | None:
    """How many events the journal at ``path`` holds, without creating or changing it.

    None when there is no journal (missing or 0-byte file). Raises ``JournalCorrupt`` when the
    file exists but cannot be read as a journal.
    """
    try:
        if path.stat().st_size == 0:
            return None
    except FileNotFoundError:
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.DatabaseError as err:
        raise JournalCorrupt(f"{path}: cannot read journal: {err}") from err
    try:
        row = db.execute("SELECT COUNT(*) FROM events").fetchone()
    except sqlite3.DatabaseError as err:
        raise JournalCorrupt(f"{path}: cannot read journal: {err}") from err
    finally:
        db.close()
    return int(row[0])


def _disk_full(err: sqlite3.DatabaseError) -> bool:
    # SQLITE_FULL; sqlite3 exposes the code on 3.11 as ``sqlite_errorcode``.
    return getattr(err, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(err)


class Journal:
    """One per process. Thread-safe: writes are serialised by a lock (SQLite allows one writer)."""

    def __init__(
        self, path: Path, clock: Clock, *, boot_id: str | None = None, readonly: bool = False
    ) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self.boot_id = boot_id or uuid.uuid4().hex
        if readonly:
            # A reader (``zonegate status``) must not write into a running daemon's journal.
            try:
                self._db = sqlite3.connect(
                    f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
                )
                self._db.execute("PRAGMA busy_timeout=5000")
                self._db.execute("SELECT 1 FROM events LIMIT 1")
            except sqlite3.DatabaseError as err:
                raise JournalCorrupt(f"{path}: cannot read journal: {err}") from err
            self._seq = 0
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,)
            )
            self._seq = self._last_seq(self.boot_id)
            with self._tx() as db:
                db.execute(
                    "INSERT OR IGNORE INTO boots(boot_id, started_at) VALUES (?, ?)",
                    (self.boot_id, datetime.now(UTC).isoformat()),
                )
        except sqlite3.DatabaseError as err:
            with contextlib.suppress(Exception):
                self._db.close()
            if _disk_full(err):
                raise JournalFull(f"{path}: cannot open journal: the disk is full") from err
            raise JournalCorrupt(f"{path}: cannot open journal: {err}") from err

    # ---- writing

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.DatabaseError):
                        self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """Translate SQLite's errors of a write into the journal's own (full disk or other)."""
        try:
            yield
        except sqlite3.DatabaseError as err:
            if _disk_full(err):
                raise JournalFull(f"{self.path}: {what} failed: the disk is full") from err
            raise JournalError(f"{self.path}: {what} failed: {err}") from err

    def _last_seq(self, boot_id: str) -> int:
        row = self._db.execute(
            "SELECT MAX(seq) FROM events WHERE boot_id = ?", (boot_id,)
        ).fetchone()
        return int(row[0] or 0)

    @property
    def last_seq(self) -> int:
        """The seq of this boot's newest event (0 before the first): gap detection's anchor."""
        return self._seq

    def append(self, kind: EventKind, type_: EventType, payload: dict[str, Any]) -> Event:
        """Commit one event durably and return it. Returns only after fsync.

        Raises ``ValueError`` (before anything is written) when ``type_`` is not an
        ``EventType`` or belongs to another kind, and ``JournalError`` when SQLite fails.
        """
        return self.append_many([(kind, type_, payload)])[0]

    def append_many(
        self, items: Sequence[tuple[EventKind, EventType, dict[str, Any]]]
    ) -> list[Event]:
        """Commit several events in one transaction (one fsync): all or none.

        Raises as ``append`` does; a bad type anywhere in ``items`` writes none of them.
        """
        typed = [(kind, _checked_type(kind, type_), payload) for kind, type_, payload in items]
        trust = self._clock.trust()
        wall = self._clock.wall()
        mono = self._clock.mono()
        wall_iso = wall.isoformat()
        out: list[Event] = []
        try:
            with self._tx() as db:
                seq = self._seq
                for kind, type_, payload in typed:
                    seq += 1
                    event_id = str(uuid.uuid4())
                    cur = db.execute(
                        "INSERT INTO events(event_id, boot_id, seq, kind, type, lane, wall_time,"
                        " wall_trusted, mono_ts, payload) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (
                            event_id,
                            self.boot_id,
                            seq,
                            kind.value,
                            type_.value,
                            LANE_OF[kind].value,
                            wall_iso,
                            int(trust.trusted),
                            mono,
                            json.dumps(payload, ensure_ascii=False, default=str),
                        ),
                    )
                    # Built once, after the insert, so it carries its row id without a copy.
                    out.append(
                        Event(
                            event_id=event_id,
                            boot_id=self.boot_id,
                            seq=seq,
                            kind=kind,
                            type=type_,
                            wall_time=wall,
                            wall_trusted=trust.trusted,
                            mono_ts=mono,
                            payload=payload,
                            journal_id=int(cur.lastrowid or 0),
                        )
                    )
                self._seq = seq
        except (sqlite3.DatabaseError, ValueError) as err:
            # ValueError: e.g. text that cannot be encoded; nothing of the batch was written.
            if isinstance(err, sqlite3.DatabaseError) and _disk_full(err):
                raise JournalFull(f"{self.path}: append failed: the disk is full") from err
            raise JournalError(f"{self.path}: append failed: {err}") from err
        return out

    def mark_delivered(self, journal_ids: Iterable[int]) -> int:
        """Stamp rows as delivered (after PUBACK). Returns how many changed."""
        ids = list(journal_ids)
        if not ids:
            return 0
        now = datetime.now(UTC).isoformat()
        with self._writing("mark delivered"), self._tx() as db:
            n = 0
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ",".join("?" * len(chunk))
                cur = db.execute(
                    f"UPDATE events SET delivered_at = ? WHERE id IN ({marks})"  # noqa: S608
                    " AND delivered_at IS NULL",
                    (now, *chunk),
                )
                n += cur.rowcount
        return n

    def requeue(self, boot_id: str, first_seq: int, last_seq: int) -> tuple[int, int, int]:
        """Mark the events ``first_seq..last_seq`` of ``boot_id`` undelivered again, so the
        outbox sends them once more (central asked for a replay: ``journal_replay``).

        Returns ``(count, lowest seq, highest seq)`` of the rows still in the journal (retention
        may have pruned older delivered rows; ``(0, 0, 0)`` when none is left).
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT COUNT(*), MIN(seq), MAX(seq) FROM events"
                " WHERE boot_id = ? AND seq BETWEEN ? AND ?",
                (boot_id, first_seq, last_seq),
            ).fetchone()
            db.execute(
                "UPDATE events SET delivered_at = NULL"
                " WHERE boot_id = ? AND seq BETWEEN ? AND ? AND delivered_at IS NOT NULL",
                (boot_id, first_seq, last_seq),
            )
        return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)

    def prune_delivered(self, older_than: datetime) -> int:
        """Retention: delete delivered rows older than ``older_than``. Undelivered rows stay.

        The newest row always stays, so that the next id continues above it (see _SCHEMA).
        """
        with self._writing("prune"), self._tx() as db:
            cur = db.execute(
                "DELETE FROM events WHERE delivered_at IS NOT NULL AND wall_time < ?"
                " AND id < (SELECT MAX(id) FROM events)",
                (older_than.isoformat(),),
            )
            return cur.rowcount

    def checkpoint(self) -> None:
        """Fold the WAL back into the database file so it does not grow on the SD card."""
        with self._writing("checkpoint"), self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # ---- reading

    def pending(self, lane: Lane | None = None, limit: int = 100, after_id: int = 0) -> list[Event]:
        """Undelivered events, oldest first, optionally of one lane."""
        sql = "SELECT * FROM events WHERE delivered_at IS NULL AND id > ?"
        args: list[Any] = [after_id]
        if lane is not None:
            sql += " AND lane = ?"
            args.append(lane.value)
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        return [self._row(r) for r in self._query(sql, args)]

    def pending_count(self) -> dict[Lane, int]:
        """Undelivered events per lane."""
        rows = self._query(
            "SELECT lane, COUNT(*) FROM events WHERE delivered_at IS NULL GROUP BY lane", []
        )
        counts = dict.fromkeys(Lane, 0)
        for lane, n in rows:
            counts[Lane(lane)] = int(n)
        return counts

    def events(
        self, kind: EventKind | None = None, type_: str | None = None, limit: int | None = None
    ) -> list[Event]:
        """Journal events oldest first, optionally of one ``kind`` and ``type_``; with
        ``limit``, only the newest ``limit`` of them (still oldest first)."""
        sql = "SELECT * FROM events WHERE 1=1"
        args: list[Any] = []
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind.value)
            if kind is not EventKind.TELEMETRY:
                sql += " AND kind != 'telemetry'"  # verbatim, to use events_kind_audit
        if type_ is not None:
            sql += " AND type = ?"
            args.append(type_)
        sql += " ORDER BY id"
        if limit is not None:
            sql = f"SELECT * FROM ({sql} DESC LIMIT ?) ORDER BY id"  # noqa: S608
            args.append(limit)
        return [self._row(r) for r in self._query(sql, args)]

    def event_ids(self) -> set[str]:
        """Every event id in the journal (tests and integrity checks)."""
        return {str(r[0]) for r in self._query("SELECT event_id FROM events", [])}

    def integrity_check(self) -> list[str]:
        """SQLite's own check; an empty list means healthy."""
        try:
            rows = self._query("PRAGMA integrity_check", [])
        except sqlite3.DatabaseError as err:
            return [f"{self.path}: {err}"]
        return [str(r[0]) for r in rows if r[0] != "ok"]

    def _query(self, sql: str, args: Sequence[Any]) -> list[Any]:
        with self._lock:
            self._db.row_factory = None
            return self._db.execute(sql, args).fetchall()

    @staticmethod
    def _row(r: Sequence[Any]) -> Event:
        (id_, event_id, boot_id, seq, kind, type_, _lane, wall, trusted, mono, payload, _d) = r
        return Event(
            event_id=event_id,
            boot_id=boot_id,
            seq=seq,
            kind=EventKind(kind),
            type=type_,
            wall_time=datetime.fromisoformat(wall),
            wall_trusted=bool(trusted),
            mono_ts=mono,
            payload=json.loads(payload),
            journal_id=id_,
        )

    def close(self) -> None:
        """Close the database; the journal must not be used afterwards."""
        with self._lock:
            self._db.close()
