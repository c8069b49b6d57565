"""Scenarios of the simulators, the daemon wiring, and the service's resilience."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge.air import GasService
from edge.clock import ManualClock, SystemClock
from edge.gas_config import GasConfig
from edge.journal import Journal
from edge.models import Reading, WorkKind, Zone
from edge.registry import Registry
from edge.zone import ZoneController
from firmware_adapters.gas.config import WinsenZeConfig
from firmware_adapters.gas.winsen import WinsenAdapter
from firmware_adapters.sim.scenario import ValueProgram
from firmware_adapters.sim.site import SimulatedSensors
from firmware_adapters.sim.winsen import WinsenSimulator
from gateway.config import GatewayConfig
from gateway.daemon import Gateway
from tests.gas.conftest import Background, Collector, StoredGasZone

pytestmark = pytest.mark.filterwarnings("ignore::firmware_adapters.gas.config.IndicatorOnlyWarning")

ZONE = Zone(site="plant", zone_id="z1", work_kinds=(WorkKind.HOT_WORK,))


def test_value_program_ramp_spike_noise() -> None:
    now = [0.0]
    p = ValueProgram(1.0, clock=lambda: now[0])
    p.ramp(11.0, 10.0)
    now[0] = 5.0
    assert p.value() == pytest.approx(6.0)
    now[0] = 20.0
    assert p.value() == pytest.approx(11.0)
    p.spike(100.0, 1.0)
    assert p.value() == 100.0
    now[0] = 21.5
    assert p.value() == pytest.approx(11.0)
    p.noise(2.0)
    seen = {round(p.value(), 3) for _ in range(50)}
    assert len(seen) > 10
    assert all(9.0 <= v <= 13.0 for v in seen)


async def test_spike_reaches_the_adapter_and_falls_back(
    ports: Path, collector: Collector, background: Background
) -> None:
    async with WinsenSimulator(ports / "ttyCO", period_s=0.02, value=2.0) as sim:
        cfg = WinsenZeConfig(id="co1", port=str(sim.path), model="ze07", warmup_s=0)
        background.start(WinsenAdapter(cfg, SystemClock()).run(collector))
        await collector.wait_count(1)
        sim.spike(90.0, 0.1)
        await collector.wait_for(lambda rs: any(r.value == 90.0 for r in rs))
        await collector.wait_for(lambda rs: rs[-1].value == 2.0)


def test_a_failing_controller_never_breaks_the_reading_path(tmp_path: Path) -> None:
    clock = ManualClock()
    registry = Registry(tmp_path / "registry.json")
    journal = Journal(tmp_path / "journal.db", clock)
    ctl = ZoneController(zone=ZONE, registry=registry, journal=journal, clock=clock)
    cfg = GasConfig(sensors=(WinsenZeConfig(id="co1", port="/dev/null", model="ze07"),))
    service = GasService(ctl, cfg, clock, adapters=[])
    journal.close()  # the store is gone: every commit now fails
    reading = Reading(
        sensor_id="co1",
        gas="co",
        value=500.0,
        unit="ppm",
        source_ts=clock.wall(),
        mono_ts=clock.mono(),
    )
    service.on_reading(reading)  # must not raise into the adapter
    service.on_reading(reading)
    # The controller takes the store's failure as its storage alarm (issue 16.2) and keeps
    # acting on memory; the reading path saw no exception.
    assert not ctl.storage_ok and not ctl.journal_writable
    assert service.readings == 2
    assert not ctl.air.air_verdict().safe  # the engine still knows the air is bad
    registry.close()


async def test_daemon_runs_gas_from_simulators(tmp_path: Path, ports: Path) -> None:
    async with SimulatedSensors(ports, period_s=0.05) as sims:
        cfg = GatewayConfig.model_validate(
            {
                "device": {"device_id": "gw1"},
                "zone": ZONE.model_dump(mode="json"),
                "storage": {"state_dir": str(tmp_path)},
                "clock": {"assume_trusted": True},
                "gas": sims.gas_section(check_interval_s=0.1),
            }
        )
        async with Gateway(cfg) as gw:
            stop = asyncio.Event()
            runner = asyncio.create_task(gw.run(stop))
            try:
                await gw.ready.wait()
                [service] = [s for s in gw.services if s.name == "gas"]
                assert isinstance(service, GasService)
                assert gw.controller.air is service.engine
                await service.wait_for_verdict(lambda v: v.monitoring_ok and v.safe)
                sims.set_value("co", 90.0)
                v = await service.wait_for_verdict(lambda v: not v.safe)
                assert v.details["sensor_id"] == "ze15-co-1"
                assert gw.controller.snapshot()["light"] == "red"
            finally:
                stop.set()
                await runner


def test_latched_alarm_survives_a_restart(tmp_path: Path) -> None:
    rig = StoredGasZone(tmp_path)
    boot, co = rig.boot, rig.co

    service, registry, journal = boot()
    service.on_reading(co(80.0))
    assert not service.engine.air_verdict().safe
    journal.close()
    registry.close()

    service, registry, journal = boot()  # a power cut later
    v = service.engine.air_verdict()
    assert (v.safe, v.latched) == (False, True)  # the latch came back, still active
    assert v.details["channel"] == "high"
    service.on_reading(co(1.0))
    assert service.engine.air_verdict().latched  # cleared, but nobody acknowledged
    service.acknowledge("officer")
    assert not service.engine.air_verdict().latched
    journal.close()
    registry.close()

    service, registry, journal = boot()
    assert not service.engine.air_verdict().latched
    journal.close()
    registry.close()


def test_malformed_saved_alarm_is_skipped_and_counted(tmp_path: Path) -> None:
    clock = ManualClock()
    registry = Registry(tmp_path / "registry.json")
    journal = Journal(tmp_path / "journal.db", clock)
    registry.put_doc("gas_state", "alarms", {"alarms": [{"gas": "co"}]})
    ctl = ZoneController(zone=ZONE, registry=registry, journal=journal, clock=clock)
    cfg = GasConfig(sensors=(WinsenZeConfig(id="co1", port="/dev/null", model="ze07"),))
    service = GasService(ctl, cfg, clock, adapters=[])
    assert service.engine.unrestorable_alarms == 1
    journal.close()
    registry.close()


def test_unchanged_unsafe_verdict_is_resent_per_interval_not_per_frame(tmp_path: Path) -> None:
    clock = ManualClock()
    registry = Registry(tmp_path / "registry.json")
    journal = Journal(tmp_path / "journal.db", clock)
    ctl = ZoneController(zone=ZONE, registry=registry, journal=journal, clock=clock)
    sensors = (
        WinsenZeConfig(id="co1", port="/dev/null", model="ze07"),
        WinsenZeConfig(id="h2s1", port="/dev/zero", model="ze03", gas="h2s"),
    )
    service = GasService(ctl, GasConfig(sensors=sensors, check_interval_s=0.5), clock, adapters=[])

    def read(sensor: str, gas: str, ppm: float) -> None:
        service.on_reading(
            Reading(
                sensor_id=sensor,
                gas=gas,
                value=ppm,
                unit="ppm",
                source_ts=clock.wall(),
                mono_ts=clock.mono(),
            )
        )

    read("h2s1", "h2s", 0.1)
    read("co1", "co", 80.0)
    sent = service.verdicts_sent
    for _ in range(10):
        read("co1", "co", 80.0)
        read("h2s1", "h2s", 0.1)
    assert service.verdicts_sent == sent  # nothing new: not resent per frame
    read("h2s1", "h2s", 50.0)  # a second alarm: sent at once
    assert service.verdicts_sent == sent + 1
    clock.advance(0.5)
    read("co1", "co", 80.0)  # still unsafe, an interval later: resent
    assert service.verdicts_sent == sent + 2
    journal.close()
    registry.close()
