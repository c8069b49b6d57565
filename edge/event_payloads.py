"""The payload model of every event type: what central may rely on in ``payload``.

Each ``EventType`` has exactly one model here (``PAYLOADS``). The models are strict (unknown
fields are an error), so the JSON Schema generated from them in docs/mqtt/ says exactly what a
message holds; a test validates every message a full demo run publishes against it, and
docs/mqtt/events.md shows one real example per type taken from a test run.

The journal does not validate payloads when it appends (an alarm must never be lost to a
schema mistake); the tests do. Nested parts that are open by nature (a verdict's ``details``
as given by the exposure engine, a suspension's evidence) are typed where their shape is fixed
and described where it is not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from edge.models import (
    KIND_OF,
    Decision,
    EventKind,
    EventType,
    GasTest,
    Model,
    Permit,
    PermitStatus,
    Zone,
)
from edge.permits import Actor


class Payload(Model):
    """Base of every event payload: strict, immutable."""


class ZonePayload(Payload):
    """Alerts, faults and system notes of the zone controller name their zone."""

    zone_id: str


# ------------------------------------------------------------------------- shared parts


class InsideEntry(Model):
    """One person inside the zone (presence), as in the snapshot and the retained presence."""

    worker_id: str
    name: str | None = None
    permit_id: str | None = None
    role: str | None = Field(default=None, description="Role of the worker on that permit")
    since: str | None = Field(default=None, description="ISO 8601 instant of entry")


class AlarmState(Model):
    """One gas alarm of the exposure engine (latched until acknowledged and clear)."""

    sensor_id: str
    gas: str
    channel: str = Field(description="limit crossed: high, stel, twa, o2_low, over_range, low...")
    value: float = Field(description="value that raised it, in ``unit``")
    threshold: float
    unit: str
    since: str = Field(description="ISO 8601 instant the alarm was raised")
    active: bool = Field(description="the air is still past the limit")
    acknowledged: bool
    peak: float = Field(description="worst value seen during the alarm, in ``unit``")
    acknowledged_by: str | None = Field(default=None, description="only in acknowledgements")
    restored: bool = Field(
        default=False, description="reinstated from the stores after a restart (issue 12.10)"
    )


class SensorProblem(Model):
    """A sensor that cannot vouch for the air (stale, fault, warming up, ...)."""

    sensor_id: str
    reason: str = Field(description="reason code, e.g. SENSOR_STALE")


class GasWarning(Model):
    """A low (pre-)alarm: shown, never a suspension."""

    sensor_id: str
    gas: str
    channel: str
    value: float
    threshold: float | None
    unit: str


class GpsPosition(Model):
    """A GPS position as the geofence saw it (WGS 84 degrees; ``eph_m`` metres, 95 %)."""

    lat: float | None
    lon: float | None
    eph_m: float | None
    mode: int = Field(description="gpsd fix mode: 0/1 none, 2 = 2D, 3 = 3D")


class NamedWorker(Model):
    """A worker as an alert names them (either may be unknown)."""

    worker_id: str | None
    name: str | None


# ------------------------------------------------------------------------- permits


class PermitChange(Payload):
    """A permit changed state (or was issued / updated / recovered); ``permit`` is the new state."""

    permit_id: str
    from_: PermitStatus | None = Field(alias="from", description="status before; None if new")
    to: PermitStatus
    action: str = Field(description="issued, updated, start, suspend, ... recover")
    actor: Actor
    reason: str = ""
    evidence: dict[str, Any] = Field(
        default_factory=dict,
        description="what the decision rested on: gas_test_id on start/resume; the air "
        "verdict's details on a gas suspension; guardian and entrants when a guardian left",
    )
    permit: Permit


# ------------------------------------------------------------------------- alerts


class AirDetails(Model):
    """What the exposure engine says about the air beside its verdict (all parts optional)."""

    gas: str | None = Field(default=None, description="the worst active alarm's gas")
    value: float | None = Field(default=None, description="its value, in ``unit``")
    threshold: float | None = None
    unit: str | None = None
    channel: str | None = None
    sensor_id: str | None = Field(default=None, description="worst alarm's or first bad sensor")
    alarms: list[AlarmState] = Field(default_factory=list)
    sensors: list[SensorProblem] = Field(default_factory=list)
    warnings: list[GasWarning] = Field(default_factory=list)


class AirAlarm(AirDetails):
    """Unsafe air (``gas_alarm``) or lost monitoring (``monitoring_lost``) and what it did."""

    zone_id: str
    reasons: list[str] = Field(description="reason codes, e.g. GAS_UNSAFE, SENSOR_STALE")
    suspended_permits: list[str]
    inside: list[InsideEntry] = Field(description="who was inside when it happened")


class GasAlarmRestored(AirAlarm):
    """An alarm reinstated from the stores after a restart: the same episode, announced again
    with the time it was raised (not a fresh ``gas_alarm``)."""

    since: str = Field(description="ISO 8601 instant the alarm was first raised")


class GasAlarmCleared(ZonePayload):
    """The air is back inside every limit (alarms may stay latched until acknowledged)."""

    latched: bool = Field(description="alarms still latched (awaiting acknowledgement)")


class GasAlarmAcknowledged(ZonePayload):
    """A person acknowledged the latched gas alarms (permits stay suspended)."""

    actor: str
    alarms: list[AlarmState]


class ProxyAttempt(ZonePayload):
    """Repeated face mismatches on one badge (代签): the badge is locked."""

    reason: str
    badge_owner: NamedWorker
    seen: NamedWorker = Field(description="who the camera recognised, if anyone")
    mismatches: int
    window_s: float
    locked: bool


class GuardianAbsent(ZonePayload):
    """The last guardian of an active permit left while entrants are inside (§4.10f)."""

    permit_id: str
    guardian: str
    inside: list[InsideEntry]


class ClockUntrusted(ZonePayload):
    """The wall clock lost its trust (NTP and GPS both gone) while work was under way.

    Raised once per episode, within one judgement tick (``daemon.expiry_check_s``). Until
    trust returns, no start or resume is accepted and the interlock relay is released; permit
    validity is carried forward by the monotonic clock from ``last_trusted`` for at most
    ``carry_max_h`` hours, after which every permit counts as outside its window (DESIGN
    invariant 8, issue 17 item 10).
    """

    source: str = Field(description="trust source now, e.g. none")
    last_trusted: str | None = Field(description="ISO 8601 last instant the clock was trusted")
    carried_until: str | None = Field(
        description="ISO 8601 instant after which validity can no longer be carried forward"
    )
    carry_max_h: float = Field(description="hours validity is carried by the monotonic clock")
    active_permits: list[str] = Field(description="permits active when trust was lost")
    inside: list[InsideEntry]


class CertificateLapsed(Model):
    """One failing certificate check of a person inside."""

    permit_id: str
    reason: str = Field(
        description="CERT_EXPIRED, CERT_REVIEW_OVERDUE, CERT_MISSING, CERT_WRONG_CATEGORY or "
        "CERT_NOT_YET_VALID"
    )
    required: str | None = Field(description="certificate category or operation item required")


class CertificateLapsedInside(ZonePayload):
    """A person inside no longer holds the certificate their role on a live permit requires
    (expired, or its 3-yearly review overdue, while they work: 令第30号 Art. 19-21, GB 30871
    §4.9). Raised once per person and episode; the person may not stay (the judgement says so
    and a resume of their permit is refused until they leave or the record is renewed)."""

    worker_id: str
    name: str | None = None
    lapsed: list[CertificateLapsed]
    inside: list[InsideEntry]


class AlertEnded(ZonePayload):
    """An episode of a judgement alert (``clock_untrusted``, ``certificate_lapsed_inside``)
    ended, so central can close it: said once, at the first judgement tick after it ended
    (``daemon.expiry_check_s``). A later episode of the same alert is a new alert."""

    alert: str = Field(description="the alert's type: clock_untrusted or certificate_lapsed_inside")
    worker_id: str | None = Field(
        default=None, description="the person, for certificate_lapsed_inside"
    )
    why: str = Field(
        description="clock_trusted (NTP or GPS time back), no_work (no active permit and nobody "
        "inside any more), left_zone (the person badged out or was checked out) or "
        "certificate_valid (the record was renewed or the permit needing it ended)"
    )
    inside: list[InsideEntry]


class UnpermittedWorkSuspected(ZonePayload):
    """Fume or particulates rose while no permit was active."""

    reason: str
    gas: str
    value: float
    unit: str
    threshold: float
    channel: str
    sensor_id: str
    source_ts: str = Field(description="ISO 8601 instant the sensor measured it")
    inside: list[InsideEntry]


class FenceChange(ZonePayload):
    """The terminal's position entered or left the geofence (with hysteresis and dwell)."""

    from_: str = Field(alias="from", description="fence state before: inside, outside, unknown")
    fence: str = Field(description="polygon or circle")
    signed_distance_m: float = Field(description="metres; negative inside the fence")
    band_m: float = Field(description="hysteresis band used, metres")
    samples: int
    position: GpsPosition


class TerminalMoved(FenceChange):
    """The terminal left its geofence: it may have been carried off site."""

    reason: str


class StorageFailed(ZonePayload):
    """A store refused a write (disk full, I/O error): the zone acts on memory meanwhile."""

    error: str
    what: str = Field(description="what could not be persisted, e.g. gas suspension, badge-in")


class StorageRecovered(ZonePayload):
    """Everything held in memory reached the stores again."""

    failing_since: str | None = Field(description="ISO 8601 instant the failure began")


class JournalReset(Payload):
    """A new journal started on purpose by ``zonegate reset-store journal``."""

    set_aside: list[str] = Field(description="files kept aside, never deleted")
    by: str


class DiskLow(ZonePayload):
    """Free space under ``storage.warn_free_mb`` (MB) where the state lives."""

    free_mb: int
    path: str


# ------------------------------------------------------------------------- gas tests, access


class GasTestRecorded(Payload):
    """A gas test (portable or fixed sensors) was stored for the zone."""

    actor: str
    test: GasTest


class WorkerUnlocked(Payload):
    """A badge lock was lifted (``was_locked`` False: there was none)."""

    worker_id: str
    actor: str
    was_locked: bool


# ------------------------------------------------------------------------- commands


class CommandOutcome(Payload):
    """A signed command was accepted or rejected (the reply carries the same)."""

    command: str = Field(description="the cmd topic's {name}")
    type: str | None = Field(description="the envelope's type; None if unreadable")
    doc_key: str | None
    doc_version: int | None
    detail: str
    reason: str | None = Field(default=None, description="rejection code (rejected only)")
    size: int | None = Field(default=None, description="bytes received (rejected only)")


class RosterUpdated(Payload):
    """Roster entries were added or replaced (worker ids)."""

    actor: str
    workers: list[str]


class WorkerRemoved(Payload):
    """A worker left the roster; their biometric data was erased."""

    actor: str
    worker_id: str
    found: bool


# ------------------------------------------------------------------------- faults


class GasMonitoringChanged(ZonePayload):
    """Which sensors cannot vouch for the air changed (stale, fault, warming up)."""

    monitoring_ok: bool
    sensors: list[SensorProblem]


class GasAdapterCrashed(ZonePayload):
    """A gas adapter failed and is being restarted (its sensors read as stale)."""

    adapter: str
    error: str


class GpsSuspect(ZonePayload):
    """A fix the geofence distrusts: time going backwards or a jump no vehicle makes."""

    kind: str = Field(description="time_backwards, position_jump or clock_mismatch")
    back_s: float | None = Field(default=None, description="time_backwards: seconds back")
    position: GpsPosition | None = None
    distance_m: float | None = None
    off_prediction_m: float | None = None
    allowed_m: float | None = None
    dt_s: float | None = None
    implied_speed_mps: float | None = None
    reported_speed_mps: float | None = None
    gps_time_consistent: bool | None = None
    offset_s: float | None = Field(
        default=None, description="clock_mismatch: synchronised clock minus GPS time, seconds"
    )
    allowed_s: float | None = Field(
        default=None, description="clock_mismatch: gps.position_time_bound_s"
    )
    from_: GpsPosition | None = Field(default=None, alias="from")
    to: GpsPosition | None = None


class GpsPositionLost(ZonePayload):
    """No valid fix for ``gps.no_fix_after_s``: the position is unknown."""

    from_: str = Field(alias="from", description="fence state before the loss")
    fix_age_s: float


class GpsClockMismatch(ZonePayload):
    """GPS time and the system clock disagree by more than ``bound_s``."""

    gps_time: str = Field(description="ISO 8601 time of the fix")
    offset_s: float = Field(description="system clock minus GPS time, seconds")
    bound_s: float


class ErrorOnly(ZonePayload):
    """A capability could not start (``outputs_unavailable``: no GPIO)."""

    error: str


class ServiceFailed(ZonePayload):
    """A daemon service raised; the supervisor restarts it with backoff."""

    service: str
    error: str


# ------------------------------------------------------------------------- system


class TelemetryDropped(Payload):
    """The oldest undelivered telemetry was dropped over the backlog bound."""

    dropped: int = Field(description="telemetry rows dropped, oldest first")
    max_backlog: int
    policy: str


class PublishRefused(Payload):
    """The broker refused an event (MQTT 5 PUBACK failure, or larger than its maximum)."""

    event_id: str = Field(description="the refused event")
    type: str = Field(description="its type")
    reason_code: int | None = Field(description="MQTT 5 reason code; None when not sent")
    error: str
    action: str = Field(description="what the outbox does about it")


class DaemonStarted(Payload):
    """The daemon started (a new ``boot_id`` and ``seq`` from 1)."""

    version: str
    device_id: str
    config_sha256: str = Field(description="first 16 hex of the effective config's SHA-256")
    recovered_permits: list[str] = Field(description="permit events appended by reconcile")
    clock: str = Field(description="clock trust source at start")


class DaemonStopped(Payload):
    """The daemon stopped cleanly."""

    version: str


# ------------------------------------------------------------------------- telemetry


class TelemetryChannel(Model):
    """One gas of one sensor over one interval: min / max / last of ``count`` readings.

    ``value`` is the last value (the one a dashboard shows). ``fault`` is set when the last
    frame of the interval was a fault (``fault``) or carried no value (``no_value``); then
    ``value`` is None while ``min``/``max`` keep what was measured before it.
    """

    unit: str
    value: float | None = Field(description="last value in the interval, in ``unit``")
    min: float | None
    max: float | None
    count: int = Field(ge=0, description="readings aggregated")
    start: datetime = Field(description="first reading's receive time")
    end: datetime = Field(description="last reading's receive time")
    fault: str | None = None
    warming_up: bool = False


class SensorReading(TelemetryChannel):
    """The journaled history of one sensor's gas: one event per ``journal_interval_s``."""

    sensor_id: str
    gas: str
    interval_s: float = Field(gt=0, description="the aggregation interval, seconds")


# ------------------------------------------------------------------------- the snapshot


class AirSnapshot(Model):
    """The air verdict as the snapshot shows it."""

    safe: bool = Field(description="no gas alarm is active")
    monitoring_ok: bool = Field(description="every judged sensor reports, fresh and sound")
    latched: bool = Field(description="an alarm awaits acknowledgement")
    reasons: list[str]
    details: AirDetails


class PositionSnapshot(Model):
    """The position verdict as the snapshot shows it."""

    ok: bool
    reason: str | None
    position: dict[str, float | None] | None = Field(
        description="lat, lon (degrees), error_m (metres) of the last trusted fix"
    )


class ClockSnapshot(Model):
    """Whether the wall clock is trusted, and by what."""

    trusted: bool
    source: str = Field(description="ntp, gps, rtc, none ...")


class Snapshot(Model):
    """The zone as it stands (``ZoneController.snapshot``): what the retained birth carries."""

    zone: Zone
    permits: list[Permit]
    presence: list[InsideEntry]
    locked: list[str] = Field(description="worker ids whose badge is locked")
    air: AirSnapshot
    position: PositionSnapshot
    clock: ClockSnapshot
    light: str | None = Field(description="stack light shown: red, amber, green; None at start")
    health: dict[str, dict[str, Any]] = Field(description="per-service health, open by service")


# ------------------------------------------------------------------------- the work cycle


class PermitActionRefused(Payload):
    """A person's permit action (start, break, resume, finish, everyone_out, close, gas_test)
    was refused; ``reasons`` lists EVERY failing check (edge.work_cycle)."""

    action: str
    permit_id: str | None
    worker_id: str | None
    via: str = Field(description="terminal or central")
    reasons: list[str] = Field(description="reason codes (edge.reasons), all that failed")
    evidence: dict[str, Any] = Field(default_factory=dict, description="rule, badge, identity")


class TerminalArmed(ZonePayload):
    """The operator API armed the terminal: the next badge tap does ``action``."""

    action: str
    permit_id: str | None


class MonitoringWait(ZonePayload):
    """After a restart, lost gas monitoring is a bounded wait (MONITORING_RESUMING)."""

    reason: str
    sensor_reasons: list[str]
    grace_left_s: float


class MonitoringWaitEnded(ZonePayload):
    """The wait after a restart ended: monitoring up, air unsafe, or the grace over."""

    monitoring_ok: bool
    safe: bool
    reasons: list[str]


PAYLOADS: dict[EventType, type[Model]] = {
    # Every permit-kind event is a state change of one permit (edge.models' kind table).
    **dict.fromkeys((t for t, k in KIND_OF.items() if k is EventKind.PERMIT), PermitChange),
    EventType.PERMIT_ACTION_REFUSED: PermitActionRefused,
    EventType.TERMINAL_ARMED: TerminalArmed,
    EventType.MONITORING_WAIT: MonitoringWait,
    EventType.MONITORING_WAIT_ENDED: MonitoringWaitEnded,
    EventType.GAS_ALARM: AirAlarm,
    EventType.MONITORING_LOST: AirAlarm,
    EventType.GAS_ALARM_CLEARED: GasAlarmCleared,
    EventType.GAS_ALARM_ACKNOWLEDGED: GasAlarmAcknowledged,
    EventType.PROXY_ATTEMPT: ProxyAttempt,
    EventType.GUARDIAN_ABSENT: GuardianAbsent,
    EventType.UNPERMITTED_WORK_SUSPECTED: UnpermittedWorkSuspected,
    EventType.TERMINAL_MOVED: TerminalMoved,
    EventType.DISK_LOW: DiskLow,
    EventType.STORAGE_FAILED: StorageFailed,
    EventType.GAS_ALARM_RESTORED: GasAlarmRestored,
    EventType.CLOCK_UNTRUSTED: ClockUntrusted,
    EventType.CERTIFICATE_LAPSED_INSIDE: CertificateLapsedInside,
    EventType.ALERT_ENDED: AlertEnded,
    EventType.STORAGE_RECOVERED: StorageRecovered,
    EventType.JOURNAL_RESET: JournalReset,
    EventType.GAS_TEST_RECORDED: GasTestRecorded,
    EventType.ACCESS_DECISION: Decision,
    EventType.WORKER_UNLOCKED: WorkerUnlocked,
    EventType.COMMAND_ACCEPTED: CommandOutcome,
    EventType.COMMAND_REJECTED: CommandOutcome,
    EventType.ROSTER_UPDATED: RosterUpdated,
    EventType.WORKER_REMOVED: WorkerRemoved,
    EventType.GAS_MONITORING_CHANGED: GasMonitoringChanged,
    EventType.GAS_ADAPTER_CRASHED: GasAdapterCrashed,
    EventType.GPS_SUSPECT: GpsSuspect,
    EventType.GPS_POSITION_LOST: GpsPositionLost,
    EventType.GPS_CLOCK_MISMATCH: GpsClockMismatch,
    EventType.OUTPUTS_UNAVAILABLE: ErrorOnly,
    EventType.SERVICE_FAILED: ServiceFailed,
    EventType.GEOFENCE_ENTER: FenceChange,
    EventType.GEOFENCE_EXIT: FenceChange,
    EventType.TELEMETRY_DROPPED: TelemetryDropped,
    EventType.PUBLISH_REFUSED: PublishRefused,
    EventType.DAEMON_STARTED: DaemonStarted,
    EventType.DAEMON_STOPPED: DaemonStopped,
    EventType.READING: SensorReading,
}


def validate_payload(type_: EventType | str, payload: dict[str, Any]) -> Model:
    """The payload as its type's model; raises ``ValueError`` for an unknown type and
    ``pydantic.ValidationError`` for a payload that does not fit (unknown field included)."""
    return PAYLOADS[EventType(type_)].model_validate(payload)
