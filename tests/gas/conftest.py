"""Fixtures for the gas capability: pty paths, a reading collector you can await, a zone."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.models import Reading


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
