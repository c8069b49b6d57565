"""Configuration of the gas / fume sensors (placeholder until the gas capability lands)."""

from __future__ import annotations

from pydantic import Field

from edge.configbase import Section


class GasConfig(Section):
    """Gas and fume monitoring."""

    sensors: list[dict[str, object]] = Field(
        default_factory=list, description="sensors on UART / RS-485; none configured by default"
    )
