"""``zonegate selftest`` against a real gpsd fed by gpsfake and a file camera with real photos."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.clock import kernel_ntp_synchronised
from edge.config import ClockConfig
from firmware_adapters.gps.gpsfake import GpsFake, gpsfake_available
from firmware_adapters.gps.nmea_log import stand_then_move, write_log
from firmware_adapters.sim.winsen import WinsenSimulator
from firmware_adapters.tcpports import free_port
from gateway.cli import main
from gateway.config import load_config
from gateway.selftest import Budgets, CheckResult, Status, run_selftest
from tests.datasets import FACES, NMEA_DIR
from tests.provision.conftest import BROKER_PASSWORD, Broker, ProvisionFn, broker_flags

NMEA = NMEA_DIR
MT3339 = (44.06884, -121.31419)  # where mt3339.log stands (Bend, Oregon)
# Generous budgets: each check returns as soon as its peer answers, and a loaded CI machine
# (2 cores, several suites) can take seconds to schedule a pty simulator or a broker.
GPS = Budgets(gas_s=8.0, gps_s=15.0, broker_s=8.0)

requires_gpsfake = pytest.mark.skipif(not gpsfake_available(), reason="gpsd / gpsfake missing")


def _check(results: list[CheckResult], name: str) -> CheckResult:
    return next(r for r in results if r.name == name)


def _gps_template(port: int) -> str:
    return f"gps:\n  enabled: true\n  port: {port}\n  dwell_samples: 3\n"


@requires_gpsfake
async def test_gpsd_fix_inside_the_zone_passes(provision: ProvisionFn, tmp_path: Path) -> None:
    async with GpsFake(NMEA / "mt3339.log", tmp_path, singleshot=False) as fake:
        fake.release()
        p = provision("--fence", f"{MT3339[0]},{MT3339[1]},100", template=_gps_template(fake.port))
        results = await run_selftest(
            load_config(p.config), credentials_dir=p.credentials, budgets=GPS
        )
    gps = _check(results, "gps")
    assert gps.status is Status.PASS, gps
    assert "inside" in gps.reason
    assert gps.details["state"] == "inside"


@requires_gpsfake
async def test_gpsd_fix_outside_the_zone_fails_with_the_distance(
    provision: ProvisionFn, tmp_path: Path
) -> None:
    async with GpsFake(NMEA / "mt3339.log", tmp_path, singleshot=False) as fake:
        fake.release()
        elsewhere = f"{MT3339[0] + 0.01},{MT3339[1]},100"  # about 1.1 km north
        p = provision("--fence", elsewhere, template=_gps_template(fake.port))
        results = await run_selftest(
            load_config(p.config), credentials_dir=p.credentials, budgets=GPS
        )
    gps = _check(results, "gps")
    assert gps.status is Status.FAIL
    assert "OUTSIDE the zone fence by" in gps.reason
    assert -1100 < gps.details["signed_distance_m"] < -900  # negative: outside
    assert "by 10" in gps.reason  # about 1,000 m (1.1 km from the centre, 100 m radius)


@requires_gpsfake
async def test_simulated_fixes_are_not_a_fix(provision: ProvisionFn, tmp_path: Path) -> None:
    # The Garmin in demo mode reports mode 3 with status 8: the gate refuses it, so must we.
    async with GpsFake(NMEA / "garmin-geko201.log", tmp_path, singleshot=False) as fake:
        fake.release()
        p = provision(template=_gps_template(fake.port))
        budgets = Budgets(gas_s=1.0, gps_s=4.0, broker_s=1.0)
        results = await run_selftest(
            load_config(p.config), credentials_dir=p.credentials, budgets=budgets
        )
    gps = _check(results, "gps")
    assert gps.status is Status.FAIL
    assert "no valid fix" in gps.reason and "SIMULATED" in gps.reason


async def test_no_gpsd_fails_naming_where_it_looked(provision: ProvisionFn) -> None:
    port = free_port()
    p = provision(template=_gps_template(port))
    budgets = Budgets(gas_s=1.0, gps_s=2.0, broker_s=1.0)
    results = await run_selftest(
        load_config(p.config), credentials_dir=p.credentials, budgets=budgets
    )
    gps = _check(results, "gps")
    assert gps.status is Status.FAIL
    assert f"gpsd not reachable at 127.0.0.1:{port}" in gps.reason


def _camera_template(*photos: Path) -> str:
    paths = ", ".join(f"'{p}'" for p in photos)
    return f"identity:\n  enabled: true\n  camera: {{type: files, paths: [{paths}]}}\n"


async def test_camera_frames_with_a_face_pass_and_without_fail(
    provision: ProvisionFn,
) -> None:
    p = provision(template=_camera_template(FACES / "noface_chelsea.png", FACES / "biden.jpg"))
    results = await run_selftest(load_config(p.config), credentials_dir=p.credentials)
    camera = _check(results, "camera")
    assert camera.status is Status.PASS, camera
    assert "a face found in frame 2" in camera.reason

    p = provision(template=_camera_template(FACES / "noface_chelsea.png"))
    budgets = Budgets(camera_frames=3)
    results = await run_selftest(
        load_config(p.config), credentials_dir=p.credentials, budgets=budgets
    )
    camera = _check(results, "camera")
    assert camera.status is Status.FAIL
    assert "no face found" in camera.reason


@requires_gpsfake
async def test_a_fully_provisioned_gateway_passes_selftest(
    provision: ProvisionFn, tmp_path: Path, central_key: Path, broker: Broker
) -> None:
    """Gas sensor, gpsd, camera and broker all configured and all healthy: nothing fails."""
    tty = tmp_path / "ttyCO"
    template = (
        f"gas:\n  sensors:\n"
        f"    - {{type: winsen_ze, id: co1, port: '{tty}', model: ze15, gas: co, warmup_s: 0}}\n"
        + _camera_template(FACES / "biden.jpg")
    )
    pw = tmp_path / "pw"
    pw.write_text(BROKER_PASSWORD + "\n")
    async with (
        GpsFake(NMEA / "mt3339.log", tmp_path, singleshot=False) as fake,
        WinsenSimulator(tty, fault_bit=True, period_s=0.05, value=1.0),
    ):
        fake.release()
        p = provision(
            "--fence",
            f"{MT3339[0]},{MT3339[1]},100",
            *broker_flags(broker.port, pw, central_key),
            template=template + _gps_template(fake.port),
        )
        assert main(["check-config", str(p.config)]) == 0
        results = await run_selftest(
            load_config(p.config), credentials_dir=p.credentials, budgets=GPS
        )
    statuses = {r.name: r.status for r in results}
    assert statuses == {
        "disk": Status.PASS,
        "clock": statuses["clock"],  # pass with NTP, warn when only assumed (bench)
        "stores": Status.PASS,
        # Provisioned plain: "not sealed" said where systemd-creds could seal them.
        "secrets": Status.WARN if shutil.which("systemd-creds") else Status.SKIPPED,
        "gas co1": Status.PASS,
        "gps": Status.PASS,
        "camera": Status.PASS,
        "central key": Status.PASS,
        "broker": Status.PASS,
        "badge reader": Status.SKIPPED,  # badge.type: none in this config
        "outputs": Status.WARN,  # mock pins off-Pi: said, never a silent pass
    }, [r for r in results if r.status is Status.FAIL]
    assert statuses["clock"] in {Status.PASS, Status.WARN}


@requires_gpsfake
async def test_gps_time_that_agrees_with_the_clock_makes_it_trusted(
    provision: ProvisionFn, tmp_path: Path
) -> None:
    """No NTP here (unless the host has it): trust must come from GPS time, as in the daemon."""
    log = tmp_path / "here-now.log"
    write_log(log, stand_then_move(*MT3339, stand_s=40), start=datetime.now(UTC))
    async with GpsFake(log, tmp_path, singleshot=False) as fake:
        fake.release()
        # The bound absorbs gpsfake's start-up and its faster-than-real-time replay.
        template = _gps_template(fake.port) + "  clock_bound_s: 30\n"
        p = provision("--fence", f"{MT3339[0]},{MT3339[1]},100", template=template)
        cfg = load_config(p.config).model_copy(update={"clock": ClockConfig(assume_trusted=False)})
        results = await run_selftest(cfg, credentials_dir=p.credentials, budgets=GPS)
    clock = _check(results, "clock")
    assert clock.status is Status.PASS, clock
    assert clock.details["source"] == ("ntp" if kernel_ntp_synchronised() else "gps")
    assert abs(_check(results, "gps").details["clock_offset_s"]) < 30


@requires_gpsfake
async def test_gps_time_years_away_from_the_clock_is_named(
    provision: ProvisionFn, tmp_path: Path
) -> None:
    async with GpsFake(NMEA / "mt3339.log", tmp_path, singleshot=False) as fake:  # 2015
        fake.release()
        p = provision("--fence", f"{MT3339[0]},{MT3339[1]},100", template=_gps_template(fake.port))
        cfg = load_config(p.config).model_copy(update={"clock": ClockConfig(assume_trusted=False)})
        results = await run_selftest(cfg, credentials_dir=p.credentials, budgets=GPS)
    clock = _check(results, "clock")
    if kernel_ntp_synchronised():  # a host with NTP: GPS is not needed for trust
        assert clock.status is Status.PASS and clock.details["source"] == "ntp"
    else:
        assert clock.status is Status.FAIL
        assert "GPS time differs from the system clock by" in clock.reason


async def test_a_camera_that_cannot_open_fails_with_its_error(
    provision: ProvisionFn, tmp_path: Path
) -> None:
    p = provision(template=_camera_template(tmp_path / "no-such-camera.jpg"))
    results = await run_selftest(load_config(p.config), credentials_dir=p.credentials)
    camera = _check(results, "camera")
    assert camera.status is Status.FAIL
    assert camera.reason.startswith("camera error after 0 frame(s)"), camera
    assert "video" in camera.fix
