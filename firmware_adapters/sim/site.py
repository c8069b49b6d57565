"""A zone's worth of simulated sensors for the demo and tests, driven by gas name.

``SimulatedSensors(directory)`` starts, on ptys under ``directory``:

* ``co``: a Winsen ZE15-CO (9-byte frames, fault bit) at ``ttyCO``;
* ``o2`` and ``lel``: one Modbus RTU transmitter (device 1, register 0 = O2 in 0.1 % vol,
  register 1 = combustibles in 0.1 %LEL) served by pymodbus's own server at ``rs485``;
* ``pm2_5``: a Plantower PMS5003 at ``ttyPM`` (a fume indicator only).

``gas_section()`` is the matching ``gas:`` section, so the gateway reads them through its real
adapters. ``set_value(gas, value)`` / ``ramp(gas, to, seconds)`` move the air; ``sensor(gas)``
gives the simulator itself for the failure scenarios (corrupt, silence, unplug).
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pydantic import TypeAdapter

from firmware_adapters.gas.config import IndicatorOnlyWarning, SensorConfig, check_sensor_set
from firmware_adapters.sim.modbus import ModbusSimulator
from firmware_adapters.sim.pms5003 import Pms5003Simulator
from firmware_adapters.sim.scenario import ValueProgram
from firmware_adapters.sim.stream import StreamSimulator
from firmware_adapters.sim.winsen import WinsenSimulator

SENSOR_ADAPTER: TypeAdapter[SensorConfig] = TypeAdapter(SensorConfig)
MODBUS_REGISTERS = {"o2": 0, "lel": 1}  # device 1, both scaled by 0.1
CLEAN_AIR = {"co": 1.0, "o2": 20.9, "lel": 0.0, "pm2_5": 12.0}


class SimulatedSensors:
    """CO (Winsen), O2 + LEL (Modbus), PM2.5 (PMS5003) on ptys, set by gas name."""

    def __init__(self, directory: str | Path, *, period_s: float = 0.2) -> None:
        self.dir = Path(directory)
        self.period_s = period_s
        self.co = WinsenSimulator(
            self.dir / "ttyCO", gas="co", fault_bit=True, period_s=period_s, value=CLEAN_AIR["co"]
        )
        self.pm = Pms5003Simulator(self.dir / "ttyPM", period_s=period_s, value=CLEAN_AIR["pm2_5"])
        self.modbus = ModbusSimulator(self.dir / "rs485", [1])
        self._programs = {g: ValueProgram(CLEAN_AIR[g]) for g in MODBUS_REGISTERS}
        self._stack = contextlib.AsyncExitStack()
        self._pump: asyncio.Task[None] | None = None

    def gas_section(self, *, staleness_s: float | None = None, **section: Any) -> dict[str, Any]:
        """The ``gas:`` section that reads these simulators, as plain YAML-ready data (extra keys
        are passed through); ``edge.gas_config.GasConfig.model_validate`` takes it as it is.

        Sensors go stale after ``staleness_s`` (default: five periods, at least 1 s), so a
        silenced or unplugged simulator shows within seconds in the demo.
        """
        stale = staleness_s if staleness_s is not None else max(1.0, 5 * self.period_s)
        sensors: list[dict[str, Any]] = [
            {
                "type": "winsen_ze",
                "id": "ze15-co-1",
                "port": str(self.co.path),
                "model": "ze15",
                "warmup_s": 0,
                "staleness_s": stale,
            },
            {
                "type": "modbus_rtu",
                "id": "tx-o2-lel-1",
                "port": str(self.modbus.client_path),
                "device_id": 1,
                "poll_interval_s": self.period_s,
                "timeout_s": 0.3,
                "warmup_s": 0,
                "staleness_s": stale,
                "channels": [
                    {"gas": "o2", "unit": "%vol", "address": 0, "scale": 0.1},
                    {"gas": "lel", "unit": "%LEL", "address": 1, "scale": 0.1},
                ],
            },
            {
                "type": "pms5003",
                "id": "pms-1",
                "port": str(self.pm.path),
                "warmup_s": 0,
                "staleness_s": stale,
            },
        ]
        # Checked here with the sensors' own classes, so a simulator and its config cannot drift
        # apart unnoticed (the PMS5003's indicator-only warning is known: a demo indicator).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IndicatorOnlyWarning)
            check_sensor_set([SENSOR_ADAPTER.validate_python(x) for x in sensors])
        return {"sensors": sensors, **section}

    def sensor(self, gas: str) -> StreamSimulator | ModbusSimulator:
        """The simulator behind ``gas`` (co, o2, lel, pm2_5 / pm). Raises KeyError for others."""
        if gas == "co":
            return self.co
        if gas in ("pm2_5", "pm"):
            return self.pm
        if gas in MODBUS_REGISTERS:
            return self.modbus
        raise KeyError(f"no simulated sensor for {gas!r}")

    def set_value(self, gas: str, value: float) -> None:
        """Hold ``gas`` at ``value`` (ppm for co, % vol for o2, %LEL for lel, ug/m3 for pm2_5)."""
        if gas in MODBUS_REGISTERS:
            self._programs[gas].set_value(value)
            self._write(gas)
        else:
            sim = self.sensor(gas)
            assert isinstance(sim, StreamSimulator)
            sim.set_value(value)

    def ramp(self, gas: str, to: float, seconds: float) -> None:
        """Move ``gas`` linearly to ``to`` over ``seconds`` (units as ``set_value``)."""
        if gas in MODBUS_REGISTERS:
            self._programs[gas].ramp(to, seconds)
        else:
            sim = self.sensor(gas)
            assert isinstance(sim, StreamSimulator)
            sim.ramp(to, seconds)

    def _write(self, gas: str) -> None:
        self.modbus.set_value(1, MODBUS_REGISTERS[gas], self._programs[gas].value(), scale=0.1)

    async def _pump_registers(self) -> None:
        while True:
            for gas in MODBUS_REGISTERS:
                self._write(gas)
            await asyncio.sleep(self.period_s / 2)

    async def __aenter__(self) -> Self:
        await self._stack.enter_async_context(self.co)
        await self._stack.enter_async_context(self.pm)
        await self._stack.enter_async_context(self.modbus)
        for gas in MODBUS_REGISTERS:
            self._write(gas)
        self._pump = asyncio.create_task(self._pump_registers(), name="sim:modbus-registers")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.wait({self._pump})
        await self._stack.aclose()
