"""Badge readers that deliver one id per line: serial (UART / USB-CDC) and tty / FIFO files.

Many 125 kHz card readers (RDM6300 style) frame an id as STX ... ETX; QR scanners and
keyboard-wedge readers end it with CR and/or LF. Both are accepted. Anything that is not a
plausible id is rejected with a reason and counted, never passed on.

Every read is cancellable: the port or file is opened non-blocking and read from the event loop
when it says the fd is readable (``loop.add_reader``), so no thread is ever parked in ``open()``
or ``readline()`` and SIGTERM ends the reader at once (issue 12.4a: a thread blocked in a FIFO
``open()`` kept the daemon alive until the next tap).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import stat
from collections import Counter
from collections.abc import AsyncGenerator, Callable
from pathlib import Path

import serial

from firmware_adapters.errors import DeviceError

_ID = re.compile(r"^[A-Za-z0-9_.:-]{3,64}$")
_FRAMING = str.maketrans("", "", "\x02\x03")
_LINE_END = re.compile(rb"[\r\n\x03]")
MAX_LINE = 256  # bytes; a longer run without a line end is noise (or a stuck key)
# A serial reader that sends a bare id (no CR/LF/ETX) is taken as one read after this much
# silence, as pyserial's 0.5 s read timeout did before.
SERIAL_GAP_S = 0.5


class BadgeReaderError(DeviceError):
    """The reader cannot be opened or read; the caller retries with backoff."""


def parse_badge_line(raw: bytes) -> tuple[str | None, str | None]:
    """Return (badge id, None) or (None, reason code)."""
    try:
        text = raw.decode("ascii").translate(_FRAMING).strip()
    except UnicodeDecodeError:
        return None, "NOT_ASCII"
    if not text:
        return None, "EMPTY"
    if not _ID.match(text):
        return None, "BAD_ID"
    return text, None


def _open_file(port: Path) -> int:
    """A non-blocking fd on a FIFO or tty; raises BadgeReaderError.

    A FIFO is opened read-write: on Linux that never blocks and keeps one writer (us) on the
    pipe, so a tap written by ``echo ID > fifo`` closing its end is not an end-of-file, and the
    reader does not fail and restart after every tap (fifo(7)). A tty is opened read-only
    without becoming our controlling terminal.
    """
    try:
        mode = os.stat(port).st_mode
        if stat.S_ISFIFO(mode):
            return os.open(port, os.O_RDWR | os.O_NONBLOCK)
        if stat.S_ISREG(mode):
            raise BadgeReaderError(f"{port}: a regular file, not a tty or FIFO")
        return os.open(port, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as err:
        raise BadgeReaderError(f"{port}: {err.strerror}") from err


class LineBadgeReader:
    """Reads lines from a serial port or a file (tty, FIFO) on the event loop, no thread."""

    def __init__(self, port: Path, *, baudrate: int = 9600, serial_port: bool = True) -> None:
        self.port = port
        self.baudrate = baudrate
        self.serial_port = serial_port
        self.rejected: Counter[str] = Counter()
        self.accepted = 0
        self.opened = asyncio.Event()  # set while the port is open (health, tests)

    def _open(self) -> tuple[int, Callable[[], None]]:
        """(non-blocking fd, close) for the configured port; raises BadgeReaderError."""
        if not self.serial_port:
            fd = _open_file(self.port)
            return fd, lambda: os.close(fd)
        try:
            # pyserial opens with O_NONBLOCK and configures the line (baud, raw); we only read
            # its fd. It flushes the input on open: bytes from before we listened are dropped.
            port = serial.Serial(str(self.port), self.baudrate, timeout=0)
        except (serial.SerialException, OSError, ValueError) as err:
            raise BadgeReaderError(f"{self.port}: {err}") from err
        fd = port.fileno()
        os.set_blocking(fd, False)
        return fd, port.close

    async def ids(self) -> AsyncGenerator[str, None]:
        """Yield badge ids until the port fails (then raise ``BadgeReaderError``).

        Cancelling the consuming task ends the read at once and closes the port.
        """
        fd, close = self._open()
        self.opened.set()
        loop = asyncio.get_running_loop()
        buf = bytearray()
        try:
            while True:
                gap = SERIAL_GAP_S if self.serial_port and buf else None
                if not await _readable(loop, fd, gap):
                    # Silence after a partial serial read: a reader without a line end.
                    line, buf = bytes(buf), bytearray()
                    badge = self._take(line)
                    if badge:
                        yield badge
                    continue
                try:
                    data = os.read(fd, 4096)
                except BlockingIOError:
                    continue
                except OSError as err:  # EIO: the USB reader was unplugged
                    raise BadgeReaderError(f"{self.port}: {err.strerror}") from err
                if not data:
                    raise BadgeReaderError(f"{self.port}: closed")
                buf += data
                *lines, rest = _LINE_END.split(bytes(buf))
                buf = bytearray(rest)
                if len(buf) > MAX_LINE:
                    self.rejected["TOO_LONG"] += 1
                    buf.clear()
                for line in lines:
                    badge = self._take(line)
                    if badge:
                        yield badge
        finally:
            self.opened.clear()
            with contextlib.suppress(OSError, serial.SerialException):
                close()

    def _take(self, raw: bytes) -> str | None:
        if not raw.strip(b"\r\n\x02\x03 "):
            return None  # a bare line ending between frames is not a read
        badge, reason = parse_badge_line(raw)
        if badge is None:
            self.rejected[reason or "BAD_ID"] += 1
            return None
        self.accepted += 1
        return badge


async def _readable(loop: asyncio.AbstractEventLoop, fd: int, gap_s: float | None) -> bool:
    """Wait until ``fd`` is readable (True) or ``gap_s`` seconds pass (False)."""
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    try:
        loop.add_reader(fd, wake)
    except (OSError, ValueError) as err:
        raise BadgeReaderError(f"fd {fd}: cannot be watched: {err}") from err
    try:
        if gap_s is None:
            await ready
            return True
        done, _ = await asyncio.wait({ready}, timeout=gap_s)
        return bool(done)
    finally:
        loop.remove_reader(fd)
        ready.cancel()
