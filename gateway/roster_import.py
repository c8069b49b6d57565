"""``zonegate import-roster FILE``: workers and their certificates from a CSV or XLSX sheet.

One row per certificate (a worker without a certificate is one row with the certificate cells
empty); rows sharing a ``worker_id`` form one worker. Headers may be English or Chinese
(``工号``, ``姓名``, ``证号``, ``作业类别`` ...); categories may be the enum value
(``welding``) or the Chinese name (``焊接与热切割作业``).

Every bad row is reported with its row number and a problem code, and nothing is written
unless ``--partial``; even then a worker is imported only if *all* of their rows are good, so
a half-read worker (a dropped certificate, a second person under the same id) never lands in
the registry. Workers already in the registry but absent from the file are kept.

The registry file has no inter-process lock: the daemon must be stopped while a technician
imports (``sudo systemctl stop zonegate``). The command refuses while a ``zonegate run`` with
the same config is alive.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import os
import re
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from edge.models import CERT_CATEGORY_ZH, CertCategory, Certificate, Worker

EXPIRY_WINDOW_DAYS = 30

EXIT_OK = 0
EXIT_BAD_ROWS = 1
EXIT_BAD_FILE = 2
EXIT_DAEMON_RUNNING = 3


class RowProblemCode(StrEnum):
    """Why a row was refused (stable codes for ``--json`` consumers)."""

    MISSING_FIELD = "MISSING_FIELD"
    BAD_DATE = "BAD_DATE"
    UNKNOWN_CATEGORY = "UNKNOWN_CATEGORY"
    MALFORMED_CERT_NUMBER = "MALFORMED_CERT_NUMBER"
    CERT_EXPIRED = "CERT_EXPIRED"
    DUPLICATE_WORKER = "DUPLICATE_WORKER"
    DUPLICATE_CERT = "DUPLICATE_CERT"
    DUPLICATE_BADGE = "DUPLICATE_BADGE"
    INVALID = "INVALID"


class RosterFileError(Exception):
    """The file as a whole cannot be read: wrong type, unreadable, required columns missing."""


# Canonical column -> accepted header spellings (compared case-insensitively, spaces removed).
COLUMNS: dict[str, tuple[str, ...]] = {
    "worker_id": ("worker_id", "workerid", "id", "工号", "员工编号", "人员编号"),
    "name": ("name", "姓名"),
    "badge_ids": ("badge_ids", "badge_id", "badge", "badges", "工卡号", "卡号", "门禁卡号"),
    "employer": ("employer", "company", "单位", "所属单位", "工作单位"),
    "cert_number": ("cert_number", "certificate", "certificate_number", "证号", "证书编号"),
    "cert_category": ("cert_category", "category", "作业类别", "证书类别", "操作项目"),
    "issuing_authority": ("issuing_authority", "authority", "发证机关"),
    "valid_from": ("valid_from", "有效期起", "初领日期", "发证日期"),
    "valid_to": ("valid_to", "valid_until", "有效期至", "有效期止"),
    "next_review": ("next_review", "review", "复审日期", "下次复审"),
}
REQUIRED_COLUMNS = ("worker_id", "name")
CERT_COLUMNS = ("cert_number", "cert_category", "issuing_authority", "valid_from", "valid_to")

_CATEGORY_BY_NAME: dict[str, CertCategory] = {
    **{c.value: c for c in CertCategory},
    **{zh: c for c, zh in CERT_CATEGORY_ZH.items()},
    # Forms and spreadsheets drop the 作业 suffix or use ASCII brackets.
    **{zh.removesuffix("作业"): c for c, zh in CERT_CATEGORY_ZH.items()},
    **{zh.replace("（", "(").replace("）", ")"): c for c, zh in CERT_CATEGORY_ZH.items()},
}

# Letters, digits and dashes only: a space, a full-width character or a stray quote is a typo.
_CERT_NUMBER = re.compile(r"^[A-Z0-9-]{4,40}$")
# The current certificate number is "T" + the holder's resident ID number (GB 11643).
_ID_NUMBER = re.compile(r"^T?(\d{17}[\dX])$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")


@dataclass(frozen=True, slots=True)
class RowProblem:
    row: int
    code: RowProblemCode
    message: str
    worker_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "code": self.code.value,
            "message": self.message,
            "worker_id": self.worker_id,
        }


@dataclass(frozen=True, slots=True)
class Expiring:
    worker_id: str
    name: str
    number: str
    category: CertCategory
    due: str  # "expires" or "review"
    on: date
    days_left: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "name": self.name,
            "number": self.number,
            "category": self.category.value,
            "due": self.due,
            "date": self.on.isoformat(),
            "days_left": self.days_left,
        }


@dataclass
class RosterParse:
    """The outcome of reading a sheet: good workers, every problem, the workers refused."""

    rows: int = 0
    unknown_columns: list[str] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    refused_workers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------------------------
# Reading the file


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as text: numeric card / certificate numbers lose their ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _header_map(header: list[str]) -> dict[int, str]:
    lookup = {
        alias.replace(" ", "").lower(): canon for canon, names in COLUMNS.items() for alias in names
    }
    mapping: dict[int, str] = {}
    for i, raw in enumerate(header):
        canon = lookup.get(raw.replace(" ", "").replace("\ufeff", "").lower())
        if canon is not None and canon not in mapping.values():
            mapping[i] = canon
    missing = [c for c in REQUIRED_COLUMNS if c not in mapping.values()]
    if missing:
        raise RosterFileError(
            f"required column(s) missing: {', '.join(missing)}; the header row has: "
            f"{', '.join(h for h in header if h) or '(nothing)'}"
        )
    return mapping


def _csv_rows(path: Path) -> list[list[Any]]:
    raw = path.read_bytes()
    # Excel in a Chinese locale saves CSV as GBK/GB18030; elsewhere as UTF-8 with a BOM.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise RosterFileError(f"{path}: neither UTF-8 nor GB18030 text")
    return [list(r) for r in csv.reader(text.splitlines())]


def _xlsx_rows(path: Path) -> list[list[Any]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as err:
        raise RosterFileError(f"{path}: not a readable .xlsx workbook: {err}") from err
    try:
        sheet = wb.worksheets[0]
        return [list(r) for r in sheet.iter_rows(values_only=True)]
    finally:
        wb.close()


@dataclass
class Sheet:
    """The data rows of a roster file, and the header cells that name no known column."""

    rows: list[tuple[int, dict[str, str]]]
    unknown_columns: list[str]
    lossy: dict[int, list[str]] = field(default_factory=dict)
    """Row -> columns whose cell Excel kept as a number too long for a double (> 15 digits)."""


def read_sheet(path: Path) -> Sheet:
    """``(row number, {canonical column: text})`` for each non-empty data row.

    Row numbers are the ones a technician sees in Excel: the header is row 1.
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            raw = _csv_rows(path)
        elif suffix == ".xlsx":
            raw = _xlsx_rows(path)
        else:
            raise RosterFileError(f"{path}: use a .csv or .xlsx file (got {suffix or 'no suffix'})")
    except OSError as err:
        raise RosterFileError(f"{path}: cannot read: {err.strerror}") from err
    if not raw:
        raise RosterFileError(f"{path}: the file is empty")
    header = [_cell_text(c) for c in raw[0]]
    mapping = _header_map(header)
    unknown = [h for i, h in enumerate(header) if h and i not in mapping]
    rows: list[tuple[int, dict[str, str]]] = []
    lossy: dict[int, list[str]] = {}
    for number, row in enumerate(raw[1:], start=2):
        cells = {canon: _cell_text(row[i]) if i < len(row) else "" for i, canon in mapping.items()}
        if any(cells.values()):
            rows.append((number, cells))
            # An 18-digit ID-based number typed into a number cell is already rounded.
            long = [
                canon
                for i, canon in mapping.items()
                if i < len(row) and isinstance(row[i], int | float) and abs(row[i]) >= 1e15
            ]
            if long:
                lossy[number] = long
    return Sheet(rows, unknown, lossy)


# --------------------------------------------------------------------------------------------
# Validating rows


def parse_date(text: str) -> date:
    """ISO and the spellings Chinese spreadsheets use; raises ValueError otherwise."""
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"not a date: {text!r} (use YYYY-MM-DD)")


def parse_category(text: str) -> CertCategory:
    category = _CATEGORY_BY_NAME.get(text.strip()) or _CATEGORY_BY_NAME.get(text.strip().lower())
    if category is None:
        raise ValueError(
            f"unknown certificate category {text!r}; use one of "
            + ", ".join(f"{c.value} ({CERT_CATEGORY_ZH[c]})" for c in CertCategory)
        )
    return category


def check_cert_number(text: str) -> str:
    """Normalise a certificate number; raises ValueError when it cannot be one."""
    number = text.strip().upper()
    if not _CERT_NUMBER.match(number):
        raise ValueError(f"malformed certificate number {text!r}: 4-40 letters, digits or '-'")
    m = _ID_NUMBER.match(number)
    if m:  # an ID-number based certificate: the GB 11643 check digit catches typos
        digits = m.group(1)
        total = sum(int(d) * w for d, w in zip(digits[:17], _ID_WEIGHTS, strict=True))
        if _ID_CHECK[total % 11] != digits[17]:
            raise ValueError(f"certificate number {text!r}: ID check digit does not match")
    return number


@dataclass
class _WorkerRows:
    first_row: int
    name: str
    badges: tuple[str, ...]
    employer: str | None
    rows: list[int] = field(default_factory=list)
    certificates: list[Certificate] = field(default_factory=list)


def _split_badges(text: str) -> tuple[str, ...]:
    return tuple(b for b in (p.strip() for p in re.split(r"[;,|，；\s]+", text)) if b)


def parse_roster(
    rows: Sequence[tuple[int, dict[str, str]]],
    *,
    today: date,
    existing: list[Worker] | None = None,
    lossy: dict[int, list[str]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RosterParse:
    """Check every row; return the workers whose rows are all good and every problem found.

    ``existing`` is the registry's roster: a badge already held by another worker there is a
    duplicate too. ``lossy`` names cells a spreadsheet rounded (see ``Sheet.lossy``).
    ``progress(done, total)`` is called once per row (a rich progress bar).
    """
    out = RosterParse()
    by_id: dict[str, _WorkerRows] = {}
    badge_owner: dict[str, str] = {}
    for w in existing or []:
        for b in w.badge_ids:
            badge_owner[b] = w.worker_id
    cert_owner: dict[str, tuple[str, int]] = {}
    tainted: set[str] = set()  # ids with any bad row, even one before their first good row

    def bad(row: int, code: RowProblemCode, message: str, wid: str | None) -> None:
        out.problems.append(RowProblem(row, code, message, wid or None))
        if wid:
            tainted.add(wid)

    for row, cells in rows:
        out.rows += 1
        if progress is not None:
            progress(out.rows, len(rows))
        wid, name = cells.get("worker_id", ""), cells.get("name", "")
        missing = [c for c in REQUIRED_COLUMNS if not cells.get(c)]
        if missing:
            bad(row, RowProblemCode.MISSING_FIELD, f"missing {', '.join(missing)}", wid)
            continue
        if lossy and row in lossy:
            bad(
                row,
                RowProblemCode.MALFORMED_CERT_NUMBER
                if "cert_number" in lossy[row]
                else RowProblemCode.INVALID,
                f"{', '.join(lossy[row])}: Excel stored a number of more than 15 digits and "
                "rounded it; format the column as text and type it again",
                wid,
            )
            continue
        badges = _split_badges(cells.get("badge_ids", ""))
        employer = cells.get("employer") or None
        entry = by_id.get(wid)
        if entry is None:
            entry = by_id[wid] = _WorkerRows(row, name, badges, employer)
        elif (name, employer) != (entry.name, entry.employer) or (
            badges and entry.badges and set(badges) != set(entry.badges)
        ):
            bad(
                row,
                RowProblemCode.DUPLICATE_WORKER,
                f"worker {wid} already on row {entry.first_row} as {entry.name!r} with other "
                "details: one id, two people?",
                wid,
            )
            continue
        else:
            entry.badges = entry.badges or badges
        entry.rows.append(row)
        clash = next((b for b in badges if badge_owner.get(b, wid) != wid), None)
        if clash is not None:
            bad(
                row,
                RowProblemCode.DUPLICATE_BADGE,
                f"badge {clash} already belongs to worker {badge_owner[clash]}",
                wid,
            )
            continue
        for b in badges:
            badge_owner[b] = wid
        cert = _row_certificate(row, cells, wid, today, cert_owner, bad)
        if cert is not None:
            entry.certificates.append(cert)

    for wid in sorted(tainted - by_id.keys()):
        out.refused_workers.append(wid)
    for wid, entry in by_id.items():
        if wid in tainted:
            out.refused_workers.append(wid)
            continue
        try:
            out.workers.append(
                Worker(
                    worker_id=wid,
                    name=entry.name,
                    badge_ids=entry.badges,
                    certificates=tuple(entry.certificates),
                    employer=entry.employer,
                )
            )
        except ValidationError as err:
            out.problems.append(
                RowProblem(entry.first_row, RowProblemCode.INVALID, _first_error(err), wid)
            )
            out.refused_workers.append(wid)
    out.problems.sort(key=lambda p: p.row)
    return out


def _first_error(err: ValidationError) -> str:
    e = err.errors()[0]
    where = ".".join(str(p) for p in e["loc"])
    return f"{where}: {e['msg']}" if where else str(e["msg"])


def _row_certificate(
    row: int,
    cells: dict[str, str],
    wid: str,
    today: date,
    cert_owner: dict[str, tuple[str, int]],
    bad: Any,
) -> Certificate | None:
    given = [c for c in CERT_COLUMNS if cells.get(c)]
    if not given and not cells.get("next_review"):
        return None  # a worker row without a certificate
    missing = [c for c in CERT_COLUMNS if not cells.get(c)]
    if missing:
        bad(row, RowProblemCode.MISSING_FIELD, f"certificate: missing {', '.join(missing)}", wid)
        return None
    try:
        number = check_cert_number(cells["cert_number"])
    except ValueError as err:
        bad(row, RowProblemCode.MALFORMED_CERT_NUMBER, str(err), wid)
        return None
    try:
        category = parse_category(cells["cert_category"])
    except ValueError as err:
        bad(row, RowProblemCode.UNKNOWN_CATEGORY, str(err), wid)
        return None
    try:
        valid_from = parse_date(cells["valid_from"])
        valid_to = parse_date(cells["valid_to"])
        review = parse_date(cells["next_review"]) if cells.get("next_review") else None
    except ValueError as err:
        bad(row, RowProblemCode.BAD_DATE, str(err), wid)
        return None
    if valid_to < today:
        bad(row, RowProblemCode.CERT_EXPIRED, f"certificate {number} expired on {valid_to}", wid)
        return None
    if number in cert_owner:
        owner, first = cert_owner[number]
        bad(
            row,
            RowProblemCode.DUPLICATE_CERT,
            f"certificate {number} already on row {first} (worker {owner})",
            wid,
        )
        return None
    try:
        cert = Certificate(
            number=number,
            category=category,
            issuing_authority=cells["issuing_authority"],
            valid_from=valid_from,
            valid_to=valid_to,
            next_review=review,
        )
    except ValidationError as err:
        bad(row, RowProblemCode.INVALID, _first_error(err), wid)
        return None
    cert_owner[number] = (wid, row)
    return cert


def expiring(workers: list[Worker], today: date, days: int = EXPIRY_WINDOW_DAYS) -> list[Expiring]:
    """Certificates that expire, or whose review (复审) falls due, within ``days``."""
    horizon = today + timedelta(days=days)
    out: list[Expiring] = []
    for w in workers:
        for c in w.certificates:
            for due, on in (("expires", c.valid_to), ("review", c.next_review)):
                if on is not None and on <= horizon:
                    out.append(
                        Expiring(
                            w.worker_id, w.name, c.number, c.category, due, on, (on - today).days
                        )
                    )
    return sorted(out, key=lambda e: (e.on, e.worker_id))


# --------------------------------------------------------------------------------------------
# A running daemon


def running_daemons(config_path: Path) -> list[int]:
    """PIDs of ``zonegate run`` processes using this config (the registry has no lock).

    Reads /proc directly (Linux only, like the daemon): processes of other users whose
    details are hidden are skipped, so run this as root or as the zonegate user.
    """
    target = config_path.resolve()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue  # gone, or not ours to look at
        cmd = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        if "run" not in cmd:
            continue
        if not any(Path(a).name == "zonegate" or a == "gateway.cli" for a in cmd):
            continue
        config = _option(cmd, ("--config", "-c")) or "/etc/zonegate/gateway.yaml"
        if (Path(cwd) / config).resolve() == target:
            found.append(int(entry.name))
    return found


def _option(cmd: list[str], names: tuple[str, ...]) -> str | None:
    for i, arg in enumerate(cmd):
        if arg in names and i + 1 < len(cmd):
            return cmd[i + 1]
        for n in names:
            if arg.startswith(n + "="):
                return arg.split("=", 1)[1]
    return None


# --------------------------------------------------------------------------------------------
# Import


@dataclass
class ImportReport:
    file: str
    parse: RosterParse
    imported: list[Worker]
    expiring: list[Expiring]
    written: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.parse.ok,
            "rows": self.parse.rows,
            "ignored_columns": self.parse.unknown_columns,
            "written": self.written,
            "imported_workers": [w.worker_id for w in self.imported],
            "imported_certificates": sum(len(w.certificates) for w in self.imported),
            "refused_workers": self.parse.refused_workers,
            "bad_rows": [p.as_dict() for p in self.parse.problems],
            "expiring_within_30_days": [e.as_dict() for e in self.expiring],
        }


def import_roster(
    config_path: Path,
    file: Path,
    *,
    partial: bool = False,
    dry_run: bool = False,
    today: date | None = None,
    actor: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate ``file`` and write its workers through the zone controller (journaled).

    Raises ``RosterFileError`` for a file that cannot be read at all and
    ``gateway.config.ConfigError`` for a bad config.
    """
    from edge.clock import SystemClock
    from edge.journal import Journal
    from edge.registry import Registry
    from edge.zone import ZoneController
    from gateway.config import load_config
    from gateway.provisioning import restore_state_ownership

    cfg = load_config(config_path)
    day = today or datetime.now(ZoneInfo(cfg.device.timezone)).date()
    registry = Registry(cfg.registry_path)
    try:
        sheet = read_sheet(file)
        parsed = parse_roster(
            sheet.rows,
            today=day,
            existing=registry.workers(),
            lossy=sheet.lossy,
            progress=progress,
        )
        parsed.unknown_columns = sheet.unknown_columns
        write = not dry_run and bool(parsed.workers) and (parsed.ok or partial)
        if write:
            clock = SystemClock(
                assume_trusted=cfg.clock.assume_trusted, gps_validity_s=cfg.clock.gps_validity_s
            )
            journal = Journal(cfg.journal_path, clock)
            try:
                controller = ZoneController(
                    zone=cfg.zone,
                    registry=registry,
                    journal=journal,
                    clock=clock,
                    access=cfg.access,
                    timezone=cfg.device.timezone,
                    language=cfg.device.language,
                )
                who = actor or f"import-roster:{os.environ.get('SUDO_USER') or getpass.getuser()}"
                controller.put_workers(parsed.workers, who)
            finally:
                journal.close()
    finally:
        registry.close()
        restore_state_ownership(cfg.storage.state_dir)
    return ImportReport(
        file=str(file),
        parse=parsed,
        imported=parsed.workers if write else [],
        expiring=expiring(parsed.workers, day),
        written=write,
    )


# --------------------------------------------------------------------------------------------
# CLI


def _print_report(report: ImportReport, partial: bool, dry_run: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    if report.parse.unknown_columns:
        con.print(
            f"[yellow]ignored columns[/] {', '.join(report.parse.unknown_columns)} "
            f"(known: {', '.join(COLUMNS)})"
        )
    if report.parse.problems:
        table = Table(title=f"错误行 Bad rows ({len(report.parse.problems)})")
        for col in ("row", "worker", "problem", "reason"):
            table.add_column(col)
        for p in report.parse.problems:
            table.add_row(str(p.row), p.worker_id or "", p.code.value, p.message)
        con.print(table)
    if report.expiring:
        table = Table(title=f"30天内到期 Certificates due within {EXPIRY_WINDOW_DAYS} days")
        for col in ("worker", "name", "certificate", "category", "due", "date", "days"):
            table.add_column(col)
        for e in report.expiring:
            table.add_row(
                e.worker_id,
                e.name,
                e.number,
                f"{e.category.value} {CERT_CATEGORY_ZH[e.category]}",
                e.due,
                e.on.isoformat(),
                str(e.days_left),
            )
        con.print(table)
    certs = sum(len(w.certificates) for w in report.imported)
    if report.written:
        con.print(
            f"[green]imported[/] {len(report.imported)} worker(s), {certs} certificate(s) "
            f"from {report.parse.rows} row(s)"
        )
        if report.parse.refused_workers:
            con.print(f"[yellow]skipped[/] {', '.join(report.parse.refused_workers)}")
    elif dry_run:
        con.print(f"dry run: {len(report.parse.workers)} worker(s) would be imported")
    elif report.parse.problems and not partial:
        con.print(
            "[red]nothing imported[/]: fix the rows above, or use --partial to import the "
            "workers whose rows are all good"
        )
    else:
        con.print("nothing to import")


def cmd_import_roster(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from gateway.config import ConfigError

    if not args.dry_run:
        pids = running_daemons(args.config)
        if pids:
            print(
                f"zonegate is running with {args.config} (pid {', '.join(map(str, pids))}); "
                "the registry has no lock, so stop it first: sudo systemctl stop zonegate",
                file=sys.stderr,
            )
            return EXIT_DAEMON_RUNNING
    try:
        with Progress(transient=True, disable=args.json) as bar:
            task = bar.add_task("reading roster", total=None)
            report = import_roster(
                args.config,
                args.file,
                partial=args.partial,
                dry_run=args.dry_run,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except ConfigError as err:
        for issue in err.issues:
            print(issue, file=sys.stderr)
        return EXIT_BAD_FILE
    except RosterFileError as err:
        if args.json:
            print(json.dumps({"file": str(args.file), "ok": False, "error": str(err)}))
        else:
            print(f"{err}", file=sys.stderr)
        return EXIT_BAD_FILE
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        _print_report(report, args.partial, args.dry_run)
    return EXIT_OK if report.parse.ok else EXIT_BAD_ROWS


def register(sub: Any) -> None:
    """Add ``import-roster`` to the ``zonegate`` command."""
    p = sub.add_parser(
        "import-roster",
        help="import workers and certificates from a .csv or .xlsx roster",
        description=(
            "Import workers and their special-operation certificates. Every bad row is "
            "reported; nothing is written unless --partial. Stop the daemon first. "
            f"Exit codes: {EXIT_OK} ok, {EXIT_BAD_ROWS} bad rows, {EXIT_BAD_FILE} bad file or "
            f"config, {EXIT_DAEMON_RUNNING} the daemon is running."
        ),
    )
    p.add_argument("file", type=Path, help="roster .csv (UTF-8 or GBK) or .xlsx (first sheet)")
    p.add_argument(
        "--config",
        "-c",
        type=Path,
        default=Path("/etc/zonegate/gateway.yaml"),
        help="gateway YAML (default /etc/zonegate/gateway.yaml)",
    )
    p.add_argument(
        "--partial",
        action="store_true",
        help="import the workers whose rows are all good even if other rows are bad",
    )
    p.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_import_roster)
