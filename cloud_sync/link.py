"""The MQTT session to the broker: TLS, last will, birth, reconnect that never gives up.

aiomqtt 2.x has no reconnect (reference/mqtt.md §1.3): a supervisor task enters a fresh
``aiomqtt.Client`` per connection, announces ``online`` (retained) and the birth snapshot, runs
the caller's session, and on any failure waits a capped, jittered exponential delay and tries
again, forever (peer-lessons L5). A fresh client per connection also drops paho's in-memory
copies of unacknowledged publishes, so the durable outbox is the only source of retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiomqtt

from cloud_sync.payloads import Birth, PermitState, PresenceState, Status
from cloud_sync.topics import DeviceTopics

log = logging.getLogger("zonegate.mqtt")

Session = Callable[[aiomqtt.Client], Coroutine[Any, Any, None]]
"""Runs while connected; returning or raising ends the connection (then it is re-made)."""

BirthBuilder = Callable[[int], Birth]
"""Build the birth snapshot for connection number ``n``."""

MessageHandler = Callable[[aiomqtt.Client, aiomqtt.Message], Awaitable[None]]
"""Handles one inbound message (commands); runs sequentially, in arrival order."""


class LinkRefused(Exception):
    """Connected, but the broker will not carry our messages (credentials or ACL)."""


class Backoff:
    """Capped exponential delays with jitter in [d/2, d]; ``reset`` after a good connection."""

    def __init__(self, initial_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        self.initial_s = initial_s
        self.cap_s = cap_s
        self.attempt = 0
        self._rng = rng or random.Random()  # noqa: S311 — jitter, not cryptography

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.initial_s * 2 ** min(self.attempt, 32))
        self.attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


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
    inflight_window: int = 32
    clean_session: bool = False
    max_queued_incoming: int = 1_000
    echo_timeout_s: float = 10.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 60.0
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


class Link:
    """An async context manager owning the connection supervisor.

    ``async with Link(...) as link: await link.wait_connected()``. On exit a retained
    ``offline`` is published first (a clean disconnect does not fire the will).
    """

    def __init__(
        self,
        settings: LinkSettings,
        topics: DeviceTopics,
        boot_id: str,
        session: Session,
        birth: BirthBuilder | None = None,
        on_message: MessageHandler | None = None,
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.boot_id = boot_id
        self._session = session
        self._birth = birth
        self._on_message = on_message
        self.backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s)
        self.connection = 0
        self.connects = 0
        self.last_error: str | None = None
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._disconnected.set()
        self._task: asyncio.Task[None] | None = None

    # ---- state you can await

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def wait_disconnected(self) -> None:
        await self._disconnected.wait()

    def health(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "connects": self.connects,
            "backoff_attempt": self.backoff.attempt,
            "last_error": self.last_error,
        }

    # ---- lifecycle

    async def __aenter__(self) -> Link:
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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def serve_forever(self) -> None:
        """Wait on the supervisor (it only ends by cancellation)."""
        if self._task is None:
            raise RuntimeError("enter the Link context first")
        # Shielded: cancelling the caller must leave the connection up for __aexit__ to
        # announce "offline" before it stops the supervisor.
        await asyncio.shield(self._task)

    # ---- the supervisor

    async def _supervise(self) -> None:
        while True:
            try:
                await self._connect_once()
                self.last_error = "session ended"
            except asyncio.CancelledError:
                raise
            except Exception as err:  # every failure is retried; none ends the link (L5)
                self.last_error = _describe(err)
                log.warning("mqtt link down: %s", self.last_error)
            finally:
                self._client = None
                self._connected.clear()
                self._disconnected.set()
            delay = self.backoff.next_delay()
            log.info("mqtt reconnect in %.2fs (attempt %d)", delay, self.backoff.attempt)
            await asyncio.sleep(delay)

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

    async def _connect_once(self) -> None:
        s = self.settings
        self.connection += 1
        will = aiomqtt.Will(self.topics.status, self._status("offline"), qos=1, retain=True)
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=s.client_id,
            keepalive=s.keepalive_s,
            will=will,
            clean_session=s.clean_session,
            tls_context=s.tls_context,
            timeout=s.publish_timeout_s,
            max_inflight_messages=s.inflight_window,
            max_queued_incoming_messages=s.max_queued_incoming,
            logger=log,
        )
        # We keep many publishes in flight on purpose; aiomqtt would warn above 10.
        client.pending_calls_threshold = s.inflight_window + 50
        async with client:
            early = await self._announce(client)
            for topic in s.subscriptions:
                await client.subscribe(topic, qos=1)
            if self._birth is not None:
                await self._publish_birth(client, self._birth(self.connection))
            self._client = client
            self.connects += 1
            self.last_error = None
            self.backoff.reset()
            self._disconnected.clear()
            self._connected.set()
            log.info("mqtt connected to %s:%d (connection %d)", s.host, s.port, self.connection)
            # The receive loop is also the disconnect detector: aiomqtt fails the message
            # iterator on disconnection but leaves pending publishes waiting for their
            # timeout, so a lost broker cancels the session through this TaskGroup.
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._session(client), name="mqtt-session")
                tg.create_task(self._receive(client, early), name="mqtt-receive")

    async def _announce(self, client: aiomqtt.Client) -> list[aiomqtt.Message]:
        """Publish ``online`` and wait to read it back; return messages that came first.

        mosquitto acknowledges a publish its ACL denies (MQTT 3.1.1) and drops it, so a PUBACK
        alone cannot show that we may write under our prefix. Our own status coming back does:
        without this, a user name that does not match the device id would have every event
        acknowledged, stamped delivered, and lost.
        """
        status, online = self.topics.status, self._status("online")
        await client.subscribe(status, qos=1)
        await client.publish(status, online, qos=1, retain=True)
        early: list[aiomqtt.Message] = []
        try:
            async with asyncio.timeout(self.settings.echo_timeout_s):
                async for message in client.messages:
                    if str(message.topic) == status and message.payload == online:
                        break
                    if str(message.topic) != status:
                        early.append(message)  # e.g. a command queued while we were away
        except TimeoutError:
            raise LinkRefused(
                f"the broker acknowledged {status} but never delivered it back: user "
                f"{self.settings.username!r} may not write under {self.topics.prefix}/ "
                "(the broker user name must equal the device id; see zonegate.acl)"
            ) from None
        await client.unsubscribe(status)
        return early

    async def _receive(self, client: aiomqtt.Client, early: list[aiomqtt.Message]) -> None:
        for message in early:
            if self._on_message is not None:
                await self._on_message(client, message)
        async for message in client.messages:
            if self._on_message is not None:
                await self._on_message(client, message)

    async def _publish_birth(self, client: aiomqtt.Client, birth: Birth) -> None:
        await client.publish(self.topics.birth, birth.model_dump_json(), qos=1, retain=True)
        for permit in birth.snapshot.get("permits", []):
            if isinstance(permit, dict) and isinstance(permit.get("permit_id"), str):
                state = PermitState(at=birth.at, permit=permit)
                await client.publish(
                    self.topics.permit_state(permit["permit_id"]),
                    state.model_dump_json(),
                    qos=1,
                    retain=True,
                )
        if "presence" in birth.snapshot:
            presence = PresenceState(at=birth.at, inside=birth.snapshot["presence"])
            await client.publish(
                self.topics.presence, presence.model_dump_json(), qos=1, retain=True
            )


def _describe(err: BaseException) -> str:
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    return f"{type(err).__name__}: {err}"
