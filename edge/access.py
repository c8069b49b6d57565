"""Badge-in / badge-out decisions: identity x certificate x permit x position x air x lockout.

``decide_badge_in`` is a pure function of facts gathered at one instant by
``edge.zone.ZoneController``; it returns every reason that denies, the primary one first, so
the worker sees the most useful message and the audit trail keeps the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge.cert_catalogue import satisfies
from edge.evidence import AirVerdict, IdentityResult, PositionVerdict
from edge.judgement import ZoneFacts, entry_gas_reasons, review_due
from edge.models import (
    LIVE_STATUSES,
    TERMINAL_STATUSES,
    AccessAction,
    CertCategory,
    Certificate,
    Decision,
    GasTest,
    OperationItem,
    Permit,
    PermitMember,
    PermitStatus,
    Role,
    Worker,
    WorkKind,
    Zone,
)
from edge.permits import (
    check_air,
    effective_valid_to,
    monitored_gases_needed,
    requires_monitor_installed,
    requires_monitoring,
)
from edge.reasons import ALLOWED_IN, ALLOWED_OUT, Lang, ReasonCode, text

# When a worker is on several permits of the zone, the one that decides is the most usable.
_STATUS_RANK = {
    PermitStatus.ACTIVE: 0,
    PermitStatus.SUSPENDED: 1,
    PermitStatus.APPROVED: 2,
    PermitStatus.COMPLETED: 3,
    PermitStatus.EXPIRED: 4,
    PermitStatus.CLOSED: 5,
    PermitStatus.CANCELLED: 6,
    PermitStatus.REVOKED: 7,
}


@dataclass(frozen=True, slots=True)
class CertCheck:
    """The outcome of checking a worker's certificate for a role: a refusal reason or None, warnings
    (expiring soon), the certificate used."""

    reason: ReasonCode | None
    warnings: tuple[ReasonCode, ...]
    certificate: Certificate | None


def check_certificate(
    worker: Worker,
    required: CertCategory | OperationItem | None,
    today: date,
    warn_days: tuple[int, int],
) -> CertCheck:
    """The certificate rule of 安监总局令第30号: right category, in date, review not overdue.

    ``required`` is a category or an operation item (edge.cert_catalogue.satisfies).
    """
    if required is None:
        return CertCheck(None, (), None)
    of_category = [
        c for c in worker.certificates if satisfies(c.category, c.operation_item, required)
    ]
    if not of_category:
        code = ReasonCode.CERT_WRONG_CATEGORY if worker.certificates else ReasonCode.CERT_MISSING
        return CertCheck(code, (), None)
    # The best certificate of the category: the one valid today with the latest end.
    cert = max(of_category, key=lambda c: (c.valid_from <= today <= c.valid_to, c.valid_to))
    if today > cert.valid_to:
        return CertCheck(ReasonCode.CERT_EXPIRED, (), cert)
    if today < cert.valid_from:
        return CertCheck(ReasonCode.CERT_NOT_YET_VALID, (), cert)
    if today > review_due(cert):  # derived as 3 years after issue when not recorded
        return CertCheck(ReasonCode.CERT_REVIEW_OVERDUE, (), cert)
    left = (cert.valid_to - today).days
    warn30, warn15 = max(warn_days), min(warn_days)
    if left <= warn15:
        return CertCheck(None, (ReasonCode.CERT_EXPIRING_15D,), cert)
    if left <= warn30:
        return CertCheck(None, (ReasonCode.CERT_EXPIRING_30D,), cert)
    return CertCheck(None, (), cert)


def pick_permit(worker_id: str, permits: Sequence[Permit]) -> tuple[Permit, PermitMember] | None:
    """The permit a worker badges in under: of those naming them, the most usable (active before
    approved before suspended), or None."""
    named = [(p, m) for p in permits if (m := p.member(worker_id)) is not None]
    if not named:
        return None
    return min(named, key=lambda pm: (_STATUS_RANK[pm[0].status], pm[0].permit_id))


def check_permit(permit: Permit, now: datetime, linked: Permit | None) -> ReasonCode | None:
    """Why ``permit`` cannot be entered on now (expired, suspended, not started, ...), or None."""
    if permit.status is PermitStatus.EXPIRED or now >= effective_valid_to(permit, linked):
        return ReasonCode.PERMIT_EXPIRED
    if permit.status is PermitStatus.SUSPENDED:
        return ReasonCode.PERMIT_SUSPENDED
    if permit.status in TERMINAL_STATUSES or permit.status is PermitStatus.COMPLETED:
        return ReasonCode.PERMIT_CLOSED
    if now < permit.valid_from:
        return ReasonCode.PERMIT_NOT_YET_VALID
    if permit.status is PermitStatus.APPROVED:
        return ReasonCode.PERMIT_NOT_STARTED
    return None


@dataclass(frozen=True, slots=True)
class BadgeInFacts:
    """Everything a badge-in is judged on, gathered at one instant."""

    zone: Zone
    badge_id: str
    worker: Worker | None
    locked: bool
    identity: IdentityResult | None
    now: datetime | None  # None: the wall clock is not trusted
    position: PositionVerdict
    air: AirVerdict
    permits: Sequence[Permit]
    presence: Mapping[str, Mapping[str, Any]]
    gas_test: GasTest | None
    tz: ZoneInfo
    cert_warn_days: tuple[int, int] = (30, 15)
    last_alarm_at: datetime | None = None  # start of the zone's latest gas alarm episode
    unoccupied_since: Mapping[str, datetime] = field(default_factory=dict)  # per permit
    # The wait after a (re)start while the sensors warm up (edge.air_response): lost monitoring
    # is then MONITORING_RESUMING ("please wait"), not the sensor's fault code.
    monitoring_resuming: bool = False

    def zone_facts(self) -> ZoneFacts:
        """These facts as ``edge.judgement.ZoneFacts`` (for the per-permit entry rules)."""
        return ZoneFacts(
            zone=self.zone,
            now=self.now,
            clock_trusted=self.now is not None,
            permits=self.permits,
            presence=self.presence,
            workers={},
            air=self.air,
            gas_test=self.gas_test,
            last_alarm_at=self.last_alarm_at,
            unoccupied_since=self.unoccupied_since,
            tz=self.tz,
            cert_warn_days=self.cert_warn_days,
        )


def decide_badge_in(f: BadgeInFacts, lang: Lang = Lang.ZH) -> Decision:
    """The badge-in decision from the facts alone (pure; the gate applies it). Reasons in order of
    GB 30871-2022 checks; messages in ``lang`` and English."""
    reasons: list[ReasonCode] = []
    warnings: list[ReasonCode] = []
    details: dict[str, Any] = {}
    permit: Permit | None = None
    member: PermitMember | None = None

    def done() -> Decision:
        return _decision(
            AccessAction.BADGE_IN,
            f.badge_id,
            f.worker,
            permit,
            member,
            reasons,
            warnings,
            f.position,
            details,
        )

    if f.worker is None:
        reasons.append(ReasonCode.UNKNOWN_BADGE)
        return done()
    if f.locked:
        reasons.append(ReasonCode.WORKER_LOCKED)
        return done()
    if f.identity is not None:
        details["identity"] = {
            "match": f.identity.match,
            "distance": f.identity.distance,
            **f.identity.details,
        }
        if not f.identity.match:
            reasons.append(f.identity.reason or ReasonCode.FACE_MISMATCH)
            if f.identity.seen_worker_id:
                details["seen_worker_id"] = f.identity.seen_worker_id
            # Nothing else is judged for someone who is not the badge owner.
            return done()
    if f.now is None:
        reasons.append(ReasonCode.CLOCK_UNTRUSTED)
    if not f.position.ok:
        reasons.append(f.position.reason or ReasonCode.NO_GPS_FIX)
    elif f.position.warn and f.position.reason is not None:
        warnings.append(f.position.reason)
    details["position"] = f.position.details

    picked = pick_permit(f.worker.worker_id, f.permits)
    if picked is None:
        live = [p for p in f.permits if p.status not in TERMINAL_STATUSES]
        reasons.append(ReasonCode.NOT_ON_PERMIT if live else ReasonCode.NO_PERMIT)
        return done()
    permit, member = picked
    # Every live permit naming the person must allow entry (hot work in a tank needs both the
    # hot-work and the confined-space permit); an approved permit whose window has not begun
    # is a future document and does not yet count.
    wid = f.worker.worker_id
    judged = [
        p
        for p in f.permits
        if p.member(wid) is not None
        and p.status in LIVE_STATUSES
        and not (p.status is PermitStatus.APPROVED and f.now is not None and f.now < p.valid_from)
    ] or [permit]
    zf = f.zone_facts()
    by_permit: dict[str, list[str]] = {}
    for p in judged:
        m = p.member(wid)
        assert m is not None
        before = len(reasons)
        _entry_reasons(f, zf, p, m, reasons, warnings, details)
        by_permit[p.permit_id] = [r.value for r in reasons[before:]]
    # Which permit said what: a worker named on two permits is told which one refused (a
    # fresh-user test saw a hot-work entry refused for the confined-space permit's rule).
    details["by_permit"] = by_permit
    if not reasons and wid in f.presence:
        warnings.append(ReasonCode.ALREADY_INSIDE)
    return done()


def _entry_reasons(
    f: BadgeInFacts,
    zf: ZoneFacts,
    permit: Permit,
    member: PermitMember,
    reasons: list[ReasonCode],
    warnings: list[ReasonCode],
    details: dict[str, Any],
) -> None:
    """What one permit naming the person says about their entry, appended to ``reasons``."""
    assert f.worker is not None
    linked = next((p for p in f.permits if p.permit_id == permit.linked_permit_id), None)
    # The guardian returning to a suspended confined space comes in to supervise and evacuate
    # (§6.8); refusing them would make resumption impossible (resume needs them present).
    guardian_return = (
        permit.kind is WorkKind.CONFINED_SPACE
        and member.role is Role.GUARDIAN
        and permit.status is PermitStatus.SUSPENDED
    )
    if f.now is not None:
        code = check_permit(permit, f.now, linked)
        if code is not None and not (guardian_return and code is ReasonCode.PERMIT_SUSPENDED):
            reasons.append(code)
        today = f.now.astimezone(f.tz).date()
        cert = check_certificate(f.worker, member.required_cert, today, f.cert_warn_days)
        if cert.reason is not None:
            reasons.append(cert.reason)
        warnings.extend(cert.warnings)
        if cert.certificate is not None:
            details["certificate"] = {
                "number": cert.certificate.number,
                "valid_to": cert.certificate.valid_to.isoformat(),
            }
        if permit.status is PermitStatus.ACTIVE:
            reasons.extend(entry_gas_reasons(zf, permit))
            if permit.linked_permit_id and (
                linked is None or linked.status is not PermitStatus.ACTIVE
            ):
                reasons.append(ReasonCode.LINKED_PERMIT_NOT_ACTIVE)
    elif permit.status is PermitStatus.SUSPENDED and not guardian_return:
        reasons.append(ReasonCode.PERMIT_SUSPENDED)

    must_monitor = requires_monitoring(permit)
    air_code = check_air(
        f.air,
        require_monitoring=must_monitor,
        require_monitor=requires_monitor_installed(permit),
        need_gases=monitored_gases_needed(permit),
    )
    if guardian_return and air_code is not None and air_code is not ReasonCode.GAS_UNSAFE:
        air_code = None  # latched or lost monitoring: the guardian still comes to supervise
    if air_code is not None:
        if air_code in _AIR_DENY:
            reasons.append(ReasonCode.GAS_UNSAFE)
        elif f.monitoring_resuming and air_code not in _NOT_A_WAIT and not f.air.monitoring_ok:
            # Sensors still warming up after a restart: the worker waits, nobody fetches the
            # technician for a fault that is not one; the sensors' codes stay in the details.
            reasons.append(ReasonCode.MONITORING_RESUMING)
        else:
            reasons.append(air_code)
        details["air"] = {"reasons": [r.value for r in f.air.reasons], **f.air.details}
    elif not f.air.monitoring_ok:
        warnings.extend(r for r in f.air.reasons if r not in warnings)

    if permit.kind is WorkKind.CONFINED_SPACE and member.role is Role.OPERATOR:
        inside = {w for w in f.presence if permit.member(w) is not None}
        if not inside & set(permit.guardians):
            reasons.append(ReasonCode.GUARDIAN_ABSENT)


# Air problems shown to the worker as "dangerous air"; monitoring faults keep their own code.
_AIR_DENY = frozenset({ReasonCode.GAS_UNSAFE})
# A latched alarm is not lifted by waiting: it keeps its own code during the restart wait too.
_NOT_A_WAIT = frozenset({ReasonCode.GAS_UNSAFE, ReasonCode.GAS_ALARM_LATCHED})


def decide_badge_out(
    badge_id: str,
    worker: Worker | None,
    presence: Mapping[str, Mapping[str, Any]],
    position: PositionVerdict,
) -> Decision:
    """Leaving is never refused to a known worker; an exit without an entry is a warning."""
    reasons: list[ReasonCode] = []
    warnings: list[ReasonCode] = []
    if worker is None:
        reasons.append(ReasonCode.UNKNOWN_BADGE)
    elif worker.worker_id not in presence:
        warnings.append(ReasonCode.NOT_INSIDE)
    entry = presence.get(worker.worker_id, {}) if worker else {}
    return _decision(
        AccessAction.BADGE_OUT,
        badge_id,
        worker,
        None,
        None,
        reasons,
        warnings,
        position,
        {"permit_id": entry.get("permit_id")},
    )


def _decision(
    action: AccessAction,
    badge_id: str,
    worker: Worker | None,
    permit: Permit | None,
    member: PermitMember | None,
    reasons: list[ReasonCode],
    warnings: list[ReasonCode],
    position: PositionVerdict,
    details: dict[str, Any],
) -> Decision:
    allowed = not reasons
    if allowed:
        zh, en = ALLOWED_IN if action is AccessAction.BADGE_IN else ALLOWED_OUT
        if warnings:
            zh += "；" + "；".join(text(w, Lang.ZH) for w in warnings)
            en += "; " + "; ".join(text(w, Lang.EN) for w in warnings)
    else:
        zh, en = text(reasons[0], Lang.ZH), text(reasons[0], Lang.EN)
    return Decision(
        action=action,
        allowed=allowed,
        badge_id=badge_id,
        worker_id=worker.worker_id if worker else None,
        permit_id=permit.permit_id if permit else None,
        role=member.role if member else None,
        reasons=tuple(dict.fromkeys(reasons)),
        warnings=tuple(dict.fromkeys(warnings)),
        message_zh=zh,
        message_en=en,
        position=position.position,
        details=details,
    )
