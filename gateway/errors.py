"""The root of every error the composition root raises on purpose (config, startup, tools)."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of the gateway package's errors: the CLI maps each kind to an exit code."""
