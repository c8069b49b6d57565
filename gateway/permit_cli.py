"""``zonegate permit list|show``: read the zone's permits, live from the daemon when it runs.

Read-only on purpose: starting, resuming or closing a permit needs a person's authority (the
leader's or safety officer's badge and face at the terminal, or a signed central command), which
a shell user on the gateway does not have.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gateway.cli import EX_CONFIG
from gateway.cli_options import add_config_arg


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
        p.set_defaults(func=cmd_permit)


def read_live_or_stores(config_path: Path, url: str) -> tuple[int, dict[str, Any], str]:
    """``(HTTP-like status, body, source)`` from the running daemon's operator API, else from
    the stores (``source`` is ``"daemon"`` or ``"stores"``). Raises ``ConfigError``."""
    from gateway.config import load_config
    from gateway.daemon import daemon_running
    from gateway.operator_api import call, socket_path_for

    cfg = load_config(config_path)
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
    from gateway.config import ConfigError

    url = "/permits" if args.permit_command == "list" else f"/permits/{args.permit_id}"
    try:
        status, body, source = read_live_or_stores(args.config, url)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return EX_CONFIG
    body["source"] = source
    if args.json:
        print(json.dumps(body, ensure_ascii=False, default=str))
        return 0 if status == 200 else 1
    if status != 200:
        codes = ", ".join(r.get("code", "?") for r in body.get("reasons", []))
        print(f"{codes}: {body.get('detail', '')}", file=sys.stderr)
        return 1
    from rich.console import Console
    from rich.table import Table

    con = Console()
    permits = body["permits"] if "permits" in body else [body["permit"]]
    table = Table(title=f"作业票 Permits ({source})")
    for col in ("id", "kind", "level", "status", "valid from", "valid to", "members"):
        table.add_column(col)
    for p in permits:
        table.add_row(
            p["permit_id"],
            p["kind"],
            p["level"],
            p["status"],
            p["valid_from"],
            p["valid_to"],
            ", ".join(f"{m['worker_id']} ({m['role']})" for m in p["members"]),
        )
    con.print(table)
    for h in body.get("history", []):
        actor = (h.get("actor") or {}).get("actor_id")
        con.print(f"{h['time']} {h['type']}: {h['from']} -> {h['to']} by {actor} {h['reason']}")
    return 0
