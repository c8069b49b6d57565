"""The exposure engine: alarm levels, averages, O2 band, %LEL, latching, can't-vouch states."""

from __future__ import annotations

import pytest

from edge.air_limits import GasLimits, convert
from edge.clock import ManualClock
from edge.exposure import ExposureEngine, RollingMean, SensorSpec
from edge.gas_config import GasConfig
from edge.models import Reading, TargetGas, WorkKind, Zone
from edge.reasons import ReasonCode

ZONE = Zone(site="plant", zone_id="z1", work_kinds=(WorkKind.HOT_WORK,))
SPECS = [
    SensorSpec("co1", 3.0, ("co",)),
    SensorSpec("o2a", 3.0, ("o2",)),
    SensorSpec("lel1", 3.0, ("lel",)),
    SensorSpec("pm1", 5.0, ("pm1_0", "pm2_5", "pm10"), indicator_only=True),
]


# A toxic with no built-in limits: a test that sets its own levels (say a STEL with a high far
# above it, to watch the average alone) uses it, because configured CO levels can only tighten
# the standard's (issue 17 item 5) and CO's own high would fire first.
TRACER = "tracer"


class Rig:
    def __init__(
        self,
        cfg: GasConfig | None = None,
        zone: Zone = ZONE,
        staleness_s: float = 3.0,
        toxic: str = "co",
    ) -> None:
        self.clock = ManualClock()
        self.toxic = toxic
        specs = [
            SensorSpec(
                s.sensor_id,
                staleness_s,
                (toxic,) if s.sensor_id == "co1" else s.gases,
                s.indicator_only,
            )
            for s in SPECS
        ]
        self.engine = ExposureEngine(zone, cfg or GasConfig(), self.clock, specs)

    def read(self, sensor: str, gas: str, value: float | None, unit: str, **flags: bool) -> None:
        self.engine.ingest(
            Reading(
                sensor_id=sensor,
                gas=gas,
                value=value,
                unit=unit,
                source_ts=self.clock.wall(),
                mono_ts=self.clock.mono(),
                **flags,
            )
        )

    def clean_air(self) -> None:
        self.read("co1", self.toxic, 1.0, "ppm")
        self.others()

    def others(self) -> None:
        """Keep the O2 and LEL sensors fresh."""
        self.read("o2a", "o2", 20.9, "%vol")
        self.read("lel1", "lel", 0.0, "%LEL")


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_clean_air_is_safe_and_monitored(rig: Rig) -> None:
    rig.clean_air()
    v = rig.engine.air_verdict()
    assert (v.safe, v.monitoring_ok, v.latched, v.reasons) == (True, True, False, ())


def test_nothing_read_yet_is_not_monitoring(rig: Rig) -> None:
    v = rig.engine.air_verdict()
    assert v.safe
    assert not v.monitoring_ok
    assert ReasonCode.SENSOR_STALE in v.reasons


def test_no_judging_sensor_is_no_air_data() -> None:
    eng = ExposureEngine(ZONE, GasConfig(), ManualClock(), [SPECS[3]])
    v = eng.air_verdict()
    assert not v.monitoring_ok
    assert v.reasons == (ReasonCode.NO_AIR_DATA,)


def test_co_over_high_is_unsafe_naming_gas_value_threshold_channel_sensor(rig: Rig) -> None:
    rig.clean_air()
    rig.read("co1", "co", 40.0, "ppm")  # 40 ppm = 46.6 mg/m3 > AH 40 mg/m3
    v = rig.engine.air_verdict()
    assert not v.safe
    assert v.reasons[0] is ReasonCode.GAS_UNSAFE
    d = v.details
    assert (d["gas"], d["channel"], d["sensor_id"], d["unit"]) == ("co", "high", "co1", "mg/m3")
    assert d["threshold"] == 40
    assert d["value"] == pytest.approx(40 * 28.01 / 24.04, rel=1e-3)


def test_just_below_high_is_safe(rig: Rig) -> None:
    rig.clean_air()
    rig.read("co1", "co", 34.0, "ppm")  # 39.6 mg/m3
    assert rig.engine.air_verdict().safe


def test_latches_until_cleared_and_acknowledged(rig: Rig) -> None:
    rig.clean_air()
    rig.read("co1", "co", 60.0, "ppm")
    assert rig.engine.acknowledge("officer")  # acknowledged while still over: stays unsafe
    rig.read("co1", "co", 60.0, "ppm")
    assert not rig.engine.air_verdict().safe
    rig.read("co1", "co", 1.0, "ppm")  # cleared after the ack: released
    v = rig.engine.air_verdict()
    assert (v.safe, v.latched) == (True, False)


def test_cleared_but_unacknowledged_stays_latched(rig: Rig) -> None:
    rig.clean_air()
    rig.read("co1", "co", 60.0, "ppm")
    rig.read("co1", "co", 1.0, "ppm")
    v = rig.engine.air_verdict()
    assert v.safe
    assert v.latched
    assert ReasonCode.GAS_ALARM_LATCHED in v.reasons
    rig.engine.acknowledge("officer")
    assert not rig.engine.air_verdict().latched


def test_retrip_after_ack_needs_a_new_ack(rig: Rig) -> None:
    rig.clean_air()
    rig.read("co1", "co", 60.0, "ppm")
    rig.engine.acknowledge("officer")
    rig.read("co1", "co", 60.0, "ppm")
    rig.read("co1", "co", 33.0, "ppm")  # 38.4 mg/m3: inside the deadband (40 - 2): not clear
    assert not rig.engine.air_verdict().safe
    rig.read("co1", "co", 60.0, "ppm")
    rig.read("co1", "co", 1.0, "ppm")
    assert not rig.engine.air_verdict().latched  # the ack held: same episode, never cleared
    rig.read("co1", "co", 60.0, "ppm")  # new episode
    rig.read("co1", "co", 1.0, "ppm")
    assert rig.engine.air_verdict().latched


def test_deadband_keeps_high_alarm_until_below_level_minus_deadband(rig: Rig) -> None:
    rig.clean_air()
    rig.read("co1", "co", 40.0, "ppm")
    rig.read("co1", "co", 33.5, "ppm")  # 39.06 mg/m3 < 40 but > 38
    assert not rig.engine.air_verdict().safe
    rig.read("co1", "co", 32.0, "ppm")  # 37.3 mg/m3
    assert rig.engine.air_verdict().safe


def test_on_delay_applies_to_low_alarm_only() -> None:
    limits = {"co": GasLimits(unit="ppm", low=10, high=50, low_on_delay_s=60)}
    rig = Rig(GasConfig(limits=limits))
    rig.clean_air()
    rig.read("co1", "co", 20.0, "ppm")
    assert "warnings" not in rig.engine.air_verdict().details  # low, not yet delayed enough
    rig.clock.advance(61)
    rig.others()
    rig.read("co1", "co", 20.0, "ppm")
    assert rig.engine.air_verdict().details["warnings"][0]["channel"] == "low"
    assert rig.engine.air_verdict().safe  # a low alarm warns, never stops work
    rig.read("co1", "co", 50.0, "ppm")  # high: immediate, no delay whatever the config
    assert not rig.engine.air_verdict().safe


def test_stel_over_15_minutes() -> None:
    limits = {TRACER: GasLimits(unit="ppm", high=1000, stel=30)}
    rig = Rig(GasConfig(limits=limits), toxic=TRACER)
    # 60 ppm for 7 minutes, then clean: 15-min mean = 60*7/15 = 28 < 30
    for _ in range(7 * 60):
        rig.clean_air()
        rig.read("co1", TRACER, 60.0, "ppm")
        rig.clock.advance(1)
    rig.read("co1", TRACER, 0.0, "ppm")
    assert rig.engine.air_verdict().safe
    for _ in range(60):  # one more minute at 60 ppm: 60*8/15 = 32 >= 30
        rig.clean_air()
        rig.read("co1", TRACER, 60.0, "ppm")
        rig.clock.advance(1)
    rig.read("co1", TRACER, 60.0, "ppm")
    v = rig.engine.air_verdict()
    assert not v.safe
    assert v.details["channel"] == "stel"


def test_twa_over_8_hours() -> None:
    limits = {TRACER: GasLimits(unit="ppm", high=1000, twa=20)}
    rig = Rig(GasConfig(limits=limits), staleness_s=90, toxic=TRACER)  # a 1-minute poll
    # 30 ppm for 5 h: 8-h TWA = 30*5/8 = 18.75; another hour -> 22.5 >= 20
    for _ in range(5 * 60):
        rig.clean_air()
        rig.read("co1", TRACER, 30.0, "ppm")
        rig.clock.advance(60)
    rig.clean_air()
    rig.read("co1", TRACER, 30.0, "ppm")
    assert rig.engine.air_verdict().safe
    for _ in range(60):
        rig.clean_air()
        rig.read("co1", TRACER, 30.0, "ppm")
        rig.clock.advance(60)
    rig.clean_air()
    rig.read("co1", TRACER, 30.0, "ppm")
    v = rig.engine.air_verdict()
    assert not v.safe
    assert v.details["channel"] == "twa"


def test_rolling_mean_forgets_outside_the_window() -> None:
    m = RollingMean(window_s=100, bucket_s=10, max_hold_s=5)
    for t in range(50):
        m.add(float(t), 10.0)
    assert m.mean(50.0) == pytest.approx(5.0, abs=0.6)
    assert m.mean(300.0) == 0.0


@pytest.mark.parametrize(
    ("o2", "enriched", "safe"),
    [
        (20.9, False, True),
        (19.4, False, False),
        (21.2, False, False),
        (21.2, True, True),
        (23.6, True, False),
    ],
)
def test_o2_band(o2: float, enriched: bool, safe: bool) -> None:
    zone = Zone(
        site="p", zone_id="z1", work_kinds=(WorkKind.CONFINED_SPACE,), oxygen_enriched=enriched
    )
    rig = Rig(zone=zone)
    rig.clean_air()
    rig.read("o2a", "o2", o2, "%vol")
    assert rig.engine.air_verdict().safe is safe


@pytest.mark.parametrize(
    ("gas", "lel_vol", "percent_lel", "safe"),
    [
        ("methane", 5.0, 10.0, True),  # 0.5 % vol: the limit itself passes
        ("methane", 5.0, 10.5, False),  # 0.525 % vol > 0.5
        ("propane", 2.1, 9.5, True),  # 0.1995 % vol <= 0.2
        ("propane", 2.1, 10.0, False),  # 0.21 % vol > 0.2 (LEL < 4 %: stricter limit)
    ],
)
def test_lel_judged_in_vol_percent_of_target_gas(
    gas: str, lel_vol: float, percent_lel: float, safe: bool
) -> None:
    zone = Zone(
        site="p",
        zone_id="z1",
        work_kinds=(WorkKind.HOT_WORK,),
        target_gas=TargetGas(name=gas, lel_vol_percent=lel_vol),
    )
    rig = Rig(zone=zone)
    rig.clean_air()
    rig.read("lel1", "lel", percent_lel, "%LEL")
    v = rig.engine.air_verdict()
    assert v.safe is safe
    if not safe:
        assert (v.details["channel"], v.details["unit"]) == ("gb30871", "%vol")


@pytest.mark.parametrize(
    ("flags", "value", "reason"),
    [
        ({"fault": True}, None, ReasonCode.SENSOR_FAULT),
        ({}, None, ReasonCode.SENSOR_FAULT),
        ({"warming_up": True}, 1.0, ReasonCode.SENSOR_WARMING_UP),
        ({}, -3.0, ReasonCode.SENSOR_NEGATIVE),
    ],
)
def test_cannot_vouch_states_are_never_clean_air(
    rig: Rig, flags: dict[str, bool], value: float | None, reason: ReasonCode
) -> None:
    rig.clean_air()
    rig.read("co1", "co", value, "ppm", **flags)
    v = rig.engine.air_verdict()
    assert not v.monitoring_ok
    assert reason in v.reasons
    assert v.details["sensors"] == [{"sensor_id": "co1", "reason": reason.value}]


def test_over_range_is_a_high_alarm(rig: Rig) -> None:
    rig.clean_air()
    rig.read("co1", "co", 500.0, "ppm", over_range=True)
    v = rig.engine.air_verdict()
    assert not v.safe
    assert ReasonCode.SENSOR_OVER_RANGE in v.reasons


def test_stale_after_staleness(rig: Rig) -> None:
    rig.clean_air()
    rig.clock.advance(2.9)
    assert rig.engine.air_verdict().monitoring_ok
    rig.clock.advance(0.2)
    v = rig.engine.air_verdict()
    assert not v.monitoring_ok
    assert ReasonCode.SENSOR_STALE in v.reasons


def test_indicator_never_suspends_or_counts_for_monitoring(rig: Rig) -> None:
    rig.clean_air()
    rig.read("pm1", "pm2_5", 999.0, "ug/m3", over_range=True)
    v = rig.engine.air_verdict()
    assert (v.safe, v.monitoring_ok) == (True, True)


def test_unknown_sensor_or_gas_is_counted_not_used(rig: Rig) -> None:
    rig.clean_air()
    rig.read("ghost", "co", 900.0, "ppm")
    rig.read("co1", "h2s", 900.0, "ppm")
    assert rig.engine.air_verdict().safe
    assert rig.engine.unknown_readings == 2


def test_unit_that_cannot_be_compared_is_a_fault() -> None:
    rig = Rig(GasConfig(limits={TRACER: GasLimits(unit="%LEL", high=10)}), toxic=TRACER)
    rig.clean_air()
    rig.read("co1", TRACER, 5.0, "ppm")
    v = rig.engine.air_verdict()
    assert not v.monitoring_ok
    assert ReasonCode.SENSOR_FAULT in v.reasons


def test_conversions() -> None:
    assert convert(20, "mg/m3", "ppm", mw=28.01, molar_volume_l=24.04) == pytest.approx(17.16, 0.01)
    assert convert(1500, "ppb", "ppm", mw=None, molar_volume_l=24.04) == pytest.approx(1.5)
    assert convert(1, "%vol", "ppm", mw=None, molar_volume_l=24.04) == pytest.approx(1e4)
    assert convert(5, "%LEL", "ppm", mw=28.0, molar_volume_l=24.04) is None


def test_assessment_for_gas_test(rig: Rig) -> None:
    rig.clean_air()
    ok = rig.engine.assess_for_test()
    assert ok.failures == ()
    assert {g for g, _, _ in ok.samples} == {"co", "o2", "lel"}
    rig.read("o2a", "o2", 19.0, "%vol")
    bad = rig.engine.assess_for_test()
    assert any("o2" in f for f in bad.failures)


def test_combustible_in_vol_percent_is_judged_like_lel(rig: Rig) -> None:
    rig.clean_air()
    rig.read("lel1", "lel", 0.4, "%vol")  # methane: 8 %LEL, 0.4 % vol <= 0.5
    assert rig.engine.air_verdict().safe
    rig.read("lel1", "lel", 0.6, "%vol")
    v = rig.engine.air_verdict()
    assert not v.safe
    assert v.details["channel"] == "gb30871"


def test_gas_without_limits_cannot_be_judged() -> None:
    eng = ExposureEngine(ZONE, GasConfig(), ManualClock(), [SensorSpec("x1", 3.0, None)])
    clock = eng.clock
    eng.ingest(
        Reading(
            sensor_id="x1",
            gas="hcl",
            value=0.1,
            unit="ppm",
            source_ts=clock.wall(),
            mono_ts=clock.mono(),
        )
    )
    v = eng.air_verdict()
    assert not v.monitoring_ok
    assert ReasonCode.SENSOR_FAULT in v.reasons
    assert eng.unjudged_readings == 1


def test_verdict_names_the_most_urgent_alarm_first(rig: Rig) -> None:
    limits = {TRACER: GasLimits(unit="ppm", high=1000, stel=30)}
    rig = Rig(GasConfig(limits=limits), toxic=TRACER)
    for _ in range(20 * 60):
        rig.clean_air()
        rig.read("co1", TRACER, 60.0, "ppm")
        rig.clock.advance(1)
    rig.read("o2a", "o2", 17.0, "%vol")
    v = rig.engine.air_verdict()
    assert {a["channel"] for a in v.details["alarms"]} == {"stel", "o2_low"}
    assert v.details["channel"] == "o2_low"


def test_o2_high_alarm_clears_in_ordinary_air_despite_float_noise(rig: Rig) -> None:
    rig.clean_air()
    rig.read("o2a", "o2", 21.2, "%vol")
    assert not rig.engine.air_verdict().safe
    rig.read("o2a", "o2", 209 * 0.1, "%vol")  # 20.900000000000002
    assert rig.engine.air_verdict().safe
    rig.read("lel1", "lel", 100 * 0.1, "%LEL")  # exactly the 0.5 % vol limit: passes
    assert rig.engine.air_verdict().safe
