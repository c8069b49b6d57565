"""The MQTT topic tree: the one place that knows topic strings.

``edge/v1/{site}/{device}/...`` for a device; a device's broker account writes only under its own
prefix and reads only its own ``cmd/`` (see config/mosquitto/acl). ``TOPICS`` describes every
topic for the generated documentation in docs/mqtt/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

ROOT = "edge/v1"
_LEVEL = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def valid_level(value: str) -> bool:
    """True when ``value`` can be one topic level (no wildcards, separators or ``$``)."""
    return bool(_LEVEL.match(value))


@dataclass(frozen=True, slots=True)
class DeviceTopics:
    """Topic names of one device."""

    site: str
    device: str

    def __post_init__(self) -> None:
        for name, value in (("site", self.site), ("device", self.device)):
            if not valid_level(value):
                raise ValueError(f"{name} {value!r} cannot be an MQTT topic level")

    @property
    def prefix(self) -> str:
        """``edge/v1/{site}/{device}``: every topic of this device is under it."""
        return f"{ROOT}/{self.site}/{self.device}"

    @property
    def status(self) -> str:
        """Retained ``online`` / ``offline`` (also the last will)."""
        return f"{self.prefix}/status"

    @property
    def birth(self) -> str:
        """Retained snapshot, republished at each connect and on every change."""
        return f"{self.prefix}/birth"

    def permit_state(self, permit_id: str) -> str:
        """Retained current state of one permit."""
        return f"{self.prefix}/state/permits/{_level(permit_id)}"

    @property
    def presence(self) -> str:
        """Retained list of who is inside."""
        return f"{self.prefix}/state/presence"

    def event(self, kind: str) -> str:
        """Journal events of one kind (alert, access, permit, ...)."""
        return f"{self.prefix}/event/{_level(kind)}"

    def telemetry(self, sensor: str) -> str:
        """Journaled history of one sensor's readings (``reading`` events)."""
        return f"{self.prefix}/telemetry/{_level(sensor)}"

    def detail(self, event_id: str, part: int) -> str:
        """Part ``part`` of the full payload of a summarised event."""
        return f"{self.prefix}/detail/{_level(event_id)}/{part}"

    def telemetry_live(self, sensor: str) -> str:
        """Live QoS 0 readings of one sensor (``TelemetrySample``)."""
        return f"{self.prefix}/telemetry/{_level(sensor)}/live"

    def cmd(self, name: str) -> str:
        """Signed commands from central, ``{name}`` = the envelope's ``type``."""
        return f"{self.prefix}/cmd/{_level(name)}"

    @property
    def cmd_filter(self) -> str:
        """The filter the device subscribes to for its commands."""
        return f"{self.prefix}/cmd/+"

    def reply(self, name: str) -> str:
        """The device's reply to one command."""
        return f"{self.prefix}/reply/{_level(name)}"

    def command_name(self, topic: str) -> str | None:
        """The ``{name}`` of one of this device's command topics, else None."""
        head = f"{self.prefix}/cmd/"
        if not topic.startswith(head):
            return None
        name = topic[len(head) :]
        return name if valid_level(name) else None


def central_status(site: str) -> str:
    """Retained: whether central is listening for a site."""
    return f"{ROOT}/{_level(site)}/central/status"


def replies_filter(name: str) -> str:
    """Central's filter for every device's reply to the command ``name``, across sites."""
    return f"{ROOT}/+/+/reply/{_level(name)}"


def _level(value: str) -> str:
    # Anything that cannot be a level is mapped, never passed through: a '#' or '/' from a
    # payload must not widen or redirect a topic.
    return value if valid_level(value) else "_invalid"


class Direction(StrEnum):
    """Who publishes on a topic."""

    UP = "device → central"
    DOWN = "central → device"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One row of the topic documentation."""

    name: str
    pattern: str
    qos: str
    retain: bool
    direction: Direction
    payload: str
    description: str


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        "status",
        f"{ROOT}/{{site}}/{{device}}/status",
        "1",
        True,
        Direction.UP,
        "Status",
        "`online` right after every connect; `offline` as the MQTT last will (and on a clean "
        "stop). `boot_id` and `connection` identify which boot and which connection the state "
        "belongs to, so a late will cannot overwrite a newer `online`.",
    ),
    TopicSpec(
        "birth",
        f"{ROOT}/{{site}}/{{device}}/birth",
        "1",
        True,
        Direction.UP,
        "Birth",
        "Full snapshot (zone, permits, presence, sensor health, versions) after every connect. "
        "The server's current truth even if it missed events.",
    ),
    TopicSpec(
        "permit state",
        f"{ROOT}/{{site}}/{{device}}/state/permits/{{permit_id}}",
        "1",
        True,
        Direction.UP,
        "PermitState",
        "Current state of one permit, refreshed at every birth and after each permit event.",
    ),
    TopicSpec(
        "presence",
        f"{ROOT}/{{site}}/{{device}}/state/presence",
        "1",
        True,
        Direction.UP,
        "PresenceState",
        "Who is inside the zone now, refreshed at every birth and after each live access event.",
    ),
    TopicSpec(
        "event",
        f"{ROOT}/{{site}}/{{device}}/event/{{kind}}",
        "1",
        False,
        Direction.UP,
        "EventMessage",
        "One journal event (kind = alert, access, permit, gas_test, fault, command, system). "
        "Delivered at least once: deduplicate by `event_id`; `boot_id` + `seq` reveal gaps. "
        "Alarms and permit events are sent before access events, those before telemetry.",
    ),
    TopicSpec(
        "telemetry",
        f"{ROOT}/{{site}}/{{device}}/telemetry/{{sensor}}",
        "1",
        False,
        Direction.UP,
        "EventMessage",
        "History of sensor readings: journaled `reading` events (kind `telemetry`), one per "
        "sensor and gas every `telemetry.journal_interval_s` (default 60 s) with min / max / "
        "last over that interval; at least once, replayable, deduplicate by `event_id`. While "
        "a large backlog drains they are downsampled further (`sample`); `historical` marks a "
        "replay.",
    ),
    TopicSpec(
        "telemetry live",
        f"{ROOT}/{{site}}/{{device}}/telemetry/{{sensor}}/live",
        "0",
        False,
        Direction.UP,
        "TelemetrySample",
        "Live sensor readings for dashboards: one message per sensor every "
        "`telemetry.interval_s` (default 1 s) with min / max / last of each gas over the "
        "interval. QoS 0 and not journaled: a message lost is not resent (the history topic "
        "has the record). Sent only while connected, and thinned first (every "
        "`telemetry.thin_factor`-th interval, `every` says so) while a journal backlog drains.",
    ),
    TopicSpec(
        "event detail",
        f"{ROOT}/{{site}}/{{device}}/detail/{{event_id}}/{{part}}",
        "1",
        False,
        Direction.UP,
        "DetailPart",
        "The full payload of an event too large for one message (over `mqtt.max_message_bytes` "
        "or the broker's limit), in parts sent just before the event. The event itself then "
        "carries a summary payload and `detail` (parts, bytes, sha256): join the parts' "
        "base64 `data` in order and check the sha256 to get the original payload.",
    ),
    TopicSpec(
        "command",
        f"{ROOT}/{{site}}/{{device}}/cmd/{{name}}",
        "1",
        False,
        Direction.DOWN,
        "Envelope",
        "A command signed by central (Ed25519). `{name}` equals the envelope `type`. Rejected "
        "when unsigned, wrongly signed, replayed (version not newer), expired, malformed or "
        "oversized; every command gets a reply.",
    ),
    TopicSpec(
        "reply",
        f"{ROOT}/{{site}}/{{device}}/reply/{{name}}",
        "1",
        False,
        Direction.UP,
        "Reply",
        "The result of one command: accepted or the rejection reason.",
    ),
    TopicSpec(
        "central status",
        f"{ROOT}/{{site}}/central/status",
        "1",
        True,
        Direction.DOWN,
        "CentralStatus",
        "Whether central is listening (its own will sets `online: false`).",
    ),
)
