"""Badge-in face verification: ``edge.evidence.IdentityVerifier`` over the tracker and the store.

At the tap the verifier takes one fresh frame. If the face in it continues a track that already
holds fresh encodings (ahead of the tap), the decision is a comparison; otherwise it encodes
frames now, for up to ``capture_timeout_s``. With liveness on, a blink must have been seen on the
same continuous track, waiting up to ``liveness.window_s`` for it. Any doubt denies with a reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from edge.evidence import IdentityResult
from edge.identity.config import IdentityConfig
from edge.identity.pipeline import Gallery, ModelsUnavailable
from edge.identity.store import EncodingStore, StoreError
from edge.identity.tracker import FaceTracker, Sighting, Track
from edge.models import Worker
from edge.reasons import ReasonCode
from firmware_adapters.camera import CameraError

log = logging.getLogger(__name__)


class FaceVerifier:
    """Implements ``IdentityVerifier.verify(worker, badge_id)``. Never raises: every failure is
    an ``IdentityResult`` with ``match=False`` and a reason code."""

    def __init__(self, config: IdentityConfig, store: EncodingStore, tracker: FaceTracker) -> None:
        self.config = config
        self.store = store
        self.tracker = tracker
        self.counters: dict[str, int] = {}
        self._gallery: Gallery | None = None

    async def verify(self, worker: Worker, badge_id: str) -> IdentityResult:
        """Capture frames, check liveness, and match the face against ``worker``'s enrolled
        descriptors (and the rest of the roster, to name a proxy); never blocks the loop
        (encoding runs in a thread or child)."""
        started = time.monotonic()
        try:
            result = await self._verify(worker)
        except (CameraError, StoreError, ModelsUnavailable) as err:
            result = _deny(ReasonCode.IDENTITY_UNAVAILABLE, error=str(err))
        except Exception as err:  # a verifier bug must deny, never crash the badge-in
            log.exception("face verification failed")
            result = _deny(ReasonCode.IDENTITY_UNAVAILABLE, error=type(err).__name__)
        key = "match" if result.match else (result.reason or ReasonCode.IDENTITY_UNAVAILABLE).value
        self.counters[key] = self.counters.get(key, 0) + 1
        result.details["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
        result.details["badge_id"] = badge_id
        return result

    def gallery(self) -> Gallery:
        """Everyone enrolled, rebuilt when the store file changed (an enrolment elsewhere)."""
        if self.store.reload_if_changed() or self._gallery is None:
            self._gallery = Gallery(self.store.all_encodings())
        return self._gallery

    async def _verify(self, worker: Worker) -> IdentityResult:
        gallery = await asyncio.to_thread(self.gallery)
        if worker.worker_id not in gallery:
            return _deny(ReasonCode.NOT_ENROLLED)
        cfg = self.config
        sighting = await self._usable_face(cfg.capture_timeout_s)
        track = sighting.track
        if track is None or sighting.observation.reason is not None:
            obs = sighting.observation
            reason = obs.reason or ReasonCode.FACE_NOT_FOUND
            return _deny(reason, detail=obs.detail, faces=obs.faces)
        details: dict[str, Any] = {"track_age_s": round(track.last_seen - track.first_seen, 2)}
        if cfg.liveness.enabled:
            missing = await self._await_liveness(track)
            if missing is not None:
                return _deny(ReasonCode.LIVENESS_FAILED, missing=missing, **details)
            details["liveness"] = "blink"
            # Frames went by while waiting for the blink: the face judged must still be the
            # one that blinked, seen usable right now.
            again = await self._usable_face(cfg.capture_timeout_s)
            if again.track is not track or again.observation.reason is not None:
                return _deny(ReasonCode.LIVENESS_FAILED, missing="face_changed", **details)
        now = time.monotonic()
        template = track.template(now, cfg.tracker.cache_s, cfg.tracker.frames_combined)
        if template is None:  # the cache aged out while waiting for the blink
            return _deny(ReasonCode.FACE_NOT_FOUND, cache="expired", **details)
        frames = len(track.fresh(now, cfg.tracker.cache_s)[-cfg.tracker.frames_combined :])
        match = gallery.judge(worker.worker_id, template, cfg.tolerance)
        details.update(
            frames=frames,
            tolerance=cfg.tolerance,
            nearest_worker_id=match.nearest_worker_id,
            nearest_distance=round(match.nearest_distance, 4),
        )
        distance = round(match.distance, 4)
        if match.match:
            return IdentityResult(match=True, distance=distance, details=details)
        return IdentityResult(
            match=False,
            reason=ReasonCode.FACE_MISMATCH,
            seen_worker_id=match.seen_worker_id,
            distance=distance,
            details=details,
        )

    async def _usable_face(self, timeout_s: float) -> Sighting:
        """Fresh frames until one shows a usable face whose track holds fresh encodings that
        this very frame vouches for (same place, same look, or just encoded); the last
        sighting when the time is up. A frame failing a quality gate never vouches for a cache."""
        deadline = time.monotonic() + timeout_s
        cache_s = self.config.tracker.cache_s
        while True:
            sighting = await self.tracker.observe(need_encoding=True)
            track, obs = sighting.track, sighting.observation
            if track is not None and obs.reason is None and track.fresh(obs.mono_ts, cache_s):
                return sighting
            if time.monotonic() >= deadline:
                return sighting
            await asyncio.sleep(1.0 / self.config.tracker.fps)

    async def _await_liveness(self, track: Track) -> str | None:
        """Watch the same track until liveness passes; what is missing when it does not."""
        deadline = time.monotonic() + self.config.liveness.window_s
        interval = 1.0 / self.config.liveness.fps
        while not track.liveness.passed:
            if time.monotonic() >= deadline:
                return track.liveness.missing()
            await asyncio.sleep(interval)
            sighting: Sighting = await self.tracker.observe(need_encoding=True)
            if sighting.track is not track:
                return "face_changed"
        return None


def _deny(reason: ReasonCode, **details: Any) -> IdentityResult:
    return IdentityResult(
        match=False, reason=reason, details={k: v for k, v in details.items() if v is not None}
    )
