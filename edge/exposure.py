"""Gas rules: instant low / high alarms, STEL (15 min) and TWA (8 h) channels, the O2 band,
%LEL -> % vol for the zone's target gas with the GB 30871 §5.3.2 pass criteria, deadband, an
on-delay for low alarms only, latching, and "stale / faulty = cannot vouch" (safety-rules §3, §4).

The verdict follows ``edge.evidence.AirVerdict``:

* ``safe`` False while any stop-level alarm condition holds (high, STEL, TWA, O2 band, GB 30871
  combustible limit, over-range, which reads as a high alarm). The controller suspends every
  active permit and badge-ins are denied with GAS_UNSAFE.
* ``latched`` True from the moment a stop-level alarm trips until its condition has cleared
  (at or below the level minus the deadband) **and** a person has acknowledged it, in either order.
* ``monitoring_ok`` False while any alarm-bearing sensor is stale (no valid reading for its
  ``staleness_s``, including "never read"), faulted, warming up, or reading negative: the
  sensors cannot vouch for the air. Zones that require continuous monitoring suspend on it.

Low alarms are warnings (details only, never a suspension); they alone may be delayed
(rule 4 of §4: hysteresis and delay may damp warnings only). Particulate sensors (PMS5003) are
indicators: their readings are kept for the unpermitted-work detector and never judged here.
Durations use the monotonic clock (DESIGN invariant 8).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge.air_limits import MOLECULAR_WEIGHT, GasLimits, convert, o2_high_for
from edge.clock import Clock
from edge.evidence import AirVerdict
from edge.gas_config import GasConfig
from edge.gas_tests import canonical_gas
from edge.models import Reading, Zone
from edge.reasons import ReasonCode

STEL_WINDOW_S = 15 * 60.0
TWA_WINDOW_S = 8 * 3600.0
INDICATOR_GASES = frozenset({"pm1_0", "pm2_5", "pm10"})
COMBUSTIBLE = "lel"
OXYGEN = "o2"

# Comparisons at a limit must not flip on float noise (209 * 0.1 = 20.900000000000002): a
# value equal to a limit within this margin counts as equal to it.
EPS = 1e-9

# Which alarm the verdict names first when several hold (instant dangers before averages).
_SEVERITY = {
    "over_range": 0,
    "o2_low": 1,
    "high": 2,
    "gb30871": 3,
    "o2_high": 4,
    "stel": 5,
    "twa": 6,
}


class RollingMean:
    """Time-weighted mean over a fixed window, in buckets (constant memory at any rate).

    Each reading's value is held until the next one; while a sensor is silent for longer than
    ``max_hold_s`` it is flagged stale by the monitoring check, and ``mean`` stops stretching
    its last value, but once a reading arrives the silence is bridged like a gap. The divisor
    is the whole window, as PC-TWA / PC-STEL are defined (Σ Ci·Ti / T).

    Fail safe across gaps (fault, warming-up or negative frames, issue 17 item 12): the time a
    sensor could not measure never counts as zero. While the gap lasts the last good value is
    held; when a good reading ends it, the whole gap counts at the larger of the values on
    either side. An intermittent sensor therefore reports at least the exposure it saw, never
    half of it.
    """

    def __init__(self, window_s: float, bucket_s: float, max_hold_s: float) -> None:
        self.window_s = window_s
        self.bucket_s = bucket_s
        self.max_hold_s = max_hold_s
        self._buckets: collections.deque[list[float]] = collections.deque()  # [start, integral]
        self._total = 0.0
        self._last: tuple[float, float] | None = None  # (mono, value)
        self._gap: tuple[float, float | None] | None = None  # (since mono, value before)

    def add(self, mono: float, value: float) -> None:
        """Add a reading at monotonic time ``mono`` (time-weighted)."""
        if self._gap is not None:
            since, before = self._gap
            self._gap = None
            bridge = value if before is None else max(before, value)
            # A gap longer than the window cannot add more than a window's worth.
            dt = min(max(0.0, mono - since), self.window_s)
            self._integrate(mono, bridge * dt)
        elif self._last is not None:
            t0, v0 = self._last
            dt = max(0.0, mono - t0)
            if dt > self.max_hold_s:
                # A silence longer than the hold is a gap too: bridged like a fault gap.
                self._integrate(mono, max(v0, value) * min(dt, self.window_s))
            else:
                self._integrate(mono, v0 * dt)
        self._last = (mono, value)
        self._evict(mono)

    def gap(self, mono: float) -> None:
        """An unusable reading: the time until the next good one is a gap (see the class)."""
        if self._gap is not None:
            return  # the gap goes on
        before: float | None = None
        if self._last is not None:
            before = self._last[1]
            self.add(mono, before)
        self._last = None
        self._gap = (mono, before)

    def _integrate(self, mono: float, amount: float) -> None:
        start = mono - (mono % self.bucket_s)
        if not self._buckets or self._buckets[-1][0] != start:
            self._buckets.append([start, 0.0])
        self._buckets[-1][1] += amount
        self._total += amount

    def _evict(self, mono: float) -> None:
        # A bucket leaves once it lies wholly outside the window: partly-inside buckets count
        # in full, which errs high (conservative).
        while self._buckets and self._buckets[0][0] + self.bucket_s <= mono - self.window_s:
            self._total -= self._buckets.popleft()[1]

    def mean(self, mono: float) -> float:
        """The time-weighted mean over the window ending at ``mono``."""
        self._evict(mono)
        held = 0.0
        if self._last is not None:
            t0, v0 = self._last
            # Only the part of the held stretch that lies inside the window counts.
            span = min(t0 + self.max_hold_s, mono) - max(t0, mono - self.window_s)
            held = v0 * max(0.0, span)
        elif self._gap is not None:
            since, before = self._gap
            # An open gap holds the last good value: what the sensor last saw goes on.
            if before is not None:
                held = before * max(0.0, mono - max(since, mono - self.window_s))
        return max(0.0, self._total + held) / self.window_s


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """What the engine expects of a configured sensor."""

    sensor_id: str
    staleness_s: float
    gases: tuple[str, ...] | None  # None: whatever the module reports
    indicator_only: bool = False


def sensor_specs(cfg: GasConfig) -> list[SensorSpec]:
    """What the engine needs of each configured sensor (gases, staleness, indicator or not), as
    each sensor config describes its own channels (``channel_specs``)."""
    out: list[SensorSpec] = []
    for s in cfg.sensors:
        channels = s.channel_specs()
        named = tuple(c.gas for c in channels if c.gas is not None)
        # A channel whose gas each frame names (a generic Winsen module) accepts any gas.
        gases = None if len(named) < len(channels) else named
        indicator = all(c.indicator_only for c in channels)
        out.append(SensorSpec(s.id, s.staleness_s, gases, indicator))
    return out


@dataclass
class Alarm:
    """A stop-level alarm episode; lives until cleared and acknowledged."""

    sensor_id: str
    gas: str
    channel: str  # high, stel, twa, o2_low, o2_high, gb30871, over_range
    value: float
    threshold: float
    unit: str
    since: datetime
    active: bool = True
    acknowledged: bool = False
    peak: float = 0.0
    # Reinstated from the stores at start: already announced before the restart (issue 12.10).
    restored: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as ``edge.event_payloads.AlarmState``."""
        return {
            "sensor_id": self.sensor_id,
            "gas": self.gas,
            "channel": self.channel,
            "value": round(self.value, 4),
            "threshold": self.threshold,
            "unit": self.unit,
            "since": self.since.isoformat(),
            "active": self.active,
            "acknowledged": self.acknowledged,
            "peak": round(self.peak, 4),
            **({"restored": True} if self.restored else {}),
        }


@dataclass
class _Channel:
    sensor_id: str
    gas: str
    last: Reading | None = None
    value: float | None = None  # in the limits' unit
    combustible_vol: float | None = None  # lel channels: % vol of the zone's target gas
    unit: str = ""
    problem: ReasonCode | None = None  # fault / warming / negative / unit, of the last reading
    low_since: float | None = None
    low_active: bool = False
    stel: RollingMean | None = None
    twa: RollingMean | None = None


@dataclass
class _Sensor:
    spec: SensorSpec
    last_mono: float | None = None  # any reading, usable or not
    channels: dict[str, _Channel] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TestAssessment:
    """Fixed sensors judged for a gas test (GB 30871 §5.3.2, §6.4)."""

    samples: tuple[tuple[str, float, str], ...]  # (gas, value, unit) as read
    failures: tuple[str, ...]
    sensor_ids: tuple[str, ...] = ()  # the judged sensors the samples came from


class ExposureEngine:
    """Turns readings into the zone's ``AirVerdict``; implements ``edge.evidence.AirSource``."""

    def __init__(
        self,
        zone: Zone,
        cfg: GasConfig,
        clock: Clock,
        sensors: Iterable[SensorSpec] | None = None,
    ) -> None:
        self.zone = zone
        self.cfg = cfg
        self.clock = clock
        self._sensors = {s.sensor_id: _Sensor(s) for s in (sensors or sensor_specs(cfg))}
        self._alarms: dict[tuple[str, str, str], Alarm] = {}
        self.unknown_readings = 0
        self.unconvertible_readings = 0
        self.unrestorable_alarms = 0
        self.alarm_version = 0  # bumped whenever the set of alarms or their state changes
        self.unjudged_readings = 0
        self.o2_low = cfg.oxygen.low
        self.o2_high = o2_high_for(cfg.oxygen, oxygen_enriched=zone.oxygen_enriched)

    # ---------------------------------------------------------------- input

    def ingest(self, reading: Reading) -> None:
        """Take one reading (from any adapter) into the channels and alarms."""
        sensor = self._sensors.get(reading.sensor_id)
        if sensor is None or (
            sensor.spec.gases is not None and reading.gas not in sensor.spec.gases
        ):
            self.unknown_readings += 1  # not a configured sensor / gas: never used
            return
        spec = sensor.spec
        ch = sensor.channels.get(reading.gas)
        if ch is None:
            ch = sensor.channels[reading.gas] = _Channel(reading.sensor_id, reading.gas)
        ch.last = reading
        sensor.last_mono = reading.mono_ts
        if spec.indicator_only or reading.gas in INDICATOR_GASES:
            return
        problem: ReasonCode | None = None
        if reading.fault or reading.value is None:
            problem = ReasonCode.SENSOR_FAULT
        elif reading.warming_up:
            problem = ReasonCode.SENSOR_WARMING_UP
        elif reading.value < 0:
            problem = ReasonCode.SENSOR_NEGATIVE
        ch.problem = problem
        if reading.over_range and not reading.fault:
            # Over range reads as a high alarm even while warming (a pinned cell is not clean air).
            full = reading.full_scale if reading.full_scale is not None else 0.0
            self._set_alarm(ch, "over_range", True, reading.value or full, full, reading.unit)
        elif not reading.warming_up and not reading.fault:
            self._set_alarm(ch, "over_range", False, reading.value or 0.0, 0.0, reading.unit)
        if problem is not None:
            ch.value = None
            for avg in (ch.stel, ch.twa):
                if avg is not None:
                    avg.gap(reading.mono_ts)
            return
        assert reading.value is not None
        self._evaluate(ch, reading.value, reading.unit, reading.mono_ts)

    def _evaluate(self, ch: _Channel, raw: float, unit: str, mono: float) -> None:
        gas = ch.gas
        if gas == OXYGEN:
            pct = convert(raw, unit, "%vol", mw=None, molar_volume_l=self.cfg.molar_volume_l)
            if pct is None:
                self._unconvertible(ch)
                return
            ch.value, ch.unit = pct, "%vol"
            band = self.cfg.oxygen
            self._threshold(
                ch,
                "o2_low",
                pct < self.o2_low - EPS,
                pct >= self.o2_low + band.deadband - EPS,
                pct,
                self.o2_low,
            )
            self._threshold(
                ch,
                "o2_high",
                pct > self.o2_high + EPS,
                pct <= self.o2_high - band.deadband + EPS,
                pct,
                self.o2_high,
            )
            return
        limits = self.cfg.limits.get(gas)
        if gas == COMBUSTIBLE and unit == "%vol":
            # A transmitter reporting combustibles in % vol of the target gas: judge in %LEL too.
            raw, unit = raw / self.zone.target_gas.lel_vol_percent * 100.0, "%LEL"
        if gas == COMBUSTIBLE and unit == "%LEL":
            target = self.zone.target_gas
            vol = raw / 100.0 * target.lel_vol_percent
            ch.combustible_vol = vol
            limit = target.pass_limit_vol_percent
            dead = (limits.deadband if limits else 0.0) / 100.0 * target.lel_vol_percent
            self._set_channel_alarm(
                ch, "gb30871", vol > limit + EPS, vol <= limit - dead + EPS, vol, limit, "%vol"
            )
            if limits is None:
                ch.value, ch.unit = raw, unit
                return
        if limits is None:
            # A gas nobody gave limits for cannot be judged: that is a fault, never "fine".
            self.unjudged_readings += 1
            ch.problem = ReasonCode.SENSOR_FAULT
            ch.value = None
            return
        value = convert(
            raw,
            unit,
            limits.unit,
            mw=limits.molecular_weight or MOLECULAR_WEIGHT.get(gas),
            molar_volume_l=self.cfg.molar_volume_l,
        )
        if value is None:
            self._unconvertible(ch)
            return
        ch.value, ch.unit = value, limits.unit
        self._limits(ch, limits, value, mono)

    def _unconvertible(self, ch: _Channel) -> None:
        # A unit the limits cannot be compared with is a configuration fault: never "fine".
        self.unconvertible_readings += 1
        ch.problem = ReasonCode.SENSOR_FAULT
        ch.value = None

    def _limits(self, ch: _Channel, lim: GasLimits, value: float, mono: float) -> None:
        db = lim.deadband
        if lim.high is not None:
            self._threshold(
                ch, "high", value >= lim.high - EPS, value <= lim.high - db + EPS, value, lim.high
            )
        if lim.low is not None:
            if value >= lim.low - EPS:
                ch.low_since = mono if ch.low_since is None else ch.low_since
                ch.low_active = ch.low_active or mono - ch.low_since >= lim.low_on_delay_s
            elif value <= lim.low - db + EPS:
                ch.low_since, ch.low_active = None, False
        for name, level, window, bucket in (
            ("stel", lim.stel, STEL_WINDOW_S, 10.0),
            ("twa", lim.twa, TWA_WINDOW_S, 60.0),
        ):
            if level is None:
                continue
            avg = getattr(ch, name)
            if avg is None:
                hold = self._sensors[ch.sensor_id].spec.staleness_s
                avg = RollingMean(window, bucket, hold)
                setattr(ch, name, avg)
            avg.add(mono, value)
            mean = avg.mean(mono)
            self._threshold(ch, name, mean >= level - EPS, mean <= level - db + EPS, mean, level)

    def _threshold(
        self, ch: _Channel, channel: str, over: bool, clear: bool, value: float, level: float
    ) -> None:
        self._set_channel_alarm(ch, channel, over, clear, value, level, ch.unit)

    def _set_channel_alarm(
        self,
        ch: _Channel,
        channel: str,
        over: bool,
        clear: bool,
        value: float,
        level: float,
        unit: str,
    ) -> None:
        key = (ch.sensor_id, ch.gas, channel)
        alarm = self._alarms.get(key)
        if over:
            if alarm is None:
                self._alarms[key] = Alarm(
                    ch.sensor_id,
                    ch.gas,
                    channel,
                    value,
                    level,
                    unit,
                    self.clock.wall(),
                    peak=value,
                )
                self.alarm_version += 1
                return
            if not alarm.active:
                alarm.active, alarm.acknowledged = True, False  # a new episode needs a new ack
                alarm.restored = False  # this episode is new, whatever the last one was
                self.alarm_version += 1
            alarm.value, alarm.peak = value, max(alarm.peak, value)
        elif alarm is not None:
            alarm.value = value
            if clear and alarm.active:
                alarm.active = False
                self.alarm_version += 1
            if clear and alarm.acknowledged:
                del self._alarms[key]
                self.alarm_version += 1

    def _set_alarm(
        self, ch: _Channel, channel: str, over: bool, value: float, level: float, unit: str
    ) -> None:
        self._set_channel_alarm(ch, channel, over, not over, value, level, unit)

    # ---------------------------------------------------------------- people

    def acknowledge(self, actor: str) -> list[dict[str, Any]]:
        """A person acknowledges every current alarm; cleared ones are released at once."""
        acked = []
        for key, alarm in list(self._alarms.items()):
            if not alarm.acknowledged:
                alarm.acknowledged = True
                acked.append({**alarm.as_dict(), "acknowledged_by": actor})
            if not alarm.active:
                del self._alarms[key]
        self.alarm_version += 1
        return acked

    # ---------------------------------------------------------------- persistence

    def export_alarms(self) -> list[dict[str, Any]]:
        """The latched alarms, to be stored so that a restart does not forget them."""
        return [a.as_dict() for a in self._alarms.values()]

    def restore_alarms(self, saved: Iterable[dict[str, Any]]) -> int:
        """Reinstate alarms stored before a restart; a malformed entry is skipped, counted.

        They come back as they were (active ones stay active until a reading clears them),
        so a restart never releases a latch nobody acknowledged.
        """
        restored = 0
        for doc in saved:
            try:
                alarm = Alarm(
                    sensor_id=str(doc["sensor_id"]),
                    gas=str(doc["gas"]),
                    channel=str(doc["channel"]),
                    value=float(doc["value"]),
                    threshold=float(doc["threshold"]),
                    unit=str(doc["unit"]),
                    since=datetime.fromisoformat(str(doc["since"])),
                    active=bool(doc["active"]),
                    acknowledged=bool(doc["acknowledged"]),
                    peak=float(doc.get("peak", doc["value"])),
                    restored=True,
                )
            except (KeyError, TypeError, ValueError):
                self.unrestorable_alarms += 1
                continue
            self._alarms[(alarm.sensor_id, alarm.gas, alarm.channel)] = alarm
            restored += 1
        if restored:
            self.alarm_version += 1
        return restored

    # ---------------------------------------------------------------- output

    def monitoring_problems(self, mono: float | None = None) -> list[tuple[str, ReasonCode]]:
        """(sensor_id, reason) for every alarm-bearing sensor that cannot vouch for the air."""
        now = self.clock.mono() if mono is None else mono
        out: list[tuple[str, ReasonCode]] = []
        for sid, s in self._sensors.items():
            if s.spec.indicator_only:
                continue
            if s.last_mono is None or now - s.last_mono > s.spec.staleness_s:
                out.append((sid, ReasonCode.SENSOR_STALE))
                continue
            expected = s.spec.gases if s.spec.gases is not None else tuple(s.channels)
            for gas in expected:
                ch = s.channels.get(gas)
                if ch is None or ch.last is None or now - ch.last.mono_ts > s.spec.staleness_s:
                    # One silent channel of a multi-gas transmitter is as stale as the whole.
                    out.append((sid, ReasonCode.SENSOR_STALE))
                    break
                if ch.problem is not None:
                    out.append((sid, ch.problem))
                    break
        return out

    def air_verdict(self) -> AirVerdict:
        """The zone's air now (``edge.evidence.AirSource``)."""
        judged = [s for s in self._sensors.values() if not s.spec.indicator_only]
        if not judged:
            return AirVerdict(safe=True, monitoring_ok=False, reasons=(ReasonCode.NO_AIR_DATA,))
        active = [a for a in self._alarms.values() if a.active]
        latched = bool(self._alarms)
        problems = self.monitoring_problems()
        reasons: list[ReasonCode] = []
        if active:
            reasons.append(ReasonCode.GAS_UNSAFE)
            if any(a.channel == "over_range" for a in active):
                reasons.append(ReasonCode.SENSOR_OVER_RANGE)
        elif latched:
            reasons.append(ReasonCode.GAS_ALARM_LATCHED)
        for code in dict.fromkeys(p for _, p in problems):
            reasons.append(code)
        details: dict[str, Any] = {}
        active.sort(key=lambda a: _SEVERITY.get(a.channel, 99))
        worst = active[0] if active else None
        if worst is not None:
            details.update(
                gas=worst.gas,
                value=round(worst.value, 4),
                threshold=worst.threshold,
                unit=worst.unit,
                channel=worst.channel,
                sensor_id=worst.sensor_id,
            )
        if self._alarms:
            details["alarms"] = [a.as_dict() for a in self._alarms.values()]
        if problems:
            details["sensors"] = [{"sensor_id": s, "reason": r.value} for s, r in problems]
            if worst is None:
                details.setdefault("sensor_id", problems[0][0])
        warnings = self.warnings()
        if warnings:
            details["warnings"] = warnings
        return AirVerdict(
            safe=not active,
            monitoring_ok=not problems,
            reasons=tuple(reasons),
            latched=latched,
            details=details,
            monitored=frozenset(
                canonical_gas(g)
                for s in judged
                # A module that names its gas in each frame: what it has reported so far.
                for g in (s.spec.gases if s.spec.gases is not None else tuple(s.channels))
            ),
        )

    def warnings(self) -> list[dict[str, Any]]:
        """Low (pre-)alarms now, as ``edge.event_payloads.GasWarning``: shown, never a suspension.
        Low (pre-)alarms now, as ``edge.event_payloads.GasWarning``: shown, never a suspension."""
        out = []
        for s in self._sensors.values():
            for ch in s.channels.values():
                lim = self.cfg.limits.get(ch.gas)
                if ch.low_active and lim is not None and ch.value is not None:
                    out.append(
                        {
                            "sensor_id": ch.sensor_id,
                            "gas": ch.gas,
                            "channel": "low",
                            "value": round(ch.value, 4),
                            "threshold": lim.low,
                            "unit": ch.unit,
                        }
                    )
        return out

    def latest(self) -> list[Reading]:
        """The last reading of every channel, indicators included."""
        return [ch.last for s in self._sensors.values() for ch in s.channels.values() if ch.last]

    def assess_for_test(self) -> TestAssessment:
        """Judge the fixed sensors as a gas test: O2 band, combustible vol %, toxic limits."""
        failures: list[str] = []
        samples: list[tuple[str, float, str]] = []
        used: set[str] = set()
        for sid, reason in self.monitoring_problems():
            failures.append(f"{sid}: {reason.value}")
        for alarm in self._alarms.values():
            state = "active" if alarm.active else "latched, not acknowledged"
            failures.append(f"{alarm.sensor_id}: {alarm.gas} {alarm.channel} alarm {state}")
        target = self.zone.target_gas
        for s in self._sensors.values():
            if s.spec.indicator_only:
                continue
            for ch in s.channels.values():
                r = ch.last
                if r is None or r.value is None or ch.value is None:
                    continue
                samples.append((ch.gas, r.value, r.unit))
                used.add(ch.sensor_id)
                if ch.gas == OXYGEN and not self.o2_low - EPS <= ch.value <= self.o2_high + EPS:
                    failures.append(
                        f"o2 {ch.value:.1f}%vol outside {self.o2_low}-{self.o2_high}%vol"
                    )
                elif ch.gas == COMBUSTIBLE:
                    vol = ch.combustible_vol
                    if vol is None:
                        failures.append(f"lel in {r.unit} cannot be judged in % vol")
                    elif vol > target.pass_limit_vol_percent + EPS:
                        failures.append(
                            f"lel {vol:.2f}%vol > "
                            f"{target.pass_limit_vol_percent}%vol "
                            f"({target.name})"
                        )
                else:
                    lim = self.cfg.limits.get(ch.gas)
                    if lim is None:
                        continue
                    level = lim.pass_level()
                    if level is not None and ch.value > level + EPS:
                        failures.append(f"{ch.gas} {ch.value:.2f}{ch.unit} > {level}{ch.unit}")
        if not samples:
            failures.append("no usable fixed-sensor reading")
        return TestAssessment(tuple(samples), tuple(dict.fromkeys(failures)), tuple(sorted(used)))
