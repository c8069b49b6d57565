"""``zonegate --version`` and ``zonegate logs``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import main, package_version
from gateway.logs_cli import JOURNAL_SOCKET, journal_command
from tests.provision.conftest import ProvisionFn

REPO = Path(__file__).resolve().parents[2]


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"zonegate {package_version()}"
    assert package_version()[0].isdigit()


def test_logs_follows_the_units_journal() -> None:
    assert journal_command(20, True, "1 hour ago") == [
        "journalctl",
        "-u",
        "zonegate.service",
        "-n",
        "20",
        "--no-pager",
        "-o",
        "short-iso",
        "-f",
        "--since",
        "1 hour ago",
    ]


def test_logs_without_journald_says_where_the_log_is(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "logs", "--no-follow", "-c", str(tmp_path / "x")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if JOURNAL_SOCKET.exists():  # a host with journald: journalctl's own answer
        assert "zonegate" not in proc.stderr or proc.returncode == 0
    else:
        assert proc.returncode == 69  # EX_UNAVAILABLE in the one exit-code table (was 1)
        assert "没有运行 journald" in proc.stderr and "2>&1 | tee" in proc.stderr


def test_selftest_speaks_the_configs_language_or_lang(
    provision: ProvisionFn, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()  # device.language defaults to zh-CN
    assert main(["selftest", "-c", str(p.config), "--credentials", str(p.credentials)]) == 0
    out = capsys.readouterr().out
    assert "自检" in out and "全部通过" in out and "通过" in out
    args = ["selftest", "-c", str(p.config), "--credentials", str(p.credentials), "--lang", "en"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "all checks passed" in out and "fix to try" in out


def test_the_roster_header_table_needs_no_gateway(tmp_path: Path) -> None:
    # A technician reads the accepted headers before anything is provisioned: the command
    # failed on the missing /etc/zonegate/gateway.yaml it does not use.
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "import-roster", "--columns", "--lang", "zh-CN",
         "-c", str(tmp_path / "absent.yaml")],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "站点角色" in proc.stdout and "特种作业操作证号" in proc.stdout
    assert proc.stderr == ""


def test_a_closed_pipe_ends_the_output_quietly() -> None:
    # ``zonegate import-roster --columns | head -1``: no BrokenPipeError traceback.
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "import-roster", "--columns"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err
