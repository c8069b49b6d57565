"""The ingest turns a seq gap that outlived its grace into a signed ``journal_replay``."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiomqtt
import psycopg

from cloud_sync.ingest.schema import migrate
from cloud_sync.signing import Verifier, generate_keypair, load_public_key
from tests.conditions import until
from tests.fleet import CENTRAL_PASSWORD, FleetBroker
from tests.postgres import TempPostgres

ZONEGATE = Path(sys.executable).with_name("zonegate")


def start_ingest(
    broker: FleetBroker, postgres: TempPostgres, pw: Path, key: Path, log: Path
) -> subprocess.Popen[bytes]:
    """``zonegate central ingest`` with central's key and a quick gap check."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                str(ZONEGATE),
                "central",
                "ingest",
                "--no-tls",
                "--host",
                "127.0.0.1",
                "--port",
                str(broker.port),
                "--user",
                "central",
                "--password-file",
                str(pw),
                "--client-id",
                "ingest-gap",
                "--dsn",
                postgres.dsn,
                "--key",
                str(key),
                "--gap-check-s",
                "0.5",
                "--gap-grace-s",
                "1",
            ],
            stdout=out,
            stderr=out,
        )


async def test_a_gap_becomes_a_signed_replay_request(
    tmp_path: Path, postgres: TempPostgres
) -> None:
    private, public = generate_keypair(tmp_path / "keys")
    broker = FleetBroker(tmp_path / "broker", ["gw-gap"], "plant1")
    broker.start()
    try:
        pw = tmp_path / "central.pw"
        pw.write_text(CENTRAL_PASSWORD + "\n")
        async with await psycopg.AsyncConnection.connect(postgres.dsn, autocommit=True) as db:
            await migrate(db)
            for seq in (1, 2, 5):
                await db.execute(
                    "INSERT INTO events (event_id, site, device, boot_id, seq, kind, type, lane,"
                    " wall_time, wall_trusted, historical, payload, ingested_at) VALUES"
                    " (gen_random_uuid(), 'plant1', 'gw-gap', 'boot-7', %s, 'access',"
                    " 'access_decision', 'access', now(), true, false, '{}',"
                    " now() - interval '10 minutes')",
                    (seq,),
                )
            device = broker.settings("gw-gap", client_id="gw-gap")
            log = tmp_path / "ingest.log"
            async with aiomqtt.Client(
                device.host,
                device.port,
                identifier=device.client_id,
                username=device.username,
                password=device.password,
            ) as gw:
                await gw.subscribe("edge/v1/plant1/gw-gap/cmd/+", qos=1)
                proc = start_ingest(broker, postgres, pw, private, log)
                stopped: int | None = None
                try:
                    async with asyncio.timeout(60):
                        message = await anext(aiter(gw.messages))
                    # The gateway answers; the ingest's one replay client logs the answer.
                    reply = {
                        "command": "journal_replay",
                        "accepted": True,
                        "at": "2026-12-01T00:00:00Z",
                    }
                    await gw.publish(
                        "edge/v1/plant1/gw-gap/reply/journal_replay", json.dumps(reply), qos=1
                    )
                    await until(
                        lambda: (
                            "replay reply on edge/v1/plant1/gw-gap/reply/journal_replay:"
                            " accepted" in log.read_text(encoding="utf-8")
                        ),
                        what="the ingest logging the gateway's reply",
                        detail=log,
                    )
                finally:
                    proc.terminate()
                    try:
                        # A hang guard: nothing the ingest does waits for a gateway any more.
                        stopped = proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                assert stopped == 0, log.read_text(encoding="utf-8")[-2000:]
            cur = await db.execute("SELECT from_seq, to_seq FROM replay_requests")
            recorded = await cur.fetchall()
            await db.execute("TRUNCATE events, replay_requests")
    finally:
        broker.stop()  # also when the test fails: no broker left running
    assert str(message.topic) == "edge/v1/plant1/gw-gap/cmd/journal_replay"
    envelope: dict[str, Any] = json.loads(message.payload)
    Verifier(load_public_key(public)).verify(envelope)  # raises unless central signed it
    assert envelope["body"] == {
        "device": "gw-gap",
        "boot_id": "boot-7",
        "first_seq": 3,
        "last_seq": 4,
    }
    assert recorded == [(3, 4)]
