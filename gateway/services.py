"""The daemon's capability factories and the context they are built from.

Each factory takes the ``ServiceContext`` (the whole config, the stores, the zone controller),
may plug its evidence source into ``ctx.controller`` (``air``, ``position``, ``identity``) and
returns a ``Service`` for the daemon's TaskGroup, or None when the capability is not configured.
Each imports its capability lazily, so a capability whose packages are absent (no dlib on a
gateway without a camera) costs nothing and the rest still starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.clock import SystemClock
    from edge.journal import Journal
    from edge.models import Decision
    from edge.registry import Registry
    from edge.service import Service
    from edge.telemetry import Telemetry
    from edge.zone import ZoneController
    from gateway.config import GatewayConfig

log = logging.getLogger("zonegate.services")


@dataclass
class ServiceContext:
    """What every factory is built from: the loaded config, the open stores, the controller."""

    config: GatewayConfig
    config_path: Path | None
    controller: ZoneController
    registry: Registry
    journal: Journal
    clock: SystemClock
    health: dict[str, dict[str, object]] = field(default_factory=dict)
    """Per-service health, shown by ``zonegate status`` and in the MQTT birth snapshot."""
    tap_listeners: list[Callable[[str], None]] = field(default_factory=list)
    """Told of each badge read the terminal takes as a new tap (the kiosk screen)."""
    decision_listeners: list[Callable[[Decision], None]] = field(default_factory=list)
    """Told of each terminal decision once journaled (the kiosk screen, voice, buzzer)."""
    telemetry: Telemetry | None = None
    """Sensor readings downsampled for central: fed by the gas service, sent by the sync."""


def system_clock(config: GatewayConfig) -> SystemClock:
    """The wall clock with the trust rules of ``config.clock`` (assumed trust, GPS validity)."""
    from edge.clock import SystemClock

    return SystemClock(
        assume_trusted=config.clock.assume_trusted, gps_validity_s=config.clock.gps_validity_s
    )


def zone_controller(
    config: GatewayConfig, registry: Registry, journal: Journal, clock: SystemClock
) -> ZoneController:
    """The zone's controller on open stores, as ``config`` sets it up (zone, access rules,
    timezone, language): the daemon's, and the one the tools that write the stores with the
    daemon stopped (import-roster, bind-badges) journal through."""
    from edge.zone import ZoneController

    return ZoneController(
        zone=config.zone,
        registry=registry,
        journal=journal,
        clock=clock,
        access=config.access,
        timezone=config.device.timezone,
        language=config.device.language,
    )


def build_gas(ctx: ServiceContext) -> Service | None:
    """The daemon's factory: outputs always, the gas service when sensors are configured."""
    from edge.air import GasService
    from edge.models import EventType
    from firmware_adapters.outputs.stacklight import OutputsError, StackLight

    try:
        ctx.controller.annunciator = StackLight(ctx.config.outputs)
    except OutputsError as err:
        log.exception("keeping the recording annunciator")
        ctx.controller.fault(EventType.OUTPUTS_UNAVAILABLE, {"error": str(err)})
    if not ctx.config.gas.sensors:
        return None
    service = GasService(
        ctx.controller, ctx.config.gas, ctx.clock, health=ctx.health, telemetry=ctx.telemetry
    )
    ctx.controller.alarm_acknowledgers.append(service.acknowledge)
    # Gas tests are judged with the zone's configured limits; the fixed sensors take tests
    # on request at the terminal.
    ctx.controller.gas_limits = ctx.config.gas.limits
    ctx.controller.o2_high = service.engine.o2_high
    ctx.controller.fixed_gas_tester = service.fresh_gas_test
    return service


def build_position(ctx: ServiceContext) -> Service | None:
    """The daemon's factory: None when ``gps.enabled`` is false."""
    from edge.geofence import GeofencePolicy
    from edge.position import GpsService
    from firmware_adapters.gps.client import GpsdClient

    cfg = ctx.config.gps
    if not cfg.enabled:
        if ctx.config.zone.geofence is not None:
            log.warning("zone %s has a geofence but gps.enabled is false", ctx.config.zone.zone_id)
        return None
    policy = GeofencePolicy(cfg, ctx.config.zone.geofence, ctx.clock)
    ctx.controller.position = policy
    client = GpsdClient(
        cfg.host,
        cfg.port,
        receive_timeout_s=cfg.receive_timeout_s,
        backoff_initial_s=cfg.reconnect_initial_s,
        backoff_max_s=cfg.reconnect_max_s,
    )
    return GpsService(
        config=cfg,
        policy=policy,
        client=client,
        controller=ctx.controller,
        journal=ctx.journal,
        clock=ctx.clock,
        health=ctx.health,
    )


def build_identity(ctx: ServiceContext) -> Service | None:
    """Plug face verification into ``ctx.controller.identity``; None when disabled."""
    config = ctx.config.identity
    if not config.enabled:
        return None  # before any import: the face stack loads numpy, OpenCV and dlib
    from edge.identity.service import (
        IdentityService,
        IdentityUnavailable,
        build_verifier,
        open_store,
    )
    from edge.identity.store import StoreError
    from firmware_adapters.camera.config import build_camera
    from gateway.credentials import identity_with_key_found

    controller = ctx.controller
    try:
        state_dir = ctx.config.storage.state_dir
        store = open_store(identity_with_key_found(config, state_dir), state_dir)
    except (StoreError, OSError) as err:
        log.exception("face store unusable, every badge-in will be denied")
        controller.identity = IdentityUnavailable(str(err))
        ctx.health["identity"] = {"state": "unavailable", "error": str(err)}
        return None
    # Biometrics go with the roster entry (DESIGN invariant 7, PIPL Art. 47).
    controller.on_worker_removed.append(store.erase_worker)
    gone = store.retain(w.worker_id for w in ctx.registry.workers())
    if gone:
        log.info("erased face encodings of %d workers no longer on the roster", len(gone))
    verifier = build_verifier(config, store, build_camera(config.camera))
    controller.identity = verifier
    return IdentityService(verifier, ctx.health)


def build_terminal(ctx: ServiceContext) -> Service | None:
    """The daemon's factory for the terminal's badge reader: None when ``badge.type`` is none."""
    from edge.terminal import TerminalService
    from firmware_adapters.badge.config import BadgeConfig
    from firmware_adapters.badge.lines import LineBadgeReader

    cfg: BadgeConfig = ctx.config.badge
    if cfg.type == "none" or cfg.port is None:
        return None
    reader = LineBadgeReader(cfg.port, baudrate=cfg.baudrate, serial_port=cfg.type == "serial")
    ctx.controller.terminal_attached = True  # the operator API may arm it for an action
    # The listener lists are shared, not copied: the kiosk may be built after the terminal.
    return TerminalService(
        ctx.controller,
        reader,
        cfg.mode,
        debounce_s=cfg.debounce_s,
        on_tap=ctx.tap_listeners,
        on_decision=ctx.decision_listeners,
    )


def build_sync(ctx: ServiceContext) -> Service | None:
    """The daemon's factory: None when ``mqtt.enabled`` is false."""

    from cloud_sync.service import SyncService, link_settings
    from cloud_sync.signing import Verifier, load_public_key
    from cloud_sync.topics import DeviceTopics

    cfg = ctx.config.mqtt
    if not cfg.enabled:
        return None
    topics = DeviceTopics(ctx.config.zone.site, ctx.config.device.device_id)
    assert cfg.central_public_key is not None  # enforced by MqttConfig
    try:
        from gateway.credentials import credential_path

        # Outside systemd the key is found through $CREDENTIALS_DIRECTORY (README).
        verifier = Verifier(load_public_key(credential_path(cfg.central_public_key)))
    except (OSError, ValueError, TypeError) as err:
        raise ValueError(f"mqtt.central_public_key: {err}") from err
    return SyncService(
        cfg=cfg,
        settings=link_settings(cfg, topics),
        topics=topics,
        verifier=verifier,
        controller=ctx.controller,
        registry=ctx.registry,
        journal=ctx.journal,
        clock=ctx.clock,
        health=ctx.health,
        telemetry=ctx.telemetry,
    )
