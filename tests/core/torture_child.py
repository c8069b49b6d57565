"""Child process of the torture test: writes permits and events forever, acking each on stdout.

A line "R <key> <version>" is printed only after the registry write returned, "J <n>" only
after the journal append returned; the parent kills us with SIGKILL at a random moment.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge.clock import SystemClock
from edge.journal import Journal
from edge.models import EventKind, EventType, Permit, PermitLevel, PermitMember, Role, WorkKind
from edge.registry import Registry

KEYS = 40  # permits are rewritten in place so the registry stays the size of a real zone's


def main() -> None:
    state, start = Path(sys.argv[1]), int(sys.argv[2])
    registry = Registry(state / "registry.json")
    journal = Journal(state / "journal.db", SystemClock(assume_trusted=True))
    now = datetime(2026, 11, 24, 8, tzinfo=UTC)
    out = sys.stdout
    out.write("S\n")
    out.flush()
    n = start
    while True:
        key = f"P{n % KEYS}"
        registry.put_permit(
            Permit(
                permit_id=key,
                zone_id="z",
                kind=WorkKind.HOT_WORK,
                level=PermitLevel.HOT_2,
                valid_from=now,
                valid_to=now + timedelta(hours=8),
                version=n + 1,
                members=(PermitMember(worker_id="w", role=Role.OPERATOR),),
            )
        )
        out.write(f"R {key} {n + 1}\n")
        out.flush()
        journal.append(EventKind.PERMIT, EventType.PERMIT_ISSUED, {"n": n, "pad": "x" * (n % 300)})
        out.write(f"J {n}\n")
        out.flush()
        n += 1


if __name__ == "__main__":
    main()
