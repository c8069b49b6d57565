"""What a capability hands the daemon: a long-running service.

The factories that build services from the config live in the composition root
(``gateway.services``); the daemon starts each ``run`` in its TaskGroup.
"""

from __future__ import annotations

from typing import Protocol


class Service(Protocol):
    """A long-running loop the daemon supervises; ``name`` appears in logs and health."""

    name: str

    async def run(self) -> None:
        """Run until cancelled. Must survive its own peer's failures (reconnect, retry)."""
        ...
