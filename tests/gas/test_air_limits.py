"""Configured gas limits and the O2 band can only tighten the standard (issue 17 item 5).

A ``gas.limits`` entry is merged with the standard's levels for that gas (GB/T 50493-2019
AL/AH, GBZ 2.1-2019 PC-TWA / PC-STEL / MAC; safety-rules.md §3.2): each level is the stricter
of the two, a level left out keeps the standard's, a looser one is warned with its clause and
the value that applies. An O2 band wider than 19.5-23.5 % (21 % outside oxygen-enriched zones)
is narrowed (GB 30871 §6.4, §5.2.7). Each test drives the real engine with readings.
"""

from __future__ import annotations

import warnings

import pytest

from edge import floors
from edge.air_limits import (
    GAS_FLOORS,
    MOLECULAR_WEIGHT,
    LimitLooserWarning,
    OxygenBand,
    convert,
    o2_band_loosening,
)
from edge.clock import ManualClock
from edge.exposure import ExposureEngine, SensorSpec
from edge.gas_config import GasConfig
from edge.models import Reading, WorkKind, Zone

ZONE = Zone(site="plant", zone_id="z1", work_kinds=(WorkKind.HOT_WORK,))
ENRICHED = Zone(site="plant", zone_id="z1", work_kinds=(WorkKind.HOT_WORK,), oxygen_enriched=True)


def _config(section: dict[str, object]) -> tuple[GasConfig, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = GasConfig.model_validate(section)
    return cfg, [str(w.message) for w in caught if issubclass(w.category, LimitLooserWarning)]


class Engine:
    def __init__(self, cfg: GasConfig, gas: str, zone: Zone = ZONE) -> None:
        self.clock = ManualClock()
        self.gas = gas
        self.engine = ExposureEngine(zone, cfg, self.clock, [SensorSpec("s1", 3.0, (gas,))])

    def read(self, value: float, unit: str) -> None:
        self.engine.ingest(
            Reading(
                sensor_id="s1",
                gas=self.gas,
                value=value,
                unit=unit,
                source_ts=self.clock.wall(),
                mono_ts=self.clock.mono(),
            )
        )

    def alarms(self) -> set[str]:
        return {a["channel"] for a in self.engine.air_verdict().details.get("alarms", [])}


def test_gbt50493_a_looser_co_high_is_tightened_and_co_at_the_standard_level_alarms() -> None:
    cfg, said = _config({"limits": {"co": {"unit": "ppm", "low": 10, "high": 500}}})
    high_ppm = 40 * 24.04 / MOLECULAR_WEIGHT["co"]  # the standard's AH, 40 mg/m3 = 34.33 ppm
    assert cfg.limits["co"].unit == "ppm"
    assert cfg.limits["co"].high == pytest.approx(high_ppm)
    assert any("co.high: 500.0 ppm is looser" in m and "34.33 ppm applies" in m for m in said)
    eng = Engine(cfg, "co")
    eng.read(34.0, "ppm")  # just under the standard's level
    assert eng.engine.air_verdict().safe
    eng.read(34.5, "ppm")  # at the standard's 40 mg/m3, far under the configured 500 ppm
    v = eng.engine.air_verdict()
    assert not v.safe
    assert v.details["channel"] == "high"


def test_issue17_co_entry_with_only_a_low_level_still_alarms_at_400_ppm() -> None:
    # The audit's case: `co: {unit: ppm, low: 30}` replaced CO's limits and 400 ppm was "safe".
    cfg, said = _config({"limits": {"co": {"unit": "ppm", "low": 30}}})
    assert any("co.low: 30.0 ppm is looser" in m for m in said)
    eng = Engine(cfg, "co")
    eng.read(400.0, "ppm")
    assert not eng.engine.air_verdict().safe


def test_gbz2_1_a_missing_stel_and_twa_keep_the_builtin_levels() -> None:
    # A tighter high and low, no STEL / TWA: both averages stay the standard's, in ppm.
    cfg, said = _config({"limits": {"co": {"unit": "ppm", "low": 10, "high": 30}}})
    assert said == []  # nothing looser: nothing to say
    floor = GAS_FLOORS["co"].limits
    mw = MOLECULAR_WEIGHT["co"]
    assert cfg.limits["co"].stel == pytest.approx(convert(floor.stel or 0, "mg/m3", "ppm", mw=mw))
    assert cfg.limits["co"].twa == pytest.approx(convert(floor.twa or 0, "mg/m3", "ppm", mw=mw))
    # 28 ppm (under the configured high of 30) held for 15 minutes: the 15-min mean passes the
    # standard's STEL of 30 mg/m3 = 25.75 ppm, which the entry never mentioned.
    eng = Engine(cfg, "co")
    for _ in range(15 * 60):
        eng.read(28.0, "ppm")
        eng.clock.advance(1)
    eng.read(28.0, "ppm")
    assert "high" not in eng.alarms()
    assert "stel" in eng.alarms()
    assert not eng.engine.air_verdict().safe


def test_gbz2_1_a_missing_deadband_keeps_the_builtin_one_in_the_entrys_unit() -> None:
    cfg, _ = _config({"limits": {"co": {"unit": "ppm", "high": 30}}})
    assert cfg.limits["co"].deadband == pytest.approx(2 * 24.04 / MOLECULAR_WEIGHT["co"])


def test_gbz2_1_a_tighter_entry_in_its_own_unit_is_kept_as_given() -> None:
    cfg, said = _config(
        {"limits": {"co": {"unit": "ppm", "low": 15, "high": 30, "twa": 17, "stel": 25}}}
    )
    lim = cfg.limits["co"]
    assert (lim.low, lim.high, lim.twa, lim.stel) == (15, 30, 17, 25)
    assert said == []


def test_gbz2_1_a_looser_pass_limit_is_tightened_to_the_twa() -> None:
    cfg, said = _config({"limits": {"co": {"unit": "mg/m3", "high": 40, "pass_limit": 35}}})
    assert cfg.limits["co"].pass_limit == 20
    assert any("co.pass_limit: 35.0 mg/m3 is looser" in m for m in said)


def test_a_molecular_weight_that_moves_readings_is_ignored_with_a_warning() -> None:
    # 1 g/mol would make 400 ppm CO read as 16 mg/m3 ("safe"): the built-in table applies.
    cfg, said = _config({"limits": {"co": {"unit": "mg/m3", "high": 40, "molecular_weight": 1}}})
    assert cfg.limits["co"].molecular_weight is None
    assert any("molecular_weight" in m for m in said)
    eng = Engine(cfg, "co")
    eng.read(400.0, "ppm")
    assert not eng.engine.air_verdict().safe


def test_a_unit_that_cannot_be_compared_with_the_standard_is_a_config_error() -> None:
    with pytest.raises(ValueError, match=r"co: unit %LEL cannot be compared with the standard's"):
        GasConfig.model_validate({"limits": {"co": {"unit": "%LEL", "high": 10}}})


def test_a_gas_without_a_floor_must_have_a_high_level() -> None:
    with pytest.raises(ValueError, match="hcl: a high \\(suspending\\) level is required"):
        GasConfig.model_validate({"limits": {"hcl": {"unit": "ppm", "twa": 2}}})
    cfg, said = _config({"limits": {"hcl": {"unit": "ppm", "high": 5, "twa": 2}}})
    assert cfg.limits["hcl"].high == 5 and said == []


def test_gb30871_6_4_an_o2_band_wider_than_the_standard_is_tightened() -> None:
    cfg, said = _config({"oxygen": {"low": 16, "high": 25}})
    assert (cfg.oxygen.low, cfg.oxygen.high) == (19.5, 23.5)
    assert any("gas.oxygen.low 16.0 %" in m and "19.5 % applies" in m for m in said)
    assert any("gas.oxygen.high 25.0 %" in m and "23.5 % applies" in m for m in said)
    eng = Engine(cfg, "o2")
    eng.read(19.0, "%vol")  # inside the configured 16 %, below the standard's 19.5 %
    assert "o2_low" in eng.alarms()
    eng = Engine(cfg, "o2")
    eng.read(22.0, "%vol")  # outside an ordinary zone's 21 % although 25 % was configured
    assert "o2_high" in eng.alarms()
    eng = Engine(cfg, "o2", ENRICHED)
    eng.read(23.0, "%vol")  # oxygen-enriched equipment: up to 23.5 % (§5.2.7)
    assert eng.engine.air_verdict().safe
    eng.read(24.0, "%vol")
    assert "o2_high" in eng.alarms()


def test_gb30871_6_4_an_upper_bound_above_21_is_said_for_an_ordinary_zone_only() -> None:
    band = OxygenBand(high=23.5)
    assert o2_band_loosening(band, oxygen_enriched=True) is None
    said = o2_band_loosening(band, oxygen_enriched=False)
    assert said is not None and "tightened, 21.0 % applies" in str(said)


def test_gbz2_1_gas_test_pass_limits_in_ppm_are_never_looser_than_the_floor() -> None:
    # The judge compares samples in ppm; its table comes from the same floors, rounded down.
    for gas, ppm in floors.TOXIC_PASS_PPM.items():
        level = GAS_FLOORS[gas].limits
        exact = convert(level.pass_level() or 0, level.unit, "ppm", mw=MOLECULAR_WEIGHT[gas])
        assert exact is not None
        assert exact - 0.01 <= ppm <= exact, gas


def test_issue17_a_staleness_far_beyond_practice_is_said_with_its_source() -> None:
    sensor = {"type": "winsen_ze", "id": "co1", "port": "/dev/ttyAMA0", "model": "ze15"}
    _, said = _config({"sensors": [{**sensor, "staleness_s": 600}]})
    assert any("co1: staleness_s 600 s" in m and "within 30 s" in m for m in said)
    _, said = _config({"sensors": [{**sensor, "staleness_s": 3}]})
    assert said == []
    # A transmitter polled once a minute may stay silent for three of its intervals.
    slow = {
        "type": "modbus_rtu",
        "id": "tx1",
        "port": "/dev/ttyUSB0",
        "device_id": 1,
        "poll_interval_s": 60,
        "staleness_s": 150,
        "channels": [{"gas": "o2", "unit": "%vol", "address": 0}],
    }
    _, said = _config({"sensors": [slow]})
    assert said == []


def test_s5_2_6_the_verdict_names_the_gases_the_monitors_watch() -> None:
    # The judgement refuses monitored work whose monitors lack its gases (floors.
    # MONITORED_GASES): the engine says which gases its judged sensors cover, every
    # combustible alias as "lel"; a module naming its gas per frame counts what it reported.
    cfg, _ = _config({})
    clock = ManualClock()
    specs = [SensorSpec("co1", 3.0, ("co",)), SensorSpec("ex1", 3.0, ("ch4",))]
    engine = ExposureEngine(ZONE, cfg, clock, specs)
    assert engine.air_verdict().monitored == frozenset({"co", "lel"})
    generic = ExposureEngine(ZONE, cfg, clock, [SensorSpec("w1", 3.0, None)])
    assert generic.air_verdict().monitored == frozenset()
    generic.ingest(
        Reading(
            sensor_id="w1",
            gas="o2",
            value=20.9,
            unit="%vol",
            source_ts=clock.wall(),
            mono_ts=clock.mono(),
        )
    )
    assert generic.air_verdict().monitored == frozenset({"o2"})
