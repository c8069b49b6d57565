"""The root of every error the edge layer raises on purpose.

A supervisor in the composition root catches ``EdgeError`` for what the zone's policy and
stores refuse, and leaves anything else (a bug) to its generic handler; the aiomqtt habit of
one root per package (``MqttError``).
"""

from __future__ import annotations


class EdgeError(Exception):
    """Base of the edge layer's errors."""


class StoreError(EdgeError):
    """A store (registry, journal, face store) cannot be read or written as asked."""
