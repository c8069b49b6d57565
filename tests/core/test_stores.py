"""The two stores on their own: atomic registry file, journal as outbox."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from edge.clock import ManualClock
from edge.journal import Journal, JournalError
from edge.models import KIND_OF, EventKind, EventType, Lane, Worker
from edge.registry import AtomicJSONStorage, Registry, RegistryCorrupt


def test_registry_survives_reopen_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    reg = Registry(path)
    reg.put_worker(Worker(worker_id="w1", name="张三", badge_ids=("B1",)))
    reg.close()
    again = Registry(path)
    assert again.worker_by_badge("B1") == Worker(worker_id="w1", name="张三", badge_ids=("B1",))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.json"]
    assert "张三" in path.read_text(encoding="utf-8")  # readable by a technician


def test_torn_registry_is_reported_with_line_not_read_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    path.write_text('{"workers": {"1": {"worker_id": "w1",\n "name": ')
    with pytest.raises(RegistryCorrupt, match=r"registry.json:2"):
        AtomicJSONStorage(path).read()


def test_invalid_document_fails_integrity_check(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    path.write_text('{"permits": {"1": {"permit_id": "P1"}}}')
    problems = Registry(path).integrity_check()
    assert len(problems) == 1 and problems[0].startswith("permits[1]")


def test_journal_outbox_lanes_delivery_and_retention(tmp_path: Path) -> None:
    clock = ManualClock()
    j = Journal(tmp_path / "j.db", clock)
    a = j.append(EventKind.ACCESS, EventType.ACCESS_DECISION, {"i": 1})
    b = j.append(EventKind.ALERT, EventType.GAS_ALARM, {"i": 2})
    t = j.append(EventKind.TELEMETRY, EventType.READING, {"i": 3})
    assert [e.seq for e in (a, b, t)] == [1, 2, 3]
    assert [e.event_id for e in j.pending(Lane.CRITICAL)] == [b.event_id]
    assert j.pending_count() == {Lane.CRITICAL: 1, Lane.ACCESS: 1, Lane.BULK: 1}
    assert j.mark_delivered([a.journal_id, b.journal_id]) == 2
    assert j.mark_delivered([a.journal_id]) == 0  # a duplicate PUBACK changes nothing
    clock.advance(3600)
    assert j.prune_delivered(clock.wall() - timedelta(minutes=1)) == 2
    assert [e.event_id for e in j.pending()] == [t.event_id]  # undelivered rows stay
    j.close()


def test_row_ids_keep_growing_after_everything_is_pruned(tmp_path: Path) -> None:
    # The outbox pages by row id; an id handed out twice would be skipped behind its cursor.
    clock = ManualClock()
    j = Journal(tmp_path / "j.db", clock)
    rows = j.append_many(
        [(EventKind.ACCESS, EventType.ACCESS_DECISION, {"i": i}) for i in range(5)]
    )
    assert j.mark_delivered(r.journal_id for r in rows) == 5
    clock.advance(3600)
    assert j.prune_delivered(clock.wall()) == 4  # the newest row stays as the high-water mark
    j.close()
    j = Journal(tmp_path / "j.db", clock)
    after = j.append(EventKind.ACCESS, EventType.ACCESS_DECISION, {"i": 5})
    assert after.journal_id > max(r.journal_id for r in rows)
    assert [e.event_id for e in j.pending(after_id=rows[-1].journal_id)] == [after.event_id]
    j.close()


def test_journal_seq_continues_per_boot_and_restarts_for_a_new_boot(tmp_path: Path) -> None:
    clock = ManualClock()
    j1 = Journal(tmp_path / "j.db", clock, boot_id="boot-a")
    j1.append(EventKind.SYSTEM, EventType.DAEMON_STARTED, {})
    j1.close()
    j2 = Journal(tmp_path / "j.db", clock, boot_id="boot-a")
    assert j2.append(EventKind.SYSTEM, EventType.DAEMON_STARTED, {}).seq == 2
    j2.close()
    j3 = Journal(tmp_path / "j.db", clock)
    ev = j3.append(EventKind.SYSTEM, EventType.DAEMON_STARTED, {})
    assert ev.seq == 1 and ev.boot_id != "boot-a"
    assert len(j3.event_ids()) == 3
    j3.close()


def test_journal_batch_is_all_or_nothing(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db", ManualClock())
    # A lone surrogate, as from bytes decoded with surrogateescape, cannot be stored as text.
    with pytest.raises(JournalError, match="append failed"):
        j.append_many(
            [
                (EventKind.SYSTEM, EventType.DAEMON_STARTED, {}),
                (EventKind.SYSTEM, EventType.DAEMON_STOPPED, {"x": "\ud800"}),
            ]
        )
    assert j.events() == []
    j.close()


def test_kind_lookups_use_the_audit_index_and_an_old_journal_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    Journal(path, ManualClock()).close()
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        # A journal written before telemetry was left out of the kind index.
        db.execute("DROP INDEX events_kind_audit")
        db.execute("CREATE INDEX events_kind ON events (kind, id)")
    j = Journal(path, ManualClock())
    alert = j.append(EventKind.ALERT, EventType.GAS_ALARM, {"gas": "co"})
    j.append(EventKind.TELEMETRY, EventType.READING, {"sensor_id": "co1"})
    permit = j.append(EventKind.PERMIT, EventType.PERMIT_ISSUED, {"permit_id": "p1"})
    assert [e.event_id for e in j.events(kind=EventKind.ALERT, limit=5)] == [alert.event_id]
    assert [e.event_id for e in j.events(kind=EventKind.PERMIT)] == [permit.event_id]
    assert [e.type for e in j.events(kind=EventKind.TELEMETRY)] == ["reading"]
    j.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM events WHERE kind = 'alert'"
            " AND kind != 'telemetry' ORDER BY id"
        ).fetchall()
    assert "events_kind" not in indexes
    assert "events_kind_audit" in plan[0][3]


def test_registry_batch_is_one_write_and_rolls_back_on_error(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    reg = Registry(path)
    reg.put_worker(Worker(worker_id="w0", name="a"))
    before = path.stat().st_mtime_ns, path.read_bytes()

    def half_done() -> None:
        with reg.batch():
            reg.put_worker(Worker(worker_id="w1", name="b"))
            assert reg.worker("w1") is not None  # visible inside the batch
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        half_done()
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before
    assert reg.worker("w1") is None
    with reg.batch():
        reg.put_worker(Worker(worker_id="w2", name="c"))
        reg.put_worker(Worker(worker_id="w3", name="d"))
        assert path.read_bytes() == before[1]  # nothing on disk until the block ends
    assert {w.worker_id for w in Registry(path).workers()} == {"w0", "w2", "w3"}


def test_registry_keeps_only_recent_gas_tests(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from edge.models import GasTest, GasTestSample

    reg = Registry(tmp_path / "registry.json")
    t0 = datetime(2026, 11, 24, tzinfo=UTC)
    for i in range(Registry.GAS_TESTS_KEPT + 5):
        reg.put_gas_test(
            GasTest(
                zone_id="z",
                taken_at=t0 + timedelta(minutes=i),
                source="p",
                analyst="a",
                samples=(GasTestSample(gas="co", value=1, unit="ppm"),),
                passed=True,
            )
        )
    kept = reg.docs("gas_tests")
    assert len(kept) == Registry.GAS_TESTS_KEPT
    latest = reg.gas_tests("z")[0]
    assert latest.taken_at == t0 + timedelta(minutes=Registry.GAS_TESTS_KEPT + 4)


def test_journal_refuses_an_unknown_or_misfiled_event_type(tmp_path: Path) -> None:
    # Every type on the wire is in EventType (and so in docs/mqtt/events.md): a free string
    # or a type filed under another kind is a programming error, refused before any write.
    clock = ManualClock()
    j = Journal(tmp_path / "j.db", clock)
    with pytest.raises(ValueError, match="unknown event type 'gas_high'"):
        j.append(EventKind.ALERT, "gas_high", {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is of kind alert, not permit"):
        j.append_many(
            [
                (EventKind.PERMIT, EventType.PERMIT_ISSUED, {}),
                (EventKind.PERMIT, EventType.GAS_ALARM, {}),
            ]
        )
    assert j.events() == []
    ev = j.append(EventKind.ALERT, EventType.GAS_ALARM, {})
    assert ev.type is EventType.GAS_ALARM
    assert set(KIND_OF) == set(EventType)
    j.close()
