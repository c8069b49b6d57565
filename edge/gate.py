"""Badge-in and badge-out at the zone's gate: the decision (``edge.access``) applied."""

from __future__ import annotations

import collections
import contextlib
import logging

from edge import permits as pm
from edge.access import BadgeInFacts, decide_badge_in, decide_badge_out
from edge.effects import ActorLike, ZoneEffects, actor_of
from edge.errors import StoreError
from edge.evidence import (
    IdentityResult,
)
from edge.models import (
    LIVE_STATUSES,
    Decision,
    EventKind,
    EventType,
    PermitStatus,
    SuspensionCause,
    Worker,
)
from edge.reasons import Lang, ReasonCode, text

log = logging.getLogger("zonegate.zone")


def refuse_for_storage(decision: Decision, lang: Lang) -> Decision:
    """``decision`` turned into a denial because the entry cannot be recorded."""
    code = ReasonCode.STORE_UNWRITABLE
    return decision.model_copy(
        update={
            "allowed": False,
            "reasons": (code,),
            "message_zh": text(code, Lang.ZH),
            "message_en": text(code, Lang.EN),
        }
    )


class Gate(ZoneEffects):
    """Badge-in and badge-out at the zone's entrance, and what follows from them."""

    async def badge_in(self, badge_id: str) -> Decision:
        """Decide a badge-in and apply it: never raises, always journals ``access_decision``.

        ``badge_id`` is the card's id as the reader gives it. The decision
        (``edge.access.decide_badge_in``) weighs the roster, a lock, the face check
        (``identity``; an exception there denies with ``IDENTITY_UNAVAILABLE``), the trusted
        clock, the position verdict, the air, the worker's permit and role, the gas test and
        the certificates (GB 30871-2022; reasons in ``edge.reasons``). If allowed, the worker
        is marked inside before the event is journaled. The third face mismatch on one badge
        within ``access.lockout_window_s`` locks it and raises a ``proxy_attempt`` alert.
        Returns the ``Decision`` with zh-CN and English messages for the worker.
        """
        worker = self.registry.worker_by_badge(badge_id)
        locked = worker is not None and worker.worker_id in self.registry.lockouts()
        identity: IdentityResult | None = None
        if worker is not None and not locked:
            try:
                identity = await self.identity.verify(worker, badge_id)
            except Exception:  # a broken camera must deny, not crash the terminal
                log.exception("identity verification failed")
                identity = IdentityResult(match=False, reason=ReasonCode.IDENTITY_UNAVAILABLE)
        facts = BadgeInFacts(
            zone=self.zone,
            badge_id=badge_id,
            worker=worker,
            locked=locked,
            identity=identity,
            now=self.trusted_now(),
            position=self.position.position_verdict(),
            air=self.air.air_verdict(),
            permits=[p for p in self.registry.permits() if p.zone_id == self.zone.zone_id],
            presence=self.registry.presence(),
            gas_test=self.latest_gas_test(),
            tz=self.tz,
            cert_warn_days=self.access.cert_warn_days,
            last_alarm_at=self.last_alarm_at(),
            unoccupied_since=self.unoccupied_since(),
            monitoring_resuming=self.monitoring_resuming(),
        )
        decision = decide_badge_in(facts, self.language)
        if decision.allowed and not self.storage_ok:
            # An entry that cannot be recorded is not admitted (issue 16.2): who is inside must
            # survive a restart, and the audit trail must hold every admission.
            decision = refuse_for_storage(decision, self.language)
        try:
            if decision.allowed and worker is not None:
                self.registry.enter(
                    worker.worker_id,
                    decision.permit_id,
                    decision.role.value if decision.role else None,
                    self.clock.wall(),
                )
            self._emit(
                EventKind.ACCESS, EventType.ACCESS_DECISION, decision.model_dump(mode="json")
            )
        except StoreError as err:
            self.storage_failed(err, "badge-in")
            if decision.allowed and worker is not None:
                with contextlib.suppress(StoreError):
                    self.registry.leave(worker.worker_id)  # memory: not inside after all
                decision = refuse_for_storage(decision, self.language)
                self._append_or_hold(
                    [
                        (
                            EventKind.ACCESS,
                            EventType.ACCESS_DECISION,
                            decision.model_dump(mode="json"),
                        )
                    ],
                    "badge-in",
                )
            return decision
        if worker is not None and ReasonCode.FACE_MISMATCH in decision.reasons:
            self._count_mismatch(worker, identity)
        if decision.allowed:
            self.reevaluate()  # presence changed: the whole zone is judged again
        return decision

    def _count_mismatch(self, worker: Worker, identity: IdentityResult | None) -> None:
        """Three face mismatches on one badge within the window lock it (anti-proxy, 代签)."""
        now = self.clock.mono()
        window = self.access.lockout_window_s
        seen = self._mismatches.setdefault(worker.worker_id, collections.deque())
        seen.append(now)
        while seen and now - seen[0] > window:
            seen.popleft()
        if len(seen) < self.access.lockout_threshold:
            return
        seen.clear()
        self.registry.lock(worker.worker_id, ReasonCode.PROXY_ATTEMPT.value, self.clock.wall())
        seen_id = identity.seen_worker_id if identity else None
        seen_worker = self.registry.worker(seen_id) if seen_id else None
        self.alert(
            EventType.PROXY_ATTEMPT,
            {
                "reason": ReasonCode.PROXY_ATTEMPT.value,
                "badge_owner": {"worker_id": worker.worker_id, "name": worker.name},
                "seen": {"worker_id": seen_id, "name": seen_worker.name if seen_worker else None},
                "mismatches": self.access.lockout_threshold,
                "window_s": window,
                "locked": True,
            },
        )

    async def badge_out(self, badge_id: str) -> Decision:
        """Record a worker leaving; journals ``access_decision``. If that leaves entrants of an
        active permit without any of its guardians inside, the permit is suspended and a
        ``guardian_absent`` alert raised (GB 30871 §4.10f). Never raises."""
        worker = self.registry.worker_by_badge(badge_id)
        presence = self.registry.presence()
        decision = decide_badge_out(badge_id, worker, presence, self.position.position_verdict())
        try:
            if worker is not None and worker.worker_id in presence:
                self.registry.leave(worker.worker_id)
                self._mark_breaks(worker.worker_id)
        except StoreError as err:
            # Leaving is never refused; memory holds the exit until the disk takes it.
            self.storage_failed(err, "badge-out")
        event = [(EventKind.ACCESS, EventType.ACCESS_DECISION, decision.model_dump(mode="json"))]
        self._append_or_hold(event, "badge-out")
        if worker is not None:
            try:
                self._guardian_left(worker.worker_id)
            except StoreError as err:
                self.storage_failed(err, "guardian check")
        self.reevaluate()
        return decision

    def _mark_breaks(self, worker_id: str) -> None:
        """A permit whose last named person just left starts a break (§5.3.1d, §6.3f): breaks
        are per permit, so a worker on another permit staying inside does not hide one."""
        presence = self.registry.presence()
        doc = self.registry.get_doc("zone_state", "permit_breaks") or {}
        breaks: dict[str, str] = dict(doc.get("since", {}))
        now = self.clock.wall().isoformat()
        changed = False
        for permit in self.registry.permits(statuses=LIVE_STATUSES):
            if permit.member(worker_id) is None:
                continue
            if not any(permit.member(w) is not None for w in presence):
                breaks[permit.permit_id] = now
                changed = True
        if changed:
            self.registry.put_doc("zone_state", "permit_breaks", {"since": breaks})

    def _guardian_left(self, worker_id: str) -> None:
        """§4.10f: the guardian leaving takes the permit back; entrants left inside = suspend."""
        presence = self.registry.presence()
        for permit in self.registry.permits(statuses=frozenset({PermitStatus.ACTIVE})):
            if worker_id not in permit.guardians:
                continue
            entrants = [w for w, e in presence.items() if e.get("permit_id") == permit.permit_id]
            if any(g in presence for g in permit.guardians) or not entrants:
                continue
            system = pm.Actor.system("guardian")
            new = pm.apply(
                permit,
                pm.Action.SUSPEND,
                system,
                self._guards(permit),
                cause=SuspensionCause.GUARDIAN_ABSENT,
                reason="guardian left",
            )
            self._commit(
                permit,
                new,
                "suspend",
                system,
                "guardian left",
                {"guardian": worker_id, "entrants": entrants},
            )
            self.alert(
                EventType.GUARDIAN_ABSENT,
                {"permit_id": permit.permit_id, "guardian": worker_id, "inside": self.inside()},
            )

    def unlock_worker(self, worker_id: str, actor: ActorLike) -> bool:
        """Lift a badge lock (an authorised person or signed command); journals
        ``worker_unlocked``. Returns whether the worker was locked."""
        who = actor_of(actor, authorised=True)
        changed = self.registry.unlock(worker_id)
        self._mismatches.pop(worker_id, None)
        self._emit(
            EventKind.ACCESS,
            EventType.WORKER_UNLOCKED,
            {"worker_id": worker_id, "actor": who.actor_id, "was_locked": changed},
        )
        return changed
