"""Fixtures for the GPS tests: a real gpsd started by gpsfake on a free port (see ``GpsFake``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge.models import Fix
from firmware_adapters.gps.client import ClientStats, GpsdSession, Report, Sky
from firmware_adapters.gps.gpsfake import GpsFake, gpsfake_available
from firmware_adapters.tcpports import free_port
from tests import datasets

__all__ = ["GpsFake", "free_port"]

NMEA_DIR = datasets.NMEA_DIR  # shipped: gpsd captures, BSD-2-Clause (SOURCES.md beside them)
LOGS = sorted(p.name for p in NMEA_DIR.glob("*.log"))

requires_gpsfake = pytest.mark.skipif(
    not gpsfake_available(), reason="gpsd / gpsfake not installed"
)


class Replay:
    """What a real gpsd reported for one log, as the client under test received it."""

    def __init__(self, log: str) -> None:
        self.log = log
        self.reports: list[Report] = []
        self.stats = ClientStats()
        self.gpsfake_rc: int | None = None

    @property
    def fixes(self) -> list[Fix]:
        return [r for r in self.reports if isinstance(r, Fix)]

    @property
    def skies(self) -> list[Sky]:
        return [r for r in self.reports if isinstance(r, Sky)]


async def replay(log: str, workdir: Path) -> Replay:
    """Replay one log through gpsfake + gpsd into a ``GpsdSession``; ends when gpsd closes."""
    result = Replay(log)
    async with GpsFake(NMEA_DIR / log, workdir) as fake:
        session = GpsdSession("127.0.0.1", fake.port, receive_timeout_s=30, stats=result.stats)
        async with session:
            await asyncio.wait_for(session.watching.wait(), 10)
            fake.release()
            async with asyncio.timeout(60):
                async for report in session:
                    result.reports.append(report)
        result.gpsfake_rc = await fake.wait()
    return result


@pytest.fixture(scope="session")
def replays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Replay]:
    """Every log in the shared folder, replayed once per test run, all in parallel."""
    if not gpsfake_available():
        pytest.skip("gpsfake not installed")
    workdir = tmp_path_factory.mktemp("gpsfake")

    async def all_logs() -> dict[str, Replay]:
        done = await asyncio.gather(*(replay(log, workdir) for log in LOGS))
        return {r.log: r for r in done}

    return asyncio.run(all_logs())
