"""The zone's gas policy: alarm limits per gas, the O2 band, the unpermitted-work detector, the
standard's floor under each limit, and the one ppm <-> mg/m3 conversion everybody uses.

Rules (../shared/reference/safety-rules.md §3.1-3.3; issue 17 item 5):

* Limits are per gas, in the unit the entry names; readings are converted to it with
  ``convert`` (molar volume 24.04 L/mol at 20 °C, ``MOLECULAR_WEIGHT``).
* ``GAS_FLOORS`` holds the standard's levels for the common toxics and combustibles
  (GB/T 50493-2019 first / second alarm levels, GBZ 2.1-2019 PC-TWA / PC-STEL / MAC), each
  with its source. Configuration may TIGHTEN a floor, never loosen it: ``tighten`` merges a
  configured entry with its floor level by level (the stricter of the two; a level the entry
  leaves out keeps the floor's) and warns with ``LimitLooserWarning`` naming the clause and
  the value that applies instead, which ``zonegate check-config`` prints.
* The O2 band is 19.5 % vol to 21 % (23.5 % in oxygen-enriched equipment) (GB 30871 §6.4,
  §5.2.7): a configured band wider than 19.5-23.5 % is narrowed to it, with a warning, and
  the engine narrows the upper bound further to 21 % outside oxygen-enriched zones.

The whole ``gas:`` section (sensors and this policy) is ``edge.gas_config.GasConfig``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import Field, field_validator, model_validator

from firmware_adapters.bilingual import BilingualValueError, BilingualWarning
from firmware_adapters.configbase import Section
from firmware_adapters.gas.config import Unit

# L/mol at 20 °C and 101.3 kPa, the reference of the GBZ 2.1 tables (safety-rules.md §3.1).
STANDARD_MOLAR_VOLUME_L = 24.04

# g/mol, for ppm <-> mg/m3 (safety-rules.md §3.1). The one table: the engine, the gas-test judge
# and the floor comparisons all convert with it.
MOLECULAR_WEIGHT: dict[str, float] = {
    "co": 28.01,
    "h2s": 34.08,
    "no2": 46.01,
    "so2": 64.07,
    "nh3": 17.03,
    "o3": 48.00,
    "ch2o": 30.03,
    "cl2": 70.90,
    "hcl": 36.46,
    "hf": 20.01,
    "hcn": 27.03,
    "ph3": 34.00,
    "c6h6": 78.11,
    "h2": 2.016,
}

# Stale data: practice raises a comms alarm when no value arrives within about 30 s
# (safety-rules.md §4, "Stale data"); a sensor polled more slowly gets three of its intervals.
STALENESS_PRACTICE_S = 30.0


def staleness_loosening(
    sensor_id: str, staleness_s: float, interval_s: float
) -> LimitLooserWarning | None:
    """The warning for a sensor that may stay silent longer than practice allows, or None.

    ``staleness_s`` is how long a silent sensor still vouches for the air; ``interval_s`` its
    reporting interval. Warned, not tightened: a slow transmitter's own interval decides what
    can work, and the technician must see the trade-off (issue 17 item 5).
    """
    bound = max(STALENESS_PRACTICE_S, 3 * interval_s)
    if staleness_s <= bound:
        return None
    return LimitLooserWarning(
        f"gas.sensors {sensor_id}: staleness_s {staleness_s:g} s lets a silent sensor vouch for "
        f"the air that long; practice is a comms alarm within {bound:g} s "
        "(safety-rules.md §4, stale data)",
        f"gas.sensors {sensor_id}：staleness_s {staleness_s:g} 秒，传感器沉默这么久仍被视为"
        f"在监测；通行做法是 {bound:g} 秒内报通讯故障（safety-rules.md §4，数据过期）",
    )


# The O2 band's floors, % vol (GB 30871 §6.4; §5.2.7 for oxygen-enriched equipment).
O2_LOW = 19.5
O2_HIGH = 21.0
O2_HIGH_ENRICHED = 23.5

_TO_PPM = {"ppm": 1.0, "ppb": 1e-3, "%vol": 1e4}
_TO_MG = {"mg/m3": 1.0, "ug/m3": 1e-3}


def convert(
    value: float,
    src: str,
    dst: str,
    *,
    mw: float | None,
    molar_volume_l: float = STANDARD_MOLAR_VOLUME_L,
) -> float | None:
    """``value`` in unit ``src`` expressed in unit ``dst``, or None when they cannot be related.

    Volume fractions (ppm, ppb, % vol) convert among themselves, as do mass concentrations
    (mg/m3, ug/m3); across the two a molecular weight ``mw`` in g/mol is needed
    (ppm = mg/m3 * molar volume / mw). %LEL relates to nothing here (it needs the zone's target
    gas). Linear without offset, so it also converts differences (deadbands).
    """
    if src == dst:
        return value
    if src in _TO_PPM and dst in _TO_PPM:
        return value * _TO_PPM[src] / _TO_PPM[dst]
    if src in _TO_MG and dst in _TO_MG:
        return value * _TO_MG[src] / _TO_MG[dst]
    if mw is None:
        return None
    if src in _TO_PPM and dst in _TO_MG:
        return value * _TO_PPM[src] * mw / molar_volume_l / _TO_MG[dst]
    if src in _TO_MG and dst in _TO_PPM:
        return value * _TO_MG[src] * molar_volume_l / mw / _TO_PPM[dst]
    return None


class LimitLooserWarning(BilingualWarning):
    """A configured value was looser than the standard's (check-config shows it, with the
    clause and the value that applies). ``str()`` is the English text; ``text(lang)`` gives
    zh-CN or English, for the technician's language."""


def _warn(en: str, zh: str) -> None:
    # stacklevel 3: the validator that called the function that warns.
    warnings.warn(LimitLooserWarning(en, zh), stacklevel=3)


_LEVELS = ("low", "high", "twa", "stel")


class GasLimits(Section):
    """Alarm levels of one gas. ``low`` warns (may be delayed); everything else stops work.

    Levels are finite numbers above 0 in ``unit``; ``low`` may not exceed ``high``. For a gas
    with a floor in ``GAS_FLOORS`` the configured entry is merged with it (``tighten``).
    """

    unit: Unit = Field(description="unit of the numbers below; readings are converted to it")
    low: float | None = Field(default=None, description="first alarm level (warning, amber)")
    high: float | None = Field(default=None, description="second alarm level: suspends")
    twa: float | None = Field(default=None, description="8 h time-weighted average: suspends")
    stel: float | None = Field(default=None, description="15 min average: suspends")
    pass_limit: float | None = Field(
        default=None, description="gas-test pass criterion; None = twa, else high"
    )
    deadband: float = Field(
        default=0.0, ge=0, description="an alarm clears at or below level - this"
    )
    low_on_delay_s: float = Field(
        default=0.0, ge=0, le=600, description="low alarm only after this long over (never high)"
    )
    molecular_weight: float | None = Field(
        default=None, gt=0, description="g/mol, for ppm <-> mg/m3; None = built-in table"
    )

    @model_validator(mode="after")
    def _ordered(self) -> GasLimits:
        # NaN compares false with everything and inf is never reached: either would switch an
        # alarm off silently, so a level must be a finite number above zero.
        for name in (*_LEVELS, "pass_limit"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise BilingualValueError(
                    f"{name} must be a finite number above 0, got {value}",
                    f"{name} 应为大于 0 的有限数字（实际为 {value}）",
                )
        if self.low is not None and self.high is not None and self.low > self.high:
            raise BilingualValueError(
                "low alarm level is above the high level",
                f"低报值（一级报警值）{self.low} 高于高报值（二级报警值）{self.high}",
            )
        return self

    def pass_level(self) -> float | None:
        """The gas-test pass criterion in ``unit``: ``pass_limit``, else ``twa``, else ``high``."""
        return self.pass_limit or self.twa or self.high


@dataclass(frozen=True, slots=True)
class GasFloor:
    """The standard's levels for one gas and, per level name, the clause each comes from."""

    limits: GasLimits
    clauses: Mapping[str, str]

    def clause(self, level: str) -> str:
        """Where ``level`` (low, high, twa, stel, pass_limit) comes from."""
        return self.clauses.get(level, self.clauses["high"])


def _floors() -> dict[str, GasFloor]:
    # GB/T 50493-2019 AL/AH and GBZ 2.1 TWA/STEL (safety-rules.md §3.2); H2S and O3 are MAC
    # gases, so their "high" is the ceiling itself and "low" half of it (GBZ/T 223 预报).
    mg = "mg/m3"
    oel = {
        "low": "GB/T 50493-2019 AL = 100 %OEL",
        "high": "GB/T 50493-2019 AH = 200 %OEL",
        "twa": "GBZ 2.1-2019 PC-TWA",
        "stel": "GBZ 2.1-2019 PC-STEL",
        "pass_limit": "GB 30871-2022 §6.4, GBZ 2.1-2019 PC-TWA",
    }
    mac = {
        "low": "GBZ/T 223 预报 = ½ MAC",
        "high": "GBZ 2.1-2019 MAC",
        "pass_limit": "GB 30871-2022 §6.4, GBZ 2.1-2019 MAC",
    }
    lel = {"high": "GB/T 50493-2019 combustible AL ≤ 25 %LEL"}
    return {
        "co": GasFloor(GasLimits(unit=mg, low=20, high=40, twa=20, stel=30, deadband=2), oel),
        "h2s": GasFloor(GasLimits(unit=mg, low=5, high=10, deadband=1), mac),
        "no2": GasFloor(GasLimits(unit=mg, low=5, high=10, twa=5, stel=10, deadband=0.5), oel),
        "so2": GasFloor(GasLimits(unit=mg, low=5, high=10, twa=5, stel=10, deadband=0.5), oel),
        "nh3": GasFloor(GasLimits(unit=mg, low=20, high=40, twa=20, stel=30, deadband=2), oel),
        "o3": GasFloor(GasLimits(unit=mg, low=0.15, high=0.3, deadband=0.02), mac),
        "ch2o": GasFloor(GasLimits(unit=mg, low=0.25, high=0.5, deadband=0.05), mac),
        "lel": GasFloor(GasLimits(unit="%LEL", low=5, high=25, deadband=1), lel),
    }


# The standard's floor per gas: configuration may tighten these levels, never loosen them.
GAS_FLOORS: Mapping[str, GasFloor] = _floors()


def builtin_limits() -> dict[str, GasLimits]:
    """The limits that apply where the configuration gives none: the floors themselves."""
    return {gas: floor.limits for gas, floor in GAS_FLOORS.items()}


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def tighten(gas: str, mine: GasLimits, floor: GasFloor) -> GasLimits:
    """``mine`` merged with the standard's ``floor``: each level the stricter of the two.

    The result is in ``mine.unit``. A level ``mine`` leaves out keeps the floor's; a looser one
    is replaced by the floor's (converted) with a ``LimitLooserWarning`` naming the clause and
    the value that applies. An unset deadband takes the floor's. A molecular weight differing
    from the built-in table is ignored with a warning (it would move every reading).

    Raises ValueError when ``mine.unit`` cannot be related to the floor's unit (say %LEL for
    CO): such an entry could not be checked against the standard, and never judges "safe".
    """
    base = floor.limits
    mw = MOLECULAR_WEIGHT.get(gas)
    updates: dict[str, float | None] = {}
    if mine.molecular_weight is not None and mw is not None:
        if abs(mine.molecular_weight - mw) > 0.01 * mw:
            _warn(
                f"gas.limits.{gas}.molecular_weight: {mine.molecular_weight} g/mol differs from "
                f"{gas}'s {mw} g/mol (safety-rules.md §3.1): {mw} applies",
                f"gas.limits.{gas}.molecular_weight：{mine.molecular_weight} g/mol 与 {gas} 的 "
                f"{mw} g/mol 不符（safety-rules.md §3.1）：按 {mw} 执行",
            )
        updates["molecular_weight"] = None

    def floor_in_mine(value: float) -> float:
        converted = convert(value, base.unit, mine.unit, mw=mw)
        if converted is None:
            raise BilingualValueError(
                f"{gas}: unit {mine.unit} cannot be compared with the standard's {base.unit} "
                f"({floor.clause('high')}); give the levels in {base.unit}",
                f"{gas}：单位 {mine.unit} 无法与标准的 {base.unit} 比较"
                f"（{floor.clause('high')}）；请以 {base.unit} 填写各报警值",
            )
        return converted

    for name in _LEVELS:
        theirs = getattr(base, name)
        if theirs is None:
            continue
        level = floor_in_mine(theirs)
        ours = getattr(mine, name)
        if ours is None:
            updates[name] = level  # a missing level keeps the standard's
        elif ours > level * 1.001:
            updates[name] = level
            in_mine = "" if mine.unit == base.unit else f" ({_fmt(level)} {mine.unit})"
            in_mine_zh = "" if mine.unit == base.unit else f"（{_fmt(level)} {mine.unit}）"
            _warn(
                f"gas.limits.{gas}.{name}: {ours} {mine.unit} is looser than the "
                f"standard's {theirs} {base.unit}{in_mine} ({floor.clause(name)}): "
                f"tightened, {_fmt(level)} {mine.unit} applies",
                f"gas.limits.{gas}.{name}：{ours} {mine.unit} 比标准的 {theirs} {base.unit}"
                f"{in_mine_zh}宽松（{floor.clause(name)}）："
                f"已收紧，按 {_fmt(level)} {mine.unit} 执行",
            )
    floor_pass = base.pass_level()
    if mine.pass_limit is not None and floor_pass is not None:
        level = floor_in_mine(floor_pass)
        if mine.pass_limit > level * 1.001:
            updates["pass_limit"] = level
            _warn(
                f"gas.limits.{gas}.pass_limit: {mine.pass_limit} {mine.unit} is looser "
                f"than the standard's {floor_pass} {base.unit} ({floor.clause('pass_limit')}): "
                f"tightened, {_fmt(level)} {mine.unit} applies",
                f"gas.limits.{gas}.pass_limit：{mine.pass_limit} {mine.unit} 比标准的 "
                f"{floor_pass} {base.unit} 宽松（{floor.clause('pass_limit')}）："
                f"已收紧，按 {_fmt(level)} {mine.unit} 执行",
            )
    if "deadband" not in mine.model_fields_set:
        updates["deadband"] = floor_in_mine(base.deadband)
    return mine.model_copy(update=updates)


def merge_entry(gas: str, mine: GasLimits) -> GasLimits:
    """The limits of ``gas`` in force for the configured entry ``mine``.

    A gas with a floor is tightened against it (``tighten``). A gas without one takes the entry
    as given, but it must have a ``high`` (suspending) level: without one the gas could never
    stop work (issue 17 item 5). Raises ValueError naming the gas otherwise, for ``o2`` (judged
    by ``gas.oxygen``), and as ``tighten`` does.
    """
    if gas == "o2":
        # The engine judges O2 by its band only; an entry here would be ignored, and a
        # technician who wrote 15-25 % would believe it applied (found by a fresh-user test).
        raise BilingualValueError(
            "o2 is judged by the band in gas.oxygen (low / high, % vol; GB 30871 §6.4), not "
            "by gas.limits: move it there (a band wider than the standard's is narrowed)",
            "氧气按 gas.oxygen 的含量范围判定（low / high，% vol；GB 30871 §6.4），"
            "不在 gas.limits 中：请移到 gas.oxygen（比标准宽的范围会被收窄）",
        )
    floor = GAS_FLOORS.get(gas)
    if floor is not None:
        return tighten(gas, mine, floor)
    if mine.high is None:
        raise BilingualValueError(
            f"{gas}: a high (suspending) level is required: without one {gas} can never stop work",
            f"{gas}：必须设高报值 high（二级报警值，达到即暂停作业）：没有它，{gas} 超标也"
            "永远不会停止作业",
        )
    return mine


class OxygenBand(Section):
    """O2 % vol band. The upper bound is 21 % (GB 30871 §6.4) or 23.5 % in enriched zones.

    A ``low`` below 19.5 % or a ``high`` above 23.5 % is narrowed to the standard's value with
    a ``LimitLooserWarning``; the engine further caps ``high`` at 21 % outside oxygen-enriched
    zones (``o2_high_for``).
    """

    low: float = Field(default=O2_LOW, gt=0, lt=100)
    high: float | None = Field(
        default=None, description="None = 21.0, or 23.5 when the zone is oxygen-enriched"
    )
    deadband: float = Field(
        default=0.1,
        ge=0,
        le=2,
        description="clears once back inside by this much; ordinary air (20.9) must clear a "
        "21.0 upper bound, so keep it at or below 0.1",
    )

    @field_validator("low", mode="after")
    @classmethod
    def _low_floor(cls, value: float) -> float:
        if value < O2_LOW:
            _warn(
                f"gas.oxygen.low {value} % is below the standard's {O2_LOW} % (GB 30871 §6.4): "
                f"tightened, {O2_LOW} % applies",
                f"gas.oxygen.low {value} % 低于标准的 {O2_LOW} %（GB 30871 §6.4）："
                f"已收紧，按 {O2_LOW} % 执行",
            )
            return O2_LOW
        return value

    @field_validator("high", mode="after")
    @classmethod
    def _high_floor(cls, value: float | None) -> float | None:
        if value is None:
            return None
        if not math.isfinite(value):
            raise BilingualValueError(
                f"oxygen.high must be a finite number, got {value}",
                f"oxygen.high 应为有限数字（实际为 {value}）",
            )
        if value > O2_HIGH_ENRICHED:
            _warn(
                f"gas.oxygen.high {value} % is above the standard's {O2_HIGH_ENRICHED} % "
                f"(GB 30871 §6.4, §5.2.7): tightened, {O2_HIGH_ENRICHED} % applies "
                f"({O2_HIGH} % outside oxygen-enriched zones)",
                f"gas.oxygen.high {value} % 高于标准的 {O2_HIGH_ENRICHED} %"
                "（GB 30871 §6.4、§5.2.7）："
                f"已收紧，按 {O2_HIGH_ENRICHED} % 执行（非富氧区域按 {O2_HIGH} %）",
            )
            return O2_HIGH_ENRICHED
        return value

    @model_validator(mode="after")
    def _band(self) -> OxygenBand:
        if self.high is not None and not self.low < self.high < 100:
            raise BilingualValueError(
                f"oxygen.high must be above oxygen.low and below 100, got {self.high}",
                f"oxygen.high 应高于 oxygen.low 且低于 100（实际为 {self.high}）",
            )
        return self


def o2_high_for(band: OxygenBand, *, oxygen_enriched: bool) -> float:
    """The O2 upper bound in force, % vol: the band's, capped at 21 % (23.5 % when the zone is
    oxygen-enriched) (GB 30871 §6.4, §5.2.7)."""
    cap = O2_HIGH_ENRICHED if oxygen_enriched else O2_HIGH
    return cap if band.high is None else min(band.high, cap)


def o2_band_loosening(band: OxygenBand, *, oxygen_enriched: bool) -> LimitLooserWarning | None:
    """The warning for a band upper bound the zone's kind does not allow, or None.

    ``OxygenBand`` alone cannot tell: 23.5 % is right for oxygen-enriched equipment and too
    loose elsewhere, so the whole configuration (which knows the zone) asks this.
    """
    applied = o2_high_for(band, oxygen_enriched=oxygen_enriched)
    if band.high is None or band.high <= applied:
        return None
    return LimitLooserWarning(
        f"gas.oxygen.high {band.high} % is above the standard's {applied} % for a zone that is "
        f"not oxygen-enriched (GB 30871 §6.4): tightened, {applied} % applies",
        f"gas.oxygen.high {band.high} % 高于非富氧区域标准的 {applied} %（GB 30871 §6.4）："
        f"已收紧，按 {applied} % 执行",
    )


class UnpermittedWorkConfig(Section):
    """Fume / particulate rise while no permit is active raises UNPERMITTED_WORK_SUSPECTED."""

    levels: dict[str, float] = Field(
        default_factory=lambda: {"pm2_5": 150.0},
        description="gas -> level in the reading's unit at or above which work is suspected",
    )
    rearm_below_fraction: float = Field(
        default=0.7, gt=0, lt=1, description="re-arm once the value falls below level * this"
    )
