"""Docs stay generated from the code; the central CLI; backoff; config; topic hygiene."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cloud_sync.central import Fleet, client_for
from cloud_sync.config import MqttConfig
from cloud_sync.schema_docs import render
from cloud_sync.signing import Verifier, load_public_key
from cloud_sync.topics import DeviceTopics
from firmware_adapters.backoff import Backoff
from gateway.cli import main
from gateway.local_broker import LocalBroker, demo_sync, print_events

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mqtt"


def test_committed_docs_match_the_code() -> None:
    files = render(json.loads((DOCS / "examples" / "events.json").read_text(encoding="utf-8")))
    for rel, text in files.items():
        path = DOCS / rel
        assert path.exists(), f"{path} missing: run zonegate central docs --out docs/mqtt"
        assert path.read_text(encoding="utf-8") == text, f"{rel} is stale: regenerate"
    on_disk = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*") if p.is_file()}
    assert on_disk == set(files)


def test_keygen_sign_verify_through_the_cli(tmp_path: Path, capsys: Any) -> None:
    assert main(["central", "keygen", "--out", str(tmp_path / "k")]) == 0
    key = tmp_path / "k" / "central.key"
    assert key.stat().st_mode & 0o777 == 0o600
    body = tmp_path / "unlock.json"
    body.write_text(json.dumps({"device": "gw-1", "worker_id": "W1"}))
    capsys.readouterr()
    rc = main(["central", "sign", "badge_unlock", "--key", str(key), "--version", "4",
               "--body", str(body)])  # fmt: skip
    assert rc == 0
    envelope = json.loads(capsys.readouterr().out)
    Verifier(load_public_key(tmp_path / "k" / "central.pub")).verify(envelope)
    assert envelope["doc_version"] == 4
    assert envelope["body"] == {"device": "gw-1", "worker_id": "W1"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"worker_id": "W1"}))  # no device: a data error (65), not usage (2)
    assert main(["central", "sign", "badge_unlock", "--key", str(key), "--version", "1",
                 "--body", str(bad)]) == 65  # fmt: skip
    capsys.readouterr()
    # What a gateway would refuse is refused before sending, with the gateway's reason code
    # (a fresh-user test signed a 30-day badge_unlock and a 1,800-worker roster unwarned).
    assert main(["central", "sign", "badge_unlock", "--key", str(key), "--version", "1",
                 "--body", str(body), "--ttl", str(30 * 86400)]) == 65  # fmt: skip
    assert "CMD_TTL_TOO_LONG" in capsys.readouterr().err
    workers = [{"worker_id": f"W{i:05d}", "name": "张三丰", "badge_ids": [f"CARD-{i:08d}"]}
               for i in range(3000)]  # fmt: skip
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps({"device": "gw-1", "workers": workers}))
    assert main(["central", "sign", "roster_update", "--key", str(key), "--version", "1",
                 "--body", str(roster)]) == 65  # fmt: skip
    assert "CMD_OVERSIZED" in capsys.readouterr().err


def test_watch_cli_runs_against_the_broker(broker: Any, tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("pw-central\n")
    rc = main(["central", "watch", "--host", "127.0.0.1", "--port", str(broker.port),
               "--ca", str(broker.pki.ca_cert), "--password-file", str(tmp_path / "pw"),
               "--seconds", "0.6"])  # fmt: skip
    assert rc == 0


def test_backoff_grows_to_the_cap_with_jitter_and_resets() -> None:
    b = Backoff(0.5, 8.0, random.Random(1))
    delays = [b.next_delay() for _ in range(200)]
    assert all(0.25 <= d <= 8.0 for d in delays)
    assert max(delays[:2]) <= 1.0
    assert min(delays[10:]) >= 4.0  # at the cap, jitter stays in [cap/2, cap]
    assert len(set(delays)) == len(delays)
    b.reset()
    assert b.next_delay() <= 0.5


def test_mqtt_config_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert MqttConfig().enabled is False
    with pytest.raises(ValidationError, match="central_public_key"):
        MqttConfig(enabled=True)
    with pytest.raises(ValidationError, match="go together"):
        MqttConfig(cert_file=Path("c.pem"))
    with pytest.raises(ValidationError, match="extra"):
        MqttConfig.model_validate({"hots": "x"})
    (tmp_path / "mqtt-password").write_text("s3cret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert MqttConfig(password_credential="mqtt-password").password() == "s3cret"
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(ValueError, match="LoadCredential"):
        MqttConfig(password_credential="mqtt-password").password()


def test_topic_levels_cannot_be_widened() -> None:
    t = DeviceTopics("s1", "gw-1")
    assert t.event("#") == "edge/v1/s1/gw-1/event/_invalid"
    assert t.telemetry("a/b") == "edge/v1/s1/gw-1/telemetry/_invalid"
    assert t.command_name("edge/v1/s1/gw-1/cmd/permit_issue") == "permit_issue"
    assert t.command_name("edge/v1/s1/gw-2/cmd/permit_issue") is None
    with pytest.raises(ValueError, match="topic level"):
        DeviceTopics("s1", "+")


async def test_local_broker_for_the_demo(
    tmp_path: Path, tasks: list[asyncio.Task[None]], wait_until: Any
) -> None:
    lines: list[str] = []
    async with LocalBroker() as broker:
        cfg, signer = demo_sync(broker, tmp_path / "keys")
        assert cfg.enabled
        assert not cfg.tls
        assert signer.key_id
        ready = asyncio.Event()
        tasks.append(asyncio.create_task(print_events(broker, lines.append, ready)))
        await ready.wait()
        async with client_for(broker.settings("demo-dev")) as dev:
            msg = {"v": 1, "event_id": "e1", "boot_id": "b", "seq": 1, "kind": "alert",
                   "type": "gas_alarm", "lane": "critical",
                   "wall_time": "2026-11-24T08:00:00+00:00", "wall_trusted": True,
                   "payload": {}}  # fmt: skip
            for _ in range(2):  # a duplicate is printed once
                await dev.publish("edge/v1/s/d/event/alert", json.dumps(msg), qos=1)
            await dev.publish(
                "edge/v1/s/d/event/alert", json.dumps({**msg, "event_id": "e2"}), qos=1
            )
        await wait_until(lambda: len(lines) == 2, 10, "two distinct events")
    assert lines[0] == "[central] alert/gas_alarm seq=1 (critical)"


@settings(max_examples=200, deadline=None)
@given(topic=st.sampled_from(["edge/v1/s/d/status", "edge/v1/s/d/birth", "edge/v1/s/d/event/x",
                              "edge/v1/s/d/state/permits/P", "edge/v1/s/d/state/presence",
                              "edge/v1/s/d/reply/x", "edge/v1/s", "other"]) | st.text(max_size=30),
       payload=st.binary(max_size=200) | st.recursive(
           st.none() | st.integers() | st.text(max_size=8),
           lambda i: st.lists(i, max_size=3) | st.dictionaries(st.text(max_size=8), i, max_size=3),
           max_leaves=10).map(lambda v: json.dumps(v).encode()))  # fmt: skip
def test_fleet_view_never_raises_on_junk(topic: str, payload: bytes) -> None:
    fleet = Fleet()
    fleet.apply(topic, payload)
    assert isinstance(fleet.rows(), list)
