"""``zonegate provision`` into a temporary root, then ``check-config`` on what it wrote."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from gateway.cli import main
from gateway.config import load_config
from tests.provision.conftest import (
    BROKER_PASSWORD,
    DEVICE,
    ProvisionFn,
    read_to_end,
    zonegate_on_pty,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_provisioned_root_passes_check_config_and_keeps_secrets_out_of_yaml(
    provision: ProvisionFn, central_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pw = tmp_path / "pw"
    pw.write_text(BROKER_PASSWORD + "\n")
    p = provision(
        "--broker-host",
        "broker.example.cn",
        "--broker-password-file",
        str(pw),
        "--central-key",
        str(central_key),
        "--json",
    )
    registration = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(["check-config", str(p.config)]) == 0

    text = p.config.read_text(encoding="utf-8")
    assert BROKER_PASSWORD not in text
    assert "PRIVATE KEY" not in text
    cfg = load_config(p.config)
    assert cfg.device.device_id == DEVICE
    assert cfg.zone.name == "三号焊接区"
    assert cfg.mqtt.enabled and cfg.mqtt.username == DEVICE
    assert cfg.mqtt.password_credential == "mqtt-password"
    assert cfg.mqtt.password_file is None
    assert str(cfg.mqtt.central_public_key).startswith("/run/credentials/zonegate.service/")

    assert _mode(p.credentials) == 0o700
    for name in ("mqtt-password", "device-key.pem", "central-public-key.pem"):
        assert _mode(p.credentials / name) == 0o600, name
    assert (p.credentials / "mqtt-password").read_text() == BROKER_PASSWORD + "\n"
    assert (p.credentials / "central-public-key.pem").read_bytes() == central_key.read_bytes()

    # The printed public key is the one that matches the private key on the device.
    private = serialization.load_pem_private_key(
        (p.credentials / "device-key.pem").read_bytes(), password=None
    )
    assert isinstance(private, Ed25519PrivateKey)
    public = serialization.load_pem_public_key(registration["device_public_key_pem"].encode())
    assert isinstance(public, Ed25519PublicKey)
    assert public.public_bytes_raw() == private.public_key().public_bytes_raw()
    assert registration["topic_prefix"] == f"edge/v1/plant1/{DEVICE}/"
    assert registration["broker_username"] == DEVICE


def test_without_a_broker_the_credentials_exist_empty_for_load_credential(
    provision: ProvisionFn,
) -> None:
    p = provision()
    assert main(["check-config", str(p.config)]) == 0
    assert not load_config(p.config).mqtt.enabled
    # LoadCredential= fails the unit when a source file is missing.
    assert (p.credentials / "mqtt-password").read_bytes() == b""
    assert (p.credentials / "central-public-key.pem").read_bytes() == b""
    assert (p.credentials / "device-key.pem").stat().st_size > 0


def test_a_template_keeps_its_sections_and_an_invalid_one_writes_nothing(
    provision: ProvisionFn, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision(template="daemon:\n  shutdown_timeout_s: 10\ngps:\n  enabled: false\n")
    assert load_config(p.config).daemon.shutdown_timeout_s == 10

    # English, as asserted (zh-CN is the default: test_provision_language.py)
    # A wrong template is a wrong config file: 78, at the template's own line (not at the line
    # of the config provision would have written).
    bad = provision("--lang", "en", template="daemon:\n  shutdown_timeout: 10\n", expect=78)
    err = capsys.readouterr().err
    assert "template3.yaml:2: daemon.shutdown_timeout" in err
    assert "did you mean 'shutdown_timeout_s'" in err
    assert not bad.config.exists()
    assert not bad.credentials.exists()


def test_refuses_to_overwrite_and_rejects_a_bad_central_key(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    key_before = (p.credentials / "device-key.pem").read_bytes()
    args = [
        "provision",
        "--root",
        str(p.root),
        "--device-id",
        DEVICE,
        "--site",
        "plant1",
        "--zone-id",
        "z1",
        "--work-kinds",
        "DHZY",
        "--yes",
        "--lang",
        "en",
    ]
    assert main(args) == 1  # refused (the one exit-code table; was 2, which is usage)
    assert "already exist" in capsys.readouterr().err
    assert (p.credentials / "device-key.pem").read_bytes() == key_before

    not_a_key = tmp_path / "central.pub"
    not_a_key.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    pw = tmp_path / "pw"
    pw.write_text("x\n")
    root = tmp_path / "fresh"
    rc = main(
        [
            *args[:2],
            str(root),
            *args[3:],
            "--broker-host",
            "b",
            "--broker-password-file",
            str(pw),
            "--central-key",
            str(not_a_key),
        ]
    )
    assert rc == 65  # EX_DATAERR: the key file cannot be used
    assert "central key" in capsys.readouterr().err
    assert not (root / "etc").exists()


def test_unknown_work_kind_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["provision", "--root", str(tmp_path), "--work-kinds", "WELD", "--yes"])
    assert not (tmp_path / "etc").exists()


def test_written_yaml_is_plain_data(provision: ProvisionFn) -> None:
    doc = yaml.safe_load(
        provision("--fence", "31.2304,121.4737,60").config.read_text(encoding="utf-8")
    )
    assert doc["gps"] == {"enabled": True}  # a fence needs a position
    assert doc["zone"]["geofence"] == {
        "type": "circle",
        "center": {"lat": 31.2304, "lon": 121.4737},
        "radius_m": 60.0,
    }


def test_without_a_terminal_a_missing_value_is_an_error_not_a_prompt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pytest's stdin is not a terminal: provision must say what is missing and write nothing.
    rc = main(
        [
            "provision",
            "--root",
            str(tmp_path),
            "--site",
            "plant1",
            "--zone-id",
            "z1",
            "--lang",
            "en",
        ]
    )
    assert rc == 2  # usage: a required flag, no terminal to ask (was 1)
    assert "--device-id is required" in capsys.readouterr().err
    assert not (tmp_path / "etc").exists()


def test_a_template_that_enables_mqtt_gets_credentials_not_a_password_file(
    provision: ProvisionFn, central_key: Path, tmp_path: Path
) -> None:
    pw = tmp_path / "pw"
    pw.write_text(BROKER_PASSWORD + "\n")
    template = (
        "mqtt:\n  enabled: true\n  host: broker.site\n  port: 8883\n"
        "  password_file: /etc/zonegate/broker-password\n"
    )
    p = provision(
        "--broker-password-file", str(pw), "--central-key", str(central_key), template=template
    )
    m = load_config(p.config).mqtt
    assert (m.host, m.port, m.username) == ("broker.site", 8883, DEVICE)
    assert m.password_file is None and m.password_credential == "mqtt-password"
    assert (p.credentials / "mqtt-password").read_text() == BROKER_PASSWORD + "\n"


def test_interactive_provision_asks_for_what_the_flags_left_out(tmp_path: Path) -> None:
    proc, master = zonegate_on_pty("provision", "--root", str(tmp_path))
    # device id, site, zone id, work kinds, fence, broker host (empty: no sync).
    # A typo in the work kinds is asked again, not a crash.
    os.write(master, b"zg-pty-1\nplant9\nbay-1\nWELD\nDHZY,LSYD\n31.23,121.47,80\n\n")
    output = read_to_end(master)
    assert proc.wait(timeout=60) == 0, output.decode(errors="replace")
    os.close(master)
    cfg = load_config(tmp_path / "etc" / "zonegate" / "gateway.yaml")
    assert (cfg.device.device_id, cfg.zone.site, cfg.zone.zone_id) == (
        "zg-pty-1",
        "plant9",
        "bay-1",
    )
    assert [k.value for k in cfg.zone.work_kinds] == ["DHZY", "LSYD"]
    assert not cfg.mqtt.enabled
    assert cfg.gps.enabled and cfg.zone.geofence is not None
    assert b"Device id" in output
    assert "未知的作业类别 WELD".encode() in output  # zh-CN: the default language


def test_ctrl_d_at_a_prompt_aborts_cleanly_and_writes_nothing(tmp_path: Path) -> None:
    # A fresh-user test got a full Python traceback (EOFError) for Ctrl-D at a prompt.
    proc, master = zonegate_on_pty("provision", "--root", str(tmp_path))
    os.write(master, b"zg-pty-2\nplant9\n\x04")  # two answers, then Ctrl-D at the third prompt
    output = read_to_end(master)
    os.close(master)
    text = output.decode(errors="replace")
    assert proc.wait(timeout=60) == 130, text
    assert "Traceback" not in text and "已取消，未写入任何文件" in text
    assert not (tmp_path / "etc").exists()
