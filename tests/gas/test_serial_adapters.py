"""Winsen and PMS5003 adapters reading their simulators over a pty (the real wire protocol)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.clock import ManualClock, SystemClock
from firmware_adapters.gas.config import Pms5003Config, WinsenZeConfig
from firmware_adapters.gas.pms5003 import Pms5003Adapter
from firmware_adapters.gas.serialport import warmup_start
from firmware_adapters.gas.winsen import WinsenAdapter
from firmware_adapters.sim.pms5003 import Pms5003Simulator
from firmware_adapters.sim.winsen import WinsenSimulator
from tests.conditions import until
from tests.gas.conftest import Background, Collector

CLOCK = SystemClock(assume_trusted=True)


def winsen_cfg(port: Path, **kw: object) -> WinsenZeConfig:
    base: dict[str, object] = {"id": "co1", "port": str(port), "model": "ze15", "warmup_s": 0}
    return WinsenZeConfig.model_validate(base | kw)


async def test_active_frames_become_stamped_readings(
    ports: Path, collector: Collector, background: Background
) -> None:
    async with WinsenSimulator(ports / "ttyCO", fault_bit=True, period_s=0.02, value=12.3) as sim:
        adapter = WinsenAdapter(winsen_cfg(sim.path), CLOCK)
        before = time.monotonic()
        background.start(adapter.run(collector))
        rs = await collector.wait_count(3)
        r = rs[0]
        assert (r.sensor_id, r.gas, r.unit, r.value) == ("co1", "co", "ppm", 12.3)
        assert not (r.fault or r.warming_up or r.over_range)
        assert r.full_scale == 500.0
        assert before <= r.mono_ts <= time.monotonic()  # the receive time, not a later stamp
        assert r.source_ts.tzinfo is not None
        assert adapter.stats.frames_ok >= 3


async def test_fault_bit_and_over_range_flags(
    ports: Path, collector: Collector, background: Background
) -> None:
    async with WinsenSimulator(ports / "ttyCO", fault_bit=True, period_s=0.02, value=5) as sim:
        adapter = WinsenAdapter(winsen_cfg(sim.path), CLOCK)
        background.start(adapter.run(collector))
        await collector.wait_count(1)
        sim.fault = True
        await collector.wait_for(lambda rs: rs[-1].fault)
        assert collector.readings[-1].value is None
        sim.fault = False
        sim.set_value(500.0)
        await collector.wait_for(lambda rs: rs[-1].over_range)


async def test_warm_up_flag_after_open(
    ports: Path, collector: Collector, background: Background
) -> None:
    async with WinsenSimulator(ports / "ttyCO", period_s=0.02, value=5) as sim:
        adapter = WinsenAdapter(winsen_cfg(sim.path, model="ze07", warmup_s=60), CLOCK)
        background.start(adapter.run(collector))
        rs = await collector.wait_count(2)
        assert all(r.warming_up for r in rs)


async def test_garbage_and_corrupt_frames_are_counted_and_skipped(
    ports: Path, collector: Collector, background: Background
) -> None:
    async with WinsenSimulator(ports / "ttyCO", period_s=0.02, value=7) as sim:
        adapter = WinsenAdapter(winsen_cfg(sim.path, model="ze07"), CLOCK)
        background.start(adapter.run(collector))
        await collector.wait_count(1)
        sim.corrupt(3)
        sim.garbage(40)
        n = len(collector.readings)
        await collector.wait_count(n + 3)
        assert adapter.stats.checksum_errors >= 3
        assert adapter.stats.bytes_discarded >= 27
        assert all(r.value == 7 for r in collector.readings)  # nothing corrupt got through


async def test_qa_mode_switches_the_module_and_polls(
    ports: Path, collector: Collector, background: Background
) -> None:
    async with WinsenSimulator(ports / "ttyCO", period_s=0.02, value=42.0) as sim:
        cfg = winsen_cfg(sim.path, mode="qa", gas="co", unit="ppm", poll_interval_s=0.02)
        adapter = WinsenAdapter(cfg, CLOCK)
        background.start(adapter.run(collector))
        # Active frames streamed before the module took the switch count as readings too; wait
        # for readings after three polls (a loaded machine can deliver three frames first).
        await collector.wait_for(lambda rs: sim.qa_requests >= 3 and len(rs) >= 3)
        assert sim.qa_mode
        assert sim.qa_requests >= 3
        assert adapter.parser.acks >= 1
        assert collector.readings[-1].value == 42.0


async def test_unplug_and_replug_recovers(
    ports: Path, collector: Collector, background: Background
) -> None:
    async with WinsenSimulator(ports / "ttyUSB0", period_s=0.02, value=3) as sim:
        adapter = WinsenAdapter(winsen_cfg(sim.path, model="ze07"), CLOCK)
        background.start(adapter.run(collector))
        await collector.wait_count(2)
        sim.unplug()
        assert not sim.path.exists()
        n = len(collector.readings)
        sim.set_value(9)
        sim.replug()
        await collector.wait_for(lambda rs: len(rs) > n and rs[-1].value == 9)
        assert adapter.stats.disconnects >= 1
        assert adapter.stats.opens >= 2
        assert adapter.stats.connected


async def test_port_missing_at_start_is_retried(
    ports: Path, collector: Collector, background: Background
) -> None:
    path = ports / "ttyLate"
    adapter = WinsenAdapter(winsen_cfg(path, model="ze07"), CLOCK)
    background.start(adapter.run(collector))
    await until(lambda: adapter.stats.last_error is not None)  # it says why it cannot open
    assert "cannot open" in str(adapter.stats.last_error)
    async with WinsenSimulator(path, period_s=0.02, value=1):
        await collector.wait_count(1)


async def test_pms5003_adapter_reads_pm(
    ports: Path, collector: Collector, background: Background
) -> None:
    with pytest.warns(UserWarning, match="indicator only"):
        cfg = Pms5003Config(id="pm1", port=str(ports / "ttyPM"), warmup_s=0)
    async with Pms5003Simulator(cfg.port, period_s=0.02, value=80) as sim:
        adapter = Pms5003Adapter(cfg, CLOCK)
        background.start(adapter.run(collector))
        rs = await collector.wait_count(3)
        by_gas = {r.gas: r for r in rs[:3]}
        assert by_gas["pm2_5"].value == 80
        assert by_gas["pm2_5"].unit == "ug/m3"
        sim.corrupt(2)
        n = adapter.stats.frames_ok
        await collector.wait_for(lambda _: adapter.stats.frames_ok >= n + 2)
        assert adapter.stats.checksum_errors >= 2
        sim.set_value(1000)
        await collector.wait_for(lambda rs: rs[-1].gas == "pm10" and rs[-2].over_range)


def test_warm_up_counts_from_plug_in_not_from_a_daemon_restart(tmp_path: Path) -> None:
    node = tmp_path / "ttyUSB0"
    node.touch()
    created = datetime.fromtimestamp(node.stat().st_ctime, UTC)
    just_plugged = ManualClock(created + timedelta(seconds=2))
    assert warmup_start(str(node), just_plugged, waited=False) == pytest.approx(
        just_plugged.mono() - 2, abs=0.01
    )
    restarted_later = ManualClock(created + timedelta(hours=5))  # the node is old
    assert warmup_start(str(node), restarted_later, waited=False) == 0.0  # bounded by boot
    assert warmup_start(str(node), restarted_later, waited=True) == restarted_later.mono()
    assert warmup_start(str(tmp_path / "gone"), restarted_later, waited=False) == 0.0


async def test_replug_restarts_the_warm_up(
    ports: Path, collector: Collector, background: Background
) -> None:
    async with WinsenSimulator(ports / "ttyUSB0", period_s=0.02, value=3) as sim:
        adapter = WinsenAdapter(winsen_cfg(sim.path, model="ze07", warmup_s=0.3), CLOCK)
        background.start(adapter.run(collector))
        await collector.wait_for(lambda rs: bool(rs) and not rs[-1].warming_up)
        assert collector.readings[0].warming_up  # a fresh pty: just plugged in
        sim.unplug()
        sim.replug()
        n = len(collector.readings)
        rs = await collector.wait_count(n + 1)
        assert rs[n].warming_up
