"""The controller's response to the air: on danger, red light first, then suspend, then alert."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from edge import permits as pm
from edge.effects import ZoneEffects
from edge.errors import StoreError
from edge.evidence import (
    AirVerdict,
)
from edge.models import (
    LIVE_STATUSES,
    EventKind,
    EventType,
    Permit,
    PermitStatus,
    SuspensionCause,
)
from edge.reasons import ReasonCode
from firmware_adapters.outputs.signals import Light

log = logging.getLogger("zonegate.zone")


def _restored_since(verdict: AirVerdict) -> str | None:
    """The time of the oldest active alarm when every active one was restored at start."""
    active = [a for a in verdict.details.get("alarms", []) if a.get("active")]
    if not active or not all(a.get("restored") for a in active):
        return None
    return str(min(str(a["since"]) for a in active))


class AirResponse(ZoneEffects):
    """The zone's reaction to the air: suspend, alert, light (DESIGN invariant 3)."""

    def begin_restart_wait(self, grace_s: float) -> None:
        """The daemon (re)started: lost monitoring is a wait, not a suspension, for ``grace_s``."""
        self.monitoring_wait_until = self.clock.mono() + grace_s if grace_s > 0 else None

    def _restart_wait(self, verdict: AirVerdict) -> bool:
        """True while lost monitoring after a restart is a wait state (MONITORING_RESUMING).

        Rule (issue 10 item 4): after a daemon start, sensors that have not yet reported or are
        inside their warm-up do not suspend permits that require continuous monitoring, for at
        most ``daemon.monitoring_grace_s``. Unsafe air (including an alarm latched before the
        restart, restored from the registry) suspends at once, as always; monitoring still
        lost when the grace ends suspends as before. Safety argument: during the wait nobody
        can enter (badge-in answers MONITORING_RESUMING, start/resume are refused), the zone's
        judgement stops work (relay released, light red without the alarm tone: nothing is
        energised on an unmonitored air), the wait is journaled, and the gap is bounded by the
        grace, which is no longer than the sensors' own warm-up; a first unsafe frame still
        suspends within that frame.
        """
        until = self.monitoring_wait_until
        if until is None:
            return False
        if verdict.monitoring_ok or not verdict.safe or self.clock.mono() >= until:
            self.monitoring_wait_until = None
            self._emit(
                EventKind.SYSTEM,
                EventType.MONITORING_WAIT_ENDED,
                {
                    "zone_id": self.zone.zone_id,
                    "monitoring_ok": verdict.monitoring_ok,
                    "safe": verdict.safe,
                    "reasons": [r.value for r in verdict.reasons],
                },
            )
            return False
        if not self._wait_announced:
            self._wait_announced = True
            self._emit(
                EventKind.SYSTEM,
                EventType.MONITORING_WAIT,
                {
                    "zone_id": self.zone.zone_id,
                    "reason": ReasonCode.MONITORING_RESUMING.value,
                    "sensor_reasons": [r.value for r in verdict.reasons],
                    "grace_left_s": round(until - self.clock.mono(), 1),
                },
            )
        return True

    _wait_announced = False

    def on_air_verdict(self, verdict: AirVerdict) -> list[Permit]:
        """React to the air: on danger, red light first, then suspend, then alert.

        Unsafe air suspends every active permit of the zone (toxic or explosive air endangers all
        work there). Lost monitoring suspends the permits that require continuous monitoring.
        Called on every verdict; repeated calls while the episode lasts change nothing.
        """
        unsafe = not verdict.safe
        lost = not verdict.monitoring_ok
        if self.monitoring_wait_until is not None and self._restart_wait(verdict):
            self._refresh_light()
            return []
        if not unsafe and not lost:
            if self._air_alarm:
                self._air_alarm = False
                self._emit(
                    EventKind.ALERT,
                    EventType.GAS_ALARM_CLEARED,
                    {"zone_id": self.zone.zone_id, "latched": verdict.latched},
                )
            self.reevaluate()
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
        items: list[tuple[EventKind, EventType, dict[str, Any]]] = [
            (
                EventKind.PERMIT,
                EventType.PERMIT_SUSPEND,
                self._permit_payload(old, new, "suspend", system, why, dict(verdict.details)),
            )
            for old, new, why in changes
        ]
        alert_type: EventType | None = None
        restored_since = _restored_since(verdict) if not suspended else None
        if unsafe and restored_since is not None and not self._air_alarm:
            # An alarm reinstated from the stores after a restart was announced before it: say
            # it is the same episode, with its own time, not a fresh alarm (issue 12.10).
            alert_type = EventType.GAS_ALARM_RESTORED
        elif unsafe and (suspended or not self._air_alarm):
            alert_type = EventType.GAS_ALARM
        elif lost and suspended:
            alert_type = EventType.MONITORING_LOST
        if alert_type is not None:
            payload = {
                "zone_id": self.zone.zone_id,
                **verdict.details,
                "reasons": [r.value for r in verdict.reasons],
                "suspended_permits": [p.permit_id for p in suspended],
                "inside": self.inside(),
            }
            if alert_type is EventType.GAS_ALARM_RESTORED:
                payload["since"] = restored_since
            items.append((EventKind.ALERT, alert_type, payload))
        if suspended:
            try:
                self.registry.put_permits(suspended)  # one durable write for all of them
            except StoreError as err:
                # The suspension holds in memory (the registry serves its memory view) and the
                # outputs are already red; the disk refusing it is its own alarm (issue 16.2).
                if self.storage_failed(err, "gas suspension"):
                    with contextlib.suppress(StoreError):
                        self.registry.flush()
        if items:
            # One transaction, one fsync: the suspensions and the alert that names them. If the
            # journal refuses, they wait in order for the next write that succeeds.
            self._append_or_hold(items, alert_type or "permit suspension")
        if alert_type in (EventType.GAS_ALARM, EventType.GAS_ALARM_RESTORED):
            if alert_type is EventType.GAS_ALARM and not self._air_alarm:
                # A new alarm episode: every later start or resume needs a test newer than
                # this (§5.2.6, §6.5). Written after the commit, so it costs the suspension
                # nothing; an episode that began before a restart was stored then.
                try:
                    self.registry.put_doc(
                        "zone_state", "air", {"last_alarm_at": self.clock.wall().isoformat()}
                    )
                except StoreError as err:
                    self.storage_failed(err, "alarm episode")  # held in memory meanwhile
            self._air_alarm = True  # journaled, or held to be journaled first when it can be
        self.reevaluate()
        return suspended

    def acknowledge_alarms(self, actor: str) -> list[dict[str, Any]]:
        """A person acknowledges every latched alarm; each capability journals its part."""
        acked: list[dict[str, Any]] = []
        for ack in list(self.alarm_acknowledgers):
            acked.extend(ack(actor))
        return acked
