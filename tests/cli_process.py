"""``zonegate`` run the way a technician's shell runs it: a subprocess of this interpreter
(``python -m gateway.cli``, so no installed entry point is needed) from the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def zonegate(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``zonegate ARGS``; its exit code and text output, never raising for a non-zero exit.
    ``env`` adds to (does not replace) this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=None if env is None else {**os.environ, **env},
    )
