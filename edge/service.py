"""What a capability hands the daemon: a long-running service and the context it is built from.

Each capability (gas, GPS, face, MQTT sync) has a module-level ``build_service(ctx)`` factory,
listed in ``edge.daemon.SERVICE_FACTORIES``. The factory may plug its evidence source into
``ctx.controller`` (``controller.air``, ``controller.position``, ``controller.identity``) and
returns a ``Service`` whose ``run`` the daemon starts in its TaskGroup, or None when the
capability is not configured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from edge.clock import SystemClock
    from edge.config import GatewayConfig
    from edge.journal import Journal
    from edge.registry import Registry
    from edge.zone import ZoneController


class Service(Protocol):
    name: str

    async def run(self) -> None:
        """Run until cancelled. Must survive its own peer's failures (reconnect, retry)."""
        ...


@dataclass
class ServiceContext:
    config: GatewayConfig
    config_path: Path | None
    controller: ZoneController
    registry: Registry
    journal: Journal
    clock: SystemClock
    health: dict[str, dict[str, object]] = field(default_factory=dict)
    """Per-service health, shown by ``zonegate status`` and in the MQTT birth snapshot."""
