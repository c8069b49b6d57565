"""Ahead of the tap: follow the face in view at a low frame rate and encode it before the badge.

When the badge is tapped the decision is then a comparison of a cached template plus the
liveness already observed. Safety rules of the cache:

- a track is one face seen continuously: consecutive sightings must overlap (IoU) and be less
  than ``max_gap_s`` apart, and each new encoding must stay near the track's template; otherwise
  a new track starts and nothing of the old one is used;
- no face, or several faces under the ``reject`` policy, drops the track at once;
- encodings older than ``cache_s`` are never used;
- a tap always takes a fresh frame first, so a face that left since the last tick is caught.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from edge.identity.config import IdentityConfig
from edge.identity.liveness import LivenessCheck
from edge.identity.pipeline import (
    Encoding,
    FaceBox,
    FacePipeline,
    Observation,
    combine,
    similarity,
)
from edge.reasons import ReasonCode
from firmware_adapters.camera import Camera, CameraError, Frame

log = logging.getLogger(__name__)
_track_ids = itertools.count(1)


@dataclass
class Track:
    """One face followed continuously."""

    first_seen: float
    last_seen: float
    box: FaceBox
    liveness: LivenessCheck
    track_id: int = field(default_factory=lambda: next(_track_ids))
    encodings: deque[tuple[float, Encoding]] = field(default_factory=lambda: deque(maxlen=10))
    last_encoded: float = float("-inf")
    anchor: NDArray[np.float64] | None = None
    """Appearance signature of the frame last encoded."""
    problem: str | None = None
    """The latest quality gate failed, if any (the face is present but not usable)."""

    def fresh(self, now: float, cache_s: float) -> list[Encoding]:
        """Encodings young enough to use, newest last."""
        return [enc for t, enc in self.encodings if now - t <= cache_s]

    def template(self, now: float, cache_s: float, frames: int) -> Encoding | None:
        """The mean of the newest ``frames`` fresh encodings; None when there is none."""
        fresh = self.fresh(now, cache_s)
        return combine(fresh[-frames:]) if fresh else None


@dataclass(frozen=True, slots=True)
class EncodeJob:
    """A frame the track wants encoded, with what is needed to file the result."""

    frame: Frame
    box: FaceBox
    look: NDArray[np.float64]
    track: Track


@dataclass(frozen=True, slots=True)
class Sighting:
    """The outcome of one tracker step: what the frame showed and the track it belongs to."""

    observation: Observation
    track: Track | None


class FaceTracker:
    """Owns the camera and the current track. ``step`` is blocking; ``observe`` and ``run`` are
    the loop-side entry points (one step at a time, in a worker thread)."""

    def __init__(self, camera: Camera, pipeline: FacePipeline, config: IdentityConfig) -> None:
        self.camera = camera
        self.pipeline = pipeline
        self.config = config
        self.track: Track | None = None
        self.counters: dict[str, int] = {}
        self._step_lock = asyncio.Lock()
        self._stepped = asyncio.Condition()
        self._camera_open = False
        # A cancelled step's thread may still be reading when shutdown closes the camera.
        self._camera_lock = threading.Lock()

    # ---- blocking side

    def _capture(self) -> Frame:
        with self._camera_lock:
            if not self._camera_open:
                self.camera.open()
                self._camera_open = True
            try:
                return self.camera.read()
            except CameraError:
                self._camera_open = False
                self.camera.close()
                raise

    def _close_camera(self) -> None:
        with self._camera_lock:
            if self._camera_open:
                self._camera_open = False
                self.camera.close()

    def step(self, *, need_encoding: bool = False) -> Sighting:
        """Capture one frame and update the track. Encodes when the track needs a fresh
        encoding (fewer than ``frames_combined``, or none at all when ``need_encoding``)."""
        frame = self._capture()
        return self.update(frame, need_encoding=need_encoding)

    def update(self, frame: Frame, *, need_encoding: bool = False) -> Sighting:
        """Update the track from ``frame`` (blocking: detection and maybe an encoding)."""
        sighting, job = self.look(frame, need_encoding=need_encoding)
        if job is None:
            return sighting
        return self.apply(job, self.pipeline.encode(job.frame, job.box), sighting)

    def look(
        self, frame: Frame, *, need_encoding: bool = False
    ) -> tuple[Sighting, EncodeJob | None]:
        """Detect, gate and follow the face in ``frame`` (blocking, without the encoding);
        also say whether the track wants this frame encoded."""
        cfg, tcfg = self.config, self.config.tracker
        now = frame.mono_ts
        boxes = self.pipeline.detect(frame)
        box, reason, detail = self.pipeline.choose(frame, boxes)
        if box is None:
            self.track = None
            self._count(reason.value if reason else "none")
            obs = Observation(frame.seq, now, len(boxes), reason=reason, detail=detail)
            return Sighting(obs, None), None
        track = self.track
        if (
            track is None
            or now - track.last_seen > tcfg.max_gap_s
            or box.iou(track.box) < tcfg.min_iou
        ):
            track = Track(now, now, box, LivenessCheck(cfg.liveness))
            self._count("new_track")
        track.last_seen, track.box = now, box
        self.track = track
        problem = self.pipeline.quality_problem(frame, box)
        track.problem = problem
        if problem is not None:
            self._count(f"quality_{problem}")
            obs = Observation(
                frame.seq, now, len(boxes), box=box, reason=ReasonCode.FACE_QUALITY, detail=problem
            )
            return Sighting(obs, track), None
        eyes = self.pipeline.eyes(frame, box) if cfg.liveness.enabled else None
        if eyes is not None:
            track.liveness.add(now, eyes.ear, eyes.yaw)
        # The boxes overlap, but is it the same face? A cheap look against the last encoded
        # frame; when it differs, the cache is not trusted until the face is encoded again.
        look = self.pipeline.signature(frame, box)
        same_look = (
            track.anchor is not None and similarity(look, track.anchor) >= tcfg.min_appearance
        )
        fresh = track.fresh(now, tcfg.cache_s)
        trusted = fresh if same_look else []
        if need_encoding:
            # A tap whose frame does not vouch for the cache encodes now, whatever the rate
            # limit; the new encoding decides whether this is still the same person.
            wanted, rate_ok = not trusted, True
        else:
            wanted = len(fresh) < tcfg.frames_combined or not same_look
            rate_ok = not fresh or now - track.last_encoded >= tcfg.encode_interval_s
        obs = Observation(frame.seq, now, len(boxes), box=box, eyes=eyes)
        sighting = Sighting(obs, track)
        if not (wanted and rate_ok):
            return sighting, None
        return sighting, EncodeJob(frame, box, look, track)

    def apply(self, job: EncodeJob, encoding: Encoding, sighting: Sighting) -> Sighting:
        """Add ``encoding`` (of ``job``) to its track; quick, no dlib. An encoding whose track
        ended meanwhile is dropped; one that is far from its track's template starts a new
        track: the same place, a different face, never mixed with the previous person's."""
        tcfg = self.config.tracker
        self._count("encodings")
        track, now = job.track, job.frame.mono_ts
        if self.track is not track:
            self._count("stale_encodings")
            return sighting
        fresh = track.fresh(now, tcfg.cache_s)
        if fresh and _distance(encoding, combine(fresh)) > tcfg.same_face_distance:
            track = Track(now, now, job.box, LivenessCheck(self.config.liveness))
            self.track = track
            self._count("face_changed")
        track.encodings.append((now, encoding))
        track.last_encoded = now
        track.anchor = job.look
        obs = replace(sighting.observation, encoding=encoding)
        return Sighting(obs, track)

    def _count(self, key: str) -> None:
        self.counters[key] = self.counters.get(key, 0) + 1

    # ---- loop side

    async def observe(self, *, need_encoding: bool = False) -> Sighting:
        """One step in worker threads; steps never overlap. A tap's step (``need_encoding``)
        encodes under the step lock; the background's encodes outside it, so that a tap
        arriving meanwhile is not kept waiting for someone else's encoding."""
        try:
            async with self._step_lock:
                if need_encoding:
                    return await asyncio.to_thread(self.step, need_encoding=True)
                frame = await asyncio.to_thread(self._capture)
                sighting, job = await asyncio.to_thread(self.look, frame)
            if job is None:
                return sighting
            encoding = await asyncio.to_thread(self.pipeline.encode, job.frame, job.box)
            async with self._step_lock:
                return self.apply(job, encoding, sighting)
        finally:
            async with self._stepped:
                self._stepped.notify_all()

    async def wait_until(self, predicate: Callable[[FaceTracker], bool]) -> None:
        """Wait until ``predicate(self)`` holds after some step (status displays, tests)."""
        async with self._stepped:
            await self._stepped.wait_for(lambda: predicate(self))

    async def run(self) -> None:
        """Watch the camera until cancelled, at ``fps`` with a face in view, else ``idle_fps``."""
        tcfg = self.config.tracker
        last_error: str | None = None
        try:
            while True:
                try:
                    sighting = await self.observe()
                except CameraError as err:
                    self._count("camera_errors")
                    # Once per distinct error, not once a second while a camera stays unplugged.
                    if str(err) != last_error:
                        log.warning("camera: %s; retrying every second", err)
                        last_error = str(err)
                    self.track = None
                    await asyncio.sleep(1.0)
                    continue
                except Exception:  # a bad frame must not end the watch; it is counted
                    self._count("step_errors")
                    log.exception("face tracker step failed")
                    self.track = None
                    await asyncio.sleep(1.0)
                    continue
                if last_error is not None:
                    log.info("camera: delivering frames again")
                    last_error = None
                fps = tcfg.fps if sighting.track is not None else tcfg.idle_fps
                await asyncio.sleep(1.0 / fps)
        finally:
            await asyncio.to_thread(self._close_camera)


def _distance(a: Encoding, b: Encoding) -> float:
    return float(np.linalg.norm(a - b))
