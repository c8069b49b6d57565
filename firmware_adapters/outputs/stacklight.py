"""The zone's stack light, buzzer and interlock relay on gpiozero (``signals.Annunciator``).

On a Raspberry Pi gpiozero drives the pins; with ``mock: true`` (off-Pi, demo, tests) its
``MockFactory`` stands in, and the mock pins can be read back to check what was shown.
"""

from __future__ import annotations

import contextlib
from typing import Any

from gpiozero import LED, Buzzer, OutputDevice

from firmware_adapters.errors import DeviceError
from firmware_adapters.outputs.config import OutputsConfig
from firmware_adapters.outputs.signals import Light

TAP_BEEP_S = 0.08


class OutputsError(DeviceError):
    """The GPIO outputs could not be set up (pin busy, no GPIO access)."""


class StackLight:
    """Annunciator on GPIO: exactly one lamp lit, buzzer as asked, relay released on red."""

    def __init__(self, cfg: OutputsConfig, pin_factory: Any | None = None) -> None:
        self.cfg = cfg
        if pin_factory is None and cfg.mock:
            from gpiozero.pins.mock import MockFactory  # only needed off-Pi

            pin_factory = MockFactory()
        self.pin_factory = pin_factory
        self.shown: tuple[Light, bool] | None = None
        self.chirped = 0
        self._lamps: dict[Light, Any] = {}
        self._buzzer: Any | None = None
        self._relay: Any | None = None
        try:
            for light, pin in (
                (Light.RED, cfg.red_pin),
                (Light.AMBER, cfg.amber_pin),
                (Light.GREEN, cfg.green_pin),
            ):
                if pin is not None:
                    self._lamps[light] = LED(
                        pin, active_high=cfg.active_high, pin_factory=pin_factory
                    )
            if cfg.buzzer_pin is not None:
                self._buzzer = Buzzer(
                    cfg.buzzer_pin, active_high=cfg.active_high, pin_factory=pin_factory
                )
            if cfg.relay_pin is not None:
                self._relay = OutputDevice(
                    cfg.relay_pin,
                    active_high=cfg.relay_active_high,
                    initial_value=False,
                    pin_factory=pin_factory,
                )
        except Exception as err:  # gpiozero raises many types (BadPinFactory, PinInvalidPin...)
            self.close()
            raise OutputsError(f"cannot set up GPIO outputs: {err}") from err

    def _work_allowed(self, light: Light) -> bool:
        return light is Light.GREEN or (light is Light.AMBER and self.cfg.relay_on_amber)

    def show(self, light: Light, *, buzzer: bool) -> None:
        """Light one lamp; on a stop the relay releases before any lamp changes."""
        allowed = self._work_allowed(light)
        if not allowed and self._relay is not None:
            self._relay.off()
        for lamp_light, lamp in self._lamps.items():
            if lamp_light is light:
                lamp.on()
            else:
                lamp.off()
        if self._buzzer is not None:
            if buzzer:
                self._buzzer.on()
            else:
                self._buzzer.off()
        if allowed and self._relay is not None:
            self._relay.on()
        self.shown = (light, buzzer)

    def chirp(self, *, allowed: bool) -> None:
        """A tap's pattern: one 80 ms beep admitted, three denied (``signals.TapChirp``).

        Silent while the alarm tone sounds: the alarm must stay a steady tone, and gpiozero's
        ``beep`` would replace it with the pattern and leave the buzzer off.
        """
        if self._buzzer is None or (self.shown is not None and self.shown[1]):
            return
        self._buzzer.beep(on_time=TAP_BEEP_S, off_time=TAP_BEEP_S, n=1 if allowed else 3)
        self.chirped += 1

    def state(self) -> dict[str, bool]:
        """What the outputs are doing now (read back from gpiozero)."""
        out = {light.value: bool(lamp.value) for light, lamp in self._lamps.items()}
        if self._buzzer is not None:
            out["buzzer"] = bool(self._buzzer.value)
        if self._relay is not None:
            out["relay"] = bool(self._relay.value)
        return out

    def close(self) -> None:
        """Release every GPIO device; safe to call twice."""
        for dev in (*self._lamps.values(), self._buzzer, self._relay):
            if dev is not None:
                with contextlib.suppress(Exception):
                    dev.close()
        self._lamps.clear()
        self._buzzer = self._relay = None
