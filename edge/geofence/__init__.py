"""Is the terminal where its zone is? Fence geometry, fix gate and fence state, the policy.

- ``edge.geofence.geometry``: distances, the local frame, signed distance to a fence;
- ``edge.geofence.tracker``: the fix gate and the dwell / hysteresis state machine (the pipeline
  per gpsd TPV is in its docstring, ../shared/reference/gps.md §4-6);
- ``edge.geofence.policy``: the position verdict the access decision asks.
- ``edge.geofence.config``: the ``gps:`` section (gpsd connection from the adapter layer, plus
  this policy's settings: fix gate, dwell, hysteresis, jump flags, GPS time trust).

Their public names are importable from ``edge.geofence`` as before.
"""

from __future__ import annotations

from edge.geofence.geometry import (
    EARTH_RADIUS_M,
    FenceShape,
    LocalFrame,
    distance_m,
    signed_distance_m,
)
from edge.geofence.policy import GeofencePolicy
from edge.geofence.tracker import FenceState, FixOutcome, FixReject, GeoEvent, GeofenceTracker

__all__ = [
    "EARTH_RADIUS_M",
    "FenceShape",
    "FenceState",
    "FixOutcome",
    "FixReject",
    "GeoEvent",
    "GeofencePolicy",
    "GeofenceTracker",
    "LocalFrame",
    "distance_m",
    "signed_distance_m",
]
