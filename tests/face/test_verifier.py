"""Badge-in verification through the file camera, the tracker and the encrypted store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.evidence import IdentityResult, IdentityVerifier
from edge.identity.config import LivenessConfig, TrackerConfig
from edge.identity.store import EncodingStore
from edge.identity.verifier import FaceVerifier
from edge.models import Worker
from edge.reasons import ReasonCode
from firmware_adapters.camera import Frame
from firmware_adapters.camera.files import FileCamera, load_rgb

MakeVerifier = Callable[..., FaceVerifier]


def worker(worker_id: str) -> Worker:
    return Worker(worker_id=worker_id, name=f"name-{worker_id}", badge_ids=(f"B-{worker_id}",))


async def tap(verifier: IdentityVerifier, worker_id: str) -> IdentityResult:
    return await verifier.verify(worker(worker_id), f"B-{worker_id}")


async def test_owner_is_accepted_from_a_different_photo(
    verifier: FaceVerifier, camera: FileCamera, faces: Path
) -> None:
    for owner, probe in [
        ("obama", "obama2.jpg"),
        ("biden", "biden2.jpg"),
        ("kit", "kit_harington_john2.jpeg"),
    ]:
        camera.show(faces / probe)
        result = await tap(verifier, owner)
        assert result.match, (owner, probe, result)
        assert result.reason is None
        assert result.distance is not None
        assert result.distance < verifier.config.tolerance


async def test_someone_else_is_a_mismatch_naming_who_it_is(
    verifier: FaceVerifier, camera: FileCamera, faces: Path
) -> None:
    camera.show(faces / "biden2.jpg")
    result = await tap(verifier, "obama")
    assert not result.match
    assert result.reason is ReasonCode.FACE_MISMATCH
    assert result.seen_worker_id == "biden"
    assert result.distance is not None
    assert result.distance > 0.6


async def test_an_unknown_face_is_a_mismatch_without_a_name(
    verifier: FaceVerifier, camera: FileCamera, faces: Path, store: EncodingStore
) -> None:
    store.erase("biden")
    camera.show(faces / "biden2.jpg")
    result = await tap(verifier, "obama")
    assert result.reason is ReasonCode.FACE_MISMATCH
    assert result.seen_worker_id is None


async def test_no_face_in_view(verifier: FaceVerifier, camera: FileCamera, faces: Path) -> None:
    camera.show(faces / "noface_chelsea.png")  # a cat's face is not a face
    result = await tap(verifier, "obama")
    assert result.reason is ReasonCode.FACE_NOT_FOUND
    camera.show(None)
    assert (await tap(verifier, "obama")).reason is ReasonCode.FACE_NOT_FOUND


async def test_two_faces_follow_the_config(
    make_verifier: MakeVerifier,
    camera: FileCamera,
    faces: Path,
) -> None:
    camera.show(faces / "two_people.jpg")
    strict = await tap(make_verifier(multiple_faces="reject"), "biden")
    assert strict.reason is ReasonCode.MULTIPLE_FACES
    # Judging the largest face: Kit's is the larger one in this photo, Rose's the smaller.
    camera.show(faces / "kit_with_rose.jpg")
    assert (await tap(make_verifier(multiple_faces="reject"), "kit")).reason is (
        ReasonCode.MULTIPLE_FACES
    )
    largest = make_verifier(multiple_faces="largest")
    assert (await tap(largest, "kit")).match
    behind = await tap(largest, "rose")
    assert behind.reason is ReasonCode.FACE_MISMATCH
    assert behind.seen_worker_id == "kit"


async def test_partial_face_is_denied_with_quality(
    verifier: FaceVerifier, camera: FileCamera, faces: Path
) -> None:
    camera.show(faces / "obama_partial_face.jpg")
    result = await tap(verifier, "obama")
    assert result.reason is ReasonCode.FACE_QUALITY
    assert result.details["detail"] == "cut_off"


async def test_not_enrolled_and_broken_store_deny(
    verifier: FaceVerifier, camera: FileCamera, faces: Path, store: EncodingStore
) -> None:
    camera.show(faces / "obama2.jpg")
    assert (await tap(verifier, "nobody")).reason is ReasonCode.NOT_ENROLLED
    store.path.write_bytes(b"ZGFACE1\n" + b"\0" * 64)
    result = await tap(verifier, "obama")
    assert result.reason is ReasonCode.IDENTITY_UNAVAILABLE
    assert "wrong device key or corrupt" in result.details["error"]


async def test_loop_keeps_running_while_dlib_works(
    verifier: FaceVerifier, camera: FileCamera, faces: Path
) -> None:
    camera.show(faces / "biden2.jpg")
    ticks = 0
    done = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    beat = asyncio.create_task(heartbeat())
    result = await tap(verifier, "biden")
    ticks_during = ticks
    done.set()
    await beat
    assert result.match
    assert verifier.tracker.counters["encodings"] >= 1
    # Detection and encoding ran in a worker thread: the loop served other tasks meanwhile.
    assert ticks_during > 10


async def test_face_in_view_before_the_tap_is_encoded_ahead(
    make_verifier: MakeVerifier,
    camera: FileCamera,
    faces: Path,
) -> None:
    verifier = make_verifier(tracker=TrackerConfig(encode_interval_s=0.01, cache_s=5))
    camera.show(faces / "obama2.jpg")
    tracker = verifier.tracker
    for _ in range(6):
        await tracker.observe()
    assert tracker.track is not None
    frames = tracker.config.tracker.frames_combined
    assert len(tracker.track.encodings) == frames
    encodings_before = tracker.counters["encodings"]
    result = await tap(verifier, "obama")
    assert result.match
    assert result.details["frames"] == frames
    assert result.details["track_age_s"] > 0
    assert tracker.counters["encodings"] == encodings_before  # the tap encoded nothing


async def test_a_face_that_left_is_never_used(
    verifier: FaceVerifier, camera: FileCamera, faces: Path
) -> None:
    camera.show(faces / "obama2.jpg")
    for _ in range(3):
        await verifier.tracker.observe()
    assert verifier.tracker.track is not None
    camera.show(None)  # the owner walked away; a colleague taps the owner's badge off-camera
    result = await tap(verifier, "obama")
    assert result.reason is ReasonCode.FACE_NOT_FOUND
    assert verifier.tracker.track is None


async def test_a_different_face_replacing_the_tracked_one_is_not_mixed_in(
    verifier: FaceVerifier, camera: FileCamera, faces: Path
) -> None:
    """Two people at exactly the same place in the frame: only the encodings tell them apart."""
    obama, biden = same_place_frames(faces)
    camera.show_array(obama)
    for _ in range(3):
        await verifier.tracker.observe()
    first = verifier.tracker.track
    assert first is not None
    assert first.encodings
    camera.show_array(biden)
    result = await tap(verifier, "obama")
    assert result.reason is ReasonCode.FACE_MISMATCH
    assert result.seen_worker_id == "biden"
    assert verifier.tracker.track is not first
    assert verifier.tracker.counters["face_changed"] == 1


def same_place_frames(faces: Path) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Obama's and Biden's faces pasted at the same spot of a 1280x720 grey wall."""

    def pasted(name: str, crop: tuple[int, int, int, int]) -> NDArray[np.uint8]:
        top, bottom, left, right = crop
        face = load_rgb(faces / name)[top:bottom, left:right]
        canvas = np.full((720, 1280, 3), 110, dtype=np.uint8)
        canvas[160:560, 440:840] = cv2.resize(face, (400, 400), interpolation=cv2.INTER_AREA)
        return canvas

    return pasted("obama2.jpg", (40, 520, 70, 550)), pasted("biden2.jpg", (100, 900, 200, 1000))


async def test_liveness_on_a_still_photo_fails(
    make_verifier: MakeVerifier,
    camera: FileCamera,
    faces: Path,
) -> None:
    verifier = make_verifier(liveness=LivenessConfig(enabled=True, window_s=0.6, fps=20))
    camera.show(faces / "obama2.jpg")
    result = await tap(verifier, "obama")
    assert not result.match
    assert result.reason is ReasonCode.LIVENESS_FAILED
    assert result.details["missing"] == "blink"


async def test_tracker_run_follows_the_face_ahead_of_the_tap(
    make_verifier: MakeVerifier,
    camera: FileCamera,
    faces: Path,
) -> None:
    verifier = make_verifier(tracker=TrackerConfig(fps=30, idle_fps=30, encode_interval_s=0.01))
    camera.show(faces / "kit_harington_john2.jpeg")
    task = asyncio.create_task(verifier.tracker.run())
    try:
        async with asyncio.timeout(30):
            await verifier.tracker.wait_until(lambda t: t.counters.get("encodings", 0) >= 3)
        result = await tap(verifier, "kit")
        assert result.match
        assert result.details["frames"] == 3
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_failing_camera_denies_and_the_tracker_recovers(
    verifier: FaceVerifier, camera: FileCamera, faces: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 truncated")
    camera.replay([broken])
    task = asyncio.create_task(verifier.tracker.run())
    try:
        async with asyncio.timeout(30):
            await verifier.tracker.wait_until(lambda t: t.counters.get("camera_errors", 0) >= 1)
        denied = await tap(verifier, "obama")
        assert denied.reason is ReasonCode.IDENTITY_UNAVAILABLE
        assert "cannot read image" in denied.details["error"]
        camera.show(faces / "obama2.jpg")
        async with asyncio.timeout(30):
            await verifier.tracker.wait_until(lambda t: t.counters.get("encodings", 0) >= 1)
        assert (await tap(verifier, "obama")).match
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def eyes_painted_shut(rgb: NDArray[np.uint8], verifier: FaceVerifier) -> NDArray[np.uint8]:
    """The same photo with both eyes painted over with skin and a dark lid line: on
    rose_leslie_img2.jpg the eye aspect ratio drops by about 80 %."""
    pipeline = verifier.tracker.pipeline
    box = pipeline.detect(Frame(rgb=rgb, seq=0, mono_ts=0))[0]
    models = pipeline.models
    rect = models.rectangle(box.left, box.top, box.right, box.bottom)
    points = np.array([(p.x, p.y) for p in models.landmarks68(rgb, rect).parts()])
    closed = rgb.copy()
    for eye in (points[36:42], points[42:48]):
        (x0, y0), (x1, y1) = eye.min(0), eye.max(0)
        pad = int((x1 - x0) * 0.5)
        skin = rgb[y1 + pad : y1 + 2 * pad, x0:x1].reshape(-1, 3).mean(0)
        centre = (int((x0 + x1) / 2), int((y0 + y1) / 2))
        axes = (int((x1 - x0) / 2 + pad / 2), int((y1 - y0) / 2 + pad / 2))
        cv2.ellipse(closed, centre, axes, 0, 0, 360, skin.tolist(), -1)
        lid = (int((x1 - x0) / 2), 3)
        cv2.ellipse(closed, (centre[0], centre[1] - 3), lid, 0, 0, 180, (40, 30, 30), 3)
    return np.ascontiguousarray(closed)


async def test_a_blink_seen_ahead_of_the_tap_passes_liveness(
    make_verifier: MakeVerifier, camera: FileCamera, faces: Path
) -> None:
    verifier = make_verifier(
        liveness=LivenessConfig(enabled=True, window_s=0.5),
        tracker=TrackerConfig(cache_s=5, max_gap_s=2),
    )
    open_eyes = load_rgb(faces / "rose_leslie_img2.jpg")
    shut = eyes_painted_shut(open_eyes, verifier)
    pipeline = verifier.tracker.pipeline
    ears = []
    for rgb in (open_eyes, shut):
        frame = Frame(rgb=rgb, seq=0, mono_ts=0)
        eyes = pipeline.eyes(frame, pipeline.detect(frame)[0])
        assert eyes is not None
        ears.append(eyes.ear)
    assert ears[1] < 0.5 * ears[0], f"the painted blink is not a blink: EAR {ears}"
    tracker = verifier.tracker
    clip = [open_eyes] * 4 + [shut] * 2 + [open_eyes] * 4  # a blink two frames long
    for i, rgb in enumerate(clip):
        frame = Frame(rgb=rgb, seq=i, mono_ts=time.monotonic())
        await asyncio.to_thread(tracker.update, frame)
    assert tracker.track is not None
    assert tracker.track.liveness.blink_seen
    camera.show(faces / "rose_leslie_img2.jpg")
    result = await tap(verifier, "rose")
    assert result.match, result
    assert result.details["liveness"] == "blink"


async def test_a_frame_failing_quality_never_vouches_for_the_cache(
    verifier: FaceVerifier, camera: FileCamera, faces: Path
) -> None:
    sharp = load_rgb(faces / "obama2.jpg")
    camera.show_array(sharp)
    for _ in range(2):
        await verifier.tracker.observe()
    assert verifier.tracker.track is not None
    assert verifier.tracker.track.encodings
    camera.show_array(np.ascontiguousarray(cv2.GaussianBlur(sharp, (0, 0), 6), dtype=np.uint8))
    result = await tap(verifier, "obama")
    assert result.reason is ReasonCode.FACE_QUALITY
    assert result.details["detail"] == "blurred"
