"""Face fixtures: real photos, real dlib models loaded once, enrolments encoded once per session.

dlib is slow (about 60 ms per encoding on x86, 10 jitters at enrolment), so the models and the
enrolment encodings are session-scoped; every test gets its own encrypted store in tmp_path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import psutil
import pytest

from edge.identity.config import IdentityConfig, TrackerConfig
from edge.identity.enrolment import enrol
from edge.identity.pipeline import Encoding, FaceModels, FacePipeline
from edge.identity.service import build_verifier, open_store
from edge.identity.store import EncodingStore
from edge.identity.verifier import FaceVerifier
from firmware_adapters.camera import Frame
from firmware_adapters.camera.files import FileCamera, load_rgb
from tests.datasets import FACES, face_photo

# Who is enrolled from which photo; the other photo of each person is the probe.
ENROLMENT_PHOTOS: dict[str, tuple[str, ...]] = {
    "obama": ("obama.jpg",),
    "biden": ("biden.jpg",),
    "kit": ("kit_harington_john1.jpeg",),
    "rose": ("rose_leslie_img1.jpg",),
    "alex": ("alex_lacamoire.png",),
}


def face(name: str) -> Path:
    return face_photo(name)


def photo_frame(name: str, seq: int = 1, mono_ts: float = 0.0) -> Frame:
    return Frame(rgb=load_rgb(face(name)), seq=seq, mono_ts=mono_ts)


def face_config(**overrides: object) -> IdentityConfig:
    """Short waits so that denials (no face, two faces) come back quickly."""
    base: dict[str, object] = {
        "enabled": True,
        "encoder": "thread",  # the child-process encoder has its own tests
        "enrol_min_images": 1,
        "capture_timeout_s": 0.3,
        "tracker": TrackerConfig(cache_s=5.0),
    }
    base.update(overrides)
    return IdentityConfig.model_validate(base)


@pytest.fixture(autouse=True)
def no_leaked_processes() -> Iterator[None]:
    """An encoder child process left running after a test is a bug (resource ownership)."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    leaked = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    names = []
    for p in leaked:
        with contextlib.suppress(psutil.Error):
            names.append(" ".join(p.cmdline()))
            p.kill()
            p.wait(timeout=5)
    assert not leaked, f"child processes left running: {names}"


@pytest.fixture(scope="session")
def models() -> FaceModels:
    return FaceModels(landmarks68=True)


@pytest.fixture(scope="session")
def pipeline(models: FaceModels) -> FacePipeline:
    return FacePipeline(face_config(), models)


@pytest.fixture(scope="session")
def enrolled(pipeline: FacePipeline) -> dict[str, list[Encoding]]:
    """Enrolment encodings (10 jitters) of every test worker, computed once."""
    out: dict[str, list[Encoding]] = {}
    for worker_id, photos in ENROLMENT_PHOTOS.items():
        result = enrol(pipeline, [(p, photo_frame(p)) for p in photos])
        assert result.encodings, f"{worker_id} could not be enrolled: {result.verdicts}"
        out[worker_id] = result.encodings
    return out


@pytest.fixture
def store(tmp_path: Path, enrolled: dict[str, list[Encoding]]) -> EncodingStore:
    s = open_store(face_config(), tmp_path)
    for worker_id, encodings in enrolled.items():
        s.put(worker_id, encodings, images=len(encodings))
    return s


@pytest.fixture
def camera() -> Iterator[FileCamera]:
    cam = FileCamera()
    yield cam
    cam.close()


class VerifierFactory(Protocol):
    def __call__(self, **config: object) -> FaceVerifier: ...


@pytest.fixture
def make_verifier(
    store: EncodingStore, camera: FileCamera, models: FaceModels
) -> Iterator[VerifierFactory]:
    """A verifier over the test store and camera, with config overrides."""

    made: list[FacePipeline] = []

    def make(**overrides: object) -> FaceVerifier:
        config = face_config(**overrides)
        verifier = build_verifier(config, store, camera)
        verifier.tracker.pipeline = FacePipeline(config, models)
        made.append(verifier.tracker.pipeline)
        return verifier

    yield make
    for pipeline in made:
        pipeline.close()


@pytest.fixture
def verifier(make_verifier: VerifierFactory) -> FaceVerifier:
    return make_verifier()


@pytest.fixture
def frame_of() -> Callable[[str], Frame]:
    """A frame showing one of the photos at its own size."""
    return photo_frame


@pytest.fixture(scope="session")
def faces() -> Path:
    """The real photos: shipped ones in tests/data/faces, third-party ones beside the repository
    (a test needing one that is absent is skipped: ``tests.datasets.PhotoFolder``)."""
    return FACES
