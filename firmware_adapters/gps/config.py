"""The gpsd connection settings (the wire half of the ``gps:`` section).

The position policy (fix gate, geofence dwell and hysteresis, jump flags, GPS time trust) is
zone policy: ``edge.geofence.config.GpsConfig`` extends this class with it, so ``gps:`` stays
one flat YAML mapping.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from firmware_adapters.bilingual import BilingualValueError
from firmware_adapters.configbase import Section


class GpsdConfig(Section):
    """Whether and where to read gpsd, and how to reconnect (capped, jittered backoff).

    Raises ValueError (file:line from the loader) when ``reconnect_max_s`` is below
    ``reconnect_initial_s``.
    """

    enabled: bool = Field(default=False, description="read the position from gpsd")
    host: str = Field(default="127.0.0.1", min_length=1, description="gpsd host")
    port: int = Field(default=2947, ge=1, le=65535, description="gpsd TCP port")
    receive_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="reconnect when gpsd sends nothing for this long (it is silent with no device)",
    )
    reconnect_initial_s: float = Field(default=0.5, gt=0, description="first reconnect delay")
    reconnect_max_s: float = Field(default=30.0, gt=0, description="cap of the reconnect delay")

    @model_validator(mode="after")
    def _backoff(self) -> GpsdConfig:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise BilingualValueError(
                "reconnect_max_s must be at least reconnect_initial_s",
                "reconnect_max_s 不能小于 reconnect_initial_s",
            )
        return self
