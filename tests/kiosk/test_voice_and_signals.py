"""Spoken prompts from the real espeak-ng, played by the real aplay (no sound card here: the
failure is kept in health and nothing breaks), and the buzzer's tap patterns on gpiozero's
MockFactory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edge.reasons import ReasonCode
from firmware_adapters.outputs.config import OutputsConfig
from firmware_adapters.outputs.signals import Light
from firmware_adapters.outputs.stacklight import StackLight
from gateway.kiosk.config import KioskConfig, VoiceConfig
from gateway.kiosk.feed import reason_view
from gateway.kiosk.guidance import SPOKEN, next_step
from gateway.kiosk.voice import Voice

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng not installed (make test installs it)"
)


@needs_espeak
async def test_prompts_are_generated_in_mandarin_once(tmp_path: Path) -> None:
    voice = Voice(VoiceConfig(volume=50), tmp_path / "voice")
    await voice.prepare()
    assert sorted(voice.files) == sorted(SPOKEN)
    for path in voice.files.values():
        head = path.read_bytes()[:12]
        assert head[:4] == b"RIFF" and head[8:12] == b"WAVE"
    stamps = {k: p.stat().st_mtime_ns for k, p in voice.files.items()}
    again = Voice(VoiceConfig(volume=50), tmp_path / "voice")
    await again.prepare()
    assert {k: p.stat().st_mtime_ns for k, p in again.files.items()} == stamps  # cached
    louder = Voice(VoiceConfig(volume=90), tmp_path / "voice")
    await louder.prepare()
    assert set(louder.files.values()).isdisjoint(voice.files.values())  # new level, new files


@needs_espeak
async def test_no_sound_card_never_breaks_anything(tmp_path: Path) -> None:
    voice = Voice(VoiceConfig(player="aplay"), tmp_path / "voice")
    await voice.prepare()
    if voice.player() is None:
        pytest.fail("aplay missing: alsa-utils is installed by make test")
    voice.say("admit")
    await voice.drain()  # aplay exits at once without a sound card; with one, it plays
    health = voice.health()
    assert health["played"] + health["failed"] >= 1
    if health["failed"]:
        assert "aplay exit" in str(health["last_error"])
    await voice.aclose()


async def test_mute_and_missing_espeak_skip_quietly(tmp_path: Path) -> None:
    muted = Voice(VoiceConfig(mute=True), tmp_path / "voice")
    await muted.prepare()
    muted.say("deny")
    assert muted.skipped == 1 and muted.played == 0 and muted.failed == 0
    off = Voice(VoiceConfig(enabled=False), tmp_path / "off")
    await off.prepare()
    assert off.files == {} and off.ready.is_set()


def test_tap_chirp_is_distinct_from_the_alarm_and_never_covers_it() -> None:
    factory = MockFactory()
    cfg = OutputsConfig(green_pin=17, amber_pin=27, red_pin=22, buzzer_pin=23)
    light = StackLight(cfg, pin_factory=factory)
    try:
        light.show(Light.GREEN, buzzer=False)
        light.chirp(allowed=False)
        assert light.chirped == 1
        light.show(Light.RED, buzzer=True)  # the alarm: a steady tone
        light.chirp(allowed=True)
        assert light.chirped == 1 and light.state()["buzzer"] is True
    finally:
        light.close()


def test_every_refusal_has_a_next_step_in_both_languages() -> None:
    for code in ReasonCode:
        view = reason_view(code)
        assert view["next_zh"] and view["next_en"]
    assert next_step(ReasonCode.GAS_TEST_STALE) == "请先进行气体分析"
    assert next_step("SOMETHING_NEW") == "请联系安全员"
    assert next_step("ROLE_NOT_ALLOWED") == "请由作业负责人刷卡确认"  # the work cycle's, by name


def test_the_lan_view_needs_its_own_port() -> None:
    with pytest.raises(ValueError, match="lan_port"):
        KioskConfig(port=8780, lan_port=8780)
