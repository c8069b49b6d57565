"""selftest speaks the technician's language (issue 13 item 3, a fresh-user finding: the
reasons and fixes were English inside the Chinese table): every outcome's words exist in zh-CN
and English with the same placeholders, and the table shows the chosen language only."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import re
import string
import subprocess
import sys

import pytest

import gateway.selftest
from firmware_adapters.tcpports import free_port
from gateway.cli import main
from gateway.selftest import Words
from tests.provision.conftest import ProvisionFn

CJK = re.compile(r"[\u4e00-\u9fff]")


def _all_words() -> list[tuple[str, Words]]:
    found: dict[int, tuple[str, Words]] = {}  # by identity: a module may import another's
    for info in pkgutil.iter_modules(gateway.selftest.__path__):
        module = importlib.import_module(f"gateway.selftest.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, Words):
                found.setdefault(id(value), (f"{info.name}.{name}", value))
    return list(found.values())


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_every_outcome_has_chinese_and_english_words_with_the_same_placeholders() -> None:
    words = _all_words()
    assert len(words) > 40  # every check module's outcomes are found, not just a few
    codes = [w.code for _, w in words]
    assert len(codes) == len(set(codes)), "a code names one outcome"
    for where, w in words:
        assert CJK.search(w.zh), (where, "no Chinese reason")
        assert not CJK.search(w.en), (where, "Chinese inside the English reason")
        assert bool(w.fix_zh) == bool(w.fix_en), (where, "a fix in one language only")
        if w.fix_zh:
            assert CJK.search(w.fix_zh), (where, "no Chinese fix")
            assert not CJK.search(w.fix_en), (where, "Chinese inside the English fix")
        # A value given per language (``level_zh`` / ``level_en``) counts as one placeholder.
        zh = {f.removesuffix("_zh") for f in _fields(w.zh + w.fix_zh)}
        en = {f.removesuffix("_en") for f in _fields(w.en + w.fix_en)}
        assert zh == en, (where, zh ^ en)


def test_a_failing_check_speaks_the_chosen_language(
    provision: ProvisionFn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one line per row: the words are not folded
    p = provision(template="storage:\n  min_free_mb: 100000000\n  warn_free_mb: 100000000\n")
    args = ["selftest", "-c", str(p.config), "--credentials", str(p.credentials), "--unattended"]
    assert main(args) == 1  # device.language defaults to zh-CN
    zh = capsys.readouterr().out
    assert "低于 storage.min_free_mb=100000000：守护进程将拒绝启动" in zh
    assert "清理空间（apt-get clean、journalctl --vacuum-size=100M）或换更大的 SD 卡" in zh
    assert "磁盘" in zh and "失败" in zh and "建议处理" in zh
    assert "free space" not in zh and "the daemon refuses" not in zh  # no English inside
    assert main([*args, "--lang", "en"]) == 1
    en = capsys.readouterr().out
    assert "below storage.min_free_mb=100000000: the daemon refuses to start" in en
    assert "free space (apt-get clean, journalctl --vacuum-size=100M) or a bigger SD card" in en
    assert "FAIL" in en and "fix to try" in en
    assert not CJK.search(en.replace("三号焊接区", ""))  # nothing Chinese in the English table


def test_no_english_line_around_the_chinese_table(
    provision: ProvisionFn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A zh-CN selftest on a bench with no gpsd, no GPIO library and no picamera2 printed the
    # gps client's "gpsd: cannot connect ..." once per reconnect, gpiozero's PinFactoryFallback
    # warnings, and picamera2's install hint in English only (issue 13 item 3 sweep).
    monkeypatch.setenv("COLUMNS", "400")
    p = provision(
        template=f"gps:\n  enabled: true\n  port: {free_port()}\n"
        "outputs:\n  mock: false\n"
        "identity:\n  enabled: true\n  camera: {type: picamera2}\n"
    )
    args = ["selftest", "-c", str(p.config), "--credentials", str(p.credentials), "--unattended"]
    # A real process: pytest would capture the log lines that a terminal shows.
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args, "--gps-seconds", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert proc.returncode == 1
    out, err = proc.stdout, proc.stderr
    # Only the config's own warning (in Chinese) precedes the table; each fact is on its line.
    assert all(CJK.search(line) for line in err.splitlines()), err
    assert "gpsd:" not in err and "PinFactoryFallback" not in err
    assert "无法连接 gpsd" in out and "输出引脚不可用" in out
    assert main([*args, "--gps-seconds", "1", "--json"]) == 1
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out.splitlines()[-1])["checks"]}
    assert checks["gps"]["code"] == "GPS_GPSD_UNREACHABLE"
    assert checks["outputs"]["code"] == "OUTPUTS_PINS"
    # Without the face models the check stops before the camera (CAMERA_NO_MODELS).
    if checks["camera"]["code"] != "CAMERA_NO_MODELS":
        assert checks["camera"]["code"] == "CAMERA_NO_PICAMERA2"
        assert "未安装 picamera2" in checks["camera"]["reason_zh"]
        assert "apt install python3-picamera2" in checks["camera"]["fix_zh"]
