"""The ``gps:`` section: the gpsd connection (``firmware_adapters.gps.config``) and the zone's
position policy: the fix gate, the geofence state machine (dwell, hysteresis), jump flags and
GPS time trust. One flat YAML mapping, as before; the policy half lives here in ``edge``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from firmware_adapters.gps.config import GpsdConfig


class GpsConfig(GpsdConfig):
    """gpsd connection, fix gate, geofence state machine, jump flags and GPS time trust.

    The fence itself is the zone's ``geofence`` (``zone:`` section); this section says how strict
    the terminal is about the fixes it checks against it. Distances in metres, durations in
    seconds.
    """

    # ---- fix gate
    require_fix: bool = Field(
        default=True, description="a badge-in needs a valid fix inside the zone's fence"
    )
    min_mode: Literal[2, 3] = Field(default=2, description="2 = 2D fix suffices, 3 = need 3D")
    max_eph_m: float = Field(
        default=50.0, gt=0, description="reject fixes whose horizontal error estimate exceeds this"
    )
    allow_simulated: bool = Field(
        default=False, description="accept gpsd status 8 (simulated) fixes: demo only, never a site"
    )
    no_fix_after_s: float = Field(
        default=30.0, gt=0, description="without a valid fix for this long the position is unknown"
    )
    no_fix_policy: Literal["deny", "warn"] = Field(
        default="deny", description="what NO_GPS_FIX does to a badge-in where a fix is required"
    )

    # ---- geofence state machine
    dwell_samples: int = Field(
        default=3, ge=1, description="consecutive candidate fixes before enter / exit"
    )
    dwell_s: float = Field(
        default=10.0, gt=0, description="or this long of continuous candidacy, whichever is first"
    )
    hysteresis_min_m: float = Field(
        default=3.0, ge=0, description="half-width of the uncertain band around the fence boundary"
    )
    hysteresis_eph_factor: float = Field(
        default=1.0, ge=0, description="the band widens to this many times the fix's eph"
    )

    # ---- jump flags (suspect events, never silent drops)
    jump_distance_m: float = Field(
        default=30.0, gt=0, description="flag a fix this far from the predicted position"
    )
    jump_accel_mps2: float = Field(
        default=10.0, ge=0, description="allowed acceleration: adds a*dt^2/2 to the jump distance"
    )
    max_speed_mps: float = Field(
        default=50.0, gt=0, description="implied speed above this is implausible for a terminal"
    )
    speed_mismatch_mps: float = Field(
        default=10.0, gt=0, description="implied speed above reported speed by this is implausible"
    )
    time_slack_s: float = Field(
        default=5.0,
        gt=0,
        description="GPS time may run ahead of received time by this before it is a discontinuity",
    )

    # ---- GPS time and the system clock
    clock_fixes: int = Field(
        default=3, ge=1, description="consecutive 3D fixes before GPS time is believed"
    )
    clock_bound_s: float = Field(
        default=2.0, gt=0, description="warn when the system clock differs from GPS time by more"
    )
    position_time_bound_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="a fix whose time differs from a trusted clock (NTP, earlier GPS, or "
        "clock.assume_trusted) by more than this is not a position: a replayed or spoofed stream",
    )
