"""Value programs for simulated sensors: hold, ramp, spike and noise over (monotonic) time."""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class ValueProgram:
    """What a simulated channel reads at a given moment.

    ``set_value`` holds a value; ``ramp`` moves linearly to a target; ``spike`` jumps to a peak
    and falls back to the previous level after a while; ``noise`` adds uniform noise of the
    given amplitude on top of any of these (clipped at 0: a real sensor reports 0, the
    negative-reading case is set explicitly).
    """

    def __init__(self, value: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._from = value
        self._to = value
        self._t0 = clock()
        self._t1 = self._t0
        self._spike_until: float | None = None
        self._spike_value = 0.0
        self._noise = 0.0
        self._rng = random.Random(7)  # noqa: S311 - reproducible test noise, not cryptography

    def set_value(self, value: float) -> None:
        """Hold ``value`` from now on (ends a ramp or spike)."""
        self._from = self._to = value
        self._t0 = self._t1 = self._clock()
        self._spike_until = None

    def ramp(self, to: float, seconds: float) -> None:
        """Move linearly from the current value to ``to`` over ``seconds``."""
        now = self._clock()
        self._from, self._to = self._base(now), to
        self._t0, self._t1 = now, now + max(seconds, 1e-9)
        self._spike_until = None

    def spike(self, peak: float, seconds: float) -> None:
        """Read ``peak`` for ``seconds``, then fall back to the underlying level."""
        self._spike_value = peak
        self._spike_until = self._clock() + seconds

    def noise(self, amplitude: float) -> None:
        """Add uniform noise of +- ``amplitude`` to every value (clipped at 0)."""
        self._noise = abs(amplitude)

    def _base(self, now: float) -> float:
        if now >= self._t1:
            return self._to
        frac = (now - self._t0) / (self._t1 - self._t0)
        return self._from + (self._to - self._from) * frac

    def value(self) -> float:
        """The value now."""
        now = self._clock()
        if self._spike_until is not None and now < self._spike_until:
            v = self._spike_value
        else:
            v = self._base(now)
        if self._noise:
            v = max(0.0, v + self._rng.uniform(-self._noise, self._noise))
        return v
