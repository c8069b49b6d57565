"""``zonegate selftest`` against a provisioned root: the core checks, a simulated Winsen
sensor on a pty (healthy, faulty, absent) and a real mosquitto (right and wrong password)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from firmware_adapters.sim.modbus import ModbusSimulator
from firmware_adapters.sim.winsen import WinsenSimulator
from gateway.cli import main
from gateway.config import load_config
from gateway.selftest import Budgets, CheckResult, Status, run_selftest
from tests.pki import Pki, make_pki
from tests.provision.conftest import (
    BROKER_PASSWORD,
    Broker,
    Provisioned,
    ProvisionFn,
    broker_flags,
    running_daemon,
)

FAST = Budgets(gas_s=2.0, gps_s=2.0, broker_s=5.0)


def selftest_json(p: Provisioned, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    rc = main(
        [
            "selftest",
            "--config",
            str(p.config),
            "--credentials",
            str(p.credentials),
            "--gas-seconds",
            "3",
            "--gps-seconds",
            "3",
            "--broker-seconds",
            "5",
            "--json",
        ]
    )
    return rc, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def test_core_only_gateway_passes_and_skips_what_is_not_configured(
    provision: ProvisionFn, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    assert main(["check-config", str(p.config)]) == 0
    rc, report = selftest_json(p, capsys)
    assert rc == 0, report
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["disk"]["status"] == "pass"
    # NTP-synchronised here, or trusted only by the bench setting: never a failure.
    assert checks["clock"]["status"] in {"pass", "warn"}
    assert checks["stores"]["status"] == "pass"
    for name in ("gas", "gps", "camera", "broker"):
        assert checks[name]["status"] == "skipped", name


def test_disk_below_min_free_fails_with_the_reason(
    provision: ProvisionFn, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision(template="storage:\n  min_free_mb: 100000000\n  warn_free_mb: 100000000\n")
    rc, report = selftest_json(p, capsys)
    assert rc == 1
    disk = next(c for c in report["checks"] if c["name"] == "disk")
    assert disk["status"] == "fail"
    assert "below storage.min_free_mb=100000000" in disk["reason"]
    assert disk["fix"]


def test_a_damaged_registry_fails_the_stores_check(
    provision: ProvisionFn, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    p.state_dir.mkdir(parents=True)
    (p.state_dir / "registry.json").write_text('{"workers": {"1": {"name": 1}}')
    rc, report = selftest_json(p, capsys)
    assert rc == 1
    stores = next(c for c in report["checks"] if c["name"] == "stores")
    assert stores["status"] == "fail" and "not valid JSON" in stores["reason"]


def _gas_template(port: Path) -> str:
    return (
        "gas:\n  sensors:\n"
        f"    - {{type: winsen_ze, id: co1, port: '{port}', model: ze15, gas: co, warmup_s: 0}}\n"
    )


async def test_a_healthy_winsen_sensor_passes(provision: ProvisionFn, tmp_path: Path) -> None:
    port = tmp_path / "ttyCO"
    p = provision(template=_gas_template(port))
    cfg = load_config(p.config)
    async with WinsenSimulator(port, fault_bit=True, period_s=0.05, value=3.5):
        results = by_name(await run_selftest(cfg, credentials_dir=p.credentials, budgets=FAST))
    gas = results["gas co1"]
    assert gas.status is Status.PASS, gas
    assert gas.details["last"] == {"gas": "co", "value": 3.5, "unit": "ppm"}


async def test_a_faulty_sensor_fails_with_the_fault(provision: ProvisionFn, tmp_path: Path) -> None:
    port = tmp_path / "ttyCO"
    p = provision(template=_gas_template(port))
    cfg = load_config(p.config)
    async with WinsenSimulator(port, fault_bit=True, period_s=0.05, value=3.5) as sim:
        sim.fault = True
        results = by_name(await run_selftest(cfg, credentials_dir=p.credentials, budgets=FAST))
    gas = results["gas co1"]
    assert gas.status is Status.FAIL
    assert "fault" in gas.reason


async def test_a_sensor_sending_corrupt_frames_fails_with_checksum_errors(
    provision: ProvisionFn, tmp_path: Path
) -> None:
    port = tmp_path / "ttyCO"
    p = provision(template=_gas_template(port))
    cfg = load_config(p.config)
    async with WinsenSimulator(port, fault_bit=True, period_s=0.05, value=3.5) as sim:
        sim.corrupt(10_000)
        results = by_name(await run_selftest(cfg, credentials_dir=p.credentials, budgets=FAST))
    gas = results["gas co1"]
    assert gas.status is Status.FAIL
    assert "checksum" in gas.reason


async def test_an_absent_port_fails_naming_the_port(provision: ProvisionFn, tmp_path: Path) -> None:
    port = tmp_path / "ttyUSB9"
    p = provision(template=_gas_template(port))
    results = by_name(
        await run_selftest(load_config(p.config), credentials_dir=p.credentials, budgets=FAST)
    )
    gas = results["gas co1"]
    assert gas.status is Status.FAIL
    assert f"cannot open {port}" in gas.reason
    assert "dialout" in gas.fix


def _provision_with_broker(
    provision: ProvisionFn, broker: Broker, central_key: Path, tmp_path: Path, password: str
) -> Provisioned:
    pw = tmp_path / "broker-password"
    pw.write_text(password + "\n")
    return provision(
        *broker_flags(broker.port, pw, central_key),
    )


def test_broker_with_the_provisioned_credentials_and_acl_passes(
    provision: ProvisionFn,
    broker: Broker,
    central_key: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    p = _provision_with_broker(provision, broker, central_key, tmp_path, BROKER_PASSWORD)
    rc, report = selftest_json(p, capsys)
    checks = {c["name"]: c for c in report["checks"]}
    assert rc == 0, [c for c in report["checks"] if c["status"] == "fail"]
    assert checks["central key"]["status"] == "pass"
    assert checks["broker"]["status"] == "pass"
    assert checks["broker"]["details"]["acl"]["own_commands"] is True


def test_a_wrong_broker_password_fails_with_the_reason(
    provision: ProvisionFn,
    broker: Broker,
    central_key: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    p = _provision_with_broker(provision, broker, central_key, tmp_path, "not-the-password")
    rc, report = selftest_json(p, capsys)
    assert rc == 1
    b = next(c for c in report["checks"] if c["name"] == "broker")
    assert b["status"] == "fail"
    assert "refused user 'zg-test-1'" in b["reason"], b
    assert "mosquitto_passwd" in b["fix"]


def test_a_broker_that_is_not_there_fails(
    provision: ProvisionFn, central_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from firmware_adapters.tcpports import free_port

    dead = Broker(free_port(), None)
    p = _provision_with_broker(provision, dead, central_key, tmp_path, BROKER_PASSWORD)
    rc, report = selftest_json(p, capsys)
    assert rc == 1
    b = next(c for c in report["checks"] if c["name"] == "broker")
    assert b["status"] == "fail" and "127.0.0.1" in b["reason"]


def test_refuses_while_the_daemon_holds_the_sensors(
    provision: ProvisionFn, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    with running_daemon(p.config):
        rc, report = selftest_json(p, capsys)
    assert rc == 75  # ExitCode.BUSY: the one table's "daemon running" (3 meant another thing)
    assert not report["ok"] and "stop it first" in report["error"]
    rc, report = selftest_json(p, capsys)
    assert rc == 0, report


def test_tls_broker_with_the_provisioned_ca_passes_and_a_wrong_ca_fails(
    provision: ProvisionFn,
    broker: Broker,
    pki: Pki,
    central_key: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pw = tmp_path / "broker-password"
    pw.write_text(BROKER_PASSWORD + "\n")
    other_ca = make_pki(tmp_path / "other", "some other CA").ca_cert
    for ca, expect in ((pki.ca_cert, "pass"), (other_ca, "fail")):
        p = provision(
            "--broker-host",
            "127.0.0.1",
            "--broker-port",
            str(broker.tls_port),
            "--ca-file",
            str(ca),
            "--broker-password-file",
            str(pw),
            "--central-key",
            str(central_key),
        )
        # The CA is copied under /etc/zonegate: ProtectHome= would hide one left in /home.
        installed = p.root / "etc" / "zonegate" / "broker-ca.pem"
        assert installed.read_bytes() == ca.read_bytes()
        assert load_config(p.config).mqtt.ca_file == Path("/etc/zonegate/broker-ca.pem")
        # Selftest runs outside the root here: point the config at the installed copy.
        p.config.write_text(
            p.config.read_text().replace("/etc/zonegate/broker-ca.pem", str(installed))
        )
        rc, report = selftest_json(p, capsys)
        b = next(c for c in report["checks"] if c["name"] == "broker")
        assert b["status"] == expect, b
        if expect == "fail":
            assert rc == 1 and "TLS handshake failed" in b["reason"]
            assert "ca_file" in b["fix"]


async def test_a_warming_sensor_warns_but_does_not_fail(
    provision: ProvisionFn, tmp_path: Path
) -> None:
    port = tmp_path / "ttyCO"
    p = provision(template=_gas_template(port).replace("warmup_s: 0", "warmup_s: 600"))
    cfg = load_config(p.config)
    async with WinsenSimulator(port, fault_bit=True, period_s=0.05, value=3.5):
        results = by_name(await run_selftest(cfg, credentials_dir=p.credentials, budgets=FAST))
    gas = results["gas co1"]
    assert gas.status is Status.WARN, gas
    assert "warming up" in gas.reason


async def test_modbus_bus_one_transmitter_answers_one_wrong_address(
    provision: ProvisionFn, tmp_path: Path
) -> None:
    port = tmp_path / "rs485"
    common = f"port: '{port}', poll_interval_s: 0.05, timeout_s: 0.2, warmup_s: 0"
    channel = "channels: [{gas: co, unit: ppm, address: 0, scale: 0.1}]"
    template = (
        "gas:\n  sensors:\n"
        f"    - {{type: modbus_rtu, id: tx1, device_id: 1, {common}, {channel}}}\n"
        f"    - {{type: modbus_rtu, id: tx7, device_id: 7, {common}, {channel}}}\n"
    )
    p = provision(template=template)
    cfg = load_config(p.config)
    async with ModbusSimulator(port, [1]) as sim:  # only slave 1 is on the bus
        sim.set_value(1, 0, 12.5, scale=0.1)
        results = by_name(await run_selftest(cfg, credentials_dir=p.credentials, budgets=FAST))
    assert results["gas tx1"].status is Status.PASS, results["gas tx1"]
    assert results["gas tx1"].details["last"]["value"] == 12.5
    tx7 = results["gas tx7"]
    assert tx7.status is Status.FAIL
    assert "Modbus read error" in tx7.reason and "slave address" in tx7.fix
