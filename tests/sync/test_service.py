"""The sync service as the daemon builds it, against mosquitto and the real ZoneController."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cloud_sync.central import Fleet, client_for, publish_command, sign_command, watch
from cloud_sync.commands import Rejection
from cloud_sync.payloads import Birth, Reply
from cloud_sync.topics import DeviceTopics
from edge.clock import SystemClock
from edge.evidence import FixedAir
from edge.journal import Journal
from edge.models import EventType
from edge.registry import Registry
from edge.zone import ZoneController
from gateway.cli import main
from gateway.config import GatewayConfig
from gateway.services import ServiceContext
from gateway.services import build_sync as build_service
from tests.sync.conftest import DEVICE, SITE, gateway_doc

TOPICS = DeviceTopics(SITE, DEVICE)


def permit_body(version: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "device": DEVICE,
        "permit": {
            "permit_id": "P1",
            "zone_id": "z1",
            "kind": "DHZY",
            "level": "hot_2",
            "valid_from": (now - timedelta(minutes=1)).isoformat(),
            "valid_to": (now + timedelta(hours=4)).isoformat(),
            "members": [{"worker_id": "G1", "role": "guardian"}],
            "version": version,
        },
    }


async def test_service_end_to_end(
    broker: Any,
    keys: Any,
    tmp_path: Path,
    wait_until: Callable[..., Any],
    tasks: list[asyncio.Task[None]],
) -> None:
    config = GatewayConfig.model_validate(gateway_doc(broker, keys, tmp_path))
    clock = SystemClock(assume_trusted=True)
    registry = Registry(config.registry_path)
    journal = Journal(config.journal_path, clock)
    ctl = ZoneController(
        zone=config.zone, registry=registry, journal=journal, clock=clock, air=FixedAir()
    )
    ctx = ServiceContext(config, None, ctl, registry, journal, clock)
    service = build_service(ctx)
    assert service is not None

    fleet = Fleet()
    births: list[Birth] = []
    ready = asyncio.Event()
    central = broker.settings("central", "central-svc", clean_session=False)

    def on_message(topic: str) -> None:
        if topic == TOPICS.birth:
            births.append(Birth.model_validate_json(last[topic]))

    last: dict[str, bytes] = {}

    async def tap() -> None:
        async with client_for(broker.settings("central", "central-tap")) as c:
            await c.subscribe(f"{TOPICS.prefix}/#", qos=1)
            tap_ready.set()
            async for m in c.messages:
                last[str(m.topic)] = bytes(m.payload)
                on_message(str(m.topic))

    tap_ready = asyncio.Event()
    tasks.append(asyncio.create_task(tap()))
    tasks.append(asyncio.create_task(watch(central, fleet, ready=ready)))
    await asyncio.gather(ready.wait(), tap_ready.wait())
    run = asyncio.create_task(service.run())
    tasks.append(run)
    view = fleet.device(SITE, DEVICE)
    await wait_until(lambda: view.online is True and births, 20, "online + birth")
    assert births[0].snapshot is not None and births[0].snapshot.zone.zone_id == "z1"
    assert births[0].boot_id == journal.boot_id

    cmd = broker.settings("central", "central-cmd")
    reply = await publish_command(
        cmd, SITE, DEVICE, sign_command(keys.signer, "permit_issue", permit_body(1), 1)
    )
    assert reply is not None
    assert reply.accepted, reply
    await wait_until(lambda: view.permits.get("P1") == "approved", 10, "permit event + state")
    await wait_until(lambda: TOPICS.permit_state("P1") in last, 10, "retained permit state")

    # garbage over the wire: each gets a reply, the service stays up
    async with client_for(broker.settings("central", "central-junk")) as junk:
        await junk.subscribe(f"{TOPICS.prefix}/reply/+", qos=1)
        forged = sign_command(keys.signer, "permit_revoke",
                              {"device": DEVICE, "permit_id": "P1", "reason": "x"}, 2)  # fmt: skip
        forged["body"]["reason"] = "tampered"
        payloads = [b"\x00garbage", b" " * 300_000, json.dumps(forged).encode()]
        for p in payloads:
            await junk.publish(TOPICS.cmd("permit_revoke"), p, qos=1)
        replies: list[Reply] = []
        async with asyncio.timeout(10):
            async for m in junk.messages:
                replies.append(Reply.model_validate_json(bytes(m.payload)))
                if len(replies) == len(payloads):
                    break
    assert [r.reason for r in replies] == [
        Rejection.MALFORMED,
        Rejection.OVERSIZED,
        Rejection.BAD_SIGNATURE,
    ]
    assert not run.done()
    revoke = sign_command(keys.signer, "permit_revoke",
                          {"device": DEVICE, "permit_id": "P1", "reason": "done"}, 2)  # fmt: skip
    reply = await publish_command(cmd, SITE, DEVICE, revoke)
    assert reply is not None
    assert reply.accepted
    await wait_until(lambda: view.permits.get("P1") == "revoked", 10, "the revoke event")

    # the same through the command line tool
    (tmp_path / "central-pw").write_text("pw-central\n")
    (tmp_path / "unlock.json").write_text(json.dumps({"device": DEVICE, "worker_id": "W9"}))
    rc = await asyncio.to_thread(
        main,
        ["central", "publish", "badge_unlock", "--key", str(keys.private), "--version", "1",
         "--body", str(tmp_path / "unlock.json"), "--host", "127.0.0.1",
         "--port", str(broker.port), "--ca", str(broker.pki.ca_cert),
         "--password-file", str(tmp_path / "central-pw"), "--site", SITE, "--device", DEVICE],
    )  # fmt: skip
    assert rc == 0
    assert journal.events(type_="worker_unlocked")

    # config_change was removed (issue 16.5): the config file is the one source of truth, so
    # a signed one is an unknown command, refused, and nothing is stored
    body = {"device": DEVICE, "section": "access", "values": {"lockout_threshold": 5}}
    expires = datetime.now(UTC) + timedelta(minutes=5)
    envelope = keys.signer.envelope("config_change", 1, expires, body)
    reply = await publish_command(cmd, SITE, DEVICE, envelope)
    assert reply is not None and reply.reason == Rejection.UNKNOWN_COMMAND
    assert registry.docs("pending_config") == []

    alert = ctl.alert(EventType.GAS_ALARM, {"gas": "co", "value": 90.0})
    await wait_until(lambda: any(alert.type in a for a in view.alerts), 10, "a live alert")
    assert view.duplicates == 0

    run.cancel()
    await asyncio.gather(run, return_exceptions=True)
    await wait_until(lambda: view.online is False, 10, "offline on a clean stop")
    journal.close()
    registry.close()
