"""Self-test of the position: gpsd gives a fix the daemon's gate accepts, inside the fence."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from gateway.selftest.outcome import CheckResult, Status, Words

if TYPE_CHECKING:
    from gateway.config import GatewayConfig

DISABLED = Words("GPS_DISABLED", "gps.enabled 为 false", "gps.enabled is false")
UNREACHABLE = Words(
    "GPS_GPSD_UNREACHABLE",
    "无法连接 gpsd（{where}）：{error}",
    "gpsd not reachable at {where}: {error}",
    "systemctl status gpsd；/etc/default/gpsd 中的 DEVICES= 应指向接收机",
    "systemctl status gpsd; DEVICES= in /etc/default/gpsd names the receiver",
)
NO_FIX = Words(
    "GPS_NO_FIX",
    "{budget:.0f} 秒内没有有效定位（{tpv} 个报告{rejected_zh}）",
    "no valid fix in {budget:.0f} s ({tpv} reports{rejected_en})",
    "让天线看到开阔天空；冷启动可能需要几分钟；gps.max_eph_m / gps.min_mode 决定何为有效定位",
    "give the antenna open sky; wait for a cold start (up to a few minutes); "
    "gps.max_eph_m / gps.min_mode decide what counts as valid",
)
NO_FENCE = Words(
    "GPS_OK_NO_FENCE",
    "定位有效（未配置区域围栏）",
    "valid fix (no zone fence configured)",
)
INSIDE = Words("GPS_INSIDE", "定位有效，位于区域围栏内", "valid fix inside the zone fence")
OUTSIDE = Words(
    "GPS_OUTSIDE",
    "定位有效，但在区域围栏外{how_far_zh}",
    "valid fix OUTSIDE the zone fence{how_far_en}",
    "终端是否在它的作业区域？否则请修正 zone.geofence",
    "is this terminal at its zone? otherwise correct zone.geofence",
)
UNSETTLED = Words(
    "GPS_UNSETTLED",
    "有有效定位，但位置在 {budget:.0f} 秒内未稳定（需 {dwell} 个一致的定位）",
    "valid fixes but the position did not settle in {budget:.0f} s "
    "(dwell needs {dwell} agreeing fixes)",
    "等待定位更稳定后再次运行自检",
    "wait for a steadier fix and run selftest again",
)


async def check_gps(cfg: GatewayConfig, budget_s: float) -> CheckResult:
    """gpsd gives a fix that passes the daemon's gate, and it is inside the zone's fence.

    ``details["clock_offset_s"]`` (seconds, wall time minus GPS time over believable fixes) is
    what the clock check compares with ``gps.clock_bound_s``.
    """
    if not cfg.gps.enabled:
        return DISABLED.result("gps", Status.SKIPPED)
    from edge.clock import SystemClock
    from edge.geofence import FenceState, GeofencePolicy
    from firmware_adapters.gps.client import GpsdClient, Sky

    g = cfg.gps
    fence = cfg.zone.geofence
    policy = GeofencePolicy(g, fence, SystemClock())
    tracker = policy.tracker
    client = GpsdClient(
        g.host,
        g.port,
        receive_timeout_s=g.receive_timeout_s,
        backoff_initial_s=min(g.reconnect_initial_s, 0.5),
        backoff_max_s=min(g.reconnect_max_s, 2.0),
        log_failures=False,  # the check's line says why, once, in the technician's language
    )
    distance: float | None = None
    offset: float | None = None
    with contextlib.suppress(TimeoutError):
        async with (
            asyncio.timeout(budget_s),
            contextlib.aclosing(client.reports()) as reports,
        ):
            async for report in reports:
                if isinstance(report, Sky):
                    continue
                out = policy.update(report)
                if out.signed_distance_m is not None:
                    distance = out.signed_distance_m
                if out.accepted and tracker.gps_time_believable and report.time is not None:
                    # As edge.position does: the wall time the report arrived minus GPS time.
                    received = time.time() - (time.monotonic() - report.mono_ts)
                    offset = round(received - report.time.timestamp(), 3)
                settled = (
                    tracker.valid if fence is None else tracker.state is not FenceState.UNKNOWN
                )
                if settled and offset is not None:
                    break
    details: dict[str, Any] = {
        "gpsd": f"{g.host}:{g.port}",
        "tpv": client.stats.tpv,
        **tracker.summary(),
        "signed_distance_m": None if distance is None else round(distance, 1),
        "clock_offset_s": offset,
    }
    if not client.stats.connects:
        error = client.stats.last_error or "no answer"
        return UNREACHABLE.result(
            "gps", Status.FAIL, details, where=f"{g.host}:{g.port}", error=error
        )
    if not tracker.valid:
        rejected = ", ".join(f"{k} x{v}" for k, v in tracker.summary()["rejected"].items())
        return NO_FIX.result(
            "gps",
            Status.FAIL,
            details,
            budget=budget_s,
            tpv=client.stats.tpv,
            rejected_zh=f"；被拒：{rejected}" if rejected else "",
            rejected_en=f"; rejected: {rejected}" if rejected else "",
        )
    if fence is None:
        return NO_FENCE.result("gps", Status.PASS, details)
    if tracker.state is FenceState.INSIDE:
        return INSIDE.result("gps", Status.PASS, details)
    if tracker.state is FenceState.OUTSIDE:
        # signed distance: positive inside, negative outside the boundary
        return OUTSIDE.result(
            "gps",
            Status.FAIL,
            details,
            how_far_zh=f" {-distance:.0f} 米" if distance is not None else "",
            how_far_en=f" by {-distance:.0f} m" if distance is not None else "",
        )
    return UNSETTLED.result("gps", Status.FAIL, details, budget=budget_s, dwell=g.dwell_samples)
