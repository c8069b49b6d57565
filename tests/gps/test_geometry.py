"""Fence geometry in WGS84: the antimeridian, the poles, self-touching polygons."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from edge.geofence import FenceShape, LocalFrame, distance_m, signed_distance_m
from edge.models import CircleFence, CorridorFence, LatLon, PolygonFence


def ll(lat: float, lon: float) -> LatLon:
    return LatLon(lat=lat, lon=lon)


def square_at_m(lat: float, lon: float, half_m: float) -> PolygonFence:
    f = LocalFrame(lat, lon)
    corners = ((-half_m, -half_m), (half_m, -half_m), (half_m, half_m), (-half_m, half_m))
    return PolygonFence(points=tuple(ll(*f.unproject(x, y)) for x, y in corners))


def planar_square_distance(x: float, y: float, h: float) -> float:
    """Signed distance to the square [-h, h]^2 in the plane, positive inside."""
    dx, dy = abs(x) - h, abs(y) - h
    if dx <= 0 and dy <= 0:
        return -max(dx, dy)
    return -math.hypot(max(dx, 0.0), max(dy, 0.0))


# ---- the antimeridian


def test_circle_across_the_antimeridian() -> None:
    fence = CircleFence(center=ll(10.0, 179.9995), radius_m=200)
    # 0.001 degrees of longitude at 10 N is about 110 m, on the other side of +-180.
    d = signed_distance_m(fence, 10.0, -179.9995)
    assert d == pytest.approx(200 - distance_m(10.0, 179.9995, 10.0, -179.9995), abs=1e-6)
    assert 80 < d < 100
    assert signed_distance_m(fence, 10.0, 0.0) < -1_000_000


def test_polygon_across_the_antimeridian() -> None:
    fence = PolygonFence(
        points=(ll(-0.001, 179.999), ll(-0.001, -179.999), ll(0.001, -179.999), ll(0.001, 179.999))
    )
    for lon in (180.0, -180.0):
        assert signed_distance_m(fence, 0.0, lon) == pytest.approx(111.2, abs=0.2)
    for lon in (179.9995, -179.9995):  # 0.0005 degrees from the east / west edge
        assert signed_distance_m(fence, 0.0, lon) == pytest.approx(55.6, abs=0.2)
    assert signed_distance_m(fence, 0.0, 179.99) < -900  # 1 km west, outside
    assert signed_distance_m(fence, 0.0, -179.99) < -900
    assert signed_distance_m(fence, 0.0, 0.0) < 0  # not "inside" through a wrapped ray


def test_corridor_across_the_antimeridian() -> None:
    fence = CorridorFence(points=(ll(10.0, 179.99), ll(10.0, -179.99)), half_width_m=50)
    assert signed_distance_m(fence, 10.0002, 180.0) == pytest.approx(50 - 22.2, abs=0.5)
    assert signed_distance_m(fence, 10.0, -179.995) == pytest.approx(50, abs=0.1)
    assert signed_distance_m(fence, 10.001, 179.995) < 0  # 111 m off the line
    assert signed_distance_m(fence, 10.0, 179.9) < -8000  # beyond the end of the line


# ---- the poles


def test_circle_at_the_north_pole() -> None:
    fence = CircleFence(center=ll(90.0, 0.0), radius_m=1000)
    for lon in (-180.0, -45.0, 0.0, 123.0, 180.0):
        assert signed_distance_m(fence, 89.995, lon) == pytest.approx(1000 - 556, abs=1)
        assert signed_distance_m(fence, 89.98, lon) < 0


def test_polygon_around_the_north_pole_contains_it() -> None:
    fence = PolygonFence(points=tuple(ll(89.99, lon) for lon in (0.0, 90.0, 180.0, -90.0)))
    assert signed_distance_m(fence, 90.0, 0.0) > 700  # the pole, ~786 m from each edge
    for lon in (-135.0, -45.0, 45.0, 135.0):
        assert signed_distance_m(fence, 89.995, lon) > 0
    assert signed_distance_m(fence, 89.98, 0.0) < 0


def test_polygon_with_a_vertex_at_the_south_pole() -> None:
    fence = PolygonFence(points=(ll(-90.0, 0.0), ll(-89.99, 0.0), ll(-89.99, 90.0)))
    # Inside: near the pole, between the 0 and 90 E meridians.
    assert signed_distance_m(fence, -89.997, 45.0) > 0
    # Outside: the same distance from the pole, on the other side.
    assert signed_distance_m(fence, -89.997, -135.0) < 0
    assert signed_distance_m(fence, -89.997, -45.0) < 0


# ---- self-touching polygons (even-odd rule)


def test_two_lobes_touching_at_one_vertex() -> None:
    f = LocalFrame(31.2, 121.5)  # Shanghai

    def p(x: float, y: float) -> LatLon:
        return ll(*f.unproject(x, y))

    # Two 100 m squares that share only the corner (100, 100), drawn as one ring.
    ring = ((0, 0), (100, 0), (100, 100), (200, 100), (200, 200), (100, 200), (100, 100), (0, 100))
    shape = FenceShape(PolygonFence(points=tuple(p(x, y) for x, y in ring)))

    def at(x: float, y: float) -> float:
        la, lo = f.unproject(x, y)
        return shape.signed_distance_m(la, lo)

    assert at(50, 50) == pytest.approx(50, abs=0.01)
    assert at(150, 150) == pytest.approx(50, abs=0.01)
    assert at(150, 50) == pytest.approx(-50, abs=0.01)  # the empty quadrants are outside
    assert at(50, 150) == pytest.approx(-50, abs=0.01)
    assert abs(at(100, 100)) < 0.01  # the touching point is on the boundary
    assert at(95, 95) > 0
    assert at(105, 95) < 0


def test_keyhole_ring_makes_a_hole() -> None:
    f = LocalFrame(-33.68, 151.29)

    def p(x: float, y: float) -> LatLon:
        return ll(*f.unproject(x, y))

    # Outer 300 m square, inner 100 m square, joined by a zero-width slit along y = 0 -> 100.
    ring = (
        (0, 0), (300, 0), (300, 300), (0, 300), (0, 0),
        (100, 100), (100, 200), (200, 200), (200, 100), (100, 100),
    )  # fmt: skip
    shape = FenceShape(PolygonFence(points=tuple(p(x, y) for x, y in ring)))

    def at(x: float, y: float) -> float:
        la, lo = f.unproject(x, y)
        return shape.signed_distance_m(la, lo)

    assert at(150, 150) == pytest.approx(-50, abs=0.01)  # in the hole: outside
    assert at(250, 150) == pytest.approx(50, abs=0.01)  # in the ring: inside
    assert at(350, 150) < 0


# ---- properties over the whole globe

lats = st.one_of(
    st.floats(-89.9, 89.9),
    st.floats(89.0, 89.999),  # near the north pole
    st.floats(-89.999, -89.0),  # near the south pole
)
lons = st.one_of(
    st.floats(-180.0, 180.0),
    st.floats(179.0, 180.0),  # at the antimeridian
    st.floats(-180.0, -179.0),
)
offsets = st.floats(-2000.0, 2000.0)


@settings(max_examples=300, deadline=None)
@given(lats, lons, offsets, offsets)
def test_frame_round_trip_and_exact_distance_from_origin(
    lat: float, lon: float, x: float, y: float
) -> None:
    f = LocalFrame(lat, lon)
    la, lo = f.unproject(x, y)
    assert -90 <= la <= 90
    assert -180 <= lo <= 180
    assert distance_m(lat, lon, la, lo) == pytest.approx(math.hypot(x, y), abs=1e-3)
    px, py = f.project(la, lo)
    assert px == pytest.approx(x, abs=1e-3)
    assert py == pytest.approx(y, abs=1e-3)


@settings(max_examples=300, deadline=None)
@given(lats, lons, st.floats(20.0, 1000.0), offsets, offsets)
def test_square_fence_matches_plane_geometry_anywhere(
    lat: float, lon: float, half: float, x: float, y: float
) -> None:
    fence = square_at_m(lat, lon, half)
    la, lo = LocalFrame(lat, lon).unproject(x, y)
    expected = planar_square_distance(x, y, half)
    got = signed_distance_m(fence, la, lo)
    # Frames centred on the vertices' mean and on (lat, lon) agree to millimetres at this size.
    assert got == pytest.approx(expected, abs=0.01 + 1e-5 * half)


@settings(max_examples=200, deadline=None)
@given(st.floats(-80.0, 80.0), lons, st.floats(-10.0, 10.0), offsets, offsets)
def test_shifting_fence_and_point_in_longitude_changes_nothing(
    lat: float, lon: float, shift: float, x: float, y: float
) -> None:
    def wrap(v: float) -> float:
        return (v + 180.0) % 360.0 - 180.0

    assume(abs(wrap(lon + shift)) < 180.0)
    a = square_at_m(lat, lon, 300)
    b = square_at_m(lat, wrap(lon + shift), 300)
    la, lo = LocalFrame(lat, lon).unproject(x, y)
    assert signed_distance_m(a, la, lo) == pytest.approx(
        signed_distance_m(b, la, wrap(lo + shift)), abs=0.01
    )


@settings(max_examples=200, deadline=None)
@given(lats, lons, st.floats(10.0, 5000.0), offsets, offsets)
def test_circle_is_radius_minus_great_circle_distance(
    lat: float, lon: float, r: float, x: float, y: float
) -> None:
    la, lo = LocalFrame(lat, lon).unproject(x, y)
    fence = CircleFence(center=ll(lat, lon), radius_m=r)
    assert signed_distance_m(fence, la, lo) == pytest.approx(r - math.hypot(x, y), abs=1e-3)


@settings(max_examples=200, deadline=None)
@given(lats, lons, st.floats(5.0, 200.0), offsets, offsets)
def test_corridor_distance_matches_the_plane(
    lat: float, lon: float, w: float, x: float, y: float
) -> None:
    f = LocalFrame(lat, lon)
    fence = CorridorFence(
        points=(ll(*f.unproject(-1000, 0)), ll(*f.unproject(1000, 0))), half_width_m=w
    )
    la, lo = f.unproject(x, y)
    along = max(0.0, abs(x) - 1000)
    expected = w - math.hypot(along, y)
    assert signed_distance_m(fence, la, lo) == pytest.approx(expected, abs=0.01)
