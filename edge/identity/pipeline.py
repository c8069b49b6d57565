"""Detect small, encode big: the blocking dlib work of one badge-in frame, and the matching.

Every method here blocks; callers on the event loop use ``asyncio.to_thread``. The HOG detector
releases the GIL, but the ResNet encoding holds it for its whole run unless ``encoder: process``
moves it to a child process (see ``edge.identity.encoder``).
Only the models the terminal needs are loaded (HOG detector, 5-point landmarks, ResNet, and the
68-point model when liveness is on): importing ``face_recognition`` would also load the CNN
detector the Pi never uses.
"""

from __future__ import annotations

import importlib
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.errors import EdgeError
from edge.identity.config import IdentityConfig
from edge.identity.encoder import (
    CHIP_PADDING,
    CHIP_PX,
    ChipEncoder,
    EncoderFailed,
    InlineEncoder,
    ProcessEncoder,
)
from edge.reasons import ReasonCode
from firmware_adapters.camera import Frame

Encoding = NDArray[np.float64]
"""A 128-d face descriptor (dlib ResNet)."""

DETECTOR_WINDOW_PX = 80
"""dlib's frontal HOG detector scans an 80 x 80 window: at upsample 0 smaller faces are missed."""
DETECT_MARGIN = 1.05
"""Keep the smallest expected face this much above the window. Measured on the fixtures: at
1.05 every face at the configured minimum and 10 % below it is found; each 0.1 costs ~1.5 ms
of detection on a 640x480 frame."""
SIGNATURE_CHIP_PX = 48
"""Aligned face chip size for the appearance signature (encodings use 150 px)."""
QUALITY_PATCH_PX = 128
"""Quality metrics are taken on the face resized to this size, so thresholds ignore resolution."""

# 68-point landmark indices (iBUG 300-W layout).
_LEFT_EYE = slice(36, 42)
_RIGHT_EYE = slice(42, 48)
_NOSE_TIP = 30
_OUTER_LEFT, _OUTER_RIGHT = 36, 45


class ModelsUnavailable(EdgeError):
    """dlib or the model files cannot be loaded: verification is impossible (fail safe)."""


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face rectangle in full-frame pixels; may extend beyond the frame (a cut-off face)."""

    top: int
    right: int
    bottom: int
    left: int

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.right - self.left

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.bottom - self.top

    @property
    def area(self) -> int:
        """Area in square pixels."""
        return max(0, self.width) * max(0, self.height)

    def iou(self, other: FaceBox) -> float:
        """Intersection over union: how much two sightings overlap."""
        top, bottom = max(self.top, other.top), min(self.bottom, other.bottom)
        left, right = max(self.left, other.left), min(self.right, other.right)
        inter = max(0, bottom - top) * max(0, right - left)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def outside_fraction(self, width: int, height: int) -> float:
        """Share of the box lying beyond a ``width`` x ``height`` frame."""
        inside = FaceBox(
            max(self.top, 0), min(self.right, width), min(self.bottom, height), max(self.left, 0)
        )
        return 1.0 - inside.area / self.area if self.area > 0 else 1.0


@dataclass(frozen=True, slots=True)
class EyeState:
    """Eye aspect ratio (both eyes averaged) and a yaw proxy from the 68 landmarks."""

    ear: float
    yaw: float


@dataclass(frozen=True, slots=True)
class Observation:
    """What one frame showed. ``reason`` is None when the face is usable."""

    seq: int
    mono_ts: float
    faces: int
    box: FaceBox | None = None
    reason: ReasonCode | None = None
    detail: str | None = None
    encoding: Encoding | None = None
    eyes: EyeState | None = None


class FaceModels:
    """The dlib models, loaded once (about 1 s and 80-120 MB)."""

    def __init__(self, *, landmarks68: bool, resnet: bool = True) -> None:
        try:
            import dlib

            with warnings.catch_warnings():
                # face_recognition_models imports pkg_resources, deprecated upstream.
                warnings.simplefilter("ignore", UserWarning)
                # No type information ships with it; importlib keeps mypy out of it.
                files = importlib.import_module("face_recognition_models")
        except ImportError as err:
            raise ModelsUnavailable(f"face models not installed: {err}") from err
        try:
            self.detector: Any = dlib.get_frontal_face_detector()
            self.landmarks5: Any = dlib.shape_predictor(
                files.pose_predictor_five_point_model_location()
            )
            self.encoder: Any = (
                dlib.face_recognition_model_v1(files.face_recognition_model_location())
                if resnet
                else None
            )
            self.landmarks68: Any = (
                dlib.shape_predictor(files.pose_predictor_model_location()) if landmarks68 else None
            )
        except RuntimeError as err:
            raise ModelsUnavailable(f"cannot load face models: {err}") from err
        self.rectangle: Any = dlib.rectangle
        self.face_chip: Any = dlib.get_face_chip


class FacePipeline:
    """Detection on a shrunken luma image, quality gates, encoding on the full-resolution frame."""

    def __init__(self, config: IdentityConfig, models: FaceModels | None = None) -> None:
        self.config = config
        self._models = models
        self._chip_encoder: ChipEncoder | None = None
        # dlib objects are not documented thread-safe. Re-entrant: lazy loading nests.
        self._lock = threading.RLock()

    @property
    def models(self) -> FaceModels:
        """The dlib models, loaded on first use (blocking: about a second, more on a Pi)."""
        if self._models is None:
            with self._lock:
                if self._models is None:
                    self._models = FaceModels(
                        landmarks68=self.config.liveness.enabled,
                        resnet=self.config.encoder == "thread",
                    )
        return self._models

    @property
    def chip_encoder(self) -> ChipEncoder:
        """The ResNet runner the config asks for, started on first use."""
        if self._chip_encoder is None:
            with self._lock:
                if self._chip_encoder is None:
                    if self.config.encoder == "process":
                        encoder = ProcessEncoder()
                        try:
                            encoder.start()
                        except EncoderFailed as err:
                            raise ModelsUnavailable(str(err)) from err
                        self._chip_encoder = encoder
                    else:
                        resnet = self.models.encoder
                        if resnet is None:  # models shared from a process-encoder pipeline
                            resnet = FaceModels(landmarks68=False).encoder
                        self._chip_encoder = InlineEncoder(resnet)
        return self._chip_encoder

    def load(self) -> None:
        """Load the models and start the encoder now (call in a worker thread at startup)."""
        _ = self.models
        _ = self.chip_encoder

    def close(self) -> None:
        """Stop the encoder process, if any (blocking)."""
        with self._lock:
            encoder, self._chip_encoder = self._chip_encoder, None
        if encoder is not None:
            encoder.close()

    # ---- detection

    def detection_scale(self, width: int, smallest_face_px: float | None = None) -> float:
        """Shrink factor keeping the smallest face to find (default: the smallest expected at
        badge distance, ``min_face_fraction`` of the width) above the detector's window."""
        if smallest_face_px is None:
            smallest_face_px = self.config.min_face_fraction * width
        return min(1.0, DETECTOR_WINDOW_PX * DETECT_MARGIN / smallest_face_px)

    def detect(self, frame: Frame, smallest_face_px: float | None = None) -> list[FaceBox]:
        """Faces in ``frame``, largest first, in full-frame pixels. Enrolment photos pass a
        ``smallest_face_px`` of their own: their framing is not the terminal camera's."""
        scale = self.detection_scale(frame.width, smallest_face_px)
        small = _detection_image(frame, scale)
        detector = self.models.detector
        with self._lock:
            rects = detector(small, 0)
        factor = frame.width / small.shape[1]
        boxes = [
            FaceBox(
                top=round(r.top() * factor),
                right=round(r.right() * factor),
                bottom=round(r.bottom() * factor),
                left=round(r.left() * factor),
            )
            for r in rects
        ]
        return sorted(boxes, key=lambda b: b.area, reverse=True)

    def choose(
        self, frame: Frame, boxes: Sequence[FaceBox]
    ) -> tuple[FaceBox | None, ReasonCode | None, str | None]:
        """Pick the face to judge, or say why none can be."""
        if not boxes:
            return None, ReasonCode.FACE_NOT_FOUND, None
        if len(boxes) > 1 and self.config.multiple_faces == "reject":
            return None, ReasonCode.MULTIPLE_FACES, f"{len(boxes)} faces"
        return boxes[0], None, None

    # ---- quality

    def quality_problem(self, frame: Frame, box: FaceBox) -> str | None:
        """The first quality gate ``box`` fails (``too_small``, ``cut_off``, ``too_dark``,
        ``too_bright``, ``clipped``, ``blurred``), or None."""
        q = self.config.quality
        if box.width < q.min_face_px:
            return "too_small"
        if box.outside_fraction(frame.width, frame.height) > q.max_outside_fraction:
            return "cut_off"
        patch = _face_patch(frame, box)
        brightness = float(patch.mean())
        if brightness < q.min_brightness:
            return "too_dark"
        if brightness > q.max_brightness:
            return "too_bright"
        clipped = float(np.count_nonzero((patch <= 8) | (patch >= 247))) / patch.size
        if clipped > q.max_clipped_fraction:
            return "clipped"
        if sharpness(patch) < q.min_sharpness:
            return "blurred"
        return None

    # ---- encoding and landmarks

    def encode(self, frame: Frame, box: FaceBox, jitters: int | None = None) -> Encoding:
        """The 128-d descriptor of the face in ``box``, from the full-resolution frame."""
        models = self.models
        encoder = self.chip_encoder
        rect = models.rectangle(box.left, box.top, box.right, box.bottom)
        with self._lock:
            shape = models.landmarks5(frame.rgb, rect)
            chip = models.face_chip(frame.rgb, shape, size=CHIP_PX, padding=CHIP_PADDING)
        try:
            return encoder.encode(np.ascontiguousarray(chip), jitters or self.config.num_jitters)
        except EncoderFailed as err:
            raise ModelsUnavailable(str(err)) from err

    def eyes(self, frame: Frame, box: FaceBox) -> EyeState | None:
        """Eye openness and yaw from the 68-point model; None when liveness is off."""
        models = self.models
        if models.landmarks68 is None:
            return None
        rect = models.rectangle(box.left, box.top, box.right, box.bottom)
        with self._lock:
            shape = models.landmarks68(frame.rgb, rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        return eye_state(points)

    def signature(self, frame: Frame, box: FaceBox) -> NDArray[np.float64]:
        """A cheap (about 1 ms) look of the face: the landmark-aligned face as a standardised
        32 x 32 grey patch. Frames of one face correlate above 0.98 under small moves; two
        people at the same place below 0.75. Used to notice a swap between two encodings."""
        models = self.models
        rect = models.rectangle(box.left, box.top, box.right, box.bottom)
        with self._lock:
            shape = models.landmarks5(frame.rgb, rect)
            chip = models.face_chip(frame.rgb, shape, size=SIGNATURE_CHIP_PX, padding=0.0)
        grey = cv2.cvtColor(np.ascontiguousarray(chip), cv2.COLOR_RGB2GRAY).astype(np.float64)
        patch = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).ravel()
        patch -= patch.mean()
        return np.asarray(patch / (patch.std() + 1e-6), dtype=np.float64)

    # ---- one frame, end to end

    def observe(self, frame: Frame, *, encode: bool = True, eyes: bool = False) -> Observation:
        """Detect, choose, gate, and (when asked) encode and read the eyes of one frame."""
        boxes = self.detect(frame)
        box, reason, detail = self.choose(frame, boxes)
        if box is None:
            return Observation(frame.seq, frame.mono_ts, len(boxes), reason=reason, detail=detail)
        problem = self.quality_problem(frame, box)
        if problem is not None:
            return Observation(
                frame.seq,
                frame.mono_ts,
                len(boxes),
                box=box,
                reason=ReasonCode.FACE_QUALITY,
                detail=problem,
            )
        return Observation(
            frame.seq,
            frame.mono_ts,
            len(boxes),
            box=box,
            encoding=self.encode(frame, box) if encode else None,
            eyes=self.eyes(frame, box) if eyes else None,
        )


# ---- matching


@dataclass(frozen=True, slots=True)
class Match:
    """1:1 against the owner, 1:N against everyone enrolled."""

    match: bool
    distance: float
    nearest_worker_id: str
    nearest_distance: float
    seen_worker_id: str | None


class Gallery:
    """Everyone's enrolled encodings as one matrix, for a vectorised 1:N search."""

    def __init__(self, encodings: Mapping[str, Sequence[Encoding]]) -> None:
        ids: list[str] = []
        rows: list[Encoding] = []
        for worker_id, encs in encodings.items():
            for enc in encs:
                ids.append(worker_id)
                rows.append(np.asarray(enc, dtype=np.float64))
        self._ids = np.array(ids, dtype=object)
        self._matrix = np.vstack(rows) if rows else np.empty((0, 128))

    def __contains__(self, worker_id: object) -> bool:
        return bool(np.any(self._ids == worker_id))

    def __len__(self) -> int:
        return len(set(self._ids.tolist()))

    def distances(self, encoding: Encoding) -> dict[str, float]:
        """Each enrolled worker's smallest distance to ``encoding``."""
        if self._matrix.shape[0] == 0:
            return {}
        dist = np.linalg.norm(self._matrix - encoding, axis=1)
        best: dict[str, float] = {}
        for worker_id, d in zip(self._ids.tolist(), dist.tolist(), strict=True):
            if d < best.get(worker_id, np.inf):
                best[worker_id] = d
        return best

    def judge(self, owner_id: str, encoding: Encoding, tolerance: float) -> Match:
        """Is ``encoding`` the owner? The owner must be within ``tolerance`` *and* the nearest
        enrolled person: a colleague who is closer is who stands there (anti-proxy)."""
        distances = self.distances(encoding)
        if owner_id not in distances:
            raise KeyError(owner_id)
        nearest = min(distances, key=distances.__getitem__)
        owner_d = distances[owner_id]
        ok = owner_d <= tolerance and distances[nearest] >= owner_d
        seen = None
        if not ok and nearest != owner_id and distances[nearest] <= tolerance:
            seen = nearest
        return Match(ok, owner_d, nearest, distances[nearest], seen)


def combine(encodings: Sequence[Encoding]) -> Encoding:
    """One template from several frames of the same face: the mean descriptor."""
    return np.asarray(np.mean(np.vstack(encodings), axis=0), dtype=np.float64)


# ---- image measures


def similarity(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Correlation of two signatures, from -1 to 1."""
    return float(a @ b) / a.size


def sharpness(gray: NDArray[np.uint8]) -> float:
    """Variance of the Laplacian: low on a blurred face."""
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def eye_aspect_ratio(eye: NDArray[np.float64]) -> float:
    """Soukupová & Čech: (|p2-p6| + |p3-p5|) / (2 |p1-p4|) over six eye landmarks."""
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    horizontal = 2.0 * np.linalg.norm(eye[0] - eye[3])
    return float(vertical / horizontal) if horizontal > 0 else 0.0


def eye_state(points: NDArray[np.float64]) -> EyeState:
    """EAR and yaw from 68 landmark points (x, y)."""
    ear = (eye_aspect_ratio(points[_LEFT_EYE]) + eye_aspect_ratio(points[_RIGHT_EYE])) / 2
    left, right = points[_OUTER_LEFT], points[_OUTER_RIGHT]
    span = float(np.linalg.norm(right - left))
    mid_x = (left[0] + right[0]) / 2
    yaw = float((points[_NOSE_TIP][0] - mid_x) / span) if span > 0 else 0.0
    return EyeState(ear=ear, yaw=yaw)


def _detection_image(frame: Frame, scale: float) -> NDArray[np.uint8]:
    """8-bit luma at ``scale`` of the frame width: the lores stream when it is big enough."""
    target_w = max(1, round(frame.width * scale))
    target_h = max(1, round(frame.height * scale))
    # The lores luma stream (picamera2) when it is big enough, else the colour frame.
    usable_luma = frame.luma is not None and frame.luma.shape[1] >= target_w
    source: Any = frame.luma if usable_luma else frame.rgb
    if source.shape[1] != target_w:
        source = cv2.resize(source, (target_w, target_h), interpolation=cv2.INTER_AREA)
    if source.ndim == 3:
        source = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(source, dtype=np.uint8)


def _face_patch(frame: Frame, box: FaceBox) -> NDArray[np.uint8]:
    top, bottom = max(box.top, 0), min(box.bottom, frame.height)
    left, right = max(box.left, 0), min(box.right, frame.width)
    crop = cv2.cvtColor(np.ascontiguousarray(frame.rgb[top:bottom, left:right]), cv2.COLOR_RGB2GRAY)
    patch = cv2.resize(crop, (QUALITY_PATCH_PX, QUALITY_PATCH_PX), interpolation=cv2.INTER_AREA)
    return np.asarray(patch, dtype=np.uint8)
