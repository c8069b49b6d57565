"""The demo's stage: the real parts it runs on and the public paths the story may use.

Processes and plumbing only: a private mosquitto, the gas simulators on ptys, gpsd fed by
gpsfake, the real gateway from a generated config, the terminal's badge reader (a FIFO), the
file camera's photo, central's signed commands and central's view of the events. What happens
on the stage is ``gateway.demo.scenario``.

Ctrl-C (SIGINT, to the whole terminal's process group) or SIGTERM stops the story and then the
stage in order (the gateway and its link before the broker), without a traceback; a second
Ctrl-C while stopping is only acknowledged (``run_interruptible``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from edge.models import Event, EventKind
from edge.zone import ZoneController
from gateway.config import parse_config
from gateway.daemon import Gateway
from gateway.errors import GatewayError

SITE = "demo-plant"
ZONE = "weld-bay-3"
LAT, LON = 31.2304, 121.4737  # where the demo's simulated GPS receiver stands
CENTRAL_CATCH_UP_S = 30.0
"""How long a step waits for central's view to show the events before it (then goes on)."""


def demo_config(state_dir: Path) -> dict[str, Any]:
    """The gateway's config for the demo (raw YAML dict), its state in ``state_dir``;
    ``demo_parts`` adds the sections of the parts this machine has (gas, gps, mqtt, identity)."""
    return {
        "device": {"device_id": "zg-demo-01", "timezone": "Asia/Shanghai"},
        "zone": {
            "site": SITE,
            "zone_id": ZONE,
            "name": "三号焊接区 Weld bay 3",
            "work_kinds": ["DHZY", "YXKJ"],
            "target_gas": {"name": "methane", "lel_vol_percent": 5.0},
        },
        "storage": {"state_dir": str(state_dir), "min_free_mb": 50, "warn_free_mb": 100},
        # The demo machine has no NTP sync to prove; permits need a trusted clock.
        "clock": {"assume_trusted": True},
        "daemon": {"expiry_check_s": 1, "log_level": "WARNING"},
        # Readings history every second instead of every minute, so even the short badge-only
        # demo (no photos beside the repository) journals some: the contract test run on its
        # capture expects a ``reading`` event, and a 5 s interval outlived a fast CI run.
        "telemetry": {"interval_s": 1, "journal_interval_s": 1},
        # The terminal's badge reader: a FIFO the demo writes badge lines into, as a
        # keyboard-wedge reader would (``start:CARD-1005`` is the leader's tap in start mode).
        # No debounce: each of the demo's badge lines is one deliberate read (a worker steps
        # out and back in within a second).
        "badge": {"type": "file", "port": str(state_dir / "badge.fifo"), "debounce_s": 0},
    }


class DemoUnavailable(GatewayError):
    """A part the demo cannot run without is missing on this machine."""


@dataclass
class Parts:
    """The real parts the demo runs on, each present when this machine has what it needs."""

    sims: Any = None  # firmware_adapters.sim.site.SimulatedSensors
    gps: Any = None  # firmware_adapters.gps.gpsfake.GpsFake
    broker: Any = None  # gateway.local_broker.LocalBroker
    signer: Any = None  # cloud_sync.signing.Signer (central's key)
    faces: bool = False
    notes: list[tuple[str, str]] = field(default_factory=list)  # (zh, en): what is left out


@contextlib.asynccontextmanager
async def demo_parts(state: Path, raw: dict[str, Any]) -> AsyncIterator[Parts]:
    """Start what this machine can run for real, and write its config sections into ``raw``.

    Always the gas simulators (pty files under ``state/dev``); gpsd through gpsfake, mosquitto
    and the photo camera when present (otherwise a note says what is left out). All are
    stopped when the block ends.
    """
    parts = Parts()
    async with contextlib.AsyncExitStack() as stack:
        from firmware_adapters.sim.site import SimulatedSensors

        (state / "dev").mkdir()
        parts.sims = await stack.enter_async_context(SimulatedSensors(state / "dev", period_s=0.2))
        raw["gas"] = parts.sims.gas_section(staleness_s=3.0)

        from firmware_adapters.gps.gpsfake import GpsFake, gpsfake_available

        if gpsfake_available():
            from firmware_adapters.gps.nmea_log import (
                SENTENCES_PER_EPOCH,
                stand_then_move,
                write_log,
            )

            (state / "gpsfake").mkdir()
            log = state / "gps.nmea"
            write_log(
                log,
                stand_then_move(LAT, LON, stand_s=900),
                start=datetime.now(UTC) + timedelta(seconds=1),
            )
            parts.gps = await stack.enter_async_context(
                GpsFake(log, state / "gpsfake", cycle_s=1 / SENTENCES_PER_EPOCH)
            )
            raw["zone"]["geofence"] = {
                "type": "circle",
                "center": {"lat": LAT, "lon": LON},
                "radius_m": 60,
            }
            raw["gps"] = {
                "enabled": True,
                "port": parts.gps.port,
                "dwell_samples": 2,
                "dwell_s": 1,
                "no_fix_after_s": 60,
                # gpsfake's replay may lag the wall clock by a few seconds.
                "clock_bound_s": 60,
            }
            parts.gps.release()
        else:
            parts.notes.append(
                (
                    "未安装 gpsd/gpsfake：本次演示不做定位检查",
                    "gpsd/gpsfake not installed: no position check in this demo",
                )
            )

        from gateway.local_broker import LocalBroker, demo_sync

        if LocalBroker.available():
            parts.broker = await stack.enter_async_context(LocalBroker())
            mqtt, parts.signer = demo_sync(parts.broker, state / "keys")
            raw["mqtt"] = mqtt.model_dump(mode="json", exclude_unset=True)
        else:
            parts.notes.append(
                (
                    "未安装 mosquitto：本次演示没有 MQTT 同步",
                    "mosquitto not installed: no MQTT sync",
                )
            )

        from gateway import face_demo

        if face_demo.photos_available():
            raw["identity"] = face_demo.demo_section()
            parts.faces = True
        else:
            parts.notes.append(
                (
                    "未找到共享照片：本次演示只刷卡，不做人脸核验",
                    "shared photos not found: badge-only identity in this demo",
                )
            )
        yield parts


class Waiter:
    """Await journal events by type (the controller's listeners), instead of sleeping."""

    def __init__(self, ctl: ZoneController) -> None:
        self.seen: list[Event] = []
        self._changed = asyncio.Event()
        ctl.event_listeners.append(self._on)

    def _on(self, ev: Event) -> None:
        self.seen.append(ev)
        self._changed.set()

    async def event(self, type_: str, after: int = 0, within_s: float = 20.0) -> Event:
        """The first event of ``type_`` after mark ``after``; ``TimeoutError`` after
        ``within_s`` seconds."""
        return await self.first((type_,), after, within_s)

    async def first(self, types: tuple[str, ...], after: int = 0, within_s: float = 20.0) -> Event:
        """The first event of any of ``types`` after mark ``after``; ``TimeoutError`` after
        ``within_s`` seconds."""
        async with asyncio.timeout(within_s):
            while True:
                for ev in self.seen[after:]:
                    if ev.type in types:
                        return ev
                self._changed.clear()
                await self._changed.wait()

    def mark(self) -> int:
        """A mark for ``event`` / ``first``: only events after it count."""
        return len(self.seen)


class CentralView:
    """Which journal events central's watcher has received (``seq`` -> type), to await."""

    def __init__(self) -> None:
        self.seqs: set[int] = set()
        self.types: dict[int, str] = {}
        self._changed = asyncio.Event()

    def saw(self, message: Any) -> None:
        """``print_events``' callback: one event central received (a ``EventMessage``)."""
        self.seqs.add(int(message.seq))
        self.types[int(message.seq)] = str(message.type)
        self._changed.set()

    async def saw_type(self, types: tuple[str, ...], after_seq: int, within_s: float) -> bool:
        """True once an event of one of ``types`` with a seq above ``after_seq`` arrived;
        False after ``within_s`` seconds."""
        try:
            async with asyncio.timeout(within_s):
                while not any(
                    seq > after_seq and kind in types for seq, kind in self.types.items()
                ):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    async def caught_up(self, seqs: set[int], within_s: float) -> bool:
        """True once every seq in ``seqs`` was received; False after ``within_s`` seconds."""
        try:
            async with asyncio.timeout(within_s):
                while not seqs <= self.seqs:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True


@dataclass
class Stage:
    """The running demo, and the only ways the story may act on it: a badge line at the
    terminal (with a face at the camera), a signed command from central, and waiting for
    journal events and for central's view. The controller is only listened to."""

    gateway: Gateway
    parts: Parts
    waiter: Waiter
    central: CentralView | None
    fifo: int
    versions: dict[str, int] = field(default_factory=dict)

    def service(self, type_name: str) -> Any:
        """The gateway's running service of that class name, or None (not configured)."""
        return next((s for s in self.gateway.services if type(s).__name__ == type_name), None)

    async def badge_line(
        self, text: str, face_of: str | None, wanted: tuple[str, ...], within_s: float = 30
    ) -> Event:
        """Write one badge line as the reader would, with worker ``face_of``'s photo in front
        of the camera (when the demo has faces), and return the first ``wanted`` journal event
        that follows (``TimeoutError`` after ``within_s`` seconds)."""
        from gateway import face_demo

        face = self.service("IdentityService") if self.parts.faces else None
        if face is not None and face_of is not None:
            face_demo.show(face, face_demo.tap_photo(face_of))
        mark = self.waiter.mark()
        try:
            os.write(self.fifo, f"{text}\n".encode())
            return await self.waiter.first(wanted, after=mark, within_s=within_s)
        finally:
            if face is not None:
                face_demo.show(face, None)

    async def central_command(self, type_: str, body: dict[str, Any], key: str) -> Any:
        """Send a command signed with central's key over MQTT; the device's reply
        (``cloud_sync.payloads`` reply, or None when none came). ``key`` names the document
        whose version counts up (roster, permit, ...)."""
        from cloud_sync.central import publish_command, sign_command

        if self.parts.broker is None or self.parts.signer is None:
            raise DemoUnavailable("the demo needs mosquitto (apt-get install mosquitto)")
        self.versions[key] = self.versions.get(key, 0) + 1
        device = self.gateway.config.device.device_id
        env = sign_command(self.parts.signer, type_, {"device": device, **body}, self.versions[key])
        before = max((ev.seq for ev in self.waiter.seen), default=0)
        if self.central is not None:
            before = max(before, *self.central.seqs, 0)
        reply = await publish_command(
            self.parts.broker.settings(f"demo-central-{key}-{self.versions[key]}"),
            SITE,
            device,
            env,
        )
        if self.central is not None and reply is not None:
            # The device journals the command's outcome (command_accepted / _rejected) as it
            # replies: wait for central to show it, so it stands above the reply's line and not
            # under the next step.
            outcome = ("command_accepted", "command_rejected")
            await self.central.saw_type(outcome, before, CENTRAL_CATCH_UP_S)
        return reply

    async def central_caught_up(self) -> None:
        """Wait until central's view shows every event journaled so far (readings aside), so
        that each ``⇢ [central]`` line is printed under the step that caused it. Without this
        a fast, badge-only run printed the gas alarm under the next step, "CO falls", and read
        as a second alarm. Gives up after ``CENTRAL_CATCH_UP_S`` (the story goes on)."""
        if self.central is None:
            return
        wanted = {ev.seq for ev in self.waiter.seen if ev.kind is not EventKind.TELEMETRY}
        await self.central.caught_up(wanted, CENTRAL_CATCH_UP_S)


@contextlib.contextmanager
def state_dir(keep: bool) -> Iterator[Path]:
    """A fresh temporary state directory, removed at the end unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix="zonegate-demo-"))
    try:
        yield path
    finally:
        if keep:
            print(f"demo state kept in {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def demo_logging(state: Path) -> Iterator[Path]:
    """The gateway's log during the demo: WARNING and above into ``state/demo.log`` (kept with
    ``--keep``), only errors on the terminal. The timeline already tells every refusal the
    gateway logs as a warning; printed raw between its lines, in the other language, they
    read as noise (a fresh-user finding)."""
    root = logging.getLogger()
    path = state / "demo.log"
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setLevel(logging.WARNING)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    to_terminal = logging.StreamHandler(sys.stderr)
    to_terminal.setLevel(logging.ERROR)
    to_terminal.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(to_file)
    root.addHandler(to_terminal)
    try:
        yield path
    finally:
        for handler in (to_file, to_terminal):
            root.removeHandler(handler)
            handler.close()


@contextlib.asynccontextmanager
async def running_stage(
    state: Path, print_central: Callable[[str], None], capture: Path | None = None
) -> AsyncIterator[Stage]:
    """Start the parts, central's watcher (and ``capture`` recorder), the gateway and the
    badge FIFO; stop them in the reverse order when the block ends, however it ends."""
    raw = demo_config(state)
    os.mkfifo(state / "badge.fifo")
    async with demo_parts(state, raw) as parts, contextlib.AsyncExitStack() as stack:
        with warnings.catch_warnings():
            # The demo's PMS5003 is knowingly an indicator only; the config says so.
            warnings.simplefilter("ignore")
            cfg = parse_config(yaml.safe_dump(raw, allow_unicode=True), "<demo>")
        tasks: list[asyncio.Task[None]] = []

        async def cancel_tasks() -> None:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        stack.push_async_callback(cancel_tasks)  # before the broker stops: no reconnect noise
        central: CentralView | None = None
        if parts.broker is not None:
            from gateway.local_broker import print_events, record_messages

            central = CentralView()
            ready = asyncio.Event()
            watcher = print_events(parts.broker, print_central, ready, seen=central.saw)
            tasks.append(asyncio.create_task(watcher, name="demo-central-watcher"))
            await asyncio.wait_for(ready.wait(), 10)
            if capture is not None:
                recorded = asyncio.Event()
                recorder = record_messages(parts.broker, capture, recorded)
                tasks.append(asyncio.create_task(recorder, name="demo-capture"))
                await asyncio.wait_for(recorded.wait(), 10)
        gw = await stack.enter_async_context(Gateway(cfg, None))
        waiter = Waiter(gw.controller)  # before anything runs: no event is missed
        stop = asyncio.Event()
        runner = asyncio.create_task(gw.run(stop), name="demo-gateway")

        async def stop_gateway() -> None:
            stop.set()
            await runner

        stack.push_async_callback(stop_gateway)
        await gw.ready.wait()
        # O_RDWR never blocks on a FIFO (Linux), unlike O_WRONLY before a reader opens it: no
        # thread parked in open() that a Ctrl-C could not stop. Holding both ends, the lines
        # wait in the pipe until the terminal's reader takes them.
        fifo = os.open(str(state / "badge.fifo"), os.O_RDWR)
        stack.callback(os.close, fifo)
        yield Stage(gw, parts, waiter, central, fifo)


async def run_interruptible(
    body: Callable[[], Awaitable[None]],
    on_stop: Callable[[], None],
    on_again: Callable[[], None],
) -> bool:
    """Run ``body``; the first SIGINT or SIGTERM cancels it (``on_stop`` is called) so that it
    stops in order, later ones only call ``on_again``. True when it was interrupted.

    asyncio.run's own Ctrl-C handling raises KeyboardInterrupt at the second press, in
    whatever callback runs then: that was the traceback after Ctrl-C.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(body())
    presses = 0

    def interrupted() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            on_stop()
            task.cancel()
        else:
            on_again()

    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, interrupted)
    try:
        await task
    except asyncio.CancelledError:
        if not presses:
            raise
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    return presses > 0
