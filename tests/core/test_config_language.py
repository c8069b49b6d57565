"""check-config and every command's config check speak the technician's language (issue 13).

zh-CN by default, English with ``--lang en`` or the file's ``device.language: en``; the
file:line and the dotted key stay as they are in both. A config that cannot be read or used is
exit 78 (ExitCode.CONFIG) from every command that needs one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.exitcodes import ExitCode
from tests.cli_process import zonegate as _zonegate

REPO = Path(__file__).resolve().parents[2]

# Line numbers matter: the assertions below name them.
BAD = """\
device:
  device_id: gw-01
zone:
  site: plant1
  zone_id: z1
  work_kinds: [DHZY]
  geofence:
    type: circle
    center: {lat: 31.2, lon: 121.5}
    raduis_m: 50
identity:
  tolerance: 0.7
access:
  lockout_threshold: three
daemon:
  shutdown_timeout_s: soon
"""


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(BAD, encoding="utf-8")
    return path


def test_check_config_speaks_chinese_by_default_with_file_line(bad: Path) -> None:
    proc = _zonegate("check-config", "-c", str(bad))
    assert proc.returncode == ExitCode.CONFIG
    lines = proc.stderr.splitlines()
    assert lines == [
        f"{bad}:10: zone.geofence.raduis_m: 未知的键；是否应为 'radius_m'？",
        f"{bad}:12: identity.tolerance: 应小于或等于 0.6（实际为 0.7）",
        f"{bad}:14: access.lockout_threshold: 应为整数（实际为 'three'）",
        f"{bad}:16: daemon.shutdown_timeout_s: 应为数字（实际为 'soon'）",
        f"{bad} 中有 4 处错误",
    ]
    # no raw pydantic English left inside the Chinese output
    assert "Input should" not in proc.stderr and "Field required" not in proc.stderr


def test_check_config_in_english_with_lang_en(bad: Path) -> None:
    proc = _zonegate("check-config", "-c", str(bad), "--lang", "en")
    assert proc.returncode == ExitCode.CONFIG
    err = proc.stderr
    assert f"{bad}:10: zone.geofence.raduis_m: unknown key; did you mean 'radius_m'?" in err
    assert f"{bad}:12: identity.tolerance: Input should be less than or equal to 0.6" in err
    assert f"{bad}:16: daemon.shutdown_timeout_s: Input should be a valid number" in err
    assert err.splitlines()[-1] == f"4 error(s) in {bad}"
    assert "未知" not in err


def test_the_files_own_language_is_used_without_a_flag(bad: Path) -> None:
    bad.write_text(BAD.replace("  device_id: gw-01\n", "  device_id: gw-01\n  language: en\n"))
    proc = _zonegate("check-config", str(bad))  # the positional form too
    assert proc.returncode == ExitCode.CONFIG
    assert "unknown key; did you mean 'radius_m'?" in proc.stderr


def test_missing_required_key_and_missing_section_in_both_languages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text("device:\n  language: zh-CN\nzone:\n  site: s\n  zone_id: z\n")
    assert main(["check-config", "-c", str(path)]) == ExitCode.CONFIG
    zh = capsys.readouterr().err
    assert f"{path}:1: device.device_id: 缺少必填项" in zh  # the section that lacks it
    assert f"{path}:3: zone.work_kinds: 缺少必填项" in zh
    assert main(["check-config", "-c", str(path), "--lang", "en"]) == ExitCode.CONFIG
    en = capsys.readouterr().err
    assert f"{path}:1: device.device_id: Field required" in en


def test_a_good_config_says_ok_in_either_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(BAD.split("  geofence:")[0])
    assert main(["check-config", "-c", str(path)]) == ExitCode.OK
    assert f"{path}：配置无误（设备 gw-01，区域 z1）" in capsys.readouterr().out
    assert main(["check-config", "-c", str(path), "--lang", "en"]) == ExitCode.OK
    assert f"{path}: OK (device gw-01, zone z1)" in capsys.readouterr().out


# Every command that needs the config, as a technician types it; the worker / file arguments are
# real enough that only the config can stop them.
COMMANDS: list[list[str]] = [
    ["run"],
    ["status"],
    ["status", "--json"],
    ["selftest", "--unattended"],
    ["import-roster", "roster.csv"],
    ["roster"],
    ["enroll", "W001", "--photos", "a.jpg"],
    ["bind-badges"],
    ["reset-store", "journal"],
    ["permit", "list"],
    ["gps", "probe", "--seconds", "1"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a))
def test_a_missing_config_is_exit_78_from_every_command(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yaml"
    assert main([*argv, "-c", str(missing)]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert f"{missing}: 无法读取：文件不存在" in err, err


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a))
def test_a_broken_config_is_exit_78_from_every_command(
    argv: list[str], bad: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "-c", str(bad)]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert f"{bad}:10: zone.geofence.raduis_m: 未知的键" in err, err


def test_unreadable_config_in_english_through_the_installed_command(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    proc = _zonegate("selftest", "-c", str(missing), "--lang", "en")
    assert proc.returncode == ExitCode.CONFIG
    assert f"{missing}: cannot read: No such file or directory" in proc.stderr
    assert "Traceback" not in proc.stderr
