"""Command intake under load (issue 16.3), through the service as the daemon builds it.

No command the broker acknowledged to central may be lost: 1,500 commands queued while the
gateway was away and a 10-second flood each end in a journal row and a reply, and a revoke sent
in the middle of them is applied. The rate is printed for the notes (figures go in bench/).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt

from cloud_sync.central import client_for, sign_command
from cloud_sync.service import SyncService
from cloud_sync.topics import DeviceTopics
from edge.clock import SystemClock
from edge.evidence import FixedAir
from edge.journal import Journal
from edge.models import EventKind, PermitStatus
from edge.registry import Registry
from edge.zone import ZoneController
from gateway.config import GatewayConfig
from gateway.services import ServiceContext
from gateway.services import build_sync as build_service
from tests.sync.conftest import DEVICE, SITE, gateway_doc

TOPICS = DeviceTopics(SITE, DEVICE)
CLIENT_ID = f"{SITE}-{DEVICE}"


def permit(pid: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "device": DEVICE,
        "permit": {
            "permit_id": pid,
            "zone_id": "z1",
            "kind": "DHZY",
            "level": "hot_2",
            "valid_from": (now - timedelta(minutes=1)).isoformat(),
            "valid_to": (now + timedelta(hours=4)).isoformat(),
            "members": [{"worker_id": "G1", "role": "guardian"}],
            "version": 1,
        },
    }


def revoke(pid: str) -> tuple[str, dict[str, Any]]:
    return "permit_revoke", {"device": DEVICE, "permit_id": pid, "reason": "stop"}


def unlock(version: int) -> tuple[str, dict[str, Any], int]:
    return "badge_unlock", {"device": DEVICE, "worker_id": "W9"}, version


# One command in ten is new (applied); the rest replay an old version (each still gets a
# journal row and a reply): the mix of a misbehaving central or an attacker's replay flood.
NEW_EVERY = 10


async def test_queued_and_flooded_commands_are_all_handled_and_the_revoke_applies(
    broker: Any, keys: Any, tmp_path: Path, wait_until: Callable[..., Any]
) -> None:
    config = GatewayConfig.model_validate(
        gateway_doc(broker, keys, tmp_path, mqtt={"client_id": CLIENT_ID})
    )
    clock = SystemClock(assume_trusted=True)
    registry = Registry(config.registry_path)
    journal = Journal(config.journal_path, clock)
    ctl = ZoneController(
        zone=config.zone, registry=registry, journal=journal, clock=clock, air=FixedAir()
    )
    service = build_service(ServiceContext(config, None, ctl, registry, journal, clock))
    assert isinstance(service, SyncService)

    def commands_journaled() -> int:
        return len(journal.events(kind=EventKind.COMMAND))

    def commands_handled() -> int:
        # Cheap to poll (the journal query above builds every event); checked against the
        # journal once at the end.
        return sum(service.commands.counts.values()) if service.commands else 0

    # The gateway's persistent session exists at the broker, then the gateway is away.
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, username=DEVICE, password="pw-a", identifier=CLIENT_ID,
        tls_context=broker.settings(DEVICE).tls_context, clean_session=False,
    ) as away:  # fmt: skip
        await away.subscribe(TOPICS.cmd_filter, qos=1)

    sent = 0
    version = 0
    async with client_for(broker.settings("central", "central-flood")) as central:
        window = asyncio.Semaphore(100)
        pending: set[asyncio.Task[None]] = set()

        async def publish(topic: str, body: bytes) -> None:
            try:
                await central.publish(topic, body, qos=1)  # returns on the broker's PUBACK
            finally:
                window.release()

        async def send(type_: str, body: dict[str, Any], doc_version: int) -> None:
            nonlocal sent
            env = sign_command(keys.signer, type_, body, doc_version)
            await window.acquire()
            task = asyncio.create_task(publish(TOPICS.cmd(type_), json.dumps(env).encode()))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1

        async def send_unlock() -> None:
            nonlocal version
            if sent % NEW_EVERY == 0:
                version += 1
            await send(*unlock(max(version, 1)))

        async def all_acknowledged() -> None:
            await asyncio.gather(*pending)

        # 1,500 waiting at connect, the revoke of P1 in the middle.
        await send("permit_issue", permit("P1"), 1)
        for i in range(1, 1_500):
            if i == 750:
                await send(*revoke("P1"), 2)
            else:
                await send_unlock()
        await all_acknowledged()
        assert sent == 1_500
        run = asyncio.create_task(service.run())
        try:
            started = time.monotonic()
            await wait_until(lambda: commands_handled() == 1_500, 120, "1,500 handled")
            queued_rate = 1_500 / (time.monotonic() - started)
            assert commands_journaled() == 1_500
            p1 = registry.permit("P1")
            assert p1 is not None and p1.status is PermitStatus.REVOKED

            # A 10-second flood, P2's revoke in the middle of it.
            await send("permit_issue", permit("P2"), 1)
            flood_start = time.monotonic()
            revoke_sent = False
            while (elapsed := time.monotonic() - flood_start) < 10:
                if not revoke_sent and elapsed >= 5:
                    await send(*revoke("P2"), 2)
                    revoke_sent = True
                await send_unlock()
                await asyncio.sleep(0)
            await all_acknowledged()
            total = sent
            await wait_until(lambda: commands_handled() == total, 180, "the flood handled")
            flood_rate = (total - 1_500) / (time.monotonic() - flood_start)
            p2 = registry.permit("P2")
            assert p2 is not None and p2.status is PermitStatus.REVOKED
            assert not run.done()
        finally:
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
    # Every acknowledged command was handled exactly once, none lost, none twice.
    assert commands_journaled() == sent
    print(f"intake: queued {queued_rate:.0f}/s, flood {flood_rate:.0f}/s handled, {sent} sent")
    journal.close()
    registry.close()
