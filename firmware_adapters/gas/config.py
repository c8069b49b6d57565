"""Wire settings of the gas / fume sensors: ports, protocols, register maps, model defaults.

Sensors are chosen by a ``type:`` discriminator (``winsen_ze``, ``modbus_rtu``, ``pms5003``);
a new Modbus transmitter model is a register map here, not code. Each sensor config describes
what it measures (``channel_specs()``, a tuple of ``Channel``), how it uses its port
(``port_use()``, a ``PortUse``) and how often it reports (``report_interval_s()``), so the
layers above never branch on the sensor type: a new sensor type is a new config class here
(plus its adapter in ``wiring``).

The alarm limits, the O2 band and the unpermitted-work detector are zone policy: they live in
``edge.air_limits``, and the whole ``gas:`` section (sensors and policy, one YAML mapping) is
``edge.gas_config.GasConfig``. Example (gateway.yaml)::

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
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from firmware_adapters.bilingual import BilingualValueError, BilingualWarning
from firmware_adapters.configbase import Section

# Units as Chinese standards and data sheets print them (GBZ 2.1 writes mg/m³, vendors µg/m³,
# % LEL), folded to the one spelling the code compares.
_UNIT_SPELLINGS = {
    "mg/m³": "mg/m3",
    "µg/m³": "ug/m3",
    "μg/m³": "ug/m3",
    "µg/m3": "ug/m3",
    "μg/m3": "ug/m3",
    "ug/m³": "ug/m3",
    "%lel": "%LEL",
    "% lel": "%LEL",
    "%vol": "%vol",
    "% vol": "%vol",
    "%v/v": "%vol",
    "ppm": "ppm",
    "ppb": "ppb",
}


def _unit_spelling(value: object) -> object:
    if isinstance(value, str):
        return _UNIT_SPELLINGS.get(value.strip().casefold(), value)
    return value


Unit = Annotated[
    Literal["ppm", "ppb", "mg/m3", "%vol", "%LEL", "ug/m3"], BeforeValidator(_unit_spelling)
]


class IndicatorOnlyWarning(BilingualWarning):
    """A configured sensor can only indicate a trend, never judge compliance (``en``, ``zh``)."""


@dataclass(frozen=True, slots=True)
class Channel:
    """One value a configured sensor reports, as the layers above need to know it.

    ``gas`` is the lower-case gas name of the readings (``co``, ``o2``, ``lel``, ``pm2_5``), or
    None when the module names the gas in each frame (a Winsen module with neither ``gas`` nor a
    model that fixes it). ``unit`` is the reading's unit, or None when each frame carries it.
    ``full_scale`` is the over-range threshold in ``unit`` when known. ``indicator_only``
    channels (particulates) are shown and feed the unpermitted-work detector but never judge
    the air (safety-rules.md §3.4).
    """

    gas: str | None
    unit: Unit | None
    full_scale: float | None = None
    indicator_only: bool = False


@dataclass(frozen=True, slots=True)
class PortUse:
    """How a sensor uses its serial port, to check that a set of sensors can share the wiring.

    ``line`` is None for a UART sensor that needs the port alone; for a bus (RS-485) it names
    the line settings every device on the port must agree on (e.g. ``"9600 8N1"``), and
    ``address`` is the device's address on that bus (unique per port).
    """

    port: str
    line: str | None = None
    address: int | None = None


# ---- Winsen ZE 9-byte family


WinsenModel = Literal["ze03", "ze07", "ze08", "ze15", "ze25", "generic"]


@dataclass(frozen=True, slots=True)
class ModelDefaults:
    """What a Winsen model implies when the config does not say (sensors.md §1).

    ``gas`` the gas the module measures (None: named by each frame); ``warmup_s`` seconds of
    warm-up after power; ``fault_bit`` whether bit 7 of the value high byte flags a fault;
    ``qa_layout`` where the Q&A reply holds the value; ``full_scale`` the over-range threshold
    in the frame's unit (None: unknown); ``mode_bytes`` which generation of mode-switch command.
    """

    gas: str | None
    warmup_s: float
    fault_bit: bool
    qa_layout: Literal["b2b3", "ch2o"]
    full_scale: float | None
    mode_bytes: Literal["new", "old"]


# Warm-up: ZE15 30 s, ZE07 about 3 min (safety-rules.md §4); others: the fixed-detector 90 s.
WINSEN_MODELS: dict[str, ModelDefaults] = {
    "ze03": ModelDefaults(None, 90.0, False, "b2b3", None, "old"),
    "ze07": ModelDefaults("co", 180.0, False, "b2b3", None, "new"),
    "ze08": ModelDefaults("ch2o", 180.0, False, "ch2o", None, "new"),
    "ze15": ModelDefaults("co", 30.0, True, "b2b3", 500.0, "new"),
    "ze25": ModelDefaults("o3", 180.0, False, "b2b3", None, "new"),
    "generic": ModelDefaults(None, 90.0, False, "b2b3", None, "new"),
}


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
            raise BilingualValueError(
                "Q&A mode replies carry no gas code: set `gas` and `unit`",
                "问答模式（qa）的应答不含气体代码：请设置 `gas` 和 `unit`",
            )
        return self

    def channel_specs(self) -> tuple[Channel, ...]:
        """One channel: the configured gas, else the model's, else whatever the frames name."""
        model = WINSEN_MODELS[self.model]
        full = self.full_scale if self.full_scale is not None else model.full_scale
        return (Channel(self.gas or model.gas, self.unit, full),)

    def port_use(self) -> PortUse:
        """A UART module: the port is its own."""
        return PortUse(self.port)

    def report_interval_s(self) -> float:
        """Seconds between readings: the Q&A poll period, or 1 s in active upload (1 Hz)."""
        return self.poll_interval_s if self.mode == "qa" else 1.0


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

    def channel_specs(self) -> tuple[Channel, ...]:
        """One channel per register-map entry, in the configured unit."""
        return tuple(Channel(c.gas, c.unit, c.full_scale) for c in self.channels)

    def port_use(self) -> PortUse:
        """A device on an RS-485 bus: the port is shared, the line settings must agree."""
        return PortUse(self.port, f"{self.baudrate} 8{self.parity}{self.stopbits}", self.device_id)

    def report_interval_s(self) -> float:
        """Seconds between readings: the poll period."""
        return self.poll_interval_s


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
            IndicatorOnlyWarning(
                f"sensor {self.id}: PMS5003 is a fume-activity indicator only; it cannot judge "
                "welding-fume compliance (4 mg/m3 gravimetric) and will not suspend permits",
                f"传感器 {self.id}：PMS5003 只能指示是否有焊接烟尘活动，不能判定电焊烟尘是否"
                "超标（4 mg/m3，称重法），也不会暂停作业许可证",
            ),
            stacklevel=2,
        )
        return self

    def channel_specs(self) -> tuple[Channel, ...]:
        """PM1.0, PM2.5 and PM10 in ug/m3, all indicators (PM2.5 saturates at the over-range)."""
        return (
            Channel("pm1_0", "ug/m3", indicator_only=True),
            Channel("pm2_5", "ug/m3", self.over_range_ugm3, indicator_only=True),
            Channel("pm10", "ug/m3", indicator_only=True),
        )

    def port_use(self) -> PortUse:
        """A UART module: the port is its own."""
        return PortUse(self.port)

    def report_interval_s(self) -> float:
        """Seconds between frames: about 2.3 s in stable active mode (datasheet)."""
        return 2.3


SensorConfig = Annotated[
    WinsenZeConfig | ModbusRtuConfig | Pms5003Config, Field(discriminator="type")
]


def check_sensor_set(sensors: Sequence[SensorConfig]) -> None:
    """Raise ``BilingualValueError`` when the sensors cannot be wired together as configured.

    Ids must be unique; a UART sensor needs its port alone; devices sharing a bus port must
    agree on its line settings and have distinct addresses.
    """
    ids = [s.id for s in sensors]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise BilingualValueError(
            f"duplicate sensor ids: {', '.join(dupes)}", f"传感器 id 重复：{'、'.join(dupes)}"
        )
    uses = [s.port_use() for s in sensors]
    lines: dict[str, str] = {}
    addresses: set[tuple[str, int | None]] = set()
    for use in uses:
        if use.line is None:
            continue
        if lines.setdefault(use.port, use.line) != use.line:
            raise BilingualValueError(
                f"transmitters on {use.port} disagree on baud/parity/stop",
                f"{use.port} 上各变送器的波特率/校验位/停止位不一致",
            )
        if (use.port, use.address) in addresses:
            raise BilingualValueError(
                f"two transmitters at address {use.address} on {use.port}",
                f"{use.port} 上有两个变送器的地址都是 {use.address}",
            )
        addresses.add((use.port, use.address))
    alone = [u.port for u in uses if u.line is None]
    shared = sorted({p for p in alone if alone.count(p) > 1} | (set(alone) & set(lines)))
    if shared:
        raise BilingualValueError(
            f"a UART sensor needs its own port: {', '.join(shared)}",
            f"串口（UART）传感器须独占一个端口：{'、'.join(shared)}",
        )
