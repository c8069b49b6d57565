"""check-config on settings that weaken the gate, and on a target gas whose LEL is wrong.

A fresh-user test copied bench settings into a site config (an assumed clock, simulated GPS,
100 face mismatches before lockout ...) and check-config said 配置无误 with no word; it also
accepted methane with ``lel_vol_percent: 0.5``, which turns a failing 30 %LEL into a passing
0.15 % vol under GB 30871 §5.3.2. Run as a technician runs it: ``zonegate check-config``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edge.combustibles import COMBUSTIBLES, combustible
from gateway.exitcodes import ExitCode
from tests.cli_process import zonegate

REPO = Path(__file__).resolve().parents[2]

BASE = """\
device: {device_id: zg-t1}
zone:
  site: plant1
  zone_id: bay1
  work_kinds: [GCZY]
"""
WEAK = (
    BASE
    + """\
  geofence: {type: circle, center: {lat: 31.2, lon: 121.4}, radius_m: 0.05}
  target_gas: {name: metane, lel_vol_percent: 5.0}
clock: {assume_trusted: true}
gps: {enabled: true, allow_simulated: true, no_fix_policy: warn, max_eph_m: 5000}
access: {lockout_threshold: 100}
identity: {enabled: true, multiple_faces: largest, camera: {type: files, paths: [/tmp]}}
mqtt:
  enabled: true
  host: broker.site
  tls: false
  central_public_key: /etc/zonegate/central.pub
  ca_file: /nonexistent/broker-ca.crt
"""
)


def check(tmp_path: Path, text: str, lang: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return zonegate("check-config", "-c", str(path), "--lang", lang)


def test_each_weakened_safeguard_is_said_in_the_technicians_language(tmp_path: Path) -> None:
    zh = check(tmp_path, WEAK, "zh-CN")
    assert zh.returncode == ExitCode.OK, zh.stderr  # warnings, not errors: a bench may need them
    said = [line for line in zh.stderr.splitlines() if "注意" in line]
    for key in (
        "clock.assume_trusted",
        "gps.allow_simulated",
        "gps.no_fix_policy",
        "gps.max_eph_m",
        "zone.geofence.radius_m",
        "access.lockout_threshold",
        "identity.multiple_faces",
        "identity.camera.type",
        "mqtt.tls",
        "mqtt.ca_file",
        "mqtt.central_public_key",
        "zone.target_gas.name",
    ):
        assert [line for line in said if key in line], (key, zh.stderr)
    assert "是否应为 methane" in zh.stderr
    assert "is true" not in zh.stderr and "did you mean" not in zh.stderr
    en = check(tmp_path, WEAK, "en")
    assert "clock.assume_trusted is true" in en.stderr and "did you mean methane" in en.stderr


def test_a_site_config_hears_nothing(tmp_path: Path) -> None:
    site = BASE + "  target_gas: {name: 甲烷, lel_vol_percent: 4.4}\nidentity: {enabled: false}\n"
    proc = check(tmp_path, site, "zh-CN")
    assert proc.returncode == ExitCode.OK and proc.stderr == "", proc.stderr


@pytest.mark.parametrize(("name", "lel"), [("methane", 0.5), ("CH4", 50.0), ("丙烷", 5.0)])
def test_an_lel_that_is_not_the_gases_is_an_error(tmp_path: Path, name: str, lel: float) -> None:
    text = BASE + f"  target_gas: {{name: {name}, lel_vol_percent: {lel}}}\n"
    zh = check(tmp_path, text, "zh-CN")
    assert zh.returncode == ExitCode.CONFIG
    gas = combustible(name)
    assert gas is not None
    assert f"gateway.yaml:6: zone.target_gas: lel_vol_percent {lel:g} 不是{gas.zh}" in zh.stderr
    assert "GB 30871 §5.3.2" in zh.stderr
    en = check(tmp_path, text, "en")
    assert f"is not the LEL of {gas.name} ({gas.span()} % vol" in en.stderr


def test_every_published_lel_is_accepted_and_its_tenfold_slip_refused() -> None:
    for gas in COMBUSTIBLES:
        assert gas.accepts(gas.low) and gas.accepts(gas.high), gas
        assert not gas.accepts(gas.low / 10) and not gas.accepts(gas.high * 10), gas
