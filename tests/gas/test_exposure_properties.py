"""Properties of the exposure engine: no wrong "safe", no latch released without a person."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.air_limits import GasLimits
from edge.clock import ManualClock
from edge.exposure import ExposureEngine, SensorSpec
from edge.gas_config import GasConfig
from edge.models import Reading, WorkKind, Zone
from firmware_adapters.gas.config import ModbusChannel
from firmware_adapters.gas.modbus import decode_registers

ZONE = Zone(site="p", zone_id="z1", work_kinds=(WorkKind.HOT_WORK,))
HIGH = 50.0
DEADBAND = 5.0
# A toxic without built-in limits: the model below knows only these levels, and a CO entry
# would be merged with CO's standard levels (high 34 ppm, STEL, TWA), which it does not model.
TRACER = "tracer"
LIMITS = {TRACER: GasLimits(unit="ppm", low=25, high=HIGH, deadband=DEADBAND)}

step = st.one_of(
    st.tuples(st.just("read"), st.floats(min_value=-10, max_value=200, allow_nan=False)),
    st.tuples(st.just("fault"), st.just(0.0)),
    st.tuples(st.just("ack"), st.just(0.0)),
    st.tuples(st.just("wait"), st.floats(min_value=0, max_value=5)),
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(step, max_size=40))
def test_never_a_wrong_safe_and_latches_need_a_person(steps: list[tuple[str, float]]) -> None:
    clock = ManualClock()
    eng = ExposureEngine(ZONE, GasConfig(limits=LIMITS), clock, [SensorSpec("s", 3.0, (TRACER,))])
    tripped_since_ack = False  # a model of the latch: tripped and not yet acknowledged
    over_now = False
    for kind, x in steps:
        if kind == "wait":
            clock.advance(x)
            continue
        if kind == "ack":
            eng.acknowledge("officer")
            tripped_since_ack = False
            continue
        value = None if kind == "fault" else x
        eng.ingest(
            Reading(
                sensor_id="s",
                gas=TRACER,
                value=value,
                unit="ppm",
                fault=kind == "fault",
                source_ts=clock.wall(),
                mono_ts=clock.mono(),
            )
        )
        if value is not None and value >= 0:
            if value >= HIGH:
                # a new episode needs a new ack; an ack given during this one still counts
                tripped_since_ack = tripped_since_ack or not over_now
                over_now = True
            elif value <= HIGH - DEADBAND:
                over_now = False
        v = eng.air_verdict()
        if value is not None and value >= HIGH:
            assert not v.safe  # a reading over the high alarm is never "safe"
        if over_now:
            assert not v.safe  # inside the deadband the alarm holds
        if tripped_since_ack:
            assert v.latched  # only a person releases a latch
        if kind == "fault" or (value is not None and value < 0):
            assert not v.monitoring_ok  # a fault / negative is never clean air
        if v.safe and not v.latched and v.monitoring_ok:
            assert value is not None and 0 <= value < HIGH


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=0xFFFF), min_size=2, max_size=2),
    st.sampled_from(["u16", "s16", "u32", "s32", "f32"]),
    st.sampled_from(["big", "little"]),
)
def test_register_decoding_never_raises(regs: list[int], data_type: str, order: str) -> None:
    ch = ModbusChannel.model_validate(
        {"gas": "co", "unit": "ppm", "address": 0, "data_type": data_type, "word_order": order}
    )
    value = decode_registers(regs, ch)
    assert isinstance(value, float)
    if data_type != "f32":
        assert math.isfinite(value)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["o2", "lel"]),
            st.floats(min_value=0, max_value=100, allow_nan=False),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_o2_band_and_combustibles_never_read_safe_outside_limits(
    steps: list[tuple[str, float, bool]],
) -> None:
    clock = ManualClock()
    specs = [SensorSpec("o", 3.0, ("o2",)), SensorSpec("l", 3.0, ("lel",))]
    eng = ExposureEngine(ZONE, GasConfig(), clock, specs)
    for gas, value, over_range in steps:
        sensor, unit = ("o", "%vol") if gas == "o2" else ("l", "%LEL")
        eng.ingest(
            Reading(
                sensor_id=sensor,
                gas=gas,
                value=value,
                unit=unit,
                over_range=over_range,
                source_ts=clock.wall(),
                mono_ts=clock.mono(),
            )
        )
        o2_out = gas == "o2" and not 19.5 <= value <= 21.0
        lel_out = gas == "lel" and value / 100 * 5.0 > 0.5 + 1e-9  # methane, GB 30871 §5.3.2
        if over_range or o2_out or lel_out:
            assert not eng.air_verdict().safe
