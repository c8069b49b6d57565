"""Face verification wired into a real zone: enrol by the CLI, badge in, lockout, erasure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.clock import SystemClock
from edge.identity.service import IdentityService
from edge.identity.store import EncodingStore
from edge.journal import Journal
from edge.models import EventKind, Worker
from edge.reasons import ReasonCode
from edge.registry import Registry
from edge.zone import ZoneController
from firmware_adapters.camera.files import FileCamera
from gateway.cli import main as zonegate
from gateway.config import GatewayConfig, load_config
from gateway.exitcodes import ExitCode
from gateway.services import ServiceContext
from gateway.services import build_identity as build_service

CONFIG = """\
device:
  device_id: gate-1
zone:
  site: plant
  zone_id: z1
  work_kinds: [DHZY]
storage:
  state_dir: {state}
clock:
  assume_trusted: true
identity:
  enabled: true
  capture_timeout_s: 0.3
  camera:
    type: files
"""


@dataclass
class Site:
    config_path: Path
    config: GatewayConfig
    state: Path


@pytest.fixture
def site(tmp_path: Path) -> Site:
    state = tmp_path / "state"
    state.mkdir()
    path = tmp_path / "gateway.yaml"
    path.write_text(CONFIG.format(state=state), encoding="utf-8")
    cfg = load_config(path)
    registry = Registry(cfg.registry_path)
    for wid, name in [("W1", "Obama"), ("W2", "Biden")]:
        registry.put_worker(Worker(worker_id=wid, name=name, badge_ids=(f"B-{wid}",)))
    registry.close()
    return Site(path, cfg, state)


@dataclass
class Running:
    ctl: ZoneController
    service: IdentityService
    camera: FileCamera
    journal: Journal
    store: EncodingStore


@pytest.fixture
def running(site: Site, faces: Path) -> Iterator[Running]:
    for wid, photos in [
        ("W1", ["obama.jpg", "obama_knn_test1.jpg"]),
        ("W2", ["biden.jpg", "biden2.jpg"]),
    ]:
        args = ["enroll", wid, "--config", str(site.config_path), "--photos"]
        assert zonegate([*args, *(str(faces / p) for p in photos)]) == 0
    cfg = site.config
    clock = SystemClock(assume_trusted=True)
    registry = Registry(cfg.registry_path)
    journal = Journal(cfg.journal_path, clock)
    ctl = ZoneController(zone=cfg.zone, registry=registry, journal=journal, clock=clock)
    ctx = ServiceContext(cfg, site.config_path, ctl, registry, journal, clock, ctl.health)
    service = build_service(ctx)
    assert isinstance(service, IdentityService)
    assert ctl.identity is service.verifier
    camera = service.verifier.tracker.camera
    assert isinstance(camera, FileCamera)
    yield Running(ctl, service, camera, journal, service.verifier.store)
    service.verifier.tracker.pipeline.close()
    journal.close()
    registry.close()


async def test_three_proxy_attempts_lock_the_badge_and_name_who_was_seen(
    running: Running, faces: Path
) -> None:
    running.camera.show(faces / "biden2.jpg")  # Biden taps Obama's badge
    for _ in range(3):
        decision = await running.ctl.badge_in("B-W1")
        assert not decision.allowed
        assert ReasonCode.FACE_MISMATCH in decision.reasons
    alert = running.journal.events(kind=EventKind.ALERT)[-1]
    assert alert.type == "proxy_attempt"
    assert alert.payload["badge_owner"]["worker_id"] == "W1"
    assert alert.payload["seen"]["worker_id"] == "W2"
    assert alert.payload["seen"]["name"] == "Biden"
    locked = await running.ctl.badge_in("B-W1")
    assert locked.reasons == (ReasonCode.WORKER_LOCKED,)


async def test_owner_face_passes_the_identity_check(running: Running, faces: Path) -> None:
    running.camera.show(faces / "obama2.jpg")
    decision = await running.ctl.badge_in("B-W1")
    assert ReasonCode.FACE_MISMATCH not in decision.reasons
    assert ReasonCode.FACE_NOT_FOUND not in decision.reasons
    result = await running.ctl.identity.verify(running.ctl.registry.worker("W1"), "B-W1")  # type: ignore[arg-type]
    assert result.match


def test_removing_a_worker_erases_their_encodings(running: Running) -> None:
    assert running.store.encodings("W2")
    running.ctl.remove_worker("W2", "central")
    assert running.store.encodings("W2") == []
    reread = EncodingStore(running.store.path, running.store.path.parent / "device.key")
    assert reread.worker_ids() == ["W1"]


def test_enrolment_rejects_poor_images_and_stores_nothing(
    site: Site, faces: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = ["noface_rocket.jpg", "two_people.jpg", "obama_partial_face.jpg", "missing.jpg"]
    code = zonegate(
        [
            "enroll",
            "--lang",
            "en",
            "W1",
            "--config",
            str(site.config_path),
            "--photos",
            *(str(faces / p) for p in photos),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    for reason in ("FACE_NOT_FOUND", "MULTIPLE_FACES", "cut_off", "unreadable"):
        assert reason in out
    assert "nothing stored" in out
    store = EncodingStore(site.state / "faces.enc", site.state / "device.key")
    assert store.worker_ids() == []


def test_enrolment_refuses_a_worker_not_on_the_roster(
    site: Site, faces: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = zonegate(
        ["enroll", "W9", "--config", str(site.config_path), "--photos", str(faces / "obama.jpg")]
    )
    assert code == ExitCode.DATA  # 65 in the one exit-code table (2 is a usage error)
    assert "不在本区域的人员名单中" in capsys.readouterr().out  # zh-CN unless --lang en
    code = zonegate(
        [
            "enroll",
            "W9",
            "-c",
            str(site.config_path),
            "--lang",
            "en",
            "--photos",
            str(faces / "obama.jpg"),
        ]
    )
    assert code == ExitCode.DATA  # 65 in the one exit-code table (2 is a usage error)
    assert "not on this zone's roster" in capsys.readouterr().out
    assert not (site.state / "faces.enc").exists()


def test_encodings_of_workers_gone_while_offline_are_erased_at_start(
    site: Site, running: Running
) -> None:
    registry = running.ctl.registry
    registry.remove_worker("W2")  # e.g. the roster changed while the daemon was down
    clock = SystemClock(assume_trusted=True)
    ctx = ServiceContext(
        site.config, site.config_path, running.ctl, registry, running.journal, clock, {}
    )
    assert build_service(ctx) is not None
    store = EncodingStore(site.state / "faces.enc", site.state / "device.key")
    assert store.worker_ids() == ["W1"]


async def test_demo_hooks_enrol_the_cast_and_show_photos(site: Site, faces: Path) -> None:
    from gateway import face_demo as demo

    assert demo.photos_available(faces)
    cfg = site.config
    clock = SystemClock(assume_trusted=True)
    registry = Registry(cfg.registry_path)
    journal = Journal(cfg.journal_path, clock)
    try:
        ctl = ZoneController(zone=cfg.zone, registry=registry, journal=journal, clock=clock)
        ctx = ServiceContext(cfg, site.config_path, ctl, registry, journal, clock, ctl.health)
        service = demo.face_service([object(), build_service(ctx)])
        assert service is not None
        cast = {"W1": demo.DEMO_CAST["W001"], "W2": demo.DEMO_CAST["W002"]}
        await demo.enrol_cast(service, cast, faces)
        assert service.store.worker_ids() == ["W1", "W2"]
        demo.show(service, demo.tap_photo("W001"), faces)
        assert (await ctl.identity.verify(registry.worker("W1"), "B-W1")).match  # type: ignore[arg-type]
        demo.show(service, None, faces)
        assert not (await ctl.identity.verify(registry.worker("W1"), "B-W1")).match  # type: ignore[arg-type]
        service.verifier.tracker.pipeline.close()
    finally:
        journal.close()
        registry.close()
