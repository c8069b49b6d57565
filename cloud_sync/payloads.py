"""Versioned wire models of every MQTT payload (JSON, UTF-8).

Every message a device sends carries ``v`` (the payload schema version). Unknown fields are
rejected on the way in: a command with a field we do not understand is malformed, never
half-applied. ``schemas()`` gives the JSON Schema of each model for docs/mqtt/.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic.json_schema import models_json_schema

from edge.event_payloads import PAYLOADS, InsideEntry, Snapshot, TelemetryChannel
from edge.models import (
    KIND_OF,
    Certificate,
    Event,
    EventKind,
    EventType,
    GasInstrument,
    GasTestSample,
    Lane,
    Permit,
    Worker,
)
from firmware_adapters.bilingual import BilingualValueError

WIRE_VERSION = 1

OPEN_PAYLOAD = {"payload": "open"}
"""Validation context that checks an event's envelope but not its payload's model: for a
consumer that must not lose an alarm to a payload field it does not know yet."""


class Wire(BaseModel):
    """Strict base of wire models: unknown fields are an error, instances immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------
# device -> central


class Status(Wire):
    """Retained liveness of a device; also its MQTT last will."""

    v: Literal[1] = 1
    state: Literal["online", "offline"]
    site: str
    device: str
    boot_id: str = Field(description="changes at every process start")
    connection: int = Field(ge=0, description="connection counter within the boot (bdSeq-like)")
    at: datetime | None = Field(default=None, description="device wall time; None in the will")


class JournalPosition(Wire):
    """Where the device's journal stands: central compares it with the last seq it holds."""

    boot_id: str
    last_seq: int = Field(ge=0, description="seq of the newest event of this boot (0: none)")


class Birth(Wire):
    """Full snapshot after every connect (retained)."""

    v: Literal[1] = 1
    site: str
    device: str
    boot_id: str
    connection: int = Field(ge=0)
    at: datetime
    wall_trusted: bool = Field(description="whether the device clock was NTP/GPS-synced")
    snapshot: Snapshot | None = Field(description="zone, permits, presence, air, clock, health")
    snapshot_error: str | None = Field(
        default=None, description="why the snapshot is missing (None when it is present)"
    )
    versions: dict[str, str] = Field(description="software and schema versions")
    health: dict[str, dict[str, Any]] = Field(description="per-service health")
    backlog: dict[str, int] = Field(description="undelivered journal events per lane")
    documents: dict[str, int] = Field(
        default_factory=dict,
        description="last accepted doc_version per document key (permit/<id>, roster, "
        "certificates/<worker>, unlock/<worker>, config/<section>, alarms): a command must "
        "carry a greater one",
    )
    journal: JournalPosition | None = Field(
        default=None, description="this boot's last journaled seq, for gap detection"
    )
    reason: str = Field(
        default="connect",
        description="why this birth was published: connect, or what changed (clock, "
        "sensors, permits, documents, presence, health)",
    )


class PermitState(Wire):
    """Retained current state of one permit."""

    v: Literal[1] = 1
    at: datetime
    permit: Permit


class PresenceState(Wire):
    """Retained list of who is inside the zone."""

    v: Literal[1] = 1
    at: datetime
    inside: list[InsideEntry] = Field(description="as in the snapshot's presence")


class DetailRef(Wire):
    """Where the full payload of a summarised event is: ``parts`` messages on its detail topic."""

    parts: int = Field(ge=1)
    bytes: int = Field(ge=0, description="size of the full payload as UTF-8 JSON")
    sha256: str = Field(description="hex digest of the full payload's UTF-8 JSON")


class EventMessage(Wire):
    """One journal event. Deduplicate by ``event_id``; ``boot_id`` + ``seq`` show gaps."""

    v: Literal[1] = 1
    event_id: str
    boot_id: str
    seq: int = Field(ge=1)
    kind: EventKind
    type: EventType = Field(description="see docs/mqtt/events.md; decides ``payload``'s schema")
    lane: Lane
    wall_time: datetime
    wall_trusted: bool
    payload: dict[str, Any] = Field(
        description="the model of ``type`` (edge.event_payloads.PAYLOADS); checked on validation"
    )
    historical: bool = Field(
        default=False, description="sent from a backlog, not live (older than the connection)"
    )
    sample: Literal["all", "min", "max", "last"] = Field(
        default="all", description="telemetry kept by downsampling: which statistic this is"
    )
    detail: DetailRef | None = Field(
        default=None,
        description="set when the payload was too large for one message: `payload` is then a "
        "summary and the full payload went ahead in parts on detail/{event_id}/{part}",
    )

    @model_validator(mode="after")
    def _typed_payload(self, info: ValidationInfo) -> EventMessage:
        if KIND_OF[self.type] is not self.kind:
            raise BilingualValueError(
                f"type {self.type.value} is of kind {KIND_OF[self.type].value}",
                f"事件类型 {self.type.value} 属于 {KIND_OF[self.type].value} 类",
            )
        open_ = isinstance(info.context, dict) and info.context.get("payload") == "open"
        # A summarised event carries a summary here; its full payload comes as detail parts.
        if not open_ and self.detail is None:
            PAYLOADS[self.type].model_validate(self.payload)
        return self

    @classmethod
    def of(cls, ev: Event, lane: Lane, *, historical: bool, sample: str = "all") -> EventMessage:
        """The wire message of a journal event; raises ``ValidationError`` if its payload
        does not fit its type's model."""
        return cls.model_validate(
            {
                "event_id": ev.event_id,
                "boot_id": ev.boot_id,
                "seq": ev.seq,
                "kind": ev.kind,
                "type": ev.type,
                "lane": lane,
                "wall_time": ev.wall_time,
                "wall_trusted": ev.wall_trusted,
                "payload": ev.payload,
                "historical": historical,
                "sample": sample,
            }
        )


class DetailPart(Wire):
    """One part of a summarised event's full payload (base64 of a slice of its UTF-8 JSON)."""

    v: Literal[1] = 1
    event_id: str
    part: int = Field(ge=0)
    parts: int = Field(ge=1)
    sha256: str
    data: str = Field(description="base64")


def join_detail(parts: list[DetailPart]) -> dict[str, Any]:
    """The full payload from all parts of one event; ``ValueError`` if incomplete or altered."""
    if not parts:
        raise ValueError("no parts")
    want = parts[0].parts
    by_index = {p.part: p for p in parts if p.event_id == parts[0].event_id}
    if sorted(by_index) != list(range(want)):
        raise ValueError(f"have parts {sorted(by_index)} of {want}")
    raw = b"".join(base64.b64decode(by_index[i].data) for i in range(want))
    if hashlib.sha256(raw).hexdigest() != parts[0].sha256:
        raise ValueError("sha256 mismatch")
    value = json.loads(raw.decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError("payload is not an object")  # noqa: TRY004 — bad data, not a bad call
    return value


class TelemetrySample(Wire):
    """Live readings of one sensor over one interval (QoS 0, not journaled)."""

    v: Literal[1] = 1
    boot_id: str
    sensor_id: str
    at: datetime = Field(description="device wall time at the end of the interval")
    interval_s: float = Field(gt=0, description="the aggregation interval, seconds")
    every: int = Field(
        default=1, ge=1, description="1; N while thinned (only every Nth interval is sent)"
    )
    channels: dict[str, TelemetryChannel] = Field(description="by gas: min / max / last")


class Reply(Wire):
    """The result of one command."""

    v: Literal[1] = 1
    command: str = Field(description="the command's topic name")
    accepted: bool
    reason: str | None = Field(default=None, description="rejection code; None when accepted")
    detail: str = ""
    doc_key: str | None = None
    doc_version: int | None = None
    at: datetime
    event_id: str | None = Field(default=None, description="journal event recording the outcome")


# --------------------------------------------------------------------------------------------
# central -> device


class Envelope(Wire):
    """A signed command. ``sig`` is Ed25519 over the canonical JSON of the other fields."""

    type: str = Field(description="command type; equals the {name} of the cmd topic")
    doc_version: int = Field(ge=1, description="per-document version; must be newer than seen")
    expires_at: datetime = Field(description="reject after this instant (timezone required)")
    not_before: datetime | None = Field(
        default=None,
        description="reject before this instant (timezone required); with it, the lifetime "
        "expires_at - not_before is capped per command type like the remaining time",
    )
    body: dict[str, Any]
    key_id: str = Field(description="first 16 hex of SHA-256 of the raw public key")
    sig: str = Field(description="base64 Ed25519 signature")


class CentralStatus(Wire):
    """Retained: whether central is listening for a site (its will says offline)."""

    v: Literal[1] = 1
    online: bool
    at: datetime | None = None


class CommandBody(Wire):
    """Base of every command body: names the device it is for."""

    device: str = Field(description="the device this command is for; others reject it")


class PermitIssue(CommandBody):
    """Issue a new permit or a new version of one (``permit.version`` == ``doc_version``)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "device": "gw-01",
                    "permit": {
                        "permit_id": "HW-2026-0142",
                        "zone_id": "weld-bay-3",
                        "kind": "DHZY",
                        "level": "hot_1",
                        "valid_from": "2026-06-01T08:00:00+08:00",
                        "valid_to": "2026-06-01T16:00:00+08:00",
                        "members": [
                            {"worker_id": "L01", "role": "leader"},
                            {"worker_id": "G01", "role": "guardian"},
                            {"worker_id": "W01", "role": "operator", "required_cert": "welding"},
                            {"worker_id": "A01", "role": "analyst"},
                        ],
                        "gas": {"retest_after_break": "PT30M"},
                        "version": 1,
                    },
                }
            ]
        },
    )

    permit: Permit


class PermitRevoke(CommandBody):
    """Take a permit away; allowed even on an untrusted clock."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [{"device": "gw-01", "permit_id": "HW-2026-0142", "reason": "作业方案变更"}]
        },
    )

    permit_id: str
    reason: str = Field(min_length=1)


class PermitResume(CommandBody):
    """Resume a suspended permit (the zone still requires a fresh passing gas test)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"device": "gw-01", "permit_id": "HW-2026-0142"}]},
    )

    permit_id: str


class RosterUpdate(CommandBody):
    """Add or replace workers, and remove others (their biometric data is erased)."""

    workers: tuple[Worker, ...] = ()
    remove: tuple[str, ...] = ()


class CertificateUpdate(CommandBody):
    """Replace one worker's certificates."""

    worker_id: str
    certificates: tuple[Certificate, ...]


class BadgeUnlock(CommandBody):
    """Lift a worker's badge lock (e.g. after a proxy attempt was cleared up)."""

    worker_id: str


class AlarmAcknowledge(CommandBody):
    """A person acknowledges the zone's latched gas alarms (they clear once the air is back
    inside limits too); the permits stay suspended until a fresh test and a resume."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"device": "gw-01", "actor": "S01"}]},
    )

    actor: str = Field(min_length=1, description="who acknowledges, e.g. safety officer id")


class JournalReplay(CommandBody):
    """Send the events ``first_seq..last_seq`` of boot ``boot_id`` again (a gap central saw).

    They arrive as ordinary event messages (same ``event_id``, ``historical: true``) in lane
    order; deduplicate by ``event_id`` as always. The reply says how many were still in the
    journal (old delivered rows are pruned after ``storage`` retention).
    """

    boot_id: str = Field(min_length=1)
    first_seq: int = Field(ge=1)
    last_seq: int = Field(ge=1)

    @model_validator(mode="after")
    def _range(self) -> JournalReplay:
        if self.last_seq < self.first_seq:
            raise BilingualValueError(
                "last_seq must be at least first_seq", "last_seq 不能小于 first_seq"
            )
        if self.last_seq - self.first_seq >= MAX_REPLAY:
            raise BilingualValueError(
                f"at most {MAX_REPLAY} events per replay",
                f"每次重发最多 {MAX_REPLAY} 个事件",
            )
        return self


MAX_REPLAY = 100_000


# ---- the permit work cycle (issue 10): gas analysis, start, finish, close through central


class GasTestRecord(CommandBody):
    """A gas analysis reported through central (a phone app, a lab system). The edge judges
    the samples against the zone's and the permit's criteria; a ``passed`` flag is not taken
    from the sender. A test lacking a gas the work requires is recorded as failed
    (``GAS_TEST_INCOMPLETE`` at start)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "device": "gw-01",
                    "test_id": "GT-20260601-0007",
                    "permit_id": "HW-2026-0142",
                    "analyst": "A01",
                    "instrument": {"kind": "portable", "instrument_id": "MX4-0032"},
                    "sample_point": "tank T-3 manhole, top/middle/bottom",
                    "taken_at": "2026-06-01T08:40:00+08:00",
                    "samples": [
                        {"gas": "o2", "value": 20.8, "unit": "%vol"},
                        {"gas": "lel", "value": 0.0, "unit": "%LEL"},
                        {"gas": "co", "value": 2.0, "unit": "ppm"},
                        {"gas": "h2s", "value": 0.0, "unit": "ppm"},
                    ],
                }
            ]
        },
    )

    test_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="central's test id")
    permit_id: str | None = Field(default=None, description="the permit it was taken for")
    analyst: str = Field(min_length=1, description="worker id of the analyst (分析人)")
    instrument: GasInstrument
    sample_point: str = Field(min_length=1, max_length=200, description="取样点")
    taken_at: datetime = Field(description="when sampled, with a timezone")
    samples: tuple[GasTestSample, ...] = Field(min_length=1, max_length=32)


def _cycle_example(extra: dict[str, Any]) -> ConfigDict:
    example = {"device": "gw-01", "permit_id": "HW-2026-0142", "by": "L01", **extra}
    return ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [example]})


class PermitCycleCommand(CommandBody):
    """A person's permit action confirmed on a phone through central. ``by`` must be named on
    the permit in the role the action needs (leader for start and finish; leader or a roster
    safety officer for close); the edge applies every check it applies at the terminal (at a
    start or resume also the certificate ``by``'s own role on the permit requires) and refuses
    with every failing reason code (``CMD_REFUSED``, detail lists the codes)."""

    permit_id: str
    by: str = Field(min_length=1, description="worker id of the person who confirmed")


class PermitStart(PermitCycleCommand):
    """The work leader starts the permit (needs a passing gas test ≤ 30 min old, GB 30871)."""

    model_config = _cycle_example({})


class PermitFinish(PermitCycleCommand):
    """The work leader declares the work finished (完工)."""

    model_config = _cycle_example({})


class PermitClose(PermitCycleCommand):
    """Acceptance and close. Everyone must be out; a permit with a guardian needs the
    guardian's everyone-out check, at the terminal or as ``everyone_out_by`` here."""

    model_config = _cycle_example({"everyone_out_by": "G01"})

    everyone_out_by: str | None = Field(
        default=None, description="the guardian who confirmed everyone is out (on the phone)"
    )


COMMAND_BODIES: dict[str, type[CommandBody]] = {
    "permit_issue": PermitIssue,
    "permit_update": PermitIssue,
    "permit_revoke": PermitRevoke,
    "permit_resume": PermitResume,
    "roster_update": RosterUpdate,
    "certificate_update": CertificateUpdate,
    "badge_unlock": BadgeUnlock,
    "alarm_acknowledge": AlarmAcknowledge,
    "journal_replay": JournalReplay,
    "gas_test_record": GasTestRecord,
    "permit_start": PermitStart,
    "permit_finish": PermitFinish,
    "permit_close": PermitClose,
}


def doc_key(type_: str, body: CommandBody) -> str:
    """The document a command changes; its version must grow per document."""
    if isinstance(body, PermitIssue):
        return f"permit/{body.permit.permit_id}"
    if isinstance(body, PermitRevoke | PermitResume):
        return f"permit/{body.permit_id}"
    if isinstance(body, CertificateUpdate):
        return f"certificates/{body.worker_id}"
    if isinstance(body, BadgeUnlock):
        return f"unlock/{body.worker_id}"
    if isinstance(body, AlarmAcknowledge):
        return "alarms"
    if isinstance(body, JournalReplay):
        return "replay"
    if isinstance(body, PermitCycleCommand):
        # Separate from permit/{id}: a permit's document version is its issue version.
        return f"permit_cycle/{body.permit_id}"
    if isinstance(body, GasTestRecord):
        return "gas_tests"
    return "roster"


WIRE_MODELS: dict[str, type[BaseModel]] = {
    "Status": Status,
    "Birth": Birth,
    "PermitState": PermitState,
    "PresenceState": PresenceState,
    "EventMessage": EventMessage,
    "DetailPart": DetailPart,
    "TelemetrySample": TelemetrySample,
    "Reply": Reply,
    "Envelope": Envelope,
    "CentralStatus": CentralStatus,
    **{f"cmd.{name}": model for name, model in COMMAND_BODIES.items()},
}


def event_message_schema() -> dict[str, Any]:
    """The JSON Schema of ``EventMessage`` with ``payload`` typed by ``type``.

    pydantic sees ``payload`` as an open object (the model picks the payload model in a
    validator); central's validator needs it spelled out, so one ``if type == X then payload is
    PAYLOADS[X]`` clause per type is added, with every payload model under ``$defs``.
    """
    schema = EventMessage.model_json_schema()
    models = sorted(set(PAYLOADS.values()), key=lambda m: m.__name__)
    _, extra = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/$defs/{model}"
    )
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    for name, sub in extra.get("$defs", {}).items():
        if name in defs and defs[name] != sub:
            raise ValueError(f"two different schemas named {name}")
        defs[name] = sub
    schema["allOf"] = [
        {
            # Not for a summarised event (``detail`` set): its payload is a summary.
            "if": {
                "properties": {"type": {"const": t.value}, "detail": {"type": "null"}},
                "required": ["type"],
            },
            "then": {
                "properties": {
                    "kind": {"const": KIND_OF[t].value},
                    "payload": {"$ref": f"#/$defs/{PAYLOADS[t].__name__}"},
                }
            },
        }
        for t in EventType
    ]
    return schema


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema shipped in docs/mqtt/schemas/ for one wire model."""
    if name == "EventMessage":
        return event_message_schema()
    return WIRE_MODELS[name].model_json_schema()


def schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every wire model, by name."""
    return {name: json_schema(name) for name in WIRE_MODELS}
