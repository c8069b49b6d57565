"""What central relies on beyond single messages: the retained birth stays current, and a gap
a subscriber saw is filled by a signed ``journal_replay`` (docs/mqtt/README.md, "For central").
Everything is driven through signed commands and the broker, as central would."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from cloud_sync.central import client_for, publish_command, sign_command
from cloud_sync.payloads import Birth, EventMessage, Reply
from cloud_sync.topics import DeviceTopics
from edge.clock import ManualClock, SystemClock
from edge.evidence import FixedAir
from edge.journal import Journal
from edge.registry import Registry
from edge.zone import ZoneController
from gateway.config import GatewayConfig
from gateway.services import ServiceContext, build_sync
from tests.sync.conftest import DEVICE, SITE, gateway_doc
from tests.sync.test_service import permit_body

TOPICS = DeviceTopics(SITE, DEVICE)


@asynccontextmanager
async def gateway(
    broker: Any, keys: Any, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[tuple[ZoneController, Journal]]:
    """The sync service as the daemon builds it, running until the block ends."""
    config = GatewayConfig.model_validate(gateway_doc(broker, keys, tmp_path))
    registry = Registry(config.registry_path)
    journal = Journal(config.journal_path, clock)
    ctl = ZoneController(
        zone=config.zone, registry=registry, journal=journal, clock=clock, air=FixedAir()
    )
    # The sync service reads only wall, mono and trust: a clock whose trust a test can flip.
    ctx = ServiceContext(config, None, ctl, registry, journal, cast(SystemClock, clock))
    service = build_sync(ctx)
    assert service is not None
    run = asyncio.create_task(service.run())
    try:
        yield ctl, journal
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        journal.close()
        registry.close()


async def command(broker: Any, keys: Any, type_: str, body: dict[str, Any], v: int) -> Reply:
    # Signed on the gateway's (manual) clock: a command may live at most MAX_TTL ahead of the
    # device's time (issue 16.8), and these gateways run on ManualClock's start date.
    now = ManualClock().wall()
    env = sign_command(keys.signer, type_, {"device": DEVICE, **body}, v, now=now)
    reply = await publish_command(broker.settings("central", "central-cmd"), SITE, DEVICE, env)
    assert reply is not None, f"no reply to {type_}"
    return reply


async def test_the_retained_birth_follows_clock_permits_and_documents(
    broker: Any, keys: Any, tmp_path: Path, wait_until: Callable[..., Any]
) -> None:
    clock = ManualClock()
    births: list[Birth] = []

    async def retained_births() -> None:
        async with client_for(broker.settings("central", "central-birth")) as c:
            await c.subscribe(TOPICS.birth, qos=1)
            async for m in c.messages:
                births.append(Birth.model_validate_json(bytes(m.payload)))

    async with gateway(broker, keys, tmp_path, clock) as (_ctl, journal):
        watcher = asyncio.create_task(retained_births())
        try:
            await wait_until(lambda: births, 20, "the birth at connect")
            first = births[-1]
            assert first.reason == "connect" and first.snapshot is not None
            assert first.snapshot.permits == [] and first.documents == {}
            assert first.journal is not None and first.journal.boot_id == journal.boot_id

            reply = await command(broker, keys, "permit_issue", permit_body(3), 3)
            assert reply.accepted, reply
            await wait_until(
                lambda: births[-1].documents.get("permit/P1") == 3,
                10,
                f"new doc {[(b.reason, b.documents) for b in births]}",
            )
            latest = births[-1]
            assert latest.snapshot is not None
            assert [(p.permit_id, p.version) for p in latest.snapshot.permits] == [("P1", 3)]
            assert "permits" in latest.reason and "documents" in latest.reason

            clock.trusted = False  # NTP lost: the birth must stop claiming a trusted clock
            await wait_until(lambda: not births[-1].wall_trusted, 10, "clock untrusted")
            assert "clock" in births[-1].reason
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    # A subscriber arriving later reads the retained (latest) birth, not the one of the connect.
    async with client_for(broker.settings("central", "central-late")) as late:
        await late.subscribe(TOPICS.birth, qos=1)
        async for m in late.messages:
            assert m.retain
            retained = Birth.model_validate_json(bytes(m.payload))
            assert retained.documents == {"permit/P1": 3} and not retained.wall_trusted
            break


# Bounds on waits for events, not durations: they end as soon as the event is seen; 10 s was
# once too short on two loaded cores.
WAIT_S = 30


async def test_a_replay_command_fills_a_gap_a_subscriber_saw(
    broker: Any, keys: Any, tmp_path: Path, wait_until: Callable[..., Any]
) -> None:
    got: dict[int, EventMessage] = {}
    boots: set[str] = set()
    connected = asyncio.Event()

    async def subscriber() -> None:
        # A clean session on purpose: what is sent while it is away never reaches it.
        async with client_for(broker.settings("central", "central-gappy"), clean_session=True) as c:
            await c.subscribe(f"{TOPICS.prefix}/event/#", qos=1)
            connected.set()
            async for m in c.messages:
                msg = EventMessage.model_validate_json(bytes(m.payload))
                got.setdefault(msg.seq, msg)
                boots.add(msg.boot_id)

    async def run_subscriber() -> asyncio.Task[None]:
        connected.clear()
        task = asyncio.create_task(subscriber())
        await asyncio.wait_for(connected.wait(), WAIT_S)
        return task

    async with gateway(broker, keys, tmp_path, ManualClock()) as (_ctl, journal):
        sub = await run_subscriber()
        assert (await command(broker, keys, "badge_unlock", {"worker_id": "W1"}, 1)).accepted
        await wait_until(lambda: len(got) >= 2, WAIT_S, "the first events")
        sub.cancel()
        await asyncio.gather(sub, return_exceptions=True)

        # Sent and acknowledged by the broker while the subscriber is away: lost to its view.
        for v in (2, 3):
            assert (await command(broker, keys, "badge_unlock", {"worker_id": "W1"}, v)).accepted
        await wait_until(lambda: not any(journal.pending_count().values()), WAIT_S, "delivered")

        sub = await run_subscriber()
        try:
            assert (await command(broker, keys, "badge_unlock", {"worker_id": "W1"}, 4)).accepted
            await wait_until(lambda: max(got) >= journal.last_seq, WAIT_S, "the latest events")
            (boot,) = boots
            missing = sorted(set(range(1, max(got) + 1)) - set(got))
            assert missing, "the subscriber should have seen a gap in seq"

            body = {"boot_id": boot, "first_seq": missing[0], "last_seq": missing[-1]}
            reply = await command(broker, keys, "journal_replay", body, 1)
            assert reply.accepted and f"{missing[0]}..{missing[-1]}" in reply.detail, reply
            await wait_until(lambda: set(missing) <= set(got), WAIT_S, "the gap filled")
            assert all(got[s].historical for s in missing)
            assert sorted(got) == list(range(1, max(got) + 1))

            # A range the journal no longer holds is refused, with the reason.
            body = {"boot_id": "no-such-boot", "first_seq": 1, "last_seq": 5}
            reply = await command(broker, keys, "journal_replay", body, 2)
            assert not reply.accepted and "no events" in reply.detail
        finally:
            sub.cancel()
            await asyncio.gather(sub, return_exceptions=True)


async def test_watchers_without_a_client_id_do_not_take_each_other_over(
    broker: Any, tmp_path: Path
) -> None:
    # One shared client id made the broker drop the older watcher at every connect of the
    # other: each would log "disconnected" and reconnect, missing what came in between.
    (tmp_path / "pw").write_text("pw-central\n")
    argv = [sys.executable, "-m", "gateway.cli", "central", "watch", "--events",
            "--host", "127.0.0.1", "--port", str(broker.port), "--ca", str(broker.pki.ca_cert),
            "--password-file", str(tmp_path / "pw"), "--seconds", "8"]  # fmt: skip
    watchers = [
        await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    async with client_for(broker.settings(DEVICE, "dev-a-pub")) as dev:
        for seq in range(1, 25):  # over ~6 s, while both watchers run
            body = {
                "v": 1, "event_id": f"e{seq}", "boot_id": "b1", "seq": seq, "kind": "alert",
                "type": "gas_alarm_cleared", "lane": "critical",
                "wall_time": "2026-11-30T08:00:00+00:00", "wall_trusted": True,
                "payload": {"zone_id": "z1", "latched": False},
            }  # fmt: skip
            await dev.publish(TOPICS.event("alert"), json.dumps(body), qos=1)
            await asyncio.sleep(0.25)
    outputs = [await w.communicate() for w in watchers]
    for out, err in outputs:
        assert b"seq=24" in out, out[-500:]
        assert b"disconnected" not in err, err[-500:]
