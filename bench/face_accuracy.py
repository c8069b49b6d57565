"""``python bench/face_accuracy.py --pairs FILE.csv --images DIR --json``: FAR / FRR on labelled
pairs at the configured tolerance. The measurement lives in bench/face.py (its ``--pairs`` mode);
this is the command name the issue gives it."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    if "--pairs" not in sys.argv:
        sys.exit("usage: face_accuracy.py --pairs FILE.csv --images DIR [--json]")
    runpy.run_path(str(Path(__file__).with_name("face.py")), run_name="__main__")
