"""The ``zonegate`` command: run the gateway, check a config, show status, run the demo.

Capabilities add their own subcommands (``gps probe``, ``enroll``, ``central ...``,
``provision``, ``selftest``, ``import-roster``) through a module-level ``register(subparsers)``
listed in ``COMMAND_MODULES``; each subcommand sets ``func`` to a callable returning an exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from firmware_adapters.bilingual import BilingualWarning
from gateway.cli_options import DEFAULT_CONFIG, add_config_arg
from gateway.exitcodes import ExitCode
from gateway.local_time import shown_time

COMMAND_MODULES: tuple[str, ...] = (
    "gateway.gps_probe",
    "gateway.enroll",
    "gateway.central_cli",
    "gateway.provisioning",
    "gateway.selftest",
    "gateway.roster_import",
    "gateway.roster_view",
    "gateway.permit_cli",
    "gateway.logs_cli",
    "gateway.badge_binding",
    "gateway.stores",
)

# Kept for callers of the old name; the table of every code is gateway.exitcodes.ExitCode.
EX_CONFIG = ExitCode.CONFIG

Handler = Callable[[argparse.Namespace], int]


def _setup_logging(level: str) -> None:
    # journald adds its own timestamps; on a terminal a short one helps.
    fmt = "%(levelname)s %(name)s: %(message)s"
    if sys.stderr.isatty():
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)


def cmd_check_config(args: argparse.Namespace) -> int:
    """Every problem of the config at once, as ``file:line: key: message`` in the technician's
    language (``--lang``, else the file's own ``device.language``, else zh-CN); exit 78 on any."""
    from gateway.config import ConfigError
    from gateway.phrasebook import pick_lang, say

    path: Path = args.config_file or args.config or DEFAULT_CONFIG
    lang = pick_lang(args.lang, path)
    try:
        cfg = load_config_saying_warnings(path, lang)
    except ConfigError as err:
        print_config_error(err, path, lang)
        return ExitCode.CONFIG
    print(say("config.ok", lang, file=path, device=cfg.device.device_id, zone=cfg.zone.zone_id))
    return ExitCode.OK


def load_config_saying_warnings(path: Path, lang: str) -> Any:
    """``gateway.config.load_config(path)`` (a ``GatewayConfig``), its warnings printed on
    stderr in ``lang`` as ``file: warning: message`` (a looser limit tightened, a monitor gap,
    an indicator-only sensor); raises ``ConfigError`` as ``load_config`` does."""
    from gateway.config import load_config
    from gateway.phrasebook import say

    with warnings.catch_warnings(record=True) as caught:
        # Sections warn about valid but limited choices (a PMS5003 is an indicator only).
        warnings.simplefilter("always")
        cfg = load_config(path)
    for w in caught:
        # The sections' warnings carry zh-CN and English (BilingualWarning); anything else (a
        # library's) is shown as it is, after a lead-in in the technician's language.
        msg = w.message.text(lang) if isinstance(w.message, BilingualWarning) else w.message
        print(say("config.warning", lang, file=path, msg=msg), file=sys.stderr)
    return cfg


def print_config_error(err: Any, path: Path, lang: str) -> None:
    """``err`` (a ``gateway.config.ConfigError``) on stderr: each issue, then the count."""
    from gateway.phrasebook import say

    for line in err.lines(str(lang)):
        print(line, file=sys.stderr)
    print(say("config.error_count", lang, file=path, n=len(err.issues)), file=sys.stderr)


# Commands that cannot do anything without a readable, valid config. They get it checked here,
# once, before they start, so a missing or broken config is exit 78 (ExitCode.CONFIG) with the
# same file:line report in the technician's language from every one of them. Left out: provision
# (writes the config), logs (reads it only for its language), demo and central (none).
READS_CONFIG = frozenset(
    {
        "run",
        "status",
        "selftest",
        "import-roster",
        "roster",
        "enroll",
        "bind-badges",
        "reset-store",
        "permit",
        "gps",
    }
)


# Commands that read the secrets (broker password, face-encoding key): run by hand on a gateway
# whose secrets are sealed, they get them decrypted into a private RAM directory for as long as
# they run (gateway.credential_sealing.unsealed_credentials), as systemd gives them to the unit.
NEEDS_SECRETS = frozenset({"run", "selftest", "enroll"})


def run_with_secrets(handler: Handler, args: argparse.Namespace) -> int:
    """``handler(args)``; for a ``NEEDS_SECRETS`` command with sealed credentials (in
    ``$CREDENTIALS_DIRECTORY``, else ``--credentials``, else /etc/zonegate/credentials) inside
    an unsealed session. ``ExitCode.NO_PERMISSION`` when not root, or the ``SealError``'s code
    when a credential does not decrypt, after saying why in the technician's language."""
    if args.command not in NEEDS_SECRETS:
        return handler(args)
    from gateway.credential_sealing import SealError, unsealed_credentials
    from gateway.credentials import CREDENTIALS_DIR
    from gateway.phrasebook import pick_lang

    env = os.environ.get("CREDENTIALS_DIRECTORY")
    named = getattr(args, "credentials", None)
    source = Path(env) if env else named if isinstance(named, Path) else CREDENTIALS_DIR
    if isinstance(named, Path):
        # selftest judges where the secrets came from (sealed or plain), not the RAM copy.
        args.credentials = source
    try:
        with unsealed_credentials(source):
            return handler(args)
    except SealError as err:
        config = getattr(args, "config", None)
        lang = pick_lang(getattr(args, "lang", None), config if isinstance(config, Path) else None)
        print(f"zonegate {args.command}: {err.text(lang.value)}", file=sys.stderr)
        return err.code


def config_precheck(args: argparse.Namespace) -> int | None:
    """``ExitCode.CONFIG`` after printing the problems when the command's config cannot be
    used, else None (the command runs and loads it itself). The config's warnings are printed
    here, in the technician's language (``--lang``, else ``device.language``, else zh-CN; the
    daemon's go to the journal in the device's language)."""
    from gateway.config import ConfigError
    from gateway.phrasebook import pick_lang

    path = getattr(args, "config", None)
    if args.command not in READS_CONFIG or not isinstance(path, Path):
        return None  # gps probe without --config runs on gpsd alone, as documented
    if getattr(args, "columns", False):
        return None  # import-roster --columns prints the header table: no gateway needed
    lang = pick_lang(getattr(args, "lang", None), path)
    try:
        load_config_saying_warnings(path, lang)
    except ConfigError as err:
        print_config_error(err, path, lang)
        return ExitCode.CONFIG
    return None


def cmd_run(args: argparse.Namespace) -> int:
    """``zonegate run``: the daemon until SIGTERM/SIGINT; exit 0 after a clean stop, 78 for a
    config error, or the ``StartupError``'s code (74 a damaged or missing store, 1 any other
    refusal to start, e.g. too little disk)."""
    from gateway.config import ConfigError, load_config
    from gateway.daemon import StartupError, run_gateway

    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        # Normally said by config_precheck already; the file may have changed since.
        from gateway.phrasebook import pick_lang

        print_config_error(err, args.config, pick_lang(None, args.config))
        return ExitCode.CONFIG
    _setup_logging(cfg.daemon.log_level)
    try:
        asyncio.run(run_gateway(cfg, args.config))
    except StartupError as err:
        logging.getLogger("zonegate").critical("cannot start: %s", err)
        return err.exit_code
    return ExitCode.OK


def air_summary(air: dict[str, Any]) -> str:
    """One honest word for the air: a latched alarm or lost monitoring is never "safe"."""
    reasons = ",".join(air.get("reasons", []))
    if air.get("safe") is not True or air.get("latched"):
        word = "不安全 UNSAFE"
    elif air.get("monitoring_ok") is not True:
        word = "未监测 NOT MONITORED"
    else:
        word = "安全 safe"
    return f"{word} {reasons}".strip()


def link_word(link: dict[str, Any], lang: str) -> str:
    """The MQTT link's state in words: its ``state`` when the snapshot has one, else
    connected / not connected (the stores' snapshot gives a bool; it printed "True")."""
    state = link.get("state", link.get("connected"))
    if isinstance(state, bool):
        zh, en = ("已连接", "connected") if state else ("未连接", "not connected")
        return en if lang == "en" else zh
    return "-" if state is None else str(state)


def health_line(health: object) -> str:
    """One service's health for ``status``: its ``state`` when it has one, else its simple
    fields as ``key=value`` (the disk, gas and mqtt services report figures, not a state;
    they printed as blank lines)."""
    if not isinstance(health, dict):
        return str(health)
    if "state" in health:
        return str(health["state"])
    simple = [f"{k}={v}" for k, v in health.items() if not isinstance(v, dict | list)]
    line = "  ".join(simple) or "-"
    return line if len(line) <= 160 else line[:159] + "…"


# What ``zonegate status`` prints around the data: (zh-CN, English), chosen like every
# technician command's words (``--lang``, else device.language, else zh-CN).
STATUS_WORDS: dict[str, tuple[str, str]] = {
    "zone": ("区域", "Zone"),
    "daemon": ("守护进程", "daemon"),
    "running": ("运行中", "running"),
    "not_running": ("未运行", "not running"),
    "clock": ("时钟", "clock"),
    "pending": ("待上传", "pending"),
    "api_silent": (
        "守护进程在运行，但其本地操作接口无应答：{err}（改为读取存储）",
        "daemon running but its operator API does not answer: {err} (reading the stores)",
    ),
    "light": ("信号灯", "light"),
    "air": ("空气", "air"),
    "link": ("上行链路", "link"),
    "link_why": ("链路 [{code}] {why}；最近错误：{err}", "link [{code}] {why}; last error: {err}"),
    "permits": ("作业票", "Permits"),
    "col.id": ("编号", "id"),
    "col.kind": ("作业类型", "kind"),
    "col.level": ("级别", "level"),
    "col.status": ("状态", "status"),
    "col.valid_to": ("有效期至", "valid to"),
    "col.members": ("人员", "members"),
    "inside": ("区域内人员", "Inside"),
    "col.worker": ("工号", "worker"),
    "col.permit": ("作业票", "permit"),
    "col.role": ("角色", "role"),
    "col.since": ("进入时间", "since"),
    "alert": ("告警", "alert"),
    "store_problem": ("存储问题：", "store problem: "),
}


def status_word(key: str, lang: str, **values: object) -> str:
    """``STATUS_WORDS[key]`` in ``lang`` ("zh-CN" or "en")."""
    zh, en = STATUS_WORDS[key]
    return (en if lang == "en" else zh).format(**values)


def cmd_status(args: argparse.Namespace) -> int:
    """The live daemon through its operator API when it runs, else the stores."""
    from rich.console import Console
    from rich.table import Table

    from gateway.config import ConfigError, load_config
    from gateway.daemon import daemon_running, status_snapshot
    from gateway.phrasebook import pick_lang

    lang = pick_lang(args.lang, args.config).value

    def w(key: str, **values: object) -> str:
        return status_word(key, lang, **values)

    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return ExitCode.CONFIG
    snap: dict[str, Any] | None = None
    if daemon_running(cfg.storage.state_dir):
        from gateway.operator_api import call, socket_path_for

        try:
            code, body = call(socket_path_for(cfg), "GET", "/status")
            if code == 200:
                snap = body
        except (OSError, TimeoutError) as err:
            print(w("api_silent", err=err), file=sys.stderr)
    if snap is None:
        snap = status_snapshot(cfg, args.config)
        snap["running"] = daemon_running(cfg.storage.state_dir)
    problems = snap.get("registry_problems", []) + snap.get("journal_problems", [])
    if args.json:
        print(json.dumps(snap, ensure_ascii=False, default=str))
        return ExitCode.STORE if problems else ExitCode.OK
    con = Console()
    tz = ZoneInfo(cfg.device.timezone)
    zone = snap["zone"]
    running = w("running") if snap.get("running") else w("not_running")
    clock = snap["clock"]["source"] if isinstance(snap["clock"], dict) else snap["clock"]
    pending = sum(snap["pending"].values()) if isinstance(snap["pending"], dict) else 0
    sep = "：" if lang != "en" else ": "
    con.print(
        f"[bold]{w('zone')}[/] {zone['site']}/{zone['zone_id']} {zone.get('name', '')}  "
        f"{w('daemon')}{sep}{running}  {w('clock')}{sep}{clock}  {w('pending')}{sep}{pending}"
    )
    exist = snap.get("stores_exist") or {}
    # Only with no store problem: a journal missing beside a registry with history is damage
    # (reported below with its recovery step), not a new gateway.
    fresh = not snap.get("running") and not problems and bool(exist)
    if fresh and not any(exist.values()):
        con.print(
            "尚未启动过：登记库和日志在第一次启动（systemctl start zonegate）或导入名单时创建，"
            "这不是错误 / not started yet: the registry and journal are created at the first "
            "start or roster import; nothing is wrong",
            markup=False,
        )
    elif fresh and exist.get("journal") is False:
        con.print(
            "日志尚未创建（第一次启动时创建） / journal not created yet (made at the first start)",
            markup=False,
        )
    if "light" in snap:
        air = snap.get("air") or {}
        link = snap.get("link") or {}
        con.print(
            f"{w('light')}{sep}{snap['light']}  {w('air')}{sep}{air_summary(air)}  "
            f"{w('link')}{sep}{link_word(link, lang)}",
            markup=False,
        )
        if link.get("diagnosis") not in (None, "OK"):
            # Why the link is down, in the technician's words (cloud_sync.link.LinkDiagnosis).
            why = link.get("diagnosis_en") if lang == "en" else link.get("diagnosis_zh")
            con.print(
                "  " + w("link_why", code=link["diagnosis"], why=why, err=link.get("last_error")),
                markup=False,
            )
        for name, h in sorted((snap.get("health") or {}).items()):
            con.print(f"  {name}: {health_line(h)}", markup=False)
    permits = Table(title=w("permits"))
    for col in ("id", "kind", "level", "status", "valid_to", "members"):
        permits.add_column(w(f"col.{col}"))
    for p in snap["permits"]:
        permits.add_row(
            p["permit_id"],
            p["kind"],
            p["level"],
            p["status"],
            shown_time(p["valid_to"], tz),
            ", ".join(m["worker_id"] for m in p["members"]),
        )
    con.print(permits)
    inside = Table(title=w("inside"))
    for col in ("worker", "permit", "role", "since"):
        inside.add_column(w(f"col.{col}"))
    presence = snap["presence"]
    rows = (
        presence
        if isinstance(presence, list)
        else [{"worker_id": wid, **e} for wid, e in presence.items()]
    )
    for e in rows:
        inside.add_row(
            e["worker_id"],
            str(e.get("permit_id")),
            str(e.get("role")),
            shown_time(e.get("since"), tz),
        )
    con.print(inside)
    for a in snap.get("recent_alerts", []):
        con.print(f"[red]{w('alert')}[/] {shown_time(a['time'], tz)} {a['type']}")
    for prob in problems:
        # markup=False: a path or message may hold [brackets]. soft_wrap: the recovery step
        # holds a command and a path the technician copies; rich hard-wrapped it at 80 columns
        # when piped, splitting it wherever the path's length put the edge.
        con.print(w("store_problem") + prob, style="red", markup=False, soft_wrap=True)
    return ExitCode.STORE if problems else ExitCode.OK


def cmd_demo(args: argparse.Namespace) -> int:
    """``zonegate demo``: ``gateway.demo.run_demo`` (0 done, 1 mosquitto missing, 130 Ctrl-C)."""
    from gateway.demo import run_demo

    return run_demo(lang=args.lang, keep=args.keep, capture=args.capture)


def package_version() -> str:
    """The installed distribution's version (pyproject); one home: ``gateway.version``."""
    from gateway.version import VERSION

    return VERSION


def build_parser() -> argparse.ArgumentParser:
    """The ``zonegate`` parser: the built-in commands and each ``COMMAND_MODULES`` entry's
    ``register`` (a capability module not installed in this build is left out)."""
    from gateway.help_zh import ZonegateParser
    from gateway.phrasebook import add_lang_arg
    from gateway.version import VERSION

    # ZonegateParser: every subcommand's parser is made of the same class (add_subparsers), so
    # gateway.help_zh.localize can give all of them zh-CN usage errors.
    parser = ZonegateParser(prog="zonegate", description="Hazardous-work zone gateway")
    parser.add_argument("--version", action="version", version=f"zonegate {VERSION}")
    # Before the subcommand too (``zonegate --lang en enroll --help``). Its own dest: argparse
    # copies a subcommand's defaults over the namespace, so a shared "lang" would be lost.
    parser.add_argument(
        "--lang",
        dest="top_lang",
        choices=["zh-CN", "en"],
        default=None,
        help=(
            "language of the help, the usage errors and the command's output "
            "(default: device.language of the config, else zh-CN)"
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run the gateway daemon")
    add_config_arg(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check-config", help="validate a config file; exit 78 on any error")
    p.add_argument(
        "config_file", type=Path, nargs="?", metavar="FILE", help="same as -c (older form)"
    )
    add_config_arg(p, parsed_default=None)
    add_lang_arg(p)
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("status", help="zone, permits, presence and health from the stores")
    add_config_arg(p)
    p.add_argument("--json", action="store_true")
    add_lang_arg(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("demo", help="run a whole simulated zone and print its timeline")
    p.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN")
    p.add_argument("--keep", action="store_true", help="keep the demo's state directory")
    p.add_argument(
        "--capture",
        type=Path,
        default=None,
        help="append every MQTT message central receives to this file (JSON lines)",
    )
    p.set_defaults(func=cmd_demo)

    for name in COMMAND_MODULES:
        try:
            module: Any = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:
                continue  # that capability is not part of this build
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``zonegate`` with ``argv`` (default ``sys.argv[1:]``); the exit code from
    ``gateway.exitcodes.ExitCode`` (78 before any command that finds its config broken,
    130 on Ctrl-C)."""
    try:
        # Building the parser imports every command's module (about half a second): a Ctrl-C
        # then printed a KeyboardInterrupt traceback (a fresh-user finding on the demo).
        parser = build_parser()
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    from gateway.help_zh import localize, peek_lang

    argv = sys.argv[1:] if argv is None else list(argv)
    # --help and usage errors happen inside parse_args, so the language is decided from argv.
    help_lang = peek_lang(argv, DEFAULT_CONFIG)
    localize(parser, help_lang)
    args = parser.parse_args(argv)
    given = sum(a == "--lang" or a.startswith("--lang=") for a in argv)
    if args.top_lang is not None and given == 1:
        # Given only before the subcommand: it is the command's --lang too (demo's default
        # "zh-CN" cannot be told from a given one, hence counting the flags).
        args.lang = args.top_lang
    check = args.command == "check-config"
    if check and args.config_file and args.config and args.config_file != args.config:
        from gateway.phrasebook import say

        parser.error(say("config.given_twice", help_lang))
    handler: Handler = args.func
    try:
        refused = config_precheck(args)
        if refused is not None:
            return refused
        with warnings.catch_warnings():
            # The precheck said the config's warnings in the technician's language; the
            # command's own load_config would repeat them in English, with a source line.
            warnings.simplefilter("ignore", BilingualWarning)
            return run_with_secrets(handler, args)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``zonegate ... | head``): stop quietly as other Unix tools do,
        # and point stdout at /dev/null so the interpreter's final flush does not raise again
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.FAILED


if __name__ == "__main__":
    sys.exit(main())
