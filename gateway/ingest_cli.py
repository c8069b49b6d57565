"""``zonegate central ingest`` and ``zonegate central roster-load``: the reference ingest.

    zonegate central ingest --dsn "host=db dbname=zonegate user=ingest" \\
        --host broker --ca ca.crt --user central --password-file pw --client-id ingest-1
    zonegate central roster-load roster.json --dsn "..."

Run several ``ingest`` processes with distinct, stable ``--client-id`` values and the same
``--group``: the broker shares the events among them. Each must be restarted with its own client
id after a crash (systemd ``Restart=always``): its broker session holds what it had not yet
acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any


def register(sub: Any, broker_args: Any, settings: Any) -> None:
    """Add ``ingest`` and ``roster-load`` under ``zonegate central``."""
    p = sub.add_parser("ingest", help="consume the fleet's events into PostgreSQL")
    broker_args(p)
    p.add_argument("--dsn", required=True, help="PostgreSQL connection string (libpq)")
    p.add_argument("--group", default="ingest", help="shared-subscription group name")
    p.add_argument("--batch", type=int, default=500, help="messages per transaction at most")
    p.add_argument("--telemetry", action="store_true", help="store telemetry too")
    p.add_argument(
        "--key", type=Path, help="central's private key: ask gateways to replay seq gaps"
    )
    p.add_argument("--gap-check-s", type=float, default=30.0, help="how often to look for gaps")
    p.add_argument(
        "--gap-grace-s", type=float, default=60.0, help="how old a hole must be to be a gap"
    )
    p.add_argument("--log-level", default="INFO")
    p.set_defaults(func=lambda a: cmd_ingest(a, settings))

    p = sub.add_parser("roster-load", help="load a roster document for certificate notices")
    p.add_argument("file", type=Path, help="roster_update body or a JSON list of workers")
    p.add_argument("--dsn", required=True)
    p.set_defaults(func=cmd_roster_load)


def cmd_ingest(args: argparse.Namespace, settings: Any) -> int:
    """``zonegate central ingest``: consume every gateway's events into PostgreSQL until
    SIGTERM/SIGINT (exit 0); exit 2 when the MQTT settings cannot be used."""
    from cloud_sync.ingest.consumer import Consumer, IngestSettings

    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        mqtt = settings(args, args.client_id or f"{args.group}-1", persistent=True)
    except (ValueError, OSError) as err:
        print(f"cannot start the ingest: {err}", file=sys.stderr)
        return 2
    requester = None
    if args.key is not None:
        from cloud_sync.ingest.replay import ReplayRequester
        from cloud_sync.signing import Signer, load_private_key

        try:
            # Its own client id: reusing the consumer's would take over its session.
            replay_mqtt = dataclasses.replace(
                mqtt, client_id=f"{mqtt.client_id}-replay", clean_session=True
            )
            requester = ReplayRequester(replay_mqtt, Signer(load_private_key(args.key)))
        except (ValueError, OSError) as err:
            print(f"cannot start the ingest: {args.key}: {err}", file=sys.stderr)
            return 2
    consumer = Consumer(
        IngestSettings(
            mqtt=mqtt,
            dsn=args.dsn,
            group=args.group,
            batch_max=args.batch,
            telemetry=args.telemetry,
            gap_check_s=args.gap_check_s,
            gap_grace_s=args.gap_grace_s,
        ),
        on_gap=None if requester is None else requester.request,
    )

    async def both() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(consumer.run(), name="ingest")
            if requester is not None:
                tg.create_task(requester.run(), name="ingest-replay")

    async def run() -> None:
        task = asyncio.create_task(both(), name="ingest-main")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run())
    return 0


def cmd_roster_load(args: argparse.Namespace) -> int:
    """``zonegate central roster-load``: load a roster document (a ``roster_update`` body or a
    JSON list of workers) into PostgreSQL for certificate notices; non-zero on a bad file."""
    import psycopg
    from pydantic import ValidationError

    from cloud_sync.ingest.roster import load_roster, parse_roster
    from cloud_sync.ingest.schema import migrate

    try:
        workers = parse_roster(json.loads(args.file.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as err:
        print(f"{args.file}: {err}", file=sys.stderr)
        return 65  # EX_DATAERR

    async def run() -> int:
        async with await psycopg.AsyncConnection.connect(args.dsn) as conn:
            await migrate(conn)
            return await load_roster(conn, workers, str(args.file))

    try:
        rows = asyncio.run(run())
    except psycopg.Error as err:
        print(f"database: {err}", file=sys.stderr)
        return 69  # EX_UNAVAILABLE
    print(f"{args.file}: {len(workers)} workers, {rows} certificates loaded")
    return 0
