"""The demo's story, step by step, as a readable timeline (zh-CN or English).

Central sends the roster and issues a permit; the leader's start is refused without a gas
test; the leader asks the fixed sensors for a test at the terminal and starts; the guardian and
a welder badge in, an expired certificate and a proxy are denied; gas rises and the permit is
suspended with the list of people inside; the air clears, central acknowledges; a resume
without a fresh test is refused; a fresh test passes and central resumes; the leader finishes,
everyone leaves, the guardian checks everyone out, central closes.

Every step acts only through ``gateway.demo.harness.Stage``: badge lines at the terminal,
signed central commands, the gas simulators' values. The controller is only listened to.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from rich.console import Console

from edge.models import (
    CertCategory,
    Certificate,
    Decision,
    Event,
    Permit,
    PermitLevel,
    PermitMember,
    Role,
    SiteRole,
    Worker,
    WorkKind,
)
from edge.reasons import Lang, ReasonCode, text
from gateway.demo.harness import ZONE, DemoUnavailable, Stage
from gateway.kiosk.guidance import STATUS_NAMES


def demo_workers(today: date) -> list[Worker]:
    """The cast: guardian W001, welders W002 (valid), W003 (certificate expired 10 days ago),
    W004 (certificate expires in 20 days), and the work leader W005 (also the analyst)."""

    def cert(number: str, cat: CertCategory, start: date, end: date) -> Certificate:
        return Certificate(
            number=number,
            category=cat,
            issuing_authority="上海市应急管理局",
            valid_from=start,
            valid_to=end,
            next_review=min(end, today + timedelta(days=300)),
        )

    y = timedelta(days=365)
    return [
        Worker(
            worker_id="W001",
            name="李建国",
            badge_ids=("CARD-1001",),
            certificates=(
                cert("T310101198001011234", CertCategory.HAZ_CHEM, today - y, today + 4 * y),
            ),
        ),
        Worker(
            worker_id="W002",
            name="张伟",
            badge_ids=("CARD-1002",),
            certificates=(
                cert("T310101199002022345", CertCategory.WELDING, today - 2 * y, today + 3 * y),
            ),
        ),
        Worker(
            worker_id="W003",
            name="王强",
            badge_ids=("CARD-1003",),
            certificates=(
                cert(
                    "T310101198503033456",
                    CertCategory.WELDING,
                    today - 6 * y + timedelta(days=10),
                    today - timedelta(days=10),
                ),
            ),
        ),
        Worker(
            worker_id="W004",
            name="刘洋",
            badge_ids=("CARD-1004",),
            certificates=(
                cert(
                    "T310101199504044567",
                    CertCategory.WELDING,
                    today - 6 * y + timedelta(days=40),
                    today + timedelta(days=20),
                ),
            ),
        ),
        Worker(
            worker_id="W005",
            name="陈刚",
            badge_ids=("CARD-1005",),
            # The work leader (作业负责人); also the zone's analyst for the fixed-sensor tests.
            site_roles=(SiteRole.ANALYST,),
        ),
    ]


@dataclass
class Timeline:
    """What the demo prints, in one language: step headings, notes, decisions."""

    console: Console
    lang: Lang
    lines: list[str] = field(default_factory=list)

    def step(self, clock: str, zh: str, en: str) -> None:
        """A step heading, stamped with the local time ``clock`` (HH:MM:SS)."""
        msg = zh if self.lang is Lang.ZH else en
        self.lines.append(msg)
        self.console.print(f"\n[dim]{clock}[/] [bold cyan]▶ {msg}[/]")

    def note(self, zh: str, en: str, style: str = "") -> None:
        """A line under the current step (``style``: a rich style such as ``red``)."""
        msg = zh if self.lang is Lang.ZH else en
        self.lines.append(msg)
        self.console.print(
            f"           {f'[{style}]' if style else ''}{msg}{'[/]' if style else ''}"
        )

    def decision(self, who: str, d: Decision) -> None:
        """An access decision for ``who``: the message, and the reason codes when denied."""
        message = d.message_zh if self.lang is Lang.ZH else d.message_en
        if d.allowed:
            self.note(f"✔ {who}: {message}", f"✔ {who}: {message}", "green")
        else:
            codes = ", ".join(r.value for r in d.reasons)
            self.note(f"✘ {who}: {message} [{codes}]", f"✘ {who}: {message} [{codes}]", "red")


# A person whose face the camera did not catch in time simply taps again.
_TAP_AGAIN = frozenset(
    {"FACE_NOT_FOUND", "FACE_QUALITY", "IDENTITY_UNAVAILABLE", "LIVENESS_FAILED"}
)


class Story:
    """The scenario's people and their actions on the stage, printed on the timeline."""

    def __init__(self, stage: Stage, tl: Timeline) -> None:
        self.stage = stage
        self.tl = tl
        ctl = stage.gateway.controller
        self.now = ctl.clock.wall
        self.names = {w.worker_id: w.name for w in demo_workers(self.now().date())}

    async def step(self, zh: str, en: str) -> None:
        """A new step: once central has shown what the last one caused, print its heading."""
        await self.stage.central_caught_up()
        self.tl.step(self.now().astimezone().strftime("%H:%M:%S"), zh, en)

    @staticmethod
    def badge(wid: str) -> str:
        """The card number of worker ``wid`` (W002 -> CARD-1002)."""
        return f"CARD-1{wid[1:]}"

    async def tap(self, wid: str, face_of: str | None = None) -> Decision:
        """``wid``'s badge tapped at the terminal (``face_of``'s face at the camera: a proxy);
        the terminal toggles, so a tap of someone inside is their exit."""
        ev = await self.stage.badge_line(self.badge(wid), face_of or wid, ("access_decision",))
        d = Decision.model_validate(ev.payload)
        self.tl.decision(self.names[wid], d)
        if d.position is not None and d.action.value == "badge_in":
            p = d.position
            self.tl.note(
                f"  位置 {p.lat:.5f},{p.lon:.5f} ±{p.error_m} m",
                f"  at {p.lat:.5f},{p.lon:.5f} ±{p.error_m} m",
                "dim",
            )
        return d

    async def action(self, word: str, wid: str, wanted: str) -> Event:
        """A person's action at the terminal: the badge line in the action's mode; the event
        ``wanted`` (or the refusal when that is what is wanted). A face not seen in time is
        tapped again; any other refusal ends the demo with an error."""
        for _ in range(3):
            either = (wanted, "permit_action_refused")
            ev = await self.stage.badge_line(f"{word}:{self.badge(wid)}", wid, either)
            if ev.type != "permit_action_refused":
                return ev
            codes = ev.payload["reasons"]
            shown = "; ".join(text(ReasonCode(c), self.tl.lang) for c in codes)
            listed = ", ".join(codes)  # as a decision shows them: [A, B]
            self.tl.note(f"✘ {shown} [{listed}]", f"✘ {shown} [{listed}]", "red")
            if wanted == "permit_action_refused":
                return ev
            if not set(codes) <= _TAP_AGAIN:
                raise RuntimeError(f"{word} by {wid} refused: {codes}")
            self.tl.note("  再刷一次卡", "  taps again", "dim")  # the face was not seen in time
        raise RuntimeError(f"{word} by {wid} refused three times")

    async def central(self, type_: str, body: dict[str, Any], key: str) -> Any:
        """A signed command from central, and the device's reply printed."""
        reply = await self.stage.central_command(type_, body, key)
        ok = reply is not None and reply.accepted
        if ok:
            zh, en = "已接受", "accepted"
        elif reply is None:
            zh, en = "无回复", "no reply"
        else:
            en = f"{reply.reason} {reply.detail}"
            # The reply's detail is the device's English text; its reason codes have words.
            known = {c.value for c in ReasonCode}
            codes = [c for c in dict.fromkeys(re.findall(r"\b[A-Z][A-Z0-9_]+\b", en)) if c in known]
            said = "；".join(text(ReasonCode(c), Lang.ZH) for c in codes)
            zh = f"拒绝：{said} [{', '.join(codes)}]" if codes else f"拒绝：{en}"
        self.tl.note(
            f"  中心签名指令 {type_} → 设备回复：{zh}",
            f"  signed central command {type_} → reply {en}",
            "dim" if ok else "red",
        )
        return reply

    def show_test(self, test: dict[str, Any]) -> None:
        """A recorded gas test: pass or fail, how, by whom, and the samples."""
        shown = ", ".join(f"{x['gas']} {x['value']:g} {x['unit']}" for x in test["samples"])
        ok = bool(test["passed"])
        self.tl.note(
            f"{'合格' if ok else '不合格'}（{test['via']}, {test['analyst']}）：{shown}",
            f"{'Pass' if ok else 'Fail'} ({test['via']}, {test['analyst']}): {shown}",
            "green" if ok else "red",
        )


async def scenario(stage: Stage, tl: Timeline) -> None:
    """Play the whole story on ``stage``; raises ``DemoUnavailable`` without a broker (every
    step goes through central's signed commands)."""
    if stage.parts.broker is None or stage.parts.signer is None:
        raise DemoUnavailable("the demo needs mosquitto (apt-get install mosquitto)")
    for zh, en in stage.parts.notes:
        tl.note(zh, en, "dim")
    s = Story(stage, tl)
    await _arrive(s)
    permit = await _issue_and_start(s)
    await _badge_in(s)
    await _gas_rises(s)
    await _air_clears_and_resume(s, permit)
    await _finish(s, permit)


async def _arrive(s: Story) -> None:
    gw = s.stage.gateway
    if gw.config.gps.enabled:
        await s.step(
            "等待GPS定位：终端须位于作业区域围栏内",
            "Waiting for GPS: the terminal must stand inside the zone's fence",
        )
        if not gw.controller.position.position_verdict().ok:
            await s.stage.waiter.event("geofence_enter", within_s=60)
        s.tl.note("✔ 终端在区域内", "✔ terminal inside the fence", "green")
    face = s.stage.service("IdentityService") if s.stage.parts.faces else None
    if face is not None:
        from gateway import face_demo

        await s.step(
            "技术员用照片为5名工人录入人脸（仅存加密特征值）",
            "The technician enrols 5 workers' faces from photos (encrypted encodings only)",
        )
        await face_demo.enrol_cast(face)


async def _issue_and_start(s: Story) -> Permit:
    names, now = s.names, s.now
    await s.step(
        "中心下发花名册：5 名人员及其特种作业操作证",
        "Central sends the roster: 5 people with their special-operation certificates",
    )
    roster = [w.model_dump(mode="json") for w in demo_workers(now().date())]
    await s.central("roster_update", {"workers": roster}, "roster")

    await s.step(
        "中心下发一级动火作业票 HP-2026-0117（有效 7 小时）",
        "Central issues level-1 hot-work permit HP-2026-0117 (valid 7 h)",
    )
    permit = Permit(
        permit_id="HP-2026-0117",
        zone_id=ZONE,
        kind=WorkKind.HOT_WORK,
        level=PermitLevel.HOT_1,
        valid_from=now() - timedelta(minutes=1),
        valid_to=now() + timedelta(hours=7),
        members=(
            PermitMember(worker_id="W005", role=Role.LEADER),
            PermitMember(worker_id="W001", role=Role.GUARDIAN),
            PermitMember(worker_id="W002", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
            PermitMember(worker_id="W003", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
            PermitMember(worker_id="W004", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
        ),
    )
    await s.central("permit_issue", {"permit": permit.model_dump(mode="json")}, "permit")

    await s.step(
        f"作业负责人{names['W005']}未做气体分析就刷卡开始作业",
        f"Work leader {names['W005']} taps to start before any gas test",
    )
    await s.action("start", "W005", "permit_action_refused")

    await s.step(
        f"{names['W005']}在终端请求固定式检测仪（Winsen CO、Modbus O2/LEL）做动火前气体分析",
        f"Fixed detectors (Winsen CO, Modbus O2/LEL) give the pre-work test, asked for by "
        f"{names['W005']} at the terminal",
    )
    gas = s.stage.service("GasService")
    if gas is not None:
        await gas.wait_for_verdict(lambda v: v.safe and v.monitoring_ok, 30)
    recorded = await s.action("gas_test", "W005", "gas_test_recorded")
    s.show_test(recorded.payload["test"])
    await s.step(f"{names['W005']}刷卡确认开始作业", f"{names['W005']} taps to start work")
    await s.action("start", "W005", "permit_start")
    s.tl.note("作业票状态：作业中", "Permit is ACTIVE", "green")
    return permit


async def _badge_in(s: Story) -> None:
    names = s.names
    await s.step(f"监护人{names['W001']}刷卡进入", "The guardian W001 badges in")
    await s.tap("W001")
    await s.step(f"焊工{names['W002']}刷卡进入", "The welder W002 badges in")
    await s.tap("W002")
    await s.step(
        f"焊工{names['W003']}刷卡（操作证已过期）",
        f"Welder {names['W003']} badges in (certificate expired)",
    )
    await s.tap("W003")
    await s.step(
        f"焊工{names['W004']}刷卡（操作证20天后到期）",
        f"Welder {names['W004']} badges in (certificate expires in 20 days)",
    )
    await s.tap("W004")
    if s.stage.parts.faces and s.stage.service("IdentityService") is not None:
        await s.step(
            f"{names['W002']}拿{names['W003']}的卡刷卡（代签）",
            f"{names['W002']} taps {names['W003']}'s badge (proxy attempt, 代签)",
        )
        d = await s.tap("W003", face_of="W002")
        seen = d.details.get("seen_worker_id")
        if seen:
            s.tl.note(
                f"  识别为 {names.get(seen, seen)}（{seen}）", f"  recognised as {seen}", "red"
            )


async def _gas_rises(s: Story) -> None:
    names, waiter = s.names, s.stage.waiter
    await s.step("CO 浓度上升至 85 ppm，超过高报警值", "CO rises to 85 ppm, above the high alarm")
    mark = waiter.mark()
    s.stage.parts.sims.set_value("co", 85.0)
    suspended_ev = await waiter.event("permit_suspend", after=mark)
    alarm = await waiter.event("gas_alarm", after=mark)
    s.tl.note(
        f"作业票 {suspended_ev.payload['permit_id']} 已自动中止"
        f"（{suspended_ev.payload['reason']}）",
        f"Permit {suspended_ev.payload['permit_id']} suspended automatically "
        f"({suspended_ev.payload['reason']})",
        "bold red",
    )
    a = alarm.payload
    if "threshold" in a:
        unit = a.get("unit", "")
        figures = (
            f"{a['gas']} {a['value']:.1f} {unit} > {a['threshold']:g} {unit} "
            f"({a['channel']}, {a.get('sensor_id', '')})"
        )
        s.tl.note(f"报警：{figures}", f"Alarm: {figures}", "bold red")
    inside = ", ".join(f"{i['name']}({i['worker_id']})" for i in a["inside"])
    s.tl.note(
        f"声光报警：红灯+蜂鸣；区域内人员：{inside}",
        f"Stack light red + buzzer; inside: {inside}",
        "bold red",
    )

    await s.step(
        f"{names['W004']}出来后想再次进入",
        f"{names['W004']} steps out and tries to go back in",
    )
    await s.tap("W004")
    await s.tap("W004")


async def _air_clears_and_resume(s: Story, permit: Permit) -> None:
    gas = s.stage.service("GasService")
    await s.step(
        "人员撤离，通风后 CO 回落，报警经安全员通过中心确认",
        "Everyone leaves; after ventilation CO falls and the alarm is acknowledged via central",
    )
    for wid in ("W002", "W001"):
        await s.tap(wid)
    s.stage.parts.sims.set_value("co", 2.0)
    if gas is not None:
        await gas.wait_for_verdict(lambda v: v.safe, 30)
    await s.central("alarm_acknowledge", {"actor": "safety-officer:S01"}, "alarms")
    if gas is not None:
        await gas.wait_for_verdict(lambda v: v.safe and not v.latched, 30)

    await s.step("尝试不经复测直接恢复作业", "Attempt to resume without a fresh gas test")
    await s.central("permit_resume", {"permit_id": permit.permit_id}, "permit")

    await s.step(
        "重新气体分析合格，安全员经中心授权恢复作业",
        "A fresh gas test passes; central authorises the resume",
    )
    recorded = await s.action("gas_test", "W005", "gas_test_recorded")
    s.show_test(recorded.payload["test"])
    await s.central("permit_resume", {"permit_id": permit.permit_id}, "permit")
    resumed = s.stage.gateway.controller.registry.permit(permit.permit_id)
    assert resumed is not None
    zh, en = STATUS_NAMES.get(resumed.status.value, (resumed.status.value,) * 2)
    s.tl.note(
        f"作业票 {resumed.permit_id} 状态：{zh}", f"Permit {resumed.permit_id} is {en}", "green"
    )


async def _finish(s: Story, permit: Permit) -> None:
    await s.step("监护人与焊工重新进入", "The guardian and the welder go back in")
    await s.tap("W001")
    await s.tap("W002")

    await s.step(
        "完工：负责人刷卡确认完工，人员撤离，监护人确认清场，中心验收关闭",
        "Done: the leader taps finish, people leave, the guardian checks everyone out, "
        "central closes",
    )
    await s.action("finish", "W005", "permit_complete")
    await s.tap("W002")
    await s.tap("W001")
    await s.action("everyone_out", "W001", "permit_everyone_out")
    await s.central("permit_close", {"permit_id": permit.permit_id, "by": "W005"}, "cycle")

    await s.step("等待全部事件同步至中心", "Waiting until central has every event")
    journal = s.stage.gateway.controller.journal
    async with asyncio.timeout(30):
        while any(journal.pending_count().values()):  # noqa: ASYNC110
            # The outbox marks rows on PUBACK in its own task and exposes no event for it.
            await asyncio.sleep(0.1)
    counts: dict[str, int] = {}
    for ev in journal.events():
        counts[ev.kind.value] = counts.get(ev.kind.value, 0) + 1
    pending = {k.value: v for k, v in journal.pending_count().items()}
    await s.step(
        f"审计日志：{counts}；待同步：{pending}",
        f"Journal: {counts}; waiting for sync: {pending}",
    )
