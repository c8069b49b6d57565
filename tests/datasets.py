"""Where the tests' real-world inputs are: shipped in tests/data, or beside the repository.

What may be redistributed is shipped in ``tests/data/`` with its provenance and licence beside
it (the gpsd NMEA logs, BSD-2-Clause; White House photos, US public domain; CC0 images; the
field cases made for this project). Third-party press photos are not: they are looked up in
``../shared/data/`` and the tests that need them are skipped, with one reason, when it is absent.
"""

from __future__ import annotations

import os
from os import PathLike
from pathlib import Path, PosixPath

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "tests" / "data"
SHARED = REPO.parent / "shared" / "data"
SHARED_MISSING = (
    f"{SHARED} is absent (a clone of this repository alone): tests that need the third-party "
    "photos kept outside the repository are skipped"
)
"""The one skip reason of every such test (``-rs`` groups them into one line)."""

NMEA_DIR = SHIPPED / "nmea"
FIELD_CASES = SHIPPED / "field-cases"


def shared_available() -> bool:
    return (SHARED / "faces").is_dir()


def face_photo(name: str) -> Path:
    """A face photo by file name: shipped, else from ../shared/data/faces; skips the test when
    neither has it."""
    for folder in (SHIPPED / "faces", SHARED / "faces"):
        if (folder / name).is_file():
            return folder / name
    pytest.skip(SHARED_MISSING)


needs_shared = pytest.mark.skipif(not shared_available(), reason=SHARED_MISSING)
"""For tests that pass third-party photos by path (to the CLI or the camera)."""


class PhotoFolder(PosixPath):
    """The face-photo folder as tests use it (``faces / "obama.jpg"``): each name resolves to
    the shipped copy or the one in ../shared/data, and a photo in neither skips the test."""

    def __truediv__(self, key: str | PathLike[str]) -> Path:  # type: ignore[override]
        return face_photo(os.fspath(key))


FACES = PhotoFolder(SHIPPED / "faces")
