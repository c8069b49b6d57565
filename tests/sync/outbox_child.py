"""A stand-in daemon for the kill test: drains a journal file to the broker until killed.

Run as ``python outbox_child.py JOURNAL PORT CA USER PASSWORD``; it is the real Link and Outbox
over the real journal, nothing else.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from cloud_sync.link import Link, LinkSettings, tls_context
from cloud_sync.outbox import Outbox
from cloud_sync.topics import DeviceTopics
from edge.clock import SystemClock
from edge.journal import Journal


async def main(journal_path: str, port: str, ca: str, user: str, password: str) -> None:
    journal = Journal(Path(journal_path), SystemClock(assume_trusted=True))
    topics = DeviceTopics("site1", user)
    settings = LinkSettings(
        host="127.0.0.1",
        port=int(port),
        client_id=f"site1-{user}",
        tls_context=tls_context(ca),
        username=user,
        password=password,
        backoff_initial_s=0.05,
        backoff_max_s=0.5,
        keepalive_s=10,
    )
    outbox = Outbox(journal, topics, window=100, batch=200, downsample_above=0)
    async with Link(settings, topics, journal.boot_id, outbox.drain) as link:
        await link.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
