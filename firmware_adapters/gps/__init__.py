"""GPS adapter: an asyncio client of gpsd's JSON protocol (see ``client``) and its config."""

from firmware_adapters.gps.client import (
    ClientStats,
    GpsdClient,
    GpsdError,
    GpsdSession,
    GpsdTimeout,
    Report,
    Sky,
    SkySatellite,
)

__all__ = [
    "ClientStats",
    "GpsdClient",
    "GpsdError",
    "GpsdSession",
    "GpsdTimeout",
    "Report",
    "Sky",
    "SkySatellite",
]
