"""The zone terminal: badge reads in, decisions out (log, screen, voice, buzzer).

A tap is a badge-in when the worker is outside and a badge-out when inside (``toggle``), or
fixed by a reader per direction. The reader is supervised by the daemon: if it fails (USB
unplugged) the service raises, and the daemon restarts it with backoff.

Debounce: a card held in an RFID field is read several times, and a QR code under a scanner
is read until it leaves the window. In ``toggle`` mode a second read of the same badge would
turn the badge-in just decided into a badge-out, and the worker would vanish from the roster
of who is inside while standing in the zone. So a read of a badge within ``debounce_s`` after
the decision on that badge is the same tap, not a new one: it is counted and dropped. The
window is measured on the monotonic clock from the end of the decision, so reads queued while
a face check ran are inside it too.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from edge.models import Decision, Event
from edge.reasons import Lang
from edge.zone import ZoneController
from firmware_adapters.badge.lines import LineBadgeReader

log = logging.getLogger("zonegate.terminal")

DEFAULT_DEBOUNCE_S = 3.0

T = TypeVar("T")


@dataclass
class TerminalService:
    """Turns badge reads into decisions; ``on_tap`` / ``on_decision`` feed the screen and voice.

    ``on_tap(badge_id)`` runs when a read is taken as a new tap (before the face check, so the
    screen can ask the worker to look at the camera); ``on_decision(decision)`` once it is
    decided and journaled. A failing listener is logged and never stops the terminal.
    """

    controller: ZoneController
    reader: LineBadgeReader
    mode: str
    debounce_s: float = DEFAULT_DEBOUNCE_S
    name: str = "terminal"
    on_tap: list[Callable[[str], None]] = field(default_factory=list)
    on_decision: list[Callable[[Decision], None]] = field(default_factory=list)
    debounced: int = 0
    _decided_at: dict[str, float] = field(default_factory=dict)
    _armed_at: float = float("-inf")

    def __post_init__(self) -> None:
        self.controller.event_listeners.append(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.type == "terminal_armed":
            self._armed_at = self.controller.clock.mono()

    def is_repeat(self, badge_id: str) -> bool:
        """True when ``badge_id`` was decided less than ``debounce_s`` ago (monotonic) and the
        terminal was not armed for an action since: a card still in the field repeats within
        milliseconds, while arming takes a person pressing a button after that decision."""
        last = self._decided_at.get(badge_id)
        if last is None or last < self._armed_at:
            return False
        return self.controller.clock.mono() - last < self.debounce_s

    async def tap(self, badge_id: str) -> Decision:
        """One tap: in, out, or (``toggle``) out if inside, else in."""
        if self.mode == "in":
            return await self.controller.badge_in(badge_id)
        if self.mode == "out":
            return await self.controller.badge_out(badge_id)
        worker = self.controller.registry.worker_by_badge(badge_id)
        inside = worker is not None and worker.worker_id in self.controller.registry.presence()
        if inside:
            return await self.controller.badge_out(badge_id)
        return await self.controller.badge_in(badge_id)

    async def read(self, badge_id: str) -> Decision | None:
        """One read from the reader: a decision; None when it repeats the last tap or was an
        action the terminal was armed for (its outcome goes to whoever armed it)."""
        if self.is_repeat(badge_id):
            self.debounced += 1
            log.debug("%s read again within %.1f s: same tap", badge_id, self.debounce_s)
            return None
        self._notify(self.on_tap, badge_id)
        outcome = await self.controller.terminal_action(badge_id)
        if outcome is not None:  # an action (start, gas test, ...), not entry or exit
            # The leader's card held on the reader must not turn into a badge-in either.
            self._decided(badge_id)
            level = logging.INFO if outcome.ok else logging.WARNING
            log.log(level, "%s %s: %s", outcome.action.value, badge_id, outcome.message_en)
            return None
        decision = await self.tap(badge_id)
        self._decided(badge_id)
        self._notify(self.on_decision, decision)
        return decision

    def _decided(self, badge_id: str) -> None:
        now = self.controller.clock.mono()
        self._decided_at[badge_id] = now
        # Forget badges whose window has passed, so the map stays as small as the crowd.
        for badge, at in list(self._decided_at.items()):
            if now - at >= self.debounce_s:
                del self._decided_at[badge]

    @staticmethod
    def _notify(listeners: list[Callable[[T], None]], item: T) -> None:
        for listener in list(listeners):
            try:
                listener(item)
            except Exception:  # the screen or the speaker must never stop the terminal
                log.exception("terminal listener failed")

    async def run(self) -> None:
        """Read badges forever and decide each tap."""
        # aclosing: a cancel that lands while a tap is being decided (not inside the reader)
        # still closes the port now, not whenever the generator is collected.
        async with contextlib.aclosing(self.reader.ids()) as ids:
            async for badge_id in ids:
                decision = await self.read(badge_id)
                if decision is not None:
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
                    "debounced": self.debounced,
                }
