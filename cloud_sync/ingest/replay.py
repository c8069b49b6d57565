"""Signed ``journal_replay`` requests for the seq gaps the ingest finds, on one long-lived client.

The ingest's gap check hands each gap to :meth:`ReplayRequester.request`, which only queues it:
the consumer never waits on a gateway. :meth:`ReplayRequester.run` keeps one MQTT connection
(reconnecting with the shared backoff), publishes queued requests at QoS 1 and logs the gateways'
replies as they arrive. A request that could not be published is kept and sent after the
reconnect. Cancelling ``run`` stops at once: no request waits for a reply, so nothing holds the
process when it is told to stop (one client per request, each waiting for its reply, once made
``zonegate central ingest --key`` take tens of seconds to stop).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable

import aiomqtt
from pydantic import ValidationError

from cloud_sync.central import client_for, sign_command
from cloud_sync.link import LinkSettings
from cloud_sync.payloads import Reply
from cloud_sync.signing import Signer
from cloud_sync.topics import DeviceTopics, replies_filter
from firmware_adapters.backoff import Backoff

log = logging.getLogger("zonegate.ingest")

COMMAND = "journal_replay"


class ReplayRequester:
    """Queues gap requests; ``run()`` signs, publishes them and logs the replies, until cancelled.

    ``clock_ms`` gives the document version of each request (milliseconds; it must grow for every
    request to one device, as the gateway requires of each document).
    """

    def __init__(
        self,
        settings: LinkSettings,
        signer: Signer,
        *,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.settings = settings
        self.signer = signer
        self.clock_ms = clock_ms
        self.pending: deque[tuple[str, str, dict[str, object]]] = deque()
        self.wakeup = asyncio.Event()
        self.sent = 0
        self.replies = 0
        self.backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s)

    async def request(self, site: str, device: str, boot_id: str, first: int, last: int) -> None:
        """Queue a replay of ``first..last`` (inclusive seqs) of ``device``'s boot ``boot_id``.

        Never blocks: the gap handler of :class:`~cloud_sync.ingest.consumer.Consumer`.
        Raises ValueError when ``site`` or ``device`` cannot be a topic level.
        """
        DeviceTopics(site, device)  # reject a name that cannot be a topic before queueing it
        body: dict[str, object] = {
            "device": device,
            "boot_id": boot_id,
            "first_seq": first,
            "last_seq": last,
        }
        self.pending.append((site, device, body))
        self.wakeup.set()

    async def run(self) -> None:
        """Publish queued requests over one connection, reconnecting forever; cancel to stop."""
        while True:
            try:
                async with client_for(self.settings, clean_session=True) as client:
                    await client.subscribe(replies_filter(COMMAND), qos=1)
                    self.backoff.reset()
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(self._log_replies(client), name="replay-replies")
                        tg.create_task(self._publish(client), name="replay-publish")
            except* aiomqtt.MqttError as group:
                log.warning("replay requests: %s; reconnecting", group.exceptions[0])
            await asyncio.sleep(self.backoff.next_delay())

    async def _publish(self, client: aiomqtt.Client) -> None:
        while True:
            while self.pending:
                site, device, body = self.pending[0]
                envelope = sign_command(self.signer, COMMAND, body, self.clock_ms())
                await client.publish(
                    DeviceTopics(site, device).cmd(COMMAND), json.dumps(envelope), qos=1
                )
                self.pending.popleft()  # only once the broker took it: kept across a reconnect
                self.sent += 1
                log.info(
                    "replay requested: %s/%s boot %s seq %s-%s",
                    site,
                    device,
                    body["boot_id"],
                    body["first_seq"],
                    body["last_seq"],
                )
            self.wakeup.clear()
            await self.wakeup.wait()

    async def _log_replies(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            raw = payload if isinstance(payload, bytes | bytearray) else str(payload).encode()
            try:
                reply = Reply.model_validate_json(raw)
            except ValidationError:
                log.warning("replay reply on %s is not a reply; ignored", message.topic)
                continue
            self.replies += 1
            verdict = "accepted" if reply.accepted else f"refused {reply.reason}: {reply.detail}"
            log.info("replay reply on %s: %s", message.topic, verdict)
