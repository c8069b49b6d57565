"""What `zonegate status` says about the air (a wrong "safe" is the worst bug)."""

from __future__ import annotations

from gateway.cli import air_summary


def test_status_never_calls_latched_or_unmonitored_air_safe() -> None:
    assert air_summary({"safe": True, "monitoring_ok": True, "latched": False}) == "安全 safe"
    latched = {
        "safe": True,
        "monitoring_ok": True,
        "latched": True,
        "reasons": ["GAS_ALARM_LATCHED"],
    }
    assert air_summary(latched).startswith("不安全 UNSAFE")
    stale = {"safe": True, "monitoring_ok": False, "reasons": ["SENSOR_STALE"]}
    assert air_summary(stale) == "未监测 NOT MONITORED SENSOR_STALE"
    assert air_summary({}).startswith("不安全 UNSAFE")  # nothing known is not safe
