"""bench/sync.py's outage figure runs (with a short outage) and reports what it measured.

The figure itself (p50 seconds from the broker's return to the first event at central, against
the 60 s-cap baseline) is judged from the bench's JSON line, never asserted against a time here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_outage_figure_is_measured_for_both_gateways(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "sync.py"), "--only-outage", "--outage-s", "2",
         "--outage-runs", "1", "--json", "--state-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outage_s"] == 2
    assert result["outage_runs"] == 1
    for key in ("outage_first_event_p50_s", "outage_first_event_max_s", "outage_cap60_p50_s"):
        assert isinstance(result[key], float)
        assert result[key] >= 0
    assert "outage run 1/1" in done.stderr
