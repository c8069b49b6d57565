"""What every gas adapter offers the core: readings into a sink, counters, and survival.

An adapter owns one port. ``run(sink)`` runs until cancelled: it opens the port, reconnects
with capped, jittered backoff when the port disappears (USB unplug), and calls ``sink`` with
every ``Reading``, stamped with the time its frame was received. It never raises for a peer's
failure; it counts it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

from firmware_adapters.errors import DeviceError
from firmware_adapters.readings import Reading

ReadingSink = Callable[[Reading], None]


class AdapterError(DeviceError):
    """A port or protocol failure, translated from serial / Modbus exceptions."""


@dataclass
class AdapterStats:
    """Counters a technician reads in ``zonegate status``; every rejected frame is counted."""

    frames_ok: int = 0
    checksum_errors: int = 0
    framing_errors: int = 0
    rejected_frames: int = 0  # well-formed but unusable (wrong gas, unknown unit)
    bytes_discarded: int = 0
    read_errors: int = 0  # Modbus: timeouts and exception replies
    opens: int = 0
    disconnects: int = 0
    connected: bool = False
    last_error: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The counters as a JSON-ready dict (field name -> value)."""
        return asdict(self)


class GasAdapter(Protocol):
    """One port and the sensors behind it."""

    name: str
    stats: AdapterStats

    @property
    def sensor_ids(self) -> tuple[str, ...]:
        """Ids of the configured sensors behind this port (one, or every device on a bus)."""

    async def run(self, sink: ReadingSink) -> None:
        """Read until cancelled, calling ``sink`` with every reading; never raises for the peer."""
