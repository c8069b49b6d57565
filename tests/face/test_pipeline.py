"""Detection, quality gates and matching on the real photos."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.identity.config import IdentityConfig
from edge.identity.pipeline import (
    DETECTOR_WINDOW_PX,
    Encoding,
    FaceBox,
    FaceModels,
    FacePipeline,
    Gallery,
)
from edge.reasons import ReasonCode
from firmware_adapters.camera import Frame
from firmware_adapters.camera.files import FileCamera

FrameOf = Callable[[str], Frame]


@pytest.mark.parametrize("width", [640, 1280, 1920])
def test_detection_scale_keeps_the_smallest_expected_face_above_the_window(
    pipeline: FacePipeline, width: int
) -> None:
    scale = pipeline.detection_scale(width)
    smallest_face = pipeline.config.min_face_fraction * width
    assert smallest_face * scale >= DETECTOR_WINDOW_PX
    assert scale <= 1.0
    if width >= 1280:
        assert scale < 0.5  # a 720p frame is searched at well under half size


@pytest.mark.parametrize("name", ["noface_chelsea.png", "noface_coffee.png", "noface_rocket.jpg"])
def test_no_face_images_give_face_not_found(
    pipeline: FacePipeline, frame_of: FrameOf, name: str
) -> None:
    obs = pipeline.observe(frame_of(name))
    assert obs.reason is ReasonCode.FACE_NOT_FOUND
    assert obs.encoding is None


def test_two_faces_follow_the_policy(models: FaceModels, frame_of: FrameOf) -> None:
    frame = frame_of("two_people.jpg")
    reject = FacePipeline(
        IdentityConfig(multiple_faces="reject", encoder="thread"), models
    ).observe(frame)
    assert reject.reason is ReasonCode.MULTIPLE_FACES
    assert reject.faces == 2
    assert reject.encoding is None
    largest = FacePipeline(
        IdentityConfig(multiple_faces="largest", encoder="thread"), models
    ).observe(frame)
    assert largest.reason is None
    assert largest.faces == 2
    assert largest.encoding is not None


def test_partial_face_cut_by_the_edge_is_a_quality_failure(
    pipeline: FacePipeline, frame_of: FrameOf
) -> None:
    obs = pipeline.observe(frame_of("obama_partial_face.jpg"))
    assert obs.reason is ReasonCode.FACE_QUALITY
    assert obs.detail == "cut_off"
    assert obs.encoding is None


def test_blurred_face_is_rejected(pipeline: FacePipeline, frame_of: FrameOf) -> None:
    sharp = frame_of("obama2.jpg")
    assert pipeline.observe(sharp, encode=False).reason is None
    blurred = np.ascontiguousarray(cv2.GaussianBlur(sharp.rgb, (0, 0), 6), dtype=np.uint8)
    obs = pipeline.observe(Frame(rgb=blurred, seq=2, mono_ts=0), encode=False)
    # HOG still finds the blurred face; the sharpness gate is what rejects it.
    assert obs.reason is ReasonCode.FACE_QUALITY
    assert obs.detail == "blurred"


def test_dark_face_is_rejected(pipeline: FacePipeline, frame_of: FrameOf) -> None:
    bright = frame_of("kit_harington_john2.jpeg")
    dark = np.ascontiguousarray((bright.rgb.astype(np.float32) * 0.25).astype(np.uint8))
    obs = pipeline.observe(Frame(rgb=dark, seq=2, mono_ts=0), encode=False)
    assert obs.reason is ReasonCode.FACE_QUALITY
    assert obs.detail == "too_dark"


def test_face_too_small_for_the_terminal_is_not_judged(pipeline: FacePipeline, faces: Path) -> None:
    # The portrait shrunk into a corner of a 1280x720 frame: a face far from the terminal.
    small = FileCamera([faces / "obama.jpg"], size=(320, 400)).read().rgb
    canvas = np.full((720, 1280, 3), 90, dtype=np.uint8)
    canvas[:400, :320] = small
    obs = pipeline.observe(Frame(rgb=canvas, seq=1, mono_ts=0), encode=False)
    assert obs.reason in {ReasonCode.FACE_NOT_FOUND, ReasonCode.FACE_QUALITY}
    assert obs.encoding is None


@pytest.mark.parametrize(
    ("owner", "probe"),
    [
        ("obama", "obama2.jpg"),
        ("obama", "obama_knn_test1.jpg"),
        ("biden", "biden2.jpg"),
        ("kit", "kit_harington_john2.jpeg"),
        ("rose", "rose_leslie_img2.jpg"),
    ],
)
def test_same_person_in_another_photo_is_within_tolerance(
    pipeline: FacePipeline,
    enrolled: dict[str, list[Encoding]],
    frame_of: FrameOf,
    owner: str,
    probe: str,
) -> None:
    obs = pipeline.observe(frame_of(probe))
    assert obs.encoding is not None
    match = Gallery(enrolled).judge(owner, obs.encoding, pipeline.config.tolerance)
    assert match.match, match
    assert match.distance < pipeline.config.tolerance
    assert match.seen_worker_id is None


@pytest.mark.parametrize(
    ("owner", "probe", "really"),
    [("obama", "biden2.jpg", "biden"), ("rose", "kit_harington_john2.jpeg", "kit")],
)
def test_other_person_is_rejected_and_named(
    pipeline: FacePipeline,
    enrolled: dict[str, list[Encoding]],
    frame_of: FrameOf,
    owner: str,
    probe: str,
    really: str,
) -> None:
    obs = pipeline.observe(frame_of(probe))
    assert obs.encoding is not None
    match = Gallery(enrolled).judge(owner, obs.encoding, pipeline.config.tolerance)
    assert not match.match
    assert match.distance > 0.6
    assert match.seen_worker_id == really


def test_alex_genuine_pair_is_the_known_false_reject_at_the_strict_default(
    pipeline: FacePipeline, enrolled: dict[str, list[Encoding]], frame_of: FrameOf
) -> None:
    """reference/face.md §1: this genuine pair sits at about 0.52, just outside 0.5."""
    obs = pipeline.observe(frame_of("alex_lacamoire_img1.jpg"))
    assert obs.encoding is not None
    match = Gallery(enrolled).judge("alex", obs.encoding, 0.5)
    assert not match.match
    assert 0.5 < match.distance < 0.6
    assert match.seen_worker_id is None  # nobody else is near: a retry, not a proxy


def test_a_closer_colleague_wins_even_inside_the_owner_tolerance() -> None:
    owner = np.zeros(128)
    colleague = np.full(128, 0.01)
    probe = np.full(128, 0.012)
    gallery = Gallery({"owner": [owner], "colleague": [colleague]})
    match = gallery.judge("owner", probe, tolerance=0.6)
    assert np.linalg.norm(probe - owner) < 0.6
    assert not match.match
    assert match.seen_worker_id == "colleague"


def test_box_geometry() -> None:
    a = FaceBox(top=0, right=100, bottom=100, left=0)
    b = FaceBox(top=0, right=150, bottom=100, left=50)
    assert a.iou(a) == 1.0
    assert a.iou(b) == pytest.approx(50 * 100 / (150 * 100))
    cut = FaceBox(top=10, right=60, bottom=110, left=-40)
    assert cut.outside_fraction(640, 480) == pytest.approx(0.4)


def test_enrolment_drops_a_stray_photo_of_someone_else(
    pipeline: FacePipeline, frame_of: FrameOf
) -> None:
    from edge.identity.enrolment import enrol

    names = ["obama.jpg", "obama2.jpg", "biden.jpg", "noface_coffee.png"]
    result = enrol(pipeline, [(n, frame_of(n)) for n in names])
    verdicts = {v.source: v for v in result.verdicts}
    assert verdicts["obama.jpg"].ok
    assert verdicts["obama2.jpg"].ok
    assert verdicts["biden.jpg"].reason is ReasonCode.FACE_MISMATCH
    assert verdicts["noface_coffee.png"].reason is ReasonCode.FACE_NOT_FOUND
    assert len(result.encodings) == 2
