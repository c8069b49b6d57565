"""``zonegate provision`` speaks the technician's language: its summary and its errors in zh-CN
by default, English with ``--lang en`` or when the gateway is given ``--language en``
(issue 13). The interactive prompts' errors are covered in test_provision.py (a pty)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.exitcodes import ExitCode
from tests.provision.conftest import ProvisionFn

FLAGS = ["--site", "plant1", "--zone-id", "z1", "--work-kinds", "DHZY", "--yes"]


def test_summary_in_chinese_by_default(
    provision: ProvisionFn, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    out = capsys.readouterr().out
    assert f"已写入 {p.config}" in out
    assert "在中心端登记：" in out and "设备密钥编号：" in out and "新密钥，需在中心端登记" in out
    assert "下一步：zonegate check-config" in out
    for english in ("wrote ", "Register on", "device key id", "next:"):
        assert english not in out


@pytest.mark.parametrize("flag", [["--lang", "en"], ["--language", "en"]])
def test_summary_in_english(
    flag: list[str], provision: ProvisionFn, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision(*flag)
    out = capsys.readouterr().out
    assert f"wrote {p.config}" in out
    assert "Register on the central side:" in out and "new: register it on central" in out
    assert "next: zonegate check-config" in out
    assert "已写入" not in out


def test_errors_in_chinese_by_default_and_english_on_request(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    capsys.readouterr()
    again = ["provision", "--root", str(p.root), "--device-id", "zg-1", *FLAGS]
    assert main(again) == ExitCode.FAILED  # refused: it is there (--force)
    err = capsys.readouterr().err
    assert "已存在；用 --force 重写配置和凭据（设备密钥保留" in err and "already" not in err
    assert main([*again, "--lang", "en"]) == ExitCode.FAILED
    assert "already exist(s); use --force" in capsys.readouterr().err

    # no terminal to ask: the missing flag is named, in Chinese
    fresh = tmp_path / "fresh"
    assert main(["provision", "--root", str(fresh), *FLAGS]) == ExitCode.USAGE
    assert "需要 --device-id（没有终端可以提问）" in capsys.readouterr().err
    # a template that does not validate: the config's own zh-CN messages, with file:line
    bad = provision(template="daemon:\n  shutdown_timeout: 10\n", expect=ExitCode.CONFIG)
    err = capsys.readouterr().err
    assert "配置无法通过检查" in err
    assert "daemon.shutdown_timeout: 未知的键；是否应为 'shutdown_timeout_s'？" in err
    assert not bad.config.exists()
    assert not fresh.exists()
