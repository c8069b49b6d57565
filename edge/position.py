"""The GPS service: gpsd reports -> geofence policy -> journal, alerts and clock trust.

``build_service(ctx)`` plugs a ``GeofencePolicy`` into ``ctx.controller.position`` and returns a
service that keeps it fed from gpsd. It journals fence transitions, raises ``TERMINAL_MOVED``
when the terminal leaves its fence, journals jumps and backwards time as ``gps_suspect`` faults,
and, after enough consecutive 3D fixes, marks the clock GPS-synced when GPS time agrees with the
system clock or raises a ``gps_clock_mismatch`` fault when it does not.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol

from edge.geofence import FixOutcome, GeoEvent, GeofencePolicy
from edge.geofence.config import GpsConfig
from edge.models import Event, EventType, Fix
from edge.reasons import ReasonCode
from firmware_adapters.gps.client import GpsdClient, Sky

if TYPE_CHECKING:
    from datetime import datetime

    from edge.journal import Journal

log = logging.getLogger(__name__)

_TICK_S = 1.0


class AlertSink(Protocol):
    """The part of ``ZoneController`` this service talks to."""

    def alert(self, type_: EventType, payload: dict[str, Any]) -> Event:
        """``ZoneController.alert``."""

    def fault(self, type_: EventType, payload: dict[str, Any]) -> Event:
        """``ZoneController.fault``."""

    def system(self, type_: EventType, payload: dict[str, Any]) -> Event:
        """``ZoneController.system``."""


class GpsClock(Protocol):
    """The part of ``SystemClock`` this service needs."""

    def wall(self) -> datetime:
        """Now, UTC."""

    def mono(self) -> float:
        """Monotonic seconds."""

    def mark_gps_synced(self) -> None:
        """GPS time agreed with the clock: trust it for a while."""


class GpsService:
    """Feeds the policy from gpsd; one instance per daemon."""

    name = "gps"

    def __init__(
        self,
        *,
        config: GpsConfig,
        policy: GeofencePolicy,
        client: GpsdClient,
        controller: AlertSink,
        journal: Journal,
        clock: GpsClock,
        health: dict[str, dict[str, object]] | None = None,
    ) -> None:
        self.config = config
        self.policy = policy
        self.client = client
        self.controller = controller
        self.journal = journal
        self.clock = clock
        self.health = health if health is not None else {}
        self.last_sky: Sky | None = None
        self.clock_mismatch = False
        self.clock_offset_s: float | None = None
        self._update_health()

    async def run(self) -> None:
        """Read gpsd until cancelled; the client reconnects on its own."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._tick(), name="gps-stale-check")
            tg.create_task(self._read(), name="gps-read")

    async def _read(self) -> None:
        async for report in self.client.reports():
            if isinstance(report, Sky):
                self.last_sky = report
            else:
                self.handle_fix(report)
            self._update_health()

    def handle_fix(self, fix: Fix) -> FixOutcome:
        """Run one TPV through the policy and act on what it says."""
        outcome = self.policy.update(fix)
        self._act(outcome.events)
        if outcome.accepted and self.policy.tracker.gps_time_believable:
            self._check_clock(fix)
        return outcome

    # ---- effects

    def _act(self, events: list[GeoEvent]) -> None:
        for ev in events:
            try:
                if ev.type == "suspect":
                    self.controller.fault(EventType.GPS_SUSPECT, ev.payload)
                elif ev.type == "exit":
                    self.controller.system(EventType.GEOFENCE_EXIT, ev.payload)
                    self.controller.alert(
                        EventType.TERMINAL_MOVED,
                        {"reason": ReasonCode.TERMINAL_MOVED.value, **ev.payload},
                    )
                elif ev.type == "enter":
                    self.controller.system(EventType.GEOFENCE_ENTER, ev.payload)
                else:
                    self.controller.fault(EventType.GPS_POSITION_LOST, ev.payload)
            except Exception:  # the journal's own error is logged; GPS keeps running
                log.exception("gps: could not record %s event", ev.type)

    def _check_clock(self, fix: Fix) -> None:
        assert fix.time is not None  # gated fixes carry a time
        # Correct for the time the report waited between receipt and now.
        received_wall = self.clock.wall().timestamp() - (self.clock.mono() - fix.mono_ts)
        offset = received_wall - fix.time.timestamp()
        self.clock_offset_s = round(offset, 3)
        if abs(offset) <= self.config.clock_bound_s:
            self.clock.mark_gps_synced()
            self.clock_mismatch = False
            return
        if self.clock_mismatch:
            return  # one warning per disagreement, not one per second
        self.clock_mismatch = True
        payload = {
            "gps_time": fix.time.isoformat(),
            "offset_s": round(offset, 3),
            "bound_s": self.config.clock_bound_s,
        }
        try:
            self.controller.fault(EventType.GPS_CLOCK_MISMATCH, payload)
        except Exception:
            log.exception("gps: could not record the clock mismatch")

    async def _tick(self) -> None:
        # The state must fall to UNKNOWN even when gpsd goes silent, not only on the next fix.
        while True:
            await asyncio.sleep(_TICK_S)
            self._act(self.policy.tracker.check_stale(self.clock.mono()))
            self._update_health()

    def _update_health(self) -> None:
        t = self.policy.tracker
        s = self.client.stats
        age = t.fix_age_s(self.clock.mono())
        summary = t.summary()
        summary["fence_state"] = summary.pop("state")  # "state" is the supervisor's key
        # Update in place: the daemon's supervisor keeps its own keys in this entry.
        self.health.setdefault(self.name, {}).update(
            {
                **summary,
                "connected": self.client.connected.is_set(),
                "fix_age_s": None if age is None else round(age, 1),
                "bad_lines": s.bad_lines,
                "connects": s.connects,
                "timeouts": s.timeouts,
                "satellites_used": None if self.last_sky is None else self.last_sky.u_sat,
                "clock_offset_s": self.clock_offset_s,
            }
        )
