"""``zonegate bind-badges``: bind cards to workers by tapping them at the terminal's reader.

HR rosters rarely carry card numbers. After ``import-roster``, a technician runs this with the
daemon stopped: for each worker without a card (or the ones named), it asks for a tap, checks
the card is nobody else's, and writes the binding at once through the zone controller
(journaled ``roster_updated``), so an interrupted session keeps what was bound. A worker whose
tap does not come within ``--timeout`` seconds is skipped and listed at the end.

Exit codes: 0 every asked worker bound; 1 some skipped or refused; 2 bad config, no reader or
unknown worker; 3 the daemon is running.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from edge.models import Worker
from edge.reasons import Lang
from gateway.cli_options import add_config_arg
from gateway.errors import GatewayError
from gateway.exitcodes import ExitCode
from gateway.phrasebook import add_lang_arg, pick_lang

# Names for the codes of the one table (gateway/exitcodes.py) this command answers with.
EXIT_OK = ExitCode.OK
EXIT_SKIPPED = ExitCode.FAILED
EXIT_NO_READER = ExitCode.UNAVAILABLE
EXIT_UNKNOWN_WORKER = ExitCode.DATA
EXIT_DAEMON_RUNNING = ExitCode.BUSY

_WORDS: dict[str, tuple[str, str]] = {
    "ask": (
        "请刷卡：{wid} {name}（{n}/{total}，{timeout:.0f} 秒内）",
        "tap the card of {wid} {name} ({n}/{total}, within {timeout:.0f} s)",
    ),
    "bound": ("  已绑定 {badge} → {wid} {name}", "  bound {badge} -> {wid} {name}"),
    "taken": (
        "  卡 {badge} 已属于 {owner}，请换一张卡再刷",
        "  card {badge} already belongs to {owner}; tap another card",
    ),
    "timeout": ("  {wid} 超时未刷卡，已跳过", "  no tap for {wid}: skipped"),
    "done": ("绑定 {bound} 人，跳过 {skipped} 人{ids}", "bound {bound}, skipped {skipped}{ids}"),
    "nobody": ("没有需要绑定卡号的人员", "every worker already has a card"),
    "no_reader": (
        "配置中没有读卡器（badge.type: none）",
        "no badge reader configured (badge.type: none)",
    ),
    "unknown": ("登记库中没有人员 {ids}", "not in the registry: {ids}"),
    "reader_failed": (
        "无法打开读卡器：{error}。请检查 badge.port（ls /dev/serial/by-id），"
        "以及 zonegate 用户是否在 dialout 组",
        "badge reader: {error}",
    ),
    "running": (
        "zonegate 正在运行并占用读卡器；请先停止：sudo systemctl stop zonegate",
        "zonegate is running and holds the reader; stop it first: sudo systemctl stop zonegate",
    ),
}


def _say(key: str, lang: Lang, **values: object) -> str:
    zh, en = _WORDS[key]
    return (en if lang is Lang.EN else zh).format(**values)


async def bind_by_tapping(
    config_path: Path,
    worker_ids: list[str] | None,
    *,
    timeout_s: float,
    lang: Lang,
    out: Any = None,
) -> tuple[list[str], list[str]]:
    """Ask for one tap per worker on ``out`` (default: ``sys.stdout`` at call time);
    ``(bound ids, skipped ids)``. Raises ``BindError``."""
    # Looked up per call: a default of sys.stdout is bound at import, and a caller that
    # replaced sys.stdout since (pytest's capture, a redirecting wrapper) would write to the
    # old, possibly closed, stream.
    out = sys.stdout if out is None else out
    from edge.journal import Journal
    from edge.registry import Registry
    from firmware_adapters.badge.lines import LineBadgeReader
    from gateway.config import load_config
    from gateway.daemon import daemon_running
    from gateway.services import system_clock, zone_controller

    cfg = load_config(config_path)
    if daemon_running(cfg.storage.state_dir):
        raise BindError(EXIT_DAEMON_RUNNING, _say("running", lang))
    if cfg.badge.type == "none" or cfg.badge.port is None:
        raise BindError(EXIT_NO_READER, _say("no_reader", lang))
    registry = Registry(cfg.registry_path)
    clock = system_clock(cfg)
    journal = Journal(cfg.journal_path, clock)
    bound: list[str] = []
    skipped: list[str] = []
    try:
        workers = {w.worker_id: w for w in registry.workers()}
        if worker_ids:
            unknown = [w for w in worker_ids if w not in workers]
            if unknown:
                raise BindError(EXIT_UNKNOWN_WORKER, _say("unknown", lang, ids=", ".join(unknown)))
            todo = [workers[w] for w in worker_ids]
        else:
            todo = sorted(
                (w for w in workers.values() if not w.badge_ids), key=lambda w: w.worker_id
            )
        if not todo:
            print(_say("nobody", lang), file=out)
            return bound, skipped
        owner = {b: w.worker_id for w in workers.values() for b in w.badge_ids}
        controller = zone_controller(cfg, registry, journal, clock)
        actor = f"bind-badges:{os.environ.get('SUDO_USER') or getpass.getuser()}"
        reader = LineBadgeReader(
            cfg.badge.port, baudrate=cfg.badge.baudrate, serial_port=cfg.badge.type == "serial"
        )
        taps = reader.ids()
        try:
            for n, worker in enumerate(todo, 1):
                print(
                    _say(
                        "ask",
                        lang,
                        wid=worker.worker_id,
                        name=worker.name,
                        n=n,
                        total=len(todo),
                        timeout=timeout_s,
                    ),
                    file=out,
                    flush=True,
                )
                badge = await _next_free_tap(taps, owner, worker, timeout_s, lang, out)
                if badge is None:
                    print(_say("timeout", lang, wid=worker.worker_id), file=out, flush=True)
                    skipped.append(worker.worker_id)
                    continue
                updated = Worker.model_validate(
                    {**worker.model_dump(), "badge_ids": (*worker.badge_ids, badge)}
                )
                controller.put_workers([updated], actor)  # each binding durable at once
                owner[badge] = worker.worker_id
                bound.append(worker.worker_id)
                print(
                    _say("bound", lang, badge=badge, wid=worker.worker_id, name=worker.name),
                    file=out,
                    flush=True,
                )
        finally:
            await taps.aclose()
    finally:
        journal.close()
        registry.close()
    return bound, skipped


async def _next_free_tap(
    taps: Any, owner: dict[str, str], worker: Worker, timeout_s: float, lang: Lang, out: Any
) -> str | None:
    try:
        async with asyncio.timeout(timeout_s):
            async for badge in taps:
                holder = owner.get(badge)
                if holder is None or holder == worker.worker_id:
                    return str(badge)
                print(_say("taken", lang, badge=badge, owner=holder), file=out, flush=True)
    except TimeoutError:
        return None
    return None


class BindError(GatewayError):
    """Binding cannot go on: ``code`` is the exit code (``gateway.exitcodes``), the message
    says why in the technician's language."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def cmd_bind_badges(args: argparse.Namespace) -> int:
    """``zonegate bind-badges``: tap each worker's card at the reader to bind it; exit 0 all
    bound, 1 some skipped, 69 no reader, 65 unknown worker, 75 the daemon is running,
    78 config error."""
    from firmware_adapters.badge.lines import BadgeReaderError
    from gateway.config import ConfigError

    lang = pick_lang(args.lang, args.config)
    try:
        bound, skipped = asyncio.run(
            bind_by_tapping(args.config, args.worker or None, timeout_s=args.timeout, lang=lang)
        )
    except BindError as err:
        print(err, file=sys.stderr)
        return err.code
    except ConfigError as err:
        # Normally caught before the command runs (gateway.cli.config_precheck).
        for line in err.lines(lang.value):
            print(line, file=sys.stderr)
        return ExitCode.CONFIG
    except BadgeReaderError as err:
        print(_say("reader_failed", lang, error=err), file=sys.stderr)
        return EXIT_NO_READER
    ids = f": {', '.join(skipped)}" if skipped else ""
    print(_say("done", lang, bound=len(bound), skipped=len(skipped), ids=ids))
    return EXIT_SKIPPED if skipped else EXIT_OK


def register(sub: Any) -> None:
    """Add ``bind-badges`` to the ``zonegate`` command."""
    p = sub.add_parser(
        "bind-badges",
        help="bind cards to workers by tapping them at the reader (daemon stopped)",
        description="For each worker without a card (or each --worker), tap their card at the "
        f"terminal's reader. Exit codes: {EXIT_OK} all bound, {EXIT_SKIPPED} some skipped, "
        f"{EXIT_UNKNOWN_WORKER} unknown worker, {EXIT_NO_READER} no reader, "
        f"{EXIT_DAEMON_RUNNING} the daemon is running, {ExitCode.CONFIG} bad config.",
    )
    add_config_arg(p)
    p.add_argument("--worker", action="append", help="only these workers (repeatable)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each tap")
    add_lang_arg(p)
    p.set_defaults(func=cmd_bind_badges)
