"""The fix gate and the fence state machine: one gpsd TPV at a time (gps.md §4-6).

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

The gate and the state machine share one sans-IO class: a gated fix resets the 3D-fix run that
the state and the clock check read, so splitting them would only pass that state back and forth.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from edge.geofence.config import GpsConfig
from edge.geofence.geometry import FenceShape, LocalFrame
from edge.models import Fix, Geofence


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
    CLOCK_MISMATCH = "CLOCK_MISMATCH"  # GPS time far from a synchronised clock: replay / spoof


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
        self._clock_mismatch = False  # a clock_mismatch suspect event was said for this episode

    # ---- public

    @property
    def gps_time_believable(self) -> bool:
        """Enough consecutive 3D fixes with consistent time to compare GPS time with the clock."""
        return self.consecutive_3d >= self.config.clock_fixes

    def update(self, fix: Fix, clock_offset_s: float | None = None) -> FixOutcome:
        """Gate one TPV, flag jumps, and move the fence state; returns what happened.

        ``clock_offset_s`` is a synchronised wall clock minus the fix's GPS time (seconds), when
        the caller has such a clock; beyond ``position_time_bound_s`` the fix is rejected
        ``CLOCK_MISMATCH`` and the fence state falls to UNKNOWN at once (a replayed recording or
        a spoofer: their positions are not where the terminal is). None skips the check.
        """
        out = FixOutcome(fix)
        prev, self._prev = self._prev, fix
        if prev is not None and self._same_epoch(prev, fix):
            self.duplicates += 1
            out.duplicate = True
            return out
        self.fixes += 1
        out.events.extend(self.check_stale(fix.mono_ts))
        reject = self._basic_gate(fix, out)
        if reject is None and clock_offset_s is not None:
            reject = self._clock_gate(fix, clock_offset_s, out)
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

    def _clock_gate(self, fix: Fix, offset_s: float, out: FixOutcome) -> FixReject | None:
        if abs(offset_s) <= self.config.position_time_bound_s:
            self._clock_mismatch = False
            return None
        if not self._clock_mismatch:  # one suspect event per disagreement, not one per fix
            self._clock_mismatch = True
            out.events.append(
                GeoEvent(
                    "suspect",
                    {
                        "kind": "clock_mismatch",
                        "offset_s": round(offset_s, 3),
                        "allowed_s": self.config.position_time_bound_s,
                        "position": _pos(fix),
                    },
                )
            )
        # Whatever state earlier fixes built is not evidence any more.
        self.state = FenceState.UNKNOWN
        self._pending = None
        return FixReject.CLOCK_MISMATCH

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
