"""The permit state machine: only legal transitions, each guarded by the rules of GB 30871.

Pure functions over ``Permit`` values; ``edge.zone.ZoneController`` commits the result and
journals it. Rules (safety-rules.md §5):
- automatic actors (the daemon) only move toward safety: suspend and expire;
- every return to ACTIVE has an authorised human actor, a trusted clock, the permit inside its
  window, a passing gas test young enough, air that is safe with no latched alarm;
- a permit suspended for gas (or lost monitoring) resumes only with a passing test taken after
  the suspension;
- suspension never extends validity; EXPIRED, CLOSED, CANCELLED, REVOKED are terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from edge.errors import EdgeError
from edge.evidence import AirVerdict
from edge.floors import (
    GAS_TEST_CLOCK_SKEW,
    MONITOR_INSTALLED_KINDS,
    MONITORED_GASES,
    effective_gas,
    monitoring_required,
)
from edge.gas_tests import NOT_MEASURED
from edge.models import (
    LIVE_STATUSES,
    GasTest,
    Model,
    Permit,
    PermitStatus,
    Suspension,
    SuspensionCause,
)
from edge.reasons import ReasonCode


class Action(StrEnum):
    """A permit transition (``LEGAL`` gives the statuses it may start from)."""

    START = "start"
    SUSPEND = "suspend"
    RESUME = "resume"
    EXPIRE = "expire"
    COMPLETE = "complete"
    CLOSE = "close"
    CANCEL = "cancel"
    REVOKE = "revoke"


class ActorKind(StrEnum):
    """Who acts on a permit."""

    PERSON = "person"  # at the terminal or through a signed central command naming them
    CENTRAL = "central"  # the central server itself (signed command)
    SYSTEM = "system"  # the daemon's automatic rules


class Actor(Model):
    """Who did a transition, and whether they carry an authorisation."""

    actor_id: str = Field(min_length=1)
    kind: ActorKind
    authorised: bool = Field(
        default=False, description="carries an authorisation (signed command or local role)"
    )

    @classmethod
    def system(cls, rule: str) -> Actor:
        """The daemon's own rule as actor (``system:<rule>``)."""
        return cls(actor_id=f"system:{rule}", kind=ActorKind.SYSTEM)


LEGAL: dict[Action, tuple[frozenset[PermitStatus], PermitStatus]] = {
    Action.START: (frozenset({PermitStatus.APPROVED}), PermitStatus.ACTIVE),
    Action.SUSPEND: (
        frozenset({PermitStatus.ACTIVE, PermitStatus.SUSPENDED}),
        PermitStatus.SUSPENDED,
    ),
    Action.RESUME: (frozenset({PermitStatus.SUSPENDED}), PermitStatus.ACTIVE),
    Action.EXPIRE: (LIVE_STATUSES, PermitStatus.EXPIRED),
    Action.COMPLETE: (frozenset({PermitStatus.ACTIVE}), PermitStatus.COMPLETED),
    Action.CLOSE: (frozenset({PermitStatus.COMPLETED}), PermitStatus.CLOSED),
    Action.CANCEL: (LIVE_STATUSES, PermitStatus.CANCELLED),
    Action.REVOKE: (LIVE_STATUSES, PermitStatus.REVOKED),
}

# Automatic rules may only make things safer (safety-rules.md §5 invariants).
SYSTEM_ACTIONS = frozenset({Action.SUSPEND, Action.EXPIRE})

# Causes whose resume always needs a gas test newer than the suspension.
_GAS_CAUSES = frozenset({SuspensionCause.GAS, SuspensionCause.MONITORING_LOST})
# A stronger cause replaces a weaker one on an already-suspended permit, never the reverse.
_CAUSE_RANK = {
    SuspensionCause.MANUAL: 0,
    SuspensionCause.LINKED: 0,
    SuspensionCause.GUARDIAN_ABSENT: 1,
    SuspensionCause.MONITORING_LOST: 2,
    SuspensionCause.GAS: 3,
}


class TransitionError(EdgeError):
    """A transition was refused; ``code`` says why in the terms shown to people."""

    def __init__(self, code: ReasonCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Guards:
    """What a transition is judged against, gathered by the caller at one instant.

    ``now`` is None when the wall clock is not trusted: nothing that depends on validity can then
    move toward ACTIVE, and nothing expires on an untrusted clock either.
    """

    now: datetime | None
    wall: datetime
    gas_test: GasTest | None = None
    air: AirVerdict | None = None
    linked: Permit | None = None
    require_monitoring: bool = False


def requires_monitoring(permit: Permit) -> bool:
    """Continuous monitoring: 特级 and 一级 hot work and confined space (GB 30871 §5.3.1,
    §5.2.6, §6.5; ``edge.floors.monitoring_required``), or where the document asks for it."""
    return permit.gas.continuous_monitoring or monitoring_required(permit.kind, permit.level)


def requires_monitor_installed(permit: Permit) -> bool:
    """Hot work and confined space run only where a gas monitor is installed (§5.2.6,
    §5.5.2e, §6.5; ``edge.floors.MONITOR_INSTALLED_KINDS``)."""
    return requires_monitoring(permit) or permit.kind in MONITOR_INSTALLED_KINDS


def effective_valid_to(permit: Permit, linked: Permit | None) -> datetime:
    """Temporary power serving hot work or a confined space takes that permit's validity (§10.8)."""
    if permit.linked_permit_id and linked is not None:
        return min(permit.valid_to, linked.valid_to)
    return permit.valid_to


def recorded_failed(test: GasTest) -> bool:
    """The recorded verdict says failed for a reason other than a gas not measured.

    A sender's "failed" with no reasons counts. The edge records "<gas> not measured" for
    gases ANY live permit's kind needs; whether a given permit needs them is
    ``edge.judgement.missing_gases`` (GAS_TEST_INCOMPLETE), so those alone do not fail the
    test for a permit whose kind does not need them.
    """
    if test.passed:
        return False
    return not test.failures or any(not f.endswith(NOT_MEASURED) for f in test.failures)


def check_gas_test(
    permit: Permit, test: GasTest | None, now: datetime, *, newer_than: datetime | None
) -> ReasonCode | None:
    """The start / resume gas-test rule; None when satisfied."""
    if test is None or test.zone_id != permit.zone_id:
        return ReasonCode.GAS_TEST_MISSING
    if recorded_failed(test):
        return ReasonCode.GAS_TEST_FAILED
    if newer_than is not None and test.taken_at <= newer_than:
        return ReasonCode.GAS_TEST_STALE
    age = now - test.taken_at
    if age > effective_gas(permit).max_test_age or -age > GAS_TEST_CLOCK_SKEW:
        # A test from the future by more than clock skew is as doubtful as an old one.
        return ReasonCode.GAS_TEST_STALE
    return None


def monitored_gases_needed(permit: Permit) -> frozenset[str]:
    """The gases the zone's fixed monitors must judge for ``permit``'s continuous monitoring
    (``edge.floors.MONITORED_GASES``); empty where the work needs no continuous monitoring."""
    if not requires_monitoring(permit):
        return frozenset()
    return MONITORED_GASES.get(permit.kind, frozenset())


def unmonitored_gases(air: AirVerdict, permit: Permit) -> frozenset[str]:
    """The needed gases no installed monitor judges (empty when the source does not say)."""
    if air.monitored is None:
        return frozenset()
    return monitored_gases_needed(permit) - air.monitored


def check_air(
    air: AirVerdict | None,
    *,
    require_monitoring: bool,
    require_monitor: bool = False,
    need_gases: frozenset[str] = frozenset(),
) -> ReasonCode | None:
    """Why the air forbids starting or resuming work (unsafe, latched, no monitoring), or None.

    ``require_monitor``: the work may not run where no gas monitor is installed at all
    (``NO_AIR_DATA``), although a passing fault of an installed one does not stop it.
    ``need_gases``: the gases the installed monitors must judge (``monitored_gases_needed``);
    one missing is ``MONITOR_INCOMPLETE``.
    """
    if air is None:
        return ReasonCode.NO_AIR_DATA if require_monitoring or require_monitor else None
    if not air.safe:
        return ReasonCode.GAS_UNSAFE
    if air.latched:
        return ReasonCode.GAS_ALARM_LATCHED
    if require_monitoring and not air.monitoring_ok:
        return air.reasons[0] if air.reasons else ReasonCode.NO_AIR_DATA
    if require_monitor and not air.monitoring_ok and ReasonCode.NO_AIR_DATA in air.reasons:
        return ReasonCode.NO_AIR_DATA
    if air.monitored is not None and need_gases - air.monitored:
        return ReasonCode.MONITOR_INCOMPLETE
    return None


def _require_window(permit: Permit, g: Guards) -> datetime:
    if g.now is None:
        raise TransitionError(ReasonCode.CLOCK_UNTRUSTED, "wall clock not synchronised")
    if g.now < permit.valid_from:
        raise TransitionError(ReasonCode.PERMIT_NOT_YET_VALID, f"valid from {permit.valid_from}")
    if g.now >= effective_valid_to(permit, g.linked):
        raise TransitionError(ReasonCode.PERMIT_EXPIRED, f"valid to {permit.valid_to}")
    if permit.linked_permit_id and (g.linked is None or g.linked.status not in LIVE_STATUSES):
        raise TransitionError(
            ReasonCode.PERMIT_CLOSED, f"linked permit {permit.linked_permit_id} is not live"
        )
    return g.now


def apply(
    permit: Permit,
    action: Action,
    actor: Actor,
    guards: Guards,
    *,
    cause: SuspensionCause = SuspensionCause.MANUAL,
    reason: str = "",
) -> Permit:
    """Return the permit after ``action``, or raise ``TransitionError``. Never mutates."""
    sources, target = LEGAL[action]
    if permit.status not in sources:
        raise TransitionError(
            ReasonCode.ILLEGAL_TRANSITION, f"cannot {action} a permit that is {permit.status}"
        )
    if actor.kind is ActorKind.SYSTEM and action not in SYSTEM_ACTIONS:
        raise TransitionError(ReasonCode.NOT_AUTHORISED, f"automatic rules cannot {action}")

    if action is Action.SUSPEND:
        if (
            permit.suspension is not None
            and _CAUSE_RANK[cause] <= _CAUSE_RANK[permit.suspension.cause]
        ):
            raise TransitionError(ReasonCode.ILLEGAL_TRANSITION, "already suspended")
        return permit.model_copy(
            update={
                "status": target,
                "suspension": Suspension(
                    at=guards.wall, cause=cause, reason=reason or cause.value, actor=actor.actor_id
                ),
            }
        )

    if action is Action.EXPIRE:
        if guards.now is None:
            raise TransitionError(ReasonCode.CLOCK_UNTRUSTED, "cannot judge expiry")
        if guards.now < effective_valid_to(permit, guards.linked):
            raise TransitionError(ReasonCode.ILLEGAL_TRANSITION, "permit is still inside validity")
        return permit.model_copy(update={"status": target, "suspension": None})

    if action in (Action.START, Action.RESUME):
        if not actor.authorised or actor.kind is ActorKind.SYSTEM:
            raise TransitionError(ReasonCode.NOT_AUTHORISED, f"{action} needs an authorised person")
        now = _require_window(permit, guards)
        newer_than: datetime | None = None
        need_test = effective_gas(permit).test_required  # the document cannot waive it
        if action is Action.RESUME:
            assert permit.suspension is not None  # guaranteed by the model for SUSPENDED
            brk = permit.retest_after_break
            long_break = brk is not None and now - permit.suspension.at > brk
            if permit.suspension.cause in _GAS_CAUSES or long_break:
                newer_than = permit.suspension.at
                need_test = True
        if need_test:
            code = check_gas_test(permit, guards.gas_test, now, newer_than=newer_than)
            if code is not None:
                raise TransitionError(code, "a passing, recent gas test is required")
        air_code = check_air(
            guards.air,
            require_monitoring=guards.require_monitoring or requires_monitoring(permit),
            require_monitor=requires_monitor_installed(permit),
            need_gases=monitored_gases_needed(permit),
        )
        if air_code is not None:
            raise TransitionError(air_code, "the air does not allow work")
        update: dict[str, object] = {"status": target, "suspension": None}
        if action is Action.START:
            update["activated_at"] = now
        return permit.model_copy(update=update)

    # COMPLETE, CLOSE, CANCEL, REVOKE: an authorised person or central, no further guard.
    if not actor.authorised:
        raise TransitionError(ReasonCode.NOT_AUTHORISED, f"{action} needs an authorised actor")
    return permit.model_copy(update={"status": target, "suspension": None})
