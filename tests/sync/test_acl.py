"""The shipped ACL (config/mosquitto/zonegate.acl) on a real mosquitto: devices are isolated."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import aiomqtt

from cloud_sync.central import Fleet, client_for, watch
from cloud_sync.topics import DeviceTopics, central_status

SITE = "site1"
_ONLINE = '{"state": "online", "site": "site1", "device": "dev-b", "boot_id": "x", "connection": 9}'


def _event(event_id: str) -> str:
    return json.dumps(
        {
            "v": 1,
            "event_id": event_id,
            "boot_id": "b",
            "seq": 1,
            "kind": "alert",
            "type": "gas_alarm_cleared",
            "lane": "critical",
            "wall_time": "2026-11-24T08:00:00+00:00",
            "wall_trusted": True,
            "payload": {"zone_id": "z1", "latched": False},
        }
    )


async def test_device_cannot_write_under_another_prefix(
    broker: Any, wait_until: Callable[..., Any], tasks: list[asyncio.Task[None]]
) -> None:
    fleet = Fleet()
    seen: list[str] = []
    ready = asyncio.Event()
    tasks.append(
        asyncio.create_task(
            watch(
                broker.settings("central"),
                fleet,
                on_event=lambda e: seen.append(e.event_id),
                ready=ready,
            )
        )
    )
    await ready.wait()
    a, b = DeviceTopics(SITE, "dev-a"), DeviceTopics(SITE, "dev-b")
    for topic, body in ((b.event("alert"), _event("forged-by-a")), (b.status, _ONLINE)):
        # mosquitto 2.0.11 acknowledges a denied QoS 1 publish or drops the connection,
        # depending on the session; either way the message must go nowhere.
        with contextlib.suppress(aiomqtt.MqttError):
            async with client_for(broker.settings("dev-a"), clean_session=True) as dev_a:
                await dev_a.publish(topic, body, qos=1, retain=True, timeout=2)
    async with client_for(broker.settings("dev-a"), clean_session=True) as dev_a:
        await dev_a.publish(a.event("alert"), _event("marker-a"), qos=1)
    await wait_until(lambda: "marker-a" in seen, 10, "A's own event")
    assert "forged-by-a" not in seen
    assert fleet.device(SITE, "dev-b").online is None
    assert fleet.device(SITE, "dev-b").events == 0


async def test_device_cannot_read_another_devices_commands(broker: Any) -> None:
    a, b = DeviceTopics(SITE, "dev-a"), DeviceTopics(SITE, "dev-b")
    received: list[str] = []
    async with client_for(broker.settings("dev-a"), clean_session=True) as dev_a:
        await dev_a.subscribe(b.cmd_filter, qos=1)
        await dev_a.subscribe("edge/v1/#", qos=1)
        await dev_a.subscribe(a.cmd_filter, qos=1)
        async with client_for(broker.settings("central"), clean_session=True) as central:
            await central.publish(b.cmd("permit_revoke"), b"for-b", qos=1)
            await central.publish(a.cmd("permit_revoke"), b"for-a", qos=1)
        async with asyncio.timeout(10):
            async for message in dev_a.messages:
                received.append(str(message.topic))
                if str(message.topic) == a.cmd("permit_revoke"):
                    break
    # Messages from one publisher reach a subscriber in order: B's would have come first.
    assert b.cmd("permit_revoke") not in received
    assert received[-1] == a.cmd("permit_revoke")


async def test_device_cannot_forge_commands_for_itself(
    broker: Any, wait_until: Callable[..., Any]
) -> None:
    """A device may not write its own cmd/ topic (only central may)."""
    a = DeviceTopics(SITE, "dev-a")
    got: list[bytes] = []
    async with client_for(broker.settings("central"), clean_session=True) as central:
        await central.subscribe(a.cmd_filter, qos=1)
        async with client_for(broker.settings("dev-a"), clean_session=True) as dev_a:
            await dev_a.publish(a.cmd("badge_unlock"), b"from-device", qos=1)
        await central.publish(a.cmd("badge_unlock"), b"from-central", qos=1)
        async with asyncio.timeout(10):
            async for message in central.messages:
                got.append(bytes(message.payload))
                if got[-1] == b"from-central":
                    break
    assert got == [b"from-central"]


async def test_devices_read_centrals_status(broker: Any) -> None:
    from cloud_sync.central import announce

    await announce(broker.settings("central", "central-announce"), SITE, online=True)
    async with client_for(broker.settings("dev-b"), clean_session=True) as dev_b:
        await dev_b.subscribe(central_status(SITE), qos=1)
        async with asyncio.timeout(10):
            async for message in dev_b.messages:
                assert json.loads(bytes(message.payload))["online"] is True
                break


def test_a_late_will_does_not_mark_a_reconnected_device_offline() -> None:
    fleet = Fleet()
    topic = DeviceTopics(SITE, "dev-a").status

    def status(state: str, conn: int, boot: str = "b1") -> bytes:
        return json.dumps({"state": state, "boot_id": boot, "connection": conn}).encode()

    fleet.apply(topic, status("online", 1))
    fleet.apply(topic, status("online", 2))
    fleet.apply(topic, status("offline", 1))  # the first connection's will, delivered late
    assert fleet.device(SITE, "dev-a").online is True
    fleet.apply(topic, status("offline", 2))
    assert fleet.device(SITE, "dev-a").online is False
    fleet.apply(topic, status("online", 1, "b2"))  # restarted
    fleet.apply(topic, status("offline", 7, "b1"))  # the old process's will, late
    assert fleet.device(SITE, "dev-a").online is True
