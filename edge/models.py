"""Domain models of a hazardous-work zone (pydantic v2).

These are the shapes the edge reasons about. Wire formats live in ``cloud_sync.payloads`` and
``firmware_adapters``; nothing here knows a byte layout or a topic.
Sources for categories, levels and validity: ../shared/reference/safety-rules.md (GB 30871-2022,
原国家安监总局令第30号).
"""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edge.cert_catalogue import CERT_CATEGORY_ZH as CERT_CATEGORY_ZH
from edge.cert_catalogue import CertCategory as CertCategory
from edge.cert_catalogue import OperationItem as OperationItem
from edge.cert_catalogue import category_of, kind_label
from edge.combustibles import combustible
from edge.reasons import ReasonCode
from firmware_adapters.bilingual import BilingualValueError
from firmware_adapters.readings import Fix as Fix
from firmware_adapters.readings import Reading as Reading


class Model(BaseModel):
    """Strict base: unknown fields are an error, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------
# Work kinds, levels, certificates


class WorkKind(StrEnum):
    """The eight special-work categories of GB 30871-2022 §3 (value = GB form code)."""

    HOT_WORK = "DHZY"  # 动火
    CONFINED_SPACE = "YXKJ"  # 受限空间
    BLIND_PLATE = "MBCD"  # 盲板抽堵
    HEIGHT = "GCZY"  # 高处
    LIFTING = "DZZY"  # 吊装
    TEMP_POWER = "LSYD"  # 临时用电
    EXCAVATION = "DTZY"  # 动土
    ROAD_BREAK = "DLZY"  # 断路


WORK_KIND_ZH: dict[WorkKind, str] = {
    WorkKind.HOT_WORK: "动火作业",
    WorkKind.CONFINED_SPACE: "受限空间作业",
    WorkKind.BLIND_PLATE: "盲板抽堵作业",
    WorkKind.HEIGHT: "高处作业",
    WorkKind.LIFTING: "吊装作业",
    WorkKind.TEMP_POWER: "临时用电作业",
    WorkKind.EXCAVATION: "动土作业",
    WorkKind.ROAD_BREAK: "断路作业",
}


class PermitLevel(StrEnum):
    """Levels where GB 30871 defines them; ``NONE`` for categories without levels."""

    HOT_SPECIAL = "hot_special"  # 特级动火
    HOT_1 = "hot_1"  # 一级动火
    HOT_2 = "hot_2"  # 二级动火
    HEIGHT_I = "height_1"  # 2-5 m
    HEIGHT_II = "height_2"  # 5-15 m
    HEIGHT_III = "height_3"  # 15-30 m
    HEIGHT_IV = "height_4"  # > 30 m
    LIFT_1 = "lift_1"  # > 100 t
    LIFT_2 = "lift_2"  # 40-100 t
    LIFT_3 = "lift_3"  # < 40 t
    NONE = "none"


LEVELS_BY_KIND: dict[WorkKind, frozenset[PermitLevel]] = {
    WorkKind.HOT_WORK: frozenset({PermitLevel.HOT_SPECIAL, PermitLevel.HOT_1, PermitLevel.HOT_2}),
    WorkKind.HEIGHT: frozenset(
        {PermitLevel.HEIGHT_I, PermitLevel.HEIGHT_II, PermitLevel.HEIGHT_III, PermitLevel.HEIGHT_IV}
    ),
    WorkKind.LIFTING: frozenset({PermitLevel.LIFT_1, PermitLevel.LIFT_2, PermitLevel.LIFT_3}),
}

# GB 30871-2022 §5.1.5, §6.10, §8, §10.8. None = the standard sets no limit.
MAX_VALIDITY: dict[tuple[WorkKind, PermitLevel], timedelta] = {
    (WorkKind.HOT_WORK, PermitLevel.HOT_SPECIAL): timedelta(hours=8),
    (WorkKind.HOT_WORK, PermitLevel.HOT_1): timedelta(hours=8),
    (WorkKind.HOT_WORK, PermitLevel.HOT_2): timedelta(hours=72),
    (WorkKind.CONFINED_SPACE, PermitLevel.NONE): timedelta(hours=24),
    **{(WorkKind.HEIGHT, lvl): timedelta(days=7) for lvl in LEVELS_BY_KIND[WorkKind.HEIGHT]},
    (WorkKind.TEMP_POWER, PermitLevel.NONE): timedelta(days=30),  # normally 15, never > 30
}

# Re-test after a break longer than this (GB 30871 §5.3.1, §6.3f).
RETEST_AFTER_BREAK: dict[tuple[WorkKind, PermitLevel], timedelta] = {
    (WorkKind.HOT_WORK, PermitLevel.HOT_SPECIAL): timedelta(minutes=30),
    (WorkKind.HOT_WORK, PermitLevel.HOT_1): timedelta(minutes=30),
    (WorkKind.HOT_WORK, PermitLevel.HOT_2): timedelta(minutes=60),
    (WorkKind.CONFINED_SPACE, PermitLevel.NONE): timedelta(minutes=60),
}


# Toxics a gas test can be judged on at the edge: ``edge.floors.TOXIC_PASS_PPM`` gives each its
# GBZ 2.1 pass limit (built from this set, so a zone can require only what can be judged).
JUDGED_TOXICS = frozenset({"co", "h2s", "no2", "so2"})


CERT_VALIDITY_YEARS = 6
CERT_REVIEW_YEARS = 3


class Certificate(Model):
    """A special-operation certificate (特种作业操作证)."""

    number: str = Field(min_length=4, max_length=40, description="certificate number")
    category: CertCategory
    operation_item: OperationItem | None = Field(
        default=None,
        description="操作项目 of the national catalogue (edge.cert_catalogue); None when the "
        "sheet named only the category",
    )
    issuing_authority: str = Field(min_length=1, description="发证机关")
    valid_from: date
    valid_to: date
    next_review: date | None = Field(default=None, description="next 3-yearly review (复审) date")

    @model_validator(mode="after")
    def _window(self) -> Certificate:
        if self.operation_item is not None and category_of(self.operation_item) != self.category:
            raise BilingualValueError(
                f"operation item {self.operation_item.value} is not in category "
                f"{self.category.value}",
                f"操作项目 {kind_label(self.operation_item)} 不属于作业类别 "
                f"{kind_label(self.category)}",
            )
        if self.valid_to <= self.valid_from:
            raise BilingualValueError(
                "valid_to must be after valid_from",
                "有效期止（valid_to）应晚于有效期起（valid_from）",
            )
        if self.valid_to > _add_years(self.valid_from, CERT_VALIDITY_YEARS) + timedelta(days=1):
            raise BilingualValueError(
                f"a certificate is valid {CERT_VALIDITY_YEARS} years at most",
                f"特种作业操作证有效期最长 {CERT_VALIDITY_YEARS} 年",
            )
        return self


def _span_zh(span: timedelta) -> str:
    # "8 小时", "7 天", "30 分钟": a validity limit as a technician reads it.
    minutes = int(span.total_seconds()) // 60
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)} 天"
    if minutes % 60 == 0:
        return f"{minutes // 60} 小时"
    return f"{minutes} 分钟"


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


class SiteRole(StrEnum):
    """A standing role from the roster, independent of any permit."""

    SAFETY_OFFICER = "safety_officer"  # 安全员: authorises a resume after a suspension
    ANALYST = "analyst"  # 分析人: may take gas tests for any permit of the zone


class Worker(Model):
    """A roster entry: who may badge in, with which badges and certificates."""

    worker_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    badge_ids: tuple[str, ...] = Field(
        default=(), description="card / QR ids that name this worker"
    )
    certificates: tuple[Certificate, ...] = ()
    employer: str | None = None
    site_roles: tuple[SiteRole, ...] = Field(
        default=(), description="standing roles: safety_officer (resume), analyst (gas tests)"
    )
    version: int = Field(default=0, ge=0, description="roster document version from central")


# --------------------------------------------------------------------------------------------
# Zone geometry


class LatLon(Model):
    """A WGS 84 position in degrees."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)

    @field_validator("lat", "lon")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise BilingualValueError("coordinate must be finite", "坐标应为有限数字")
        return v


class CircleFence(Model):
    """A geofence: a circle of ``radius_m`` metres around ``center``."""

    type: Literal["circle"] = "circle"
    center: LatLon
    radius_m: float = Field(gt=0, le=100_000)


class PolygonFence(Model):
    """A geofence: a polygon (WGS 84 vertices, at least three)."""

    type: Literal["polygon"] = "polygon"
    points: tuple[LatLon, ...] = Field(min_length=3)


class CorridorFence(Model):
    """A geofence: a polyline widened by ``half_width_m`` metres on each side."""

    type: Literal["corridor"] = "corridor"
    points: tuple[LatLon, ...] = Field(min_length=2, description="polyline vertices")
    half_width_m: float = Field(gt=0, le=10_000)


Geofence = Annotated[CircleFence | PolygonFence | CorridorFence, Field(discriminator="type")]


class TargetGas(Model):
    """The combustible a zone is judged against (GB 30871 §5.3.2 needs its LEL)."""

    name: str = Field(default="methane")
    lel_vol_percent: float = Field(default=5.0, gt=0, le=100)

    @model_validator(mode="after")
    def _lel_of_a_known_gas(self) -> TargetGas:
        # A wrong LEL moves every %LEL -> % vol conversion and the §5.3.2 criterion itself: 0.5
        # for methane (the fraction typed for the percent) passes 30 %LEL as 0.15 % vol.
        gas = combustible(self.name)
        if gas is not None and not gas.accepts(self.lel_vol_percent):
            raise BilingualValueError(
                f"lel_vol_percent {self.lel_vol_percent:g} is not the LEL of {gas.name} "
                f"({gas.span()} % vol, NIOSH / IEC 60079-20-1): every %LEL reading and the "
                "GB 30871 §5.3.2 pass criterion depend on it; give the published value",
                f"lel_vol_percent {self.lel_vol_percent:g} 不是{gas.zh}（{gas.name}）的爆炸下限"
                f"（{gas.span()} % vol，NIOSH / IEC 60079-20-1）：所有 %LEL 读数的换算和 "
                "GB 30871 §5.3.2 的合格标准都取决于它；请填写公布值",
            )
        return self

    @property
    def pass_limit_vol_percent(self) -> float:
        """GB 30871 §5.3.2: ≤ 0.5 % vol if LEL ≥ 4 %, ≤ 0.2 % vol if LEL < 4 %."""
        return 0.5 if self.lel_vol_percent >= 4.0 else 0.2


class Zone(Model):
    """A hazardous-work zone: its ids, the work kinds allowed, its fence and target gas."""

    site: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    zone_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    name: str = ""
    geofence: Geofence | None = None
    work_kinds: tuple[WorkKind, ...] = Field(min_length=1)
    target_gas: TargetGas = TargetGas()
    oxygen_enriched: bool = Field(
        default=False, description="equipment that makes or stores O2: upper O2 bound 23.5 %"
    )
    confined_space_toxics: tuple[str, ...] = Field(
        default=(),
        description="toxic gases every confined-space gas test here must measure, besides O2 "
        "and the combustible (GB 30871 §6.4: toxics within GBZ 2.1), e.g. [h2s, co]; one of "
        + ", ".join(sorted(JUDGED_TOXICS)),
    )

    @field_validator("confined_space_toxics")
    @classmethod
    def _judged_toxics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # A required gas the gateway cannot judge against a pass limit would make every test
        # "incomplete" or, worse, be measured and never compared: refuse it at check-config.
        names = tuple(dict.fromkeys(v.strip().lower() for v in value))
        unknown = [n for n in names if n not in JUDGED_TOXICS]
        if unknown:
            raise BilingualValueError(
                f"no GBZ 2.1 pass limit for {', '.join(unknown)}: use "
                + ", ".join(sorted(JUDGED_TOXICS)),
                f"{'、'.join(unknown)} 在 GBZ 2.1 中没有可判定的合格限值：可用 "
                + "、".join(sorted(JUDGED_TOXICS)),
            )
        return names


# --------------------------------------------------------------------------------------------
# Permits


class Role(StrEnum):
    """A person's role on one permit (GB 30871 §3, form A.1 signatures)."""

    OPERATOR = "operator"  # 作业人员
    GUARDIAN = "guardian"  # 监护人: stays outside, checks everyone out before close
    LEADER = "leader"  # 作业负责人: confirms start and finish, declares breaks
    ANALYST = "analyst"  # 分析人: takes gas tests for this permit


class PermitMember(Model):
    """A worker named on a permit, with their role and the certificate the role needs."""

    worker_id: str
    role: Role
    required_cert: CertCategory | OperationItem | None = Field(
        default=None,
        description="certificate this role requires on this permit: a category (any of its "
        "operation items meets it) or one operation item (only that item meets it)",
    )


class GasRequirement(Model):
    """What gas testing a permit needs (GB 30871 §5.3): whether, how recent, re-tests."""

    test_required: bool = True
    max_test_age: timedelta = Field(default=timedelta(minutes=30), description="test-to-start gap")
    retest_after_break: timedelta | None = None
    continuous_monitoring: bool = False


class PermitStatus(StrEnum):
    """Where a permit stands (edge.permits gives the legal transitions)."""

    APPROVED = "approved"  # issued by central, work not started
    ACTIVE = "active"  # 作业中
    SUSPENDED = "suspended"  # 中止: still live, validity keeps running
    EXPIRED = "expired"
    COMPLETED = "completed"  # 完工
    CLOSED = "closed"
    CANCELLED = "cancelled"
    REVOKED = "revoked"  # 收回


TERMINAL_STATUSES = frozenset(
    {PermitStatus.EXPIRED, PermitStatus.CLOSED, PermitStatus.CANCELLED, PermitStatus.REVOKED}
)
LIVE_STATUSES = frozenset({PermitStatus.APPROVED, PermitStatus.ACTIVE, PermitStatus.SUSPENDED})


class SuspensionCause(StrEnum):
    """Why a permit was suspended; decides what its resume needs."""

    GAS = "gas"  # over-limit air, latched: resume needs a fresh passing test
    MONITORING_LOST = "monitoring_lost"  # stale / faulty sensor where monitoring is required
    GUARDIAN_ABSENT = "guardian_absent"
    MANUAL = "manual"
    LINKED = "linked"  # its parent permit was suspended


class Suspension(Model):
    """When, why and by whom a permit was suspended."""

    at: datetime
    cause: SuspensionCause
    reason: str
    actor: str


class Permit(Model):
    """A work permit as central issues it and the edge runs it (GB 30871-2022).

    ``version`` grows with each update from central; ``status``, ``suspension`` and
    ``activated_at`` are the edge's own and never taken from an update (DESIGN invariant 4).
    """

    permit_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    zone_id: str
    kind: WorkKind
    level: PermitLevel = PermitLevel.NONE
    valid_from: datetime
    valid_to: datetime
    members: tuple[PermitMember, ...] = Field(min_length=1)
    gas: GasRequirement = GasRequirement()
    status: PermitStatus = PermitStatus.APPROVED
    version: int = Field(default=1, ge=1, description="document version from central")
    linked_permit_id: str | None = Field(
        default=None, description="temporary power: the hot-work / confined-space permit it serves"
    )
    suspension: Suspension | None = None
    activated_at: datetime | None = None
    issuer: str = "central"

    @model_validator(mode="after")
    def _rules(self) -> Permit:
        kind_zh = WORK_KIND_ZH[self.kind]
        if self.valid_from.tzinfo is None or self.valid_to.tzinfo is None:
            raise BilingualValueError(
                "validity times must carry a timezone",
                "作业许可证的有效期时间须带时区（如 +08:00）",
            )
        if self.valid_to <= self.valid_from:
            raise BilingualValueError(
                "valid_to must be after valid_from",
                "有效期止（valid_to）应晚于有效期起（valid_from）",
            )
        allowed = LEVELS_BY_KIND.get(self.kind, frozenset({PermitLevel.NONE}))
        if self.level not in allowed:
            raise BilingualValueError(
                f"level {self.level} is not a level of {self.kind.name}",
                f"级别 {self.level} 不是{kind_zh}（{self.kind.value}）的级别",
            )
        limit = MAX_VALIDITY.get((self.kind, self.level))
        if limit is not None and self.valid_to - self.valid_from > limit:
            raise BilingualValueError(
                f"{self.kind.name}/{self.level} is valid {limit} at most (GB 30871)",
                f"{kind_zh}（{self.kind.value}/{self.level}）作业许可证有效期最长 "
                f"{_span_zh(limit)}（GB 30871）",
            )
        ids = [m.worker_id for m in self.members]
        if len(ids) != len(set(ids)):
            raise BilingualValueError(
                "a worker is named twice on the permit", "同一人员在作业许可证上出现了两次"
            )
        if self.kind is WorkKind.CONFINED_SPACE and not any(
            m.role is Role.GUARDIAN for m in self.members
        ):
            raise BilingualValueError(
                "a confined-space permit names a guardian (监护人)",
                "受限空间作业许可证必须指定监护人",
            )
        if (self.status is PermitStatus.SUSPENDED) != (self.suspension is not None):
            raise BilingualValueError(
                "suspension details are present exactly when suspended",
                "仅当作业许可证处于中止状态时才有中止详情（suspension）",
            )
        return self

    def member(self, worker_id: str) -> PermitMember | None:
        """This worker's entry on the permit, or None."""
        return next((m for m in self.members if m.worker_id == worker_id), None)

    @property
    def guardians(self) -> tuple[str, ...]:
        """Worker ids of the permit's guardians (监护人)."""
        return tuple(m.worker_id for m in self.members if m.role is Role.GUARDIAN)

    @property
    def retest_after_break(self) -> timedelta | None:
        """The break after which work needs a re-test: the document may shorten the standard's
        break (GB 30871 §5.3.1d, §6.3f), never lengthen it."""
        floor = RETEST_AFTER_BREAK.get((self.kind, self.level))
        doc = self.gas.retest_after_break
        if doc is None or floor is None:
            return doc or floor
        return min(doc, floor)


# --------------------------------------------------------------------------------------------
# Gas tests, readings, fixes


class GasTestSample(Model):
    """One measured value of a gas analysis."""

    gas: str = Field(min_length=1, max_length=32, description="co, h2s, o2, lel, ch4, no2, ...")
    value: float = Field(allow_inf_nan=False)
    unit: Literal["ppm", "mg/m3", "%vol", "%LEL", "ug/m3"]


class InstrumentKind(StrEnum):
    """What took a gas test's samples."""

    FIXED = "fixed"  # the zone's fixed sensors (one or more channels)
    PORTABLE = "portable"  # a portable detector (GB 15322.3), identified by its id


class GasInstrument(Model):
    """What measured the samples: fixed channels (sensor ids) or one portable detector."""

    kind: InstrumentKind
    instrument_id: str = Field(
        min_length=1, max_length=200, description="portable detector id, or fixed sensor ids"
    )


class GasTestVia(StrEnum):
    """The path a gas test came in by (audit: who could have made it)."""

    FIXED_REQUEST = "fixed_request"  # fixed sensors read fresh on request at the terminal
    TERMINAL = "terminal"  # portable readings entered at the terminal by an analyst
    CENTRAL = "central"  # signed central command gas_test_record
    LEGACY = "legacy"  # recorded before the instrument was part of the record


class GasTest(Model):
    """A gas analysis (气体分析): who, with what, when, where, and every sample.

    ``passed`` and ``failures`` are the EDGE's judgement of the samples at recording time
    (``gateway.gas_tests.judge_gas_test`` until the safety-judgement module owns it), never a
    flag taken from the sender. A test that did not measure what the work kind needs is
    ``passed=False`` with the missing gases in ``failures``.
    """

    test_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    zone_id: str
    taken_at: datetime = Field(description="when the sample was taken (timezone-aware)")
    source: str = Field(description="'fixed:<sensor ids>' or 'portable:<instrument id>'")
    analyst: str = Field(min_length=1, description="worker id (or name) of who took the test")
    samples: tuple[GasTestSample, ...] = Field(min_length=1)
    passed: bool
    failures: tuple[str, ...] = ()
    instrument: GasInstrument | None = Field(
        default=None, description="derived from ``source`` when not given"
    )
    sample_point: str = Field(default="", max_length=200, description="取样点, e.g. 'top'")
    via: GasTestVia = GasTestVia.LEGACY
    permit_id: str | None = Field(default=None, description="the permit it was taken for")
    recorded_at: datetime | None = Field(default=None, description="when the edge recorded it")

    @model_validator(mode="after")
    def _instrument(self) -> GasTest:
        if self.taken_at.tzinfo is None:
            raise BilingualValueError(
                "taken_at must carry a timezone", "气体检测时间 taken_at 须带时区（如 +08:00）"
            )
        if self.instrument is None:
            kind, _, ident = self.source.partition(":")
            inst = GasInstrument(
                kind=InstrumentKind.FIXED if kind == "fixed" else InstrumentKind.PORTABLE,
                instrument_id=ident or self.source or "unknown",
            )
            object.__setattr__(self, "instrument", inst)
        return self

    def gases(self) -> frozenset[str]:
        """The gas names measured (lower case)."""
        return frozenset(s.gas.lower() for s in self.samples)


# --------------------------------------------------------------------------------------------
# Decisions and events


class AccessAction(StrEnum):
    """What a badge tap asked for."""

    BADGE_IN = "badge_in"
    BADGE_OUT = "badge_out"


class Position(Model):
    """Where the terminal stood for a decision (degrees; ``error_m`` metres)."""

    lat: float
    lon: float
    error_m: float | None


class Decision(Model):
    """The outcome of one badge-in or badge-out, as shown to the worker and journaled."""

    action: AccessAction
    allowed: bool
    badge_id: str
    worker_id: str | None
    permit_id: str | None = None
    role: Role | None = None
    reasons: tuple[ReasonCode, ...] = Field(description="why denied; empty when allowed")
    warnings: tuple[ReasonCode, ...] = ()
    message_zh: str
    message_en: str
    position: Position | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class EventKind(StrEnum):
    """The category of an event: decides its topic ``event/{kind}`` and outbox lane."""

    ALERT = "alert"
    ACCESS = "access"
    PERMIT = "permit"
    GAS_TEST = "gas_test"
    FAULT = "fault"
    COMMAND = "command"
    SYSTEM = "system"
    TELEMETRY = "telemetry"


class EventType(StrEnum):
    """What happened: the ``type`` of every journal event and of its MQTT message.

    The values are the wire strings; ``KIND_OF`` gives each type's kind (and so its topic and
    outbox lane). ``edge.event_payloads.PAYLOADS`` gives each type's payload model, and
    docs/mqtt/events.md lists them with a real example each.
    """

    # permit transitions (``permit_<action>``, see edge.permits.Action)
    PERMIT_ISSUED = "permit_issued"
    PERMIT_UPDATED = "permit_updated"
    PERMIT_START = "permit_start"
    PERMIT_SUSPEND = "permit_suspend"
    PERMIT_RESUME = "permit_resume"
    PERMIT_EXPIRE = "permit_expire"
    PERMIT_COMPLETE = "permit_complete"
    PERMIT_CLOSE = "permit_close"
    PERMIT_CANCEL = "permit_cancel"
    PERMIT_REVOKE = "permit_revoke"
    PERMIT_STATE_RECOVERED = "permit_state_recovered"
    PERMIT_BREAK = "permit_break"  # the leader declared a break (state unchanged)
    PERMIT_EVERYONE_OUT = "permit_everyone_out"  # the guardian checked everyone out
    # alerts for the safety officer
    GAS_ALARM = "gas_alarm"
    GAS_ALARM_CLEARED = "gas_alarm_cleared"
    GAS_ALARM_ACKNOWLEDGED = "gas_alarm_acknowledged"
    MONITORING_LOST = "monitoring_lost"
    PROXY_ATTEMPT = "proxy_attempt"
    GUARDIAN_ABSENT = "guardian_absent"
    UNPERMITTED_WORK_SUSPECTED = "unpermitted_work_suspected"
    TERMINAL_MOVED = "TERMINAL_MOVED"  # the reason code's value, kept for existing consumers
    DISK_LOW = "disk_low"
    STORAGE_FAILED = "storage_failed"
    GAS_ALARM_RESTORED = "gas_alarm_restored"
    CLOCK_UNTRUSTED = "clock_untrusted"  # trust lost while work is under way (invariant 8)
    CERTIFICATE_LAPSED_INSIDE = "certificate_lapsed_inside"  # 令第30号, GB 30871 §4.9
    ALERT_ENDED = "alert_ended"  # a clock_untrusted / certificate_lapsed_inside episode ended
    # gas tests
    GAS_TEST_RECORDED = "gas_test_recorded"
    # access
    ACCESS_DECISION = "access_decision"
    WORKER_UNLOCKED = "worker_unlocked"
    PERMIT_ACTION_REFUSED = "permit_action_refused"  # a person's permit action, every reason
    # commands and their effects
    COMMAND_ACCEPTED = "command_accepted"
    COMMAND_REJECTED = "command_rejected"
    ROSTER_UPDATED = "roster_updated"
    WORKER_REMOVED = "worker_removed"
    # faults
    GAS_MONITORING_CHANGED = "gas_monitoring_changed"
    GAS_ADAPTER_CRASHED = "gas_adapter_crashed"
    GPS_SUSPECT = "gps_suspect"
    GPS_POSITION_LOST = "gps_position_lost"
    GPS_CLOCK_MISMATCH = "gps_clock_mismatch"
    OUTPUTS_UNAVAILABLE = "outputs_unavailable"
    SERVICE_FAILED = "service_failed"
    # system notes
    GEOFENCE_ENTER = "geofence_enter"
    GEOFENCE_EXIT = "geofence_exit"
    TELEMETRY_DROPPED = "telemetry_dropped"
    PUBLISH_REFUSED = "publish_refused"
    DAEMON_STARTED = "daemon_started"
    DAEMON_STOPPED = "daemon_stopped"
    TERMINAL_ARMED = "terminal_armed"  # the operator API armed the terminal for an action
    MONITORING_WAIT = "monitoring_wait"  # lost monitoring after a restart: a bounded wait
    MONITORING_WAIT_ENDED = "monitoring_wait_ended"
    STORAGE_RECOVERED = "storage_recovered"
    JOURNAL_RESET = "journal_reset"
    # telemetry
    READING = "reading"


_KINDS: dict[EventKind, tuple[EventType, ...]] = {
    EventKind.PERMIT: (
        EventType.PERMIT_ISSUED,
        EventType.PERMIT_UPDATED,
        EventType.PERMIT_START,
        EventType.PERMIT_SUSPEND,
        EventType.PERMIT_RESUME,
        EventType.PERMIT_EXPIRE,
        EventType.PERMIT_COMPLETE,
        EventType.PERMIT_CLOSE,
        EventType.PERMIT_CANCEL,
        EventType.PERMIT_REVOKE,
        EventType.PERMIT_STATE_RECOVERED,
        EventType.PERMIT_BREAK,
        EventType.PERMIT_EVERYONE_OUT,
    ),
    EventKind.ALERT: (
        EventType.GAS_ALARM,
        EventType.GAS_ALARM_CLEARED,
        EventType.GAS_ALARM_ACKNOWLEDGED,
        EventType.MONITORING_LOST,
        EventType.PROXY_ATTEMPT,
        EventType.GUARDIAN_ABSENT,
        EventType.UNPERMITTED_WORK_SUSPECTED,
        EventType.TERMINAL_MOVED,
        EventType.DISK_LOW,
        EventType.STORAGE_FAILED,
        EventType.GAS_ALARM_RESTORED,
        EventType.CLOCK_UNTRUSTED,
        EventType.CERTIFICATE_LAPSED_INSIDE,
        EventType.ALERT_ENDED,
    ),
    EventKind.GAS_TEST: (EventType.GAS_TEST_RECORDED,),
    EventKind.ACCESS: (
        EventType.ACCESS_DECISION,
        EventType.WORKER_UNLOCKED,
        EventType.PERMIT_ACTION_REFUSED,
    ),
    EventKind.COMMAND: (
        EventType.COMMAND_ACCEPTED,
        EventType.COMMAND_REJECTED,
        EventType.ROSTER_UPDATED,
        EventType.WORKER_REMOVED,
    ),
    EventKind.FAULT: (
        EventType.GAS_MONITORING_CHANGED,
        EventType.GAS_ADAPTER_CRASHED,
        EventType.GPS_SUSPECT,
        EventType.GPS_POSITION_LOST,
        EventType.GPS_CLOCK_MISMATCH,
        EventType.OUTPUTS_UNAVAILABLE,
        EventType.SERVICE_FAILED,
    ),
    EventKind.SYSTEM: (
        EventType.GEOFENCE_ENTER,
        EventType.GEOFENCE_EXIT,
        EventType.TELEMETRY_DROPPED,
        EventType.PUBLISH_REFUSED,
        EventType.DAEMON_STARTED,
        EventType.DAEMON_STOPPED,
        EventType.TERMINAL_ARMED,
        EventType.MONITORING_WAIT,
        EventType.MONITORING_WAIT_ENDED,
        EventType.STORAGE_RECOVERED,
        EventType.JOURNAL_RESET,
    ),
    EventKind.TELEMETRY: (EventType.READING,),
}
# The kind of every event type: one type belongs to exactly one kind.
KIND_OF: dict[EventType, EventKind] = {t: kind for kind, types in _KINDS.items() for t in types}


class Lane(StrEnum):
    """Outbox priority lanes, drained in this order (peer-lessons L3, L4)."""

    CRITICAL = "critical"  # alerts, permit transitions: never dropped
    ACCESS = "access"
    BULK = "bulk"  # telemetry: may be downsampled


LANE_OF: dict[EventKind, Lane] = {
    EventKind.ALERT: Lane.CRITICAL,
    EventKind.PERMIT: Lane.CRITICAL,
    EventKind.GAS_TEST: Lane.CRITICAL,
    EventKind.FAULT: Lane.CRITICAL,
    EventKind.COMMAND: Lane.CRITICAL,
    EventKind.SYSTEM: Lane.CRITICAL,
    EventKind.ACCESS: Lane.ACCESS,
    EventKind.TELEMETRY: Lane.BULK,
}


class Event(Model):
    """A journal entry: audit record and outbox message in one."""

    event_id: str
    boot_id: str
    seq: int = Field(ge=1, description="per-boot sequence number")
    kind: EventKind
    type: EventType = Field(description="what happened, e.g. permit_suspend, access_decision")
    wall_time: datetime
    wall_trusted: bool
    mono_ts: float
    payload: dict[str, Any]
    journal_id: int = Field(default=0, description="row id in the local journal")
