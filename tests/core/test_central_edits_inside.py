"""Central's edits that would leave the zone's records wrong about the people inside.

Found by a fresh-user test, each sent as a signed command to the real controller:
- a ``roster_update`` removing a guardian who was inside left a nameless "ghost" who could
  not badge out and still counted as the confined space's guardian;
- a ``permit_update`` dropping a worker who was inside left them inside on a permit that no
  longer named them, green light, no alert;
- a ``gas_test_record`` dated three hours ahead (a phone with a wrong clock) became the zone's
  "latest" test and hid every real one: no resume for hours.
Each is now refused with its reason; nothing of the command is applied.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud_sync.central import sign_command
from cloud_sync.commands import CommandProcessor
from cloud_sync.config import MqttConfig
from cloud_sync.payloads import Reply
from cloud_sync.signing import (
    Signer,
    Verifier,
    generate_keypair,
    load_private_key,
    load_public_key,
)
from cloud_sync.topics import DeviceTopics
from edge.models import PermitStatus
from edge.zone import CommandRejected
from tests.core.conftest import Env

TOPICS = DeviceTopics("plant", "gw-1")


class Central:
    """Central's side: signs commands and hands them to the gateway's command processor."""

    def __init__(self, env: Env, keys_dir: Path) -> None:
        private, public = generate_keypair(keys_dir)
        self.env = env
        self.signer = Signer(load_private_key(private))
        self.proc = CommandProcessor(
            target=env.ctl,
            store=env.registry,
            journal=env.journal,
            verifier=Verifier(load_public_key(public)),
            topics=TOPICS,
            clock=env.clock,
            max_bytes=MqttConfig().max_command_bytes,
        )
        self.versions: dict[str, int] = {}

    async def send(self, type_: str, body: dict[str, Any], version: int | None = None) -> Reply:
        """Sign ``body`` as ``type_`` with ``version`` (default: the next of this type)."""
        version = version or self.versions.get(type_, 0) + 1
        self.versions[type_] = version
        envelope = sign_command(
            self.signer, type_, {"device": "gw-1", **body}, version, now=self.env.clock.wall()
        )
        _, reply = await self.proc.handle(TOPICS.cmd(type_), json.dumps(envelope).encode())
        return reply


@pytest.fixture
def central(env: Env, tmp_path: Path) -> Central:
    return Central(env, tmp_path / "keys")


async def _inside(env: Env) -> None:
    """G1 (guardian) and W1 (welder) inside on an active hot-work permit P1."""
    env.worker("G1")
    env.welder("W1")
    env.active_permit()
    for wid in ("G1", "W1"):
        decision = await env.ctl.badge_in(f"B-{wid}")
        assert decision.allowed, decision.reasons
    assert set(env.registry.presence()) == {"G1", "W1"}


async def test_a_worker_inside_cannot_be_removed_from_the_roster(
    env: Env, central: Central
) -> None:
    await _inside(env)
    newcomer = {"worker_id": "N1", "name": "新人", "badge_ids": ["B-N1"]}
    reply = await central.send("roster_update", {"workers": [newcomer], "remove": ["G1"]})
    assert not reply.accepted and "WORKER_INSIDE" in reply.detail, reply
    # All or nothing: the guardian stays, and the worker put in the same document was not.
    assert env.registry.worker("G1") is not None and env.registry.worker("N1") is None
    assert (await env.ctl.badge_out("B-G1")).allowed  # the exit is recorded
    assert "G1" not in env.registry.presence()
    reply = await central.send("roster_update", {"remove": ["G1"]})
    assert reply.accepted, reply
    assert env.registry.worker("G1") is None


async def test_a_permit_update_cannot_drop_a_member_who_is_inside(
    env: Env, central: Central
) -> None:
    await _inside(env)
    permit = env.registry.permit("P1")
    assert permit is not None
    body = permit.model_dump(mode="json", exclude={"status", "suspension", "activated_at"})
    body["members"] = [m for m in body["members"] if m["worker_id"] != "W1"]
    body["version"] = permit.version + 1
    reply = await central.send("permit_update", {"permit": body}, body["version"])
    assert not reply.accepted and "WORKER_INSIDE" in reply.detail and "W1" in reply.detail
    kept = env.registry.permit("P1")
    assert kept is not None and kept.version == permit.version
    assert {m.worker_id for m in kept.members} == {"G1", "W1"}
    await env.ctl.badge_out("B-W1")
    reply = await central.send("permit_update", {"permit": body}, body["version"])
    assert reply.accepted, reply
    updated = env.registry.permit("P1")
    assert updated is not None and updated.status is PermitStatus.ACTIVE
    assert {m.worker_id for m in updated.members} == {"G1"}


async def test_a_gas_test_dated_in_the_future_is_refused_and_never_hides_a_real_one(
    env: Env, central: Central
) -> None:
    env.worker("A1")
    now = env.clock.wall()

    def record(taken_at: Any, test_id: str) -> dict[str, Any]:
        return {
            "test_id": test_id,
            "analyst": "A1",
            "instrument": {"kind": "portable", "instrument_id": "MX4-1"},
            "sample_point": "bay 3",
            "taken_at": taken_at.isoformat(),
            "samples": [
                {"gas": "o2", "value": 20.9, "unit": "%vol"},
                {"gas": "lel", "value": 0.0, "unit": "%LEL"},
                {"gas": "co", "value": 1.0, "unit": "ppm"},
            ],
        }

    reply = await central.send("gas_test_record", record(now + timedelta(hours=3), "GT-F"))
    assert not reply.accepted and "GAS_TEST_IN_FUTURE" in reply.detail, reply
    assert env.registry.gas_tests("z1") == []
    # Within the allowed skew (another device's clock a few seconds ahead) it is taken.
    reply = await central.send("gas_test_record", record(now + timedelta(seconds=30), "GT-S"))
    assert reply.accepted, reply
    # A test recorded before the gateway's clock stepped back (e.g. an NTP correction) is not
    # the one judged: the real test taken after it is.
    env.clock.advance(60)
    p = env.permit()
    later = env.registry.gas_tests("z1")[0].model_copy(
        update={"test_id": "GT-OLD-CLOCK", "taken_at": now + timedelta(hours=2)}
    )
    env.registry.put_gas_test(later)  # as a store written before the clock moved back holds it
    env.gas_test()
    started = env.ctl.start_permit(p.permit_id, "leader")
    assert started.status is PermitStatus.ACTIVE
    # A *failed* test dated ahead stays the one judged: an older passing test never vouches
    # for air a later test found bad, whatever the clocks say.
    failed = later.model_copy(
        update={"test_id": "GT-BAD-AHEAD", "passed": False, "taken_at": now + timedelta(hours=3)}
    )
    env.registry.put_gas_test(failed)
    env.gas_test()
    p2 = env.permit(pid="P2")
    with pytest.raises(CommandRejected):
        env.ctl.start_permit(p2.permit_id, "leader")
