"""What every part of the zone controller shares: its state, the journal, the light and relay.

Order of effects (DESIGN invariant 3): local outputs first, then the state change in the
registry, then its journal event (fsync'd), then listeners (MQTT outbox wake-up, terminal
screen). A crash between the registry write and the journal append leaves a state with no
event; ``ZoneController.reconcile`` appends the missing event at the next start, so nothing
committed is lost and nothing uncommitted is announced.

The controller is assembled from parts a newcomer finds by name: ``edge.lifecycle`` (permit
commands), ``edge.air_response`` (suspending on the air), ``edge.gate`` (badge-in / out) and
``edge.zone`` (the whole, applying ``edge.judgement`` on every change and on a timer).
"""

from __future__ import annotations

import collections
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from edge import floors
from edge import permits as pm
from edge.clock import Clock
from edge.config import AccessConfig
from edge.errors import EdgeError, StoreError
from edge.evidence import (
    AirSource,
    BadgeOnlyIdentity,
    IdentityVerifier,
    NoAirData,
    PositionNotRequired,
    PositionSource,
)
from edge.journal import Journal, JournalError
from edge.judgement import Judgement, ZoneFacts, judge_zone
from edge.models import (
    LIVE_STATUSES,
    Event,
    EventKind,
    EventType,
    GasTest,
    Permit,
    PermitStatus,
    Zone,
)
from edge.reasons import Lang, ReasonCode
from edge.registry import Registry
from firmware_adapters.outputs.signals import Annunciator, Light, RecordingAnnunciator

log = logging.getLogger("zonegate.zone")


class CommandRejected(EdgeError):
    """A request to change state was refused; ``code`` is the reason given back to the caller."""

    def __init__(self, code: ReasonCode | str, message: str, reasons: tuple[str, ...] = ()) -> None:
        super().__init__(f"{code}: {message}")
        self.code = str(code)
        self.message = message
        # Every failing reason, the primary one (``code``) first.
        self.reasons = reasons or (self.code,)


ActorLike = str | pm.Actor


def actor_of(actor: ActorLike, *, authorised: bool = False) -> pm.Actor:
    """An ``Actor`` from an actor or an id (``system:...`` ids are the daemon's own rules)."""
    if isinstance(actor, pm.Actor):
        return actor
    kind = pm.ActorKind.SYSTEM if actor.startswith("system:") else pm.ActorKind.PERSON
    return pm.Actor(actor_id=actor, kind=kind, authorised=authorised)


def _brief(payload: dict[str, Any], limit: int = 300) -> str:
    """A payload as one short log line (JSON, cut at ``limit`` characters)."""
    text = json.dumps(payload, ensure_ascii=False, default=str, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Events held while the journal cannot be written; past this the oldest non-alerts go first.
MAX_UNJOURNALED = 2000


def _bounded(
    items: list[tuple[EventKind, EventType, dict[str, Any]]],
) -> list[tuple[EventKind, EventType, dict[str, Any]]]:
    while len(items) > MAX_UNJOURNALED:
        drop = next((i for i, it in enumerate(items) if it[0] is not EventKind.ALERT), 0)
        del items[drop]
    return items


class ZoneEffects:
    """The controller's shared state and the effects every part uses (journal, outputs)."""

    def __init__(
        self,
        *,
        zone: Zone,
        registry: Registry,
        journal: Journal,
        clock: Clock,
        access: AccessConfig | None = None,
        timezone: str = "Asia/Shanghai",
        language: Lang = Lang.ZH,
        annunciator: Annunciator | None = None,
        air: AirSource | None = None,
        position: PositionSource | None = None,
        identity: IdentityVerifier | None = None,
    ) -> None:
        self.zone = zone
        self.registry = registry
        self.journal = journal
        self.clock = clock
        self.access = access or AccessConfig()
        self.tz = ZoneInfo(timezone)
        self.language = language
        self.annunciator: Annunciator = annunciator or RecordingAnnunciator()
        self.air: AirSource = air or NoAirData()
        self.position: PositionSource = position or PositionNotRequired()
        self.identity: IdentityVerifier = identity or BadgeOnlyIdentity()
        self.event_listeners: list[Callable[[Event], None]] = []
        self.on_worker_removed: list[Callable[[str], None]] = []
        # Capabilities whose alarms latch (gas) register how a person acknowledges them.
        self.alarm_acknowledgers: list[Callable[[str], list[dict[str, Any]]]] = []
        self.health: dict[str, dict[str, Any]] = {}
        self._mismatches: dict[str, collections.deque[float]] = {}
        self._air_alarm = False
        self._light: tuple[Light, bool] | None = None
        # The last instant the wall clock was trusted, with the monotonic time then: while
        # trust is lost, validity is carried forward by monotonic time (issue 17 item 10).
        self._trust_anchor: tuple[datetime, float] | None = None
        # Alerts the judgement raised and that still hold, so each is journaled once.
        self._raised: set[tuple[str, ...]] = set()
        # Persistence (issue 16.2): a store that refuses a write never stops the zone from acting
        # on it in memory; the failure is itself an alarm, and what could not be journaled waits
        # here, in order, for the next write that succeeds.
        self.storage: dict[str, Any] = {"state": "ok"}
        self.on_storage_failure: list[Callable[[], bool]] = []
        # Conditions that keep the storage alarm up although writes succeed again, each returning
        # why (the daemon's: "the disk reserve is in use", kept for the safety path alone).
        self.storage_guards: list[Callable[[], str | None]] = []
        self._unjournaled: list[tuple[EventKind, EventType, dict[str, Any]]] = []
        self._journal_failing = False
        registry.put_zone(zone)

    # ------------------------------------------------------------------ events

    def _emit(self, kind: EventKind, type_: EventType, payload: dict[str, Any]) -> Event:
        if self._unjournaled:
            events = self._append_or_hold([(kind, type_, payload)], f"{type_} event")
            if events:
                return events[-1]
            raise JournalError(f"{self.journal.path}: {type_} not journaled: storage failing")
        try:
            event = self.journal.append(kind, type_, payload)
        except StoreError as err:
            self.storage_failed(err, f"{type_} event")
            raise
        self._announce(event)
        return event

    # ------------------------------------------------------------------ persistence

    @property
    def storage_ok(self) -> bool:
        """False while a change lives only in memory or an event waits to be journaled."""
        return bool(self.storage["state"] == "ok")

    @property
    def journal_writable(self) -> bool:
        """False while the last journal write failed (the daemon stops the watchdog pings)."""
        return not self._journal_failing

    def storage_failed(self, err: StoreError, what: str) -> bool:
        """Record that ``what`` could not be persisted: status, light, one log line, and the
        ``storage_failed`` alert queued to be journaled first. Returns True when a hook freed
        space (the daemon's disk reserve), so the caller may retry once.
        """
        first = self.storage_ok
        if isinstance(err, JournalError):
            self._journal_failing = True
        self.storage = {
            "state": "failed",
            "since": self.storage.get("since") or self.clock.wall().isoformat(),
            "error": str(err),
            "what": what,
        }
        self.health["storage"] = dict(self.storage)
        freed = False
        if first:
            # One line, no traceback: at 160 readings/s a traceback per failure buries the log.
            log.error("storage failing (%s): %s; the zone keeps acting on memory", what, err)
            self._unjournaled.insert(
                0,
                (
                    EventKind.ALERT,
                    EventType.STORAGE_FAILED,
                    {"zone_id": self.zone.zone_id, "error": str(err), "what": what},
                ),
            )
            for hook in list(self.on_storage_failure):
                try:
                    freed = hook() or freed
                except Exception:
                    log.exception("storage failure hook failed")
        self._refresh_light()
        return freed

    def _append_or_hold(
        self, items: list[tuple[EventKind, EventType, dict[str, Any]]], what: str
    ) -> list[Event]:
        """Journal ``items`` after whatever waits; on failure hold them (never raises).

        Returns the events journaled now (the held ones first), or [] when held.
        """
        for attempt in (1, 2):
            batch = [*self._unjournaled, *items]
            try:
                events = self.journal.append_many(batch)
            except StoreError as err:
                if self.storage_failed(err, what) and attempt == 1:
                    continue  # space was freed: try once more
                # Held in order; a bound keeps a long outage from exhausting memory, dropping
                # the oldest non-alert events first.
                self._unjournaled = _bounded([*self._unjournaled, *items])
                return []
            self._unjournaled = []
            self._journal_failing = False
            for event in events:
                self._announce(event)
            if not self.registry.dirty:
                self._storage_recovered()
            return events
        return []  # pragma: no cover - the loop returns

    def retry_storage(self) -> bool:
        """Try again to persist what memory holds (the daemon calls this on a timer).

        True once both stores hold everything; raises nothing.
        """
        if self.storage_ok:
            return True
        try:
            self.registry.flush()
        except StoreError as err:
            self.storage_failed(err, "registry flush")
            return False
        if self._unjournaled:
            return bool(self._append_or_hold([], "journal backlog"))
        self._journal_failing = False
        self._storage_recovered()
        return True

    def _storage_recovered(self) -> None:
        if self.storage_ok:
            return
        for guard in self.storage_guards:
            why = guard()
            if why:
                self.storage["error"] = why
                self.health["storage"] = dict(self.storage)
                return
        since = self.storage.get("since")
        self.storage = {"state": "ok"}
        self.health["storage"] = {"state": "ok", "recovered_from": since}
        log.warning("storage recovered (failing since %s)", since)
        try:
            event = self.journal.append(
                EventKind.SYSTEM,
                EventType.STORAGE_RECOVERED,
                {"zone_id": self.zone.zone_id, "failing_since": since},
            )
        except StoreError:
            return
        self._announce(event)
        self._refresh_light()

    def _announce(self, event: Event) -> None:
        # One line in the daemon's log (``zonegate logs``) for what a technician looks for
        # there: every alert and fault, and every permit change. The journal stays the record;
        # the log was silent while the zone went red (found by a fresh-user test).
        if event.kind in (EventKind.ALERT, EventKind.FAULT):
            log.warning("%s %s: %s", event.kind.value, event.type, _brief(event.payload))
        elif event.kind is EventKind.PERMIT:
            log.info("permit %s: %s", event.type, _brief(event.payload))
        for listener in list(self.event_listeners):
            try:
                listener(event)
            except Exception:  # a listener must never undo a committed state change
                log.exception("event listener failed for %s", event.type)

    def alert(self, type_: EventType, payload: dict[str, Any]) -> Event:
        """Journal an alert for the safety officer (gas, proxy attempt, terminal moved, ...)."""
        return self._emit(EventKind.ALERT, type_, {"zone_id": self.zone.zone_id, **payload})

    def fault(self, type_: EventType, payload: dict[str, Any]) -> Event:
        """Journal a fault of the gateway itself (a sensor, the GPS, a service) and announce it.

        ``payload`` must fit the type's model in ``edge.event_payloads`` (``zone_id`` is
        added). Raises ``JournalError`` when the journal cannot commit.
        """
        return self._emit(EventKind.FAULT, type_, {"zone_id": self.zone.zone_id, **payload})

    def system(self, type_: EventType, payload: dict[str, Any]) -> Event:
        """Journal a state note (fence entered, service health) and tell the listeners."""
        return self._emit(EventKind.SYSTEM, type_, {"zone_id": self.zone.zone_id, **payload})

    def latest_gas_test(self) -> GasTest | None:
        """The zone's gas test to judge: the newest, passing over only a *passing* test dated
        beyond now plus ``GAS_TEST_CLOCK_SKEW`` (recorded before the clock stepped back). A
        failed test stays the one judged whatever its date: skipping it would let an older
        passing test vouch for air a later test found bad."""
        limit = self.clock.wall() + floors.GAS_TEST_CLOCK_SKEW
        for test in self.registry.gas_tests(self.zone.zone_id):  # newest first
            if test.taken_at <= limit or not test.passed:
                return test
        return None

    # ------------------------------------------------------------------ time

    def trusted_now(self) -> datetime | None:
        """Wall time if the clock is trusted (NTP, GPS or assumed), else None: rules that
        depend on the date (validity windows, certificates) must refuse on None."""
        if not self.clock.trust().trusted:
            return None
        wall = self.clock.wall()
        self._trust_anchor = (wall, self.clock.mono())
        return wall

    def known_now(self) -> tuple[datetime | None, bool]:
        """(best-known time, trusted). Trusted wall time; else the last trusted instant carried
        forward by the monotonic clock for at most ``floors.CLOCK_CARRY_MAX``; else None."""
        trusted = self.trusted_now()
        if trusted is not None:
            return trusted, True
        if self._trust_anchor is None:
            return None, False
        wall, mono = self._trust_anchor
        elapsed = timedelta(seconds=max(0.0, self.clock.mono() - mono))
        if elapsed > floors.CLOCK_CARRY_MAX:
            return None, False
        return wall + elapsed, False

    # ------------------------------------------------------------------ the whole zone

    monitoring_wait_until: float | None = None
    """Monotonic deadline of the wait for gas monitoring after a (re)start; None once monitoring
    is up or lost for good (``edge.air_response.AirResponse._restart_wait`` holds the rule)."""

    def monitoring_resuming(self) -> bool:
        """True during the wait after a (re)start, while lost monitoring is MONITORING_RESUMING
        (sensors warming up) rather than a suspension."""
        until = self.monitoring_wait_until
        return until is not None and self.clock.mono() < until

    def reevaluate(self) -> list[Permit]:
        """Judge the whole zone and apply it; implemented by ``edge.zone.ZoneController``."""
        raise NotImplementedError

    def last_alarm_at(self) -> datetime | None:
        """When the zone's latest gas alarm episode began (persisted across restarts)."""
        doc = self.registry.get_doc("zone_state", "air")
        if doc and doc.get("last_alarm_at"):
            return datetime.fromisoformat(str(doc["last_alarm_at"]))
        return None

    def unoccupied_since(self) -> dict[str, datetime]:
        """Per permit: when the last person it names left (breaks are per permit, §5.3.1d)."""
        doc = self.registry.get_doc("zone_state", "permit_breaks") or {}
        since = doc.get("since", {})
        return {str(k): datetime.fromisoformat(str(v)) for k, v in since.items()}

    def facts(self) -> ZoneFacts:
        """The zone's whole state now, for ``edge.judgement``."""
        now, trusted = self.known_now()
        permits = [p for p in self.registry.permits() if p.zone_id == self.zone.zone_id]
        presence = self.registry.presence()
        wanted = set(presence) | {
            m.worker_id for p in permits if p.status in LIVE_STATUSES for m in p.members
        }
        workers = {w: worker for w in wanted if (worker := self.registry.worker(w)) is not None}
        return ZoneFacts(
            zone=self.zone,
            now=now,
            clock_trusted=trusted,
            permits=permits,
            presence=presence,
            workers=workers,
            air=self.air.air_verdict(),
            gas_test=self.latest_gas_test(),
            last_alarm_at=self.last_alarm_at(),
            unoccupied_since=self.unoccupied_since(),
            tz=self.tz,
            cert_warn_days=self.access.cert_warn_days,
            monitoring_resuming=self.monitoring_resuming(),
        )

    def _guards(self, permit: Permit | None = None) -> pm.Guards:
        linked = None
        if permit is not None and permit.linked_permit_id:
            linked = self.registry.permit(permit.linked_permit_id)
        return pm.Guards(
            now=self.trusted_now(),
            wall=self.clock.wall(),
            gas_test=self.latest_gas_test(),
            air=self.air.air_verdict(),
            linked=linked,
            require_monitoring=permit is not None and pm.requires_monitoring(permit),
        )

    def _get(self, permit_id: str) -> Permit:
        permit = self.registry.permit(permit_id)
        if permit is None:
            raise CommandRejected(ReasonCode.NO_PERMIT, f"no permit {permit_id}")
        return permit

    def _commit(
        self,
        old: Permit | None,
        new: Permit,
        action: str,
        actor: pm.Actor,
        reason: str = "",
        evidence: dict[str, Any] | None = None,
    ) -> Event:
        self.registry.put_permit(new)
        return self._emit(
            EventKind.PERMIT,
            EventType(f"permit_{action}"),
            self._permit_payload(old, new, action, actor, reason, evidence),
        )

    @staticmethod
    def _permit_payload(
        old: Permit | None,
        new: Permit,
        action: str,
        actor: pm.Actor,
        reason: str = "",
        evidence: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "permit_id": new.permit_id,
            "from": old.status.value if old else None,
            "to": new.status.value,
            "action": action,
            "actor": actor.model_dump(mode="json"),
            "reason": reason,
            "evidence": evidence or {},
            "permit": new.model_dump(mode="json"),
        }

    # ------------------------------------------------------------------ light

    def _show(self, light: Light, *, buzzer: bool) -> None:
        if self._light == (light, buzzer):
            return
        try:
            self.annunciator.show(light, buzzer=buzzer)
            self._light = (light, buzzer)
        except Exception:  # an output fault must not stop the suspension that follows
            log.exception("annunciator failed to show %s", light)

    def _refresh_light(self, judgement: Judgement | None = None) -> None:
        """Light and relay from the air and the judgement: the relay (green, or amber where
        configured) only while some permit is active, in its window, on a known clock."""
        verdict = self.air.air_verdict()
        if not verdict.safe:
            self._show(Light.RED, buzzer=True)
            return
        j = judgement or judge_zone(self.facts())
        suspended = self.registry.permits(statuses=frozenset({PermitStatus.SUSPENDED}))
        if suspended or verdict.latched or not j.work_allowed:
            self._show(Light.RED, buzzer=False)
        elif not verdict.monitoring_ok or not self.storage_ok:
            # A store that cannot record entries is a warning on the post (issue 16.2).
            self._show(Light.AMBER, buzzer=False)
        else:
            self._show(Light.GREEN, buzzer=False)

    # ------------------------------------------------------------------ people

    def inside(self) -> list[dict[str, Any]]:
        """Who is inside now, by worker id: ``worker_id``, ``name``, ``permit_id``, ``role``,
        ``since`` (ISO 8601), as ``edge.event_payloads.InsideEntry``."""
        out = []
        for wid, entry in sorted(self.registry.presence().items()):
            worker = self.registry.worker(wid)
            out.append(
                {
                    "worker_id": wid,
                    "name": worker.name if worker else None,
                    "permit_id": entry.get("permit_id"),
                    "role": entry.get("role"),
                    "since": entry.get("since"),
                }
            )
        return out
