"""The fix gate, dwell / hysteresis, jump flags and the position policy, fed synthetic fixes."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from edge.clock import ManualClock
from edge.geofence import FenceState, FixReject, GeofencePolicy, GeofenceTracker, LocalFrame
from edge.geofence.config import GpsConfig
from edge.models import CircleFence, Fix, LatLon
from edge.reasons import ReasonCode

LAT, LON = 31.2304, 121.4737  # a Shanghai plant
T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
FENCE = CircleFence(center=LatLon(lat=LAT, lon=LON), radius_m=100)
FRAME = LocalFrame(LAT, LON)


class Feed:
    """Fixes one second apart, at a point given in metres east / north of the fence centre."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.i = 0
        self.clock = clock

    def fix(self, east: float = 0.0, north: float = 0.0, **kw: Any) -> Fix:
        self.i += 1
        if self.clock is not None:
            self.clock.advance(1.0)
            mono = self.clock.mono()
        else:
            mono = 1000.0 + self.i
        lat, lon = FRAME.unproject(east, north)
        base: dict[str, Any] = {
            "mode": 3,
            "status": 1,
            "lat": lat,
            "lon": lon,
            "eph_m": 5.0,
            "speed_mps": 0.0,
            "track_deg": 0.0,
            "time": T0 + timedelta(seconds=self.i),
            "mono_ts": mono,
        }
        base.update(kw)
        return Fix(**base)


CFG = GpsConfig(enabled=True)


def state_of(t: GeofenceTracker) -> FenceState:
    # A call, so mypy does not carry an earlier assert's narrowing over the updates in between.
    return t.state


@pytest.mark.parametrize(
    ("changes", "cfg", "reason"),
    [
        ({"mode": 1}, CFG, FixReject.NO_FIX),
        ({"mode": 0}, CFG, FixReject.NO_FIX),
        ({"mode": 2}, GpsConfig(min_mode=3), FixReject.MODE_TOO_LOW),
        ({"status": 8}, CFG, FixReject.SIMULATED),
        ({"lat": None}, CFG, FixReject.NO_POSITION),
        ({"lat": 0.0, "lon": 0.0}, CFG, FixReject.NO_POSITION),
        ({"lat": math.nan}, CFG, FixReject.NO_POSITION),
        ({"lon": math.inf}, CFG, FixReject.NO_POSITION),
        ({"time": None}, CFG, FixReject.NO_TIME),
        ({"eph_m": None}, CFG, FixReject.NO_ERROR_ESTIMATE),
        ({"eph_m": 50.1}, CFG, FixReject.ERROR_TOO_LARGE),
    ],
)
def test_gate_rejects_with_a_reason(
    changes: dict[str, Any], cfg: GpsConfig, reason: FixReject
) -> None:
    t = GeofenceTracker(cfg, FENCE)
    out = t.update(Feed().fix(**changes))
    assert out.reject is reason
    assert t.rejected == {reason: 1}
    assert t.valid == 0
    assert t.last_valid is None


def test_gate_accepts_a_good_fix_and_simulated_only_when_allowed() -> None:
    t = GeofenceTracker(CFG, None)
    assert t.update(Feed().fix()).accepted
    demo = GeofenceTracker(GpsConfig(allow_simulated=True), None)
    assert demo.update(Feed().fix(status=8)).accepted
    assert GeofenceTracker(GpsConfig(min_mode=3), None).update(Feed().fix(mode=3)).accepted


def test_time_backwards_rejects_that_fix_only() -> None:
    feed = Feed()
    t = GeofenceTracker(CFG, None)
    t.update(feed.fix())
    t.update(feed.fix())
    out = t.update(feed.fix(time=T0 - timedelta(hours=1)))
    assert out.reject is FixReject.TIME_BACKWARDS
    assert [e.payload["kind"] for e in out.events] == ["time_backwards"]
    # The next fix moves forward from the spliced one: accepted again.
    assert t.update(feed.fix(time=T0 - timedelta(hours=1) + timedelta(seconds=1))).accepted
    assert t.time_backwards == 1


def test_dribbled_reports_of_one_epoch_count_once() -> None:
    feed = Feed()
    t = GeofenceTracker(CFG, None)
    first = feed.fix()
    t.update(first)
    again = first.model_copy(update={"speed_mps": 0.4, "mono_ts": first.mono_ts + 0.01})
    assert t.update(again).duplicate
    assert (t.fixes, t.valid, t.duplicates) == (1, 1, 1)


def test_enter_only_after_the_dwell_in_samples() -> None:
    feed = Feed()
    t = GeofenceTracker(CFG.model_copy(update={"dwell_samples": 3, "dwell_s": 1e6}), FENCE)
    kinds = [[e.type for e in t.update(feed.fix()).events] for _ in range(4)]
    assert kinds == [[], [], ["enter"], []]
    assert state_of(t) is FenceState.INSIDE


def test_an_uncertain_fix_restarts_the_dwell() -> None:
    feed = Feed()
    t = GeofenceTracker(CFG.model_copy(update={"dwell_samples": 3, "dwell_s": 1e6}), FENCE)
    t.update(feed.fix())
    t.update(feed.fix())
    t.update(feed.fix(east=98))  # 2 m inside: within the band, neither inside nor outside
    t.update(feed.fix())
    assert t.state is FenceState.UNKNOWN
    t.update(feed.fix())
    t.update(feed.fix())
    assert state_of(t) is FenceState.INSIDE


def test_dwell_in_seconds_also_completes_a_transition() -> None:
    clock = ManualClock()
    feed = Feed(clock)
    cfg = CFG.model_copy(update={"dwell_samples": 100, "dwell_s": 4.0})
    t = GeofenceTracker(cfg, FENCE)
    for _ in range(4):
        t.update(feed.fix())
    assert t.state is FenceState.UNKNOWN
    assert [e.type for e in t.update(feed.fix()).events] == ["enter"]


def test_band_widens_with_eph_and_holds_the_state() -> None:
    feed = Feed()
    cfg = CFG.model_copy(update={"dwell_samples": 2, "max_eph_m": 100.0})
    t = GeofenceTracker(cfg, FENCE)
    # 20 m inside with eph 30: uncertain, so never "inside".
    for _ in range(5):
        out = t.update(feed.fix(east=80, eph_m=30.0))
        assert out.candidate is None
        assert out.band_m == 30.0
    assert t.state is FenceState.UNKNOWN
    # Same spot with eph 5: inside.
    t.update(feed.fix(east=80))
    t.update(feed.fix(east=80))
    assert state_of(t) is FenceState.INSIDE
    # 10 m outside with eph 30: uncertain, the state holds: no exit.
    for _ in range(5):
        assert not t.update(feed.fix(east=110, eph_m=30.0)).events
    assert state_of(t) is FenceState.INSIDE
    # 10 m outside with eph 5: exit after the dwell.
    t.update(feed.fix(east=110))
    assert [e.type for e in t.update(feed.fix(east=110)).events] == ["exit"]
    assert (t.enters, t.exits) == (1, 1)


def test_jitter_on_the_boundary_makes_no_transitions() -> None:
    feed = Feed()
    cfg = CFG.model_copy(update={"dwell_samples": 2})
    t = GeofenceTracker(cfg, FENCE)
    for _ in range(3):
        t.update(feed.fix())
    assert t.enters == 1
    for i in range(200):  # +-4 m around the boundary, eph 5: always inside the band
        t.update(feed.fix(east=100 + (4 if i % 2 else -4)))
    assert (t.enters, t.exits) == (1, 0)


def test_lost_after_no_valid_fix_for_too_long() -> None:
    feed = Feed()
    t = GeofenceTracker(CFG.model_copy(update={"no_fix_after_s": 10.0}), FENCE)
    for _ in range(3):
        t.update(feed.fix())
    last = t.last_valid
    assert last is not None
    assert t.check_stale(last.mono_ts + 9) == []
    [lost] = t.check_stale(last.mono_ts + 11)
    assert lost.type == "lost"
    assert t.state is FenceState.UNKNOWN
    assert t.check_stale(last.mono_ts + 12) == []  # once


def test_position_jump_is_flagged_not_dropped() -> None:
    feed = Feed()
    t = GeofenceTracker(CFG, None)
    t.update(feed.fix())
    out = t.update(feed.fix(east=500))
    assert out.jump
    assert out.accepted  # a suspect, not a silent drop
    [ev] = out.events
    assert ev.type == "suspect"
    assert ev.payload["kind"] == "position_jump"
    assert ev.payload["distance_m"] == pytest.approx(500, abs=0.5)
    assert t.jumps == 1


def test_consistent_motion_is_not_a_jump() -> None:
    feed = Feed()
    t = GeofenceTracker(CFG, None)
    for i in range(20):  # 25 m/s due east, as the receiver itself reports
        out = t.update(feed.fix(east=25.0 * i, speed_mps=25.0, track_deg=90.0))
        assert not out.jump
    assert t.jumps == 0


def test_motion_faster_than_reported_is_a_jump() -> None:
    feed = Feed()
    t = GeofenceTracker(CFG, None)
    t.update(feed.fix(speed_mps=1.0, track_deg=90.0))
    assert t.update(feed.fix(east=60, speed_mps=1.0, track_deg=90.0)).jump


def test_a_real_gap_resets_the_kinematic_check() -> None:
    clock = ManualClock()
    feed = Feed(clock)
    t = GeofenceTracker(CFG, None)
    t.update(feed.fix())
    clock.advance(600)  # ten minutes of silence, GPS time moves with it
    feed.i += 600
    assert not t.update(feed.fix(east=500)).jump


def test_gps_time_jumping_ahead_of_received_time_uses_received_time() -> None:
    feed = Feed()
    t = GeofenceTracker(CFG, None)
    t.update(feed.fix())
    # GPS says a day passed, but the report came a second later: 2 km in 1 s is a jump.
    out = t.update(feed.fix(north=2000, time=T0 + timedelta(days=1)))
    assert out.jump
    assert out.events[0].payload["gps_time_consistent"] is False


def test_gps_time_believable_after_consecutive_3d_fixes() -> None:
    feed = Feed()
    t = GeofenceTracker(CFG.model_copy(update={"clock_fixes": 3}), None)
    t.update(feed.fix())
    t.update(feed.fix())
    assert not t.gps_time_believable
    t.update(feed.fix())
    assert t.gps_time_believable
    t.update(feed.fix(mode=1))
    assert not t.gps_time_believable
    t.update(feed.fix(mode=2))
    assert not t.gps_time_believable


# ---- the policy


def policy_with(cfg: GpsConfig, *, inside: bool | None) -> tuple[GeofencePolicy, ManualClock]:
    clock = ManualClock()
    feed = Feed(clock)
    p = GeofencePolicy(cfg, FENCE, clock)
    if inside is not None:
        for _ in range(cfg.dwell_samples):
            p.update(feed.fix(east=0 if inside else 500, speed_mps=None))
    return p, clock


def test_verdict_without_any_fix_is_no_gps_fix() -> None:
    p, _ = policy_with(CFG, inside=None)
    v = p.position_verdict()
    assert (v.ok, v.reason, v.position) == (False, ReasonCode.NO_GPS_FIX, None)


def test_verdict_no_fix_warns_when_configured() -> None:
    p, _ = policy_with(CFG.model_copy(update={"no_fix_policy": "warn"}), inside=None)
    v = p.position_verdict()
    assert (v.ok, v.warn, v.reason) == (True, True, ReasonCode.NO_GPS_FIX)


def test_verdict_not_required_admits_without_fix() -> None:
    p, _ = policy_with(CFG.model_copy(update={"require_fix": False}), inside=None)
    v = p.position_verdict()
    assert v.ok
    assert v.reason is None


def test_verdict_inside_carries_position_and_error() -> None:
    p, _ = policy_with(CFG, inside=True)
    v = p.position_verdict()
    assert v.ok
    assert v.reason is None
    assert v.position is not None
    assert v.position.error_m == 5.0
    assert v.position.lat == pytest.approx(LAT)
    assert v.details["state"] == "inside"


def test_verdict_outside_denies_even_when_a_fix_is_not_required() -> None:
    for cfg in (CFG, CFG.model_copy(update={"require_fix": False, "no_fix_policy": "warn"})):
        p, _ = policy_with(cfg, inside=False)
        v = p.position_verdict()
        assert (v.ok, v.reason) == (False, ReasonCode.OUTSIDE_GEOFENCE)
        assert v.position is not None


def test_verdict_inside_but_stale_is_no_gps_fix() -> None:
    p, clock = policy_with(CFG, inside=True)
    clock.advance(CFG.no_fix_after_s + 1)
    v = p.position_verdict()
    assert (v.ok, v.reason) == (False, ReasonCode.NO_GPS_FIX)
    assert v.position is None


def test_verdict_while_the_dwell_is_pending_is_no_gps_fix() -> None:
    clock = ManualClock()
    p = GeofencePolicy(CFG, FENCE, clock)
    p.update(Feed(clock).fix())
    v = p.position_verdict()
    assert (v.ok, v.reason) == (False, ReasonCode.NO_GPS_FIX)
    assert v.details["state"] == "unknown"


def test_outside_then_no_fix_stays_outside_even_with_warn_policy() -> None:
    cfg = CFG.model_copy(update={"no_fix_policy": "warn"})
    p, clock = policy_with(cfg, inside=False)
    clock.advance(cfg.no_fix_after_s + 1)
    [lost] = p.tracker.check_stale(clock.mono())
    assert lost.payload["from"] == "outside"
    v = p.position_verdict()
    assert (v.ok, v.reason) == (False, ReasonCode.OUTSIDE_GEOFENCE)
    assert v.details["state"] == "unknown"
    assert v.details["last_known"] == "outside"


def test_inside_then_no_fix_follows_the_no_fix_policy() -> None:
    cfg = CFG.model_copy(update={"no_fix_policy": "warn"})
    p, clock = policy_with(cfg, inside=True)
    clock.advance(cfg.no_fix_after_s + 1)
    v = p.position_verdict()
    assert (v.ok, v.warn, v.reason) == (True, True, ReasonCode.NO_GPS_FIX)
    assert v.position is None
    assert v.details["last_position"]["error_m"] == 5.0
