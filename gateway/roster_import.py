"""``zonegate import-roster FILE``: workers and their certificates from a CSV or XLSX sheet.

Three seams: ``gateway.roster_read`` finds the header and reads cells as Excel shows them,
``gateway.roster_parse`` checks rows and builds workers, this module writes them through the
zone controller (journaled) and prints the summary in zh-CN or English.

Headers may be English or Chinese (the alias table ``roster_read.COLUMNS``, printed by
``--columns``); the certificate's category and operation item come from the national catalogue
(``edge.cert_catalogue``). Nothing is written while a bad row remains unless ``--partial``.
Workers already in the registry but absent from the file are kept; a worker in both takes the
file's name and certificates (cards and site roles the file does not carry are kept), and the
summary lists each such change.

Exit codes (also in ``--help`` and the README):

- 0 everything imported (expired certificates included: the gate denies them CERT_EXPIRED);
- 1 bad rows, nothing written (fix them, or ``--partial``);
- 2 the file, the badge file or the config cannot be used;
- 3 the daemon holds the state directory (stop it first);
- 4 ``--partial``: the good workers were imported, the listed rows were not.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from edge.cert_catalogue import CERT_CATEGORY_ZH, catalogue_text
from edge.models import Worker
from edge.reasons import Lang
from gateway.cli_options import add_config_arg
from gateway.errors import GatewayError
from gateway.exitcodes import ExitCode
from gateway.phrasebook import add_lang_arg, pick_lang, say
from gateway.roster_parse import (
    EXPIRY_WINDOW_DAYS,
    Expiring,
    RosterParse,
    RowProblemCode,
    expiring,
    parse_roster,
    split_badges,
)
from gateway.roster_read import COLUMNS, RosterFileError, Sheet, read_sheet

if TYPE_CHECKING:  # rich is imported when printing only (startup time)
    from rich.console import Console

# The exit codes are gateway.exitcodes.ExitCode, the one table for every command.

# --------------------------------------------------------------------------------------------
# Badges from a second file


def read_badge_file(path: Path) -> dict[str, tuple[str, ...]]:
    """``worker_id -> badges`` from a two-column sheet (工号, 卡号), header found like a roster's.

    Raises ``RosterFileError`` when the file cannot be used or names no badge column.
    """
    sheet = read_sheet(path, required=("worker_id", "badge_ids"))
    out: dict[str, tuple[str, ...]] = {}
    for row, cells in sheet.rows:
        badges = split_badges(cells.get("badge_ids", ""))
        if badges:
            if cells["worker_id"] in out:
                wid = cells["worker_id"]
                raise RosterFileError(
                    "DUPLICATE_WORKER",
                    f"row {row}: worker {wid} twice",
                    f"第 {row} 行：工号 {wid} 出现了两次",
                    (row,),
                )
            out[cells["worker_id"]] = badges
    return out


def bind_badges(sheet: Sheet, badges: dict[str, tuple[str, ...]]) -> list[str]:
    """Fill the badge cell of each row from ``badges``; the worker ids not in the roster."""
    seen: set[str] = set()
    for _, cells in sheet.rows:
        wid = cells.get("worker_id", "")
        if wid in badges and not cells.get("badge_ids"):
            cells["badge_ids"] = ";".join(badges[wid])
        seen.add(wid)
    if "badge_ids" not in sheet.columns:
        sheet.columns.append("badge_ids")
    return sorted(set(badges) - seen)


# --------------------------------------------------------------------------------------------
# Import


@dataclass
class ImportReport:
    """One import of one roster file: what was read, checked, written, and what to say."""

    file: str
    sheet: Sheet
    parse: RosterParse
    imported: list[Worker]
    expiring: list[Expiring]
    written: bool
    partial: bool = False
    dry_run: bool = False
    unmatched_badges: list[str] = field(default_factory=list)

    @property
    def no_badge(self) -> list[str]:
        """Worker ids imported without a card number: they cannot badge in yet."""
        return [w.worker_id for w in self.parse.workers if not w.badge_ids]

    @property
    def outcome(self) -> str:
        """The one word every line of the summary follows: ``imported`` (all rows good and
        written), ``partial`` (written, some rows refused), ``dry_run``, ``refused`` (bad rows,
        nothing written) or ``empty`` (no worker in the file)."""
        if self.written:
            return "imported" if self.parse.ok else "partial"
        if self.dry_run:
            return "dry_run"
        return "refused" if self.parse.problems else "empty"

    @property
    def exit_code(self) -> ExitCode:
        """OK, PARTIAL (``--partial`` wrote the good rows) or FAILED (gateway.exitcodes)."""
        if self.parse.ok:
            return ExitCode.OK
        return ExitCode.PARTIAL if self.written and self.partial else ExitCode.FAILED

    def as_dict(self) -> dict[str, Any]:
        """The report as ``import-roster --json`` prints it."""
        return {
            "file": self.file,
            "ok": self.parse.ok,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "rows": self.parse.rows,
            "header_row": self.sheet.header_row,
            "title_rows": self.sheet.title_rows,
            "footer_rows": self.sheet.footer_rows,
            "encoding": self.sheet.encoding,
            "delimiter": self.sheet.delimiter,
            "read_as": self.sheet.read_as,
            "ignored_columns": self.sheet.unknown_columns,
            "written": self.written,
            "imported_workers": [w.worker_id for w in self.imported],
            "imported_certificates": sum(len(w.certificates) for w in self.imported),
            "refused_workers": self.parse.refused_workers,
            "bad_rows": [p.as_dict(self.sheet.headers) for p in self.parse.problems],
            "expired": [e.as_dict() for e in self.expiring if e.due == "expired"],
            "review_overdue": [e.as_dict() for e in self.expiring if e.due == "review_overdue"],
            "expiring_within_30_days": [
                e.as_dict() for e in self.expiring if e.due in ("expires", "review")
            ],
            "badge_column": "badge_ids" in self.sheet.columns,
            "workers_without_badge": self.no_badge,
            "kept_badges": self.parse.kept_badges,
            "kept_site_roles": self.parse.kept_roles,
            "badge_file_unknown_workers": self.unmatched_badges,
            "updated_workers": [c.as_dict() for c in self.parse.updated],
        }


def import_roster(
    config_path: Path,
    file: Path,
    *,
    partial: bool = False,
    dry_run: bool = False,
    badges_file: Path | None = None,
    today: date | None = None,
    actor: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate ``file`` and write its workers through the zone controller (journaled).

    Raises ``RosterFileError`` for a file (or badge file) that cannot be used at all,
    ``gateway.config.ConfigError`` for a bad config and ``DaemonRunning`` when the daemon
    holds the state directory (checked before anything is opened for writing).
    """
    from edge.journal import Journal
    from edge.registry import Registry
    from gateway.config import load_config
    from gateway.daemon import daemon_running
    from gateway.provisioning import restore_state_ownership
    from gateway.services import system_clock, zone_controller

    cfg = load_config(config_path)
    if not dry_run and daemon_running(cfg.storage.state_dir):
        raise DaemonRunning(cfg.storage.state_dir)
    day = today or datetime.now(ZoneInfo(cfg.device.timezone)).date()
    sheet = read_sheet(file)
    unmatched: list[str] = []
    if badges_file is not None:
        try:
            unmatched = bind_badges(sheet, read_badge_file(badges_file))
        except RosterFileError as err:
            raise err.about(badges_file) from err
    registry = Registry(cfg.registry_path)
    try:
        parsed = parse_roster(
            sheet.rows,
            columns=sheet.columns,
            existing=registry.workers(),
            lossy=sheet.lossy,
            progress=progress,
        )
        write = not dry_run and bool(parsed.workers) and (parsed.ok or partial)
        if write:
            clock = system_clock(cfg)
            journal = Journal(cfg.journal_path, clock)
            try:
                controller = zone_controller(cfg, registry, journal, clock)
                who = actor or f"import-roster:{os.environ.get('SUDO_USER') or getpass.getuser()}"
                controller.put_workers(parsed.workers, who)
            finally:
                journal.close()
    finally:
        registry.close()
        restore_state_ownership(cfg.storage.state_dir)
    return ImportReport(
        file=str(file),
        sheet=sheet,
        parse=parsed,
        imported=parsed.workers if write else [],
        expiring=expiring(parsed.workers, day),
        written=write,
        partial=partial,
        dry_run=dry_run,
        unmatched_badges=unmatched,
    )


class DaemonRunning(GatewayError):
    """The daemon holds the state directory's lock: the registry must not be written now."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(str(state_dir))
        self.state_dir = state_dir


# --------------------------------------------------------------------------------------------
# CLI


# A workbook whose file name says .csv: (zh, en), said before anything else.
_READ_AS = {
    kind: (
        f"此文件是 Excel 工作簿（.{kind}），只是扩展名为 .csv：已按工作簿读取",
        f"this is an Excel workbook (.{kind}) saved or renamed as .csv: read as a workbook",
    )
    for kind in ("xlsx", "xls")
}


def _print_report(report: ImportReport, lang: Lang) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(highlight=False)
    sheet = report.sheet
    if sheet.read_as is not None:
        con.print("[yellow]" + _READ_AS[sheet.read_as][lang is Lang.EN], markup=True)
    if sheet.title_rows:
        rows = ", ".join(map(str, sheet.title_rows))
        con.print(say("roster.title_rows", lang, rows=rows, header=sheet.header_row))
    if sheet.footer_rows:
        con.print(say("roster.footer_rows", lang, rows=", ".join(map(str, sheet.footer_rows))))
    if sheet.unknown_columns:
        con.print(
            "[yellow]" + say("roster.ignored_columns", lang, cols=", ".join(sheet.unknown_columns))
        )
    problems = report.parse.problems
    if problems:
        table = Table(title=say("roster.bad_rows", lang, n=len(problems)))
        for col in ("row", "worker", "problem", "reason"):
            # fold: a Chinese reason has no spaces to wrap at, and rich's default ellipsis cut
            # it off at 80 columns ("身份证号校验位不…"): the reason is the point of the table.
            table.add_column(
                say(f"roster.col.{col}", lang),
                overflow="fold",
                no_wrap=col in ("row", "problem"),
            )
        for p in problems:
            table.add_row(
                str(p.row), p.worker_id or "", p.code.value, p.text(lang.value, sheet.headers)
            )
        con.print(table)
        if any(p.code is RowProblemCode.UNKNOWN_CATEGORY for p in problems):
            # The catalogue once, not once per bad row.
            con.print(say("roster.valid_values", lang))
            con.print(catalogue_text(zh=lang is Lang.ZH), markup=False)
    if report.expiring:
        table = Table(title=say("roster.expiring", lang, days=EXPIRY_WINDOW_DAYS))
        for col in ("worker", "name", "certificate", "category", "due", "date", "days"):
            table.add_column(say(f"roster.col.{col}", lang), overflow="fold")
        for e in report.expiring:
            category = CERT_CATEGORY_ZH[e.category] if lang is Lang.ZH else e.category.value
            table.add_row(
                e.worker_id,
                e.name,
                e.number,
                category,
                say(f"roster.due.{e.due}", lang),
                e.on.isoformat() + ("*" if e.derived else ""),
                str(e.days_left),
            )
        con.print(table)
        if any(e.derived for e in report.expiring):
            # Once, not per row: the sheet had no 复审日期 for these (marked *).
            con.print(say("roster.review_derived", lang))
        if any(e.due == "review_overdue" for e in report.expiring):
            con.print("[yellow]" + say("roster.review_overdue_note", lang))
        if any(e.due == "expired" for e in report.expiring):
            # Said as it is: imported only when something was written (a dry run or a refused
            # file printed "imported" above "nothing imported").
            written = report.outcome in ("imported", "partial")
            key = "roster.expired_note" if written else "roster.expired_note_unwritten"
            con.print("[yellow]" + say(key, lang))
    no_badge = report.no_badge
    if report.parse.kept_badges:
        con.print(say("roster.kept_badges", lang, n=len(report.parse.kept_badges)))
    if report.parse.kept_roles:
        con.print(say("roster.kept_roles", lang, n=len(report.parse.kept_roles)))
    if "badge_ids" not in sheet.columns and no_badge:
        con.print("[yellow]" + say("roster.no_badge_column", lang, n=len(no_badge)))
    elif no_badge:
        con.print(
            "[yellow]"
            + say("roster.no_badge_workers", lang, n=len(no_badge), ids=", ".join(no_badge))
        )
    if report.unmatched_badges:
        con.print(
            "[yellow]"
            + say(
                "roster.badge_file_unknown",
                lang,
                n=len(report.unmatched_badges),
                ids=", ".join(report.unmatched_badges),
            )
        )
    if report.parse.updated:
        _print_updates(con, report, lang)
    certs = sum(len(w.certificates) for w in report.imported)
    outcome = report.outcome
    if outcome in ("imported", "partial"):
        con.print(
            "[green]"
            + say(
                "roster.imported",
                lang,
                workers=len(report.imported),
                certs=certs,
                rows=report.parse.rows,
            )
        )
        if report.parse.refused_workers:
            refused = ", ".join(report.parse.refused_workers)
            con.print("[yellow]" + say("roster.skipped", lang, ids=refused))
    elif outcome == "dry_run":
        con.print(say("roster.dry_run", lang, n=len(report.parse.workers)))
    elif outcome == "refused":
        con.print("[red]" + say("roster.nothing_imported", lang))
    else:
        con.print(say("roster.nothing", lang))


def _print_updates(con: Console, report: ImportReport, lang: Lang) -> None:
    """One line per worker already in the registry whose name, certificates or cards the
    sheet replaces: a re-import must not change them without a word (issue 13 #15)."""
    sep = "、" if lang is Lang.ZH else ", "
    key = "roster.updated" if report.written else "roster.updated_unwritten"
    con.print("[yellow]" + say(key, lang, n=len(report.parse.updated)), markup=True)
    for c in report.parse.updated:
        parts = []
        if c.name_before != c.name_after:
            parts.append(say("roster.upd.name", lang, old=c.name_before, new=c.name_after))
        if c.certs_removed:
            parts.append(say("roster.upd.certs_removed", lang, certs=sep.join(c.certs_removed)))
        if c.certs_added:
            parts.append(say("roster.upd.certs_added", lang, certs=sep.join(c.certs_added)))
        if set(c.badges_before) != set(c.badges_after):
            parts.append(
                say(
                    "roster.upd.badges",
                    lang,
                    old=sep.join(c.badges_before) or "-",
                    new=sep.join(c.badges_after) or "-",
                )
            )
        joiner = "；" if lang is Lang.ZH else "; "
        con.print(f"  {c.worker_id} {c.name_after}: {joiner.join(parts)}", markup=False)


def columns_text(lang: Lang) -> str:
    """The alias table, one canonical column per line (``--columns``)."""
    head = "列 column: 可用表头 accepted headers" if lang is Lang.ZH else "column: accepted headers"
    lines = [head]
    lines += [f"  {canon}: {', '.join(names)}" for canon, names in COLUMNS.items()]
    return "\n".join(lines)


def cmd_import_roster(args: argparse.Namespace) -> int:
    """``zonegate import-roster FILE``: read, check and (unless ``--dry-run``) write the
    roster with the daemon stopped; returns a ``gateway.exitcodes.ExitCode``."""
    from rich.progress import Progress

    from gateway.config import ConfigError

    lang = pick_lang(args.lang, args.config)
    if args.columns:
        print(columns_text(lang))
        print()
        print(say("roster.valid_values", lang))
        print(catalogue_text(zh=lang is Lang.ZH))
        return ExitCode.OK
    if args.file is None:
        print(say("roster.file_required", lang), file=sys.stderr)
        return ExitCode.USAGE
    try:
        with Progress(transient=True, disable=args.json or not sys.stderr.isatty()) as bar:
            task = bar.add_task("roster", total=None)
            report = import_roster(
                args.config,
                args.file,
                partial=args.partial,
                dry_run=args.dry_run,
                badges_file=args.badges,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except DaemonRunning as err:
        print(say("roster.daemon_running", lang, state=err.state_dir), file=sys.stderr)
        return ExitCode.BUSY
    except ConfigError as err:
        # Normally caught before the command runs (gateway.cli.config_precheck).
        for line in err.lines(lang.value):
            print(line, file=sys.stderr)
        return ExitCode.CONFIG
    except RosterFileError as err:
        if args.json:
            print(
                json.dumps(
                    {
                        "file": str(args.file),
                        "ok": False,
                        "exit_code": int(err.exit_code),
                        "code": err.code,
                        "rows": list(err.rows),
                        "error": err.en,
                        "error_zh": err.zh,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            msg = err.text(lang.value)
            print(say("roster.file_error", lang, file=args.file, msg=msg), file=sys.stderr)
        return err.exit_code
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        _print_report(report, lang)
    return report.exit_code


def register(sub: Any) -> None:
    """Add ``import-roster`` to the ``zonegate`` command."""
    p = sub.add_parser(
        "import-roster",
        help="import workers and certificates from a .csv, .xlsx or .xls roster",
        description=(
            "Import workers and their special-operation certificates. Every bad row is "
            "reported; nothing is written unless --partial. Stop the daemon first. "
            f"Exit codes: {ExitCode.OK} all imported, {ExitCode.FAILED} bad rows (nothing "
            f"written), {ExitCode.PARTIAL} --partial imported the good workers and refused some "
            f"rows, {ExitCode.DATA} the file cannot be used, {ExitCode.NO_INPUT} it cannot be "
            f"read, {ExitCode.BUSY} the daemon is running, {ExitCode.CONFIG} the config is wrong."
        ),
    )
    p.add_argument(
        "file",
        type=Path,
        nargs="?",
        help="roster .csv (UTF-8, GBK or Big5), .xlsx or .xls (first sheet)",
    )
    add_config_arg(p)
    p.add_argument(
        "--partial",
        action="store_true",
        help=(
            f"import the workers whose rows are all good (exit {ExitCode.PARTIAL} if rows were bad)"
        ),
    )
    p.add_argument(
        "--badges",
        type=Path,
        help="a second sheet binding cards to workers (columns 工号 and 卡号)",
    )
    p.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--columns",
        action="store_true",
        help="print the accepted headers and the catalogue of categories, then exit",
    )
    add_lang_arg(p)
    p.set_defaults(func=cmd_import_roster)
