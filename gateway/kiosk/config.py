"""The ``kiosk:`` section of gateway.yaml: the terminal screen, its voice and tap signals."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from firmware_adapters.bilingual import BilingualValueError
from firmware_adapters.configbase import Section


class VoiceConfig(Section):
    """Spoken prompts in Mandarin, generated on the device by espeak-ng (voice ``cmn``)."""

    enabled: bool = Field(default=True, description="speak admit / deny / alarm prompts")
    mute: bool = Field(default=False, description="generate the prompts but never play them")
    volume: int = Field(default=80, ge=0, le=100, description="percent of espeak-ng's full level")
    voice: str = Field(default="cmn", description="espeak-ng voice (cmn: Mandarin)")
    speed_wpm: int = Field(default=150, ge=80, le=300, description="espeak-ng words per minute")
    player: Literal["auto", "aplay", "paplay"] = Field(
        default="auto", description="auto: aplay (ALSA) if installed, else paplay (PulseAudio)"
    )


class KioskConfig(Section):
    """The page Chromium shows on the touchscreen, served by the daemon on loopback."""

    enabled: bool = Field(default=False, description="serve the kiosk page")
    port: int = Field(default=8780, ge=1, le=65535, description="http://127.0.0.1:PORT/")
    lan_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="also serve a READ-ONLY view (no actions) on every address at this port; "
        "leave unset to keep the page on this device only",
    )
    language: Literal["zh-CN", "en"] | None = Field(
        default=None, description="first language of the page (default: device.language)"
    )
    decision_show_s: float = Field(
        default=6.0, gt=0, le=60, description="how long a tap's decision stays on screen"
    )
    tap_buzzer: bool = Field(
        default=True,
        description="chirp the buzzer at each tap: one short beep admitted, three denied "
        "(the gas alarm is a steady tone)",
    )
    voice: VoiceConfig = VoiceConfig()

    @model_validator(mode="after")
    def _ports_differ(self) -> KioskConfig:
        if self.lan_port is not None and self.lan_port == self.port:
            raise BilingualValueError(
                "kiosk.lan_port must differ from kiosk.port (the LAN view is read-only)",
                "kiosk.lan_port 不能与 kiosk.port 相同（局域网页面是只读的）",
            )
        return self
