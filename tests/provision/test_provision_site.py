"""Provisioning as a technician does it on site: from the example template, by flags and
interactively on a terminal, then selftest against a broker whose ACL refuses the writes."""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from firmware_adapters.tcpports import free_port
from gateway.cli import main
from gateway.config import load_config
from tests.provision.conftest import (
    BROKER_PASSWORD,
    DEVICE,
    REPO,
    Broker,
    ProvisionFn,
    broker_flags,
    read_to_end,
    wait_port,
    zonegate_on_pty,
)

EXAMPLE = REPO / "config" / "gateway.example.yaml"
TIMINGS: dict[str, float] = {}


@contextmanager
def mosquitto(tmp: Path, acl: str, users: dict[str, str] | None = None) -> Iterator[Broker]:
    """A plain-MQTT mosquitto on loopback with the device user (and ``users``) and ``acl``."""
    tmp.mkdir(parents=True, exist_ok=True)
    passwd = tmp / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwd), DEVICE, BROKER_PASSWORD],
        check=True,
        capture_output=True,
    )
    for user, password in (users or {}).items():
        subprocess.run(
            ["mosquitto_passwd", "-b", str(passwd), user, password], check=True, capture_output=True
        )
    (tmp / "acl").write_text(acl)
    port = free_port()
    (tmp / "mosquitto.conf").write_text(
        f"per_listener_settings false\nuser root\nallow_anonymous false\n"
        f"password_file {passwd}\nacl_file {tmp / 'acl'}\npersistence false\n"
        f"log_dest file {tmp / 'mosquitto.log'}\nlistener {port} 127.0.0.1\n"
    )
    proc = subprocess.Popen(
        ["mosquitto", "-c", str(tmp / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc)
        yield Broker(port, proc)
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_example_template_by_flags_keeps_comments_and_uses_the_device_id(
    provision: ProvisionFn, central_key: Path, tmp_path: Path
) -> None:
    pw = tmp_path / "pw"
    pw.write_text(BROKER_PASSWORD + "\n")
    p = provision(
        "--broker-host",
        "127.0.0.1",
        "--no-tls",
        "--broker-password-file",
        str(pw),
        "--central-key",
        str(central_key),
        template=EXAMPLE.read_text(encoding="utf-8"),
    )
    text = p.config.read_text(encoding="utf-8")
    cfg = load_config(p.config)
    # The example names its own user (zg-plant1-bay3); the ACL's %u needs the device id.
    assert cfg.mqtt.username == DEVICE
    assert "# unique per gateway; used in MQTT topics" in text
    assert "# must equal device.device_id (the broker ACL uses %u)" in text
    assert "# face verification at badge-in, on the device" in text
    assert f"device_id: {DEVICE}" in text
    assert main(["check-config", str(p.config)]) == 0


def test_an_overlay_merges_over_the_example_and_the_flags_still_win(
    provision: ProvisionFn, tmp_path: Path
) -> None:
    # A site keeps the shipped example as its base and only its own ports in a file of its own.
    site = tmp_path / "site.yaml"
    site.write_text(
        "device: {device_id: from-the-overlay}\n"
        "gas:\n  sensors:\n"
        "    - {type: winsen_ze, id: co-1, port: /dev/ttyUSB3, model: ze15}\n"
        "badge: {port: /dev/ttyUSB0}\n"
        "outputs: {mock: true}\n"
        "identity: {camera: {type: files, paths: [/srv/scene.jpg]}}\n"
        "mqtt: {enabled: false}\n",
        encoding="utf-8",
    )
    p = provision("--overlay", str(site), template=EXAMPLE.read_text(encoding="utf-8"))
    cfg = load_config(p.config)
    assert cfg.device.device_id == DEVICE  # the flag, not the overlay
    assert [(s.id, str(s.port)) for s in cfg.gas.sensors] == [("co-1", "/dev/ttyUSB3")]
    assert (str(cfg.badge.port), cfg.badge.baudrate) == ("/dev/ttyUSB0", 9600)  # merged by key
    assert cfg.outputs.mock is True
    # Another kind of camera replaces the example's picamera2 section whole (its lores_size
    # would not fit a file camera); the rest of identity is merged.
    assert cfg.identity.camera.type == "files" and cfg.identity.tolerance == 0.5
    assert "# card / QR reader sending one id per line" in p.config.read_text(encoding="utf-8")
    provision("--overlay", str(tmp_path / "missing.yaml"), expect=66)  # EX_NOINPUT


def test_force_keeps_the_device_key_and_rotate_key_replaces_it(
    provision: ProvisionFn, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    key = (p.credentials / "device-key.pem").read_bytes()
    base = ["provision", "--root", str(p.root), "--device-id", DEVICE, "--site", "plant1"]
    base += ["--zone-id", "z2", "--work-kinds", "GCZY", "--yes", "--json"]
    capsys.readouterr()
    assert main([*base, "--force"]) == 0
    reg = json.loads(capsys.readouterr().out)
    assert reg["device_key_kept"] is True
    assert (p.credentials / "device-key.pem").read_bytes() == key
    assert load_config(p.config).zone.zone_id == "z2"
    assert main([*base, "--force", "--rotate-key"]) == 0
    assert json.loads(capsys.readouterr().out)["device_key_kept"] is False
    assert (p.credentials / "device-key.pem").read_bytes() != key


def _converse(master: int, script: list[tuple[bytes, bytes]]) -> bytes:
    """Answer each prompt when it appears (``(expected text, answer)``); the whole output."""
    output = b""
    deadline = time.monotonic() + 60
    for expected, answer in script:
        while expected not in output:
            assert time.monotonic() < deadline, output.decode(errors="replace")
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(
                        f"closed before {expected!r}: " + output.decode(errors="replace")
                    )
                output += chunk
        output = output.replace(expected, b"<" + expected + b">", 1)  # wait for the next one
        os.write(master, answer + b"\n")
    return output + read_to_end(master)


def test_interactive_provision_then_selftest_names_a_broker_refusing_writes(
    tmp_path: Path, central_key: Path
) -> None:
    # The device may log in and read its commands, but not write a single topic.
    acl = f"user {DEVICE}\ntopic read edge/v1/+/{DEVICE}/cmd/+\n"
    with mosquitto(tmp_path / "broker", acl) as broker:
        root = tmp_path / "root"
        started = time.monotonic()
        proc, master = zonegate_on_pty(
            "provision",
            "--root",
            str(root),
            "--template",
            str(EXAMPLE),
            "--no-tls",
            "--state-dir",
            str(tmp_path / "state"),
            "--assume-clock-trusted",
            "--lang",
            "en",
        )
        out = _converse(
            master,
            [
                (b"Device id", b"zg test 1"),  # a space: refused at once, asked again
                (b"letters, digits, - and _ only", DEVICE.encode()),
                (b"Site", b"plant1"),
                (b"Zone id", b"bay-3"),
                # With a template, its zone name and fence are asked (Enter keeps them).
                (b"Zone name", b""),
                (b"Geofence", b""),
                (b"broker host", b"127.0.0.1"),
                (b"port", b"http"),
                (b"a port is a number", str(broker.port).encode()),
                (b"central public key", str(tmp_path / "missing.pem").encode()),
                (b"no such file", str(central_key).encode()),
                (b"password", BROKER_PASSWORD.encode()),
            ],
        )
        assert proc.wait(timeout=60) == 0, out.decode(errors="replace")
        os.close(master)
        TIMINGS["provision_interactive_s"] = time.monotonic() - started
        text = out.decode(errors="replace")
        assert "should match pattern" not in text  # no raw pydantic message
        assert f"{root}/etc/zonegate/gateway.yaml" in text  # paths inside --root
        config = root / "etc" / "zonegate" / "gateway.yaml"
        cfg = load_config(config)
        assert (cfg.mqtt.username, cfg.mqtt.port) == (DEVICE, broker.port)
        key = (root / "etc" / "zonegate" / "credentials" / "device-key.pem").read_bytes()

        started = time.monotonic()
        proc2 = subprocess.run(
            [
                sys.executable,
                "-m",
                "gateway.cli",
                "selftest",
                "-c",
                str(config),
                "--credentials",
                str(root / "etc" / "zonegate" / "credentials"),
                "--json",
                "--gas-seconds",
                "1",
                "--gps-seconds",
                "1",
                "--broker-seconds",
                "6",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        TIMINGS["selftest_s"] = time.monotonic() - started
    assert proc2.returncode == 1, proc2.stderr
    report = json.loads(proc2.stdout.strip().splitlines()[-1])
    broker_check = next(c for c in report["checks"] if c["name"] == "broker")
    assert broker_check["status"] == "fail"
    assert "never came back" in broker_check["reason"]
    assert "device key is kept" in broker_check["fix"]
    assert broker_check["details"]["acl"]["own_topics_writable"] is False
    # The fix it suggests keeps the key central registered.
    assert (root / "etc" / "zonegate" / "credentials" / "device-key.pem").read_bytes() == key
    print(json.dumps({"technician_timings": TIMINGS}))


def test_selftest_passes_writes_with_the_repository_acl(
    provision: ProvisionFn, central_key: Path, broker: Broker, tmp_path: Path
) -> None:

    from gateway.selftest import Budgets, Status, run_selftest

    pw = tmp_path / "pw"
    pw.write_text(BROKER_PASSWORD + "\n")
    p = provision(
        *broker_flags(broker.port, pw, central_key),
    )
    results = asyncio.run(
        run_selftest(
            load_config(p.config), credentials_dir=p.credentials, budgets=Budgets(broker_s=8)
        )
    )
    check = next(r for r in results if r.name == "broker")
    assert check.status is Status.PASS, check
    assert "own topics writable" in check.reason
