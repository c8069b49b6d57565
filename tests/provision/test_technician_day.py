"""A technician's machine time for one site, measured: provision + roster + enrolment + selftest.

Issue 13 asks for "the time a technician needs for provision + roster + enrolment + selftest,
measured in the test". Each step is the public command a technician types (``zonegate
provision``, ``import-roster`` of an HR workbook as the office sends it, ``enroll --photos`` with
real photos, ``selftest --unattended`` against a real mosquitto with the repository's ACL); each
must succeed, and the timings are printed as one JSON line (``pytest -s``). Human time (reading
the prompts, fixing rows, taking photos) is not in it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import openpyxl
import pytest

from gateway.cli import main
from gateway.exitcodes import ExitCode
from tests.cli_process import zonegate as cli
from tests.provision.conftest import (
    BROKER_PASSWORD,
    REPO,
    Broker,
    ProvisionFn,
    broker_flags,
)
from tests.provision.test_roster_import import day

FACES = REPO / "tests" / "data" / "faces"


def hr_workbook(path: Path) -> Path:
    """Title row, HR headers with an ideographic space and stars, one worker without a card."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["三号焊接区 特种作业人员名单"])
    ws.append(
        [
            "*工　号",
            "*姓名",
            "卡号",
            "特种作业操作证号",
            "操作项目",
            "发证机关",
            "有效期起",
            "有效期至",
        ]
    )
    ws.append(
        [
            "W1",
            "奥巴马",
            "000101",
            "HJ-2024-0001",
            "熔化焊接与热切割作业",
            "上海市应急管理局",
            day(-100),
            day(2000),
        ]
    )
    ws.append(
        [
            "W2",
            "拜登",
            "000102",
            "HJ-2024-0002",
            "熔化焊接与热切割作业",
            "上海市应急管理局",
            day(-100),
            day(2000),
        ]
    )
    ws.append(["制表人：张三"])
    wb.save(path)
    return path  # fmt: skip


def zonegate(*args: str) -> tuple[int, float]:
    """Run ``zonegate ARGS`` as a technician's shell does; exit code and seconds taken."""
    started = time.monotonic()
    proc = cli(*args, timeout=300)
    took = time.monotonic() - started
    assert proc.returncode == ExitCode.OK, (args[0], proc.stdout[-2000:], proc.stderr[-2000:])
    return proc.returncode, took


def test_a_technicians_day_at_one_zone(
    provision: ProvisionFn,
    broker: Broker,
    central_key: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pw = tmp_path / "pw"
    pw.write_text(BROKER_PASSWORD + "\n")
    scene = FACES / "obama.jpg"  # the file camera stands in for picamera2 (brief)
    started = time.monotonic()
    p = provision(
        *broker_flags(broker.port, pw, central_key),
        template=f"identity:\n  enabled: true\n  camera: {{type: files, paths: [{scene}]}}\n",
    )
    timings = {"provision_s": time.monotonic() - started}
    cfg = str(p.config)
    _, timings["import_roster_s"] = zonegate(
        "import-roster", str(hr_workbook(tmp_path / "名单.xlsx")), "-c", cfg, "--lang", "zh-CN"
    )
    enrol = 0.0
    for wid, photos in [("W1", ["obama.jpg", "obama2.jpg"]), ("W2", ["biden.jpg", "biden2.jpg"])]:
        _, took = zonegate("enroll", wid, "-c", cfg, "--photos", *(str(FACES / f) for f in photos))
        enrol += took
    timings["enroll_2_workers_s"] = enrol
    _, timings["selftest_s"] = zonegate(
        "selftest",
        "-c",
        cfg,
        "--credentials",
        str(p.credentials),
        "--unattended",
        "--lang",
        "zh-CN",
    )
    timings["total_s"] = sum(timings.values())
    # What the day produced, read through the public read-only command.
    capsys.readouterr()
    assert main(["roster", "-c", cfg, "--json"]) == ExitCode.OK
    listed = {w["worker_id"]: w for w in json.loads(capsys.readouterr().out)["workers"]}
    assert sorted(listed) == ["W1", "W2"]
    assert [listed[w]["face_enrolled"] for w in ("W1", "W2")] == [True, True]
    assert listed["W2"]["badge_ids"] == ["000102"]
    with capsys.disabled():
        print(json.dumps({"technician_day": {k: round(v, 2) for k, v in timings.items()}}))
