"""``zonegate selftest`` on the command line: flags, the table or ``--json``, exit codes.

The checks themselves live beside each capability in this package (``storage``, ``clock``,
``gas``, ``gps``, ``broker``, ``camera``, ``badge``, ``outputs``); ``runner`` collects them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from edge.reasons import Lang
from gateway.cli_options import add_config_arg
from gateway.exitcodes import ExitCode
from gateway.selftest.outcome import Budgets, CheckResult, Status, Words
from gateway.selftest.runner import run_selftest

# From the one table (gateway/exitcodes.py): 2 and 3 meant other things in other commands.
EXIT_OK = ExitCode.OK
EXIT_FAILED = ExitCode.FAILED
EXIT_CONFIG = ExitCode.CONFIG  # 78, as every command's config error
EXIT_DAEMON_RUNNING = ExitCode.BUSY  # 75: the daemon holds the sensors; try again once stopped

DAEMON_RUNNING = Words(
    "DAEMON_RUNNING",
    "zonegate 正在运行（状态目录 {state}），占用着传感器和摄像头；请先停止：sudo systemctl stop "
    "zonegate",
    "zonegate is running (state directory {state}) and holds the sensors and the camera; stop "
    "it first: sudo systemctl stop zonegate",
)

# What the first column shows for each check in Chinese (the English column is the check's
# name, which is also its key in --json).
_NAMES_ZH = {
    "disk": "磁盘",
    "clock": "时钟",
    "stores": "数据存储",
    "gas": "气体",
    "gps": "定位",
    "camera": "摄像头",
    "central key": "中心公钥",
    "broker": "MQTT broker",
    "badge reader": "读卡器",
    "outputs": "声光报警与继电器",
}


def _name_in(name: str, lang: str) -> str:
    if lang == Lang.EN.value:
        return name
    if name.startswith("gas "):
        return f"气体 {name[4:]}"
    return _NAMES_ZH.get(name, name)


def terminal_ask(question: str) -> bool | None:
    """Ask ``question`` on the terminal until y/n (或 是/否); None when stdin is not one."""
    if not sys.stdin.isatty():
        return None
    while True:
        reply = input(f"{question} [y/n] ").strip().lower()
        if reply in ("y", "yes", "是", "对"):
            return True
        if reply in ("n", "no", "否", "不"):
            return False


_TABLE_WORDS = {
    "zh-CN": {
        "title": "zonegate 自检（{s:.1f} 秒）",
        "cols": ("检查项", "结果", "原因", "建议处理"),
        Status.PASS: "[green]通过[/]",
        Status.WARN: "[yellow]警告[/]",
        Status.FAIL: "[bold red]失败[/]",
        Status.SKIPPED: "[dim]跳过[/]",
        "ok": "全部通过（警告不影响运行）",
        "failed": "{n} 项失败：按“建议处理”修复后再运行 zonegate selftest",
    },
    "en": {
        "title": "zonegate selftest ({s:.1f} s)",
        "cols": ("check", "result", "reason", "fix to try"),
        Status.PASS: "[green]pass[/]",
        Status.WARN: "[yellow]warn[/]",
        Status.FAIL: "[bold red]FAIL[/]",
        Status.SKIPPED: "[dim]skipped[/]",
        "ok": "all checks passed (warnings do not stop the daemon)",
        "failed": "{n} check(s) failed: apply the fixes and run zonegate selftest again",
    },
}


def _print_table(results: list[CheckResult], elapsed: float, lang: str = "zh-CN") -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    words: dict[Any, Any] = _TABLE_WORDS["en" if lang == "en" else "zh-CN"]
    table = Table(title=str(words["title"]).format(s=elapsed))
    for col in words["cols"]:
        table.add_column(col, overflow="fold")
    for r in results:
        # markup off in the cells: a port, a topic or an error may hold [brackets]
        table.add_row(
            escape(_name_in(r.name, lang)),
            words[r.status],
            escape(r.reason_in(lang)),
            escape(r.fix_in(lang)),
        )
    con = Console()
    con.print(table)
    failed = sum(r.status is Status.FAIL for r in results)
    con.print(str(words["failed"]).format(n=failed) if failed else words["ok"])


def cmd_selftest(args: argparse.Namespace) -> int:
    """``zonegate selftest``: exit 0 all passed, 1 a check failed, 78 config error, 75 the
    daemon is running. Prints the table in the technician's language, or one JSON line
    (``--json``)."""
    from gateway.config import ConfigError, load_config

    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        # Normally said by config_precheck already; the file may have changed since.
        from gateway.phrasebook import pick_lang

        for line in err.lines(pick_lang(args.lang, args.config).value):
            print(line, file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "config": str(args.config), "error": str(err)}))
        return int(EXIT_CONFIG)
    from gateway.daemon import daemon_running
    from gateway.phrasebook import pick_lang

    lang = pick_lang(args.lang, args.config).value
    if daemon_running(cfg.storage.state_dir):
        # Two readers on one UART steal each other's bytes: the daemon would see its sensors
        # go stale and suspend the zone's permits. The state directory's lock says so whatever
        # path the daemon was started with.
        state = cfg.storage.state_dir
        print(DAEMON_RUNNING.say(lang, state=state), file=sys.stderr)
        if args.json:
            message = DAEMON_RUNNING.say(Lang.EN, state=state)
            print(json.dumps({"ok": False, "config": str(args.config), "error": message}))
        return int(EXIT_DAEMON_RUNNING)
    budgets = Budgets(
        gas_s=args.gas_seconds,
        gps_s=args.gps_seconds,
        broker_s=args.broker_seconds,
        tap_s=args.tap_seconds,
    )
    ask = None if args.json or args.unattended else terminal_ask
    started = time.monotonic()
    results = asyncio.run(
        run_selftest(cfg, credentials_dir=args.credentials, budgets=budgets, ask=ask, lang=lang)
    )
    elapsed = time.monotonic() - started
    ok = not any(r.status is Status.FAIL for r in results)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": ok,
                    "config": str(args.config),
                    "seconds": round(elapsed, 1),
                    "checks": [r.as_dict() for r in results],
                },
                ensure_ascii=False,
                default=str,
            )
        )
    else:
        _print_table(results, elapsed, lang)
    return int(EXIT_OK if ok else EXIT_FAILED)


def register(sub: Any) -> None:
    """Add ``selftest`` to the ``zonegate`` command."""
    p = sub.add_parser(
        "selftest",
        help="check sensors, camera, GPS, broker, clock and disk; non-zero exit on any failure",
        description="Check every configured capability; stop the daemon first (it holds the "
        "sensors and the camera). Run as root to read the broker credentials. Exit codes: "
        f"{EXIT_OK:d} all passed, {EXIT_FAILED:d} a check failed, {EXIT_CONFIG:d} config error, "
        f"{EXIT_DAEMON_RUNNING:d} the daemon is running.",
    )
    add_config_arg(p)
    p.add_argument(
        "--credentials",
        type=Path,
        default=Path("/etc/zonegate/credentials"),
        help="credentials dir when not run by systemd (default /etc/zonegate/credentials)",
    )
    p.add_argument(
        "--gas-seconds",
        type=float,
        default=8.0,
        help="watch the gas sensors this long; every reading is judged against the alarm levels",
    )
    p.add_argument("--gps-seconds", type=float, default=15.0, help="wait for a settled fix")
    p.add_argument("--broker-seconds", type=float, default=8.0, help="wait for the broker")
    p.add_argument("--tap-seconds", type=float, default=30.0, help="wait for a card tap")
    p.add_argument(
        "--unattended",
        action="store_true",
        help="nobody at the terminal: no tap test, no question about the test pattern",
    )
    p.add_argument("--json", action="store_true", help="end with one JSON object on one line")
    from gateway.phrasebook import add_lang_arg

    add_lang_arg(p)
    p.set_defaults(func=cmd_selftest)


__all__ = ["cmd_selftest", "register", "terminal_ask"]
