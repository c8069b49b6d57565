"""Run every capability's check and collect them in the table's order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING

from edge.reasons import Lang
from gateway.selftest.badge import check_badge_reader
from gateway.selftest.broker import check_broker
from gateway.selftest.camera import check_camera
from gateway.selftest.clock import check_clock
from gateway.selftest.gas import check_gas
from gateway.selftest.gps import check_gps
from gateway.selftest.outcome import CRASHED, Ask, Budgets, CheckResult, Status
from gateway.selftest.outputs import check_outputs
from gateway.selftest.sealing import check_sealing
from gateway.selftest.storage import check_disk, check_stores

if TYPE_CHECKING:
    from gateway.config import GatewayConfig


async def run_selftest(
    cfg: GatewayConfig,
    *,
    credentials_dir: Path = Path("/etc/zonegate/credentials"),
    budgets: Budgets | None = None,
    ask: Ask | None = None,
    lang: str = Lang.ZH.value,
) -> list[CheckResult]:
    """Run every check and return them in table order: disk, clock, stores, secrets (sealed
    or plain), gas (one per
    sensor), gps, camera, central key and broker, badge reader, outputs.

    The unattended, networked checks run concurrently within their ``budgets``; the ones that
    need a person (``ask``) follow one at a time. A check that crashes is a ``FAIL`` row
    (``CHECK_CRASHED``), never an exception out of here.
    """
    b = budgets or Budgets()
    results: list[CheckResult] = [
        check_disk(cfg),
        check_stores(cfg),
        check_sealing(cfg, credentials_dir),
    ]

    async def guarded(name: str, check: Awaitable[list[CheckResult]]) -> list[CheckResult]:
        try:
            return await check
        except Exception as err:  # a check that crashes is a failed check, not a crash
            return [CRASHED.result(name, Status.FAIL, err=repr(err))]

    async def one(check: Awaitable[CheckResult]) -> list[CheckResult]:
        return [await check]

    async with asyncio.TaskGroup() as tg:
        gas = tg.create_task(guarded("gas", check_gas(cfg, b.gas_s)))
        gps = tg.create_task(guarded("gps", one(check_gps(cfg, b.gps_s))))
        broker = tg.create_task(guarded("broker", check_broker(cfg, credentials_dir, b.broker_s)))
        camera = tg.create_task(
            guarded("camera", one(asyncio.to_thread(check_camera, cfg, b.camera_frames)))
        )
    for task in (gas, gps, camera, broker):
        results.extend(task.result())
    # With a person: one question at a time, after the unattended checks.
    results.append(await check_badge_reader(cfg, b.tap_s, ask, lang))
    results.append(await check_outputs(cfg, ask, lang))
    gps_offset = next((r.details.get("clock_offset_s") for r in results if r.name == "gps"), None)
    results.insert(1, check_clock(cfg, gps_offset))
    return results
