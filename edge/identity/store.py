"""Face encodings at rest: AES-256-GCM under a key derived from the device key, one file.

Only 128-d encodings are kept (never images). The whole store is one authenticated ciphertext:
a wrong key, a flipped bit or a truncated file is an error, never an empty roster read as fine.
Writes go to a temp file, fsync, rename, fsync of the directory, so a power cut leaves either
the old or the new store. Erasing a worker rewrites the file without them (PIPL Art. 47).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from edge.errors import EdgeError
from edge.identity.pipeline import Encoding

MAGIC = b"ZGFACE1\n"
_NONCE_BYTES = 12
_AAD = b"zonegate face encodings v1"
_MIN_KEY_BYTES = 32


class StoreError(EdgeError):
    """The encodings cannot be read or written (missing or wrong key, corrupt file)."""


def create_device_key(path: Path) -> None:
    """Write a fresh random 32-byte device key readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
        fh.flush()
        os.fsync(fh.fileno())


def _derive_key(key_path: Path) -> bytes:
    try:
        material = key_path.read_bytes()
    except OSError as err:
        raise StoreError(f"cannot read device key {key_path}: {err.strerror}") from err
    if len(material) < _MIN_KEY_BYTES:
        raise StoreError(f"device key {key_path} is shorter than {_MIN_KEY_BYTES} bytes")
    # HKDF binds the key to this use: the same device key may sign or encrypt other things.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_AAD)
    return hkdf.derive(material)


class EncodingStore:
    """Enrolled encodings per worker, encrypted on disk, cached in memory.

    Thread-safe. ``reload_if_changed`` lets the daemon pick up an enrolment made by the
    ``zonegate enroll`` command in another process.
    """

    def __init__(self, path: Path, key_path: Path) -> None:
        self.path = path
        self._aead = AESGCM(_derive_key(key_path))
        self._lock = threading.RLock()
        self._workers: dict[str, dict[str, Any]] = {}
        self._stamp: tuple[int, int] | None = None
        self.reload_if_changed()

    # ---- reading

    def reload_if_changed(self) -> bool:
        """Re-read the file when another process rewrote it. Raises ``StoreError``."""
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                changed = self._stamp is not None
                self._workers, self._stamp = {}, None
                return changed
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == self._stamp:
                return False
            self._workers = self._decrypt(self.path.read_bytes())
            self._stamp = stamp
            return True

    def _decrypt(self, blob: bytes) -> dict[str, dict[str, Any]]:
        if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + _NONCE_BYTES + 16:
            raise StoreError(f"{self.path} is not a face encoding store")
        nonce = blob[len(MAGIC) : len(MAGIC) + _NONCE_BYTES]
        try:
            plain = self._aead.decrypt(nonce, blob[len(MAGIC) + _NONCE_BYTES :], _AAD)
        except InvalidTag as err:
            raise StoreError(f"{self.path}: wrong device key or corrupt file") from err
        doc = json.loads(plain)
        workers: dict[str, dict[str, Any]] = doc["workers"]
        return workers

    def worker_ids(self) -> list[str]:
        """Workers with at least one enrolled face."""
        with self._lock:
            return sorted(self._workers)

    def encodings(self, worker_id: str) -> list[Encoding]:
        """The worker's enrolled encodings; empty when not enrolled."""
        with self._lock:
            entry = self._workers.get(worker_id)
        if entry is None:
            return []
        return [_unpack(e) for e in entry["encodings"]]

    def all_encodings(self) -> dict[str, list[Encoding]]:
        """Every enrolled descriptor, by worker id."""
        with self._lock:
            return {
                w: [_unpack(e) for e in entry["encodings"]] for w, entry in self._workers.items()
            }

    # ---- writing

    def put(self, worker_id: str, encodings: Sequence[Encoding], *, images: int) -> None:
        """Replace the worker's encodings (an enrolment)."""
        if not encodings:
            raise ValueError("nothing to store")
        for enc in encodings:
            if np.shape(enc) != (128,) or not np.all(np.isfinite(enc)):
                raise ValueError("an encoding must be 128 finite values")
        with self._lock:
            self.reload_if_changed()
            workers = dict(self._workers)
            workers[worker_id] = {
                "encodings": [_pack(e) for e in encodings],
                "images": images,
                "enrolled_at": datetime.now(UTC).isoformat(),
            }
            self._write(workers)

    def erase(self, worker_id: str) -> bool:
        """Delete the worker's encodings. True when there were some."""
        with self._lock:
            self.reload_if_changed()
            if worker_id not in self._workers:
                return False
            workers = {w: e for w, e in self._workers.items() if w != worker_id}
            self._write(workers)
            return True

    def erase_worker(self, worker_id: str) -> None:
        """``ZoneController.on_worker_removed`` callback: erase, whether enrolled or not."""
        self.erase(worker_id)

    def retain(self, worker_ids: Iterable[str]) -> list[str]:
        """Erase everyone not in ``worker_ids`` (roster reconciliation); returns who went."""
        keep = set(worker_ids)
        with self._lock:
            self.reload_if_changed()
            gone = sorted(w for w in self._workers if w not in keep)
            if gone:
                self._write({w: e for w, e in self._workers.items() if w in keep})
            return gone

    def _write(self, workers: Mapping[str, dict[str, Any]]) -> None:
        plain = json.dumps({"version": 1, "workers": workers}, sort_keys=True).encode()
        nonce = secrets.token_bytes(_NONCE_BYTES)
        blob = MAGIC + nonce + self._aead.encrypt(nonce, plain, _AAD)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        st = self.path.stat()
        self._workers, self._stamp = dict(workers), (st.st_mtime_ns, st.st_size)


def _pack(encoding: Encoding) -> str:
    return base64.b64encode(np.asarray(encoding, dtype="<f4").tobytes()).decode("ascii")


def _unpack(text: str) -> Encoding:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float64)
