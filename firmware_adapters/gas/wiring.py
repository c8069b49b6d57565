"""Adapters built from the ``gas:`` config section, one per port."""

from __future__ import annotations

from firmware_adapters.gas.adapter import GasAdapter
from firmware_adapters.gas.config import GasConfig, ModbusRtuConfig, Pms5003Config, WinsenZeConfig
from firmware_adapters.gas.modbus import ModbusBus
from firmware_adapters.gas.pms5003 import Pms5003Adapter
from firmware_adapters.gas.winsen import WinsenAdapter
from firmware_adapters.timebase import Clock


def build_adapters(cfg: GasConfig, clock: Clock) -> list[GasAdapter]:
    """One adapter per UART sensor and one ``ModbusBus`` per RS-485 port."""
    adapters: list[GasAdapter] = []
    buses: dict[str, list[ModbusRtuConfig]] = {}
    for s in cfg.sensors:
        if isinstance(s, WinsenZeConfig):
            adapters.append(WinsenAdapter(s, clock))
        elif isinstance(s, Pms5003Config):
            adapters.append(Pms5003Adapter(s, clock))
        else:
            buses.setdefault(s.port, []).append(s)
    adapters.extend(ModbusBus(devs, clock) for devs in buses.values())
    return adapters
