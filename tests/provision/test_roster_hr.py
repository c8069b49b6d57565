"""Rosters as HR offices send them: title and footer rows, headers with ideographic spaces and
stars, operation items instead of categories, Excel's Chinese dates, leading-zero card numbers,
no badge column, mixed encodings; plus the field-case files from real sites."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from edge.cert_catalogue import CertCategory, OperationItem
from gateway.cli import main
from gateway.exitcodes import ExitCode
from gateway.roster_parse import parse_date
from tests.datasets import FIELD_CASES
from tests.provision.conftest import ProvisionFn
from tests.provision.test_roster_import import TODAY, id_number, registry_workers

FIELD = FIELD_CASES / "rosters"  # shipped: made for this project
ITEMS = ["熔化焊接与热切割作业", "低压电工作业", "登高架设作业", "高压电工作业", "焊接与热切割作业"]


def hr_workbook(path: Path, *, badge_column: bool = True, expired: str = "W0007") -> Path:
    """50 workers as a Chinese HR office sends them."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["2026年特种作业人员名单（焊接车间）"])
    ws.merge_cells("A1:I1")
    header = [
        "*工　号",
        "*姓　名",
        "特种作业操作证号",
        "操作项目",
        "发证机关",
        "初领日期",
        "有效期至",
        "备注",
    ]
    if badge_column:
        header.insert(2, "门禁卡号")
    ws.append(header)
    for n in range(1, 51):
        wid = f"W{n:04d}"
        frm = datetime.combine(TODAY - timedelta(days=400 + n), datetime.min.time())
        to = datetime.combine(TODAY + timedelta(days=1500 - n), datetime.min.time())
        if wid == expired:
            frm, to = frm - timedelta(days=1900), frm - timedelta(days=10)
        row: list[Any] = [
            wid,
            f"工人{n}",
            "T" + id_number(f"3101011980{n:02d}0{n % 10}12"[:17].ljust(17, "1")),
            ITEMS[n % len(ITEMS)],
            "上海市应急管理局",
            frm,
            to,
            "",
        ]
        if badge_column:
            row.insert(2, n)  # a number cell shown as 000012 by its format
        ws.append(row)
        r = ws.max_row
        for col in ("F", "G") if not badge_column else ("G", "H"):
            ws[f"{col}{r}"].number_format = 'yyyy"年"m"月"d"日"'
        if badge_column:
            ws[f"C{r}"].number_format = "000000"
    ws.append([])
    ws.append(["制表人：王芳", None, None, "审核：李强"])
    wb.save(path)
    return path


def run_json(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    rc = main(["import-roster", *args, "--json"])
    return rc, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_hr_workbook_imports_on_the_first_try(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    rc, report = run_json(
        str(hr_workbook(tmp_path / "hr.xlsx")), "-c", str(p.config), capsys=capsys
    )
    assert rc == 0, report["bad_rows"]
    assert report["header_row"] == 2 and report["title_rows"] == [1]
    assert report["footer_rows"] == [54]
    assert len(report["imported_workers"]) == 50
    assert [e["worker_id"] for e in report["expired"]] == ["W0007"]
    workers = registry_workers(p)
    assert workers["W0012"].badge_ids == ("000012",)  # as the cell shows it
    cert = workers["W0001"].certificates[0]
    assert (cert.category, cert.operation_item) == (
        CertCategory.ELECTRICAL,
        OperationItem.LV_ELECTRICIAN,
    )
    w5 = workers["W0005"].certificates[0]
    assert (w5.category, w5.operation_item) == (
        CertCategory.WELDING,
        OperationItem.FUSION_WELDING_CUTTING,
    )
    w4 = workers["W0004"].certificates[0]
    assert (w4.category, w4.operation_item) == (CertCategory.WELDING, None)
    assert w5.valid_to == TODAY + timedelta(days=1495)


def test_no_badge_column_warns_and_a_second_file_binds_the_cards(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    book = hr_workbook(tmp_path / "hr.xlsx", badge_column=False)
    assert main(["import-roster", str(book), "-c", str(p.config), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "没有卡号列" in out and "zonegate bind-badges" in out and "--badges" in out
    cards = tmp_path / "cards.csv"
    cards.write_text("工号,卡号\nW0001,0001\nW0002,C-2\nW9999,C-9\n", encoding="utf-8")
    rc, report = run_json(str(book), "-c", str(p.config), "--badges", str(cards), capsys=capsys)
    assert rc == 0
    assert report["badge_file_unknown_workers"] == ["W9999"]
    assert len(report["workers_without_badge"]) == 48
    workers = registry_workers(p)
    assert workers["W0001"].badge_ids == ("0001",)
    assert workers["W0002"].badge_ids == ("C-2",)


def test_unknown_categories_print_the_catalogue_once(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    lines = ["工号,姓名,证号,作业类别,发证机关,有效期起,有效期至"]
    for n in range(37):
        lines.append(f"X{n},人{n},DQ-2020-{n:04d},电气,局,2024-01-01,2029-01-01")
    lines.append("X99,人99,HJ-2020-0099,电工作业,局,2024-01-01,2029-01-01")
    (tmp_path / "r.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["import-roster", str(tmp_path / "r.csv"), "-c", str(p.config)]) == 1
    out = capsys.readouterr().out
    assert out.count("熔化焊接与热切割作业") == 1  # the list of valid values, once
    assert out.count("UNKNOWN_CATEGORY") == 37
    assert "未导入任何人员" in out  # zh-CN by default


def test_item_and_category_that_disagree_are_refused(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    (tmp_path / "r.csv").write_text(
        "工号,姓名,证号,作业类别,操作项目,发证机关,有效期起,有效期至\n"
        "Y1,甲,HJ-2020-0001,电工作业,熔化焊接与热切割作业,局,2024-01-01,2029-01-01\n"
        "Y2,乙,HJ-2020-0002,焊接与热切割,熔化焊接与热切割作业,局,2024-01-01,2029-01-01\n",
        encoding="utf-8",
    )
    rc, report = run_json(str(tmp_path / "r.csv"), "-c", str(p.config), capsys=capsys)
    assert rc == 1
    assert [(b["row"], b["code"]) for b in report["bad_rows"]] == [(2, "CATEGORY_MISMATCH")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01", date(2024, 3, 1)),
        ("2024/3/1", date(2024, 3, 1)),
        ("2024.03.01", date(2024, 3, 1)),
        ("20240301", date(2024, 3, 1)),
        ("2024年3月1日", date(2024, 3, 1)),
        ("二〇二四年三月一日", date(2024, 3, 1)),
        ("二〇二四年十二月三十一日", date(2024, 12, 31)),
        ("1-Mar-24", date(2024, 3, 1)),
        ("01-Mar-2024", date(2024, 3, 1)),
        ("3/31/2024", date(2024, 3, 31)),
        ("31/3/2024", date(2024, 3, 31)),
        ("2024/3/1 0:00", date(2024, 3, 1)),
        ("45352", date(2024, 3, 1)),
    ],
)
def test_every_date_excel_shows(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["3/4/2024", "2024-13-45", "明天", "Mar-24"])
def test_dates_that_cannot_be_told_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="date"):
        parse_date(text)


def test_mixed_encoding_csv_is_refused_with_the_row(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    f = tmp_path / "mixed.csv"
    f.write_bytes("工号,姓名\nW1,张伟\n".encode() + "W2,李娜\n".encode("gbk"))
    rc, report = run_json(str(f), "-c", str(p.config), capsys=capsys)
    assert rc == ExitCode.DATA and report["code"] == "ENCODING_MIXED" and report["rows"] == [3]
    assert registry_workers(p) == {}


FIELD_OUTCOMES = {
    "r1_fullwidth_header.csv": {"W101": "王小明"},
    "r1b_star_header.csv": {"W111": "钱三"},
    "r2_zh_builtin_date31.xlsx": {"W102": "赵六"},
    "r6_merged_title_row.xlsx": {"W108": "郑十"},
    "r4b_big5.csv": {"W113": "陳志明", "W114": "林美玲"},
}


@pytest.mark.parametrize("name", sorted(FIELD_OUTCOMES))
def test_field_case_rosters_import_right(
    name: str, provision: ProvisionFn, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    rc, report = run_json(str(FIELD / name), "-c", str(p.config), capsys=capsys)
    assert rc == 0, report
    workers = registry_workers(p)
    for wid, who in FIELD_OUTCOMES[name].items():
        assert workers[wid].name == who
    if name.startswith("r2"):
        cert = workers["W102"].certificates[0]
        assert (cert.valid_from, cert.valid_to) == (date(2024, 3, 1), date(2030, 2, 28))


def test_field_case_mixed_encoding_is_refused(
    provision: ProvisionFn, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    rc, report = run_json(str(FIELD / "r4_mixed_utf8_gbk.csv"), "-c", str(p.config), capsys=capsys)
    assert rc == ExitCode.DATA and report["code"] == "ENCODING_MIXED" and report["rows"] == [4]
    assert registry_workers(p) == {}
