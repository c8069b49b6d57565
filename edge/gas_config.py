"""The ``gas:`` section of gateway.yaml: the sensors (wire settings) and the zone's gas policy.

One YAML mapping holds both, as it always has, but each half lives in its layer: the sensors
are ``firmware_adapters.gas.config`` (ports, protocols, register maps), the limits, the O2
band and the unpermitted-work detector are ``edge.air_limits``. Example::

    gas:
      sensors:
        - {type: winsen_ze, id: ze15-co-1, port: /dev/ttyAMA0, model: ze15}
      limits:                                # merged with the standard's floors, tighten only
        h2s: {unit: mg/m3, low: 5, high: 8, deadband: 1}
      oxygen: {low: 19.5}
"""

from __future__ import annotations

import warnings

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from edge.air_limits import (
    STANDARD_MOLAR_VOLUME_L,
    GasLimits,
    OxygenBand,
    UnpermittedWorkConfig,
    builtin_limits,
    merge_entry,
    staleness_loosening,
)
from firmware_adapters.bilingual import BilingualValueError
from firmware_adapters.configbase import Section
from firmware_adapters.gas.config import SensorConfig, check_sensor_set

# Judged by the O2 band and by GB 30871 §5.3.2 (% vol of the target gas), not by gas.limits.
_JUDGED_WITHOUT_LIMITS = frozenset({"o2", "lel"})


class GasConfig(Section):
    """Gas and fume monitoring: sensors, limits, and the unpermitted-work detector.

    Errors (ValueError, reported with file:line by the loader): sensors that cannot be wired
    together (``check_sensor_set``), a measured gas without limits, a limit entry whose unit
    cannot be compared with the standard's or that has no high level (``merge_entry``).
    """

    sensors: tuple[SensorConfig, ...] = Field(
        default=(), description="sensors on UART / RS-485; none configured by default"
    )
    limits: dict[str, GasLimits] = Field(
        default_factory=builtin_limits,
        description="per gas; an entry is merged with the standard's levels for that gas and "
        "may only tighten them (a looser level is warned and the standard's applies)",
    )
    oxygen: OxygenBand = OxygenBand()
    molar_volume_l: float = Field(
        default=STANDARD_MOLAR_VOLUME_L,
        gt=20,
        lt=26,
        description="L/mol for ppm <-> mg/m3 (24.04 at 20 °C)",
    )
    unpermitted_work: UnpermittedWorkConfig = UnpermittedWorkConfig()
    check_interval_s: float = Field(
        default=0.5, gt=0, le=10, description="how often staleness is re-evaluated"
    )

    @field_validator("limits", mode="after")
    @classmethod
    def _merge_floors(cls, v: dict[str, GasLimits]) -> dict[str, GasLimits]:
        # Adding H2S limits must not drop the CO ones, and a CO entry must not drop CO's own
        # STEL: every entry is merged with the standard's floors (issue 17 item 5). Each
        # refused entry is reported at its own key (gas.limits.<gas>), so check-config names
        # its line, and all of them at once.
        out = builtin_limits()
        errors: list[InitErrorDetails] = []
        for gas, mine in v.items():
            try:
                out[gas] = merge_entry(gas, mine)
            except ValueError as err:
                # The raised error rides along in ctx, as pydantic does for a validator's
                # own ValueError: config_messages shows a BilingualValueError's zh-CN.
                reason = PydanticCustomError(
                    "value_error", "{reason}", {"reason": str(err), "error": err}
                )
                errors.append(InitErrorDetails(type=reason, loc=(gas,), input=mine))
        if errors:
            raise ValidationError.from_exception_data("limits", errors)
        return out

    @model_validator(mode="after")
    def _consistent(self) -> GasConfig:
        check_sensor_set(self.sensors)
        for s in self.sensors:
            said = staleness_loosening(s.id, s.staleness_s, s.report_interval_s())
            if said is not None:
                warnings.warn(said, stacklevel=2)
        unjudged = sorted(g for g in self.measured_gases() if g not in self.limits)
        if unjudged:
            raise BilingualValueError(
                f"no alarm limits for {', '.join(unjudged)}: add gas.limits.<gas> "
                "(a gas without limits can never raise an alarm)",
                f"{'、'.join(unjudged)} 没有报警值：请添加 gas.limits.<气体>"
                "（没有报警值的气体永远不会报警）",
            )
        return self

    def measured_gases(self) -> set[str]:
        """The gases the sensors are configured to judge (indicators, O2 and LEL left out)."""
        return {
            c.gas
            for s in self.sensors
            for c in s.channel_specs()
            if c.gas is not None and not c.indicator_only
        } - _JUDGED_WITHOUT_LIMITS
