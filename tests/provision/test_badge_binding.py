"""``zonegate bind-badges``: cards tapped at the reader bound to workers imported without."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.exitcodes import ExitCode
from tests.provision.conftest import ProvisionFn
from tests.provision.test_roster_import import registry_workers, write_csv

REPO = Path(__file__).resolve().parents[2]


def test_tapping_cards_binds_them_in_order_and_refuses_a_taken_card(
    provision: ProvisionFn, tmp_path: Path
) -> None:
    fifo = tmp_path / "badge.fifo"
    os.mkfifo(fifo)
    p = provision(template=f"badge:\n  type: file\n  port: {fifo}\n  mode: in\n")
    roster = write_csv(
        tmp_path / "r.csv",
        [["A1", "甲", "", ""], ["A2", "乙", "", ""], ["A3", "丙", "C-3", ""]],
        header=["工号", "姓名", "卡号", "单位"],
    )
    from gateway.cli import main

    assert main(["import-roster", str(roster), "-c", str(p.config)]) == 0
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "bind-badges",
            "-c",
            str(p.config),
            "--timeout",
            "20",
            "--lang",
            "en",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    fd = os.open(fifo, os.O_WRONLY)  # blocks until bind-badges holds the reader
    try:

        def expect(text: str) -> None:
            deadline = time.monotonic() + 30
            for line in proc.stdout:  # type: ignore[union-attr]
                assert time.monotonic() < deadline
                if text in line:
                    return
            raise AssertionError(f"{text!r} never printed: {proc.stderr.read()}")  # type: ignore[union-attr]

        expect("tap the card of A1")
        os.write(fd, b"C-3\n")  # A3's card: refused, asked again
        expect("already belongs to A3")
        os.write(fd, b"000101\n")
        expect("bound 000101 -> A1")
        expect("tap the card of A2")
        os.write(fd, b"000102\n")
        expect("bound 000102 -> A2")
    finally:
        os.close(fd)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "bound 2, skipped 0" in out
    workers = registry_workers(p)
    assert workers["A1"].badge_ids == ("000101",)
    assert workers["A2"].badge_ids == ("000102",)
    assert workers["A3"].badge_ids == ("C-3",)


def test_a_reader_that_cannot_be_opened_is_said_in_the_technicians_language(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Printed as "badge reader: <English error>" under zh-CN (issue 13 item 3 sweep).
    gone = tmp_path / "no-such-reader"
    p = provision(template=f"badge:\n  type: file\n  port: {gone}\n  mode: in\n")
    roster = write_csv(
        tmp_path / "r.csv", [["A1", "甲", "", ""]], header=["工号", "姓名", "卡号", "单位"]
    )
    from gateway.cli import main

    assert main(["import-roster", str(roster), "-c", str(p.config)]) == 0
    capsys.readouterr()
    args = ["bind-badges", "-c", str(p.config), "--timeout", "2"]
    assert main(args) == ExitCode.UNAVAILABLE
    err = capsys.readouterr().err
    assert "无法打开读卡器" in err and "badge.port" in err and "badge reader:" not in err
    assert main([*args, "--lang", "en"]) == ExitCode.UNAVAILABLE
    assert "badge reader: " in capsys.readouterr().err
