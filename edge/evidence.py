"""The evidence an access decision weighs, each from one small Protocol.

Face verification, GPS geofencing and gas monitoring plug in here; the access logic in
``edge.access`` knows nothing of cameras, gpsd or sensor frames. Each source must answer fast from
state it already holds (position, air) or within about a second (identity, run off the loop).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from edge.models import Position, Worker
from edge.reasons import ReasonCode


@dataclass(frozen=True, slots=True)
class AirVerdict:
    """The zone's air right now. ``safe`` False blocks badge-ins with ``GAS_UNSAFE``.

    ``monitoring_ok`` False means the sensors cannot vouch for the air (stale, faulty, warming
    up): zones that require continuous monitoring treat that as unsafe.
    """

    safe: bool
    monitoring_ok: bool
    reasons: tuple[ReasonCode, ...] = ()
    latched: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    monitored: frozenset[str] | None = None
    """The gases the installed fixed monitors judge (``gas_tests.canonical_gas`` names: every
    combustible as ``lel``); None when the source does not say (a test double)."""


class AirSource(Protocol):
    """What judges the air (the exposure engine; ``NoAirData`` when no sensor is installed)."""

    def air_verdict(self) -> AirVerdict:
        """The air now; must not block."""


@dataclass(frozen=True, slots=True)
class PositionVerdict:
    """Where the terminal stands. ``ok`` False denies; ``warn`` admits with a warning."""

    ok: bool
    reason: ReasonCode | None = None
    warn: bool = False
    position: Position | None = None
    details: dict[str, Any] = field(default_factory=dict)


class PositionSource(Protocol):
    """What judges the terminal's position (the geofence policy)."""

    def position_verdict(self) -> PositionVerdict:
        """Where the terminal stands now; must not block."""


@dataclass(frozen=True, slots=True)
class IdentityResult:
    """Outcome of checking the face in front of the camera against the badge owner.

    ``match`` True only when the face is the owner's. On a mismatch, ``seen_worker_id`` names who
    it really is when the 1:N search found them. ``reason`` is set whenever ``match`` is False.
    """

    match: bool
    reason: ReasonCode | None = None
    seen_worker_id: str | None = None
    distance: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


class IdentityVerifier(Protocol):
    """What checks that the badge holder is the worker (face; badge-only stand-in)."""

    async def verify(self, worker: Worker, badge_id: str) -> IdentityResult:
        """Check the person at the terminal against ``worker``; may raise (the gate then denies)."""


# ---- sources used when a capability is not configured (documented, never silently "fine")


class NoAirData:
    """No gas sensors configured: the air cannot be vouched for."""

    def air_verdict(self) -> AirVerdict:
        """Monitoring not OK (``NO_AIR_DATA``): work needing it cannot start."""
        return AirVerdict(safe=True, monitoring_ok=False, reasons=(ReasonCode.NO_AIR_DATA,))


class PositionNotRequired:
    """The zone does not require a GPS fix."""

    def position_verdict(self) -> PositionVerdict:
        """Always OK: no fence to check."""
        return PositionVerdict(ok=True, details={"gps": "not required"})


class BadgeOnlyIdentity:
    """Face verification switched off by configuration: the badge alone identifies the worker."""

    async def verify(self, worker: Worker, badge_id: str) -> IdentityResult:
        """A match: the badge alone identifies the worker."""
        return IdentityResult(match=True, details={"identity": "badge only"})


@dataclass
class FixedAir:
    """A settable air source for tests and the no-sensor demo step."""

    verdict: AirVerdict = field(default_factory=lambda: AirVerdict(safe=True, monitoring_ok=True))

    def air_verdict(self) -> AirVerdict:
        """The verdict last set."""
        return self.verdict
