"""The operator API served by the real daemon, and the CLI that reads through it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
from pathlib import Path

from gateway.exitcodes import ExitCode
from gateway.operator_api import call
from tests.cli_process import zonegate as _zonegate
from tests.conditions import until
from tests.core.test_daemon import _config, _start_until_ready


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
        assert isinstance(snap["recent_alerts"], list)  # as the stores' status has them
        text = _zonegate("status", "--config", str(cfg))
        blank = [ln for ln in text.stdout.splitlines() if ln.strip().endswith(":")]
        assert text.returncode == 0 and blank == [], text.stdout  # every health row says something
        listed = _zonegate("permit", "list", "--config", str(cfg), "--json")
        body = json.loads(listed.stdout)
        assert body["source"] == "daemon" and body["permits"] == []
        missing = _zonegate("permit", "show", "P-none", "--config", str(cfg), "--json")
        assert missing.returncode == 1
        assert json.loads(missing.stdout)["reasons"][0]["code"] == "NO_PERMIT"
        assert json.loads(missing.stdout)["reasons"][0]["zh"] == "本区域无有效作业票"
        # A request the API refuses says why in both languages (the validator's own words).
        status, refused = call(sock, "POST", "/gas-tests", {"mode": "portable"})
        assert status == 400 and refused["reasons"][0]["code"] == "REQUEST_INVALID"
        assert "portable tests name the instrument_id and give samples" in refused["detail"]
        assert "便携式检测须填写仪器编号 instrument_id" in refused["detail_zh"]
        said = _zonegate("permit", "show", "P-none", "--config", str(cfg), "--lang", "zh-CN")
        assert said.returncode == 1 and "没有编号为 P-none 的作业许可证" in said.stderr
        busy = _zonegate("reset-store", "journal", "--config", str(cfg), "--lang", "zh-CN")
        assert busy.returncode == ExitCode.BUSY and "zonegate 正在运行：请先停止" in busy.stdout
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=20) == 0
    assert not (tmp_path / "state" / "operator.sock").exists()
    stored = json.loads(_zonegate("status", "--config", str(cfg), "--json").stdout)
    assert stored["running"] is False and "light" not in stored
    listed = json.loads(_zonegate("permit", "list", "--config", str(cfg), "--json").stdout)
    assert listed["source"] == "stores"


def _post_and_hang_up(sock: Path, url: str, body: dict[str, object]) -> None:
    """A caller that sends its request and goes away without reading the answer (a kiosk page
    reloaded mid-action, a curl that gave up)."""
    data = json.dumps(body).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(sock))
        s.sendall(
            f"POST /api/v1{url} HTTP/1.1\r\nHost: zonegate\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )


async def test_the_terminal_is_armed_only_for_a_real_permit_and_only_while_the_caller_waits(
    tmp_path: Path,
) -> None:
    """Found by a fresh-user test: an arm for a permit that does not exist, left by a caller
    that hung up, swallowed the next worker's tap (their entry or exit never recorded)."""
    fifo = tmp_path / "badge.fifo"
    os.mkfifo(fifo)
    cfg = _config(tmp_path)
    with cfg.open("a") as f:
        f.write(f"badge:\n  type: file\n  port: {fifo}\n  debounce_s: 0\n")
    daemon = _start_until_ready(cfg)
    try:
        sock = tmp_path / "state" / "operator.sock"
        bogus = {"action": "start", "permit_id": "../../etc"}
        code, body = await asyncio.to_thread(call, sock, "POST", "/actions", bogus)
        assert code == 404 and body["reasons"][0]["code"] == "NO_PERMIT", body

        _post_and_hang_up(sock, "/actions", {"action": "finish", "timeout_s": 300})
        seen: list[int] = []

        async def free_again() -> bool:
            # A short arm of our own: 504 (nobody tapped) once the hung-up arm is gone,
            # 409 TERMINAL_BUSY while it still holds the terminal.
            short = {"action": "start", "timeout_s": 0.2}
            code, _ = await asyncio.to_thread(call, sock, "POST", "/actions", short)
            seen.append(code)
            return code == 504

        await until(free_again, what="the hung-up caller's arm to be dropped", detail=seen)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            stopped = daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()  # a hang is a failure, never a daemon left running
            stopped = daemon.wait()
    assert stopped == 0
