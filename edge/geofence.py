"""Is the terminal where its zone is? Fix gate, fence geometry, dwell / hysteresis, jump flags.

Pipeline per gpsd TPV (../shared/reference/gps.md §4-6):

1. **Epoch merge.** gpsd may "dribble" several TPVs for one epoch; a repeat of the same time and
   position is not a new fix.
2. **Fix gate.** mode, simulated status, finite position, time present and not going backwards;
   each rejection has a ``FixReject`` code and is counted.
3. **Jump flags.** Against the last positioned fix: distance from the predicted position and
   implied speed against the reported speed. A jump is a *suspect* event, never a silent drop
   (INAV dropped fixes and removed that logic for its false positives).
4. **Error gate.** ``eph`` present and below the configured maximum.
5. **Fence state.** Signed distance to the boundary (positive inside), an uncertain band of
   ``max(hysteresis_min_m, k * eph)`` that holds the state, and a dwell (N consecutive candidate
   fixes or T seconds) before enter / exit.

Geometry is computed in a local metric frame: an azimuthal-equidistant projection centred on the
fence, built from unit vectors, so the antimeridian and the poles need no special cases. Fences
are assumed to span well under a few hundred kilometres.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from edge.clock import Clock
from edge.evidence import PositionVerdict
from edge.models import CircleFence, CorridorFence, Fix, Geofence, LatLon, PolygonFence, Position
from edge.reasons import ReasonCode
from firmware_adapters.gps.config import GpsConfig

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius

Vec = tuple[float, float, float]


# --------------------------------------------------------------------------------------------
# Geometry


def _unit(lat: float, lon: float) -> Vec:
    la, lo = math.radians(lat), math.radians(lon)
    return (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))


def _dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class LocalFrame:
    """Azimuthal-equidistant plane (east, north in metres) centred on an origin.

    Distances from the origin are exact; shapes within a few hundred kilometres keep their
    metric geometry to well under a metre per kilometre. Built from unit vectors, so it is the
    same calculation at the antimeridian and at a pole.
    """

    def __init__(self, lat: float, lon: float) -> None:
        self.lat = lat
        self.lon = lon
        la, lo = math.radians(lat), math.radians(lon)
        self._up = _unit(lat, lon)
        self._east = (-math.sin(lo), math.cos(lo), 0.0)
        self._north = (-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la))

    @classmethod
    def centred_on(cls, points: tuple[LatLon, ...]) -> LocalFrame:
        """A frame at the normalised mean of the points' unit vectors."""
        vs = [_unit(p.lat, p.lon) for p in points]
        x, y, z = (sum(v[i] for v in vs) for i in range(3))
        norm = math.sqrt(x * x + y * y + z * z)
        if norm < 1e-9:  # points spread around the globe: any origin is as bad as another
            return cls(points[0].lat, points[0].lon)
        return cls(
            math.degrees(math.asin(max(-1.0, min(1.0, z / norm)))), math.degrees(math.atan2(y, x))
        )

    def project(self, lat: float, lon: float) -> tuple[float, float]:
        """(east, north) metres of a point; the antipode of the origin maps far away."""
        v = _unit(lat, lon)
        e, n = _dot(v, self._east), _dot(v, self._north)
        c = max(-1.0, min(1.0, _dot(v, self._up)))
        s = math.hypot(e, n)
        if s < 1e-15:
            return (0.0, 0.0) if c > 0 else (math.pi * EARTH_RADIUS_M, 0.0)
        angle = math.atan2(s, c)
        k = EARTH_RADIUS_M * angle / s
        return (e * k, n * k)

    def unproject(self, east_m: float, north_m: float) -> tuple[float, float]:
        """(lat, lon) of a plane point: the inverse of ``project``."""
        d = math.hypot(east_m, north_m)
        if d == 0:
            return (self.lat, self.lon)
        angle = d / EARTH_RADIUS_M
        ue, un = east_m / d, north_m / d
        v = tuple(
            math.cos(angle) * self._up[i]
            + math.sin(angle) * (ue * self._east[i] + un * self._north[i])
            for i in range(3)
        )
        lat = math.degrees(math.asin(max(-1.0, min(1.0, v[2]))))
        lon = math.degrees(math.atan2(v[1], v[0]))
        return (lat, lon)


def _segment_distance(
    p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]
) -> float:
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    den = dx * dx + dy * dy
    t = 0.0 if den == 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / den))
    return math.hypot(p[0] - (ax + t * dx), p[1] - (ay + t * dy))


def _inside_even_odd(p: tuple[float, float], ring: list[tuple[float, float]]) -> bool:
    # Even-odd ray casting: a self-touching ring (two parts sharing a vertex) counts each part.
    x, y = p
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


class FenceShape:
    """A zone fence prepared once for many signed-distance queries."""

    def __init__(self, fence: Geofence) -> None:
        self.fence = fence
        self._frame: LocalFrame | None = None
        self._ring: list[tuple[float, float]] = []
        if isinstance(fence, PolygonFence | CorridorFence):
            self._frame = LocalFrame.centred_on(fence.points)
            self._ring = [self._frame.project(q.lat, q.lon) for q in fence.points]

    @property
    def kind(self) -> str:
        """The fence's type: circle, polygon or corridor."""
        return self.fence.type

    def signed_distance_m(self, lat: float, lon: float) -> float:
        """Distance to the boundary in metres, positive inside, negative outside."""
        f = self.fence
        if isinstance(f, CircleFence):
            return f.radius_m - distance_m(f.center.lat, f.center.lon, lat, lon)
        assert self._frame is not None
        p = self._frame.project(lat, lon)
        if isinstance(f, CorridorFence):
            d = min(
                _segment_distance(p, self._ring[i], self._ring[i + 1])
                for i in range(len(self._ring) - 1)
            )
            return f.half_width_m - d
        ring = self._ring
        d = min(_segment_distance(p, ring[i - 1], ring[i]) for i in range(len(ring)))
        if d == 0.0:
            return 0.0
        return d if _inside_even_odd(p, ring) else -d


def signed_distance_m(fence: Geofence, lat: float, lon: float) -> float:
    """Signed distance of a point to a fence's boundary (positive inside), metres."""
    return FenceShape(fence).signed_distance_m(lat, lon)


# --------------------------------------------------------------------------------------------
# Fix gate and fence state


class FixReject(StrEnum):
    """Why a TPV was not used as a position."""

    NO_FIX = "NO_FIX"  # mode 0 / 1
    MODE_TOO_LOW = "MODE_TOO_LOW"  # 2D where the zone asks for 3D
    SIMULATED = "SIMULATED"  # status 8: receiver demo mode or a simulator
    NO_POSITION = "NO_POSITION"  # lat / lon absent, not finite, or (0, 0)
    NO_TIME = "NO_TIME"  # no GPS time: ordering cannot be checked
    TIME_BACKWARDS = "TIME_BACKWARDS"  # spliced or replayed data
    NO_ERROR_ESTIMATE = "NO_ERROR_ESTIMATE"  # no eph: quality unknown
    ERROR_TOO_LARGE = "ERROR_TOO_LARGE"  # eph above max_eph_m


class FenceState(StrEnum):
    """Where the terminal is relative to the fence."""

    UNKNOWN = "unknown"
    INSIDE = "inside"
    OUTSIDE = "outside"


@dataclass(frozen=True, slots=True)
class GeoEvent:
    """Something the service journals: ``enter`` / ``exit`` (dwell passed), ``lost`` (no valid
    fix for ``no_fix_after_s``), ``suspect`` (a position jump or time going backwards)."""

    type: Literal["enter", "exit", "lost", "suspect"]
    payload: dict[str, Any]


@dataclass(slots=True)
class FixOutcome:
    """What the tracker made of one TPV."""

    fix: Fix
    duplicate: bool = False
    reject: FixReject | None = None
    jump: bool = False
    signed_distance_m: float | None = None
    band_m: float | None = None
    candidate: FenceState | None = None
    events: list[GeoEvent] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        """Whether the fix passed every gate."""
        return not self.duplicate and self.reject is None


def _pos(fix: Fix) -> dict[str, Any]:
    return {"lat": fix.lat, "lon": fix.lon, "eph_m": fix.eph_m, "mode": fix.mode}


class GeofenceTracker:
    """Sans-IO state machine fed one ``Fix`` at a time (from gpsd, a replay or a test)."""

    def __init__(self, config: GpsConfig, fence: Geofence | None) -> None:
        self.config = config
        self.shape = FenceShape(fence) if fence is not None else None
        self.state = FenceState.UNKNOWN
        self.last_known = FenceState.UNKNOWN
        """The last established state; survives a loss of fix (outside stays outside)."""
        self.fixes = 0
        self.valid = 0
        self.duplicates = 0
        self.rejected: Counter[FixReject] = Counter()
        self.jumps = 0
        self.time_backwards = 0
        self.time_discontinuities = 0
        self.enters = 0
        self.exits = 0
        self.last_valid: Fix | None = None
        self.last_outcome: FixOutcome | None = None
        self.consecutive_3d = 0
        self._prev: Fix | None = None  # previous TPV, for epoch merging
        self._last_time_fix: Fix | None = None  # last TPV with a time, for ordering
        self._ref: Fix | None = None  # last positioned fix, for jump flags
        self._pending: FenceState | None = None
        self._pending_count = 0
        self._pending_since = 0.0

    # ---- public

    @property
    def gps_time_believable(self) -> bool:
        """Enough consecutive 3D fixes with consistent time to compare GPS time with the clock."""
        return self.consecutive_3d >= self.config.clock_fixes

    def update(self, fix: Fix) -> FixOutcome:
        """Gate one TPV, flag jumps, and move the fence state; returns what happened."""
        out = FixOutcome(fix)
        prev, self._prev = self._prev, fix
        if prev is not None and self._same_epoch(prev, fix):
            self.duplicates += 1
            out.duplicate = True
            return out
        self.fixes += 1
        out.events.extend(self.check_stale(fix.mono_ts))
        reject = self._basic_gate(fix, out)
        if reject is None:
            self._flag_jump(fix, out)
            reject = self._error_gate(fix)
        if reject is not None:
            out.reject = reject
            self.rejected[reject] += 1
            self.consecutive_3d = 0
            self.last_outcome = out
            return out
        self.valid += 1
        self.last_valid = fix
        if fix.mode == 3:
            self.consecutive_3d += 1
        else:
            self.consecutive_3d = 0
        if self.shape is not None:
            self._move_state(fix, out)
        self.last_outcome = out
        return out

    def check_stale(self, now_mono: float) -> list[GeoEvent]:
        """Drop to UNKNOWN once no valid fix has been seen for ``no_fix_after_s``."""
        if self.state is FenceState.UNKNOWN or self.last_valid is None:
            return []
        age = now_mono - self.last_valid.mono_ts
        if age <= self.config.no_fix_after_s:
            return []
        previous = self.state
        self.state = FenceState.UNKNOWN
        self._pending = None
        return [GeoEvent("lost", {"from": previous.value, "fix_age_s": round(age, 1)})]

    def fix_age_s(self, now_mono: float) -> float | None:
        """Seconds since the last valid fix, or None before the first."""
        return None if self.last_valid is None else now_mono - self.last_valid.mono_ts

    def summary(self) -> dict[str, Any]:
        """Counters for the probe and the health snapshot."""
        return {
            "fixes": self.fixes,
            "valid": self.valid,
            "rejected": {k.value: v for k, v in sorted(self.rejected.items())},
            "jumps": self.jumps,
            "time_backwards": self.time_backwards,
            "duplicates": self.duplicates,
            "enters": self.enters,
            "exits": self.exits,
            "state": self.state.value,
        }

    # ---- steps

    @staticmethod
    def _same_epoch(prev: Fix, fix: Fix) -> bool:
        return (
            fix.time is not None
            and fix.time == prev.time
            and (fix.mode, fix.status, fix.lat, fix.lon)
            == (prev.mode, prev.status, prev.lat, prev.lon)
        )

    def _basic_gate(self, fix: Fix, out: FixOutcome) -> FixReject | None:
        cfg = self.config
        if fix.mode < 2:
            return FixReject.NO_FIX
        if fix.mode < cfg.min_mode:
            return FixReject.MODE_TOO_LOW
        if fix.status == 8 and not cfg.allow_simulated:
            return FixReject.SIMULATED
        lat, lon = fix.lat, fix.lon
        if (
            lat is None
            or lon is None
            or not (math.isfinite(lat) and math.isfinite(lon))
            or not (-90 <= lat <= 90 and -180 <= lon <= 180)
            or (lat == 0 and lon == 0)
        ):
            return FixReject.NO_POSITION
        if fix.time is None:
            return FixReject.NO_TIME
        last = self._last_time_fix
        # Re-anchor on every timed fix: one spliced-in old time rejects that fix, not all after it.
        self._last_time_fix = fix
        if last is not None and last.time is not None and fix.time < last.time:
            self.time_backwards += 1
            out.events.append(
                GeoEvent(
                    "suspect",
                    {
                        "kind": "time_backwards",
                        "back_s": round((last.time - fix.time).total_seconds(), 3),
                        "position": _pos(fix),
                    },
                )
            )
            return FixReject.TIME_BACKWARDS
        return None

    def _error_gate(self, fix: Fix) -> FixReject | None:
        if fix.eph_m is None or not math.isfinite(fix.eph_m):
            return FixReject.NO_ERROR_ESTIMATE
        if fix.eph_m > self.config.max_eph_m:
            return FixReject.ERROR_TOO_LARGE
        return None

    def _flag_jump(self, fix: Fix, out: FixOutcome) -> None:
        cfg = self.config
        ref, self._ref = self._ref, fix
        if ref is None:
            return
        # The basic gate let only fixes with a position and a time through.
        assert fix.lat is not None
        assert fix.lon is not None
        assert fix.time is not None
        assert ref.lat is not None
        assert ref.lon is not None
        assert ref.time is not None
        gps_dt = (fix.time - ref.time).total_seconds()
        mono_dt = max(0.0, fix.mono_ts - ref.mono_ts)
        # GPS time is the precise epoch spacing, but only while it agrees with the time we saw
        # pass (it may run ahead in a fast replay, never by hours): otherwise use received time.
        consistent = 0 < gps_dt <= mono_dt + cfg.time_slack_s
        if not consistent:
            self.time_discontinuities += 1
            self.consecutive_3d = 0
        dt = gps_dt if consistent else mono_dt
        if dt <= 0:
            return
        frame = LocalFrame(ref.lat, ref.lon)
        px, py = 0.0, 0.0
        if ref.speed_mps is not None and ref.track_deg is not None:
            travelled = ref.speed_mps * dt
            px = travelled * math.sin(math.radians(ref.track_deg))
            py = travelled * math.cos(math.radians(ref.track_deg))
        fx, fy = frame.project(fix.lat, fix.lon)
        off = math.hypot(fx - px, fy - py)
        dist = math.hypot(fx, fy)
        allowed = cfg.jump_distance_m + 0.5 * cfg.jump_accel_mps2 * dt * dt
        implied = dist / dt
        reported = max(ref.speed_mps or 0.0, fix.speed_mps or 0.0)
        too_fast = implied > cfg.max_speed_mps or implied > reported + cfg.speed_mismatch_mps
        if off > allowed and too_fast:
            self.jumps += 1
            out.jump = True
            out.events.append(
                GeoEvent(
                    "suspect",
                    {
                        "kind": "position_jump",
                        "distance_m": round(dist, 1),
                        "off_prediction_m": round(off, 1),
                        "allowed_m": round(allowed, 1),
                        "dt_s": round(dt, 3),
                        "implied_speed_mps": round(implied, 1),
                        "reported_speed_mps": round(reported, 2),
                        "gps_time_consistent": consistent,
                        "from": _pos(ref),
                        "to": _pos(fix),
                    },
                )
            )

    def _move_state(self, fix: Fix, out: FixOutcome) -> None:
        cfg = self.config
        assert self.shape is not None
        assert fix.lat is not None
        assert fix.lon is not None
        sd = self.shape.signed_distance_m(fix.lat, fix.lon)
        band = max(cfg.hysteresis_min_m, cfg.hysteresis_eph_factor * (fix.eph_m or 0.0))
        out.signed_distance_m = sd
        out.band_m = band
        if sd >= band:
            out.candidate = FenceState.INSIDE
        elif sd <= -band:
            out.candidate = FenceState.OUTSIDE
        cand = out.candidate
        if cand is None or cand is self.state:
            self._pending = None  # uncertain or confirming: the current state holds
            return
        if cand is not self._pending:
            self._pending, self._pending_count, self._pending_since = cand, 0, fix.mono_ts
        self._pending_count += 1
        dwelt = fix.mono_ts - self._pending_since
        if self._pending_count < cfg.dwell_samples and dwelt < cfg.dwell_s:
            return
        previous, self.state, self._pending = self.state, cand, None
        self.last_known = cand
        payload = {
            "from": previous.value,
            "fence": self.shape.kind,
            "signed_distance_m": round(sd, 1),
            "band_m": round(band, 1),
            "samples": self._pending_count,
            "position": _pos(fix),
        }
        if cand is FenceState.INSIDE:
            self.enters += 1
            out.events.append(GeoEvent("enter", payload))
        else:
            self.exits += 1
            out.events.append(GeoEvent("exit", payload))


# --------------------------------------------------------------------------------------------
# Policy: the PositionSource the access decision asks


class GeofencePolicy:
    """The zone's position evidence (``edge.evidence.PositionSource``) fed by a tracker."""

    def __init__(self, config: GpsConfig, fence: Geofence | None, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.tracker = GeofenceTracker(config, fence)

    def update(self, fix: Fix) -> FixOutcome:
        """Feed one fix to the tracker; returns what it did."""
        return self.tracker.update(fix)

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
