"""Fixtures for the core: a zone with real stores (TinyDB file, SQLite WAL) in a temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from edge.clock import ManualClock
from edge.evidence import AirVerdict, FixedAir, PositionVerdict
from edge.journal import Journal
from edge.models import (
    CertCategory,
    Certificate,
    GasTest,
    GasTestSample,
    Permit,
    PermitLevel,
    PermitMember,
    Role,
    Worker,
    WorkKind,
    Zone,
)
from edge.registry import Registry
from edge.zone import ZoneController
from firmware_adapters.outputs.signals import RecordingAnnunciator

ZONE = Zone(
    site="plant",
    zone_id="z1",
    work_kinds=(WorkKind.HOT_WORK, WorkKind.CONFINED_SPACE, WorkKind.TEMP_POWER),
)


def cert(cat: CertCategory, start: date, end: date, review: date | None = None) -> Certificate:
    return Certificate(
        number=f"T{cat.value[:3].upper()}{start:%Y%m%d}",
        category=cat,
        issuing_authority="应急管理局",
        valid_from=start,
        valid_to=end,
        next_review=review,
    )


@dataclass
class SettablePosition:
    verdict: PositionVerdict

    def position_verdict(self) -> PositionVerdict:
        return self.verdict


@dataclass
class Env:
    clock: ManualClock
    registry: Registry
    journal: Journal
    ctl: ZoneController
    air: FixedAir
    position: SettablePosition
    lights: RecordingAnnunciator

    @property
    def today(self) -> date:
        return self.clock.wall().date()

    def worker(self, wid: str, *certs: Certificate) -> Worker:
        w = Worker(worker_id=wid, name=f"name-{wid}", badge_ids=(f"B-{wid}",), certificates=certs)
        self.ctl.put_workers([w], "test")
        return w

    def welder(self, wid: str, days_left: int = 1000) -> Worker:
        end = self.today + timedelta(days=days_left)
        start = min(end - timedelta(days=30), self.today - timedelta(days=30))
        return self.worker(wid, cert(CertCategory.WELDING, start, end))

    def permit(
        self,
        pid: str = "P1",
        kind: WorkKind = WorkKind.HOT_WORK,
        level: PermitLevel = PermitLevel.HOT_1,
        hours: float = 4,
        members: tuple[PermitMember, ...] | None = None,
        **kw: object,
    ) -> Permit:
        now = self.clock.wall()
        p = Permit(
            permit_id=pid,
            zone_id="z1",
            kind=kind,
            level=level,
            valid_from=now - timedelta(minutes=1),
            valid_to=now + timedelta(hours=hours),
            members=members
            or (
                PermitMember(worker_id="G1", role=Role.GUARDIAN),
                PermitMember(
                    worker_id="W1", role=Role.OPERATOR, required_cert=CertCategory.WELDING
                ),
            ),
            **kw,
        )
        return self.ctl.issue_permit(p, "central")

    def gas_test(self, passed: bool = True) -> GasTest:
        t = GasTest(
            zone_id="z1",
            taken_at=self.clock.wall(),
            source="portable:x",
            analyst="a",
            # O2, combustible and CO: what hot work and confined space both need (GB 30871
            # §5.3.1, §6.4); a CO-only test no longer passes for either (issue 17 item 3).
            samples=(
                GasTestSample(gas="o2", value=20.9, unit="%vol"),
                GasTestSample(gas="lel", value=0.0, unit="%LEL"),
                GasTestSample(gas="co", value=2 if passed else 80, unit="ppm"),
            ),
            passed=passed,
        )
        self.ctl.record_gas_test(t, "analyst")
        return t

    def active_permit(self, **kw: object) -> Permit:
        p = self.permit(**kw)  # type: ignore[arg-type]
        self.gas_test()
        return self.ctl.start_permit(p.permit_id, "leader")

    def unsafe(self) -> AirVerdict:
        self.air.verdict = AirVerdict(
            safe=False,
            monitoring_ok=True,
            latched=True,
            details={"gas": "co", "value": 90.0, "threshold": 70.0, "channel": "high"},
        )
        return self.air.verdict


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    clock = ManualClock()
    registry = Registry(tmp_path / "registry.json")
    journal = Journal(tmp_path / "journal.db", clock)
    air = FixedAir()
    position = SettablePosition(PositionVerdict(ok=True))
    lights = RecordingAnnunciator()
    ctl = ZoneController(
        zone=ZONE,
        registry=registry,
        journal=journal,
        clock=clock,
        air=air,
        position=position,
        annunciator=lights,
    )
    yield Env(clock, registry, journal, ctl, air, position, lights)
    journal.close()
    registry.close()
