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
import socket
import time
from pathlib import Path
from types import TracebackType


def gpsfake_available() -> bool:
    """True when both gpsfake and gpsd are installed."""
    return shutil.which("gpsfake") is not None and shutil.which("gpsd") is not None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        """Let gpsfake feed the log: one newline answers one sentence prompt of ``-i``."""
        assert self.proc is not None
        assert self.proc.stdin is not None
        # A looping log gets about a day's worth at a 1 Hz pace; asyncio buffers what the pipe
        # cannot take yet.
        prompts = self.log.read_bytes().count(b"\n") + 16 if self.singleshot else 1_000_000
        self.proc.stdin.write(b"\n" * prompts)

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
