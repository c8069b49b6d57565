"""The gpsd client against a scripted peer speaking gpsd's JSON protocol on 127.0.0.1.

Real gpsd cannot be made to send broken lines or to stall on cue, so these cases use a tiny
server that writes the protocol's bytes; the replay tests cover real gpsd.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from edge.models import Fix
from firmware_adapters.gps.client import GpsdClient, GpsdSession, Sky, parse_tpv

VERSION = b'{"class":"VERSION","release":"3.22","rev":"3.22","proto_major":3,"proto_minor":14}\r\n'
ACK = (
    b'{"class":"DEVICES","devices":[{"class":"DEVICE","path":"/dev/ttyAMA0"}]}\r\n'
    b'{"class":"WATCH","enable":true,"json":true,"nmea":false}\r\n'
)
TPV = {
    "class": "TPV",
    "device": "/dev/ttyAMA0",
    "mode": 3,
    "time": "2026-11-24T06:00:00.000Z",
    "lat": 31.2304,
    "lon": 121.4737,
    "eph": 4.5,
}
SKY = {
    "class": "SKY",
    "hdop": 0.9,
    "satellites": [
        {"PRN": 5, "el": 40, "az": 120, "ss": 38, "used": True},
        {"PRN": 7, "el": 10, "az": 300, "ss": 20, "used": False},
    ],
}

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


def line(obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\r\n"


async def handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(VERSION)
    watch = await reader.readline()
    writer.write(ACK)
    await writer.drain()
    return watch


@contextlib.asynccontextmanager
async def gpsd_peer(handler: Handler) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A server on a free 127.0.0.1 port; ``handler`` gets each connection and its number."""
    watches: list[bytes] = []
    count = 0

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        count += 1
        try:
            watches.append(await handshake(reader, writer))
            await handler(reader, writer, count)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port, watches


async def test_bad_lines_are_skipped_and_counted_on_one_connection() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"garbage\r\n")
        writer.write(b'{"class":"TPV","mode":3,"lat":31.2\r\n')  # cut by gpsd's length cap
        writer.write(b"[1, 2, 3]\r\n")
        writer.write(b'{"class":"TPV"}\r\n')  # no mode
        writer.write(b'{"class":"TPV","mode":"3"}\r\n')
        writer.write(b'{"class":"SKY","satellites":[1]}\r\n')
        writer.write(b'{"class":"TPV","mode":3,"lat":"' + b"9" * 20_000 + b'"}\r\n')
        writer.write(b'{"class":"PPS","device":"/dev/pps0"}\r\n')  # not ours: ignored, not bad
        writer.write(b'{"class":"ERROR","message":"unrecognized request"}\r\n')
        writer.write(line(TPV))
        writer.write(line(SKY))
        await writer.drain()

    async with gpsd_peer(script) as (port, watches):
        session = GpsdSession("127.0.0.1", port, receive_timeout_s=5)
        async with session:
            reports = [r async for r in session]
    assert json.loads(watches[0][len(b"?WATCH=") : -2]) == {"enable": True, "json": True}
    assert [type(r) for r in reports] == [Fix, Sky]
    assert session.stats.bad_lines == 7
    assert session.stats.errors == 1
    assert session.stats.connects == 1
    assert session.stats.protocol == "3.14"
    fix = reports[0]
    assert isinstance(fix, Fix)
    assert (fix.mode, fix.lat, fix.lon, fix.eph_m) == (3, 31.2304, 121.4737, 4.5)
    sky = reports[1]
    assert isinstance(sky, Sky)
    assert (sky.n_sat, sky.u_sat, sky.hdop) == (2, 1, 0.9)


def test_absent_keys_are_unknown_never_zero() -> None:
    fix = parse_tpv({"class": "TPV", "mode": 1}, 5.0)
    assert (fix.lat, fix.lon, fix.eph_m, fix.alt_m, fix.speed_mps, fix.time) == (None,) * 6
    assert fix.status == 1  # absent status means a normal fix
    fix = parse_tpv({"mode": 3, "alt": 99.0, "altHAE": 10.0, "altMSL": 30.0, "status": 8}, 5.0)
    assert fix.alt_m == 30.0  # altMSL, never the deprecated alt
    assert fix.status == 8
    fix = parse_tpv({"mode": 3, "lat": True, "lon": "121", "time": "yesterday"}, 5.0)
    assert (fix.lat, fix.lon, fix.time) == (None, None, None)


async def test_receive_timeout_reconnects_and_keeps_reading() -> None:
    second = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        if n == 1:
            await reader.read()  # connected, acknowledged, then silent until the client leaves
            return
        second.set()
        writer.write(line(TPV))
        await writer.drain()
        await reader.read()

    async with gpsd_peer(script) as (port, _):
        client = GpsdClient(
            "127.0.0.1", port, receive_timeout_s=0.3, backoff_initial_s=0.05, backoff_max_s=0.1
        )
        async with asyncio.timeout(10):
            reports = client.reports()
            first = await anext(reports)
            await reports.aclose()
    assert isinstance(first, Fix)
    assert second.is_set()
    assert client.stats.timeouts == 1
    assert client.stats.connects == 2
    assert not client.connected.is_set()


async def test_a_deadline_around_the_reports_is_never_lost() -> None:
    # On Python 3.11 asyncio.wait_for swallowed a cancellation that landed as a line arrived, so
    # the probe's own deadline was lost and it read a looping gpsd forever (a CI hang). A peer
    # that never pauses makes that coincidence likely; each round must end at its deadline.
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            writer.write(line(TPV) * 20)
            await writer.drain()

    loop = asyncio.get_running_loop()
    async with gpsd_peer(flood) as (port, _):
        client = GpsdClient("127.0.0.1", port, receive_timeout_s=5)
        rounds = 0
        # At least 60 rounds that read reports: on a loaded machine a 10 ms round may end
        # before its first report, so rounds go on until 60 TPVs were read (a bound, not a
        # timing claim: each round must still end at its deadline).
        while rounds < 60 or client.stats.tpv <= 60:
            assert rounds < 5000, f"only {client.stats.tpv} reports in {rounds} rounds"
            deadline = loop.time() + 0.01
            overrun = 0
            with contextlib.suppress(TimeoutError):
                async with (
                    asyncio.timeout_at(deadline),
                    contextlib.aclosing(client.reports()) as reports,
                ):
                    async for _report in reports:
                        if loop.time() > deadline:
                            overrun += 1
                            assert overrun < 2000, "the deadline was swallowed"
            rounds += 1
    assert rounds >= 60 and client.stats.tpv > 60


async def test_client_waits_for_gpsd_to_appear_and_reconnects_after_it_closes() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(line({**TPV, "lat": 31.0 + n}))
        await writer.drain()
        # The first connection is closed by gpsd; the second stays open.
        if n > 1:
            await reader.read()

    # Find a port, close it, and let the client fail against it for a while first.
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()

    client = GpsdClient(
        "127.0.0.1", port, receive_timeout_s=2, backoff_initial_s=0.05, backoff_max_s=0.2
    )
    got: list[Fix] = []

    async def consume() -> None:
        async for r in client.reports():
            if isinstance(r, Fix):
                got.append(r)
                if len(got) == 2:
                    return

    task = asyncio.create_task(consume())
    async with asyncio.timeout(10):
        # A refused connect has no event to await; poll the counter the client keeps (deadline).
        while client.stats.last_error is None:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        assert not client.connected.is_set()

        async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            n = client.stats.connects + 1
            try:
                await handshake(r, w)
                await script(r, w, n)
            except ConnectionError:
                pass
            finally:
                w.close()

        server = await asyncio.start_server(serve, "127.0.0.1", port)
        async with server:
            await task
    assert [f.lat for f in got] == [32.0, 33.0]
    assert client.stats.connects == 2
    assert client.stats.disconnects == 1


@pytest.mark.parametrize("seed", range(5))
def test_backoff_is_capped_jittered_and_never_zero(seed: int) -> None:
    client = GpsdClient(backoff_initial_s=0.5, backoff_max_s=30.0, rng=random.Random(seed))
    delays = [client.backoff(a) for a in range(1, 40)]
    assert all(0.25 <= d <= 30.0 for d in delays)
    assert delays[0] <= 0.5
    assert all(15.0 <= d <= 30.0 for d in delays[10:])  # the cap holds, and so does the floor
    assert len(set(delays[10:])) > 1  # jittered, not in lockstep
