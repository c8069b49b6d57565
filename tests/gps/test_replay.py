"""Every shared NMEA log replayed through a real gpsd (gpsfake) into the client and the gate."""

from __future__ import annotations

import math
from typing import Any

import pytest

from edge.clock import ManualClock
from edge.geofence import FenceState, FixReject, GeofencePolicy, GeofenceTracker, LocalFrame
from edge.geofence.config import GpsConfig
from edge.models import CircleFence, CorridorFence, Fix, Geofence, LatLon, PolygonFence
from edge.reasons import ReasonCode

from .conftest import LOGS, Replay, requires_gpsfake

pytestmark = requires_gpsfake

# TPV / SKY counts of a full replay, from ../shared/data/nmea/SOURCES.md.
EXPECTED_TPV = {
    "bt451.log": 30,
    "garmin-geko201.log": 23,
    "haicom-305N.log": 142,
    "iTrek.log": 43,
    "mt3339.log": 32,
    "neo-m8n.log": 23,
    "sl869.log": 20,
    "ublox-lea-5h.log": 26,
}
STATIONARY = ["mt3339.log", "neo-m8n.log", "iTrek.log", "ublox-lea-5h.log"]
# Replayed times are years off the host clock and the test runs after the replay: never stale.
CFG = GpsConfig(enabled=True, no_fix_after_s=86_400)


def run(
    fixes: list[Fix], cfg: GpsConfig, fence: Geofence | None
) -> tuple[GeofenceTracker, list[Any]]:
    tracker = GeofenceTracker(cfg, fence)
    events = []
    for fix in fixes:
        events.extend(tracker.update(fix).events)
    return tracker, events


def mean_position(fixes: list[Fix], *, simulated: bool = False) -> tuple[float, float]:
    pts = [
        (f.lat, f.lon)
        for f in fixes
        if f.mode >= 2 and (simulated or f.status != 8) and f.lat is not None
    ]
    lats = [p[0] for p in pts if p[0] is not None]
    lons = [p[1] for p in pts if p[1] is not None]
    return sum(lats) / len(lats), sum(lons) / len(lons)


def fences_around(lat: float, lon: float, size_m: float) -> list[Geofence]:
    frame = LocalFrame(lat, lon)

    def at(e: float, n: float) -> LatLon:
        la, lo = frame.unproject(e, n)
        return LatLon(lat=la, lon=lo)

    s = size_m
    return [
        CircleFence(center=LatLon(lat=lat, lon=lon), radius_m=s),
        PolygonFence(points=(at(-s, -s), at(s, -s), at(s, s), at(-s, s))),
        CorridorFence(points=(at(-5 * s, -s / 2), at(5 * s, s / 2)), half_width_m=s),
    ]


@pytest.mark.parametrize("log", LOGS)
def test_every_log_replays_without_a_crash_or_a_lost_report(
    replays: dict[str, Replay], log: str
) -> None:
    r = replays[log]
    assert r.gpsfake_rc == 0
    assert r.stats.protocol is not None
    assert r.stats.bad_lines == 0
    assert len(r.fixes) == EXPECTED_TPV[log] == r.stats.tpv
    tracker, _ = run(r.fixes, CFG, None)
    # Every epoch is accounted for: accepted or rejected with a reason.
    assert tracker.valid + sum(tracker.rejected.values()) == tracker.fixes
    assert tracker.fixes + tracker.duplicates == len(r.fixes)


def test_all_eight_logs_are_covered() -> None:
    assert set(LOGS) == set(EXPECTED_TPV)


def test_simulated_receiver_is_gated(replays: dict[str, Replay]) -> None:
    fixes = replays["garmin-geko201.log"].fixes
    assert any(f.mode == 3 and f.status == 8 for f in fixes)  # gpsd does call it a 3D fix
    # The fence is drawn around the fake position: a client trusting mode alone says "inside".
    lat, lon = mean_position(fixes, simulated=True)
    tracker, events = run(fixes, CFG, fences_around(lat, lon, 100)[0])
    assert tracker.valid == 0
    assert tracker.rejected[FixReject.SIMULATED] >= 3
    assert tracker.state is FenceState.UNKNOWN
    assert not [e for e in events if e.type in ("enter", "exit")]
    # The demo switch really is what lets them through.
    demo, _ = run(fixes, CFG.model_copy(update={"allow_simulated": True}), None)
    assert demo.rejected[FixReject.SIMULATED] == 0


def test_simulated_receiver_gives_no_gps_fix_verdict(replays: dict[str, Replay]) -> None:
    fixes = replays["garmin-geko201.log"].fixes
    clock = ManualClock()
    policy = GeofencePolicy(CFG, None, clock)
    for f in fixes:
        policy.update(f)
    verdict = policy.position_verdict()
    assert not verdict.ok
    assert verdict.reason is ReasonCode.NO_GPS_FIX
    assert verdict.position is None


@pytest.mark.parametrize(
    ("log", "reasons"),
    [
        ("iTrek.log", {FixReject.NO_FIX, FixReject.NO_POSITION}),
        ("sl869.log", {FixReject.NO_FIX}),
        ("bt451.log", {FixReject.NO_FIX, FixReject.TIME_BACKWARDS}),
        ("haicom-305N.log", {FixReject.NO_FIX, FixReject.ERROR_TOO_LARGE}),
        ("ublox-lea-5h.log", {FixReject.NO_ERROR_ESTIMATE}),
    ],
)
def test_no_fix_and_poor_fixes_are_rejected_with_reasons(
    replays: dict[str, Replay], log: str, reasons: set[FixReject]
) -> None:
    tracker, _ = run(replays[log].fixes, CFG, None)
    assert reasons <= set(tracker.rejected)


def test_sl869_stale_coordinates_of_void_sentences_never_pass(replays: dict[str, Replay]) -> None:
    fixes = replays["sl869.log"].fixes
    tracker = GeofenceTracker(CFG, None)
    for f in fixes:
        out = tracker.update(f)
        if f.mode < 2:
            assert not out.accepted


@pytest.mark.parametrize(("log", "metres"), [("bt451.log", 1000.0), ("sl869.log", 50.0)])
def test_the_jump_in_the_log_is_flagged(
    replays: dict[str, Replay], log: str, metres: float
) -> None:
    tracker, events = run(replays[log].fixes, CFG, None)
    jumps = [
        e.payload for e in events if e.type == "suspect" and e.payload["kind"] == "position_jump"
    ]
    assert tracker.jumps == len(jumps) >= 1
    assert max(j["distance_m"] for j in jumps) > metres


def test_bt451_time_going_back_is_a_suspect_not_a_silent_drop(replays: dict[str, Replay]) -> None:
    tracker, events = run(replays["bt451.log"].fixes, CFG, None)
    back = [
        e.payload for e in events if e.type == "suspect" and e.payload["kind"] == "time_backwards"
    ]
    assert back
    assert back[0]["back_s"] > 3000  # the splice goes back 52 min (and a day, in gpsd's dates)
    # One spliced time does not reject everything after it: the car segment is accepted.
    assert tracker.rejected[FixReject.TIME_BACKWARDS] == 1
    assert tracker.last_valid is not None
    assert tracker.last_valid.speed_mps is not None
    assert tracker.last_valid.speed_mps > 10


@pytest.mark.parametrize("log", [*STATIONARY, "haicom-305N.log"])
def test_no_jump_is_flagged_where_there_is_none(replays: dict[str, Replay], log: str) -> None:
    tracker, _ = run(replays[log].fixes, CFG.model_copy(update={"max_eph_m": 500.0}), None)
    assert tracker.jumps == 0


@pytest.mark.parametrize("log", STATIONARY)
@pytest.mark.parametrize("size_m", [60.0, 200.0])
def test_receiver_standing_still_enters_once_and_never_leaves(
    replays: dict[str, Replay], log: str, size_m: float
) -> None:
    fixes = replays[log].fixes
    lat, lon = mean_position(fixes)
    for fence in fences_around(lat, lon, size_m):
        tracker, events = run(fixes, CFG, fence)
        kinds = [e.type for e in events if e.type in ("enter", "exit")]
        assert kinds == ["enter"], (fence.type, kinds)
        assert tracker.state is FenceState.INSIDE


def test_walk_within_a_fence_makes_no_spurious_exit(replays: dict[str, Replay]) -> None:
    # haicom-305N walks about 46 m with eph 142-400 m: the band is wide, the state holds.
    fixes = replays["haicom-305N.log"].fixes
    lat, lon = mean_position(fixes)
    cfg = CFG.model_copy(update={"max_eph_m": 500.0})
    tracker, events = run(fixes, cfg, fences_around(lat, lon, 400)[0])
    assert [e.type for e in events if e.type in ("enter", "exit")] == ["enter"]
    assert tracker.exits == 0


@pytest.mark.parametrize("log", STATIONARY)
def test_fence_elsewhere_is_outside_and_denies(replays: dict[str, Replay], log: str) -> None:
    fixes = replays[log].fixes
    lat, lon = mean_position(fixes)
    east, north = LocalFrame(lat, lon).unproject(0, 1000)  # 1 km north
    fence = CircleFence(center=LatLon(lat=east, lon=north), radius_m=200)
    clock = ManualClock()
    policy = GeofencePolicy(CFG, fence, clock)
    for f in fixes:
        policy.update(f)
    assert policy.tracker.enters == 0
    assert policy.tracker.exits == 1  # unknown -> outside, once
    # ManualClock's monotonic time is not the replay's: make the fix fresh on its timeline.
    assert policy.tracker.last_valid is not None
    clock.advance(policy.tracker.last_valid.mono_ts - clock.mono())
    verdict = policy.position_verdict()
    assert not verdict.ok
    assert verdict.reason is ReasonCode.OUTSIDE_GEOFENCE
    assert verdict.position is not None
    assert verdict.position.error_m == policy.tracker.last_valid.eph_m
    assert math.isclose(verdict.position.lat, policy.tracker.last_valid.lat or 0.0)


def test_sky_reports_are_parsed(replays: dict[str, Replay]) -> None:
    skies = replays["mt3339.log"].skies
    assert len(skies) == 6
    last = skies[-1]
    assert last.u_sat > 0
    assert last.n_sat >= last.u_sat
    assert any(s.used and s.ss_dbhz is not None for s in last.satellites)
