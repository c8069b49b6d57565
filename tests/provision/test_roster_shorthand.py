"""HR shorthand for a certificate category (issue 13 #32): 焊工 and 焊接作业 are read as
焊接与热切割作业 like 电工 is read as 电工作业 (the category only, never an operation item);
a word that could name more than one category stays refused with the list of valid values."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.cert_catalogue import CertCategory
from gateway.cli import main
from gateway.exitcodes import ExitCode
from tests.provision.conftest import ProvisionFn
from tests.provision.test_roster_import import day, registry_workers, run_import, write_csv

HR_HEADER = ["工号", "姓名", "特种作业操作证号", "作业类别", "发证机关", "有效期起", "有效期至"]
AUTHORITY = "上海市应急管理局"


def row(wid: str, number: str, kind: str) -> list[str]:
    return [wid, f"人{wid}", number, kind, AUTHORITY, day(-100), day(1500)]


def test_hr_shorthand_reads_as_the_category_only(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    rows = [
        row("S1", "HG-1", "焊工"),
        row("S2", "HG-2", "焊接作业"),
        row("S3", "DG-3", "电工"),
        row("S4", "GC-4", "高空作业"),
    ]
    rc, report = run_import(p, write_csv(tmp_path / "hr.csv", rows, HR_HEADER), capsys=capsys)
    assert rc == ExitCode.OK, report["bad_rows"]
    workers = registry_workers(p)
    got = {
        wid: [(c.category, c.operation_item) for c in workers[wid].certificates]
        for wid in ("S1", "S2", "S3", "S4")
    }
    assert got == {
        "S1": [(CertCategory.WELDING, None)],
        "S2": [(CertCategory.WELDING, None)],
        "S3": [(CertCategory.ELECTRICAL, None)],
        "S4": [(CertCategory.HEIGHT, None)],
    }


def test_an_ambiguous_shorthand_is_refused_with_the_list(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    # 电气: 电工作业, 防爆电气作业 or 煤矿井下电气作业? The sheet must say.
    sheet = write_csv(tmp_path / "hr.csv", [row("S9", "DQ-9", "电气")], HR_HEADER)
    assert main(["import-roster", str(sheet), "-c", str(p.config)]) == ExitCode.FAILED
    out = capsys.readouterr().out
    assert "UNKNOWN_CATEGORY" in out
    assert out.count("熔化焊接与热切割作业") == 1  # the list of valid values, once
    assert "S9" not in registry_workers(p)
