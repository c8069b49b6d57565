"""What adapters yield: one sensor reading, one GPS position report. No policy here.

The edge judges these (``edge.exposure``, ``edge.geofence``); ``edge.models`` re-exports them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    """Strict base: unknown fields are an error, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Reading(Model):
    """One value from one sensor channel, stamped where it was read (never restamped)."""

    sensor_id: str
    gas: str = Field(description="co, h2s, o2, lel, no2, so2, pm2_5, ...")
    value: float | None = Field(description="None when the frame carried no usable value")
    unit: Literal["ppm", "ppb", "mg/m3", "%vol", "%LEL", "ug/m3"]
    source_ts: datetime = Field(description="wall time the frame was received")
    mono_ts: float = Field(description="monotonic time the frame was received")
    fault: bool = False
    warming_up: bool = False
    over_range: bool = False
    full_scale: float | None = None


class Fix(Model):
    """A position from gpsd (TPV), before gating."""

    mode: int = Field(ge=0, le=3, description="0 unknown, 1 no fix, 2 2D, 3 3D")
    status: int = Field(default=1, description="gpsd TPV status; 8 = simulated")
    lat: float | None = None
    lon: float | None = None
    alt_m: float | None = None
    eph_m: float | None = Field(default=None, description="horizontal error estimate, metres")
    speed_mps: float | None = None
    track_deg: float | None = None
    time: datetime | None = Field(default=None, description="GPS time of the fix")
    mono_ts: float = Field(description="monotonic time the report was received")
    device: str | None = None
