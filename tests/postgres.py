"""A throw-away PostgreSQL server from Debian's package, for the ingest tests and benchmark.

``initdb`` into a fresh directory, ``postgres`` listening only on a Unix socket in that
directory (no TCP port to collide with), trust authentication, fsync off (a test database need
not survive a power cut; the ingest's transactions and acknowledgements behave the same).
PostgreSQL refuses to run as root, so under root (CI) it runs as the ``postgres`` user that the
Debian package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any


def pg_bindir() -> Path | None:
    """Debian's newest /usr/lib/postgresql/N/bin holding initdb, or None when not installed."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


class TempPostgres:
    """``start()`` a private server; ``dsn`` connects to its ``postgres`` database."""

    def __init__(self) -> None:
        bindir = pg_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="zonegate-pg-"))
        self.data = self.dir / "data"
        self.port = 5432  # only names the socket file: no TCP listener
        self.proc: subprocess.Popen[bytes] | None = None
        # Under root, the children run as "postgres" themselves (not under runuser, which
        # would not pass our signals on): the server is our direct child.
        self._ids: dict[str, Any] = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._ids = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

    @property
    def dsn(self) -> str:
        return f"host={self.dir} port={self.port} dbname=postgres user=postgres"

    def start(self, timeout_s: float = 60.0) -> None:
        initdb = [str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres"]
        initdb += ["--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]
        subprocess.run(initdb, check=True, capture_output=True, **self._ids)
        server = [str(self.bindir / "postgres"), "-D", str(self.data), "-k", str(self.dir)]
        server += ["-p", str(self.port), "-c", "listen_addresses=", "-c", "fsync=off"]
        server += ["-c", "max_connections=200", "-c", "shared_buffers=64MB"]
        with open(self.dir / "postgres.log", "wb") as log:
            self.proc = subprocess.Popen(server, stdout=subprocess.DEVNULL, stderr=log, **self._ids)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                text = (self.dir / "postgres.log").read_text(errors="replace")
                raise RuntimeError(f"postgres exited with {self.proc.returncode}:\n{text}")
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", str(self.dir), "-p", str(self.port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError("postgres did not become ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
