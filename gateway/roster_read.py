"""Reading a roster file: bytes or a workbook -> the header row found and the data rows as text.

The first of three seams of ``zonegate import-roster`` (reading here, row checks in
``gateway.roster_parse``, writing in ``gateway.roster_import``).

What HR offices send, and what this module does about it:

- **Title rows above the header** (a merged "2026年特种作业人员名单"): the header is the first of
  the first ``HEADER_SEARCH_ROWS`` rows that names both required columns; rows above it are
  reported as ignored title rows.
- **Footer rows** ("制表人：张三", "审核：", "合计"): reported as ignored, never as bad rows.
- **Headers as people type them**: compared after NFKC (full-width letters), with every space
  (also the ideographic space U+3000) removed, required-field marks (``*``, ``＊``, ``※``) and a
  trailing ``(必填)`` dropped, case-folded; then looked up in ``COLUMNS`` (the alias table, also
  printed by ``zonegate import-roster --columns``).
- **Encodings**: UTF-8 (with or without BOM), GBK/GB18030 (Excel "CSV" in a Chinese locale),
  Big5 (traditional Chinese), UTF-16 with a BOM (Excel "Unicode 文本"). A file mixing UTF-8 and
  legacy rows, or one that is neither clearly GBK nor clearly Big5, is refused with the row
  numbers: text that did not decode cleanly is never stored.
- **Separators**: comma, semicolon (Excel where the decimal mark is a comma) or tab: the one
  under which the header row is found.
- **A stray quote mark**: a quoted cell that swallowed the rows below it refuses the file with
  its row number (``UNBALANCED_QUOTE``): those rows are not rows any more, so a row-by-row report
  (and ``--partial``) could not be honest about them. Row numbers count physical lines, as the
  technician's editor does, also after a well-formed multi-line cell.
- **A workbook named .csv** (zip or OLE2 bytes): read as the .xlsx / .xls it is (``read_as``).
- **Messages**: every ``RosterFileError`` carries zh-CN and English (``text(lang)``).
- **Cells as Excel shows them**: a number cell formatted ``000000`` is read as the six digits the
  card sends; dates in every built-in date format, the Chinese ones (numFmtId 27-36, 50-58,
  which openpyxl does not know and would give as serial numbers) included.
"""

from __future__ import annotations

import csv
import errno
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.errors import GatewayError
from gateway.exitcodes import ExitCode

HEADER_SEARCH_ROWS = 10

# Canonical column -> accepted header spellings, compared after ``normalise_header``.
COLUMNS: dict[str, tuple[str, ...]] = {
    "worker_id": (
        "worker_id",
        "workerid",
        "id",
        "工号",
        "员工编号",
        "人员编号",
        "员工号",
        "职工号",
        "编号",
    ),
    "name": ("name", "姓名", "人员姓名", "员工姓名", "持证人", "持证人姓名"),
    "badge_ids": (
        "badge_ids",
        "badge_id",
        "badge",
        "badges",
        "card",
        "工卡号",
        "卡号",
        "门禁卡号",
        "ic卡号",
        "工牌号",
        "胸卡号",
    ),
    "employer": ("employer", "company", "单位", "所属单位", "工作单位", "施工单位", "分包单位"),
    "cert_number": (
        "cert_number",
        "certificate",
        "certificate_number",
        "证号",
        "证书编号",
        "证书号",
        "操作证号",
        "特种作业操作证号",
        "特种作业证号",
        "操作证编号",
    ),
    "cert_category": ("cert_category", "category", "作业类别", "证书类别", "作业种类", "工种"),
    "operation_item": ("operation_item", "item", "操作项目", "准操项目", "作业项目"),
    "issuing_authority": ("issuing_authority", "authority", "发证机关", "发证单位", "发证部门"),
    # Standing roles (安全员 may authorise a resume, 分析人 may take gas tests): a column of its
    # own name only; a generic "角色" / "岗位" column in an HR sheet holds job titles instead.
    "site_roles": ("site_roles", "site_role", "站点角色", "现场角色", "安全角色"),
    "valid_from": (
        "valid_from",
        "有效期起",
        "有效期开始",
        "初领日期",
        "初次领证日期",
        "领证日期",
        "发证日期",
    ),
    "valid_to": (
        "valid_to",
        "valid_until",
        "有效期至",
        "有效期止",
        "有效期截止",
        "有效截止日期",
        "有效期限",
        "到期日期",
    ),
    "next_review": ("next_review", "review", "复审日期", "下次复审", "应复审日期", "复审到期日"),
}
REQUIRED_COLUMNS = ("worker_id", "name")
IDENTIFIER_COLUMNS = ("worker_id", "badge_ids", "cert_number")
DATE_COLUMNS = ("valid_from", "valid_to", "next_review")

# The first cell of a footer row, as Chinese HR forms end.
_FOOTER = re.compile(r"^(制表|填表|审核|审批|批准|负责人|经办|合计|总计|备注|注[:：]|日期[:：])")
# Excel's built-in number formats that show a date in a Chinese locale (openpyxl leaves them
# out of BUILTIN_FORMATS, so their cells arrive as serial numbers).
_ZH_DATE_FORMAT_IDS = frozenset({14, 15, 16, 17, 22, *range(27, 32), 36, *range(50, 55), 57, 58})
_EXCEL_EPOCH = datetime(1899, 12, 30)


class RosterFileError(GatewayError):
    """The file as a whole cannot be used: wrong type, unreadable, no header, bad encoding.

    ``code`` is stable for ``--json`` consumers; ``rows`` the row numbers at fault, if any;
    ``en`` / ``zh`` the message in English and zh-CN (``text``); ``str()`` is the English.
    """

    def __init__(
        self,
        code: str,
        en: str,
        zh: str,
        rows: tuple[int, ...] = (),
        *,
        exit_code: ExitCode = ExitCode.DATA,
    ) -> None:
        super().__init__(en)
        self.code = code
        self.en = en
        self.zh = zh
        self.rows = rows
        self.exit_code = exit_code
        """``ExitCode.NO_INPUT`` when the file cannot be read at all, else ``ExitCode.DATA``."""

    def text(self, lang: str) -> str:
        """The message in ``lang`` ("zh-CN" or "en")."""
        return self.en if lang == "en" else self.zh

    def about(self, file: Path) -> RosterFileError:
        """The same error naming ``file`` first (a second file, such as ``--badges``)."""
        return RosterFileError(
            self.code,
            f"{file}: {self.en}",
            f"{file}：{self.zh}",
            self.rows,
            exit_code=self.exit_code,
        )


# OS errors a technician meets, in Chinese (strerror is English whatever the locale of a
# service account); the English is strerror itself.
_OS_ERROR_ZH = {
    errno.ENOENT: "文件不存在",
    errno.EACCES: "没有读取权限（用 sudo，或检查文件权限）",
    errno.EPERM: "没有读取权限（用 sudo，或检查文件权限）",
    errno.EISDIR: "这是一个目录，不是文件",
    errno.EIO: "读盘出错（U 盘或存储卡可能已损坏）",
}


def cannot_read(err: OSError) -> RosterFileError:
    """``RosterFileError`` (exit ``NO_INPUT``) for a file the system would not give us."""
    zh = _OS_ERROR_ZH.get(err.errno or 0, err.strerror or str(err))
    return RosterFileError(
        "BAD_FILE",
        f"cannot read: {err.strerror or err}",
        f"无法读取：{zh}",
        exit_code=ExitCode.NO_INPUT,
    )


def normalise_header(text: str) -> str:
    """``"＊工　号（必填）"`` -> ``"工号"``: the key a header cell is looked up by."""
    t = unicodedata.normalize("NFKC", text).replace("\ufeff", "")
    t = re.sub(r"\s+", "", t)
    t = re.sub(r"\((必填|必须|required)\)$", "", t, flags=re.IGNORECASE)
    return t.strip("*※").casefold()


_ALIASES = {normalise_header(a): canon for canon, names in COLUMNS.items() for a in names}


def column_for(header_cell: str) -> str | None:
    """The canonical column a header cell names, or None."""
    return _ALIASES.get(normalise_header(header_cell)) if header_cell else None


@dataclass
class Sheet:
    """The data rows of a roster file (row numbers as Excel or a text editor shows them)."""

    rows: list[tuple[int, dict[str, str]]]
    header_row: int
    columns: list[str]
    """The canonical columns the header names."""
    unknown_columns: list[str]
    title_rows: list[int] = field(default_factory=list)
    footer_rows: list[int] = field(default_factory=list)
    encoding: str | None = None
    lossy: dict[int, list[str]] = field(default_factory=dict)
    """Row -> columns whose cell Excel kept as a number too long for a double (> 15 digits)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Canonical column -> its header cell as the sheet writes it (``*工　号``): what a row
    problem calls the column."""
    delimiter: str | None = None
    """The CSV separator found (``,``, ``;`` or a tab); None for a workbook."""
    read_as: str | None = None
    """``"xlsx"`` / ``"xls"`` for a workbook whose file name says .csv (read as a workbook)."""


# --------------------------------------------------------------------------------------------
# CSV text


def _is_plausible(text: str) -> bool:
    """Text that a name or a Chinese header could be: no private-use, Cyrillic or kana noise."""
    for ch in text:
        if ord(ch) < 0x80:
            continue
        if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
            continue
        if ch in "·・（）：；，、。　\ufeff—－“”‘’《》【】＊※":
            continue
        return False
    return True


def _in_gb2312(text: str) -> bool:
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _rows_en(rows: list[int]) -> str:
    """``row 4`` / ``rows 2, 3`` / ``rows 1, ..., 10 (+18 more)``."""
    shown = ", ".join(map(str, rows[:10]))
    more = f" (+{len(rows) - 10} more)" if len(rows) > 10 else ""
    return f"{'row' if len(rows) == 1 else 'rows'} {shown}{more}"


def _rows_zh(rows: list[int]) -> str:
    """``第 4 行`` / ``第 2、3 行`` / ``第 1、…、10 行（另有 18 行）``."""
    shown = "、".join(map(str, rows[:10]))
    more = f"（另有 {len(rows) - 10} 行）" if len(rows) > 10 else ""
    return f"第 {shown} 行{more}"


def _be(rows: list[int]) -> str:
    return "is" if len(rows) == 1 else "are"


# What Excel writes for "Unicode 文本 (*.txt)": UTF-16 little-endian with a byte-order mark.
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode_csv(raw: bytes) -> tuple[str, str]:
    """``(text, encoding)``; raises ``RosterFileError`` rather than guess wrong.

    UTF-16 with a byte-order mark (Excel's "Unicode 文本"), UTF-8 (BOM or not), then GBK or
    Big5 when only one of them reads as Chinese text.
    """
    if raw.startswith(_UTF16_BOMS):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as err:
            raise RosterFileError(
                "ENCODING_UNKNOWN",
                f"the file starts as UTF-16 (Excel 'Unicode text') but breaks off at byte "
                f"{err.start}; save the sheet again as 'CSV UTF-8'",
                f"文件开头是 UTF-16（Excel“Unicode 文本”），但在第 {err.start} 字节处损坏；"
                "请重新另存为“CSV UTF-8（逗号分隔）”",
            ) from err
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    lines = raw.split(b"\n")
    utf8_rows, legacy_rows = [], []
    for number, line in enumerate(lines, start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8-sig")
            utf8_rows.append(number)
        except UnicodeDecodeError:
            legacy_rows.append(number)
    if utf8_rows:
        raise RosterFileError(
            "ENCODING_MIXED",
            f"{_rows_en(legacy_rows)} {_be(legacy_rows)} not UTF-8 while "
            f"{_rows_en(utf8_rows)} {_be(utf8_rows)}: rows pasted from another file; "
            "save the whole sheet again as 'CSV UTF-8'",
            f"{_rows_zh(legacy_rows)}不是 UTF-8 编码，而{_rows_zh(utf8_rows)}是：多半是从别的文件"
            "粘贴来的行；请把整张表重新另存为“CSV UTF-8（逗号分隔）”",
            tuple(legacy_rows),
        )
    candidates: list[tuple[str, str]] = []
    for enc in ("gb18030", "big5"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if _is_plausible(text):
            candidates.append((text, enc))
    if len(candidates) == 2:
        gbk, big5 = candidates
        # Both decode to ideographs: trust GBK only when every character is a common
        # simplified one (GB 2312); otherwise we cannot tell and must not guess.
        if _in_gb2312(gbk[0]) and not _in_gb2312(big5[0]):
            return gbk
        raise RosterFileError(
            "ENCODING_UNKNOWN",
            "the file reads as GBK and as Big5 with different names; save it as 'CSV UTF-8'",
            "此文件按 GBK 和按 Big5 都能读出，但姓名不同，无法判断；"
            "请重新另存为“CSV UTF-8（逗号分隔）”",
            tuple(legacy_rows),
        )
    if candidates:
        return candidates[0]
    raise RosterFileError(
        "ENCODING_UNKNOWN",
        f"{_rows_en(legacy_rows)} {_be(legacy_rows)} neither UTF-8, GBK nor Big5 text; "
        "save the sheet as 'CSV UTF-8'",
        f"{_rows_zh(legacy_rows)}既不是 UTF-8，也不是 GBK 或 Big5 文本；"
        "请把表格另存为“CSV UTF-8（逗号分隔）”",
        tuple(legacy_rows),
    )


# Separators Excel writes: "," (CSV), ";" (CSV where the decimal mark is a comma), tab
# ("Unicode 文本" and "文本文件(制表符分隔)").
DELIMITERS = (",", "\t", ";")


def _split_csv(text: str, delimiter: str) -> list[list[Any]]:
    """The grid of ``text``, one grid row per *physical line* (row numbers then match the
    technician's editor): a record whose quoted cell runs over k lines is followed by k-1
    empty rows. A cell that swallowed further records (a stray quote) raises ``RosterFileError``.
    """
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    grid: list[list[Any]] = []
    for record in reader:
        first = len(grid) + 1
        last = reader.line_num
        grid.append(list(record))
        grid.extend([] for _ in range(last - first))
        for cell in record:
            _, newline, rest = cell.partition("\n")
            if newline and delimiter in rest:
                swallowed = list(range(first + 1, last + 1))
                raise RosterFileError(
                    "UNBALANCED_QUOTE",
                    f'row {first}: a quote mark (") opens a cell that runs on to row {last}, '
                    f"so {_rows_en(swallowed)} {'was' if len(swallowed) == 1 else 'were'} read "
                    "as part of that one cell: a stray quote mark; remove it (or close it) and "
                    "import again",
                    f'第 {first} 行：一个引号（"）开始的单元格一直延续到第 {last} 行，'
                    f"{_rows_zh(swallowed)}都被读成了这一个单元格：多半是误输入的引号；"
                    "请删掉（或补全）这个引号后重新导入",
                    (first, *swallowed),
                )
    return grid


def _csv_grid(raw: bytes, required: tuple[str, ...]) -> tuple[list[list[Any]], str, str]:
    """``(grid, encoding, delimiter)``: the delimiter is the one under which a header naming
    ``required`` is found (a semicolon file split on commas has no such header); comma when
    none is, so the NO_HEADER error then reads the file as most people save it."""
    text, encoding = decode_csv(raw)
    for delimiter in DELIMITERS:
        if delimiter != "," and delimiter not in text:
            continue
        try:
            grid = _split_csv(text, delimiter)
            _find_header(grid, required)
        except RosterFileError:
            continue
        return grid, encoding, delimiter
    return _split_csv(text, ","), encoding, ","


# --------------------------------------------------------------------------------------------
# XLSX cells


@dataclass(frozen=True, slots=True)
class XCell:
    """A workbook cell: its value and the number format id/code Excel displays it with."""

    value: Any
    fmt_id: int
    fmt: str


def _not_a_workbook(kind: str, err: Exception) -> RosterFileError:
    return RosterFileError(
        "BAD_FILE",
        f"not a readable {kind} workbook: {err}",
        f"不是可读的 {kind} 工作簿（{err}）：请在 Excel 中打开并重新另存为 {kind}",
    )


def _xlsx_grid(source: Path | bytes) -> list[list[Any]]:
    """The first sheet of an .xlsx workbook, from its path or (a workbook renamed .csv) its
    bytes: openpyxl refuses a *path* whose suffix is not a workbook's."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # Not read_only: the number format id of each cell is needed for the Chinese dates.
        wb = load_workbook(
            io.BytesIO(source) if isinstance(source, bytes) else source, data_only=True
        )
    except OSError as err:
        raise cannot_read(err) from err
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError) as err:
        raise _not_a_workbook(".xlsx", err) from err
    try:
        sheet = wb.worksheets[0]
        grid: list[list[Any]] = []
        for row in sheet.iter_rows():
            cells: list[Any] = []
            for c in row:
                style = getattr(c, "_style", None)
                fmt_id = int(getattr(style, "numFmtId", 0) or 0)
                cells.append(XCell(c.value, fmt_id, str(c.number_format or "General")))
            grid.append(cells)
        return grid
    finally:
        wb.close()


def _xls_grid(source: Path | bytes) -> list[list[Any]]:
    """An Excel 97-2003 workbook (BIFF8, still what many HR systems export) through xlrd 2.x,
    whose one remaining job is reading .xls. Cells become ``XCell`` like the .xlsx path's, so
    dates, Chinese date formats and leading-zero identifiers follow the same rules."""
    import xlrd

    try:
        # formatting_info: the number format of each cell (dates, "000123" card numbers)
        if isinstance(source, bytes):
            book = xlrd.open_workbook(file_contents=source, formatting_info=True, on_demand=True)
        else:
            book = xlrd.open_workbook(str(source), formatting_info=True, on_demand=True)
    except OSError as err:
        raise cannot_read(err) from err
    except (xlrd.XLRDError, xlrd.compdoc.CompDocError, ValueError, IndexError) as err:
        raise _not_a_workbook(".xls", err) from err
    try:
        sheet = book.sheet_by_index(0)
        grid: list[list[Any]] = []
        for r in range(sheet.nrows):
            cells: list[Any] = []
            for c in range(sheet.ncols):
                cell = sheet.cell(r, c)
                if cell.ctype == xlrd.XL_CELL_DATE:
                    value: Any = xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)
                elif cell.ctype == xlrd.XL_CELL_EMPTY or cell.ctype == xlrd.XL_CELL_BLANK:
                    value = None
                else:
                    value = cell.value
                fmt_id = book.xf_list[cell.xf_index].format_key
                fmt = book.format_map.get(fmt_id)
                cells.append(XCell(value, fmt_id, (fmt.format_str if fmt else None) or "General"))
            grid.append(cells)
    except (xlrd.XLRDError, IndexError, KeyError, ValueError) as err:
        raise _not_a_workbook(".xls", err) from err
    finally:
        book.release_resources()
    return grid


def excel_serial_date(serial: float) -> date:
    """An Excel (1900 system) day number as a date; raises ValueError outside 1901-2199."""
    if not 366 <= serial < 109574:
        raise ValueError(f"not a date serial: {serial}")
    return (_EXCEL_EPOCH + timedelta(days=serial)).date()


# One token of a number format's first section: a quoted literal, a backslash-escaped
# character, a [colour] / [$-804] locale tag, a run of digit placeholders, or one other char.
_FMT_TOKEN = re.compile(
    r'"(?P<quoted>[^"]*)"|\\(?P<escaped>.)|(?P<tag>\[[^\]]*\])|(?P<digits>[0#?]+)|(?P<other>.)'
)
# Characters Excel shows as they are without quotes (ECMA-376 Part 1, 18.8.31 numFmts).
_PLAIN_LITERALS = frozenset("$-+/():!^&'~{}<>= ")


def shown_integer(value: int, fmt: str) -> str:
    """A whole number as a number format made only of literals and one run of digit
    placeholders shows it: ``"W"000`` shows 7 as ``W007``, ``000000`` 123 as ``000123``,
    ``0"号"`` 12 as ``12号`` (an identifier "as the cell shows it": README, issue 13 finding
    17). Any other format (thousands separators, decimals, conditions, scaling) gives the bare
    number, as before: those are quantities, not identifiers.

    Hand-written on purpose: openpyxl and xlrd do not format numbers, and the SheetJS port
    ``ssf`` 0.2.2 fails at construction with current Babel (``KeyError: 'decimal'``).
    """
    section = fmt.split(";")[0]
    if value < 0 or not section or section.lower() == "general":
        return str(value)
    out: list[str] = []
    runs = 0
    for m in _FMT_TOKEN.finditer(section):
        if m["quoted"] is not None:
            out.append(m["quoted"])
        elif m["escaped"] is not None:
            out.append(m["escaped"])
        elif m["tag"] is not None:
            if not re.fullmatch(r"\[(\$-[0-9A-Fa-f]+|[A-Za-z]+|Color\d+)\]", m["tag"]):
                return str(value)  # a condition such as [>100]: not an identifier format
        elif m["digits"] is not None:
            runs += 1
            out.append(str(value).zfill(m["digits"].count("0")))
        elif m["other"] in _PLAIN_LITERALS:
            out.append(m["other"])
        else:
            return str(value)  # ".", ",", "%", "E+", "@", a letter: not an identifier format
    return "".join(out) if runs == 1 else str(value)


def cell_text(cell: Any, column: str | None = None) -> str:
    """What the technician sees in the cell, as text (ISO for dates)."""
    if isinstance(cell, XCell):
        value = cell.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            if column in DATE_COLUMNS and (
                cell.fmt_id in _ZH_DATE_FORMAT_IDS or _looks_like_date_format(cell.fmt)
            ):
                try:
                    return excel_serial_date(float(value)).isoformat()
                except ValueError:
                    return str(value)
            if float(value).is_integer():
                return shown_integer(int(value), cell.fmt)
        return cell_text(value, column)
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.date().isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell).strip()


def _looks_like_date_format(fmt: str) -> bool:
    bare = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", fmt).lower()
    return "y" in bare or ("d" in bare and "m" in bare)


def _raw_number(cell: Any) -> float | None:
    value = cell.value if isinstance(cell, XCell) else cell
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


# --------------------------------------------------------------------------------------------
# The sheet


def _find_header(grid: list[list[Any]], required: tuple[str, ...]) -> tuple[int, dict[int, str]]:
    best: tuple[int, dict[int, str]] | None = None
    for index, row in enumerate(grid[:HEADER_SEARCH_ROWS]):
        mapping: dict[int, str] = {}
        for i, raw in enumerate(row):
            canon = column_for(cell_text(raw))
            if canon is not None and canon not in mapping.values():
                mapping[i] = canon
        if all(c in mapping.values() for c in required):
            return index, mapping
        if mapping and (best is None or len(mapping) > len(best[1])):
            best = (index, mapping)
    seen_en = seen_zh = ""
    if best is not None:
        row = [cell_text(c) for c in grid[best[0]] if cell_text(c)]
        missing = [c for c in required if c not in best[1].values()]
        seen_en = f"; row {best[0] + 1} has {', '.join(row)} but no {', '.join(missing)}"
        seen_zh = (
            f"；第 {best[0] + 1} 行有 {'、'.join(row)}，但没有 "
            f"{'、'.join(_zh_header(c) for c in missing)}"
        )
    raise RosterFileError(
        "NO_HEADER",
        f"no header row in the first {HEADER_SEARCH_ROWS} rows naming the required columns "
        f"{' and '.join(required)}{seen_en}; "
        "see `zonegate import-roster --columns` for every accepted header",
        f"前 {HEADER_SEARCH_ROWS} 行中没有含必填列 "
        f"{'、'.join(_zh_header(c) for c in required)} 的表头行{seen_zh}；"
        "可用的表头见 zonegate import-roster --columns",
    )


def _zh_header(column: str) -> str:
    # The column as a Chinese sheet heads it: its first Chinese spelling (工号, 姓名), with the
    # canonical name the English message uses.
    zh = next((a for a in COLUMNS[column] if not a.isascii()), column)
    return f"{zh}（{column}）"


# The first bytes of a workbook: .xlsx is a zip archive, .xls an OLE2 compound file.
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_sheet(path: Path, required: tuple[str, ...] = REQUIRED_COLUMNS) -> Sheet:
    """The header found, the data rows as ``(row number, {canonical column: text})``.

    The header is the first row naming every column of ``required``.
    Raises ``RosterFileError`` for a file that cannot be used as a whole.
    """
    suffix = path.suffix.lower()
    encoding: str | None = None
    delimiter: str | None = None
    read_as: str | None = None
    try:
        if suffix == ".csv":
            raw = path.read_bytes()
            # An Excel workbook renamed (or "saved") as .csv: read it as the workbook it is,
            # and say so, rather than report 28 rows of undecodable text.
            if raw.startswith(_ZIP_MAGIC):
                grid, read_as = _xlsx_grid(raw), "xlsx"
            elif raw.startswith(_OLE2_MAGIC):
                grid, read_as = _xls_grid(raw), "xls"
            else:
                grid, encoding, delimiter = _csv_grid(raw, required)
        elif suffix in (".xlsx", ".xlsm"):
            grid = _xlsx_grid(path)
        elif suffix == ".xls":
            grid = _xls_grid(path)
        else:
            got = suffix or "no suffix"
            raise RosterFileError(
                "BAD_FILE",
                f"use a .csv, .xlsx or .xls file (got {got})",
                f"请使用 .csv、.xlsx 或 .xls 文件（此文件为 {suffix or '无扩展名'}）",
            )
    except OSError as err:
        raise cannot_read(err) from err
    if not any(any(cell_text(c) for c in row) for row in grid):
        raise RosterFileError("BAD_FILE", "the file is empty", "文件是空的")
    header_index, mapping = _find_header(grid, required)
    header = [cell_text(c) for c in grid[header_index]]
    sheet = Sheet(
        rows=[],
        header_row=header_index + 1,
        columns=list(mapping.values()),
        unknown_columns=[h for i, h in enumerate(header) if h and i not in mapping],
        title_rows=[n + 1 for n in range(header_index) if any(cell_text(c) for c in grid[n])],
        encoding=encoding,
        delimiter=delimiter,
        read_as=read_as,
        headers={canon: header[i] for i, canon in mapping.items() if i < len(header)},
    )
    for number, row in enumerate(grid[header_index + 1 :], start=header_index + 2):
        texts = [cell_text(c) for c in row]
        filled = [t for t in texts if t]
        if not filled:
            continue
        if _FOOTER.match(filled[0]) or (len(filled) == 1 and re.search("[:：]", filled[0])):
            sheet.footer_rows.append(number)
            continue
        cells = {
            canon: cell_text(row[i], canon) if i < len(row) else "" for i, canon in mapping.items()
        }
        sheet.rows.append((number, cells))
        # An 18-digit ID-based number typed into a number cell is already rounded.
        long = [
            canon
            for i, canon in mapping.items()
            if i < len(row) and (n := _raw_number(row[i])) is not None and abs(n) >= 1e15
        ]
        if long:
            sheet.lossy[number] = long
    return sheet
