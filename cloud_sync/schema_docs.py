"""Generate docs/mqtt/: one page per topic and the JSON Schema of every payload.

Run ``zonegate central docs --out docs/mqtt``; a test fails when the committed pages differ from
what the code generates, so the documentation cannot drift from the wire models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cloud_sync.commands import AUTHORITY_REDUCING, DEFAULT_MAX_TTL, MAX_TTL, Rejection
from cloud_sync.payloads import COMMAND_BODIES, MAX_REPLAY, WIRE_MODELS, json_schema
from cloud_sync.signing import SIGNED_FIELDS
from cloud_sync.topics import TOPICS, TopicSpec
from edge.event_payloads import PAYLOADS
from edge.models import KIND_OF, LANE_OF, EventKind, EventType, Lane

EXAMPLES = "examples/events.json"


def _slug(name: str) -> str:
    return name.replace(" ", "-")


def _topic_page(spec: TopicSpec) -> str:
    lines = [
        f"# `{spec.pattern}`",
        "",
        "| | |",
        "|---|---|",
        f"| direction | {spec.direction.value} |",
        f"| QoS | {spec.qos} |",
        f"| retained | {'yes' if spec.retain else 'no'} |",
        f"| payload | [{spec.payload}](../schemas/{spec.payload}.json) (JSON, UTF-8) |",
        "",
        spec.description,
        "",
    ]
    if spec.payload == "Envelope":
        lines += ["## Command types", "", "| `{name}` = `type` | body schema |", "|---|---|"]
        lines += [f"| `{n}` | [cmd.{n}](../schemas/cmd.{n}.json) |" for n in COMMAND_BODIES]
        lines += [
            "",
            "See [signing](../README.md#signed-commands) for how the envelope is signed.",
            "",
        ]
    return "\n".join(lines)


def _readme() -> str:
    rows = [
        f"| [{t.name}](topics/{_slug(t.name)}.md) | `{t.pattern}` | {t.qos} | "
        f"{'yes' if t.retain else 'no'} | {t.direction.value} |"
        for t in TOPICS
    ]
    lanes = {lane: sorted(k.value for k, v in LANE_OF.items() if v is lane) for lane in Lane}
    rejections = "\n".join(f"| `{r.value}` |" for r in Rejection)
    ttls = "\n".join(f"| `{name}` | {ttl} |" for name, ttl in MAX_TTL.items())
    return f"""# MQTT interface of a zonegate gateway

Generated from `cloud_sync/topics.py` and `cloud_sync/payloads.py` by
`zonegate central docs --out docs/mqtt`; do not edit by hand.

## Topics

| topic | pattern | QoS | retained | direction |
|---|---|---|---|---|
{chr(10).join(rows)}

A device's broker account (user name = device id) may write only under its own
`edge/v1/{{site}}/{{device}}/` prefix and read only its own `cmd/` (see
`config/mosquitto/zonegate.acl`). Scale central consumers with a shared subscription such as
`$share/ingest/edge/v1/+/+/event/#`.

## Delivery

- Every event is written to the gateway's journal (SQLite, fsync'd) before it is published, and
  stamped delivered only when the broker's PUBACK arrives. Delivery is **at least once**:
  deduplicate by `event_id`. `boot_id` changes at each start; `seq` counts events within a boot.
- Events go out by lane: critical ({", ".join(lanes[Lane.CRITICAL])}) before access
  ({", ".join(lanes[Lane.ACCESS])}) before bulk ({", ".join(lanes[Lane.BULK])}); within a lane,
  in journal order. So `seq` may arrive out of order across lanes, never within one.
- `historical: true` marks an event older than the connection it was sent on (backlog replay).
- While a telemetry backlog is large, readings are downsampled to min / max / last per sensor,
  gas and window (`sample`); readings without a value (faults) are always sent. Past a bound the
  oldest telemetry is dropped and a `system/telemetry_dropped` event says how many. Alarms,
  permit and access events are never dropped.
- On every connect the gateway publishes retained `status` = `online` (its will is `offline`),
  then a retained `birth` snapshot and retained `state/...` topics. A PUBACK from the broker is
  not delivery to you: size the broker's `max_queued_messages` for your consumers and watch
  `$SYS/broker/publish/messages/dropped`.

## For central: building a consumer

- **Use a persistent session.** Subscribe with a fixed client id, `clean_session = false` and
  QoS 1 (or a shared subscription such as `$share/ingest/edge/v1/+/+/event/#`). The gateway
  stamps an event delivered when the *broker* acknowledges it; with a clean session, whatever
  the broker receives while your subscriber is down is lost to your view even though the
  gateway counted it delivered. Size the broker's `max_queued_messages` for your longest
  outage. Never give two consumers the same client id: the broker drops the older
  connection each time the other connects (`zonegate central watch` uses a unique id and a
  clean session unless you pass `--client-id`, which makes its session persistent).
- **Detect gaps** by `boot_id` and `seq`: `seq` counts every journaled event of one boot
  from 1 without holes, across all kinds and lanes. Lanes are sent by priority, so a missing
  `seq` may still arrive; treat it as a gap once the lanes are drained (the birth's
  `backlog` is all zero) or after a timeout. The retained [birth](topics/birth.md) carries
  `journal.last_seq` of the current boot, so the tail is checkable too; a new `boot_id`
  (see [status](topics/status.md)) starts a new sequence.
- **Ask for a replay** with the signed command `journal_replay` (body `boot_id`,
  `first_seq`, `last_seq`; at most {MAX_REPLAY} events; its `doc_version` grows like any
  other document's, key `replay`). The gateway marks that range undelivered again and sends it
  once more as ordinary event messages (same `event_id`, `historical: true`), so your
  deduplication by `event_id` absorbs what you already had. The reply says how many events
  of the range the journal still holds (delivered events are pruned after the retention
  period) or refuses with `CMD_REFUSED` when none is left.
- **Read back accepted versions** from the retained birth: `documents` maps each document key
  (`permit/<id>`, `roster`, `certificates/<worker>`, `unlock/<worker>`,
  `config/<section>`, `alarms`, `replay`) to the last `doc_version` the gateway accepted;
  a new command for a document must carry a greater one (else `CMD_REPLAYED`).
- **The retained topics are current.** The birth is republished within about a second of a
  change of clock trust, sensor health, permits (id, version, status), accepted document
  versions, presence, locked badges, the light or the position verdict (`reason` names what
  changed), and every `mqtt.birth_refresh_s` (default 60 s) regardless; `state/...` topics
  are republished with it and after each live permit or access event.
- **Telemetry** comes two ways: live on [telemetry live](topics/telemetry-live.md) (QoS 0,
  one message per sensor per `telemetry.interval_s`, for dashboards; thinned first while a
  backlog drains) and as journaled history on [telemetry](topics/telemetry.md) (QoS 1, one
  `reading` event per sensor and gas per `telemetry.journal_interval_s`, min / max / last;
  replayable like every event). Every event type and its payload: [events.md](events.md).

## Signed commands

A command is a JSON object with fields {", ".join(f"`{f}`" for f in SIGNED_FIELDS)} and `sig`.
`sig` is the base64 Ed25519 signature, by central's key, of the canonical JSON of the other
fields: keys sorted, separators `,` and `:` without spaces, non-ASCII characters unescaped,
UTF-8. `key_id` is the first 16 hex digits of the SHA-256 of the raw 32-byte public key.
`expires_at` is an ISO 8601 instant with a timezone. `doc_version` must be greater than the last
version accepted for the same document (a permit, the roster, a worker's certificates, a
worker's unlock); a permit's `version` must equal `doc_version`. The body's
`device` must name the receiving device.

Lifetime: a command may expire at most this far ahead of the gateway's (trusted) clock, and,
when it carries the optional signed `not_before`, `expires_at - not_before` may not exceed it
either (`CMD_TTL_TOO_LONG`); before `not_before` (60 s clock allowance) it is refused with
`CMD_NOT_YET_VALID`, and may be sent again later with the same version.

| command type | longest lifetime |
|---|---|
{ttls}
| any other | {DEFAULT_MAX_TTL} |

When the gateway's clock is not synced (no NTP, no GPS time) it cannot judge expiry and refuses
every command except {", ".join(f"`{c}`" for c in sorted(AUTHORITY_REDUCING))} (taking authority
away is never refused). Each command gets a [reply](topics/reply.md); rejection codes:

| reason |
|---|
{rejections}
"""


def _first_line(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def _events_page(examples: dict[str, Any]) -> str:
    rows = []
    for t in EventType:
        kind = KIND_OF[t]
        model = PAYLOADS[t].__name__
        topic = "telemetry/{sensor}" if kind is EventKind.TELEMETRY else f"event/{kind.value}"
        example = f"[example](#{t.value.lower()})" if t.value in examples else "**none**"
        rows.append(
            f"| `{t.value}` | {kind.value} | {LANE_OF[kind].value} | `{topic}` | "
            f"[{model}](schemas/EventMessage.json) | {example} |"
        )
    sections = []
    for t in EventType:
        payload = PAYLOADS[t]
        about = _first_line(payload.__doc__)
        sections += [f"### {t.value}", "", f"Payload: `{payload.__name__}`. {about}"]
        if t.value in examples:
            body = json.dumps(examples[t.value], indent=2, ensure_ascii=False)
            sections += ["", "```json", body, "```"]
        sections.append("")
    return "\n".join(
        [
            "# Event types",
            "",
            "Generated from `edge/models.py` (`EventType`) and `edge/event_payloads.py` (one",
            "payload model per type) by `zonegate central docs --out docs/mqtt`; do not edit by",
            "hand.",
            "",
            "Every [event](topics/event.md) and [telemetry](topics/telemetry.md) message is an",
            "`EventMessage` whose `type` is one of the types below; the type decides `kind` (and",
            "so the topic and the outbox lane) and the schema of `payload`. The shipped",
            "[EventMessage schema](schemas/EventMessage.json) says so too (one `if type = X then",
            "payload is Y` clause per type, payload models under `$defs`), and it forbids unknown",
            "fields: a test validates every message a full `zonegate demo` run publishes against",
            "it. A new type is a new `EventType` member and model, never a free string.",
            "",
            "The examples are real: taken from a test run (`pytest --event-examples FILE`, which",
            "collects one message of every type from the journals and MQTT captures the tests",
            "produced), then `zonegate central docs --out docs/mqtt --examples FILE` (kept in",
            f"[{EXAMPLES}]({EXAMPLES}), checked by a test against the schema).",
            "",
            "| type | kind | lane | topic | payload | |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            "## Examples",
            "",
            *sections,
        ]
    )


def render(examples: dict[str, Any] | None = None) -> dict[str, str]:
    """Every generated file, by path relative to docs/mqtt/.

    ``examples`` (event type -> one real message, as collected by ``pytest --event-examples``)
    go into events.md and examples/events.json.
    """
    given = examples or {}
    examples = {t.value: given[t.value] for t in EventType if t.value in given}
    files = {"README.md": _readme(), "events.md": _events_page(examples)}
    files[EXAMPLES] = json.dumps(examples, indent=2, ensure_ascii=False) + "\n"
    for spec in TOPICS:
        files[f"topics/{_slug(spec.name)}.md"] = _topic_page(spec)
    for name in WIRE_MODELS:
        schema = json_schema(name)
        files[f"schemas/{name}.json"] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return files


def write_docs(out: Path, examples: Path | None = None) -> list[Path]:
    """Write the pages under ``out``; return the paths written.

    The event examples come from ``examples`` when given, else from the ones already under
    ``out`` (so regenerating the pages keeps them). Raises ``ValueError`` for an examples
    file that is not JSON and ``TypeError`` for one that is not an object.
    """
    source = examples or out / EXAMPLES
    loaded: Any = json.loads(source.read_text(encoding="utf-8")) if source.exists() else {}
    if not isinstance(loaded, dict):
        raise TypeError(f"{source}: expected a JSON object of event type -> message")
    written = []
    for rel, text in render(loaded).items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
