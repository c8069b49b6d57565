"""Fleet benchmark: N simulated gateways on one mosquitto, ingested into PostgreSQL.

Each gateway is the real sync path (its own journal, ``Outbox``, ``Link``, client id and ACL
user; see ``tests/fleet.py``); the consumers are real ``zonegate central ingest`` processes of one
shared-subscription group. For each fleet size (``--gateways``, default 200 and 500):

- a live shift (``--seconds`` of Poisson events at ``--access-rate`` etc. per gateway): end-to-end
  latency from the gateway's journal commit (``wall_time``) to the row's insert in the ingest's
  committing transaction (``ingested_at``), p50 / p99; the broker's and the consumers' CPU as a
  share of one core; events/s ingested;
- a backlog drain: ``--backlog`` events per gateway journaled and published while the consumers
  are down (held in their persistent sessions), then the consumers start: ingest rate with 3
  consumers and with 1, and their ratio (scale-out).

At the end every event any gateway journaled is looked up in PostgreSQL: ``lost`` (missing) and
``duplicates`` (stored twice; the primary key makes this 0 by construction, counted anyway).
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cloud_sync.ingest.schema import migrate
from tests.fleet import FleetBroker, IngestProcesses, ShiftRates, SimGateway
from tests.postgres import TempPostgres


def log(msg: str) -> None:
    print(f"[fleet] {msg}", file=sys.stderr, flush=True)


async def wait_subscribed(consumers: IngestProcesses) -> None:
    # Other processes' logs: nothing to await but the files themselves.
    while not consumers.subscribed():  # noqa: ASYNC110
        await asyncio.sleep(0.1)


def cpu_s(consumers: IngestProcesses) -> float:
    return sum(_cpu(pid) for pid in consumers.pids())


def _cpu(pid: int) -> float:
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return float(t.user + t.system)


async def count(db: psycopg.AsyncConnection[Any], since: float | None = None) -> int:
    cur = await db.execute("SELECT count(*) FROM events")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def wait_count(db: psycopg.AsyncConnection[Any], target: int, timeout_s: float) -> float:
    """Wait until ``target`` events are stored; return the monotonic time it happened."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if await count(db) >= target:
            return time.monotonic()
        await asyncio.sleep(0.05)
    raise TimeoutError(f"only {await count(db)} of {target} events stored in {timeout_s:.0f}s")


async def run_size(
    n: int, args: argparse.Namespace, pg: TempPostgres, root: Path
) -> dict[str, Any]:
    directory = root / f"fleet-{n}"
    directory.mkdir()
    devices = [f"gw-{i:04d}" for i in range(n)]
    broker = FleetBroker(directory / "broker", devices, "site1")
    broker.start()

    def broker_cpu() -> float:
        return _cpu(broker.proc.pid) if broker.proc else 0.0

    rng = random.Random(args.seed)
    gateways = [
        SimGateway("site1", d, directory, broker.settings(d), random.Random(rng.random()))
        for d in devices
    ]
    out: dict[str, Any] = {"gateways": n}
    async with await psycopg.AsyncConnection.connect(pg.dsn, autocommit=True) as db:
        await migrate(db)
        await db.execute("TRUNCATE events, devices, permit_state, presence_state")
        consumers = IngestProcesses(broker, pg.dsn, directory, f"ingest{n}")
        consumers.start_many(3)
        await wait_subscribed(consumers)
        # ---- live shift
        rates = ShiftRates(args.access_rate, args.permit_rate, args.alarm_rate)
        runs = [asyncio.create_task(g.run(rates, args.seconds)) for g in gateways]
        t0, b0, c0 = time.monotonic(), broker_cpu(), cpu_s(consumers)
        await asyncio.sleep(args.seconds)
        journaled = sum(g.journaled for g in gateways)
        try:
            await wait_count(db, journaled, 120)
        except TimeoutError as err:
            log(str(err))
        wall = time.monotonic() - t0
        out["live_events"] = journaled
        out["live_events_per_s"] = round(journaled / args.seconds, 1)
        out["broker_cpu_pct"] = round(100 * (broker_cpu() - b0) / wall, 1)
        out["consumers_cpu_pct"] = round(100 * (cpu_s(consumers) - c0) / wall, 1)
        cur = await db.execute(
            "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP"
            " (ORDER BY extract(epoch FROM ingested_at - wall_time)) FROM events"
        )
        row = await cur.fetchone()
        p50, p99 = row[0] if row and row[0] else (None, None)
        out["e2e_p50_ms"] = round(p50 * 1000, 1) if p50 is not None else None
        out["e2e_p99_ms"] = round(p99 * 1000, 1) if p99 is not None else None
        log(f"{n} gateways live: {out}")
        # ---- backlog drains: 3 consumers, then 1
        for consumers_n in (3, 1):
            consumers.stop_all()
            group = f"drain{n}x{consumers_n}"
            consumers = IngestProcesses(broker, pg.dsn, directory, group)
            consumers.start_many(consumers_n)
            await wait_subscribed(consumers)
            consumers.stop_all()  # their sessions now hold everything published for the group
            before = await count(db)
            for g in gateways:
                for _ in range(args.backlog):
                    g.access_decision()
            target = before + n * args.backlog
            # The gateways' journals are polled: PUBACKs are stamped in them by their outboxes.
            while any(  # noqa: ASYNC110
                g.journal.pending_count()[lane]
                for g in gateways
                for lane in g.journal.pending_count()
            ):
                await asyncio.sleep(0.1)
            consumers = IngestProcesses(broker, pg.dsn, directory, group)
            consumers.start_many(consumers_n)
            # From the first stored row to the last: the consumers' start-up is not ingest.
            t0 = await wait_count(db, before + 1, 120)
            done = await wait_count(db, target, 300)
            rate = (n * args.backlog - 1) / max(done - t0, 1e-6)
            out[f"ingest_per_s_{consumers_n}_consumers"] = round(rate, 1)
            log(f"{n} gateways, {consumers_n} consumers: {rate:.0f} events/s")
        consumers.stop_all()
        out["scale_out_ratio_3_vs_1"] = round(
            out["ingest_per_s_3_consumers"] / out["ingest_per_s_1_consumers"], 2
        )
        for r in runs:
            r.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        expected: set[str] = set()
        for g in gateways:
            expected |= g.event_ids()
        cur = await db.execute("SELECT event_id::text FROM events")
        stored = [r[0] for r in await cur.fetchall()]
        out["journaled"] = len(expected)
        out["lost"] = len(expected - set(stored))
        out["duplicates"] = len(stored) - len(set(stored))
    for g in gateways:
        g.close()
    broker.stop()
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="zonegate-fleet-"))
    pg = TempPostgres()
    pg.start()
    try:
        results = [await run_size(n, args, pg, root) for n in args.gateways]
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
    return {
        "bench": "fleet",
        "consumers": 3,
        "seconds": args.seconds,
        "rates_per_gateway": {
            "access": args.access_rate,
            "permit": args.permit_rate,
            "alarm": args.alarm_rate,
        },
        "backlog_per_gateway": args.backlog,
        "sizes": results,
        "lost": sum(r["lost"] for r in results),
        "duplicates": sum(r["duplicates"] for r in results),
        "cpu_count": psutil.cpu_count(),
        "load_avg_1m": round(psutil.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gateways", type=int, nargs="+", default=[200, 500])
    ap.add_argument("--seconds", type=float, default=20.0, help="live shift length")
    ap.add_argument("--access-rate", type=float, default=0.5)
    ap.add_argument("--permit-rate", type=float, default=0.05)
    ap.add_argument("--alarm-rate", type=float, default=0.005)
    ap.add_argument("--backlog", type=int, default=50, help="events per gateway per drain")
    ap.add_argument("--seed", type=int, default=1130)
    ap.add_argument("--json", action="store_true", help="print only the JSON line on stdout")
    result = asyncio.run(main(ap.parse_args()))
    print(json.dumps(result))
