"""Fault frames never count as zero exposure in the 15-minute and 8-hour means (issue 17 item 12).

An intermittent sensor that alternates good frames with fault frames must report at least the
exposure its good frames saw; the gaps are bridged fail safe (rules for the daemon §4.1: missing
data is unsafe, never 0).
"""

from __future__ import annotations

from edge.air_limits import GasLimits
from edge.clock import ManualClock
from edge.exposure import ExposureEngine, RollingMean, SensorSpec
from edge.gas_config import GasConfig
from edge.models import Reading, WorkKind, Zone

ZONE = Zone(site="plant", zone_id="z1", work_kinds=(WorkKind.HOT_WORK,))
# A toxic without built-in limits, so the test's STEL is the only level that can trip (a CO
# entry could only tighten CO's standard levels, and CO's own high would fire at 40 ppm).
TRACER = "tracer"


def _read(eng: ExposureEngine, clock: ManualClock, value: float | None) -> None:
    eng.ingest(
        Reading(
            sensor_id="co1",
            gas=TRACER,
            value=value,
            unit="ppm",
            fault=value is None,
            source_ts=clock.wall(),
            mono_ts=clock.mono(),
        )
    )


def test_rules_4_fault_frames_do_not_halve_the_stel() -> None:
    clock = ManualClock()
    limits = {TRACER: GasLimits(unit="ppm", high=1000, stel=30)}
    eng = ExposureEngine(ZONE, GasConfig(limits=limits), clock, [SensorSpec("co1", 3.0, (TRACER,))])
    # 40 ppm seen on every other frame for 15 minutes, fault frames in between: counting the
    # faults as zero gave a 15-min mean of 20 ppm (< 30, "safe"); the air was at 40 throughout.
    for i in range(15 * 60):
        _read(eng, clock, 40.0 if i % 2 == 0 else None)
        clock.advance(1)
    _read(eng, clock, 40.0)
    v = eng.air_verdict()
    assert not v.safe
    assert "stel" in {a["channel"] for a in v.details["alarms"]}


def test_rules_4_a_gap_counts_at_the_larger_value_on_either_side() -> None:
    mean = RollingMean(window_s=100, bucket_s=10, max_hold_s=5)
    mean.add(0, 10.0)
    mean.gap(1)  # 1 s at 10, then a fault
    assert mean.mean(50) >= 10.0 * 50 / 100  # while open, the gap holds the last good value
    mean.add(61, 30.0)  # 60 s gap closed by 30: counts at 30
    assert mean.mean(61) >= (10.0 * 1 + 30.0 * 60) / 100


def test_rules_4_a_gap_longer_than_the_window_adds_at_most_a_window() -> None:
    mean = RollingMean(window_s=100, bucket_s=10, max_hold_s=5)
    mean.add(0, 10.0)
    mean.gap(1)
    mean.add(10_000, 10.0)
    assert mean.mean(10_000) <= 10.0 + 1e-9
