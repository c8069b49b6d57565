"""Winsen ZE-family 9-byte frames (ZE03, ZE07, ZE08, ZE15, ZE25): parser and UART adapter.

Byte layouts, checksum and quirks: ../shared/reference/sensors.md §1.

Framing (issue 12.5). The nine bytes of a frame always sum to 0xFF (start byte 0xFF, checksum
the two's complement of bytes 1..7), so in a stream of identical frames EVERY window that starts
at an 0xFF byte passes the checksum: at a steady value whose checksum is 0xFF, a parser that
trusts the checksum alone locks one byte off and decodes nothing until the value changes. So a
window is a frame only when all of these hold, and otherwise one byte is dropped and the scan
goes on:
- header: byte 0 is 0xFF and byte 1 a known command (gas code, Q&A reply, mode ack); for an
  active-upload frame byte 2 is a unit code (unless the config fixes the unit) and byte 3 a
  decimal count of at most 4;
- the checksum over bytes 1..7;
- continuity: the byte after it is the next frame's 0xFF start, or nothing has arrived yet;
- the fixed bytes: an active-upload frame's gas, unit, decimals and full range (bytes 1, 2, 3,
  6, 7) never change for one module, so they must match the last accepted frame's. A stray byte
  equal to the checksum inserted inside a frame leaves the checksum and the continuity intact
  and shifts the value bytes: only these catch it. Three like frames in a row that disagree
  with the learned bytes are taken as the new truth (a module swapped on a live port). Before
  any frame was accepted, the first one is confirmed by the frame after it when more bytes
  than one frame have arrived (a lone frame in the buffer is taken as it is).
A well-formed frame that cannot be used (another gas's module) is counted as rejected and also
skipped one byte at a time, so it can never hold the parser off-frame either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from firmware_adapters.gas.adapter import AdapterStats
from firmware_adapters.gas.config import WINSEN_MODELS, Unit, WinsenZeConfig
from firmware_adapters.gas.serialport import SerialPort, SerialStreamAdapter
from firmware_adapters.readings import Reading
from firmware_adapters.timebase import Clock

FRAME_LEN = 9
START = 0xFF
QA_REPLY = 0x86
MODE_ACK = 0x78

# Gas codes of the active-upload frame (sensors.md §1.7; 0xF0 HCN from one driver only).
GAS_CODES: dict[int, str] = {
    0x02: "nh3",
    0x03: "h2s",
    0x04: "co",
    0x05: "o2",
    0x06: "h2",
    0x17: "ch2o",
    0x1B: "c6h6",
    0x2A: "o3",
    0x2B: "so2",
    0x2C: "no2",
    0x2E: "hcl",
    0x31: "cl2",
    0x33: "hf",
    0x45: "ph3",
    0xF0: "hcn",
}
GAS_CODE_OF: dict[str, int] = {v: k for k, v in GAS_CODES.items()}

# 0x03 ppm and 0x04 ppb are documented (§1.3); 0x02 mg/m3 is from driver code only.
UNIT_CODES: dict[int, Unit] = {0x02: "mg/m3", 0x03: "ppm", 0x04: "ppb"}


def checksum(frame: bytes | bytearray) -> int:
    """Two's complement of the low byte of B1 + ... + B7 (never B0 or B8)."""
    return (0x100 - (sum(frame[1:8]) & 0xFF)) & 0xFF


def command(body: bytes) -> bytes:
    """A host command from its 7 bytes B1..B7, with start byte and computed checksum."""
    if len(body) != 7:
        raise ValueError("a Winsen command body is 7 bytes")
    frame = bytes([START]) + body + b"\x00"
    return frame[:8] + bytes([checksum(frame)])


READ_COMMAND = command(bytes([0x01, 0x86, 0, 0, 0, 0, 0]))
# Mode switch bytes differ by generation: 0x41/0x40 in newer manuals, 0x04/0x03 for ZE03 v2.0.
QA_MODE = {
    "new": command(bytes([0x01, 0x78, 0x41, 0, 0, 0, 0])),
    "old": command(bytes([0x01, 0x78, 0x04, 0, 0, 0, 0])),
}
ACTIVE_MODE = {
    "new": command(bytes([0x01, 0x78, 0x40, 0, 0, 0, 0])),
    "old": command(bytes([0x01, 0x78, 0x03, 0, 0, 0, 0])),
}


@dataclass(frozen=True, slots=True)
class WinsenValue:
    """A decoded frame: the value (None on fault), its unit and flags."""

    gas: str
    value: float | None
    unit: Unit
    fault: bool
    full_scale: float | None


class WinsenParser:
    """Turns a byte stream into decoded frames; counts every byte and frame it throws away."""

    def __init__(self, cfg: WinsenZeConfig, stats: AdapterStats) -> None:
        model = WINSEN_MODELS[cfg.model]
        self._cfg = cfg
        self._stats = stats
        self._gas = cfg.gas or model.gas
        self._fault_bit = model.fault_bit if cfg.fault_bit is None else cfg.fault_bit
        self._qa_layout = model.qa_layout
        self._full_scale = cfg.full_scale or model.full_scale
        self._buf = bytearray()
        self.acks = 0
        self._fixed: bytes | None = None  # bytes 1, 2, 3, 6, 7 of the last accepted frame
        self._odd: tuple[bytes, int] = (b"", 0)  # fixed bytes that disagree, and how often

    def reset(self) -> None:
        """Forget partial bytes and the learned fixed bytes (the port was reopened)."""
        self._buf.clear()
        self._fixed = None
        self._odd = (b"", 0)

    def feed(self, data: bytes) -> list[WinsenValue]:
        """Take received bytes; return every complete, valid frame decoded, in order.

        Bad checksums, framing, other gases and unknown units are counted in the stats and
        resynchronised on, never raised.
        """
        buf = self._buf
        buf += data
        out: list[WinsenValue] = []
        while True:
            start = buf.find(START)
            if start < 0:
                self._stats.bytes_discarded += len(buf)
                buf.clear()
                break
            if start:
                self._stats.bytes_discarded += start
                del buf[:start]
            if len(buf) < FRAME_LEN:
                break
            if not self._header_ok(buf):
                self._stats.bytes_discarded += 1
                del buf[:1]
                continue
            if checksum(buf) != buf[8]:
                self._stats.checksum_errors += 1
                self._stats.bytes_discarded += 1
                del buf[:1]
                continue
            if len(buf) > FRAME_LEN and buf[FRAME_LEN] != START:
                # Not followed by a frame start: a stray byte inside it can still leave a
                # passing checksum; drop it rather than decode a wrong value.
                self._stats.framing_errors += 1
                self._stats.bytes_discarded += 1
                del buf[:1]
                continue
            frame = bytes(buf[:FRAME_LEN])
            if self._fixed is None and len(buf) > FRAME_LEN and frame[1] in GAS_CODES:
                if len(buf) < 2 * FRAME_LEN:
                    break  # wait for the next frame to confirm this first one
                if not self._confirms(frame, bytes(buf[FRAME_LEN : 2 * FRAME_LEN])):
                    self._stats.framing_errors += 1
                    self._stats.bytes_discarded += 1
                    del buf[:1]
                    continue
            if not self._fixed_bytes_agree(frame):
                self._stats.framing_errors += 1
                self._stats.bytes_discarded += 1
                del buf[:1]
                continue
            value = self._decode(frame)
            if value is None and frame[1] not in (MODE_ACK,):
                del buf[:1]  # rejected: rescan from the next byte (see module docstring)
                self._stats.bytes_discarded += 1
                continue
            del buf[:FRAME_LEN]
            if value is not None:
                self._stats.frames_ok += 1
                out.append(value)
        return out

    def _confirms(self, frame: bytes, after: bytes) -> bool:
        """``after`` is a whole frame with the same fixed bytes as ``frame``."""
        return (
            self._header_ok(bytearray(after))
            and checksum(after) == after[8]
            and after[1:4] + after[6:8] == frame[1:4] + frame[6:8]
        )

    def _fixed_bytes_agree(self, frame: bytes) -> bool:
        if frame[1] in (QA_REPLY, MODE_ACK):
            return True  # no fixed bytes beyond the header
        fixed = frame[1:4] + frame[6:8]
        if self._fixed is None or fixed == self._fixed:
            self._fixed, self._odd = fixed, (b"", 0)
            return True
        seen, count = self._odd
        count = count + 1 if seen == fixed else 1
        if count >= 3:
            self._fixed, self._odd = fixed, (b"", 0)
            return True
        self._odd = (fixed, count)
        return False

    def _header_ok(self, buf: bytearray) -> bool:
        """Bytes 0..3 are a plausible header (see the module docstring)."""
        cmd = buf[1]
        if cmd in (QA_REPLY, MODE_ACK):
            return True
        if cmd not in GAS_CODES:
            return False
        return (self._cfg.unit is not None or buf[2] in UNIT_CODES) and buf[3] <= 4

    def _split(self, high: int, low: int) -> tuple[int, bool]:
        if self._fault_bit:
            # ZE15: bit 7 is the fault flag and only the low 5 bits carry the value (§1.5).
            return ((high & 0x1F) << 8) | low, bool(high & 0x80)
        return (high << 8) | low, False

    def _decode(self, f: bytes) -> WinsenValue | None:
        if f[1] == MODE_ACK:
            self.acks += 1
            return None
        if f[1] == QA_REPLY:
            return self._decode_qa(f)
        gas = GAS_CODES.get(f[1])
        unit = self._cfg.unit or UNIT_CODES.get(f[2])
        if gas is None or unit is None or (self._gas is not None and gas != self._gas):
            # A frame from a different gas module is a wiring or config error: reject, so the
            # configured sensor goes stale (unsafe) instead of reporting another gas's value.
            self._stats.rejected_frames += 1
            return None
        decimals = f[3]
        if decimals > 4:
            self._stats.rejected_frames += 1
            return None
        raw, fault = self._split(f[4], f[5])
        scale = 10.0**-decimals
        full_raw = (f[6] << 8) | f[7]
        full = self._full_scale or (full_raw * scale if full_raw else None)
        return WinsenValue(gas, None if fault else raw * scale, unit, fault, full)

    def _decode_qa(self, f: bytes) -> WinsenValue | None:
        gas, unit = self._gas, self._cfg.unit
        if gas is None or unit is None:  # config validation makes this unreachable in Q&A mode
            self._stats.rejected_frames += 1
            return None
        if self._qa_layout == "ch2o" and unit == "ppb":
            raw, fault = (f[6] << 8) | f[7], False
            scale = 1.0
        else:
            raw, fault = self._split(f[2], f[3])
            scale = 10.0**-self._cfg.qa_decimals
        return WinsenValue(gas, None if fault else raw * scale, unit, fault, self._full_scale)


class WinsenAdapter(SerialStreamAdapter):
    """One Winsen module on its own UART, in active-upload or Q&A mode."""

    def __init__(self, cfg: WinsenZeConfig, clock: Clock) -> None:
        model = WINSEN_MODELS[cfg.model]
        warmup = model.warmup_s if cfg.warmup_s is None else cfg.warmup_s
        super().__init__(cfg.id, cfg.port, cfg.baudrate, clock, warmup)
        self.cfg = cfg
        self.parser = WinsenParser(cfg, self.stats)
        self._mode_bytes = model.mode_bytes

    @property
    def sensor_ids(self) -> tuple[str, ...]:
        """The one module on this UART."""
        return (self.cfg.id,)

    def on_open(self, port: SerialPort) -> None:
        """Reset the parser and send the mode command the config expects (active or Q&A)."""
        self.parser.reset()  # another module may sit on the port now
        # Say which mode we expect: a module left in the other mode by a previous run (or a
        # ZE15 that fell back to active upload) is put right at every (re)open.
        modes = QA_MODE if self.cfg.mode == "qa" else ACTIVE_MODE
        port.write(modes[self._mode_bytes])

    def poll_interval(self) -> float | None:
        """The Q&A polling period in seconds, or None in active-upload mode."""
        return self.cfg.poll_interval_s if self.cfg.mode == "qa" else None

    def poll(self, port: SerialPort) -> None:
        """Send the Q&A read command."""
        port.write(READ_COMMAND)

    def feed(self, data: bytes, *, stamp: tuple[datetime, float]) -> list[Reading]:
        """One ``Reading`` per decoded frame in ``data``, stamped (wall, monotonic) at receipt.

        A value at or above the full scale is flagged ``over_range``; a fault flag gives value
        None and ``fault``; frames inside the warm-up are flagged ``warming_up``.
        """
        wall, mono = stamp
        warming = self.warming_up(mono)
        return [
            Reading(
                sensor_id=self.cfg.id,
                gas=v.gas,
                value=v.value,
                unit=v.unit,
                source_ts=wall,
                mono_ts=mono,
                fault=v.fault,
                warming_up=warming,
                over_range=v.value is not None
                and v.full_scale is not None
                and v.value >= v.full_scale,
                full_scale=v.full_scale,
            )
            for v in self.parser.feed(data)
        ]
