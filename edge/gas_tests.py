"""Judging the CONTENT of a gas analysis: did it measure what the work needs, and does it pass.

This is the minimal judge the work cycle (issue 10) needs to record tests; the full rule set
(required gases per work kind with configured toxics, newer than the zone's latest alarm
episode) belongs to the safety-judgement module (issue 17), which replaces ``judge_gas_test``
here. Callers use only ``judge_gas_test`` and ``required_gases``.

Rules (../shared/reference/safety-rules.md §1.2, §1.3, §3.2):
- hot work needs a combustible reading (GB 30871 §5.3.1); confined space needs O2 and a
  combustible reading (§6.4); a test lacking one is incomplete (``GAS_TEST_INCOMPLETE``);
- combustible ≤ 0.5 % vol when the zone's target gas has LEL ≥ 4 %, else ≤ 0.2 % vol (§5.3.2);
  a %LEL value is converted to % vol with the target gas's LEL;
- O2 19.5–21 % vol (23.5 in oxygen-enriched equipment) (§6.4, §5.2.7);
- toxics at or below the configured pass limit (else TWA, else high alarm level) (§6.4, GBZ 2.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from edge.air_limits import MOLECULAR_WEIGHT, GasLimits, convert
from edge.models import GasTest, GasTestSample, WorkKind, Zone

COMBUSTIBLE = "lel"
OXYGEN = "o2"
# The failure a judged test records for a required gas it lacks ("<gas> not measured");
# edge.permits.recorded_failed tells such a failure from a bad reading by it.
NOT_MEASURED = " not measured"
# Names a detector may give the combustible channel.
_COMBUSTIBLE_NAMES = frozenset({"lel", "ex", "combustible", "ch4", "methane", "hc"})

REQUIRED_BY_KIND: dict[WorkKind, frozenset[str]] = {
    WorkKind.HOT_WORK: frozenset({COMBUSTIBLE}),  # §5.3.1, §5.3.2
    WorkKind.CONFINED_SPACE: frozenset({OXYGEN, COMBUSTIBLE}),  # §6.3, §6.4
    WorkKind.TEMP_POWER: frozenset({COMBUSTIBLE}),  # §10.1 (in hazard areas)
}


def canonical_gas(name: str) -> str:
    """The gas name judged on: lower case, every combustible alias as ``lel``."""
    gas = name.strip().lower()
    return COMBUSTIBLE if gas in _COMBUSTIBLE_NAMES else gas


def required_gases(kinds: Iterable[WorkKind], zone: Zone | None = None) -> frozenset[str]:
    """The gases a test must measure for work of these kinds (canonical names); a confined
    space adds the toxics ``zone`` lists (``Zone.confined_space_toxics``, GB 30871 §6.4)."""
    out: set[str] = set()
    for kind in kinds:
        out |= REQUIRED_BY_KIND.get(kind, frozenset())
        if kind is WorkKind.CONFINED_SPACE and zone is not None:
            out |= set(zone.confined_space_toxics)
    return frozenset(out)


def _toxic_value(sample: GasTestSample, limit: GasLimits, gas: str) -> float | None:
    """The sample in the limit's unit, or None when it cannot be converted."""
    return convert(
        sample.value,
        sample.unit,
        limit.unit,
        mw=limit.molecular_weight or MOLECULAR_WEIGHT.get(gas),
    )


def judge_gas_test(
    test: GasTest,
    zone: Zone,
    kinds: Iterable[WorkKind],
    limits: Mapping[str, GasLimits],
    *,
    o2_high: float | None = None,
) -> tuple[bool, tuple[str, ...], tuple[str, ...]]:
    """``(passed, failures, missing gases)`` for ``test`` judged for work of ``kinds``.

    ``failures`` are short English strings naming the sample and the limit; ``missing`` the
    required gases not measured. The sender's own ``passed`` flag is never read.
    """
    failures: list[str] = []
    measured: set[str] = set()
    hi = o2_high if o2_high is not None else (23.5 if zone.oxygen_enriched else 21.0)
    target = zone.target_gas
    for s in test.samples:
        gas = canonical_gas(s.gas)
        measured.add(gas)
        if s.value < 0:
            failures.append(f"{s.gas} {s.value}{s.unit}: negative reading")
            continue
        if gas == OXYGEN:
            if s.unit != "%vol":
                failures.append(f"o2 in {s.unit} cannot be judged (needs %vol)")
            elif not 19.5 <= s.value <= hi:
                failures.append(f"o2 {s.value}%vol outside 19.5-{hi}%vol")
        elif gas == COMBUSTIBLE:
            if s.unit == "%vol":
                vol = s.value
            elif s.unit == "%LEL":
                vol = s.value / 100.0 * target.lel_vol_percent
            else:
                failures.append(f"{s.gas} in {s.unit} cannot be judged (needs %vol or %LEL)")
                continue
            if vol > target.pass_limit_vol_percent:
                failures.append(
                    f"{s.gas} {vol:.2f}%vol > {target.pass_limit_vol_percent}%vol ({target.name})"
                )
        else:
            lim = limits.get(gas)
            if lim is None:
                continue
            level = lim.pass_level()
            value = _toxic_value(s, lim, gas)
            if level is None:
                continue
            if value is None:
                failures.append(f"{s.gas} in {s.unit} cannot be compared with {lim.unit}")
            elif value > level:
                failures.append(f"{s.gas} {value:.2f}{lim.unit} > {level}{lim.unit}")
    missing = tuple(sorted(required_gases(kinds, zone) - measured))
    for gas in missing:
        failures.append(f"{gas}{NOT_MEASURED}")
    return not failures, tuple(failures), missing
