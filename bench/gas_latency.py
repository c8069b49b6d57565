"""Gas benchmark: frame-to-suspension latency and the CPU cost of 16 sensors at 10 Hz.

``python bench/gas_latency.py --json`` prints human lines, then one JSON object as the last
line: ``p50_ms`` / ``p99_ms`` (last byte of the offending Winsen frame written to the pty until
the permit's suspension is committed: registry written and journal fsync'd, measured by a
journal listener), ``n``, ``cpu_percent_16_sensors_10hz`` (percent of one core used by the
gateway process reading 16 simulated Winsen sensors at 10 Hz each, steady state) and
``cpu_percent_16_modbus_10hz`` (16 Modbus slaves, one holding register each, served by one
pymodbus server, polled at 10 Hz). The simulators and the pymodbus server run in a child
process, so only the gateway's own work is counted. State lives in a temp dir on the real
disk (fsync included) unless ``--state-dir`` says otherwise.

Extra keys: ``detect_p50_ms`` / ``detect_p99_ms`` (frame written until the unsafe verdict
reaches ``ZoneController.on_air_verdict``: the adapter + exposure engine share, without the
controller's commit), ``max_ms``, ``cpu_seconds_measured``, ``cores``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from hot_work_permit import issue_hot_work_permit

from edge.air import GasService
from edge.clock import SystemClock
from edge.evidence import AirVerdict
from edge.gas_config import GasConfig
from edge.journal import Journal
from edge.models import Event, GasTest, GasTestSample, Permit, WorkKind, Zone
from edge.registry import Registry
from edge.zone import ZoneController
from firmware_adapters.gas.config import ModbusRtuConfig, WinsenZeConfig
from firmware_adapters.sim.modbus import ModbusSimulator
from firmware_adapters.sim.winsen import WinsenSimulator

ZONE = Zone(site="bench", zone_id="zb", work_kinds=(WorkKind.HOT_WORK,))
SENSORS = 16


class TimedController(ZoneController):
    """Notes when the gas service hands it an unsafe verdict (bench only)."""

    verdict_ns: list[int]

    def on_air_verdict(self, verdict: AirVerdict) -> list[Permit]:
        if not verdict.safe:
            self.verdict_ns.append(time.perf_counter_ns())
        return super().on_air_verdict(verdict)


def controller(state: Path, clock: SystemClock) -> TimedController:
    ctl = TimedController(
        zone=ZONE,
        registry=Registry(state / "registry.json"),
        journal=Journal(state / "journal.db", clock),
        clock=clock,
    )
    ctl.verdict_ns = []
    return ctl


# ------------------------------------------------------------------ latency


async def latency(state: Path, ports: Path, n: int) -> tuple[list[float], list[float]]:
    """(frame -> suspension committed, frame -> unsafe verdict reaches the controller), ms."""
    clock = SystemClock(assume_trusted=True)
    ctl = controller(state, clock)
    committed: asyncio.Queue[int] = asyncio.Queue()

    def on_event(ev: Event) -> None:
        if ev.type == "permit_suspend":
            committed.put_nowait(time.perf_counter_ns())

    ctl.event_listeners.append(on_event)
    cfg = GasConfig(
        sensors=(
            WinsenZeConfig(
                id="co1", port=str(ports / "ttyCO"), model="ze15", warmup_s=0, staleness_s=30
            ),
        )
    )
    issue_hot_work_permit(ctl)
    samples: list[float] = []
    detect: list[float] = []
    async with WinsenSimulator(ports / "ttyCO", fault_bit=True, value=1.0) as sim:
        sim.streaming = False  # every frame below is written on purpose
        service = GasService(ctl, cfg, clock)
        runner = asyncio.create_task(service.run())
        try:
            while service.readings == 0:
                sim.send_now(1.0)
                await asyncio.sleep(0.05)
            for i in range(n + 5):
                sim.send_now(1.0)  # clean air, then acknowledge, test and resume
                while not ctl.air.air_verdict().safe:  # noqa: ASYNC110 - a pty round trip
                    await asyncio.sleep(0.001)
                service.acknowledge("bench")
                ctl.record_gas_test(portable_test(ctl), "bench")
                if i == 0:
                    ctl.start_permit("DH-B", "bench", authorised=True)
                else:
                    ctl.resume_permit("DH-B", "bench", authorised=True)
                await asyncio.sleep(0.005)  # let the loop go idle, as between real frames
                ctl.verdict_ns.clear()
                sim.send_now(80.0)  # the offending frame
                written = sim.last_write_ns
                done = await asyncio.wait_for(committed.get(), 5.0)
                if i >= 5:  # the first few warm caches and the SQLite WAL
                    samples.append((done - written) / 1e6)
                    detect.append((ctl.verdict_ns[0] - written) / 1e6)
        finally:
            runner.cancel()
            await asyncio.wait({runner})
    ctl.journal.close()
    ctl.registry.close()
    return samples, detect


def portable_test(ctl: ZoneController) -> GasTest:
    """The analyst's portable test before each start / resume: the bench zone has only a CO
    sensor, and hot work needs a combustible reading too (GB 30871 §5.3.1, issue 17 item 3)."""
    return GasTest(
        zone_id=ctl.zone.zone_id,
        taken_at=ctl.clock.wall(),
        source="portable:bench",
        analyst="bench",
        samples=(
            GasTestSample(gas="lel", value=0.0, unit="%LEL"),
            GasTestSample(gas="co", value=1.0, unit="ppm"),
        ),
        passed=True,
    )


# ------------------------------------------------------------------ CPU


def serve(kind: str, ports: Path, count: int, hz: float) -> None:
    """Child process: the sensors' side (not measured)."""

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            if kind == "winsen":
                for i in range(count):
                    sim = WinsenSimulator(ports / f"ttyCO{i}", period_s=1 / hz, value=2.0 + i / 10)
                    await stack.enter_async_context(sim)
            else:
                mb = ModbusSimulator(ports / "rs485", list(range(1, count + 1)), baudrate=115200)
                await stack.enter_async_context(mb)
                for d in range(1, count + 1):
                    mb.set_value(d, 0, 2.0, scale=0.1)
            print("ready", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


async def cpu_percent(kind: str, ports: Path, state: Path, seconds: float, hz: float) -> float:
    child = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
        [sys.executable, __file__, "--serve", kind, "--ports", str(ports), "--hz", str(hz)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.to_thread(child.stdout.readline)
        if line.strip() != "ready":
            raise RuntimeError(f"simulator child failed to start: {line!r}")
        clock = SystemClock(assume_trusted=True)
        ctl = controller(state, clock)
        sensors: list[WinsenZeConfig | ModbusRtuConfig] = []
        for i in range(SENSORS):
            if kind == "winsen":
                sensors.append(
                    WinsenZeConfig(
                        id=f"co{i}", port=str(ports / f"ttyCO{i}"), model="ze07", warmup_s=0
                    )
                )
            else:
                sensors.append(
                    ModbusRtuConfig.model_validate(
                        {
                            "id": f"tx{i}",
                            "port": str(ports / "rs485"),
                            "baudrate": 115200,
                            "device_id": i + 1,
                            "poll_interval_s": 1 / hz,
                            "timeout_s": 0.2,
                            "warmup_s": 0,
                            "channels": [{"gas": "co", "unit": "ppm", "address": 0, "scale": 0.1}],
                        }
                    )
                )
        service = GasService(ctl, GasConfig(sensors=tuple(sensors)), clock)
        runner = asyncio.create_task(service.run())
        try:
            await asyncio.sleep(3.0)  # connect, first frames, caches: not steady state yet
            me = psutil.Process()
            t0, c0, r0 = time.monotonic(), me.cpu_times(), service.readings
            await asyncio.sleep(seconds)
            t1, c1, r1 = time.monotonic(), me.cpu_times(), service.readings
        finally:
            runner.cancel()
            await asyncio.wait({runner})
            ctl.journal.close()
            ctl.registry.close()
        rate = (r1 - r0) / (t1 - t0)
        expected = SENSORS * hz
        print(f"  {kind}: {rate:.1f} readings/s (expected {expected:.0f})", file=sys.stderr)
        if rate < 0.9 * expected:
            print(f"  WARNING: {kind} delivered below the nominal rate", file=sys.stderr)
        used = (c1.user - c0.user) + (c1.system - c0.system)
        return 100.0 * used / (t1 - t0)
    finally:
        child.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(5)
        if child.poll() is None:
            child.kill()


# ------------------------------------------------------------------ main


def remove_dir(path: Path) -> None:
    for p in path.iterdir():
        with contextlib.suppress(OSError):
            p.unlink()
    path.rmdir()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def bench(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="zg-bench-") as tmp:
        root = Path(args.state_dir) if args.state_dir else Path(tmp)
        ports = Path(tempfile.mkdtemp(prefix="zg-pty-"))
        try:
            (root / "lat").mkdir(parents=True, exist_ok=True)
            samples, detect = await latency(root / "lat", ports, args.n)
            print(
                f"latency over {len(samples)} suspensions: mean {statistics.fmean(samples):.2f} ms",
                file=sys.stderr,
            )
            cpu = {}
            for kind in ("winsen", "modbus"):
                (root / kind).mkdir(exist_ok=True)
                cpu[kind] = await cpu_percent(kind, ports, root / kind, args.seconds, args.hz)
        finally:
            remove_dir(ports)
    return {
        "p50_ms": round(percentile(samples, 50), 3),
        "p99_ms": round(percentile(samples, 99), 3),
        "n": len(samples),
        "cpu_percent_16_sensors_10hz": round(cpu["winsen"], 2),
        "cpu_percent_16_modbus_10hz": round(cpu["modbus"], 2),
        "max_ms": round(max(samples), 3),
        "detect_p50_ms": round(percentile(detect, 50), 3),
        "detect_p99_ms": round(percentile(detect, 99), 3),
        "cpu_seconds_measured": args.seconds,
        "cores": os.cpu_count(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the JSON result line last")
    ap.add_argument("--n", type=int, default=200, help="suspensions to time")
    ap.add_argument("--seconds", type=float, default=10.0, help="CPU measuring window per case")
    ap.add_argument("--hz", type=float, default=10.0, help="per-sensor rate for the CPU cases")
    ap.add_argument("--state-dir", default=None, help="registry/journal dir (default: temp)")
    ap.add_argument("--serve", choices=("winsen", "modbus"), help=argparse.SUPPRESS)
    ap.add_argument("--ports", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, Path(args.ports), SENSORS, args.hz)
        return
    result = asyncio.run(bench(args))
    if not args.json:
        for k, v in result.items():
            print(f"{k}: {v}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
