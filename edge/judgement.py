"""One judgement of the whole zone: its state in, what is allowed now out (no I/O).

``judge_zone`` takes every permit, everyone inside, the air, the latest gas test, the latest
alarm, per-permit breaks, certificates and the clock, and says for each permit whether it may be
active (and if not, whether it must be suspended or has expired), for each person inside whether
they may stay, and whether the interlock relay may be energised. ``start_reasons`` and
``resume_reasons`` judge a person's command, ``gas_test_reasons`` a gas test's content. Every
failing reason is returned, not just the first. ``edge.zone.ZoneController`` applies the result
(suspend, expire, alert, light, relay) and journals why, on every change and on a timer, so
time-based rules take effect without a triggering event.

Rules and clauses: ``edge.floors.FLOORS`` and ../shared/reference/safety-rules.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from edge import floors
from edge.air_limits import MOLECULAR_WEIGHT, convert
from edge.cert_catalogue import OperationItem, satisfies
from edge.evidence import AirVerdict
from edge.models import (
    LIVE_STATUSES,
    TERMINAL_STATUSES,
    CertCategory,
    Certificate,
    GasTest,
    Permit,
    PermitStatus,
    Role,
    SuspensionCause,
    Worker,
    WorkKind,
    Zone,
)
from edge.permits import (
    recorded_failed,
    requires_monitor_installed,
    requires_monitoring,
    unmonitored_gases,
)
from edge.reasons import ReasonCode

EPS = 1e-9


class Verdict(StrEnum):
    """What the controller must do to a permit now."""

    KEEP = "keep"
    SUSPEND = "suspend"
    EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class ZoneFacts:
    """The zone's whole state at one instant.

    ``now`` is the trusted wall time, or, while the clock is untrusted, the last trusted instant
    carried forward by the monotonic clock (at most ``floors.CLOCK_CARRY_MAX``); None when the
    time is unknown. ``clock_trusted`` says which: a person's start or resume needs trust.
    ``unoccupied_since`` maps a permit to when the last person it names left the zone.
    """

    zone: Zone
    now: datetime | None
    clock_trusted: bool
    permits: Sequence[Permit]
    presence: Mapping[str, Mapping[str, Any]]
    workers: Mapping[str, Worker]
    air: AirVerdict
    gas_test: GasTest | None
    last_alarm_at: datetime | None = None
    unoccupied_since: Mapping[str, datetime] = field(default_factory=dict)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    cert_warn_days: tuple[int, int] = (30, 15)
    # Inside the wait after a (re)start (edge.air_response.AirResponse._restart_wait): lost
    # monitoring then stops work (no relay, no entry) but does not suspend.
    monitoring_resuming: bool = False

    def permit(self, permit_id: str | None) -> Permit | None:
        """The permit with this id, or None."""
        return next((p for p in self.permits if p.permit_id == permit_id), None)

    def occupants(self, permit: Permit) -> set[str]:
        """People inside whom ``permit`` names."""
        return {m.worker_id for m in permit.members if m.worker_id in self.presence}


@dataclass(frozen=True, slots=True)
class PermitJudgement:
    """One permit now: KEEP / SUSPEND (with ``cause``) / EXPIRE, and every failing reason."""

    permit_id: str
    verdict: Verdict
    may_be_active: bool
    reasons: tuple[ReasonCode, ...] = ()
    cause: SuspensionCause | None = None


@dataclass(frozen=True, slots=True)
class PersonJudgement:
    """One person inside: may they stay, and every reason they may not."""

    worker_id: str
    may_stay: bool
    reasons: tuple[ReasonCode, ...] = ()


@dataclass(frozen=True, slots=True)
class Judgement:
    """The whole zone now: per permit, per person inside, and whether the relay may be on."""

    permits: dict[str, PermitJudgement]
    people: dict[str, PersonJudgement]
    work_allowed: bool  # the interlock relay may be energised

    def to_suspend(self) -> list[PermitJudgement]:
        """The permits the controller must suspend now."""
        return [j for j in self.permits.values() if j.verdict is Verdict.SUSPEND]

    def to_expire(self) -> list[PermitJudgement]:
        """The permits the controller must expire now."""
        return [j for j in self.permits.values() if j.verdict is Verdict.EXPIRE]


# ----------------------------------------------------------------------------- gas tests


def _is_combustible(gas: str) -> bool:
    return gas.lower() in floors.COMBUSTIBLE_GASES


def _ppm(gas: str, value: float, unit: str) -> float | None:
    # The one conversion (edge.air_limits), for the units a toxic sample is judged in.
    if unit not in ("ppm", "mg/m3", "ug/m3"):
        return None
    return convert(value, unit, "ppm", mw=MOLECULAR_WEIGHT.get(gas))


def sample_failures(zone: Zone, kind: WorkKind, test: GasTest) -> list[str]:
    """Every sample judged against the pass criteria (§5.3.2, §6.4, GBZ 2.1); one line each.

    Units that cannot be judged for a gas with a criterion are failures, never skipped.
    """
    out: list[str] = []
    limit_vol = zone.target_gas.pass_limit_vol_percent
    lo, hi = floors.o2_band(zone)
    for s in test.samples:
        gas = s.gas.lower()
        if gas == "o2":
            if s.unit != "%vol":
                out.append(f"o2 in {s.unit} cannot be judged")
            elif not (lo - EPS <= s.value <= hi + EPS) and kind is WorkKind.CONFINED_SPACE:
                out.append(f"o2 {s.value}%vol outside {lo}-{hi}%vol")
            elif s.value > floors.O2_HIGH_ENRICHED + EPS:
                out.append(f"o2 {s.value}%vol > {floors.O2_HIGH_ENRICHED}%vol")
        elif _is_combustible(gas):
            if s.unit == "%LEL":
                vol = s.value * zone.target_gas.lel_vol_percent / 100.0
            elif s.unit == "%vol":
                vol = s.value
            else:
                out.append(f"{gas} in {s.unit} cannot be judged in % vol")
                continue
            if vol > limit_vol + EPS:
                out.append(f"{gas} {vol:.2f}%vol > {limit_vol}%vol")
        elif gas in floors.TOXIC_PASS_PPM:
            ppm = _ppm(gas, s.value, s.unit)
            if ppm is None:
                out.append(f"{gas} in {s.unit} cannot be judged")
            elif ppm > floors.TOXIC_PASS_PPM[gas] + EPS:
                out.append(f"{gas} {ppm:.1f}ppm > {floors.TOXIC_PASS_PPM[gas]}ppm")
        if s.value < -EPS:
            out.append(f"{gas} negative reading")
    return out


def missing_gases(zone: Zone, kind: WorkKind, test: GasTest) -> list[str]:
    """Gases the work kind needs that the test did not measure (§5.3.1, §6.4): for a confined
    space also every toxic the zone lists (``Zone.confined_space_toxics``)."""
    need = set(floors.REQUIRED_GASES.get(kind, frozenset()))
    if kind is WorkKind.CONFINED_SPACE:
        need |= set(zone.confined_space_toxics)
    have = {s.gas.lower() for s in test.samples}
    if any(_is_combustible(g) for g in have):
        have.add("combustible")
    return sorted(need - have)


def gas_test_reasons(
    f: ZoneFacts,
    permit: Permit,
    *,
    max_age: timedelta | None = None,
    newer_than: datetime | None = None,
) -> list[ReasonCode]:
    """The zone's latest gas test judged for ``permit``: present, passing on its samples, with
    every gas the kind needs, newer than the zone's latest alarm and than ``newer_than``, no
    older than ``max_age`` (default: the permit's effective test age)."""
    test = f.gas_test
    if test is None or test.zone_id != permit.zone_id:
        return [ReasonCode.GAS_TEST_MISSING]
    out: list[ReasonCode] = []
    if recorded_failed(test) or sample_failures(f.zone, permit.kind, test):
        out.append(ReasonCode.GAS_TEST_FAILED)
    if missing_gases(f.zone, permit.kind, test):
        out.append(ReasonCode.GAS_TEST_INCOMPLETE)
    if f.last_alarm_at is not None and test.taken_at <= f.last_alarm_at:
        out.append(ReasonCode.GAS_TEST_BEFORE_ALARM)
    if newer_than is not None and test.taken_at <= newer_than:
        out.append(ReasonCode.GAS_TEST_STALE)
    if f.now is not None:
        age = f.now - test.taken_at
        limit = max_age if max_age is not None else floors.effective_gas(permit).max_test_age
        # A test from the future by more than clock skew is as doubtful as an old one.
        if age > limit or -age > floors.GAS_TEST_CLOCK_SKEW:
            out.append(ReasonCode.GAS_TEST_STALE)
    return list(dict.fromkeys(out))


# ----------------------------------------------------------------------------- certificates


def review_due(cert: Certificate) -> date:
    """The next review: as recorded, else derived as 3 years after issue (令第30号 Art. 21)."""
    if cert.next_review is not None:
        return cert.next_review
    return cert.valid_from + floors.CERT_REVIEW


def cert_reasons(
    worker: Worker, required: CertCategory | OperationItem | None, today: date
) -> list[ReasonCode]:
    """Right category (or operation item), in date, review not overdue (derived when not
    recorded)."""
    if required is None:
        return []
    of_category = [
        c for c in worker.certificates if satisfies(c.category, c.operation_item, required)
    ]
    if not of_category:
        return [ReasonCode.CERT_WRONG_CATEGORY if worker.certificates else ReasonCode.CERT_MISSING]
    cert = max(of_category, key=lambda c: (c.valid_from <= today <= c.valid_to, c.valid_to))
    if today > cert.valid_to:
        return [ReasonCode.CERT_EXPIRED]
    if today < cert.valid_from:
        return [ReasonCode.CERT_NOT_YET_VALID]
    if today > review_due(cert):
        return [ReasonCode.CERT_REVIEW_OVERDUE]
    return []


def members_cert_reasons(f: ZoneFacts, permit: Permit) -> list[ReasonCode]:
    """The certificates of the members inside, re-checked at start and resume (令第30号, §4.9).

    Members outside are checked when they badge in, and everyone inside is re-checked by
    ``judge_zone`` on every change and on the timer; so a lapsed certificate of someone who
    will not come does not hold up the others' work.
    """
    if f.now is None:
        return [ReasonCode.CLOCK_UNTRUSTED]
    today = f.now.astimezone(f.tz).date()
    out: list[ReasonCode] = []
    for m in permit.members:
        if m.worker_id not in f.presence:
            continue
        worker = f.workers.get(m.worker_id)
        if m.required_cert is None:
            continue
        if worker is None:
            out.append(ReasonCode.CERT_MISSING)
            continue
        out.extend(cert_reasons(worker, m.required_cert, today))
    return list(dict.fromkeys(out))


def lapsed_inside(f: ZoneFacts) -> dict[str, list[tuple[str, ReasonCode, str | None]]]:
    """Per person inside: ``(permit_id, reason, required)`` for every live permit of the zone
    naming them whose required certificate fails now (expired, review overdue, ...). People
    with none are left out. Empty while the date is unknown (令第30号 Art. 19-21, §4.9)."""
    if f.now is None:
        return {}
    today = f.now.astimezone(f.tz).date()
    out: dict[str, list[tuple[str, ReasonCode, str | None]]] = {}
    for wid in sorted(f.presence):
        worker = f.workers.get(wid)
        if worker is None:
            continue  # an unknown person is its own problem (UNKNOWN_BADGE), not a lapse
        for p in f.permits:
            member = p.member(wid)
            if member is None or p.status not in LIVE_STATUSES or p.zone_id != f.zone.zone_id:
                continue
            required = member.required_cert
            for reason in cert_reasons(worker, required, today):
                label = None if required is None else str(required.value)
                out.setdefault(wid, []).append((p.permit_id, reason, label))
    return out


# ----------------------------------------------------------------------------- windows, links


def effective_end(permit: Permit, parent: Permit | None) -> datetime:
    """Temporary power serving hot work or a confined space ends with it (§10.8)."""
    if permit.linked_permit_id and parent is not None:
        return min(permit.valid_to, parent.valid_to)
    return permit.valid_to


def _air_reasons(
    air: AirVerdict, permit: Permit, resuming: bool = False
) -> tuple[list[ReasonCode], SuspensionCause | None]:
    if not air.safe:
        return [ReasonCode.GAS_UNSAFE], SuspensionCause.GAS
    if requires_monitoring(permit) and not air.monitoring_ok:
        if resuming and not air.latched and not no_monitor_installed(air):
            # The restart wait: work stops until the sensors report, nothing is suspended.
            return [ReasonCode.MONITORING_RESUMING], None
        return [air.reasons[0] if air.reasons else ReasonCode.NO_AIR_DATA], (
            SuspensionCause.MONITORING_LOST
        )
    if requires_monitor_installed(permit) and no_monitor_installed(air):
        # Hot work of any level and confined space never run where no over-limit alarm could
        # stop them (§5.2.6, §5.5.2e, §6.5).
        return [ReasonCode.NO_AIR_DATA], SuspensionCause.MONITORING_LOST
    if unmonitored_gases(air, permit):
        # Monitored work whose monitors do not watch what it needs (floors.MONITORED_GASES).
        return [ReasonCode.MONITOR_INCOMPLETE], SuspensionCause.MONITORING_LOST
    return [], None


def no_monitor_installed(air: AirVerdict) -> bool:
    """The zone has no judged gas sensor at all (``NO_AIR_DATA``), not a passing fault."""
    return not air.monitoring_ok and ReasonCode.NO_AIR_DATA in air.reasons


def _guardian_missing(f: ZoneFacts, permit: Permit) -> bool:
    """A confined-space entrant inside with no guardian of the permit present (§4.10f, §6.8)."""
    if permit.kind is not WorkKind.CONFINED_SPACE:
        return False
    inside = f.occupants(permit)
    entrants = {m.worker_id for m in permit.members if m.role is Role.OPERATOR} & inside
    return bool(entrants) and not (inside & set(permit.guardians))


def _linked_reasons(
    f: ZoneFacts, permit: Permit, parents_ok: Mapping[str, bool]
) -> list[ReasonCode]:
    if not permit.linked_permit_id:
        return []
    parent = f.permit(permit.linked_permit_id)
    if (
        parent is None
        or parent.kind not in floors.TEMP_POWER_PARENTS
        or parent.status is not PermitStatus.ACTIVE
        or not parents_ok.get(parent.permit_id, True)
    ):
        return [ReasonCode.LINKED_PERMIT_NOT_ACTIVE]
    return []


# ----------------------------------------------------------------------------- the zone


def _judge_permit(f: ZoneFacts, permit: Permit, parents_ok: Mapping[str, bool]) -> PermitJudgement:
    pid = permit.permit_id
    parent = f.permit(permit.linked_permit_id)
    if f.now is None:
        # Unknown time: the window cannot be judged. Nothing expires, but nothing may run.
        return PermitJudgement(pid, Verdict.KEEP, False, (ReasonCode.CLOCK_UNTRUSTED,))
    if f.now >= effective_end(permit, parent) or (
        permit.linked_permit_id
        and parent is not None
        and parent.status in TERMINAL_STATUSES | {PermitStatus.COMPLETED}
    ):
        return PermitJudgement(pid, Verdict.EXPIRE, False, (ReasonCode.PERMIT_EXPIRED,))
    if permit.status is not PermitStatus.ACTIVE:
        return PermitJudgement(pid, Verdict.KEEP, False, (_status_reason(permit),))
    reasons: list[ReasonCode] = []
    cause: SuspensionCause | None = None
    if not f.clock_trusted:
        reasons.append(ReasonCode.CLOCK_UNTRUSTED)  # relay off, validity carried by monotonic
    air, air_cause = _air_reasons(f.air, permit, f.monitoring_resuming)
    reasons += air
    cause = air_cause
    if _guardian_missing(f, permit):
        reasons.append(ReasonCode.GUARDIAN_ABSENT)
        cause = cause or SuspensionCause.GUARDIAN_ABSENT
    linked = _linked_reasons(f, permit, parents_ok)
    if linked:
        reasons += linked
        cause = cause or SuspensionCause.LINKED
    verdict = Verdict.SUSPEND if cause is not None else Verdict.KEEP
    # Clock distrust alone never suspends: validity is carried forward by monotonic time and
    # the relay is released; a suspension would need a fresh test once trust is back.
    may = not reasons
    return PermitJudgement(pid, verdict, may, tuple(dict.fromkeys(reasons)), cause)


def _status_reason(permit: Permit) -> ReasonCode:
    if permit.status is PermitStatus.SUSPENDED:
        return ReasonCode.PERMIT_SUSPENDED
    if permit.status is PermitStatus.APPROVED:
        return ReasonCode.PERMIT_NOT_STARTED
    if permit.status is PermitStatus.EXPIRED:
        return ReasonCode.PERMIT_EXPIRED
    return ReasonCode.PERMIT_CLOSED


def judge_zone(f: ZoneFacts) -> Judgement:
    """The whole zone now: each live permit, each person inside, and the relay."""
    live = [p for p in f.permits if p.status in LIVE_STATUSES and p.zone_id == f.zone.zone_id]
    permits: dict[str, PermitJudgement] = {}
    # Parents first: temporary power follows the judgement of the permit it serves.
    for p in sorted(live, key=lambda p: p.linked_permit_id is not None):
        ok = {pid: j.may_be_active for pid, j in permits.items()}
        permits[p.permit_id] = _judge_permit(f, p, ok)
    people: dict[str, PersonJudgement] = {}
    for wid in f.presence:
        people[wid] = _judge_person(f, wid, permits)
    work_allowed = f.now is not None and any(
        j.may_be_active and j.verdict is Verdict.KEEP
        for pid, j in permits.items()
        if (q := f.permit(pid)) is not None and q.status is PermitStatus.ACTIVE
    )
    return Judgement(permits, people, work_allowed)


def _judge_person(
    f: ZoneFacts, wid: str, permits: Mapping[str, PermitJudgement]
) -> PersonJudgement:
    worker = f.workers.get(wid)
    if worker is None:
        return PersonJudgement(wid, False, (ReasonCode.UNKNOWN_BADGE,))
    named = [p for p in f.permits if p.member(wid) is not None and p.zone_id == f.zone.zone_id]
    live = [p for p in named if p.status in LIVE_STATUSES]
    reasons: list[ReasonCode] = []
    if not live:
        reasons.append(ReasonCode.PERMIT_EXPIRED if named else ReasonCode.NOT_ON_PERMIT)
        return PersonJudgement(wid, False, tuple(reasons))
    usable = False
    for p in live:
        j = permits.get(p.permit_id)
        member = p.member(wid)
        assert member is not None
        if j is not None and j.verdict is Verdict.EXPIRE:
            reasons.append(ReasonCode.PERMIT_EXPIRED)
            continue
        if p.status is PermitStatus.ACTIVE:
            usable = True
        elif (
            p.status is PermitStatus.SUSPENDED
            and p.kind is WorkKind.CONFINED_SPACE
            and member.role is Role.GUARDIAN
        ):
            usable = True  # the guardian stays to supervise and evacuate (§6.8)
        if f.now is not None:
            today = f.now.astimezone(f.tz).date()
            reasons.extend(cert_reasons(worker, member.required_cert, today))
    if not usable and not reasons:
        reasons.append(ReasonCode.PERMIT_SUSPENDED)
    return PersonJudgement(wid, not reasons and usable, tuple(dict.fromkeys(reasons)))


# ----------------------------------------------------------------------------- commands


def _window_reasons(f: ZoneFacts, permit: Permit) -> list[ReasonCode]:
    if f.now is None or not f.clock_trusted:
        return [ReasonCode.CLOCK_UNTRUSTED]
    if f.now < permit.valid_from:
        return [ReasonCode.PERMIT_NOT_YET_VALID]
    if f.now >= effective_end(permit, f.permit(permit.linked_permit_id)):
        return [ReasonCode.PERMIT_EXPIRED]
    return []


def _command_reasons(
    f: ZoneFacts, permit: Permit, *, newer_than: datetime | None, need_test: bool
) -> list[ReasonCode]:
    out = _window_reasons(f, permit)
    if permit.linked_permit_id:
        out += _linked_reasons(f, permit, {})
    if need_test:
        out += gas_test_reasons(f, permit, newer_than=newer_than)
    out += daily_test_reasons(f, permit)
    out += members_cert_reasons(f, permit)
    if _guardian_missing(f, permit):
        out.append(ReasonCode.GUARDIAN_ABSENT)
    return list(dict.fromkeys(out))


def start_reasons(f: ZoneFacts, permit: Permit) -> list[ReasonCode]:
    """Why ``permit`` may not start now (empty: it may). Air and authority are judged by
    ``edge.permits.apply``; this adds the floors, the test's content, the latest alarm, the
    daily first hot-work test, the linked permit and every member's certificate."""
    need = floors.effective_gas(permit).test_required
    return _command_reasons(f, permit, newer_than=None, need_test=need)


def resume_reasons(f: ZoneFacts, permit: Permit) -> list[ReasonCode]:
    """Why ``permit`` may not resume now: as for start (the daily first hot-work test
    included, however short the suspension), plus a test newer than the suspension after a
    gas / monitoring cause or a break past the floor, and the guardian present."""
    assert permit.suspension is not None
    need = floors.effective_gas(permit).test_required
    newer_than: datetime | None = None
    brk = floors.effective_gas(permit).retest_after_break
    long_break = brk is not None and f.now is not None and f.now - permit.suspension.at > brk
    if permit.suspension.cause in (SuspensionCause.GAS, SuspensionCause.MONITORING_LOST) or (
        long_break
    ):
        newer_than = permit.suspension.at
        need = True
    return _command_reasons(f, permit, newer_than=newer_than, need_test=need)


def entry_gas_reasons(f: ZoneFacts, permit: Permit) -> list[ReasonCode]:
    """Re-test rules at entry, per permit (§5.3.1d, §6.3a, §6.3f).

    When nobody the permit names is inside: a confined space needs a test no older than 30 min
    (the test is within 30 min of entry); after a break past the floor any kind needs a test
    that young; the first hot work of each local day needs that day's test. The latest test
    must pass on its content and be newer than the latest alarm, whoever is inside.
    """
    gas = floors.effective_gas(permit)
    if not gas.test_required:
        return []
    if f.now is None:
        return [ReasonCode.CLOCK_UNTRUSTED]
    out = gas_test_reasons(f, permit, max_age=timedelta.max)
    if f.occupants(permit):
        return out
    if permit.kind is WorkKind.CONFINED_SPACE:
        out += gas_test_reasons(f, permit, max_age=gas.max_test_age)
    marks = [d for d in (f.unoccupied_since.get(permit.permit_id), permit.activated_at) if d]
    since = max(marks) if marks else None
    brk = gas.retest_after_break
    if brk is not None and since is not None and f.now - since > brk:
        # A re-test means a test taken after the break began, not merely a young one.
        out += gas_test_reasons(f, permit, max_age=gas.max_test_age, newer_than=since)
    out += daily_test_reasons(f, permit)
    return list(dict.fromkeys(out))


def daily_test_reasons(f: ZoneFacts, permit: Permit) -> list[ReasonCode]:
    """The first hot work of each local day needs that day's analysis (§5.3.1d).

    One rule for entry (when nobody the permit names is inside), start and resume: for hot
    work, the zone's latest test must be taken on today's local date (``f.tz``), whatever the
    document says and however short the break was. Empty for other kinds.
    """
    if permit.kind is not WorkKind.HOT_WORK:
        return []
    if f.now is None:
        return [ReasonCode.CLOCK_UNTRUSTED]
    test = f.gas_test
    if test is None or test.zone_id != permit.zone_id:
        return [ReasonCode.GAS_TEST_MISSING]
    if test.taken_at.astimezone(f.tz).date() < f.now.astimezone(f.tz).date():
        return [ReasonCode.GAS_TEST_STALE]
    return []
