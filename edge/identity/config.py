"""Configuration of face verification at badge-in, and of the camera it looks through."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from firmware_adapters.bilingual import BilingualValueError
from firmware_adapters.camera.config import CameraConfig, Picamera2Config
from firmware_adapters.configbase import Section


class QualityConfig(Section):
    """Gates a face must pass before it is encoded; each failure is ``FACE_QUALITY`` + a detail."""

    min_face_px: int = Field(
        default=80, ge=40, description="smallest face box width (full-frame px) worth encoding"
    )
    min_sharpness: float = Field(
        default=20.0,
        ge=0,
        description="variance of the Laplacian of the face scaled to 128 px; below = blurred",
    )
    min_brightness: float = Field(default=45.0, ge=0, le=255, description="mean face luma floor")
    max_brightness: float = Field(default=215.0, ge=0, le=255, description="mean face luma cap")
    max_clipped_fraction: float = Field(
        default=0.35, gt=0, le=1, description="share of face pixels crushed to black or white"
    )
    max_outside_fraction: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="share of the face box beyond the frame edge (a partly cut-off face)",
    )


class LivenessConfig(Section):
    """Blink (and optional head-turn) check. It stops a held-up photo; it does NOT stop a video
    replayed on a phone or tablet, a face swap or a mask: only IR or depth hardware does."""

    enabled: bool = Field(default=False, description="require a blink before a face is accepted")
    window_s: float = Field(
        default=4.0, gt=0, description="how long a tap waits for the blink when none was seen yet"
    )
    fps: float = Field(default=12.0, gt=0, le=60, description="eye sampling rate while waiting")
    blink_drop: float = Field(
        default=0.3,
        gt=0,
        lt=1,
        description="eye aspect ratio drop, relative to the person's own open-eye baseline",
    )
    recover: float = Field(
        default=0.85, gt=0, le=1, description="share of the baseline the eye must reopen to"
    )
    min_baseline_frames: int = Field(
        default=3, ge=1, description="open-eye frames needed before a dip counts as a blink"
    )
    max_closed_s: float = Field(
        default=0.7, gt=0, description="a longer dip is closed eyes, not a blink"
    )
    head_turn: bool = Field(default=False, description="also require a left-or-right head turn")
    head_turn_min_yaw: float = Field(
        default=0.25, gt=0, description="yaw swing (nose offset / eye distance) that counts"
    )


class TrackerConfig(Section):
    """Ahead-of-the-tap tracking: a face already in view is encoded before the badge is tapped."""

    enabled: bool = Field(default=True, description="watch the camera between taps")
    fps: float = Field(
        default=8.0, gt=0, le=30, description="detection rate while a face is in view"
    )
    idle_fps: float = Field(default=2.0, gt=0, le=30, description="detection rate with no face")
    encode_interval_s: float = Field(
        default=0.25, gt=0, description="minimum gap between two encodings of the same face"
    )
    frames_combined: int = Field(
        default=3, ge=1, le=10, description="encodings averaged into the template used at the tap"
    )
    cache_s: float = Field(
        default=3.0, gt=0, le=10, description="an encoding older than this is never used"
    )
    max_gap_s: float = Field(
        default=0.6, gt=0, description="a face unseen for longer has left; its track is dropped"
    )
    min_iou: float = Field(
        default=0.3, gt=0, le=1, description="box overlap that makes two sightings the same face"
    )
    min_appearance: float = Field(
        default=0.9,
        gt=0,
        lt=1,
        description=(
            "aligned-face correlation with the last encoded frame below which the cached "
            "encodings are not trusted and the face is encoded again"
        ),
    )
    same_face_distance: float = Field(
        default=0.5, gt=0, description="encodings further apart than this split the track"
    )


class IdentityConfig(Section):
    """Face verification at badge-in (1:1 against the badge owner, 1:N to name a proxy)."""

    enabled: bool = Field(default=False, description="verify the face against the badge owner")
    tolerance: float = Field(
        default=0.5,
        gt=0,
        le=0.6,
        description=(
            "largest encoding distance accepted as the owner. 0.6 (the library default) accepts "
            "about 1 impostor pair in 140 (reference/face.md §1) against a 0.1 % FAR goal; the "
            "library wiki suggests 0.5 and the fixture set's genuine pairs sit at 0.34-0.52, "
            "impostors at 0.75+. Calibrate on the site's own consented population"
        ),
    )
    min_face_fraction: float = Field(
        default=0.2,
        gt=0.02,
        le=1,
        description=(
            "smallest face expected at badge distance, as a share of the frame width; detection "
            "runs on a frame shrunk so that this face stays above the HOG detector's 80 px window"
        ),
    )
    multiple_faces: Literal["reject", "largest"] = Field(
        default="reject",
        description="several faces in view: deny with MULTIPLE_FACES, or judge the largest",
    )
    encoder: Literal["thread", "process"] = Field(
        default="process",
        description=(
            "where the ResNet runs: a child process (the event loop keeps running while a face "
            "is encoded; dlib holds the GIL for the whole encoding) or a worker thread"
        ),
    )
    num_jitters: int = Field(default=1, ge=1, le=10, description="re-samplings when verifying")
    enrol_jitters: int = Field(default=10, ge=1, le=100, description="re-samplings at enrolment")
    enrol_min_images: int = Field(
        default=2, ge=1, description="good images enrolment needs before it stores anything"
    )
    capture_timeout_s: float = Field(
        default=2.0, gt=0, description="how long a tap looks for a usable face before denying"
    )
    store_file: Path | None = Field(
        default=None, description="encrypted encodings; default <state_dir>/faces.enc"
    )
    key_file: Path | None = Field(
        default=None,
        description="device key (32+ random bytes, mode 0600); default <state_dir>/device.key",
    )
    quality: QualityConfig = QualityConfig()
    liveness: LivenessConfig = LivenessConfig()
    tracker: TrackerConfig = TrackerConfig()
    camera: CameraConfig = Field(
        default_factory=Picamera2Config, description="type: picamera2 | opencv | files"
    )

    @model_validator(mode="after")
    def _cache_outlives_a_tick(self) -> IdentityConfig:
        if self.tracker.cache_s < 1 / self.tracker.fps:
            raise BilingualValueError(
                "tracker.cache_s must be longer than one tracker frame",
                "tracker.cache_s 应长于跟踪器的一帧（1 / tracker.fps 秒）",
            )
        if self.quality.min_brightness >= self.quality.max_brightness:
            raise BilingualValueError(
                "quality.min_brightness must be below quality.max_brightness",
                "quality.min_brightness 应低于 quality.max_brightness",
            )
        return self

    def store_path(self, state_dir: Path) -> Path:
        """The encrypted face store: ``store_file`` or ``<state_dir>/faces.enc``."""
        return self.store_file if self.store_file is not None else state_dir / "faces.enc"

    def key_path(self, state_dir: Path) -> Path:
        """The device key that encrypts it: ``key_file`` or ``<state_dir>/device.key``."""
        return self.key_file if self.key_file is not None else state_dir / "device.key"
