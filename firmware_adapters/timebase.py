"""Time as adapters need it: wall time to stamp a frame, monotonic time to measure gaps.

``edge.clock`` implements it (NTP / GPS trust) and re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Trust:
    """Whether the wall clock is trusted, and by what (``source``)."""

    trusted: bool
    source: str  # "ntp", "gps", "assumed", "manual", "none"


class Clock(Protocol):
    """Where adapters get time: wall time to stamp frames, monotonic time to measure gaps."""

    def wall(self) -> datetime:
        """Now, timezone-aware (UTC)."""

    def mono(self) -> float:
        """Monotonic seconds (never jumps; for durations and staleness)."""

    def trust(self) -> Trust:
        """Whether the wall clock is trusted now, and by which source."""
