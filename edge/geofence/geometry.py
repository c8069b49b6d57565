"""Fence geometry in WGS84: distances, a local metric frame, signed distance to a fence.

Geometry is computed in a local metric frame: an azimuthal-equidistant projection centred on the
fence, built from unit vectors, so the antimeridian and the poles need no special cases. Fences
are assumed to span well under a few hundred kilometres.
"""

from __future__ import annotations

import math

from edge.models import CircleFence, CorridorFence, Geofence, LatLon, PolygonFence

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius

Vec = tuple[float, float, float]


def _unit(lat: float, lon: float) -> Vec:
    la, lo = math.radians(lat), math.radians(lon)
    return (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))


def _dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class LocalFrame:
    """Azimuthal-equidistant plane (east, north in metres) centred on an origin.

    Distances from the origin are exact; shapes within a few hundred kilometres keep their
    metric geometry to well under a metre per kilometre. Built from unit vectors, so it is the
    same calculation at the antimeridian and at a pole.
    """

    def __init__(self, lat: float, lon: float) -> None:
        self.lat = lat
        self.lon = lon
        la, lo = math.radians(lat), math.radians(lon)
        self._up = _unit(lat, lon)
        self._east = (-math.sin(lo), math.cos(lo), 0.0)
        self._north = (-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la))

    @classmethod
    def centred_on(cls, points: tuple[LatLon, ...]) -> LocalFrame:
        """A frame at the normalised mean of the points' unit vectors."""
        vs = [_unit(p.lat, p.lon) for p in points]
        x, y, z = (sum(v[i] for v in vs) for i in range(3))
        norm = math.sqrt(x * x + y * y + z * z)
        if norm < 1e-9:  # points spread around the globe: any origin is as bad as another
            return cls(points[0].lat, points[0].lon)
        return cls(
            math.degrees(math.asin(max(-1.0, min(1.0, z / norm)))), math.degrees(math.atan2(y, x))
        )

    def project(self, lat: float, lon: float) -> tuple[float, float]:
        """(east, north) metres of a point; the antipode of the origin maps far away."""
        v = _unit(lat, lon)
        e, n = _dot(v, self._east), _dot(v, self._north)
        c = max(-1.0, min(1.0, _dot(v, self._up)))
        s = math.hypot(e, n)
        if s < 1e-15:
            return (0.0, 0.0) if c > 0 else (math.pi * EARTH_RADIUS_M, 0.0)
        angle = math.atan2(s, c)
        k = EARTH_RADIUS_M * angle / s
        return (e * k, n * k)

    def unproject(self, east_m: float, north_m: float) -> tuple[float, float]:
        """(lat, lon) of a plane point: the inverse of ``project``."""
        d = math.hypot(east_m, north_m)
        if d == 0:
            return (self.lat, self.lon)
        angle = d / EARTH_RADIUS_M
        ue, un = east_m / d, north_m / d
        v = tuple(
            math.cos(angle) * self._up[i]
            + math.sin(angle) * (ue * self._east[i] + un * self._north[i])
            for i in range(3)
        )
        lat = math.degrees(math.asin(max(-1.0, min(1.0, v[2]))))
        lon = math.degrees(math.atan2(v[1], v[0]))
        return (lat, lon)


def _segment_distance(
    p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]
) -> float:
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    den = dx * dx + dy * dy
    t = 0.0 if den == 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / den))
    return math.hypot(p[0] - (ax + t * dx), p[1] - (ay + t * dy))


def _inside_even_odd(p: tuple[float, float], ring: list[tuple[float, float]]) -> bool:
    # Even-odd ray casting: a self-touching ring (two parts sharing a vertex) counts each part.
    x, y = p
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


class FenceShape:
    """A zone fence prepared once for many signed-distance queries."""

    def __init__(self, fence: Geofence) -> None:
        self.fence = fence
        self._frame: LocalFrame | None = None
        self._ring: list[tuple[float, float]] = []
        if isinstance(fence, PolygonFence | CorridorFence):
            self._frame = LocalFrame.centred_on(fence.points)
            self._ring = [self._frame.project(q.lat, q.lon) for q in fence.points]

    @property
    def kind(self) -> str:
        """The fence's type: circle, polygon or corridor."""
        return self.fence.type

    def signed_distance_m(self, lat: float, lon: float) -> float:
        """Distance to the boundary in metres, positive inside, negative outside."""
        f = self.fence
        if isinstance(f, CircleFence):
            return f.radius_m - distance_m(f.center.lat, f.center.lon, lat, lon)
        assert self._frame is not None
        p = self._frame.project(lat, lon)
        if isinstance(f, CorridorFence):
            d = min(
                _segment_distance(p, self._ring[i], self._ring[i + 1])
                for i in range(len(self._ring) - 1)
            )
            return f.half_width_m - d
        ring = self._ring
        d = min(_segment_distance(p, ring[i - 1], ring[i]) for i in range(len(ring)))
        if d == 0.0:
            return 0.0
        return d if _inside_even_odd(p, ring) else -d


def signed_distance_m(fence: Geofence, lat: float, lon: float) -> float:
    """Signed distance of a point to a fence's boundary (positive inside), metres."""
    return FenceShape(fence).signed_distance_m(lat, lon)
