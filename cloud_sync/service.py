"""The MQTT sync capability as a daemon service: link + outbox + commands."""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
from typing import TYPE_CHECKING, Any

import aiomqtt
from pydantic import BaseModel, ValidationError

from cloud_sync.commands import CommandProcessor
from cloud_sync.config import MqttConfig
from cloud_sync.link import (
    BrokerClient,
    Link,
    LinkSettings,
    PacketTooLarge,
    PublishRefused,
    tls_context,
)
from cloud_sync.outbox import Outbox
from cloud_sync.payloads import Birth
from cloud_sync.signing import Verifier
from cloud_sync.topics import DeviceTopics

if TYPE_CHECKING:
    from edge.clock import Clock
    from edge.journal import Journal
    from edge.registry import Registry
    from edge.zone import ZoneController

log = logging.getLogger("zonegate.mqtt")

# Sections a remote config change may never touch: they could cut the device off its own
# link or storage with no way back (peer-lessons L9).
PROTECTED_SECTIONS = frozenset({"mqtt", "device", "storage", "zone"})

# Commands handled before others waiting in the intake window (they only take authority away).
SAFETY_COMMANDS = frozenset({"permit_revoke", "permit_suspend", "suspend", "zone_suspend"})


def link_settings(cfg: MqttConfig, topics: DeviceTopics) -> LinkSettings:
    """Connection settings from the config (reads the password file / credential)."""
    try:
        password = cfg.password()
    except OSError as err:
        raise ValueError(f"mqtt: cannot read the broker password: {err}") from err
    ctx = None
    if cfg.tls:
        ctx = tls_context(
            str(cfg.ca_file) if cfg.ca_file else None,
            str(cfg.cert_file) if cfg.cert_file else None,
            str(cfg.key_file) if cfg.key_file else None,
        )
    return LinkSettings(
        host=cfg.host,
        port=cfg.port,
        client_id=cfg.client_id or f"{topics.site}-{topics.device}",
        tls_context=ctx,
        username=cfg.username,
        password=password,
        keepalive_s=cfg.keepalive_s,
        publish_timeout_s=cfg.publish_timeout_s,
        inflight_window=cfg.inflight_window,
        backoff_initial_s=cfg.backoff_initial_s,
        backoff_max_s=cfg.backoff_max_s,
        healthy_after_s=cfg.healthy_after_s,
        receive_window=cfg.receive_window,
        subscriptions=(topics.cmd_filter,),
    )


def versions() -> dict[str, str]:
    out = {"wire": "1"}
    for dist in ("zonegate", "aiomqtt", "paho-mqtt"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


class SyncService:
    """Keeps the zone in sync with central until cancelled; survives any broker outage."""

    name = "mqtt"

    def __init__(
        self,
        *,
        cfg: MqttConfig,
        settings: LinkSettings,
        topics: DeviceTopics,
        verifier: Verifier,
        controller: ZoneController,
        registry: Registry,
        journal: Journal,
        clock: Clock,
        health: dict[str, dict[str, object]],
        config_sections: dict[str, type[BaseModel]] | None = None,
    ) -> None:
        self.cfg = cfg
        self.settings = settings
        self.topics = topics
        self.verifier = verifier
        self.controller = controller
        self.registry = registry
        self.journal = journal
        self.clock = clock
        self.health = health
        self.config_sections = config_sections or {}
        self.link: Link | None = None
        self.outbox: Outbox | None = None
        self.commands: CommandProcessor | None = None

    async def run(self) -> None:
        cfg = self.cfg
        outbox = Outbox(
            self.journal,
            self.topics,
            window=cfg.inflight_window,
            batch=cfg.batch_size,
            publish_timeout_s=cfg.publish_timeout_s,
            downsample_above=cfg.telemetry_downsample_above,
            downsample_window_s=cfg.telemetry_window_s,
            max_bulk_backlog=cfg.max_telemetry_backlog,
            max_message_bytes=cfg.max_message_bytes,
            permit_state=self._permit_state,
            presence=self.controller.inside,
        )
        self.outbox = outbox
        self.commands = CommandProcessor(
            target=self.controller,
            store=self.registry,
            journal=self.journal,
            verifier=self.verifier,
            topics=self.topics,
            clock=self.clock,
            max_bytes=cfg.max_command_bytes,
            config_check=self._check_config,
            on_event=outbox.notify,
        )
        self.link = Link(
            self.settings,
            self.topics,
            self.journal.boot_id,
            outbox.drain,
            self._birth,
            on_message=self._on_command,
            priority=self._command_priority,
        )
        self.controller.event_listeners.append(outbox.notify)
        try:
            async with self.link, asyncio.TaskGroup() as tg:
                tg.create_task(outbox.housekeeping(), name="outbox-housekeeping")
                tg.create_task(self._report_health(), name="mqtt-health")
                await self.link.serve_forever()
        finally:
            self.controller.event_listeners.remove(outbox.notify)

    def _command_priority(self, topic: str) -> int:
        # Commands that take authority away go first among those received: a flood of other
        # commands must not hold back a revoke (issue 16.3).
        name = self.topics.command_name(topic)
        return 0 if name in SAFETY_COMMANDS else 1

    async def _on_command(self, client: BrokerClient, message: aiomqtt.Message) -> None:
        assert self.commands is not None
        raw = message.payload
        payload = raw if isinstance(raw, bytes | bytearray) else str(raw or "").encode()
        reply_topic, reply = await self.commands.handle(str(message.topic), bytes(payload))
        try:
            await client.deliver(reply_topic, reply.model_dump_json())
        except (PublishRefused, PacketTooLarge) as err:
            # The command was handled and journaled; only the reply could not go.
            log.warning("reply to %s refused by the broker: %s", message.topic, err)

    def _birth(self, connection: int) -> Birth:
        try:
            snapshot = self.controller.snapshot()
        except Exception as err:  # a broken snapshot must not keep the link down
            log.exception("snapshot failed")
            snapshot = {"error": f"{type(err).__name__}: {err}"}
        return Birth(
            site=self.topics.site,
            device=self.topics.device,
            boot_id=self.journal.boot_id,
            connection=connection,
            at=self.clock.wall(),
            wall_trusted=self.clock.trust().trusted,
            snapshot=snapshot,
            versions=versions(),
            health={k: dict(v) for k, v in self.health.items()},
            backlog={lane.value: n for lane, n in self.journal.pending_count().items()},
        )

    def _permit_state(self, permit_id: str) -> dict[str, Any] | None:
        permit = self.registry.permit(permit_id)
        return permit.model_dump(mode="json") if permit else None

    def _check_config(self, section: str, values: dict[str, Any]) -> None:
        if section in PROTECTED_SECTIONS:
            raise ValueError(f"section {section!r} cannot be changed remotely")
        model = self.config_sections.get(section)
        if model is None:
            raise ValueError(f"unknown config section {section!r}")
        try:
            model.model_validate(values)
        except ValidationError as err:
            raise ValueError(str(err).splitlines()[0] + ": " + str(err.errors()[0]["msg"])) from err

    async def _report_health(self) -> None:
        while True:
            entry: dict[str, object] = {}
            if self.link is not None:
                entry.update(self.link.health())
            if self.outbox is not None:
                entry.update(self.outbox.health())
            if self.commands is not None:
                entry["commands"] = dict(self.commands.counts)
            try:
                entry["backlog"] = {
                    lane.value: n for lane, n in self.journal.pending_count().items()
                }
            except Exception as err:  # health reporting must never stop the service
                entry["backlog"] = f"unavailable: {err}"
            self.health[self.name] = entry
            await asyncio.sleep(5)
