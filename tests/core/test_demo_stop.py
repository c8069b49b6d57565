"""Ctrl-C in ``zonegate demo`` stops everything in order without a traceback (a fresh-user
finding: tracebacks after Ctrl-C). The signal goes to the whole process group, as a terminal
sends it; the demo runs on its real parts (mosquitto, gpsd, pty simulators, face encoder)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from gateway.local_broker import LocalBroker

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not LocalBroker.available(), reason="the demo needs mosquitto")
def test_ctrl_c_stops_the_demo_and_its_processes_without_a_traceback() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "demo", "--lang", "en"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, to send Ctrl-C the way a terminal does
    )
    assert proc.stdout is not None
    try:
        seen: list[str] = []
        for line in proc.stdout:  # mid-story: the gateway, broker, gpsd and sims are running
            seen.append(line)
            if "The guardian W001 badges in" in line:
                break
        assert seen and "badges in" in seen[-1], "".join(seen)
        state = re.search(r"state in (\S+)", "".join(seen))
        assert state is not None
        children = psutil.Process(proc.pid).children(recursive=True)
        assert any("mosquitto" in c.name() for c in children)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err + out, err[-4000:]
    assert "stopping the demo (Ctrl-C)" in out and "demo interrupted" in out
    assert "demo finished" not in out
    # Stopped in order, not abandoned: no child left running, the state directory removed.
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [c.cmdline() for c in alive]
    assert not Path(state.group(1)).exists()
