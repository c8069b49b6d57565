"""Peak memory of decoding enrolment photos: ``load_photo`` (bounded) vs a plain full decode.

    python bench/photos.py --json

Makes a 108 MP JPEG (12000 x 9000, like a 108 MP phone camera) from a real face photo scaled
up, and uses the 200 MP field case (tests/data/field-cases/photos/header_200mp.jpg). Each decode
runs in its own child process, so ``ru_maxrss`` is that decode's peak alone; the baseline is
the old path (``Image.open(...).convert("RGB")`` at full size) on the same files in the same
run. Last stdout line: one JSON object (RSS in MB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIELD = ROOT / "tests" / "data" / "field-cases" / "photos"

CHILD = """
import resource, sys, warnings
from pathlib import Path
sys.path.insert(0, {root!r})
mode, path = sys.argv[1], Path(sys.argv[2])
outcome = "decoded"
try:
    if mode == "bounded":
        from firmware_adapters.camera.files import PhotoRefused, load_photo
        try:
            shape = load_photo(path).shape
            outcome = f"decoded {{shape[1]}}x{{shape[0]}}"
        except PhotoRefused as err:
            outcome = err.code
    else:
        import numpy as np
        from PIL import Image
        warnings.simplefilter("ignore")
        with Image.open(path) as img:
            shape = np.asarray(img.convert("RGB")).shape
        outcome = f"decoded {{shape[1]}}x{{shape[0]}}"
except Exception as err:  # the baseline's failure mode is part of the figure
    outcome = type(err).__name__
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, outcome)
"""


def measure(mode: str, path: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT)), mode, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split(maxsplit=1)
    return {"peak_rss_mb": round(float(out[0]), 1), "outcome": out[1].strip()}


MAKE = """
import sys
from PIL import Image
src, dst = sys.argv[1], sys.argv[2]
Image.open(src).convert("RGB").resize((12000, 9000)).save(dst, quality=85)
"""


def make_108mp(path: Path) -> None:
    """In a child: Linux carries a parent's peak RSS over ``exec`` into the children it forks
    afterwards, so the 324 MB of making the image must not be in this process."""
    src = ROOT / ".." / "shared" / "data" / "faces" / "obama.jpg"
    if not src.is_file():
        src = FIELD / "obama_exif6.jpg"
    subprocess.run([sys.executable, "-c", MAKE, str(src), str(path)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    result: dict[str, object] = {"bench": "photos"}
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "phone_108mp.jpg"
        make_108mp(big)
        cases = {"108mp": big, "200mp_header": FIELD / "header_200mp.jpg"}
        for name, path in cases.items():
            for mode in ("bounded", "baseline"):
                result[f"{name}_{mode}"] = measure(mode, path)
                if not args.json:
                    print(name, mode, result[f"{name}_{mode}"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
