"""``zonegate --help`` and argparse's usage errors in zh-CN by default, English with ``--lang en``
(issue 13 item 3; fresh-user test #1, #33), through the installed command."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import build_parser
from gateway.cli_options import DEFAULT_CONFIG
from gateway.help_zh import ZH_HELP, ZH_SHARED, argparse_message_zh, missing, texts
from tests.cli_process import zonegate

# The zh-CN default is what a gateway without a config gets; a machine with a real
# /etc/zonegate/gateway.yaml answers in that file's language instead (as it should).
needs_no_installed_config = pytest.mark.skipif(
    DEFAULT_CONFIG.exists(), reason=f"{DEFAULT_CONFIG} exists here and decides the language"
)


def test_every_option_and_command_has_its_chinese() -> None:
    # A new option or subcommand (or a changed English text of a shared option) without an
    # entry in gateway/help_zh.py is listed here.
    assert missing(build_parser()) == []


def test_no_catalogue_entry_is_left_over() -> None:
    shown = {(command, option) for command, option, _ in texts(build_parser())}
    assert set(ZH_HELP) - shown == set()
    shared_options = {option for _, option in shown}
    assert {option for option, _ in ZH_SHARED} - shared_options == set()


def test_the_chinese_keeps_the_english_placeholders() -> None:
    # argparse %-formats every help text: a lost "%%" or "%(default)s" breaks --help.
    for command, option, holder in texts(build_parser()):
        english = holder.description if option == "@description" else holder.help
        zh = ZH_HELP.get((command, option)) or ZH_SHARED[(option, english)]
        assert zh.count("%") == english.count("%"), (command, option)


@needs_no_installed_config
def test_top_help_is_chinese_by_default_and_english_with_lang_en() -> None:
    zh = zonegate("--help")
    assert zh.returncode == 0
    assert zh.stdout.startswith("用法：zonegate")
    assert "危险作业区域网关" in zh.stdout and "显示此帮助信息并退出" in zh.stdout
    assert "采集人员人脸" in zh.stdout and "选项" in zh.stdout
    assert "usage:" not in zh.stdout and "show this help" not in zh.stdout
    en = zonegate("--lang", "en", "--help")
    assert en.returncode == 0
    assert en.stdout.startswith("usage: zonegate")
    assert "Hazardous-work zone gateway" in en.stdout and "enrol a worker's face" in en.stdout
    assert "用法" not in en.stdout


@needs_no_installed_config
def test_subcommand_help_in_chinese_and_english_before_or_after_the_subcommand() -> None:
    zh = zonegate("enroll", "--help")
    assert zh.returncode == 0
    assert zh.stdout.startswith("用法：zonegate enroll")
    assert (
        "位置参数" in zh.stdout and "名单上的工号" in zh.stdout and "用终端摄像头拍摄" in zh.stdout
    )
    for args in (("--lang", "en", "enroll", "--help"), ("enroll", "--lang", "en", "--help")):
        en = zonegate(*args)
        assert en.returncode == 0, args
        assert en.stdout.startswith("usage: zonegate enroll"), args
        assert "take shots with the terminal camera" in en.stdout, args
        assert "positional arguments" in en.stdout, args


@needs_no_installed_config
def test_usage_errors_in_chinese_by_default_exit_2() -> None:
    proc = zonegate("enroll", "w1")
    assert proc.returncode == 2
    assert proc.stderr.startswith("用法：zonegate enroll")
    assert "zonegate enroll：错误：必须给出以下参数之一：--photos --camera" in proc.stderr
    proc = zonegate("enroll", "--camera")
    assert proc.returncode == 2 and "缺少以下参数：worker_id" in proc.stderr
    proc = zonegate("frobnicate")
    assert proc.returncode == 2
    assert "zonegate：错误：参数 COMMAND：无效的选项：'frobnicate'（可选：'run'" in proc.stderr
    proc = zonegate()
    assert proc.returncode == 2 and "缺少以下参数：COMMAND" in proc.stderr


def test_usage_errors_in_english_with_lang_en_before_or_after_the_subcommand() -> None:
    for args in (("--lang", "en", "enroll", "w1"), ("enroll", "w1", "--lang=en")):
        proc = zonegate(*args)
        assert proc.returncode == 2, args
        assert proc.stderr.startswith("usage: zonegate enroll"), args
        assert (
            "zonegate enroll: error: one of the arguments --photos --camera is required"
            in proc.stderr
        ), args


def test_the_configs_language_decides_when_no_lang_is_given(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("device:\n  language: en\n", encoding="utf-8")
    proc = zonegate("enroll", "w1", "-c", str(config))
    assert proc.returncode == 2
    assert "error: one of the arguments --photos --camera is required" in proc.stderr
    proc = zonegate("enroll", "w1", "-c", str(config), "--lang", "zh-CN")
    assert proc.returncode == 2 and "错误：必须给出以下参数之一" in proc.stderr


def test_lang_before_the_subcommand_also_chooses_the_commands_output(tmp_path: Path) -> None:
    missing_file = tmp_path / "nope.yaml"
    en = zonegate("--lang", "en", "check-config", "-c", str(missing_file))
    assert en.returncode == 78 and "cannot read" in en.stderr
    zh = zonegate("--lang", "zh-CN", "check-config", "-c", str(missing_file), "--lang", "en")
    assert zh.returncode == 78 and "cannot read" in zh.stderr  # the later --lang wins


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("unrecognized arguments: --frob x", "无法识别的参数：--frob x"),
        ("argument --shots: invalid int value: 'many'", "参数 --shots：无效的 int 值：'many'"),
        (
            "argument --camera: not allowed with argument --photos",
            "参数 --camera：不能与参数 --photos 同时使用",
        ),
        ("argument --photos: expected at least one argument", "参数 --photos：至少需要一个值"),
        ("something a module said", "something a module said"),
    ],
)
def test_argparse_messages(english: str, chinese: str) -> None:
    assert argparse_message_zh(english) == chinese
