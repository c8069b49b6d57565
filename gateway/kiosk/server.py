"""Serving the kiosk page: aiohttp routes, the daemon service, and its factory.

The page and its event stream are served on 127.0.0.1 only (Chromium on the same Pi opens
``http://127.0.0.1:PORT/``), mounted on the operator API's application
(``gateway.operator_api.build_app``) so the page's actions reach ``/api/v1/...`` on the same
origin. ``kiosk.lan_port`` adds a second, READ-ONLY listener on every address for a
supervisor's tablet: only the routes below (no operator API, nothing that acts), and it tells
the page to hide its buttons. Routes:

- ``GET /``: the page; ``GET /kiosk/static/...``: its CSS and JavaScript
- ``GET /kiosk/events``: the server-sent event stream (``gateway.kiosk.feed``)
- ``GET /kiosk/state``: the idle screen's state as one JSON object (benchmarks, debugging)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from edge.reasons import Lang, ReasonCode
from gateway.kiosk.config import KioskConfig
from gateway.kiosk.feed import CLOSE, KioskFeed, screen_state
from gateway.kiosk.guidance import next_step
from gateway.kiosk.voice import TapSignals, Voice
from gateway.operator_api import PREFIX, build_app

if TYPE_CHECKING:
    from edge.service import Service
    from gateway.services import ServiceContext

log = logging.getLogger("zonegate.kiosk")

FEED: web.AppKey[KioskFeed] = web.AppKey("zonegate.kiosk.feed")
CONFIG: web.AppKey[KioskConfig] = web.AppKey("zonegate.kiosk.config")
READONLY: web.AppKey[bool] = web.AppKey("zonegate.kiosk.readonly")
LANGUAGE: web.AppKey[str] = web.AppKey("zonegate.kiosk.language")

KEEPALIVE_S = 15.0  # a comment line this often keeps proxies and the browser from idling out
RETRY_MS = 1000  # the browser's reconnect delay after the daemon goes away


def static_dir() -> Path:
    """The page's files, shipped as package data (no build step)."""
    return Path(str(resources.files("gateway.kiosk") / "static"))


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(static_dir() / "index.html", headers={"Cache-Control": "no-cache"})


async def _state(request: web.Request) -> web.Response:
    feed = request.app[FEED]
    body = json.dumps(screen_state(feed.controller, feed.boot_id), ensure_ascii=False, default=str)
    return web.Response(text=body, content_type="application/json")


async def _events(request: web.Request) -> web.StreamResponse:
    feed = request.app[FEED]
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    cfg = request.app[CONFIG]
    queue = feed.subscribe(request.app[READONLY])
    settings = {
        "language": request.app[LANGUAGE],
        "decision_show_s": cfg.decision_show_s,
        "readonly": request.app[READONLY],
        # What to do next for every code, for answers that carry only the reason (actions).
        "next": {c.value: [next_step(c, Lang.ZH), next_step(c, Lang.EN)] for c in ReasonCode},
        # The touchscreen's action buttons, only where the operator API can arm the terminal.
        "actions": not request.app[READONLY] and _has_route(request.app, f"{PREFIX}/actions"),
    }
    try:
        await resp.write(f"retry: {RETRY_MS}\n".encode())
        await resp.write(b"event: settings\ndata: " + json.dumps(settings).encode() + b"\n\n")
        while True:
            try:
                async with asyncio.timeout(KEEPALIVE_S):
                    message = await queue.get()
            except TimeoutError:
                message = b": keepalive\n\n"
            if message == CLOSE:
                break
            await resp.write(message)
    except (ConnectionResetError, ConnectionError):
        pass  # the page went away; it reconnects by itself
    finally:
        feed.unsubscribe(queue)
    return resp


def _has_route(app: web.Application, path: str) -> bool:
    return any(r.canonical == path for r in app.router.resources())


def build_kiosk_app(
    feed: KioskFeed, cfg: KioskConfig, *, language: str, readonly: bool
) -> web.Application:
    """The kiosk's routes on their own app (read-only when ``readonly``: GETs only)."""
    app = web.Application(client_max_size=16 * 1024)
    mount_kiosk(app, feed, cfg, language=language, readonly=readonly)
    return app


def mount_kiosk(
    app: web.Application,
    feed: KioskFeed,
    cfg: KioskConfig,
    *,
    language: str,
    readonly: bool,
) -> None:
    """Add the page, its static files and its event stream to ``app``."""
    app[FEED] = feed
    app[CONFIG] = cfg
    app[READONLY] = readonly
    app[LANGUAGE] = language
    app.router.add_get("/", _index)
    app.router.add_get("/kiosk/events", _events)
    app.router.add_get("/kiosk/state", _state)
    app.router.add_static("/kiosk/static", static_dir(), append_version=False)


class KioskService:
    """Serves the page on loopback (and read-only on the LAN if configured); pushes the state
    once a second; prepares the voice prompts. The daemon supervises it like any service."""

    name = "kiosk"

    def __init__(
        self,
        ctx: ServiceContext,
        feed: KioskFeed,
        voice: Voice,
        signals: TapSignals,
    ) -> None:
        self.ctx = ctx
        self.cfg: KioskConfig = ctx.config.kiosk
        self.feed = feed
        self.voice = voice
        self.signals = signals
        self.language = self.cfg.language or ctx.config.device.language.value
        self.serving = asyncio.Event()

    async def run(self) -> None:
        """Serve the page (and the operator API on the same origin) on loopback, and read-only on
        ``kiosk.lan_port`` when set, until cancelled; ``serving`` is set once it listens.
        Raises ``OSError`` when a port cannot be bound (the daemon's supervisor retries)."""
        runners: list[web.AppRunner] = []
        try:
            where = []
            # The touchscreen's page and the operator API on one origin: the page's leader
            # actions call /api/v1/... there. Both stay on loopback.
            local = build_app(self.ctx)
            mount_kiosk(local, self.feed, self.cfg, language=self.language, readonly=False)
            runners.append(await self._serve(local, "127.0.0.1", self.cfg.port))
            where.append(f"http://127.0.0.1:{self.cfg.port}/")
            if self.cfg.lan_port is not None:
                lan = build_kiosk_app(self.feed, self.cfg, language=self.language, readonly=True)
                runners.append(await self._serve(lan, None, self.cfg.lan_port))
                where.append(f"read-only on port {self.cfg.lan_port}")
            log.info("kiosk page on %s", ", ".join(where))
            self.serving.set()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.voice.prepare(), name="kiosk-voice")
                tg.create_task(self._tick(where), name="kiosk-tick")
        finally:
            self.serving.clear()
            self.feed.close_all()
            for runner in runners:
                with contextlib.suppress(Exception):
                    await runner.cleanup()

    @staticmethod
    async def _serve(app: web.Application, host: str | None, port: int) -> web.AppRunner:
        # handler_cancellation: a page that reloads mid-action cancels its call, which disarms
        # the terminal (see gateway.operator_api._armed); a closed event stream stops at once.
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=2.0,
            handler_cancellation=True,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        return runner

    async def _tick(self, where: list[str]) -> None:
        while True:
            self.feed.push_state()
            self.ctx.health["kiosk"] = self.health(where)
            await asyncio.sleep(1.0)

    def health(self, where: list[str]) -> dict[str, Any]:
        """The kiosk's health entry: where it listens (``where``), pages, drops, voice, signals."""
        return {
            "state": "running",
            "listening": where,
            "pages": self.feed.pages,
            "dropped_pages": self.feed.dropped_pages,
            "voice": self.voice.health(),
            "signals": self.signals.health(),
        }


def build_kiosk(ctx: ServiceContext) -> Service | None:
    """The daemon's factory: None when ``kiosk.enabled`` is false."""
    cfg: KioskConfig = ctx.config.kiosk
    if not cfg.enabled:
        return None
    feed = KioskFeed(ctx.controller)
    ctx.controller.event_listeners.append(feed.on_event)
    ctx.tap_listeners.append(feed.on_tap)
    ctx.decision_listeners.append(feed.on_decision)
    voice = Voice(cfg.voice, ctx.config.storage.state_dir / "voice")
    signals = TapSignals(ctx.controller, voice, enabled=cfg.tap_buzzer)
    feed.decision_listeners.append(signals.on_decision)
    feed.alarm_listeners.append(signals.on_alarm)
    return KioskService(ctx, feed, voice, signals)
