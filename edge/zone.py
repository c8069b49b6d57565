"""The zone's policy and state in one place: the object every capability talks to.

Order of effects (DESIGN invariant 3): local outputs first, then the state change in the
registry, then its journal event (fsync'd), then listeners (MQTT outbox wake-up, terminal
screen). A crash between the registry write and the journal append leaves a state with no
event; ``reconcile`` appends the missing event at the next start, so nothing committed is
lost and nothing uncommitted is announced. Presence is written before its event for the same
reason: after a crash a worker shows as inside rather than silently outside.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge import permits as pm
from edge.access import BadgeInFacts, decide_badge_in, decide_badge_out
from edge.clock import Clock
from edge.config import AccessConfig
from edge.evidence import (
    AirSource,
    AirVerdict,
    BadgeOnlyIdentity,
    IdentityResult,
    IdentityVerifier,
    NoAirData,
    PositionNotRequired,
    PositionSource,
)
from edge.journal import Journal
from edge.models import (
    LIVE_STATUSES,
    TERMINAL_STATUSES,
    Decision,
    Event,
    EventKind,
    GasTest,
    Permit,
    PermitStatus,
    SuspensionCause,
    Worker,
    Zone,
)
from edge.reasons import Lang, ReasonCode
from edge.registry import Registry
from firmware_adapters.outputs.signals import Annunciator, Light, RecordingAnnunciator

log = logging.getLogger("zonegate.zone")


class CommandRejected(Exception):
    """A request to change state was refused; ``code`` is the reason given back to the caller."""

    def __init__(self, code: ReasonCode | str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = str(code)
        self.message = message


ActorLike = str | pm.Actor


def _actor(actor: ActorLike, *, authorised: bool = False) -> pm.Actor:
    if isinstance(actor, pm.Actor):
        return actor
    kind = pm.ActorKind.SYSTEM if actor.startswith("system:") else pm.ActorKind.PERSON
    return pm.Actor(actor_id=actor, kind=kind, authorised=authorised)


class ZoneController:
    def __init__(
        self,
        *,
        zone: Zone,
        registry: Registry,
        journal: Journal,
        clock: Clock,
        access: AccessConfig | None = None,
        timezone: str = "Asia/Shanghai",
        language: Lang = Lang.ZH,
        annunciator: Annunciator | None = None,
        air: AirSource | None = None,
        position: PositionSource | None = None,
        identity: IdentityVerifier | None = None,
    ) -> None:
        self.zone = zone
        self.registry = registry
        self.journal = journal
        self.clock = clock
        self.access = access or AccessConfig()
        self.tz = ZoneInfo(timezone)
        self.language = language
        self.annunciator: Annunciator = annunciator or RecordingAnnunciator()
        self.air: AirSource = air or NoAirData()
        self.position: PositionSource = position or PositionNotRequired()
        self.identity: IdentityVerifier = identity or BadgeOnlyIdentity()
        self.event_listeners: list[Callable[[Event], None]] = []
        self.on_worker_removed: list[Callable[[str], None]] = []
        # Capabilities whose alarms latch (gas) register how a person acknowledges them.
        self.alarm_acknowledgers: list[Callable[[str], list[dict[str, Any]]]] = []
        self.health: dict[str, dict[str, Any]] = {}
        self._mismatches: dict[str, collections.deque[float]] = {}
        self._air_alarm = False
        self._light: tuple[Light, bool] | None = None
        registry.put_zone(zone)

    # ------------------------------------------------------------------ events

    def _emit(self, kind: EventKind, type_: str, payload: dict[str, Any]) -> Event:
        event = self.journal.append(kind, type_, payload)
        self._announce(event)
        return event

    def _announce(self, event: Event) -> None:
        for listener in list(self.event_listeners):
            try:
                listener(event)
            except Exception:  # a listener must never undo a committed state change
                log.exception("event listener failed for %s", event.type)

    def alert(self, type_: str, payload: dict[str, Any]) -> Event:
        """Journal an alert for the safety officer (gas, proxy attempt, terminal moved, ...)."""
        return self._emit(EventKind.ALERT, type_, {"zone_id": self.zone.zone_id, **payload})

    def fault(self, type_: str, payload: dict[str, Any]) -> Event:
        return self._emit(EventKind.FAULT, type_, {"zone_id": self.zone.zone_id, **payload})

    def system(self, type_: str, payload: dict[str, Any]) -> Event:
        """Journal a state note (fence entered, service health) and tell the listeners."""
        return self._emit(EventKind.SYSTEM, type_, {"zone_id": self.zone.zone_id, **payload})

    # ------------------------------------------------------------------ time

    def trusted_now(self) -> datetime | None:
        return self.clock.wall() if self.clock.trust().trusted else None

    def _guards(self, permit: Permit | None = None) -> pm.Guards:
        linked = None
        if permit is not None and permit.linked_permit_id:
            linked = self.registry.permit(permit.linked_permit_id)
        return pm.Guards(
            now=self.trusted_now(),
            wall=self.clock.wall(),
            gas_test=self.registry.latest_gas_test(self.zone.zone_id),
            air=self.air.air_verdict(),
            linked=linked,
            require_monitoring=permit is not None and pm.requires_monitoring(permit),
        )

    # ------------------------------------------------------------------ permits

    def _get(self, permit_id: str) -> Permit:
        permit = self.registry.permit(permit_id)
        if permit is None:
            raise CommandRejected(ReasonCode.NO_PERMIT, f"no permit {permit_id}")
        return permit

    def _commit(
        self,
        old: Permit | None,
        new: Permit,
        action: str,
        actor: pm.Actor,
        reason: str = "",
        evidence: dict[str, Any] | None = None,
    ) -> Event:
        self.registry.put_permit(new)
        return self._emit(
            EventKind.PERMIT,
            f"permit_{action}",
            self._permit_payload(old, new, action, actor, reason, evidence),
        )

    @staticmethod
    def _permit_payload(
        old: Permit | None,
        new: Permit,
        action: str,
        actor: pm.Actor,
        reason: str = "",
        evidence: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "permit_id": new.permit_id,
            "from": old.status.value if old else None,
            "to": new.status.value,
            "action": action,
            "actor": actor.model_dump(mode="json"),
            "reason": reason,
            "evidence": evidence or {},
            "permit": new.model_dump(mode="json"),
        }

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
            raise CommandRejected(err.code, err.message) from err
        ev = dict(evidence or {})
        if guards.gas_test is not None and action in (pm.Action.START, pm.Action.RESUME):
            ev.setdefault("gas_test_id", guards.gas_test.test_id)
        self._commit(old, new, action.value, actor, reason, ev)
        self._follow_linked(new, actor)
        self._refresh_light()
        return new

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
        who = _actor(actor, authorised=True)
        if permit.zone_id != self.zone.zone_id:
            raise CommandRejected("WRONG_ZONE", f"permit is for zone {permit.zone_id}")
        if permit.kind not in self.zone.work_kinds:
            raise CommandRejected("WRONG_KIND", f"zone does not allow {permit.kind.name}")
        old = self.registry.permit(permit.permit_id)
        if old is not None:
            if permit.version <= old.version:
                raise CommandRejected(
                    "STALE_VERSION", f"version {permit.version} is not newer than {old.version}"
                )
            if old.status in TERMINAL_STATUSES:
                raise CommandRejected(ReasonCode.PERMIT_CLOSED, f"permit is {old.status}")
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
            self._commit(old, new, "updated", who)
            return new
        new = permit.model_copy(
            update={"status": PermitStatus.APPROVED, "suspension": None, "activated_at": None}
        )
        self._commit(None, new, "issued", who)
        return new

    def start_permit(self, permit_id: str, actor: ActorLike, authorised: bool = True) -> Permit:
        return self._transition(permit_id, pm.Action.START, _actor(actor, authorised=authorised))

    def suspend_permit(
        self,
        permit_id: str,
        cause: SuspensionCause,
        reason: str,
        actor: ActorLike,
        evidence: dict[str, Any] | None = None,
    ) -> Permit:
        return self._transition(
            permit_id,
            pm.Action.SUSPEND,
            _actor(actor),
            cause=cause,
            reason=reason,
            evidence=evidence,
        )

    def resume_permit(self, permit_id: str, actor: ActorLike, authorised: bool = False) -> Permit:
        return self._transition(permit_id, pm.Action.RESUME, _actor(actor, authorised=authorised))

    def revoke_permit(self, permit_id: str, actor: ActorLike, reason: str = "") -> Permit:
        return self._transition(
            permit_id, pm.Action.REVOKE, _actor(actor, authorised=True), reason=reason
        )

    def cancel_permit(self, permit_id: str, actor: ActorLike, reason: str = "") -> Permit:
        return self._transition(
            permit_id, pm.Action.CANCEL, _actor(actor, authorised=True), reason=reason
        )

    def complete_permit(self, permit_id: str, actor: ActorLike) -> Permit:
        return self._transition(permit_id, pm.Action.COMPLETE, _actor(actor, authorised=True))

    def close_permit(self, permit_id: str, actor: ActorLike) -> Permit:
        return self._transition(permit_id, pm.Action.CLOSE, _actor(actor, authorised=True))

    def expire_due(self) -> list[Permit]:
        """Expire every live permit past its window. Nothing expires on an untrusted clock."""
        now = self.trusted_now()
        if now is None:
            return []
        out: list[Permit] = []
        system = pm.Actor.system("validity")
        for permit in self.registry.permits(statuses=LIVE_STATUSES):
            guards = self._guards(permit)
            if now < pm.effective_valid_to(permit, guards.linked):
                continue
            new = pm.apply(permit, pm.Action.EXPIRE, system, guards)
            self._commit(permit, new, "expire", system, "validity window ended")
            self._follow_linked(new, system)
            out.append(new)
        if out:
            self._refresh_light()
        return out

    # ------------------------------------------------------------------ air

    def on_air_verdict(self, verdict: AirVerdict) -> list[Permit]:
        """React to the air: on danger, red light first, then suspend, then alert.

        Unsafe air suspends every active permit of the zone (toxic or explosive air endangers all
        work there). Lost monitoring suspends the permits that require continuous monitoring.
        Called on every verdict; repeated calls while the episode lasts change nothing.
        """
        unsafe = not verdict.safe
        lost = not verdict.monitoring_ok
        if not unsafe and not lost:
            if self._air_alarm:
                self._air_alarm = False
                self._emit(
                    EventKind.ALERT,
                    "gas_alarm_cleared",
                    {"zone_id": self.zone.zone_id, "latched": verdict.latched},
                )
            self._refresh_light()
            return []
        if unsafe:
            self._show(Light.RED, buzzer=True)  # before anything is written: invariant 3
        cause = SuspensionCause.GAS if unsafe else SuspensionCause.MONITORING_LOST
        system = pm.Actor.system("gas" if unsafe else "monitoring")
        reason = ",".join(r.value for r in verdict.reasons) or cause.value
        # A suspension needs only the moment it happened; no gas test, air or window guard.
        guards = pm.Guards(now=None, wall=self.clock.wall())
        live = self.registry.permits(statuses=LIVE_STATUSES)
        changes: list[tuple[Permit, Permit, str]] = []
        for permit in live:
            if permit.status is PermitStatus.APPROVED:
                continue
            if not unsafe and not pm.requires_monitoring(permit):
                continue
            try:
                new = pm.apply(
                    permit, pm.Action.SUSPEND, system, guards, cause=cause, reason=reason
                )
            except pm.TransitionError:
                continue  # already suspended for this cause or a stronger one
            changes.append((permit, new, reason))
        parents = {new.permit_id: new for _, new, _ in changes}
        for child in live:  # temporary power follows the permit it serves (§10.8)
            parent = parents.get(child.linked_permit_id or "")
            if parent is None or child.status is not PermitStatus.ACTIVE:
                continue
            if child.permit_id in parents:
                continue
            assert parent.suspension is not None
            new = child.model_copy(
                update={
                    "status": PermitStatus.SUSPENDED,
                    "suspension": parent.suspension.model_copy(
                        update={"cause": SuspensionCause.LINKED}
                    ),
                }
            )
            changes.append((child, new, f"linked to {parent.permit_id}"))
        suspended = [new for _, new, _ in changes]
        items: list[tuple[EventKind, str, dict[str, Any]]] = [
            (
                EventKind.PERMIT,
                "permit_suspend",
                self._permit_payload(old, new, "suspend", system, why, dict(verdict.details)),
            )
            for old, new, why in changes
        ]
        alert_type = None
        if unsafe and (suspended or not self._air_alarm):
            alert_type = "gas_alarm"
        elif lost and suspended:
            alert_type = "monitoring_lost"
        if alert_type is not None:
            items.append(
                (
                    EventKind.ALERT,
                    alert_type,
                    {
                        "zone_id": self.zone.zone_id,
                        **verdict.details,
                        "reasons": [r.value for r in verdict.reasons],
                        "suspended_permits": [p.permit_id for p in suspended],
                        "inside": self.inside(),
                    },
                )
            )
        if suspended:
            self.registry.put_permits(suspended)  # one durable write for all of them
        if items:
            # One transaction, one fsync: the suspensions and the alert that names them.
            for event in self.journal.append_many(items):
                self._announce(event)
        if alert_type == "gas_alarm":
            self._air_alarm = True  # only once journaled: a failed append is retried
        self._refresh_light()
        return suspended

    def acknowledge_alarms(self, actor: str) -> list[dict[str, Any]]:
        """A person acknowledges every latched alarm; each capability journals its part."""
        acked: list[dict[str, Any]] = []
        for ack in list(self.alarm_acknowledgers):
            acked.extend(ack(actor))
        return acked

    def record_gas_test(self, test: GasTest, actor: str) -> Event:
        if test.zone_id != self.zone.zone_id:
            raise CommandRejected("WRONG_ZONE", f"gas test is for zone {test.zone_id}")
        self.registry.put_gas_test(test)
        return self._emit(
            EventKind.GAS_TEST,
            "gas_test_recorded",
            {"actor": actor, "test": test.model_dump(mode="json")},
        )

    # ------------------------------------------------------------------ light

    def _show(self, light: Light, *, buzzer: bool) -> None:
        if self._light == (light, buzzer):
            return
        try:
            self.annunciator.show(light, buzzer=buzzer)
            self._light = (light, buzzer)
        except Exception:  # an output fault must not stop the suspension that follows
            log.exception("annunciator failed to show %s", light)

    def _refresh_light(self) -> None:
        verdict = self.air.air_verdict()
        if not verdict.safe:
            self._show(Light.RED, buzzer=True)
            return
        suspended = self.registry.permits(statuses=frozenset({PermitStatus.SUSPENDED}))
        if suspended or verdict.latched:
            self._show(Light.RED, buzzer=False)
        elif not verdict.monitoring_ok:
            self._show(Light.AMBER, buzzer=False)
        else:
            self._show(Light.GREEN, buzzer=False)

    # ------------------------------------------------------------------ people

    def inside(self) -> list[dict[str, Any]]:
        out = []
        for wid, entry in sorted(self.registry.presence().items()):
            worker = self.registry.worker(wid)
            out.append(
                {
                    "worker_id": wid,
                    "name": worker.name if worker else None,
                    "permit_id": entry.get("permit_id"),
                    "role": entry.get("role"),
                    "since": entry.get("since"),
                }
            )
        return out

    def _break_since(self) -> datetime | None:
        doc = self.registry.get_doc("zone_state", "presence")
        if doc and doc.get("empty_since"):
            return datetime.fromisoformat(str(doc["empty_since"]))
        return None

    async def badge_in(self, badge_id: str) -> Decision:
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
            gas_test=self.registry.latest_gas_test(self.zone.zone_id),
            break_since=self._break_since(),
            tz=self.tz,
            cert_warn_days=self.access.cert_warn_days,
        )
        decision = decide_badge_in(facts, self.language)
        if decision.allowed and worker is not None:
            self.registry.enter(
                worker.worker_id,
                decision.permit_id,
                decision.role.value if decision.role else None,
                self.clock.wall(),
            )
        self._emit(EventKind.ACCESS, "access_decision", decision.model_dump(mode="json"))
        if worker is not None and ReasonCode.FACE_MISMATCH in decision.reasons:
            self._count_mismatch(worker, identity)
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
            "proxy_attempt",
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
        worker = self.registry.worker_by_badge(badge_id)
        presence = self.registry.presence()
        decision = decide_badge_out(badge_id, worker, presence, self.position.position_verdict())
        if worker is not None and worker.worker_id in presence:
            self.registry.leave(worker.worker_id)
            if not self.registry.presence():
                self.registry.put_doc(
                    "zone_state", "presence", {"empty_since": self.clock.wall().isoformat()}
                )
        self._emit(EventKind.ACCESS, "access_decision", decision.model_dump(mode="json"))
        if worker is not None:
            self._guardian_left(worker.worker_id)
        return decision

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
                "guardian_absent",
                {"permit_id": permit.permit_id, "guardian": worker_id, "inside": self.inside()},
            )
        self._refresh_light()

    def unlock_worker(self, worker_id: str, actor: ActorLike) -> bool:
        who = _actor(actor, authorised=True)
        changed = self.registry.unlock(worker_id)
        self._mismatches.pop(worker_id, None)
        self._emit(
            EventKind.ACCESS,
            "worker_unlocked",
            {"worker_id": worker_id, "actor": who.actor_id, "was_locked": changed},
        )
        return changed

    # ------------------------------------------------------------------ roster

    def put_workers(self, workers: Iterable[Worker], actor: ActorLike) -> int:
        batch = list(workers)
        self.registry.put_workers(batch)
        self._emit(
            EventKind.COMMAND,
            "roster_updated",
            {"actor": _actor(actor).actor_id, "workers": [w.worker_id for w in batch]},
        )
        return len(batch)

    def remove_worker(self, worker_id: str, actor: ActorLike) -> bool:
        removed = self.registry.remove_worker(worker_id)
        for erase in list(self.on_worker_removed):
            erase(worker_id)  # biometric data goes with the roster entry (invariant 7)
        self.registry.unlock(worker_id)
        self._emit(
            EventKind.COMMAND,
            "worker_removed",
            {"actor": _actor(actor).actor_id, "worker_id": worker_id, "found": removed},
        )
        return removed

    # ------------------------------------------------------------------ state

    def snapshot(self) -> dict[str, Any]:
        verdict = self.air.air_verdict()
        position = self.position.position_verdict()
        trust = self.clock.trust()
        return {
            "zone": self.zone.model_dump(mode="json"),
            "permits": [p.model_dump(mode="json") for p in self.registry.permits()],
            "presence": self.inside(),
            "locked": sorted(self.registry.lockouts()),
            "air": {
                "safe": verdict.safe,
                "monitoring_ok": verdict.monitoring_ok,
                "latched": verdict.latched,
                "reasons": [r.value for r in verdict.reasons],
                "details": verdict.details,
            },
            "position": {
                "ok": position.ok,
                "reason": position.reason.value if position.reason else None,
                "position": position.position.model_dump() if position.position else None,
            },
            "clock": {"trusted": trust.trusted, "source": trust.source},
            "light": self._light[0].value if self._light else None,
            "health": self.health,
        }

    def reconcile(self) -> list[str]:
        """At start: append the permit events a crash kept from being journaled."""
        last: dict[str, str] = {}
        for ev in self.journal.events(kind=EventKind.PERMIT):
            last[str(ev.payload.get("permit_id"))] = str(ev.payload.get("to"))
        fixed = []
        system = pm.Actor.system("recovery")
        for permit in self.registry.permits():
            if last.get(permit.permit_id) != permit.status.value:
                self._emit(
                    EventKind.PERMIT,
                    "permit_state_recovered",
                    {
                        "permit_id": permit.permit_id,
                        "from": last.get(permit.permit_id),
                        "to": permit.status.value,
                        "action": "recover",
                        "actor": system.model_dump(mode="json"),
                        "reason": "state committed before a crash, event appended at start",
                        "evidence": {},
                        "permit": permit.model_dump(mode="json"),
                    },
                )
                fixed.append(permit.permit_id)
        self._refresh_light()
        return fixed
