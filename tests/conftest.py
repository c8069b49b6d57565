"""Suite-wide hooks.

``--event-examples=FILE``: after the run, take one real example of every event type from what
the tests produced (the journals under pytest's temporary directory and the MQTT captures of
demo runs) and write them to FILE; ``docs/mqtt/examples/events.json`` is made this way (see
docs/mqtt/events.md). Only examples whose payload fits its model are taken: unit tests also
journal made-up payloads on purpose.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError


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
