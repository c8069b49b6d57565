"""The zone's local annunciation (stack light, buzzer, interlock) as the core sees it.

The gpiozero implementation is ``stacklight``; the core (``edge``) only calls this
Protocol, and calls it *before* committing a suspension (DESIGN invariant 3).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol, runtime_checkable


class Light(StrEnum):
    GREEN = "green"  # work may proceed
    AMBER = "amber"  # warning: monitoring degraded, certificate expiring, pre-alarm
    RED = "red"  # stop: permits suspended, entry denied


class Annunciator(Protocol):
    def show(self, light: Light, *, buzzer: bool) -> None: ...


@runtime_checkable
class TapChirp(Protocol):
    """An annunciator that can also sound a short per-tap pattern, distinct from the alarm."""

    def chirp(self, *, allowed: bool) -> None: ...


class RecordingAnnunciator:
    """Keeps what was shown; used where no hardware is configured, and by tests."""

    def __init__(self) -> None:
        self.history: list[tuple[Light, bool]] = []
        self.chirps: list[bool] = []

    def chirp(self, *, allowed: bool) -> None:
        self.chirps.append(allowed)

    def show(self, light: Light, *, buzzer: bool) -> None:
        self.history.append((light, buzzer))

    @property
    def current(self) -> tuple[Light, bool] | None:
        return self.history[-1] if self.history else None
