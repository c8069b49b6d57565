"""Docs stay generated from the code; the central CLI; backoff; config; topic hygiene."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cloud_sync.config import MqttConfig
from cloud_sync.link import Backoff
from cloud_sync.schema_docs import render
from cloud_sync.signing import Verifier, load_public_key
from cloud_sync.topics import DeviceTopics
from edge.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mqtt"


def test_committed_docs_match_the_code() -> None:
    files = render()
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
    bad.write_text(json.dumps({"worker_id": "W1"}))  # no device
    assert main(["central", "sign", "badge_unlock", "--key", str(key), "--version", "1",
                 "--body", str(bad)]) == 2  # fmt: skip


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
