"""Device topics read into rows for the store. Pure: no I/O, never raises on bad input.

Topics (``cloud_sync.topics``): ``edge/v1/{site}/{device}/event/{kind}`` and
``.../telemetry/{sensor}`` carry an ``EventMessage``; ``.../status`` a ``Status``; ``.../birth`` a
``Birth``; ``.../state/permits/{id}`` a ``PermitState``; ``.../state/presence`` a
``PresenceState``. An empty retained payload clears a state topic. Anything else becomes a
``Rejected`` row with the reason, so nothing that arrived is silently lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from cloud_sync.payloads import OPEN_PAYLOAD, EventMessage
from cloud_sync.topics import ROOT


@dataclass(frozen=True, slots=True)
class EventRow:
    """An event or journaled telemetry message of one device."""

    site: str
    device: str
    message: EventMessage


@dataclass(frozen=True, slots=True)
class StatusRow:
    """A device's retained online / offline status."""

    site: str
    device: str
    online: bool
    boot_id: str | None
    connection: int
    at: datetime | None


@dataclass(frozen=True, slots=True)
class BirthRow:
    """A device's retained birth (the whole message as JSON)."""

    site: str
    device: str
    at: datetime
    birth: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PermitRow:
    """A device's retained permit state (None: the retained message was cleared)."""

    site: str
    device: str
    permit_id: str
    at: datetime | None
    permit: dict[str, Any] | None
    """None when the retained state was cleared (the permit is gone from the device)."""


@dataclass(frozen=True, slots=True)
class PresenceRow:
    """A device's retained list of who is inside."""

    site: str
    device: str
    at: datetime | None
    inside: list[Any]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message the ingest could not read, kept with the reason."""

    topic: str
    reason: str
    payload: bytes


Row = EventRow | StatusRow | BirthRow | PermitRow | PresenceRow | Rejected

CENTRAL_LEVEL = "central"


def parse(topic: str, payload: bytes) -> Row | None:
    """One message as a row; None for topics the ingest does not store (commands, replies)."""
    parts = topic.split("/")
    if len(parts) < 5 or "/".join(parts[:2]) != ROOT or parts[3] == CENTRAL_LEVEL:
        return Rejected(topic, "not a device topic", payload)
    site, device, rest = parts[2], parts[3], parts[4:]
    try:
        return _parse(topic, site, device, rest, payload)
    except (ValueError, ValidationError, TypeError, KeyError) as err:
        return Rejected(topic, f"{type(err).__name__}: {str(err).splitlines()[0][:200]}", payload)


def _parse(topic: str, site: str, device: str, rest: list[str], payload: bytes) -> Row | None:
    head = rest[0]
    if head == "telemetry" and rest[2:] == ["live"]:
        return None  # live samples are for dashboards; the journaled history comes as events
    if head in ("event", "telemetry"):
        # The envelope must be valid; a payload field this ingest does not know yet must not
        # cost an alarm (the payload is stored as JSON either way).
        return EventRow(
            site, device, EventMessage.model_validate_json(payload, context=OPEN_PAYLOAD)
        )
    if head in ("cmd", "reply"):
        return None
    if head == "status" and len(rest) == 1:
        data = _object(payload)
        at = data.get("at")
        return StatusRow(
            site,
            device,
            online=data["state"] == "online",
            boot_id=data.get("boot_id"),
            connection=int(data.get("connection", 0)),
            at=datetime.fromisoformat(at) if isinstance(at, str) else None,
        )
    if head == "birth" and len(rest) == 1:
        data = _object(payload)
        return BirthRow(site, device, datetime.fromisoformat(data["at"]), data)
    if head == "state" and len(rest) == 3 and rest[1] == "permits":
        if not payload:
            return PermitRow(site, device, rest[2], None, None)
        data = _object(payload)
        permit = data["permit"]
        if not isinstance(permit, dict) or "status" not in permit:
            raise ValueError("permit state without a permit status")
        return PermitRow(site, device, rest[2], datetime.fromisoformat(data["at"]), permit)
    if head == "state" and rest[1:] == ["presence"]:
        if not payload:
            return PresenceRow(site, device, None, [])
        data = _object(payload)
        inside = data["inside"]
        if not isinstance(inside, list):
            raise ValueError("presence 'inside' is not a list")
        return PresenceRow(site, device, datetime.fromisoformat(data["at"]), inside)
    return Rejected(topic, "unknown device topic", payload)


def _object(payload: bytes) -> dict[str, Any]:
    data = json.loads(payload)
    if not isinstance(data, dict):
        raise TypeError("payload is not a JSON object")
    return data
