"""``zonegate import-roster`` with good and bad CSV and XLSX files written by the test."""

from __future__ import annotations

import csv
import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from edge.clock import SystemClock
from edge.journal import Journal
from edge.models import CertCategory, EventKind
from edge.registry import Registry
from gateway.cli import main
from gateway.config import load_config
from gateway.exitcodes import ExitCode
from tests.provision.conftest import Provisioned, ProvisionFn, running_daemon

TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(seventeen: str) -> str:
    """A resident ID number with its GB 11643 check digit."""
    total = sum(int(d) * w for d, w in zip(seventeen, WEIGHTS, strict=True))
    return seventeen + "10X98765432"[total % 11]


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


HEADER = [
    "worker_id",
    "name",
    "badge_ids",
    "employer",
    "cert_number",
    "cert_category",
    "issuing_authority",
    "valid_from",
    "valid_to",
    "next_review",
]
GOOD_ROWS: list[list[Any]] = [
    [
        "W001",
        "张伟",
        "B001",
        "一建",
        "T" + id_number("31010119800101123"),
        "welding",
        "上海市应急管理局",
        day(-700),
        day(1400),
        day(400),
    ],
    [
        "W001",
        "张伟",
        "B001",
        "一建",
        "DG-2021-0007",
        "电工作业",
        "上海市应急管理局",
        day(-1000),
        day(20),
        "",
    ],
    [
        "W002",
        "李娜",
        "B002;B102",
        "二建",
        "GC-2023-0042",
        "高处作业",
        "江苏省应急管理厅",
        day(-300),
        day(1800),
        day(10),
    ],
    ["W003", "王强", "B003", "", "", "", "", "", "", ""],
]


def write_csv(
    path: Path, rows: list[list[Any]], header: list[str] = HEADER, encoding: str = "utf-8-sig"
) -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[Any]], header: list[str] = HEADER) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def run_import(
    p: Provisioned, file: Path, *extra: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    rc = main(["import-roster", str(file), "--config", str(p.config), "--json", *extra])
    out = capsys.readouterr().out.strip().splitlines()
    return rc, json.loads(out[-1])


def registry_workers(p: Provisioned) -> dict[str, Any]:
    reg = Registry(load_config(p.config).registry_path)
    try:
        return {w.worker_id: w for w in reg.workers()}
    finally:
        reg.close()


def test_good_csv_imports_every_worker_and_journals_it(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    rc, report = run_import(p, write_csv(tmp_path / "roster.csv", GOOD_ROWS), capsys=capsys)
    assert rc == 0, report
    assert report["written"] and report["bad_rows"] == []
    assert sorted(report["imported_workers"]) == ["W001", "W002", "W003"]
    assert report["imported_certificates"] == 3

    workers = registry_workers(p)
    assert {c.category for c in workers["W001"].certificates} == {
        CertCategory.WELDING,
        CertCategory.ELECTRICAL,
    }
    assert workers["W002"].badge_ids == ("B002", "B102")
    assert workers["W003"].certificates == ()
    assert workers["W003"].employer is None

    due = {(e["worker_id"], e["due"], e["days_left"]) for e in report["expiring_within_30_days"]}
    assert due == {("W001", "expires", 20), ("W002", "review", 10)}

    cfg = load_config(p.config)
    journal = Journal(cfg.journal_path, SystemClock(), boot_id="test-reader")
    try:
        events = [e for e in journal.events(kind=EventKind.COMMAND) if e.type == "roster_updated"]
    finally:
        journal.close()
    assert len(events) == 1
    assert sorted(events[0].payload["workers"]) == ["W001", "W002", "W003"]
    assert events[0].payload["actor"].startswith("import-roster:")


def test_xlsx_with_chinese_headers_dates_and_numeric_cells(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    header = [
        "工号",
        "姓名",
        "工卡号",
        "单位",
        "证号",
        "作业类别",
        "发证机关",
        "有效期起",
        "有效期至",
    ]
    rows = [
        # Excel keeps dates as dates and card numbers as numbers.
        [
            "W010",
            "赵敏",
            1234567,
            "三建",
            "HJ-2020-0100",
            "焊接与热切割作业",
            "浙江省应急管理厅",
            TODAY - timedelta(days=100),
            TODAY + timedelta(days=2000),
        ],
        [
            "W011",
            "钱进",
            7654321,
            "三建",
            "LD-2020-0101",
            "冶金(有色)生产安全作业",
            "浙江省应急管理厅",
            datetime.combine(TODAY - timedelta(days=5), datetime.min.time()),
            (TODAY + timedelta(days=900)).strftime("%Y年%m月%d日"),
        ],
    ]
    rc, report = run_import(p, write_xlsx(tmp_path / "roster.xlsx", rows, header), capsys=capsys)
    assert rc == 0, report
    workers = registry_workers(p)
    assert workers["W010"].badge_ids == ("1234567",)
    assert workers["W010"].certificates[0].category is CertCategory.WELDING
    assert workers["W011"].certificates[0].category is CertCategory.METALLURGY
    assert workers["W011"].certificates[0].valid_to == TODAY + timedelta(days=900)


BAD_ROWS: list[list[Any]] = [
    *GOOD_ROWS,
    ["W004", "", "B004", "", "", "", "", "", "", ""],  # 6: missing name
    ["W005", "孙丽", "B005", "", "HJ-2020-0005", "welder", "局", day(-10), day(100), ""],  # 7
    ["W006", "周杰", "B006", "", "HJ 2020 0006", "welding", "局", day(-10), day(100), ""],  # 8
    [
        "W007",
        "吴刚",
        "B007",
        "",
        "T" + "310101198001011230",
        "welding",
        "局",
        day(-10),
        day(100),
        "",
    ],  # 9: wrong ID check digit (the right one is not 0)
    # 10: expired, imported all the same (the gate denies CERT_EXPIRED, not UNKNOWN_BADGE)
    ["W008", "郑爽", "B008", "", "HJ-2019-0008", "welding", "局", day(-2000), day(-1), ""],
    ["W009", "冯涛", "B009", "", "HJ-2020-0009", "welding", "局", "2024-13-45", day(100), ""],  # 11
    ["W001", "张三", "B999", "", "", "", "", "", "", ""],  # 12: W001 is 张伟 on row 2
    ["W012", "陈晨", "B002", "", "", "", "", "", "", ""],  # 13: B002 belongs to W002
    ["W013", "褚遂", "B013", "", "DG-2021-0007", "electrical", "局", day(-10), day(100), ""],  # 14
    ["W014", "卫青", "B014", "", "HJ-2020-0014", "welding", "局", day(-10), "", ""],  # 15
]
EXPECTED = {
    6: ("MISSING_FIELD", "W004"),
    7: ("UNKNOWN_CATEGORY", "W005"),
    8: ("MALFORMED_CERT_NUMBER", "W006"),
    9: ("MALFORMED_CERT_NUMBER", "W007"),
    11: ("BAD_DATE", "W009"),
    12: ("DUPLICATE_WORKER", "W001"),
    13: ("DUPLICATE_BADGE", "W012"),
    14: ("DUPLICATE_CERT", "W013"),
    15: ("MISSING_FIELD", "W014"),
}


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_every_bad_row_is_reported_and_nothing_is_imported(
    kind: str, provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    file = (write_csv if kind == "csv" else write_xlsx)(tmp_path / f"bad.{kind}", BAD_ROWS)
    rc, report = run_import(p, file, capsys=capsys)
    assert rc == 1
    got = {b["row"]: (b["code"], b["worker_id"]) for b in report["bad_rows"]}
    assert got == EXPECTED
    assert not report["written"]
    assert registry_workers(p) == {}


def test_partial_imports_only_workers_whose_rows_are_all_good(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    file = write_csv(tmp_path / "bad.csv", BAD_ROWS)
    rc, report = run_import(p, file, "--partial", capsys=capsys)
    assert rc == ExitCode.PARTIAL  # 6, documented: written, some rows refused
    assert report["written"] and report["exit_code"] == ExitCode.PARTIAL
    # W001 is refused whole: row 12 claims its id for another person. W008's certificate
    # expired: imported, and listed as expired.
    assert set(registry_workers(p)) == {"W002", "W003", "W008"}
    assert "W001" in report["refused_workers"]
    assert [(e["worker_id"], e["days_left"]) for e in report["expired"]] == [("W008", -1)]


def test_gbk_csv_from_a_chinese_excel_and_a_table_for_people(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    file = write_csv(tmp_path / "gbk.csv", GOOD_ROWS[1:3], encoding="gbk")
    assert main(["import-roster", str(file), "--config", str(p.config), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "imported 2 worker(s)" in out
    assert "DG-2021-0007" in out  # in the expiring-within-30-days table
    assert registry_workers(p)["W001"].name == "张伟"


def test_unreadable_files_and_missing_columns_are_file_errors(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    no_name = write_csv(tmp_path / "cols.csv", [["W1"]], header=["worker_id"])
    rc, report = run_import(p, no_name, capsys=capsys)
    assert rc == ExitCode.DATA and report["code"] == "NO_HEADER", report
    assert "worker_id" in report["error"] and "no name" in report["error"]
    fake = tmp_path / "fake.xlsx"
    fake.write_text("not a zip")
    rc, report = run_import(p, fake, capsys=capsys)
    assert rc == ExitCode.DATA and "not a readable .xlsx" in report["error"]
    txt = tmp_path / "roster.txt"
    txt.write_text("x")
    rc, report = run_import(p, txt, capsys=capsys)
    assert rc == ExitCode.DATA and ".csv, .xlsx or .xls" in report["error"]


def test_refuses_while_the_daemon_runs_on_the_same_config(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    file = write_csv(tmp_path / "roster.csv", GOOD_ROWS)
    with running_daemon(p.config):
        assert main(["import-roster", str(file), "--config", str(p.config)]) == ExitCode.BUSY
        assert "sudo systemctl stop zonegate" in capsys.readouterr().err
    assert main(["import-roster", str(file), "--config", str(p.config), "--json"]) == 0


def test_dry_run_writes_nothing(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    rc, report = run_import(p, write_csv(tmp_path / "r.csv", GOOD_ROWS), "--dry-run", capsys=capsys)
    assert rc == 0 and not report["written"]
    assert registry_workers(p) == {}
    assert isinstance(date.fromisoformat(report["expiring_within_30_days"][0]["date"]), date)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as a technician's sudo")
def test_sudo_import_leaves_the_stores_to_the_service_user(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service_uid, service_gid = 64999, 64998  # the zonegate user on a real gateway
    p = provision()
    p.state_dir.mkdir(parents=True)
    os.chown(p.state_dir, service_uid, service_gid)
    rc, _ = run_import(p, write_csv(tmp_path / "r.csv", GOOD_ROWS), capsys=capsys)
    assert rc == 0
    files = sorted(p.state_dir.iterdir())
    assert {f.name for f in files} >= {"registry.json", "journal.db"}
    for f in files:
        assert (f.stat().st_uid, f.stat().st_gid) == (service_uid, service_gid), f


def test_a_bad_row_before_a_workers_good_rows_still_refuses_the_worker(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    header = [*HEADER, "remarks"]
    rows = [
        ["W020", "", "B020", "", "", "", "", "", "", "", ""],  # row 2: name missing
        ["W020", "蒋欣", "B020", "", "", "", "", "", "", "", "新员工"],  # row 3: fine by itself
        ["W021", "沈腾", "B021", "", "", "", "", "", "", "", ""],
    ]
    rc, report = run_import(
        p, write_csv(tmp_path / "r.csv", rows, header=header), "--partial", capsys=capsys
    )
    assert rc == ExitCode.PARTIAL
    assert [(b["row"], b["code"]) for b in report["bad_rows"]] == [(2, "MISSING_FIELD")]
    assert report["refused_workers"] == ["W020"]
    assert set(registry_workers(p)) == {"W021"}
    assert report["ignored_columns"] == ["remarks"]


def test_a_badge_held_by_a_worker_already_in_the_registry_is_a_duplicate(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    assert run_import(p, write_csv(tmp_path / "a.csv", GOOD_ROWS), capsys=capsys)[0] == 0
    rows = [["W030", "韩梅", "B002", "", "", "", "", "", "", ""]]  # B002 is W002's card
    rc, report = run_import(p, write_csv(tmp_path / "b.csv", rows), capsys=capsys)
    assert rc == 1
    assert report["bad_rows"][0]["code"] == "DUPLICATE_BADGE"
    assert "W002" in report["bad_rows"][0]["message"]
    # Re-importing the same people with the same cards is an update, not a duplicate.
    assert run_import(p, write_csv(tmp_path / "a.csv", GOOD_ROWS), capsys=capsys)[0] == 0


def test_an_id_number_excel_rounded_is_refused_not_imported_wrong(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    number = int(id_number("31010119800101123").replace("X", "0"))  # typed into a number cell
    rows = [
        ["W040", "杨洋", "B040", "", number, "welding", "局", TODAY, TODAY + timedelta(days=9)],
        ["W041", "朱琳", 123456789012345678, "", "", "", "", "", ""],
    ]
    rc, report = run_import(p, write_xlsx(tmp_path / "r.xlsx", rows, HEADER[:9]), capsys=capsys)
    assert rc == 1
    got = {b["row"]: (b["code"], b["message"]) for b in report["bad_rows"]}
    assert got[2][0] == "MALFORMED_CERT_NUMBER" and "format the column as text" in got[2][1]
    assert got[3][0] == "INVALID" and got[3][1].startswith("badge_ids:")
    assert registry_workers(p) == {}


def test_a_copy_of_the_config_at_another_path_still_sees_the_running_daemon(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12.6: the daemon's state-directory lock, not its command line, says it runs."""
    p = provision()
    copy = tmp_path / "elsewhere" / "copy.yaml"
    copy.parent.mkdir()
    copy.write_text(p.config.read_text(encoding="utf-8"), encoding="utf-8")
    file = write_csv(tmp_path / "roster.csv", GOOD_ROWS)
    with running_daemon(p.config):
        assert main(["import-roster", str(file), "-c", str(copy), "--lang", "en"]) == ExitCode.BUSY
        assert "stop it first" in capsys.readouterr().err
        assert main(["selftest", "-c", str(copy), "--json"]) == 75  # ExitCode.BUSY
    assert registry_workers(p) == {}
