"""The zone terminal: badge reads in, decisions out (log, and the screen once one is attached).

A tap is a badge-in when the worker is outside and a badge-out when inside (``toggle``), or
fixed by a reader per direction. The reader is supervised by the daemon: if it fails (USB
unplugged) the service raises, and the daemon restarts it with backoff.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from edge.models import Decision
from edge.reasons import Lang
from edge.zone import ZoneController
from firmware_adapters.badge.lines import LineBadgeReader

log = logging.getLogger("zonegate.terminal")


@dataclass
class TerminalService:
    controller: ZoneController
    reader: LineBadgeReader
    mode: str
    name: str = "terminal"

    async def tap(self, badge_id: str) -> Decision:
        if self.mode == "in":
            return await self.controller.badge_in(badge_id)
        if self.mode == "out":
            return await self.controller.badge_out(badge_id)
        worker = self.controller.registry.worker_by_badge(badge_id)
        inside = worker is not None and worker.worker_id in self.controller.registry.presence()
        if inside:
            return await self.controller.badge_out(badge_id)
        return await self.controller.badge_in(badge_id)

    async def run(self) -> None:
        # aclosing: a cancel that lands while a tap is being decided (not inside the reader)
        # still closes the port now, not whenever the generator is collected.
        async with contextlib.aclosing(self.reader.ids()) as ids:
            async for badge_id in ids:
                decision = await self.tap(badge_id)
                msg = (
                    decision.message_zh
                    if self.controller.language is Lang.ZH
                    else decision.message_en
                )
                level = logging.INFO if decision.allowed else logging.WARNING
                log.log(level, "%s %s: %s", decision.action.value, badge_id, msg)
                self.controller.health["terminal"] = {
                    "state": "running",
                    "accepted": self.reader.accepted,
                    "rejected": dict(self.reader.rejected),
                }
