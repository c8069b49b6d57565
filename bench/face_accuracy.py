"""``python bench/face_accuracy.py [--pairs FILE.csv] [--images DIR] --json``: FAR / FRR on
labelled pairs at the configured tolerance. Without ``--pairs``, every ordered pair of the
single-face photos in DIR (default ../shared/data/faces). The measurement lives in bench/face.py
(its pairs mode); this is the command name the issue gives it."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    if "--images" not in sys.argv:
        sys.argv += ["--images", str(HERE.parent.parent / "shared" / "data" / "faces")]
    runpy.run_path(str(HERE / "face.py"), run_name="__main__")
