"""The installed zonegate version, read from the package metadata (pyproject.toml's one copy)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def _installed_version() -> str:
    try:
        return version("zonegate")
    except PackageNotFoundError:
        # Run from a source tree that was never installed: say so rather than guess a number.
        return "0+unknown"


VERSION = _installed_version()
