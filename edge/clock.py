"""Trusted wall time versus monotonic time (DESIGN invariant 8).

Permit validity and certificate dates use wall time, and only while the clock is trusted: the
kernel says NTP has synchronised it, or GPS time has been seen (``mark_gps_synced``). Durations
(STEL, TWA, dwell, lockout windows, staleness) always use the monotonic clock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
import threading
import time
from datetime import UTC, datetime, timedelta

from firmware_adapters.timebase import Clock as Clock
from firmware_adapters.timebase import Trust as Trust

# adjtimex(2): the return value TIME_ERROR (5) means the kernel clock is not synchronised, which
# is exactly what systemd-timedated reports as NTPSynchronized=no. Reading it needs no daemon.
_TIME_ERROR = 5


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>; we only read, so the trailing padding just has to fit.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_pad", ctypes.c_int * 11),
    ]


_KERNEL_RECHECK_S = 1.0


@functools.cache
def _libc() -> ctypes.CDLL | None:
    # find_library forks a compiler / ldconfig on Linux: look it up once, not per event.
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None


def kernel_ntp_synchronised() -> bool | None:
    """True / False from adjtimex(2); None when it cannot be asked (not Linux)."""
    libc = _libc()
    if libc is None:
        return None
    try:
        tx = _Timex()
        state = libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return bool(state != _TIME_ERROR)


class SystemClock:
    """The real clock. Trust comes from NTP (kernel), GPS, or configuration for a bench setup."""

    def __init__(self, *, assume_trusted: bool = False, gps_validity_s: float = 600.0) -> None:
        self._assume = assume_trusted
        self._gps_until = 0.0
        self._gps_validity = gps_validity_s
        self._lock = threading.Lock()
        self._kernel_synced: bool | None = None
        self._kernel_asked_at = -math.inf

    def wall(self) -> datetime:
        """Now, UTC, timezone-aware (trusted or not: ask ``trust``)."""
        return datetime.now(UTC)

    def mono(self) -> float:
        """Monotonic seconds (for durations; never jumps)."""
        return time.monotonic()

    def mark_gps_synced(self) -> None:
        """Called by the GPS side after consecutive 3D fixes agreed with the system clock."""
        with self._lock:
            self._gps_until = time.monotonic() + self._gps_validity

    def _kernel(self) -> bool | None:
        # Every journal append asks for trust; adjtimex through ctypes is a measurable share of
        # an append. Asking once a second loses nothing: the kernel itself goes on reporting
        # "synchronised" for hours after NTP stops (until its max error passes 16 s).
        now = time.monotonic()
        if now - self._kernel_asked_at >= _KERNEL_RECHECK_S:
            self._kernel_synced = kernel_ntp_synchronised()
            self._kernel_asked_at = now
        return self._kernel_synced

    def trust(self) -> Trust:
        """Whether the wall clock can be believed now, and why (ntp, gps, assumed, none)."""
        if self._kernel():
            return Trust(True, "ntp")
        with self._lock:
            if time.monotonic() < self._gps_until:
                return Trust(True, "gps")
        if self._assume:
            return Trust(True, "assumed")
        return Trust(False, "none")


class ManualClock:
    """A clock a test or the demo moves by hand. Wall and monotonic time advance together."""

    def __init__(self, start: datetime | None = None, *, trusted: bool = True) -> None:
        self._wall = start or datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
        self._mono = 1000.0
        self.trusted = trusted

    def wall(self) -> datetime:
        """The set time (moves only with ``advance``)."""
        return self._wall

    def mono(self) -> float:
        """The set monotonic time."""
        return self._mono

    def trust(self) -> Trust:
        """Trusted (``manual``) or not, as ``trusted`` says."""
        return Trust(self.trusted, "manual" if self.trusted else "none")

    def advance(self, seconds: float) -> None:
        """Move wall and monotonic time forward by ``seconds``."""
        self._wall += timedelta(seconds=seconds)
        self._mono += seconds
