"""A short torture run: noise, garbage, corrupt frames and unplugs on every port at once."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from edge.air import GasService
from edge.clock import SystemClock
from edge.gas_config import GasConfig
from edge.journal import Journal
from edge.models import WorkKind, Zone
from edge.registry import Registry
from edge.zone import ZoneController
from firmware_adapters.sim.site import SimulatedSensors
from tests.gas.conftest import Background

pytestmark = pytest.mark.filterwarnings("ignore::firmware_adapters.gas.config.IndicatorOnlyWarning")


async def test_abuse_on_every_port_never_breaks_the_service(
    tmp_path: Path, ports: Path, background: Background
) -> None:
    clock = SystemClock(assume_trusted=True)
    registry = Registry(tmp_path / "registry.json")
    journal = Journal(tmp_path / "journal.db", clock)
    zone = Zone(site="p", zone_id="z1", work_kinds=(WorkKind.HOT_WORK,))
    ctl = ZoneController(zone=zone, registry=registry, journal=journal, clock=clock)
    rng = random.Random(3)
    async with SimulatedSensors(ports, period_s=0.02) as sims:
        service = GasService(
            ctl,
            GasConfig.model_validate(sims.gas_section(staleness_s=0.5, check_interval_s=0.1)),
            clock,
        )
        background.start(service.run())
        await service.wait_for_verdict(lambda v: v.monitoring_ok)
        for gas in ("co", "pm2_5"):
            sims.sensor(gas).noise(0.5)  # type: ignore[union-attr]
        for _ in range(30):
            action = rng.choice(["corrupt", "garbage", "unplug", "crc"])
            if action == "corrupt":
                sims.co.corrupt(rng.randint(1, 5))
                sims.pm.corrupt(rng.randint(1, 5))
            elif action == "garbage":
                sims.co.garbage(rng.randint(1, 50))
                sims.pm.garbage(rng.randint(1, 80))
            elif action == "crc":
                sims.modbus.corrupt_next(1)  # each costs the client a reply timeout
            else:
                sims.co.unplug()
                sims.modbus.unplug()
                await asyncio.sleep(0.02)
                sims.co.replug()
                sims.modbus.replug()
            await asyncio.sleep(0.03)
        # everything comes back, nothing was mistaken for clean air on the way
        v = await service.wait_for_verdict(lambda v: v.monitoring_ok and v.safe, within_s=15)
        assert v.reasons == ()
        assert service.errors == 0
        stats = {a.name: a.stats for a in service.adapters}
        assert stats["ze15-co-1"].checksum_errors > 0
        assert stats["ze15-co-1"].disconnects > 0
        assert stats["modbus:" + str(sims.modbus.client_path)].opens > 1
        values = [r.value for r in service.engine.latest() if r.gas == "co"]
        assert all(v is not None and 0 <= v < 5 for v in values)  # no garbage value got in
        await background.stop()
        background.tasks.clear()
    journal.close()
    registry.close()
