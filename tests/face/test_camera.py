"""Cameras: frames leave as contiguous RGB whatever the source's layout (face.md §5)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from edge.identity.config import IdentityConfig
from edge.identity.pipeline import FacePipeline
from firmware_adapters.camera import CameraError, Frame, PixelOrder, to_rgb
from firmware_adapters.camera.config import (
    FileCameraConfig,
    OpenCVCameraConfig,
    Picamera2Config,
    build_camera,
)
from firmware_adapters.camera.files import FileCamera, load_rgb
from firmware_adapters.camera.picamera import frame_from_streams


def test_reversed_channel_view_is_normalised_to_contiguous_rgb(faces: Path) -> None:
    rgb = load_rgb(faces / "obama.jpg")
    bgr_view = rgb[:, :, ::-1]  # the old BGR->RGB idiom: a negative-stride view
    assert not bgr_view.flags.c_contiguous
    out = to_rgb(bgr_view, PixelOrder.BGR)
    assert out.flags.c_contiguous
    assert out.shape == rgb.shape
    assert out.dtype == np.uint8
    assert np.array_equal(out, rgb)


def test_padded_four_channel_view_like_picamera2_is_normalised(faces: Path) -> None:
    rgb = load_rgb(faces / "obama_small.jpg")
    h, w, _ = rgb.shape
    # XBGR8888 with a stride wider than the row: R,G,B,X per pixel plus 16 padding pixels.
    padded = np.zeros((h, w + 16, 4), dtype=np.uint8)
    padded[:, :w, :3] = rgb
    view = padded[:, :w]
    assert not view.flags.c_contiguous
    out = to_rgb(view, PixelOrder.RGBA)
    assert out.flags.c_contiguous
    assert out.shape == (h, w, 3)
    assert np.array_equal(out, rgb)


def test_strided_frame_detects_like_the_contiguous_one(faces: Path, pipeline: FacePipeline) -> None:
    rgb = load_rgb(faces / "obama.jpg")
    reference = pipeline.detect(Frame(rgb=rgb, seq=1, mono_ts=0))
    normalised = to_rgb(np.ascontiguousarray(rgb[:, :, ::-1])[:, :, ::-1], PixelOrder.RGB)
    assert pipeline.detect(Frame(rgb=normalised, seq=2, mono_ts=0)) == reference
    assert len(reference) == 1


def test_to_rgb_rejects_what_is_not_an_image() -> None:
    with pytest.raises(CameraError, match="uint8"):
        to_rgb(np.zeros((4, 4, 3), dtype=np.float32), PixelOrder.RGB)
    with pytest.raises(CameraError, match="shape"):
        to_rgb(np.zeros((4, 4, 2), dtype=np.uint8), PixelOrder.RGB)


def test_grey_frame_becomes_three_channels() -> None:
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    out = to_rgb(grey, PixelOrder.GRAY)
    assert out.shape == (8, 8, 3)
    assert np.array_equal(out[:, :, 0], grey)


def test_file_camera_shows_a_chosen_photo_then_nobody(faces: Path) -> None:
    cam = FileCamera([faces / "obama.jpg", faces / "biden.jpg"])
    cam.open()
    first, second, third = cam.read(), cam.read(), cam.read()
    assert first.rgb.shape == (1137, 910, 3)
    assert second.rgb.shape == (2204, 970, 3)
    assert np.array_equal(third.rgb, first.rgb)
    assert first.seq < second.seq < third.seq
    cam.show(faces / "kit_harington_john2.jpeg")
    assert cam.read().rgb.shape == (374, 630, 3)
    cam.show(None)
    empty = cam.read().rgb
    assert empty.shape == (480, 640, 3)
    assert empty.std() == 0
    cam.replay()
    assert cam.read().rgb.shape in {(1137, 910, 3), (2204, 970, 3)}


def test_file_camera_reads_a_scene_file_again_once_it_is_replaced(
    faces: Path, tmp_path: Path
) -> None:
    # A test outside the daemon swaps the scene (a symlink renamed over it) as a person steps
    # in front of the terminal; a cached picture of the previous person would be a wrong match.
    scene = tmp_path / "scene.jpg"
    scene.symlink_to(faces / "obama.jpg")
    cam = FileCamera([scene])
    cam.open()
    assert cam.read().rgb.shape == (1137, 910, 3)
    assert cam.read().rgb.shape == (1137, 910, 3)  # unchanged: the cached copy
    new = tmp_path / "scene.new.jpg"
    new.symlink_to(faces / "biden.jpg")
    new.replace(scene)
    assert cam.read().rgb.shape == (2204, 970, 3)
    scene.unlink()
    with pytest.raises(CameraError, match="cannot read image"):
        cam.read()


def test_file_camera_letterboxes_to_a_fixed_size(faces: Path) -> None:
    cam = FileCamera([faces / "obama.jpg"], size=(1280, 720))
    frame = cam.read()
    assert frame.rgb.shape == (720, 1280, 3)
    assert frame.rgb.flags.c_contiguous
    assert frame.rgb[:, :100].max() == 0  # pillarbox bars left and right


def test_file_camera_folder_and_errors(faces: Path, tmp_path: Path) -> None:
    cam = FileCamera([faces])
    cam.open()
    assert cam.read().rgb.ndim == 3
    missing = FileCamera([tmp_path / "nope.jpg"])
    with pytest.raises(CameraError, match="does not exist"):
        missing.open()
    bogus = tmp_path / "bogus.jpg"
    bogus.write_bytes(b"not a jpeg")
    with pytest.raises(CameraError, match="cannot read image"):
        FileCamera([bogus]).read()


def test_opencv_camera_on_a_missing_device_is_a_camera_error() -> None:
    cam = build_camera(OpenCVCameraConfig(device="/dev/zonegate-no-such-video"))
    with pytest.raises(CameraError, match="cannot open"):
        cam.open()
    with pytest.raises(CameraError, match="not open"):
        cam.read()


def test_picamera2_off_a_pi_is_a_camera_error_not_an_import_error() -> None:
    cam = build_camera(Picamera2Config(warmup_s=0))
    with pytest.raises(CameraError):
        cam.open()


def test_camera_section_is_chosen_by_type() -> None:
    cfg = IdentityConfig.model_validate({"camera": {"type": "files", "paths": ["/tmp/x.jpg"]}})
    assert isinstance(cfg.camera, FileCameraConfig)
    assert isinstance(build_camera(cfg.camera), FileCamera)
    assert isinstance(IdentityConfig().camera, Picamera2Config)
    with pytest.raises(ValidationError, match=r"discriminator|does not match"):
        IdentityConfig.model_validate({"camera": {"type": "gopro"}})
    with pytest.raises(ValidationError, match="Extra inputs"):
        IdentityConfig.model_validate({"camera": {"type": "opencv", "devcie": 0}})


def test_tolerance_can_only_be_as_loose_as_the_library_default() -> None:
    assert IdentityConfig().tolerance < 0.6
    with pytest.raises(ValidationError):
        IdentityConfig(tolerance=0.7)


def test_detection_image_uses_a_lores_luma_stream_when_given(
    faces: Path, pipeline: FacePipeline
) -> None:
    rgb = load_rgb(faces / "obama_knn_test1.jpg")
    small = cv2.resize(rgb, (740, 416), interpolation=cv2.INTER_AREA)
    luma = np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
    with_luma = pipeline.detect(Frame(rgb=rgb, seq=1, mono_ts=0, luma=luma))
    without = pipeline.detect(Frame(rgb=rgb, seq=1, mono_ts=0))
    assert len(with_luma) == len(without) == 1
    assert with_luma[0].iou(without[0]) > 0.8


def test_picamera2_streams_become_a_contiguous_rgb_frame_with_luma(faces: Path) -> None:
    """picamera2 'BGR888' arrays hold R,G,B; a padded stride arrives as a non-contiguous view;
    the lores YUV420 array is 1.5 h rows of stride bytes with the Y plane first (face.md §5.2)."""
    rgb = load_rgb(faces / "obama_small.jpg")  # 320 x 240
    h, w, _ = rgb.shape
    padded = np.zeros((h, w + 32, 3), dtype=np.uint8)
    padded[:, :w] = rgb
    main = padded[:, :w]
    assert not main.flags.c_contiguous
    lores_w, lores_h, stride = 160, 120, 192
    y_plane = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (lores_w, lores_h))
    yuv = np.full((lores_h * 3 // 2, stride), 128, dtype=np.uint8)
    yuv[:lores_h, :lores_w] = y_plane
    frame = frame_from_streams(main, yuv, (lores_w, lores_h), seq=7, mono_ts=1.5)
    assert frame.rgb.flags.c_contiguous
    assert np.array_equal(frame.rgb, rgb)  # no channel swap: BGR888 is already R,G,B
    assert frame.luma is not None
    assert frame.luma.flags.c_contiguous
    assert np.array_equal(frame.luma, y_plane)
    with pytest.raises(CameraError, match="lores"):
        frame_from_streams(main, yuv[:10], (lores_w, lores_h), seq=8, mono_ts=2.0)
