"""The demo's NMEA log writer: checksums and coordinates as a receiver writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from firmware_adapters.gps.nmea_log import (
    SENTENCES_PER_EPOCH,
    checksum,
    epoch_sentences,
    stand_then_move,
    write_log,
)

from .conftest import NMEA_DIR


def test_checksum_matches_a_real_capture() -> None:
    for line in (NMEA_DIR / "mt3339.log").read_text().splitlines()[:40]:
        if line.startswith("$") and "*" in line:
            body, _, given = line[1:].partition("*")
            assert checksum(body) == given.strip()


def test_coordinates_are_degrees_and_minutes_with_hemispheres() -> None:
    gga, gsa, rmc = epoch_sentences(-33.5, -70.25, datetime(2026, 11, 24, 6, 1, 2, tzinfo=UTC))
    assert gga.startswith("$GPGGA,060102.00,3330.0000,S,07015.0000,W,1,09,0.9,")
    assert gsa.startswith("$GPGSA,A,3,")
    assert rmc.startswith("$GPRMC,060102.00,A,3330.0000,S,07015.0000,W,0.00,0.0,241126,")
    for s in (gga, gsa, rmc):
        body, _, tail = s[1:].partition("*")
        assert tail == checksum(body) + "\r\n"


def test_track_written_one_epoch_a_second(tmp_path: Path) -> None:
    track = stand_then_move(31.2304, 121.4737, stand_s=2, moved_m=111.2, moved_s=1)
    assert track[2][0] == pytest.approx(31.2314, abs=1e-5)
    n = write_log(tmp_path / "t.log", track, start=datetime(2026, 11, 24, 6, 0, tzinfo=UTC))
    lines = (tmp_path / "t.log").read_text().splitlines()
    assert n == 3 * SENTENCES_PER_EPOCH == len([x for x in lines if x.startswith("$")])
    assert lines[1] == "# Date: 2026-11-24"
    rmcs = [x for x in lines if x.startswith("$GPRMC")]
    assert [r.split(",")[1] for r in rmcs] == ["060000.00", "060001.00", "060002.00"]
    # The move is reported as motion: about 111 m in one second, due north.
    speed_kn, course = float(rmcs[2].split(",")[7]), float(rmcs[2].split(",")[8])
    assert speed_kn == pytest.approx(111.2 / 0.514444, rel=0.01)
    assert course == pytest.approx(0.0, abs=0.1)
