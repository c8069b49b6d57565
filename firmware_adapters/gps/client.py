"""An asyncio client of gpsd's JSON protocol (``?WATCH={"enable":true,"json":true}``).

Not gpsd-py3: it is blocking, unmaintained since 2017, subscribes without ``json:true``, turns
absent values into 0.0 and crashes with no fix, and Debian bookworm's ``gps`` package lacks its
asyncio client, so this small client speaks the documented protocol itself.

Rules kept here (../shared/reference/gps.md §2): one JSON object per line; a line that does not
parse is skipped and counted, never a reason to drop the connection; absent keys are unknown,
never zero; every report is stamped with ``time.monotonic()`` on receipt; a receive watchdog
catches a gpsd that is connected but silent; reconnects back off exponentially with jitter, capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from firmware_adapters.backoff import Backoff
from firmware_adapters.errors import DeviceError
from firmware_adapters.readings import Fix

log = logging.getLogger(__name__)

WATCH = b'?WATCH={"enable":true,"json":true};\n'
# gpsd caps a response at 10,240 characters; anything longer is a broken line to skip.
_LINE_LIMIT = 16_384


class GpsdError(DeviceError):
    """The gpsd connection failed; the client reconnects."""


class GpsdTimeout(GpsdError):
    """gpsd sent nothing within the receive timeout."""


class SkySatellite(BaseModel):
    """One satellite of a SKY report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prn: int | None = None
    used: bool = False
    ss_dbhz: float | None = Field(default=None, description="C/N0")
    el_deg: float | None = None
    az_deg: float | None = None
    gnssid: int | None = None
    svid: int | None = None
    health: int | None = None


class Sky(BaseModel):
    """A gpsd SKY report: dilutions of precision and the satellites in view."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hdop: float | None = None
    vdop: float | None = None
    pdop: float | None = None
    n_sat: int = Field(description="satellites in view")
    u_sat: int = Field(description="satellites used in the fix")
    satellites: tuple[SkySatellite, ...] = ()
    time: datetime | None = None
    mono_ts: float
    device: str | None = None


Report = Fix | Sky


@dataclass
class ClientStats:
    """Counters a technician or the health snapshot reads."""

    lines: int = 0
    bad_lines: int = 0
    tpv: int = 0
    sky: int = 0
    errors: int = 0  # gpsd ERROR objects
    connects: int = 0
    timeouts: int = 0
    disconnects: int = 0
    protocol: str | None = None
    last_error: str | None = None


class BadLine(ValueError):
    """A line that is not a usable gpsd JSON object."""


def _num(d: dict[str, Any], key: str) -> float | None:
    v = d.get(key)
    # bool is an int subclass; gpsd never sends one for a number, so it is as bad as a string.
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _int(d: dict[str, Any], key: str) -> int | None:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        return None
    return v


def _time(d: dict[str, Any]) -> datetime | None:
    v = d.get("time")
    if not isinstance(v, str):
        return None
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def parse_tpv(d: dict[str, Any], mono_ts: float) -> Fix:
    """Build a ``Fix`` from a TPV object; raises ``BadLine`` when ``mode`` is missing or wrong."""
    mode = _int(d, "mode")
    if mode is None or not 0 <= mode <= 3:
        raise BadLine(f"TPV without a valid mode: {d.get('mode')!r}")
    status = _int(d, "status")
    alt = _num(d, "altMSL")
    device = d.get("device")
    return Fix(
        mode=mode,
        status=status if status is not None else 1,
        lat=_num(d, "lat"),
        lon=_num(d, "lon"),
        alt_m=alt if alt is not None else _num(d, "altHAE"),
        eph_m=_num(d, "eph"),
        speed_mps=_num(d, "speed"),
        track_deg=_num(d, "track"),
        time=_time(d),
        mono_ts=mono_ts,
        device=device if isinstance(device, str) else None,
    )


def parse_sky(d: dict[str, Any], mono_ts: float) -> Sky:
    """Build a ``Sky`` from a SKY object; counts come from the list when gpsd omits them."""
    sats_raw = d.get("satellites")
    sats: list[SkySatellite] = []
    if isinstance(sats_raw, list):
        for s in sats_raw:
            if not isinstance(s, dict):
                raise BadLine("SKY satellite is not an object")
            sats.append(
                SkySatellite(
                    prn=_int(s, "PRN"),
                    used=s.get("used") is True,
                    ss_dbhz=_num(s, "ss"),
                    el_deg=_num(s, "el"),
                    az_deg=_num(s, "az"),
                    gnssid=_int(s, "gnssid"),
                    svid=_int(s, "svid"),
                    health=_int(s, "health"),
                )
            )
    n_sat = _int(d, "nSat")
    u_sat = _int(d, "uSat")
    device = d.get("device")
    return Sky(
        hdop=_num(d, "hdop"),
        vdop=_num(d, "vdop"),
        pdop=_num(d, "pdop"),
        n_sat=n_sat if n_sat is not None else len(sats),
        u_sat=u_sat if u_sat is not None else sum(1 for s in sats if s.used),
        satellites=tuple(sats),
        time=_time(d),
        mono_ts=mono_ts,
        device=device if isinstance(device, str) else None,
    )


def parse_line(line: bytes, mono_ts: float) -> dict[str, Any]:
    """Decode one response line into its JSON object; raises ``BadLine``."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadLine(f"not JSON: {err}") from err
    if not isinstance(obj, dict) or not isinstance(obj.get("class"), str):
        raise BadLine("not a gpsd object with a class")
    return obj


class GpsdSession:
    """One connection to gpsd: ``async with GpsdSession(...) as s: async for report in s``.

    Iteration ends when gpsd closes the connection; raises ``GpsdTimeout`` when gpsd is silent
    for ``receive_timeout_s`` and ``GpsdError`` when the connection fails.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        receive_timeout_s: float = 5.0,
        stats: ClientStats | None = None,
        watching: asyncio.Event | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.receive_timeout_s = receive_timeout_s
        self.stats = stats or ClientStats()
        self.watching = watching or asyncio.Event()
        """Set once gpsd has acknowledged the WATCH (reports flow from then on)."""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._early: list[Report] = []

    async def __aenter__(self) -> GpsdSession:
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that
            # lands as the inner call completes, and the caller's own deadline is then lost.
            async with asyncio.timeout(self.receive_timeout_s):
                reader, writer = await asyncio.open_connection(
                    self.host, self.port, limit=_LINE_LIMIT
                )
            self._reader, self._writer = reader, writer
            writer.write(WATCH)
            await writer.drain()
        except (OSError, TimeoutError) as err:
            await self._close()
            raise GpsdError(f"cannot connect to gpsd at {self.host}:{self.port}: {err}") from err
        self.stats.connects += 1
        try:
            await self._handshake()
        except BaseException:
            await self._close()
            raise
        return self

    async def _handshake(self) -> None:
        # VERSION, DEVICES, then the WATCH acknowledgement; reports follow it.
        while not self.watching.is_set():
            line = await self._readline()
            if not line:
                raise GpsdError("gpsd closed the connection before acknowledging WATCH")
            report = self._decode(line, time.monotonic())
            if report is not None:
                self._early.append(report)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    def __aiter__(self) -> AsyncIterator[Report]:
        return self._reports()

    async def _readline(self) -> bytes:
        """One line under the receive watchdog; a line over the limit comes back as b"\\0"."""
        reader = self._reader
        if reader is None:
            raise GpsdError("session is not open")
        try:
            async with asyncio.timeout(self.receive_timeout_s):  # not wait_for: see __aenter__
                return await reader.readline()
        except TimeoutError as err:
            self.stats.timeouts += 1
            raise GpsdTimeout(f"gpsd silent for {self.receive_timeout_s:g} s") from err
        except ValueError:
            # Longer than the limit: asyncio dropped the buffered part; the caller skips it.
            return b"\0"
        except OSError as err:
            raise GpsdError(f"gpsd connection failed: {err}") from err

    async def _reports(self) -> AsyncGenerator[Report, None]:
        while self._early:
            yield self._early.pop(0)
        while True:
            line = await self._readline()
            if not line:
                return
            mono = time.monotonic()
            report = self._decode(line, mono)
            if report is not None:
                yield report

    def _decode(self, line: bytes, mono: float) -> Report | None:
        self.stats.lines += 1
        try:
            obj = parse_line(line, mono)
            cls = obj["class"]
            if cls == "TPV":
                fix = parse_tpv(obj, mono)
                self.stats.tpv += 1
                return fix
            if cls == "SKY":
                sky = parse_sky(obj, mono)
                self.stats.sky += 1
                return sky
        except (BadLine, ValueError) as err:  # pydantic's ValidationError is a ValueError
            self.stats.bad_lines += 1
            log.debug("gpsd: skipped a bad line (%s): %.80r", err, line)
            return None
        if cls == "VERSION":
            proto = f"{obj.get('proto_major')}.{obj.get('proto_minor')}"
            self.stats.protocol = proto
        elif cls == "WATCH":
            self.watching.set()
        elif cls == "ERROR":
            self.stats.errors += 1
            self.stats.last_error = str(obj.get("message"))
        return None  # DEVICES, DEVICE, PPS, unknown classes: not ours


class GpsdClient:
    """Reports from gpsd for as long as it runs, reconnecting with capped, jittered backoff.

    ``connected`` is set while gpsd is streaming to us (it acknowledged the WATCH) and cleared
    when the connection is lost, so a caller can await it instead of polling a flag. Each lost
    or refused connection is logged (the daemon's journal) unless ``log_failures`` is False: a
    command that reports ``stats.last_error`` itself, once and in the technician's language
    (selftest, gps probe), would otherwise print an English line per reconnect.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2947,
        *,
        receive_timeout_s: float = 5.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        rng: random.Random | None = None,
        log_failures: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.log_failures = log_failures
        self.receive_timeout_s = receive_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stats = ClientStats()
        self.connected = asyncio.Event()
        self._backoff = Backoff(backoff_initial_s, backoff_max_s, rng)

    def backoff(self, attempt: int) -> float:
        """Delay before reconnect number ``attempt`` (1-based): jittered, under a capped ceiling."""
        return self._backoff.delay_for(attempt - 1)

    async def reports(self) -> AsyncGenerator[Report, None]:
        """Yield TPV fixes and SKY reports forever; never gives up on gpsd."""
        self._backoff.reset()  # each run of reports() starts a fresh backoff, as before
        while True:
            session = GpsdSession(
                self.host,
                self.port,
                receive_timeout_s=self.receive_timeout_s,
                stats=self.stats,
                watching=self.connected,
            )
            try:
                async with session:
                    async for report in session:
                        # gpsd is talking: the next failure starts a fresh backoff
                        self._backoff.reset()
                        yield report
                    self.stats.disconnects += 1
                    if self.log_failures:
                        log.warning("gpsd at %s:%d closed the connection", self.host, self.port)
            except GpsdError as err:
                self.stats.last_error = str(err)
                if self.log_failures:
                    log.warning("gpsd: %s", err)
            finally:
                self.connected.clear()
            await asyncio.sleep(self._backoff.next_delay())
