"""A camera that shows image files: the tests' and the demo's stand-in for a real camera."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

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
    Thread-safe: the demo calls ``show`` from the event loop while a worker thread reads.
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
        self._cache: dict[Path, Image] = {}
        self._lock = threading.Lock()
        self._pinned: Image | None = None
        self._pinned_set = False
        self._index = 0
        self._seq = 0

    def open(self) -> None:
        for path in self._paths:
            if not path.is_file():
                raise CameraError(f"image file {path} does not exist")

    def close(self) -> None:
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
        with self._lock:
            cached = self._cache.get(path)
        if cached is not None:
            return cached
        image = load_rgb(path)
        if self._size is not None:
            image = fit_into(image, self._size)
        image.setflags(write=False)
        with self._lock:
            self._cache[path] = image
        return image

    def _empty(self) -> Image:
        width, height = self._size or (640, 480)
        # A plain mid-grey wall: no face, but a sane exposure.
        return np.full((height, width, 3), 96, dtype=np.uint8)
