"""Adapters built from the configured gas sensors: one per UART sensor, one per RS-485 port."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from firmware_adapters.gas.adapter import GasAdapter
from firmware_adapters.gas.config import (
    ModbusRtuConfig,
    Pms5003Config,
    SensorConfig,
    WinsenZeConfig,
)
from firmware_adapters.gas.modbus import ModbusBus
from firmware_adapters.gas.pms5003 import Pms5003Adapter
from firmware_adapters.gas.winsen import WinsenAdapter
from firmware_adapters.timebase import Clock


def _winsen(configs: Sequence[SensorConfig], clock: Clock) -> GasAdapter:
    [cfg] = configs
    assert isinstance(cfg, WinsenZeConfig)  # keyed by its type below
    return WinsenAdapter(cfg, clock)


def _pms5003(configs: Sequence[SensorConfig], clock: Clock) -> GasAdapter:
    [cfg] = configs
    assert isinstance(cfg, Pms5003Config)
    return Pms5003Adapter(cfg, clock)


def _modbus(configs: Sequence[SensorConfig], clock: Clock) -> GasAdapter:
    devices = [c for c in configs if isinstance(c, ModbusRtuConfig)]
    assert len(devices) == len(configs)
    return ModbusBus(devices, clock)


# The adapter for each sensor ``type:``, given every sensor sharing one port (a bus) or the
# one sensor that owns it (a UART). A new sensor type adds its config class and one entry here.
ADAPTERS: dict[str, Callable[[Sequence[SensorConfig], Clock], GasAdapter]] = {
    "winsen_ze": _winsen,
    "pms5003": _pms5003,
    "modbus_rtu": _modbus,
}


def build_adapters(sensors: Sequence[SensorConfig], clock: Clock) -> list[GasAdapter]:
    """One adapter per UART sensor, then one per shared bus port (devices in config order).

    ``sensors`` is ``GasConfig.sensors`` (already checked by ``check_sensor_set``: devices on a
    bus port agree on its line settings).
    """
    adapters: list[GasAdapter] = []
    buses: dict[tuple[str, str], list[SensorConfig]] = {}
    for s in sensors:
        use = s.port_use()
        if use.line is None:
            adapters.append(ADAPTERS[s.type]([s], clock))
        else:
            buses.setdefault((s.type, use.port), []).append(s)
    adapters.extend(ADAPTERS[kind](devices, clock) for (kind, _), devices in buses.items())
    return adapters
