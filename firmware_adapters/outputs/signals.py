"""The zone's local annunciation (stack light, buzzer, interlock) as the core sees it.

The gpiozero implementation is ``stacklight``; the core (``edge``) only calls this
Protocol, and calls it *before* committing a suspension (DESIGN invariant 3).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol, runtime_checkable


class Light(StrEnum):
    """The stack light's colours and what each tells the people in the zone."""

    GREEN = "green"  # work may proceed
    AMBER = "amber"  # warning: monitoring degraded, certificate expiring, pre-alarm
    RED = "red"  # stop: permits suspended, entry denied


class Annunciator(Protocol):
    """Shows the zone's state on the stack light and buzzer (and, in ``stacklight``, the relay)."""

    def show(self, light: Light, *, buzzer: bool) -> None:
        """Show ``light`` (one lamp at a time), with the buzzer sounding when ``buzzer``."""


@runtime_checkable
class TapChirp(Protocol):
    """An annunciator that can also sound a short per-tap pattern, distinct from the alarm."""

    def chirp(self, *, allowed: bool) -> None:
        """Sound a short pattern for one badge tap: one beep when ``allowed``, three when not."""


class RecordingAnnunciator:
    """Keeps what was shown; used where no hardware is configured, and by tests."""

    def __init__(self) -> None:
        self.history: list[tuple[Light, bool]] = []
        self.chirps: list[bool] = []

    def chirp(self, *, allowed: bool) -> None:
        """Record the tap pattern (True: allowed)."""
        self.chirps.append(allowed)

    def show(self, light: Light, *, buzzer: bool) -> None:
        """Record ``(light, buzzer)``."""
        self.history.append((light, buzzer))

    @property
    def current(self) -> tuple[Light, bool] | None:
        """The last ``(light, buzzer)`` shown, or None before the first."""
        return self.history[-1] if self.history else None
