"""With identity off the daemon loads neither numpy nor OpenCV (issue 12.11): the real
``zonegate run``, its mapped libraries read from /proc once it is ready."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_daemon_with_identity_off_maps_no_numpy_nor_opencv(tmp_path: Path) -> None:
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(
        "device:\n  device_id: gw-t\nzone:\n  site: s\n  zone_id: z\n  work_kinds: [DHZY]\n"
        f"storage:\n  state_dir: {tmp_path / 'state'}\n  reserve_mb: 0\n"
        "identity:\n  enabled: false\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "-c", str(cfg)],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        while "zonegate ready" not in proc.stderr.readline():
            assert proc.poll() is None and time.monotonic() < deadline
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    mapped = {line.split()[-1] for line in maps.splitlines() if line.endswith(".so")}
    assert not [m for m in mapped if "/numpy/" in m], "numpy loaded with identity off"
    assert not [m for m in mapped if "/cv2/" in m or "opencv" in m], "OpenCV loaded"
