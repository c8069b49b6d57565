"""The part every streaming sensor simulator shares: a pty, a period, and the failure knobs.

Scenarios (sensors.md §5): ``ramp`` / ``spike`` / ``noise`` shape the value; ``corrupt(n)``
sends the next n frames with a broken checksum; ``garbage(n)`` writes n random bytes between
frames; ``silence(True)`` stops the frames; ``unplug()`` / ``replug()`` pull and reinsert the
cable (the pty disappears and comes back under the same path).
"""

from __future__ import annotations

import asyncio
import random
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self

from firmware_adapters.sim.pty import PtyEndpoint
from firmware_adapters.sim.scenario import ValueProgram


class StreamSimulator(ABC):
    """A sensor that sends a frame every ``period_s`` to a pty and may answer commands."""

    def __init__(self, path: str | Path, period_s: float, value: float) -> None:
        self.endpoint = PtyEndpoint(path)
        self.path = self.endpoint.path
        self.period_s = period_s
        self.program = ValueProgram(value)
        self.streaming = True
        self.silent = False
        self.frames_sent = 0
        self.last_write_ns = 0  # time.perf_counter_ns() after the last frame's last byte
        self._corrupt = 0
        self._garbage = 0
        self._rng = random.Random(11)  # noqa: S311 - reproducible noise, not cryptography
        self._task: asyncio.Task[None] | None = None

    # ---- frames, defined per protocol

    @abstractmethod
    def frame(self, value: float) -> bytes:
        """One valid frame carrying ``value``."""

    def on_command(self, data: bytes) -> None:  # noqa: B027 - optional hook
        """Bytes the host wrote; default: ignored."""

    # ---- scenario knobs

    def set_value(self, value: float) -> None:
        """Hold ``value`` in the frames from now on."""
        self.program.set_value(value)

    def ramp(self, to: float, seconds: float) -> None:
        """Move the value linearly to ``to`` over ``seconds``."""
        self.program.ramp(to, seconds)

    def spike(self, peak: float, seconds: float) -> None:
        """Send ``peak`` for ``seconds``, then the underlying value again."""
        self.program.spike(peak, seconds)

    def noise(self, amplitude: float) -> None:
        """Add uniform noise of +- ``amplitude`` to every value."""
        self.program.noise(amplitude)

    def corrupt(self, frames: int = 1) -> None:
        """Spoil the checksum of the next ``frames`` frames."""
        self._corrupt += frames

    def garbage(self, nbytes: int) -> None:
        """Send ``nbytes`` random bytes before the next frame."""
        self._garbage += nbytes

    def silence(self, on: bool = True) -> None:
        """Stop sending frames (``on``) or start again (a silent sensor: stale, not faulty)."""
        self.silent = on

    def unplug(self) -> None:
        """Pull the cable: the pty disappears and the host sees the port go away."""
        loop = asyncio.get_running_loop()
        if self.endpoint.master is not None:
            loop.remove_reader(self.endpoint.master)
        self.endpoint.unplug()

    def replug(self) -> None:
        """Plug the cable back in and listen for host commands again."""
        self.endpoint.plug()
        self._watch_commands()

    # ---- output

    def send_now(self, value: float | None = None) -> int:
        """Write one frame at once (plus pending garbage / corruption); returns bytes written."""
        if self.silent or not self.endpoint.plugged:
            return 0
        out = bytearray()
        if self._garbage:
            out += self._rng.randbytes(self._garbage)
            self._garbage = 0
        frame = bytearray(self.frame(self.program.value() if value is None else value))
        if self._corrupt:
            self._corrupt -= 1
            frame[-1] ^= 0x5A
        out += frame
        n = self.endpoint.write(bytes(out))
        self.last_write_ns = time.perf_counter_ns()
        self.frames_sent += 1
        return n

    def write_raw(self, data: bytes) -> int:
        """Write ``data`` as it is (no framing); returns the bytes written."""
        return self.endpoint.write(data)

    def _watch_commands(self) -> None:
        if self.endpoint.master is not None:
            asyncio.get_running_loop().add_reader(self.endpoint.master, self._read_commands)

    def _read_commands(self) -> None:
        data = self.endpoint.read()
        if data:
            self.on_command(data)

    async def _run(self) -> None:
        next_t = time.monotonic()
        while True:
            next_t += self.period_s
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))
            if self.streaming:
                self.send_now()

    # ---- lifecycle

    async def __aenter__(self) -> Self:
        self._watch_commands()
        self._task = asyncio.create_task(self._run(), name=f"sim:{self.path.name}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
        if self.endpoint.master is not None:
            asyncio.get_running_loop().remove_reader(self.endpoint.master)
        self.endpoint.close()
