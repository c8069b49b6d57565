"""Suite-wide hooks.

- No thread may outlive its test (``no_leaked_threads``); Hypothesis is derandomized in CI; one
  line says why tests were skipped when ../shared/data is not beside the repository.

``--event-examples=FILE``: after the run, take one real example of every event type from what
the tests produced (the journals under pytest's temporary directory and the MQTT captures of
demo runs) and write them to FILE; ``docs/mqtt/examples/events.json`` is made this way (see
docs/mqtt/events.md). Only examples whose payload fits its model are taken: unit tests also
journal made-up payloads on purpose.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from pydantic import ValidationError

from tests.datasets import SHARED_MISSING, shared_available


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--event-examples",
        type=Path,
        default=None,
        help="write one real example of every event type seen in this run to this file",
    )


def _journal_examples(path: Path) -> list[dict[str, Any]]:
    from cloud_sync.payloads import EventMessage
    from edge.journal import Journal
    from edge.models import LANE_OF

    out: list[dict[str, Any]] = []
    with contextlib.suppress(sqlite3.Error, ValueError, OSError):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute(
                "SELECT id, event_id, boot_id, seq, kind, type, lane, wall_time, wall_trusted,"
                " mono_ts, payload, delivered_at FROM events ORDER BY id"
            ).fetchall()
        finally:
            db.close()
        for row in rows:
            with contextlib.suppress(ValueError, ValidationError):
                ev = Journal._row(row)
                msg = EventMessage.of(ev, LANE_OF[ev.kind], historical=False)
                out.append(msg.model_dump(mode="json"))
    return out


def _capture_examples(path: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with contextlib.suppress(OSError):
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                body = json.loads(json.loads(line)["payload"])
                if isinstance(body, dict) and "event_id" in body:
                    out.append(body)
    return out


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = session.config.getoption("--event-examples")
    if target is None:
        return
    from cloud_sync.payloads import EventMessage
    from edge.models import EventType

    base = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    candidates: list[dict[str, Any]] = []
    for path in sorted(base.rglob("*.jsonl")):
        candidates += _capture_examples(path)  # messages as central received them first
    for path in sorted(base.rglob("*.db")):
        candidates += _journal_examples(path)
    found: dict[str, dict[str, Any]] = {}
    for body in candidates:
        if body.get("type") in found:
            continue
        with contextlib.suppress(ValidationError):
            EventMessage.model_validate(body)
            found[str(body["type"])] = body
    ordered = {t.value: found[t.value] for t in EventType if t.value in found}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(ordered, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    missing = [t.value for t in EventType if t.value not in found]
    print(f"\nevent examples: {len(ordered)} written to {target}; none seen for {missing}")


# CI (env CI set, as every CI service does) runs the same examples on every run, so a red build
# is reproducible and never a dice roll; locally each run explores new random examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("local")
settings.load_profile("ci" if os.environ.get("CI") else "local")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The one visible line for a clone without ../shared/data."""
    if shared_available():
        return
    skipped = [
        r for r in terminalreporter.stats.get("skipped", []) if SHARED_MISSING in str(r.longrepr)
    ]
    terminalreporter.write_line(f"{len(skipped)} tests skipped: {SHARED_MISSING}")


JOIN_GRACE_S = 5.0
"""How long threads that are on their way out may take to finish after the test (joined, not
slept on): a worker thread returning its last result needs a moment on a loaded machine."""


def _watched(thread: threading.Thread) -> bool:
    name = thread.name
    return not thread.daemon or name.startswith(("ThreadPoolExecutor", "asyncio_"))


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and _watched(t)]
    deadline = time.monotonic() + JOIN_GRACE_S
    for thread in leaked:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = [t for t in leaked if t.is_alive()]
    if alive:
        names = ", ".join(f"{t.name} (daemon={t.daemon})" for t in alive)
        pytest.fail(f"threads left running after the test: {names}", pytrace=False)
