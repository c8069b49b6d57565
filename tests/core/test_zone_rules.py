"""One test per rule of the whole-zone judgement (issue 17), each named after its clause.

Every test drives the real ``ZoneController`` over real stores through its public methods
(the ones central commands, the terminal and the daemon's timer call) and reads the outcome
from the registry, the journal and the annunciator.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from edge.event_payloads import validate_payload
from edge.evidence import AirVerdict, NoAirData
from edge.models import (
    CertCategory,
    EventKind,
    EventType,
    GasRequirement,
    GasTest,
    GasTestSample,
    GasTestVia,
    PermitLevel,
    PermitMember,
    PermitStatus,
    Role,
    SuspensionCause,
    WorkKind,
)
from edge.reasons import ReasonCode
from edge.work_cycle import CycleAction
from edge.zone import CommandRejected, ZoneController
from firmware_adapters.outputs.signals import Light
from gateway.config import ConfigError, parse_config

from .conftest import ZONE, Env, cert


def _portable(env: Env, *samples: tuple[str, float, str], passed: bool = True) -> GasTest:
    """A portable-instrument test taken now with ``samples`` (gas, value, unit), not recorded."""
    return GasTest(
        zone_id="z1",
        taken_at=env.clock.wall(),
        source="portable:x",
        analyst="a",
        samples=tuple(GasTestSample(gas=g, value=v, unit=u) for g, v, u in samples),
        passed=passed,
    )


def _test(env: Env, *samples: tuple[str, float, str], passed: bool = True) -> GasTest:
    t = _portable(env, *samples, passed=passed)
    env.ctl.record_gas_test(t, "analyst")
    return t


def _alerts(env: Env, type_: EventType) -> list[dict[str, object]]:
    return [e.payload for e in env.journal.events(kind=EventKind.ALERT) if e.type == type_]


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
    # The decision says which permit refused: here the confined-space one, not the hot work.
    assert d.details["by_permit"] == {"HOT1": [], "CS1": [ReasonCode.GUARDIAN_ABSENT.value]}
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
    trusted_at = env.clock.wall()
    env.clock.trusted = False
    env.ctl.expire_due()
    assert env.lights.current == (Light.RED, False)  # relay released while time is unsure
    # Alerted at the first judgement tick, once for the episode, not once per tick.
    env.clock.advance(5)
    env.ctl.expire_due()
    (alert,) = _alerts(env, EventType.CLOCK_UNTRUSTED)
    body = validate_payload(EventType.CLOCK_UNTRUSTED, alert)
    assert alert["last_trusted"] == trusted_at.isoformat()
    assert alert["carried_until"] == (trusted_at + timedelta(hours=24)).isoformat()
    assert alert["active_permits"] == ["P1"] and body.model_dump()["inside"][0]["worker_id"] == "W1"
    # A daemon restart in the same episode (the stores reopened by a new controller) does not
    # announce it again.
    again = ZoneController(
        zone=ZONE, registry=env.registry, journal=env.journal, clock=env.clock, air=env.air
    )
    again.expire_due()
    assert len(_alerts(env, EventType.CLOCK_UNTRUSTED)) == 1
    env.clock.advance(3600)
    assert [p.permit_id for p in env.ctl.expire_due()] == ["P1"]
    # Trust back: the episode's end is said once, so central can close the alert.
    env.clock.trusted = True
    env.ctl.expire_due()
    env.ctl.expire_due()
    (ended,) = _alerts(env, EventType.ALERT_ENDED)
    ended_body = validate_payload(EventType.ALERT_ENDED, ended).model_dump()
    assert (ended["alert"], ended["why"], ended["worker_id"]) == (
        "clock_untrusted",
        "clock_trusted",
        None,
    )
    assert [e["worker_id"] for e in ended_body["inside"]] == ["W1"]
    # Lost again with someone inside: a new episode, a new alert.
    env.clock.trusted = False
    env.ctl.expire_due()
    assert len(_alerts(env, EventType.CLOCK_UNTRUSTED)) == 2


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
    env.ctl.expire_due()
    assert _alerts(env, EventType.CERTIFICATE_LAPSED_INSIDE) == []
    env.clock.advance(2 * 86400)  # past midnight twice: the certificate lapsed
    env.ctl.expire_due()
    env.clock.advance(5)
    env.ctl.expire_due()  # the next tick: still one alert for the episode
    (alert,) = _alerts(env, EventType.CERTIFICATE_LAPSED_INSIDE)
    validate_payload(EventType.CERTIFICATE_LAPSED_INSIDE, alert)
    assert alert["worker_id"] == "W1"
    assert alert["lapsed"] == [
        {"permit_id": "P1", "reason": "CERT_EXPIRED", "required": CertCategory.WELDING.value}
    ]
    env.ctl.suspend_permit("P1", SuspensionCause.MANUAL, "stop card", "G1")
    env.gas_test()
    with pytest.raises(CommandRejected) as err:
        env.ctl.resume_permit("P1", "officer", authorised=True)
    assert ReasonCode.CERT_EXPIRED.value in err.value.reasons
    assert _alerts(env, EventType.ALERT_ENDED) == []
    # The person leaves: the episode ends, said once with why.
    assert (await env.ctl.badge_out("B-W1")).allowed
    env.ctl.expire_due()
    env.ctl.expire_due()
    (ended,) = _alerts(env, EventType.ALERT_ENDED)
    assert (ended["alert"], ended["worker_id"], ended["why"]) == (
        "certificate_lapsed_inside",
        "W1",
        "left_zone",
    )


# ---------------------------------------------------------------- hot work: test and monitor


def test_s5_3_1_document_cannot_waive_the_hot_work_test(env: Env) -> None:
    # GB 30871 §5.3.1: gas analysis before every hot work, whatever its level; a signed
    # document saying ``test_required: false`` is journaled as loosened and overruled, on the
    # command path and on the people's path (terminal / central action) alike.
    env.worker("G1")
    env.welder("W1")
    lead = env.worker("L1")
    members = (*CS_MEMBERS, PermitMember(worker_id="L1", role=Role.LEADER))
    env.permit(level=PermitLevel.HOT_2, members=members, gas=GasRequirement(test_required=False))
    issued = [e for e in env.journal.events(kind=EventKind.PERMIT) if e.type == "permit_issued"]
    applied = issued[-1].payload["evidence"]["floors_applied"]
    assert {"field": "gas.test_required", "clause": "§5.3.1, §6.3a", "applied": "true"} in applied
    with pytest.raises(CommandRejected) as err:
        env.ctl.start_permit("P1", "leader")
    assert err.value.code == ReasonCode.GAS_TEST_MISSING.value
    out = env.ctl.perform_action(CycleAction.START, "P1", lead, via="terminal")
    assert not out.ok and ReasonCode.GAS_TEST_MISSING in out.reasons
    assert _status(env, "P1") is PermitStatus.APPROVED


async def test_s5_2_6_level_1_hot_work_is_monitored_continuously(env: Env) -> None:
    # 一级 is hot work inside a fire / explosion-hazard area (§5.1), where §5.2.6 requires
    # continuous monitoring: a lost sensor suspends it like 特级 (§5.3.1) and confined space
    # (§6.5); 二级 ("as needed") keeps running on a passing fault of an installed sensor.
    env.worker("G1")
    env.welder("W1")
    env.active_permit(pid="H1", level=PermitLevel.HOT_1)
    env.active_permit(pid="H2", level=PermitLevel.HOT_2)
    lost = AirVerdict(safe=True, monitoring_ok=False, reasons=(ReasonCode.SENSOR_STALE,))
    env.air.verdict = lost
    env.ctl.on_air_verdict(lost)
    assert _status(env, "H1") is PermitStatus.SUSPENDED
    h1 = env.registry.permit("H1")
    assert h1 is not None and h1.suspension is not None
    assert h1.suspension.cause is SuspensionCause.MONITORING_LOST
    assert _status(env, "H2") is PermitStatus.ACTIVE
    env.air.verdict = AirVerdict(safe=True, monitoring_ok=True)
    env.clock.advance(60)
    env.gas_test()  # newer than the suspension (§6.5)
    with pytest.raises(CommandRejected):  # resuming needs a person's authority: it is one
        env.ctl.resume_permit("H1", "leader")
    assert env.ctl.resume_permit("H1", "officer", authorised=True).status is PermitStatus.ACTIVE
    # Starting 一级 work while monitoring is lost is refused with the sensor's reason.
    env.permit(pid="H3", level=PermitLevel.HOT_1)
    env.air.verdict = lost
    with pytest.raises(CommandRejected) as err:
        env.ctl.start_permit("H3", "leader")
    assert err.value.code == ReasonCode.SENSOR_STALE.value


async def test_s5_2_6_hot_work_and_confined_space_need_a_gas_monitor_installed(env: Env) -> None:
    # A zone with no judged gas sensor (NO_AIR_DATA, as ``NoAirData`` says when gas is not
    # configured) can never stop work on an over-limit alarm (§5.2.6, §6.5; §5.5.2e): 二级 hot
    # work there is refused at start and at badge-in and suspended while active, not run
    # "safe" with a warning. Other kinds (temporary power alone) are not concerned.
    env.worker("G1")
    env.welder("W1")
    env.active_permit(pid="H2", level=PermitLevel.HOT_2)
    env.permit(pid="H2B", level=PermitLevel.HOT_2)
    env.gas_test()
    env.air.verdict = NoAirData().air_verdict()
    env.ctl.expire_due()  # the daemon's timer: the judgement of the whole zone
    h2 = env.registry.permit("H2")
    assert h2 is not None and h2.status is PermitStatus.SUSPENDED
    assert h2.suspension is not None and "NO_AIR_DATA" in h2.suspension.reason
    assert env.lights.current == (Light.RED, False)
    with pytest.raises(CommandRejected) as err:
        env.ctl.start_permit("H2B", "leader")
    assert err.value.code == ReasonCode.NO_AIR_DATA.value
    env.clock.advance(60)
    env.gas_test()  # newer than the suspension: only the missing monitor refuses
    with pytest.raises(CommandRejected) as err:
        env.ctl.resume_permit("H2", "officer", authorised=True)
    assert err.value.code == ReasonCode.NO_AIR_DATA.value
    # A sensor installed and vouching again: the same permit starts.
    env.air.verdict = AirVerdict(safe=True, monitoring_ok=True)
    env.gas_test()
    assert env.ctl.start_permit("H2B", "leader").status is PermitStatus.ACTIVE
    env.air.verdict = NoAirData().air_verdict()
    d = await env.ctl.badge_in("B-W1")
    assert not d.allowed and ReasonCode.NO_AIR_DATA in d.reasons


async def test_s5_2_6_monitored_work_needs_monitors_that_watch_its_gases(env: Env) -> None:
    # Found by a fresh-user test: a 一级 hot-work zone with only a CO sensor showed air safe
    # and a green light while nothing watched the combustible. Continuous monitoring must
    # watch the combustible for hot work and O2 + the combustible for a confined space
    # (§5.2.6, §5.3.2, §6.4, §6.5; floors.MONITORED_GASES); 二级 hot work is not concerned.
    env.worker("G1")
    env.welder("W1")
    co_only = AirVerdict(safe=True, monitoring_ok=True, monitored=frozenset({"co"}))
    env.active_permit(pid="H1", level=PermitLevel.HOT_1)
    env.active_permit(pid="H2", level=PermitLevel.HOT_2)
    env.permit(pid="H1B", level=PermitLevel.HOT_1)
    env.air.verdict = co_only
    env.ctl.expire_due()  # the daemon's timer: the judgement of the whole zone
    h1, h2 = env.registry.permit("H1"), env.registry.permit("H2")
    assert h1 is not None and h1.status is PermitStatus.SUSPENDED
    assert h1.suspension is not None and "MONITOR_INCOMPLETE" in h1.suspension.reason
    assert h2 is not None and h2.status is PermitStatus.ACTIVE  # 二级: "as needed"
    env.gas_test()
    with pytest.raises(CommandRejected) as err:
        env.ctl.start_permit("H1B", "leader")
    assert ReasonCode.MONITOR_INCOMPLETE.value in (err.value.code, *err.value.reasons)
    # A combustible channel installed (any alias of it): the same permit starts.
    env.air.verdict = AirVerdict(safe=True, monitoring_ok=True, monitored=frozenset({"co", "lel"}))
    assert env.ctl.start_permit("H1B", "leader").status is PermitStatus.ACTIVE
    # A confined space needs O2 as well: the entrant is refused with the reason.
    guardian = PermitMember(worker_id="G1", role=Role.GUARDIAN)
    entrant = PermitMember(worker_id="W1", role=Role.OPERATOR)
    env.permit(
        pid="CS", kind=WorkKind.CONFINED_SPACE, level=PermitLevel.NONE, members=(guardian, entrant)
    )
    env.gas_test()
    with pytest.raises(CommandRejected) as err:
        env.ctl.start_permit("CS", "leader")
    assert ReasonCode.MONITOR_INCOMPLETE.value in (err.value.code, *err.value.reasons)


# ---------------------------------------------------------------- item 4: the daily test


def _to_local(env: Env, hh: int, mm: int) -> None:
    """Advance the clock to the next hh:mm in the zone's local time (Asia/Shanghai)."""
    local = env.clock.wall().astimezone(env.ctl.tz)
    target = local.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    env.clock.advance((target - local).total_seconds())


def test_s5_3_1d_daily_first_hot_work_test_at_start(env: Env) -> None:
    # A test 15 minutes old passes the 30-minute rule, but it was taken yesterday: the first
    # hot work of the day needs that day's analysis (§5.3.1d), at start as at entry.
    env.worker("G1")
    env.welder("W1")
    _to_local(env, 23, 40)
    env.permit(level=PermitLevel.HOT_2, hours=4)
    env.gas_test()
    _to_local(env, 0, 5)
    with pytest.raises(CommandRejected) as err:
        env.ctl.start_permit("P1", "leader")
    assert err.value.code == ReasonCode.GAS_TEST_STALE.value
    env.gas_test()
    assert env.ctl.start_permit("P1", "leader").status is PermitStatus.ACTIVE


def test_s5_3_1d_daily_first_hot_work_test_at_resume(env: Env) -> None:
    # A short stop card across midnight: the break is below the re-test floor and the test
    # is young, but resuming is the day's first hot work and needs today's test (§5.3.1d).
    env.worker("G1")
    env.welder("W1")
    _to_local(env, 23, 30)
    env.active_permit(level=PermitLevel.HOT_2, hours=24)
    _to_local(env, 23, 50)
    env.ctl.suspend_permit("P1", SuspensionCause.MANUAL, "stop card", "G1")
    env.gas_test()
    _to_local(env, 0, 5)
    with pytest.raises(CommandRejected) as err:
        env.ctl.resume_permit("P1", "officer", authorised=True)
    assert ReasonCode.GAS_TEST_STALE.value in err.value.reasons
    env.gas_test()
    assert env.ctl.resume_permit("P1", "officer", authorised=True).status is PermitStatus.ACTIVE


def test_s6_5_restart_wait_holds_work_without_suspending_until_the_grace_ends(env: Env) -> None:
    # After a restart, sensors not yet heard from are a bounded wait (issue 10 item 4): the
    # judgement on the daemon's timer must honour it like the air response does (it used to
    # suspend 特级 / 一级 / confined-space work at the first tick), yet the relay stays off
    # until the air is vouched for, and a wait that outlasts the grace suspends (§6.5).
    env.worker("G1")
    env.welder("W1")
    env.active_permit(level=PermitLevel.HOT_1)
    env.ctl.begin_restart_wait(180)
    env.air.verdict = AirVerdict(safe=True, monitoring_ok=False, reasons=(ReasonCode.SENSOR_STALE,))
    env.ctl.expire_due()
    assert _status(env, "P1") is PermitStatus.ACTIVE
    assert env.lights.current == (Light.RED, False)  # no work until the air is vouched for
    env.clock.advance(181)
    env.ctl.expire_due()
    assert _status(env, "P1") is PermitStatus.SUSPENDED


# ---------------------------------------------------------------- the zone's required toxics


def test_s6_4_confined_space_test_must_measure_the_zones_toxics(env: Env) -> None:
    # A tank that may hold H2S: the zone lists the toxics every confined-space test must
    # measure (GB 30871 §6.4: toxics within GBZ 2.1); a test without one is incomplete, on
    # the command path and when the edge judges a test a person records. Hot work in the same
    # zone needs only its combustible (§5.3.1).
    zone = ZONE.model_copy(update={"confined_space_toxics": ("h2s", "co")})
    ctl = ZoneController(
        zone=zone,
        registry=env.registry,
        journal=env.journal,
        clock=env.clock,
        air=env.air,
        annunciator=env.lights,
    )
    env.ctl = ctl
    env.worker("G1")
    env.welder("W1")
    env.permit(pid="CS1", kind=WorkKind.CONFINED_SPACE, level=PermitLevel.NONE, members=CS_MEMBERS)
    env.permit(pid="H1", level=PermitLevel.HOT_2)
    env.gas_test()  # o2, lel, co: no h2s
    with pytest.raises(CommandRejected) as err:
        ctl.start_permit("CS1", "leader")
    assert err.value.code == ReasonCode.GAS_TEST_INCOMPLETE.value
    assert ctl.start_permit("H1", "leader").status is PermitStatus.ACTIVE
    recorded = ctl.accept_gas_test(
        _portable(env, ("o2", 20.9, "%vol"), ("lel", 0.0, "%LEL"), ("co", 2.0, "ppm")),
        actor="a",
        via=GasTestVia.TERMINAL,
    )
    assert not recorded.passed and "h2s not measured" in recorded.failures
    env.clock.advance(60)
    _test(
        env,
        ("o2", 20.9, "%vol"),
        ("lel", 0.0, "%LEL"),
        ("co", 2.0, "ppm"),
        ("H2S", 0.5, "ppm"),
    )
    assert ctl.start_permit("CS1", "leader").status is PermitStatus.ACTIVE


def test_s6_4_zone_toxics_must_have_a_pass_limit_at_check_config() -> None:
    text = (
        "device:\n  device_id: gw-01\nzone:\n  site: plant1\n  zone_id: z1\n"
        "  work_kinds: [YXKJ]\n  confined_space_toxics: [H2S, nh3]\n"
    )
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "gw.yaml")
    (issue,) = exc.value.issues
    assert issue.line == 7 and issue.path == "zone.confined_space_toxics"
    assert "nh3" in issue.message and "h2s" in issue.message
    ok = parse_config(text.replace(", nh3", ""), "gw.yaml")
    assert ok.zone.confined_space_toxics == ("h2s",)


def test_s5_3_1d_a_refused_terminal_start_lists_the_daily_test_among_every_reason(
    env: Env,
) -> None:
    # The people's path (terminal, central action) lists every failing check: the judgement's
    # (the day's first hot-work test) together with its own (no gas monitor installed).
    env.worker("G1")
    env.welder("W1")
    lead = env.worker("L1")
    members = (*CS_MEMBERS, PermitMember(worker_id="L1", role=Role.LEADER))
    _to_local(env, 23, 40)
    env.permit(level=PermitLevel.HOT_2, hours=4, members=members)
    env.gas_test()
    _to_local(env, 0, 5)
    env.air.verdict = NoAirData().air_verdict()
    out = env.ctl.perform_action(CycleAction.START, "P1", lead, via="terminal")
    assert not out.ok
    assert {ReasonCode.GAS_TEST_STALE, ReasonCode.NO_AIR_DATA} <= set(out.reasons)
    assert _status(env, "P1") is PermitStatus.APPROVED


def test_s5_3_1_a_test_lacking_only_another_kinds_gas_is_incomplete_for_that_kind_only(
    env: Env,
) -> None:
    # The edge records a test as failed when it lacks a gas ANY live permit needs (here the
    # confined space's O2); for hot work, which needs the combustible (§5.3.1), it is neither
    # failed nor incomplete; for the confined space it is incomplete, not "failed" (§6.4).
    env.worker("G1")
    env.welder("W1")
    env.permit(pid="CS1", kind=WorkKind.CONFINED_SPACE, level=PermitLevel.NONE, members=CS_MEMBERS)
    env.permit(pid="H1", level=PermitLevel.HOT_2)
    recorded = env.ctl.accept_gas_test(
        _portable(env, ("lel", 0.0, "%LEL"), ("co", 2.0, "ppm")),
        actor="a",
        via=GasTestVia.TERMINAL,
    )
    assert not recorded.passed and recorded.failures == ("o2 not measured",)
    with pytest.raises(CommandRejected) as err:
        env.ctl.start_permit("CS1", "leader")
    assert err.value.reasons == (ReasonCode.GAS_TEST_INCOMPLETE.value,)
    assert env.ctl.start_permit("H1", "leader").status is PermitStatus.ACTIVE
