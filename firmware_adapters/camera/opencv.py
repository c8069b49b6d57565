"""USB / V4L2 webcams through OpenCV."""

from __future__ import annotations

import sys
import time

import cv2
import numpy as np

from firmware_adapters.camera.frames import CameraError, Frame, PixelOrder, to_rgb


class OpenCVCamera:
    """A V4L2 webcam. OpenCV delivers B,G,R; frames leave here as contiguous RGB."""

    def __init__(
        self, device: int | str = 0, *, width: int = 1280, height: int = 720, name: str = "opencv"
    ) -> None:
        self.name = name
        self._device = device
        self._width = width
        self._height = height
        self._capture: cv2.VideoCapture | None = None
        self._seq = 0

    def open(self) -> None:
        """Open the V4L2 device at the requested size. Raises ``CameraError`` if it cannot."""
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        capture = cv2.VideoCapture(self._device, backend)
        if not capture.isOpened():
            capture.release()
            raise CameraError(f"cannot open video device {self._device!r}")
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self._width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self._height)
        self._capture = capture

    def read(self) -> Frame:
        """The next frame as contiguous RGB. Raises ``CameraError`` when not open or on no frame."""
        if self._capture is None:
            raise CameraError("camera is not open")
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            raise CameraError(f"no frame from video device {self._device!r}")
        self._seq += 1
        rgb = to_rgb(np.asarray(bgr, dtype=np.uint8), PixelOrder.BGR)
        return Frame(rgb=rgb, seq=self._seq, mono_ts=time.monotonic())

    def close(self) -> None:
        """Release the device; safe to call twice."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
