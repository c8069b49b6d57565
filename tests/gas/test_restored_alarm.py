"""A latched alarm restored from the stores after a restart is the same episode (issue 12.10):
announced as ``gas_alarm_restored`` with its original time, never as a fresh ``gas_alarm``."""

from __future__ import annotations

from pathlib import Path

from edge.air import GasService
from edge.clock import ManualClock
from edge.gas_config import GasConfig
from edge.journal import Journal
from edge.models import EventKind, EventType, Reading, WorkKind, Zone
from edge.registry import Registry
from edge.zone import ZoneController
from firmware_adapters.gas.config import WinsenZeConfig
from tests.gas.conftest import StoredGasZone

ZONE = Zone(site="plant", zone_id="z1", work_kinds=(WorkKind.HOT_WORK,))


def test_alarm_restored_after_a_restart_keeps_its_time_and_is_not_new(tmp_path: Path) -> None:
    rig = StoredGasZone(tmp_path)
    clock, boot, co = rig.clock, rig.boot, rig.co

    service, registry, journal = boot()
    service.on_reading(co(85.0))
    [first] = journal.events(kind=EventKind.ALERT, type_="gas_alarm")
    raised_at = first.payload["alarms"][0]["since"]
    journal.close()
    registry.close()

    clock.advance(52)  # a restart 52 s later; the air is still bad
    service, registry, journal = boot()
    service.on_reading(co(84.0))
    alerts = journal.events(kind=EventKind.ALERT)
    assert [e.type for e in alerts] == ["gas_alarm", "gas_alarm_restored"]
    restored = alerts[-1]
    assert restored.payload["since"] == raised_at
    assert restored.wall_time > first.wall_time  # announced now, about an alarm from then
    service.on_reading(co(86.0))  # the same episode goes on: nothing new announced
    assert len(journal.events(kind=EventKind.ALERT)) == 2

    # Cleared, acknowledged, then a new rise: that one is a fresh alarm again.
    service.on_reading(co(1.0))
    service.acknowledge("officer")
    clock.advance(5)
    service.on_reading(co(90.0))
    types = [e.type for e in journal.events(kind=EventKind.ALERT)]
    assert types[-1] == "gas_alarm" and "gas_alarm_cleared" in types
    journal.close()
    registry.close()


def test_a_restored_alarm_that_cleared_then_rose_again_is_new(tmp_path: Path) -> None:
    clock = ManualClock()
    cfg = GasConfig(sensors=(WinsenZeConfig(id="co1", port="/dev/null", model="ze07"),))
    registry = Registry(tmp_path / "registry.json")
    journal = Journal(tmp_path / "journal.db", clock)
    ctl = ZoneController(zone=ZONE, registry=registry, journal=journal, clock=clock)
    service = GasService(ctl, cfg, clock, adapters=[])
    reading = Reading(
        sensor_id="co1", gas="co", value=85.0, unit="ppm", source_ts=clock.wall(), mono_ts=0.0
    )
    service.on_reading(reading)
    journal.close()
    registry.close()

    registry = Registry(tmp_path / "registry.json")
    journal = Journal(tmp_path / "journal.db", clock)
    ctl = ZoneController(zone=ZONE, registry=registry, journal=journal, clock=clock)
    service = GasService(ctl, cfg, clock, adapters=[])
    clock.advance(10)
    low = reading.model_copy(update={"value": 1.0, "source_ts": clock.wall(), "mono_ts": 10.0})
    service.on_reading(low)  # cleared while latched (nobody acknowledged)
    clock.advance(10)
    high = reading.model_copy(update={"value": 95.0, "source_ts": clock.wall(), "mono_ts": 20.0})
    service.on_reading(high)  # the latch becomes active again: a new episode
    types = [e.type for e in journal.events(kind=EventKind.ALERT)]
    assert types.count(EventType.GAS_ALARM) == 2 and "gas_alarm_restored" not in types
    journal.close()
    registry.close()
