"""Raspberry Pi cameras through picamera2 (imported only when opened, i.e. only on a Pi).

Main stream ``BGR888`` at 1280x720 and a ``YUV420`` low-resolution stream for detection
(reference/face.md §5.2). picamera2 names formats in DRM order, so ``BGR888`` arrays hold
R,G,B per pixel: exactly what dlib wants. A stride wider than the row comes back as a
non-contiguous view; ``to_rgb`` copies it contiguous. The lores luma (Y) plane is the first
``h`` rows and ``w`` columns of the YUV420 array.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from firmware_adapters.camera.frames import CameraError, Frame, PixelOrder, to_rgb


def frame_from_streams(
    main: Any, lores: Any, lores_size: tuple[int, int], seq: int, mono_ts: float
) -> Frame:
    """A ``Frame`` from picamera2's arrays: main ``BGR888`` (R,G,B in memory, maybe a padded
    non-contiguous view) and lores ``YUV420`` (``1.5 h`` rows of ``stride`` bytes; Y first)."""
    width, height = lores_size
    yuv = np.asarray(lores, dtype=np.uint8)
    if yuv.ndim != 2 or yuv.shape[0] < height or yuv.shape[1] < width:
        raise CameraError(f"lores YUV420 array has shape {yuv.shape}, expected {lores_size}")
    luma = np.ascontiguousarray(yuv[:height, :width])
    rgb = to_rgb(np.asarray(main, dtype=np.uint8), PixelOrder.RGB)
    return Frame(rgb=rgb, seq=seq, mono_ts=mono_ts, luma=luma)


class Picamera2Camera:
    """A Pi camera module (CSI). Needs ``python3-picamera2`` from apt and a venv with
    ``--system-site-packages``."""

    def __init__(
        self,
        *,
        size: tuple[int, int] = (1280, 720),
        lores_size: tuple[int, int] = (320, 240),
        warmup_s: float = 1.5,
        camera_num: int = 0,
        name: str = "picamera2",
    ) -> None:
        self.name = name
        self._size = size
        self._lores_size = lores_size
        self._warmup_s = warmup_s
        self._camera_num = camera_num
        self._picam: Any = None
        self._seq = 0

    def open(self) -> None:
        """Start the camera and wait ``warmup_s`` for exposure to settle.

        Raises ``CameraError`` when picamera2 is missing or libcamera cannot start the camera.
        """
        try:
            from picamera2 import Picamera2  # only importable on a Pi
        except ImportError as err:
            raise CameraError(
                "picamera2 is not installed (apt install python3-picamera2; the venv needs "
                "--system-site-packages)"
            ) from err
        try:
            picam = Picamera2(self._camera_num)
            config = picam.create_video_configuration(
                main={"size": self._size, "format": "BGR888"},
                lores={"size": self._lores_size, "format": "YUV420"},
            )
            picam.configure(config)
            picam.start()
        except Exception as err:  # libcamera raises bare RuntimeErrors and more
            raise CameraError(f"cannot start Pi camera {self._camera_num}: {err}") from err
        # Auto-exposure and white balance settle over the first second or two.
        time.sleep(self._warmup_s)
        self._picam = picam

    def read(self) -> Frame:
        """The next frame (main stream as RGB, lores luma kept). Raises ``CameraError``."""
        if self._picam is None:
            raise CameraError("camera is not open")
        try:
            request = self._picam.capture_request()
            try:
                main = request.make_array("main")
                lores = request.make_array("lores")
            finally:
                request.release()
        except Exception as err:
            raise CameraError(f"Pi camera capture failed: {err}") from err
        self._seq += 1
        return frame_from_streams(main, lores, self._lores_size, self._seq, time.monotonic())

    def close(self) -> None:
        """Stop the camera; safe to call twice."""
        if self._picam is not None:
            try:
                self._picam.stop()
                self._picam.close()
            finally:
                self._picam = None
