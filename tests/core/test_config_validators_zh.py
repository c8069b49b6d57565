"""The project's own validators and check-config's warnings speak zh-CN too (issue 13).

``zonegate check-config`` as a technician runs it (a subprocess, the public CLI) on files that
trip several of the sections' own validators (not pydantic's built-in checks) and the warnings
(a looser limit tightened, an indicator-only sensor, a monitor gap): the Chinese is shown with
``--lang zh-CN`` and none of the English sentence leaks in; ``--lang en`` shows the English,
unchanged.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.exitcodes import ExitCode
from tests.cli_process import zonegate

REPO = Path(__file__).resolve().parents[2]

# Each section's own cross-field check fails; line numbers are asserted below.
BAD = """\
device:
  device_id: gw-01
  timezone: Mars/Olympus
zone:
  site: plant1
  zone_id: z1
  work_kinds: [DHZY]
telemetry:
  interval_s: 60
  journal_interval_s: 10
outputs:
  red_pin: 17
  amber_pin: 17
gas:
  limits:
    hcl: {unit: ppm, low: 1}
    o2: {unit: '%vol', low: 19.5, high: 23.5}
mqtt:
  cert_file: /etc/zonegate/c.pem
identity:
  quality: {min_brightness: 200, max_brightness: 100}
kiosk:
  port: 8080
  lan_port: 8080
"""

# (line, dotted key, zh-CN, English) of each error BAD must give.
BAD_ISSUES = [
    (3, "device.timezone", "未知的时区 'Mars/Olympus'", "unknown timezone 'Mars/Olympus'"),
    (8, "telemetry", "journal_interval_s 不能小于 interval_s", "must be at least interval_s"),
    (11, "outputs", "用了同一个 GPIO 引脚", "two outputs share a GPIO pin"),
    (16, "gas.limits.hcl", "hcl：必须设高报值 high", "hcl: a high (suspending) level is required"),
    (17, "gas.limits.o2", "氧气按 gas.oxygen 的含量范围判定", "o2 is judged by the band"),
    (18, "mqtt", "cert_file 与 key_file 须同时填写", "cert_file and key_file go together"),
    (20, "identity", "应低于 quality.max_brightness", "must be below quality.max_brightness"),
    (22, "kiosk", "kiosk.lan_port 不能与 kiosk.port 相同", "kiosk.lan_port must differ"),
]

# Valid, but each part earns a warning.
WARNED = """\
device:
  device_id: gw-01
zone:
  site: plant1
  zone_id: z1
  work_kinds: [DHZY]
gas:
  sensors:
    - {type: pms5003, id: pm1, port: /dev/ttyAMA0}
  limits:
    co: {unit: ppm, high: 300}
  oxygen: {low: 18}
"""

# (zh-CN, English) of each warning WARNED must give.
WARNINGS = [
    ("传感器 pm1：PMS5003 只能指示", "sensor pm1: PMS5003 is a fume-activity indicator only"),
    ("gas.limits.co.high：300.0 ppm 比标准的", "gas.limits.co.high: 300.0 ppm is looser"),
    ("已收紧，按 19.5 % 执行", "tightened, 19.5 % applies"),
    ("zone.work_kinds 含 DHZY 动火作业，但没有能判定气体的传感器", "no gas sensor judges the air"),
]


def _check(path: Path, lang: str) -> subprocess.CompletedProcess[str]:
    return zonegate("check-config", "-c", str(path), "--lang", lang)


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(BAD, encoding="utf-8")
    return path


def test_the_sections_own_checks_in_chinese_without_their_english(bad: Path) -> None:
    proc = _check(bad, "zh-CN")
    assert proc.returncode == ExitCode.CONFIG
    lines = proc.stderr.splitlines()
    assert len(lines) == len(BAD_ISSUES) + 1, proc.stderr
    for line, (n, key, zh, en) in zip(lines, BAD_ISSUES, strict=False):
        assert line.startswith(f"{bad}:{n}: {key}: "), line
        assert zh in line, line
        assert en not in line, line
    assert lines[-1] == f"{bad} 中有 {len(BAD_ISSUES)} 处错误"
    # No validator fell back to the Chinese lead-in before its English.
    assert "取值无效" not in proc.stderr


def test_the_sections_own_checks_in_english_unchanged(bad: Path) -> None:
    proc = _check(bad, "en")
    assert proc.returncode == ExitCode.CONFIG
    lines = proc.stderr.splitlines()
    for line, (n, key, zh, en) in zip(lines, BAD_ISSUES, strict=False):
        assert line.startswith(f"{bad}:{n}: {key}: "), line
        assert en in line, line
        assert zh not in line, line
    assert lines[-1] == f"{len(BAD_ISSUES)} error(s) in {bad}"


def test_whole_file_checks_in_both_languages(tmp_path: Path) -> None:
    # A geofence nobody enforces (gateway.config) and an unjudgeable toxic (edge.models.Zone)
    # each stop the file; the toxic is a field check, so it is found first.
    path = tmp_path / "fence.yaml"
    fence = (
        "device:\n  device_id: gw-01\nzone:\n  site: plant1\n  zone_id: z1\n"
        "  work_kinds: [YXKJ]\n  geofence:\n    type: circle\n"
        "    center: {lat: 31.2, lon: 121.5}\n    radius_m: 50\ngps:\n  enabled: false\n"
    )
    path.write_text(fence.replace("[YXKJ]\n", "[YXKJ]\n  confined_space_toxics: [h2s, c6h6]\n"))
    zh = _check(path, "zh-CN").stderr
    assert f"{path}:7: zone.confined_space_toxics: c6h6 在 GBZ 2.1 中没有可判定的合格限值" in zh
    assert "no GBZ 2.1 pass limit" not in zh
    path.write_text(fence)
    zh = _check(path, "zh-CN").stderr
    assert "已设电子围栏 zone.geofence，但 gps.enabled 为 false：请启用 GPS 或删除围栏" in zh
    assert "enable GPS or remove the fence" not in zh
    en = _check(path, "en").stderr
    assert "zone.geofence is set but gps.enabled is false: enable GPS or remove the fence" in en


def test_check_config_warnings_in_the_chosen_language(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(WARNED, encoding="utf-8")
    zh = _check(path, "zh-CN")
    assert zh.returncode == ExitCode.OK
    warned = zh.stderr.splitlines()
    assert len(warned) == len(WARNINGS), zh.stderr
    for line, (zh_text, en_text) in zip(warned, WARNINGS, strict=True):
        assert line.startswith(f"{path}：注意：")
        assert zh_text in line, line
        assert en_text not in line, line
    assert zh.stdout.strip() == f"{path}：配置无误（设备 gw-01，区域 z1）"
    en = _check(path, "en")
    assert en.returncode == ExitCode.OK
    for line, (zh_text, en_text) in zip(en.stderr.splitlines(), WARNINGS, strict=True):
        assert line.startswith(f"{path}: warning: ")
        assert en_text in line, line
        assert zh_text not in line, line


def test_selftest_says_the_configs_warnings_once_in_the_chosen_language(tmp_path: Path) -> None:
    # Every command that reads the config says its warnings before it starts (the daemon's go
    # to the journal the same way); the command's own load must not repeat them in English
    # with a Python source line.
    path = tmp_path / "gateway.yaml"
    state = f"storage:\n  state_dir: {tmp_path / 'state'}\n  reserve_mb: 0\n"
    path.write_text(state + WARNED, encoding="utf-8")
    for lang, prefix, pick, other in (
        ("zh-CN", f"{path}：注意：", 0, 1),
        ("en", f"{path}: warning: ", 1, 0),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "selftest", "-c", str(path), "--lang", lang],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        said = [line for line in proc.stderr.splitlines() if line.startswith(prefix)]
        assert len(said) == len(WARNINGS), proc.stderr
        for line, texts in zip(said, WARNINGS, strict=True):
            assert texts[pick] in line, line
        for texts in WARNINGS:
            assert texts[other] not in proc.stderr
            assert proc.stderr.count(texts[pick]) == 1, proc.stderr
        assert "Warning:" not in proc.stderr  # Python's own warning format
