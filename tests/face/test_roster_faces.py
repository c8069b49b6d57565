"""``zonegate roster`` says who has an enrolled face, after a real ``zonegate enroll`` with real
photos and models (issue 13, finding 19)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.cli import main as zonegate

from .test_zone import Site, site  # noqa: F401 - the CLI test's roster and config


def test_roster_shows_the_enrolled_face(
    site: Site,  # noqa: F811 - the fixture imported above
    faces: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = str(site.config_path)
    photos = [str(faces / "obama.jpg"), str(faces / "obama_knn_test1.jpg")]
    assert zonegate(["enroll", "W1", "--config", config, "--photos", *photos]) == 0
    capsys.readouterr()
    assert zonegate(["roster", "--config", config, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {w["worker_id"]: w["face_enrolled"] for w in report["workers"]} == {
        "W1": True,
        "W2": False,
    }
    assert report["face_store_error"] is None
    monkeypatch.setenv("COLUMNS", "200")
    assert zonegate(["roster", "--config", config, "W1"]) == 0
    assert "已采集" in capsys.readouterr().out
