"""Badge reader over a real pty (as a USB-serial card reader) driving the terminal service."""

from __future__ import annotations

import asyncio
import os
import pty
from pathlib import Path

from edge.models import Event, EventKind
from edge.terminal import TerminalService
from firmware_adapters.badge.lines import LineBadgeReader, parse_badge_line

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
        os.write(master, b"B-W1\r\n")
        second = await asyncio.wait_for(decisions.get(), 10)
        assert second.payload["action"] == "badge_out"
        assert reader.accepted == 2 and sum(reader.rejected.values()) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        os.close(master)
        os.close(slave)
