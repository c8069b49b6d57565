"""Configuration of the local outputs: stack light, buzzer, interlock relay (gpiozero, BCM pins)."""

from __future__ import annotations

from pydantic import Field, model_validator

from firmware_adapters.bilingual import BilingualValueError
from firmware_adapters.configbase import Section


class OutputsConfig(Section):
    """gpiozero pins; off a Raspberry Pi (and in the demo and tests) MockFactory stands in.

    The interlock relay is energised only while work may proceed (green, and amber unless
    ``relay_on_amber`` is false): a power cut, a crashed daemon or a red light all leave it
    released, which is the safe state for a welding-set or hot-work power interlock.
    """

    mock: bool = Field(default=True, description="use gpiozero's MockFactory (off-Pi, demo, tests)")
    red_pin: int | None = Field(default=17, ge=0, le=27, description="BCM pin of the red lamp")
    amber_pin: int | None = Field(default=27, ge=0, le=27, description="BCM pin of the amber lamp")
    green_pin: int | None = Field(default=22, ge=0, le=27, description="BCM pin of the green lamp")
    buzzer_pin: int | None = Field(default=23, ge=0, le=27, description="BCM pin of the buzzer")
    relay_pin: int | None = Field(
        default=24, ge=0, le=27, description="interlock relay, energised only on green"
    )
    relay_on_amber: bool = Field(
        default=True,
        description="amber (a warning, permits still active) keeps the interlock energised",
    )
    active_high: bool = Field(default=True, description="lamp / buzzer drivers switch on high")
    relay_active_high: bool = Field(default=False, description="most relay boards are active low")

    @model_validator(mode="after")
    def _distinct(self) -> OutputsConfig:
        pins = [
            p
            for p in (self.red_pin, self.amber_pin, self.green_pin, self.buzzer_pin, self.relay_pin)
            if p is not None
        ]
        if len(pins) != len(set(pins)):
            raise BilingualValueError(
                "two outputs share a GPIO pin",
                "两个输出（灯、蜂鸣器、继电器）用了同一个 GPIO 引脚",
            )
        return self
