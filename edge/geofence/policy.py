"""The zone's position evidence: the ``PositionSource`` the access decision asks."""

from __future__ import annotations

from typing import Any

from edge.clock import Clock
from edge.evidence import PositionVerdict
from edge.geofence.config import GpsConfig
from edge.geofence.tracker import FenceState, FixOutcome, GeofenceTracker
from edge.models import Fix, Geofence, Position
from edge.reasons import ReasonCode

# Clock trust sources that claim real time independently of the fix being judged.
_SYNCHRONISED = frozenset({"ntp", "gps", "assumed"})


class GeofencePolicy:
    """The zone's position evidence (``edge.evidence.PositionSource``) fed by a tracker."""

    def __init__(self, config: GpsConfig, fence: Geofence | None, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.tracker = GeofenceTracker(config, fence)

    def update(self, fix: Fix) -> FixOutcome:
        """Feed one fix to the tracker; returns what it did.

        When the wall clock is trusted as real time (trust source ``ntp``, ``gps`` from earlier
        agreeing fixes, or ``assumed``: the operator vouches for it on a bench), the fix's time
        is checked against it: a stream years or minutes away from real time is a replay or a
        spoofer (reference/gps.md §6: "GPS time disagreeing with NTP-disciplined system time"),
        not the terminal's position. Without trust (``none``) the fix cannot be checked; a
        ``ManualClock`` (``manual``) runs simulated time for tests and replays.
        """
        offset: float | None = None
        if fix.time is not None and self.clock.trust().source in _SYNCHRONISED:
            # The clock's now, taken back to when the report was received.
            received = self.clock.wall().timestamp() - (self.clock.mono() - fix.mono_ts)
            offset = received - fix.time.timestamp()
        return self.tracker.update(fix, offset)

    def position(self) -> Position | None:
        """The last valid position, or None."""
        f = self.tracker.last_valid
        if f is None or f.lat is None or f.lon is None:
            return None
        return Position(lat=f.lat, lon=f.lon, error_m=f.eph_m)

    def position_verdict(self) -> PositionVerdict:
        """Deny outside the fence; NO_GPS_FIX (deny or warn) when the position is unknown."""
        cfg = self.config
        t = self.tracker
        # Read-only: the service's tick turns staleness into a journaled "lost" event.
        age = t.fix_age_s(self.clock.mono())
        fresh = age is not None and age <= cfg.no_fix_after_s
        state = t.state if fresh else FenceState.UNKNOWN
        details: dict[str, Any] = {
            "state": state.value,
            "fence": t.shape.kind if t.shape is not None else None,
            "fix_age_s": None if age is None else round(age, 1),
            "require_fix": cfg.require_fix,
        }
        last = t.last_outcome
        if last is not None and last.signed_distance_m is not None:
            details["signed_distance_m"] = round(last.signed_distance_m, 1)
            details["band_m"] = round(last.band_m or 0.0, 1)
        position = self.position()
        if not fresh and position is not None:
            details["last_position"] = position.model_dump()
            position = None
        if state is FenceState.OUTSIDE or t.last_known is FenceState.OUTSIDE:
            # Last seen outside and nothing newer: losing the fix (a covered antenna) must not
            # turn a moved terminal back into a warning.
            details["last_known"] = t.last_known.value
            return PositionVerdict(
                ok=False, reason=ReasonCode.OUTSIDE_GEOFENCE, position=position, details=details
            )
        if fresh and (t.shape is None or state is FenceState.INSIDE):
            return PositionVerdict(ok=True, position=position, details=details)
        if not cfg.require_fix:
            return PositionVerdict(ok=True, position=position, details=details)
        # No fresh valid fix, or the fence state is not established yet (dwell, uncertain band).
        details["no_fix_policy"] = cfg.no_fix_policy
        if cfg.no_fix_policy == "warn":
            return PositionVerdict(
                ok=True, warn=True, reason=ReasonCode.NO_GPS_FIX, position=position, details=details
            )
        return PositionVerdict(
            ok=False, reason=ReasonCode.NO_GPS_FIX, position=position, details=details
        )
