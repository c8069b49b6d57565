"""Badge-in / badge-out decisions through the real controller and stores: one test per rule."""

from __future__ import annotations

from datetime import timedelta

from edge.evidence import AirVerdict, IdentityResult, PositionVerdict
from edge.models import (
    CertCategory,
    EventKind,
    PermitLevel,
    PermitMember,
    PermitStatus,
    Role,
    SuspensionCause,
    Worker,
    WorkKind,
)
from edge.reasons import Lang, ReasonCode, text
from firmware_adapters.outputs.signals import Light

from .conftest import Env, cert


async def test_welder_on_active_permit_is_admitted_and_journaled(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.active_permit()
    d = await env.ctl.badge_in("B-W1")
    assert d.allowed, d.reasons
    assert d.permit_id == "P1" and d.role is Role.OPERATOR
    assert d.message_zh.startswith("准许进入") and d.message_en.startswith("Entry allowed")
    assert "W1" in env.registry.presence()
    access = env.journal.events(kind=EventKind.ACCESS)
    assert access[-1].payload["allowed"] is True and access[-1].payload["worker_id"] == "W1"


async def test_unknown_badge_denied(env: Env) -> None:
    d = await env.ctl.badge_in("nobody")
    assert not d.allowed and d.reasons == (ReasonCode.UNKNOWN_BADGE,)
    assert env.journal.events(kind=EventKind.ACCESS)[-1].payload["reasons"] == ["UNKNOWN_BADGE"]


async def test_expired_certificate_denied(env: Env) -> None:
    env.worker("G1")
    env.welder("W1", days_left=-1)
    env.active_permit()
    d = await env.ctl.badge_in("B-W1")
    assert d.reasons == (ReasonCode.CERT_EXPIRED,)
    assert d.message_zh == text(ReasonCode.CERT_EXPIRED, Lang.ZH)
    assert "W1" not in env.registry.presence()


async def test_wrong_category_and_missing_certificate(env: Env) -> None:
    today = env.today
    env.worker("G1")
    env.worker(
        "W1", cert(CertCategory.ELECTRICAL, today - timedelta(days=9), today + timedelta(days=900))
    )
    env.worker("W2")
    env.active_permit(
        members=(
            PermitMember(worker_id="G1", role=Role.GUARDIAN),
            PermitMember(worker_id="W1", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
            PermitMember(worker_id="W2", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
        )
    )
    assert (await env.ctl.badge_in("B-W1")).reasons == (ReasonCode.CERT_WRONG_CATEGORY,)
    assert (await env.ctl.badge_in("B-W2")).reasons == (ReasonCode.CERT_MISSING,)


async def test_review_overdue_denied(env: Env) -> None:
    today = env.today
    env.worker("G1")
    env.worker(
        "W1",
        cert(
            CertCategory.WELDING,
            today - timedelta(days=1200),
            today + timedelta(days=900),
            review=today - timedelta(days=1),
        ),
    )
    env.active_permit()
    assert (await env.ctl.badge_in("B-W1")).reasons == (ReasonCode.CERT_REVIEW_OVERDUE,)


async def test_certificate_expiring_warns_at_30_and_15_days(env: Env) -> None:
    env.worker("G1")
    env.welder("W1", days_left=25)
    env.welder("W2", days_left=10)
    env.active_permit(
        members=(
            PermitMember(worker_id="G1", role=Role.GUARDIAN),
            PermitMember(worker_id="W1", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
            PermitMember(worker_id="W2", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
        )
    )
    d1, d2 = await env.ctl.badge_in("B-W1"), await env.ctl.badge_in("B-W2")
    assert d1.allowed and d1.warnings == (ReasonCode.CERT_EXPIRING_30D,)
    assert d2.allowed and d2.warnings == (ReasonCode.CERT_EXPIRING_15D,)
    assert "15" in d2.message_zh


async def test_not_on_permit_and_no_permit(env: Env) -> None:
    env.welder("W9")
    assert (await env.ctl.badge_in("B-W9")).reasons == (ReasonCode.NO_PERMIT,)
    env.worker("G1")
    env.welder("W1")
    env.active_permit()
    assert (await env.ctl.badge_in("B-W9")).reasons == (ReasonCode.NOT_ON_PERMIT,)


async def test_permit_not_started_suspended_expired(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    p = env.permit(hours=1)
    assert ReasonCode.PERMIT_NOT_STARTED in (await env.ctl.badge_in("B-W1")).reasons
    env.gas_test()
    env.ctl.start_permit(p.permit_id, "leader")
    env.ctl.suspend_permit("P1", cause=SuspensionCause.MANUAL, reason="stop card", actor="G1")
    assert ReasonCode.PERMIT_SUSPENDED in (await env.ctl.badge_in("B-W1")).reasons
    env.clock.advance(3600)
    # Still SUSPENDED in the store until the expiry loop runs, yet already refused as expired.
    assert ReasonCode.PERMIT_EXPIRED in (await env.ctl.badge_in("B-W1")).reasons
    expired = env.ctl.expire_due()
    assert [x.status for x in expired] == [PermitStatus.EXPIRED]


async def test_gas_unsafe_denies_and_suspends_with_people_inside(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.welder("W2")
    env.active_permit(
        members=(
            PermitMember(worker_id="G1", role=Role.GUARDIAN),
            PermitMember(worker_id="W1", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
            PermitMember(worker_id="W2", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
        )
    )
    assert (await env.ctl.badge_in("B-G1")).allowed
    assert (await env.ctl.badge_in("B-W1")).allowed
    seen_at_red: list[str] = []

    class OrderProbe:
        def show(self, light: Light, *, buzzer: bool) -> None:
            if light is Light.RED and buzzer:
                p = env.registry.permit("P1")
                assert p is not None
                seen_at_red.append(p.status.value)

    env.ctl.annunciator = OrderProbe()
    suspended = env.ctl.on_air_verdict(env.unsafe())
    assert [p.permit_id for p in suspended] == ["P1"]
    # The red light and buzzer fired while the permit was still ACTIVE: outputs come first.
    assert seen_at_red == ["active"]
    alert = env.journal.events(kind=EventKind.ALERT)[-1]
    assert alert.type == "gas_alarm"
    assert {i["worker_id"] for i in alert.payload["inside"]} == {"G1", "W1"}
    assert alert.payload["gas"] == "co" and alert.payload["threshold"] == 70.0
    d = await env.ctl.badge_in("B-W2")
    assert ReasonCode.GAS_UNSAFE in d.reasons and ReasonCode.PERMIT_SUSPENDED in d.reasons
    # Idempotent while the episode lasts.
    assert env.ctl.on_air_verdict(env.unsafe()) == []
    assert len(env.journal.events(kind=EventKind.ALERT)) == 1


async def test_monitoring_lost_suspends_only_permits_that_require_it(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    # 二级 hot work: monitoring "as needed" (一级 requires it since §5.2.6 applies in the
    # fire / explosion-hazard areas that define 一级, §5.1; see edge.floors).
    env.active_permit(pid="HOT1", level=PermitLevel.HOT_2)
    env.active_permit(pid="CS1", kind=WorkKind.CONFINED_SPACE, level=PermitLevel.NONE)
    lost = AirVerdict(safe=True, monitoring_ok=False, reasons=(ReasonCode.SENSOR_STALE,))
    env.air.verdict = lost
    suspended = env.ctl.on_air_verdict(lost)
    assert [p.permit_id for p in suspended] == ["CS1"]
    assert env.registry.permit("HOT1").status is PermitStatus.ACTIVE  # type: ignore[union-attr]


async def test_confined_space_entrant_needs_guardian_inside(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.active_permit(pid="CS1", kind=WorkKind.CONFINED_SPACE, level=PermitLevel.NONE)
    d = await env.ctl.badge_in("B-W1")
    assert d.reasons == (ReasonCode.GUARDIAN_ABSENT,)
    assert (await env.ctl.badge_in("B-G1")).allowed
    assert (await env.ctl.badge_in("B-W1")).allowed
    # The guardian leaving with the entrant inside takes the permit back (§4.10f).
    out = await env.ctl.badge_out("B-G1")
    assert out.allowed
    permit = env.registry.permit("CS1")
    assert permit is not None and permit.status is PermitStatus.SUSPENDED
    assert permit.suspension is not None and permit.suspension.cause.value == "guardian_absent"
    assert env.journal.events(kind=EventKind.ALERT)[-1].type == "guardian_absent"


async def test_outside_geofence_and_no_fix(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.active_permit()
    env.position.verdict = PositionVerdict(ok=False, reason=ReasonCode.OUTSIDE_GEOFENCE)
    assert ReasonCode.OUTSIDE_GEOFENCE in (await env.ctl.badge_in("B-W1")).reasons
    env.position.verdict = PositionVerdict(ok=True, warn=True, reason=ReasonCode.NO_GPS_FIX)
    d = await env.ctl.badge_in("B-W1")
    assert d.allowed and ReasonCode.NO_GPS_FIX in d.warnings


async def test_untrusted_clock_denies(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.active_permit()
    env.clock.trusted = False
    d = await env.ctl.badge_in("B-W1")
    assert ReasonCode.CLOCK_UNTRUSTED in d.reasons
    # Issue 17 item 10 (replaces "nothing expires on an untrusted clock"): validity is carried
    # forward by monotonic time from the last trusted instant, so a 4-hour permit does not
    # outlive its window by hours just because NTP went away.
    env.clock.advance(10 * 3600)
    assert [p.permit_id for p in env.ctl.expire_due()] == ["P1"]


async def test_gas_test_stale_after_break(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.active_permit()  # hot work level 1: re-test after a break of more than 30 min
    assert (await env.ctl.badge_in("B-W1")).allowed
    await env.ctl.badge_out("B-W1")
    env.clock.advance(31 * 60)
    assert (await env.ctl.badge_in("B-W1")).reasons == (ReasonCode.GAS_TEST_STALE,)
    env.gas_test()
    assert (await env.ctl.badge_in("B-W1")).allowed


class _Mismatch:
    def __init__(self, seen: str | None) -> None:
        self.seen = seen

    async def verify(self, worker: Worker, badge_id: str) -> IdentityResult:
        return IdentityResult(
            match=False, reason=ReasonCode.FACE_MISMATCH, seen_worker_id=self.seen, distance=0.8
        )


async def test_three_face_mismatches_lock_the_badge_and_raise_proxy_alert(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.welder("W2")
    env.active_permit()
    env.ctl.identity = _Mismatch(seen="W2")
    for _ in range(3):
        d = await env.ctl.badge_in("B-W1")
        assert d.reasons == (ReasonCode.FACE_MISMATCH,)
    alert = env.journal.events(kind=EventKind.ALERT)[-1]
    assert alert.type == "proxy_attempt"
    assert alert.payload["badge_owner"]["worker_id"] == "W1"
    assert alert.payload["seen"]["worker_id"] == "W2"
    assert (await env.ctl.badge_in("B-W1")).reasons == (ReasonCode.WORKER_LOCKED,)
    env.ctl.unlock_worker("W1", "safety-officer")
    assert (await env.ctl.badge_in("B-W1")).reasons == (ReasonCode.FACE_MISMATCH,)


async def test_mismatches_outside_the_window_do_not_lock(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.active_permit()
    env.ctl.identity = _Mismatch(seen=None)
    for _ in range(5):
        await env.ctl.badge_in("B-W1")
        env.clock.advance(301)
    assert "W1" not in env.registry.lockouts()


async def test_badge_out_never_refused_and_warns_when_not_inside(env: Env) -> None:
    env.welder("W1")
    d = await env.ctl.badge_out("B-W1")
    assert d.allowed and d.warnings == (ReasonCode.NOT_INSIDE,)
    assert not (await env.ctl.badge_out("unknown")).allowed


async def test_english_messages_available(env: Env) -> None:
    d = await env.ctl.badge_in("nobody")
    assert d.message_en == text(ReasonCode.UNKNOWN_BADGE, Lang.EN)
    assert all(text(c, Lang.ZH) and text(c, Lang.EN) for c in ReasonCode)


async def test_temporary_power_follows_its_hot_work_permit(env: Env) -> None:
    env.worker("G1")
    env.welder("W1")
    env.worker(
        "E1",
        cert(
            CertCategory.ELECTRICAL, env.today - timedelta(days=5), env.today + timedelta(days=900)
        ),
    )
    env.active_permit(pid="HOT1")
    env.active_permit(
        pid="TP1",
        kind=WorkKind.TEMP_POWER,
        level=PermitLevel.NONE,
        hours=48,
        linked_permit_id="HOT1",
        members=(
            PermitMember(worker_id="E1", role=Role.OPERATOR, required_cert=CertCategory.ELECTRICAL),
        ),
    )
    env.ctl.on_air_verdict(env.unsafe())
    tp = env.registry.permit("TP1")
    assert tp is not None and tp.status is PermitStatus.SUSPENDED
    # Its validity is the hot-work permit's (§10.8): it expires with it.
    env.air.verdict = AirVerdict(safe=True, monitoring_ok=True)
    env.clock.advance(4 * 3600 + 60)
    expired = {p.permit_id for p in env.ctl.expire_due()}
    assert expired == {"HOT1", "TP1"}
