"""Generate docs/mqtt/: one page per topic and the JSON Schema of every payload.

Run ``zonegate central docs --out docs/mqtt``; a test fails when the committed pages differ from
what the code generates, so the documentation cannot drift from the wire models.
"""

from __future__ import annotations

import json
from pathlib import Path

from cloud_sync.commands import AUTHORITY_REDUCING, Rejection
from cloud_sync.payloads import COMMAND_BODIES, WIRE_MODELS
from cloud_sync.signing import SIGNED_FIELDS
from cloud_sync.topics import TOPICS, TopicSpec
from edge.models import LANE_OF, Lane


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

## Signed commands

A command is a JSON object with fields {", ".join(f"`{f}`" for f in SIGNED_FIELDS)} and `sig`.
`sig` is the base64 Ed25519 signature, by central's key, of the canonical JSON of the other
fields: keys sorted, separators `,` and `:` without spaces, non-ASCII characters unescaped,
UTF-8. `key_id` is the first 16 hex digits of the SHA-256 of the raw 32-byte public key.
`expires_at` is an ISO 8601 instant with a timezone. `doc_version` must be greater than the last
version accepted for the same document (a permit, the roster, a worker's certificates, a
worker's unlock, a config section); a permit's `version` must equal `doc_version`. The body's
`device` must name the receiving device.

When the gateway's clock is not synced (no NTP, no GPS time) it cannot judge expiry and refuses
every command except {", ".join(f"`{c}`" for c in sorted(AUTHORITY_REDUCING))} (taking authority
away is never refused). Each command gets a [reply](topics/reply.md); rejection codes:

| reason |
|---|
{rejections}
"""


def render() -> dict[str, str]:
    """Every generated file, by path relative to docs/mqtt/."""
    files = {"README.md": _readme()}
    for spec in TOPICS:
        files[f"topics/{_slug(spec.name)}.md"] = _topic_page(spec)
    for name, model in WIRE_MODELS.items():
        schema = model.model_json_schema()
        files[f"schemas/{name}.json"] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return files


def write_docs(out: Path) -> list[Path]:
    """Write the pages under ``out``; return the paths written."""
    written = []
    for rel, text in render().items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
