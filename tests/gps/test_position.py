"""The GPS service wired into a real ZoneController and journal, fed by gpsd + gpsfake."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.clock import SystemClock, Trust
from edge.config import DeviceConfig, StorageConfig
from edge.evidence import FixedAir
from edge.geofence import GeofencePolicy
from edge.geofence.config import GpsConfig
from edge.geofence.tracker import FixReject
from edge.journal import Journal
from edge.models import (
    CertCategory,
    Certificate,
    CircleFence,
    Decision,
    EventKind,
    Fix,
    GasTest,
    GasTestSample,
    LatLon,
    Permit,
    PermitLevel,
    PermitMember,
    Role,
    Worker,
    WorkKind,
    Zone,
)
from edge.position import GpsService
from edge.reasons import ReasonCode
from edge.registry import Registry
from edge.zone import ZoneController
from firmware_adapters.gps.client import GpsdClient
from firmware_adapters.gps.nmea_log import SENTENCES_PER_EPOCH, stand_then_move, write_log
from gateway.config import GatewayConfig
from gateway.services import ServiceContext
from gateway.services import build_position as build_service

from .conftest import NMEA_DIR, GpsFake, requires_gpsfake

# bt451.log's stationary segment; its car segment starts about 1.9 km away.
BT451_STATIONARY = LatLon(lat=55.79702, lon=23.56902)


class RecordingClock(SystemClock):
    """The real clock (trusted, as on a bench, unless ``assume_trusted`` is false), counting how
    often GPS time was accepted."""

    def __init__(self, *, assume_trusted: bool = True) -> None:
        super().__init__(assume_trusted=assume_trusted)
        self.gps_synced = 0

    def mark_gps_synced(self) -> None:
        self.gps_synced += 1
        super().mark_gps_synced()


class VouchedLaterClock(RecordingClock):
    """The real clock, unsynchronised until ``vouch()`` (then trusted, as ``assume_trusted``).

    While unsynchronised GPS time cannot be checked against it, so a years-old replay is still
    judged as positions (and the mismatch warned); a permit then needs the trust ``vouch`` gives.
    """

    def __init__(self) -> None:
        super().__init__(assume_trusted=False)
        self.vouched = False

    def vouch(self) -> None:
        self.vouched = True

    def trust(self) -> Trust:
        return Trust(True, "assumed") if self.vouched else super().trust()


def unsynchronised() -> VouchedLaterClock:
    """A ``VouchedLaterClock`` not yet vouched for."""
    return VouchedLaterClock()


class NtpClock(RecordingClock):
    """The real clock, as the kernel reports it when NTP has synchronised it (a site)."""

    def trust(self) -> Trust:
        return Trust(True, "ntp")


@dataclass
class Env:
    ctx: ServiceContext
    controller: ZoneController
    journal: Journal
    clock: RecordingClock


def make_env(
    tmp_path: Path,
    gps: GpsConfig,
    fence: CircleFence | None,
    clock: RecordingClock | None = None,
) -> Env:
    zone = Zone(site="plant", zone_id="z1", work_kinds=(WorkKind.HOT_WORK,), geofence=fence)
    cfg = GatewayConfig(
        device=DeviceConfig(device_id="gw1"),
        zone=zone,
        storage=StorageConfig(state_dir=tmp_path),
        gps=gps,
    )
    clock = clock or RecordingClock()
    registry = Registry(cfg.registry_path)
    journal = Journal(cfg.journal_path, clock)
    controller = ZoneController(
        zone=zone, registry=registry, journal=journal, clock=clock, air=FixedAir()
    )
    ctx = ServiceContext(
        config=cfg,
        config_path=None,
        controller=controller,
        registry=registry,
        journal=journal,
        clock=clock,
        health=controller.health,
    )
    return Env(ctx, controller, journal, clock)


@pytest.fixture
def env_factory(tmp_path: Path) -> Iterator[list[Env]]:
    made: list[Env] = []
    yield made
    for e in made:
        e.journal.close()
        e.ctx.registry.close()


async def replay_all(service: GpsService, fake: GpsFake) -> None:
    """Run ``service`` while gpsfake replays its whole log; return once the client has read it
    all (gpsd goes away when gpsfake exits)."""
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.client.connected.wait(), 10)
        fake.release()
        assert await fake.wait() == 0
        deadline = time.monotonic() + 10
        while service.client.connected.is_set() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert not service.client.connected.is_set()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_disabled_gps_builds_no_service(tmp_path: Path, env_factory: list[Env]) -> None:
    env = make_env(tmp_path, GpsConfig(enabled=False), None)
    env_factory.append(env)
    before = env.controller.position
    assert build_service(env.ctx) is None
    assert env.controller.position is before


@requires_gpsfake
async def test_terminal_moved_jump_and_clock_warning_from_a_real_gpsd(
    tmp_path: Path, env_factory: list[Env]
) -> None:
    # The recording is years old: judged only because the clock is not synchronised (against a
    # trusted clock it is no position at all, see the replay test below).
    async with GpsFake(NMEA_DIR / "bt451.log", tmp_path) as fake:
        gps = GpsConfig(enabled=True, port=fake.port, max_eph_m=100.0, receive_timeout_s=30)
        env = make_env(
            tmp_path, gps, CircleFence(center=BT451_STATIONARY, radius_m=300), unsynchronised()
        )
        env_factory.append(env)
        service = build_service(env.ctx)
        assert isinstance(service, GpsService)
        assert env.controller.position is service.policy
        await replay_all(service, fake)

    assert service.client.stats.tpv == 30
    t = service.policy.tracker
    assert (t.enters, t.exits) == (1, 1)
    j = env.journal
    assert [e.payload["kind"] for e in j.events(EventKind.FAULT, "gps_suspect")] == [
        "position_jump",
        "time_backwards",
    ]
    [moved] = j.events(EventKind.ALERT, ReasonCode.TERMINAL_MOVED.value)
    assert moved.payload["zone_id"] == "z1"
    assert moved.payload["from"] == "inside"
    assert moved.payload["position"]["eph_m"] is not None
    assert len(j.events(EventKind.SYSTEM, "geofence_enter")) == 1
    assert len(j.events(EventKind.SYSTEM, "geofence_exit")) == 1
    # Replayed GPS time is years off the host clock: one warning, and no trust from it.
    [mismatch] = j.events(EventKind.FAULT, "gps_clock_mismatch")
    assert abs(mismatch.payload["offset_s"]) > 86_400
    assert env.clock.gps_synced == 0
    verdict = env.controller.position.position_verdict()
    assert (verdict.ok, verdict.reason) == (False, ReasonCode.OUTSIDE_GEOFENCE)
    assert verdict.position is not None
    assert verdict.position.error_m is not None
    assert isinstance(env.clock, VouchedLaterClock)
    env.clock.vouch()  # a permit starts only on a trusted clock
    decision = await badge_in_with_a_valid_permit(env)
    assert not decision.allowed
    assert ReasonCode.OUTSIDE_GEOFENCE in decision.reasons
    assert decision.position == verdict.position  # with its error, for the audit trail
    health = env.ctx.health["gps"]
    assert health["fixes"] == t.fixes
    assert health["fence_state"] == "outside"
    assert health["connects"] == 1


async def badge_in_with_a_valid_permit(env: Env) -> Decision:
    """A welder named on a started hot-work permit after a passing gas test badges in."""
    ctl = env.controller
    now = env.clock.wall()
    today = now.date()
    welding = Certificate(
        number="T310101199002022345",
        category=CertCategory.WELDING,
        issuing_authority="上海市应急管理局",
        valid_from=today - timedelta(days=30),
        valid_to=today + timedelta(days=1000),
    )
    ctl.put_workers(
        [Worker(worker_id="W1", name="张伟", badge_ids=("B-W1",), certificates=(welding,))], "test"
    )
    permit = Permit(
        permit_id="P1",
        zone_id="z1",
        kind=WorkKind.HOT_WORK,
        level=PermitLevel.HOT_2,
        valid_from=now - timedelta(minutes=1),
        valid_to=now + timedelta(hours=4),
        members=(
            PermitMember(worker_id="W1", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
        ),
    )
    ctl.issue_permit(permit, "central")
    ctl.record_gas_test(
        GasTest(
            zone_id="z1",
            taken_at=now,
            source="portable:x",
            analyst="a",
            # hot work needs a combustible reading (GB 30871 §5.3.1; issue 17 item 3)
            samples=(
                GasTestSample(gas="lel", value=0, unit="%LEL"),
                GasTestSample(gas="co", value=2, unit="ppm"),
            ),
            passed=True,
        ),
        "analyst",
    )
    ctl.start_permit("P1", "leader")
    return await ctl.badge_in("B-W1")


def synthetic(when: datetime, mode: int = 3) -> Fix:
    return Fix(
        mode=mode,
        lat=BT451_STATIONARY.lat,
        lon=BT451_STATIONARY.lon,
        eph_m=5.0,
        time=when,
        mono_ts=time.monotonic(),
    )


def service_for(env: Env) -> GpsService:
    gps = env.ctx.config.gps
    return GpsService(
        config=gps,
        policy=GeofencePolicy(gps, None, env.clock),
        client=GpsdClient(port=1),  # never started: fixes are handed in directly
        controller=env.controller,
        journal=env.journal,
        clock=env.clock,
    )


@requires_gpsfake
async def test_a_replayed_recording_is_no_position_against_an_ntp_clock(
    tmp_path: Path, env_factory: list[Env]
) -> None:
    # A fresh-user test admitted a worker on a GPS stream 7.9 years off the clock: a replay
    # (or spoofer) standing inside the fence. With the clock synchronised by NTP, such fixes are
    # not positions: the fence never reads inside and a badge-in gets NO_GPS_FIX.
    async with GpsFake(NMEA_DIR / "bt451.log", tmp_path) as fake:
        gps = GpsConfig(enabled=True, port=fake.port, max_eph_m=100.0, receive_timeout_s=30)
        fence = CircleFence(center=BT451_STATIONARY, radius_m=300)
        env = make_env(tmp_path, gps, fence, clock=NtpClock())
        env_factory.append(env)
        service = build_service(env.ctx)
        assert isinstance(service, GpsService)
        await replay_all(service, fake)
    t = service.policy.tracker
    assert service.client.stats.tpv == 30
    assert t.enters == 0 and t.valid == 0
    assert t.rejected[FixReject.CLOCK_MISMATCH] > 0
    [suspect] = [
        e for e in env.journal.events(EventKind.FAULT, "gps_suspect")
        if e.payload["kind"] == "clock_mismatch"
    ]  # fmt: skip
    assert abs(suspect.payload["offset_s"]) > 86_400 and suspect.payload["allowed_s"] == 60.0
    verdict = service.policy.position_verdict()
    assert (verdict.ok, verdict.reason) == (False, ReasonCode.NO_GPS_FIX)


def test_a_stream_turning_to_a_replay_drops_the_fence_to_unknown_at_once(
    tmp_path: Path, env_factory: list[Env]
) -> None:
    gps = GpsConfig(enabled=True, dwell_samples=2)
    fence = CircleFence(center=BT451_STATIONARY, radius_m=300)
    env = make_env(tmp_path, gps, fence, clock=NtpClock())
    env_factory.append(env)
    svc = GpsService(
        config=gps,
        policy=GeofencePolicy(gps, fence, env.clock),
        client=GpsdClient(port=1),  # never started: fixes are handed in directly
        controller=env.controller,
        journal=env.journal,
        clock=env.clock,
    )
    now = datetime.now(UTC)
    for i in range(3):  # live fixes, on time: inside
        svc.handle_fix(synthetic(now - timedelta(seconds=3 - i)))
    assert svc.policy.position_verdict().ok
    for i in range(3):  # the same place, but a day ahead: a spoofer's (or a replay's) time
        svc.handle_fix(synthetic(now + timedelta(days=1, seconds=i)))
    verdict = svc.policy.position_verdict()
    assert (verdict.ok, verdict.reason) == (False, ReasonCode.NO_GPS_FIX)
    kinds = [e.payload["kind"] for e in env.journal.events(EventKind.FAULT, "gps_suspect")]
    assert kinds == ["clock_mismatch"]  # said once for the episode, not once per fix
    # Live again: the spoofed fixes' times were ahead, so live time now runs "backwards" once
    # (that fix is rejected too); then evidence again after the dwell.
    for i in range(4):
        svc.handle_fix(synthetic(datetime.now(UTC) + timedelta(seconds=i)))
    assert svc.policy.position_verdict().ok


def test_gps_time_agreeing_with_the_clock_marks_it_synced(
    tmp_path: Path, env_factory: list[Env]
) -> None:
    env = make_env(tmp_path, GpsConfig(enabled=True, clock_fixes=3), None)
    env_factory.append(env)
    svc = service_for(env)
    for i in range(2):
        svc.handle_fix(synthetic(datetime.now(UTC) - timedelta(seconds=2 - i)))
    assert env.clock.gps_synced == 0  # not before three consecutive 3D fixes
    svc.handle_fix(synthetic(datetime.now(UTC)))
    assert env.clock.gps_synced == 1
    assert not env.journal.events(EventKind.FAULT, "gps_clock_mismatch")


def test_gps_time_far_from_the_clock_warns_once_and_gives_no_trust(
    tmp_path: Path, env_factory: list[Env]
) -> None:
    # An unsynchronised clock: against a trusted one such fixes are no position at all
    # (test_a_replayed_recording_is_no_position_against_an_ntp_clock).
    gps = GpsConfig(enabled=True, clock_fixes=3, clock_bound_s=2.0)
    env = make_env(tmp_path, gps, None, unsynchronised())
    env_factory.append(env)
    svc = service_for(env)
    off = timedelta(minutes=5)
    for i in range(6):
        svc.handle_fix(synthetic(datetime.now(UTC) + off + timedelta(seconds=i)))
    [warn] = env.journal.events(EventKind.FAULT, "gps_clock_mismatch")
    # Warned at the third fix (the first believable one): GPS is 302 s ahead of the clock.
    assert warn.payload["offset_s"] == pytest.approx(-302, abs=1)
    assert warn.payload["bound_s"] == 2.0
    assert env.clock.gps_synced == 0


@requires_gpsfake
async def test_demo_log_gives_gps_clock_trust_then_terminal_moved(
    tmp_path: Path, env_factory: list[Env]
) -> None:
    shanghai = LatLon(lat=31.2304, lon=121.4737)
    log = tmp_path / "demo.log"
    track = stand_then_move(shanghai.lat, shanghai.lon, stand_s=5, moved_m=500, moved_s=3)
    # GPS time starts about when gpsfake will have started, and the replay runs at 1 Hz (three
    # sentences a second) as a receiver would, so GPS time agrees with the system clock.
    write_log(log, track, start=datetime.now(UTC) + timedelta(seconds=2))
    async with GpsFake(log, tmp_path, cycle_s=1 / SENTENCES_PER_EPOCH) as fake:
        # The log's GPS times are fixed when it is written; on a loaded machine gpsfake's start
        # and each release lag behind the system clock by seconds, so the bound is a minute
        # (still far inside what a wrong clock looks like; 10 s failed under load).
        gps = GpsConfig(enabled=True, port=fake.port, receive_timeout_s=30, clock_bound_s=60)
        env = make_env(tmp_path, gps, CircleFence(center=shanghai, radius_m=60))
        env_factory.append(env)
        service = build_service(env.ctx)
        assert isinstance(service, GpsService)
        task = asyncio.create_task(service.run())
        try:
            await asyncio.wait_for(service.client.connected.wait(), 10)
            fake.release(5 * SENTENCES_PER_EPOCH)  # standing at the zone
            deadline = time.monotonic() + 15
            while env.clock.gps_synced == 0 and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            assert env.clock.gps_synced >= 1
            verdict = service.policy.position_verdict()
            assert verdict.ok, verdict
            fake.release()  # the terminal is carried 500 m away
            assert await fake.wait() == 0
            deadline = time.monotonic() + 10
            while service.client.connected.is_set() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert env.journal.events(EventKind.ALERT, ReasonCode.TERMINAL_MOVED.value)
    assert not env.journal.events(EventKind.FAULT, "gps_clock_mismatch")
    verdict = service.policy.position_verdict()
    assert (verdict.ok, verdict.reason) == (False, ReasonCode.OUTSIDE_GEOFENCE)


async def test_fixes_stopping_inside_the_fence_journal_position_lost(
    tmp_path: Path, env_factory: list[Env]
) -> None:
    gps = GpsConfig(enabled=True, no_fix_after_s=0.5, dwell_samples=2)
    env = make_env(tmp_path, gps, CircleFence(center=BT451_STATIONARY, radius_m=300))
    env_factory.append(env)
    svc = GpsService(
        config=gps,
        policy=GeofencePolicy(gps, env.ctx.config.zone.geofence, env.clock),
        client=GpsdClient(port=1),  # no gpsd: after the fixes handed in, silence
        controller=env.controller,
        journal=env.journal,
        clock=env.clock,
    )
    for i in range(3):
        svc.handle_fix(synthetic(datetime.now(UTC) - timedelta(seconds=2 - i)))
    assert env.journal.events(EventKind.SYSTEM, "geofence_enter")
    task = asyncio.create_task(svc.run())  # its timer notices that the fixes stopped
    try:
        deadline = time.monotonic() + 10
        while not env.journal.events(EventKind.FAULT, "gps_position_lost"):
            assert time.monotonic() < deadline, "no gps_position_lost"
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    [lost] = env.journal.events(EventKind.FAULT, "gps_position_lost")
    assert lost.payload["from"] == "inside" and lost.payload["fix_age_s"] > 0.5
