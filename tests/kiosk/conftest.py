"""The real daemon (``zonegate run`` in a child process) with the kiosk page, opened in the
system's headless Chromium through Selenium; one daemon and one browser per test module.

The daemon reads badges from a FIFO (``badge.type: file``, as a keyboard-wedge reader bound to
a console) and gas from simulators on ptys speaking the real wire protocols (Winsen CO, Modbus
O2 / LEL), run by the test in a thread with its own event loop.

The zone's starting state (roster, an active hot-work permit, its passing gas test) is written
to the stores before the daemon starts, as a technician's ``import-roster`` and a restored
state directory would be; everything after that goes through the daemon's public surfaces
(badge reader, sensors, signals, the page).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from edge.models import (
    CertCategory,
    Certificate,
    GasTest,
    GasTestSample,
    Permit,
    PermitLevel,
    PermitMember,
    PermitStatus,
    Role,
    Worker,
    WorkKind,
)
from edge.registry import Registry
from firmware_adapters.sim.site import SimulatedSensors

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "build" / "kiosk-screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

T = TypeVar("T")


def browser_available() -> bool:
    return CHROMIUM is not None and CHROMEDRIVER is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cert(cat: CertCategory, start: date, end: date) -> Certificate:
    return Certificate(
        number=f"T{cat.value[:3].upper()}{start:%Y%m%d}",
        category=cat,
        issuing_authority="应急管理局",
        valid_from=start,
        valid_to=end,
    )


def seed_zone(cfg: dict[str, Any], status: PermitStatus = PermitStatus.ACTIVE) -> None:
    """Roster, a permit (active, or approved and not started) and a passing gas test, in the
    stores the daemon will open."""
    today = datetime.now(UTC).date()
    now = datetime.now(UTC)
    weld_ok = cert(CertCategory.WELDING, today - timedelta(days=400), today + timedelta(days=900))
    weld_old = cert(CertCategory.WELDING, today - timedelta(days=2000), today - timedelta(days=3))
    workers = [
        Worker(worker_id="G1", name="王监护", badge_ids=("B-G1",)),
        Worker(worker_id="L1", name="赵队长", badge_ids=("B-L1",)),
        Worker(worker_id="W1", name="张伟", badge_ids=("B-W1",), certificates=(weld_ok,)),
        Worker(worker_id="W2", name="李娜", badge_ids=("B-W2",), certificates=(weld_ok,)),
        Worker(worker_id="W3", name="刘强", badge_ids=("B-W3",), certificates=(weld_old,)),
    ]
    members = (
        PermitMember(worker_id="G1", role=Role.GUARDIAN),
        PermitMember(worker_id="L1", role=Role.LEADER),
        *(
            PermitMember(worker_id=w, role=Role.OPERATOR, required_cert=CertCategory.WELDING)
            for w in ("W1", "W2", "W3")
        ),
    )
    permit = Permit(
        permit_id="DH-0001",
        zone_id=cfg["zone"]["zone_id"],
        kind=WorkKind.HOT_WORK,
        level=PermitLevel.HOT_1,
        valid_from=now - timedelta(minutes=5),
        valid_to=now + timedelta(hours=6),
        members=members,
        status=status,
        activated_at=now - timedelta(minutes=1) if status is PermitStatus.ACTIVE else None,
    )
    test = GasTest(
        zone_id=cfg["zone"]["zone_id"],
        taken_at=now - timedelta(minutes=2),
        source="portable:PGD-7",
        analyst="A1",
        samples=(
            GasTestSample(gas="co", value=1.0, unit="ppm"),
            GasTestSample(gas="o2", value=20.9, unit="%vol"),
            GasTestSample(gas="lel", value=0.0, unit="%LEL"),
        ),
        passed=True,
    )
    state = Path(cfg["storage"]["state_dir"])
    state.mkdir(parents=True, exist_ok=True)
    registry = Registry(state / "registry.json")
    try:
        registry.put_workers(workers)
        registry.put_permit(permit)
        registry.put_gas_test(test)
    finally:
        registry.close()


class LoopThread:
    """An asyncio loop in a thread: hosts the sensor simulators beside the blocking browser."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sim-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 30) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        async def _call() -> T:
            return fn()

        result: T = self.run(_call())
        return result

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Daemon:
    """``zonegate run`` in a child: start, stop (SIGTERM), restart on the same state."""

    def __init__(
        self,
        tmp: Path,
        sims: SimulatedSensors,
        *,
        sections: dict[str, Any] | None = None,
        permit_status: PermitStatus = PermitStatus.ACTIVE,
        **kiosk: Any,
    ) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.lan_port = free_port()
        self.fifo = tmp / "badge.fifo"
        os.mkfifo(self.fifo)
        self.log_path = tmp / "daemon.log"
        self.cfg: dict[str, Any] = {
            "device": {"device_id": "gw-kiosk", "timezone": "Asia/Shanghai"},
            "zone": {
                "site": "plant",
                "zone_id": "z-weld-3",
                "name": "三号焊接区",
                "work_kinds": ["DHZY"],
            },
            "storage": {
                "state_dir": str(tmp / "state"),
                "min_free_mb": 10,
                "warn_free_mb": 20,
            },
            "clock": {"assume_trusted": True},
            "daemon": {"expiry_check_s": 1, "shutdown_timeout_s": 5},
            "badge": {"type": "file", "port": str(self.fifo), "debounce_s": 2.0},
            "gas": sims.gas_section(staleness_s=5.0),
            "kiosk": {"enabled": True, "port": self.port, "lan_port": self.lan_port, **kiosk},
            **(sections or {}),
        }
        self.cfg_path = tmp / "gateway.yaml"
        self.cfg_path.write_text(yaml.safe_dump(self.cfg, allow_unicode=True))
        seed_zone(self.cfg, permit_status)
        # Our end of the FIFO, opened read-write so it never blocks and the daemon's reader
        # never sees end-of-file while the test runs (a reader restart would lose a tap).
        self._fifo_fd = os.open(self.fifo, os.O_RDWR)
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "--config", str(self.cfg_path)],
            cwd=REPO,
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, self.log_tail()
            assert time.monotonic() < deadline, "kiosk did not come up:\n" + self.log_tail()
            with contextlib.suppress(OSError):
                if self.state()["boot_id"]:
                    return
            time.sleep(0.1)  # polling a port that is not open yet: nothing to await

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self) -> None:
        self.stop()
        os.close(self._fifo_fd)

    def tap(self, *badges: str) -> float:
        """Write badge reads to the reader; returns the wall time (ms) just before."""
        at = time.time() * 1000
        os.write(self._fifo_fd, "".join(f"{b}\n" for b in badges).encode())
        return at

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "kiosk/state", timeout=5) as resp:
            data: dict[str, Any] = json.loads(resp.read())
            return data

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def sims(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LoopThread, SimulatedSensors]]:
    loop = LoopThread()
    sensors = SimulatedSensors(tmp_path_factory.mktemp("dev"), period_s=0.5)
    loop.run(sensors.__aenter__())
    try:
        yield loop, sensors
    finally:
        loop.run(sensors.__aexit__(None, None, None))
        loop.close()


@pytest.fixture(scope="module")
def daemon(
    tmp_path_factory: pytest.TempPathFactory, sims: tuple[LoopThread, SimulatedSensors]
) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("gw"), sims[1])
    d.start()
    try:
        yield d
    finally:
        d.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not browser_available():
        pytest.fail("chromium and chromium-driver are required (make test installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    assert CHROMIUM is not None
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # tests may run as root in CI containers
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=800,480",
        "--hide-scrollbars",
        "--lang=zh-CN",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
