"""Configuration of the local outputs: stack light, buzzer, interlock relay (placeholder)."""

from __future__ import annotations

from pydantic import Field

from edge.configbase import Section


class OutputsConfig(Section):
    """gpiozero pins; off a Raspberry Pi gpiozero's MockFactory stands in."""

    mock: bool = Field(default=True, description="use gpiozero's MockFactory (off-Pi, demo, tests)")
