"""The gas capability: sensors -> exposure engine -> zone controller, and the local outputs.

``build_service(ctx)`` (listed in ``gateway.daemon.SERVICE_FACTORIES``) builds one adapter per
port from ``gas:``, plugs the exposure engine in as ``controller.air`` and the gpiozero stack
light in as ``controller.annunciator``, and returns the service that feeds every reading to the
engine. Each reading is judged as it arrives, so a dangerous frame suspends the zone's permits
within that reading, with no network involved; a timer re-judges the air every
``check_interval_s`` so a silent sensor is noticed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from edge.clock import Clock
from edge.errors import StoreError
from edge.evidence import AirVerdict
from edge.exposure import ExposureEngine, sensor_specs
from edge.gas_config import GasConfig
from edge.models import EventType, GasTest, GasTestSample, PermitStatus, Reading
from edge.reasons import ReasonCode
from edge.telemetry import Telemetry
from edge.zone import ZoneController
from firmware_adapters.backoff import RestartBackoff
from firmware_adapters.gas.adapter import GasAdapter
from firmware_adapters.gas.wiring import build_adapters

log = logging.getLogger("zonegate.air")

_TEST_UNITS = {"ppm", "mg/m3", "%vol", "%LEL", "ug/m3"}
# Where latched alarms survive a restart (a registry document, written on change only).
ALARM_TABLE = "gas_state"
ALARM_KEY = "alarms"
# Sensor-health events: at most one per this many seconds unless monitoring as a whole flips.
MONITORING_EVENT_MIN_S = 5.0


class GasService:
    """Runs the adapters and turns every reading into the controller's reaction."""

    name = "gas"

    def __init__(
        self,
        controller: ZoneController,
        cfg: GasConfig,
        clock: Clock,
        *,
        adapters: list[GasAdapter] | None = None,
        engine: ExposureEngine | None = None,
        health: dict[str, dict[str, object]] | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.controller = controller
        self.cfg = cfg
        self.clock = clock
        self.engine = engine or ExposureEngine(controller.zone, cfg, clock, sensor_specs(cfg))
        self.adapters = adapters if adapters is not None else build_adapters(cfg.sensors, clock)
        self.health = health if health is not None else {}
        self.telemetry = telemetry
        self.readings = 0
        self.errors = 0
        self.verdicts_sent = 0
        self._last_state: tuple[bool, bool, bool] | None = None
        self._last_sig: tuple[object, ...] | None = None
        self._last_sent = float("-inf")
        self._armed: dict[tuple[str, str], bool] = {}
        self._changed = asyncio.Event()
        self._problems: tuple[tuple[str, str], ...] = ()
        self._problems_sent = float("-inf")
        saved = controller.registry.get_doc(ALARM_TABLE, ALARM_KEY)
        if saved:
            self.engine.restore_alarms(saved.get("alarms", []))
        self._saved_version = self.engine.alarm_version
        controller.air = self.engine

    # ---------------------------------------------------------------- readings

    def on_reading(self, reading: Reading) -> None:
        """Judge one reading now: the suspension is committed before this returns.

        Never raises into the adapter: if the controller cannot commit (disk full, store
        error), the failure is logged and counted, and the next unsafe reading tries again.
        """
        self.readings += 1
        try:
            self.engine.ingest(reading)
            self._react()
            self._save_alarms()
            if reading.gas in self.cfg.unpermitted_work.levels:
                self._watch_fume(reading)
            if self.telemetry is not None:
                self.telemetry.add(reading)  # after judging: central's copy never delays it
        except StoreError as err:
            # The controller has raised the storage alarm and keeps acting on memory; one log
            # line per failure episode there, none per reading here (no traceback storm).
            self.errors += 1
            self.controller.storage_failed(err, f"reading of {reading.sensor_id}")
        except Exception:
            self.errors += 1
            log.exception("judging a reading of %s failed", reading.sensor_id)

    def _save_alarms(self) -> None:
        """Store the latch after the controller has acted on it (never delays a suspension)."""
        if self.engine.alarm_version != self._saved_version:
            version = self.engine.alarm_version
            try:
                self.controller.registry.put_doc(
                    ALARM_TABLE, ALARM_KEY, {"alarms": self.engine.export_alarms()}
                )
            except StoreError:
                # A refused write is held in the registry's memory and flushed when the disk
                # recovers: not retried on every reading.
                self._saved_version = version
                raise
            self._saved_version = version

    def _react(self) -> AirVerdict:
        """Hand the verdict to the controller: at once whenever it changed, and while it stays
        unsafe again every ``check_interval_s``.

        Repeating an unchanged unsafe verdict on every frame would change nothing (the
        controller is idempotent) but costs a few ms per suspended permit: with 16 sensors at
        10 Hz that would be half a core during an alarm. A call that fails is not recorded,
        so the very next reading retries it.
        """
        verdict = self.engine.air_verdict()
        state = (verdict.safe, verdict.monitoring_ok, verdict.latched)
        if state != self._last_state:
            self._last_state = state
            self._changed.set()  # wake whoever awaits a change, then re-arm
            self._changed = asyncio.Event()
        sig = _signature(verdict)
        now = self.clock.mono()
        bad = not verdict.safe or not verdict.monitoring_ok
        if sig != self._last_sig or (bad and now - self._last_sent >= self.cfg.check_interval_s):
            self.verdicts_sent += 1
            self.controller.on_air_verdict(verdict)
            self._last_sig, self._last_sent = sig, now
        return verdict

    def _journal_monitoring(self, verdict: AirVerdict) -> None:
        """A sensor going stale / faulty / warm, or coming back, is journaled (a fault event),
        whether or not a permit was suspended for it: central sees the sensors' health.

        Called from the periodic judge only, and at most every ``MONITORING_EVENT_MIN_S``
        unless monitoring as a whole goes down or comes back, so a flapping sensor cannot
        flood the journal (each event is an fsync) or the uplink.
        """
        problems = tuple(
            (str(p["sensor_id"]), str(p["reason"])) for p in verdict.details.get("sensors", ())
        )
        if problems == self._problems:
            return
        flipped = (not problems) != (not self._problems)
        now = self.clock.mono()
        if not flipped and now - self._problems_sent < MONITORING_EVENT_MIN_S:
            return
        self.controller.fault(
            EventType.GAS_MONITORING_CHANGED,
            {
                "monitoring_ok": not problems,
                "sensors": [{"sensor_id": s, "reason": r} for s, r in problems],
            },
        )
        self._problems = problems  # only once journaled: a failed append is retried
        self._problems_sent = now

    async def wait_for_verdict(
        self, pred: Callable[[AirVerdict], bool], within_s: float = 10.0
    ) -> AirVerdict:
        """Await the first verdict (safe / monitoring_ok / latched change) meeting ``pred``.

        For the demo and tests: "wait until the alarm latched", "until every sensor reports".
        """
        async with asyncio.timeout(within_s):
            while not pred(verdict := self.engine.air_verdict()):
                await self._changed.wait()
        return verdict

    def _watch_fume(self, r: Reading) -> None:
        """Fume / particulates rising while no permit is active: someone may be working."""
        if r.value is None or r.fault or r.warming_up:
            return
        uw = self.cfg.unpermitted_work
        level = uw.levels[r.gas]
        key = (r.sensor_id, r.gas)
        armed = self._armed.get(key, True)
        if armed and r.value >= level:
            self._armed[key] = False
            active = [
                p
                for p in self.controller.registry.permits(statuses=frozenset({PermitStatus.ACTIVE}))
                if p.zone_id == self.controller.zone.zone_id
            ]
            if active:
                return
            self.controller.alert(
                EventType.UNPERMITTED_WORK_SUSPECTED,
                {
                    "reason": ReasonCode.UNPERMITTED_WORK_SUSPECTED.value,
                    "gas": r.gas,
                    "value": r.value,
                    "unit": r.unit,
                    "threshold": level,
                    "channel": "fume_indicator",
                    "sensor_id": r.sensor_id,
                    "source_ts": r.source_ts.isoformat(),
                    "inside": self.controller.inside(),
                },
            )
        elif not armed and r.value < level * uw.rearm_below_fraction:
            self._armed[key] = True

    # ---------------------------------------------------------------- people

    def acknowledge(self, actor: str) -> list[dict[str, Any]]:
        """A person acknowledges the gas alarms; journaled, then the air is judged again."""
        acked = self.engine.acknowledge(actor)
        self._save_alarms()
        self.controller.alert(EventType.GAS_ALARM_ACKNOWLEDGED, {"actor": actor, "alarms": acked})
        self._react()
        return acked

    async def fresh_gas_test(self, analyst: str, window_s: float = 10.0) -> GasTest:
        """A gas test from readings every fixed sensor delivers AFTER this call (a fresh
        window, never a remembered value). A sensor silent for the whole ``window_s`` makes the
        test fail (its failure names it). Record it through the controller."""
        since = self.clock.mono()
        wanted = {s.id for s in self.cfg.sensors if not getattr(s, "indicator_only", False)}
        deadline = since + window_s
        while True:
            fresh = {r.sensor_id for r in self.engine.latest() if r.mono_ts > since}
            if wanted <= fresh or self.clock.mono() >= deadline:
                break
            # Frames arrive at about 1 Hz; a short poll costs nothing beside that.
            await asyncio.sleep(0.05)
        test = fixed_gas_test(self.engine, self.controller.zone.zone_id, analyst, self.clock.wall())
        silent = sorted(wanted - fresh)
        if silent:
            failures = (*test.failures, *(f"{sid}: no fresh reading" for sid in silent))
            test = test.model_copy(update={"passed": False, "failures": failures})
        return test

    def gas_test(self, analyst: str) -> GasTest:
        """A gas-test record from the fixed sensors' current readings (record it yourself)."""
        return fixed_gas_test(self.engine, self.controller.zone.zone_id, analyst, self.clock.wall())

    # ---------------------------------------------------------------- running

    def update_health(self) -> None:
        """Refresh ``health['gas']``: verdict, reading counters, per-adapter stats, telemetry."""
        verdict = self.engine.air_verdict()
        self.health["gas"] = {
            "safe": verdict.safe,
            "monitoring_ok": verdict.monitoring_ok,
            "latched": verdict.latched,
            "reasons": [r.value for r in verdict.reasons],
            "readings": self.readings,
            "errors": self.errors,
            "unknown_readings": self.engine.unknown_readings,  # not a configured sensor / gas
            "unconvertible_readings": self.engine.unconvertible_readings,  # unit vs limits
            "unjudged_readings": self.engine.unjudged_readings,  # a gas without limits
            "adapters": {a.name: a.stats.as_dict() for a in self.adapters},
        }
        if self.telemetry is not None:
            self.health["gas"]["telemetry"] = self.telemetry.health()

    async def _judge_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.check_interval_s)
            try:
                self._journal_monitoring(self._react())
                self.update_health()
            except Exception:  # same as on_reading: retried at the next tick
                self.errors += 1
                log.exception("judging the air failed")

    async def run(self) -> None:
        """Run every adapter and the staleness timer until cancelled."""
        self._react()  # nothing read yet: the controller learns monitoring is not up
        async with asyncio.TaskGroup() as tg:
            for adapter in self.adapters:
                tg.create_task(self._supervise(adapter), name=f"gas:{adapter.name}")
            tg.create_task(self._judge_periodically(), name="gas:judge")
            if self.telemetry is not None:
                tg.create_task(self.telemetry.run(), name="gas:telemetry")

    async def _supervise(self, adapter: GasAdapter) -> None:
        # An adapter bug must not take the other sensors down; its silence reads as stale.
        # A crash-looping adapter is restarted at growing delays (capped at 30 s so a sensor
        # that comes back is read again soon); ten minutes of running resets them.
        backoff = RestartBackoff(initial_s=1.0, cap_s=30.0, healthy_after_s=600.0)
        while True:
            backoff.started()
            try:
                await adapter.run(self.on_reading)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.exception("gas adapter %s crashed; restarting", adapter.name)
                adapter.stats.last_error = f"crashed: {err!r}"
                with contextlib.suppress(Exception):
                    self.controller.fault(
                        EventType.GAS_ADAPTER_CRASHED, {"adapter": adapter.name, "error": repr(err)}
                    )
                await asyncio.sleep(backoff.next_delay())


def _signature(v: AirVerdict) -> tuple[object, ...]:
    """What makes two verdicts different for the controller: state, reasons, which alarms
    (and whether each still holds), which sensors cannot vouch."""
    alarms = tuple(
        (a["sensor_id"], a["gas"], a["channel"], a["active"]) for a in v.details.get("alarms", ())
    )
    sensors = tuple((p["sensor_id"], p["reason"]) for p in v.details.get("sensors", ()))
    return (v.safe, v.monitoring_ok, v.latched, v.reasons, alarms, sensors)


def fixed_gas_test(engine: ExposureEngine, zone_id: str, analyst: str, at: datetime) -> GasTest:
    """A ``GasTest`` from the fixed sensors: passes only if every sensor vouches and every
    value meets the GB 30871 criteria (O2 band, combustible % vol, toxic limits)."""
    assessment = engine.assess_for_test()
    samples = []
    for gas, value, unit in assessment.samples:
        if unit == "ppb":
            value, unit = value / 1000.0, "ppm"
        if unit in _TEST_UNITS:
            samples.append(GasTestSample(gas=gas, value=value, unit=unit))
    failures = list(assessment.failures)
    if not samples:
        # GasTest needs at least one sample; an empty fixed test is a failed one.
        samples.append(GasTestSample(gas="none", value=0.0, unit="ppm"))
        failures.append("no fixed-sensor sample")
    return GasTest(
        zone_id=zone_id,
        taken_at=at,
        source="fixed:" + ",".join(assessment.sensor_ids),
        analyst=analyst,
        samples=tuple(samples),
        passed=not failures,
        failures=tuple(dict.fromkeys(failures)),
    )
