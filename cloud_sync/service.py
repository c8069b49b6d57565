"""The MQTT sync capability as a daemon service: link + outbox + commands."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib.metadata
import json
import logging
import math
from typing import TYPE_CHECKING, Any

import aiomqtt

from cloud_sync.commands import VERSIONS_TABLE, CommandProcessor
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
from cloud_sync.payloads import Birth, JournalPosition
from cloud_sync.signing import Verifier
from cloud_sync.topics import DeviceTopics
from edge.event_payloads import Snapshot

if TYPE_CHECKING:
    from edge.clock import Clock
    from edge.journal import Journal
    from edge.registry import Registry
    from edge.telemetry import Telemetry
    from edge.zone import ZoneController

log = logging.getLogger("zonegate.mqtt")

# Sections a remote config change may never touch: they could cut the device off its own
# link or storage with no way back (peer-lessons L9).

REPLY_WINDOW = 64  # replies awaiting their PUBACK at once

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


BIRTH_CHECK_S = 1.0
BACKLOG_CHECK_S = 5.0  # how often live telemetry asks how large the journal backlog is


def birth_facts(birth: Birth) -> dict[str, object]:
    """The facts of a birth whose change makes it stale, by name (the refresh's ``reason``).

    Readings' values, health counters and the backlog are left out: they change all the time
    and are refreshed by the periodic birth instead.
    """
    snap = birth.snapshot
    if snap is None:
        return {"clock": birth.wall_trusted, "documents": birth.documents, "snapshot": None}
    return {
        "clock": (snap.clock.trusted, snap.clock.source),
        "sensors": (
            snap.air.safe,
            snap.air.monitoring_ok,
            snap.air.latched,
            tuple(snap.air.reasons),
            tuple((p.sensor_id, p.reason) for p in snap.air.details.sensors),
            tuple(
                (a.sensor_id, a.gas, a.channel, a.active, a.acknowledged)
                for a in snap.air.details.alarms
            ),
        ),
        "permits": tuple((p.permit_id, p.version, p.status.value) for p in snap.permits),
        "documents": tuple(birth.documents.items()),
        "presence": tuple((e.worker_id, e.permit_id) for e in snap.presence),
        "locked": tuple(snap.locked),
        "light": snap.light,
        "position": (snap.position.ok, snap.position.reason),
    }


def versions() -> dict[str, str]:
    """Software and wire-schema versions, for the birth."""
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
        telemetry: Telemetry | None = None,
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
        self.link: Link | None = None
        # Replies in flight: a command is handled (journaled) before the next one, but its reply
        # need not hold the intake up for a broker round trip.
        self._replies: set[asyncio.Task[None]] = set()
        self._reply_slots = asyncio.Semaphore(REPLY_WINDOW)
        self.outbox: Outbox | None = None
        self.commands: CommandProcessor | None = None
        self.birth_refreshes = 0
        self.telemetry = telemetry
        # Live samples wait here for the publisher; if it falls behind, the oldest go first.
        self._live: collections.deque[list[dict[str, Any]]] = collections.deque(maxlen=4)
        self._live_wake = asyncio.Event()
        self.live_counts: collections.Counter[str] = collections.Counter()
        self._birth_wake = asyncio.Event()
        # What the last published birth said, compared with the state now.
        self._published_facts: dict[str, object] | None = None
        self._published_at = 0.0

    async def run(self) -> None:
        """Run link, outbox, commands, birth refresher and live telemetry until cancelled."""
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
            on_event=outbox.notify,
            replay=self._replay,
        )
        self.link = Link(
            self.settings,
            self.topics,
            self.journal.boot_id,
            outbox.drain,
            self._connect_birth,
            on_message=self._on_command,
            priority=self._command_priority,
        )
        self.controller.event_listeners.append(outbox.notify)
        self.controller.event_listeners.append(self._state_may_change)
        if self.telemetry is not None:
            self.telemetry.listeners.append(self._on_live)
        try:
            async with self.link, asyncio.TaskGroup() as tg:
                tg.create_task(outbox.housekeeping(), name="outbox-housekeeping")
                tg.create_task(self._report_health(), name="mqtt-health")
                tg.create_task(self._keep_birth_current(), name="mqtt-birth")
                if self.telemetry is not None:
                    tg.create_task(self._publish_live(self.telemetry), name="mqtt-telemetry")
                await self.link.serve_forever()
        finally:
            self.controller.event_listeners.remove(outbox.notify)
            self.controller.event_listeners.remove(self._state_may_change)
            if self.telemetry is not None:
                self.telemetry.listeners.remove(self._on_live)
            for task in list(self._replies):
                task.cancel()
            await asyncio.gather(*self._replies, return_exceptions=True)

    def _on_live(self, samples: list[dict[str, Any]]) -> None:
        self._live.append(samples)
        self._live_wake.set()

    async def _publish_live(self, telemetry: Telemetry) -> None:
        """Send each interval's live samples at QoS 0 while connected; thin them first while
        a journal backlog drains (alarms and permit events need the uplink more)."""
        assert self.link is not None
        cfg = telemetry.cfg
        loop = asyncio.get_running_loop()
        interval = 0
        backlog, backlog_at = 0, -math.inf
        while True:
            await self._live_wake.wait()
            self._live_wake.clear()
            while self._live:
                samples = self._live.popleft()
                interval += 1
                if not self.link.connected:
                    self.live_counts["offline"] += len(samples)
                    continue
                every = 1
                if cfg.thin_above > 0:
                    if loop.time() - backlog_at >= BACKLOG_CHECK_S:
                        # A COUNT over the pending index, off the loop; a backlog changes
                        # slowly, so a few seconds old is fresh enough to decide on thinning.
                        pending = await asyncio.to_thread(self.journal.pending_count)
                        backlog, backlog_at = sum(pending.values()), loop.time()
                    if backlog > cfg.thin_above:
                        every = cfg.thin_factor
                if interval % every:
                    self.live_counts["thinned"] += len(samples)
                    continue
                try:
                    for sample in samples:
                        body = {"v": 1, "boot_id": self.journal.boot_id, **sample, "every": every}
                        topic = self.topics.telemetry_live(str(sample["sensor_id"]))
                        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                        if await self.link.publish_live(topic, data):
                            self.live_counts["published"] += 1
                except aiomqtt.MqttError as err:  # QoS 0: lost, never resent; the link heals
                    self.live_counts["failed"] += 1
                    log.debug("live telemetry not sent: %s", err)

    def _state_may_change(self, _event: object) -> None:
        # A journal event (permit change, access, command, fault) may change the birth's
        # facts; the refresher looks at once instead of at its next tick.
        self._birth_wake.set()

    async def _keep_birth_current(self) -> None:
        """Republish the retained birth (and state topics) whenever a fact in it changed.

        The facts compared (``birth_facts``): clock trust, the air and each sensor's health,
        permit ids / versions / statuses, accepted document versions, who is inside, locked
        badges, the light and the position verdict. Checked on every journal event and every
        ``BIRTH_CHECK_S`` (the clock changes trust without an event), published at most once
        per check; and every ``birth_refresh_s`` regardless, so health and backlog stay fresh.
        Reading and publishing are not atomic against the outbox's own state publishes; a
        stale read is noticed and corrected at the next check.
        """
        assert self.link is not None
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(BIRTH_CHECK_S):
                    await self._birth_wake.wait()
            self._birth_wake.clear()
            if not self.link.connected:
                continue
            try:
                birth = self._birth(self.link.connection)
                facts = birth_facts(birth)
                last = self._published_facts
                changed = [k for k, v in facts.items() if last is None or last.get(k) != v]
                periodic = loop.time() - self._published_at >= self.cfg.birth_refresh_s
                if not changed and not periodic:
                    continue
                birth = birth.model_copy(update={"reason": ",".join(changed) or "periodic"})
                if await self.link.refresh_birth(birth):
                    self._published_facts, self._published_at = facts, loop.time()
                    self.birth_refreshes += 1
            except aiomqtt.MqttError as err:
                log.warning("birth refresh failed: %s", err)  # the link reconnects
            except Exception:  # the refresher must never stop the service
                log.exception("birth refresh failed")

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
        await self._reply_slots.acquire()
        task = asyncio.create_task(
            self._send_reply(client, reply_topic, reply.model_dump_json()), name="mqtt-reply"
        )
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    async def _send_reply(self, client: BrokerClient, topic: str, body: str) -> None:
        # The command was handled and journaled whatever happens here: a reply lost with the
        # connection is logged; central still sees the command_accepted/rejected event.
        try:
            async with asyncio.timeout(self.cfg.publish_timeout_s):
                await client.deliver(topic, body)
        except (PublishRefused, PacketTooLarge, TimeoutError, aiomqtt.MqttError) as err:
            log.warning("reply on %s not delivered: %s", topic, err)
        finally:
            self._reply_slots.release()

    def _connect_birth(self, connection: int) -> Birth:
        """The birth the link publishes at each connect: the refresher's new baseline."""
        birth = self._birth(connection)
        self._published_facts = birth_facts(birth)
        self._published_at = asyncio.get_running_loop().time()
        return birth

    def _birth(self, connection: int, reason: str = "connect") -> Birth:
        snapshot: Snapshot | None = None
        error: str | None = None
        try:
            snapshot = Snapshot.model_validate(self.controller.snapshot())
        except Exception as err:  # a broken snapshot must not keep the link down
            log.exception("snapshot failed")
            error = f"{type(err).__name__}: {err}"[:500]
        return Birth(
            site=self.topics.site,
            device=self.topics.device,
            boot_id=self.journal.boot_id,
            connection=connection,
            at=self.clock.wall(),
            wall_trusted=self.clock.trust().trusted,
            snapshot=snapshot,
            snapshot_error=error,
            versions=versions(),
            health={k: dict(v) for k, v in self.health.items()},
            backlog={lane.value: n for lane, n in self.journal.pending_count().items()},
            documents=self._documents(),
            journal=JournalPosition(boot_id=self.journal.boot_id, last_seq=self.journal.last_seq),
            reason=reason,
        )

    def _documents(self) -> dict[str, int]:
        """The last accepted ``doc_version`` per document key, as the command processor keeps
        them: what central reads back to know which versions this gateway holds."""
        out: dict[str, int] = {}
        for doc in self.registry.docs(VERSIONS_TABLE):
            key, version = doc.get("key"), doc.get("version")
            if isinstance(key, str) and isinstance(version, int):
                out[key] = version
        return dict(sorted(out.items()))

    def _replay(self, boot_id: str, first_seq: int, last_seq: int) -> tuple[int, int, int]:
        found = self.journal.requeue(boot_id, first_seq, last_seq)
        if self.outbox is not None and found[0]:
            self.outbox.rewind()
        return found

    def _permit_state(self, permit_id: str) -> dict[str, Any] | None:
        permit = self.registry.permit(permit_id)
        return permit.model_dump(mode="json") if permit else None

    async def _report_health(self) -> None:
        while True:
            entry: dict[str, object] = {}
            if self.link is not None:
                entry.update(self.link.health())
            if self.outbox is not None:
                entry.update(self.outbox.health())
            if self.commands is not None:
                entry["commands"] = dict(self.commands.counts)
            entry["telemetry_live"] = dict(self.live_counts)
            entry["birth_refreshes"] = self.birth_refreshes
            try:
                entry["backlog"] = {
                    lane.value: n for lane, n in self.journal.pending_count().items()
                }
            except Exception as err:  # health reporting must never stop the service
                entry["backlog"] = f"unavailable: {err}"
            self.health[self.name] = entry
            await asyncio.sleep(5)
