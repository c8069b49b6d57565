"""Signed commands against the real ZoneController: accepted, or rejected with a reason."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud_sync.central import sign_command
from cloud_sync.commands import CommandProcessor, Rejection
from cloud_sync.config import MqttConfig
from cloud_sync.payloads import Reply
from cloud_sync.signing import SignatureError, Signer
from cloud_sync.topics import DeviceTopics
from edge.clock import ManualClock
from edge.evidence import FixedAir
from edge.journal import Journal
from edge.models import (
    CertCategory,
    EventKind,
    PermitStatus,
    WorkKind,
    Zone,
)
from edge.registry import Registry
from edge.zone import ZoneController

SITE, DEVICE = "plant", "gw-1"
TOPICS = DeviceTopics(SITE, DEVICE)
ZONE = Zone(site=SITE, zone_id="z1", work_kinds=(WorkKind.HOT_WORK, WorkKind.CONFINED_SPACE))


@dataclass
class Env:
    clock: ManualClock
    registry: Registry
    journal: Journal
    ctl: ZoneController
    proc: CommandProcessor
    signer: Signer

    def permit_body(self, pid: str = "P1", version: int = 1, **kw: Any) -> dict[str, Any]:
        now = self.clock.wall()
        permit = {
            "permit_id": pid,
            "zone_id": "z1",
            "kind": "DHZY",
            "level": "hot_1",
            "valid_from": (now - timedelta(minutes=1)).isoformat(),
            "valid_to": (now + timedelta(hours=4)).isoformat(),
            "members": [
                {"worker_id": "G1", "role": "guardian"},
                {"worker_id": "W1", "role": "operator", "required_cert": "welding"},
            ],
            "version": version,
            **kw,
        }
        return {"device": DEVICE, "permit": permit}

    def sign(self, type_: str, body: dict[str, Any], version: int, **kw: Any) -> dict[str, Any]:
        return sign_command(self.signer, type_, body, version, now=self.clock.wall(), **kw)

    async def send(self, env: dict[str, Any] | bytes, name: str | None = None) -> Reply:
        raw = env if isinstance(env, bytes) else json.dumps(env).encode()
        topic = TOPICS.cmd(name or (env["type"] if isinstance(env, dict) else "permit_issue"))
        reply_topic, reply = await self.proc.handle(topic, raw)
        assert reply_topic == TOPICS.reply(name or reply.command)
        return reply


@pytest.fixture
def env(tmp_path: Path, keys: Any) -> Iterator[Env]:
    clock = ManualClock()
    registry = Registry(tmp_path / "registry.json")
    journal = Journal(tmp_path / "journal.db", clock)
    ctl = ZoneController(zone=ZONE, registry=registry, journal=journal, clock=clock, air=FixedAir())
    proc = CommandProcessor(
        target=ctl,
        store=registry,
        journal=journal,
        verifier=keys.verifier,
        topics=TOPICS,
        clock=clock,
        max_bytes=MqttConfig().max_command_bytes,
    )
    yield Env(clock, registry, journal, ctl, proc, keys.signer)
    journal.close()
    registry.close()


def _rejections(env: Env) -> list[str]:
    return [e.payload["reason"] for e in env.journal.events(EventKind.COMMAND, "command_rejected")]


async def test_signed_permit_issue_is_applied_and_replied(env: Env) -> None:
    reply = await env.send(env.sign("permit_issue", env.permit_body(), 1))
    assert reply.accepted, reply
    permit = env.registry.permit("P1")
    assert permit is not None
    assert permit.status is PermitStatus.APPROVED
    accepted = env.journal.events(EventKind.COMMAND, "command_accepted")
    assert [e.event_id for e in accepted] == [reply.event_id]


async def test_unsigned_and_forged_commands_change_nothing(env: Env) -> None:
    good = env.sign("permit_issue", env.permit_body(), 1)
    unsigned = {k: v for k, v in good.items() if k != "sig"}
    other = Signer(Ed25519PrivateKey.generate()).envelope(
        "permit_issue", 1, env.clock.wall() + timedelta(minutes=5), env.permit_body()
    )
    tampered = json.loads(json.dumps(good))
    tampered["body"]["permit"]["valid_to"] = (env.clock.wall() + timedelta(hours=8)).isoformat()
    stolen_id = {**other, "key_id": good["key_id"]}
    bad_b64 = {**good, "sig": "!!notbase64!!"}
    replies = [await env.send(e) for e in (unsigned, other, tampered, stolen_id, bad_b64)]
    assert [r.reason for r in replies] == [
        Rejection.UNSIGNED,
        Rejection.UNKNOWN_KEY,
        Rejection.BAD_SIGNATURE,
        Rejection.BAD_SIGNATURE,
        Rejection.BAD_SIGNATURE,
    ]
    assert not any(r.accepted for r in replies)
    assert env.registry.permit("P1") is None
    assert len(_rejections(env)) == 5


async def test_replayed_and_older_versions_are_rejected_per_document(env: Env) -> None:
    v2 = env.sign("permit_issue", env.permit_body(version=2), 2)
    assert (await env.send(v2)).accepted
    assert (await env.send(v2)).reason == Rejection.REPLAYED
    v1 = env.sign("permit_issue", env.permit_body(version=1), 1)
    assert (await env.send(v1)).reason == Rejection.REPLAYED
    # another document has its own counter
    other = env.sign("permit_issue", env.permit_body("P2", version=1), 1)
    assert (await env.send(other)).accepted
    # a revoke of P1 must be newer than P1's version 2
    revoke_old = env.sign("permit_revoke", {"device": DEVICE, "permit_id": "P1", "reason": "x"}, 2)
    assert (await env.send(revoke_old)).reason == Rejection.REPLAYED
    revoke = env.sign("permit_revoke", {"device": DEVICE, "permit_id": "P1", "reason": "x"}, 3)
    assert (await env.send(revoke)).accepted
    permit = env.registry.permit("P1")
    assert permit is not None
    assert permit.status is PermitStatus.REVOKED


async def test_expired_command_is_rejected(env: Env) -> None:
    e = env.sign("permit_issue", env.permit_body(), 1, ttl=timedelta(seconds=30))
    env.clock.advance(31)
    assert (await env.send(e)).reason == Rejection.EXPIRED
    assert env.registry.permit("P1") is None


async def test_lifetime_is_capped_per_type_and_not_before_holds(env: Env) -> None:
    """A signed command expiring in 2099 was accepted (issue 16.8)."""
    far = env.sign("permit_issue", env.permit_body(), 1, ttl=timedelta(days=365 * 70))
    assert (await env.send(far)).reason == Rejection.TTL_TOO_LONG
    week = env.sign("permit_issue", env.permit_body(), 1, ttl=timedelta(days=7))
    assert (await env.send(week)).reason == Rejection.TTL_TOO_LONG
    assert env.registry.permit("P1") is None
    now = env.clock.wall()
    early = env.sign(
        "permit_issue", env.permit_body(), 1, ttl=timedelta(hours=2),
        not_before=now + timedelta(hours=1),
    )  # fmt: skip
    assert (await env.send(early)).reason == Rejection.NOT_YET_VALID
    assert env.registry.permit("P1") is None
    env.clock.advance(3600)
    assert (await env.send(early)).accepted  # the same envelope, once its time has come
    long_window = env.sign(
        "badge_unlock", {"device": DEVICE, "worker_id": "W1"}, 1, ttl=timedelta(minutes=30),
        not_before=env.clock.wall() - timedelta(hours=2),
    )  # fmt: skip
    assert (await env.send(long_window)).reason == Rejection.TTL_TOO_LONG
    # Tampering with not_before breaks the signature.
    forged = dict(early, not_before=(now - timedelta(days=1)).isoformat())
    assert (await env.send(forged)).reason == Rejection.BAD_SIGNATURE
    revoke = env.sign(
        "permit_revoke", {"device": DEVICE, "permit_id": "P1", "reason": "r"}, 2,
        ttl=timedelta(days=6),
    )  # fmt: skip
    assert (await env.send(revoke)).accepted


async def test_untrusted_clock_refuses_grants_but_accepts_revoke(env: Env) -> None:
    assert (await env.send(env.sign("permit_issue", env.permit_body(), 1))).accepted
    env.clock.trusted = False
    again = env.sign("permit_issue", env.permit_body(version=2), 2)
    assert (await env.send(again)).reason == Rejection.CLOCK_UNTRUSTED
    revoke = env.sign("permit_revoke", {"device": DEVICE, "permit_id": "P1", "reason": "r"}, 3)
    assert (await env.send(revoke)).accepted


@pytest.mark.parametrize(
    ("raw", "name", "reason"),
    [
        (b"\xff\xfe", "permit_issue", Rejection.MALFORMED),
        (b"{not json", "permit_issue", Rejection.MALFORMED),
        (b"[1, 2]", "permit_issue", Rejection.MALFORMED),
        (b"null", "permit_issue", Rejection.MALFORMED),
        (b"9" * 5000, "permit_issue", Rejection.MALFORMED),
        (b"[" * 100_000 + b"]" * 100_000, "permit_issue", Rejection.MALFORMED),
        (b" " * (MqttConfig().max_command_bytes + 1), "permit_issue", Rejection.OVERSIZED),
    ],
)
async def test_garbage_is_rejected_not_raised(env: Env, raw: bytes, name: str, reason: str) -> None:
    reply = await env.send(raw, name)
    assert reply.reason == reason
    assert not reply.accepted


async def test_signed_but_wrong_shapes_are_rejected(env: Env) -> None:
    body = env.permit_body()
    cases = [
        (env.sign("permit_issue", body, 1), "permit_revoke", Rejection.MALFORMED),  # topic/type
        (
            env.signer.envelope("reboot", 1, env.clock.wall() + timedelta(minutes=1), {}),
            None,
            Rejection.UNKNOWN_COMMAND,
        ),
        (
            env.signer.envelope(
                "permit_issue",
                1,
                env.clock.wall() + timedelta(minutes=1),
                {"device": DEVICE, "permit": {"permit_id": "P1"}},
            ),
            None,
            Rejection.MALFORMED,
        ),
        (
            env.signer.envelope(
                "permit_issue",
                1,
                env.clock.wall() + timedelta(minutes=1),
                {**body, "device": "gw-2"},
            ),
            None,
            Rejection.WRONG_DEVICE,
        ),
        (
            env.signer.envelope("permit_issue", 5, env.clock.wall() + timedelta(minutes=1), body),
            None,
            Rejection.MALFORMED,
        ),  # permit.version != doc_version
    ]
    for envelope, name, reason in cases:
        reply = await env.send(envelope, name)
        assert reply.reason == reason, (reply, reason)
    assert env.registry.permit("P1") is None


async def test_zone_refusal_is_a_reply_not_a_crash(env: Env) -> None:
    body = env.permit_body()
    body["permit"]["zone_id"] = "elsewhere"
    reply = await env.send(env.sign("permit_issue", body, 1))
    assert reply.reason == Rejection.REFUSED
    assert "WRONG_ZONE" in reply.detail
    # the version was not consumed: a corrected v1 goes through
    assert (await env.send(env.sign("permit_issue", env.permit_body(), 1))).accepted


async def test_roster_certificates_unlock_resume_config(env: Env) -> None:
    today = env.clock.wall().date()
    cert = {
        "number": "T1234567",
        "category": "welding",
        "issuing_authority": "应急管理局",
        "valid_from": str(today - timedelta(days=10)),
        "valid_to": str(today + timedelta(days=900)),
    }
    roster = {
        "device": DEVICE,
        "workers": [{"worker_id": "W1", "name": "张三", "badge_ids": ["B-W1"]}],
    }
    assert (await env.send(env.sign("roster_update", roster, 1))).accepted
    assert env.registry.worker("W1") is not None
    certs = {"device": DEVICE, "worker_id": "W1", "certificates": [cert]}
    assert (await env.send(env.sign("certificate_update", certs, 1))).accepted
    w = env.registry.worker("W1")
    assert w is not None
    assert [c.category for c in w.certificates] == [CertCategory.WELDING]
    unknown = {"device": DEVICE, "worker_id": "nobody", "certificates": [cert]}
    assert (await env.send(env.sign("certificate_update", unknown, 1))).reason == (
        Rejection.REFUSED
    )
    env.registry.lock("W1", "test", env.clock.wall())
    assert (
        await env.send(env.sign("badge_unlock", {"device": DEVICE, "worker_id": "W1"}, 1))
    ).accepted
    assert "W1" not in env.registry.lockouts()
    remove = {"device": DEVICE, "remove": ["W1"]}
    assert (await env.send(env.sign("roster_update", remove, 2))).accepted
    assert env.registry.worker("W1") is None
    # resume: the zone's rule (fresh gas test) still applies, answered as a refusal
    assert (await env.send(env.sign("permit_issue", env.permit_body(), 1))).accepted
    resume = env.sign("permit_resume", {"device": DEVICE, "permit_id": "P1"}, 2)
    assert (await env.send(resume)).reason == Rejection.REFUSED
    # config_change is no command (issue 16.5): refused as unknown, nothing stored
    cfg = {"device": DEVICE, "section": "access", "values": {"lockout_threshold": 5}}
    old_central = env.signer.envelope(
        "config_change", 1, env.clock.wall() + timedelta(minutes=5), cfg
    )  # the reference central refuses to sign it at all (sign_command), an old one might
    reply = await env.send(old_central)
    assert reply.reason == Rejection.UNKNOWN_COMMAND and not reply.accepted
    assert env.registry.docs("pending_config") == []


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["permit_issue", "permit_revoke", "x"]) | st.text(max_size=5),
        "doc_version": st.integers(-2, 2**70) | st.text(max_size=3),
        "expires_at": st.text(max_size=30) | st.just("2099-01-01T00:00:00+00:00"),
        "body": _json,
        "key_id": st.text(max_size=16),
        "sig": st.text(max_size=100),
    },
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    raw=st.binary(max_size=300)
    | _json.map(lambda v: json.dumps(v).encode())
    | _fields.map(lambda v: json.dumps(v).encode())
)
async def test_fuzzed_input_never_raises_nor_applies(env: Env, raw: bytes) -> None:
    reply = await env.send(raw, "permit_issue")
    assert not reply.accepted
    assert reply.reason in set(Rejection)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    type_=st.sampled_from(
        [
            "permit_issue",
            "permit_revoke",
            "roster_update",
            "badge_unlock",
            "config_change",
            "permit_resume",
            "certificate_update",
        ]
    ),
    body=_json,
    version=st.integers(1, 2**62),
)
async def test_fuzzed_bodies_signed_by_central_never_raise(
    env: Env, type_: str, body: Any, version: int
) -> None:
    """Even the genuine key signing nonsense must not hurt the daemon."""
    envelope = env.signer.envelope(
        type_,
        version,
        env.clock.wall() + timedelta(minutes=1),
        body if isinstance(body, dict) else {"x": body},
    )
    reply = await env.send(envelope)
    assert reply.reason in {None, *Rejection}
    assert reply.reason != Rejection.INTERNAL_ERROR


def test_signature_covers_every_field(keys: Any) -> None:
    from datetime import UTC, datetime

    e = keys.signer.envelope("badge_unlock", 3, datetime(2030, 1, 1, tzinfo=UTC), {"a": "é"})
    keys.verifier.verify(e)
    for field, value in (
        ("type", "x"),
        ("doc_version", 4),
        ("expires_at", "2031"),
        ("body", {"a": "e"}),
        ("key_id", "0" * 16),
    ):
        with pytest.raises(SignatureError, match=r"signature|key_id"):
            keys.verifier.verify({**e, field: value})
    assert len(base64.b64decode(e["sig"])) == 64


async def test_signed_alarm_acknowledge_reaches_every_latching_capability(env: Env) -> None:
    heard: list[str] = []

    def gas_ack(actor: str) -> list[dict[str, Any]]:
        heard.append(actor)
        return [{"sensor_id": "ze15-co-1", "gas": "co", "channel": "high"}]

    env.ctl.alarm_acknowledgers.append(gas_ack)
    body = {"device": DEVICE, "actor": "safety-officer:S01"}
    reply = await env.send(env.sign("alarm_acknowledge", body, 1))
    assert reply.accepted and "1 alarm(s) acknowledged" in reply.detail
    assert heard == ["safety-officer:S01"]
    replay = await env.send(env.sign("alarm_acknowledge", body, 1))
    assert replay.reason == Rejection.REPLAYED and heard == ["safety-officer:S01"]
