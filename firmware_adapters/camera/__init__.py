"""Cameras for face verification: picamera2 on a Pi, OpenCV/V4L2 webcams, image files.

Every camera hands out :class:`Frame` objects whose ``rgb`` is an ``(H, W, 3)`` ``uint8``,
C-contiguous, R-G-B array: dlib gives non-deterministic detections and then a ``TypeError`` on
strided or channel-reversed views (reference/face.md §5.1), so the normalisation happens here,
once, at the boundary. Cameras are blocking; callers run ``read`` in a worker thread.
"""

from __future__ import annotations

from firmware_adapters.camera.frames import CameraError, Frame, PixelOrder, to_luma, to_rgb
from firmware_adapters.camera.source import Camera

__all__ = ["Camera", "CameraError", "Frame", "PixelOrder", "to_luma", "to_rgb"]
