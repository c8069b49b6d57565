"""Pseudo-terminals standing in for serial ports: a sensor end, and a null-modem link.

A ``PtyEndpoint`` publishes its slave under a fixed path (a symlink), like ``/dev/ttyUSB0``.
``unplug()`` closes the pty and removes the link, as pulling a USB adapter does (the reader
gets EIO); ``replug()`` makes a new pty under the same path. ``PtyLink`` joins two endpoints
back to back, so two programs that both open a serial *path* (a pymodbus server and our
client) can talk, as socat's ``pty,link=`` pairs do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from pathlib import Path


class PtyEndpoint:
    """A pty whose slave is reachable at ``path``; we hold the master end."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.master: int | None = None
        self._slave: int | None = None
        self.slave_name = ""
        self.plug()

    @property
    def plugged(self) -> bool:
        """True while the pty exists (the simulated device is plugged in)."""
        return self.master is not None

    def plug(self) -> None:
        """Create the pty and point ``path`` at its slave."""
        if self.master is not None:
            return
        master, slave = os.openpty()
        # Raw mode from the start: no echo back into our own master, no line buffering, so
        # bytes written before the reader configures the port are not mangled.
        tty.setraw(slave)
        tty.setraw(master)
        os.set_blocking(master, False)
        self.master, self._slave = master, slave
        self.slave_name = os.ttyname(slave)
        tmp = self.path.with_name(self.path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(self.slave_name)
        tmp.replace(self.path)  # atomic: the path never points at nothing while plugged

    def unplug(self) -> None:
        """Close the pty (readers see EIO / end of file) and remove the path."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        for fd in (self.master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self._slave = None

    def write(self, data: bytes) -> int:
        """Write to the wire; bytes a full buffer cannot take are dropped, as on a UART."""
        if self.master is None:
            return 0
        try:
            return os.write(self.master, data)
        except (BlockingIOError, OSError):
            return 0

    def read(self) -> bytes:
        """Whatever the other side has sent, or ``b""``."""
        if self.master is None:
            return b""
        try:
            return os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return b""

    def close(self) -> None:
        """Remove the pty; safe to call twice."""
        self.unplug()


class PtyLink:
    """Two endpoints joined back to back, with fault injection on the b -> a direction.

    ``corrupt_next(n)`` flips a bit in the next ``n`` chunks travelling from ``b`` to ``a``
    (a noisy RS-485 line); ``unplug_a()`` / ``replug_a()`` pull the cable at ``a``'s end.
    """

    def __init__(self, path_a: str | Path, path_b: str | Path) -> None:
        self.a = PtyEndpoint(path_a)
        self.b = PtyEndpoint(path_b)
        self._corrupt = 0
        self.corrupted_chunks = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start forwarding on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._watch(self.a, self.b)
        self._watch(self.b, self.a)

    def _watch(self, src: PtyEndpoint, dst: PtyEndpoint) -> None:
        assert self._loop is not None
        if src.master is not None:
            self._loop.add_reader(src.master, self._forward, src, dst)

    def _unwatch(self, ep: PtyEndpoint) -> None:
        if self._loop is not None and ep.master is not None:
            self._loop.remove_reader(ep.master)

    def _forward(self, src: PtyEndpoint, dst: PtyEndpoint) -> None:
        assert src.master is not None
        try:
            data = os.read(src.master, 4096)
        except BlockingIOError:
            return
        except OSError:
            # EIO: nobody has the slave open right now. Stop watching until it is reopened
            # would need polling; instead keep the reader and let the read fail cheaply.
            data = b""
        if not data:
            return
        if src is self.b and self._corrupt > 0:
            self._corrupt -= 1
            self.corrupted_chunks += 1
            data = data[:-1] + bytes([data[-1] ^ 0x01])
        dst.write(data)

    def corrupt_next(self, chunks: int = 1) -> None:
        """Flip a bit in the next ``chunks`` chunks travelling from ``b`` to ``a``."""
        self._corrupt += chunks

    def unplug_a(self) -> None:
        """Pull the cable at ``a``'s end: its pty disappears."""
        self._unwatch(self.a)
        self.a.unplug()

    def replug_a(self) -> None:
        """Plug ``a`` back in and resume forwarding."""
        self.a.plug()
        self._watch(self.a, self.b)

    def close(self) -> None:
        """Stop forwarding and remove both ptys."""
        self._unwatch(self.a)
        self._unwatch(self.b)
        self.a.close()
        self.b.close()
