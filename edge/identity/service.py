"""Wires face verification into the daemon: ``build_service(ctx)`` (see ``gateway.daemon``)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from edge.evidence import IdentityResult
from edge.identity.config import IdentityConfig
from edge.identity.pipeline import FacePipeline, ModelsUnavailable
from edge.identity.store import EncodingStore, create_device_key
from edge.identity.tracker import FaceTracker
from edge.identity.verifier import FaceVerifier
from edge.models import Worker
from edge.reasons import ReasonCode
from firmware_adapters.camera import Camera

log = logging.getLogger(__name__)


class IdentityUnavailable:
    """Stands in when face verification is configured but cannot work: every badge-in is denied
    with ``IDENTITY_UNAVAILABLE`` (fail safe) and the reason shows in the service health."""

    def __init__(self, why: str) -> None:
        self.why = why

    async def verify(self, worker: Worker, badge_id: str) -> IdentityResult:
        """No match, ``IDENTITY_UNAVAILABLE``: a broken face store denies every badge-in."""
        return IdentityResult(
            match=False, reason=ReasonCode.IDENTITY_UNAVAILABLE, details={"error": self.why}
        )


def open_store(config: IdentityConfig, state_dir: Path) -> EncodingStore:
    """The encrypted store, creating the device key on first use (no key and no store yet).

    A store without its key is never "fixed" by a new key: it stays unreadable (StoreError).
    """
    store_path, key_path = config.store_path(state_dir), config.key_path(state_dir)
    if not key_path.exists() and not store_path.exists():
        create_device_key(key_path)
    return EncodingStore(store_path, key_path)


class IdentityService:
    """Loads the models off the loop, then runs the ahead-of-the-tap tracker until cancelled."""

    name = "identity"

    def __init__(
        self,
        verifier: FaceVerifier,
        health: dict[str, dict[str, object]],
    ) -> None:
        self.verifier = verifier
        self.health = health

    async def run(self) -> None:
        """Load the face models, then run the camera tracker, reporting health; until cancelled.

        The encoder child process is stopped when this ends.
        """
        try:
            await self._run()
        finally:
            # The encoder child process goes with the service (shielded from a second cancel).
            await asyncio.shield(asyncio.to_thread(self.verifier.tracker.pipeline.close))

    async def _run(self) -> None:
        tracker = self.verifier.tracker
        self._report("loading")
        try:
            await asyncio.to_thread(tracker.pipeline.load)
        except ModelsUnavailable as err:
            self._report("unavailable", error=str(err))
            log.exception("face verification unavailable")
            await asyncio.Event().wait()  # stay up; every badge-in is denied by the verifier
        self._report("running")
        if not self.verifier.config.tracker.enabled:
            await asyncio.Event().wait()
        await tracker.run()

    @property
    def camera(self) -> Camera:
        """The camera in use; the demo's ``FileCamera`` takes ``show(photo)`` before each tap."""
        return self.verifier.tracker.camera

    @property
    def store(self) -> EncodingStore:
        """The encrypted face store in use."""
        return self.verifier.store

    def _report(self, state: str, **extra: object) -> None:
        # The live counter dicts, not copies: status and the birth snapshot read them as they are.
        self.health["identity"] = {
            "state": state,
            "tracker": self.verifier.tracker.counters,
            "verifications": self.verifier.counters,
            **extra,
        }


def build_verifier(config: IdentityConfig, store: EncodingStore, camera: Camera) -> FaceVerifier:
    """A verifier over ``camera`` (not opened yet; the tracker opens it in a worker thread)."""
    tracker = FaceTracker(camera, FacePipeline(config), config)
    return FaceVerifier(config, store, tracker)
