"""SIGKILL the draining daemon 20 times: nothing committed is lost, lanes stay in order."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud_sync.central import Fleet, watch
from edge.clock import ManualClock
from edge.journal import Journal
from edge.models import KIND_OF, EventKind, EventType

CHILD = Path(__file__).with_name("outbox_child.py")
# One real event type per kind: the journal takes documented types only.
A_TYPE = {kind: next(t for t, k in KIND_OF.items() if k is kind) for kind in EventKind}
KINDS = [EventKind.ALERT, EventKind.ACCESS, EventKind.TELEMETRY, EventKind.PERMIT]
KILLS = 20


async def test_sigkill_during_drain_loses_nothing(
    broker: Any,
    tmp_path: Path,
    wait_until: Callable[..., Any],
    tasks: list[asyncio.Task[None]],
) -> None:
    path = tmp_path / "daemon" / "journal.db"
    journal = Journal(path, ManualClock())
    for base in range(0, 6000, 1000):
        journal.append_many(
            [
                (KINDS[i % len(KINDS)], A_TYPE[KINDS[i % len(KINDS)]], {"i": i})
                for i in range(base, base + 1000)
            ]
        )
    fleet = Fleet()
    first_seen: dict[str, list[tuple[str, int]]] = defaultdict(list)
    ids: set[str] = set()

    def record(e: Any) -> None:
        ids.add(e.event_id)
        first_seen[e.lane.value].append((e.boot_id, e.seq))

    ready = asyncio.Event()
    settings = broker.settings("central", "central-kill", clean_session=False)
    tasks.append(asyncio.create_task(watch(settings, fleet, on_event=record, ready=ready)))
    await ready.wait()

    args = [sys.executable, str(CHILD), str(path), str(broker.port), str(broker.pki.ca_cert),
            "dev-a", "pw-a"]  # fmt: skip
    for cycle in range(KILLS):
        before = len(ids)
        child = await asyncio.create_subprocess_exec(*args)
        try:
            await wait_until(lambda b=before: len(ids) >= b + 100, 30, f"drain in cycle {cycle}")
            # Commit more while the daemon drains: committed rows must survive the kill too.
            journal.append_many([(EventKind.ALERT, EventType.GAS_ALARM, {"cycle": cycle})] * 5)
        finally:
            child.send_signal(signal.SIGKILL)
            await child.wait()
    # The broker published the will of the killed daemon.
    await wait_until(lambda: fleet.device("site1", "dev-a").online is False, 10, "the will")
    assert len(ids) < journal_total(journal), "the kills must have interrupted the drain"

    child = await asyncio.create_subprocess_exec(*args)
    try:
        await wait_until(lambda: len(ids) == journal_total(journal), 60, "the rest after kills")
        await wait_until(lambda: sum(journal.pending_count().values()) == 0, 10, "all stamped")
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert ids == journal.event_ids()
    assert journal.integrity_check() == []
    # Within a lane, first sightings follow the journal's order (boot, then seq).
    for lane, seen in first_seen.items():
        rows = [(e.boot_id, e.seq) for e in journal.events() if e.event_id in ids]
        rank = {key: n for n, key in enumerate(rows)}
        positions = [rank[k] for k in seen]
        assert positions == sorted(positions), f"lane {lane} out of order"
    journal.close()


def journal_total(journal: Journal) -> int:
    return len(journal.event_ids())
