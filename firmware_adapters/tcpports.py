"""``free_port``: a TCP port for a local peer we start (gpsd under gpsfake, a test broker)."""

from __future__ import annotations

import random
import socket


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now, below the kernel's ephemeral range.

    A port the kernel picked for us (bind to 0) comes from the ephemeral range, where any
    outgoing connection on this busy machine may take it again before the peer binds it.
    Raises ``OSError`` when 200 tries find none between 20000 and 32000.
    """
    rng = random.Random()  # noqa: S311 - spreading ports, not cryptography
    for _ in range(200):
        port = rng.randrange(20_000, 32_000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError("no free TCP port on 127.0.0.1 between 20000 and 32000")
