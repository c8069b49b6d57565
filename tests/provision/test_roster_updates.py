"""A re-import replaces an existing worker's name and certificates with the sheet's: the
summary says so, per worker (issue 13 #15); a ``--badges`` file naming workers not in the
roster is said in the text too, not only in --json (#20b)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.exitcodes import ExitCode
from tests.provision.conftest import ProvisionFn
from tests.provision.test_roster_import import day, registry_workers, run_import, write_csv

HR_HEADER = ["工号", "姓名", "特种作业操作证号", "作业类别", "发证机关", "有效期起", "有效期至"]
AUTHORITY = "上海市应急管理局"
FIRST = [
    ["A1", "张伟", "HG-2024-0001", "焊接与热切割作业", AUTHORITY, day(-300), day(1500)],
    ["A2", "李娜", "GC-2024-0002", "高处作业", AUTHORITY, day(-300), day(1500)],
]


def test_a_reimport_lists_each_changed_worker(
    provision: ProvisionFn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per worker
    p = provision()
    rc, first = run_import(p, write_csv(tmp_path / "m1.csv", FIRST, HR_HEADER), capsys=capsys)
    assert rc == ExitCode.OK, first
    assert first["updated_workers"] == []
    # The "new card" sheet: A1 with another name and no certificate; A2 unchanged; a card
    # file naming a worker that is not in this roster.
    second = [
        ["A1", "张三丰", "", "", "", "", ""],
        FIRST[1],
    ]
    sheet = write_csv(tmp_path / "m2.csv", second, HR_HEADER)
    cards = write_csv(
        tmp_path / "cards.csv", [["A2", "000102"], ["W999", "000999"]], ["工号", "卡号"]
    )
    args = ["--badges", str(cards)]
    rc, again = run_import(p, sheet, *args, "--dry-run", capsys=capsys)
    assert rc == ExitCode.OK, again
    assert again["updated_workers"] == [
        {
            "worker_id": "A1",
            "name": {"before": "张伟", "after": "张三丰"},
            "certificates_removed": ["HG-2024-0001"],
            "certificates_added": [],
        },
        {
            "worker_id": "A2",
            "certificates_removed": [],
            "certificates_added": [],
            "badges": {"before": [], "after": ["000102"]},
        },
    ]

    base = ["import-roster", str(sheet), "--config", str(p.config), *args]
    assert main([*base, "--dry-run"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "导入后将更新名单中已有的 2 名人员" in out
    assert "A1 张三丰: 姓名 张伟 -> 张三丰；删除证书 HG-2024-0001" in out
    assert "卡号文件中有 1 个工号不在本名单中，其卡号未绑定：W999" in out
    assert registry_workers(p)["A1"].name == "张伟"  # a dry run wrote nothing

    assert main([*base, "--lang", "en"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "updated 2 worker(s) already on the roster" in out
    assert "A1 张三丰: name 张伟 -> 张三丰; certificates removed: HG-2024-0001" in out
    assert "A2 李娜: cards - -> 000102" in out
    assert "not in this roster; their cards were not bound: W999" in out
    assert registry_workers(p)["A1"].certificates == ()

    # The same sheet once more: nothing changes, nothing is listed.
    rc, third = run_import(p, sheet, *args, capsys=capsys)
    assert rc == ExitCode.OK and third["updated_workers"] == []
