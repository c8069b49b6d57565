"""Config validation: every error at once, with file:line and "did you mean"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
device:
  device_id: gw-01
zone:
  site: plant1
  zone_id: z1
  work_kinds: [DHZY]
"""


def test_minimal_config_loads_with_model_defaults() -> None:
    cfg = parse_config(GOOD)
    assert cfg.device.timezone == "Asia/Shanghai"
    assert cfg.access.lockout_threshold == 3
    assert cfg.zone.target_gas.pass_limit_vol_percent == 0.5


def test_unknown_key_and_wrong_type_reported_together_with_lines(tmp_path: Path) -> None:
    bad = tmp_path / "gw.yaml"
    bad.write_text(GOOD + "  targt_gas: {name: methane}\naccess:\n  lockout_threshold: three\n")
    with pytest.raises(ConfigError) as exc:
        load_config(bad)
    lines = [str(i) for i in exc.value.issues]
    assert len(lines) == 2
    assert lines[0] == f"{bad}:7: zone.targt_gas: unknown key; did you mean 'target_gas'?"
    assert lines[1].startswith(
        f"{bad}:9: access.lockout_threshold: Input should be a valid integer"
    )


def test_error_inside_a_discriminated_union_points_at_its_line() -> None:
    text = (
        GOOD + "  geofence:\n    type: circle\n    center: {lat: 31.2, lon: 121.5}\n"
        "    radius_m: far\n"
    )
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "gw.yaml")
    (issue,) = exc.value.issues
    assert issue.line == 10 and issue.path.endswith("radius_m")


def test_duplicate_keys_are_errors_not_silently_merged() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(GOOD + "device:\n  device_id: gw-02\n", "gw.yaml")
    assert any(i.message == "duplicate key" and i.line == 7 for i in exc.value.issues)


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config("device:\n  device_id: [unclosed\nzone: {}\n", "gw.yaml")
    assert exc.value.issues[0].line is not None and "not valid YAML" in str(exc.value)


def test_permit_rules_apply_to_config_zone_too() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(GOOD.replace("[DHZY]", "[]"), "gw.yaml")
    assert exc.value.issues[0].path == "zone.work_kinds"


def test_example_config_is_valid() -> None:
    cfg = load_config(REPO / "config" / "gateway.example.yaml")
    assert cfg.zone.zone_id


def test_check_config_command_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert main(["check-config", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD + "  targt_gas: {}\naccess:\n  lockout_threshold: x\n")
    assert main(["check-config", str(bad), "--lang", "en"]) == 78  # EX_CONFIG
    err = capsys.readouterr().err
    assert f"{bad}:7:" in err and f"{bad}:9:" in err and "2 error(s)" in err


def test_check_config_as_installed_command(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", str(missing), "--lang", "en"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 78 and "cannot read" in proc.stderr


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        # Gases with a built-in floor keep its high when an entry leaves it out (see the
        # merge tests in tests/gas/test_air_limits.py); a gas without one must give a high.
        ("hcl: {unit: ppm, low: 2}", "hcl: a high (suspending) level is required"),
        ('co: {unit: "%LEL", high: 10}', "co: unit %LEL cannot be compared with the standard's"),
        ("co: {unit: ppm, low: 10, high: .nan}", "high must be a finite number above 0"),
        ("co: {unit: ppm, low: 10, high: .inf}", "high must be a finite number above 0"),
        ("co: {unit: ppm, low: -1, high: 30}", "low must be a finite number above 0"),
        # O2 is judged by gas.oxygen's band; an entry here was silently ignored (fresh-user test).
        ('o2: {unit: "%vol", low: 15, high: 25}', "o2 is judged by the band in gas.oxygen"),
    ],
)
def test_gas_limits_that_would_silence_an_alarm_are_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], limits: str, message: str
) -> None:
    # Issue 17 item 5: each of these let CO at 400 ppm raise no alarm, and check-config said OK.
    path = tmp_path / "gas.yaml"
    path.write_text(GOOD + f"gas:\n  limits:\n    {limits}\n")
    assert main(["check-config", "--lang", "en", str(path)]) == 78
    assert message in capsys.readouterr().err


def test_gas_limits_looser_than_the_standard_are_reported_with_the_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "loose.yaml"
    path.write_text(
        GOOD + "gas:\n  limits:\n    co: {unit: ppm, low: 400, high: 500}\n  oxygen: {low: 16}\n"
    )
    # valid, tightened, and said loudly (in English here; the zh-CN text is tested below)
    assert main(["check-config", "--lang", "en", str(path)]) == 0
    err = capsys.readouterr().err
    # Each looser level names the clause and the value that applies instead (issue 17 item 5).
    assert (
        "gas.limits.co.high: 500.0 ppm is looser than the standard's 40.0 mg/m3 (34.33 ppm) "
        "(GB/T 50493-2019 AH = 200 %OEL): tightened, 34.33 ppm applies"
    ) in err
    assert "gas.limits.co.low: 400.0 ppm is looser" in err and "17.17 ppm applies" in err
    assert (
        "gas.oxygen.low 16.0 % is below the standard's 19.5 % (GB 30871 §6.4): "
        "tightened, 19.5 % applies"
    ) in err
    # A tighter entry in another unit is quiet: 30 ppm CO is 35 mg/m3, under 40.
    tight = tmp_path / "tight.yaml"
    tight.write_text(
        GOOD + "gas:\n  limits:\n    co: {unit: ppm, low: 15, high: 30, twa: 17, stel: 25}\n"
    )
    assert main(["check-config", "--lang", "en", str(tight)]) == 0
    # The message's words, not "looser": this test's own temp path holds that word.
    assert "is looser than" not in capsys.readouterr().err


def test_gas_limits_looser_than_the_standard_are_said_in_chinese_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "loose.yaml"
    path.write_text(GOOD + "gas:\n  limits:\n    co: {unit: ppm, high: 500}\n  oxygen: {low: 16}\n")
    assert main(["check-config", "--lang", "zh-CN", str(path)]) == 0
    err = capsys.readouterr().err
    assert "gas.limits.co.high：500.0 ppm 比标准的 40.0 mg/m3（34.33 ppm）宽松" in err
    assert "已收紧，按 34.33 ppm 执行" in err
    assert "gas.oxygen.low 16.0 % 低于标准的 19.5 %（GB 30871 §6.4）：已收紧，按 19.5 % 执行" in err


def test_each_refused_gas_limit_entry_is_reported_at_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gas.yaml"
    path.write_text(
        GOOD + "gas:\n  limits:\n    co: {unit: ppm, high: 30}\n"
        "    hcl: {unit: ppm, low: 1}\n    h2s: {unit: '%LEL', high: 3}\n"
    )
    assert main(["check-config", "--lang", "en", str(path)]) == 78
    err = capsys.readouterr().err
    assert f"{path}:10: gas.limits.hcl: hcl: a high (suspending) level is required" in err
    assert f"{path}:11: gas.limits.h2s: h2s: unit %LEL cannot be compared" in err
    assert "2 error(s)" in err


def test_s5_2_6_check_config_says_when_the_monitors_leave_out_the_zones_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The daemon refuses such work at its first start on site (NO_AIR_DATA /
    # MONITOR_INCOMPLETE); the technician hears it when the file is checked (fresh-user test).
    bare = tmp_path / "bare.yaml"
    bare.write_text(GOOD)
    assert main(["check-config", "--lang", "en", str(bare)]) == 0
    assert "DHZY but no gas sensor judges the air" in capsys.readouterr().err
    co_only = tmp_path / "co.yaml"
    co_only.write_text(
        GOOD
        + "gas:\n  sensors:\n    - {type: winsen_ze, id: co1, port: /dev/ttyUSB0, model: ze07}\n"
    )
    assert main(["check-config", "--lang", "en", str(co_only)]) == 0
    assert "no gas sensor watches DHZY: lel" in capsys.readouterr().err
    both = tmp_path / "both.yaml"
    both.write_text(
        GOOD + "gas:\n  sensors:\n"
        "    - {type: winsen_ze, id: co1, port: /dev/ttyUSB0, model: ze07}\n"
        "    - {type: winsen_ze, id: ex1, port: /dev/ttyUSB1, gas: lel, unit: '%LEL'}\n"
    )
    assert main(["check-config", "--lang", "en", str(both)]) == 0
    assert "gas sensor" not in capsys.readouterr().err
