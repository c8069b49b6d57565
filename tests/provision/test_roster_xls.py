"""Excel 97-2003 (.xls) rosters, as many HR systems still export them (issue 13): read through
xlrd 2.x with the same rules as .xlsx (title row, Chinese headers and dates, leading-zero card
numbers, expired certificates imported and listed). The workbooks are written by the tests'
own BIFF8 writer (tests/xls_biff8.py; no maintained library writes .xls)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.cert_catalogue import parse_cert_kind
from gateway.cli import main
from gateway.exitcodes import ExitCode
from tests.provision.conftest import ProvisionFn
from tests.provision.test_roster_import import TODAY, id_number, registry_workers
from tests.xls_biff8 import Num, excel_serial, write_xls

ZH_DATE = 'yyyy"年"m"月"d"日"'  # what a Chinese Excel's long-date button writes
ZH_BUILTIN_DATE = 31  # built-in id 31 (yyyy年m月d日 in a Chinese locale): no format string


def _day(days: int) -> Num:
    return Num(excel_serial(TODAY + timedelta(days=days)), ZH_DATE)


def hr_xls(path: Path) -> Path:
    rows: list[list[Any]] = [
        ["2026年特种作业人员名单（焊接车间）"],
        [
            "*工　号",
            "*姓　名",
            "门禁卡号",
            "特种作业操作证号",
            "操作项目",
            "发证机关",
            "初领日期",
            "有效期至",
        ],
    ]
    for n in range(1, 6):
        valid_to = _day(-5) if n == 3 else Num(excel_serial(TODAY + timedelta(days=900)), 31)
        rows.append(
            [
                f"W{n:04d}",
                f"工人{n}",
                Num(n * 11, "000000"),  # shown as 000011: what the card sends
                "T" + id_number(f"31010119800101{n:02d}1"),
                "熔化焊接与热切割作业",
                "上海市应急管理局",
                _day(-400),
                valid_to,
            ]
        )
    rows.append([])
    rows.append(["制表人：王芳", None, None, "审核：李强"])
    return write_xls(path, rows, merge_first_row=8)


def test_an_hr_xls_roster_imports_like_its_xlsx_twin(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    rc = main(["import-roster", str(hr_xls(tmp_path / "名单.xls")), "-c", str(p.config), "--json"])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == ExitCode.OK, report["bad_rows"]
    assert report["header_row"] == 2 and report["title_rows"] == [1]
    assert report["footer_rows"] == [9]
    workers = registry_workers(p)
    assert sorted(workers) == [f"W{n:04d}" for n in range(1, 6)]
    w1 = workers["W0001"]
    assert w1.name == "工人1" and w1.badge_ids == ("000011",)
    (cert,) = w1.certificates
    assert cert.operation_item is parse_cert_kind("熔化焊接与热切割作业")
    assert cert.valid_from == TODAY - timedelta(days=400)
    assert cert.valid_to == TODAY + timedelta(days=900)  # the built-in Chinese date format
    # the expired one is imported and listed (the gate denies CERT_EXPIRED, not UNKNOWN_BADGE)
    assert workers["W0003"].certificates[0].valid_to == TODAY - timedelta(days=5)
    assert [e["worker_id"] for e in report["expired"]] == ["W0003"]


def test_a_file_named_xls_that_is_not_one_is_refused_with_a_reason(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    fake = tmp_path / "roster.xls"
    fake.write_bytes(b"\xd0\xcf\x11\xe0 truncated")
    rc = main(["import-roster", str(fake), "-c", str(p.config), "--json"])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == ExitCode.DATA and "not a readable .xls workbook" in report["error"]
    assert registry_workers(p) == {}


def test_the_writer_makes_what_excel_would(tmp_path: Path) -> None:
    # The fixture's own check: the dates and the format reach xlrd as Excel stores them.
    import xlrd

    path = write_xls(tmp_path / "a.xls", [["日期"], [Num(excel_serial(date(2024, 3, 1)), 31)]])
    book = xlrd.open_workbook(str(path), formatting_info=True)
    cell = book.sheet_by_index(0).cell(1, 0)
    assert cell.ctype == xlrd.XL_CELL_DATE
    assert xlrd.xldate.xldate_as_datetime(cell.value, book.datemode).date() == date(2024, 3, 1)
