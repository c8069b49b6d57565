"""``zonegate roster [WORKER_ID...]``: the workers as the registry holds them, read-only.

After ``import-roster`` a technician must be able to check that 陳志明 (a Big5 file) or card
000123 came in right without opening ``registry.json`` (issue 13, finding 19). A command of its
own rather than ``status --workers``: ``status`` is the zone's live state (permits, who is
inside, health), a few lines; the roster is the list ``import-roster`` wrote, tens to hundreds
of rows with certificates, and it has its own ``--json`` shape.

Read-only, and safe while the daemon runs: the registry file is read once and never written
(the daemon replaces it atomically on every durable change, so a reader sees one whole version;
a change the daemon holds in memory because the disk is full is not in the file yet). Whether a
worker has an enrolled face is read from the encrypted face store when its key is readable
(run with sudo on a device); otherwise the column says "?" and why.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.cert_catalogue import CATALOGUE, CERT_CATEGORY_ZH
from edge.models import Certificate, SiteRole, Worker
from edge.reasons import Lang
from gateway.cli_options import add_config_arg
from gateway.exitcodes import ExitCode
from gateway.phrasebook import add_lang_arg, pick_lang

# (zh-CN, English), as gateway.phrasebook keeps them; local so this command's words live with it.
WORDS: dict[str, tuple[str, str]] = {
    "title": ("人员名单（{n} 人）", "Roster ({n} worker(s))"),
    "col.worker": ("工号", "worker"),
    "col.name": ("姓名", "name"),
    "col.employer": ("单位", "employer"),
    "col.badges": ("卡号", "badges"),
    "col.certificates": ("证书（类别/项目、证号、有效期至、复审）", "certificates"),
    "col.roles": ("站点角色", "site roles"),
    "col.face": ("人脸", "face"),
    "yes": ("已采集", "yes"),
    "no": ("未采集", "no"),
    "unknown": ("?", "?"),
    "none": ("无", "none"),
    "valid_to": ("至 {d}", "to {d}"),
    "review": ("复审 {d}", "review {d}"),
    "expired": ("已过期", "EXPIRED"),
    "empty": (
        "名单为空：尚未导入人员（zonegate import-roster 文件）",
        "the roster is empty: no worker imported yet (zonegate import-roster FILE)",
    ),
    "no_registry": (
        "登记库尚不存在（{path}）：尚未导入名单，也未启动过",
        "no registry yet ({path}): no roster imported and never started",
    ),
    "not_found": ("名单中没有：{ids}", "not on the roster: {ids}"),
    "face_unknown": (
        "无法读取人脸库，是否已采集人脸未知（{why}）；用 sudo 运行可读取",
        "face enrolment unknown: the face store cannot be read ({why}); run with sudo",
    ),
    "registry_error": ("无法读取登记库：{err}", "cannot read the registry: {err}"),
    "source": ("来源：{path}（只读）", "read from {path} (read-only)"),
}
ROLE_ZH = {SiteRole.SAFETY_OFFICER: "安全员", SiteRole.ANALYST: "分析人"}


def word(key: str, lang: Lang, **values: object) -> str:
    """``WORDS[key]`` in ``lang`` with its placeholders filled."""
    zh, en = WORDS[key]
    return (en if lang is Lang.EN else zh).format(**values)


@dataclass(frozen=True)
class FaceStatus:
    """Who has an enrolled face: ``enrolled`` is None when the store could not be read."""

    enrolled: frozenset[str] | None
    error: str | None = None


def face_status(cfg: Any) -> FaceStatus:
    """The enrolled worker ids from the encrypted face store, read-only (never creates the
    device key, unlike ``open_store``). No store file: nobody is enrolled."""
    identity = cfg.identity
    store_path = identity.store_path(cfg.storage.state_dir)
    key_path = identity.key_path(cfg.storage.state_dir)
    if not store_path.exists():
        return FaceStatus(frozenset())
    from edge.identity.store import EncodingStore, StoreError

    try:
        return FaceStatus(frozenset(EncodingStore(store_path, key_path).worker_ids()))
    except (StoreError, OSError) as err:
        return FaceStatus(None, str(err))


def certificate_dict(c: Certificate, today: date) -> dict[str, Any]:
    """One certificate for ``--json``: the model's fields plus the Chinese names and
    ``expired`` (valid_to before ``today`` in the zone's time zone)."""
    return {
        **c.model_dump(mode="json"),
        "category_zh": CERT_CATEGORY_ZH[c.category],
        "operation_item_zh": CATALOGUE[c.operation_item].zh if c.operation_item else None,
        "expired": c.valid_to < today,
    }


def worker_dict(w: Worker, faces: FaceStatus, today: date) -> dict[str, Any]:
    """One worker for ``--json``; ``face_enrolled`` is null when the face store is unreadable."""
    return {
        "worker_id": w.worker_id,
        "name": w.name,
        "employer": w.employer,
        "badge_ids": list(w.badge_ids),
        "site_roles": [r.value for r in w.site_roles],
        "certificates": [certificate_dict(c, today) for c in w.certificates],
        "face_enrolled": None if faces.enrolled is None else w.worker_id in faces.enrolled,
        "version": w.version,
    }


def _certificate_line(c: Certificate, lang: Lang, today: date) -> str:
    zh = lang is Lang.ZH
    kind = CERT_CATEGORY_ZH[c.category] if zh else c.category.value
    if c.operation_item is not None:
        kind += "/" + (CATALOGUE[c.operation_item].zh if zh else c.operation_item.value)
    parts = [kind, c.number, word("valid_to", lang, d=c.valid_to.isoformat())]
    if c.next_review is not None:
        parts.append(word("review", lang, d=c.next_review.isoformat()))
    if c.valid_to < today:
        parts.append(word("expired", lang))
    return " ".join(parts)


def _print_table(workers: list[Worker], faces: FaceStatus, lang: Lang, today: date) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    con = Console(highlight=False)
    table = Table(title=word("title", lang, n=len(workers)), show_lines=True)
    for col in ("worker", "name", "employer", "badges", "certificates", "roles", "face"):
        # fold: a certificate line or a name has no spaces to wrap at in Chinese.
        table.add_column(word(f"col.{col}", lang), overflow="fold")
    for w in workers:
        if faces.enrolled is None:
            face = word("unknown", lang)
        else:
            face = word("yes" if w.worker_id in faces.enrolled else "no", lang)
        roles = [ROLE_ZH[r] if lang is Lang.ZH else r.value for r in w.site_roles]
        certs = [_certificate_line(c, lang, today) for c in w.certificates]
        # Text, not markup: a name or a certificate number may hold [brackets].
        table.add_row(
            *map(
                Text,
                (
                    w.worker_id,
                    w.name,
                    w.employer or "",
                    "\n".join(w.badge_ids) or word("none", lang),
                    "\n".join(certs) or word("none", lang),
                    "、".join(roles) if lang is Lang.ZH else ", ".join(roles),
                    face,
                ),
            )
        )
    con.print(table)
    if faces.error is not None:
        con.print(word("face_unknown", lang, why=faces.error), style="yellow", markup=False)


def cmd_roster(args: argparse.Namespace) -> int:
    """``zonegate roster``: the workers of the registry as a table or ``--json``; exit 0,
    1 when a worker id asked for is not on the roster, 74 when the registry cannot be read."""
    from edge.registry import Registry, RegistryError
    from gateway.config import load_config

    lang = pick_lang(args.lang, args.config)
    cfg = load_config(args.config)  # checked by gateway.cli.config_precheck before this runs
    today = datetime.now(ZoneInfo(cfg.device.timezone)).date()
    path: Path = cfg.registry_path
    workers: list[Worker] = []
    if path.exists():
        try:
            registry = Registry(path)
            try:
                workers = registry.workers()
            finally:
                registry.close()
        except (RegistryError, OSError, ValueError) as err:
            print(word("registry_error", lang, err=err), file=sys.stderr)
            return ExitCode.STORE
    workers.sort(key=lambda w: w.worker_id)
    missing: list[str] = []
    if args.worker_ids:
        wanted = set(args.worker_ids)
        missing = sorted(wanted - {w.worker_id for w in workers})
        workers = [w for w in workers if w.worker_id in wanted]
    faces = face_status(cfg)
    if args.json:
        print(
            json.dumps(
                {
                    "registry": str(path),
                    "registry_exists": path.exists(),
                    "count": len(workers),
                    "workers": [worker_dict(w, faces, today) for w in workers],
                    "not_found": missing,
                    "face_store_error": faces.error,
                },
                ensure_ascii=False,
            )
        )
        return ExitCode.FAILED if missing else ExitCode.OK
    if not path.exists():
        print(word("no_registry", lang, path=path))
    elif workers:
        _print_table(workers, faces, lang, today)
        print(word("source", lang, path=path))
    elif not args.worker_ids:
        print(word("empty", lang))
    if missing:
        print(word("not_found", lang, ids=", ".join(missing)), file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


def register(sub: Any) -> None:
    """Add ``roster`` to the ``zonegate`` command."""
    p = sub.add_parser(
        "roster",
        help="list the imported workers: badges, certificates, site roles, enrolled face",
        description=(
            "The workers as the registry holds them (read-only; works while the daemon runs). "
            f"Exit {ExitCode.OK}, {ExitCode.FAILED} when a WORKER_ID given is not on the "
            f"roster, {ExitCode.STORE} when the registry cannot be read."
        ),
    )
    p.add_argument("worker_ids", nargs="*", metavar="WORKER_ID", help="only these workers")
    add_config_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_lang_arg(p)
    p.set_defaults(func=cmd_roster)
