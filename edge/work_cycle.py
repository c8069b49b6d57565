"""The permit work cycle as actions of named people: gas tests, start, break, resume, finish,
everyone-out, close (GB 30871-2022 §4-§6; ../shared/reference/safety-rules.md §5).

Three ways in, one set of checks:
- at the zone terminal: the person badges in the action's mode (a badge line ``start:B001``, or
  the terminal armed through the operator API) and the face check runs as for entry;
- by signed central commands (``permit_start``, ``permit_finish``, ``permit_close``,
  ``gas_test_record``) naming the person who confirmed on a phone;
- gas tests also from the zone's fixed sensors on request, read fresh, never remembered.

Who may do what (the permit must name the person in that role; the roster for site roles):

| action        | role                                   | basis                         |
|---------------|----------------------------------------|-------------------------------|
| start, finish | permit leader (作业负责人)              | §5.3.1c, §6.3a, §4.14          |
| break         | permit leader                          | §5.3.1d, §6.3f (re-test after) |
| everyone_out  | permit guardian (监护人)                | §6.8                           |
| resume        | safety officer (安全员) from the roster | §6.5; company policy (§5 note) |
| close         | permit leader or safety officer        | §4.15 acceptance               |
| gas test      | permit analyst or leader, or roster analyst | §5.3.1, form A.1          |

A refused action answers with EVERY failing check (reason codes, zh-CN and English), is
journaled as ``permit_action_refused`` (kind access: it changes no permit), and changes nothing.
An allowed action is journaled as the permit transition, with actor, role, path, evidence and
the rule that allowed it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from edge import permits as pm
from edge.air_limits import GasLimits, builtin_limits
from edge.effects import CommandRejected
from edge.evidence import IdentityResult
from edge.floors import GAS_TEST_CLOCK_SKEW, effective_gas
from edge.gas_tests import judge_gas_test
from edge.judgement import cert_reasons
from edge.lifecycle import PermitLifecycle
from edge.models import (
    LIVE_STATUSES,
    TERMINAL_STATUSES,
    EventKind,
    EventType,
    GasInstrument,
    GasTest,
    GasTestSample,
    GasTestVia,
    InstrumentKind,
    Model,
    Permit,
    PermitStatus,
    Role,
    SiteRole,
    Worker,
)
from edge.reasons import Lang, ReasonCode, text

log = logging.getLogger("zonegate.cycle")


class CycleAction(StrEnum):
    """A person's action on a permit (or a gas test) at the terminal or through central."""

    START = "start"
    BREAK = "break"
    RESUME = "resume"
    FINISH = "finish"
    EVERYONE_OUT = "everyone_out"
    CLOSE = "close"
    GAS_TEST = "gas_test"


# The states each action may start from.
_FROM: dict[CycleAction, frozenset[PermitStatus]] = {
    CycleAction.START: frozenset({PermitStatus.APPROVED}),
    CycleAction.BREAK: frozenset({PermitStatus.ACTIVE}),
    CycleAction.RESUME: frozenset({PermitStatus.SUSPENDED}),
    CycleAction.FINISH: frozenset({PermitStatus.ACTIVE}),
    CycleAction.EVERYONE_OUT: frozenset(
        {PermitStatus.ACTIVE, PermitStatus.SUSPENDED, PermitStatus.COMPLETED}
    ),
    CycleAction.CLOSE: frozenset({PermitStatus.COMPLETED}),
    CycleAction.GAS_TEST: LIVE_STATUSES,
}

RULES: dict[CycleAction, str] = {
    CycleAction.START: "GB 30871 §5.3.1c/§6.3a: the leader starts after a passing gas test "
    "taken at most 30 min before, inside the permit's window, air safe",
    CycleAction.BREAK: "GB 30871 §5.3.1d/§6.3f: a break longer than the re-test interval needs "
    "a new gas test before work goes on",
    CycleAction.RESUME: "GB 30871 §6.5/§5.2.6: after a suspension, a safety officer resumes "
    "only after a fresh passing test, alarm acknowledged, air safe",
    CycleAction.FINISH: "GB 30871 §4.14: the leader declares the work finished (完工)",
    CycleAction.EVERYONE_OUT: "GB 30871 §6.8: the guardian checks everyone and every tool is out",
    CycleAction.CLOSE: "GB 30871 §4.15: acceptance and close once everyone is out",
    CycleAction.GAS_TEST: "GB 30871 §5.3.1/§6.3: gas analysis by an analyst, judged by the edge",
}

BREAKS_TABLE = "permit_breaks"
EVERYONE_OUT_TABLE = "permit_everyone_out"
ACTION_WORDS = {a.value: a for a in CycleAction} | {"out_check": CycleAction.EVERYONE_OUT}


class ActionOutcome(Model):
    """What a person's action came to, as shown on the screen and returned by the API."""

    ok: bool
    action: CycleAction
    permit_id: str | None
    worker_id: str | None
    name: str | None = None
    via: str
    reasons: tuple[ReasonCode, ...] = ()
    message_zh: str
    message_en: str
    permit: dict[str, Any] | None = None
    gas_test: dict[str, Any] | None = None
    details: dict[str, Any] = Field(default_factory=dict)


@dataclass
class GasTestRequest:
    """What an analyst asked to record: portable readings or a fresh fixed-sensor window."""

    instrument: InstrumentKind
    sample_point: str = ""
    instrument_id: str = ""
    samples: tuple[GasTestSample, ...] = ()
    taken_at: datetime | None = None
    window_s: float = 10.0


@dataclass
class ArmedAction:
    """The terminal waits for the next badge tap to do this (armed through the operator API)."""

    action: CycleAction
    permit_id: str | None
    gas: GasTestRequest | None = None
    done: asyncio.Future[ActionOutcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


FixedTester = Callable[[str, float], Awaitable[GasTest]]
"""``(analyst, window_s) -> GasTest`` from fresh fixed-sensor readings (``GasService``)."""


def parse_action_line(line: str) -> tuple[CycleAction, str] | None:
    """``"start:B001"`` -> (START, "B001"); None for a plain badge id."""
    word, sep, badge = line.partition(":")
    action = ACTION_WORDS.get(word.lower())
    if not sep or action is None or not badge:
        return None
    return action, badge


def _outcome_text(
    ok: bool, action: CycleAction, reasons: tuple[ReasonCode, ...]
) -> tuple[str, str]:
    if ok:
        return f"已完成：{action.value}", f"Done: {action.value}"
    return (
        "；".join(text(r, Lang.ZH) for r in reasons),
        "; ".join(text(r, Lang.EN) for r in reasons),
    )


class WorkCycle(PermitLifecycle):
    """The people's side of the permit lifecycle (mixed into ``ZoneController``)."""

    gas_limits: Mapping[str, GasLimits] = builtin_limits()
    o2_high: float | None = None
    fixed_gas_tester: FixedTester | None = None
    terminal_attached: bool = False
    _armed: ArmedAction | None = None

    # ------------------------------------------------------------------ roles

    def _role_ok(self, action: CycleAction, permit: Permit | None, worker: Worker) -> bool:
        member = permit.member(worker.worker_id) if permit is not None else None
        role = member.role if member else None
        site = set(worker.site_roles)
        if action in (CycleAction.START, CycleAction.FINISH, CycleAction.BREAK):
            return role is Role.LEADER
        if action is CycleAction.EVERYONE_OUT:
            return role is Role.GUARDIAN
        if action is CycleAction.RESUME:
            return SiteRole.SAFETY_OFFICER in site
        if action is CycleAction.CLOSE:
            return role is Role.LEADER or SiteRole.SAFETY_OFFICER in site
        # gas test: an analyst or leader on a live permit of the zone, or a roster analyst
        if SiteRole.ANALYST in site:
            return True
        candidates = [permit] if permit is not None else self._zone_permits(LIVE_STATUSES)
        return any(
            (m := p.member(worker.worker_id)) is not None and m.role in (Role.ANALYST, Role.LEADER)
            for p in candidates
        )

    def _zone_permits(self, statuses: frozenset[PermitStatus]) -> list[Permit]:
        return [
            p for p in self.registry.permits(statuses=statuses) if p.zone_id == self.zone.zone_id
        ]

    def _resolve_permit(
        self, action: CycleAction, permit_id: str | None, worker: Worker | None
    ) -> tuple[Permit | None, list[ReasonCode]]:
        """The permit an action is about: the one named, or the only one that fits."""
        if permit_id is not None:
            permit = self.registry.permit(permit_id)
            if permit is None or permit.zone_id != self.zone.zone_id:
                return None, [ReasonCode.NO_PERMIT]
            return permit, []
        if action is CycleAction.GAS_TEST:
            return None, []  # a zone-wide test, judged for every live permit's kind
        fits = self._zone_permits(_FROM[action])
        if worker is not None and action is not CycleAction.RESUME:
            fits = [p for p in fits if p.member(worker.worker_id) is not None] or fits
        if len(fits) == 1:
            return fits[0], []
        return None, [ReasonCode.PERMIT_AMBIGUOUS if fits else ReasonCode.NO_PERMIT]

    # ------------------------------------------------------------------ checks

    def _inside_on(self, permit: Permit) -> list[str]:
        return sorted(
            w for w, e in self.registry.presence().items() if e.get("permit_id") == permit.permit_id
        )

    def _gas_codes(self, permit: Permit, now: datetime, *, resume: bool) -> list[ReasonCode]:
        """Every failing gas-test check for a start or resume (GB 30871 §5.3.1, §6.3, §6.5)."""
        codes: list[ReasonCode] = []
        newer_than: datetime | None = None
        need = effective_gas(permit).test_required  # a document cannot waive it (§5.3.1, §6.3a)
        if resume and permit.suspension is not None:
            brk = permit.retest_after_break
            long_break = brk is not None and now - permit.suspension.at > brk
            if permit.suspension.cause in pm._GAS_CAUSES or long_break:
                newer_than, need = permit.suspension.at, True
        if not need:
            return codes
        test = self.latest_gas_test()
        if test is None:
            return [ReasonCode.GAS_TEST_MISSING]
        passed, failures, missing = judge_gas_test(
            test, self.zone, [permit.kind], self.gas_limits, o2_high=self.o2_high
        )
        if missing:
            codes.append(ReasonCode.GAS_TEST_INCOMPLETE)
        if not passed and len(failures) > len(missing):
            codes.append(ReasonCode.GAS_TEST_FAILED)
        stale = pm.check_gas_test(
            permit, test.model_copy(update={"passed": True}), now, newer_than=newer_than
        )
        if stale is not None:
            codes.append(stale)
        return codes

    def action_checks(self, action: CycleAction, permit: Permit) -> list[ReasonCode]:
        """Every failing check of ``action`` on ``permit`` (the person's role excluded)."""
        codes: list[ReasonCode] = []
        if permit.status not in _FROM[action]:
            if permit.status is PermitStatus.EXPIRED:
                codes.append(ReasonCode.PERMIT_EXPIRED)
            elif permit.status in TERMINAL_STATUSES:
                codes.append(ReasonCode.PERMIT_CLOSED)
            elif permit.status is PermitStatus.SUSPENDED:
                codes.append(ReasonCode.PERMIT_SUSPENDED)
            elif permit.status is PermitStatus.APPROVED and action is not CycleAction.START:
                codes.append(ReasonCode.PERMIT_NOT_STARTED)
            else:
                codes.append(ReasonCode.ILLEGAL_TRANSITION)
        if action in (CycleAction.START, CycleAction.RESUME):
            guards = self._guards(permit)
            now = guards.now
            if now is None:
                codes.append(ReasonCode.CLOCK_UNTRUSTED)
            else:
                if now < permit.valid_from:
                    codes.append(ReasonCode.PERMIT_NOT_YET_VALID)
                if now >= pm.effective_valid_to(permit, guards.linked):
                    codes.append(ReasonCode.PERMIT_EXPIRED)
                if permit.status in _FROM[action]:
                    codes += self._gas_codes(permit, now, resume=action is CycleAction.RESUME)
                    # The whole-zone judgement's reasons too (daily first hot-work test,
                    # latest alarm, linked permit, certificates of those inside, guardian), so
                    # a refusal lists every one, not only the first the command path meets.
                    command = pm.Action.START if action is CycleAction.START else pm.Action.RESUME
                    codes += self._command_reasons(permit, command)
            air = pm.check_air(
                guards.air,
                require_monitoring=pm.requires_monitoring(permit),
                require_monitor=pm.requires_monitor_installed(permit),
                need_gases=pm.monitored_gases_needed(permit),
            )
            if air is not None:
                codes.append(air)
                if self.monitoring_resuming():
                    codes.append(ReasonCode.MONITORING_RESUMING)
        needs_empty = (CycleAction.BREAK, CycleAction.EVERYONE_OUT, CycleAction.CLOSE)
        if action in needs_empty and self._inside_on(permit):
            codes.append(ReasonCode.PEOPLE_INSIDE)
        if action is CycleAction.CLOSE and permit.guardians:
            confirmed = self.registry.get_doc(EVERYONE_OUT_TABLE, permit.permit_id)
            if not confirmed:
                codes.append(ReasonCode.EVERYONE_OUT_NOT_CONFIRMED)
        return list(dict.fromkeys(codes))

    # ------------------------------------------------------------------ doing

    def perform_action(
        self,
        action: CycleAction,
        permit_id: str | None,
        worker: Worker | None,
        *,
        via: str,
        person_codes: tuple[ReasonCode, ...] = (),
        evidence: dict[str, Any] | None = None,
    ) -> ActionOutcome:
        """Check everything, then do ``action`` as ``worker`` or refuse with every reason.

        ``person_codes`` are the identity checks the caller already ran (badge, lock, face).
        Never raises for a refusal; journals both outcomes.
        """
        if action is CycleAction.GAS_TEST:
            raise ValueError("gas tests go through record_person_gas_test")
        codes = list(person_codes)
        permit, found = self._resolve_permit(action, permit_id, worker)
        codes += found
        judged = permit is not None or not found  # no role to judge on an unknown permit
        if worker is not None and judged and not self._role_ok(action, permit, worker):
            codes.append(ReasonCode.ROLE_NOT_ALLOWED)
        if permit is not None and worker is not None:
            codes += self._own_cert_codes(action, permit, worker)
        if permit is not None:
            codes += self.action_checks(action, permit)
        codes = list(dict.fromkeys(codes))
        ev = {"via": via, "rule": RULES[action], **(evidence or {})}
        if worker is None and not codes:
            codes.append(ReasonCode.UNKNOWN_BADGE)
        if codes or permit is None or worker is None:
            return self._refuse(action, permit, worker, via, tuple(codes), ev)
        actor = pm.Actor(actor_id=worker.worker_id, kind=pm.ActorKind.PERSON, authorised=True)
        member = permit.member(worker.worker_id)
        ev["role"] = member.role.value if member else [r.value for r in worker.site_roles]
        try:
            new = self._do(action, permit, actor, ev)
        except CommandRejected as err:  # a guard the checks above did not foresee
            return self._refuse(action, permit, worker, via, (_code(err.code),), ev)
        zh, en = _outcome_text(True, action, ())
        return ActionOutcome(
            ok=True,
            action=action,
            permit_id=permit.permit_id,
            worker_id=worker.worker_id,
            name=worker.name,
            via=via,
            message_zh=zh,
            message_en=en,
            permit=new.model_dump(mode="json"),
            details={"rule": RULES[action]},
        )

    def _own_cert_codes(
        self, action: CycleAction, permit: Permit, worker: Worker
    ) -> list[ReasonCode]:
        """The certificate the acting person's own role on ``permit`` requires, at a start or a
        resume: a leader whose certificate for that role lapsed (or whose review is overdue)
        could not badge in, so they do not set others to work either (令第30号 Art. 19-21;
        a fresh-user test saw central start a permit "by" a leader the gate refused). A
        safety officer resuming by site role is not a member and needs none."""
        if action not in (CycleAction.START, CycleAction.RESUME):
            return []
        member = permit.member(worker.worker_id)
        if member is None or member.required_cert is None:
            return []
        now = self.trusted_now()
        if now is None:
            return []  # action_checks says CLOCK_UNTRUSTED for the whole action
        return cert_reasons(worker, member.required_cert, now.astimezone(self.tz).date())

    def _do(
        self, action: CycleAction, permit: Permit, actor: pm.Actor, ev: dict[str, Any]
    ) -> Permit:
        wall = self.clock.wall().isoformat()
        if action is CycleAction.START:
            return self._transition(permit.permit_id, pm.Action.START, actor, evidence=ev)
        if action is CycleAction.RESUME:
            return self._transition(permit.permit_id, pm.Action.RESUME, actor, evidence=ev)
        if action is CycleAction.FINISH:
            return self._transition(permit.permit_id, pm.Action.COMPLETE, actor, evidence=ev)
        if action is CycleAction.CLOSE:
            new = self._transition(permit.permit_id, pm.Action.CLOSE, actor, evidence=ev)
            self.registry.put_doc(BREAKS_TABLE, permit.permit_id, {"closed": wall})
            return new
        # BREAK and EVERYONE_OUT record a fact about a permit whose state does not change.
        table = BREAKS_TABLE if action is CycleAction.BREAK else EVERYONE_OUT_TABLE
        self.registry.put_doc(table, permit.permit_id, {"at": wall, "by": actor.actor_id})
        if action is CycleAction.BREAK and not self.registry.presence():
            # The zone's break clock (re-test after a long break) starts now at the latest.
            self.registry.put_doc("zone_state", "presence", {"empty_since": wall})
        self._commit(permit, permit, action.value, actor, RULES[action], ev)
        return permit

    def _refuse(
        self,
        action: CycleAction,
        permit: Permit | None,
        worker: Worker | None,
        via: str,
        codes: tuple[ReasonCode, ...],
        ev: dict[str, Any],
    ) -> ActionOutcome:
        zh, en = _outcome_text(False, action, codes)
        outcome = ActionOutcome(
            ok=False,
            action=action,
            permit_id=permit.permit_id if permit else None,
            worker_id=worker.worker_id if worker else None,
            name=worker.name if worker else None,
            via=via,
            reasons=codes,
            message_zh=zh,
            message_en=en,
            permit=permit.model_dump(mode="json") if permit else None,
            details={"rule": RULES[action]},
        )
        self._emit(
            EventKind.ACCESS,
            EventType.PERMIT_ACTION_REFUSED,
            {
                "action": action.value,
                "permit_id": outcome.permit_id,
                "worker_id": outcome.worker_id,
                "via": via,
                "reasons": [c.value for c in codes],
                "evidence": ev,
            },
        )
        return outcome

    # ------------------------------------------------------------------ gas tests

    def accept_gas_test(
        self, test: GasTest, *, actor: str, via: GasTestVia, permit: Permit | None = None
    ) -> GasTest:
        """Judge ``test``'s samples at the edge and record it (the sender's ``passed`` ignored).

        Judged for the permit it names, else for every live permit's kind in the zone, else for
        the zone's work kinds. Raises ``CommandRejected`` for another zone's test.
        """
        if test.zone_id != self.zone.zone_id:
            raise CommandRejected("WRONG_ZONE", f"gas test is for zone {test.zone_id}")
        ahead = test.taken_at - self.clock.wall()
        if ahead > GAS_TEST_CLOCK_SKEW:
            # A phone or detector with a wrong clock: recorded, it would be the zone's "latest"
            # test for hours and hide every real one (found by a fresh-user test).
            raise CommandRejected(
                ReasonCode.GAS_TEST_IN_FUTURE,
                f"gas test taken_at {test.taken_at.isoformat()} is "
                f"{ahead.total_seconds():.0f} s ahead of this gateway's clock",
            )
        if permit is None and test.permit_id:
            permit = self.registry.permit(test.permit_id)
            if permit is None:
                raise CommandRejected(ReasonCode.NO_PERMIT, f"no permit {test.permit_id}")
        if permit is not None:
            kinds = [permit.kind]
        else:
            kinds = [p.kind for p in self._zone_permits(LIVE_STATUSES)] or list(
                self.zone.work_kinds
            )
        passed, failures, _ = judge_gas_test(
            test, self.zone, kinds, self.gas_limits, o2_high=self.o2_high
        )
        judged = test.model_copy(
            update={
                "passed": passed,
                "failures": failures,
                "via": via,
                "permit_id": permit.permit_id if permit else test.permit_id,
                "recorded_at": self.clock.wall(),
            }
        )
        judged = GasTest.model_validate(judged.model_dump())
        self.record_gas_test(judged, actor)
        return judged

    async def record_person_gas_test(
        self,
        request: GasTestRequest,
        permit_id: str | None,
        worker: Worker | None,
        *,
        via: str,
        person_codes: tuple[ReasonCode, ...] = (),
    ) -> ActionOutcome:
        """A gas test taken by the person at the terminal (portable readings or fixed sensors)."""
        action = CycleAction.GAS_TEST
        codes = list(person_codes)
        permit, found = self._resolve_permit(action, permit_id, worker)
        codes += found
        if worker is not None and not self._role_ok(action, permit, worker):
            codes.append(ReasonCode.ROLE_NOT_ALLOWED)
        if worker is None and not codes:
            codes.append(ReasonCode.UNKNOWN_BADGE)
        if request.instrument is InstrumentKind.FIXED and self.fixed_gas_tester is None:
            codes.append(ReasonCode.NO_AIR_DATA)
        if (
            request.taken_at is not None
            and request.taken_at - self.clock.wall() > GAS_TEST_CLOCK_SKEW
        ):
            codes.append(ReasonCode.GAS_TEST_IN_FUTURE)
        ev: dict[str, Any] = {"via": via, "rule": RULES[action], "mode": request.instrument.value}
        if codes or worker is None:
            return self._refuse(action, permit, worker, via, tuple(dict.fromkeys(codes)), ev)
        if request.instrument is InstrumentKind.FIXED:
            assert self.fixed_gas_tester is not None
            raw = await self.fixed_gas_tester(worker.worker_id, request.window_s)
            raw = raw.model_copy(update={"sample_point": request.sample_point or "fixed"})
            mode = GasTestVia.FIXED_REQUEST
        else:
            raw = GasTest(
                zone_id=self.zone.zone_id,
                taken_at=request.taken_at or self.clock.wall(),
                source=f"portable:{request.instrument_id}",
                instrument=GasInstrument(
                    kind=InstrumentKind.PORTABLE, instrument_id=request.instrument_id
                ),
                analyst=worker.worker_id,
                samples=request.samples,
                sample_point=request.sample_point,
                passed=False,
            )
            mode = GasTestVia.TERMINAL
        test = self.accept_gas_test(raw, actor=worker.worker_id, via=mode, permit=permit)
        zh, en = _outcome_text(True, action, ())
        if not test.passed:
            zh, en = text(ReasonCode.GAS_TEST_FAILED, Lang.ZH), text(ReasonCode.GAS_TEST_FAILED)
        return ActionOutcome(
            ok=True,
            action=action,
            permit_id=permit.permit_id if permit else None,
            worker_id=worker.worker_id,
            name=worker.name,
            via=via,
            message_zh=zh,
            message_en=en,
            gas_test=test.model_dump(mode="json"),
            details={"passed": test.passed, "failures": list(test.failures)},
        )

    # ------------------------------------------------------------------ through central

    def record_central_gas_test(self, test: GasTest, actor: str) -> GasTest:
        """``gas_test_record``: the analyst must be on the roster; the samples are judged here."""
        if self.registry.worker(test.analyst) is None:
            raise CommandRejected(ReasonCode.UNKNOWN_BADGE, f"analyst {test.analyst} not on roster")
        return self.accept_gas_test(test, actor=f"{actor}/{test.analyst}", via=GasTestVia.CENTRAL)

    def central_permit_action(
        self,
        action: str,
        permit_id: str,
        by: str,
        actor: str,
        *,
        everyone_out_by: str | None = None,
    ) -> ActionOutcome:
        """``permit_start`` / ``permit_finish`` / ``permit_close`` confirmed by ``by`` on a phone.

        The same checks as at the terminal, except the face (the signed command stands for
        it). ``everyone_out_by`` (close) records the guardian's everyone-out check first.
        """
        cycle = CycleAction(action)
        worker = self.registry.worker(by)
        person: tuple[ReasonCode, ...] = () if worker else (ReasonCode.NOT_ON_PERMIT,)
        ev = {"command_actor": actor, "confirmed_by": by}
        if cycle is CycleAction.CLOSE and everyone_out_by is not None:
            guardian = self.registry.worker(everyone_out_by)
            out = self.perform_action(
                CycleAction.EVERYONE_OUT,
                permit_id,
                guardian,
                via="central",
                person_codes=() if guardian else (ReasonCode.NOT_ON_PERMIT,),
                evidence={**ev, "confirmed_by": everyone_out_by},
            )
            if not out.ok:
                return out
        return self.perform_action(
            cycle, permit_id, worker, via="central", person_codes=person, evidence=ev
        )

    # ------------------------------------------------------------------ the terminal

    async def _person(
        self, badge_id: str
    ) -> tuple[Worker | None, tuple[ReasonCode, ...], dict[str, Any]]:
        """Badge, lock and face checks for an action at the terminal (as for entry)."""
        worker = self.registry.worker_by_badge(badge_id)
        if worker is None:
            return None, (ReasonCode.UNKNOWN_BADGE,), {"badge_id": badge_id}
        if worker.worker_id in self.registry.lockouts():
            return worker, (ReasonCode.WORKER_LOCKED,), {"badge_id": badge_id}
        try:
            identity = await self.identity.verify(worker, badge_id)
        except Exception:  # a broken camera must refuse, not crash the terminal
            log.exception("identity verification failed")
            identity = IdentityResult(match=False, reason=ReasonCode.IDENTITY_UNAVAILABLE)
        seen: dict[str, Any] = {"match": identity.match, **identity.details}
        if identity.distance is not None:
            seen["distance"] = identity.distance
        ev: dict[str, Any] = {"badge_id": badge_id, "identity": seen}
        if not identity.match:
            return worker, (identity.reason or ReasonCode.FACE_MISMATCH,), ev
        return worker, (), ev

    def arm(self, armed: ArmedAction) -> None:
        """Make the next badge tap at the terminal do ``armed`` (raises ``CommandRejected``)."""
        if not self.terminal_attached:
            raise CommandRejected(ReasonCode.TERMINAL_UNAVAILABLE, "no badge reader configured")
        if self._armed is not None and not self._armed.done.done():
            raise CommandRejected(ReasonCode.TERMINAL_BUSY, f"armed for {self._armed.action}")
        self._armed = armed
        # Journaled: who could act at the terminal, and for what, is part of the audit trail.
        self._emit(
            EventKind.SYSTEM,
            EventType.TERMINAL_ARMED,
            {
                "zone_id": self.zone.zone_id,
                "action": armed.action.value,
                "permit_id": armed.permit_id,
            },
        )

    def disarm(self, armed: ArmedAction) -> None:
        """Forget ``armed`` if it is still the terminal's pending action (the caller gave up)."""
        if self._armed is armed:
            self._armed = None

    async def terminal_action(self, line: str) -> ActionOutcome | None:
        """Handle a badge line as an action when the terminal is armed or the line names one
        (``start:B001``); None when it is a plain tap for entry or exit."""
        armed, self._armed = self._armed, None
        if armed is not None and armed.done.done():
            armed = None  # the API caller gave up waiting
        parsed = parse_action_line(line)
        if armed is None and parsed is None:
            return None
        if armed is not None:
            action, permit_id, badge_id, gas = armed.action, armed.permit_id, line, armed.gas
            if parsed is not None:
                badge_id = parsed[1]
        else:
            assert parsed is not None
            action, badge_id = parsed
            permit_id, gas = None, None
        worker, person, ev = await self._person(badge_id)
        try:
            if action is CycleAction.GAS_TEST:
                request = gas or GasTestRequest(instrument=InstrumentKind.FIXED)
                outcome = await self.record_person_gas_test(
                    request, permit_id, worker, via="terminal", person_codes=person
                )
            else:
                outcome = self.perform_action(
                    action, permit_id, worker, via="terminal", person_codes=person, evidence=ev
                )
        except Exception as err:
            if armed is not None and not armed.done.done():
                armed.done.set_exception(err)
            raise
        if armed is not None and not armed.done.done():
            armed.done.set_result(outcome)
        return outcome


def _code(code: str) -> ReasonCode:
    try:
        return ReasonCode(code)
    except ValueError:
        return ReasonCode.ILLEGAL_TRANSITION
