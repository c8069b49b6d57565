"""selftest speaks the technician's language (issue 13 item 3, a fresh-user finding: the
reasons and fixes were English inside the Chinese table): every outcome's words exist in zh-CN
and English with the same placeholders, and the table shows the chosen language only."""

from __future__ import annotations

import importlib
import pkgutil
import re
import string

import pytest

import gateway.selftest
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
