"""Broker limits and broken connections (issue 12 items 1 and 2) against a real mosquitto.

- ``max_packet_size 16384``: the broker drops the connection on a larger packet. A 20 KB roster
  event must not block the gas alarm behind it: it goes as a summary with its payload in parts.
- ``message_size_limit 8000``: the broker acknowledges and drops a larger publish (MQTT 5 says
  so in the PUBACK). It must never be stamped delivered as it was; it goes again, split.
- Two clients with one client id take the session from each other: the backoff must grow (no
  reset on a CONNACK alone) and the diagnosis must name the takeover.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from cloud_sync.central import Fleet, watch
from cloud_sync.link import Link, LinkDiagnosis
from cloud_sync.outbox import Outbox
from cloud_sync.payloads import EventMessage
from cloud_sync.topics import DeviceTopics
from edge.journal import Journal
from edge.models import EventKind, EventType

SITE = "site1"
TOPICS = DeviceTopics(SITE, "dev-a")
# mosquitto 2.0.11 disconnects an MQTT 5 client on any refused QoS 1 publish when
# max_queued_messages is 0 (its "quota" check compares against 0); the shipped config sets it.
QUEUE = "max_queued_messages 100000\n"


def roster_payload(workers: int) -> dict[str, Any]:
    return {
        "workers": [
            {"worker_id": f"W{i:05d}", "name": f"工人{i}", "certs": ["焊接"]}
            for i in range(workers)
        ],
        "source": "import",
    }


async def watch_fleet(
    broker: Any, tasks: list[asyncio.Task[None]]
) -> tuple[Fleet, list[EventMessage]]:
    fleet, ready = Fleet(), asyncio.Event()
    seen: list[EventMessage] = []
    tasks.append(
        asyncio.create_task(
            watch(broker.settings("central"), fleet, on_event=seen.append, ready=ready)
        )
    )
    await ready.wait()
    return fleet, seen


@pytest.mark.parametrize(
    ("limit", "roster_workers"),
    [("max_packet_size 16384\n", 300), ("message_size_limit 8000\n", 200)],
    ids=["max_packet_size", "message_size_limit"],
)
async def test_an_oversized_event_never_blocks_the_alarm_behind_it(
    make_broker: Callable[..., Any],
    journal: Journal,
    wait_until: Callable[..., Any],
    tasks: list[asyncio.Task[None]],
    limit: str,
    roster_workers: int,
) -> None:
    broker = make_broker("limited", extra=QUEUE + limit)
    broker.start()
    fleet, seen = await watch_fleet(broker, tasks)
    roster_type = EventType.ROSTER_UPDATED  # a command-kind event, as the controller files it
    roster = journal.append(EventKind.COMMAND, roster_type, roster_payload(roster_workers))
    alarm = journal.append(EventKind.ALERT, EventType.GAS_ALARM, {"gas": "co", "value": 85.0})
    assert len(roster.model_dump_json().encode()) > 9_000  # over either limit
    outbox = Outbox(journal, TOPICS)
    settings = broker.settings("dev-a", "site1-dev-a")
    async with Link(settings, TOPICS, journal.boot_id, outbox.drain) as link:
        await wait_until(lambda: {e.event_id for e in seen} >= {roster.event_id, alarm.event_id})
        await wait_until(lambda: sum(journal.pending_count().values()) == 0, 10, "all stamped")
        assert link.connects == 1  # the big event did not cost the connection
    summary = next(e for e in seen if e.event_id == roster.event_id)
    assert summary.detail is not None
    assert summary.payload["summary"] is True
    assert summary.payload["workers"] == {"items": roster_workers}
    await wait_until(lambda: fleet.full_payload(roster.event_id) is not None, 5, "the detail")
    assert fleet.full_payload(roster.event_id) == roster.payload
    if "message_size_limit" in limit:
        # The refusal was seen and reported, and the limit learnt.
        assert outbox.counts["refused"] >= 1
        assert outbox.learned_limit is not None and outbox.learned_limit < 8000
        reports = journal.events(type_="publish_refused")
        assert reports and reports[0].payload["event_id"] == roster.event_id


async def test_session_takeover_backs_off_and_is_diagnosed(
    make_broker: Callable[..., Any], journal: Journal, wait_until: Callable[..., Any]
) -> None:
    """Two gateways with one client id (a cloned SD card) take the session from each other."""
    broker = make_broker("takeover", extra=QUEUE)
    broker.start()
    settings = broker.settings(
        "dev-a",
        "site1-dev-a",
        backoff_initial_s=0.05,
        backoff_max_s=0.4,
        healthy_after_s=30,
        connect_timeout_s=3,
    )

    async def idle(_client: Any) -> None:
        await asyncio.Event().wait()

    first = Link(settings, TOPICS, "boot-first", idle)
    second = Link(settings, TOPICS, "boot-second", idle)
    taken_over = LinkDiagnosis.SESSION_TAKEN_OVER
    async with first, second:
        await wait_until(
            lambda: taken_over in (first.diagnosis, second.diagnosis), 30, "the diagnosis"
        )
        # Neither resets its backoff on a CONNACK: both keep growing towards the cap.
        await wait_until(
            lambda: max(first.backoff.attempt, second.backoff.attempt) >= 3, 10, "growing backoff"
        )
        taken = first if first.diagnosis is taken_over else second
        health = taken.health()
        assert health["diagnosis"] == "SESSION_TAKEN_OVER"
        assert health["rival_boot_id"] in ("boot-first", "boot-second")
        assert health["rival_boot_id"] != taken.boot_id
        assert "客户端 ID" in health["diagnosis_zh"]


async def test_backoff_resets_only_after_a_healthy_connection(
    broker: Any, journal: Journal, wait_until: Callable[..., Any]
) -> None:
    settings = broker.settings(
        "dev-a", "site1-dev-a", backoff_initial_s=0.05, backoff_max_s=0.4, healthy_after_s=0.5
    )
    ended = asyncio.Event()

    async def short(_client: Any) -> None:
        ended.set()
        raise RuntimeError("session ends at once")

    link = Link(settings, TOPICS, journal.boot_id, short)
    async with link:
        await wait_until(lambda: link.connects >= 3, 20, "three short sessions")
        # Connect n comes after the delay that failure n-1 drew, so without a reset on CONNACK
        # the attempt count is never behind by more than the failure still being handled.
        assert link.backoff.attempt >= link.connects - 1
        await wait_until(lambda: link.backoff.attempt >= 3, 5, "the backoff still growing")
        await wait_until(lambda: link.diagnosis is LinkDiagnosis.CLOSED_AFTER_ACCEPT, 5)
        assert not link.healthy

    async def stays(_client: Any) -> None:
        await asyncio.Event().wait()

    healthy = Link(settings, TOPICS, journal.boot_id, stays)
    async with healthy:
        await wait_until(lambda: healthy.healthy, 10, "proved healthy")
        assert healthy.backoff.attempt == 0
        assert healthy.health()["diagnosis"] == LinkDiagnosis.OK.value


async def test_a_link_is_entered_once(broker: Any, journal: Journal) -> None:
    async def idle(_client: Any) -> None:
        await asyncio.Event().wait()

    link = Link(broker.settings("dev-a", "site1-dev-a"), TOPICS, journal.boot_id, idle)
    async with link:
        with pytest.raises(RuntimeError, match="entered once"):
            await link.__aenter__()
