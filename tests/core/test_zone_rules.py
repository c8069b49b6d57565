"""One test per rule of the whole-zone judgement (issue 17), each named after its clause.

Every test drives the real ``ZoneController`` over real stores through its public methods
(the ones central commands, the terminal and the daemon's timer call) and reads the outcome
from the registry, the journal and the annunciator.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from edge.evidence import AirVerdict
from edge.models import (
    CertCategory,
    EventKind,
    GasRequirement,
    GasTest,
    GasTestSample,
    PermitLevel,
    PermitMember,
    PermitStatus,
    Role,
    SuspensionCause,
    WorkKind,
)
from edge.reasons import ReasonCode
from edge.zone import CommandRejected
from firmware_adapters.outputs.signals import Light

from .conftest import Env, cert


def _test(env: Env, *samples: tuple[str, float, str], passed: bool = True) -> GasTest:
    t = GasTest(
        zone_id="z1",
        taken_at=env.clock.wall(),
        source="portable:x",
        analyst="a",
        samples=tuple(GasTestSample(gas=g, value=v, unit=u) for g, v, u in samples),
        passed=passed,
    )
    env.ctl.record_gas_test(t, "analyst")
    return t


def _status(env: Env, pid: str) -> PermitStatus:
    p = env.registry.permit(pid)
    assert p is not None
    return p.status


CS_MEMBERS = (
    PermitMember(worker_id="G1", role=Role.GUARDIAN),
    PermitMember(worker_id="W1", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
)


def _cs(env: Env, pid: str = "CS1", **kw: object) -> None:
    env.active_permit(
        pid=pid, kind=WorkKind.CONFINED_SPACE, level=PermitLevel.NONE, members=CS_MEMBERS, **kw
    )


# ---------------------------------------------------------------- item 1: the relay


async def test_s4_16_relay_on_only_while_a_permit_is_active(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.ctl.expire_due()
    assert env.lights.current == (Light.RED, False)  # no permit: relay released
    env.permit()
    env.ctl.expire_due()
    assert env.lights.current == (Light.RED, False)  # approved, not started
    env.gas_test()
    env.ctl.start_permit("P1", "leader")
    assert env.lights.current == (Light.GREEN, False)


async def test_s4_16_expiry_with_people_inside_alerts_and_releases_relay(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.active_permit(hours=1)
    assert (await env.ctl.badge_in("B-W1")).allowed
    env.clock.advance(3600)
    expired = env.ctl.expire_due()  # the daemon's timer: no triggering event
    assert [p.permit_id for p in expired] == ["P1"]
    expire = [e for e in env.journal.events(kind=EventKind.PERMIT) if e.type == "permit_expire"]
    assert expire[-1].payload["evidence"]["people_inside"] == ["W1"]
    assert env.lights.current == (Light.RED, False)


async def test_s4_8_stop_card_suspension_that_expires_keeps_relay_off(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.active_permit(hours=1)
    env.ctl.suspend_permit("P1", SuspensionCause.MANUAL, "stop card", "G1")
    env.clock.advance(3600)
    env.ctl.expire_due()
    assert _status(env, "P1") is PermitStatus.EXPIRED
    assert env.lights.current == (Light.RED, False)


# ---------------------------------------------------------------- item 2: every permit


async def test_s5_s6_entry_needs_every_live_permit_naming_the_person(env: Env) -> None:
    env.worker("G1")
    env.worker("G2")
    env.welder("W1")
    env.active_permit(pid="HOT1")
    _cs(env)
    # The confined-space permit needs its guardian inside: the hot-work permit cannot admit.
    d = await env.ctl.badge_in("B-W1")
    assert not d.allowed and ReasonCode.GUARDIAN_ABSENT in d.reasons
    env.ctl.suspend_permit("CS1", SuspensionCause.MANUAL, "stop card", "G1")
    d = await env.ctl.badge_in("B-W1")
    assert not d.allowed and ReasonCode.PERMIT_SUSPENDED in d.reasons


# ---------------------------------------------------------------- item 3: test content


def test_s5_3_1_hot_work_test_must_measure_a_combustible(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    p = env.permit(level=PermitLevel.HOT_SPECIAL)
    _test(env, ("co", 2, "ppm"))
    with pytest.raises(CommandRejected) as err:
        env.ctl.start_permit(p.permit_id, "leader")
    assert ReasonCode.GAS_TEST_INCOMPLETE.value in err.value.reasons


def test_s6_4_confined_space_samples_are_judged_not_the_passed_flag(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.permit(pid="CS1", kind=WorkKind.CONFINED_SPACE, level=PermitLevel.NONE, members=CS_MEMBERS)
    _test(env, ("o2", 17.0, "%vol"), ("lel", 30.0, "%LEL"))  # marked passed
    with pytest.raises(CommandRejected) as err:
        env.ctl.start_permit("CS1", "leader")
    assert ReasonCode.GAS_TEST_FAILED.value in err.value.reasons
    env.clock.advance(1)
    _test(env, ("lel", 0.0, "%LEL"))  # no O2
    with pytest.raises(CommandRejected) as err:
        env.ctl.start_permit("CS1", "leader")
    assert ReasonCode.GAS_TEST_INCOMPLETE.value in err.value.reasons
    env.clock.advance(1)
    _test(env, ("o2", 20.9, "%vol"), ("lel", 0.0, "%LEL"))
    assert env.ctl.start_permit("CS1", "leader").status is PermitStatus.ACTIVE


# ---------------------------------------------------------------- item 4: test after alarm


def test_s6_5_start_needs_a_test_newer_than_the_latest_alarm(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    p = env.permit()
    env.gas_test()
    env.clock.advance(60)
    env.ctl.on_air_verdict(env.unsafe())
    env.air.verdict = AirVerdict(safe=True, monitoring_ok=True)
    env.ctl.on_air_verdict(env.air.verdict)
    env.clock.advance(60)
    with pytest.raises(CommandRejected) as err:
        env.ctl.start_permit(p.permit_id, "leader")
    assert ReasonCode.GAS_TEST_BEFORE_ALARM.value in err.value.reasons
    env.gas_test()
    assert env.ctl.start_permit(p.permit_id, "leader").status is PermitStatus.ACTIVE


def test_s6_5_resume_needs_a_test_after_the_second_alarm(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.active_permit()
    safe = AirVerdict(safe=True, monitoring_ok=True)
    env.ctl.on_air_verdict(env.unsafe())  # first alarm suspends
    env.air.verdict = safe
    env.ctl.on_air_verdict(safe)
    env.clock.advance(60)
    env.gas_test()  # between the alarms
    env.clock.advance(60)
    env.ctl.on_air_verdict(env.unsafe())  # second alarm
    env.air.verdict = safe
    env.ctl.on_air_verdict(safe)
    with pytest.raises(CommandRejected) as err:
        env.ctl.resume_permit("P1", "officer", authorised=True)
    assert ReasonCode.GAS_TEST_BEFORE_ALARM.value in err.value.reasons


# ---------------------------------------------------------------- item 5: documents tighten


def test_s6_3a_document_cannot_waive_the_confined_space_test(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.permit(
        pid="CS1",
        kind=WorkKind.CONFINED_SPACE,
        level=PermitLevel.NONE,
        members=CS_MEMBERS,
        gas=GasRequirement(test_required=False),
    )
    issued = [e for e in env.journal.events(kind=EventKind.PERMIT) if e.type == "permit_issued"]
    assert issued[-1].payload["evidence"]["floors_applied"][0]["field"] == "gas.test_required"
    with pytest.raises(CommandRejected) as err:
        env.ctl.start_permit("CS1", "leader")
    assert err.value.code == ReasonCode.GAS_TEST_MISSING.value


def test_s5_3_1c_document_max_test_age_cannot_exceed_30_min(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    p = env.permit(
        level=PermitLevel.HOT_SPECIAL,
        hours=7.9,
        gas=GasRequirement(max_test_age=timedelta(hours=8)),
    )
    env.gas_test()
    env.clock.advance(7 * 3600)
    with pytest.raises(CommandRejected) as err:
        env.ctl.start_permit(p.permit_id, "leader")
    assert err.value.code == ReasonCode.GAS_TEST_STALE.value


async def test_s5_3_1d_document_break_cannot_exceed_the_table(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.active_permit(gas=GasRequirement(retest_after_break=timedelta(hours=10)))
    assert (await env.ctl.badge_in("B-W1")).allowed
    await env.ctl.badge_out("B-W1")
    env.clock.advance(3 * 3600)
    assert ReasonCode.GAS_TEST_STALE in (await env.ctl.badge_in("B-W1")).reasons


# ---------------------------------------------------------------- item 6: breaks per permit


async def test_s5_3_1d_breaks_are_per_permit_not_per_zone(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.welder("W2")
    env.active_permit(pid="A", members=(PermitMember(worker_id="W1", role=Role.OPERATOR),))
    env.active_permit(pid="B", members=(PermitMember(worker_id="W2", role=Role.OPERATOR),))
    assert (await env.ctl.badge_in("B-W1")).allowed
    assert (await env.ctl.badge_in("B-W2")).allowed
    await env.ctl.badge_out("B-W1")  # W2 on the other permit stays inside
    env.clock.advance(2 * 3600)
    assert ReasonCode.GAS_TEST_STALE in (await env.ctl.badge_in("B-W1")).reasons


# ---------------------------------------------------------------- item 7: 30 min before entry


async def test_s6_3a_confined_space_entry_within_30_min_of_the_test(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.permit(pid="CS1", kind=WorkKind.CONFINED_SPACE, level=PermitLevel.NONE, members=CS_MEMBERS)
    _test(env, ("o2", 20.9, "%vol"), ("lel", 0.0, "%LEL"))
    env.ctl.start_permit("CS1", "leader")
    env.clock.advance(29 * 60)
    assert (await env.ctl.badge_in("B-G1")).allowed  # the guardian, outside the space
    await env.ctl.badge_out("B-G1")
    env.clock.advance(59 * 60)  # 88 minutes after the test
    assert (await env.ctl.badge_in("B-G1")).allowed is False


# ---------------------------------------------------------------- item 8: guardian


async def test_s4_10f_resume_needs_the_guardian_and_guardian_may_return(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    _cs(env, gas=GasRequirement())
    assert (await env.ctl.badge_in("B-G1")).allowed
    assert (await env.ctl.badge_in("B-W1")).allowed
    await env.ctl.badge_out("B-G1")
    assert _status(env, "CS1") is PermitStatus.SUSPENDED
    with pytest.raises(CommandRejected) as err:
        env.ctl.resume_permit("CS1", "officer", authorised=True)
    assert ReasonCode.GUARDIAN_ABSENT.value in err.value.reasons
    d = await env.ctl.badge_in("B-G1")  # §6.8: back to supervise and evacuate
    assert d.allowed and d.role is Role.GUARDIAN
    _test(env, ("o2", 20.9, "%vol"), ("lel", 0.0, "%LEL"))
    assert env.ctl.resume_permit("CS1", "officer", authorised=True).status is PermitStatus.ACTIVE


# ---------------------------------------------------------------- item 9: temporary power


def _electrician(env: Env) -> None:
    env.worker(
        "E1",
        cert(
            CertCategory.ELECTRICAL, env.today - timedelta(days=5), env.today + timedelta(days=900)
        ),
    )


def _temp_power(env: Env, parent: str) -> None:
    env.active_permit(
        pid="TP1",
        kind=WorkKind.TEMP_POWER,
        level=PermitLevel.NONE,
        hours=48,
        linked_permit_id=parent,
        members=(PermitMember(worker_id="E1", role=Role.OPERATOR),),
    )


async def test_s10_8_temporary_power_follows_a_guardian_suspension(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    _electrician(env)
    _cs(env)
    _test(env, ("o2", 20.9, "%vol"), ("lel", 0.0, "%LEL"))
    _temp_power(env, "CS1")
    assert (await env.ctl.badge_in("B-G1")).allowed
    assert (await env.ctl.badge_in("B-W1")).allowed
    await env.ctl.badge_out("B-G1")
    assert _status(env, "CS1") is PermitStatus.SUSPENDED
    assert _status(env, "TP1") is PermitStatus.SUSPENDED
    _test(env, ("o2", 20.9, "%vol"), ("lel", 0.0, "%LEL"))
    with pytest.raises(CommandRejected) as err:  # never runs without its parent
        env.ctl.resume_permit("TP1", "officer", authorised=True)
    assert ReasonCode.LINKED_PERMIT_NOT_ACTIVE.value in err.value.reasons


def test_s10_8_temporary_power_serves_only_hot_work_or_confined_space(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    _electrician(env)
    env.active_permit(pid="TPA", kind=WorkKind.TEMP_POWER, level=PermitLevel.NONE)
    with pytest.raises(CommandRejected):
        _temp_power(env, "TPA")


# ---------------------------------------------------------------- item 10: clock trust


async def test_invariant_8_clock_loss_is_alerted_and_validity_bounded_by_monotonic(
    env: Env,
) -> None:
    env.worker("G1")
    env.welder("W1")
    env.active_permit(hours=1)
    assert (await env.ctl.badge_in("B-W1")).allowed
    env.clock.trusted = False
    env.ctl.expire_due()
    assert env.lights.current == (Light.RED, False)  # relay released while time is unsure
    env.clock.advance(3600)
    assert [p.permit_id for p in env.ctl.expire_due()] == ["P1"]


# ---------------------------------------------------------------- item 11: certificates


async def test_order_30_art_21_review_is_derived_three_years_after_issue(env: Env) -> None:
    env.worker("G1")
    issued = env.today - timedelta(days=3 * 365 + 30)
    env.worker("W1", cert(CertCategory.WELDING, issued, issued + timedelta(days=6 * 365)))
    env.active_permit()
    assert (await env.ctl.badge_in("B-W1")).reasons == (ReasonCode.CERT_REVIEW_OVERDUE,)


async def test_order_30_certificate_lapsing_inside_alerts_and_blocks_resume(env: Env) -> None:
    env.worker("G1")
    env.welder("W1", days_left=1)
    env.active_permit(hours=71, level=PermitLevel.HOT_2)
    assert (await env.ctl.badge_in("B-W1")).allowed
    env.clock.advance(2 * 86400)  # past midnight twice: the certificate lapsed
    env.ctl.expire_due()
    env.ctl.suspend_permit("P1", SuspensionCause.MANUAL, "stop card", "G1")
    env.gas_test()
    with pytest.raises(CommandRejected) as err:
        env.ctl.resume_permit("P1", "officer", authorised=True)
    assert ReasonCode.CERT_EXPIRED.value in err.value.reasons
