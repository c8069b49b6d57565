"""The one reconnect/restart delay of the project: capped exponential with jitter.

Used by every loop that retries a peer or restarts a failed service (MQTT link, gpsd client,
serial and Modbus adapters, the daemon's service supervisor, the air service's adapter
restart). It lives in the bottom layer so that all of them can import it.

Jitter is in ``[d/2, d]``: never zero (no hot loop), never in lockstep with other clients after
a shared outage (peer-lessons L5). When to ``reset`` is the caller's decision and the part that
matters: reset only after the peer proved healthy (data flowed, the connection stayed up for a
while), never on a mere accept, or a peer that closes right after accepting is retried at the
first delay forever (issue 12 item 2).
"""

from __future__ import annotations

import random
import time


class Backoff:
    """Capped exponential delays with jitter in [d/2, d].

    ``next_delay()`` returns seconds: ``initial_s * 2**attempt`` capped at ``cap_s``, jittered;
    ``attempt`` counts the delays handed out since the last ``reset()``.
    """

    def __init__(self, initial_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        if initial_s <= 0 or cap_s < initial_s:
            raise ValueError(f"backoff needs 0 < initial_s <= cap_s, got {initial_s}, {cap_s}")
        self.initial_s = initial_s
        self.cap_s = cap_s
        self.attempt = 0
        self._rng = rng or random.Random()  # noqa: S311 — jitter, not cryptography

    def delay_for(self, attempt: int) -> float:
        """The (jittered) delay for the 0-based ``attempt``, without counting it."""
        ceiling = min(self.cap_s, self.initial_s * 2 ** min(max(attempt, 0), 32))
        return self._rng.uniform(ceiling / 2, ceiling)

    def next_delay(self) -> float:
        """The next delay in seconds (see the class) and count it as an attempt."""
        delay = self.delay_for(self.attempt)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """Start again at ``initial_s``: call only once the peer has proved healthy."""
        self.attempt = 0


class RestartBackoff:
    """Backoff for a supervisor restarting something that ran: reset when it ran long enough.

    ``delay_after(ran_s)`` is the pause before the next start, given how long the last run
    lasted: a run of at least ``healthy_after_s`` proves health and restarts the sequence.
    """

    def __init__(
        self,
        initial_s: float = 1.0,
        cap_s: float = 60.0,
        healthy_after_s: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self.backoff = Backoff(initial_s, cap_s, rng)
        self.healthy_after_s = healthy_after_s
        self._started = time.monotonic()

    def started(self) -> None:
        """Call when a run begins."""
        self._started = time.monotonic()

    def next_delay(self) -> float:
        """The pause after the run that began at the last ``started()`` has ended."""
        if time.monotonic() - self._started >= self.healthy_after_s:
            self.backoff.reset()
        return self.backoff.next_delay()
