"""A small tmpfs for the full-disk tests (issue 16): real ENOSPC and short writes, no patching.

Mounting needs root (CAP_SYS_ADMIN); without it the tests that need one are skipped with one
line saying so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_tmpfs(path: Path, size_kb: int) -> Iterator[Path]:
    """Mount a tmpfs of ``size_kb`` KiB at ``path`` for the block; unmount after."""
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.strip()}")
    try:
        yield path
    finally:
        # Keep the journals beside the mount point: the suite's --event-examples hook reads
        # every journal under pytest's temp dir after the run (docs/mqtt/examples).
        kept = path.parent / f"{path.name}-journals"
        for db in path.rglob("*.db"):
            with contextlib.suppress(OSError):
                kept.mkdir(exist_ok=True)
                shutil.copy2(db, kept / f"{db.parent.name}-{db.name}")
                wal = db.with_name(db.name + "-wal")
                if wal.exists():
                    shutil.copy2(wal, kept / f"{db.parent.name}-{db.name}-wal")
        subprocess.run(["umount", "-l", str(path)], check=False)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: Path, leave: int = 0, name: str = "filler") -> Path:
    """Fill the filesystem holding ``path`` until about ``leave`` bytes stay free."""
    filler = path / name
    with filler.open("ab") as f:
        chunk = b"\0" * 65536
        while free_bytes(path) > leave:
            want = min(len(chunk), free_bytes(path) - leave)
            try:
                f.write(chunk[: max(want, 1)])
                f.flush()
            except OSError:
                break
    return filler
