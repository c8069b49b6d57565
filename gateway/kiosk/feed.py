"""The terminal screen's live feed: the zone as the page shows it, pushed as server-sent events.

Messages (``event:`` name, JSON ``data:``):

- ``hello``: ``{"boot_id", "readonly"}`` first on every connection; a new ``boot_id`` tells the
  page the daemon restarted (it keeps its view and carries on, no reload).
- ``state``: the idle screen (``screen_state``) on connect, at every journaled change and once a
  second (time left, gas readings).
- ``tap``: ``{"badge_id", "seq"}`` when a read is taken as a new tap (look at the camera).
- ``decision``: the tap's outcome (``decision_view``).
- ``armed``: ``{"action", "permit_id"}`` once the terminal waits for the tap that confirms an
  action (start, gas test, ...) asked through the operator API.

Each connected page has a bounded queue; a page that stops reading is dropped and reconnects,
so a stuck browser never holds the daemon's memory. The feed itself only reads the controller.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from edge.evidence import AirVerdict
from edge.exposure import INDICATOR_GASES, ExposureEngine
from edge.models import TERMINAL_STATUSES, Decision, Event, EventKind
from edge.reasons import Lang, ReasonCode, text
from edge.zone import ZoneController
from firmware_adapters.readings import Reading
from gateway.kiosk.guidance import (
    KIND_NAMES,
    LEVEL_NAMES,
    ROLE_NAMES,
    STATUS_NAMES,
    next_step,
    words,
)

log = logging.getLogger("zonegate.kiosk")

QUEUE_SIZE = 64
CLOSE = b""  # put in a page's queue: the stream ends (daemon shutting down)


def reason_view(code: ReasonCode | str) -> dict[str, str]:
    """``{"code", "zh", "en", "next_zh", "next_en"}``: the reason and what to do next."""
    try:
        rc = ReasonCode(str(code))
        zh, en = text(rc, Lang.ZH), text(rc, Lang.EN)
    except ValueError:
        zh = en = str(code)
    return {
        "code": str(code),
        "zh": zh,
        "en": en,
        "next_zh": next_step(code, Lang.ZH),
        "next_en": next_step(code, Lang.EN),
    }


def decision_view(ctl: ZoneController, decision: Decision, seq: int) -> dict[str, Any]:
    """What the screen shows for one tap: name, admit / deny, reasons with next steps, warnings."""
    worker = ctl.registry.worker(decision.worker_id) if decision.worker_id else None
    return {
        "seq": seq,
        "action": decision.action.value,
        "allowed": decision.allowed,
        "badge_id": decision.badge_id,
        "worker_id": decision.worker_id,
        "name": worker.name if worker else None,
        "permit_id": decision.permit_id,
        "role": words(ROLE_NAMES, decision.role.value) if decision.role else None,
        "message_zh": decision.message_zh,
        "message_en": decision.message_en,
        "reasons": [reason_view(r) for r in decision.reasons],
        "warnings": [reason_view(w) for w in decision.warnings],
        "details": decision.details,
    }


def _gas_view(ctl: ZoneController) -> list[dict[str, Any]]:
    """Each channel's latest value against its limits, with units and the sensor's state."""
    engine = ctl.air
    if not isinstance(engine, ExposureEngine):
        return []
    problems = dict(engine.monitoring_problems())
    out: list[dict[str, Any]] = []
    # The gases that judge the air first (O2, combustibles, toxics), fume indicators last.
    first = {"o2": 0, "lel": 1}

    def order(r: Reading) -> tuple[int, int, str, str]:
        return (r.gas in INDICATOR_GASES, first.get(r.gas, 2), r.gas, r.sensor_id)

    for reading in sorted(engine.latest(), key=order):
        lim = engine.cfg.limits.get(reading.gas)
        limits: dict[str, Any] | None = None
        if reading.gas == "o2":
            limits = {"low": engine.o2_low, "high": engine.o2_high, "unit": "%vol"}
        elif lim is not None:
            limits = {"low": lim.low, "high": lim.high, "unit": lim.unit}
        problem = problems.get(reading.sensor_id)
        out.append(
            {
                "sensor_id": reading.sensor_id,
                "gas": reading.gas,
                "value": reading.value,
                "unit": reading.unit,
                "limits": limits,
                "health": reason_view(problem) if problem is not None else None,
                "indicator": reading.gas in INDICATOR_GASES,
            }
        )
    return out


def _air_view(verdict: AirVerdict) -> dict[str, Any]:
    return {
        "safe": verdict.safe,
        "monitoring_ok": verdict.monitoring_ok,
        "latched": verdict.latched,
        "reasons": [reason_view(r) for r in verdict.reasons],
        "sensors": [
            {"sensor_id": s["sensor_id"], **reason_view(s["reason"])}
            for s in verdict.details.get("sensors", [])
        ],
    }


def _alarm_view(ctl: ZoneController, verdict: AirVerdict) -> dict[str, Any] | None:
    """The alarm screen while the air is unsafe or an alarm is latched and not acknowledged."""
    if verdict.safe and not verdict.latched:
        return None
    d = verdict.details
    worst = d
    if "gas" not in d and d.get("alarms"):
        worst = d["alarms"][0]  # latched, air back: show what it was
    return {
        "active": not verdict.safe,
        "latched": verdict.latched,
        "gas": worst.get("gas"),
        "value": worst.get("value"),
        "threshold": worst.get("threshold"),
        "unit": worst.get("unit"),
        "channel": worst.get("channel"),
        "sensor_id": worst.get("sensor_id"),
        "inside": ctl.inside(),
        "instruction_zh": "立即停止作业，撤离至安全区域，等待安全员确认",
        "instruction_en": "Stop work, leave to the safe area, wait for the safety officer",
    }


def _permit_views(ctl: ZoneController, now: datetime | None) -> list[dict[str, Any]]:
    out = []
    for p in ctl.registry.permits():
        if p.zone_id != ctl.zone.zone_id or p.status in TERMINAL_STATUSES:
            continue
        left = (p.valid_to - now).total_seconds() if now is not None else None
        out.append(
            {
                "permit_id": p.permit_id,
                "kind": words(KIND_NAMES, p.kind.value),
                "level": words(LEVEL_NAMES, p.level.value) if p.level.value != "none" else None,
                "status": words(STATUS_NAMES, p.status.value),
                "valid_to": p.valid_to.astimezone(ctl.tz).isoformat(),
                "seconds_left": None if left is None else max(0, round(left)),
                "suspension": p.suspension.cause.value if p.suspension else None,
            }
        )
    return out


def screen_state(ctl: ZoneController, boot_id: str) -> dict[str, Any]:
    """The idle screen: zone, permits, who is inside, gas, sensors, GPS, clock, sync, alarm."""
    verdict = ctl.air.air_verdict()
    position = ctl.position.position_verdict()
    trust = ctl.clock.trust()
    now = ctl.trusted_now()
    # The sync service reports its link under its service name, "mqtt" (cloud_sync.service).
    sync = ctl.health.get("mqtt") or {}
    inside = [{**person, "role": words(ROLE_NAMES, person.get("role"))} for person in ctl.inside()]
    return {
        "boot_id": boot_id,
        "zone": {"zone_id": ctl.zone.zone_id, "name": ctl.zone.name or ctl.zone.zone_id},
        "permits": _permit_views(ctl, now),
        "inside": inside,
        "gas": _gas_view(ctl),
        "air": _air_view(verdict),
        "alarm": _alarm_view(ctl, verdict),
        "gps": {
            "ok": position.ok,
            "warn": position.warn,
            "reason": reason_view(position.reason) if position.reason else None,
            "lat": position.position.lat if position.position else None,
            "lon": position.position.lon if position.position else None,
        },
        "clock": {
            "trusted": trust.trusted,
            "source": trust.source,
            "now": ctl.clock.wall().astimezone(ctl.tz).isoformat(),
        },
        "sync": {
            "state": ("off" if not sync else "connected" if sync.get("connected") else "offline"),
            "connected": sync.get("connected"),
            "pending": sync.get("backlog") if isinstance(sync.get("backlog"), dict) else None,
        },
    }


def _sse(event: str, data: dict[str, Any]) -> bytes:
    body = json.dumps(data, ensure_ascii=False, default=str, separators=(",", ":"))
    return f"event: {event}\ndata: {body}\n\n".encode()


class KioskFeed:
    """Fans the zone's state, taps and decisions out to every connected page.

    ``on_event`` is a controller event listener; ``on_tap`` / ``on_decision`` are the terminal
    service's hooks. Sending is cheap (an encoded message put in each page's queue); the full
    state is rebuilt at most once per loop turn however many events a change journals.
    """

    def __init__(self, controller: ZoneController) -> None:
        self.controller = controller
        self.boot_id = uuid.uuid4().hex
        self._pages: set[asyncio.Queue[bytes]] = set()
        self._state_due = False
        self.seq = 0
        self.dropped_pages = 0
        self.sent = 0
        self.decision_listeners: list[Callable[[dict[str, Any]], None]] = []
        self.alarm_listeners: list[Callable[[Event], None]] = []

    # ---------------------------------------------------------------- pages

    @property
    def pages(self) -> int:
        """How many pages (screens) are subscribed now."""
        return len(self._pages)

    def subscribe(self, readonly: bool) -> asyncio.Queue[bytes]:
        """A new page: its queue starts with hello and the current state."""
        q: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
        q.put_nowait(_sse("hello", {"boot_id": self.boot_id, "readonly": readonly}))
        q.put_nowait(self._state_message())
        self._pages.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[bytes]) -> None:
        """Forget a page's queue (its stream ended)."""
        self._pages.discard(q)

    def close_all(self) -> None:
        """End every page's stream (daemon shutting down); pages reconnect to the next daemon."""
        for q in list(self._pages):
            while q.full():
                q.get_nowait()  # the page is going away: what it has not read is moot
            q.put_nowait(CLOSE)
        self._pages.clear()

    def _send(self, message: bytes) -> None:
        for q in list(self._pages):
            try:
                q.put_nowait(message)
            except asyncio.QueueFull:
                # A page that stopped reading: drop it (its browser reconnects), keep our memory.
                self._pages.discard(q)
                self.dropped_pages += 1
        self.sent += 1

    def _state_message(self) -> bytes:
        return _sse("state", screen_state(self.controller, self.boot_id))

    def push_state(self) -> None:
        """Send the state now (the ticker and tests call this)."""
        self._state_due = False
        if self._pages:
            self._send(self._state_message())

    def _state_soon(self) -> None:
        if self._state_due:
            return
        self._state_due = True
        try:
            asyncio.get_running_loop().call_soon(self.push_state)
        except RuntimeError:  # no loop (a synchronous caller): send at once
            self.push_state()

    # ---------------------------------------------------------------- sources

    def on_event(self, event: Event) -> None:
        """Controller event listener: every journaled change refreshes the screen."""
        if event.kind is EventKind.TELEMETRY:
            return  # readings reach the screen with the once-a-second state
        if event.type == "terminal_armed":  # an action waits for its person's tap: say so now
            self._send(_sse("armed", {k: event.payload.get(k) for k in ("action", "permit_id")}))
        if event.kind is EventKind.ALERT and event.type == "gas_alarm":
            self.push_state()  # the alarm screen now, not a loop turn later
            for listener in list(self.alarm_listeners):
                listener(event)
            return
        self._state_soon()

    def on_tap(self, badge_id: str) -> None:
        """The terminal's listener: a card was read (``badge_id``); pages show it at once."""
        self.seq += 1
        self._send(_sse("tap", {"badge_id": badge_id, "seq": self.seq}))

    def on_decision(self, decision: Decision) -> None:
        """The terminal's listener: a decision; pages get its view (``decision_view``) and the
        decision listeners (voice, buzzer) are told; a state refresh follows."""
        view = decision_view(self.controller, decision, self.seq)
        self._send(_sse("decision", view))
        for listener in list(self.decision_listeners):
            listener(view)
        self._state_soon()
