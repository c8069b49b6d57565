"""Daemon memory: resident set size of the real ``zonegate run`` with identity off and on.

``python bench/memory.py --json`` starts the daemon twice on a temp state directory (a zone,
no sensors, no broker), waits until it logs that it is ready, lets it settle, and reads
``VmRSS`` and the mapped libraries from ``/proc``. Identity on uses the file camera on one
photo, so the face stack (numpy, OpenCV, dlib models) loads as on a site. The last line is one
JSON object: ``rss_mb_identity_off``, ``rss_mb_identity_on`` (the baseline from the same run),
``saved_mb``, and whether numpy / OpenCV were mapped in each.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHOTO_DIRS = (REPO / "tests" / "data" / "faces", REPO.parent / "shared" / "data" / "faces")


def _config(state: Path, identity: bool) -> Path:
    cfg = state.parent / f"gw-{'on' if identity else 'off'}.yaml"
    text = (
        "device:\n  device_id: gw-mem\nzone:\n  site: s\n  zone_id: z\n  work_kinds: [DHZY]\n"
        f"storage:\n  state_dir: {state}\n  min_free_mb: 1\n  reserve_mb: 0\n"
    )
    if identity:
        photos = next((d for d in PHOTO_DIRS if d.is_dir()), None)
        if photos is None:
            raise SystemExit("no photos for the file camera (tests/data/faces or ../shared)")
        photo = sorted(p for p in photos.rglob("*.jpg"))[0]
        text += f"identity:\n  enabled: true\n  camera:\n    type: files\n    paths: [{photo}]\n"
    cfg.write_text(text)
    return cfg


def _measure(identity: bool, settle_s: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="zg-mem-") as tmp:
        state = Path(tmp) / "state"
        cfg = _config(state, identity)
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "-c", str(cfg)],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stderr is not None
            deadline = time.monotonic() + 120
            while "zonegate ready" not in proc.stderr.readline():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"daemon did not start (identity={identity})")
            time.sleep(settle_s)  # models load off the loop after READY
            status = Path(f"/proc/{proc.pid}/status").read_text()
            rss_kb = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS"))
            maps = Path(f"/proc/{proc.pid}/maps").read_text()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {
        "rss_mb": round(rss_kb / 1024, 1),
        "numpy": "numpy/_core" in maps or "numpy/core" in maps,
        "opencv": "cv2" in maps,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the JSON result line last")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds after READY")
    args = ap.parse_args()
    off = _measure(False, args.settle)
    on = _measure(True, args.settle)
    print(f"identity off: {off['rss_mb']} MB (numpy {off['numpy']}, OpenCV {off['opencv']})")
    print(f"identity on:  {on['rss_mb']} MB (numpy {on['numpy']}, OpenCV {on['opencv']})")
    result = {
        "rss_mb_identity_off": off["rss_mb"],
        "rss_mb_identity_on": on["rss_mb"],
        "saved_mb": round(float(on["rss_mb"]) - float(off["rss_mb"]), 1),  # type: ignore[arg-type]
        "numpy_loaded_identity_off": off["numpy"],
        "opencv_loaded_identity_off": off["opencv"],
        "numpy_loaded_identity_on": on["numpy"],
        "opencv_loaded_identity_on": on["opencv"],
    }
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
