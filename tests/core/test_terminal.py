"""Badge reader over a real pty (as a USB-serial card reader) driving the terminal service."""

from __future__ import annotations

import asyncio
import os
import pty
from pathlib import Path

import pytest

from edge.models import Event, EventKind
from edge.terminal import TerminalService
from firmware_adapters.badge.lines import BadgeReaderError, LineBadgeReader, parse_badge_line

from .conftest import Env


def test_parse_badge_line_accepts_framed_ids_and_rejects_garbage() -> None:
    assert parse_badge_line(b"\x02CARD-1002\x03") == ("CARD-1002", None)
    assert parse_badge_line(b"QR:W002\r\n") == ("QR:W002", None)
    assert parse_badge_line(b"\xff\xfe") == (None, "NOT_ASCII")
    assert parse_badge_line(b"a b c") == (None, "BAD_ID")
    assert parse_badge_line(b"   ") == (None, "EMPTY")


async def test_taps_over_a_serial_pty_toggle_in_and_out(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.active_permit()
    master, slave = pty.openpty()
    reader = LineBadgeReader(Path(os.ttyname(slave)), serial_port=True)
    svc = TerminalService(env.ctl, reader, "toggle")
    decisions: asyncio.Queue[Event] = asyncio.Queue()

    def on_event(ev: Event) -> None:
        if ev.kind is EventKind.ACCESS:
            decisions.put_nowait(ev)

    env.ctl.event_listeners.append(on_event)
    task = asyncio.create_task(svc.run())
    try:
        # pyserial flushes input on open: write only once the reader holds the port.
        await asyncio.wait_for(reader.opened.wait(), 10)
        os.write(master, b"\x02B-W1\x03\r\n\xff\xfe garbage\r\n")
        first = await asyncio.wait_for(decisions.get(), 10)
        assert first.payload["action"] == "badge_in" and first.payload["allowed"] is True
        # A tap after the debounce window is a new tap: out.
        env.clock.advance(svc.debounce_s + 0.1)
        os.write(master, b"B-W1\r\n")
        second = await asyncio.wait_for(decisions.get(), 10)
        assert second.payload["action"] == "badge_out"
        assert reader.accepted == 2 and sum(reader.rejected.values()) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        os.close(master)
        os.close(slave)


def _tap_fifo(path: Path, line: bytes) -> None:
    """One tap as `echo ID > fifo` makes it: open, write a line, close."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


async def test_fifo_reader_survives_each_writer_closing(tmp_path: Path) -> None:
    fifo = tmp_path / "badge.fifo"
    os.mkfifo(fifo)
    reader = LineBadgeReader(fifo, serial_port=False)
    got: list[str] = []

    async def consume() -> None:
        async for badge in reader.ids():
            got.append(badge)
            if len(got) == 20:
                return

    task = asyncio.create_task(consume())
    await asyncio.wait_for(reader.opened.wait(), 10)
    for i in range(20):
        # The writer's open blocks until a reader holds the FIFO: keep it off the loop.
        await asyncio.to_thread(_tap_fifo, fifo, f"B-{i:02d}\n".encode())
    await asyncio.wait_for(task, 10)  # a 'closed' error after a tap would raise here
    assert got == [f"B-{i:02d}" for i in range(20)]
    assert reader.accepted == 20 and not reader.rejected


async def test_fifo_reader_without_a_writer_is_cancelled_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "badge.fifo"
    os.mkfifo(fifo)
    reader = LineBadgeReader(fifo, serial_port=False)

    async def consume() -> None:
        async for _ in reader.ids():
            pass

    task = asyncio.create_task(consume())
    await asyncio.wait_for(reader.opened.wait(), 10)
    task.cancel()
    # Cancelled in open() or read() on a worker thread, this wait would run out: the thread
    # stays parked until a writer comes.
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done and task.cancelled()
    assert not reader.opened.is_set()


async def test_keyboard_wedge_tty_lines_and_noise(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    reader = LineBadgeReader(Path(os.ttyname(slave)), serial_port=False)
    it = reader.ids()
    try:
        first = asyncio.ensure_future(it.__anext__())
        await asyncio.wait_for(reader.opened.wait(), 10)
        os.write(master, b"W-1001\n" + b"x" * 300 + b"\nnot an id!\nW-1002\n")
        assert await asyncio.wait_for(first, 10) == "W-1001"
        assert await asyncio.wait_for(it.__anext__(), 10) == "W-1002"
        assert reader.rejected["BAD_ID"] >= 1
    finally:
        await it.aclose()
        os.close(master)
        os.close(slave)
    assert not reader.opened.is_set()


async def test_a_missing_or_regular_file_is_a_reader_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("W-1\n")
    for path in (tmp_path / "absent", plain):
        with pytest.raises(BadgeReaderError):
            async for _ in LineBadgeReader(path, serial_port=False).ids():
                pass


async def test_serial_reader_without_line_end_takes_an_id_after_a_gap(env: Env) -> None:
    master, slave = pty.openpty()
    reader = LineBadgeReader(Path(os.ttyname(slave)), serial_port=True)
    it = reader.ids()
    try:
        first = asyncio.ensure_future(it.__anext__())
        await asyncio.wait_for(reader.opened.wait(), 10)
        os.write(master, b"CARD-77")
        assert await asyncio.wait_for(first, 10) == "CARD-77"
    finally:
        await it.aclose()


async def test_one_card_read_twice_in_a_burst_is_one_tap(env: Env) -> None:
    """Was: the second read of a card held in the field made a badge-out (worker vanished)."""
    env.worker("G1")
    env.welder("W1")
    env.active_permit()
    master, slave = pty.openpty()
    reader = LineBadgeReader(Path(os.ttyname(slave)), serial_port=True)
    svc = TerminalService(env.ctl, reader, "toggle", debounce_s=3.0)
    decisions: asyncio.Queue[Event] = asyncio.Queue()
    reads = asyncio.Queue[str]()
    svc.on_tap.append(reads.put_nowait)

    def on_event(ev: Event) -> None:
        if ev.kind is EventKind.ACCESS:
            decisions.put_nowait(ev)

    env.ctl.event_listeners.append(on_event)
    task = asyncio.create_task(svc.run())
    try:
        await asyncio.wait_for(reader.opened.wait(), 10)
        # One card held in the field: three reads in one burst, then a different badge as a
        # marker that every read before it has been handled.
        os.write(master, b"\x02B-W1\x03\x02B-W1\x03\r\nB-W1\r\nB-G1\r\n")
        first = await asyncio.wait_for(decisions.get(), 10)
        marker = await asyncio.wait_for(decisions.get(), 10)
        assert first.payload["action"] == "badge_in" and first.payload["allowed"] is True
        assert marker.payload["badge_id"] == "B-G1"
        assert decisions.empty() and svc.debounced == 2
        assert "W1" in env.registry.presence()  # still inside: the repeat was not a badge-out
        assert [reads.get_nowait() for _ in range(reads.qsize())] == ["B-W1", "B-G1"]
        # Within the window still the same tap; after it, a new one (badge-out).
        env.clock.advance(2.9)
        os.write(master, b"B-W1\r\nB-M1\r\n")  # an unknown badge marks the read as handled
        marker = await asyncio.wait_for(decisions.get(), 10)
        assert marker.payload["badge_id"] == "B-M1" and svc.debounced == 3
        env.clock.advance(0.2)
        os.write(master, b"B-W1\r\n")
        out = await asyncio.wait_for(decisions.get(), 10)
        assert out.payload["action"] == "badge_out" and svc.debounced == 3
        assert "W1" not in env.registry.presence()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        os.close(master)
        os.close(slave)


async def test_a_tap_after_the_terminal_is_armed_is_a_new_tap(env: Env) -> None:
    """A card held in the field repeats within milliseconds; arming the terminal for an action
    takes a person pressing a button after that decision, so the next read is a new tap (the
    leader who just took the gas test may confirm the start at once)."""
    from edge.work_cycle import ArmedAction, CycleAction

    env.worker("G1")
    env.welder("W1")
    env.active_permit()
    svc = TerminalService(
        env.ctl, LineBadgeReader(Path("/dev/null"), serial_port=False), "toggle", debounce_s=3
    )
    first = await svc.read("B-W1")
    assert first is not None and first.allowed
    env.clock.advance(0.5)
    assert svc.is_repeat("B-W1") and await svc.read("B-W1") is None
    env.ctl.terminal_attached = True
    armed = ArmedAction(action=CycleAction.BREAK, permit_id="P1")
    env.ctl.arm(armed)
    env.clock.advance(0.5)
    assert not svc.is_repeat("B-W1")
    assert await svc.read("B-W1") is None  # taken by the armed action, not a badge-out
    assert armed.done.done() and "W1" in env.registry.presence()
