"""Checking roster rows: ``{column: text}`` rows -> workers with certificates, and every problem.

The second seam of ``zonegate import-roster`` (after ``gateway.roster_read``). One row per
certificate (a worker without a certificate is one row with the certificate cells empty); rows
sharing a ``worker_id`` form one worker, imported only if *all* of their rows are good, so a
half-read worker (a dropped certificate, a second person under the same id) never lands in the
registry.

An expired certificate is imported like any other: the gate then denies the worker with
``CERT_EXPIRED`` (the real reason) instead of ``UNKNOWN_BADGE``, and the summary lists it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from edge.cert_catalogue import (
    CertCategory,
    OperationItem,
    category_of,
    kind_label,
    parse_cert_kind,
)
from edge.judgement import review_due
from edge.models import Certificate, SiteRole, Worker
from gateway.config_messages import pydantic_message
from gateway.errors import GatewayError
from gateway.roster_read import REQUIRED_COLUMNS, excel_serial_date

EXPIRY_WINDOW_DAYS = 30
CERT_COLUMNS = ("cert_number", "issuing_authority", "valid_from", "valid_to")

# What a technician calls each column when the sheet has no header for it: zh the commonest HR
# header, en plain words. A row problem names a column by the sheet's own header first
# (``column_label``), never by the internal key.
COLUMN_ZH: dict[str, str] = {
    "worker_id": "工号",
    "name": "姓名",
    "badge_ids": "卡号",
    "employer": "单位",
    "cert_number": "证号",
    "cert_category": "作业类别",
    "operation_item": "操作项目",
    "issuing_authority": "发证机关",
    "valid_from": "有效期起",
    "valid_to": "有效期至",
    "next_review": "复审日期",
    "site_roles": "站点角色",
}
COLUMN_EN: dict[str, str] = {
    "worker_id": "worker id",
    "name": "name",
    "badge_ids": "badge",
    "employer": "employer",
    "cert_number": "certificate number",
    "cert_category": "category",
    "operation_item": "operation item",
    "issuing_authority": "issuing authority",
    "valid_from": "valid from",
    "valid_to": "valid to",
    "next_review": "next review",
    "site_roles": "site roles",
}
# What a site_roles cell may say (case-folded), and the role each word names.
SITE_ROLE_WORDS: dict[str, SiteRole] = {
    "safety_officer": SiteRole.SAFETY_OFFICER,
    "安全员": SiteRole.SAFETY_OFFICER,
    "专职安全员": SiteRole.SAFETY_OFFICER,
    "安全监督员": SiteRole.SAFETY_OFFICER,
    "analyst": SiteRole.ANALYST,
    "分析人": SiteRole.ANALYST,
    "分析员": SiteRole.ANALYST,
    "气体分析人": SiteRole.ANALYST,
    "气体分析员": SiteRole.ANALYST,
}
# Cells that must be one line: a line break in them is a stray CSV quote that swallowed the
# next rows, or an Alt+Enter, never part of a name or an identifier. (The badge cell is left
# out: a line break there separates two cards, as ``split_badges`` reads it.)
ONE_LINE_COLUMNS = ("worker_id", "name", "cert_number")
_LINE_BREAK = re.compile(r"[\r\n\v\f\x85\u2028\u2029]")
# Worker / Certificate model fields whose column has another name in the sheet.
_FIELD_COLUMN = {"number": "cert_number", "category": "cert_category"}


def column_label(column: str, lang: str, headers: dict[str, str] | None = None) -> str:
    """The column as the technician knows it: the sheet's header (``headers``: canonical ->
    header cell as written), in English also the field's English name after a Chinese header;
    without a header the zh / en default name."""
    header = (headers or {}).get(column)
    if lang == "zh-CN":
        return header or COLUMN_ZH[column]
    if header is None:
        return COLUMN_EN[column]
    return header if header.isascii() else f"{header} ({COLUMN_EN[column]})"


def _lit(value: object) -> str:
    """A value from the sheet inside a message template: its braces are not placeholders."""
    return str(value).replace("{", "{{").replace("}", "}}")


def _cols(columns: Sequence[str], sep: str) -> str:
    return sep.join("{" + c + "}" for c in columns)


class RowValueError(GatewayError, ValueError):
    """A cell that cannot be used; ``en`` / ``zh`` are templates naming columns as
    ``{cert_number}`` (filled by ``column_label``)."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en.format(**COLUMN_EN))
        self.en = en
        self.zh = zh


class RowProblemCode(StrEnum):
    """Why a row was refused (stable codes for ``--json`` consumers)."""

    MISSING_FIELD = "MISSING_FIELD"
    BAD_DATE = "BAD_DATE"
    UNKNOWN_CATEGORY = "UNKNOWN_CATEGORY"
    CATEGORY_MISMATCH = "CATEGORY_MISMATCH"
    MALFORMED_CERT_NUMBER = "MALFORMED_CERT_NUMBER"
    DUPLICATE_WORKER = "DUPLICATE_WORKER"
    DUPLICATE_CERT = "DUPLICATE_CERT"
    DUPLICATE_BADGE = "DUPLICATE_BADGE"
    INVALID = "INVALID"


# Letters, digits and dashes only: a space, a full-width character or a stray quote is a typo.
_CERT_NUMBER = re.compile(r"^[A-Z0-9-]{4,40}$")
# The current certificate number is "T" + the holder's resident ID number (GB 11643).
_ID_NUMBER = re.compile(r"^T?(\d{17}[\dX])$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Year first, as Excel shows dates in a Chinese locale (yyyy/m/d, yyyy-mm-dd, yyyy年m月d日 ...).
_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+[\d:]+)?$")
# Month first (en-US Excel: m/d/yyyy) or day first (en-GB): accepted only when unambiguous.
_XY_YEAR = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:\s+[\d:]+)?$")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# d-mmm-yy / d-mmm-yyyy (Excel format 15) and dd-mmm-yyyy.
_D_MON_Y = re.compile(r"^(\d{1,2})[- ]([A-Za-z]{3})[A-Za-z]*[- ](\d{2}|\d{4})$")
_ZH_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0, "Ｏ": 0}


def _zh_number(text: str) -> int:
    # 二〇二四 (digit by digit) and 十二 / 二十一 / 三十 (tens) as [DBNum1] formats show them.
    if "十" not in text:
        return int("".join(str(_ZH_DIGITS[c]) for c in text))
    tens, _, ones = text.partition("十")
    return (_ZH_DIGITS[tens] if tens else 1) * 10 + (_ZH_DIGITS[ones] if ones else 0)


_ZH_DATE = re.compile(
    r"^([〇零○Ｏ一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日$"
)


def parse_date(text: str) -> date:
    """A date as any built-in Excel date format shows it, or an Excel day number.

    ISO / ``yyyy/m/d`` / ``yyyy.m.d`` / ``yyyymmdd`` / ``2024年3月1日`` / ``二〇二四年三月一日``
    / ``1-Mar-24`` / ``m/d/yyyy`` and ``d/m/yyyy`` when only one reading is a date / a serial
    such as ``45352`` (a CSV saved from a date column Excel did not format). Raises ValueError.
    """
    t = text.strip()
    try:
        if m := _YMD.match(t):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if re.fullmatch(r"\d{8}", t):
            return datetime.strptime(t, "%Y%m%d").date()
        if m := _ZH_DATE.match(t):
            return date(_zh_number(m[1]), _zh_number(m[2]), _zh_number(m[3]))
        if m := _D_MON_Y.match(t):
            year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
            return date(year, _MONTHS[m[2].lower()], int(m[1]))
        if m := _XY_YEAR.match(t):
            return _month_day(text, int(m[1]), int(m[2]), int(m[3]))
        if re.fullmatch(r"\d{5}(\.0+)?", t):
            return excel_serial_date(float(t))
    except (KeyError, ValueError) as err:
        if "ambiguous" in str(err):
            raise
        raise ValueError(f"not a date: {text!r} ({err})") from err
    raise ValueError(f"not a date: {text!r} (use YYYY-MM-DD)")


def _month_day(text: str, a: int, b: int, year: int) -> date:
    if a != b and a <= 12 and b <= 12:
        raise ValueError(f"ambiguous date {text!r}: month/day or day/month?")
    return date(year, a, b) if a <= 12 else date(year, b, a)


def check_cert_number(text: str) -> str:
    """Normalise a certificate number; raises ValueError when it cannot be one."""
    number = text.strip().upper()
    if not _CERT_NUMBER.match(number):
        raise RowValueError(
            f"malformed {{cert_number}} {_lit(repr(text))}: 4-40 letters, digits or '-'",
            f"{{cert_number}} {_lit(repr(text))} 格式不对：应为 4-40 个字母、数字或“-”",
        )
    m = _ID_NUMBER.match(number)
    if m:  # an ID-number based certificate: the GB 11643 check digit catches typos
        digits = m.group(1)
        total = sum(int(d) * w for d, w in zip(digits[:17], _ID_WEIGHTS, strict=True))
        if _ID_CHECK[total % 11] != digits[17]:
            raise RowValueError(
                f"{{cert_number}} {_lit(repr(text))}: ID check digit does not match",
                f"{{cert_number}} {_lit(repr(text))}：身份证号校验位不符（多半是输错了一位）",
            )
    return number


def parse_kind(category_text: str, item_text: str) -> tuple[CertCategory, OperationItem | None]:
    """The certificate's category and operation item from the two cells (either may be empty
    or hold the other level). Raises ``KindError`` with the code to report."""
    found: list[CertCategory | OperationItem] = []
    for column, text in (("cert_category", category_text), ("operation_item", item_text)):
        if text:
            try:
                found.append(parse_cert_kind(text))
            except ValueError as err:
                raise KindError(
                    RowProblemCode.UNKNOWN_CATEGORY,
                    f"{{{column}}} {_lit(repr(text))}: not in the catalogue of special "
                    "operations (valid values below)",
                    f"{{{column}}}“{_lit(text)}”不在特种作业目录中（可用的值见下）",
                ) from err
    if not found:
        raise KindError(
            RowProblemCode.MISSING_FIELD,
            "certificate: missing {cert_category} or {operation_item}",
            "证书信息缺少{cert_category}或{operation_item}",
        )
    items = [k for k in found if isinstance(k, OperationItem)]
    cats = {category_of(k) if isinstance(k, OperationItem) else k for k in found}
    if len(cats) > 1 or len(set(items)) > 1:
        raise KindError(
            RowProblemCode.CATEGORY_MISMATCH,
            _lit(" / ".join(kind_label(k, zh=False) for k in found)) + " do not belong together",
            _lit(" 与 ".join(kind_label(k) for k in found)) + " 不属于同一作业类别",
        )
    return cats.pop(), (items[0] if items else None)


class KindError(RowValueError):
    """The certificate's category / operation item cells cannot be used; ``code`` says why."""

    def __init__(self, code: RowProblemCode, en: str, zh: str) -> None:
        super().__init__(en, zh)
        self.code = code


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why row ``row`` was refused: ``en`` / ``zh`` are templates whose ``{column}`` fields
    name columns as the sheet's header does (``text``)."""

    row: int
    code: RowProblemCode
    en: str
    zh: str
    worker_id: str | None = None

    def text(self, lang: str, headers: dict[str, str] | None = None) -> str:
        """The message in ``lang`` ("zh-CN" or "en"), columns named as in ``headers``."""
        labels = {c: column_label(c, lang, headers) for c in COLUMN_EN}
        return (self.zh if lang == "zh-CN" else self.en).format(**labels)

    @property
    def message(self) -> str:
        """English, with the default column names."""
        return self.text("en")

    def as_dict(self, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """The problem in JSON, in both languages, naming columns by the sheet's ``headers``."""
        return {
            "row": self.row,
            "code": self.code.value,
            "message": self.text("en", headers),
            "message_zh": self.text("zh-CN", headers),
            "worker_id": self.worker_id,
        }


@dataclass(frozen=True, slots=True)
class Expiring:
    """A certificate expired, or expiring / due for review (复审) within the window."""

    worker_id: str
    name: str
    number: str
    category: CertCategory
    due: str  # "expired", "expires", "review" or "review_overdue"
    on: date
    days_left: int
    # The review date was not in the sheet (no 复审日期): derived as the gate derives it,
    # valid_from + 3 years (令第30号 Art. 21, edge.judgement.review_due).
    derived: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The certificate's due date in JSON (``date`` ISO, ``days_left`` may be negative)."""
        return {
            "worker_id": self.worker_id,
            "name": self.name,
            "number": self.number,
            "category": self.category.value,
            "due": self.due,
            "date": self.on.isoformat(),
            "days_left": self.days_left,
            "derived_from_valid_from": self.derived,
        }


@dataclass(frozen=True, slots=True)
class WorkerChange:
    """What a re-import changes for a worker already in the registry (the sheet replaces the
    name and the certificates: issue 13 #15)."""

    worker_id: str
    name_before: str
    name_after: str
    certs_removed: tuple[str, ...]
    """Certificate numbers in the registry that the sheet does not carry: gone after import."""
    certs_added: tuple[str, ...]
    badges_before: tuple[str, ...]
    badges_after: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The change in ``import-roster --json`` (``name`` only when it changes)."""
        out: dict[str, Any] = {"worker_id": self.worker_id}
        if self.name_before != self.name_after:
            out["name"] = {"before": self.name_before, "after": self.name_after}
        out["certificates_removed"] = list(self.certs_removed)
        out["certificates_added"] = list(self.certs_added)
        if self.badges_before != self.badges_after:
            out["badges"] = {"before": list(self.badges_before), "after": list(self.badges_after)}
        return out


def worker_change(before: Worker, after: Worker) -> WorkerChange | None:
    """The change from ``before`` (registry) to ``after`` (sheet), or None when the name,
    certificate numbers and cards are the same."""
    old = [c.number for c in before.certificates]
    new = [c.number for c in after.certificates]
    change = WorkerChange(
        worker_id=after.worker_id,
        name_before=before.name,
        name_after=after.name,
        certs_removed=tuple(n for n in old if n not in new),
        certs_added=tuple(n for n in new if n not in old),
        badges_before=tuple(before.badge_ids),
        badges_after=tuple(after.badge_ids),
    )
    same = (
        change.name_before == change.name_after
        and not change.certs_removed
        and not change.certs_added
        and set(change.badges_before) == set(change.badges_after)
    )
    return None if same else change


@dataclass
class RosterParse:
    """The outcome of checking rows: good workers, every problem, the workers refused."""

    rows: int = 0
    workers: list[Worker] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    refused_workers: list[str] = field(default_factory=list)
    kept_badges: list[str] = field(default_factory=list)
    """Worker ids whose cards came from the registry: the sheet gave none for them."""
    kept_roles: list[str] = field(default_factory=list)
    """Worker ids whose site roles came from the registry: the sheet has no such column."""
    updated: list[WorkerChange] = field(default_factory=list)
    """Workers already in the registry whose name, certificates or cards the sheet changes."""

    @property
    def ok(self) -> bool:
        """True when no row has a problem."""
        return not self.problems


@dataclass
class _WorkerRows:
    first_row: int
    name: str
    badges: tuple[str, ...]
    employer: str | None
    roles: set[SiteRole] = field(default_factory=set)
    rows: list[int] = field(default_factory=list)
    certificates: list[Certificate] = field(default_factory=list)


def split_badges(text: str) -> tuple[str, ...]:
    """Card numbers from one cell, split on commas, semicolons, 、, bars or spaces."""
    return tuple(b for b in (p.strip() for p in re.split(r"[;,|，；、\s]+", text)) if b)


def split_roles(text: str) -> tuple[set[SiteRole], list[str]]:
    """The site roles one cell names (split like badges) and the words that name none."""
    roles: set[SiteRole] = set()
    unknown: list[str] = []
    for word in split_badges(text):
        role = SITE_ROLE_WORDS.get(word.casefold())
        if role is None:
            unknown.append(word)
        else:
            roles.add(role)
    return roles, unknown


def parse_roster(
    rows: Sequence[tuple[int, dict[str, str]]],
    *,
    columns: Collection[str],
    existing: list[Worker] | None = None,
    lossy: dict[int, list[str]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RosterParse:
    """Check every row; return the workers whose rows are all good and every problem found.

    ``existing`` is the registry's roster: a badge already held by another worker there is a
    duplicate too. A worker the sheet gives no card keeps the cards the registry has for them
    (bound with ``bind-badges`` or ``--badges`` on an earlier import: a monthly re-import of an
    HR sheet without a card column must not unbind every card), and without a ``site_roles``
    column (``columns``: the sheet's, ``roster_read.Sheet.columns``) their site roles; the
    registry's document version is kept.
    ``lossy`` names cells a spreadsheet rounded (``roster_read.Sheet.lossy``).
    ``progress(done, total)`` is called once per row.
    """
    out = RosterParse()
    known = {w.worker_id: w for w in existing or []}
    by_id: dict[str, _WorkerRows] = {}
    badge_owner: dict[str, str] = {}
    for w in existing or []:
        for b in w.badge_ids:
            badge_owner[b] = w.worker_id
    cert_owner: dict[str, tuple[str, int]] = {}
    tainted: set[str] = set()  # ids with any bad row, even one before their first good row

    def bad(row: int, code: RowProblemCode, en: str, zh: str, wid: str | None) -> None:
        out.problems.append(RowProblem(row, code, en, zh, wid or None))
        if wid:
            tainted.add(wid)

    for row, cells in rows:
        out.rows += 1
        if progress is not None:
            progress(out.rows, len(rows))
        wid, name = cells.get("worker_id", ""), cells.get("name", "")
        missing = [c for c in REQUIRED_COLUMNS if not cells.get(c)]
        if missing:
            bad(
                row,
                RowProblemCode.MISSING_FIELD,
                f"missing {_cols(missing, ', ')}",
                f"缺少{_cols(missing, '、')}",
                wid,
            )
            continue
        broken = [c for c in ONE_LINE_COLUMNS if _LINE_BREAK.search(cells.get(c, ""))]
        if broken:
            shown = "; ".join(repr(cells[c]) for c in broken)
            bad(
                row,
                RowProblemCode.INVALID,
                f"{_cols(broken, ', ')} holds a line break ({_lit(shown)}): a name or an id is "
                "one line (a stray quote in the CSV, or Alt+Enter in Excel?)",
                f"{_cols(broken, '、')}中有换行（{_lit(shown)}）：姓名和编号只能是一行"
                "（CSV 中多了一个引号，或在 Excel 中按了 Alt+Enter？）",
                wid if "worker_id" not in broken else None,
            )
            continue
        if lossy and row in lossy:
            bad(
                row,
                RowProblemCode.MALFORMED_CERT_NUMBER
                if "cert_number" in lossy[row]
                else RowProblemCode.INVALID,
                f"{_cols(lossy[row], ', ')}: Excel stored a number of more than 15 digits and "
                "rounded it; format the column as text and type it again",
                f"{_cols(lossy[row], '、')}：Excel 把超过 15 位的数字存成了数值并已舍入；"
                "请把该列设为文本格式后重新输入",
                wid,
            )
            continue
        badges = split_badges(cells.get("badge_ids", ""))
        employer = cells.get("employer") or None
        roles, unknown_roles = split_roles(cells.get("site_roles", ""))
        if unknown_roles:
            bad(
                row,
                RowProblemCode.INVALID,
                f"{{site_roles}}: {_lit(', '.join(unknown_roles))} is not a site role: use "
                "安全员 / safety_officer (authorises a resume) or 分析人 / analyst (gas tests)",
                f"{{site_roles}}：{_lit('、'.join(unknown_roles))} 不是站点角色：可填 安全员"
                "（可批准恢复作业）或 分析人（可做气体检测）",
                wid,
            )
            continue
        entry = by_id.get(wid)
        if entry is None:
            entry = by_id[wid] = _WorkerRows(row, name, badges, employer)
        elif (name, employer) != (entry.name, entry.employer) or (
            badges and entry.badges and set(badges) != set(entry.badges)
        ):
            bad(
                row,
                RowProblemCode.DUPLICATE_WORKER,
                f"{{worker_id}} {_lit(wid)} already on row {entry.first_row} as "
                f"{_lit(repr(entry.name))} with other details: one id, two people?",
                f"{{worker_id}} {_lit(wid)} 已在第 {entry.first_row} 行（{_lit(entry.name)}），"
                "其他信息却不同：同一编号，两个人？",
                wid,
            )
            continue
        else:
            entry.badges = entry.badges or badges
        entry.rows.append(row)
        entry.roles |= roles
        clash = next((b for b in badges if badge_owner.get(b, wid) != wid), None)
        if clash is not None:
            bad(
                row,
                RowProblemCode.DUPLICATE_BADGE,
                f"{{badge_ids}} {_lit(clash)} already belongs to worker {_lit(badge_owner[clash])}",
                f"{{badge_ids}} {_lit(clash)} 已属于 {_lit(badge_owner[clash])}",
                wid,
            )
            continue
        for b in badges:
            badge_owner[b] = wid
        cert = _row_certificate(row, cells, wid, cert_owner, bad)
        if cert is not None:
            entry.certificates.append(cert)

    for wid in sorted(tainted - by_id.keys()):
        out.refused_workers.append(wid)
    for wid, entry in by_id.items():
        if wid in tainted:
            out.refused_workers.append(wid)
            continue
        before = known.get(wid)
        badges, site_roles = entry.badges, tuple(sorted(entry.roles))
        if before is not None and not badges and before.badge_ids:
            badges = before.badge_ids
            out.kept_badges.append(wid)
        if before is not None and "site_roles" not in columns and before.site_roles:
            site_roles = before.site_roles
            out.kept_roles.append(wid)
        try:
            out.workers.append(
                Worker(
                    worker_id=wid,
                    name=entry.name,
                    badge_ids=badges,
                    certificates=tuple(entry.certificates),
                    employer=entry.employer,
                    site_roles=site_roles,
                    version=before.version if before is not None else 0,
                )
            )
        except ValidationError as err:
            en, zh = first_error(err)
            out.problems.append(RowProblem(entry.first_row, RowProblemCode.INVALID, en, zh, wid))
            out.refused_workers.append(wid)
            continue
        if before is not None:
            change = worker_change(before, out.workers[-1])
            if change is not None:
                out.updated.append(change)
    out.problems.sort(key=lambda p: p.row)
    return out


def first_error(err: ValidationError) -> tuple[str, str]:
    """The first validation error (the rest follow from it) as ``(en, zh)`` templates
    ``{column}: message``, the column named as the sheet does."""
    e = err.errors()[0]
    zh, en = pydantic_message(e)
    fields = [p for p in e["loc"] if isinstance(p, str)]
    column = _FIELD_COLUMN.get(fields[-1], fields[-1]) if fields else None
    if column not in COLUMN_EN:
        return _lit(en), _lit(zh)
    return f"{{{column}}}: {_lit(en)}", f"{{{column}}}：{_lit(zh)}"


def _row_certificate(
    row: int,
    cells: dict[str, str],
    wid: str,
    cert_owner: dict[str, tuple[str, int]],
    bad: Callable[[int, RowProblemCode, str, str, str | None], None],
) -> Certificate | None:
    kind_cells = (cells.get("cert_category", ""), cells.get("operation_item", ""))
    given = [c for c in CERT_COLUMNS if cells.get(c)]
    if not given and not any(kind_cells) and not cells.get("next_review"):
        return None  # a worker row without a certificate
    missing = [c for c in CERT_COLUMNS if not cells.get(c)]
    if missing:
        bad(
            row,
            RowProblemCode.MISSING_FIELD,
            f"certificate: missing {_cols(missing, ', ')}",
            f"证书信息缺少{_cols(missing, '、')}",
            wid,
        )
        return None
    try:
        number = check_cert_number(cells["cert_number"])
    except RowValueError as err:
        bad(row, RowProblemCode.MALFORMED_CERT_NUMBER, err.en, err.zh, wid)
        return None
    try:
        category, item = parse_kind(*kind_cells)
    except KindError as err:
        bad(row, err.code, err.en, err.zh, wid)
        return None
    dates: dict[str, date | None] = {}
    for column in ("valid_from", "valid_to", "next_review"):
        text = cells.get(column, "")
        try:
            dates[column] = parse_date(text) if text else None
        except ValueError as err:
            why = (
                f"日期 {text!r} 有歧义：月/日还是日/月？请写成 YYYY-MM-DD"
                if "ambiguous" in str(err)
                else f"不是日期：{text!r}（请写成 YYYY-MM-DD）"
            )
            bad(
                row,
                RowProblemCode.BAD_DATE,
                f"{{{column}}}: {_lit(err)}",
                f"{{{column}}}：{_lit(why)}",
                wid,
            )
            return None
    valid_from, valid_to, review = dates["valid_from"], dates["valid_to"], dates["next_review"]
    if valid_from is None or valid_to is None:  # required: reported as missing above
        return None
    if number in cert_owner:
        owner, first = cert_owner[number]
        bad(
            row,
            RowProblemCode.DUPLICATE_CERT,
            f"{{cert_number}} {_lit(number)} already on row {first} (worker {_lit(owner)})",
            f"{{cert_number}} {_lit(number)} 已在第 {first} 行（{_lit(owner)}）",
            wid,
        )
        return None
    try:
        cert = Certificate(
            number=number,
            category=category,
            operation_item=item,
            issuing_authority=cells["issuing_authority"],
            valid_from=valid_from,
            valid_to=valid_to,
            next_review=review,
        )
    except ValidationError as err:
        en, zh = first_error(err)
        bad(row, RowProblemCode.INVALID, en, zh, wid)
        return None
    cert_owner[number] = (wid, row)
    return cert


def expiring(workers: list[Worker], today: date, days: int = EXPIRY_WINDOW_DAYS) -> list[Expiring]:
    """Certificates already expired, those whose review (复审) is overdue, and those that
    expire or fall due for review within ``days``; oldest first.

    The review date is the one the gate judges (``edge.judgement.review_due``): as recorded,
    else valid_from + 3 years (令第30号 Art. 21), marked ``derived``. An expired certificate is
    listed as expired only (the gate denies CERT_EXPIRED before it looks at the review)."""
    horizon = today + timedelta(days=days)
    out: list[Expiring] = []
    for w in workers:
        for c in w.certificates:
            for due, on in (("expires", c.valid_to), ("review", review_due(c))):
                if on > horizon:
                    continue
                if due == "expires" and on < today:
                    due = "expired"
                if due == "review":
                    if c.valid_to < today:
                        continue
                    if on < today:  # the gate refuses when today > review date
                        due = "review_overdue"
                derived = due.startswith("review") and c.next_review is None
                out.append(
                    Expiring(
                        w.worker_id,
                        w.name,
                        c.number,
                        c.category,
                        due,
                        on,
                        (on - today).days,
                        derived,
                    )
                )
    return sorted(out, key=lambda e: (e.on, e.worker_id))
