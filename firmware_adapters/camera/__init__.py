"""Cameras for face verification: picamera2 on a Pi, OpenCV/V4L2 webcams, image files.

Every camera hands out :class:`Frame` objects whose ``rgb`` is an ``(H, W, 3)`` ``uint8``,
C-contiguous, R-G-B array: dlib gives non-deterministic detections and then a ``TypeError`` on
strided or channel-reversed views (reference/face.md §5.1), so the normalisation happens here,
once, at the boundary. Cameras are blocking; callers run ``read`` in a worker thread.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firmware_adapters.camera.frames import CameraError, Frame, PixelOrder, to_luma, to_rgb
    from firmware_adapters.camera.source import Camera

__all__ = ["Camera", "CameraError", "Frame", "PixelOrder", "to_luma", "to_rgb"]

# Loaded on first use (PEP 562): ``frames`` imports OpenCV and numpy, about 32 MB that a gateway
# with identity off must not pay for just because its config names a camera type (issue 12.11).
_HOME = {name: "frames" for name in __all__ if name != "Camera"} | {"Camera": "source"}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
