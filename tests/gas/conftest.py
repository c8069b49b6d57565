"""Fixtures for the gas capability: pty paths, a reading collector you can await, a zone."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.air import GasService
from edge.clock import ManualClock
from edge.gas_config import GasConfig
from edge.journal import Journal
from edge.models import Reading, WorkKind, Zone
from edge.registry import Registry
from edge.zone import ZoneController
from firmware_adapters.gas.config import WinsenZeConfig


class Collector:
    """A reading sink whose contents a test awaits (no sleeps as synchronisation)."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self._waiters: list[tuple[Callable[[list[Reading]], bool], asyncio.Future[None]]] = []

    def __call__(self, reading: Reading) -> None:
        self.readings.append(reading)
        for pred, fut in list(self._waiters):
            if not fut.done() and pred(self.readings):
                fut.set_result(None)

    async def wait_for(
        self, pred: Callable[[list[Reading]], bool], within_s: float = 5.0
    ) -> list[Reading]:
        if pred(self.readings):
            return self.readings
        entry = (pred, asyncio.get_running_loop().create_future())
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(within_s):
                await entry[1]
        finally:
            self._waiters.remove(entry)
        return self.readings

    async def wait_count(self, n: int, within_s: float = 5.0) -> list[Reading]:
        return await self.wait_for(lambda rs: len(rs) >= n, within_s)


@pytest.fixture
def ports() -> Iterator[Path]:
    """A short temp dir for pty symlinks (stands in for /dev)."""
    with tempfile.TemporaryDirectory(prefix="zg-gas-") as d:
        yield Path(d)


@pytest.fixture
async def collector() -> Collector:
    return Collector()


class Background:
    """Tasks a test starts; all cancelled and awaited at teardown (no orphans)."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.append(task)
        return task

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks)
        for t in self.tasks:
            if not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]


@pytest.fixture
async def background() -> AsyncIterator[Background]:
    bg = Background()
    yield bg
    await bg.stop()


class StoredGasZone:
    """A gas service on one CO sensor over real stores in ``directory``, booted again at will:
    each ``boot()`` is the daemon starting on what the last run left (restart, power cut)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.clock = ManualClock()
        self.cfg = GasConfig(sensors=(WinsenZeConfig(id="co1", port="/dev/null", model="ze07"),))

    def boot(self) -> tuple[GasService, Registry, Journal]:
        """``(GasService, Registry, Journal)`` opened on the stores; close both when done."""
        zone = Zone(site="plant", zone_id="z1", work_kinds=(WorkKind.HOT_WORK,))
        registry = Registry(self.dir / "registry.json")
        journal = Journal(self.dir / "journal.db", self.clock)
        ctl = ZoneController(zone=zone, registry=registry, journal=journal, clock=self.clock)
        return GasService(ctl, self.cfg, self.clock, adapters=[]), registry, journal

    def co(self, ppm: float) -> Reading:
        """A CO reading in ppm, stamped now."""
        return Reading(
            sensor_id="co1",
            gas="co",
            value=ppm,
            unit="ppm",
            source_ts=self.clock.wall(),
            mono_ts=self.clock.mono(),
        )
