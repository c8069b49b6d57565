"""``zonegate logs``: follow the daemon's log, as ``esphome logs`` does for a node.

The daemon logs to stderr, which systemd hands to journald; this is ``journalctl -u zonegate
-f`` with the unit name filled in. Where journald is not running (a container, a bench run by
hand) it says so in one line and where the log goes instead, rather than journalctl's own
"No journal files were found".
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from gateway.cli_options import add_config_arg
from gateway.exitcodes import ExitCode
from gateway.phrasebook import add_lang_arg, pick_lang

UNIT = "zonegate.service"
JOURNAL_SOCKET = Path("/run/systemd/journal")

# Codes of the one table (gateway/exitcodes.py): journald is a part that is not there.
EXIT_OK = ExitCode.OK
EXIT_NO_JOURNAL = ExitCode.UNAVAILABLE

_WORDS = {
    "no_journal": (
        "这台机器上没有运行 journald（{why}）：守护进程的日志在它的标准错误输出里；"
        "手动运行时请看启动它的终端，或 zonegate run ... 2>&1 | tee zonegate.log",
        "journald is not running here ({why}): the daemon logs to its stderr; when run by "
        "hand, read the terminal that started it, or zonegate run ... 2>&1 | tee zonegate.log",
    ),
}


def journal_command(lines: int, follow: bool, since: str | None) -> list[str]:
    """The journalctl command line for the daemon's unit."""
    cmd = ["journalctl", "-u", UNIT, "-n", str(lines), "--no-pager", "-o", "short-iso"]
    if follow:
        cmd.append("-f")
    if since:
        cmd += ["--since", since]
    return cmd


def cmd_logs(args: argparse.Namespace) -> int:
    """``zonegate logs``: follow the daemon's journal (journalctl -u zonegate); exit 69
    (``EXIT_NO_JOURNAL``) with the reason and what to do instead where there is no journald."""
    lang = pick_lang(args.lang, args.config)
    zh, en = _WORDS["no_journal"]
    zh_why = lang.value != "en"
    words = zh if zh_why else en
    if shutil.which("journalctl") is None:
        why = "未安装 journalctl" if zh_why else "journalctl not installed"
        print(words.format(why=why), file=sys.stderr)
        return EXIT_NO_JOURNAL
    if not JOURNAL_SOCKET.exists():
        why = f"没有 {JOURNAL_SOCKET}" if zh_why else f"{JOURNAL_SOCKET} missing"
        print(words.format(why=why), file=sys.stderr)
        return EXIT_NO_JOURNAL
    try:
        # A fixed program and options; --since is one argv element, never a shell string.
        command = journal_command(args.lines, not args.no_follow, args.since)
        return subprocess.run(command, check=False).returncode  # noqa: S603
    except KeyboardInterrupt:
        return EXIT_OK  # Ctrl-C ends following, as with journalctl itself


def register(sub: Any) -> None:
    """Add ``logs`` to the ``zonegate`` command."""
    p = sub.add_parser(
        "logs",
        help="follow the daemon's log (journalctl -u zonegate -f)",
        description="Show and follow the daemon's journal. Exit 69 when journald is not there.",
    )
    p.add_argument("-n", "--lines", type=int, default=50, help="lines of history (default 50)")
    p.add_argument("--no-follow", action="store_true", help="print and exit")
    p.add_argument("--since", help="journalctl --since, e.g. '1 hour ago' or 2026-03-01")
    add_config_arg(p, purpose="gateway YAML (only for its language)")
    add_lang_arg(p)
    p.set_defaults(func=cmd_logs)
