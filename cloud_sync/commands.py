"""Inbound commands: verify, check freshness, apply to the zone, journal and reply.

Nothing unsigned changes state (DESIGN invariant 5). The checks run cheapest first and every
path ends in a ``Reply`` and a journal event; no input makes ``handle`` raise.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol

from pydantic import ValidationError

from cloud_sync.errors import SyncError
from cloud_sync.payloads import (
    COMMAND_BODIES,
    AlarmAcknowledge,
    BadgeUnlock,
    CertificateUpdate,
    CommandBody,
    Envelope,
    GasTestRecord,
    JournalReplay,
    PermitClose,
    PermitCycleCommand,
    PermitFinish,
    PermitIssue,
    PermitResume,
    PermitRevoke,
    PermitStart,
    Reply,
    RosterUpdate,
    doc_key,
)
from cloud_sync.signing import SignatureError, Verifier
from cloud_sync.topics import DeviceTopics
from edge.clock import Clock
from edge.journal import Journal
from edge.models import Event, EventKind, EventType, GasTest, Permit, Worker, Zone
from edge.permits import Actor, ActorKind

log = logging.getLogger(__name__)

VERSIONS_TABLE = "command_versions"


class Rejection(StrEnum):
    """Why a command was refused. Part of the wire contract: never rename one."""

    OVERSIZED = "CMD_OVERSIZED"
    MALFORMED = "CMD_MALFORMED"
    UNSIGNED = "CMD_UNSIGNED"
    UNKNOWN_KEY = "CMD_UNKNOWN_KEY"
    BAD_SIGNATURE = "CMD_BAD_SIGNATURE"
    EXPIRED = "CMD_EXPIRED"
    NOT_YET_VALID = "CMD_NOT_YET_VALID"
    TTL_TOO_LONG = "CMD_TTL_TOO_LONG"
    CLOCK_UNTRUSTED = "CLOCK_UNTRUSTED"
    UNKNOWN_COMMAND = "CMD_UNKNOWN"
    WRONG_DEVICE = "CMD_WRONG_DEVICE"
    REPLAYED = "CMD_REPLAYED"
    REFUSED = "CMD_REFUSED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


# Commands that only take authority away may be applied with an untrusted clock (their expiry
# cannot be judged, but their replay can, by version): refusing a revoke is the unsafe choice.
AUTHORITY_REDUCING = frozenset({"permit_revoke"})

# The longest a command may live, by type (issue 16.8: a signed command expiring in 2099 was
# accepted). Judged on the device's trusted clock: expires_at may lie at most this far ahead,
# and with a not_before, expires_at - not_before may not exceed it either. Grants are short (a
# permit is re-signed rather than parked in a queue for days); taking authority away may wait
# longer for an offline gateway; anything not listed gets the default.
MAX_TTL: dict[str, timedelta] = {
    "permit_issue": timedelta(hours=24),
    "permit_update": timedelta(hours=24),
    "permit_resume": timedelta(hours=1),
    "permit_revoke": timedelta(days=7),
    "roster_update": timedelta(days=3),
    "certificate_update": timedelta(days=3),
    "badge_unlock": timedelta(hours=1),
    "alarm_acknowledge": timedelta(minutes=30),
    "config_change": timedelta(hours=24),
}
DEFAULT_MAX_TTL = timedelta(hours=1)
CLOCK_SKEW = timedelta(seconds=60)
"""Allowance for central's and the device's clocks when judging ``not_before``."""


def max_ttl(command_type: str) -> timedelta:
    """The longest lifetime accepted for ``command_type`` (``MAX_TTL`` or the default)."""
    return MAX_TTL.get(command_type, DEFAULT_MAX_TTL)


class CommandTarget(Protocol):
    """The ZoneController methods commands drive (names as in edge.zone)."""

    def issue_permit(self, permit: Permit, actor: Actor) -> Any:
        """``ZoneController.issue_permit``."""

    def revoke_permit(self, permit_id: str, actor: Actor, reason: str) -> Any:
        """``ZoneController.revoke_permit``."""

    def resume_permit(self, permit_id: str, actor: Actor, authorised: bool) -> Any:
        """``ZoneController.resume_permit``."""

    def unlock_worker(self, worker_id: str, actor: Actor) -> Any:
        """``ZoneController.unlock_worker``."""

    def put_workers(self, workers: list[Worker], actor: Actor) -> Any:
        """``ZoneController.put_workers``."""

    def remove_worker(self, worker_id: str, actor: Actor) -> Any:
        """``ZoneController.remove_worker``."""

    def check_removable(self, worker_id: str) -> Any:
        """``ZoneController.check_removable``: raises while the worker is inside."""

    def acknowledge_alarms(self, actor: str) -> Any:
        """``ZoneController.acknowledge_alarms``."""

    def record_central_gas_test(self, test: GasTest, actor: str) -> Any:
        """``ZoneController.record_central_gas_test`` (edge.work_cycle)."""

    def central_permit_action(
        self, action: str, permit_id: str, by: str, actor: str, *, everyone_out_by: str | None
    ) -> Any:
        """``ZoneController.central_permit_action`` (edge.work_cycle)."""

    @property
    def zone(self) -> Zone:
        """The controller's zone."""


class DocumentStore(Protocol):
    """Where accepted versions and workers are read (edge.registry.Registry)."""

    def get_doc(self, table: str, key: str) -> dict[str, Any] | None:
        """The document ``key`` of ``table``, or None."""

    def put_doc(self, table: str, key: str, doc: dict[str, Any]) -> None:
        """Create or replace the document ``key`` of ``table``."""

    def worker(self, worker_id: str) -> Worker | None:
        """A roster entry, or None."""


class _Refused(SyncError):
    def __init__(self, reason: Rejection, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


Replayer = Callable[[str, int, int], tuple[int, int, int]]
"""Queue a boot's seq range for sending again; returns (count, lowest, highest) found."""


class CommandProcessor:
    """Turn one inbound MQTT message into a zone change (or a refusal) plus a reply."""

    def __init__(
        self,
        *,
        target: CommandTarget,
        store: DocumentStore,
        journal: Journal,
        verifier: Verifier,
        topics: DeviceTopics,
        clock: Clock,
        max_bytes: int,
        on_event: Callable[[Event], None] | None = None,
        replay: Replayer | None = None,
    ) -> None:
        self._target = target
        self._store = store
        self._journal = journal
        self._verifier = verifier
        self._topics = topics
        self._clock = clock
        self._max_bytes = max_bytes
        self._on_event = on_event
        self._replay = replay
        self.counts: Counter[str] = Counter()
        self.actor = Actor(
            actor_id=f"central:{verifier.key_id}", kind=ActorKind.CENTRAL, authorised=True
        )

    async def handle(self, topic: str, payload: bytes) -> tuple[str, Reply]:
        """Process one message; return the reply topic and reply. Never raises."""
        name = self._topics.command_name(topic) or "_invalid"
        env: Envelope | None = None
        key: str | None = None
        try:
            env, body = self._check(name, payload)
            key = doc_key(env.type, body)
            self._check_version(key, env.doc_version)
            detail = await self._apply(env, body)
            self._store.put_doc(VERSIONS_TABLE, key, {"version": env.doc_version})
        except _Refused as refused:
            return self._reply(name, False, refused.reason, refused.detail, env, key, payload)
        except Exception as err:  # a bug or a zone refusal must not kill the link
            reason = Rejection.REFUSED if _is_refusal(err) else Rejection.INTERNAL_ERROR
            if reason is Rejection.INTERNAL_ERROR:
                log.exception("command %s failed", name)
            return self._reply(name, False, reason, f"{type(err).__name__}: {err}", env, key, b"")
        return self._reply(name, True, None, detail, env, key, b"")

    # ---- checks, cheapest first

    def _check(self, name: str, payload: bytes) -> tuple[Envelope, CommandBody]:
        if len(payload) > self._max_bytes:
            raise _Refused(Rejection.OVERSIZED, f"{len(payload)} bytes > {self._max_bytes}")
        if name == "_invalid":
            raise _Refused(Rejection.MALFORMED, "not a command topic of this device")
        try:
            raw = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise _Refused(Rejection.MALFORMED, f"not UTF-8 JSON: {err}") from err
        if not isinstance(raw, dict):
            raise _Refused(Rejection.MALFORMED, "envelope is not a JSON object")
        try:
            self._verifier.verify(raw)
        except SignatureError as err:
            reason = {
                "unsigned": Rejection.UNSIGNED,
                "unknown key_id": Rejection.UNKNOWN_KEY,
            }.get(str(err), Rejection.BAD_SIGNATURE)
            raise _Refused(reason, str(err)) from err
        try:
            env = Envelope.model_validate(raw)
        except ValidationError as err:
            raise _Refused(Rejection.MALFORMED, _first_error(err)) from err
        if env.type != name:
            raise _Refused(Rejection.MALFORMED, f"type {env.type!r} sent on cmd/{name}")
        if env.expires_at.tzinfo is None:
            raise _Refused(Rejection.MALFORMED, "expires_at has no timezone")
        if env.not_before is not None and env.not_before.tzinfo is None:
            raise _Refused(Rejection.MALFORMED, "not_before has no timezone")
        cap = max_ttl(env.type)
        if env.not_before is not None and env.expires_at - env.not_before > cap:
            raise _Refused(Rejection.TTL_TOO_LONG, f"lives longer than {cap} ({env.type})")
        if self._clock.trust().trusted:
            now = self._clock.wall()
            if env.expires_at <= now:
                raise _Refused(Rejection.EXPIRED, f"expired at {env.expires_at.isoformat()}")
            if env.expires_at - now > cap + CLOCK_SKEW:
                raise _Refused(
                    Rejection.TTL_TOO_LONG,
                    f"expires {env.expires_at.isoformat()}: more than {cap} ahead ({env.type})",
                )
            if env.not_before is not None and now + CLOCK_SKEW < env.not_before:
                raise _Refused(Rejection.NOT_YET_VALID, f"not before {env.not_before.isoformat()}")
        elif env.type not in AUTHORITY_REDUCING:
            raise _Refused(Rejection.CLOCK_UNTRUSTED, "device clock not synced: expiry unknown")
        model = COMMAND_BODIES.get(env.type)
        if model is None:
            raise _Refused(Rejection.UNKNOWN_COMMAND, f"unknown command {env.type!r}")
        try:
            body = model.model_validate(env.body)
        except ValidationError as err:
            raise _Refused(Rejection.MALFORMED, _first_error(err)) from err
        if body.device != self._topics.device:
            raise _Refused(Rejection.WRONG_DEVICE, f"for device {body.device!r}")
        if isinstance(body, PermitIssue) and body.permit.version != env.doc_version:
            raise _Refused(Rejection.MALFORMED, "permit.version differs from doc_version")
        return env, body

    def _check_version(self, key: str, version: int) -> None:
        seen = self._store.get_doc(VERSIONS_TABLE, key)
        last = int(seen["version"]) if seen else 0
        if version <= last:
            raise _Refused(Rejection.REPLAYED, f"{key} version {version} not newer than {last}")

    # ---- effects

    async def _apply(self, env: Envelope, body: CommandBody) -> str:
        actor = self.actor
        t = self._target
        if isinstance(body, PermitIssue):
            await _maybe(t.issue_permit(body.permit, actor))
            return f"permit {body.permit.permit_id} v{body.permit.version} issued"
        if isinstance(body, PermitRevoke):
            await _maybe(t.revoke_permit(body.permit_id, actor, body.reason))
            return f"permit {body.permit_id} revoked"
        if isinstance(body, PermitResume):
            await _maybe(t.resume_permit(body.permit_id, actor, True))
            return f"permit {body.permit_id} resumed"
        if isinstance(body, RosterUpdate):
            for worker_id in body.remove:
                t.check_removable(worker_id)  # all or nothing: nothing applied if one is inside
            if body.workers:
                await _maybe(t.put_workers(list(body.workers), actor))
            for worker_id in body.remove:
                await _maybe(t.remove_worker(worker_id, actor))
            return f"{len(body.workers)} workers put, {len(body.remove)} removed"
        if isinstance(body, CertificateUpdate):
            worker = self._store.worker(body.worker_id)
            if worker is None:
                raise _Refused(Rejection.REFUSED, f"unknown worker {body.worker_id!r}")
            updated = worker.model_copy(update={"certificates": body.certificates})
            await _maybe(t.put_workers([Worker.model_validate(updated.model_dump())], actor))
            return f"{len(body.certificates)} certificates for {body.worker_id}"
        if isinstance(body, BadgeUnlock):
            await _maybe(t.unlock_worker(body.worker_id, actor))
            return f"worker {body.worker_id} unlocked"
        if isinstance(body, AlarmAcknowledge):
            acked = await _maybe(t.acknowledge_alarms(body.actor))
            return f"{len(acked)} alarm(s) acknowledged by {body.actor}"
        if isinstance(body, JournalReplay):
            if self._replay is None:
                raise _Refused(Rejection.REFUSED, "this gateway cannot replay its journal")
            n, lo, hi = self._replay(body.boot_id, body.first_seq, body.last_seq)
            if n == 0:
                raise _Refused(
                    Rejection.REFUSED,
                    f"no events {body.first_seq}..{body.last_seq} of boot {body.boot_id} left",
                )
            return f"{n} events {lo}..{hi} of boot {body.boot_id} queued again"
        if isinstance(body, GasTestRecord | PermitCycleCommand):
            return await self._apply_cycle(env, body)
        raise _Refused(Rejection.UNKNOWN_COMMAND, env.type)  # pragma: no cover

    # ---- the permit work cycle (issue 10), kept apart to ease merges

    def _zone_id(self) -> str:
        return self._target.zone.zone_id

    async def _apply_cycle(self, env: Envelope, body: GasTestRecord | PermitCycleCommand) -> str:
        """gas_test_record, permit_start, permit_finish, permit_close: the zone judges them
        exactly as at the terminal; a refusal lists every failing reason code."""
        t = self._target
        if isinstance(body, GasTestRecord):
            draft = GasTest(
                test_id=body.test_id,
                zone_id=self._zone_id(),
                taken_at=body.taken_at,
                source=f"{body.instrument.kind.value}:{body.instrument.instrument_id}",
                instrument=body.instrument,
                analyst=body.analyst,
                samples=body.samples,
                sample_point=body.sample_point,
                permit_id=body.permit_id,
                passed=False,  # judged by the zone, never taken from the sender
            )
            test = await _maybe(t.record_central_gas_test(draft, self.actor.actor_id))
            verdict = "passed" if test.passed else "failed: " + "; ".join(test.failures)
            return f"gas test {test.test_id} recorded, {verdict}"
        action = {
            PermitStart: "start",
            PermitFinish: "finish",
            PermitClose: "close",
        }[type(body)]
        out_by = body.everyone_out_by if isinstance(body, PermitClose) else None
        outcome = await _maybe(
            t.central_permit_action(
                action, body.permit_id, body.by, self.actor.actor_id, everyone_out_by=out_by
            )
        )
        if not outcome.ok:
            codes = ",".join(str(c) for c in outcome.reasons)
            raise _Refused(Rejection.REFUSED, f"{codes}: {outcome.message_en}")
        return f"permit {body.permit_id} {action} by {body.by}"

    def _reply(
        self,
        name: str,
        accepted: bool,
        reason: Rejection | None,
        detail: str,
        env: Envelope | None,
        key: str | None,
        payload: bytes,
    ) -> tuple[str, Reply]:
        self.counts["accepted" if accepted else str(reason)] += 1
        record: dict[str, Any] = {
            "command": name,
            "type": env.type if env else None,
            "doc_key": key,
            "doc_version": env.doc_version if env else None,
            "detail": detail[:500],
        }
        if not accepted:
            record["reason"] = str(reason)
            record["size"] = len(payload)
        event_id: str | None = None
        try:
            ev = self._journal.append(
                EventKind.COMMAND,
                EventType.COMMAND_ACCEPTED if accepted else EventType.COMMAND_REJECTED,
                record,
            )
            event_id = ev.event_id
            if self._on_event is not None:
                self._on_event(ev)
        except Exception:
            # The reply still goes out; the failure is logged and counted.
            log.exception("cannot journal command outcome")
            self.counts["journal_error"] += 1
        if not accepted:
            log.warning("command %s rejected: %s %s", name, reason, detail)
        return self._topics.reply(name), Reply(
            command=name,
            accepted=accepted,
            reason=str(reason) if reason else None,
            detail=detail[:500],
            doc_key=key,
            doc_version=env.doc_version if env else None,
            at=self._clock.wall(),
            event_id=event_id,
        )


async def _maybe(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


def _is_refusal(err: Exception) -> bool:
    # The zone refuses with its own exceptions (illegal transition, unknown permit...) or a
    # ValueError/KeyError/LookupError; anything else is a bug on our side.
    return isinstance(err, ValueError | LookupError | PermissionError) or type(
        err
    ).__module__.startswith("edge.")


def _first_error(err: ValidationError) -> str:
    e = err.errors()[0]
    loc = ".".join(str(p) for p in e["loc"])
    return f"{loc}: {e['msg']}"[:300]
