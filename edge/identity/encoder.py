"""Where the ResNet runs: in the calling thread, or in a child process.

dlib's ``compute_face_descriptor`` holds the GIL for the whole encoding (measured: a 57 ms encode
on x86 delays every other thread, the event loop included, by 57 ms; a Pi takes 250-500 ms).
The HOG detector and the landmark models release it or are short. The ``process`` encoder sends
only the 150 x 150 aligned face chip (67 KB) to a child that holds the ResNet, so the daemon's
loop, watchdog and gas alarms keep running while a face is encoded. Same chip, same descriptor.
"""

from __future__ import annotations

import contextlib
import importlib
import struct
import subprocess
import sys
import threading
import warnings
from typing import IO, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from edge.errors import EdgeError

CHIP_PX = 150
CHIP_PADDING = 0.25
"""dlib's own alignment for its ResNet (what ``compute_face_descriptor(img, shape)`` does)."""


class EncoderFailed(EdgeError):
    """The encoder could not produce a descriptor (model missing, child process died)."""


class ChipEncoder(Protocol):
    """Turns an aligned face chip into a 128-d descriptor (dlib)."""

    def encode(self, chip: NDArray[np.uint8], jitters: int) -> NDArray[np.float64]:
        """The descriptor of a 150x150 RGB chip; raises ``EncoderFailed``."""

    def close(self) -> None:
        """Release the model (and a child process, if any)."""


def resnet_path() -> str:
    """Path of dlib's face recognition ResNet from the face_recognition_models package."""
    try:
        with warnings.catch_warnings():
            # face_recognition_models imports pkg_resources, deprecated upstream.
            warnings.simplefilter("ignore", UserWarning)
            # No type information ships with it; importlib keeps mypy out of it.
            files = importlib.import_module("face_recognition_models")
    except ImportError as err:
        raise EncoderFailed(f"face models not installed: {err}") from err
    return str(files.face_recognition_model_location())


class InlineEncoder:
    """The ResNet in the calling thread (holds the GIL while it encodes)."""

    def __init__(self, resnet: Any) -> None:
        self._resnet = resnet
        self._lock = threading.Lock()

    def encode(self, chip: NDArray[np.uint8], jitters: int) -> NDArray[np.float64]:
        """The descriptor of a 150x150 RGB chip; raises ``EncoderFailed``."""
        with self._lock:
            return np.asarray(self._resnet.compute_face_descriptor(chip, jitters), np.float64)

    def close(self) -> None:
        """Release the model (and the child process, if any)."""


class ProcessEncoder:
    """The ResNet in a child process (``python -m edge.identity.encoder``) fed over pipes.

    A plain subprocess, not ``multiprocessing``: spawn would re-import the caller's main script.
    Blocking calls; the waiting thread releases the GIL while the child works. A dead child is
    restarted on the next call; the call that found it dead fails with ``EncoderFailed``.
    """

    def __init__(self, model_path: str | None = None) -> None:
        self._model_path = model_path or resnet_path()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        # Fixed argv: this interpreter, this module, the model path from the models package.
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "edge.identity.encoder", self._model_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # Its own process group: a terminal's Ctrl-C goes to the foreground group and hit
            # this child mid-import (a traceback after Ctrl-C in `zonegate demo`). The parent
            # ends it by closing its stdin, and its stdin closes too if the parent dies.
            process_group=0,
        )
        assert proc.stdout is not None
        status = proc.stdout.read(1)
        if status != b"R":
            message = _read_error(proc.stdout) if status == b"E" else "exited while loading"
            proc.kill()
            proc.wait(timeout=5)
            raise EncoderFailed(f"face encoder process: {message}")
        self._proc = proc
        return proc

    def start(self) -> None:
        """Start the child now (blocking: the model loads in about a second)."""
        with self._lock:
            if self._proc is None:
                self._start()

    def encode(self, chip: NDArray[np.uint8], jitters: int) -> NDArray[np.float64]:
        """The descriptor of a 150x150 RGB chip; raises ``EncoderFailed``."""
        chip = np.ascontiguousarray(chip, dtype=np.uint8)
        height, width = int(chip.shape[0]), int(chip.shape[1])
        request = _HEADER.pack(jitters, height, width) + chip.tobytes()
        with self._lock:
            proc = self._proc or self._start()
            assert proc.stdin is not None
            assert proc.stdout is not None
            try:
                proc.stdin.write(request)
                proc.stdin.flush()
                status = proc.stdout.read(1)
                if status == b"K":
                    payload = proc.stdout.read(_DESCRIPTOR_BYTES)
                    if len(payload) == _DESCRIPTOR_BYTES:
                        return np.frombuffer(payload, dtype="<f8").astype(np.float64)
                elif status == b"E":
                    raise EncoderFailed(f"face encoder: {_read_error(proc.stdout)}")
            except (BrokenPipeError, ConnectionResetError, ValueError):
                pass
            self._stop()
        raise EncoderFailed("face encoder process died; it restarts on the next call")

    def close(self) -> None:
        """Release the model (and the child process, if any)."""
        with self._lock:
            self._stop()

    @property
    def pid(self) -> int | None:
        """The encoder child's process id, or None when not running."""
        return None if self._proc is None else self._proc.pid

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):  # BrokenPipeError: the child is gone already
                proc.stdin.close()  # EOF: the child exits
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


_HEADER = struct.Struct("<III")
_DESCRIPTOR_BYTES = 128 * 8


def _read_error(stream: IO[bytes]) -> str:
    (length,) = struct.unpack("<I", stream.read(4) or b"\0\0\0\0")
    return stream.read(length).decode("utf-8", "replace")


def _error(message: str) -> bytes:
    data = message.encode("utf-8")
    return b"E" + struct.pack("<I", len(data)) + data


def serve(model_path: str, stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """Child process: load the ResNet, then encode chips until stdin closes."""
    try:
        import dlib

        resnet = dlib.face_recognition_model_v1(model_path)
    except Exception as err:  # report any load failure to the parent, then exit
        stdout.write(_error(f"{type(err).__name__}: {err}"))
        stdout.flush()
        return 1
    stdout.write(b"R")
    stdout.flush()
    while True:
        header = stdin.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return 0  # the parent closed the pipe or went away
        jitters, height, width = _HEADER.unpack(header)
        body = stdin.read(height * width * 3)
        if len(body) < height * width * 3:
            return 0
        chip = np.frombuffer(body, dtype=np.uint8).reshape(height, width, 3)
        try:
            descriptor = np.asarray(resnet.compute_face_descriptor(chip, jitters), dtype="<f8")
            stdout.write(b"K" + descriptor.tobytes())
        except Exception as err:  # a bad chip must not kill the encoder
            stdout.write(_error(f"{type(err).__name__}: {err}"))
        stdout.flush()


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer))
