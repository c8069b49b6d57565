"""Configuration of the gas / fume sensors and of the zone's alarm limits.

Sensors are chosen by a ``type:`` discriminator (``winsen_ze``, ``modbus_rtu``, ``pms5003``);
a new Modbus transmitter model is a register map here, not code. Limits are per gas and are
stored in the unit the source table gives (mg/m3 for toxics, see
../shared/reference/safety-rules.md §3.1-3.3); readings are converted before comparison.

Example (gateway.yaml)::

    gas:
      sensors:
        - {type: winsen_ze, id: ze15-co-1, port: /dev/ttyAMA0, model: ze15}
        - type: modbus_rtu
          id: tx-o2-lel-1
          port: /dev/ttyUSB0
          device_id: 1
          channels:
            - {gas: o2, unit: "%vol", address: 0, scale: 0.1}
            - {gas: lel, unit: "%LEL", address: 1, scale: 0.1}
          status: {address: 6, fault_mask: 0x0004, warmup_value: 0}
        - {type: pms5003, id: pms-1, port: /dev/ttyS0}   # fume indicator only
      limits:                                           # merged over the built-in table
        h2s: {unit: mg/m3, low: 5, high: 10, deadband: 1}
"""

from __future__ import annotations

import math
import warnings
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from firmware_adapters.configbase import Section

Unit = Literal["ppm", "ppb", "mg/m3", "%vol", "%LEL", "ug/m3"]


class IndicatorOnlyWarning(UserWarning):
    """A configured sensor can only indicate a trend, never judge compliance."""


# ---- Winsen ZE 9-byte family


WinsenModel = Literal["ze03", "ze07", "ze08", "ze15", "ze25", "generic"]


class WinsenZeConfig(Section):
    """A Winsen ZE-family module on a UART (9600 8N1, 9-byte frames; sensors.md §1)."""

    type: Literal["winsen_ze"] = "winsen_ze"
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="sensor id, unique per zone")
    port: str = Field(min_length=1, description="serial device, e.g. /dev/ttyAMA0 or /dev/ttyUSB0")
    baudrate: int = Field(default=9600, gt=0, description="Winsen modules speak 9600 8N1")
    model: WinsenModel = Field(
        default="generic",
        description="module model: sets fault-bit, warm-up and mode-byte defaults",
    )
    gas: str | None = Field(
        default=None,
        description="expected gas (co, h2s, o2, ...); frames naming another gas are rejected. "
        "Required in Q&A mode, where replies carry no gas code",
    )
    unit: Unit | None = Field(
        default=None, description="override the unit code of the frame (required in Q&A mode)"
    )
    mode: Literal["active", "qa"] = Field(
        default="active", description="active upload (1 Hz) or question-and-answer polling"
    )
    poll_interval_s: float = Field(default=1.0, gt=0, le=60, description="Q&A polling period")
    qa_decimals: int = Field(default=1, ge=0, le=4, description="decimals of the Q&A value")
    fault_bit: bool | None = Field(
        default=None,
        description="bit 7 of the value high byte is a fault flag (ZE15); None = model",
    )
    full_scale: float | None = Field(
        default=None, gt=0, description="over-range threshold; None = from the frame / model"
    )
    warmup_s: float | None = Field(
        default=None, ge=0, description="ignore values this long after (re)opening; None = model"
    )
    staleness_s: float = Field(
        default=3.0, gt=0, le=600, description="no valid frame for this long = sensor stale"
    )

    @model_validator(mode="after")
    def _qa_needs_gas(self) -> WinsenZeConfig:
        if self.mode == "qa" and (self.gas is None or self.unit is None):
            raise ValueError("Q&A mode replies carry no gas code: set `gas` and `unit`")
        return self


# ---- Modbus RTU transmitters


class ModbusChannel(Section):
    """One measured value in a transmitter's register map (sensors.md §3.3)."""

    gas: str = Field(min_length=1, description="co, h2s, o2, lel, ...")
    unit: Unit
    address: int = Field(ge=0, le=0xFFFF, description="register address (0-based on the wire)")
    function: Literal[3, 4] = Field(default=3, description="3 holding / 4 input registers")
    data_type: Literal["u16", "s16", "u32", "s32", "f32"] = "u16"
    word_order: Literal["big", "little"] = Field(
        default="big", description="32-bit values: high word first (big) or low word first"
    )
    scale: float = Field(default=1.0, gt=0, description="value = raw * scale / 10**decimals")
    decimals_register: int | None = Field(
        default=None, ge=0, le=0xFFFF, description="register holding the decimal places, if any"
    )
    full_scale: float | None = Field(default=None, gt=0, description="over-range at or above")
    response_factor: float = Field(
        default=1.0, gt=0, description="%LEL sensors: target-gas reading = reading * factor"
    )


class ModbusStatus(Section):
    """The transmitter's status register: fault bits and the warm-up indicator."""

    address: int = Field(ge=0, le=0xFFFF)
    function: Literal[3, 4] = 3
    fault_mask: int = Field(default=0, ge=0, le=0xFFFF, description="any of these bits = fault")
    warmup_mask: int = Field(default=0, ge=0, le=0xFFFF, description="any of these bits = warming")
    warmup_value: int | None = Field(
        default=None, ge=0, le=0xFFFF, description="this exact value = warming up / busy"
    )


class ModbusRtuConfig(Section):
    """A gas transmitter on RS-485, polled with function 3 or 4 (sensors.md §3)."""

    type: Literal["modbus_rtu"] = "modbus_rtu"
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    port: str = Field(min_length=1, description="RS-485 adapter; transmitters may share a port")
    baudrate: int = Field(default=9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    device_id: int = Field(ge=1, le=247, description="Modbus slave address")
    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    timeout_s: float = Field(default=0.5, gt=0, le=10, description="per-request reply timeout")
    channels: tuple[ModbusChannel, ...] = Field(min_length=1)
    status: ModbusStatus | None = None
    warmup_s: float = Field(default=90.0, ge=0, description="fixed toxic detector: 90 s")
    staleness_s: float = Field(default=5.0, gt=0, le=600)


# ---- Plantower PMS5003


class Pms5003Config(Section):
    """A Plantower PMS5003 particulate counter: a fume-activity indicator only.

    It measures PM2.5 optically over 0-500 ug/m3 and saturates near 1000 ug/m3, far below the
    4 mg/m3 welding-fume TWA (gravimetric total dust): it cannot judge compliance and never
    suspends a permit. It feeds the unpermitted-work detector (safety-rules.md §3.4).
    """

    type: Literal["pms5003"] = "pms5003"
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    port: str = Field(min_length=1)
    baudrate: int = Field(default=9600, gt=0)
    fields: Literal["cf1", "atm"] = Field(
        default="cf1", description="CF=1 'standard particle' fields, as the datasheet recommends"
    )
    over_range_ugm3: float = Field(
        default=999.0, gt=0, description="PM2.5 pinned at or above this reads as over range"
    )
    warmup_s: float = Field(default=30.0, ge=0, description="fan spin-up after power / wake")
    staleness_s: float = Field(default=5.0, gt=0, le=600, description="stable mode sends ~2.3 s")

    @model_validator(mode="after")
    def _indicator_only(self) -> Pms5003Config:
        warnings.warn(
            f"sensor {self.id}: PMS5003 is a fume-activity indicator only; it cannot judge "
            "welding-fume compliance (4 mg/m3 gravimetric) and will not suspend permits",
            IndicatorOnlyWarning,
            stacklevel=2,
        )
        return self


SensorConfig = Annotated[
    WinsenZeConfig | ModbusRtuConfig | Pms5003Config, Field(discriminator="type")
]


# ---- limits


class GasLimits(Section):
    """Alarm levels of one gas. ``low`` warns (may be delayed); everything else stops work."""

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
        for name in ("low", "high", "twa", "stel", "pass_limit"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number above 0, got {value}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError("low alarm level is above the high level")
        return self


class OxygenBand(Section):
    """O2 % vol band. The upper bound is 21 % (GB 30871 §6.4) or 23.5 % in enriched zones."""

    low: float = Field(default=19.5, gt=0, lt=100)
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

    @model_validator(mode="after")
    def _band(self) -> OxygenBand:
        if self.high is not None and not (math.isfinite(self.high) and self.low < self.high < 100):
            raise ValueError(f"oxygen.high must be above oxygen.low and below 100, got {self.high}")
        if self.low < 19.5:
            warnings.warn(
                f"gas.oxygen.low {self.low} % is below the standard's 19.5 % (GB 30871 §6.4): "
                "oxygen deficiency alarms come later than the standard requires",
                LimitLooserWarning,
                stacklevel=2,
            )
        if self.high is not None and self.high > 23.5:
            warnings.warn(
                f"gas.oxygen.high {self.high} % is above the standard's 23.5 % (GB 30871 §6.4)",
                LimitLooserWarning,
                stacklevel=2,
            )
        return self


def _default_limits() -> dict[str, GasLimits]:
    # GB/T 50493-2019 AL/AH and GBZ 2.1 TWA/STEL (safety-rules.md §3.2); H2S and O3 are MAC
    # gases, so their "high" is the ceiling itself and "low" half of it (GBZ/T 223 预报).
    mg = "mg/m3"
    return {
        "co": GasLimits(unit=mg, low=20, high=40, twa=20, stel=30, deadband=2),
        "h2s": GasLimits(unit=mg, low=5, high=10, deadband=1),
        "no2": GasLimits(unit=mg, low=5, high=10, twa=5, stel=10, deadband=0.5),
        "so2": GasLimits(unit=mg, low=5, high=10, twa=5, stel=10, deadband=0.5),
        "nh3": GasLimits(unit=mg, low=20, high=40, twa=20, stel=30, deadband=2),
        "o3": GasLimits(unit=mg, low=0.15, high=0.3, deadband=0.02),
        "ch2o": GasLimits(unit=mg, low=0.25, high=0.5, deadband=0.05),
        "lel": GasLimits(unit="%LEL", low=5, high=25, deadband=1),
    }


class LimitLooserWarning(UserWarning):
    """A configured alarm level is looser than the standard's (reported by check-config)."""


# g/mol of the built-in gases, to compare a ppm entry with a mg/m3 table (24.04 L/mol, 20 °C).
_MOLECULAR_WEIGHT = {
    "co": 28.01,
    "h2s": 34.08,
    "no2": 46.01,
    "so2": 64.07,
    "nh3": 17.03,
    "o3": 48.0,
    "ch2o": 30.03,
}


def _in_unit(value: float, unit: str, to: str, gas: str) -> float | None:
    if unit == to:
        return value
    mw = _MOLECULAR_WEIGHT.get(gas)
    if mw is None:
        return None
    if unit == "ppm" and to == "mg/m3":
        return value * mw / 24.04
    if unit == "mg/m3" and to == "ppm":
        return value * 24.04 / mw
    return None


def _warn_if_looser(gas: str, mine: GasLimits, floor: GasLimits) -> None:
    """Warn, with the source, for each level above the built-in table's (documents and config
    may tighten the standard, never loosen it: issue 17 item 5)."""
    for name in ("low", "high", "twa", "stel"):
        ours, theirs = getattr(mine, name), getattr(floor, name)
        if theirs is None:
            continue
        if ours is None:
            if name in ("twa", "stel"):
                warnings.warn(
                    f"gas.limits.{gas}: no {name} level; the standard's is {theirs} "
                    f"{floor.unit} (GBZ 2.1): the built-in one no longer applies",
                    LimitLooserWarning,
                    stacklevel=2,
                )
            continue
        converted = _in_unit(ours, mine.unit, floor.unit, gas)
        if converted is None:
            warnings.warn(
                f"gas.limits.{gas}.{name}: {ours} {mine.unit} cannot be compared with the "
                f"standard's {theirs} {floor.unit}; check it by hand",
                LimitLooserWarning,
                stacklevel=2,
            )
        elif converted > theirs * 1.001:
            warnings.warn(
                f"gas.limits.{gas}.{name}: {ours} {mine.unit} is looser than the standard's "
                f"{theirs} {floor.unit} (GBZ 2.1 / GB/T 50493): alarms come later than the "
                "standard requires",
                LimitLooserWarning,
                stacklevel=2,
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


class GasConfig(Section):
    """Gas and fume monitoring: sensors, limits, and the unpermitted-work detector."""

    sensors: tuple[SensorConfig, ...] = Field(
        default=(), description="sensors on UART / RS-485; none configured by default"
    )
    limits: dict[str, GasLimits] = Field(
        default_factory=_default_limits,
        description="per gas; entries given here replace the built-in ones for that gas only",
    )
    oxygen: OxygenBand = OxygenBand()
    molar_volume_l: float = Field(
        default=24.04, gt=20, lt=26, description="L/mol for ppm <-> mg/m3 (24.04 at 20 °C)"
    )
    unpermitted_work: UnpermittedWorkConfig = UnpermittedWorkConfig()
    check_interval_s: float = Field(
        default=0.5, gt=0, le=10, description="how often staleness is re-evaluated"
    )

    @field_validator("limits", mode="after")
    @classmethod
    def _merge_defaults(cls, v: dict[str, GasLimits]) -> dict[str, GasLimits]:
        # Adding H2S limits must not silently drop the CO ones: merge over the built-in table.
        built_in = _default_limits()
        for gas, mine in v.items():
            floor = built_in.get(gas)
            if floor is None:
                continue
            if mine.high is None:
                # Without a high level the gas can never suspend work (the issue-17 audit
                # found `co: {unit: ppm, low: 30}` silencing CO at 400 ppm).
                raise ValueError(
                    f"{gas}: a high (suspending) level is required; the built-in is "
                    f"{floor.high} {floor.unit} (GBZ 2.1 / GB/T 50493)"
                )
            _warn_if_looser(gas, mine, floor)
        return {**built_in, **v}

    @model_validator(mode="after")
    def _consistent(self) -> GasConfig:
        ids = [s.id for s in self.sensors]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate sensor ids: {', '.join(dupes)}")
        buses: dict[str, tuple[int, str, int]] = {}
        addresses: set[tuple[str, int]] = set()
        for s in self.sensors:
            if isinstance(s, ModbusRtuConfig):
                line = (s.baudrate, s.parity, s.stopbits)
                if buses.setdefault(s.port, line) != line:
                    raise ValueError(f"transmitters on {s.port} disagree on baud/parity/stop")
                if (s.port, s.device_id) in addresses:
                    raise ValueError(f"two transmitters at address {s.device_id} on {s.port}")
                addresses.add((s.port, s.device_id))
        serial_ports = [s.port for s in self.sensors if not isinstance(s, ModbusRtuConfig)]
        shared = sorted(
            {p for p in serial_ports if serial_ports.count(p) > 1}
            | (set(serial_ports) & set(buses))
        )
        if shared:
            raise ValueError(f"a UART sensor needs its own port: {', '.join(shared)}")
        unjudged = sorted(g for g in self._declared_gases() if g not in self.limits)
        if unjudged:
            raise ValueError(
                f"no alarm limits for {', '.join(unjudged)}: add gas.limits.<gas> "
                "(a gas without limits can never raise an alarm)"
            )
        return self

    def _declared_gases(self) -> set[str]:
        gases: set[str] = set()
        for s in self.sensors:
            if isinstance(s, WinsenZeConfig) and s.gas is not None:
                gases.add(s.gas)
            elif isinstance(s, ModbusRtuConfig):
                gases.update(c.gas for c in s.channels)
        return gases - {"o2", "lel"}  # judged by the O2 band and GB 30871 §5.3.2
