"""A serial port read from the event loop (``loop.add_reader``), reopened after an unplug.

pyserial only opens and configures the port (baud, 8N1, raw mode); bytes are read with
``os.read`` on the non-blocking fd when the loop says it is readable, so no thread is parked
per sensor. A read error or end-of-file (the USB adapter vanished, the pty master closed)
closes the port and the stream adapter reopens it with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from abc import ABC, abstractmethod
from datetime import datetime

import serial

from firmware_adapters.backoff import Backoff
from firmware_adapters.gas.adapter import AdapterError, AdapterStats, ReadingSink
from firmware_adapters.readings import Reading
from firmware_adapters.timebase import Clock


class SerialPort:
    """An open port: non-blocking fd, closed exactly once."""

    def __init__(self, path: str, baudrate: int) -> None:
        self.path = path
        try:
            self._ser = serial.Serial(
                port=path, baudrate=baudrate, bytesize=8, parity="N", stopbits=1, timeout=0
            )
        except (serial.SerialException, OSError, ValueError) as err:
            raise AdapterError(f"cannot open {path}: {err}") from err
        self.fd: int = self._ser.fileno()
        os.set_blocking(self.fd, False)
        # Bytes the kernel kept from before we opened are of unknown age: drop them, so every
        # reading we stamp was received after this moment.
        with contextlib.suppress(OSError, serial.SerialException):
            self._ser.reset_input_buffer()

    def read_available(self) -> bytes | None:
        """Bytes waiting now; None if none yet; ``b""`` means the peer hung up.

        Raises AdapterError on an I/O error (EIO when a pty master or a USB adapter goes away).
        """
        try:
            return os.read(self.fd, 4096)
        except BlockingIOError:
            return None
        except OSError as err:
            raise AdapterError(f"read from {self.path} failed: {err}") from err

    def write(self, data: bytes) -> None:
        """Write ``data`` now; a full output buffer drops it (as a UART would).

        Raises AdapterError on an I/O error (the adapter is gone).
        """
        try:
            os.write(self.fd, data)
        except BlockingIOError:
            # The output buffer is full (a stuck line): drop this command, as a UART would;
            # the next poll tries again and silence shows up as a stale sensor.
            return
        except OSError as err:
            raise AdapterError(f"write to {self.path} failed: {err}") from err

    def close(self) -> None:
        """Close the port; errors of an already vanished device are ignored."""
        with contextlib.suppress(OSError, serial.SerialException):
            self._ser.close()


def warmup_start(path: str, clock: Clock, *, waited: bool) -> float:
    """The monotonic time a sensor behind ``path`` was (at the latest) powered up.

    The latest of: system boot (monotonic 0 on Linux), the device node's creation (a USB
    adapter's node appears when it is plugged in, and a pty's when it is made) and, when we
    had to wait for the port or it came back after a disconnect (``waited``), the moment we
    opened it. So a daemon restart does not restart the warm-up, but a boot, a plug-in or a
    replug does. A node time that the wall clock makes look too old is bounded by the boot.
    """
    now_mono = clock.mono()
    start = 0.0
    try:
        created_wall = os.stat(path).st_ctime
    except OSError:
        created_wall = None
    if created_wall is not None:
        start = max(start, now_mono - (clock.wall().timestamp() - created_wall))
    if waited:
        start = max(start, now_mono)
    return start


class SerialStreamAdapter(ABC):
    """A streamed UART protocol: subclasses turn bytes into readings and may poll."""

    def __init__(self, name: str, port: str, baudrate: int, clock: Clock, warmup_s: float) -> None:
        self.name = name
        self.port_path = port
        self.baudrate = baudrate
        self.clock = clock
        self.warmup_s = warmup_s
        self.stats = AdapterStats()
        self._opened_mono = 0.0

    @property
    @abstractmethod
    def sensor_ids(self) -> tuple[str, ...]:
        """Ids of the sensors behind this port."""

    @abstractmethod
    def feed(self, data: bytes, *, stamp: tuple[datetime, float]) -> list[Reading]:
        """Parse received bytes; return the readings of every complete, valid frame."""

    def on_open(self, port: SerialPort) -> None:  # noqa: B027 - optional hook
        """Send start-up commands (mode switch); default: none."""

    def poll_interval(self) -> float | None:
        """Seconds between polls in question-and-answer mode, None when the sensor streams."""
        return None

    def poll(self, port: SerialPort) -> None:  # noqa: B027 - optional hook
        """Send one read request."""

    def warming_up(self, mono: float) -> bool:
        """True while ``mono`` (monotonic s) is within ``warmup_s`` of the sensor's power-up."""
        return mono - self._opened_mono < self.warmup_s

    async def run(self, sink: ReadingSink) -> None:
        """Read until cancelled, reopening the port whenever it goes away."""
        backoff = Backoff(0.05, 2.0)
        waited = False
        while True:
            try:
                port = await asyncio.to_thread(SerialPort, self.port_path, self.baudrate)
            except AdapterError as err:
                self.stats.last_error = str(err)
                waited = True
                await asyncio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            self.stats.opens += 1
            self.stats.connected = True
            self._opened_mono = warmup_start(self.port_path, self.clock, waited=waited)
            waited = True  # any later open follows a disconnect
            try:
                await self._serve(port, sink)
            except AdapterError as err:
                self.stats.last_error = str(err)
            finally:
                port.close()
                self.stats.connected = False
            self.stats.disconnects += 1
            await asyncio.sleep(backoff.next_delay())

    async def _serve(self, port: SerialPort, sink: ReadingSink) -> None:
        loop = asyncio.get_running_loop()
        gone: asyncio.Future[AdapterError] = loop.create_future()

        def readable() -> None:
            data: bytes | None
            try:
                data = port.read_available()
            except AdapterError as err:
                data, failure = b"", err
            else:
                failure = AdapterError(f"{port.path}: port closed by peer")
            if data is None:
                return
            if not data:
                loop.remove_reader(port.fd)
                if not gone.done():
                    gone.set_result(failure)
                return
            stamp = (self.clock.wall(), self.clock.mono())
            for reading in self.feed(data, stamp=stamp):
                sink(reading)

        loop.add_reader(port.fd, readable)
        poller: asyncio.Task[None] | None = None
        try:
            self.on_open(port)
            interval = self.poll_interval()
            if interval is not None:
                poller = asyncio.create_task(self._poll_loop(port, interval, gone))
            raise await gone
        finally:
            loop.remove_reader(port.fd)
            if poller is not None:
                poller.cancel()
                # asyncio.wait, not `await poller` under suppress(CancelledError): that would
                # also swallow a cancellation of *this* task arriving meanwhile.
                await asyncio.wait({poller})

    async def _poll_loop(
        self, port: SerialPort, interval: float, gone: asyncio.Future[AdapterError]
    ) -> None:
        while not gone.done():
            try:
                self.poll(port)
            except AdapterError as err:
                if not gone.done():
                    gone.set_result(err)
                return
            await asyncio.sleep(interval)
