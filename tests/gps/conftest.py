"""Fixtures for the GPS tests: a real gpsd started by gpsfake on a free port.

gpsfake is run with ``-i`` (single-step, prompting on stdin) so that not one sentence reaches
gpsd before the client under test has its WATCH acknowledged; the test then releases the whole
log at once and gpsfake replays it with a short fixed per-sentence delay (``-c``). ``-p`` keeps
gpsfake's own watcher, which is what lets it notice the end of the log and exit (``-1``), so the
client sees gpsd close the connection once every report has been sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path
from types import TracebackType

import pytest

from edge.models import Fix
from firmware_adapters.gps.client import ClientStats, GpsdSession, Report, Sky

NMEA_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "nmea"
LOGS = sorted(p.name for p in NMEA_DIR.glob("*.log"))
CYCLE_S = "0.01"  # per-sentence delay: fast, but gpsd still sees each sentence on its own

requires_gpsfake = pytest.mark.skipif(
    shutil.which("gpsfake") is None or shutil.which("gpsd") is None,
    reason="gpsd / gpsfake not installed",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GpsFake:
    """``async with GpsFake(log, workdir) as fake``: gpsd on ``fake.port``, paused at sentence 1."""

    def __init__(self, log: Path, workdir: Path, *, singleshot: bool = True) -> None:
        self.log = log
        self.port = free_port()
        self.output = workdir / f"gpsfake-{log.stem}-{self.port}.txt"
        self.singleshot = singleshot
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> GpsFake:
        args = ["-i", "-p", "-c", CYCLE_S, "-P", str(self.port)]
        if self.singleshot:
            args.insert(0, "-1")
        with self.output.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                "gpsfake",
                *args,
                str(self.log),
                stdin=asyncio.subprocess.PIPE,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # gpsfake's gpsd child goes with it in __aexit__
            )
        try:
            await self._wait_for_device()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _wait_for_device(self) -> None:
        """Poll gpsd (an external process) until it lists gpsfake's pty as a device."""
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise RuntimeError(f"gpsfake exited early: {self.output.read_text()[-2000:]}")
            with contextlib.suppress(OSError, TimeoutError, ValueError):
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                try:
                    writer.write(b"?DEVICES;\n")
                    await writer.drain()
                    while True:
                        line = await asyncio.wait_for(reader.readline(), 2.0)
                        if not line:
                            break
                        obj = json.loads(line)
                        if obj.get("class") == "DEVICES":
                            if obj.get("devices"):
                                return
                            break
                finally:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
            await asyncio.sleep(0.1)
        raise TimeoutError(f"gpsd on port {self.port} never listed a device")

    def release(self) -> None:
        """Let gpsfake feed the whole log (one newline per sentence prompt)."""
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"\n" * 5000)

    async def wait(self) -> int:
        """gpsfake's exit code once it has fed the whole log (``-1``)."""
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), 60)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        else:
            # gpsfake ended by itself; make sure its gpsd did too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def gpsfake_workdir(tmp_path: Path) -> Path:
    return tmp_path


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
    if shutil.which("gpsfake") is None:
        pytest.skip("gpsfake not installed")
    workdir = tmp_path_factory.mktemp("gpsfake")

    async def all_logs() -> dict[str, Replay]:
        done = await asyncio.gather(*(replay(log, workdir) for log in LOGS))
        return {r.log: r for r in done}

    return asyncio.run(all_logs())
