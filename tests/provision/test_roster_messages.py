"""Row problems name the column as the HR sheet's header does, in zh-CN or English, and the
summary says one consistent thing (issue 13: `issuing_authority` in a Chinese report; "expired
workers imported" above "nothing imported")."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.exitcodes import ExitCode
from tests.provision.conftest import ProvisionFn
from tests.provision.test_roster_import import TODAY, registry_workers

HEADER = "＊工　号,*姓名,门禁卡号,特种作业操作证号,操作项目,发证单位,初领日期,有效期截止"


def _day(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


BAD = [
    f"A1,甲,0001,HJ-2020-0001,熔化焊接与热切割作业,,{_day(-10)},{_day(100)}",  # 2: no 发证单位
    f"A2,乙,0002,HJ-2020-0002,熔化焊接与热切割作业,局,{_day(-10)},2024-13-45",  # 3: bad date
    f"A3,丙,0003,HJ-2020-0003,电气,局,{_day(-10)},{_day(100)}",  # 4: not in the catalogue
    f"A4,丁,0001,HJ-2020-0004,熔化焊接与热切割作业,局,{_day(-10)},{_day(100)}",  # 5: 0001 is A1's
    f"A5,戊,0005,HJ 2020,熔化焊接与热切割作业,局,{_day(-10)},{_day(100)}",  # 6: malformed number
    "A6,,0006,,,,,",  # 7: no name
]


def _json(
    file: Path, config: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, Any]]:
    rc = main(["import-roster", str(file), "-c", str(config), "--json", *extra])
    return rc, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_row_problems_name_the_sheets_headers_in_chinese_and_english(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    rc, report = _json(_csv(tmp_path / "r.csv", BAD), p.config, capsys)
    assert rc == ExitCode.FAILED
    zh = {b["row"]: b["message_zh"] for b in report["bad_rows"]}
    en = {b["row"]: b["message"] for b in report["bad_rows"]}
    assert zh[2] == "证书信息缺少发证单位"
    assert en[2] == "certificate: missing 发证单位 (issuing authority)"
    assert zh[3].startswith("有效期截止：不是日期：'2024-13-45'")
    assert en[3].startswith("有效期截止 (valid to): not a date: '2024-13-45'")
    assert zh[4] == "操作项目“电气”不在特种作业目录中（可用的值见下）"
    assert zh[5] == "门禁卡号 0001 已属于 A1"
    assert en[5] == "门禁卡号 (badge) 0001 already belongs to worker A1"
    assert zh[6].startswith("特种作业操作证号 'HJ 2020' 格式不对")
    assert zh[7] == "缺少*姓名"
    internal = ("issuing_authority", "valid_to", "badge_ids", "cert_number", "operation_item")
    for text in [*zh.values(), *en.values()]:
        assert not any(word in text for word in internal), text


def test_the_table_shows_the_same_words(
    provision: ProvisionFn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps table cells at the terminal's width
    p = provision()
    file = _csv(tmp_path / "r.csv", BAD[:1])
    assert main(["import-roster", str(file), "-c", str(p.config)]) == ExitCode.FAILED
    out = capsys.readouterr().out
    assert "证书信息缺少发证单位" in out and "issuing_authority" not in out
    assert main(["import-roster", str(file), "-c", str(p.config), "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert "certificate: missing 发证单位 (issuing authority)" in out


ALL_EXPIRED = [
    f"E{n},人{n},00{n},HJ-2019-000{n},熔化焊接与热切割作业,局,{_day(-2000)},{_day(-n)}"
    for n in range(1, 4)
]


def test_every_row_expired_and_one_bad_row_is_not_called_imported(
    provision: ProvisionFn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The case that printed both "workers with expired certificates were imported" and
    # "nothing imported": every certificate expired, one row bad, no --partial.
    monkeypatch.setenv("COLUMNS", "250")
    p = provision()
    file = _csv(tmp_path / "r.csv", [*ALL_EXPIRED, "E9,,009,,,,,"])
    assert main(["import-roster", str(file), "-c", str(p.config)]) == ExitCode.FAILED
    out = capsys.readouterr().out
    assert "未导入任何人员" in out
    assert "已导入" not in out.replace("未导入", "")  # no line claims an import
    assert "证书已过期的人员本次未导入" in out
    assert registry_workers(p) == {}
    rc, report = _json(file, p.config, capsys)
    assert rc == ExitCode.FAILED
    assert report["outcome"] == "refused" and not report["written"]

    # a dry run of the good rows: "would be imported", never "imported"
    good = _csv(tmp_path / "good.csv", ALL_EXPIRED)
    assert main(["import-roster", str(good), "-c", str(p.config), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "试运行" in out and "已导入" not in out.replace("未导入", "")

    # written: the expired workers are imported and said to be (the gate denies CERT_EXPIRED)
    assert main(["import-roster", str(good), "-c", str(p.config)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "证书已过期的人员已导入" in out and "未导入任何人员" not in out
    assert set(registry_workers(p)) == {"E1", "E2", "E3"}


def test_file_errors_and_the_models_own_checks_in_the_technicians_language(
    provision: ProvisionFn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Under zh-CN these were English: the file-level refusals (a row pasted from a GBK file, no
    # header) and the certificate model's own checks (validity order, at most 6 years).
    monkeypatch.setenv("COLUMNS", "250")
    p = provision()
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(
        (HEADER + "\n").encode()
        + f"B1,甲,0001,HJ-2020-0001,熔化焊接与热切割作业,局,{_day(-10)},{_day(100)}\n".encode()
        + f"B2,乙,0002,HJ-2020-0002,熔化焊接与热切割作业,局,{_day(-10)},{_day(100)}\n".encode("gbk")
    )
    assert main(["import-roster", str(mixed), "-c", str(p.config)]) == ExitCode.DATA
    err = capsys.readouterr().err
    assert f"{mixed}：第 3 行不是 UTF-8 编码，而第 1、2 行是" in err
    assert "CSV UTF-8" in err and "are not UTF-8" not in err
    assert main(["import-roster", str(mixed), "-c", str(p.config), "--lang", "en"]) == ExitCode.DATA
    assert "row 3 is not UTF-8" in capsys.readouterr().err  # "rows 3 are": finding 14

    headless = tmp_path / "headless.csv"
    headless.write_text("工号,单位\nB1,局\n", encoding="utf-8")
    assert main(["import-roster", str(headless), "-c", str(p.config)]) == ExitCode.DATA
    err = capsys.readouterr().err
    assert "前 10 行中没有含必填列 工号（worker_id）、姓名（name） 的表头行" in err
    assert "第 1 行有 工号、单位，但没有 姓名（name）" in err
    assert "no header row" not in err

    file = _csv(
        tmp_path / "certs.csv",
        [
            f"C1,丙,0011,HJ-2020-0011,熔化焊接与热切割作业,局,{_day(-10)},{_day(-20)}",
            f"C2,丁,0012,HJ-2020-0012,熔化焊接与热切割作业,局,{_day(-10)},{_day(365 * 7)}",
        ],
    )
    rc, report = _json(file, p.config, capsys)
    assert rc == ExitCode.FAILED
    zh = {b["row"]: b["message_zh"] for b in report["bad_rows"]}
    en = {b["row"]: b["message"] for b in report["bad_rows"]}
    assert "应晚于有效期起" in zh[2] and "must be after" not in zh[2]
    assert en[2] == "valid_to must be after valid_from"
    assert "特种作业操作证有效期最长 6 年" in zh[3] and "years at most" not in zh[3]
    assert main(["import-roster", str(file), "-c", str(p.config)]) == ExitCode.FAILED
    out = capsys.readouterr().out
    assert "特种作业操作证有效期最长 6 年" in out and "取值无效" not in out
