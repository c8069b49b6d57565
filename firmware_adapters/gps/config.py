"""Configuration of the GPS / geofence capability (placeholder until it lands)."""

from __future__ import annotations

from pydantic import Field

from edge.configbase import Section


class GpsConfig(Section):
    """gpsd connection and the zone's position policy."""

    enabled: bool = Field(default=False, description="read the position from gpsd")
