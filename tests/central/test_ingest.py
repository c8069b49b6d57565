"""The reference ingest against real mosquitto and PostgreSQL: 50 gateways, 3 consumers, one
SIGKILLed mid-run; every journaled event stored exactly once, state equal to the retained state."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import psycopg
import pytest

from cloud_sync.ingest.consumer import find_gaps
from cloud_sync.ingest.roster import load_roster, parse_roster
from cloud_sync.ingest.schema import migrate
from tests.conditions import until
from tests.fleet import FleetBroker, IngestProcesses, ShiftRates, SimGateway
from tests.postgres import TempPostgres

SITE = "plant1"


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
async def db(postgres: TempPostgres) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(postgres.dsn, autocommit=True) as conn:
        await migrate(conn)
        yield conn
        await conn.execute(
            "TRUNCATE events, devices, permit_state, presence_state, rejected_messages,"
            " replay_requests, roster_certificates"
        )


async def retained_state(broker: FleetBroker, expect: int) -> dict[str, dict[str, Any]]:
    """Every retained state message on the broker, as a fresh subscriber sees it."""
    got: dict[str, dict[str, Any]] = {}
    s = broker.settings("central", client_id=f"state-reader-{os.getpid()}")
    async with aiomqtt.Client(
        s.host, s.port, identifier=s.client_id, username=s.username, password=s.password
    ) as client:
        await client.subscribe("edge/v1/+/+/state/#", qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(20):
                async for m in client.messages:
                    if m.retain and isinstance(m.payload, bytes | bytearray) and m.payload:
                        got[str(m.topic)] = json.loads(m.payload)
                    if len(got) >= expect:
                        break
    return got


async def test_fifty_gateways_three_consumers_one_killed(
    fleet_dir: Path, postgres: TempPostgres, db: psycopg.AsyncConnection[Any]
) -> None:
    devices = [f"gw-{n:03d}" for n in range(50)]
    broker = FleetBroker(fleet_dir / "broker", devices, SITE)
    broker.start()
    consumers = IngestProcesses(broker, postgres.dsn, fleet_dir, "ingest")
    rng = random.Random(20261130)
    gateways = [
        SimGateway(SITE, d, fleet_dir, broker.settings(d), random.Random(rng.random()))
        for d in devices
    ]
    try:
        for name in ("ingest-1", "ingest-2", "ingest-3"):
            consumers.start(name)

        async def subscribed() -> bool:
            # Events published before a group member subscribed reach nobody (MQTT): wait for
            # all three to say so before the shift starts.
            return consumers.subscribed()

        await until(subscribed, 60, "the consumers to subscribe")

        rates = ShiftRates(access_per_s=2.0, permit_per_s=0.3, alarm_per_s=0.05)
        async with asyncio.TaskGroup() as tg:
            runs = [tg.create_task(g.run(rates, duration_s=8.0)) for g in gateways]

            async def some_stored() -> bool:
                cur = await db.execute("SELECT count(*) FROM events")
                row = await cur.fetchone()
                return row is not None and row[0] > 200

            await until(some_stored, 60, "events to reach PostgreSQL")
            consumers.kill("ingest-2")  # mid-run, with messages in flight
            await asyncio.sleep(1.0)
            consumers.start("ingest-2")  # as systemd would, with the same client id

            seen: dict[str, int] = {}

            async def all_stored() -> bool:
                seen["pending"] = sum(sum(g.journal.pending_count().values()) for g in gateways)
                seen["journaled"] = sum(len(g.event_ids()) for g in gateways)
                cur = await db.execute("SELECT count(*) FROM events")
                row = await cur.fetchone()
                seen["stored"] = row[0] if row else 0
                return seen["pending"] == 0 and seen["stored"] >= seen["journaled"]

            await asyncio.sleep(8.0)  # the shift's length: generation has ended by now
            await until(all_stored, 120, "every journaled event in PostgreSQL", seen)
            for r in runs:
                r.cancel()

        expected: set[str] = set()
        for g in gateways:
            expected |= g.event_ids()
        cur = await db.execute("SELECT event_id::text, count(*) FROM events GROUP BY 1")
        stored = dict(await cur.fetchall())
        assert set(stored) == expected, "lost or foreign events"
        assert all(n == 1 for n in stored.values())
        # ~50 x 2.35 events/s x 8 s when the machine is idle; far fewer under load, still a fleet
        assert len(expected) >= 5 * len(devices)

        # The state tables equal what the broker retains for each gateway.
        n_permits = sum(len(g.permits) for g in gateways)
        n_presence = sum(1 for g in gateways if g.access_events)
        retained = await retained_state(broker, n_permits + n_presence)
        permit_topics = {t: v for t, v in retained.items() if "/state/permits/" in t}
        assert len(permit_topics) == n_permits
        cur = await db.execute("SELECT site, device, permit_id, permit FROM permit_state")
        in_db = {
            f"edge/v1/{s}/{d}/state/permits/{p}": permit for s, d, p, permit in await cur.fetchall()
        }
        assert in_db == {t: v["permit"] for t, v in permit_topics.items()}
        presence = {t: v["inside"] for t, v in retained.items() if t.endswith("/presence")}
        cur = await db.execute("SELECT site, device, inside FROM presence_state")
        assert {f"edge/v1/{s}/{d}/state/presence": i for s, d, i in await cur.fetchall()} == (
            presence
        )

        # Every gateway went offline cleanly when its run ended (a retained "offline").
        async def all_offline() -> bool:
            cur = await db.execute("SELECT count(*) FROM devices_offline")
            return (await cur.fetchone()) == (len(devices),)

        await until(all_offline, 60, "every device shown offline")
        cur = await db.execute("SELECT count(last_event_at) FROM device_overview")
        assert (await cur.fetchone()) == (len(devices),)
        # The gas alarms view names who was inside.
        cur = await db.execute(
            "SELECT count(*), count(*) FILTER (WHERE inside IS NOT NULL) FROM gas_alarms"
        )
        alarms = await cur.fetchone()
        assert alarms is not None and alarms[0] > 0 and alarms[0] == alarms[1]
    finally:
        consumers.stop_all()
        for g in gateways:
            g.close()
        broker.stop()


async def test_gap_is_reported_once_after_its_grace(
    db: psycopg.AsyncConnection[Any], postgres: TempPostgres
) -> None:
    rows = [(f"00000000-0000-4000-8000-{seq:012d}", seq) for seq in (1, 2, 3, 7, 8)]
    for event_id, seq in rows:
        await db.execute(
            "INSERT INTO events (event_id, site, device, boot_id, seq, kind, type, lane,"
            " wall_time, wall_trusted, historical, payload, ingested_at)"
            " VALUES (%s, 's', 'd', 'b1', %s, 'access', 'access_decision', 'access', now(),"
            " true, false, '{}', now() - interval '5 minutes')",
            (event_id, seq),
        )
    assert await find_gaps(postgres.dsn, grace_s=60) == [("s", "d", "b1", 4, 6)]
    assert await find_gaps(postgres.dsn, grace_s=60) == []  # asked once, remembered


async def test_certificate_expiry_warnings_at_30_and_15_days(
    db: psycopg.AsyncConnection[Any],
) -> None:
    from datetime import timedelta

    cur = await db.execute("SELECT CURRENT_DATE")
    row = await cur.fetchone()
    assert row is not None
    today = row[0]

    def worker(wid: str, days_left: int) -> dict[str, Any]:
        to = today + timedelta(days=days_left)
        return {
            "worker_id": wid,
            "name": f"工人{wid}",
            "certificates": [
                {
                    "number": f"T{wid}0001",
                    "category": "welding",
                    "issuing_authority": "应急管理局",
                    "valid_from": (to - timedelta(days=2000)).isoformat(),
                    "valid_to": to.isoformat(),
                }
            ],
        }

    roster = {
        "workers": [
            worker("W1", 40),
            worker("W2", 30),
            worker("W3", 16),
            worker("W4", 15),
            worker("W5", 0),
            worker("W6", -1),
        ]
    }
    assert await load_roster(db, parse_roster(roster), "roster.json") == 6
    cur = await db.execute(
        "SELECT worker_id, level, days_left FROM certificate_expiry_warnings ORDER BY worker_id"
    )
    assert await cur.fetchall() == [
        ("W2", "warn_30", 30),
        ("W3", "warn_30", 16),
        ("W4", "warn_15", 15),
        ("W5", "warn_15", 0),
        ("W6", "expired", -1),
    ]
    # A renewed certificate replaces the expiring one: the notice goes away.
    renewed = {"workers": [worker("W4", 2000)]}
    await load_roster(db, parse_roster(renewed), "renewal.json")
    cur = await db.execute("SELECT count(*) FROM certificate_expiry_warnings WHERE worker_id='W4'")
    assert (await cur.fetchone()) == (0,)


def test_shared_subscription_filters() -> None:
    from cloud_sync.ingest.consumer import STATE_FILTERS, shared_filters

    plain = shared_filters("g1", telemetry=False)
    assert plain[0] == "$share/g1/edge/v1/+/+/event/#"
    assert {f"$share/g1/{f}" for f in STATE_FILTERS} <= set(plain)
    assert not any("telemetry" in f for f in plain)
    assert "$share/g1/edge/v1/+/+/telemetry/#" in shared_filters("g1", telemetry=True)
