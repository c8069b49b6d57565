"""``zonegate selftest``: does this gateway's hardware and plumbing work, and if not, why.

One check per configured capability, each ``pass`` / ``warn`` / ``fail`` / ``skipped`` with the
reason and the fix to try: every gas sensor answers with valid frames, the camera gives frames
with a face in them, gpsd gives a valid fix inside the zone, the broker takes the credentials
and its ACL lets this device read its own commands, the clock is trusted,
the disk has room and the stores are sound. A capability that is not configured is
``skipped``. Exit status is non-zero on any ``fail``; ``--json`` ends with one JSON object.

It refuses to run while a ``zonegate run`` uses the same config: a second reader on a sensor's
UART would steal the daemon's frames, and the daemon would suspend the zone's permits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.models import Reading
    from gateway.config import GatewayConfig

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_DAEMON_RUNNING = 3


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a check outcome, not a password
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass
class CheckResult:
    """One line of the self-test table."""

    name: str
    status: Status
    reason: str
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        return out


@dataclass(frozen=True)
class Budgets:
    """How long each kind of check may wait for its peer, seconds."""

    gas_s: float = 8.0
    gps_s: float = 15.0
    broker_s: float = 8.0
    camera_frames: int = 15
    tap_s: float = 30.0


# --------------------------------------------------------------------------------------------
# Local checks


def check_disk(cfg: GatewayConfig) -> CheckResult:
    from gateway.daemon import free_mb

    st = cfg.storage
    left = free_mb(st.state_dir)
    details = {
        "free_mb": round(left),
        "min_free_mb": st.min_free_mb,
        "warn_free_mb": st.warn_free_mb,
    }
    if left < st.min_free_mb:
        return CheckResult(
            "disk",
            Status.FAIL,
            f"{st.state_dir}: {left:.0f} MB free, below storage.min_free_mb={st.min_free_mb}: "
            "the daemon refuses to start",
            "free space (apt-get clean, journalctl --vacuum-size=100M) or a bigger SD card",
            details,
        )
    if left < st.warn_free_mb:
        return CheckResult(
            "disk",
            Status.WARN,
            f"{left:.0f} MB free, below storage.warn_free_mb={st.warn_free_mb}",
            "free space before it runs out; lower storage.retention_days",
            details,
        )
    return CheckResult("disk", Status.PASS, f"{left:.0f} MB free", details=details)


def check_clock(cfg: GatewayConfig, gps_offset_s: float | None = None) -> CheckResult:
    """Trusted wall time: NTP, or GPS time agreeing with the clock (``gps_offset_s``, measured
    by the GPS check over believable fixes), or the bench setting (a warning)."""
    from edge.clock import SystemClock

    clock = SystemClock(
        assume_trusted=cfg.clock.assume_trusted, gps_validity_s=cfg.clock.gps_validity_s
    )
    bound = cfg.gps.clock_bound_s
    gps_agrees = gps_offset_s is not None and abs(gps_offset_s) <= bound
    if gps_agrees:
        clock.mark_gps_synced()  # what the daemon's position service does on the same evidence
    trust = clock.trust()
    details: dict[str, Any] = {"source": trust.source, "gps_offset_s": gps_offset_s}
    if not trust.trusted:
        if gps_offset_s is not None:
            why = f"GPS time differs from the system clock by {gps_offset_s:.0f} s (> {bound} s)"
            fix = "set the clock (timedatectl set-time, or NTP); check the receiver's time"
        else:
            why = "not synchronised: no NTP, and no believable GPS time to compare with"
            fix = "timedatectl set-ntp true and check the network to an NTP server, or enable gps"
        return CheckResult(
            "clock", Status.FAIL, f"{why}: every permit would be refused", fix, details
        )
    if trust.source == "assumed":
        return CheckResult(
            "clock",
            Status.WARN,
            "trusted only because clock.assume_trusted is set (bench setting)",
            "set clock.assume_trusted: false and enable NTP before the gateway guards a zone",
            details,
        )
    return CheckResult("clock", Status.PASS, f"synchronised ({trust.source})", details=details)


def check_stores(cfg: GatewayConfig) -> CheckResult:
    from edge.clock import SystemClock
    from edge.journal import Journal, JournalError
    from edge.registry import Registry, RegistryError
    from gateway.provisioning import restore_state_ownership

    state = cfg.storage.state_dir
    probe = state
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        return CheckResult(
            "stores",
            Status.FAIL,
            f"{probe} is not writable by uid {os.getuid()}",
            "run as the zonegate user or fix ownership: systemd-tmpfiles --create zonegate.conf",
        )
    problems: list[str] = []
    try:
        if cfg.registry_path.exists():
            registry = Registry(cfg.registry_path)
            try:
                problems += registry.integrity_check()
            finally:
                registry.close()
        if cfg.journal_path.exists():
            journal = Journal(cfg.journal_path, SystemClock(), boot_id="selftest")
            try:
                problems += journal.integrity_check()
            finally:
                journal.close()
    except (RegistryError, JournalError, OSError) as err:
        problems.append(str(err))
    finally:
        restore_state_ownership(state)
    if problems:
        return CheckResult(
            "stores",
            Status.FAIL,
            f"{len(problems)} problem(s): {problems[0]}",
            "restore the state directory from a backup, or re-provision and re-sync from central",
            {"problems": problems},
        )
    return CheckResult("stores", Status.PASS, f"{state}: writable, registry and journal sound")


# --------------------------------------------------------------------------------------------
# Gas


async def check_gas(cfg: GatewayConfig, budget_s: float) -> list[CheckResult]:
    """Every configured sensor must deliver at least one valid frame within the budget."""
    if not cfg.gas.sensors:
        return [CheckResult("gas", Status.SKIPPED, "no gas sensors configured")]
    from edge.clock import SystemClock
    from firmware_adapters.gas.wiring import build_adapters

    adapters = build_adapters(cfg.gas, SystemClock())
    wanted = {s.id for s in cfg.gas.sensors}
    seen: dict[str, list[Reading]] = {sid: [] for sid in wanted}
    good: set[str] = set()
    all_good = asyncio.Event()

    def sink(reading: Reading) -> None:
        seen.setdefault(reading.sensor_id, []).append(reading)
        if reading.value is not None and not reading.fault and not reading.over_range:
            good.add(reading.sensor_id)
            if good >= wanted:
                all_good.set()

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(a.run(sink), name=f"selftest-gas-{a.name}") for a in adapters]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(budget_s):
                await all_good.wait()
        for t in tasks:
            t.cancel()

    results: list[CheckResult] = []
    for sensor in cfg.gas.sensors:
        adapter = next(a for a in adapters if sensor.id in a.sensor_ids)
        stats = adapter.stats.as_dict()
        results.append(
            _gas_result(sensor.id, sensor.port, seen.get(sensor.id, []), stats, budget_s)
        )
    return results


def _gas_result(
    sid: str, port: str, readings: list[Reading], stats: dict[str, Any], budget_s: float
) -> CheckResult:
    name = f"gas {sid}"
    details: dict[str, Any] = {"port": port, "readings": len(readings), "stats": stats}
    valid = [r for r in readings if r.value is not None and not r.fault and not r.over_range]
    if valid:
        last = valid[-1]
        details["last"] = {"gas": last.gas, "value": last.value, "unit": last.unit}
        text = f"{len(valid)} valid frame(s); last {last.gas} {last.value} {last.unit}"
        if last.warming_up:
            return CheckResult(
                name,
                Status.WARN,
                text + " (still warming up)",
                "wait for the warm-up to end before the first gas test",
                details,
            )
        return CheckResult(name, Status.PASS, text, details=details)
    if readings:
        if any(r.fault for r in readings):
            why, fix = "the sensor reports a fault", "replace or re-seat the sensor cell"
        elif any(r.over_range for r in readings):
            why, fix = "readings are over range", "check the sensor in clean air; recalibrate"
        else:
            why, fix = "frames carry no usable value", "check the sensor model and unit in gas:"
        return CheckResult(
            name, Status.FAIL, f"{len(readings)} frame(s), none valid: {why}", fix, details
        )
    if not stats.get("opens"):
        return CheckResult(
            name,
            Status.FAIL,
            f"cannot open {port}: {stats.get('last_error') or 'no such port'}",
            "check the cable / USB adapter and the port name (ls /dev/serial/by-id); the "
            "zonegate user needs the dialout group",
            details,
        )
    if stats.get("checksum_errors") or stats.get("framing_errors"):
        return CheckResult(
            name,
            Status.FAIL,
            f"no valid frame in {budget_s:.0f} s: {stats.get('checksum_errors', 0)} checksum and "
            f"{stats.get('framing_errors', 0)} framing error(s)",
            "wrong baud rate or protocol (type/model in gas:), swapped A/B on RS-485, or noise",
            details,
        )
    if stats.get("rejected_frames"):
        return CheckResult(
            name,
            Status.FAIL,
            f"{stats['rejected_frames']} frame(s) rejected (another gas or unit than configured)",
            "set gas: / unit: to what this module measures",
            details,
        )
    if stats.get("read_errors"):
        return CheckResult(
            name,
            Status.FAIL,
            f"{stats['read_errors']} Modbus read error(s): {stats.get('last_error')}",
            "check the slave address, baud rate, parity and the register map",
            details,
        )
    return CheckResult(
        name,
        Status.FAIL,
        f"{port} opened but the sensor sent nothing in {budget_s:.0f} s",
        "check power and TX/RX wiring; a Q&A-mode sensor needs mode: qa",
        details,
    )


# --------------------------------------------------------------------------------------------
# GPS


async def check_gps(cfg: GatewayConfig, budget_s: float) -> CheckResult:
    """gpsd gives a fix that passes the daemon's gate, and it is inside the zone's fence."""
    if not cfg.gps.enabled:
        return CheckResult("gps", Status.SKIPPED, "gps.enabled is false")
    from edge.clock import SystemClock
    from edge.geofence import FenceState, GeofencePolicy
    from firmware_adapters.gps.client import GpsdClient, Sky

    g = cfg.gps
    fence = cfg.zone.geofence
    policy = GeofencePolicy(g, fence, SystemClock())
    tracker = policy.tracker
    client = GpsdClient(
        g.host,
        g.port,
        receive_timeout_s=g.receive_timeout_s,
        backoff_initial_s=min(g.reconnect_initial_s, 0.5),
        backoff_max_s=min(g.reconnect_max_s, 2.0),
    )
    distance: float | None = None
    offset: float | None = None
    with contextlib.suppress(TimeoutError):
        async with (
            asyncio.timeout(budget_s),
            contextlib.aclosing(client.reports()) as reports,
        ):
            async for report in reports:
                if isinstance(report, Sky):
                    continue
                out = policy.update(report)
                if out.signed_distance_m is not None:
                    distance = out.signed_distance_m
                if out.accepted and tracker.gps_time_believable and report.time is not None:
                    # As edge.position does: the wall time the report arrived minus GPS time.
                    received = time.time() - (time.monotonic() - report.mono_ts)
                    offset = round(received - report.time.timestamp(), 3)
                settled = (
                    tracker.valid if fence is None else tracker.state is not FenceState.UNKNOWN
                )
                if settled and offset is not None:
                    break
    details: dict[str, Any] = {
        "gpsd": f"{g.host}:{g.port}",
        "tpv": client.stats.tpv,
        **tracker.summary(),
        "signed_distance_m": None if distance is None else round(distance, 1),
        "clock_offset_s": offset,
    }
    if not client.stats.connects:
        return CheckResult(
            "gps",
            Status.FAIL,
            f"gpsd not reachable at {g.host}:{g.port}: {client.stats.last_error or 'no answer'}",
            "systemctl status gpsd; DEVICES= in /etc/default/gpsd names the receiver",
            details,
        )
    if not tracker.valid:
        rejected = ", ".join(f"{k} x{v}" for k, v in tracker.summary()["rejected"].items())
        return CheckResult(
            "gps",
            Status.FAIL,
            f"no valid fix in {budget_s:.0f} s ({client.stats.tpv} reports"
            + (f"; rejected: {rejected}" if rejected else "")
            + ")",
            "give the antenna open sky; wait for a cold start (up to a few minutes); "
            "gps.max_eph_m / gps.min_mode decide what counts as valid",
            details,
        )
    if fence is None:
        return CheckResult(
            "gps", Status.PASS, "valid fix (no zone fence configured)", details=details
        )
    if tracker.state is FenceState.INSIDE:
        return CheckResult("gps", Status.PASS, "valid fix inside the zone fence", details=details)
    if tracker.state is FenceState.OUTSIDE:
        # signed distance: positive inside, negative outside the boundary
        how_far = f" by {-distance:.0f} m" if distance is not None else ""
        return CheckResult(
            "gps",
            Status.FAIL,
            f"valid fix OUTSIDE the zone fence{how_far}",
            "is this terminal at its zone? otherwise correct zone.geofence",
            details,
        )
    return CheckResult(
        "gps",
        Status.FAIL,
        f"valid fixes but the position did not settle in {budget_s:.0f} s "
        f"(dwell needs {g.dwell_samples} agreeing fixes)",
        "wait for a steadier fix and run selftest again",
        details,
    )


# --------------------------------------------------------------------------------------------
# Broker


def credential_path(path: Path, credentials_dir: Path) -> Path:
    """Where a technician finds a file the YAML names under the service's credentials dir."""
    from gateway.credentials import credential_path as resolve

    return resolve(path, credentials_dir)


async def check_broker(
    cfg: GatewayConfig, credentials_dir: Path, budget_s: float
) -> list[CheckResult]:
    m = cfg.mqtt
    if not m.enabled:
        return [CheckResult("broker", Status.SKIPPED, "mqtt.enabled is false")]
    from cloud_sync.link import tls_context
    from cloud_sync.signing import load_public_key
    from cloud_sync.topics import DeviceTopics

    results: list[CheckResult] = []
    assert m.central_public_key is not None  # enforced by MqttConfig when enabled
    key_path = credential_path(m.central_public_key, credentials_dir)
    try:
        load_public_key(key_path)
        results.append(CheckResult("central key", Status.PASS, f"Ed25519 public key {key_path}"))
    except (OSError, ValueError, TypeError) as err:
        results.append(
            CheckResult(
                "central key",
                Status.FAIL,
                f"{key_path}: {err}: no command from central can be verified",
                "zonegate provision --force --central-key central.pub (key from central; "
                "the device key is kept)",
            )
        )

    password: str | None = None
    try:
        if m.password_credential is not None:
            creds = Path(os.environ.get("CREDENTIALS_DIRECTORY") or credentials_dir)
            lines = (creds / m.password_credential).read_text(encoding="utf-8").splitlines()
            password = lines[0] if lines else ""
        elif m.password_file is not None:
            lines = m.password_file.read_text(encoding="utf-8").splitlines()
            password = lines[0] if lines else ""
    except OSError as err:
        results.append(
            CheckResult(
                "broker",
                Status.FAIL,
                f"cannot read the broker password: {err}",
                "run selftest as root (credentials are root-only) or re-run zonegate provision",
            )
        )
        return results

    topics = DeviceTopics(cfg.zone.site, cfg.device.device_id)
    details: dict[str, Any] = {"broker": f"{m.host}:{m.port}", "tls": m.tls, "user": m.username}
    from gateway.daemon import daemon_running

    if daemon_running(cfg.storage.state_dir):
        # A second connection as this user would take the running daemon's session over (the
        # shipped broker forces client id = user name): ask the daemon how its link is instead.
        results.append(await _link_of_running_daemon(cfg, details))
        return results
    try:
        ctx = (
            tls_context(
                str(m.ca_file) if m.ca_file else None,
                str(m.cert_file) if m.cert_file else None,
                str(m.key_file) if m.key_file else None,
            )
            if m.tls
            else None
        )
    except (OSError, ValueError) as err:
        results.append(
            CheckResult(
                "broker",
                Status.FAIL,
                f"TLS files unusable: {err}",
                "check mqtt.ca_file / cert_file / key_file",
                details,
            )
        )
        return results
    results.append(await _probe_broker(m, topics, password, ctx, budget_s, details))
    return results


async def _link_of_running_daemon(cfg: GatewayConfig, details: dict[str, Any]) -> CheckResult:
    """The broker check from the running daemon's own link (diagnosis code and words)."""
    from gateway.operator_api import call, socket_path_for

    try:
        code, body = await asyncio.to_thread(call, socket_path_for(cfg), "GET", "/status")
    except (OSError, TimeoutError) as err:
        return CheckResult(
            "broker",
            Status.WARN,
            f"the daemon is running but its operator API does not answer ({err}); the broker "
            "was not probed, so as not to take the daemon's session over",
            "zonegate status; or stop the daemon and run selftest again",
            details,
        )
    link = body.get("link") if code == 200 else None
    if not isinstance(link, dict) or "diagnosis" not in link:
        return CheckResult(
            "broker", Status.WARN, "the running daemon reports no link state yet", "", details
        )
    details.update({k: link.get(k) for k in ("diagnosis", "last_error", "rival_boot_id")})
    words = f"{link.get('diagnosis_zh')} / {link.get('diagnosis_en')}"
    if link.get("connected") and link.get("diagnosis") == "OK":
        return CheckResult(
            "broker", Status.PASS, f"the running daemon's link is up ({words})", "", details
        )
    return CheckResult(
        "broker",
        Status.FAIL,
        f"the running daemon's link: [{link.get('diagnosis')}] {words}; "
        f"last error: {link.get('last_error')}",
        "SESSION_TAKEN_OVER: give each gateway its own device id (re-provision the clone); "
        "otherwise see the broker log",
        details,
    )


async def _probe_broker(
    m: Any, topics: Any, password: str | None, ctx: Any, budget_s: float, details: dict[str, Any]
) -> CheckResult:
    import aiomqtt

    # Never the daemon's client id: the broker would drop the running daemon's session.
    client_id = f"{m.client_id or f'{topics.site}-{topics.device}'}-selftest"
    # Half the budget to connect and subscribe, the rest to see our own write come back.
    echo_s = max(budget_s / 2, 1.0)
    other = f"edge/v1/{topics.site}/zonegate-selftest-other/cmd/+"
    try:
        async with asyncio.timeout(budget_s):
            async with aiomqtt.Client(
                m.host,
                m.port,
                username=m.username,
                password=password,
                identifier=client_id,
                tls_context=ctx,
                timeout=budget_s,
            ) as client:
                own = await client.subscribe(topics.cmd_filter, qos=1)
                foreign = await client.subscribe(other, qos=1)
                written = await _write_echo(client, topics, echo_s)
    except TimeoutError:
        return CheckResult(
            "broker",
            Status.FAIL,
            f"no answer from {m.host}:{m.port} in {budget_s:.0f} s",
            "check the host, port and firewall; TLS on 8883, plain on 1883",
            details,
        )
    except aiomqtt.MqttError as err:
        text = str(err)
        low = text.lower()
        if "not authori" in low or "bad user" in low or "password" in low or "code:5" in low:
            return CheckResult(
                "broker",
                Status.FAIL,
                f"the broker refused user {m.username!r}: {text}",
                "the password must match the broker's (mosquitto_passwd); re-run "
                "zonegate provision --force with the right --broker-password-file "
                "(the device key is kept)",
                details,
            )
        if "certificate" in low or "ssl" in low or "tls" in low:
            return CheckResult(
                "broker",
                Status.FAIL,
                f"TLS handshake failed: {text}",
                "mqtt.ca_file must be the CA that signed the broker certificate",
                details,
            )
        return CheckResult(
            "broker",
            Status.FAIL,
            f"cannot connect to {m.host}:{m.port}: {text}",
            "is the broker running and reachable from here?",
            details,
        )
    own_ok = all(_granted(c) for c in own)
    foreign_ok = all(_granted(c) for c in foreign)
    details["acl"] = {
        "own_commands": own_ok,
        "other_device_commands": foreign_ok,
        "own_topics_writable": written,
    }
    if not own_ok:
        return CheckResult(
            "broker",
            Status.FAIL,
            f"connected, but the ACL refuses {topics.cmd_filter}: commands would never arrive",
            "add `pattern read edge/v1/+/%u/cmd/+` to the broker ACL and use the device id as "
            "the broker user name",
            details,
        )
    if not written:
        # mosquitto acknowledges a publish its ACL denies and drops it: without this check the
        # daemon would stamp every event delivered and lose it (see cloud_sync.link._announce).
        return CheckResult(
            "broker",
            Status.FAIL,
            f"connected as {m.username!r}, but what it wrote to {topics.status} never came "
            f"back: the broker does not let this user write under {topics.prefix}/, so every "
            "event would be acknowledged and lost",
            f"the broker user name must be the device id: set mqtt.username: {topics.device} "
            "and create that user on the broker (mosquitto_passwd), or grant it "
            "`pattern write edge/v1/+/%u/#`; then `zonegate provision --force "
            "--broker-username ...` if you prefer to re-provision (the device key is kept; "
            "never --rotate-key for this)",
            details,
        )
    # Mosquitto's acl_file grants every SUBACK and filters at delivery, so a granted foreign
    # subscription proves nothing there; a broker that refuses it at SUBACK proves the ACL.
    acl = (
        "others' commands refused"
        if not foreign_ok
        else "others' commands not refused at subscribe (the broker may filter at delivery)"
    )
    return CheckResult(
        "broker",
        Status.PASS,
        f"connected as {m.username!r}; ACL: own commands readable, own topics writable "
        f"(published and read back); {acl}",
        details=details,
    )


async def _write_echo(client: Any, topics: Any, budget_s: float) -> bool:
    """Publish a retained ``offline`` status (true: selftest runs only while the daemon is
    stopped) and wait to read it back: the only proof the ACL lets this user write."""
    from cloud_sync.payloads import Status as StatusPayload

    payload = (
        StatusPayload(
            state="offline",
            site=topics.site,
            device=topics.device,
            boot_id=f"selftest-{os.getpid()}-{time.monotonic_ns()}",
            connection=0,
        )
        .model_dump_json()
        .encode()
    )
    await client.subscribe(topics.status, qos=1)
    await client.publish(topics.status, payload, qos=1, retain=True)
    try:
        async with asyncio.timeout(budget_s):
            async for message in client.messages:
                if str(message.topic) == topics.status and message.payload == payload:
                    return True
    except TimeoutError:
        return False
    return False


def _granted(code: Any) -> bool:
    value = getattr(code, "value", code)
    return isinstance(value, int) and value < 0x80


# --------------------------------------------------------------------------------------------
# Camera and face


def check_camera(cfg: GatewayConfig, frames: int) -> CheckResult:
    """Blocking: open the camera, read frames until one holds a face. Run it in a thread."""
    ident = cfg.identity
    if not ident.enabled:
        return CheckResult("camera", Status.SKIPPED, "identity.enabled is false")
    from edge.identity.pipeline import FacePipeline, ModelsUnavailable
    from firmware_adapters.camera import CameraError
    from firmware_adapters.camera.config import build_camera

    camera = build_camera(ident.camera)
    details: dict[str, Any] = {"camera": ident.camera.type}
    try:
        pipeline = FacePipeline(ident)
        _ = pipeline.models  # detection only: no encoder is started for this check
    except ModelsUnavailable as err:
        return CheckResult(
            "camera",
            Status.FAIL,
            f"face models unavailable: {err}",
            "pip install dlib-bin face_recognition_models; face_recognition --no-deps",
            details,
        )
    read = 0
    try:
        camera.open()
        try:
            for _ in range(frames):
                frame = camera.read()
                read += 1
                if pipeline.detect(frame):
                    details.update(frames=read, size=[frame.width, frame.height])
                    return CheckResult(
                        "camera",
                        Status.PASS,
                        f"{frame.width}x{frame.height} frames; a face found in frame {read}",
                        details=details,
                    )
        finally:
            camera.close()
    except CameraError as err:
        return CheckResult(
            "camera",
            Status.FAIL,
            f"camera error after {read} frame(s): {err}",
            "check the ribbon cable / USB and identity.camera; the zonegate user needs video",
            details,
        )
    details["frames"] = read
    return CheckResult(
        "camera",
        Status.FAIL,
        f"{read} frame(s) but no face found",
        "stand in front of the camera in good light; check focus and identity.min_face_fraction",
        details,
    )


# --------------------------------------------------------------------------------------------
# All together


# --------------------------------------------------------------------------------------------
# Badge reader and outputs: a technician at the gateway confirms what only a person can see

Ask = Callable[[str], "bool | None"]
"""Ask the technician a yes/no question; None when nobody is there to answer (no terminal)."""


async def check_badge_reader(
    cfg: GatewayConfig, budget_s: float, ask: Ask | None, lang: str = "zh-CN"
) -> CheckResult:
    """The reader's port opens; with a technician present, a card tapped within the budget
    is read."""
    from firmware_adapters.badge.lines import BadgeReaderError, LineBadgeReader

    b = cfg.badge
    if b.type == "none" or b.port is None:
        return CheckResult("badge reader", Status.SKIPPED, "badge.type is none")
    reader = LineBadgeReader(b.port, baudrate=b.baudrate, serial_port=b.type == "serial")
    taps = reader.ids()
    details: dict[str, Any] = {"port": str(b.port), "type": b.type}
    zh = lang != "en"
    try:
        if ask is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.2):
                    await anext(taps)
            return CheckResult(
                "badge reader",
                Status.WARN,
                f"{b.port} opens; no tap test without a technician at the terminal",
                "run zonegate selftest on a terminal at the gateway and tap a card",
                details,
            )
        print(
            f"请在读卡器上刷一张卡（{budget_s:.0f} 秒内）"
            if zh
            else f"tap a card on the reader (within {budget_s:.0f} s)",
            flush=True,
        )
        try:
            async with asyncio.timeout(budget_s):
                badge = await anext(taps)
        except TimeoutError:
            return CheckResult(
                "badge reader",
                Status.FAIL,
                f"{b.port} opens but no card was read in {budget_s:.0f} s",
                "check the reader's power and cable; a keyboard-wedge reader must be bound to "
                "this port (badge.type: file); a serial one needs the right baudrate",
                details,
            )
        details["badge"] = badge
        return CheckResult("badge reader", Status.PASS, f"card {badge} read", details=details)
    except BadgeReaderError as err:
        return CheckResult(
            "badge reader",
            Status.FAIL,
            f"cannot open the reader: {err}",
            "check badge.port (ls /dev/serial/by-id) and that the zonegate user is in dialout",
            details,
        )
    finally:
        await taps.aclose()


PATTERN_STEP_S = 0.8


async def check_outputs(cfg: GatewayConfig, ask: Ask | None, lang: str = "zh-CN") -> CheckResult:
    """Run the test pattern (red, amber, green, buzzer, relay on and off) and ask the
    technician whether they saw and heard it; ends on red with the relay released (safe)."""
    from firmware_adapters.outputs.signals import Light
    from firmware_adapters.outputs.stacklight import OutputsError, StackLight

    o = cfg.outputs
    pins = {"red": o.red_pin, "amber": o.amber_pin, "green": o.green_pin}
    pins |= {"buzzer": o.buzzer_pin, "relay": o.relay_pin}
    details: dict[str, Any] = {"pins": pins, "mock": o.mock}
    try:
        light = StackLight(o)
    except OutputsError as err:
        return CheckResult(
            "outputs",
            Status.FAIL,
            str(err),
            "check the pin numbers in outputs:, and that the zonegate user is in gpio",
            details,
        )
    seen: list[dict[str, bool]] = []
    # Mock pins are read back, not watched: no need to hold each step.
    step = 0.0 if o.mock else PATTERN_STEP_S
    try:
        for lamp in (Light.RED, Light.AMBER, Light.GREEN):
            light.show(lamp, buzzer=False)  # green also closes the relay: the first click
            seen.append(light.state())
            await asyncio.sleep(step)  # long enough for a person to see each lamp
        light.show(Light.RED, buzzer=True)  # the relay releases: the second click
        seen.append(light.state())
        await asyncio.sleep(step / 2)
        light.show(Light.RED, buzzer=False)
    finally:
        light.close()
    details["read_back"] = seen
    if o.mock:
        return CheckResult(
            "outputs",
            Status.WARN,
            "outputs.mock is true: the pattern ran on gpiozero's mock pins, no lamp can light",
            "set outputs.mock: false on the Raspberry Pi",
            details,
        )
    if ask is None:
        return CheckResult(
            "outputs",
            Status.SKIPPED,
            "the test pattern ran; nobody at the terminal to confirm it",
            "run zonegate selftest on a terminal at the gateway and watch the stack light",
            details,
        )
    question = (
        "刚才红、黄、绿灯依次亮起，蜂鸣器响了一声，继电器咔嗒两声：都看到、听到了吗？"
        if lang != "en"
        else "did the red, amber and green lamps light in turn, the buzzer sound once and the "
        "relay click twice?"
    )
    answer = ask(question)
    if answer:
        return CheckResult("outputs", Status.PASS, "test pattern confirmed", details=details)
    return CheckResult(
        "outputs",
        Status.FAIL,
        "the technician did not see or hear the whole test pattern",
        f"check the wiring to BCM pins {pins}, the stack light's supply, and "
        "outputs.active_high / relay_active_high",
        details,
    )


def terminal_ask(question: str) -> bool | None:
    """Ask on the terminal; None when stdin is not one (nobody to answer)."""
    if not sys.stdin.isatty():
        return None
    while True:
        reply = input(f"{question} [y/n] ").strip().lower()
        if reply in ("y", "yes", "是", "对"):
            return True
        if reply in ("n", "no", "否", "不"):
            return False


async def run_selftest(
    cfg: GatewayConfig,
    *,
    credentials_dir: Path = Path("/etc/zonegate/credentials"),
    budgets: Budgets | None = None,
    ask: Ask | None = None,
    lang: str = "zh-CN",
) -> list[CheckResult]:
    """Run every check (the slow, networked ones concurrently) and return them in table order."""
    b = budgets or Budgets()
    results: list[CheckResult] = [check_disk(cfg), check_stores(cfg)]

    async def guarded(name: str, check: Awaitable[list[CheckResult]]) -> list[CheckResult]:
        try:
            return await check
        except Exception as err:  # a check that crashes is a failed check, not a crash
            return [CheckResult(name, Status.FAIL, f"check crashed: {err!r}", "report this bug")]

    async def one(check: Awaitable[CheckResult]) -> list[CheckResult]:
        return [await check]

    async with asyncio.TaskGroup() as tg:
        gas = tg.create_task(guarded("gas", check_gas(cfg, b.gas_s)))
        gps = tg.create_task(guarded("gps", one(check_gps(cfg, b.gps_s))))
        broker = tg.create_task(guarded("broker", check_broker(cfg, credentials_dir, b.broker_s)))
        camera = tg.create_task(
            guarded("camera", one(asyncio.to_thread(check_camera, cfg, b.camera_frames)))
        )
    for task in (gas, gps, camera, broker):
        results.extend(task.result())
    # With a person: one question at a time, after the unattended checks.
    results.append(await check_badge_reader(cfg, b.tap_s, ask, lang))
    results.append(await check_outputs(cfg, ask, lang))
    gps_offset = next((r.details.get("clock_offset_s") for r in results if r.name == "gps"), None)
    results.insert(1, check_clock(cfg, gps_offset))
    return results


_TABLE_WORDS = {
    "zh-CN": {
        "title": "zonegate 自检（{s:.1f} 秒）",
        "cols": ("检查项", "结果", "原因", "建议处理"),
        Status.PASS: "[green]通过[/]",
        Status.WARN: "[yellow]警告[/]",
        Status.FAIL: "[bold red]失败[/]",
        Status.SKIPPED: "[dim]跳过[/]",
        "ok": "全部通过（警告不影响运行）",
        "failed": "{n} 项失败：按“建议处理”修复后再运行 zonegate selftest",
    },
    "en": {
        "title": "zonegate selftest ({s:.1f} s)",
        "cols": ("check", "result", "reason", "fix to try"),
        Status.PASS: "[green]pass[/]",
        Status.WARN: "[yellow]warn[/]",
        Status.FAIL: "[bold red]FAIL[/]",
        Status.SKIPPED: "[dim]skipped[/]",
        "ok": "all checks passed (warnings do not stop the daemon)",
        "failed": "{n} check(s) failed: apply the fixes and run zonegate selftest again",
    },
}


def _print_table(results: list[CheckResult], elapsed: float, lang: str = "zh-CN") -> None:
    from rich.console import Console
    from rich.table import Table

    words: dict[Any, Any] = _TABLE_WORDS["en" if lang == "en" else "zh-CN"]
    table = Table(title=str(words["title"]).format(s=elapsed))
    for col in words["cols"]:
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(r.name, words[r.status], r.reason, r.fix)
    con = Console()
    con.print(table)
    failed = sum(r.status is Status.FAIL for r in results)
    con.print(str(words["failed"]).format(n=failed) if failed else words["ok"])


def cmd_selftest(args: argparse.Namespace) -> int:
    from gateway.config import ConfigError, load_config

    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        for issue in err.issues:
            print(issue, file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "config": str(args.config), "error": str(err)}))
        return EXIT_CONFIG
    from gateway.daemon import daemon_running

    if daemon_running(cfg.storage.state_dir):
        # Two readers on one UART steal each other's bytes: the daemon would see its sensors
        # go stale and suspend the zone's permits. The state directory's lock says so whatever
        # path the daemon was started with.
        message = (
            f"zonegate is running (state directory {cfg.storage.state_dir}) and holds "
            "the sensors and the camera; stop it first: sudo systemctl stop zonegate"
        )
        print(message, file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "config": str(args.config), "error": message}))
        return EXIT_DAEMON_RUNNING
    from gateway.phrasebook import pick_lang

    budgets = Budgets(
        gas_s=args.gas_seconds,
        gps_s=args.gps_seconds,
        broker_s=args.broker_seconds,
        tap_s=args.tap_seconds,
    )
    lang = pick_lang(args.lang, args.config).value
    ask = None if args.json or args.unattended else terminal_ask
    started = time.monotonic()
    results = asyncio.run(
        run_selftest(cfg, credentials_dir=args.credentials, budgets=budgets, ask=ask, lang=lang)
    )
    elapsed = time.monotonic() - started
    ok = not any(r.status is Status.FAIL for r in results)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": ok,
                    "config": str(args.config),
                    "seconds": round(elapsed, 1),
                    "checks": [r.as_dict() for r in results],
                },
                ensure_ascii=False,
                default=str,
            )
        )
    else:
        from gateway.phrasebook import pick_lang

        _print_table(results, elapsed, pick_lang(args.lang, args.config).value)
    return EXIT_OK if ok else EXIT_FAILED


def register(sub: Any) -> None:
    """Add ``selftest`` to the ``zonegate`` command."""
    p = sub.add_parser(
        "selftest",
        help="check sensors, camera, GPS, broker, clock and disk; non-zero exit on any failure",
        description="Check every configured capability; stop the daemon first (it holds the "
        "sensors and the camera). Run as root to read the broker credentials. Exit codes: "
        f"{EXIT_OK} all passed, {EXIT_FAILED} a check failed, {EXIT_CONFIG} config error, "
        f"{EXIT_DAEMON_RUNNING} the daemon is running.",
    )
    p.add_argument(
        "--config",
        "-c",
        type=Path,
        default=Path("/etc/zonegate/gateway.yaml"),
        help="gateway YAML (default /etc/zonegate/gateway.yaml)",
    )
    p.add_argument(
        "--credentials",
        type=Path,
        default=Path("/etc/zonegate/credentials"),
        help="credentials dir when not run by systemd (default /etc/zonegate/credentials)",
    )
    p.add_argument("--gas-seconds", type=float, default=8.0, help="wait for sensor frames")
    p.add_argument("--gps-seconds", type=float, default=15.0, help="wait for a settled fix")
    p.add_argument("--broker-seconds", type=float, default=8.0, help="wait for the broker")
    p.add_argument("--tap-seconds", type=float, default=30.0, help="wait for a card tap")
    p.add_argument(
        "--unattended",
        action="store_true",
        help="nobody at the terminal: no tap test, no question about the test pattern",
    )
    p.add_argument("--json", action="store_true", help="end with one JSON object on one line")
    from gateway.phrasebook import add_lang_arg

    add_lang_arg(p)
    p.set_defaults(func=cmd_selftest)


__all__ = ["Budgets", "CheckResult", "Status", "register", "run_selftest"]
