"""Permit lifecycle commands: issue, start, suspend, resume, expire, complete, close, cancel.

The legal transitions and their guards are ``edge.permits``; what the whole zone allows (every
floor of the standard, tests, certificates, linked permits) is ``edge.judgement``. This part
commits the result and journals it.
"""

from __future__ import annotations

import logging
from typing import Any

from edge import floors, judgement
from edge import permits as pm
from edge.effects import ActorLike, CommandRejected, ZoneEffects, actor_of
from edge.models import (
    LIVE_STATUSES,
    TERMINAL_STATUSES,
    Event,
    EventKind,
    EventType,
    GasTest,
    Permit,
    PermitStatus,
    SuspensionCause,
)
from edge.reasons import ReasonCode

log = logging.getLogger("zonegate.zone")


class PermitLifecycle(ZoneEffects):
    """Permit commands: issue, start, suspend, resume, end; each one a journaled transition.

    Transitions follow ``edge.permits`` (GB 30871-2022); a refused one raises
    ``CommandRejected`` with the reason code and changes nothing. ``actor`` is an ``Actor`` or
    an id; ``authorised`` says whether it carries an authorisation (signed command, role).
    """

    def _transition(
        self,
        permit_id: str,
        action: pm.Action,
        actor: pm.Actor,
        *,
        cause: SuspensionCause = SuspensionCause.MANUAL,
        reason: str = "",
        evidence: dict[str, Any] | None = None,
    ) -> Permit:
        old = self._get(permit_id)
        guards = self._guards(old)
        try:
            new = pm.apply(old, action, actor, guards, cause=cause, reason=reason)
        except pm.TransitionError as err:
            # A refused command still reports every reason the judgement finds.
            more = self._command_reasons(old, action) if old.status in LIVE_STATUSES else []
            codes = tuple(dict.fromkeys([str(err.code), *(str(c) for c in more)]))
            raise CommandRejected(err.code, err.message, codes) from err
        more = self._command_reasons(old, action)
        if more:
            raise CommandRejected(
                more[0],
                f"{action} refused: " + ", ".join(str(c) for c in more),
                tuple(str(c) for c in more),
            )
        ev = dict(evidence or {})
        if guards.gas_test is not None and action in (pm.Action.START, pm.Action.RESUME):
            ev.setdefault("gas_test_id", guards.gas_test.test_id)
        self._commit(old, new, action.value, actor, reason, ev)
        self._follow_linked(new, actor)
        self.reevaluate()
        return new

    def _command_reasons(self, permit: Permit, action: pm.Action) -> list[ReasonCode]:
        """The judgement of a start or resume (floors, test content, latest alarm, linked
        permit, certificates of the members inside, guardian); empty for other actions."""
        if action is pm.Action.START and permit.status is PermitStatus.APPROVED:
            return judgement.start_reasons(self.facts(), permit)
        if action is pm.Action.RESUME and permit.status is PermitStatus.SUSPENDED:
            return judgement.resume_reasons(self.facts(), permit)
        return []

    def _follow_linked(self, parent: Permit, actor: pm.Actor) -> None:
        """Temporary power follows the permit it serves into suspension or the end (§10.8)."""
        if parent.status is PermitStatus.ACTIVE:
            return
        for child in self.registry.permits(statuses=LIVE_STATUSES):
            if child.linked_permit_id != parent.permit_id:
                continue
            if parent.status is PermitStatus.SUSPENDED and child.status is PermitStatus.ACTIVE:
                new = child.model_copy(
                    update={
                        "status": PermitStatus.SUSPENDED,
                        "suspension": parent.suspension.model_copy(
                            update={"cause": SuspensionCause.LINKED}
                        )
                        if parent.suspension
                        else None,
                    }
                )
                self._commit(child, new, "suspend", actor, f"linked to {parent.permit_id}")
            elif parent.status in TERMINAL_STATUSES | {PermitStatus.COMPLETED}:
                new = child.model_copy(update={"status": PermitStatus.EXPIRED, "suspension": None})
                self._commit(child, new, "expire", actor, f"linked to {parent.permit_id}")

    def issue_permit(self, permit: Permit, actor: ActorLike = "central") -> Permit:
        """Accept a permit (or a newer version of it) issued by central.

        Local state is the edge's: an update never changes the status a permit has here, so a
        central update cannot reactivate what gas suspended (DESIGN invariant 4).
        """
        who = actor_of(actor, authorised=True)
        if permit.zone_id != self.zone.zone_id:
            raise CommandRejected("WRONG_ZONE", f"permit is for zone {permit.zone_id}")
        if permit.kind not in self.zone.work_kinds:
            raise CommandRejected("WRONG_KIND", f"zone does not allow {permit.kind.name}")
        parent = self.registry.permit(permit.linked_permit_id) if permit.linked_permit_id else None
        if parent is not None and parent.kind not in floors.TEMP_POWER_PARENTS:
            # §10.8: temporary power follows the hot work or confined space it serves.
            raise CommandRejected(
                ReasonCode.LINKED_PERMIT_NOT_ACTIVE,
                f"linked permit {parent.permit_id} is {parent.kind.name}, "
                "not hot work or confined space",
            )
        # The standard's floors win over a weaker document; each attempt is journaled.
        loosened = floors.document_loosenings(permit)
        old = self.registry.permit(permit.permit_id)
        if old is not None:
            if permit.version <= old.version:
                raise CommandRejected(
                    "STALE_VERSION", f"version {permit.version} is not newer than {old.version}"
                )
            if old.status in TERMINAL_STATUSES:
                raise CommandRejected(ReasonCode.PERMIT_CLOSED, f"permit is {old.status}")
            kept = {m.worker_id for m in permit.members}
            dropped = sorted(
                wid
                for wid, entry in self.registry.presence().items()
                if entry.get("permit_id") == permit.permit_id and wid not in kept
            )
            if dropped:
                # Still inside on this permit but no longer on it: nobody would be accountable
                # for them and the light stayed green (found by a fresh-user test).
                raise CommandRejected(
                    ReasonCode.WORKER_INSIDE,
                    f"{', '.join(dropped)} inside on {permit.permit_id}: they must badge out "
                    "before the permit drops them",
                )
            if (old.valid_to, old.valid_from) != (permit.valid_to, permit.valid_from) and (
                old.status is not PermitStatus.APPROVED
            ):
                # §4.16: a changed window on started work needs a new permit.
                raise CommandRejected("WINDOW_CHANGE", "a started permit's window cannot change")
            new = permit.model_copy(
                update={
                    "status": old.status,
                    "suspension": old.suspension,
                    "activated_at": old.activated_at,
                }
            )
            self._commit(old, new, "updated", who, evidence={"floors_applied": loosened})
            return new
        new = permit.model_copy(
            update={"status": PermitStatus.APPROVED, "suspension": None, "activated_at": None}
        )
        self._commit(None, new, "issued", who, evidence={"floors_applied": loosened})
        return new

    def start_permit(self, permit_id: str, actor: ActorLike, authorised: bool = True) -> Permit:
        """Start an approved permit: needs a trusted clock, the window, a passing recent gas
        test and safe air. Journals ``permit_start``; returns the new state."""
        return self._transition(permit_id, pm.Action.START, actor_of(actor, authorised=authorised))

    def suspend_permit(
        self,
        permit_id: str,
        cause: SuspensionCause,
        reason: str,
        actor: ActorLike,
        evidence: dict[str, Any] | None = None,
    ) -> Permit:
        """Suspend an active permit for ``cause`` (manual, gas, monitoring lost, guardian
        absent, linked); ``evidence`` is journaled with ``permit_suspend``. Permits linked to it
        (temporary power) follow (§10.8)."""
        return self._transition(
            permit_id,
            pm.Action.SUSPEND,
            actor_of(actor),
            cause=cause,
            reason=reason,
            evidence=evidence,
        )

    def resume_permit(self, permit_id: str, actor: ActorLike, authorised: bool = False) -> Permit:
        """Resume a suspended permit: needs an authorisation, a fresh passing gas test and safe
        air (a gas suspension never resumes by itself). Journals ``permit_resume``."""
        return self._transition(permit_id, pm.Action.RESUME, actor_of(actor, authorised=authorised))

    def revoke_permit(self, permit_id: str, actor: ActorLike, reason: str = "") -> Permit:
        """Take a permit away (central or a safety officer); final. Journals ``permit_revoke``."""
        return self._transition(
            permit_id, pm.Action.REVOKE, actor_of(actor, authorised=True), reason=reason
        )

    def cancel_permit(self, permit_id: str, actor: ActorLike, reason: str = "") -> Permit:
        """Cancel a permit before or during work; final. Journals ``permit_cancel``."""
        return self._transition(
            permit_id, pm.Action.CANCEL, actor_of(actor, authorised=True), reason=reason
        )

    def complete_permit(self, permit_id: str, actor: ActorLike) -> Permit:
        """Work finished; the permit awaits closing. Journals ``permit_complete``."""
        return self._transition(permit_id, pm.Action.COMPLETE, actor_of(actor, authorised=True))

    def close_permit(self, permit_id: str, actor: ActorLike) -> Permit:
        """Close a completed permit after the site check; final. Journals ``permit_close``."""
        return self._transition(permit_id, pm.Action.CLOSE, actor_of(actor, authorised=True))

    def expire_due(self) -> list[Permit]:
        """Judge the whole zone now (the daemon's timer calls this every few seconds) and return
        the permits that expired. Validity is judged on trusted time, or while trust is lost on
        the last trusted instant carried forward by the monotonic clock."""
        return [p for p in self.reevaluate() if p.status is PermitStatus.EXPIRED]

    def record_gas_test(self, test: GasTest, actor: str) -> Event:
        """Store a gas test of this zone (portable or fixed sensors) and journal
        ``gas_test_recorded``; a start or resume needs a recent passing one. Raises
        ``CommandRejected`` (``WRONG_ZONE``) for another zone's test."""
        if test.zone_id != self.zone.zone_id:
            raise CommandRejected("WRONG_ZONE", f"gas test is for zone {test.zone_id}")
        self.registry.put_gas_test(test)
        event = self._emit(
            EventKind.GAS_TEST,
            EventType.GAS_TEST_RECORDED,
            {"actor": actor, "test": test.model_dump(mode="json")},
        )
        self.reevaluate()
        return event
