"""gpsd fed by gpsfake from an NMEA log: for the demo and the tests (no receiver needed).

gpsfake (Debian ``gpsd-clients``) starts its own gpsd on a pty and feeds it a log. It is run
with ``-i`` (single-step, prompting on stdin) so that not one sentence reaches gpsd before our
client has its WATCH acknowledged; ``release()`` then lets the whole log through with a short
fixed per-sentence delay (``-c``). ``-p`` keeps gpsfake's own watcher, which is what lets it see
the end of a single-pass (``-1``) log and exit, so a client sees gpsd close the connection once
every report has been sent. Without ``singleshot`` the log loops, like a live receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import time
from pathlib import Path
from types import TracebackType

from firmware_adapters.tcpports import free_port

__all__ = ["GpsFake", "GpsFakeError", "free_port", "gpsfake_available"]


def gpsfake_available() -> bool:
    """True when both gpsfake and gpsd are installed."""
    return shutil.which("gpsfake") is not None and shutil.which("gpsd") is not None


class GpsFakeError(RuntimeError):
    """gpsfake (or its gpsd) did not come up."""


class GpsFake:
    """``async with GpsFake(log, workdir) as fake``: gpsd on ``fake.port``, paused at sentence 1.

    ``workdir`` receives gpsfake's own output (one file per run) for diagnosis.
    """

    def __init__(
        self, log: Path, workdir: Path, *, singleshot: bool = True, cycle_s: float = 0.01
    ) -> None:
        self.log = log
        self.port = free_port()
        self.output = workdir / f"gpsfake-{log.stem}-{self.port}.txt"
        self.singleshot = singleshot
        self.cycle_s = cycle_s
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> GpsFake:
        # gpsd may still lose a race for its port (gpsfake then dies at once): try another.
        for attempt in range(3):
            await self._spawn()
            try:
                await self._wait_for_device()
            except GpsFakeError:
                await self._stop()
                if attempt == 2:
                    raise
                self.port = free_port()
                continue
            except BaseException:
                await self._stop()
                raise
            return self
        raise AssertionError("unreachable")

    async def _spawn(self) -> None:
        self.output = self.output.with_name(f"gpsfake-{self.log.stem}-{self.port}.txt")
        args = ["-i", "-p", "-c", str(self.cycle_s), "-P", str(self.port)]
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
                start_new_session=True,  # gpsfake's gpsd child goes with it in _stop()
            )

    async def _wait_for_device(self) -> None:
        """Poll gpsd (an external process) until it lists gpsfake's pty as a device."""
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise GpsFakeError(f"gpsfake exited early: {self.output.read_text()[-2000:]}")
            with contextlib.suppress(OSError, TimeoutError, ValueError):
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                try:
                    writer.write(b"?DEVICES;\n")
                    await writer.drain()
                    while True:
                        async with asyncio.timeout(2.0):
                            line = await reader.readline()
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
        raise GpsFakeError(f"gpsd on port {self.port} never listed a device")

    def release(self, sentences: int | None = None) -> None:
        """Let gpsfake feed ``sentences`` more sentences (None: the whole log).

        One newline answers one sentence prompt of ``-i``, so a demo can hold the replay and let
        the next part through on cue (the terminal "moves" when its log says so).
        """
        assert self.proc is not None
        assert self.proc.stdin is not None
        if sentences is None:
            # A looping log gets about a day's worth at a 1 Hz pace; asyncio buffers what the
            # pipe cannot take yet.
            lines = self.log.read_bytes().count(b"\n") + 16
            sentences = lines if self.singleshot else 1_000_000
        self.proc.stdin.write(b"\n" * sentences)

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
        await self._stop()

    async def _stop(self) -> None:
        proc, self.proc = self.proc, None
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
