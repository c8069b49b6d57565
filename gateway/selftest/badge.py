"""Self-test of the badge reader: its port opens, and a technician's tapped card is read."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from edge.reasons import Lang
from gateway.selftest.outcome import Ask, CheckResult, Status, Words

if TYPE_CHECKING:
    from gateway.config import GatewayConfig

NAME = "badge reader"
NONE = Words("BADGE_NONE", "badge.type 为 none", "badge.type is none")
UNATTENDED = Words(
    "BADGE_UNATTENDED",
    "{port} 可以打开；终端前无技术员，未做刷卡测试",
    "{port} opens; no tap test without a technician at the terminal",
    "在网关的终端上运行 zonegate selftest 并刷一张卡",
    "run zonegate selftest on a terminal at the gateway and tap a card",
)
NO_TAP = Words(
    "BADGE_NO_TAP",
    "{port} 可以打开，但 {budget:.0f} 秒内没有读到卡",
    "{port} opens but no card was read in {budget:.0f} s",
    "检查读卡器的电源和线缆；键盘式读卡器须绑定到此端口（badge.type: file）；"
    "串口读卡器须设对波特率",
    "check the reader's power and cable; a keyboard-wedge reader must be bound to this port "
    "(badge.type: file); a serial one needs the right baudrate",
)
READ = Words("BADGE_OK", "读到卡 {badge}", "card {badge} read")
CANNOT_OPEN = Words(
    "BADGE_PORT",
    "无法打开读卡器：{error}",
    "cannot open the reader: {error}",
    "检查 badge.port（ls /dev/serial/by-id），以及 zonegate 用户是否在 dialout 组",
    "check badge.port (ls /dev/serial/by-id) and that the zonegate user is in dialout",
)
TAP_PROMPT = Words(
    "BADGE_TAP_PROMPT",
    "请在读卡器上刷一张卡（{budget:.0f} 秒内）",
    "tap a card on the reader (within {budget:.0f} s)",
)


async def check_badge_reader(
    cfg: GatewayConfig, budget_s: float, ask: Ask | None, lang: str = Lang.ZH.value
) -> CheckResult:
    """The reader's port opens; with a technician present (``ask`` given), a card tapped
    within ``budget_s`` seconds is read. The prompt is printed in ``lang``."""
    from firmware_adapters.badge.lines import BadgeReaderError, LineBadgeReader

    b = cfg.badge
    if b.type == "none" or b.port is None:
        return NONE.result(NAME, Status.SKIPPED)
    reader = LineBadgeReader(b.port, baudrate=b.baudrate, serial_port=b.type == "serial")
    taps = reader.ids()
    details: dict[str, Any] = {"port": str(b.port), "type": b.type}
    try:
        if ask is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.2):
                    await anext(taps)
            return UNATTENDED.result(NAME, Status.WARN, details, port=b.port)
        print(TAP_PROMPT.say(lang, budget=budget_s), flush=True)
        try:
            async with asyncio.timeout(budget_s):
                badge = await anext(taps)
        except TimeoutError:
            return NO_TAP.result(NAME, Status.FAIL, details, port=b.port, budget=budget_s)
        details["badge"] = badge
        return READ.result(NAME, Status.PASS, details, badge=badge)
    except BadgeReaderError as err:
        return CANNOT_OPEN.result(NAME, Status.FAIL, details, error=err)
    finally:
        await taps.aclose()
