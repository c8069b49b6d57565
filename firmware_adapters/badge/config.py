"""Configuration of the badge reader at the zone terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from firmware_adapters.configbase import Section


class BadgeConfig(Section):
    """Card / QR readers that send one badge id per line (serial mode or keyboard wedge)."""

    type: Literal["none", "serial", "file"] = Field(
        default="none",
        description="serial: a UART/USB-CDC reader; file: a tty or FIFO carrying lines "
        "(keyboard-wedge readers bound to a console); none: no reader",
    )
    port: Path | None = Field(default=None, description="/dev/serial/by-id/... or a FIFO path")
    baudrate: int = Field(default=9600, gt=0)
    mode: Literal["toggle", "in", "out"] = Field(
        default="toggle",
        description="toggle: a tap enters when outside and leaves when inside; in/out: "
        "a reader per direction",
    )
    debounce_s: float = Field(
        default=3.0,
        ge=0,
        le=60,
        description="a read of the same badge within this many seconds after its decision is "
        "the same tap (a card held in the field is read several times), not a new one",
    )
