"""Hooks for ``zonegate demo``: face verification through the file camera on the real photos.

The demo config gets :func:`demo_section`; after the gateway is up, :func:`face_service` finds
the identity service, :func:`enrol_cast` enrols the demo workers from photos (off the loop), and
:func:`show` puts a given photo in front of the camera before each badge tap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from edge.identity.service import IdentityService
from firmware_adapters.camera.files import FileCamera

FACES_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
"""The shared real-photo folder beside the repository, ``<repo>/../shared/data/faces`` (not
shipped with the product). ``parents[2]`` is the repository's parent: going one level further
found a copy that happened to sit two levels up on the developers' machine and missed it in CI."""

# Who stands in for whom in the demo: enrolment photos, and the photo shown at their tap.
DEMO_CAST: Mapping[str, tuple[tuple[str, ...], str]] = {
    "W001": (("obama.jpg", "obama_knn_test1.jpg"), "obama2.jpg"),
    "W002": (("biden.jpg", "biden2.jpg"), "biden2.jpg"),
    "W003": (
        ("kit_harington_john1.jpeg", "kit_harington_johnsnow_test1.jpg"),
        "kit_harington_john2.jpeg",
    ),
    "W004": (("rose_leslie_img1.jpg", "rose_leslie_img2.jpg"), "rose_leslie_img2.jpg"),
    # One usable photo of this person: enrolled twice (the minimum), shown at the tap.
    "W005": (("alex_lacamoire.png", "alex_lacamoire.png"), "alex_lacamoire.png"),
}


def photos_available(faces_dir: Path = FACES_DIR) -> bool:
    """False on a machine without the shared photos: the demo then runs badge-only."""
    return all((faces_dir / p).is_file() for e, s in DEMO_CAST.values() for p in (*e, s))


def demo_section() -> dict[str, Any]:
    """The ``identity:`` section of the demo config (file camera, short denial waits)."""
    return {
        "enabled": True,
        "capture_timeout_s": 0.5,
        "camera": {"type": "files", "paths": []},
    }


def face_service(services: Iterable[object]) -> IdentityService | None:
    """The identity service among the gateway's services, if face verification is on."""
    for service in services:
        if isinstance(service, IdentityService):
            return service
    return None


async def enrol_cast(
    service: IdentityService,
    cast: Mapping[str, tuple[Sequence[str], str]] = DEMO_CAST,
    faces_dir: Path = FACES_DIR,
) -> None:
    """Enrol every demo worker from their photos (10-jitter encodings; a few seconds)."""
    from edge.identity.enrolment import enrol_photos

    pipeline = service.verifier.tracker.pipeline
    for worker_id, (photos, _) in cast.items():
        paths = [faces_dir / p for p in photos]
        await asyncio.to_thread(enrol_photos, pipeline, service.store, worker_id, paths)


def show(service: IdentityService, photo: str | Path | None, faces_dir: Path = FACES_DIR) -> None:
    """Put ``photo`` (a name in ``faces_dir`` or a path) in front of the camera; None = nobody."""
    camera = service.camera
    if not isinstance(camera, FileCamera):
        raise TypeError("the demo needs identity.camera.type: files")
    camera.show(None if photo is None else faces_dir / photo)


def tap_photo(worker_id: str) -> str:
    """The photo the demo shows when ``worker_id`` taps their own badge."""
    return DEMO_CAST[worker_id][1]
