"""The demo's simulated site, the stack light on gpiozero's MockFactory, and the config section."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory
from pydantic import ValidationError

from edge.air import GasService
from edge.clock import SystemClock
from edge.gas_config import GasConfig
from edge.journal import Journal
from edge.models import WorkKind, Zone
from edge.reasons import ReasonCode
from edge.registry import Registry
from edge.zone import ZoneController
from firmware_adapters.gas.config import IndicatorOnlyWarning, Pms5003Config
from firmware_adapters.outputs.config import OutputsConfig
from firmware_adapters.outputs.signals import Light
from firmware_adapters.outputs.stacklight import StackLight
from firmware_adapters.sim.site import SimulatedSensors
from gateway.config import ConfigError, parse_config
from tests.gas.conftest import Background

ZONE = Zone(site="plant", zone_id="z1", work_kinds=(WorkKind.HOT_WORK,))


async def test_simulated_site_through_real_adapters(
    tmp_path: Path, ports: Path, background: Background
) -> None:
    clock = SystemClock(assume_trusted=True)
    registry = Registry(tmp_path / "registry.json")
    journal = Journal(tmp_path / "journal.db", clock)
    ctl = ZoneController(zone=ZONE, registry=registry, journal=journal, clock=clock)
    async with SimulatedSensors(ports, period_s=0.05) as sims:
        service = GasService(
            ctl, GasConfig.model_validate(sims.gas_section(check_interval_s=0.1)), clock
        )
        background.start(service.run())
        await service.wait_for_verdict(lambda v: v.monitoring_ok and v.safe)
        test = service.gas_test("analyst")
        assert test.passed, test.failures
        assert test.source == "fixed:tx-o2-lel-1,ze15-co-1"  # the PMS5003 is no gas test
        assert {s.gas for s in test.samples} == {"co", "o2", "lel"}
        service.update_health()
        health = service.health["gas"]
        assert health["monitoring_ok"] is True
        assert health["adapters"]["ze15-co-1"]["frames_ok"] > 0  # type: ignore[index]
        assert health["unjudged_readings"] == 0
        sims.set_value("o2", 18.0)
        v = await service.wait_for_verdict(lambda v: not v.safe)
        assert (v.details["gas"], v.details["channel"]) == ("o2", "o2_low")
        sims.set_value("o2", 20.9)
        sims.ramp("lel", 30.0, 0.2)
        await service.wait_for_verdict(lambda v: not v.safe and v.details.get("gas") == "lel")
        sims.set_value("lel", 0.0)
        await service.wait_for_verdict(lambda v: v.safe)
        service.acknowledge("officer")
        await service.wait_for_verdict(lambda v: v.safe and not v.latched)
        sims.modbus.unplug()  # the RS-485 adapter is pulled out
        v = await service.wait_for_verdict(lambda v: not v.monitoring_ok)
        assert v.details["sensors"] == [{"sensor_id": "tx-o2-lel-1", "reason": "SENSOR_STALE"}]
        sims.modbus.replug()
        await service.wait_for_verdict(lambda v: v.monitoring_ok, within_s=10)
        sims.co.silence()
        v = await service.wait_for_verdict(lambda v: not v.monitoring_ok)
        assert ReasonCode.SENSOR_STALE in v.reasons
        assert v.details["sensors"] == [{"sensor_id": "ze15-co-1", "reason": "SENSOR_STALE"}]
        await background.stop()
        background.tasks.clear()
    journal.close()
    registry.close()


def test_stack_light_one_lamp_buzzer_and_relay_released_on_red() -> None:
    factory = MockFactory()
    cfg = OutputsConfig()
    lights = StackLight(cfg, pin_factory=factory)
    try:
        lights.show(Light.GREEN, buzzer=False)
        assert lights.state() == {
            "red": False,
            "amber": False,
            "green": True,
            "buzzer": False,
            "relay": True,
        }
        # the relay board is active low: energised = pin driven low
        assert factory.pin(cfg.relay_pin).state is False
        assert factory.pin(cfg.green_pin).state is True
        lights.show(Light.RED, buzzer=True)
        assert lights.state() == {
            "red": True,
            "amber": False,
            "green": False,
            "buzzer": True,
            "relay": False,
        }
        assert factory.pin(cfg.relay_pin).state is True
        assert factory.pin(cfg.buzzer_pin).state is True
        lights.show(Light.AMBER, buzzer=False)
        assert lights.state()["amber"]
        assert lights.state()["relay"]  # a warning: permits still active
    finally:
        lights.close()
    strict = StackLight(OutputsConfig(relay_on_amber=False), pin_factory=MockFactory())
    try:
        strict.show(Light.AMBER, buzzer=False)
        assert not strict.state()["relay"]
    finally:
        strict.close()


def test_outputs_start_released() -> None:
    lights = StackLight(OutputsConfig(), pin_factory=MockFactory())
    try:
        assert not any(lights.state().values())
    finally:
        lights.close()


def test_outputs_reject_shared_pins() -> None:
    with pytest.raises(ValidationError, match="share a GPIO pin"):
        OutputsConfig(red_pin=5, amber_pin=5)


def test_gas_config_from_yaml_shapes() -> None:
    cfg = GasConfig.model_validate(
        {
            "sensors": [
                {"type": "winsen_ze", "id": "co1", "port": "/dev/ttyAMA0", "model": "ze15"},
                {
                    "type": "modbus_rtu",
                    "id": "tx1",
                    "port": "/dev/ttyUSB0",
                    "device_id": 3,
                    "channels": [{"gas": "h2s", "unit": "ppm", "address": 40101, "scale": 0.1}],
                    "status": {"address": 40200, "fault_mask": 1, "warmup_value": 0},
                },
            ],
            "limits": {"h2s": {"unit": "mg/m3", "high": 10}},
        }
    )
    assert [s.type for s in cfg.sensors] == ["winsen_ze", "modbus_rtu"]
    assert cfg.limits["h2s"].high == 10
    # The entry is merged with the standard's H2S levels (issue 17 item 5): its missing low
    # keeps the built-in one instead of dropping it (it was None when an entry replaced them).
    assert cfg.limits["h2s"].low == 5
    assert cfg.limits["co"].high == 40  # the others stay


def test_gas_without_limits_is_a_config_error() -> None:
    sensor = {
        "type": "modbus_rtu",
        "id": "tx1",
        "port": "/dev/ttyUSB0",
        "device_id": 1,
        "channels": [{"gas": "hcl", "unit": "ppm", "address": 0}],
    }
    with pytest.raises(ValidationError, match="no alarm limits for hcl"):
        GasConfig.model_validate({"sensors": [sensor]})
    ok = GasConfig.model_validate(
        {"sensors": [sensor], "limits": {"hcl": {"unit": "mg/m3", "high": 7.5}}}
    )
    assert ok.limits["hcl"].high == 7.5


@pytest.mark.parametrize(
    ("sensors", "message"),
    [
        ([{"type": "winsen_ze", "id": "a", "port": "/dev/x", "mode": "qa"}], "Q&A mode"),
        ([{"type": "figaro", "id": "a", "port": "/dev/x"}], "figaro"),
        (
            [{"type": "winsen_ze", "id": "a", "port": "/dev/x", "colour": "red"}],
            "Extra inputs are not permitted",
        ),
        (
            [
                {"type": "winsen_ze", "id": "a", "port": "/dev/x"},
                {"type": "winsen_ze", "id": "a", "port": "/dev/y"},
            ],
            "duplicate sensor ids",
        ),
        (
            [
                {"type": "winsen_ze", "id": "a", "port": "/dev/x"},
                {"type": "winsen_ze", "id": "b", "port": "/dev/x"},
            ],
            "needs its own port",
        ),
        (
            [
                {
                    "type": "modbus_rtu",
                    "id": "a",
                    "port": "/dev/r",
                    "device_id": 1,
                    "channels": [{"gas": "co", "unit": "ppm", "address": 0}],
                },
                {
                    "type": "modbus_rtu",
                    "id": "b",
                    "port": "/dev/r",
                    "device_id": 1,
                    "channels": [{"gas": "co", "unit": "ppm", "address": 0}],
                },
            ],
            "two transmitters at address 1",
        ),
        (
            [
                {
                    "type": "modbus_rtu",
                    "id": "a",
                    "port": "/dev/r",
                    "device_id": 1,
                    "channels": [{"gas": "co", "unit": "ppm", "address": 0}],
                },
                {
                    "type": "modbus_rtu",
                    "id": "b",
                    "port": "/dev/r",
                    "device_id": 2,
                    "baudrate": 4800,
                    "channels": [{"gas": "co", "unit": "ppm", "address": 0}],
                },
            ],
            "disagree",
        ),
    ],
)
def test_gas_config_errors(sensors: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        GasConfig.model_validate({"sensors": sensors})


def test_pms5003_config_warns_it_is_an_indicator_only() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Pms5003Config(id="pm1", port="/dev/ttyS0")
    [w] = [c for c in caught if issubclass(c.category, IndicatorOnlyWarning)]
    assert "indicator only" in str(w.message)
    assert "compliance" in str(w.message)


YAML_WITH_TYPO = """\
device:
  device_id: gw-01
zone:
  site: plant
  zone_id: z1
  work_kinds: [DHZY]
gas:
  sensors:
    - type: modbus_rtu
      id: tx1
      port: /dev/ttyUSB0
      device_id: 1
      channels:
        - {gas: o2, unit: "%vol", adress: 0}
"""


def test_gas_section_errors_name_file_line_and_a_suggestion() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(YAML_WITH_TYPO, "gateway.yaml")
    text = str(err.value)
    assert "gateway.yaml:14" in text
    assert "did you mean 'address'" in text
