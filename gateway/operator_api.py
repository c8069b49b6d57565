"""The local operator API: the daemon's typed JSON surface for the terminal screen and the CLI.

Served by the daemon on a Unix socket in the state directory (``operator_api.socket``, mode
0660) and, only when ``operator_api.tcp_port`` is set, on 127.0.0.1. Never on another address:
the API shows who is inside and arms the terminal for a leader's action, so it is local only.

``build_app(ctx)`` returns the aiohttp ``Application``; other modules (the kiosk page) mount
their own routes on the same app: ``app.router.add_get(...)`` before the runner starts, reading
the ``ServiceContext`` from ``app[CONTEXT]``. Every answer is JSON; a refusal carries the same
reason codes as the terminal and central (``edge.reasons``), each with zh-CN and English text:

    {"ok": false, "reasons": [{"code": "GAS_TEST_STALE", "zh": "...", "en": "..."}], ...}

Actions that need a person's authority (gas tests, start, break, resume, finish, everyone-out,
close) are not done by the caller of the API: the call arms the zone terminal, and the action
is taken by the next badge tap there, with the face check, as the person named on the permit.
See docs/operator-api.md for every endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.effects import CommandRejected
from edge.models import EventKind, GasTestSample, InstrumentKind
from edge.reasons import Lang as _Lang
from edge.reasons import ReasonCode, text
from edge.work_cycle import ArmedAction, CycleAction, GasTestRequest
from firmware_adapters.bilingual import BilingualValueError
from gateway.config_messages import pydantic_message
from gateway.stores import recent_alerts

if TYPE_CHECKING:
    from gateway.config import GatewayConfig
    from gateway.services import ServiceContext

log = logging.getLogger("zonegate.operator_api")

API_VERSION = "v1"
PREFIX = f"/api/{API_VERSION}"
SOCKET_NAME = "operator.sock"

CONTEXT: web.AppKey[ServiceContext] = web.AppKey("zonegate.context")
"""The daemon's ``ServiceContext``: ``request.app[CONTEXT]`` in a mounted handler."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def reason_entry(code: ReasonCode | str) -> dict[str, str]:
    """``{"code", "zh", "en"}`` for a reason code (unknown codes keep their code as text)."""
    try:
        rc = ReasonCode(str(code))
    except ValueError:
        return {"code": str(code), "zh": str(code), "en": str(code)}
    return {"code": rc.value, "zh": text(rc, _Lang.ZH), "en": text(rc, _Lang.EN)}


def refusal(
    status: int, codes: list[ReasonCode | str], detail: str = "", **extra: Any
) -> web.Response:
    """A JSON refusal listing every reason (HTTP 400 malformed, 404 unknown, 409 refused)."""
    body = {"ok": False, "reasons": [reason_entry(c) for c in codes], "detail": detail, **extra}
    return web.json_response(body, status=status, dumps=_dumps)


def ok(body: dict[str, Any]) -> web.Response:
    """A JSON success response: ``{"ok": true, **body}`` (HTTP 200)."""
    return web.json_response({"ok": True, **body}, dumps=_dumps)


def _dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False, default=str)


# -------------------------------------------------------------------------------- read-only


async def get_status(request: web.Request) -> web.Response:
    """The live daemon: zone, permits, presence, air, light, clock, link and sensor health."""
    ctx = request.app[CONTEXT]
    snap = ctx.controller.snapshot()
    health = ctx.controller.health
    return ok(
        {
            "running": True,
            "pid": os.getpid(),
            "device_id": ctx.config.device.device_id,
            **snap,
            "link": health.get("mqtt") or health.get("sync"),
            "sensors": health.get("gas"),
            "pending": {k.value: v for k, v in ctx.journal.pending_count().items()},
            # The same as `zonegate status` shows from the stores (the README promises them).
            "recent_alerts": recent_alerts(ctx.journal),
        }
    )


async def get_permits(request: web.Request) -> web.Response:
    """Every permit the zone holds, newest state (``?status=active`` filters)."""
    ctx = request.app[CONTEXT]
    wanted = request.query.get("status")
    permits = [
        p.model_dump(mode="json")
        for p in ctx.registry.permits()
        if wanted is None or p.status.value == wanted
    ]
    return ok({"permits": permits})


async def get_permit(request: web.Request) -> web.Response:
    """One permit, the people inside on it, and its journaled transitions (oldest first)."""
    ctx = request.app[CONTEXT]
    permit_id = request.match_info["permit_id"]
    permit = ctx.registry.permit(permit_id)
    if permit is None:
        return refusal(404, [ReasonCode.NO_PERMIT], f"no permit {permit_id}")
    history = [
        {
            "time": e.wall_time.isoformat(),
            "type": e.type,
            "from": e.payload.get("from"),
            "to": e.payload.get("to"),
            "actor": e.payload.get("actor"),
            "reason": e.payload.get("reason"),
            "evidence": e.payload.get("evidence"),
        }
        for e in ctx.journal.events(kind=EventKind.PERMIT)
        if e.payload.get("permit_id") == permit_id
    ]
    inside = [p for p in ctx.controller.inside() if p.get("permit_id") == permit_id]
    return ok({"permit": permit.model_dump(mode="json"), "inside": inside, "history": history})


async def get_reasons(request: web.Request) -> web.Response:
    """Every reason code with its zh-CN and English text (for the screen's own lookups)."""
    return ok({"reasons": [reason_entry(c) for c in ReasonCode]})


# -------------------------------------------------------------------------------- actions


class ActionRequest(BaseModel):
    """``POST /actions``: arm the terminal; the next badge tap does the action."""

    model_config = ConfigDict(extra="forbid")

    action: CycleAction
    permit_id: str | None = None
    timeout_s: float = Field(default=60.0, gt=0, le=300)


class GasTestApiRequest(BaseModel):
    """``POST /gas-tests``: arm the terminal for the analyst's tap, then record the test."""

    model_config = ConfigDict(extra="forbid")

    mode: InstrumentKind
    permit_id: str | None = None
    sample_point: str = Field(default="", max_length=200)
    instrument_id: str = Field(default="", max_length=64)
    samples: tuple[GasTestSample, ...] = Field(default=(), max_length=32)
    taken_at: datetime | None = None
    window_s: float = Field(default=10.0, gt=0, le=120, description="fixed: fresh window")
    timeout_s: float = Field(default=60.0, gt=0, le=300)

    @model_validator(mode="after")
    def _portable(self) -> GasTestApiRequest:
        if self.mode is InstrumentKind.PORTABLE:
            if not self.instrument_id or not self.samples:
                raise BilingualValueError(
                    "portable tests name the instrument_id and give samples",
                    "便携式检测须填写仪器编号 instrument_id 并给出检测数据 samples",
                )
            if self.taken_at is not None and self.taken_at.tzinfo is None:
                raise BilingualValueError(
                    "taken_at needs a timezone", "检测时间 taken_at 须带时区（如 +08:00）"
                )
        return self


_M = TypeVar("_M", bound=BaseModel)


async def _parsed(request: web.Request, model: type[_M]) -> _M | web.Response:
    """The request's JSON body as ``model``, or the 400 ``REQUEST_INVALID`` refusal to answer."""
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    try:
        return model.model_validate(body)
    except ValidationError as err:
        zh, en = _first_error(err)
        return refusal(400, [ReasonCode.REQUEST_INVALID], en, detail_zh=zh)


async def _json_body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except ValueError as err:
        return refusal(400, [ReasonCode.REQUEST_INVALID], f"not JSON: {err}")
    if not isinstance(body, dict):
        return refusal(400, [ReasonCode.REQUEST_INVALID], "body is not a JSON object")
    return body


def _unknown_permit(ctx: ServiceContext, permit_id: str | None) -> web.Response | None:
    """404 for a named permit this zone does not hold: the terminal is never armed for it (the
    next tap, perhaps a worker leaving, would otherwise be spent on an action that cannot
    happen)."""
    if permit_id is None:
        return None
    permit = ctx.registry.permit(permit_id)
    if permit is None or permit.zone_id != ctx.config.zone.zone_id:
        return refusal(404, [ReasonCode.NO_PERMIT], f"no permit {permit_id} in this zone")
    return None


async def _armed(ctx: ServiceContext, armed: ArmedAction, timeout_s: float) -> web.Response:
    """Arm the terminal, wait for the tap's outcome (or the timeout) and answer with it.

    The arm lives only as long as the call: when the caller goes away (the kiosk page reloaded,
    curl gave up) aiohttp cancels this handler (``handler_cancellation``) and ``finally``
    disarms, so the next worker's tap is their own again."""
    if (missing := _unknown_permit(ctx, armed.permit_id)) is not None:
        return missing
    try:
        ctx.controller.arm(armed)
    except CommandRejected as err:
        status = 503 if err.code == ReasonCode.TERMINAL_UNAVAILABLE else 409
        return refusal(status, [err.code], err.message)
    try:
        async with asyncio.timeout(timeout_s):
            outcome = await asyncio.shield(armed.done)
    except TimeoutError:
        ctx.controller.disarm(armed)
        if not armed.done.done():
            armed.done.cancel()
        return refusal(504, [ReasonCode.NO_TAP], f"nobody badged within {timeout_s:.0f} s")
    finally:
        ctx.controller.disarm(armed)
    body = outcome.model_dump(mode="json")
    body["reasons"] = [reason_entry(c) for c in outcome.reasons]
    return web.json_response(body, status=200 if outcome.ok else 409, dumps=_dumps)


async def post_action(request: web.Request) -> web.Response:
    """Arm the terminal for start / break / resume / finish / everyone_out / close."""
    ctx = request.app[CONTEXT]
    req = await _parsed(request, ActionRequest)
    if isinstance(req, web.Response):
        return req
    if req.action is CycleAction.GAS_TEST:
        return refusal(400, [ReasonCode.REQUEST_INVALID], "gas tests: POST /gas-tests")
    armed = ArmedAction(action=req.action, permit_id=req.permit_id)
    return await _armed(ctx, armed, req.timeout_s)


async def post_gas_test(request: web.Request) -> web.Response:
    """Arm the terminal for an analyst's gas test: portable readings or fresh fixed ones."""
    ctx = request.app[CONTEXT]
    req = await _parsed(request, GasTestApiRequest)
    if isinstance(req, web.Response):
        return req
    gas = GasTestRequest(
        instrument=req.mode,
        sample_point=req.sample_point,
        instrument_id=req.instrument_id,
        samples=req.samples,
        taken_at=req.taken_at,
        window_s=req.window_s,
    )
    armed = ArmedAction(action=CycleAction.GAS_TEST, permit_id=req.permit_id, gas=gas)
    return await _armed(ctx, armed, req.timeout_s + req.window_s)


async def get_gas_tests(request: web.Request) -> web.Response:
    """The zone's recent gas tests, newest first (as judged and recorded by the edge)."""
    ctx = request.app[CONTEXT]
    tests = ctx.registry.gas_tests(ctx.config.zone.zone_id)
    return ok({"gas_tests": [t.model_dump(mode="json") for t in tests]})


def _first_error(err: ValidationError) -> tuple[str, str]:
    """``(zh, en)`` of the first problem: ``loc: message``, 300 characters at most (the English
    is pydantic's message as before; the Chinese from ``gateway.config_messages``)."""
    e = err.errors()[0]
    where = ".".join(str(p) for p in e["loc"])
    zh, _ = pydantic_message(e)
    en = f"{where}: {e['msg']}"
    return (f"{where}：{zh}" if where else zh)[:300], en[:300]


def build_app(ctx: ServiceContext) -> web.Application:
    """The operator API application; mount more routes on it before it is served."""
    app = web.Application(client_max_size=64 * 1024)
    app[CONTEXT] = ctx
    app.router.add_get(f"{PREFIX}/status", get_status)
    app.router.add_get(f"{PREFIX}/permits", get_permits)
    app.router.add_get(f"{PREFIX}/permits/{{permit_id}}", get_permit)
    app.router.add_get(f"{PREFIX}/reasons", get_reasons)
    app.router.add_get(f"{PREFIX}/gas-tests", get_gas_tests)
    app.router.add_post(f"{PREFIX}/actions", post_action)
    app.router.add_post(f"{PREFIX}/gas-tests", post_gas_test)
    for mount in list(APP_MOUNTS):
        mount(app)
    return app


APP_MOUNTS: list[Callable[[web.Application], None]] = []
"""Functions that add routes to every app ``build_app`` makes (the kiosk registers here)."""


# -------------------------------------------------------------------------------- serving


def socket_path_for(config: GatewayConfig) -> Path:
    """Where the daemon of ``config`` serves the API."""
    return config.operator_api.socket or config.storage.state_dir / SOCKET_NAME


def socket_path(ctx: ServiceContext) -> Path:
    """Where this daemon's operator API socket is (see ``socket_path_for``)."""
    return socket_path_for(ctx.config)


class OperatorApiService:
    """Serves ``build_app(ctx)`` until cancelled; the daemon supervises it like any service."""

    name = "operator_api"

    def __init__(self, ctx: ServiceContext, app: web.Application | None = None) -> None:
        self.ctx = ctx
        self.app = app if app is not None else build_app(ctx)
        self.path = socket_path(ctx)
        self.serving = asyncio.Event()

    async def run(self) -> None:
        """Serve the API on its Unix socket (mode 0660) until cancelled; ``serving`` is set once
        it accepts calls. A stale socket file in the state directory is replaced."""
        cfg = self.ctx.config.operator_api
        # handler_cancellation: a caller that hangs up cancels its handler, which disarms the
        # terminal (aiohttp >= 3.9 lets handlers run on by default).
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, handler_cancellation=True
        )
        await runner.setup()
        try:
            # We hold the state directory's lock: a socket file left there is a dead daemon's.
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            await web.UnixSite(runner, str(self.path)).start()
            os.chmod(self.path, 0o660)
            where = [str(self.path)]
            if cfg.tcp_port is not None:
                await web.TCPSite(runner, "127.0.0.1", cfg.tcp_port).start()
                where.append(f"127.0.0.1:{cfg.tcp_port}")
            log.info("operator API on %s", ", ".join(where))
            self.ctx.health["operator_api"] = {"state": "running", "listening": where}
            self.serving.set()
            await asyncio.Event().wait()
        finally:
            self.serving.clear()
            await runner.cleanup()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def build_operator_api(ctx: ServiceContext) -> OperatorApiService | None:
    """The daemon's factory: None when ``operator_api.enabled`` is false."""
    if not ctx.config.operator_api.enabled:
        return None
    return OperatorApiService(ctx)


# -------------------------------------------------------------------------------- client


async def _request(
    path: Path, method: str, url: str, body: dict[str, Any] | None, timeout_s: float
) -> tuple[int, dict[str, Any]]:
    import aiohttp

    conn = aiohttp.UnixConnector(path=str(path))
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with (
        aiohttp.ClientSession(connector=conn, timeout=timeout) as session,
        session.request(method, f"http://zonegate{PREFIX}{url}", json=body) as resp,
    ):
        data: dict[str, Any] = await resp.json()
        return resp.status, data


def call(
    path: Path,
    method: str,
    url: str,
    body: dict[str, Any] | None = None,
    *,
    timeout_s: float = 10.0,
) -> tuple[int, dict[str, Any]]:
    """Blocking client for the CLI: ``(HTTP status, JSON body)``; raises ``OSError`` when no
    daemon listens on ``path`` and ``TimeoutError`` when it does not answer in time."""
    import aiohttp

    try:
        return asyncio.run(_request(path, method, url, body, timeout_s))
    except aiohttp.ClientConnectorError as err:
        raise ConnectionRefusedError(f"{path}: no daemon listening ({err})") from err
