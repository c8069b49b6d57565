"""A camera that shows image files: the tests' and the demo's stand-in for a real camera."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps, JpegImagePlugin, UnidentifiedImageError

from firmware_adapters.camera.frames import CameraError, Frame, Image, PixelOrder, fit_into, to_rgb

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


def load_rgb(path: Path) -> Image:
    """Read an image file as contiguous RGB (alpha dropped). Raises ``CameraError``."""
    try:
        with PILImage.open(path) as img:
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as err:
        raise CameraError(f"cannot read image {path}: {err}") from err
    return to_rgb(rgb, PixelOrder.RGB)


class PhotoRefused(CameraError):
    """A photo that is not decoded: ``code`` is ``IMAGE_TOO_LARGE`` or ``IMAGE_UNREADABLE``;
    ``detail`` (also ``str()``) says why in English, ``detail_zh`` in Chinese."""

    def __init__(self, code: str, detail: str, detail_zh: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.detail_zh = detail_zh


PHOTO_MAX_SIDE_PX = 2400
"""Longest side an enrolment photo is decoded at. A face at a tenth of the width is then still
240 px wide, above what the encoder's 150 px chip needs; every fixture photo is smaller."""
PHOTO_MAX_DECODE_PIXELS = 40_000_000
"""Most pixels decoded at once (120 MB as RGB). JPEGs are decoded at 1/2, 1/4 or 1/8 scale by
the decoder itself (``Image.draft``), so a 108 MP or 200 MP phone photo stays under it; a format
that cannot be reduced while decoding (PNG, BMP, ...) is refused above it."""


def load_photo(
    path: Path,
    *,
    max_side_px: int = PHOTO_MAX_SIDE_PX,
    max_decode_pixels: int = PHOTO_MAX_DECODE_PIXELS,
) -> Image:
    """A photo file as contiguous RGB, upright and at most ``max_side_px`` on its longest side.

    EXIF orientation is applied (phones store portraits sideways with Orientation 6 or 8).
    Memory is bounded: only the header is read before deciding how to decode (see
    ``PHOTO_MAX_DECODE_PIXELS``). Raises ``PhotoRefused`` with a code, never Pillow's
    ``DecompressionBombError`` or another exception type.
    """
    img = _open_header(path)
    try:
        rgb = _decode_bounded(img, path, max_side_px, max_decode_pixels)
    except (OSError, SyntaxError, ValueError, MemoryError) as err:
        raise PhotoRefused("IMAGE_UNREADABLE", f"{path}: {err}", f"{path}：{err}") from err
    finally:
        img.close()
    return to_rgb(rgb, PixelOrder.RGB)


def _decode_bounded(
    img: PILImage.Image, path: Path, max_side_px: int, max_decode_pixels: int
) -> Image:
    width, height = img.size
    declared = f"{width} x {height} px"
    if width <= 0 or height <= 0:
        raise PhotoRefused(
            "IMAGE_UNREADABLE", f"{path}: empty image ({declared})", f"{path}：空图像（{declared}）"
        )
    factor = min(1.0, max_side_px / max(width, height))
    # JPEG only: the decoder skips DCT detail (1/2 .. 1/8 scale); img.size becomes the reduced one.
    img.draft("RGB", (max(1, int(width * factor)), max(1, int(height * factor))))
    if img.size[0] * img.size[1] > max_decode_pixels:
        raise PhotoRefused(
            "IMAGE_TOO_LARGE",
            f"{path}: {declared} ({width * height / 1e6:.0f} MP) cannot be decoded in bounded "
            f"memory; send it at most {max_decode_pixels / 1e6:.0f} MP or as JPEG",
            f"{path}：{declared}（{width * height / 1e6:.0f} 百万像素）太大，无法在有限内存中解码；"
            f"请提供不超过 {max_decode_pixels / 1e6:.0f} 百万像素的照片，或 JPEG 格式",
        )
    with warnings.catch_warnings():
        # The size was bounded above; Pillow's own bomb warning adds nothing.
        warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
        img.thumbnail((max_side_px, max_side_px))
        upright = ImageOps.exif_transpose(img)
        return np.asarray(upright.convert("RGB"), dtype=np.uint8)


def _open_header(path: Path) -> PILImage.Image:
    """Open lazily (header only). Pillow refuses a header above 179 MP outright; a JPEG can be
    decoded reduced, so it is opened past that check and bounded by ``load_photo`` instead."""
    try:
        return PILImage.open(path)
    except PILImage.DecompressionBombError:
        pass
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise PhotoRefused("IMAGE_UNREADABLE", f"{path}: {err}", f"{path}：{err}") from err
    try:
        return JpegImagePlugin.JpegImageFile(path)
    except (SyntaxError, OSError):
        raise PhotoRefused(
            "IMAGE_TOO_LARGE",
            f"{path}: too many pixels to decode in bounded memory",
            f"{path}：像素太多，无法在有限内存中解码",
        ) from None


def declared_size(path: Path) -> tuple[int, int] | None:
    """The ``(width, height)`` in px a photo's header declares, read without decoding the
    pixels; None when the header cannot be read. ``load_photo`` may have judged a reduced
    copy: this says what the file claimed (a 200 MP phone photo, or a forged header)."""
    try:
        img = _open_header(path)
    except PhotoRefused:
        return None
    try:
        width, height = img.size
        return int(width), int(height)
    finally:
        img.close()


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders as their image files in name order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            out.append(path)
    return out


class FileCamera:
    """Replays image files or folders, or shows one chosen picture until told otherwise.

    Without ``show``, each ``read`` returns the next file, cycling. ``show(path)`` pins one image
    (the demo points the camera at the photo of whoever taps a badge); ``show(None)`` shows an
    empty scene. ``size`` letterboxes every image into a fixed frame like a real camera's.
    A file replaced on disk (another inode, size or mtime) is read again: a test outside the
    process swaps a scene file (a symlink renamed over it) as a person steps in front of the
    camera. Thread-safe: the demo calls ``show`` from the event loop while a worker thread reads.
    """

    def __init__(
        self,
        paths: Sequence[Path] = (),
        *,
        size: tuple[int, int] | None = None,
        name: str = "files",
    ) -> None:
        self.name = name
        self._paths = expand_paths(paths)
        self._size = size
        self._cache: dict[Path, tuple[tuple[int, int, int], Image]] = {}
        self._lock = threading.Lock()
        self._pinned: Image | None = None
        self._pinned_set = False
        self._index = 0
        self._seq = 0

    def open(self) -> None:
        """Check every configured file exists. Raises ``CameraError`` naming a missing one."""
        for path in self._paths:
            if not path.is_file():
                raise CameraError(f"image file {path} does not exist")

    def close(self) -> None:
        """Drop the decoded-image cache; safe to call twice."""
        with self._lock:
            self._cache.clear()

    def show(self, path: Path | None) -> None:
        """Pin the picture in front of the camera: a file, or ``None`` for nobody in view."""
        image = None if path is None else self._load(path)
        with self._lock:
            self._pinned, self._pinned_set = image, True

    def show_array(self, rgb: Image) -> None:
        """Pin an in-memory picture (benchmarks, synthetic frames)."""
        image = to_rgb(rgb, PixelOrder.RGB)
        if self._size is not None:
            image = fit_into(image, self._size)
        with self._lock:
            self._pinned, self._pinned_set = image, True

    def replay(self, paths: Sequence[Path] | None = None) -> None:
        """Return to cycling through the configured files, or through ``paths`` from now on."""
        with self._lock:
            if paths is not None:
                self._paths, self._index = expand_paths(paths), 0
            self._pinned, self._pinned_set = None, False

    def read(self) -> Frame:
        """The pinned picture, else the next configured file (cycling), else an empty frame."""
        with self._lock:
            pinned, pinned_set = self._pinned, self._pinned_set
            self._seq += 1
            seq = self._seq
        if pinned_set:
            image = pinned if pinned is not None else self._empty()
        elif self._paths:
            with self._lock:
                path = self._paths[self._index % len(self._paths)]
                self._index += 1
            image = self._load(path)
        else:
            image = self._empty()
        return Frame(rgb=image, seq=seq, mono_ts=time.monotonic())

    def _load(self, path: Path) -> Image:
        try:
            st = path.stat()
        except OSError as err:
            raise CameraError(f"cannot read image {path}: {err}") from err
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            cached = self._cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        image = load_rgb(path)
        if self._size is not None:
            image = fit_into(image, self._size)
        image.setflags(write=False)
        with self._lock:
            self._cache[path] = (stamp, image)
        return image

    def _empty(self) -> Image:
        width, height = self._size or (640, 480)
        # A plain mid-grey wall: no face, but a sane exposure.
        return np.full((height, width, 3), 96, dtype=np.uint8)
