"""Enrolment: judge each image on its own, drop the odd one out, refuse a face already enrolled.

Several images are judged one by one (readable, one face, sharp, well exposed, not cut off);
poor ones are rejected with a reason code and the others are still judged (issue 12.7: a 200 MP
photo used to end the run with a traceback). The good ones are encoded with jitter (slower,
steadier templates) and an image that disagrees with the others is dropped. Before anything is
stored, the new face is compared with everyone enrolled: the same face under two workers makes
the genuine owner fail 1:N matching and get locked out as a proxy (issue 12.8), so it is refused,
naming the other worker, unless the technician confirms it explicitly.

Every function here blocks (dlib); callers on the event loop use ``asyncio.to_thread``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import EdgeError
from edge.identity.pipeline import Encoding, FacePipeline, Gallery
from edge.identity.store import EncodingStore
from edge.reasons import ReasonCode
from firmware_adapters.camera import CameraError, Frame
from firmware_adapters.camera.files import PhotoRefused, load_photo


@dataclass(frozen=True, slots=True)
class ImageVerdict:
    """Why one enrolment image was kept or rejected: ``reason``, its ``detail`` in English and
    ``detail_zh`` the particulars in Chinese (``2 张人脸``, ``距离 0.85``; for ``FACE_QUALITY``
    the gate's code, ``too_dark``, which the command words)."""

    source: str
    reason: ReasonCode | None = None
    detail: str | None = None
    encoding: Encoding | None = None
    detail_zh: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the image gave a usable encoding."""
        return self.reason is None and self.encoding is not None


@dataclass(frozen=True, slots=True)
class Enrolment:
    """Every image's verdict, in the order given."""

    verdicts: tuple[ImageVerdict, ...]

    @property
    def encodings(self) -> list[Encoding]:
        """The encodings of the images kept."""
        return [v.encoding for v in self.verdicts if v.ok and v.encoding is not None]


@dataclass(frozen=True, slots=True)
class SameFace:
    """Another enrolled worker whose face is within the verification tolerance."""

    worker_id: str
    distance: float


class SameFaceError(EdgeError, ValueError):
    """The face is already enrolled under ``others`` (nearest first); nothing was stored."""

    def __init__(self, worker_id: str, others: Sequence[SameFace]) -> None:
        names = ", ".join(f"{o.worker_id} ({o.distance:.2f})" for o in others)
        super().__init__(f"{worker_id}: the same face is already enrolled as {names}")
        self.worker_id = worker_id
        self.others = tuple(others)


class NotEnoughImages(EdgeError, ValueError):
    """Fewer good images than ``enrol_min_images``; nothing was stored."""


def assess(pipeline: FacePipeline, frame: Frame, source: str) -> ImageVerdict:
    """Judge and encode one enrolment image (blocking). Two faces are always rejected here,
    whatever the badge-in policy: a template must be unambiguous. A photo is not framed like
    the terminal camera: any face from a tenth of its width (or ``min_face_px``) up is found."""
    smallest = max(float(pipeline.config.quality.min_face_px), 0.1 * frame.width)
    boxes = pipeline.detect(frame, smallest)
    if not boxes:
        return ImageVerdict(source, ReasonCode.FACE_NOT_FOUND)
    if len(boxes) > 1:
        return ImageVerdict(
            source,
            ReasonCode.MULTIPLE_FACES,
            f"{len(boxes)} faces",
            detail_zh=f"{len(boxes)} 张人脸",
        )
    problem = pipeline.quality_problem(frame, boxes[0])
    if problem is not None:
        return ImageVerdict(source, ReasonCode.FACE_QUALITY, problem, detail_zh=problem)
    encoding = pipeline.encode(frame, boxes[0], pipeline.config.enrol_jitters)
    return ImageVerdict(source, encoding=encoding)


def refused(source: str, err: Exception) -> ImageVerdict:
    """The verdict for an image that could not be decoded (reason code from the loader)."""
    if isinstance(err, PhotoRefused) and err.code == "IMAGE_TOO_LARGE":
        return ImageVerdict(source, ReasonCode.IMAGE_TOO_LARGE, err.detail, detail_zh=err.detail_zh)
    zh = err.detail_zh if isinstance(err, PhotoRefused) else str(err)
    return ImageVerdict(source, ReasonCode.IMAGE_UNREADABLE, f"unreadable: {err}", detail_zh=zh)


def enrol(
    pipeline: FacePipeline,
    frames: Iterable[tuple[str, Frame | Exception]],
    on_verdict: Callable[[ImageVerdict], None] = lambda _: None,
) -> Enrolment:
    """Judge every image, then drop the ones that disagree with the rest (blocking).

    ``frames`` yields (source, decoded frame or the error decoding it). One image that cannot
    be read or judged never stops the others. Raises only when the face models themselves fail.
    """
    verdicts: list[ImageVerdict] = []
    for source, frame in frames:
        if isinstance(frame, Exception):
            verdict = refused(source, frame)
        else:
            try:
                verdict = assess(pipeline, frame, source)
            except (ValueError, RuntimeError, MemoryError) as err:  # dlib on an odd image
                verdict = refused(source, err)
        verdicts.append(verdict)
        on_verdict(verdict)
    return Enrolment(tuple(_drop_outliers(verdicts, pipeline.config.tolerance)))


def _drop_outliers(verdicts: list[ImageVerdict], tolerance: float) -> list[ImageVerdict]:
    """Keep the good images within ``tolerance`` of their medoid (the image closest, by median
    distance, to all the others): one stray photo of someone else cannot drag the template."""
    good = [v for v in verdicts if v.ok and v.encoding is not None]
    if len(good) < 2:
        return verdicts
    encodings = np.vstack([v.encoding for v in good if v.encoding is not None])
    distances = np.linalg.norm(encodings[:, None, :] - encodings[None, :, :], axis=2)
    medoid = int(np.argmin([np.median(np.delete(row, k)) for k, row in enumerate(distances)]))
    far = {id(v): float(distances[medoid, k]) for k, v in enumerate(good)}
    out = []
    for v in verdicts:
        distance = far.get(id(v), 0.0)
        if distance > tolerance:
            detail = f"differs from the other images ({distance:.2f})"
            detail_zh = f"距离 {distance:.2f}"
            v = ImageVerdict(v.source, ReasonCode.FACE_MISMATCH, detail, detail_zh=detail_zh)
        out.append(v)
    return out


def photo_frames(paths: Sequence[Path]) -> Iterable[tuple[str, Frame | Exception]]:
    """Each photo decoded upright and bounded in size (``load_photo``), or why it was not."""
    for seq, path in enumerate(paths, 1):
        try:
            yield str(path), Frame(rgb=load_photo(path), seq=seq, mono_ts=time.monotonic())
        except CameraError as err:
            yield str(path), err


def same_face(
    store: EncodingStore, worker_id: str, encodings: Sequence[Encoding], tolerance: float
) -> list[SameFace]:
    """Other enrolled workers any of ``encodings`` is within ``tolerance`` of, nearest first.

    The verification tolerance is the bound because it is what the terminal uses: within it,
    1:N matching cannot tell the two records apart (``Gallery.judge``).
    """
    others = {w: e for w, e in store.all_encodings().items() if w != worker_id}
    if not others or not encodings:
        return []
    gallery = Gallery(others)
    nearest: dict[str, float] = {}
    for encoding in encodings:
        for other, d in gallery.distances(encoding).items():
            if d <= tolerance and d < nearest.get(other, np.inf):
                nearest[other] = d
    return [SameFace(w, d) for w, d in sorted(nearest.items(), key=lambda item: item[1])]


def store_enrolment(
    pipeline: FacePipeline,
    store: EncodingStore,
    worker_id: str,
    result: Enrolment,
    *,
    confirm_same_face: bool = False,
) -> list[SameFace]:
    """Store ``result``'s kept encodings for ``worker_id`` (replacing earlier ones).

    Raises ``NotEnoughImages`` below ``enrol_min_images`` good images, and ``SameFaceError``
    when the face is already enrolled under another worker unless ``confirm_same_face`` (the
    technician checked that they are two people, e.g. twins). Returns the workers with the same
    face that were confirmed (empty normally), for the log.
    """
    kept = result.encodings
    if len(kept) < pipeline.config.enrol_min_images:
        reasons = ", ".join(f"{v.source}: {v.reason} {v.detail or ''}" for v in result.verdicts)
        raise NotEnoughImages(f"{worker_id}: not enough good images ({reasons})")
    others = same_face(store, worker_id, kept, pipeline.config.tolerance)
    if others and not confirm_same_face:
        raise SameFaceError(worker_id, others)
    store.put(worker_id, kept, images=len(kept))
    return others


def enrol_photos(
    pipeline: FacePipeline,
    store: EncodingStore,
    worker_id: str,
    photos: Sequence[Path],
    *,
    confirm_same_face: bool = False,
) -> Enrolment:
    """Enrol ``worker_id`` from photo files into ``store`` (blocking; the demo's shortcut).
    Raises ``NotEnoughImages`` or ``SameFaceError`` (both ``ValueError``); nothing stored then."""
    result = enrol(pipeline, photo_frames(photos))
    store_enrolment(pipeline, store, worker_id, result, confirm_same_face=confirm_same_face)
    return result
