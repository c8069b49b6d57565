"""A private mosquitto on a free loopback port, for the demo and quick trials.

Plain MQTT, anonymous, 127.0.0.1 only: never a production setup (see config/mosquitto/ for
that). ``demo_sync`` gives the gateway's MQTT section, central's signer and a watcher that
prints each event as central receives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from cloud_sync.central import Fleet, client_for, watch
from cloud_sync.config import MqttConfig
from cloud_sync.link import LinkSettings
from cloud_sync.payloads import EventMessage
from cloud_sync.signing import Signer, generate_keypair, load_private_key
from cloud_sync.topics import ROOT
from edge.models import EventKind
from gateway.errors import GatewayError

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _death_signal() -> Callable[[], None]:
    """A ``preexec_fn`` giving the child SIGTERM when the parent dies, however it dies (Linux
    ``prctl(PR_SET_PDEATHSIG)``). Out of the terminal's process group, the broker would
    otherwise outlive a demo killed by SIGKILL or a closed terminal. libc is loaded here, in
    the parent: the forked child only makes the call (no dlopen between fork and exec)."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return in_child


class BrokerUnavailable(GatewayError):
    """mosquitto is not installed or did not start."""


class LocalBroker:
    """``async with LocalBroker() as broker:`` runs mosquitto until the block ends."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: asyncio.subprocess.Process | None = None

    @staticmethod
    def available() -> bool:
        """True when a ``mosquitto`` executable is on the PATH."""
        return shutil.which("mosquitto") is not None

    async def __aenter__(self) -> LocalBroker:
        exe = shutil.which("mosquitto")
        if exe is None:
            raise BrokerUnavailable("mosquitto is not installed")
        with socket.socket() as s:
            s.bind((self.host, 0))
            self.port = int(s.getsockname()[1])
        self._dir = tempfile.TemporaryDirectory(prefix="zonegate-mqtt-")
        conf = Path(self._dir.name) / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} {self.host}\nallow_anonymous true\n"
            "max_queued_messages 0\nlog_dest none\n"
        )
        self._proc = await asyncio.create_subprocess_exec(
            exe,
            "-c",
            str(conf),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            # Its own process group: a terminal's Ctrl-C reaches the demo, which stops the
            # gateway's link first and this broker last. Killed with the broker underneath,
            # the MQTT clients printed tracebacks on the way out.
            process_group=0,
            preexec_fn=_death_signal(),
        )
        for _ in range(250):
            if self._proc.returncode is not None:
                break
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            return self
        await self.__aexit__(None, None, None)
        raise BrokerUnavailable(f"mosquitto did not start on {self.host}:{self.port}")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 5)
            if self._proc.returncode is None:
                self._proc.kill()
                await self._proc.wait()
        self._proc = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def settings(self, client_id: str) -> LinkSettings:
        """Link settings for a client of this broker named ``client_id`` (fast backoff)."""
        return LinkSettings(
            host=self.host,
            port=self.port,
            client_id=client_id,
            backoff_initial_s=0.1,
            backoff_max_s=1.0,
        )


def demo_sync(broker: LocalBroker, keys_dir: Path) -> tuple[MqttConfig, Signer]:
    """The gateway's ``mqtt`` section for ``broker`` and central's signer (fresh keys)."""
    private, public = generate_keypair(keys_dir)
    cfg = MqttConfig(
        enabled=True,
        host=broker.host,
        port=broker.port,
        tls=False,
        central_public_key=public,
        backoff_initial_s=0.1,
        backoff_max_s=1.0,
    )
    return cfg, Signer(load_private_key(private))


async def record_messages(broker: LocalBroker, path: Path, ready: asyncio.Event) -> None:
    """Every message under ``edge/v1/#`` as central receives it, one JSON line each
    (``topic``, ``retain``, ``payload`` as text), until cancelled: ``zonegate demo --capture``.

    A clean session of its own, subscribed before the gateway starts, so nothing is missed.
    """
    settings = broker.settings("demo-capture")
    with path.open("a", encoding="utf-8") as out:
        async with client_for(settings, clean_session=True) as client:
            await client.subscribe(f"{ROOT}/#", qos=1)
            ready.set()
            async for message in client.messages:
                raw = message.payload
                text = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
                line = {"topic": str(message.topic), "retain": message.retain, "payload": text}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                out.flush()


async def print_events(
    broker: LocalBroker,
    out: Callable[[str], None],
    ready: asyncio.Event | None = None,
    fleet: Fleet | None = None,
    seen: Callable[[EventMessage], None] | None = None,
) -> None:
    """Central's view for the demo: one line per new event (deduplicated), until cancelled;
    ``seen`` is told of every new event, readings included."""

    def line(e: EventMessage) -> None:
        if seen is not None:
            seen(e)
        if e.kind is EventKind.TELEMETRY:
            return  # readings would drown the timeline
        out(f"[central] {e.kind.value}/{e.type} seq={e.seq} ({e.lane.value})")

    await watch(broker.settings("demo-central"), fleet or Fleet(), on_event=line, ready=ready)
