"""``zonegate roster``: the imported workers as the registry holds them, read-only, also while
the daemon runs (issue 13, finding 19: no CLI showed whether 陳志明 or card 000123 came in right);
and ``zonegate status`` speaking the technician's language."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.config import load_config
from gateway.exitcodes import ExitCode
from tests.provision.conftest import Provisioned, ProvisionFn, running_daemon
from tests.provision.test_roster_import import TODAY, day

REPO = Path(__file__).resolve().parents[2]
ROSTER = (
    "工号,姓名,卡号,单位,证号,操作项目,发证机关,有效期起,有效期至,复审日期,站点角色\n"
    f"W001,张伟,000123;B2,一建,HJ-2020-0001,熔化焊接与热切割作业,上海市应急管理局,"
    f"{day(-2000)},{day(-10)},,安全员\n"
    f"W001,张伟,000123;B2,一建,DG-2024-0002,低压电工作业,上海市应急管理局,"
    f"{day(-300)},{day(1500)},{day(400)},安全员\n"
    "W002,陳志明,,,,,,,,,\n"
)


def _imported(p: Provisioned, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "roster.csv"
    f.write_text(ROSTER, encoding="utf-8")
    assert main(["import-roster", str(f), "-c", str(p.config)]) == ExitCode.OK
    capsys.readouterr()


def _roster(
    capsys: pytest.CaptureFixture[str], p: Provisioned, *extra: str
) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()  # what came before (provision's summary)
    rc = main(["roster", "-c", str(p.config), "--json", *extra])
    return rc, json.loads(capsys.readouterr().out)


def test_roster_lists_the_workers_with_badges_certificates_roles_and_face(
    provision: ProvisionFn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = provision()
    rc, report = _roster(capsys, p)
    assert rc == ExitCode.OK and report["registry_exists"] is False and report["workers"] == []
    _imported(p, tmp_path, capsys)
    rc, report = _roster(capsys, p)
    assert rc == ExitCode.OK and report["count"] == 2
    w1, w2 = report["workers"]
    assert (w1["worker_id"], w1["name"], w1["badge_ids"]) == ("W001", "张伟", ["000123", "B2"])
    assert w1["site_roles"] == ["safety_officer"] and w1["face_enrolled"] is False
    certs = {c["number"]: c for c in w1["certificates"]}
    assert certs["HJ-2020-0001"]["expired"] is True
    assert certs["HJ-2020-0001"]["operation_item_zh"] == "熔化焊接与热切割作业"
    assert certs["DG-2024-0002"]["valid_to"] == day(1500)
    assert certs["DG-2024-0002"]["next_review"] == day(400)
    assert (w2["name"], w2["badge_ids"], w2["certificates"]) == ("陳志明", [], [])

    monkeypatch.setenv("COLUMNS", "200")
    assert main(["roster", "-c", str(p.config)]) == ExitCode.OK
    zh = capsys.readouterr().out
    for words in (
        "人员名单（2 人）",
        "陳志明",
        "000123",
        "熔化焊接与热切割作业",
        "已过期",
        "安全员",
    ):
        assert words in zh, zh
    assert f"复审 {day(400)}" in zh and "未采集" in zh
    assert main(["roster", "-c", str(p.config), "--lang", "en", "W002"]) == ExitCode.OK
    en = capsys.readouterr().out
    assert "Roster (1 worker(s))" in en and "陳志明" in en and "张伟" not in en
    # A worker asked for who is not there: exit 1, named.
    assert main(["roster", "-c", str(p.config), "W001", "W404"]) == ExitCode.FAILED
    out = capsys.readouterr()
    assert "名单中没有：W404" in out.err and "张伟" in out.out


def test_a_face_store_it_cannot_read_is_a_question_mark_not_a_no(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    _imported(p, tmp_path, capsys)
    cfg = load_config(p.config)
    cfg.identity.store_path(cfg.storage.state_dir).write_bytes(b"not a face store")
    rc, report = _roster(capsys, p)
    assert rc == ExitCode.OK
    assert [w["face_enrolled"] for w in report["workers"]] == [None, None]
    assert "device key" in report["face_store_error"]  # a store without its key
    assert main(["roster", "-c", str(p.config)]) == ExitCode.OK
    assert "无法读取人脸库" in capsys.readouterr().out


def test_roster_reads_while_the_daemon_runs_and_writes_nothing(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    _imported(p, tmp_path, capsys)
    registry = load_config(p.config).registry_path
    with running_daemon(p.config):
        before = (registry.read_bytes(), registry.stat().st_mtime_ns)
        proc = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "roster", "-c", str(p.config), "--json"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == ExitCode.OK, proc.stderr
        assert [w["worker_id"] for w in json.loads(proc.stdout)["workers"]] == ["W001", "W002"]
        assert (registry.read_bytes(), registry.stat().st_mtime_ns) == before


def test_status_labels_speak_the_technicians_language(
    provision: ProvisionFn, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Finding 19: "daemon: not running  clock: none  pending: 5" and English columns under zh-CN.
    monkeypatch.setenv("COLUMNS", "200")
    p = provision()
    capsys.readouterr()
    assert main(["status", "-c", str(p.config)]) == ExitCode.OK
    zh = capsys.readouterr().out
    assert "守护进程：未运行" in zh and "待上传：0" in zh and "时钟：" in zh, zh
    assert "作业票" in zh and "有效期至" in zh and "区域内人员" in zh and "进入时间" in zh
    assert "daemon:" not in zh and "pending:" not in zh and "valid to" not in zh
    assert main(["status", "-c", str(p.config), "--lang", "en"]) == ExitCode.OK
    en = capsys.readouterr().out
    assert "daemon: not running" in en and "pending: 0" in en and "valid to" in en
    assert "守护进程" not in en


def test_today_is_the_zones_day() -> None:
    assert TODAY.isoformat() == day(0)  # the fixtures' dates are relative to the zone's day
