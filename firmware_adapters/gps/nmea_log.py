"""Write an NMEA-0183 log (GGA, GSA, RMC per epoch) for gpsfake to replay through gpsd.

For the demo, whose zone is not where any real capture was recorded: the terminal stands at the
zone, then (optionally) is carried elsewhere. Tests use the real captures in ../shared/data/nmea.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

SENTENCES_PER_EPOCH = 3


def checksum(body: str) -> str:
    """The NMEA checksum: XOR of the characters between ``$`` and ``*``, two hex digits."""
    c = 0
    for ch in body.encode("ascii"):
        c ^= ch
    return f"{c:02X}"


def _sentence(body: str) -> str:
    return f"${body}*{checksum(body)}\r\n"


def _angle(value: float, lat: bool) -> tuple[str, str]:
    hemi = ("N" if value >= 0 else "S") if lat else ("E" if value >= 0 else "W")
    v = abs(value)
    deg = int(v)
    minutes = (v - deg) * 60
    width = 2 if lat else 3
    return f"{deg:0{width}d}{minutes:07.4f}", hemi


def epoch_sentences(
    lat: float,
    lon: float,
    when: datetime,
    *,
    speed_knots: float = 0.0,
    track_deg: float = 0.0,
    hdop: float = 0.9,
    satellites: int = 9,
) -> list[str]:
    """GGA (3D fix, quality 1), GSA (3D) and RMC (status A) for one epoch."""
    t = when.astimezone(UTC)
    hms = f"{t:%H%M%S}.{t.microsecond // 10_000:02d}"
    la, ns = _angle(lat, lat=True)
    lo, ew = _angle(lon, lat=False)
    prns = ",".join(f"{p:02d}" for p in range(1, satellites + 1))
    prns += "," * (12 - satellites)
    pdop, vdop = round(hdop * 1.6, 1), round(hdop * 1.3, 1)
    return [
        _sentence(f"GPGGA,{hms},{la},{ns},{lo},{ew},1,{satellites:02d},{hdop:.1f},12.0,M,7.0,M,,"),
        _sentence(f"GPGSA,A,3,{prns},{pdop:.1f},{hdop:.1f},{vdop:.1f}"),
        _sentence(
            f"GPRMC,{hms},A,{la},{ns},{lo},{ew},{speed_knots:.2f},{track_deg:.1f},{t:%d%m%y},,,A"
        ),
    ]


def write_log(
    path: Path,
    track: Sequence[tuple[float, float]],
    *,
    start: datetime | None = None,
    hdop: float = 0.9,
) -> int:
    """Write one epoch per ``(lat, lon)`` of ``track``, one second apart; returns the sentences.

    Speed and course come from the track itself, so a deliberate move looks like one to the
    jump check only when it really is implausible.
    """
    t0 = (start or datetime.now(UTC)).replace(microsecond=0)
    lines = [
        "# zonegate demo log: synthetic NMEA, not a receiver capture\r\n",
        f"# Date: {t0:%Y-%m-%d}\r\n",
    ]
    prev: tuple[float, float] | None = None
    for i, (lat, lon) in enumerate(track):
        knots, course = 0.0, 0.0
        if prev is not None:
            dn = math.radians(lat - prev[0]) * 6_371_008.8
            de = math.radians(lon - prev[1]) * 6_371_008.8 * math.cos(math.radians(lat))
            knots = math.hypot(dn, de) / 0.514444
            course = math.degrees(math.atan2(de, dn)) % 360
        prev = (lat, lon)
        lines += epoch_sentences(
            lat, lon, t0 + timedelta(seconds=i), speed_knots=knots, track_deg=course, hdop=hdop
        )
    path.write_text("".join(lines), encoding="ascii", newline="")
    return len(track) * SENTENCES_PER_EPOCH


def stand_then_move(
    lat: float, lon: float, *, stand_s: int, moved_m: float = 0.0, moved_s: int = 0
) -> list[tuple[float, float]]:
    """A terminal standing at (lat, lon) for ``stand_s`` epochs, then ``moved_m`` metres north."""
    moved_lat = lat + math.degrees(moved_m / 6_371_008.8)
    return [(lat, lon)] * stand_s + [(moved_lat, lon)] * moved_s
