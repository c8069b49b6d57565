"""Kiosk benchmark: what the open terminal page costs the daemon (CPU and RSS).

``python bench/kiosk.py --json`` starts the real daemon (``zonegate run``) with the kiosk on,
gas from the pty simulators (Winsen CO, Modbus O2/LEL, PMS5003, 2 Hz) and a FIFO badge reader,
then takes turns in ``--slices`` slices of ``--seconds`` each: the page open in headless
Chromium (server-sent events flowing), then no page (the browser on about:blank), so machine
noise falls on both alike. The last line is one JSON object:

``cpu_percent_page`` / ``cpu_percent_no_page`` (percent of one core used by the daemon process,
median of the slices), ``extra_cpu_percent`` (their difference), ``rss_mb_page`` /
``rss_mb_no_page`` (daemon resident memory at the end of each kind of slice, median),
``extra_rss_mb``, ``browser_pss_mb`` (all Chromium processes, proportional set size, for the
Pi's memory budget), ``slices``,
``seconds_per_slice``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the daemon harness lives with the kiosk tests: one of it

from firmware_adapters.sim.site import SimulatedSensors  # noqa: E402
from tests.kiosk.conftest import CHROMEDRIVER, CHROMIUM, Daemon, LoopThread  # noqa: E402


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def measure(proc: psutil.Process, seconds: float) -> tuple[float, float]:
    """(percent of one core, RSS MB) of ``proc`` over ``seconds`` of wall time."""
    c0, w0 = cpu_seconds(proc), time.monotonic()
    time.sleep(seconds)  # a measuring window, not synchronisation
    c1, w1 = cpu_seconds(proc), time.monotonic()
    return 100.0 * (c1 - c0) / (w1 - w0), proc.memory_info().rss / 1e6


def browser_pss_mb(driver_pid: int) -> float:
    """Chromium's processes' proportional set size (RSS would count shared pages per process)."""
    total = 0
    for child in psutil.Process(driver_pid).children(recursive=True):
        try:
            total += child.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / 1e6


def bench(args: argparse.Namespace) -> dict[str, object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if CHROMIUM is None or CHROMEDRIVER is None:
        raise SystemExit("bench/kiosk.py: apt install chromium chromium-driver")
    loop = LoopThread()
    with tempfile.TemporaryDirectory(prefix="zg-kiosk-bench-") as tmp:
        (Path(tmp) / "dev").mkdir()
        (Path(tmp) / "gw").mkdir()
        sims = SimulatedSensors(Path(tmp) / "dev", period_s=0.5)
        loop.run(sims.__aenter__())
        daemon = Daemon(Path(tmp) / "gw", sims)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
            opts.add_argument(arg)
        opts.add_argument("--window-size=800,480")
        driver = None
        try:
            daemon.start()
            assert daemon.proc is not None
            proc = psutil.Process(daemon.proc.pid)
            driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
            time.sleep(args.warmup)  # let the daemon settle after start (sensors warming)
            page: list[tuple[float, float]] = []
            bare: list[tuple[float, float]] = []
            browser_mb = 0.0
            for _ in range(args.slices):
                driver.get(daemon.url)
                deadline = time.monotonic() + 20
                while not driver.execute_script("return !!(window.__kiosk||{}).connected"):
                    assert time.monotonic() < deadline, "page did not connect"
                    time.sleep(0.05)
                page.append(measure(proc, args.seconds))
                assert driver.service.process is not None
                browser_mb = max(browser_mb, browser_pss_mb(driver.service.process.pid))
                driver.get("about:blank")  # the event stream closes with the page
                bare.append(measure(proc, args.seconds))
        finally:
            if driver is not None:
                driver.quit()
            daemon.close()
            loop.run(sims.__aexit__(None, None, None))
            loop.close()
    cpu_page = statistics.median(c for c, _ in page)
    cpu_bare = statistics.median(c for c, _ in bare)
    rss_page = statistics.median(r for _, r in page)
    rss_bare = statistics.median(r for _, r in bare)
    return {
        "cpu_percent_page": round(cpu_page, 2),
        "cpu_percent_no_page": round(cpu_bare, 2),
        "extra_cpu_percent": round(cpu_page - cpu_bare, 2),
        "rss_mb_page": round(rss_page, 1),
        "rss_mb_no_page": round(rss_bare, 1),
        "extra_rss_mb": round(rss_page - rss_bare, 1),
        "browser_pss_mb": round(browser_mb, 1),
        "slices": args.slices,
        "seconds_per_slice": args.seconds,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the JSON result line last")
    ap.add_argument("--slices", type=int, default=5, help="turns of page open / no page")
    ap.add_argument("--seconds", type=float, default=6.0, help="measuring window per slice")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    args = ap.parse_args()
    result = bench(args)
    if not args.json:
        for k, v in result.items():
            print(f"{k}: {v}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
