"""Badge readers that deliver one id per line: serial (UART / USB-CDC) and tty / FIFO files.

Many 125 kHz card readers (RDM6300 style) frame an id as STX ... ETX; QR scanners and
keyboard-wedge readers end it with CR and/or LF. Both are accepted. Anything that is not a
plausible id is rejected with a reason and counted, never passed on.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import serial

_ID = re.compile(r"^[A-Za-z0-9_.:-]{3,64}$")
_FRAMING = str.maketrans("", "", "\x02\x03")


class BadgeReaderError(Exception):
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


class LineBadgeReader:
    """Reads lines from a serial port or a file (tty, FIFO) in a worker thread."""

    def __init__(self, port: Path, *, baudrate: int = 9600, serial_port: bool = True) -> None:
        self.port = port
        self.baudrate = baudrate
        self.serial_port = serial_port
        self.rejected: Counter[str] = Counter()
        self.accepted = 0
        self.opened = asyncio.Event()  # set while the port is open (health, tests)

    def _open_serial(self) -> serial.Serial:
        try:
            return serial.Serial(str(self.port), self.baudrate, timeout=0.5)
        except (serial.SerialException, OSError) as err:
            raise BadgeReaderError(f"{self.port}: {err}") from err

    async def ids(self) -> AsyncIterator[str]:
        """Yield badge ids until the port fails (then raise ``BadgeReaderError``)."""
        if self.serial_port:
            port = await asyncio.to_thread(self._open_serial)
            self.opened.set()
            try:
                while True:
                    try:
                        raw = await asyncio.to_thread(port.read_until, b"\n", 256)
                    except (serial.SerialException, OSError) as err:
                        raise BadgeReaderError(f"{self.port}: {err}") from err
                    for part in re.split(rb"[\r\n\x03]+", raw):
                        badge = self._take(part)
                        if badge:
                            yield badge
            finally:
                self.opened.clear()
                port.close()
        else:
            try:
                fh = await asyncio.to_thread(open, self.port, "rb", 0)
            except OSError as err:
                raise BadgeReaderError(f"{self.port}: {err.strerror}") from err
            self.opened.set()
            try:
                while True:
                    raw = await asyncio.to_thread(fh.readline, 256)
                    if not raw:
                        raise BadgeReaderError(f"{self.port}: closed")
                    badge = self._take(raw)
                    if badge:
                        yield badge
            finally:
                self.opened.clear()
                fh.close()

    def _take(self, raw: bytes) -> str | None:
        if not raw.strip(b"\r\n\x02\x03 "):
            return None  # a bare line ending between frames is not a read
        badge, reason = parse_badge_line(raw)
        if badge is None:
            self.rejected[reason or "BAD_ID"] += 1
            return None
        self.accepted += 1
        return badge
