"""``zonegate provision``'s errors point where the technician can fix them (issue 13 item 2,
fresh-technician findings 2, 3, 4, 36): a bad flag value names the flag and says in words what
it takes (exit 2, the command line is wrong), a left-out required flag is a usage error too,
and a typo in an ``--overlay`` file is reported at that file's own line (exit 78), never at a
line of the config not yet written (``/etc/zonegate/gateway.yaml``, outside ``--root``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.exitcodes import ExitCode
from tests.provision.conftest import BROKER_PASSWORD

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "gateway.example.yaml"


def _provision(root: Path, *flags: str) -> list[str]:
    return ["provision", "--root", str(root), "--zone-id", "z1", "--yes", *flags]


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--site", "测试厂区"), ("--device-id", "网关1"), ("--zone-id", "bay 3")],
)
def test_a_non_ascii_id_names_the_flag_in_words_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    ids = {"--site": "plant1", "--device-id": "zg-1", "--zone-id": "z1"} | {flag: value}
    args = _provision(tmp_path, "--work-kinds", "DHZY")
    for name, given in ids.items():
        args += [name, given]
    assert main(args) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert f"{flag} '{value}'：只能用 ASCII 字母、数字、- 和 _" in err
    assert "gateway.yaml" not in err and "^[A-Za-z0-9_-]" not in err  # no path, no regex
    assert main([*args, "--lang", "en"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert f"{flag} '{value}': only ASCII letters, digits, - and _" in err
    assert not (tmp_path / "etc").exists()


def test_a_misspelt_timezone_names_the_flag_in_one_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _provision(tmp_path, "--device-id", "zg-1", "--site", "plant1", "--work-kinds", "DHZY")
    args += ["--timezone", "Asia/Shangai"]
    assert main(args) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "--timezone 'Asia/Shangai'：未知的时区；请用 IANA 名称，如 Asia/Shanghai" in err
    assert "unknown" not in err and "gateway.yaml" not in err
    assert not (tmp_path / "etc").exists()


def test_a_broker_without_central_key_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The example template configures a broker: --central-key is required, a flag left out.
    args = _provision(
        tmp_path, "--device-id", "zg-1", "--site", "plant1", "--template", str(EXAMPLE)
    )
    assert main(args) == ExitCode.USAGE
    assert "请给出 --central-key" in capsys.readouterr().err
    assert not (tmp_path / "etc").exists()


def test_an_overlay_typo_is_reported_at_the_overlay_line_with_exit_78(
    tmp_path: Path, central_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        "# site overrides\nbadge:\n  port: /dev/ttyUSB0\n  debounce: 2\n"
        "gps:\n  enabled: true\n  staleness: 3\n",
        encoding="utf-8",
    )
    pw = tmp_path / "pw"
    pw.write_text(BROKER_PASSWORD + "\n", encoding="utf-8")
    root = tmp_path / "root"
    args = [
        *_provision(root, "--device-id", "zg-1", "--site", "plant1"),
        *("--template", str(EXAMPLE), "--overlay", str(site)),
        *("--central-key", str(central_key), "--broker-password-file", str(pw)),
    ]
    assert main(args) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert f"{site}:4: badge.debounce: 未知的键；是否应为 'debounce_s'？" in err
    assert f"{site}:7: gps.staleness: 未知的键" in err
    assert "/etc/zonegate/gateway.yaml" not in err
    assert not (root / "etc").exists()


def test_by_flags_the_template_values_kept_are_said(
    tmp_path: Path, central_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The example's zone name, fence, broker and CA file belong to another site: kept without a
    # prompt (--yes), each is listed with the flag that would set it.
    pw = tmp_path / "pw"
    pw.write_text(BROKER_PASSWORD + "\n", encoding="utf-8")
    root = tmp_path / "root"
    args = [
        *_provision(root, "--device-id", "zg-1", "--site", "plant1"),
        *("--template", str(EXAMPLE)),
        *("--central-key", str(central_key), "--broker-password-file", str(pw)),
    ]
    assert main(args) == ExitCode.OK
    out = capsys.readouterr().out
    assert "注意：以下各项取自模板" in out
    assert "zone.name: 三号焊接区  (--zone-name)" in out
    assert "zone.geofence: 31.2304,121.4737,60  (--fence)" in out
    assert "mqtt.host: broker.plant1.example  (--broker-host)" in out
    assert "mqtt.ca_file: /etc/zonegate/broker-ca.crt (文件不存在 / no such file)" in out
