"""Time as adapters need it: wall time to stamp a frame, monotonic time to measure gaps.

``edge.clock`` implements it (NTP / GPS trust) and re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Trust:
    trusted: bool
    source: str  # "ntp", "gps", "assumed", "manual", "none"


class Clock(Protocol):
    def wall(self) -> datetime: ...
    def mono(self) -> float: ...
    def trust(self) -> Trust: ...
