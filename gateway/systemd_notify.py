"""sd_notify(3) over the NOTIFY_SOCKET datagram socket: READY, WATCHDOG, STOPPING, STATUS.

Written by hand: the protocol is one datagram, python-systemd needs libsystemd headers to build
on a Pi, and the `sdnotify` package has been unmaintained since 2017.
"""

from __future__ import annotations

import os
import socket


class Notifier:
    """sd_notify(3) without libsystemd: datagrams to ``$NOTIFY_SOCKET`` (or ``address``);
    every call is a no-op outside systemd."""

    def __init__(self, address: str | None = None) -> None:
        self._address = address if address is not None else os.environ.get("NOTIFY_SOCKET")

    @property
    def enabled(self) -> bool:
        """True when running under systemd with a notify socket."""
        return bool(self._address)

    def notify(self, *fields: str) -> bool:
        """Send ``fields`` (e.g. "READY=1"); False when not under systemd or the send failed."""
        if not self._address:
            return False
        addr = self._address
        if addr.startswith("@"):  # abstract namespace socket
            addr = "\0" + addr[1:]
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(addr)
                # Never block the event loop: a receiver that does not read (its queue holds
                # net.unix.max_dgram_qlen datagrams, often 10) must cost a lost ping, not a hang.
                sock.send("\n".join(fields).encode(), socket.MSG_DONTWAIT)
        except OSError:  # BlockingIOError included
            return False
        return True


def watchdog_interval_s() -> float | None:
    """Half of WatchdogSec, as systemd recommends, or None when no watchdog is armed for us."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(int(usec) / 2_000_000, 0.05)
    except ValueError:
        return None
