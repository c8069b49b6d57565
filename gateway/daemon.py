"""The gateway process: stores, the zone controller and every capability's service.

One TaskGroup owns every background loop. Each service runs under a supervisor that logs,
records the failure in ``health`` and restarts it with capped, jittered backoff: a loop never
dies silently (peer-lessons L5). SIGTERM starts a staged, time-boxed shutdown that logs whatever
is still running. systemd gets READY=1 once the stores are open and WATCHDOG=1 pings from the
event loop itself, so a blocked loop stops the pings and systemd restarts us.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import importlib
import logging
import os
import shutil
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from edge.clock import SystemClock
from edge.errors import StoreError
from edge.journal import JournalError
from edge.models import EventKind, EventType
from edge.registry import RegistryError
from edge.service import Service
from edge.telemetry import Telemetry
from firmware_adapters.backoff import RestartBackoff
from gateway.config import GatewayConfig
from gateway.errors import GatewayError
from gateway.exitcodes import ExitCode
from gateway.services import ServiceContext, system_clock, zone_controller
from gateway.stores import StoreRefused, open_stores, status_of_stores
from gateway.systemd_notify import Notifier, watchdog_interval_s
from gateway.version import VERSION

log = logging.getLogger("zonegate.daemon")


# Capability factories, imported lazily: a capability whose module is absent or not configured
# is simply not started. Order matters: evidence sources before the link that announces them.
SERVICE_FACTORIES: tuple[str, ...] = (
    "gateway.services:build_gas",
    "gateway.services:build_position",
    "gateway.services:build_identity",
    "gateway.services:build_terminal",
    "gateway.services:build_sync",
    "gateway.operator_api:build_operator_api",
    "gateway.kiosk.server:build_kiosk",
)


CAPABILITY_PACKAGES = frozenset({"edge", "cloud_sync", "firmware_adapters"})


class StartupError(GatewayError):
    """The gateway refuses to start; the message says what to fix.

    ``exit_code`` is the CLI's code for it: ``ExitCode.STORE`` when a store is damaged or
    missing, ``ExitCode.FAILED`` otherwise.
    """

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


LOCK_NAME = "zonegate.lock"


def acquire_state_lock(state_dir: Path) -> int:
    """Hold an exclusive lock on the state directory for the daemon's lifetime.

    Two processes writing one registry would overwrite each other's changes (TinyDB rewrites
    the whole file): a second daemon, or a technician tool, must see the lock and stop.
    """
    fd = os.open(state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StartupError(
            f"{state_dir}: another zonegate daemon is running on this state directory"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def daemon_running(state_dir: Path) -> bool:
    """True while a daemon holds ``state_dir``'s lock (technician tools refuse to write then)."""
    try:
        fd = os.open(state_dir / LOCK_NAME, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we may just have taken
    return False


RESERVE_NAME = "zonegate.reserve"


class DiskReserve:
    """A file of ``mb`` megabytes kept on the state filesystem and deleted the moment a write
    fails: the space it frees lets the gas alarm, the suspension and the storage alarm reach the
    disk even when something else filled it. Put back once there is room again."""

    def __init__(self, path: Path, mb: int) -> None:
        self.path = path
        self.mb = mb

    def held_mb(self) -> int:
        """Megabytes the reserve file holds now (0 when it is gone)."""
        try:
            return self.path.stat().st_size // 1_000_000
        except FileNotFoundError:
            return 0

    def ensure(self) -> bool:
        """Create the reserve if it is missing; False when there is no room for it."""
        if self.mb <= 0 or self.held_mb() >= self.mb:
            return True
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.mb * 1_000_000)  # real blocks, not a sparse file
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:
            with contextlib.suppress(OSError):
                self.path.unlink()
            log.warning("cannot hold a %d MB disk reserve at %s: %s", self.mb, self.path, err)
            return False
        return True

    def in_use(self) -> str | None:
        """Why the storage alarm stays up while the reserve is spent, or None."""
        if self.mb > 0 and self.held_mb() < self.mb:
            return f"the {self.mb} MB disk reserve is in use: free space on {self.path.parent}"
        return None

    def release(self) -> bool:
        """Delete the reserve; True when it held space to give back."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        log.error("disk reserve released (%s): a write failed for lack of space", self.path)
        return True


def free_mb(path: Path) -> float:
    """Free megabytes (10^6 bytes) on the filesystem that holds ``path`` (or would: the
    nearest existing parent is measured)."""
    probe = path
    while not probe.exists():
        probe = probe.parent
    return shutil.disk_usage(probe).free / 1_000_000


class Gateway:
    """``async with Gateway(cfg) as gw: await gw.run(stop)``."""

    def __init__(
        self,
        config: GatewayConfig,
        config_path: Path | None = None,
        *,
        clock: SystemClock | None = None,
        factories: tuple[str, ...] = SERVICE_FACTORIES,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.clock = clock or system_clock(config)
        self._factories = factories
        self.notifier = Notifier()
        self.services: list[Service] = []
        self.ready = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def __aenter__(self) -> Gateway:
        cfg = self.config
        state = cfg.storage.state_dir
        left = free_mb(state)
        if left < cfg.storage.min_free_mb:
            raise StartupError(
                f"{state}: only {left:.0f} MB free, below storage.min_free_mb="
                f"{cfg.storage.min_free_mb}: free disk space (old logs, journal retention)"
            )
        try:
            state.mkdir(parents=True, exist_ok=True)
            self._lock_fd = acquire_state_lock(state)
        except OSError as err:
            raise StartupError(str(err)) from err
        try:
            self._open_stores()
        except BaseException:
            os.close(self._lock_fd)
            raise
        # Created by the disk loop, in a thread: allocating and fsyncing 16 MB on a busy SD card
        # must not delay the start nor block the event loop.
        self.reserve = DiskReserve(state / RESERVE_NAME, cfg.storage.reserve_mb)
        self.controller = zone_controller(cfg, self.registry, self.journal, self.clock)
        self.ctx = ServiceContext(
            config=cfg,
            config_path=self.config_path,
            controller=self.controller,
            registry=self.registry,
            journal=self.journal,
            clock=self.clock,
            health=self.controller.health,
            telemetry=Telemetry(cfg.telemetry, self.journal, self.clock),
        )
        self.controller.on_storage_failure.append(self.reserve.release)
        self.controller.storage_guards.append(self.reserve.in_use)
        self.controller.begin_restart_wait(cfg.daemon.monitoring_grace_s)
        recovered = self.controller.reconcile()
        digest = hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:16]
        self.journal.append(
            EventKind.SYSTEM,
            EventType.DAEMON_STARTED,
            {
                "version": VERSION,
                "device_id": cfg.device.device_id,
                "config_sha256": digest,
                "recovered_permits": recovered,
                "clock": self.clock.trust().source,
            },
        )
        for spec in self._factories:
            service = self._build(spec)
            if service is not None:
                self.services.append(service)
        return self

    def _open_stores(self) -> None:
        cfg = self.config
        try:
            self.registry, self.journal = open_stores(
                cfg.registry_path, cfg.journal_path, self.clock, self.config_path
            )
        except (StoreRefused, RegistryError, JournalError, OSError) as err:
            raise StartupError(str(err), ExitCode.STORE) from err

    def _build(self, spec: str) -> Service | None:
        module_name, _, attr = spec.partition(":")
        module = importlib.import_module(module_name)
        factory: Callable[[ServiceContext], Service | None] = getattr(module, attr)
        try:
            return factory(self.ctx)
        except ModuleNotFoundError as err:
            # Each factory imports its capability lazily: a capability package left out of this
            # build is skipped; a missing third-party library is a broken install and stops us.
            if err.name is not None and err.name.split(".")[0] in CAPABILITY_PACKAGES:
                log.warning("%s: capability not installed (%s)", attr, err.name)
                return None
            raise
        except (ValueError, OSError) as err:
            # Unreadable key or password file, a port that cannot exist: say which capability.
            raise StartupError(f"{attr}: {err}") from err

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            self.journal.append(EventKind.SYSTEM, EventType.DAEMON_STOPPED, {"version": VERSION})
            self.journal.checkpoint()
        self.journal.close()
        self.registry.close()
        os.close(self._lock_fd)

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event) -> None:
        """Run every service and the housekeeping loops (expiry, disk, retention, watchdog)
        under supervision; READY=1 once serving, ``self.ready`` set; returns after ``stop`` is
        set and the staged shutdown ran. A crashing service is restarted, never fatal."""
        async with asyncio.TaskGroup() as tg:
            for service in self.services:
                self._tasks[service.name] = tg.create_task(
                    self._supervise(service.name, service.run), name=service.name
                )
            self._tasks["expiry"] = tg.create_task(
                self._supervise("expiry", self._expiry_loop), name="expiry"
            )
            self._tasks["disk"] = tg.create_task(
                self._supervise("disk", self._disk_loop), name="disk"
            )
            self._tasks["retention"] = tg.create_task(
                self._supervise("retention", self._retention_loop), name="retention"
            )
            interval = watchdog_interval_s()
            if interval is not None:
                self._tasks["watchdog"] = tg.create_task(self._watchdog(interval), name="watchdog")
            await self._await_serving()
            self.notifier.notify("READY=1", f"STATUS=zone {self.config.zone.zone_id} running")
            self.ready.set()
            log.info(
                "zonegate ready: zone %s, services: %s",
                self.config.zone.zone_id,
                ", ".join(s.name for s in self.services) or "none",
            )
            await stop.wait()
            self.notifier.notify("STOPPING=1")
            await self._shutdown()

    async def _await_serving(self, within_s: float = 10.0) -> None:
        """Services that listen (the operator API) say READY only once they accept calls, so a
        caller that saw "ready" can connect; one that cannot bind is logged, not waited for."""
        for service in self.services:
            serving = getattr(service, "serving", None)
            if not isinstance(serving, asyncio.Event):
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within_s):
                    await serving.wait()
            if not serving.is_set():
                log.error("%s not serving after %.0f s", service.name, within_s)

    async def _shutdown(self) -> None:
        """Stop services last-started first (the link goes before the sources), each time-boxed."""
        budget = self.config.daemon.shutdown_timeout_s
        for name in reversed(list(self._tasks)):
            task = self._tasks[name]
            if task.done():
                continue
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=budget)
            if not done:
                log.error("shutdown: %s still running after %.0f s", name, budget)
        log.info("zonegate stopped")

    async def _supervise(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        # A run of a minute or more proves the service healthy and restarts the backoff.
        backoff = RestartBackoff(initial_s=1.0, cap_s=60.0, healthy_after_s=60.0)
        while True:
            backoff.started()
            try:
                self.controller.health.setdefault(name, {})["state"] = "running"
                await run()
                log.warning("%s returned; restarting", name)
            except asyncio.CancelledError:
                self.controller.health.setdefault(name, {})["state"] = "stopped"
                raise
            except StoreError as err:
                # A full or failing disk: the controller holds the storage alarm; one line here,
                # not a traceback per restart.
                log.error("%s failed: %s; restarting", name, err)  # noqa: TRY400
                self.controller.health[name] = {"state": "failed", "error": str(err)}
                self.controller.storage_failed(err, f"service {name}")
            except Exception as err:
                log.exception("%s failed; restarting", name)
                self.controller.health[name] = {"state": "failed", "error": repr(err)}
                with contextlib.suppress(Exception):
                    self.controller.fault(
                        EventType.SERVICE_FAILED, {"service": name, "error": repr(err)}
                    )
            await asyncio.sleep(backoff.next_delay())

    async def _expiry_loop(self) -> None:
        while True:
            self.controller.expire_due()
            await asyncio.sleep(self.config.daemon.expiry_check_s)

    async def _disk_loop(self) -> None:
        """Watch free space all the time (not only at start), retry what a full disk refused,
        and put the reserve back once there is room for it (issue 16.2)."""
        storage = self.config.storage
        warned = False
        while True:
            left = free_mb(storage.state_dir)
            low = left < storage.warn_free_mb
            self.controller.health["disk"] = {
                "free_mb": round(left, 1),
                "low": low,
                "reserve_mb": self.reserve.held_mb(),
            }
            if low and not warned:
                with contextlib.suppress(StoreError):  # the storage alarm covers a failure
                    self.controller.alert(
                        EventType.DISK_LOW,
                        {"free_mb": round(left), "path": str(storage.state_dir)},
                    )
            warned = low
            if self.reserve.in_use() and left > storage.min_free_mb + storage.reserve_mb:
                await asyncio.to_thread(self.reserve.ensure)
            if not self.controller.storage_ok:
                self.controller.retry_storage()
            await asyncio.sleep(storage.disk_check_s)

    async def _retention_loop(self) -> None:
        """Delivered rows older than the retention go; undelivered rows never do. The WAL is
        checkpointed so it does not grow on the SD card."""
        while True:
            cutoff = self.clock.wall() - timedelta(days=self.config.storage.retention_days)
            pruned = await asyncio.to_thread(self.journal.prune_delivered, cutoff)
            await asyncio.to_thread(self.journal.checkpoint)
            if pruned:
                log.info("retention: pruned %d delivered journal rows", pruned)
            await asyncio.sleep(3600)

    async def _watchdog(self, interval: float) -> None:
        # No pings while the journal cannot be written: systemd then restarts the daemon, which
        # refuses to start below storage.min_free_mb and says why (issue 16.2). The gas path
        # keeps acting in memory and on the outputs until then.
        silent = False
        while True:
            if self.controller.journal_writable:
                self.notifier.notify("WATCHDOG=1")
                silent = False
            elif not silent:
                log.error("watchdog pings withheld: the journal cannot be written")
                silent = True
            await asyncio.sleep(interval)


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set ``stop`` (the daemon then shuts down in stages)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def run_gateway(config: GatewayConfig, config_path: Path | None) -> None:
    """``zonegate run``: the gateway until SIGTERM/SIGINT. Raises ``StartupError`` when a
    store or the config refuses to start (the CLI turns it into its exit code)."""
    stop = asyncio.Event()
    install_signal_handlers(stop)
    async with Gateway(config, config_path) as gw:
        await gw.run(stop)


def status_snapshot(config: GatewayConfig, config_path: Path | None = None) -> dict[str, Any]:
    """Read the stores without a running daemon (``zonegate status``); never raises for a
    damaged or missing store, whose problem and recovery step are in ``*_problems``."""
    clock = system_clock(config)
    return {
        "zone": config.zone.model_dump(mode="json"),
        **status_of_stores(config.registry_path, config.journal_path, clock, config_path),
        "clock": clock.trust().source,
    }
