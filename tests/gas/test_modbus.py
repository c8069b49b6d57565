"""Modbus RTU transmitters: our pymodbus client adapter against pymodbus's own server on a pty."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.clock import SystemClock
from edge.gas_config import GasConfig
from firmware_adapters.gas.config import ModbusChannel, ModbusRtuConfig
from firmware_adapters.gas.modbus import ModbusBus, crc16_modbus, decode_registers
from firmware_adapters.gas.wiring import build_adapters
from firmware_adapters.sim.modbus import ModbusSimulator
from tests.conditions import until
from tests.gas.conftest import Background, Collector

CLOCK = SystemClock(assume_trusted=True)


def transmitter(port: Path, device_id: int = 1, **kw: object) -> ModbusRtuConfig:
    base: dict[str, object] = {
        "id": f"tx{device_id}",
        "port": str(port),
        "device_id": device_id,
        "poll_interval_s": 0.05,
        "timeout_s": 0.2,
        "warmup_s": 0,
        "channels": [{"gas": "co", "unit": "ppm", "address": 0, "scale": 0.1}],
    }
    return ModbusRtuConfig.model_validate(base | kw)


@pytest.mark.parametrize(
    ("frame", "crc"),
    [("010300000001", "840A"), ("010300000002", "C40B"), ("1103006B0003", "7687")],
)
def test_crc16_modbus_reference_vectors(frame: str, crc: str) -> None:
    assert crc16_modbus(bytes.fromhex(frame)) == bytes.fromhex(crc)


def test_register_decoding() -> None:
    u16 = ModbusChannel(gas="o2", unit="%vol", address=0, scale=0.1)
    assert decode_registers([0x00D1], u16) == pytest.approx(20.9)
    s16 = ModbusChannel(gas="co", unit="ppm", address=0, data_type="s16")
    assert decode_registers([0xFFFE], s16) == -2.0
    f32 = ModbusChannel(gas="co", unit="ppm", address=0, data_type="f32")
    assert decode_registers([0x41C8, 0x0000], f32) == 25.0
    f32le = ModbusChannel(gas="co", unit="ppm", address=0, data_type="f32", word_order="little")
    assert decode_registers([0x0000, 0x41C8], f32le) == 25.0
    u32 = ModbusChannel(gas="co", unit="ppm", address=0, data_type="u32")
    assert decode_registers([0x0001, 0x0000], u32) == 65536.0


async def test_polls_register_map_with_function_3_and_4(
    ports: Path, collector: Collector, background: Background
) -> None:
    async with ModbusSimulator(ports / "rs485", [1]) as sim:
        sim.set_value(1, 0, 12.5, scale=0.1)
        sim.set_float(1, 4, 20.9)
        sim.set_register(1, 8, 2)  # decimals register
        sim.set_register(1, 9, 1234)
        cfg = transmitter(
            sim.client_path,
            channels=[
                {"gas": "co", "unit": "ppm", "address": 0, "scale": 0.1},
                {"gas": "o2", "unit": "%vol", "address": 4, "function": 4, "data_type": "f32"},
                {"gas": "lel", "unit": "%LEL", "address": 9, "decimals_register": 8},
            ],
        )
        bus = ModbusBus([cfg], CLOCK)
        background.start(bus.run(collector))
        rs = await collector.wait_count(3)
        got = {r.gas: r.value for r in rs[:3]}
        assert got["co"] == pytest.approx(12.5)
        assert got["o2"] == pytest.approx(20.9, abs=1e-5)
        assert got["lel"] == pytest.approx(12.34)
        assert all(r.sensor_id == "tx1" and not r.fault for r in rs)


async def test_status_register_fault_and_warm_up(
    ports: Path, collector: Collector, background: Background
) -> None:
    async with ModbusSimulator(ports / "rs485", [1]) as sim:
        sim.set_value(1, 0, 5, scale=0.1)
        cfg = transmitter(
            sim.client_path, status={"address": 6, "fault_mask": 0x0004, "warmup_value": 0}
        )
        bus = ModbusBus([cfg], CLOCK)
        background.start(bus.run(collector))
        await collector.wait_for(lambda rs: bool(rs) and rs[-1].warming_up)  # 0 = busy
        sim.set_register(1, 6, 0x0001)
        await collector.wait_for(lambda rs: not rs[-1].warming_up and rs[-1].value == 5)
        sim.set_register(1, 6, 0x0005)
        await collector.wait_for(lambda rs: rs[-1].fault)
        assert collector.readings[-1].value is None  # a fault is no value, never 0 ppm


async def test_over_range_and_negative_values_pass_through_flagged(
    ports: Path, collector: Collector, background: Background
) -> None:
    async with ModbusSimulator(ports / "rs485", [1]) as sim:
        chan = {"gas": "co", "unit": "ppm", "address": 0, "data_type": "s16", "full_scale": 500}
        bus = ModbusBus([transmitter(sim.client_path, channels=[chan])], CLOCK)
        background.start(bus.run(collector))
        sim.set_value(1, 0, -3)
        await collector.wait_for(lambda rs: bool(rs) and rs[-1].value == -3)
        sim.set_value(1, 0, 500)
        await collector.wait_for(lambda rs: rs[-1].over_range)


async def test_crc_damage_is_counted_and_the_bus_carries_on(
    ports: Path, collector: Collector, background: Background
) -> None:
    async with ModbusSimulator(ports / "rs485", [1]) as sim:
        sim.set_value(1, 0, 7, scale=0.1)
        bus = ModbusBus([transmitter(sim.client_path)], CLOCK)
        background.start(bus.run(collector))
        await collector.wait_count(1)
        sim.corrupt_next(2)
        await until(lambda: bus.stats.checksum_errors >= 2)
        n = len(collector.readings)
        await collector.wait_count(n + 2)
        assert all(r.value == pytest.approx(7) for r in collector.readings)


async def test_a_late_reply_is_never_taken_for_the_next_gas(
    ports: Path, collector: Collector, background: Background
) -> None:
    """RTU replies carry no request id: a reply that comes after the timeout must not be read as
    the answer to the next request (seen in the demo under load: LEL read the O2 value)."""
    async with ModbusSimulator(ports / "rs485", [1]) as sim:
        sim.set_value(1, 0, 20.9, scale=0.1)  # O2 %vol
        sim.set_value(1, 1, 0, scale=0.1)  # LEL %
        chans = [
            {"gas": "o2", "unit": "%vol", "address": 0, "scale": 0.1},
            {"gas": "lel", "unit": "%LEL", "address": 1, "scale": 0.1},
        ]
        bus = ModbusBus([transmitter(sim.client_path, channels=chans)], CLOCK)
        background.start(bus.run(collector))
        await collector.wait_count(2)
        sim.delay_next(0.3)  # past the 0.2 s timeout; the reply still comes
        await until(lambda: bus.stats.read_errors >= 1, what="the late reply's timeout")
        n = len(collector.readings)
        await collector.wait_count(n + 20)
        lel = [r.value for r in collector.readings if r.gas == "lel"]
        o2 = [r.value for r in collector.readings if r.gas == "o2"]
        assert lel and all(v == pytest.approx(0.0) for v in lel), lel  # never O2's 20.9
        assert o2 and all(v == pytest.approx(20.9) for v in o2), o2  # never LEL's 0


async def test_one_bus_polls_many_transmitters(
    ports: Path, collector: Collector, background: Background
) -> None:
    ids = [1, 2, 17]
    async with ModbusSimulator(ports / "rs485", ids) as sim:
        for d in ids:
            sim.set_value(d, 0, d, scale=0.1)
        cfg = GasConfig(sensors=tuple(transmitter(sim.client_path, d) for d in ids))
        [bus] = build_adapters(cfg.sensors, CLOCK)
        background.start(bus.run(collector))
        await collector.wait_for(lambda rs: {r.sensor_id for r in rs} == {"tx1", "tx2", "tx17"})
        assert {r.sensor_id: r.value for r in collector.readings} == {
            "tx1": pytest.approx(1),
            "tx2": pytest.approx(2),
            "tx17": pytest.approx(17),
        }


async def test_missing_transmitter_gives_no_reading_and_counts(
    ports: Path, collector: Collector, background: Background
) -> None:
    async with ModbusSimulator(ports / "rs485", [1]) as sim:
        cfg = GasConfig(sensors=(transmitter(sim.client_path, 1), transmitter(sim.client_path, 9)))
        [bus] = build_adapters(cfg.sensors, CLOCK)
        background.start(bus.run(collector))
        await until(lambda: bus.stats.read_errors >= 2)
        assert {r.sensor_id for r in collector.readings} == {"tx1"}


async def test_unplug_and_replug_recovers(
    ports: Path, collector: Collector, background: Background
) -> None:
    async with ModbusSimulator(ports / "ttyUSB0", [1]) as sim:
        sim.set_value(1, 0, 3, scale=0.1)
        bus = ModbusBus([transmitter(sim.client_path)], CLOCK)
        background.start(bus.run(collector))
        await collector.wait_count(2)
        sim.unplug()
        await until(lambda: not bus.stats.connected)
        sim.set_value(1, 0, 9, scale=0.1)
        sim.replug()
        await collector.wait_for(lambda rs: rs[-1].value == pytest.approx(9), within_s=10)
        assert bus.stats.opens >= 2
