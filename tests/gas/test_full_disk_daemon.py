"""The daemon on a full disk (issue 16.2): the real ``Gateway`` with its gas service reading pty
simulators, its stores on a small tmpfs filled to 0 bytes free, systemd's notify socket watching.

At 0 bytes free a CO alarm still suspends the permit (in memory and on the outputs), the failure
to persist is an alarm of its own (status, light, an event once the disk reserve is released),
the watchdog stops pinging while the journal cannot be written, and everything held reaches the
stores once space is back.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from edge.air import GasService
from edge.clock import SystemClock
from edge.journal import Journal
from edge.models import EventKind, EventType, PermitStatus, WorkKind, Zone
from edge.registry import Registry
from firmware_adapters.sim.site import SimulatedSensors
from gateway.config import GatewayConfig
from gateway.daemon import RESERVE_NAME, Gateway
from tests.conditions import until
from tests.gas.test_end_to_end import hot_work_permit
from tests.tmpfs import fill, free_bytes, small_tmpfs

pytestmark = pytest.mark.filterwarnings("ignore::firmware_adapters.gas.config.IndicatorOnlyWarning")

ZONE = Zone(site="plant", zone_id="z1", work_kinds=(WorkKind.HOT_WORK,))


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "disk", 8 * 1024) as d:
        yield d


class NotifySocket:
    """systemd's side of sd_notify: every datagram the daemon sends, read as it arrives."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.fields: list[str] = []
        self._arrived = asyncio.Event()
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._read)

    def _read(self) -> None:
        while True:
            try:
                self.fields.extend(self.sock.recv(4096).decode().split("\n"))
            except BlockingIOError:
                break
        self._arrived.set()

    async def wait_for(self, field: str, within_s: float = 10.0) -> None:
        """Await ``field`` arriving after this call."""
        seen = len(self.fields)
        async with asyncio.timeout(within_s):
            while field not in self.fields[seen:]:
                self._arrived.clear()
                await self._arrived.wait()

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()


def _seed_active_permit(state: Path, ctl_clock: SystemClock) -> str:
    """A permit a previous run started (as the registry holds it on disk)."""

    class _Ctl:
        clock = ctl_clock

    permit = hot_work_permit(_Ctl())  # type: ignore[arg-type]
    permit = permit.model_copy(
        update={
            "status": PermitStatus.ACTIVE,
            "activated_at": ctl_clock.wall() - timedelta(minutes=1),
        }
    )
    state.mkdir(parents=True, exist_ok=True)
    Journal(state / "journal.db", ctl_clock).close()  # the journal first, as the daemon does
    reg = Registry(state / "registry.json")
    reg.put_permit(permit)
    reg.close()
    return permit.permit_id


@pytest.mark.parametrize("reserve_mb", [1, 0])
async def test_full_disk_gas_alarm_still_suspends_and_raises_a_storage_alarm(
    disk: Path, ports: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reserve_mb: int
) -> None:
    clock = SystemClock(assume_trusted=True)
    state = disk / "state"
    permit_id = _seed_active_permit(state, clock)
    notify = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # a ping every 50 ms
    async with SimulatedSensors(ports, period_s=0.05) as sims:
        cfg = GatewayConfig.model_validate(
            {
                "device": {"device_id": "gw1"},
                "zone": ZONE.model_dump(mode="json"),
                "storage": {
                    "state_dir": str(state),
                    "min_free_mb": 1,
                    "warn_free_mb": 2,
                    "reserve_mb": reserve_mb,
                    "disk_check_s": 0.1,
                },
                "clock": {"assume_trusted": True},
                "gas": sims.gas_section(check_interval_s=0.1),
            }
        )
        async with Gateway(cfg) as gw:
            stop = asyncio.Event()
            runner = asyncio.create_task(gw.run(stop))
            try:
                await gw.ready.wait()
                [service] = [s for s in gw.services if s.name == "gas"]
                assert isinstance(service, GasService)
                await service.wait_for_verdict(lambda v: v.monitoring_ok and v.safe)
                if reserve_mb:  # made by the disk loop, off the event loop
                    await until(lambda: (state / RESERVE_NAME).exists())
                assert (state / RESERVE_NAME).exists() == (reserve_mb > 0)
                await notify.wait_for("WATCHDOG=1")

                filler = fill(disk, leave=0)
                assert free_bytes(disk) == 0
                sims.set_value("co", 85.0)
                await service.wait_for_verdict(lambda v: not v.safe)
                # In memory and on the outputs, whatever the disk says.
                await until(
                    lambda: gw.registry.permit(permit_id).status is PermitStatus.SUSPENDED  # type: ignore[union-attr]
                )
                outputs = gw.controller.annunciator.state()  # type: ignore[attr-defined]
                assert outputs["red"] and outputs["buzzer"] and not outputs["relay"]
                # The failure to persist is an alarm of its own, in status.
                await until(lambda: not gw.controller.storage_ok)
                health = gw.controller.snapshot()["health"]
                assert health["storage"]["state"] == "failed"
                assert (
                    "No space left" in health["storage"]["error"]
                    or "full" in (health["storage"]["error"])
                )
                if reserve_mb:
                    # The reserve gave the safety path room: both alarms are on disk already,
                    # and the alarm stays up while the reserve is spent.
                    assert not (state / RESERVE_NAME).exists()
                    await until(lambda: bool(gw.journal.events(type_="gas_alarm")))
                    alerts = [e.type for e in gw.journal.events(kind=EventKind.ALERT)]
                    assert alerts.index(EventType.STORAGE_FAILED) < alerts.index(
                        EventType.GAS_ALARM
                    )
                    assert gw.controller.journal_writable
                    assert "reserve is in use" in gw.controller.storage["error"]
                else:
                    # Nothing can be journaled: systemd must see it (no more watchdog pings).
                    assert not gw.controller.journal_writable
                    seen = len(notify.fields)
                    await asyncio.sleep(0.5)  # ten watchdog periods: absence cannot be awaited
                    assert "WATCHDOG=1" not in notify.fields[seen:]
                # A badge tap still gets a decision (a denial), at once.
                decision = await gw.controller.badge_in("B-W1")
                assert not decision.allowed

                # Space back: the disk loop writes what memory held, pings come back.
                filler.unlink()
                await until(lambda: gw.controller.storage_ok, timeout_s=10)
                await notify.wait_for("WATCHDOG=1")
                types = [e.type for e in gw.journal.events()]
                assert "gas_alarm" in types and "storage_failed" in types
                assert "storage_recovered" in types
                if reserve_mb:
                    await until(lambda: (state / RESERVE_NAME).exists(), timeout_s=10)
            finally:
                stop.set()
                await runner
    on_disk = Registry(state / "registry.json")
    assert on_disk.permit(permit_id).status is PermitStatus.SUSPENDED  # type: ignore[union-attr]
    on_disk.close()
    notify.close()
