"""The 3-yearly certificate review (复审, 令第30号 Art. 21) in the import summary: an HR sheet
without a 复审日期 column still names the certificates the gate will refuse
CERT_REVIEW_OVERDUE, with the date the gate derives (valid_from + 3 years)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.exitcodes import ExitCode
from tests.provision.conftest import ProvisionFn
from tests.provision.test_roster_import import day, run_import, write_csv

HR_HEADER = ["工号", "姓名", "特种作业操作证号", "作业类别", "发证机关", "有效期起", "有效期至"]
AUTHORITY = "上海市应急管理局"
ROWS = [
    # issued 4 years ago, valid 6: in date, but its review fell due a year ago
    ["R1", "赵一", "HG-2022-0001", "焊接与热切割作业", AUTHORITY, day(-1461), day(730)],
    # issued 3 years minus 10 days ago: the review falls due within 30 days
    ["R2", "钱二", "DG-2023-0002", "电工作业", AUTHORITY, day(-1086), day(1000)],
    # issued a year ago: nothing due
    ["R3", "孙三", "GC-2025-0003", "高处作业", AUTHORITY, day(-365), day(1800)],
]


def test_review_overdue_and_due_are_listed_with_the_derived_date(
    provision: ProvisionFn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per table row: the cells are not folded
    p = provision()
    sheet = write_csv(tmp_path / "hr.csv", ROWS, HR_HEADER)
    rc, report = run_import(p, sheet, capsys=capsys)
    assert rc == ExitCode.OK, report
    overdue = [(e["worker_id"], e["derived_from_valid_from"]) for e in report["review_overdue"]]
    assert overdue == [("R1", True)]
    r1 = report["review_overdue"][0]
    # the date the gate derives: valid_from + 3 years (edge.floors.CERT_REVIEW, 1096 days)
    assert r1["date"] == day(-1461 + 1096) and r1["days_left"] == -365
    due = [(e["worker_id"], e["due"]) for e in report["expiring_within_30_days"]]
    assert due == [("R2", "review")]
    assert report["expiring_within_30_days"][0]["derived_from_valid_from"] is True

    # The text summary, zh-CN: the overdue row, the derived-date note said once.
    rc = main(["import-roster", str(sheet), "--config", str(p.config), "--dry-run"])
    out = capsys.readouterr().out
    assert rc == ExitCode.OK
    assert "HG-2022-0001" in out and "逾期未复审" in out and "DG-2023-0002" in out
    assert "GC-2025-0003" not in out
    assert out.count("按发证日期 + 3 年推算") == 1
    assert "特种作业操作证逾期未复审" in out

    rc = main(["import-roster", str(sheet), "--config", str(p.config), "--dry-run", "--lang", "en"])
    out = capsys.readouterr().out
    assert "review overdue" in out and "valid_from + 3 years" in out


def test_a_recorded_review_date_is_not_marked_derived(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    rows = [[*ROWS[0], day(200)]]  # reviewed: next review recorded in 200 days
    sheet = write_csv(tmp_path / "hr.csv", rows, [*HR_HEADER, "复审日期"])
    rc, report = run_import(p, sheet, capsys=capsys)
    assert rc == ExitCode.OK, report
    assert report["review_overdue"] == [] and report["expiring_within_30_days"] == []
