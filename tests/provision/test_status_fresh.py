"""``zonegate status`` on a gateway provisioned a minute ago: no registry, no journal (issue 13).

It must say so plainly and exit 0, and reading the status must not create the stores.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gateway.exitcodes import ExitCode
from tests.provision.conftest import ProvisionFn

REPO = Path(__file__).resolve().parents[2]


def _status(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "status", "-c", str(config), *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


def test_status_right_after_provisioning_names_the_state_and_exits_0(
    provision: ProvisionFn,
) -> None:
    p = provision()
    assert not (p.state_dir / "journal.db").exists()
    proc = _status(p.config)
    assert proc.returncode == ExitCode.OK, proc.stderr
    assert "尚未启动过" in proc.stdout and "not started yet" in proc.stdout
    assert "待上传：0" in proc.stdout  # zh-CN labels (finding 19); English with --lang en
    assert "store problem" not in proc.stdout and "Traceback" not in proc.stderr
    # reading the status wrote nothing
    assert not (p.state_dir / "journal.db").exists()
    assert not (p.state_dir / "registry.json").exists()

    proc = _status(p.config, "--json")
    assert proc.returncode == ExitCode.OK, proc.stderr
    snap = json.loads(proc.stdout)
    assert snap["stores_exist"] == {"registry": False, "journal": False}
    assert snap["registry_problems"] == [] and snap["journal_problems"] == []
    assert snap["running"] is False
