"""``zonegate central ...``: the reference central side on the command line.

    zonegate central keygen --out /etc/zonegate-central
    zonegate central sign permit_issue --key central.key --version 3 --body permit.json
    zonegate central publish permit_issue --key central.key --version 3 --body permit.json \\
        --host broker --ca ca.crt --user central --password-file pw --site s1 --device gw-1
    zonegate central watch --host broker --ca ca.crt --user central --password-file pw
    zonegate central docs --out docs/mqtt
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from cloud_sync.central import Fleet, publish_command, sign_command, watch
from cloud_sync.link import LinkSettings, tls_context
from cloud_sync.payloads import COMMAND_BODIES, EventMessage
from cloud_sync.signing import Signer, generate_keypair, load_private_key
from gateway.exitcodes import ExitCode


def register(subparsers: Any) -> None:
    """Add ``central`` and its subcommands to the ``zonegate`` parser."""
    central = subparsers.add_parser("central", help="reference central side: keys, commands, watch")
    sub = central.add_subparsers(dest="central_command", required=True, metavar="ACTION")

    p = sub.add_parser("keygen", help="generate central's Ed25519 key pair")
    p.add_argument("--out", type=Path, required=True, help="directory for central.key/.pub")
    p.add_argument("--name", default="central")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("sign", help="print a signed command envelope")
    _sign_args(p)
    p.set_defaults(func=cmd_sign)

    p = sub.add_parser("publish", help="sign (or take) a command, publish it, print the reply")
    _sign_args(p, envelope_ok=True)
    _broker_args(p)
    p.add_argument("--site", required=True)
    p.add_argument("--device", required=True)
    p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the reply")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("watch", help="live table of the fleet (deduplicated by event_id)")
    _broker_args(p)
    p.add_argument("--seconds", type=float, default=None, help="stop after this long")
    p.add_argument("--events", action="store_true", help="print each new event as a line")
    p.set_defaults(func=cmd_watch)

    from gateway import ingest_cli

    ingest_cli.register(sub, _broker_args, _settings)

    p = sub.add_parser("docs", help="write the MQTT topic pages and JSON Schemas")
    p.add_argument("--out", type=Path, default=Path("docs/mqtt"))
    p.add_argument(
        "--examples",
        type=Path,
        default=None,
        help="event examples from a test run (pytest --event-examples FILE); "
        "default: keep the ones under --out",
    )
    p.set_defaults(func=cmd_docs)


def _sign_args(p: argparse.ArgumentParser, *, envelope_ok: bool = False) -> None:
    p.add_argument("type", nargs="?", choices=sorted(COMMAND_BODIES), help="command type")
    p.add_argument("--key", type=Path, help="central's private key (PEM)")
    p.add_argument("--version", type=int, help="document version (must grow per document)")
    p.add_argument("--body", type=Path, help="JSON body file ('-' = stdin)")
    p.add_argument("--ttl", type=float, default=600.0, help="seconds until the command expires")
    if envelope_ok:
        p.add_argument("--envelope", type=Path, help="publish this already signed envelope")


def _broker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="localhost")
    p.add_argument(
        "--port", type=int, default=8884, help="the central listener of the shipped mosquitto.conf"
    )
    p.add_argument("--ca", type=Path, help="CA of the broker certificate (PEM)")
    p.add_argument("--no-tls", action="store_true", help="plain MQTT (loopback only)")
    p.add_argument("--user", default="central")
    p.add_argument("--password-file", type=Path)
    p.add_argument(
        "--client-id",
        default=None,
        help="MQTT client id; for watch, naming one makes the session persistent (a missed "
        "event waits at the broker), without it each watcher gets a unique clean session",
    )


def _settings(args: argparse.Namespace, default_id: str, *, persistent: bool) -> LinkSettings:
    password = None
    if args.password_file is not None:
        password = args.password_file.read_text(encoding="utf-8").splitlines()[0]
    return LinkSettings(
        host=args.host,
        port=args.port,
        client_id=args.client_id or default_id,
        tls_context=None if args.no_tls else tls_context(str(args.ca) if args.ca else None),
        username=args.user,
        password=password,
        clean_session=not persistent,
        backoff_initial_s=0.5,
        backoff_max_s=10.0,
    )


def _envelope(args: argparse.Namespace) -> dict[str, Any]:
    if getattr(args, "envelope", None) is not None:
        loaded: dict[str, Any] = json.loads(args.envelope.read_text(encoding="utf-8"))
        return loaded
    missing = [n for n in ("type", "key", "version", "body") if getattr(args, n) is None]
    if missing:
        raise ValueError("missing " + ", ".join(missing))
    text = sys.stdin.read() if str(args.body) == "-" else args.body.read_text(encoding="utf-8")
    # What the gateway would refuse is refused here, before anything is sent: a lifetime beyond
    # its cap for this type (CMD_TTL_TOO_LONG) or an envelope beyond its size (CMD_OVERSIZED).
    from cloud_sync.commands import max_ttl
    from cloud_sync.config import MqttConfig

    ttl, cap = timedelta(seconds=args.ttl), max_ttl(args.type)
    if ttl > cap:
        raise ValueError(
            f"--ttl {args.ttl} s is longer than a gateway accepts for {args.type} "
            f"({int(cap.total_seconds())} s): it would be refused CMD_TTL_TOO_LONG"
        )
    signer = Signer(load_private_key(args.key))
    envelope = sign_command(signer, args.type, json.loads(text), args.version, ttl=ttl)
    size, limit = len(json.dumps(envelope).encode()), MqttConfig().max_command_bytes
    if size > limit:
        raise ValueError(
            f"the signed command is {size} bytes, over the {limit} a gateway accepts by default "
            "(mqtt.max_command_bytes): it would be refused CMD_OVERSIZED; split it (e.g. a "
            "roster_update in parts)"
        )
    return envelope


def cmd_keygen(args: argparse.Namespace) -> int:
    """``zonegate central keygen``: write an Ed25519 key pair (private stays on central);
    exit 0."""
    key, pub = generate_keypair(args.out, args.name)
    print(f"private key: {key} (keep it on central only)\npublic key:  {pub} (copy to devices)")
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    """``zonegate central sign``: print one signed command envelope as JSON; exit 65 (DATA) when
    the body or key cannot be used."""
    try:
        print(json.dumps(_envelope(args), ensure_ascii=False))
    except (ValueError, OSError, TypeError) as err:
        print(f"cannot sign: {err}", file=sys.stderr)
        return ExitCode.DATA
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """``zonegate central publish``: sign a command, send it to one device over MQTT and print
    its reply; exit 65 for a bad body or key, non-zero when the device refused or did not
    answer."""
    try:
        envelope = _envelope(args)
        settings = _settings(args, f"central-cli-{args.device}", persistent=False)
    except (ValueError, OSError, TypeError) as err:
        print(f"cannot publish: {err}", file=sys.stderr)
        return ExitCode.DATA
    reply = asyncio.run(
        publish_command(settings, args.site, args.device, envelope, wait_reply_s=args.wait)
    )
    if reply is None:
        print(f"no reply within {args.wait}s (device offline? it gets the command on reconnect)")
        return 1
    print(reply.model_dump_json())
    return 0 if reply.accepted else 1


def cmd_watch(args: argparse.Namespace) -> int:
    """``zonegate central watch``: a live table of every gateway's state and events until
    Ctrl-C (exit 0). Without ``--client-id`` a clean session of its own."""
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    # Two watchers with one client id take each other over (the broker drops the older), so
    # without --client-id each watcher is its own clean session. A named one is persistent:
    # events sent while it is away wait for it at the broker (see docs/mqtt/README.md).
    named = args.client_id is not None
    unique = f"central-watch-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
    settings = _settings(args, unique, persistent=named)
    fleet = Fleet()
    console = Console()

    def table() -> Table:
        t = Table(title="zonegate fleet")
        for col in ("device", "state", "permits", "inside", "events", "recent alerts"):
            t.add_column(col)
        for row in fleet.rows():
            t.add_row(*row)
        return t

    def on_event(e: EventMessage) -> None:
        if args.events:
            console.print(f"{e.wall_time:%H:%M:%S} {e.kind.value:9} {e.type} seq={e.seq}")

    async def run() -> None:
        task = asyncio.create_task(watch(settings, fleet, on_event=on_event))
        try:
            with Live(table(), console=console, refresh_per_second=2) as live:
                loop = asyncio.get_running_loop()
                end = None if args.seconds is None else loop.time() + args.seconds
                while end is None or loop.time() < end:
                    await asyncio.sleep(0.5)
                    live.update(table())
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """``zonegate central docs``: write the MQTT contract (JSON Schemas, catalogue) to
    ``--out``; prints each path written; exit 0."""
    from cloud_sync.schema_docs import write_docs

    for path in write_docs(args.out, args.examples):
        print(path)
    return 0
