"""Encodings at rest: encrypted with the device key, erased with the roster entry."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from edge.identity.config import IdentityConfig
from edge.identity.pipeline import Encoding
from edge.identity.service import open_store
from edge.identity.store import EncodingStore, StoreError, create_device_key


def test_round_trip_keeps_the_encodings(
    store: EncodingStore, enrolled: dict[str, list[Encoding]]
) -> None:
    again = EncodingStore(store.path, store_key(store))
    assert again.worker_ids() == sorted(enrolled)
    for worker_id, encodings in enrolled.items():
        restored = again.encodings(worker_id)
        assert len(restored) == len(encodings)
        for a, b in zip(restored, encodings, strict=True):
            # float32 at rest: far below any distance that matters (tolerance 0.5).
            assert np.linalg.norm(a - b) < 1e-5


def store_key(store: EncodingStore) -> Path:
    return store.path.parent / "device.key"


def test_file_holds_no_encoding_in_clear(
    store: EncodingStore, enrolled: dict[str, list[Encoding]]
) -> None:
    blob = store.path.read_bytes()
    encoding = enrolled["obama"][0]
    for needle in (
        encoding.astype("<f4").tobytes()[:16],
        encoding.astype("<f8").tobytes()[:16],
        f"{encoding[0]:.6f}".encode(),
        repr(float(encoding[0]))[:8].encode(),
        b"obama",
        b"workers",
    ):
        assert needle not in blob
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store_key(store)).st_mode) == 0o600


def test_wrong_key_cannot_read_the_store(store: EncodingStore, tmp_path: Path) -> None:
    other_key = tmp_path / "other.key"
    create_device_key(other_key)
    with pytest.raises(StoreError, match="wrong device key"):
        EncodingStore(store.path, other_key)


def test_tampered_store_is_an_error_not_an_empty_roster(store: EncodingStore) -> None:
    blob = bytearray(store.path.read_bytes())
    blob[-5] ^= 0x01
    store.path.write_bytes(bytes(blob))
    with pytest.raises(StoreError):
        EncodingStore(store.path, store_key(store))
    store.path.write_bytes(b"hello")
    with pytest.raises(StoreError, match="not a face encoding store"):
        EncodingStore(store.path, store_key(store))


def test_missing_or_short_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot read device key"):
        EncodingStore(tmp_path / "faces.enc", tmp_path / "absent.key")
    short = tmp_path / "short.key"
    short.write_bytes(b"0123")
    with pytest.raises(StoreError, match="shorter"):
        EncodingStore(tmp_path / "faces.enc", short)


def test_a_lost_key_is_not_replaced_while_a_store_exists(store: EncodingStore) -> None:
    store_key(store).unlink()
    with pytest.raises(StoreError, match="cannot read device key"):
        open_store(IdentityConfig(), store.path.parent)
    assert not store_key(store).exists()


def test_erase_removes_the_worker_for_every_reader(store: EncodingStore) -> None:
    other = EncodingStore(store.path, store_key(store))
    assert other.encodings("kit")
    assert store.erase("kit") is True
    assert store.erase("kit") is False
    assert store.encodings("kit") == []
    assert other.reload_if_changed() is True
    assert "kit" not in other.worker_ids()
    assert other.encodings("obama")


def test_retain_erases_workers_no_longer_on_the_roster(store: EncodingStore) -> None:
    gone = store.retain(["obama", "biden"])
    assert gone == ["alex", "kit", "rose"]
    assert store.worker_ids() == ["biden", "obama"]


def test_only_128_finite_values_are_stored(store: EncodingStore) -> None:
    with pytest.raises(ValueError, match="128"):
        store.put("x", [np.zeros(64)], images=1)
    with pytest.raises(ValueError, match="128"):
        store.put("x", [np.full(128, np.nan)], images=1)
    with pytest.raises(ValueError, match="nothing"):
        store.put("x", [], images=0)
