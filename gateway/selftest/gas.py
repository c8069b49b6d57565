"""Self-test of the gas sensors: each answers with valid frames, and the air they read is safe.

Every sensor is watched for the whole ``--gas-seconds`` window, and every reading in it is
judged by the daemon's own engine (``edge.exposure.ExposureEngine``: the configured alarm
levels, the O2 band, the combustible limit). A reading at or above an alarm level fails the
check with the gas, the value and the limit, even while the sensor is still warming up: a cell
that reads nine times the alarm level is no evidence of clean air, and a wrong "pass" from a
technician's tool is the worst outcome (issue 13 item 6, found by a fresh-user test).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from gateway.selftest.outcome import CheckResult, Status, Words

if TYPE_CHECKING:
    from edge.models import Reading
    from gateway.config import GatewayConfig

NO_SENSORS = Words("GAS_NONE", "未配置气体传感器", "no gas sensors configured")
ALARM = Words(
    "GAS_ALARM",
    "{gas} {value:g} {unit} 达到{level_zh} {limit:g} {unit}（{frames} 帧中），"
    "空气不安全{warming_zh}",
    "{gas} {value:g} {unit} at or beyond the {level_en} {limit:g} {unit} ({frames} frame(s)): "
    "the air is not safe{warming_en}",
    "先确认现场空气（便携式检测仪复测、通风）；若空气洁净，则在洁净空气中校准或更换传感器，"
    "并检查 gas: 中的量程与单位",
    "check the air first (a portable detector, ventilation); if the air is clean, zero or "
    "replace the sensor in clean air and check its range and unit in gas:",
)
WARMING = Words(
    "GAS_WARMING_UP",
    "{n} 帧有效；最后 {gas} {value:g} {unit}（仍在预热）",
    "{n} valid frame(s); last {gas} {value:g} {unit} (still warming up)",
    "预热结束后再做首次气体分析",
    "wait for the warm-up to end before the first gas test",
)
VALID = Words(
    "GAS_OK",
    "{n} 帧有效；最后 {gas} {value:g} {unit}",
    "{n} valid frame(s); last {gas} {value:g} {unit}",
)
FAULT = Words(
    "GAS_FAULT",
    "{n} 帧，均无效：传感器报告故障",
    "{n} frame(s), none valid: the sensor reports a fault",
    "更换或重新安装传感器探头",
    "replace or re-seat the sensor cell",
)
OVER_RANGE = Words(
    "GAS_OVER_RANGE",
    "{n} 帧，均无效：读数超量程",
    "{n} frame(s), none valid: readings are over range",
    "在洁净空气中检查传感器；重新标定",
    "check the sensor in clean air; recalibrate",
)
NO_VALUE = Words(
    "GAS_NO_VALUE",
    "{n} 帧，均无效：帧中没有可用数值",
    "{n} frame(s), none valid: frames carry no usable value",
    "检查 gas: 中的传感器型号与单位",
    "check the sensor model and unit in gas:",
)
CANNOT_OPEN = Words(
    "GAS_PORT",
    "无法打开 {port}：{error}",
    "cannot open {port}: {error}",
    "检查线缆/USB 转换器和端口名（ls /dev/serial/by-id）；zonegate 用户须在 dialout 组",
    "check the cable / USB adapter and the port name (ls /dev/serial/by-id); the zonegate user "
    "needs the dialout group",
)
GARBLED = Words(
    "GAS_GARBLED",
    "{budget:.0f} 秒内无有效帧：{checksum} 个校验错误、{framing} 个帧错误",
    "no valid frame in {budget:.0f} s: {checksum} checksum and {framing} framing error(s)",
    "波特率或协议不对（gas: 中的 type/model）、RS-485 的 A/B 接反，或有干扰",
    "wrong baud rate or protocol (type/model in gas:), swapped A/B on RS-485, or noise",
)
REJECTED = Words(
    "GAS_WRONG_GAS",
    "{n} 帧被拒收（气体或单位与配置不符）",
    "{n} frame(s) rejected (another gas or unit than configured)",
    "把 gas: / unit: 设为该模块实际测量的气体和单位",
    "set gas: / unit: to what this module measures",
)
MODBUS_ERRORS = Words(
    "GAS_MODBUS",
    "{n} 次 Modbus 读取错误：{error}",
    "{n} Modbus read error(s): {error}",
    "检查从站地址、波特率、校验位和寄存器表",
    "check the slave address, baud rate, parity and the register map",
)
SILENT = Words(
    "GAS_SILENT",
    "{port} 已打开，但传感器在 {budget:.0f} 秒内没有发送任何数据",
    "{port} opened but the sensor sent nothing in {budget:.0f} s",
    "检查电源和 TX/RX 接线；问答模式的传感器需要 mode: qa",
    "check power and TX/RX wiring; a Q&A-mode sensor needs mode: qa",
)

# The words for each of the engine's alarm channels (edge.exposure.Alarm.channel), and the
# order in which one sensor's alarms are reported (the worst first, as the engine ranks them).
_LEVELS: dict[str, tuple[str, str]] = {
    "over_range": ("量程上限", "full scale"),
    "o2_low": ("缺氧下限", "oxygen low limit"),
    "high": ("高报警值", "high alarm level"),
    "gb30871": ("动火可燃气体限值（GB 30871）", "hot-work combustible limit (GB 30871)"),
    "o2_high": ("富氧上限", "oxygen high limit"),
    "stel": ("短时接触限值（STEL）", "STEL limit"),
    "twa": ("时间加权平均限值（TWA）", "TWA limit"),
    "low": ("低报警值", "low alarm level"),
}
_ORDER = {channel: rank for rank, channel in enumerate(_LEVELS)}


async def check_gas(cfg: GatewayConfig, budget_s: float) -> list[CheckResult]:
    """Watch every configured sensor for ``budget_s`` seconds; one result per sensor.

    A sensor fails when it gave no valid frame (with the port's counters as the reason), or
    when any reading reached an alarm level (gas, value, limit). Never raises for a sensor's
    fault: an adapter's error is its result.
    """
    if not cfg.gas.sensors:
        return [NO_SENSORS.result("gas", Status.SKIPPED)]
    from edge.clock import SystemClock
    from edge.exposure import ExposureEngine, sensor_specs
    from firmware_adapters.gas.wiring import build_adapters

    clock = SystemClock()
    adapters = build_adapters(cfg.gas.sensors, clock)
    engine = ExposureEngine(cfg.zone, cfg.gas, clock, sensor_specs(cfg.gas))
    seen: dict[str, list[Reading]] = {s.id: [] for s in cfg.gas.sensors}
    worst: dict[str, dict[str, Any]] = {}

    def note_alarm(alarm: dict[str, Any], warming: bool) -> None:
        sid = str(alarm["sensor_id"])
        mine = worst.get(sid)
        rank = _ORDER.get(str(alarm["channel"]), len(_ORDER))
        if mine is None or rank < _ORDER.get(str(mine["channel"]), len(_ORDER)):
            worst[sid] = {**alarm, "warming_up": warming}
        elif mine["channel"] == alarm["channel"] and _beyond(alarm) > _beyond(mine):
            worst[sid] = {**alarm, "warming_up": warming or bool(mine["warming_up"])}

    def sink(reading: Reading) -> None:
        seen.setdefault(reading.sensor_id, []).append(reading)
        judged = reading
        if reading.warming_up and reading.value is not None and not reading.fault:
            # The engine sets a warming cell's value aside; here it is judged as if warm.
            judged = reading.model_copy(update={"warming_up": False})
        engine.ingest(judged)
        for alarm in engine.export_alarms():
            if alarm["active"] and alarm["sensor_id"] == reading.sensor_id:
                note_alarm(alarm, reading.warming_up)
        for warning in engine.warnings():
            if warning["sensor_id"] == reading.sensor_id:
                note_alarm(warning, reading.warming_up)

    # The whole window, whatever the sensors say early: the technician asked for it, and an
    # alarm level reached in its last second counts as much as one in its first.
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(a.run(sink), name=f"selftest-gas-{a.name}") for a in adapters]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(budget_s):
                await asyncio.gather(*tasks)  # the adapters run until cancelled
        for t in tasks:
            t.cancel()

    results: list[CheckResult] = []
    for sensor in cfg.gas.sensors:
        adapter = next(a for a in adapters if sensor.id in a.sensor_ids)
        stats = adapter.stats.as_dict()
        readings = seen.get(sensor.id, [])
        alarm = worst.get(sensor.id)
        if alarm is not None:
            results.append(_alarm_result(sensor.id, sensor.port, readings, stats, alarm))
        else:
            results.append(_gas_result(sensor.id, sensor.port, readings, stats, budget_s))
    return results


def _beyond(alarm: dict[str, Any]) -> float:
    """How far past its limit an alarm's value is (below it for the O2 low limit)."""
    value, limit = float(alarm["value"]), float(alarm["threshold"])
    return limit - value if alarm["channel"] == "o2_low" else value - limit


def _alarm_result(
    sid: str, port: str, readings: list[Reading], stats: dict[str, Any], alarm: dict[str, Any]
) -> CheckResult:
    level_zh, level_en = _LEVELS.get(str(alarm["channel"]), (alarm["channel"], alarm["channel"]))
    warming = bool(alarm.get("warming_up"))
    details: dict[str, Any] = {
        "port": port,
        "readings": len(readings),
        "stats": stats,
        "alarm": {k: alarm[k] for k in ("gas", "channel", "value", "threshold", "unit")},
    }
    details["alarm"]["warming_up"] = warming
    return ALARM.result(
        f"gas {sid}",
        Status.FAIL,
        details,
        gas=alarm["gas"],
        value=alarm["value"],
        unit=alarm["unit"],
        limit=alarm["threshold"],
        level_zh=level_zh,
        level_en=level_en,
        frames=len(readings),
        warming_zh="（传感器仍在预热，但如此读数不能证明空气洁净）" if warming else "",
        warming_en=" (the sensor is still warming up, but such a reading is no evidence of clean "
        "air)"
        if warming
        else "",
    )


def _gas_result(
    sid: str, port: str, readings: list[Reading], stats: dict[str, Any], budget_s: float
) -> CheckResult:
    name = f"gas {sid}"
    details: dict[str, Any] = {"port": port, "readings": len(readings), "stats": stats}
    valid = [r for r in readings if r.value is not None and not r.fault and not r.over_range]
    if valid:
        last = valid[-1]
        details["last"] = {"gas": last.gas, "value": last.value, "unit": last.unit}
        words = WARMING if last.warming_up else VALID
        status = Status.WARN if last.warming_up else Status.PASS
        return words.result(
            name, status, details, n=len(valid), gas=last.gas, value=last.value, unit=last.unit
        )
    if readings:
        if any(r.fault for r in readings):
            words = FAULT
        elif any(r.over_range for r in readings):
            words = OVER_RANGE
        else:
            words = NO_VALUE
        return words.result(name, Status.FAIL, details, n=len(readings))
    if not stats.get("opens"):
        error = stats.get("last_error") or "no such port"
        return CANNOT_OPEN.result(name, Status.FAIL, details, port=port, error=error)
    if stats.get("checksum_errors") or stats.get("framing_errors"):
        return GARBLED.result(
            name,
            Status.FAIL,
            details,
            budget=budget_s,
            checksum=stats.get("checksum_errors", 0),
            framing=stats.get("framing_errors", 0),
        )
    if stats.get("rejected_frames"):
        return REJECTED.result(name, Status.FAIL, details, n=stats["rejected_frames"])
    if stats.get("read_errors"):
        return MODBUS_ERRORS.result(
            name, Status.FAIL, details, n=stats["read_errors"], error=stats.get("last_error")
        )
    return SILENT.result(name, Status.FAIL, details, port=port, budget=budget_s)
