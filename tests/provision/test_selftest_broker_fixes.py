"""``zonegate selftest``'s broker check says what to fix where the fresh-technician test
(issue 13, findings 25 and 26) found it wrong: a missing TLS file is named (not a bare
``[Errno 2] No such file or directory``), and a broker whose shipped ACL still has ``@SITE@``
gets the site to put there, never the ``edge/v1/+/%u/#`` grant the ACL itself calls unsafe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from firmware_adapters.tcpports import free_port
from tests.broker_config import SHIPPED_ACL
from tests.provision.conftest import BROKER_PASSWORD, SITE, ProvisionFn, broker_flags
from tests.provision.test_provision_site import mosquitto


def _broker_check(config: Path, credentials: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "selftest",
            *("-c", str(config), "--credentials", str(credentials), "--json"),
            *("--gas-seconds", "1", "--gps-seconds", "1", "--broker-seconds", "6"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    check: dict[str, Any] = next(c for c in report["checks"] if c["name"] == "broker")
    assert check["status"] == "fail", check
    return check


def test_a_missing_ca_file_is_named_in_both_languages(
    provision: ProvisionFn, central_key: Path, tmp_path: Path
) -> None:
    pw = tmp_path / "pw"
    pw.write_text(BROKER_PASSWORD + "\n", encoding="utf-8")
    missing = tmp_path / "etc" / "broker-ca.crt"  # the example's ca_file, never copied
    p = provision(
        *("--broker-host", "127.0.0.1", "--broker-port", str(free_port())),
        *("--broker-password-file", str(pw), "--central-key", str(central_key)),
        template=f"mqtt:\n  tls: true\n  ca_file: {missing}\n",
    )
    check = _broker_check(p.config, p.credentials)
    assert check["code"] == "BROKER_TLS_FILE_UNREADABLE"
    assert check["reason_zh"] == f"TLS 文件不可用：mqtt.ca_file {missing}：文件不存在", check
    assert check["reason"] == f"TLS file unusable: mqtt.ca_file {missing}: no such file"
    assert "Errno" not in check["reason_zh"]


def test_a_shipped_acl_left_with_site_placeholder_gets_the_site_not_a_wildcard(
    provision: ProvisionFn, central_key: Path, tmp_path: Path
) -> None:
    # The README's "fail closed": the ACL installed without replacing @SITE@.
    acl = SHIPPED_ACL.read_text(encoding="utf-8")
    assert "@SITE@" in acl
    pw = tmp_path / "pw"
    pw.write_text(BROKER_PASSWORD + "\n", encoding="utf-8")
    with mosquitto(tmp_path / "broker", acl) as broker:
        p = provision(*broker_flags(broker.port, pw, central_key))
        check = _broker_check(p.config, p.credentials)
    assert check["code"] == "BROKER_ACL_NO_WRITE"
    for fix in (check["fix"], check["fix_zh"]):
        assert f"sed 's/@SITE@/{SITE}/'" in fix, fix
        assert "edge/v1/+/%u" not in fix  # the grant the ACL itself calls unsafe
        assert "mqtt.username" not in fix  # it is already the device id
    assert "站点段须为本机的厂区 plant1" in check["fix_zh"], check["fix_zh"]
    assert "设备密钥保留不变" in check["fix_zh"]
