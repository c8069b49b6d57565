"""Sensor readings for central: min / max / last per sensor and interval, live and journaled.

Every reading the gas service judges is also folded in here (a dict update: 16 sensors at
10 Hz cost nothing measurable). Each ``interval_s`` the live listeners (the MQTT service, QoS
0) get one ``TelemetrySample`` per sensor; each ``journal_interval_s`` one ``reading`` event
per sensor and gas is journaled (QoS 1 through the outbox, kept for history and replay).
Judging the air never waits on any of this: the sampler only reads what was judged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge.clock import Clock
from edge.config import TelemetryConfig
from edge.journal import Journal
from edge.models import EventKind, EventType, Reading

log = logging.getLogger("zonegate.telemetry")


@dataclass
class _Window:
    """One (sensor, gas) channel over one interval."""

    unit: str
    start: datetime
    end: datetime
    last: float | None = None
    lo: float | None = None
    hi: float | None = None
    count: int = 0
    fault: str | None = None
    warming_up: bool = False

    def add(self, r: Reading) -> None:
        self.end = r.source_ts
        self.unit = r.unit
        self.count += 1
        self.warming_up = r.warming_up
        if r.fault or r.value is None:
            self.fault = "fault" if r.fault else "no_value"
            self.last = None
            return
        self.fault = None
        v = r.value
        self.last = v
        self.lo = v if self.lo is None or v < self.lo else self.lo
        self.hi = v if self.hi is None or v > self.hi else self.hi

    def channel(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "value": self.last,
            "min": self.lo,
            "max": self.hi,
            "count": self.count,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "fault": self.fault,
            "warming_up": self.warming_up,
        }


@dataclass
class _Windows:
    by_channel: dict[tuple[str, str], _Window] = field(default_factory=dict)

    def add(self, r: Reading) -> None:
        w = self.by_channel.get((r.sensor_id, r.gas))
        if w is None:
            w = _Window(unit=r.unit, start=r.source_ts, end=r.source_ts)
            self.by_channel[(r.sensor_id, r.gas)] = w
        w.add(r)

    def take(self) -> dict[tuple[str, str], _Window]:
        out, self.by_channel = self.by_channel, {}
        return out


LiveListener = Callable[[list[dict[str, Any]]], None]
"""Gets the live samples of one interval: one dict per sensor (``TelemetrySample`` fields
without ``v``/``boot_id``), called in the event loop; must not block."""


class Telemetry:
    """Downsamples readings to min / max / last per interval; see the module docstring."""

    def __init__(self, cfg: TelemetryConfig, journal: Journal, clock: Clock) -> None:
        self.cfg = cfg
        self.journal = journal
        self.clock = clock
        self.listeners: list[LiveListener] = []
        self._live = _Windows()
        self._history = _Windows()
        self.readings = 0
        self.samples = 0
        self.journaled = 0
        self.errors = 0

    def add(self, reading: Reading) -> None:
        """Fold one reading in (called for every reading; never raises for a bad value)."""
        if not self.cfg.enabled:
            return
        self.readings += 1
        self._live.add(reading)
        self._history.add(reading)

    def flush_live(self) -> list[dict[str, Any]]:
        """The samples of the interval that just ended (one per sensor), handed to listeners."""
        per_sensor: dict[str, dict[str, Any]] = {}
        for (sensor, gas), w in sorted(self._live.take().items()):
            sample = per_sensor.setdefault(
                sensor,
                {"sensor_id": sensor, "at": self.clock.wall().isoformat(), "channels": {}},
            )
            sample["interval_s"] = self.cfg.interval_s
            sample["channels"][gas] = w.channel()
        samples = list(per_sensor.values())
        self.samples += len(samples)
        for listener in list(self.listeners):
            try:
                listener(samples)
            except Exception:  # a listener must never stop the sampler
                self.errors += 1
                log.exception("telemetry listener failed")
        return samples

    def take_history(self) -> list[tuple[EventKind, EventType, dict[str, Any]]]:
        """The ``reading`` events of the history interval that just ended, one per sensor and
        gas, ready for ``Journal.append_many`` (taken in the loop, journaled off it)."""
        items = []
        for (sensor, gas), w in sorted(self._history.take().items()):
            payload = {"sensor_id": sensor, "gas": gas, **w.channel()}
            payload["interval_s"] = self.cfg.journal_interval_s
            items.append((EventKind.TELEMETRY, EventType.READING, payload))
        return items

    def health(self) -> dict[str, Any]:
        """Counters: readings folded in, live samples, journaled rows, errors."""
        return {
            "enabled": self.cfg.enabled,
            "readings": self.readings,
            "samples": self.samples,
            "journaled": self.journaled,
            "errors": self.errors,
        }

    async def run(self) -> None:
        """Flush live every ``interval_s`` and history every ``journal_interval_s``, forever."""
        if not self.cfg.enabled:
            return
        loop = asyncio.get_running_loop()
        next_live = loop.time() + self.cfg.interval_s
        next_history = loop.time() + self.cfg.journal_interval_s
        while True:
            await asyncio.sleep(max(0.0, min(next_live, next_history) - loop.time()))
            now = loop.time()
            try:
                if now >= next_live:
                    while next_live <= now:  # a late wake-up skips intervals, never bunches them
                        next_live += self.cfg.interval_s
                    self.flush_live()
                if now >= next_history:
                    while next_history <= now:
                        next_history += self.cfg.journal_interval_s
                    items = self.take_history()
                    if items:
                        # One transaction, one fsync for every sensor, off the event loop.
                        await asyncio.to_thread(self.journal.append_many, items)
                        self.journaled += len(items)
            except Exception:  # e.g. disk full: counted, logged, the next interval tries again
                self.errors += 1
                log.exception("telemetry flush failed")
