"""Self-test of the outputs: a test pattern on the stack light, buzzer and relay, which the
technician at the gateway watches and confirms (only a person can see a lamp light)."""

from __future__ import annotations

import asyncio
import warnings
from typing import TYPE_CHECKING, Any

from edge.reasons import Lang
from gateway.selftest.outcome import Ask, CheckResult, Status, Words

if TYPE_CHECKING:
    from gateway.config import GatewayConfig

PATTERN_STEP_S = 0.8
"""Seconds each lamp of the test pattern stays lit: long enough for a person to see it."""

PINS_UNUSABLE = Words(
    "OUTPUTS_PINS",
    "输出引脚不可用：{error}",
    "output pins unusable: {error}",
    "检查 outputs: 中的引脚号，以及 zonegate 用户是否在 gpio 组",
    "check the pin numbers in outputs:, and that the zonegate user is in gpio",
)
MOCK = Words(
    "OUTPUTS_MOCK",
    "outputs.mock 为 true：测试图样只在 gpiozero 的模拟引脚上运行，没有灯会亮",
    "outputs.mock is true: the pattern ran on gpiozero's mock pins, no lamp can light",
    "在树莓派上设 outputs.mock: false",
    "set outputs.mock: false on the Raspberry Pi",
)
UNWATCHED = Words(
    "OUTPUTS_UNWATCHED",
    "测试图样已运行；终端前无人确认",
    "the test pattern ran; nobody at the terminal to confirm it",
    "在网关的终端上运行 zonegate selftest 并观察声光报警器",
    "run zonegate selftest on a terminal at the gateway and watch the stack light",
)
QUESTION = Words(
    "OUTPUTS_QUESTION",
    "刚才红、黄、绿灯依次亮起，蜂鸣器响了一声，继电器咔嗒两声：都看到、听到了吗？",
    "did the red, amber and green lamps light in turn, the buzzer sound once and the relay "
    "click twice?",
)
CONFIRMED = Words("OUTPUTS_OK", "技术员已确认测试图样", "test pattern confirmed")
NOT_SEEN = Words(
    "OUTPUTS_NOT_SEEN",
    "技术员没有看到或听到完整的测试图样",
    "the technician did not see or hear the whole test pattern",
    "检查到 BCM 引脚 {pins} 的接线、报警灯的电源，以及 outputs.active_high / relay_active_high",
    "check the wiring to BCM pins {pins}, the stack light's supply, and outputs.active_high / "
    "relay_active_high",
)


async def check_outputs(
    cfg: GatewayConfig, ask: Ask | None, lang: str = Lang.ZH.value
) -> CheckResult:
    """Run the test pattern (red, amber, green, buzzer, relay on and off) and ask the
    technician (in ``lang``) whether they saw and heard it; ends on red with the relay
    released (safe). ``details["read_back"]`` holds the pins' states after each step."""
    from gpiozero.exc import PinFactoryFallback

    from firmware_adapters.outputs.signals import Light
    from firmware_adapters.outputs.stacklight import OutputsError, StackLight

    o = cfg.outputs
    pins = {"red": o.red_pin, "amber": o.amber_pin, "green": o.green_pin}
    pins |= {"buzzer": o.buzzer_pin, "relay": o.relay_pin}
    details: dict[str, Any] = {"pins": pins, "mock": o.mock}
    with warnings.catch_warnings():
        # gpiozero warns in English for each pin library it cannot load (lgpio, RPi.GPIO, ...)
        # before it settles or gives up: this check's line says the outcome.
        warnings.simplefilter("ignore", PinFactoryFallback)
        try:
            light = StackLight(o)
        except OutputsError as err:
            return PINS_UNUSABLE.result("outputs", Status.FAIL, details, error=err)
    seen: list[dict[str, bool]] = []
    # Mock pins are read back, not watched: no need to hold each step.
    step = 0.0 if o.mock else PATTERN_STEP_S
    try:
        for lamp in (Light.RED, Light.AMBER, Light.GREEN):
            light.show(lamp, buzzer=False)  # green also closes the relay: the first click
            seen.append(light.state())
            await asyncio.sleep(step)  # long enough for a person to see each lamp
        light.show(Light.RED, buzzer=True)  # the relay releases: the second click
        seen.append(light.state())
        await asyncio.sleep(step / 2)
        light.show(Light.RED, buzzer=False)
    finally:
        light.close()
    details["read_back"] = seen
    if o.mock:
        return MOCK.result("outputs", Status.WARN, details)
    if ask is None:
        return UNWATCHED.result("outputs", Status.SKIPPED, details)
    if ask(QUESTION.say(lang)):
        return CONFIRMED.result("outputs", Status.PASS, details)
    return NOT_SEEN.result("outputs", Status.FAIL, details, pins=pins)
