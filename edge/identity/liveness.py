"""Blink (and optional head-turn) liveness from 68-point eye landmarks.

A blink is a dip of the eye aspect ratio (EAR) of at least ``blink_drop`` below the person's own
open-eye baseline, reopening to ``recover`` of that baseline within ``max_closed_s``
(Soukupová & Čech 2016; a fixed ``EAR < 0.2`` fails on fixtures whose open eyes measure 0.15-0.18,
reference/face.md §6). The head turn is a swing of the nose relative to the outer eye corners.

What this does NOT stop: a video of the worker replayed on a phone or tablet, an on-screen face
swap, a mask, or a photo with the eyes cut out and a real person blinking behind it. It stops a
held-up still photo. Only an IR (NoIR + 850 nm) or depth camera raises the bar further; the face is
a second factor behind the badge, never the sole proof of identity.
"""

from __future__ import annotations

import statistics
from collections import deque

from edge.identity.config import LivenessConfig

_BASELINE_SAMPLES = 24


class LivenessCheck:
    """Streaming judge fed with (time, EAR, yaw) samples of one continuously tracked face."""

    def __init__(self, config: LivenessConfig) -> None:
        self.config = config
        self._open: deque[float] = deque(maxlen=_BASELINE_SAMPLES)
        self._closed_since: float | None = None
        self._baseline_at_close = 0.0
        self._yaw_min: float | None = None
        self._yaw_max: float | None = None
        self.blinks = 0
        self.samples = 0

    @property
    def baseline(self) -> float | None:
        """The open-eye EAR of this person, once enough open frames were seen."""
        if len(self._open) < self.config.min_baseline_frames:
            return None
        return statistics.median(self._open)

    @property
    def blink_seen(self) -> bool:
        """Whether at least one blink was seen."""
        return self.blinks > 0

    @property
    def head_turn_seen(self) -> bool:
        """Whether the head turned far enough (yaw range) to rule out a photo."""
        if self._yaw_min is None or self._yaw_max is None:
            return False
        return self._yaw_max - self._yaw_min >= self.config.head_turn_min_yaw

    @property
    def passed(self) -> bool:
        """Blink seen, and the head turn too when configured."""
        return self.blink_seen and (self.head_turn_seen or not self.config.head_turn)

    def missing(self) -> str | None:
        """What is still missing: ``blink``, ``head_turn`` or None."""
        if not self.blink_seen:
            return "blink"
        if self.config.head_turn and not self.head_turn_seen:
            return "head_turn"
        return None

    def add(self, t: float, ear: float, yaw: float = 0.0) -> None:
        """Feed one frame's measurements (``t`` in monotonic seconds, increasing)."""
        self.samples += 1
        self._yaw_min = yaw if self._yaw_min is None else min(self._yaw_min, yaw)
        self._yaw_max = yaw if self._yaw_max is None else max(self._yaw_max, yaw)
        if self._closed_since is not None:
            if ear >= self.config.recover * self._baseline_at_close:
                if t - self._closed_since <= self.config.max_closed_s:
                    self.blinks += 1
                self._closed_since = None
                self._open.append(ear)
            elif t - self._closed_since > self.config.max_closed_s:
                # Eyes stayed shut (or the baseline was wrong): start over from this level.
                self._closed_since = None
                self._open.clear()
                self._open.append(ear)
            return
        baseline = self.baseline
        if baseline is not None and ear <= (1.0 - self.config.blink_drop) * baseline:
            self._closed_since = t
            self._baseline_at_close = baseline
            return
        self._open.append(ear)
