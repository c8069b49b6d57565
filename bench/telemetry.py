"""Telemetry benchmark: the daemon's CPU with telemetry on and off, 16 sensors at 10 Hz.

``python bench/telemetry.py --json`` runs the whole gateway in this process (adapters, exposure
engine, journal, MQTT sync to a private mosquitto) against 16 simulated Winsen sensors at 10 Hz
(pty simulators in a child process, not measured), in alternating slices with telemetry on
(live samples every ``telemetry.interval_s``, history every ``journal_interval_s``) and off,
so machine noise falls on both alike. The last line is one JSON object:
``cpu_percent_off`` / ``cpu_percent_on`` (percent of one core, median of the slices),
``ratio`` (on / off; the contract asks for at most ``limit`` = 1.5), ``live_per_s`` (live
messages published per second while on), ``readings_per_s``, ``slices``, ``seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from cloud_sync.service import SyncService
from gateway.config import GatewayConfig
from gateway.daemon import Gateway
from gateway.local_broker import LocalBroker, demo_sync

SENSORS = 16
GAS_BENCH = Path(__file__).with_name("gas_latency.py")


def config(state: Path, ports: Path, mqtt: dict[str, Any], telemetry: bool) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "device": {"device_id": "bench-gw"},
            "zone": {"site": "bench", "zone_id": "zb", "work_kinds": ["DHZY"]},
            "storage": {"state_dir": str(state)},
            "clock": {"assume_trusted": True},
            "daemon": {"log_level": "WARNING"},
            "gas": {
                "sensors": [
                    {
                        "type": "winsen_ze",
                        "id": f"co{i}",
                        "port": str(ports / f"ttyCO{i}"),
                        "model": "ze07",
                        "warmup_s": 0,
                    }
                    for i in range(SENSORS)
                ]
            },
            "telemetry": {"enabled": telemetry, "interval_s": 1.0, "journal_interval_s": 60.0},
            "mqtt": mqtt,
        }
    )


async def one_slice(cfg: GatewayConfig, seconds: float) -> tuple[float, float, float]:
    """CPU percent of one core, readings/s and live messages/s over ``seconds`` of steady state."""
    stop = asyncio.Event()
    async with Gateway(cfg, None) as gw:
        runner = asyncio.create_task(gw.run(stop))
        try:
            await gw.ready.wait()
            await asyncio.sleep(3.0)  # connect, first frames, caches: not steady state yet
            sync = next((s for s in gw.services if isinstance(s, SyncService)), None)
            me = psutil.Process()
            live0 = sync.live_counts["published"] if sync else 0
            r0 = sum(a.stats.frames_ok for a in _adapters(gw))
            t0, c0 = time.monotonic(), me.cpu_times()
            await asyncio.sleep(seconds)
            t1, c1 = time.monotonic(), me.cpu_times()
            r1 = sum(a.stats.frames_ok for a in _adapters(gw))
            live1 = sync.live_counts["published"] if sync else 0
        finally:
            stop.set()
            await runner
    used = (c1.user - c0.user) + (c1.system - c0.system)
    dt = t1 - t0
    return 100.0 * used / dt, (r1 - r0) / dt, (live1 - live0) / dt


def _adapters(gw: Gateway) -> list[Any]:
    from edge.air import GasService

    return [a for s in gw.services if isinstance(s, GasService) for a in s.adapters]


async def measure(args: argparse.Namespace, ports: Path) -> dict[str, object]:
    results: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="zg-bench-") as tmp:
        async with LocalBroker() as broker:
            mqtt, _ = demo_sync(broker, Path(tmp) / "keys")
            raw = mqtt.model_dump(mode="json", exclude_unset=True)
            for i in range(args.slices):
                for enabled in (i % 2 == 0, i % 2 != 0):  # alternate which goes first
                    state = Path(tmp) / f"s{i}-{int(enabled)}"
                    r = await one_slice(config(state, ports, raw, enabled), args.seconds)
                    print(
                        f"  slice {i} telemetry {'on ' if enabled else 'off'}: {r[0]:.2f} % CPU,"
                        f" {r[1]:.0f} readings/s, {r[2]:.1f} live msg/s",
                        file=sys.stderr,
                    )
                    results[enabled].append(r)
    off = statistics.median(r[0] for r in results[False])
    on = statistics.median(r[0] for r in results[True])
    return {
        "cpu_percent_off": round(off, 2),
        "cpu_percent_on": round(on, 2),
        "ratio": round(on / off, 3) if off > 0 else None,
        "limit": 1.5,
        "live_per_s": round(statistics.median(r[2] for r in results[True]), 2),
        "readings_per_s": round(statistics.median(r[1] for r in results[True]), 1),
        "slices": args.slices,
        "seconds": args.seconds,
    }


def bench(args: argparse.Namespace) -> dict[str, object]:
    """Start the simulators' child, measure, clean up."""
    ports = Path(tempfile.mkdtemp(prefix="zg-pty-"))
    child = subprocess.Popen(
        [sys.executable, str(GAS_BENCH), "--serve", "winsen", "--ports", str(ports),
         "--hz", str(args.hz)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"simulator child failed to start: {line!r}")
        return asyncio.run(measure(args, ports))
    finally:
        child.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(5)
        if child.poll() is None:
            child.kill()
        for p in ports.iterdir():
            with contextlib.suppress(OSError):
                p.unlink()
        ports.rmdir()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the JSON result line last")
    ap.add_argument("--seconds", type=float, default=10.0, help="measuring window per slice")
    ap.add_argument("--slices", type=int, default=3, help="on/off pairs")
    ap.add_argument("--hz", type=float, default=10.0, help="per-sensor rate")
    args = ap.parse_args()
    if not LocalBroker.available():
        print("mosquitto is not installed", file=sys.stderr)
        raise SystemExit(2)
    result = bench(args)
    print(json.dumps(result) if args.json else result)


if __name__ == "__main__":
    main()
