"""``zonegate permit list|show``: read the zone's permits, live from the daemon when it runs.

Read-only on purpose: starting, resuming or closing a permit needs a person's authority (the
leader's or safety officer's badge and face at the terminal, or a signed central command), which
a shell user on the gateway does not have.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from gateway.cli import EX_CONFIG
from gateway.cli_options import add_config_arg
from gateway.local_time import shown_time

if TYPE_CHECKING:
    from gateway.config import GatewayConfig
from gateway.phrasebook import add_lang_arg, pick_lang

# The table in the technician's language (GB 30871 terms); codes stay beside the Chinese.
STATUS_ZH = {
    "approved": "已批准",
    "active": "作业中",
    "suspended": "中止",
    "expired": "已过期",
    "completed": "完工",
    "closed": "已关闭",
    "cancelled": "已取消",
    "revoked": "已收回",
}
ROLE_ZH = {
    "operator": "作业人员",
    "guardian": "监护人",
    "leader": "作业负责人",
    "analyst": "分析人",
}
LEVEL_ZH = {
    "hot_special": "特级动火",
    "hot_1": "一级动火",
    "hot_2": "二级动火",
    "height_1": "一级高处",
    "height_2": "二级高处",
    "height_3": "三级高处",
    "height_4": "四级高处",
    "lift_1": "一级吊装",
    "lift_2": "二级吊装",
    "lift_3": "三级吊装",
    "none": "—",
}
COLUMNS = {
    "zh": ("编号", "作业类别", "级别", "状态", "有效期起", "有效期止", "人员"),
    "en": ("id", "kind", "level", "status", "valid from", "valid to", "members"),
}
SOURCE_ZH = {"daemon": "守护进程", "stores": "本地存储"}


def register(subparsers: Any) -> None:
    """Add ``permit list`` and ``permit show ID`` to the ``zonegate`` command."""
    permit = subparsers.add_parser("permit", help="list or show the zone's permits (read-only)")
    sub = permit.add_subparsers(dest="permit_command", required=True, metavar="PERMIT_COMMAND")
    for name, helptext in (("list", "every permit and its state"), ("show", "one permit")):
        p = sub.add_parser(name, help=helptext)
        add_config_arg(p)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        if name == "show":
            p.add_argument("permit_id")
        add_lang_arg(p)
        p.set_defaults(func=cmd_permit)


def read_live_or_stores(cfg: GatewayConfig, url: str) -> tuple[int, dict[str, Any], str]:
    """``(HTTP-like status, body, source)`` from the running daemon's operator API, else from
    the stores (``source`` is ``"daemon"`` or ``"stores"``)."""
    from gateway.daemon import daemon_running
    from gateway.operator_api import call, socket_path_for

    if daemon_running(cfg.storage.state_dir):
        try:
            status, body = call(socket_path_for(cfg), "GET", url)
        except (OSError, TimeoutError):
            pass  # the daemon runs without its API (disabled or starting): read the stores
        else:
            return status, body, "daemon"
    return (*_from_stores(cfg, url), "stores")


def _from_stores(cfg: Any, url: str) -> tuple[int, dict[str, Any]]:
    from edge.registry import Registry

    registry = Registry(cfg.registry_path)
    try:
        if url == "/permits":
            permits = [p.model_dump(mode="json") for p in registry.permits()]
            return 200, {"ok": True, "permits": permits}
        permit_id = url.rsplit("/", 1)[-1]
        permit = registry.permit(permit_id)
        if permit is None:
            return 404, {"ok": False, "reasons": [{"code": "NO_PERMIT"}], "detail": permit_id}
        return 200, {"ok": True, "permit": permit.model_dump(mode="json")}
    finally:
        registry.close()


def cmd_permit(args: argparse.Namespace) -> int:
    """``zonegate permit list|show``: from the running daemon's API, else from the stores;
    exit 0, 1 for an unknown permit, 78 for a config error."""
    from gateway.config import ConfigError, load_config

    url = "/permits" if args.permit_command == "list" else f"/permits/{args.permit_id}"
    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return EX_CONFIG
    status, body, source = read_live_or_stores(cfg, url)
    body["source"] = source
    if args.json:
        print(json.dumps(body, ensure_ascii=False, default=str))
        return 0 if status == 200 else 1
    zh = pick_lang(getattr(args, "lang", None), args.config).value != "en"
    if status != 200:
        codes = ", ".join(r.get("code", "?") for r in body.get("reasons", []))
        detail = body.get("detail", "")
        if zh and codes == "NO_PERMIT" and args.permit_command == "show":
            print(f"{codes}：没有编号为 {args.permit_id} 的作业许可证", file=sys.stderr)
        else:
            print(f"{codes}: {detail}", file=sys.stderr)
        return 1
    from rich.console import Console
    from rich.table import Table

    from edge.models import WORK_KIND_ZH, WorkKind

    con = Console()
    permits = body["permits"] if "permits" in body else [body["permit"]]
    title = f"作业许可证（{SOURCE_ZH.get(source, source)}）" if zh else f"Permits ({source})"
    table = Table(title=title)
    for col in COLUMNS["zh" if zh else "en"]:
        table.add_column(col)

    def word(words_zh: dict[str, str], value: str) -> str:
        return words_zh.get(value, value) if zh else value

    kinds_zh = {k.value: f"{k.value} {WORK_KIND_ZH[k]}" for k in WorkKind}
    tz = ZoneInfo(cfg.device.timezone)
    for p in permits:
        table.add_row(
            p["permit_id"],
            word(kinds_zh, p["kind"]),
            word(LEVEL_ZH, p["level"]),
            word(STATUS_ZH, p["status"]),
            shown_time(p["valid_from"], tz),
            shown_time(p["valid_to"], tz),
            ", ".join(f"{m['worker_id']} ({word(ROLE_ZH, m['role'])})" for m in p["members"]),
        )
    con.print(table)
    for h in body.get("history", []):
        actor = (h.get("actor") or {}).get("actor_id")
        if zh:
            line = (
                f"{shown_time(h['time'], tz)} {h['type']}：{word(STATUS_ZH, h['from'])} → "
                f"{word(STATUS_ZH, h['to'])}，操作人 {actor} {h['reason']}"
            )
        else:
            when = shown_time(h["time"], tz)
            line = f"{when} {h['type']}: {h['from']} -> {h['to']} by {actor} {h['reason']}"
        con.print(line)
    return 0
