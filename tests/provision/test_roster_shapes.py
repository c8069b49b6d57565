"""Roster files as a fresh technician brought them (issue 13, findings 13, 14 and 16): a stray
CSV quote that swallowed the next rows, a line break inside a name, the file-level errors in the
technician's language, and the shapes Excel exports (semicolon / tab CSV, "Unicode 文本" UTF-16,
a workbook renamed .csv)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from gateway.cli import main
from gateway.exitcodes import ExitCode
from tests.provision.conftest import ProvisionFn
from tests.provision.test_roster_import import registry_workers
from tests.xls_biff8 import Num, write_xls


def _run(
    capsys: pytest.CaptureFixture[str], file: Path, config: Path, *extra: str
) -> tuple[int, str, str]:
    rc = main(["import-roster", str(file), "-c", str(config), *extra])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _json(
    capsys: pytest.CaptureFixture[str], file: Path, config: Path, *extra: str
) -> tuple[int, dict[str, Any]]:
    rc, out, _ = _run(capsys, file, config, "--json", *extra)
    return rc, json.loads(out.strip().splitlines()[-1])


def test_a_stray_quote_that_swallowed_rows_is_refused_with_its_row(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The field case: 丙's name cell opens a quote that never closes, so W033's row became part
    # of the name; it was imported as '丙,C932\nW033,丁,C933' and W033 was lost, exit 0.
    p = provision()
    f = tmp_path / "quote.csv"
    f.write_text('工号,姓名,卡号\nW031,乙,C931\nW032,"丙,C932\nW033,丁,C933\n', encoding="utf-8")
    rc, report = _json(capsys, f, p.config)
    assert rc == ExitCode.DATA, report
    assert report["code"] == "UNBALANCED_QUOTE" and report["rows"] == [3, 4]
    assert report["error_zh"].startswith("第 3 行：一个引号")
    assert report["error"].startswith("row 3: a quote mark")
    rc, _, err = _run(capsys, f, p.config)
    assert rc == ExitCode.DATA and "第 3 行" in err and "第 4 行" in err
    assert registry_workers(p) == {}  # W031 is not imported either: the file is broken


def test_a_line_break_inside_a_name_or_an_id_is_a_bad_row_and_rows_keep_their_numbers(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    # A closed quote around a two-line name: a well-formed CSV, but no name has a line break.
    # The rows after it keep the numbers the technician's editor shows (line 5 for 'W3,').
    f = tmp_path / "multiline.csv"
    f.write_text('工号,姓名\nW1,"张\n伟"\nW2,李娜\nW3,\n', encoding="utf-8")
    rc, report = _json(capsys, f, p.config)
    assert rc == ExitCode.FAILED, report
    bad = {b["row"]: b for b in report["bad_rows"]}
    assert sorted(bad) == [2, 5]
    assert bad[2]["code"] == "INVALID" and "姓名中有换行" in bad[2]["message_zh"]
    assert "holds a line break" in bad[2]["message"]
    assert bad[5]["code"] == "MISSING_FIELD"
    # An Alt+Enter inside a workbook's worker id cell, the same rule.
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["工号", "姓名"])
    ws.append(["W\n4", "王强"])
    wb.save(tmp_path / "altenter.xlsx")
    rc, report = _json(capsys, tmp_path / "altenter.xlsx", p.config)
    assert rc == ExitCode.FAILED
    assert [b["row"] for b in report["bad_rows"]] == [2]
    assert "工号中有换行" in report["bad_rows"][0]["message_zh"]
    assert registry_workers(p) == {}


def test_file_errors_are_in_the_technicians_language(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()  # a zh-CN config, as provision writes it
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes("工号,姓名\nW1,张伟\nW2,王芳\n".encode() + "W3,李娜\n".encode("gbk"))
    empty = tmp_path / "empty.csv"
    empty.write_text("\n,,\n", encoding="utf-8")
    no_header = tmp_path / "nohdr.csv"
    no_header.write_text("W1,张伟\nW2,王芳\n", encoding="utf-8")
    fake = tmp_path / "fake.xlsx"
    fake.write_text("not a zip")
    cases = {
        mixed: (
            "第 4 行不是 UTF-8 编码，而第 1、2、3 行是",
            "row 4 is not UTF-8 while rows 1, 2, 3 are",
        ),
        empty: ("文件是空的", "the file is empty"),
        no_header: ("前 10 行中没有含必填列", "no header row in the first 10 rows"),
        fake: ("不是可读的 .xlsx 工作簿", "not a readable .xlsx workbook"),
        tmp_path / "missing.csv": ("无法读取：文件不存在", "cannot read: No such file"),
    }
    for file, (zh, en) in cases.items():
        rc, _, err = _run(capsys, file, p.config)
        assert rc in (ExitCode.DATA, ExitCode.NO_INPUT), (file, err)
        assert zh in err, err
        assert en not in err, err
        rc_en, _, err_en = _run(capsys, file, p.config, "--lang", "en")
        assert rc_en == rc and en in err_en, err_en
        _, report = _json(capsys, file, p.config)
        assert zh in report["error_zh"] and en in report["error"]
    rc, report = _json(capsys, mixed, p.config)
    assert report["code"] == "ENCODING_MIXED" and report["rows"] == [4]


ROWS = [("工号", "姓名", "卡号"), ("W030", "甲", "C930"), ("W031", "陳志明", "000123")]


def _imported(p: Any) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {w.worker_id: (w.name, w.badge_ids) for w in registry_workers(p).values()}


@pytest.mark.parametrize(
    ("shape", "encoding", "delimiter"),
    [
        ("semicolon", "utf-8", ";"),  # Excel "CSV" where the decimal mark is a comma
        ("tab", "utf-8", "\t"),  # 文本文件(制表符分隔)
        ("unicode-text", "utf-16", "\t"),  # Chinese Excel's "Unicode 文本": UTF-16 LE, BOM, tabs
        ("utf16-comma", "utf-16", ","),
    ],
)
def test_excel_text_exports_import_right(
    shape: str,
    encoding: str,
    delimiter: str,
    provision: ProvisionFn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    p = provision()
    f = tmp_path / f"{shape}.csv"
    text = "\r\n".join(delimiter.join(r) for r in ROWS) + "\r\n"
    f.write_bytes(text.encode(encoding))  # Python's utf-16 writes the BOM, as Excel does
    if encoding == "utf-16":
        assert f.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    rc, report = _json(capsys, f, p.config)
    assert rc == ExitCode.OK, report
    assert report["delimiter"] == delimiter and report["encoding"] == encoding
    assert _imported(p) == {"W030": ("甲", ("C930",)), "W031": ("陳志明", ("000123",))}


def test_a_workbook_renamed_csv_is_read_as_the_workbook_and_said_so(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in ROWS:
        ws.append(list(row))
    f = tmp_path / "名单.csv"
    wb.save(f)  # what "rename to .csv" or a careless "Save as" leaves: a zip named .csv
    assert f.read_bytes()[:4] == b"PK\x03\x04"
    rc, out, err = _run(capsys, f, p.config)
    assert rc == ExitCode.OK, err
    assert "此文件是 Excel 工作簿（.xlsx），只是扩展名为 .csv" in out
    assert "neither UTF-8" not in out + err
    assert _imported(p) == {"W030": ("甲", ("C930",)), "W031": ("陳志明", ("000123",))}
    rc, report = _json(capsys, f, p.config, "--dry-run")
    assert rc == ExitCode.OK and report["read_as"] == "xlsx" and report["encoding"] is None


def test_the_chinese_bad_row_table_folds_the_whole_reason_at_80_columns(
    provision: ProvisionFn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Finding 18: at 80 columns the zh-CN reason was cut to "'T110105199003071238'：身份证号
    # 校验位不…" (no spaces to wrap at, so rich's ellipsis ate the end).
    monkeypatch.setenv("COLUMNS", "80")
    p = provision()
    f = tmp_path / "r.csv"
    f.write_text(
        "工号,姓名,证号,作业类别,发证机关,有效期起,有效期至\n"
        "W006,杨帆,T110105199003071238,焊接与热切割作业,北京市应急管理局,2024-01-01,2029-12-31\n",
        encoding="utf-8",
    )
    rc, out, _ = _run(capsys, f, p.config)
    assert rc == ExitCode.FAILED
    _, report = _json(capsys, f, p.config)
    reason = report["bad_rows"][0]["message_zh"]
    assert "身份证号校验位不符" in reason
    assert "…" not in out
    # The reason column's pieces, line after line, give the whole reason back.
    body = [line.split("│") for line in out.splitlines() if line.count("│") == 5]
    folded = "".join(cells[4].strip() for cells in body)
    assert folded == reason.replace(" ", ""), out


def _workbook(path: Path, rows: list[tuple[Any, ...]], formats: dict[str, str]) -> Path:
    """A workbook whose cells at ``formats`` (``"A2"``) carry an Excel number format."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(list(row))
    for ref, fmt in formats.items():
        ws[ref].number_format = fmt
    wb.save(path)
    return path


def test_identifiers_keep_the_literal_prefix_their_number_format_shows(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Finding 17: 7 formatted "W"000 (Excel shows W007) was stored as 007.
    p = provision()
    header = ("工号", "姓名", "卡号")
    shown = _workbook(
        tmp_path / "ids.xlsx",
        [header, (7, "张三", 123), (8, "李四", 42)],
        {"A2": '"W"000', "C2": '"NO."000000', "A3": "\\W000", "C3": '0"号"'},
    )
    rc, report = _json(capsys, shown, p.config)
    assert rc == ExitCode.OK, report
    assert _imported(p) == {"W007": ("张三", ("NO.000123",)), "W008": ("李四", ("42号",))}
    # And so it meets a real W007 typed as text in the same sheet: one id, two people.
    clash = _workbook(
        tmp_path / "clash.xlsx", [header, (7, "张三", ""), ("W007", "王五", "")], {"A2": '"W"000'}
    )
    rc, report = _json(capsys, clash, p.config, "--dry-run")
    assert rc == ExitCode.FAILED
    assert [(b["row"], b["code"], b["worker_id"]) for b in report["bad_rows"]] == [
        (3, "DUPLICATE_WORKER", "W007")
    ]
    # A quantity format is not an identifier format: the bare number, as before.
    plain = _workbook(
        tmp_path / "plain.xlsx", [header, (1234, "赵六", 5678)], {"A2": "#,##0", "C2": "0.00"}
    )
    rc, report = _json(capsys, plain, p.config, "--dry-run")
    assert rc == ExitCode.OK and report["imported_workers"] == [], report
    rc, report = _json(capsys, plain, p.config)
    assert "1234" in _imported(p)


def test_an_xls_workbook_named_csv_is_read_as_the_workbook(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An Excel 97-2003 file (OLE2 bytes) that an HR system exported with a .csv name.
    p = provision()
    f = write_xls(
        tmp_path / "export.csv",
        [
            ["工号", "姓名", "卡号"],
            ["W030", "甲", Num(123, "000000")],
            [Num(7, '"W"000'), "乙", None],  # finding 17 in a .xls: shown as W007
        ],
    )
    assert f.read_bytes()[:4] == b"\xd0\xcf\x11\xe0"
    rc, report = _json(capsys, f, p.config)
    assert rc == ExitCode.OK, report
    assert report["read_as"] == "xls"
    assert _imported(p) == {"W030": ("甲", ("000123",)), "W007": ("乙", ())}
