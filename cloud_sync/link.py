"""The MQTT session to the broker: TLS, last will, birth, reconnect that never gives up.

aiomqtt 2.x has no reconnect (reference/mqtt.md §1.3): a supervisor task enters a fresh client
per connection, announces ``online`` (retained) and the birth snapshot, runs the caller's
session, and on any failure waits a capped, jittered exponential delay and tries again, forever
(peer-lessons L5). A fresh client per connection also drops paho's in-memory copies of
unacknowledged publishes, so the durable outbox is the only source of retries.

MQTT 5, because 3.1.1 cannot say what went wrong (issue 12 items 1 and 2, issue 16 item 3):

- a PUBACK carries a reason code, so a publish the broker refuses (ACL, ``message_size_limit``)
  is seen as refused instead of "acknowledged" and never stamped delivered;
- the CONNACK carries the broker's ``max_packet_size``, so nothing larger is ever sent;
- a DISCONNECT carries a reason, so a session taken over by a second client with our id is
  named as such in the log, ``status`` and selftest;
- Receive Maximum plus manual acknowledgement give back-pressure on commands: the broker sends
  at most ``receive_window`` unacknowledged commands and keeps the rest queued; a command is
  acknowledged only after it was handled (journaled and replied), so a command the broker
  counts as delivered is never lost in a client queue.

Backoff resets only when a connection proved healthy (stayed up ``healthy_after_s``), never on
a CONNACK alone: a broker that closes right after accepting is retried at growing delays, and
the cause is diagnosed (``LinkDiagnosis``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, Literal

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from cloud_sync.errors import SyncError
from cloud_sync.payloads import Birth, PermitState, PresenceState, Status
from cloud_sync.topics import DeviceTopics
from firmware_adapters.backoff import Backoff

log = logging.getLogger("zonegate.mqtt")

# The MQTT 5 reason codes a PUBACK may carry (MQTT 5.0 §3.4.2.1). mosquitto 2.0 also answers
# 0x95 "packet too large" for a publish over message_size_limit, which paho 2.x rejects as a
# protocol error and closes the connection on; see BrokerClient._guard_puback.
PUBACK_CODES = frozenset({0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99})
RC_NOT_AUTHORIZED = 0x87
RC_SESSION_TAKEN_OVER = 0x8E
RC_PACKET_TOO_LARGE = 0x95
RC_QUOTA_EXCEEDED = 0x97
SIZE_REFUSALS = frozenset({RC_PACKET_TOO_LARGE, RC_QUOTA_EXCEEDED, 0x83})
"""PUBACK reasons mosquitto gives for a payload over its limits (0x83 on some versions)."""

QOS0_QUEUE_LIMIT = 1_000  # QoS 0 has no acknowledgement to withhold: beyond this it is dropped


class LinkRefused(SyncError):
    """Connected, but the broker will not carry our messages (credentials or ACL)."""


class PublishRefused(SyncError):
    """The broker answered a publish with a failure reason code: it was not accepted."""

    def __init__(self, topic: str, size: int, code: int, reason: str) -> None:
        super().__init__(f"broker refused {size} bytes on {topic}: 0x{code:02X} {reason}")
        self.topic = topic
        self.size = size
        self.code = code
        self.reason = reason

    @property
    def too_large(self) -> bool:
        """Whether the broker refused the publish for its size."""
        return self.code in SIZE_REFUSALS


class PacketTooLarge(SyncError):
    """A publish would exceed the broker's advertised maximum packet size; it was not sent."""


class LinkDiagnosis(StrEnum):
    """Why the link is not (stably) up. Shown in ``status``, the log and selftest."""

    OK = "OK"
    UNREACHABLE = "BROKER_UNREACHABLE"
    NOT_AUTHORIZED = "BROKER_NOT_AUTHORIZED"
    ACL_REFUSED = "BROKER_ACL_REFUSED"
    SESSION_TAKEN_OVER = "SESSION_TAKEN_OVER"
    CLOSED_AFTER_ACCEPT = "CLOSED_AFTER_ACCEPT"
    DROPPED = "CONNECTION_DROPPED"


DIAGNOSIS_TEXT: dict[LinkDiagnosis, tuple[str, str]] = {
    LinkDiagnosis.OK: ("连接正常", "connected"),
    LinkDiagnosis.UNREACHABLE: (
        "无法连接消息服务器（地址、端口、网络或 TLS 证书）",
        "cannot reach the broker (host, port, network or TLS certificate)",
    ),
    LinkDiagnosis.NOT_AUTHORIZED: (
        "消息服务器拒绝登录：用户名或密码错误",
        "the broker refused the login: wrong user name or password",
    ),
    LinkDiagnosis.ACL_REFUSED: (
        "消息服务器不允许本设备发布：用户名必须等于设备号（见 zonegate.acl）",
        "the broker ACL refuses our topics: the user name must equal the device id",
    ),
    LinkDiagnosis.SESSION_TAKEN_OVER: (
        "另一台设备使用同一客户端 ID 连接，会话被接管（是否复制了 SD 卡？）",
        "another client connected with the same client id and took the session over "
        "(a cloned SD card or a second gateway with this device id?)",
    ),
    LinkDiagnosis.CLOSED_AFTER_ACCEPT: (
        "消息服务器接受连接后立即断开（检查服务器日志：客户端 ID 冲突、ACL、报文大小）",
        "the broker closes the connection right after accepting it (see the broker log: "
        "duplicate client id, ACL, packet size)",
    ),
    LinkDiagnosis.DROPPED: ("与消息服务器的连接中断", "the connection to the broker dropped"),
}


Session = Callable[["BrokerClient"], Coroutine[Any, Any, None]]
"""Runs while connected; returning or raising ends the connection (then it is re-made)."""

BirthBuilder = Callable[[int], Birth]
"""Build the birth snapshot for connection number ``n``."""

MessageHandler = Callable[["BrokerClient", aiomqtt.Message], Awaitable[None]]
"""Handles one inbound message (commands); acknowledged to the broker when it returns."""

MessagePriority = Callable[[str], int]
"""Order of handling for an inbound topic: lower first (safety commands jump the queue)."""


@dataclass(frozen=True)
class LinkSettings:
    """Everything needed to open one connection."""

    host: str
    port: int
    client_id: str
    tls_context: ssl.SSLContext | None = None
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30
    publish_timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    inflight_window: int = 32
    clean_session: bool = False
    session_expiry_s: int = 14 * 24 * 3600
    receive_window: int = 32
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    healthy_after_s: float = 10.0
    subscriptions: tuple[str, ...] = field(default=())


def tls_context(
    ca_file: str | None, cert_file: str | None = None, key_file: str | None = None
) -> ssl.SSLContext:
    """A client TLS context verifying the broker (and presenting a certificate if given)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


def publish_packet_size(topic: str, payload_len: int) -> int:
    """Bytes of an MQTT 5 QoS 1 PUBLISH without properties (MQTT 5.0 §3.3)."""
    remaining = 2 + len(topic.encode("utf-8")) + 2 + 1 + payload_len
    length_bytes = 1 if remaining < 128 else 2 if remaining < 16_384 else 3
    return 1 + length_bytes + remaining


class BrokerClient(aiomqtt.Client):
    """aiomqtt's client plus what aiomqtt 2.x drops: PUBACK and DISCONNECT reason codes, the
    broker's maximum packet size, and manual acknowledgement of inbound messages.

    ``deliver`` is the publish to use: it returns on a successful PUBACK and raises
    ``PublishRefused`` on a failed one, ``PacketTooLarge`` before sending what the broker
    announced it would not take.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_packet_size: int | None = None
        self.disconnect_code: int | None = None
        self.qos0_dropped = 0
        self._deliveries: dict[int, asyncio.Future[int]] = {}
        self._odd_pubacks: dict[int, int] = {}
        self._client.manual_ack_set(True)
        paho_client = self._client
        original = paho_client._handle_pubackcomp

        def guard(cmd: Literal["PUBACK", "PUBCOMP"]) -> MQTTErrorCode:
            return self._guard_puback(paho_client, original, cmd)

        paho_client._handle_pubackcomp = guard  # type: ignore[method-assign]

    def _guard_puback(
        self,
        paho_client: paho.Client,
        original: Callable[[Literal["PUBACK", "PUBCOMP"]], MQTTErrorCode],
        cmd: Literal["PUBACK", "PUBCOMP"],
    ) -> MQTTErrorCode:
        # mosquitto 2.0 answers a publish over message_size_limit with PUBACK 0x95, a code
        # MQTT 5 allows only on CONNACK/DISCONNECT; paho 2.x then fails the whole connection
        # and the refusal is lost. Remember the real code and hand paho a legal failure code
        # (0x80) so the refusal reaches ``deliver`` with the connection intact.
        packet = paho_client._in_packet["packet"]
        if cmd == "PUBACK" and len(packet) > 2 and packet[2] not in PUBACK_CODES:
            self._odd_pubacks[int.from_bytes(packet[:2], "big")] = packet[2]
            paho_client._in_packet["packet"] = bytearray(packet[:2]) + b"\x80" + packet[3:]
        return original(cmd)

    async def deliver(
        self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish and wait for the broker's verdict (no timeout: the link bounds the wait)."""
        body = payload.encode("utf-8") if isinstance(payload, str) else payload
        size = publish_packet_size(topic, len(body))
        if self.max_packet_size is not None and size > self.max_packet_size:
            raise PacketTooLarge(
                f"{size} bytes on {topic} > the broker's maximum packet {self.max_packet_size}"
            )
        info = self._client.publish(topic, body, qos, retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        if qos == 0:
            return
        # PUBACKs are read on this event loop, so none can arrive before the future exists.
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._deliveries[info.mid] = fut
        try:
            # A connection lost before the PUBACK must end the wait: during the announce no
            # receive loop is running yet to notice it (a takeover there hung the link).
            waiters: set[asyncio.Future[Any]] = {fut, self._disconnected}
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if not fut.done():
                raise aiomqtt.MqttError(f"disconnected before the PUBACK for {topic}")
            code = fut.result()
        finally:
            self._deliveries.pop(info.mid, None)
        if code >= 0x80:
            raise PublishRefused(topic, len(body), code, _reason_name(code))

    def ack(self, message: aiomqtt.Message) -> None:
        """Acknowledge an inbound message now that it was handled."""
        if message.qos > 0:
            self._client.ack(message.mid, message.qos)

    def _on_publish(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        fut = self._deliveries.get(mid)
        if fut is None:
            super()._on_publish(client, userdata, mid, reason_code, properties)
            return
        code = self._odd_pubacks.pop(mid, None)
        if not fut.done():
            fut.set_result(code if code is not None else int(reason_code.value))

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None = None,
    ) -> None:
        size = getattr(properties, "MaximumPacketSize", None) if properties else None
        self.max_packet_size = int(size) if size else None
        super()._on_connect(client, userdata, flags, reason_code, properties)

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None = None,
    ) -> None:
        # Only a DISCONNECT packet from the broker says why; a closed socket says nothing
        # (mosquitto 2.0.11 closes a taken-over MQTT 5 session without one).
        if self.disconnect_code is None and flags.is_disconnect_packet_from_server:
            self.disconnect_code = int(reason_code.value)
        super()._on_disconnect(client, userdata, flags, reason_code, properties)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        # The queue is unbounded for QoS 1/2: the broker bounds it (Receive Maximum), and
        # dropping there would lose a message the broker counts as delivered (issue 16.3).
        if message.qos == 0 and self._queue.qsize() >= QOS0_QUEUE_LIMIT:
            self.qos0_dropped += 1
            return
        super()._on_message(client, userdata, message)


def _reason_name(code: int) -> str:
    for packet in (PacketTypes.PUBACK, PacketTypes.DISCONNECT, PacketTypes.CONNACK):
        with contextlib.suppress(KeyError, ValueError):
            return str(ReasonCode(packet, identifier=code))
    return "unknown reason"


class Link:
    """An async context manager owning the connection supervisor.

    ``async with Link(...) as link: await link.wait_connected()``. On exit a retained
    ``offline`` is published first (a clean disconnect does not fire the will). A Link is
    entered once; a second ``async with`` raises ``RuntimeError``.
    """

    def __init__(
        self,
        settings: LinkSettings,
        topics: DeviceTopics,
        boot_id: str,
        session: Session,
        birth: BirthBuilder | None = None,
        on_message: MessageHandler | None = None,
        priority: MessagePriority | None = None,
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.boot_id = boot_id
        self._session = session
        self._birth = birth
        self._on_message = on_message
        self._priority = priority or (lambda _topic: 0)
        self.backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s)
        self.connection = 0
        self.connects = 0
        self.short_sessions = 0
        self.last_error: str | None = None
        self.diagnosis = LinkDiagnosis.UNREACHABLE
        self.healthy = False
        self.messages_handled = 0
        self._client: BrokerClient | None = None
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._disconnected.set()
        self._task: asyncio.Task[None] | None = None
        self._entered = False
        self._stopping = False
        self._up_at: float | None = None
        # Another boot publishing "online" as this device (same device id on two gateways):
        # (boot_id, connection) of its last status, and whether it was seen reconnecting.
        self._rival: tuple[str, int] | None = None
        self._rival_active = False
        self._rival_this_connection = False
        self.rival_boot_id: str | None = None

    # ---- state you can await

    @property
    def connected(self) -> bool:
        """Whether a session is up (announced, subscribed, birth published)."""
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Return once a session is up."""
        await self._connected.wait()

    async def wait_disconnected(self) -> None:
        """Return once no session is up."""
        await self._disconnected.wait()

    def health(self) -> dict[str, Any]:
        """Link state for ``status`` and selftest: diagnosis code and its words (zh, en)."""
        zh, en = DIAGNOSIS_TEXT[self.diagnosis]
        return {
            "connected": self.connected,
            "healthy": self.healthy,
            "connects": self.connects,
            "backoff_attempt": self.backoff.attempt,
            "short_sessions": self.short_sessions,
            "diagnosis": self.diagnosis.value,
            "diagnosis_zh": zh,
            "diagnosis_en": en,
            "last_error": self.last_error,
            "rival_boot_id": self.rival_boot_id,
            "commands_handled": self.messages_handled,
        }

    # ---- lifecycle

    async def __aenter__(self) -> Link:
        if self._entered:
            raise RuntimeError("a Link is entered once; make a new Link to connect again")
        self._entered = True
        self._task = asyncio.create_task(self._supervise(), name="mqtt-link")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        client = self._client
        if client is not None and self.connected:
            with contextlib.suppress(Exception):
                await client.publish(
                    self.topics.status, self._status("offline"), qos=1, retain=True, timeout=2
                )
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            # Cancel until it ends: aiomqtt waits with asyncio.wait_for, which on 3.11 can
            # swallow a cancellation that lands as its future completes (a CONNACK or a
            # disconnect racing the stop); the supervisor then looped on reconnecting after
            # "zonegate stopped" (issue 12.4b). _stopping also ends the loop at its next turn.
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=0.5)
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def serve_forever(self) -> None:
        """Wait on the supervisor (it only ends by cancellation)."""
        if self._task is None:
            raise RuntimeError("enter the Link context first")
        # Shielded: cancelling the caller must leave the connection up for __aexit__ to
        # announce "offline" before it stops the supervisor.
        await asyncio.shield(self._task)

    # ---- the supervisor

    async def _supervise(self) -> None:
        while not self._stopping:
            self._up_at = None
            client: BrokerClient | None = None
            try:
                client = self._make_client()
                await self._connect_once(client)
                self.last_error = "session ended"
            except asyncio.CancelledError:
                raise
            except Exception as err:  # every failure is retried; none ends the link (L5)
                self.last_error = _describe(err)
            finally:
                self._client = None
                self._connected.clear()
                self._disconnected.set()
            if self._stopping:
                return
            self._judge(client, self._up_at)
            delay = self.backoff.next_delay()
            log.warning(
                "mqtt link down [%s] %s; reconnect in %.2fs (attempt %d)",
                self.diagnosis.value,
                self.last_error,
                delay,
                self.backoff.attempt,
            )
            await asyncio.sleep(delay)

    def _judge(self, client: BrokerClient | None, up_at: float | None) -> None:
        """Name the cause of the drop; count connections that did not prove healthy."""
        code = client.disconnect_code if client is not None else None
        lived = math.inf if up_at is None else time.monotonic() - up_at
        if up_at is not None and lived < self.settings.healthy_after_s:
            self.short_sessions += 1
        elif up_at is not None:
            self.short_sessions = 0
        self.healthy = False
        error = self.last_error or ""
        rival = self._rival_active and self._rival_this_connection
        self._rival_this_connection = False
        if code == RC_SESSION_TAKEN_OVER or (rival and up_at is not None):
            self.diagnosis = LinkDiagnosis.SESSION_TAKEN_OVER
        elif "LinkRefused" in error:
            self.diagnosis = LinkDiagnosis.ACL_REFUSED
        elif "MqttConnectError" in error and ("authori" in error or "password" in error):
            self.diagnosis = LinkDiagnosis.NOT_AUTHORIZED
        elif up_at is None and self.connects == 0 and "MqttConnectError" not in error:
            self.diagnosis = (
                LinkDiagnosis.CLOSED_AFTER_ACCEPT
                if client is not None and client.disconnect_code is not None
                else LinkDiagnosis.UNREACHABLE
            )
        elif self.short_sessions >= 2:
            self.diagnosis = LinkDiagnosis.CLOSED_AFTER_ACCEPT
        elif up_at is None:
            self.diagnosis = LinkDiagnosis.UNREACHABLE
        else:
            self.diagnosis = LinkDiagnosis.DROPPED
        if code is not None and code != 0:
            self.last_error = f"{error} (broker: 0x{code:02X} {_reason_name(code)})"

    def _status(self, state: str) -> bytes:
        return (
            Status.model_validate(
                {
                    "state": state,
                    "site": self.topics.site,
                    "device": self.topics.device,
                    "boot_id": self.boot_id,
                    "connection": self.connection,
                }
            )
            .model_dump_json()
            .encode()
        )

    def _make_client(self) -> BrokerClient:
        s = self.settings
        self.connection += 1
        will = aiomqtt.Will(self.topics.status, self._status("offline"), qos=1, retain=True)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        # A session that outlives the connection keeps commands queued while we are away.
        props.SessionExpiryInterval = 0 if s.clean_session else s.session_expiry_s
        props.ReceiveMaximum = s.receive_window
        client = BrokerClient(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=s.client_id,
            keepalive=s.keepalive_s,
            will=will,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=s.clean_session,
            properties=props,
            tls_context=s.tls_context,
            # Bounds the wait for CONNACK (and SUBACK): a connect that hangs, e.g. on a socket
            # closed under it by a takeover, is retried instead of waited on.
            timeout=s.connect_timeout_s,
            max_inflight_messages=s.inflight_window,
            logger=log,
        )
        # We keep many publishes in flight on purpose; aiomqtt would warn above 10.
        client.pending_calls_threshold = s.inflight_window + 50
        return client

    async def _connect_once(self, client: BrokerClient) -> None:
        """Run one connection until it ends (always by an exception or cancellation)."""
        s = self.settings
        async with client:
            await self._announce(client)
            for topic in s.subscriptions:
                await client.subscribe(topic, qos=1)
            if self._birth is not None:
                await self._publish_birth(client, self._birth(self.connection))
            self._client = client
            self.connects += 1
            self._up_at = time.monotonic()
            self.last_error = None
            # A diagnosis of a fight (a rival with our id, a broker closing on us) holds until
            # this connection proves healthy: "connected" alone says nothing then.
            if not (self._rival_active or self.short_sessions >= 2):
                self.diagnosis = LinkDiagnosis.OK
            self._disconnected.clear()
            self._connected.set()
            log.info(
                "mqtt connected to %s:%d (connection %d, broker max packet %s)",
                s.host,
                s.port,
                self.connection,
                client.max_packet_size or "unlimited",
            )
            # The receive loop is also the disconnect detector: aiomqtt fails the message
            # iterator on disconnection but leaves pending publishes waiting, so a lost
            # broker cancels the session through this TaskGroup.
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._session(client), name="mqtt-session")
                tg.create_task(self._receive(client), name="mqtt-receive")
                tg.create_task(self._prove_healthy(), name="mqtt-health-proof")

    async def _prove_healthy(self) -> None:
        """Reset the backoff only once the connection has stayed up for a while."""
        await asyncio.sleep(self.settings.healthy_after_s)
        self.healthy = True
        self.short_sessions = 0
        self._rival_active = False
        self.diagnosis = LinkDiagnosis.OK
        self.backoff.reset()
        await asyncio.Event().wait()  # lives as long as the connection

    async def _announce(self, client: BrokerClient) -> None:
        """Publish ``online`` (retained); an ACL refusal is a failed PUBACK (MQTT 5).

        mosquitto acknowledges a denied publish; under 3.1.1 the PUBACK could not say so, and
        the link used to read its own status back to find out, which got stuck behind a
        backlog of queued commands (issue 16.3). MQTT 5's reason code says it directly.
        """
        # Subscribed before announcing: the retained status we get is the previous holder's
        # (a rival gateway with our id shows up here; see _note_status).
        await client.subscribe(self.topics.status, qos=1)
        try:
            await client.deliver(self.topics.status, self._status("online"), retain=True)
        except PublishRefused as err:
            raise LinkRefused(
                f"{err}: user {self.settings.username!r} may not write under "
                f"{self.topics.prefix}/ (the broker user name must equal the device id; "
                "see zonegate.acl)"
            ) from err

    async def _receive(self, client: BrokerClient) -> None:
        """Take inbound messages in priority order; acknowledge each once handled."""
        queue: asyncio.PriorityQueue[tuple[int, int, aiomqtt.Message]] = asyncio.PriorityQueue()
        order = itertools.count()

        async def read() -> None:
            async for message in client.messages:
                topic = str(message.topic)
                if topic == self.topics.status:
                    self._note_status(message)
                    client.ack(message)
                    continue
                queue.put_nowait((self._priority(topic), next(order), message))

        async def work() -> None:
            while True:
                _, _, message = await queue.get()
                if self._on_message is not None:
                    await self._on_message(client, message)
                client.ack(message)
                self.messages_handled += 1

        async with asyncio.TaskGroup() as tg:
            tg.create_task(read(), name="mqtt-read")
            tg.create_task(work(), name="mqtt-handle")

    def _note_status(self, message: aiomqtt.Message) -> None:
        """Our status topic as the broker has it: another boot that keeps reconnecting is a rival.

        A stale status of our own previous boot is seen once and never changes; a second
        gateway with our device id keeps reconnecting, so its ``connection`` number moves.
        """
        try:
            status = Status.model_validate_json(_payload_bytes(message.payload))
        except ValueError:
            return
        # Online or offline alike: a taken-over rival's will ("offline") is what the retained
        # status usually holds when we connect, and its connection number moves too.
        if status.boot_id == self.boot_id:
            return
        seen = (status.boot_id, status.connection)
        if self._rival is not None and self._rival[0] == seen[0] and self._rival != seen:
            if not self._rival_active:
                log.error(
                    "another gateway (boot %s) connects as %s with our client id: two "
                    "gateways share one device id (a cloned SD card?)",
                    status.boot_id,
                    self.topics.prefix,
                )
            self._rival_active = True
            self.rival_boot_id = status.boot_id
        self._rival = seen
        self._rival_this_connection = True

    async def publish_live(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 0 on the current connection (live telemetry): nothing is journaled
        or retried. Returns False when not connected; raises ``aiomqtt.MqttError`` on failure.
        """
        client = self._client
        if client is None or not self.connected:
            return False
        await client.deliver(topic, payload, qos=0)
        return True

    async def refresh_birth(self, birth: Birth) -> bool:
        """Publish a newer retained birth and its state topics on the current connection.

        Returns False when not connected (the next connect publishes a fresh birth anyway).
        Raises ``aiomqtt.MqttError`` when the publish fails; the session notices the loss.
        """
        client = self._client
        if client is None or not self.connected:
            return False
        await self._publish_birth(client, birth)
        return True

    async def _publish_birth(self, client: BrokerClient, birth: Birth) -> None:
        body = birth.model_dump_json()
        try:
            await client.deliver(self.topics.birth, body, retain=True)
        except (PacketTooLarge, PublishRefused) as err:
            # A snapshot the broker cannot take must not keep the link down: the birth goes
            # out without it (permit and presence state follow on their own topics).
            log.warning("birth snapshot too large for the broker: %s", err)
            slim = birth.model_copy(
                update={"snapshot": None, "snapshot_error": f"{len(body)} bytes: {err}"[:300]}
            )
            await client.deliver(self.topics.birth, slim.model_dump_json(), retain=True)
        if birth.snapshot is None:
            return
        for permit in birth.snapshot.permits:
            state = PermitState(at=birth.at, permit=permit)
            await client.deliver(
                self.topics.permit_state(permit.permit_id), state.model_dump_json(), retain=True
            )
        presence = PresenceState(at=birth.at, inside=birth.snapshot.presence)
        await client.deliver(self.topics.presence, presence.model_dump_json(), retain=True)


def _payload_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload or "").encode()


def _describe(err: BaseException) -> str:
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    return f"{type(err).__name__}: {err}"
