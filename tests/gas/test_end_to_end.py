"""Sensor frames on a pty -> adapters -> exposure engine -> zone controller -> outputs.

The whole chain is real: simulators write Winsen and Modbus frames (the Modbus peer is
pymodbus's own server), the gas service reads them through the adapters, the controller
commits to a TinyDB registry and a SQLite journal, and the stack light is gpiozero on its
MockFactory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from edge.air import GasService
from edge.clock import SystemClock
from edge.gas_config import GasConfig
from edge.journal import Journal
from edge.models import (
    CertCategory,
    Certificate,
    Event,
    Permit,
    PermitLevel,
    PermitMember,
    PermitStatus,
    Role,
    SuspensionCause,
    Worker,
    WorkKind,
    Zone,
)
from edge.reasons import ReasonCode
from edge.registry import Registry
from edge.zone import CommandRejected, ZoneController
from firmware_adapters.gas.config import ModbusRtuConfig, Pms5003Config, WinsenZeConfig
from firmware_adapters.outputs.config import OutputsConfig
from firmware_adapters.outputs.signals import Light
from firmware_adapters.outputs.stacklight import StackLight
from firmware_adapters.sim.modbus import ModbusSimulator
from firmware_adapters.sim.pms5003 import Pms5003Simulator
from firmware_adapters.sim.winsen import WinsenSimulator
from gateway.config import GatewayConfig
from gateway.services import ServiceContext
from gateway.services import build_gas as build_service
from tests.conditions import until
from tests.gas.conftest import Background

pytestmark = pytest.mark.filterwarnings("ignore::firmware_adapters.gas.config.IndicatorOnlyWarning")

ZONE = Zone(
    site="plant",
    zone_id="z1",
    work_kinds=(WorkKind.HOT_WORK, WorkKind.CONFINED_SPACE),
)


class Events:
    """Journal events as they are committed, awaitable by type."""

    def __init__(self) -> None:
        self.seen: list[Event] = []
        self._waiters: list[tuple[str, int, asyncio.Future[None]]] = []

    def __call__(self, event: Event) -> None:
        self.seen.append(event)
        for type_, count, fut in self._waiters:
            if not fut.done() and len(self.of(type_)) >= count:
                fut.set_result(None)

    def of(self, type_: str) -> list[Event]:
        return [e for e in self.seen if e.type == type_]

    async def wait(self, type_: str, count: int = 1, within_s: float = 5.0) -> Event:
        if len(self.of(type_)) < count:
            entry = (type_, count, asyncio.get_running_loop().create_future())
            self._waiters.append(entry)
            try:
                async with asyncio.timeout(within_s):
                    await entry[2]
            finally:
                self._waiters.remove(entry)
        return self.of(type_)[count - 1]


@dataclass
class Site:
    ctl: ZoneController
    service: GasService
    lights: StackLight
    events: Events
    co: WinsenSimulator
    modbus: ModbusSimulator

    async def steady(self) -> None:
        """Every sensor is reporting and the air is clean."""
        await until(lambda: self.ctl.air.air_verdict().monitoring_ok, 10)


def welder(wid: str, today: date) -> Worker:
    cert = Certificate(
        number=f"T{wid}0001",
        category=CertCategory.WELDING,
        issuing_authority="应急管理局",
        valid_from=today - timedelta(days=400),
        valid_to=today + timedelta(days=800),
    )
    return Worker(worker_id=wid, name=f"焊工{wid}", badge_ids=(f"B-{wid}",), certificates=(cert,))


def gas_cfg(ports: Path, **extra: object) -> GasConfig:
    co = WinsenZeConfig(
        id="co1", port=str(ports / "ttyCO"), model="ze15", warmup_s=0, staleness_s=1.0
    )
    tx = ModbusRtuConfig.model_validate(
        {
            "id": "tx1",
            "port": str(ports / "rs485"),
            "device_id": 1,
            "poll_interval_s": 0.05,
            "timeout_s": 0.2,
            "warmup_s": 0,
            "staleness_s": 1.0,
            "channels": [
                {"gas": "o2", "unit": "%vol", "address": 0, "scale": 0.1},
                {"gas": "lel", "unit": "%LEL", "address": 1, "scale": 0.1},
            ],
        }
    )
    return GasConfig.model_validate({"sensors": [co, tx], "check_interval_s": 0.1, **extra})


@pytest.fixture
async def site(tmp_path: Path, ports: Path, background: Background) -> AsyncIterator[Site]:
    clock = SystemClock(assume_trusted=True)
    registry = Registry(tmp_path / "registry.json")
    journal = Journal(tmp_path / "journal.db", clock)
    lights = StackLight(OutputsConfig())
    ctl = ZoneController(
        zone=ZONE, registry=registry, journal=journal, clock=clock, annunciator=lights
    )
    events = Events()
    ctl.event_listeners.append(events)
    cfg = gas_cfg(ports)
    async with (
        WinsenSimulator(ports / "ttyCO", fault_bit=True, period_s=0.05, value=1.0) as co,
        ModbusSimulator(ports / "rs485", [1]) as modbus,
    ):
        modbus.set_value(1, 0, 20.9, scale=0.1)
        modbus.set_value(1, 1, 0.0, scale=0.1)
        service = GasService(ctl, cfg, clock)
        background.start(service.run())
        yield Site(ctl, service, lights, events, co, modbus)
        await background.stop()
        background.tasks.clear()
    lights.close()
    journal.close()
    registry.close()


def hot_work_permit(ctl: ZoneController) -> Permit:
    now = ctl.clock.wall()
    return Permit(
        permit_id="DH-001",
        zone_id="z1",
        kind=WorkKind.HOT_WORK,
        level=PermitLevel.HOT_1,
        valid_from=now - timedelta(minutes=5),
        valid_to=now + timedelta(hours=4),
        members=(
            PermitMember(worker_id="G1", role=Role.GUARDIAN),
            PermitMember(worker_id="W1", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
            PermitMember(worker_id="W2", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
        ),
    )


async def test_co_ramp_suspends_alerts_denies_then_clear_ack_test_resume(site: Site) -> None:
    ctl = site.ctl
    today = ctl.clock.wall().date()
    ctl.put_workers([welder("G1", today), welder("W1", today), welder("W2", today)], "test")
    ctl.issue_permit(hot_work_permit(ctl), "central")
    await site.steady()

    test = site.service.gas_test("analyst:zhao")
    assert test.passed, test.failures
    assert test.source == "fixed:co1,tx1"
    ctl.record_gas_test(test, "analyst:zhao")
    ctl.start_permit("DH-001", "leader:li")
    assert (await ctl.badge_in("B-G1")).allowed
    assert (await ctl.badge_in("B-W1")).allowed
    assert site.lights.state()["green"]
    assert site.lights.state()["relay"]

    # CO climbs past the high alarm (40 mg/m3 = 34.3 ppm at 20 °C)
    site.co.ramp(80.0, 0.5)
    suspended = await site.events.wait("permit_suspend")
    assert suspended.payload["permit_id"] == "DH-001"
    assert suspended.payload["permit"]["suspension"]["cause"] == SuspensionCause.GAS.value
    alert = await site.events.wait("gas_alarm")
    p = alert.payload
    assert (p["gas"], p["channel"], p["sensor_id"], p["unit"]) == ("co", "high", "co1", "mg/m3")
    assert p["threshold"] == 40
    assert p["value"] >= 40
    assert {w["worker_id"] for w in p["inside"]} == {"G1", "W1"}
    assert "DH-001" in p["suspended_permits"]
    # local outputs: red + buzzer, interlock released, and that came before the commit
    state = site.lights.state()
    assert state["red"]
    assert state["buzzer"]
    assert not state["relay"]
    assert not state["green"]
    assert ctl.registry.permit("DH-001").status is PermitStatus.SUSPENDED  # type: ignore[union-attr]

    denied = await ctl.badge_in("B-W2")
    assert not denied.allowed
    assert ReasonCode.GAS_UNSAFE in denied.reasons

    # the air clears, but the alarm stays latched until acknowledged
    site.co.set_value(1.0)
    await until(lambda: ctl.air.air_verdict().safe)
    assert ctl.air.air_verdict().latched
    with pytest.raises(CommandRejected):
        ctl.resume_permit("DH-001", "officer:wang", authorised=True)
    site.service.acknowledge("officer:wang")
    assert not ctl.air.air_verdict().latched
    assert site.events.of("gas_alarm_acknowledged")

    # the pre-alarm gas test no longer counts: a resume needs a fresh one
    with pytest.raises(CommandRejected) as err:
        ctl.resume_permit("DH-001", "officer:wang", authorised=True)
    assert err.value.code == ReasonCode.GAS_TEST_STALE.value
    fresh = site.service.gas_test("analyst:zhao")
    assert fresh.passed, fresh.failures
    ctl.record_gas_test(fresh, "analyst:zhao")
    with pytest.raises(CommandRejected):  # a person, but not authorised
        ctl.resume_permit("DH-001", "worker:w1", authorised=False)
    resumed = ctl.resume_permit("DH-001", "officer:wang", authorised=True)
    assert resumed.status is PermitStatus.ACTIVE
    assert (await ctl.badge_in("B-W2")).allowed
    assert site.lights.state()["green"]
    assert site.lights.state()["relay"]


async def test_gas_test_from_dirty_air_fails(site: Site) -> None:
    await site.steady()
    site.modbus.set_value(1, 1, 12.0, scale=0.1)  # 12 %LEL methane = 0.6 % vol > 0.5
    await until(lambda: not site.ctl.air.air_verdict().safe)
    test = site.service.gas_test("analyst")
    assert not test.passed
    assert any("lel" in f for f in test.failures)


async def test_silent_sensor_suspends_continuously_monitored_work_only(site: Site) -> None:
    ctl = site.ctl
    today = ctl.clock.wall().date()
    ctl.put_workers([welder("G1", today), welder("W1", today)], "test")
    now = ctl.clock.wall()
    members = (
        PermitMember(worker_id="G1", role=Role.GUARDIAN),
        PermitMember(worker_id="W1", role=Role.OPERATOR),
    )
    for pid, kind, level in (
        ("CS-1", WorkKind.CONFINED_SPACE, PermitLevel.NONE),
        ("DH-2", WorkKind.HOT_WORK, PermitLevel.HOT_2),
    ):
        ctl.issue_permit(
            Permit(
                permit_id=pid,
                zone_id="z1",
                kind=kind,
                level=level,
                members=members,
                valid_from=now - timedelta(minutes=1),
                valid_to=now + timedelta(hours=4),
            ),
            "central",
        )
    await site.steady()
    ctl.record_gas_test(site.service.gas_test("analyst"), "analyst")
    ctl.start_permit("CS-1", "leader", authorised=True)
    ctl.start_permit("DH-2", "leader", authorised=True)

    site.co.silence()
    ev = await site.events.wait("permit_suspend")
    assert ev.payload["permit_id"] == "CS-1"
    assert ev.payload["permit"]["suspension"]["cause"] == SuspensionCause.MONITORING_LOST.value
    alert = await site.events.wait("monitoring_lost")
    assert alert.payload["sensors"] == [{"sensor_id": "co1", "reason": "SENSOR_STALE"}]
    assert ctl.registry.permit("DH-2").status is PermitStatus.ACTIVE  # type: ignore[union-attr]
    assert site.lights.state()["red"]  # a suspended permit keeps the light red
    # the sensor's health is journaled for central whether or not anything was suspended
    stale = [{"sensor_id": "co1", "reason": "SENSOR_STALE"}]
    await until(
        lambda: any(e.payload["sensors"] == stale for e in site.events.of("gas_monitoring_changed"))
    )


async def test_fume_rise_without_active_permit_raises_unpermitted_work(
    tmp_path: Path, ports: Path, background: Background
) -> None:
    clock = SystemClock(assume_trusted=True)
    registry = Registry(tmp_path / "registry.json")
    journal = Journal(tmp_path / "journal.db", clock)
    ctl = ZoneController(zone=ZONE, registry=registry, journal=journal, clock=clock)
    events = Events()
    ctl.event_listeners.append(events)
    pm = Pms5003Config(id="pm1", port=str(ports / "ttyPM"), warmup_s=0)
    cfg = GasConfig(sensors=(pm,), unpermitted_work={"levels": {"pm2_5": 150.0}})
    async with Pms5003Simulator(pm.port, period_s=0.05, value=20) as sim:
        service = GasService(ctl, cfg, clock)
        background.start(service.run())
        await until(lambda: service.readings >= 3)
        sim.ramp(400, 0.3)
        alert = await events.wait("unpermitted_work_suspected")
        assert alert.payload["reason"] == ReasonCode.UNPERMITTED_WORK_SUSPECTED.value
        assert (alert.payload["gas"], alert.payload["sensor_id"]) == ("pm2_5", "pm1")
        assert alert.payload["value"] >= 150
        # one alert per rise, not one per frame
        n = service.readings
        await until(lambda: service.readings >= n + 6)
        assert len(events.of("unpermitted_work_suspected")) == 1
        # the indicator never makes the air "unsafe" and never suspends anything
        assert ctl.air.air_verdict().safe
        await background.stop()
        background.tasks.clear()
    journal.close()
    registry.close()


def test_build_service_plugs_engine_and_outputs(tmp_path: Path, ports: Path) -> None:
    clock = SystemClock(assume_trusted=True)
    cfg = GatewayConfig.model_validate(
        {
            "device": {"device_id": "gw1"},
            "zone": ZONE.model_dump(mode="json"),
            "storage": {"state_dir": str(tmp_path)},
            "gas": gas_cfg(ports).model_dump(mode="json"),
        }
    )
    registry = Registry(tmp_path / "registry.json")
    journal = Journal(tmp_path / "journal.db", clock)
    ctl = ZoneController(zone=ZONE, registry=registry, journal=journal, clock=clock)
    ctx = ServiceContext(
        config=cfg,
        config_path=None,
        controller=ctl,
        registry=registry,
        journal=journal,
        clock=clock,
    )
    service = build_service(ctx)
    assert isinstance(service, GasService)
    assert ctl.air is service.engine
    assert isinstance(ctl.annunciator, StackLight)
    ctl.annunciator.show(Light.RED, buzzer=True)
    assert ctl.annunciator.state()["red"]
    ctl.annunciator.close()
    no_gas = cfg.model_copy(update={"gas": GasConfig()})
    assert build_service(ServiceContext(no_gas, None, ctl, registry, journal, clock)) is None
    assert isinstance(ctl.annunciator, StackLight)
    ctl.annunciator.close()
    journal.close()
    registry.close()
