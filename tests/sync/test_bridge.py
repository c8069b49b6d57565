"""Site broker bridged to a central broker (config/mosquitto/bridge.conf): uplink cut and
restored, central still receives every event."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud_sync.central import Fleet, watch
from cloud_sync.link import Link
from cloud_sync.outbox import Outbox
from cloud_sync.topics import DeviceTopics
from edge.journal import Journal
from edge.models import EventKind, EventType
from firmware_adapters.tcpports import free_port

BRIDGE_EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "mosquitto" / "bridge.conf"


class Uplink:
    """A TCP relay standing for the WAN between the site and central; it can be cut."""

    def __init__(self, upstream_port: int, port: int) -> None:
        self.upstream_port = upstream_port
        self.port = port
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.writers):
            w.transport.abort()
        self.writers.clear()
        self.server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self.writers |= {writer, up_writer}

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            w.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_bridge_buffers_through_an_uplink_cut(
    make_broker: Callable[..., Any],
    journal: Journal,
    wait_until: Callable[..., Any],
    tasks: list[asyncio.Task[None]],
) -> None:
    central_broker = make_broker("central")
    central_broker.start()
    uplink = Uplink(central_broker.port, free_port())
    await uplink.start()
    bridge = BRIDGE_EXAMPLE.read_text()
    for pattern, value in (
        (r"^address .*$", f"address 127.0.0.1:{uplink.port}"),
        (r"^bridge_cafile .*$", f"bridge_cafile {central_broker.pki.ca_cert}"),
        (r"^remote_password .*$", "remote_password pw-bridge"),
        (r"^restart_timeout .*$", "restart_timeout 1 1"),
    ):
        bridge, n = re.subn(pattern, value, bridge, flags=re.MULTILINE)
        assert n == 1, pattern
    site_broker = make_broker("site", extra=bridge)
    site_broker.start()

    fleet = Fleet()
    ids: set[str] = set()
    ready = asyncio.Event()
    settings = central_broker.settings("central", "central-bridge", clean_session=False)
    tasks.append(
        asyncio.create_task(
            watch(settings, fleet, on_event=lambda e: ids.add(e.event_id), ready=ready)
        )
    )
    await ready.wait()
    await wait_until(lambda: uplink.connections > 0, 20, "the bridge to connect")

    journal.append_many([(EventKind.ALERT, EventType.GAS_ALARM, {"i": i}) for i in range(1000)])
    topics = DeviceTopics("site1", "dev-a")
    outbox = Outbox(journal, topics)
    link = Link(site_broker.settings("dev-a", "site1-dev-a"), topics, journal.boot_id, outbox.drain)
    async with link:
        await wait_until(lambda: len(ids) == 1000, 30, "events through the bridge")
        await uplink.cut()
        during = journal.append_many(
            [(EventKind.PERMIT, EventType.PERMIT_ISSUED, {"i": i}) for i in range(1000)]
        )
        outbox.notify(during[-1])
        # The site broker acknowledged everything: the gateway's outbox is empty...
        await wait_until(lambda: sum(journal.pending_count().values()) == 0, 20, "site PUBACKs")
        # ...while central has seen none of it.
        assert not ids & {e.event_id for e in during}
        await uplink.start()
        await wait_until(lambda: ids == journal.event_ids(), 60, "the backlog after the cut")
    assert uplink.connections >= 2
    await uplink.cut()
