"""``zonegate demo``: a whole zone in one process, on simulated inputs, as a readable timeline.

The demo runs the real gateway (stores, controller, services) from a generated config in a
temporary state directory, and drives it ONLY through the paths a deployed gateway has: signed
central commands over a private mosquitto, badge lines into the terminal's reader (a FIFO, with
the worker's photo in front of the file camera), and the gas simulators' values. The controller
is only listened to. The scenario: central sends the roster and issues a permit; the leader's
start is refused without a gas test; the leader asks the fixed sensors for a test at the
terminal and starts; the guardian and a welder badge in, an expired certificate and a proxy are
denied; gas rises and the permit is suspended with the list of people inside; the air clears,
central acknowledges; a resume without a fresh test is refused; a fresh test passes and central
resumes; the leader finishes, everyone leaves, the guardian checks everyone out, central closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.markup import escape

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
from edge.zone import ZoneController
from gateway.config import parse_config
from gateway.daemon import Gateway
from gateway.errors import GatewayError

SITE = "demo-plant"
ZONE = "weld-bay-3"
LAT, LON = 31.2304, 121.4737  # where the demo's simulated GPS receiver stands


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
        # Readings history every second instead of every minute, so even the short badge-only
        # demo (no photos beside the repository) journals some: the contract test run on its
        # capture expects a ``reading`` event, and a 5 s interval outlived a fast CI run.
        "telemetry": {"interval_s": 1, "journal_interval_s": 1},
        # The terminal's badge reader: a FIFO the demo writes badge lines into, as a
        # keyboard-wedge reader would (``start:CARD-1005`` is the leader's tap in start mode).
        # No debounce: each of the demo's badge lines is one deliberate read (a worker steps
        # out and back in within a second).
        "badge": {"type": "file", "port": str(state_dir / "badge.fifo"), "debounce_s": 0},
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


# A person whose face the camera did not catch in time simply taps again.
_TAP_AGAIN = frozenset(
    {"FACE_NOT_FOUND", "FACE_QUALITY", "IDENTITY_UNAVAILABLE", "LIVENESS_FAILED"}
)


class DemoUnavailable(GatewayError):
    """A part the demo cannot run without is missing on this machine."""


@dataclass
class Parts:
    """The real parts the demo runs on, each present when this machine has what it needs."""

    sims: Any = None  # firmware_adapters.sim.site.SimulatedSensors
    gps: Any = None  # firmware_adapters.gps.gpsfake.GpsFake
    broker: Any = None  # gateway.local_broker.LocalBroker
    signer: Any = None  # cloud_sync.signing.Signer (central's key)
    faces: bool = False
    notes: list[str] = field(default_factory=list)


def _service(gw: Gateway, type_name: str) -> Any:
    return next((s for s in gw.services if type(s).__name__ == type_name), None)


class Waiter:
    """Await journal events by type (the controller's listeners), instead of sleeping."""

    def __init__(self, ctl: ZoneController) -> None:
        self.seen: list[Event] = []
        self._changed = asyncio.Event()
        ctl.event_listeners.append(self._on)

    def _on(self, ev: Event) -> None:
        self.seen.append(ev)
        self._changed.set()

    async def event(self, type_: str, after: int = 0, within_s: float = 20.0) -> Event:
        return await self.first((type_,), after, within_s)

    async def first(self, types: tuple[str, ...], after: int = 0, within_s: float = 20.0) -> Event:
        async with asyncio.timeout(within_s):
            while True:
                for ev in self.seen[after:]:
                    if ev.type in types:
                        return ev
                self._changed.clear()
                await self._changed.wait()

    def mark(self) -> int:
        return len(self.seen)


async def scenario(gw: Gateway, tl: Timeline, parts: Parts, waiter: Waiter) -> None:
    """Every step through a public path: signed central commands, badge lines at the terminal
    (the FIFO reader), the operator API. The controller is only listened to (its events)."""
    ctl = gw.controller
    if parts.broker is None or parts.signer is None:
        # Every step goes through central's signed commands: no broker, no demo.
        raise DemoUnavailable("the demo needs mosquitto (apt-get install mosquitto)")
    face = _service(gw, "IdentityService") if parts.faces else None
    now = ctl.clock.wall
    today = now().date()
    names = {w.worker_id: w.name for w in demo_workers(today)}
    for note in parts.notes:
        tl.note(note, note, "dim")
    # The writer's open waits until the terminal's reader holds the FIFO.
    fifo = await asyncio.to_thread(os.open, str(gw.config.badge.port), os.O_WRONLY)
    versions: dict[str, int] = {}

    def badge(wid: str) -> str:
        return f"CARD-1{wid[1:]}"

    async def line(
        text_: str, wid: str, photo_of: str | None, wanted: str | tuple[str, ...]
    ) -> Event:
        """Write one badge line as the reader would, with ``photo_of``'s face at the camera,
        and return the first ``wanted`` event that follows."""
        if face is not None:
            from gateway import face_demo

            face_demo.show(face, face_demo.tap_photo(photo_of or wid))
        mark = waiter.mark()
        try:
            os.write(fifo, f"{text_}\n".encode())
            types = (wanted,) if isinstance(wanted, str) else wanted
            return await waiter.first(types, after=mark, within_s=30)
        finally:
            if face is not None:
                face_demo.show(face, None)

    async def tap(wid: str, photo_of: str | None = None, out: bool = False) -> Decision:
        del out  # the terminal toggles: a tap of someone inside is their exit
        ev = await line(badge(wid), wid, photo_of, "access_decision")
        d = Decision.model_validate(ev.payload)
        tl.decision(names[wid], d)
        if d.position is not None and d.action.value == "badge_in":
            tl.note(
                f"  位置 {d.position.lat:.5f},{d.position.lon:.5f} ±{d.position.error_m} m",
                f"  at {d.position.lat:.5f},{d.position.lon:.5f} ±{d.position.error_m} m",
                "dim",
            )
        return d

    async def action(word: str, wid: str, wanted: str) -> Event:
        """A person's action at the terminal: the badge line in the action's mode."""
        for _ in range(3):
            either = (wanted, "permit_action_refused")
            ev = await line(f"{word}:{badge(wid)}", wid, None, either)
            if ev.type != "permit_action_refused":
                return ev
            codes = ev.payload["reasons"]
            shown = "; ".join(text(ReasonCode(c), tl.lang) for c in codes)
            tl.note(f"✘ {shown} {codes}", f"✘ {shown} {codes}", "red")
            if wanted == "permit_action_refused":
                return ev
            if not set(codes) <= _TAP_AGAIN:
                raise RuntimeError(f"{word} by {wid} refused: {codes}")
            tl.note("  再刷一次卡", "  taps again", "dim")  # the face was not seen in time
        raise RuntimeError(f"{word} by {wid} refused three times")

    async def central_command(type_: str, body: dict[str, Any], key: str) -> Any:
        """Send a signed command from central over MQTT and return the device's reply."""
        from cloud_sync.central import publish_command, sign_command

        versions[key] = versions.get(key, 0) + 1
        body = {"device": gw.config.device.device_id, **body}
        env = sign_command(parts.signer, type_, body, versions[key])
        reply = await publish_command(
            parts.broker.settings(f"demo-central-{key}-{versions[key]}"),
            SITE,
            gw.config.device.device_id,
            env,
        )
        ok = reply is not None and reply.accepted
        detail = "accepted" if ok else (f"{reply.reason} {reply.detail}" if reply else "no reply")
        tl.note(
            f"  中心签名指令 {type_} → 设备回复 {detail}",
            f"  signed central command {type_} → reply {detail}",
            "dim" if ok else "red",
        )
        return reply

    try:
        await _scenario_steps(gw, tl, parts, waiter, names, tap, action, central_command)
    finally:
        os.close(fifo)


async def _scenario_steps(
    gw: Gateway,
    tl: Timeline,
    parts: Parts,
    waiter: Waiter,
    names: dict[str, str],
    tap: Any,
    action: Any,
    central_command: Any,
) -> None:
    ctl = gw.controller
    now = ctl.clock.wall
    gas = _service(gw, "GasService")
    face = _service(gw, "IdentityService") if parts.faces else None
    if gw.config.gps.enabled:
        tl.step(
            now(),
            "等待GPS定位：终端须位于作业区域围栏内",
            "Waiting for GPS: the terminal must stand inside the zone's fence",
        )
        if not ctl.position.position_verdict().ok:
            await waiter.event("geofence_enter", within_s=60)
        tl.note("✔ 终端在区域内", "✔ terminal inside the fence", "green")
    if face is not None:
        from gateway import face_demo

        tl.step(
            now(),
            "技术员用照片为5名工人录入人脸（仅存加密特征值）",
            "The technician enrols 5 workers' faces from photos (encrypted encodings only)",
        )
        await face_demo.enrol_cast(face)

    tl.step(
        now(),
        "中心下发花名册：5 名人员及其特种作业操作证",
        "Central sends the roster: 5 people with their special-operation certificates",
    )
    roster = [w.model_dump(mode="json") for w in demo_workers(now().date())]
    await central_command("roster_update", {"workers": roster}, "roster")

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
            PermitMember(worker_id="W005", role=Role.LEADER),
            PermitMember(worker_id="W001", role=Role.GUARDIAN),
            PermitMember(worker_id="W002", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
            PermitMember(worker_id="W003", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
            PermitMember(worker_id="W004", role=Role.OPERATOR, required_cert=CertCategory.WELDING),
        ),
    )
    await central_command("permit_issue", {"permit": permit.model_dump(mode="json")}, "permit")

    tl.step(
        now(),
        f"作业负责人{names['W005']}未做气体分析就刷卡开始作业",
        f"Work leader {names['W005']} taps to start before any gas test",
    )
    await action("start", "W005", "permit_action_refused")

    tl.step(
        now(),
        f"{names['W005']}在终端请求固定式检测仪（Winsen CO、Modbus O2/LEL）做动火前气体分析",
        f"Fixed detectors (Winsen CO, Modbus O2/LEL) give the pre-work test, asked for by "
        f"{names['W005']} at the terminal",
    )
    if gas is not None:
        await gas.wait_for_verdict(lambda v: v.safe and v.monitoring_ok, 30)
    recorded = await action("gas_test", "W005", "gas_test_recorded")
    _show_test(tl, recorded.payload["test"])
    tl.step(now(), f"{names['W005']}刷卡确认开始作业", f"{names['W005']} taps to start work")
    await action("start", "W005", "permit_start")
    tl.note("作业票状态：作业中", "Permit is ACTIVE", "green")

    tl.step(now(), f"监护人{names['W001']}刷卡进入", "The guardian W001 badges in")
    await tap("W001")
    tl.step(now(), f"焊工{names['W002']}刷卡进入", "The welder W002 badges in")
    await tap("W002")
    tl.step(
        now(),
        f"焊工{names['W003']}刷卡（操作证已过期）",
        f"Welder {names['W003']} badges in (certificate expired)",
    )
    await tap("W003")
    tl.step(
        now(),
        f"焊工{names['W004']}刷卡（操作证20天后到期）",
        f"Welder {names['W004']} badges in (certificate expires in 20 days)",
    )
    await tap("W004")
    if face is not None:
        tl.step(
            now(),
            f"{names['W002']}拿{names['W003']}的卡刷卡（代签）",
            f"{names['W002']} taps {names['W003']}'s badge (proxy attempt, 代签)",
        )
        d = await tap("W003", photo_of="W002")
        seen = d.details.get("seen_worker_id")
        if seen:
            tl.note(f"  识别为 {names.get(seen, seen)}（{seen}）", f"  recognised as {seen}", "red")

    tl.step(now(), "CO 浓度上升至 85 ppm，超过高报警值", "CO rises to 85 ppm, above the high alarm")
    mark = waiter.mark()
    parts.sims.set_value("co", 85.0)
    suspended_ev = await waiter.event("permit_suspend", after=mark)
    alarm = await waiter.event("gas_alarm", after=mark)
    tl.note(
        f"作业票 {suspended_ev.payload['permit_id']} 已自动中止"
        f"（{suspended_ev.payload['reason']}）",
        f"Permit {suspended_ev.payload['permit_id']} suspended automatically "
        f"({suspended_ev.payload['reason']})",
        "bold red",
    )
    a = alarm.payload
    if "threshold" in a:
        figures = (
            f"{a['gas']} {a['value']:g} {a.get('unit', '')} > {a['threshold']:g} "
            f"({a['channel']}, {a.get('sensor_id', '')})"
        )
        tl.note(f"报警：{figures}", f"Alarm: {figures}", "bold red")
    inside = ", ".join(f"{i['name']}({i['worker_id']})" for i in a["inside"])
    tl.note(
        f"声光报警：红灯+蜂鸣；区域内人员：{inside}",
        f"Stack light red + buzzer; inside: {inside}",
        "bold red",
    )

    tl.step(
        now(),
        f"{names['W004']}出来后想再次进入",
        f"{names['W004']} steps out and tries to go back in",
    )
    await tap("W004")
    await tap("W004")

    tl.step(
        now(),
        "人员撤离，通风后 CO 回落，报警经安全员通过中心确认",
        "Everyone leaves; after ventilation CO falls and the alarm is acknowledged via central",
    )
    for wid in ("W002", "W001"):
        await tap(wid)
    parts.sims.set_value("co", 2.0)
    if gas is not None:
        await gas.wait_for_verdict(lambda v: v.safe, 30)
    await central_command("alarm_acknowledge", {"actor": "safety-officer:S01"}, "alarms")
    if gas is not None:
        await gas.wait_for_verdict(lambda v: v.safe and not v.latched, 30)

    tl.step(now(), "尝试不经复测直接恢复作业", "Attempt to resume without a fresh gas test")
    await central_command("permit_resume", {"permit_id": permit.permit_id}, "permit")

    tl.step(
        now(),
        "重新气体分析合格，安全员经中心授权恢复作业",
        "A fresh gas test passes; central authorises the resume",
    )
    recorded = await action("gas_test", "W005", "gas_test_recorded")
    _show_test(tl, recorded.payload["test"])
    await central_command("permit_resume", {"permit_id": permit.permit_id}, "permit")
    resumed = ctl.registry.permit(permit.permit_id)
    assert resumed is not None
    tl.note(
        f"作业票 {resumed.permit_id} 状态：{resumed.status.value}",
        f"Permit {resumed.permit_id} is {resumed.status.value}",
        "green",
    )

    tl.step(now(), "监护人与焊工重新进入", "The guardian and the welder go back in")
    await tap("W001")
    await tap("W002")

    tl.step(
        now(),
        "完工：负责人刷卡确认完工，人员撤离，监护人确认清场，中心验收关闭",
        "Done: the leader taps finish, people leave, the guardian checks everyone out, "
        "central closes",
    )
    await action("finish", "W005", "permit_complete")
    await tap("W002")
    await tap("W001")
    await action("everyone_out", "W001", "permit_everyone_out")
    await central_command("permit_close", {"permit_id": permit.permit_id, "by": "W005"}, "cycle")

    tl.step(now(), "等待全部事件同步至中心", "Waiting until central has every event")
    async with asyncio.timeout(30):
        while any(ctl.journal.pending_count().values()):  # noqa: ASYNC110
            # The outbox marks rows on PUBACK in its own task and exposes no event for it.
            await asyncio.sleep(0.1)
    counts: dict[str, int] = {}
    for ev in ctl.journal.events():
        counts[ev.kind.value] = counts.get(ev.kind.value, 0) + 1
    pending = {k.value: v for k, v in ctl.journal.pending_count().items()}
    tl.step(
        now(),
        f"审计日志：{counts}；待同步：{pending}",
        f"Journal: {counts}; waiting for sync: {pending}",
    )


def _show_test(tl: Timeline, test: dict[str, Any]) -> None:
    shown = ", ".join(f"{x['gas']} {x['value']:g} {x['unit']}" for x in test["samples"])
    ok = bool(test["passed"])
    tl.note(
        f"{'合格' if ok else '不合格'}（{test['via']}, {test['analyst']}）：{shown}",
        f"{'Pass' if ok else 'Fail'} ({test['via']}, {test['analyst']}): {shown}",
        "green" if ok else "red",
    )


@contextlib.asynccontextmanager
async def demo_parts(state: Path, raw: dict[str, Any]) -> AsyncIterator[Parts]:
    """Start what this machine can run for real, and write its config sections into ``raw``."""
    parts = Parts()
    async with contextlib.AsyncExitStack() as stack:
        from firmware_adapters.sim.site import SimulatedSensors

        (state / "dev").mkdir()
        parts.sims = await stack.enter_async_context(SimulatedSensors(state / "dev", period_s=0.2))
        raw["gas"] = parts.sims.gas_section(staleness_s=3.0)

        from firmware_adapters.gps.gpsfake import GpsFake, gpsfake_available

        if gpsfake_available():
            from firmware_adapters.gps.nmea_log import (
                SENTENCES_PER_EPOCH,
                stand_then_move,
                write_log,
            )

            (state / "gpsfake").mkdir()
            log = state / "gps.nmea"
            write_log(
                log,
                stand_then_move(LAT, LON, stand_s=900),
                start=datetime.now(UTC) + timedelta(seconds=1),
            )
            parts.gps = await stack.enter_async_context(
                GpsFake(log, state / "gpsfake", cycle_s=1 / SENTENCES_PER_EPOCH)
            )
            raw["zone"]["geofence"] = {
                "type": "circle",
                "center": {"lat": LAT, "lon": LON},
                "radius_m": 60,
            }
            raw["gps"] = {
                "enabled": True,
                "port": parts.gps.port,
                "dwell_samples": 2,
                "dwell_s": 1,
                "no_fix_after_s": 60,
                # gpsfake's replay may lag the wall clock by a few seconds.
                "clock_bound_s": 60,
            }
            parts.gps.release()
        else:
            parts.notes.append("gpsd/gpsfake not installed: no position check in this demo")

        from gateway.local_broker import LocalBroker, demo_sync

        if LocalBroker.available():
            parts.broker = await stack.enter_async_context(LocalBroker())
            mqtt, parts.signer = demo_sync(parts.broker, state / "keys")
            raw["mqtt"] = mqtt.model_dump(mode="json", exclude_unset=True)
        else:
            parts.notes.append("mosquitto not installed: no MQTT sync in this demo")

        from gateway import face_demo

        if face_demo.photos_available():
            raw["identity"] = face_demo.demo_section()
            parts.faces = True
        else:
            parts.notes.append("shared photos not found: badge-only identity in this demo")
        yield parts


def run_demo(lang: str = "zh-CN", keep: bool = False, capture: Path | None = None) -> int:
    """Run the scenario; with ``capture``, every MQTT message central received is appended to
    that file as JSON lines (what tests validate against docs/mqtt/schemas)."""
    console = Console(highlight=False, soft_wrap=True)
    language = Lang(lang)
    with _state_dir(keep) as state:
        raw = demo_config(state)
        os.mkfifo(state / "badge.fifo")
        tl = Timeline(console, language, datetime.now().astimezone())
        console.print(f"[bold]zonegate demo[/] — {SITE}/{ZONE}, state in {state}")

        async def main() -> None:
            stop = asyncio.Event()
            async with demo_parts(state, raw) as parts:
                with warnings.catch_warnings():
                    # The demo's PMS5003 is knowingly an indicator only; the config says so.
                    warnings.simplefilter("ignore")
                    cfg = parse_config(yaml.safe_dump(raw, allow_unicode=True), "<demo>")
                watcher = None
                if parts.broker is not None:
                    from gateway.local_broker import print_events

                    ready = asyncio.Event()
                    watcher = asyncio.create_task(
                        print_events(
                            parts.broker,
                            lambda line: console.print(f"           [blue]⇢ {escape(line)}[/]"),
                            ready,
                        )
                    )
                    await asyncio.wait_for(ready.wait(), 10)
                recorder = None
                if parts.broker is not None and capture is not None:
                    from gateway.local_broker import record_messages

                    recorded = asyncio.Event()
                    recorder = asyncio.create_task(record_messages(parts.broker, capture, recorded))
                    await asyncio.wait_for(recorded.wait(), 10)
                async with Gateway(cfg, None) as gw:
                    waiter = Waiter(gw.controller)  # before anything runs: no event is missed
                    runner = asyncio.create_task(gw.run(stop))
                    await gw.ready.wait()
                    try:
                        await scenario(gw, tl, parts, waiter)
                    finally:
                        stop.set()
                        await runner
                for task in (watcher, recorder):
                    if task is not None:
                        task.cancel()
                        await asyncio.gather(task, return_exceptions=True)

        try:
            asyncio.run(main())
        except DemoUnavailable as err:
            console.print(f"[red]{err}[/]")
            return 1
    console.print("\n[bold green]demo finished[/]")
    return 0
