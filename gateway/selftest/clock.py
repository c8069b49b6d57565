"""Self-test of the clock: permits are only judged on a trusted wall time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.selftest.outcome import CheckResult, Status, Words

if TYPE_CHECKING:
    from gateway.config import GatewayConfig

GPS_TIME_DIFFERS = Words(
    "CLOCK_GPS_DIFFERS",
    "GPS 时间与系统时间相差 {offset:.0f} 秒（> {bound} 秒）：所有作业票都将被拒绝",
    "GPS time differs from the system clock by {offset:.0f} s (> {bound} s): every permit "
    "would be refused",
    "校准系统时间（timedatectl set-time 或 NTP）；检查接收机的时间",
    "set the clock (timedatectl set-time, or NTP); check the receiver's time",
)
NOT_SYNCHRONISED = Words(
    "CLOCK_NOT_SYNCHRONISED",
    "时间未同步：没有 NTP，也没有可信的 GPS 时间可比对：所有作业票都将被拒绝",
    "not synchronised: no NTP, and no believable GPS time to compare with: every permit would "
    "be refused",
    "timedatectl set-ntp true 并检查到 NTP 服务器的网络；或启用 gps",
    "timedatectl set-ntp true and check the network to an NTP server, or enable gps",
)
ASSUMED = Words(
    "CLOCK_ASSUMED",
    "仅因设置了 clock.assume_trusted 而视为可信（台架设置）",
    "trusted only because clock.assume_trusted is set (bench setting)",
    "网关守护区域前，设 clock.assume_trusted: false 并启用 NTP",
    "set clock.assume_trusted: false and enable NTP before the gateway guards a zone",
)
SYNCHRONISED = Words("CLOCK_OK", "已同步（{source}）", "synchronised ({source})")


def check_clock(cfg: GatewayConfig, gps_offset_s: float | None = None) -> CheckResult:
    """Trusted wall time: NTP, or GPS time agreeing with the clock (``gps_offset_s``, seconds,
    measured by the GPS check over believable fixes), or the bench setting (a warning)."""
    from gateway.services import system_clock

    clock = system_clock(cfg)
    bound = cfg.gps.clock_bound_s
    gps_agrees = gps_offset_s is not None and abs(gps_offset_s) <= bound
    if gps_agrees:
        clock.mark_gps_synced()  # what the daemon's position service does on the same evidence
    trust = clock.trust()
    details: dict[str, Any] = {"source": trust.source, "gps_offset_s": gps_offset_s}
    if not trust.trusted:
        if gps_offset_s is not None:
            return GPS_TIME_DIFFERS.result(
                "clock", Status.FAIL, details, offset=gps_offset_s, bound=bound
            )
        return NOT_SYNCHRONISED.result("clock", Status.FAIL, details)
    if trust.source == "assumed":
        return ASSUMED.result("clock", Status.WARN, details)
    return SYNCHRONISED.result("clock", Status.PASS, details, source=trust.source)
