"""``zonegate enroll`` inputs (issue 13 #23): a photo whose header declares 200 MP is judged
reduced and the row says so (image too large, the declared size), not a bare FACE_NOT_FOUND;
a command line none of whose photos can be read exits 66 (README), before any model loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main as zonegate
from gateway.exitcodes import ExitCode
from tests.datasets import FIELD_CASES

from .test_zone import Site, site  # noqa: F401 - the CLI test's roster and config


def test_a_200_mp_header_is_said_as_too_large_with_its_declared_size(
    site: Site,  # noqa: F811 - the fixture imported above
    faces: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # one line per table row
    photos = [str(FIELD_CASES / "photos" / "header_200mp.jpg"), str(faces / "obama.jpg")]
    base = ["enroll", "W1", "--config", str(site.config_path), "--photos", *photos]
    zonegate([*base, "--lang", "zh-CN"])
    zh = capsys.readouterr().out
    assert "照片太大：文件声明 16320 x 12240 像素（200 百万像素）" in zh
    zonegate([*base, "--lang", "en"])
    en = capsys.readouterr().out
    assert "image too large: the file declares 16320 x 12240 px (200 MP)" in en
    # An ordinary photo gets no such note.
    assert en.count("image too large") == 1


def test_every_photo_missing_is_exit_66_naming_them(
    site: Site,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gone = [str(tmp_path / "x1.jpg"), str(tmp_path / "x2.jpg")]
    base = ["enroll", "W1", "--config", str(site.config_path), "--photos", *gone]
    assert zonegate([*base, "--lang", "zh-CN"]) == ExitCode.NO_INPUT  # 66
    out = capsys.readouterr().out
    assert "找不到或无法读取任何照片" in out and "x1.jpg" in out and "x2.jpg" in out
    assert zonegate([*base, "--lang", "en"]) == ExitCode.NO_INPUT
    assert "none of the photos can be read" in capsys.readouterr().out
