"""``zonegate demo``: a whole zone in one process, on simulated inputs, as a readable timeline.

The demo runs the real gateway (stores, controller, services) from a generated config in a
temporary state directory. The scenario: a permit is issued, a gas test passes and work starts,
the guardian and a welder badge in, a worker with an expired certificate is denied, gas rises and
the permit is suspended with the list of people inside, further badge-ins are denied, the air
clears, a fresh gas test passes and an authorised resume brings the permit back.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from edge.config import GatewayConfig, parse_config
from edge.daemon import Gateway
from edge.evidence import AirVerdict, FixedAir
from edge.models import (
    CertCategory,
    Certificate,
    Decision,
    Event,
    GasTest,
    GasTestSample,
    Permit,
    PermitLevel,
    PermitMember,
    Role,
    Worker,
    WorkKind,
)
from edge.reasons import Lang, ReasonCode, text
from edge.zone import CommandRejected, ZoneController

SITE = "demo-plant"
ZONE = "weld-bay-3"


def demo_config(state_dir: Path) -> dict[str, Any]:
    return {
        "device": {"device_id": "zg-demo-01", "timezone": "Asia/Shanghai"},
        "zone": {
            "site": SITE,
            "zone_id": ZONE,
            "name": "三号焊接区 Weld bay 3",
            "work_kinds": ["DHZY", "YXKJ"],
            "target_gas": {"name": "methane", "lel_vol_percent": 5.0},
        },
        "storage": {"state_dir": str(state_dir), "min_free_mb": 50, "warn_free_mb": 100},
        # The demo machine has no NTP sync to prove; permits need a trusted clock.
        "clock": {"assume_trusted": True},
        "daemon": {"expiry_check_s": 1, "log_level": "WARNING"},
    }


def demo_workers(today: date) -> list[Worker]:
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
    ]


@dataclass
class Timeline:
    console: Console
    lang: Lang
    started: datetime
    lines: list[str] = field(default_factory=list)

    def _t(self, now: datetime) -> str:
        return f"{now.astimezone().strftime('%H:%M:%S')}"

    def step(self, now: datetime, zh: str, en: str) -> None:
        msg = zh if self.lang is Lang.ZH else en
        self.lines.append(msg)
        self.console.print(f"\n[dim]{self._t(now)}[/] [bold cyan]▶ {msg}[/]")

    def note(self, zh: str, en: str, style: str = "") -> None:
        msg = zh if self.lang is Lang.ZH else en
        self.lines.append(msg)
        self.console.print(
            f"           {f'[{style}]' if style else ''}{msg}{'[/]' if style else ''}"
        )

    def decision(self, who: str, d: Decision) -> None:
        message = d.message_zh if self.lang is Lang.ZH else d.message_en
        if d.allowed:
            self.note(f"✔ {who}: {message}", f"✔ {who}: {message}", "green")
        else:
            codes = ", ".join(r.value for r in d.reasons)
            self.note(f"✘ {who}: {message} [{codes}]", f"✘ {who}: {message} [{codes}]", "red")

    def event(self, ev: Event) -> None:
        if ev.kind.value in ("alert", "permit", "gas_test"):
            self.console.print(f"           [dim]journal #{ev.seq} {ev.kind.value}/{ev.type}[/]")


@contextlib.contextmanager
def _state_dir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="zonegate-demo-"))
    try:
        yield path
    finally:
        if keep:
            print(f"demo state kept in {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def _gas_test(ctl: ZoneController, analyst: str, co_ppm: float, lel: float) -> GasTest:
    samples = (
        GasTestSample(gas="o2", value=20.9, unit="%vol"),
        GasTestSample(gas="lel", value=lel, unit="%LEL"),
        GasTestSample(gas="co", value=co_ppm, unit="ppm"),
    )
    # §5.3.2: methane (LEL 5 %) passes at ≤ 0.5 % vol = 10 %LEL; CO below the GBZ 2.1 TWA.
    vol = lel / 100 * ctl.zone.target_gas.lel_vol_percent
    failures = []
    if vol > ctl.zone.target_gas.pass_limit_vol_percent:
        failures.append(f"lel {vol:.2f}%vol > {ctl.zone.target_gas.pass_limit_vol_percent}%vol")
    if co_ppm > 17:
        failures.append(f"co {co_ppm} ppm > 17 ppm (20 mg/m3)")
    return GasTest(
        zone_id=ctl.zone.zone_id,
        taken_at=ctl.clock.wall(),
        source="portable:PGM-2500",
        analyst=analyst,
        samples=samples,
        passed=not failures,
        failures=tuple(failures),
    )


async def scenario(gw: Gateway, tl: Timeline) -> None:
    ctl = gw.controller
    air = FixedAir()
    ctl.air = air
    ctl.event_listeners.append(tl.event)
    now = ctl.clock.wall
    today = now().date()
    names = {w.worker_id: w.name for w in demo_workers(today)}

    tl.step(
        now(),
        "导入花名册：4 名作业人员及其特种作业操作证",
        "Roster imported: 4 workers with their special-operation certificates",
    )
    ctl.put_workers(demo_workers(today), "technician")

    tl.step(
        now(),
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
            PermitMember(worker_id="W001", role=Role.GUARDIAN),
            PermitMember(worker_id="W002", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
            PermitMember(worker_id="W003", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
            PermitMember(worker_id="W004", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
        ),
    )
    ctl.issue_permit(permit, "central")

    tl.step(
        now(),
        "分析人赵敏用便携式检测仪做动火前气体分析",
        "Analyst Zhao Min runs the pre-work gas test with a portable detector",
    )
    test = _gas_test(ctl, "赵敏", co_ppm=2, lel=0)
    ctl.record_gas_test(test, "analyst:zhao")
    tl.note(
        "合格：O2 20.9 %vol, LEL 0 %LEL, CO 2 ppm",
        "Pass: O2 20.9 %vol, LEL 0 %LEL, CO 2 ppm",
        "green",
    )
    ctl.start_permit(permit.permit_id, "leader:W001")
    tl.note("作业负责人确认开始作业，作业票状态：作业中", "Work leader starts work: permit ACTIVE")

    for wid, badge in (("W001", "CARD-1001"), ("W002", "CARD-1002")):
        role_zh, role_en = ("监护人", "guardian") if wid == "W001" else ("焊工", "welder")
        tl.step(now(), f"{role_zh}{names[wid]}刷卡进入", f"The {role_en} {wid} badges in")
        tl.decision(names[wid], await ctl.badge_in(badge))

    tl.step(
        now(),
        f"焊工{names['W003']}刷卡（操作证已过期）",
        f"Welder {names['W003']} badges in (certificate expired)",
    )
    tl.decision(names["W003"], await ctl.badge_in("CARD-1003"))

    tl.step(
        now(),
        f"焊工{names['W004']}刷卡（操作证20天后到期）",
        f"Welder {names['W004']} badges in (certificate expires in 20 days)",
    )
    tl.decision(names["W004"], await ctl.badge_in("CARD-1004"))

    tl.step(
        now(),
        "CO 浓度上升至 85 ppm，超过高报警值 70 ppm",
        "CO rises to 85 ppm, above the high alarm of 70 ppm",
    )
    air.verdict = AirVerdict(
        safe=False,
        monitoring_ok=True,
        reasons=(ReasonCode.GAS_UNSAFE,),
        latched=True,
        details={
            "gas": "co",
            "value": 85.0,
            "unit": "ppm",
            "threshold": 70.0,
            "channel": "high",
            "sensor_id": "ze07-co-1",
        },
    )
    suspended = ctl.on_air_verdict(air.verdict)
    for p in suspended:
        tl.note(
            f"作业票 {p.permit_id} 已自动中止（{p.suspension.reason if p.suspension else ''}）",
            f"Permit {p.permit_id} suspended automatically",
            "bold red",
        )
    inside = ", ".join(f"{i['name']}({i['worker_id']})" for i in ctl.inside())
    tl.note(
        f"声光报警：红灯+蜂鸣；区域内人员：{inside}",
        f"Stack light red + buzzer; inside: {inside}",
        "bold red",
    )

    tl.step(now(), "又一名焊工刷卡", "Another welder badges in")
    tl.decision(names["W003"], await ctl.badge_in("CARD-1003"))

    tl.step(
        now(),
        "人员撤离，通风后 CO 回落至 3 ppm，报警经安全员确认解除",
        "Everyone leaves; after ventilation CO is back to 3 ppm and the alarm is acknowledged",
    )
    for badge in ("CARD-1004", "CARD-1002", "CARD-1001"):
        await ctl.badge_out(badge)
    air.verdict = AirVerdict(safe=True, monitoring_ok=True)
    ctl.on_air_verdict(air.verdict)

    tl.step(now(), "尝试不经复测直接恢复作业", "Attempt to resume without a fresh gas test")
    try:
        ctl.resume_permit(permit.permit_id, "safety-officer:S01", authorised=True)
    except CommandRejected as err:
        code = ReasonCode(err.code)
        tl.note(
            f"✘ 拒绝：{text(code, Lang.ZH)} [{code.value}]",
            f"✘ Refused: {text(code, Lang.EN)} [{code.value}]",
            "red",
        )

    tl.step(
        now(),
        "重新气体分析合格，安全员授权恢复作业",
        "A fresh gas test passes; the safety officer authorises the resume",
    )
    ctl.record_gas_test(_gas_test(ctl, "赵敏", co_ppm=3, lel=0), "analyst:zhao")
    resumed = ctl.resume_permit(permit.permit_id, "safety-officer:S01", authorised=True)
    tl.note(
        f"作业票 {resumed.permit_id} 状态：{resumed.status.value}",
        f"Permit {resumed.permit_id} is {resumed.status.value}",
        "green",
    )

    tl.step(now(), "监护人与焊工重新进入", "The guardian and the welder go back in")
    for wid, badge in (("W001", "CARD-1001"), ("W002", "CARD-1002")):
        tl.decision(names[wid], await ctl.badge_in(badge))

    counts: dict[str, int] = {}
    for ev in ctl.journal.events():
        counts[ev.kind.value] = counts.get(ev.kind.value, 0) + 1
    pending = {k.value: v for k, v in ctl.journal.pending_count().items()}
    tl.step(
        now(),
        f"审计日志：{counts}；待同步：{pending}",
        f"Journal: {counts}; waiting for sync: {pending}",
    )


def run_demo(lang: str = "zh-CN", keep: bool = False) -> int:
    console = Console(highlight=False, soft_wrap=True)
    language = Lang(lang)
    with _state_dir(keep) as state:
        raw = demo_config(state)
        cfg: GatewayConfig = parse_config(yaml.safe_dump(raw, allow_unicode=True), "<demo>")
        tl = Timeline(console, language, datetime.now().astimezone())
        console.print(f"[bold]zonegate demo[/] — {SITE}/{ZONE}, state in {state}")

        async def main() -> None:
            stop = asyncio.Event()
            async with Gateway(cfg, None) as gw:
                runner = asyncio.create_task(gw.run(stop))
                await gw.ready.wait()
                try:
                    await scenario(gw, tl)
                finally:
                    stop.set()
                    await runner

        asyncio.run(main())
    console.print("\n[bold green]demo finished[/]")
    return 0
