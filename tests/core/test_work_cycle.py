"""The permit work cycle as people's actions: roles, every failing check, gas-test content,
breaks, everyone-out before close, and the wait after a restart (issue 10)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from edge.evidence import AirVerdict
from edge.gas_config import GasConfig
from edge.gas_tests import judge_gas_test
from edge.models import (
    CertCategory,
    EventKind,
    GasTest,
    GasTestSample,
    GasTestVia,
    PermitMember,
    PermitStatus,
    Role,
    SiteRole,
    SuspensionCause,
    Worker,
    WorkKind,
)
from edge.reasons import ReasonCode
from edge.work_cycle import CycleAction, parse_action_line
from firmware_adapters.outputs.signals import Light
from tests.core.conftest import ZONE, Env, cert

R = ReasonCode
MEMBERS = (
    PermitMember(worker_id="L1", role=Role.LEADER),
    PermitMember(worker_id="G1", role=Role.GUARDIAN),
    PermitMember(worker_id="W1", role=Role.OPERATOR),
    PermitMember(worker_id="A1", role=Role.ANALYST),
)


def _people(env: Env) -> dict[str, Worker]:
    out = {}
    for wid in ("L1", "G1", "W1", "A1"):
        out[wid] = env.worker(wid)
    so = Worker(
        worker_id="S1", name="安全员", badge_ids=("B-S1",), site_roles=(SiteRole.SAFETY_OFFICER,)
    )
    env.ctl.put_workers([so], "test")
    out["S1"] = so
    return out


def _test(env: Env, *samples: tuple[str, float, str], ago_min: float = 0) -> GasTest:
    raw = GasTest(
        zone_id="z1",
        taken_at=env.clock.wall() - timedelta(minutes=ago_min),
        source="portable:MX4-1",
        analyst="A1",
        samples=tuple(GasTestSample(gas=g, value=v, unit=u) for g, v, u in samples),
        passed=True,  # what a sender claims; the edge judges for itself
        sample_point="manhole top",
    )
    return env.ctl.accept_gas_test(raw, actor="A1", via=GasTestVia.TERMINAL)


GOOD = (("o2", 20.8, "%vol"), ("lel", 0.0, "%LEL"), ("co", 2.0, "ppm"))


def test_a_refused_start_lists_every_failing_check(env: Env) -> None:
    people = _people(env)
    env.permit(members=MEMBERS)
    env.unsafe()
    out = env.ctl.perform_action(CycleAction.START, "P1", people["W1"], via="terminal")
    assert not out.ok
    assert set(out.reasons) == {R.ROLE_NOT_ALLOWED, R.GAS_TEST_MISSING, R.GAS_UNSAFE}
    assert "作业票上的角色" in out.message_zh and "role" in out.message_en
    refused = [
        e for e in env.journal.events(kind=EventKind.ACCESS) if e.type == "permit_action_refused"
    ]
    assert refused[-1].payload["reasons"] == [r.value for r in out.reasons]
    assert env.registry.permit("P1").status is PermitStatus.APPROVED  # type: ignore[union-attr]


def test_the_leader_starts_after_a_passing_test_and_the_start_is_journaled(env: Env) -> None:
    people = _people(env)
    env.permit(members=MEMBERS)
    test = _test(env, *GOOD)
    assert test.passed and test.via is GasTestVia.TERMINAL and test.recorded_at is not None
    out = env.ctl.perform_action(CycleAction.START, None, people["L1"], via="terminal")
    assert out.ok, out.reasons
    ev = [e for e in env.journal.events(kind=EventKind.PERMIT) if e.type == "permit_start"][-1]
    assert ev.payload["actor"]["actor_id"] == "L1"
    assert ev.payload["evidence"]["role"] == "leader"
    assert ev.payload["evidence"]["gas_test_id"] == test.test_id
    assert "§5.3.1" in ev.payload["evidence"]["rule"]


def test_hot_work_test_without_a_combustible_reading_is_incomplete(env: Env) -> None:
    people = _people(env)
    env.permit(members=MEMBERS)
    test = _test(env, ("o2", 20.8, "%vol"), ("co", 2.0, "ppm"))
    assert not test.passed and "lel not measured" in test.failures
    out = env.ctl.perform_action(CycleAction.START, "P1", people["L1"], via="central")
    assert out.reasons == (R.GAS_TEST_INCOMPLETE,)


def test_a_start_31_minutes_after_the_test_is_stale(env: Env) -> None:
    people = _people(env)
    env.permit(members=MEMBERS)
    _test(env, *GOOD, ago_min=31)
    out = env.ctl.perform_action(CycleAction.START, "P1", people["L1"], via="terminal")
    assert out.reasons == (R.GAS_TEST_STALE,)


def test_confined_space_needs_oxygen_and_the_edge_ignores_the_senders_flag() -> None:
    limits = GasConfig().limits
    raw = GasTest(
        zone_id="z1",
        taken_at="2026-06-01T08:00:00+08:00",
        source="portable:x",
        analyst="A1",
        samples=(GasTestSample(gas="lel", value=30.0, unit="%LEL"),),
        passed=True,
    )
    passed, failures, missing = judge_gas_test(raw, ZONE, [WorkKind.CONFINED_SPACE], limits)
    assert not passed and missing == ("o2",)
    # 30 %LEL of methane (LEL 5 %) is 1.5 % vol > 0.5 % vol (GB 30871 §5.3.2)
    assert any("1.50%vol > 0.5%vol" in f for f in failures)


def test_resume_needs_a_safety_officer_and_a_test_newer_than_the_suspension(env: Env) -> None:
    people = _people(env)
    env.permit(members=MEMBERS)
    _test(env, *GOOD)
    assert env.ctl.perform_action(CycleAction.START, "P1", people["L1"], via="terminal").ok
    env.ctl.suspend_permit("P1", SuspensionCause.GAS, "co high", "system:gas")
    env.clock.advance(60)
    out = env.ctl.perform_action(CycleAction.RESUME, "P1", people["L1"], via="terminal")
    assert set(out.reasons) == {R.ROLE_NOT_ALLOWED, R.GAS_TEST_STALE}
    _test(env, *GOOD)
    assert env.ctl.perform_action(CycleAction.RESUME, "P1", people["S1"], via="terminal").ok


async def test_close_needs_everyone_out_confirmed_by_the_guardian(env: Env) -> None:
    people = _people(env)
    env.permit(members=MEMBERS)
    _test(env, *GOOD)
    assert env.ctl.perform_action(CycleAction.START, "P1", people["L1"], via="terminal").ok
    assert (await env.ctl.badge_in("B-G1")).allowed
    assert env.ctl.perform_action(CycleAction.FINISH, "P1", people["L1"], via="terminal").ok
    out = env.ctl.perform_action(CycleAction.CLOSE, "P1", people["L1"], via="terminal")
    assert set(out.reasons) == {R.PEOPLE_INSIDE, R.EVERYONE_OUT_NOT_CONFIRMED}
    out = env.ctl.perform_action(CycleAction.EVERYONE_OUT, "P1", people["G1"], via="terminal")
    assert out.reasons == (R.PEOPLE_INSIDE,)
    await env.ctl.badge_out("B-G1")
    assert env.ctl.perform_action(CycleAction.EVERYONE_OUT, "P1", people["G1"], via="t").ok
    assert env.ctl.perform_action(CycleAction.CLOSE, "P1", people["L1"], via="terminal").ok
    assert env.registry.permit("P1").status is PermitStatus.CLOSED  # type: ignore[union-attr]


def test_lost_monitoring_after_a_restart_waits_then_suspends_past_the_grace(env: Env) -> None:
    people = _people(env)
    env.permit(kind=WorkKind.CONFINED_SPACE, level="none", members=MEMBERS)  # type: ignore[arg-type]
    _test(env, *GOOD)
    assert env.ctl.perform_action(CycleAction.START, "P1", people["L1"], via="terminal").ok
    env.ctl.begin_restart_wait(60)
    warming = AirVerdict(safe=True, monitoring_ok=False, reasons=(R.SENSOR_WARMING_UP,))
    env.air.verdict = warming
    assert env.ctl.on_air_verdict(warming) == []
    assert env.registry.permit("P1").status is PermitStatus.ACTIVE  # type: ignore[union-attr]
    waits = [e for e in env.journal.events(kind=EventKind.SYSTEM) if e.type == "monitoring_wait"]
    assert waits[-1].payload["reason"] == "MONITORING_RESUMING"
    env.permit("P2", kind=WorkKind.CONFINED_SPACE, level="none", members=MEMBERS)  # type: ignore[arg-type]
    out = env.ctl.perform_action(CycleAction.START, "P2", people["L1"], via="terminal")
    # nothing moves toward work during the wait
    assert set(out.reasons) == {R.SENSOR_WARMING_UP, R.MONITORING_RESUMING}
    env.clock.advance(61)
    suspended = env.ctl.on_air_verdict(warming)
    assert [p.permit_id for p in suspended] == ["P1"]
    assert suspended[0].suspension.cause is SuspensionCause.MONITORING_LOST  # type: ignore[union-attr]


async def test_a_badge_in_during_the_restart_wait_says_wait_not_the_sensor_fault(
    env: Env,
) -> None:
    people = _people(env)
    env.permit(kind=WorkKind.CONFINED_SPACE, level="none", members=MEMBERS)  # type: ignore[arg-type]
    _test(env, *GOOD)
    assert env.ctl.perform_action(CycleAction.START, "P1", people["L1"], via="terminal").ok
    env.ctl.begin_restart_wait(60)
    warming = AirVerdict(safe=True, monitoring_ok=False, reasons=(R.SENSOR_WARMING_UP,))
    env.air.verdict = warming
    assert env.ctl.on_air_verdict(warming) == []
    d = await env.ctl.badge_in("B-G1")
    assert not d.allowed and d.reasons == (R.MONITORING_RESUMING,), d.reasons
    assert "传感器预热中，请稍候" in d.message_zh and "warming up" in d.message_en
    assert d.details["air"]["reasons"] == ["SENSOR_WARMING_UP"]  # the sensor's own code kept
    # The whole-zone judgement (run on every expiry tick and presence change) waits too: work
    # stops, nothing is suspended (a real daemon suspended here before: test_cycle_daemon).
    assert env.ctl.reevaluate() == []
    assert env.registry.permit("P1").status is PermitStatus.ACTIVE  # type: ignore[union-attr]
    assert env.lights.current == (Light.RED, False)  # relay released, no alarm tone
    # A latched alarm is not waited out: it keeps its own code during the wait.
    latched = AirVerdict(safe=True, monitoring_ok=False, latched=True, reasons=(R.SENSOR_STALE,))
    env.air.verdict = latched
    assert (await env.ctl.badge_in("B-G1")).reasons == (R.GAS_ALARM_LATCHED,)
    # Past the grace the wait is over: the sensor's code again (and the permit suspends).
    env.air.verdict = warming
    env.clock.advance(61)
    d = await env.ctl.badge_in("B-G1")
    assert R.MONITORING_RESUMING not in d.reasons and R.SENSOR_WARMING_UP in d.reasons, d.reasons
    assert [p.permit_id for p in env.ctl.reevaluate()] == ["P1"]


def test_unsafe_air_during_the_restart_wait_suspends_at_once(env: Env) -> None:
    people = _people(env)
    env.permit(kind=WorkKind.CONFINED_SPACE, level="none", members=MEMBERS)  # type: ignore[arg-type]
    _test(env, *GOOD)
    assert env.ctl.perform_action(CycleAction.START, "P1", people["L1"], via="terminal").ok
    env.ctl.begin_restart_wait(600)
    suspended = env.ctl.on_air_verdict(env.unsafe())
    assert suspended[0].suspension.cause is SuspensionCause.GAS  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("start:B001", (CycleAction.START, "B001")),
        ("out_check:B-G1", (CycleAction.EVERYONE_OUT, "B-G1")),
        ("B001", None),
        ("QR:123", None),
        ("start:", None),
    ],
)
def test_badge_lines_name_an_action_by_prefix(line: str, parsed: object) -> None:
    assert parse_action_line(line) == parsed


def test_order_30_a_leader_whose_own_certificate_lapsed_cannot_start_the_work(env: Env) -> None:
    # The leader's role on this permit needs a work-at-height certificate whose 3-yearly review
    # is overdue: the gate would refuse them, so they do not set others to work either, at the
    # terminal or confirmed on a phone through central (a fresh-user test saw central start a
    # permit "by" such a leader). Someone else's lapsed certificate outside does not block it.
    _people(env)
    issued = env.today - timedelta(days=3 * 365 + 30)  # review derived at issue + 3 years
    height = cert(CertCategory.HEIGHT, issued, issued + timedelta(days=6 * 365 - 1))
    env.worker("L1", height)
    members = (
        PermitMember(worker_id="L1", role=Role.LEADER, required_cert=CertCategory.HEIGHT),
        *MEMBERS[1:],
    )
    env.permit(members=members)
    _test(env, *GOOD)
    out = env.ctl.perform_action(CycleAction.START, "P1", env.registry.worker("L1"), via="terminal")
    assert not out.ok and out.reasons == (R.CERT_REVIEW_OVERDUE,)
    out = env.ctl.central_permit_action("start", "P1", "L1", "central-ops")
    assert not out.ok and out.reasons == (R.CERT_REVIEW_OVERDUE,)
    assert env.registry.permit("P1").status is PermitStatus.APPROVED  # type: ignore[union-attr]
    # Renewed (a review recorded): the same leader starts it.
    env.worker("L1", cert(CertCategory.HEIGHT, issued, height.valid_to, env.today))
    out = env.ctl.central_permit_action("start", "P1", "L1", "central-ops")
    assert out.ok, out.reasons
