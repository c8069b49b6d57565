"""Kill -9 torture of both stores (peer-lessons L2: no peer ships one).

A child writes permits (TinyDB, atomic storage) and events (SQLite WAL, synchronous=FULL) in a
loop and is SIGKILLed at a random moment, 30 times. After every kill both stores must open, pass
their integrity checks, and hold every write the child had acknowledged before it died.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.clock import ManualClock
from edge.journal import Journal
from edge.models import EventKind
from edge.registry import Registry

CHILD = Path(__file__).with_name("torture_child.py")
KILLS = 30


def _read_acks(proc: subprocess.Popen[str], until: float) -> list[str]:
    """Read ack lines until the deadline; the child is still writing when we return."""
    assert proc.stdout is not None
    lines: list[str] = []
    fd = proc.stdout.fileno()
    buf = b""
    while time.monotonic() < until:
        ready, _, _ = select.select([fd], [], [], max(0.0, until - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        *done, buf = buf.split(b"\n")
        lines.extend(x.decode() for x in done)
    return lines


@pytest.mark.slow
def test_sigkill_30_times_loses_nothing_acknowledged(tmp_path: Path) -> None:
    seed = int(os.environ.get("TORTURE_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path])}
    acked_permits: dict[str, int] = {}
    acked_events: set[int] = set()
    next_n = 0
    writes_between_kills: list[int] = []
    for cycle in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(tmp_path), str(next_n)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        # Wait until it is writing, then let it run a random 5-150 ms before the kill.
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip() == "S", f"child did not start (seed {seed})"
        lines = _read_acks(proc, time.monotonic() + rng.uniform(0.005, 0.150))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Whatever the pipe still holds was written (acked) before the kill.
        rest = proc.stdout.read()
        lines += [x for x in rest.split("\n") if x]
        proc.stdout.close()
        count = 0
        for line in lines:
            tag, *vals = line.split()
            if tag == "R":
                acked_permits[vals[0]] = max(acked_permits.get(vals[0], 0), int(vals[1]))
                count += 1
            elif tag == "J":
                acked_events.add(int(vals[0]))
                next_n = max(next_n, int(vals[0]) + 1)
        writes_between_kills.append(count)
        # Restart: both stores open and are whole, and nothing acknowledged is missing.
        registry = Registry(tmp_path / "registry.json")
        assert registry.integrity_check() == [], f"cycle {cycle}, seed {seed}"
        stored = {p.permit_id: p.version for p in registry.permits()}
        for key, version in acked_permits.items():
            assert stored.get(key, 0) >= version, (
                f"{key} v{version} lost (cycle {cycle}, seed {seed})"
            )
        registry.close()
        journal = Journal(tmp_path / "journal.db", ManualClock(), boot_id=f"check-{cycle}")
        assert journal.integrity_check() == [], f"cycle {cycle}, seed {seed}"
        seen = {int(e.payload["n"]) for e in journal.events(kind=EventKind.PERMIT)}
        missing = acked_events - seen
        assert not missing, f"events lost: {sorted(missing)[:5]} (cycle {cycle}, seed {seed})"
        journal.close()
        # The next child continues after the last event that may have been written.
        next_n = max(next_n, max(seen, default=-1) + 1)
    # The figures the closing note quotes.
    print(
        f"\ntorture: seed={seed} kills={KILLS} acked_events={len(acked_events)} "
        f"acked_permit_writes={sum(writes_between_kills)} "
        f"min/max writes per cycle={min(writes_between_kills)}/{max(writes_between_kills)}"
    )
    assert len(acked_events) > KILLS  # the kills really did land in the middle of writing
