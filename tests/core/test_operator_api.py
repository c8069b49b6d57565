"""The operator API served by the real daemon, and the CLI that reads through it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.core.test_daemon import REPO, _config, _start_until_ready


def _zonegate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_status_and_permits_live_then_from_the_stores(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    daemon = _start_until_ready(cfg)
    try:
        sock = tmp_path / "state" / "operator.sock"
        assert sock.is_socket()
        assert oct(sock.stat().st_mode & 0o777) == oct(0o660)
        live = _zonegate("status", "--config", str(cfg), "--json")
        assert live.returncode == 0, live.stderr
        snap = json.loads(live.stdout)
        assert snap["running"] is True and snap["ok"] is True
        assert snap["light"] in {"red", "amber", "green"}  # the live controller's, not a store's
        assert snap["air"]["reasons"] == ["NO_AIR_DATA"]  # no sensors configured here
        assert "operator_api" in snap["health"]
        listed = _zonegate("permit", "list", "--config", str(cfg), "--json")
        body = json.loads(listed.stdout)
        assert body["source"] == "daemon" and body["permits"] == []
        missing = _zonegate("permit", "show", "P-none", "--config", str(cfg), "--json")
        assert missing.returncode == 1
        assert json.loads(missing.stdout)["reasons"][0]["code"] == "NO_PERMIT"
        assert json.loads(missing.stdout)["reasons"][0]["zh"] == "本区域无有效作业票"
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=20) == 0
    assert not (tmp_path / "state" / "operator.sock").exists()
    stored = json.loads(_zonegate("status", "--config", str(cfg), "--json").stdout)
    assert stored["running"] is False and "light" not in stored
    listed = json.loads(_zonegate("permit", "list", "--config", str(cfg), "--json").stdout)
    assert listed["source"] == "stores"
