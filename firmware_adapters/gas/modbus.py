"""Modbus RTU gas transmitters, polled with pymodbus's asyncio serial client.

Every transmitter is described by a register map in config (``ModbusRtuConfig``), so a new
model is YAML, not code. Transmitters sharing an RS-485 port share one client (one bus): they
are polled one after another, as the line allows one request at a time (sensors.md §3).
pymodbus drops replies with a bad CRC; a packet trace keeps the received bytes of each
request so those drops are counted as ``checksum_errors`` rather than vanishing as timeouts.

RTU replies carry no request id, so a reply that arrives after its request timed out would be
taken for the answer to the next request (another register: another gas's value, once seen as
LEL reading the O2 value). After any failed read the bus waits until the line has been silent
for a timeout before it sends again; pymodbus drops what arrives while no request is pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import struct
import time
from dataclasses import dataclass

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusException

from firmware_adapters.backoff import Backoff
from firmware_adapters.errors import DeviceError
from firmware_adapters.gas.adapter import AdapterStats, ReadingSink
from firmware_adapters.gas.config import ModbusChannel, ModbusRtuConfig, ModbusStatus
from firmware_adapters.gas.serialport import warmup_start
from firmware_adapters.readings import Reading
from firmware_adapters.timebase import Clock


def crc16_modbus(data: bytes) -> bytes:
    """CRC-16/MODBUS (init 0xFFFF, reflected poly 0xA001), low byte first as on the wire."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes([crc & 0xFF, crc >> 8])


class ReadFailed(DeviceError):
    """One request got no usable reply."""


def decode_registers(regs: list[int], ch: ModbusChannel) -> float:
    """Registers -> engineering value, per the channel's data type and word order."""
    if ch.data_type in ("u16", "s16"):
        raw = regs[0]
        value = float(raw - 0x10000 if ch.data_type == "s16" and raw & 0x8000 else raw)
    else:
        hi, lo = (regs[0], regs[1]) if ch.word_order == "big" else (regs[1], regs[0])
        packed = struct.pack(">HH", hi, lo)
        fmt = {"u32": ">I", "s32": ">i", "f32": ">f"}[ch.data_type]
        value = float(struct.unpack(fmt, packed)[0])
    # Round away binary noise of the scale (209 * 0.1 = 20.900000000000002).
    return round(value * ch.scale, 9)


@dataclass
class _Device:
    cfg: ModbusRtuConfig
    next_due: float = 0.0


class ModbusBus:
    """One RS-485 port and the transmitters on it."""

    def __init__(self, devices: list[ModbusRtuConfig], clock: Clock) -> None:
        if not devices:
            raise ValueError("a bus needs at least one transmitter")
        first = devices[0]
        self.name = f"modbus:{first.port}"
        self.port = first.port
        self.clock = clock
        self.stats = AdapterStats()
        self._devices = [_Device(d) for d in devices]
        self._rx = bytearray()
        self._opened_mono = 0.0
        self._timeout_s = max(d.cfg.timeout_s for d in self._devices)
        self._last_rx = 0.0  # time.monotonic() of the last bytes received
        self._resync = False  # a read failed: a late reply may still be on its way

    @property
    def sensor_ids(self) -> tuple[str, ...]:
        """Ids of every transmitter polled on this bus, in configuration order."""
        return tuple(d.cfg.id for d in self._devices)

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if sending:
            self._rx.clear()
        else:
            self._rx += data
            self._last_rx = time.monotonic()
        return data

    def _client(self) -> AsyncModbusSerialClient:
        c = self._devices[0].cfg
        return AsyncModbusSerialClient(
            c.port,
            framer=FramerType.RTU,
            baudrate=c.baudrate,
            parity=c.parity,
            stopbits=c.stopbits,
            timeout=self._timeout_s,
            retries=0,
            # We reconnect ourselves (with backoff and a fresh client): pymodbus' own loop would
            # keep a dead pty fd around after an unplug.
            reconnect_delay=0,
            trace_packet=self._trace,
        )

    async def run(self, sink: ReadingSink) -> None:
        """Poll every transmitter on its interval until cancelled; reconnect on unplug."""
        # pymodbus logs every timeout with a dump of the last frames; we count failures in
        # ``stats`` instead, so only its critical messages are worth a line in the journal.
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
        backoff = Backoff(0.05, 2.0)
        waited = False
        while True:
            client = self._client()
            try:
                connected = await client.connect()
            except (OSError, ModbusException) as err:
                connected = False
                self.stats.last_error = f"cannot open {self.port}: {err}"
            if not connected:
                client.close()
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # pymodbus' connect() swallows a cancel that lands inside it and returns
                    # False; without this the loop would back off and retry for ever, and a
                    # TaskGroup cancelling it (selftest, shutdown) would wait for ever too.
                    raise asyncio.CancelledError
                self.stats.last_error = self.stats.last_error or f"cannot open {self.port}"
                waited = True
                await asyncio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            self.stats.opens += 1
            self.stats.connected = True
            self._opened_mono = warmup_start(self.port, self.clock, waited=waited)
            waited = True
            try:
                await self._poll_loop(client, sink)
            finally:
                self.stats.connected = False
                with contextlib.suppress(Exception):
                    client.close()
            self.stats.disconnects += 1
            await asyncio.sleep(backoff.next_delay())

    async def _poll_loop(self, client: AsyncModbusSerialClient, sink: ReadingSink) -> None:
        while client.connected:
            now = self.clock.mono()
            for dev in self._devices:
                if dev.next_due <= now:
                    interval = dev.cfg.poll_interval_s
                    # Keep the cadence; after a stall (timeouts), restart it rather than burst.
                    behind = dev.next_due + interval <= now
                    dev.next_due = now + interval if behind else dev.next_due + interval
                    for reading in await self._poll_device(client, dev.cfg):
                        sink(reading)
                    if not client.connected:
                        return
            wait = min(d.next_due for d in self._devices) - self.clock.mono()
            if wait > 0:
                await asyncio.sleep(wait)

    async def _read(
        self,
        client: AsyncModbusSerialClient,
        device_id: int,
        function: int,
        address: int,
        count: int,
    ) -> list[int]:
        if self._resync:
            await self._wait_for_silence()
        try:
            if function == 3:
                rr = await client.read_holding_registers(address, count=count, device_id=device_id)
            else:
                rr = await client.read_input_registers(address, count=count, device_id=device_id)
        except (TimeoutError, ModbusException, OSError) as err:
            _raise_if_cancelling()
            self._count_failure(str(err))
            raise ReadFailed(str(err)) from err
        _raise_if_cancelling()
        if rr.isError() or len(rr.registers) < count:
            self._count_failure(f"exception reply {rr}")
            raise ReadFailed(str(rr))
        return list(rr.registers)

    async def _wait_for_silence(self) -> None:
        """Wait until nothing has arrived for one timeout since the failure (bounded)."""
        started = time.monotonic()
        give_up = started + 10 * self._timeout_s
        while (now := time.monotonic()) < give_up:
            quiet_since = max(started, self._last_rx)
            if now - quiet_since >= self._timeout_s:
                break
            await asyncio.sleep(self._timeout_s - (now - quiet_since))
        # A line that never falls silent (a babbling device) is not waited on for ever: the
        # next read then fails its own checks and counts, as before.
        self._resync = False

    def _count_failure(self, why: str) -> None:
        self._resync = True
        rx = bytes(self._rx)
        if len(rx) >= 4 and crc16_modbus(rx[:-2]) != rx[-2:]:
            self.stats.checksum_errors += 1
        else:
            self.stats.read_errors += 1
        self.stats.last_error = why

    async def _poll_device(
        self, client: AsyncModbusSerialClient, cfg: ModbusRtuConfig
    ) -> list[Reading]:
        wall, mono = self.clock.wall(), self.clock.mono()
        fault = False
        warming = mono - self._opened_mono < cfg.warmup_s
        try:
            if cfg.status is not None:
                status = (
                    await self._read(
                        client, cfg.device_id, cfg.status.function, cfg.status.address, 1
                    )
                )[0]
                fault, busy = _status_flags(status, cfg.status)
                warming = warming or busy
            values = [await self._channel(client, cfg, ch) for ch in cfg.channels]
        except ReadFailed:
            # No reading at all: the engine sees the sensor go stale. Never a 0 ppm.
            return []
        # Stamp with the time the reply arrived, not when the request left.
        wall, mono = self.clock.wall(), self.clock.mono()
        self.stats.frames_ok += 1
        return [
            Reading(
                sensor_id=cfg.id,
                gas=ch.gas,
                value=None if fault or not math.isfinite(v) else v * ch.response_factor,
                unit=ch.unit,
                source_ts=wall,
                mono_ts=mono,
                fault=fault or not math.isfinite(v),
                warming_up=warming,
                over_range=ch.full_scale is not None and math.isfinite(v) and v >= ch.full_scale,
                full_scale=ch.full_scale,
            )
            for ch, v in zip(cfg.channels, values, strict=True)
        ]

    async def _channel(
        self, client: AsyncModbusSerialClient, cfg: ModbusRtuConfig, ch: ModbusChannel
    ) -> float:
        count = 1 if ch.data_type in ("u16", "s16") else 2
        regs = await self._read(client, cfg.device_id, ch.function, ch.address, count)
        value = decode_registers(regs, ch)
        if ch.decimals_register is not None:
            dec = (await self._read(client, cfg.device_id, ch.function, ch.decimals_register, 1))[0]
            if dec > 6:
                return math.nan  # a nonsense decimal count is a fault, not a scale
            value /= 10**dec
        return value


def _raise_if_cancelling() -> None:
    """Re-raise a cancellation that ``asyncio.wait_for`` inside pymodbus swallowed.

    On Python 3.11, ``wait_for`` can lose a ``cancel()`` that lands just as the reply arrives
    (CPython gh-86296); polling at 10 Hz hits that window, and the daemon's shutdown then
    waits forever. The task still counts the request, so we honour it here.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _status_flags(status: int, s: ModbusStatus) -> tuple[bool, bool]:
    fault = bool(status & s.fault_mask)
    busy = bool(status & s.warmup_mask) or (s.warmup_value is not None and status == s.warmup_value)
    return fault, busy
