"""Plantower PMS5003 32-byte frames: parser and UART adapter.

An indicator of fume activity only: an optical PM2.5 count saturating near 1000 ug/m3 cannot
judge welding-fume compliance (4 mg/m3, gravimetric). Its readings feed the unpermitted-work
detector; the exposure engine never suspends a permit on them (safety-rules.md §3.4).
Layout: ../shared/reference/sensors.md §2. The parser resynchronises on ``42 4D``, checks the
length field (28) before the checksum, and drops one byte on any mismatch.
"""

from __future__ import annotations

import struct
from datetime import datetime

from firmware_adapters.gas.adapter import AdapterStats
from firmware_adapters.gas.config import Pms5003Config
from firmware_adapters.gas.serialport import SerialPort, SerialStreamAdapter
from firmware_adapters.readings import Reading
from firmware_adapters.timebase import Clock

START = b"BM"
FRAME_LEN = 32
LENGTH_FIELD = 28
ACTIVE_MODE = bytes.fromhex("42 4d e1 00 01 01 71")


def frame_checksum(frame: bytes | bytearray) -> int:
    """16-bit sum of bytes 0..29, start characters included."""
    return sum(frame[:30]) & 0xFFFF


class PmsParser:
    """Yields (pm1.0, pm2.5, pm10) tuples in ug/m3 from a byte stream."""

    def __init__(self, cfg: Pms5003Config, stats: AdapterStats) -> None:
        # CF=1 fields are bytes 4-9, atmospheric ones 10-15.
        self._offset = 4 if cfg.fields == "cf1" else 10
        self._stats = stats
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, int, int]]:
        """Take received bytes; return (pm1.0, pm2.5, pm10) in ug/m3 for every complete valid frame.

        Bad checksums and framing are counted in the stats and resynchronised on, never raised.
        """
        buf = self._buf
        buf += data
        out: list[tuple[int, int, int]] = []
        while True:
            start = buf.find(START)
            if start < 0:
                # Keep a trailing 'B' that may be the first half of the next start pair.
                keep = 1 if buf.endswith(b"B") else 0
                self._stats.bytes_discarded += len(buf) - keep
                del buf[: len(buf) - keep]
                break
            if start:
                self._stats.bytes_discarded += start
                del buf[:start]
            if len(buf) < 4:
                break
            if (buf[2] << 8 | buf[3]) != LENGTH_FIELD:
                self._stats.framing_errors += 1
                self._stats.bytes_discarded += 1
                del buf[:1]
                continue
            if len(buf) < FRAME_LEN:
                break
            if frame_checksum(buf) != (buf[30] << 8 | buf[31]):
                self._stats.checksum_errors += 1
                self._stats.bytes_discarded += 1
                del buf[:1]
                continue
            pm = struct.unpack_from(">HHH", buf, self._offset)
            del buf[:FRAME_LEN]
            self._stats.frames_ok += 1
            out.append((pm[0], pm[1], pm[2]))
        return out


class Pms5003Adapter(SerialStreamAdapter):
    """A PMS5003 on its own UART in active mode; emits pm1_0, pm2_5 and pm10 readings."""

    def __init__(self, cfg: Pms5003Config, clock: Clock) -> None:
        super().__init__(cfg.id, cfg.port, cfg.baudrate, clock, cfg.warmup_s)
        self.cfg = cfg
        self.parser = PmsParser(cfg, self.stats)

    @property
    def sensor_ids(self) -> tuple[str, ...]:
        """The one sensor on this UART."""
        return (self.cfg.id,)

    def on_open(self, port: SerialPort) -> None:
        """Put the module in active (streaming) mode."""
        port.write(ACTIVE_MODE)

    def feed(self, data: bytes, *, stamp: tuple[datetime, float]) -> list[Reading]:
        """Readings pm1_0, pm2_5 and pm10 in ug/m3 for every complete frame in ``data``.

        ``stamp`` is (wall, monotonic) time of receipt; PM2.5 at or above ``over_range_ugm3``
        reads as over range, and frames inside the warm-up are flagged ``warming_up``.
        """
        wall, mono = stamp
        warming = self.warming_up(mono)
        over = self.cfg.over_range_ugm3
        out: list[Reading] = []
        for triple in self.parser.feed(data):
            for gas, value in zip(("pm1_0", "pm2_5", "pm10"), triple, strict=True):
                out.append(
                    Reading(
                        sensor_id=self.cfg.id,
                        gas=gas,
                        value=float(value),
                        unit="ug/m3",
                        source_ts=wall,
                        mono_ts=mono,
                        warming_up=warming,
                        over_range=value >= over,
                        full_scale=over,
                    )
                )
        return out
