"""The MQTT contract as central reads it: the shipped JSON Schemas in docs/mqtt/ hold for real
messages, every event type has a payload model and a real example, and nothing undocumented
goes out (a full ``zonegate demo`` run, captured as central receives it: ``check_capture``,
called by the demo test in tests/core/test_daemon.py)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from cloud_sync.payloads import COMMAND_BODIES, EventMessage
from cloud_sync.topics import TOPICS
from edge.event_payloads import PAYLOADS
from edge.models import KIND_OF, EventType

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "mqtt"
_PATTERNS = [
    (re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(t.pattern)) + "$"), t)
    for t in TOPICS
]


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((DOCS / "schemas" / f"{name}.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def problems(topic: str, body: Any) -> list[str]:
    """Why a message breaks the shipped contract (empty: it holds)."""
    spec = next((t for rx, t in _PATTERNS if rx.match(topic)), None)
    if spec is None:
        return [f"{topic}: no documented topic"]
    return [
        f"{topic} ({spec.payload}) at {'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in _validator(spec.payload).iter_errors(body)
    ]


def _examples() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DOCS / "examples" / "events.json").read_text("utf-8"))
    return data


def test_every_event_type_has_a_model_a_kind_and_a_real_example() -> None:
    assert set(PAYLOADS) == set(EventType) == set(KIND_OF)
    examples = _examples()
    assert sorted(examples) == sorted(t.value for t in EventType), "regenerate the examples"
    for type_, message in examples.items():
        assert message["type"] == type_
        assert problems(f"edge/v1/s/d/event/{message['kind']}", message) == []
        EventMessage.model_validate(message)  # the pydantic model agrees with the schema


def test_the_schema_refuses_an_unknown_type_field_or_kind() -> None:
    # The checks above and below could pass vacuously on an open schema: show they bite.
    example = _examples()["gas_alarm"]
    topic = "edge/v1/s/d/event/alert"
    assert problems(topic, example) == []
    extra = {**example, "payload": {**example["payload"], "surprise": 1}}
    assert any("surprise" in p for p in problems(topic, extra))
    assert problems(topic, {**example, "type": "gas_high"})
    assert problems(topic, {**example, "kind": "permit"})
    assert problems(topic, {**example, "note": "x"})
    assert problems("edge/v1/s/d/elsewhere", example) == [
        "edge/v1/s/d/elsewhere: no documented topic"
    ]


# The permit work cycle's commands, in the order of the cycle (issue 10): issue, gas analysis,
# start, alarm acknowledge, resume, finish, close, and revocation at any point.
CYCLE_COMMANDS = (
    "permit_issue",
    "gas_test_record",
    "permit_start",
    "alarm_acknowledge",
    "permit_resume",
    "permit_finish",
    "permit_close",
    "permit_revoke",
)


def test_every_cycle_command_is_documented_with_a_schema_and_a_valid_example() -> None:
    page = (DOCS / "topics" / "command.md").read_text(encoding="utf-8")
    for name in CYCLE_COMMANDS:
        assert f"| `{name}` | [cmd.{name}](../schemas/cmd.{name}.json) |" in page, name
        validator = _validator(f"cmd.{name}")  # a valid JSON Schema (checked there)
        schema = json.loads((DOCS / "schemas" / f"cmd.{name}.json").read_text(encoding="utf-8"))
        examples: list[dict[str, Any]] = schema.get("examples", [])
        assert examples, f"cmd.{name}.json has no example"
        for example in examples:
            errors = [e.message for e in validator.iter_errors(example)]
            assert errors == [], (name, errors)
            COMMAND_BODIES[name].model_validate(example)  # the gateway's model takes it too
        # The schema is closed: a misspelt field in an example would not pass unnoticed.
        assert list(validator.iter_errors({**examples[0], "surprise": 1})), name


def check_capture(capture: Path) -> None:
    """Every message of a ``zonegate demo --capture`` run holds to the shipped schemas, and the
    run exercised every kind of message (run by tests/core/test_daemon.py's demo test, so the
    suite runs the demo once)."""
    lines = [json.loads(line) for line in capture.read_text(encoding="utf-8").splitlines()]
    found: list[str] = []
    heads: set[str] = set()
    types: set[str] = set()
    for line in lines:
        body = json.loads(line["payload"])
        found += problems(line["topic"], body)
        levels = line["topic"].split("/")
        heads.add("/".join(levels[4:5] + levels[6:]))  # e.g. event, telemetry/live
        if levels[4] == "event" or (levels[4] == "telemetry" and len(levels) == 6):
            types.add(body["type"])
    assert found == []
    assert {"status", "birth", "state", "event", "reply", "telemetry/live"} <= heads
    assert {"permit_issued", "permit_start", "permit_suspend", "gas_alarm", "access_decision",
            "command_accepted", "gas_test_recorded", "reading"} <= types  # fmt: skip
