"""The reference central side: sign and publish commands, watch the fleet.

``Fleet`` folds every message under ``edge/v1/+/+/#`` into a per-device view (online state,
permits, people inside, recent alerts) and deduplicates events by ``event_id``; ``watch`` keeps a
persistent session to the broker and reconnects forever.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
from pydantic import ValidationError

from cloud_sync.link import LinkSettings
from cloud_sync.payloads import (
    COMMAND_BODIES,
    OPEN_PAYLOAD,
    DetailPart,
    EventMessage,
    Reply,
    TelemetrySample,
    join_detail,
)
from cloud_sync.signing import Signer
from cloud_sync.topics import ROOT, DeviceTopics, central_status
from edge.event_payloads import validate_payload
from firmware_adapters.backoff import Backoff

log = logging.getLogger("zonegate.central")

FLEET_FILTER = f"{ROOT}/+/+/#"


def client_for(settings: LinkSettings, *, clean_session: bool | None = None) -> aiomqtt.Client:
    """An aiomqtt client for central (enter it with ``async with``)."""
    return aiomqtt.Client(
        settings.host,
        settings.port,
        username=settings.username,
        password=settings.password,
        identifier=settings.client_id,
        keepalive=settings.keepalive_s,
        clean_session=settings.clean_session if clean_session is None else clean_session,
        tls_context=settings.tls_context,
        timeout=settings.publish_timeout_s,
    )


# --------------------------------------------------------------------------------------------
# signing commands


def sign_command(
    signer: Signer,
    type_: str,
    body: dict[str, Any],
    doc_version: int,
    *,
    ttl: timedelta = timedelta(minutes=10),
    now: datetime | None = None,
    not_before: datetime | None = None,
) -> dict[str, Any]:
    """A signed envelope after checking ``body`` against the command's wire model."""
    model = COMMAND_BODIES.get(type_)
    if model is None:
        raise ValueError(f"unknown command type {type_!r}; one of {sorted(COMMAND_BODIES)}")
    checked = model.model_validate(body).model_dump(mode="json", exclude_unset=False)
    expires = (now or datetime.now(UTC)) + ttl
    return signer.envelope(type_, doc_version, expires, checked, not_before=not_before)


async def publish_command(
    settings: LinkSettings,
    site: str,
    device: str,
    envelope: dict[str, Any],
    *,
    wait_reply_s: float = 10.0,
) -> Reply | None:
    """Publish a signed command and wait for the device's reply (None if none in time)."""
    topics = DeviceTopics(site, device)
    name = str(envelope["type"])
    async with client_for(settings, clean_session=True) as client:
        await client.subscribe(topics.reply(name), qos=1)
        await client.publish(topics.cmd(name), json.dumps(envelope), qos=1)
        try:
            async with asyncio.timeout(wait_reply_s):
                async for message in client.messages:
                    try:
                        return Reply.model_validate_json(_bytes(message.payload))
                    except ValidationError:
                        continue
        except TimeoutError:
            return None
    return None


# --------------------------------------------------------------------------------------------
# the fleet view


@dataclass
class DeviceView:
    """What central knows of one device, built only from its messages."""

    site: str
    device: str
    online: bool | None = None
    boot_id: str | None = None
    connection: int = 0
    last_seen: datetime | None = None
    permits: dict[str, str] = field(default_factory=dict)
    inside: list[str] = field(default_factory=list)
    alerts: deque[str] = field(default_factory=lambda: deque(maxlen=5))
    events: int = 0
    duplicates: int = 0
    gaps: int = 0
    bad_payloads: int = 0
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Last live telemetry sample per sensor."""
    last_seq: dict[str, int] = field(default_factory=dict)
    last_reply: str | None = None


class Fleet:
    """Everything central knows, built only from what arrived on the broker."""

    def __init__(self, max_ids: int = 1_000_000) -> None:
        self.devices: dict[tuple[str, str], DeviceView] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._max_ids = max_ids
        self.bad_messages = 0
        self._parts: OrderedDict[str, list[DetailPart]] = OrderedDict()

    def full_payload(self, event_id: str) -> dict[str, Any] | None:
        """The full payload of a summarised event once all its detail parts arrived."""
        try:
            return join_detail(self._parts.get(event_id, []))
        except ValueError:
            return None

    def device(self, site: str, device: str) -> DeviceView:
        """The view of one device (created on first use)."""
        key = (site, device)
        if key not in self.devices:
            self.devices[key] = DeviceView(site, device)
        return self.devices[key]

    def apply(self, topic: str, payload: bytes) -> EventMessage | None:
        """Fold one message in; return the event if it is one not seen before. Never raises."""
        parts = topic.split("/")
        if len(parts) < 5 or "/".join(parts[:2]) != ROOT or parts[3] == "central":
            return None
        view = self.device(parts[2], parts[3])
        view.last_seen = datetime.now(UTC)
        rest = parts[4:]
        try:
            data = json.loads(payload) if payload else None
            return self._apply(view, rest, data, payload)
        except (ValueError, ValidationError, TypeError, KeyError, AttributeError):
            self.bad_messages += 1
            return None

    def _apply(
        self, view: DeviceView, rest: list[str], data: Any, payload: bytes
    ) -> EventMessage | None:
        head = rest[0]
        if head == "status" and isinstance(data, dict):
            self._status(view, data)
        elif head == "birth" and isinstance(data, dict):
            snap = data.get("snapshot") or {}  # None when it was too large or failed
            view.permits = {p["permit_id"]: p["status"] for p in snap.get("permits", [])}
            view.inside = [str(p.get("worker_id")) for p in snap.get("presence", [])]
        elif head == "state" and len(rest) == 3 and rest[1] == "permits" and data:
            view.permits[rest[2]] = data["permit"]["status"]
        elif head == "state" and rest[1:] == ["presence"] and data:
            view.inside = [str(p.get("worker_id")) for p in data.get("inside", [])]
        elif head == "reply" and isinstance(data, dict):
            verdict = "accepted" if data.get("accepted") else data.get("reason")
            view.last_reply = f"{data.get('command')}: {verdict}"
        elif head == "telemetry" and rest[2:] == ["live"] and isinstance(data, dict):
            view.live[rest[1]] = TelemetrySample.model_validate(data).model_dump(mode="json")
        elif head in ("event", "telemetry"):
            # An alarm with a payload field this central does not know yet is still an alarm:
            # it is kept and counted, not dropped (the envelope itself must be valid).
            msg = EventMessage.model_validate_json(payload, context=OPEN_PAYLOAD)
            if msg.detail is None:  # a summarised event's full payload comes in parts
                try:
                    validate_payload(msg.type, msg.payload)
                except ValidationError:
                    view.bad_payloads += 1
            return self._event(view, msg)
        elif head == "detail" and isinstance(data, dict):
            part = DetailPart.model_validate(data)
            self._parts.setdefault(part.event_id, []).append(part)
            while len(self._parts) > 1_000:  # bounded: parts of events long gone are dropped
                self._parts.popitem(last=False)
        return None

    def _status(self, view: DeviceView, data: dict[str, Any]) -> None:
        boot, conn = data.get("boot_id"), int(data.get("connection", 0))
        if (
            data.get("state") == "offline"
            and view.online
            and (boot != view.boot_id or conn < view.connection)
        ):
            # The will of an older connection or boot, arriving after a newer "online" (the
            # broker notices a dead connection only after 1.5 x keepalive).
            return
        view.online = data.get("state") == "online"
        view.boot_id, view.connection = boot, conn

    def _event(self, view: DeviceView, msg: EventMessage) -> EventMessage | None:
        if msg.event_id in self._seen:
            view.duplicates += 1
            return None
        self._seen[msg.event_id] = None
        if len(self._seen) > self._max_ids:
            self._seen.popitem(last=False)
        view.events += 1
        last = view.last_seq.get(msg.boot_id, 0)
        if msg.seq > last + 1 and last:
            view.gaps += 1  # may fill later: lanes are sent by priority, not by seq
        view.last_seq[msg.boot_id] = max(last, msg.seq)
        if msg.kind.value == "alert":
            view.alerts.append(f"{msg.wall_time:%H:%M:%S} {msg.type}")
        if msg.kind.value == "permit" and isinstance(msg.payload.get("permit_id"), str):
            to = msg.payload.get("to")
            if isinstance(to, str):
                view.permits[msg.payload["permit_id"]] = to
        return msg

    def rows(self) -> list[list[str]]:
        """The fleet as table rows (device, online, permits, inside, events, alerts)."""
        out = []
        for (site, dev), v in sorted(self.devices.items()):
            state = {True: "online", False: "OFFLINE", None: "?"}[v.online]
            permits = ", ".join(f"{k}:{s}" for k, s in sorted(v.permits.items())) or "-"
            out.append(
                [
                    f"{site}/{dev}",
                    state,
                    permits,
                    str(len(v.inside)),
                    f"{v.events} (+{v.duplicates} dup)",
                    "; ".join(v.alerts) or "-",
                ]
            )
        return out


async def watch(
    settings: LinkSettings,
    fleet: Fleet,
    *,
    on_event: Callable[[EventMessage], None] | None = None,
    on_message: Callable[[str], None] | None = None,
    ready: asyncio.Event | None = None,
    topic_filter: str = FLEET_FILTER,
) -> None:
    """Subscribe to the fleet with a persistent session and fold messages in, forever."""
    backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s)
    while True:
        try:
            async with client_for(settings) as client:
                await client.subscribe(topic_filter, qos=1)
                backoff.reset()
                if ready is not None:
                    ready.set()
                async for message in client.messages:
                    topic = str(message.topic)
                    event = fleet.apply(topic, _bytes(message.payload))
                    if event is not None and on_event is not None:
                        on_event(event)
                    if on_message is not None:
                        on_message(topic)
        except aiomqtt.MqttError as err:
            log.warning("central watcher disconnected: %s", err)
        await asyncio.sleep(backoff.next_delay())


async def announce(settings: LinkSettings, site: str, online: bool) -> None:
    """Publish central's retained status for a site."""
    async with client_for(settings, clean_session=True) as client:
        body = {"v": 1, "online": online, "at": datetime.now(UTC).isoformat()}
        await client.publish(central_status(site), json.dumps(body), qos=1, retain=True)


def _bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload if payload is not None else "").encode()
