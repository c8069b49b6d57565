"""The zone controller: the object every capability talks to.

It is assembled from parts a newcomer finds by name: ``edge.effects`` (shared state, journal,
light and relay), ``edge.lifecycle`` (permit commands), ``edge.air_response`` (suspending on
the air), ``edge.gate`` (badge-in / out). ``edge.judgement`` is the pure judgement of the whole
zone that the controller applies on every change and on a timer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from edge import floors
from edge import permits as pm
from edge.air_response import AirResponse
from edge.effects import ActorLike, actor_of
from edge.effects import CommandRejected as CommandRejected
from edge.errors import StoreError
from edge.gate import Gate
from edge.judgement import ZoneFacts, judge_zone, lapsed_inside
from edge.models import (
    LIVE_STATUSES,
    EventKind,
    EventType,
    Permit,
    PermitStatus,
    SuspensionCause,
    Worker,
)
from edge.reasons import ReasonCode
from edge.work_cycle import WorkCycle

log = logging.getLogger("zonegate.zone")

# The automatic rule that acts for each cause, named in the journal as ``system:<rule>``.
_RULE_OF = {
    SuspensionCause.GAS: "gas",
    SuspensionCause.MONITORING_LOST: "monitoring",
    SuspensionCause.GUARDIAN_ABSENT: "guardian",
    SuspensionCause.LINKED: "linked",
    SuspensionCause.MANUAL: "judgement",
}


class ZoneController(WorkCycle, AirResponse, Gate):
    """One zone's policy and state: the object every capability and command talks to.

    Construct with ``zone``, the ``registry`` (current state) and ``journal`` (audit and
    outbox), a ``clock``, and optionally the capability sources (``air``, ``position``,
    ``identity``, ``annunciator``; each defaults to its safe "not installed" stand-in, e.g. no
    air data = monitoring not OK). The parts live in ``edge.lifecycle`` (permit commands),
    ``edge.work_cycle`` (people's actions: gas tests, start ... close),
    ``edge.air_response`` (gas), ``edge.gate`` (badge-in/out) and ``edge.effects`` (shared
    state, journal, light). Every state change is written to the registry, then journaled
    (fsync'd), then announced to ``event_listeners`` (DESIGN invariant 3). Refusals raise
    ``CommandRejected`` with a reason code (``edge.reasons.ReasonCode`` or a command code).
    """

    # ------------------------------------------------------------------ the judgement

    def reevaluate(self) -> list[Permit]:
        """Judge the whole zone now and apply the result; return the permits it changed.

        Runs after every change (command, badge, gas test, air verdict) and on the daemon's
        timer, so time-based rules (expiry, breaks, certificates lapsing, clock trust) act
        without a triggering event. Order per DESIGN invariant 3: relay released first when
        work stops, then each state change committed and journaled, then the alerts.
        """
        facts = self.facts()
        j = judge_zone(facts)
        if not j.work_allowed:
            self._refresh_light(j)  # release the relay before anything is written
        changed: list[Permit] = []
        expire = pm.Actor.system("validity")
        for pj in j.to_expire():
            permit = self.registry.permit(pj.permit_id)
            if permit is None or permit.status not in LIVE_STATUSES:
                continue
            new = permit.model_copy(update={"status": PermitStatus.EXPIRED, "suspension": None})
            why = (
                "validity window ended"
                if facts.clock_trusted
                else ("validity window ended (monotonic time since the last trusted instant)")
            )
            people = sorted(facts.occupants(permit))
            # §4.16: expired work stops; the people still inside are named in the event, which
            # goes on the critical lane like every permit transition.
            evidence = {"reasons": list(pj.reasons), "people_inside": people}
            self._commit(permit, new, "expire", expire, why, evidence)
            changed.append(new)
        for pj in j.to_suspend():
            permit = self.registry.permit(pj.permit_id)
            if permit is None or permit.status is not PermitStatus.ACTIVE or pj.cause is None:
                continue
            actor = pm.Actor.system(_RULE_OF[pj.cause])
            reason = ",".join(str(r) for r in pj.reasons)
            guards = pm.Guards(now=None, wall=self.clock.wall())
            new = pm.apply(permit, pm.Action.SUSPEND, actor, guards, cause=pj.cause, reason=reason)
            self._commit(permit, new, "suspend", actor, reason, {"reasons": list(pj.reasons)})
            changed.append(new)
            if pj.cause is SuspensionCause.GUARDIAN_ABSENT:
                self.alert(
                    EventType.GUARDIAN_ABSENT,
                    {
                        "permit_id": permit.permit_id,
                        "guardian": ",".join(permit.guardians),
                        "inside": self.inside(),
                    },
                )
        if changed:
            facts = self.facts()
            j = judge_zone(facts)
        self._refresh_light(j)
        self._raise_alerts(facts)
        return changed

    def _raise_alerts(self, facts: ZoneFacts) -> None:
        """The judgement's alerts, each journaled once per episode, not once per tick.

        ``_raised`` holds the episodes still under way; one that ends (trust back, the person
        out or their record renewed) is forgotten, so a later one is a new alert. The set is
        kept in the registry after the alerts are journaled, so a restart does not announce a
        standing episode again (a crash between the two announces it once more: at least
        once, never lost).
        """
        if not self._raised_loaded:
            self._raised_loaded = True
            doc = self.registry.get_doc("zone_state", "judgement_alerts") or {}
            self._raised = {tuple(str(x) for x in ep) for ep in doc.get("episodes", [])}
        standing: set[tuple[str, ...]] = set()
        items: list[tuple[EventKind, EventType, dict[str, Any]]] = []
        zone_id = self.zone.zone_id
        active = sorted(p.permit_id for p in facts.permits if p.status is PermitStatus.ACTIVE)
        if not facts.clock_trusted and (active or facts.presence):
            key: tuple[str, ...] = (EventType.CLOCK_UNTRUSTED.value,)
            standing.add(key)
            if key not in self._raised:
                anchor = self._trust_anchor[0] if self._trust_anchor else None
                payload = {
                    "zone_id": zone_id,
                    "source": self.clock.trust().source,
                    "last_trusted": anchor.isoformat() if anchor else None,
                    "carried_until": (
                        (anchor + floors.CLOCK_CARRY_MAX).isoformat() if anchor else None
                    ),
                    "carry_max_h": floors.CLOCK_CARRY_MAX.total_seconds() / 3600,
                    "active_permits": active,
                    "inside": self.inside(),
                }
                items.append((EventKind.ALERT, EventType.CLOCK_UNTRUSTED, payload))
        for wid, lapsed in lapsed_inside(facts).items():
            key = (EventType.CERTIFICATE_LAPSED_INSIDE.value, wid)
            standing.add(key)
            if key not in self._raised:
                worker = facts.workers.get(wid)
                payload = {
                    "zone_id": zone_id,
                    "worker_id": wid,
                    "name": worker.name if worker else None,
                    "lapsed": [
                        {"permit_id": pid, "reason": reason.value, "required": required}
                        for pid, reason, required in lapsed
                    ],
                    "inside": self.inside(),
                }
                items.append((EventKind.ALERT, EventType.CERTIFICATE_LAPSED_INSIDE, payload))
        for ended in sorted(self._raised - standing):
            items.append((EventKind.ALERT, EventType.ALERT_ENDED, self._ended(ended, facts)))
        if items:
            # Journaled in one write; held in order if the journal refuses (never raises, so
            # the timer's judgement goes on whatever the disk does).
            self._append_or_hold(items, "judgement alerts")
        if standing != self._raised:
            self._raised = standing
            try:
                self.registry.put_doc(
                    "zone_state", "judgement_alerts", {"episodes": sorted(map(list, standing))}
                )
            except StoreError as err:
                self.storage_failed(err, "alert episodes")  # held in memory meanwhile

    _raised_loaded = False

    def _ended(self, episode: tuple[str, ...], facts: ZoneFacts) -> dict[str, Any]:
        """The ``alert_ended`` payload for ``episode`` (an alert type, then its person)."""
        alert, *rest = episode
        worker_id = rest[0] if rest else None
        if worker_id is None:
            why = "clock_trusted" if facts.clock_trusted else "no_work"
        else:
            why = "certificate_valid" if worker_id in facts.presence else "left_zone"
        return {
            "zone_id": self.zone.zone_id,
            "alert": alert,
            "worker_id": worker_id,
            "why": why,
            "inside": self.inside(),
        }

    # ------------------------------------------------------------------ roster

    def put_workers(self, workers: Iterable[Worker], actor: ActorLike) -> int:
        """Add or replace roster entries; journals ``roster_updated``. Returns how many."""
        batch = list(workers)
        self.registry.put_workers(batch)
        self._emit(
            EventKind.COMMAND,
            EventType.ROSTER_UPDATED,
            {"actor": actor_of(actor).actor_id, "workers": [w.worker_id for w in batch]},
        )
        return len(batch)

    def check_removable(self, worker_id: str) -> None:
        """Raise ``CommandRejected(WORKER_INSIDE)`` while ``worker_id`` is inside the zone.

        Removed while inside, they could no longer badge out (their card is unknown), would
        stay on the evacuation list for good, and as a nameless guardian would still let
        entrants into a confined space (found by a fresh-user test). Badge out first.
        """
        entry = self.registry.presence().get(worker_id)
        if entry is not None:
            raise CommandRejected(
                ReasonCode.WORKER_INSIDE,
                f"{worker_id} is inside the zone (permit {entry.get('permit_id')}, "
                f"role {entry.get('role')}): they must badge out before they are removed",
            )

    def remove_worker(self, worker_id: str, actor: ActorLike) -> bool:
        """Remove a worker, erase their biometric data and lock state; journals
        ``worker_removed``. Returns whether the worker was on the roster. Raises
        ``CommandRejected(WORKER_INSIDE)`` while they are inside (``check_removable``)."""
        self.check_removable(worker_id)
        removed = self.registry.remove_worker(worker_id)
        for erase in list(self.on_worker_removed):
            erase(worker_id)  # biometric data goes with the roster entry (invariant 7)
        self.registry.unlock(worker_id)
        self._emit(
            EventKind.COMMAND,
            EventType.WORKER_REMOVED,
            {"actor": actor_of(actor).actor_id, "worker_id": worker_id, "found": removed},
        )
        return removed

    # ------------------------------------------------------------------ state

    def snapshot(self) -> dict[str, Any]:
        """The zone now, JSON-ready, in the shape of ``edge.event_payloads.Snapshot``: zone,
        permits, presence, locked badges, air verdict, position verdict, clock trust, light,
        per-service health. What the MQTT birth and ``zonegate status`` show."""
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
                    EventType.PERMIT_STATE_RECOVERED,
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
