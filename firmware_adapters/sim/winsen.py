"""A Winsen ZE-family module on a pty: 9-byte active frames at 1 Hz, Q&A replies, mode acks.

Frames are built here from sensors.md §1 independently of the parser in
``firmware_adapters.gas.winsen``, so a shared mistake cannot make the two agree.
"""

from __future__ import annotations

from pathlib import Path

from firmware_adapters.sim.stream import StreamSimulator

GAS_CODE = {
    "nh3": 0x02,
    "h2s": 0x03,
    "co": 0x04,
    "o2": 0x05,
    "h2": 0x06,
    "ch2o": 0x17,
    "o3": 0x2A,
    "so2": 0x2B,
    "no2": 0x2C,
}
UNIT_CODE = {"mg/m3": 0x02, "ppm": 0x03, "ppb": 0x04}


def winsen_checksum(frame: bytes | bytearray) -> int:
    """Winsen checksum: two's complement of the low byte of bytes 1..7."""
    total = 0
    for b in frame[1:8]:
        total += b
    return (~total + 1) & 0xFF


def seal(body: bytes) -> bytes:
    """``FF`` + 7 bytes + checksum."""
    frame = b"\xff" + body
    return frame + bytes([winsen_checksum(frame + b"\x00")])


class WinsenSimulator(StreamSimulator):
    """Simulated ZE module. ``fault_bit`` models the ZE15 (bit 7 of the value high byte)."""

    def __init__(
        self,
        path: str | Path,
        *,
        gas: str = "co",
        unit: str = "ppm",
        decimals: int = 1,
        full_range: float = 500.0,
        fault_bit: bool = False,
        period_s: float = 1.0,
        value: float = 0.0,
    ) -> None:
        super().__init__(path, period_s, value)
        self.gas_code = GAS_CODE[gas]
        self.unit_code = UNIT_CODE[unit]
        self.decimals = decimals
        self.full_range = full_range
        self.fault_bit = fault_bit
        self.fault = False
        self.qa_mode = False
        self.qa_requests = 0
        self._cmd = bytearray()

    def _raw(self, value: float) -> tuple[int, int]:
        raw = max(0, min(round(value * 10**self.decimals), 0x1FFF if self.fault_bit else 0xFFFF))
        high, low = raw >> 8, raw & 0xFF
        if self.fault_bit and self.fault:
            high |= 0x80
        return high, low

    def frame(self, value: float) -> bytes:
        """One active-upload frame: gas code, unit, decimals, ``value`` and the full range."""
        high, low = self._raw(value)
        full = round(self.full_range * 10**self.decimals) & 0xFFFF
        return seal(
            bytes([self.gas_code, self.unit_code, self.decimals, high, low, full >> 8, full & 0xFF])
        )

    def qa_frame(self, value: float) -> bytes:
        """One Q&A reply frame carrying ``value``."""
        high, low = self._raw(value)
        return seal(bytes([0x86, high, low, 0, 0, 0, 0]))

    def on_command(self, data: bytes) -> None:
        """Act on the host's commands: mode switches (0x78) and Q&A reads (0x86), with replies."""
        self._cmd += data
        while len(self._cmd) >= 9:
            start = self._cmd.find(0xFF)
            if start < 0:
                self._cmd.clear()
                return
            del self._cmd[:start]
            if len(self._cmd) < 9:
                return
            cmd = bytes(self._cmd[:9])
            if winsen_checksum(cmd) != cmd[8]:
                del self._cmd[:1]
                continue
            del self._cmd[:9]
            self._handle(cmd)

    def _handle(self, cmd: bytes) -> None:
        if cmd[2] == 0x78:
            # 0x41 / 0x04: Q&A; 0x40 / 0x03: active upload (new / old manuals).
            self.qa_mode = cmd[3] in (0x41, 0x04)
            self.streaming = not self.qa_mode
            if not self.silent:
                self.write_raw(seal(bytes([0x78, 0x01, 0, 0, 0, 0, 0])))
        elif cmd[2] == 0x86:
            self.qa_requests += 1
            if not self.silent:
                reply = bytearray(self.qa_frame(self.program.value()))
                if self._corrupt:
                    self._corrupt -= 1
                    reply[-1] ^= 0x5A
                self.write_raw(bytes(reply))
