"""Frames as the face pipeline needs them, and the conversions that get them there."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
from numpy.typing import NDArray

from firmware_adapters.errors import DeviceError

Image = NDArray[np.uint8]


class CameraError(DeviceError):
    """The camera could not deliver a frame (missing device, unplugged, unreadable file)."""


class PixelOrder(StrEnum):
    """Byte order of the channels *in memory* (not the driver's format name)."""

    RGB = "RGB"
    BGR = "BGR"
    RGBA = "RGBA"
    BGRA = "BGRA"
    GRAY = "GRAY"


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured image.

    ``rgb`` is always ``(H, W, 3)`` uint8 C-contiguous RGB. ``luma`` is an optional smaller 8-bit
    grey image of the same scene (picamera2's low-resolution stream) that detection may use
    instead of shrinking ``rgb``; ``None`` when the camera has none.
    """

    rgb: Image
    seq: int
    mono_ts: float
    luma: Image | None = None

    @property
    def width(self) -> int:
        """Frame width in pixels."""
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        """Frame height in pixels."""
        return int(self.rgb.shape[0])


def to_rgb(array: NDArray[np.uint8], order: PixelOrder) -> Image:
    """Normalise ``array`` to a C-contiguous ``(H, W, 3)`` RGB copy-or-view dlib accepts.

    Drops alpha / padding channels and reorders with OpenCV (never a negative-stride slice),
    then makes the result contiguous. Raises ``CameraError`` on a shape that is not an image.
    """
    if array.dtype != np.uint8:
        raise CameraError(f"frame dtype {array.dtype} is not uint8")
    if order is PixelOrder.GRAY:
        if array.ndim != 2:
            raise CameraError(f"grey frame has shape {array.shape}")
        return np.ascontiguousarray(
            cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_GRAY2RGB), dtype=np.uint8
        )
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise CameraError(f"colour frame has shape {array.shape}")
    if array.shape[2] == 4 or order in (PixelOrder.RGBA, PixelOrder.BGRA):
        array = array[:, :, :3]
        order = PixelOrder.RGB if order in (PixelOrder.RGB, PixelOrder.RGBA) else PixelOrder.BGR
    src = np.ascontiguousarray(array)
    if order is PixelOrder.BGR:
        return np.ascontiguousarray(cv2.cvtColor(src, cv2.COLOR_BGR2RGB), dtype=np.uint8)
    return src


def to_luma(rgb: Image) -> Image:
    """An 8-bit grey image of ``rgb`` (HOG detects as well on luma, and faster)."""
    return np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)


def fit_into(rgb: Image, size: tuple[int, int]) -> Image:
    """Letterbox ``rgb`` into a ``(width, height)`` frame, as a fixed-resolution camera would."""
    width, height = size
    h, w = rgb.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
    out: Image = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top : top + new_h, left : left + new_w] = resized
    return out
