"""A Plantower PMS5003 on a pty: 32-byte frames, PM2.5 from the value program."""

from __future__ import annotations

import struct
from pathlib import Path

from firmware_adapters.sim.stream import StreamSimulator


def pms_frame(pm1: int, pm25: int, pm10: int) -> bytes:
    """A valid frame: CF=1 and atmospheric fields equal, counts zero, 16-bit sum checksum."""
    body = struct.pack(
        ">2sH6H6HH", b"BM", 28, pm1, pm25, pm10, pm1, pm25, pm10, 0, 0, 0, 0, 0, 0, 0
    )
    return body + struct.pack(">H", sum(body) & 0xFFFF)


class Pms5003Simulator(StreamSimulator):
    """PM2.5 follows the program; PM1.0 and PM10 are derived from it."""

    def __init__(self, path: str | Path, *, period_s: float = 1.0, value: float = 10.0) -> None:
        super().__init__(path, period_s, value)

    def frame(self, value: float) -> bytes:
        """One 32-byte frame with PM2.5 = ``value`` ug/m3 (PM1.0 0.7x, PM10 1.3x of it)."""
        pm25 = max(0, min(round(value), 0xFFFF))
        return pms_frame(round(pm25 * 0.7), pm25, min(round(pm25 * 1.3), 0xFFFF))
