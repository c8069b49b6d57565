"""The zone's documents (zone, workers, permits, gas tests, presence, lockouts) in TinyDB.

TinyDB's own JSONStorage rewrites the file in place without fsync, so a power cut can leave a
torn file (DESIGN.md). ``AtomicJSONStorage`` writes a temp file, fsyncs it, renames it over the
old one and fsyncs the directory: after a crash the file is either the old or the new version.
Documents are small and technicians read this file, so human-readable JSON is worth the rewrite.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from edge.errors import StoreError
from edge.models import GasTest, Permit, PermitStatus, Worker, Zone


class RegistryError(StoreError):
    """The registry cannot be read or written; the caller must fail safe."""


class RegistryCorrupt(RegistryError):
    """The registry file cannot be parsed or holds a document that fails validation."""


class RegistryWriteError(RegistryError):
    """A change could not be made durable (disk full, I/O error).

    The old file is intact; the change is held in memory (``AtomicJSONStorage.dirty``) so the
    running daemon keeps acting on it, and ``flush`` retries it.
    """


class AtomicJSONStorage(Storage):
    """TinyDB storage: whole-file JSON, replaced atomically and durably on every write.

    The process's current view lives in memory (``_memory``, the serialised JSON): a write that
    cannot reach the disk still changes what this process reads, so a gas suspension holds in
    the running daemon even when the disk is full (issue 16.2), and the failure is raised as
    ``RegistryWriteError`` for the caller to alarm on. The file is replaced only after the whole
    new payload is written and fsync'd: a short write or ENOSPC leaves the old file in place.
    """

    def __init__(self, path: str | os.PathLike[str], **_: Any) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._pending: dict[str, dict[str, Any]] | None = None
        self._batching = False
        self._memory: bytes | None = None
        self.dirty = False

    def begin(self) -> None:
        """Hold writes in memory until ``commit``: several changes, one durable write."""
        self._batching = True

    def rollback(self) -> None:
        """Drop the writes held since ``begin``."""
        self._batching = False
        self._pending = None

    def commit(self) -> None:
        """Write what ``begin`` held back, in one durable write."""
        self._batching = False
        if self._pending is not None:
            data, self._pending = self._pending, None
            self._write(data)

    def read(self) -> dict[str, dict[str, Any]] | None:
        """The whole file's tables (TinyDB's Storage API); None when there is no file yet.

        Raises ``RegistryCorrupt`` for unparsable content.
        """
        if self._pending is not None:
            return self._pending
        if self._memory is None:
            self._memory = self._read_file()
        if self._memory is None:
            return None
        data: dict[str, dict[str, Any]] = json.loads(self._memory)
        return data

    def _read_file(self) -> bytes | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if not raw.strip():
            return None
        try:
            data = json.loads(raw)
        except UnicodeDecodeError as err:
            raise RegistryCorrupt(
                f"{self.path}: byte {err.start} is not valid UTF-8 ({err.reason})"
            ) from err
        except json.JSONDecodeError as err:
            raise RegistryCorrupt(f"{self.path}:{err.lineno}: not valid JSON: {err.msg}") from err
        if not isinstance(data, dict):
            raise RegistryCorrupt(f"{self.path}: top level is not an object")
        return raw

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Replace the file atomically (temp file, fsync, rename, fsync the directory), or
        hold the data while batching."""
        if self._batching:
            self._pending = data
            return
        self._write(data)

    def _write(self, data: dict[str, dict[str, Any]]) -> None:
        payload = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode()
        self._memory = payload  # this process acts on the change even if the disk refuses it
        self.dirty = True
        self._persist(payload)
        self.dirty = False

    def flush(self) -> bool:
        """Retry writing a change the disk refused; True once the file holds the memory view."""
        if self.dirty and self._memory is not None:
            self._persist(self._memory)
            self.dirty = False
        return not self.dirty

    def _persist(self, payload: bytes) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                write_fully(fd, payload)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:
            # Never rename a partial file over the good one; do not leave the partial behind.
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise RegistryWriteError(
                f"{self.path}: cannot write the registry ({err.strerror or err}); "
                "the previous version is kept on disk"
            ) from err
        try:
            os.replace(tmp, self.path)
            dfd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as err:
            raise RegistryWriteError(
                f"{self.path}: cannot replace the registry ({err.strerror or err})"
            ) from err

    def close(self) -> None:
        """Nothing to release (each write opens and closes the file)."""


def write_fully(fd: int, payload: bytes) -> None:
    """Write all of ``payload`` to ``fd`` or raise ``OSError``.

    ``os.write`` may write fewer bytes than asked (a filesystem nearly full, a signal): loop on
    what is left, and treat a write of zero bytes as ENOSPC rather than spinning.
    """
    view = memoryview(payload)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]


def _dump(model: Permit | Worker | Zone | GasTest) -> dict[str, Any]:
    return model.model_dump(mode="json")


class Registry:
    """Typed access to the registry tables. Thread-safe; every write is durable on return."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = TinyDB(path, storage=AtomicJSONStorage)
        self._q = Query()
        self._batch_depth = 0

    @contextmanager
    def _guard(self) -> Iterator[None]:
        with self._lock:
            yield

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group writes: the file is replaced once, durably, when the block ends.

        If the block raises, nothing of it is written (the in-memory tables are reloaded).
        """
        storage = self._db.storage
        assert isinstance(storage, AtomicJSONStorage)
        with self._lock:
            if self._batch_depth == 0:
                storage.begin()
            self._batch_depth += 1
            try:
                yield
            except BaseException:
                self._batch_depth -= 1
                if self._batch_depth == 0:
                    storage.rollback()
                    self._clear_caches()
                raise
            self._batch_depth -= 1
            if self._batch_depth == 0:
                storage.commit()

    def _clear_caches(self) -> None:
        # Tables cache query results computed from data that was dropped.
        for table in self._db._tables.values():
            table.clear_cache()

    @property
    def dirty(self) -> bool:
        """True while a change lives only in memory because the disk refused it."""
        storage = self._db.storage
        assert isinstance(storage, AtomicJSONStorage)
        return storage.dirty

    def flush(self) -> bool:
        """Retry a refused write; True once the file matches memory. Raises RegistryWriteError."""
        storage = self._db.storage
        assert isinstance(storage, AtomicJSONStorage)
        with self._lock:
            return storage.flush()

    # ---- zone

    def zone(self) -> Zone | None:
        """The zone this gateway guards, once stored."""
        with self._guard():
            docs = self._db.table("zone").all()
        return Zone.model_validate(docs[0]) if docs else None

    def put_zone(self, zone: Zone) -> None:
        """Store the zone (from the config at every start)."""
        with self._guard():
            t = self._db.table("zone")
            t.truncate()
            t.insert(_dump(zone))

    # ---- workers

    def worker(self, worker_id: str) -> Worker | None:
        """A roster entry by worker id, or None."""
        with self._guard():
            doc = self._db.table("workers").get(self._q.worker_id == worker_id)
        return Worker.model_validate(doc) if doc else None

    def worker_by_badge(self, badge_id: str) -> Worker | None:
        """The worker holding this badge, or None for an unknown badge."""
        with self._guard():
            doc = self._db.table("workers").get(self._q.badge_ids.any([badge_id]))
        return Worker.model_validate(doc) if doc else None

    def workers(self) -> list[Worker]:
        """The whole roster."""
        with self._guard():
            docs = self._db.table("workers").all()
        return [Worker.model_validate(d) for d in docs]

    def put_worker(self, worker: Worker) -> None:
        """Add or replace one roster entry."""
        with self._guard():
            self._db.table("workers").upsert(_dump(worker), self._q.worker_id == worker.worker_id)

    def put_workers(self, workers: list[Worker]) -> None:
        """Replace several worker documents in one durable write."""
        with self._guard():
            t = self._db.table("workers")
            ids = {w.worker_id for w in workers}
            t.remove(self._q.worker_id.one_of(list(ids)))
            t.insert_multiple([_dump(w) for w in workers])

    def remove_worker(self, worker_id: str) -> bool:
        """Remove a roster entry; returns whether it was there."""
        with self._guard():
            return bool(self._db.table("workers").remove(self._q.worker_id == worker_id))

    # ---- permits

    def permit(self, permit_id: str) -> Permit | None:
        """A permit's current state, or None."""
        with self._guard():
            doc = self._db.table("permits").get(self._q.permit_id == permit_id)
        return Permit.model_validate(doc) if doc else None

    def permits(self, *, statuses: frozenset[PermitStatus] | None = None) -> list[Permit]:
        """Every permit, or those in ``statuses``."""
        with self._guard():
            docs = self._db.table("permits").all()
        out = [Permit.model_validate(d) for d in docs]
        if statuses is not None:
            out = [p for p in out if p.status in statuses]
        return sorted(out, key=lambda p: p.permit_id)

    def put_permit(self, permit: Permit) -> None:
        """Store a permit's new state (the controller journals the transition after)."""
        with self._guard():
            self._db.table("permits").upsert(_dump(permit), self._q.permit_id == permit.permit_id)

    # ---- gas tests

    def put_permits(self, permits: list[Permit]) -> None:
        """Several permits in one durable write (a gas alarm suspends them together)."""
        with self.batch():
            for permit in permits:
                self.put_permit(permit)

    # The registry holds the recent gas tests that decide start and resume; the journal keeps
    # every test as the audit trail. Unbounded, the whole-file rewrite would slow every write.
    GAS_TESTS_KEPT = 20

    def put_gas_test(self, test: GasTest) -> None:
        """Store a gas test (kept per zone, newest wins)."""
        with self.batch():
            t = self._db.table("gas_tests")
            t.upsert(_dump(test), self._q.test_id == test.test_id)
            docs = t.search(self._q.zone_id == test.zone_id)
            if len(docs) > self.GAS_TESTS_KEPT:
                docs.sort(key=lambda d: str(d["taken_at"]))
                t.remove(doc_ids=[d.doc_id for d in docs[: -self.GAS_TESTS_KEPT]])

    def gas_tests(self, zone_id: str) -> list[GasTest]:
        """The zone's kept gas tests (the newest ``GAS_TESTS_KEPT``), newest first."""
        with self._guard():
            docs = self._db.table("gas_tests").search(self._q.zone_id == zone_id)
        tests = [GasTest.model_validate(d) for d in docs]
        return sorted(tests, key=lambda t: t.taken_at, reverse=True)

    # ---- presence: worker id -> {permit_id, role, since}

    def presence(self) -> dict[str, dict[str, Any]]:
        """Who is inside: worker id -> ``permit_id``, ``role``, ``since`` (ISO 8601)."""
        with self._guard():
            docs = self._db.table("presence").all()
        return {d["worker_id"]: dict(d) for d in docs}

    def enter(
        self, worker_id: str, permit_id: str | None, role: str | None, since: datetime
    ) -> None:
        """Mark a worker inside (written before the access event is journaled)."""
        doc = {
            "worker_id": worker_id,
            "permit_id": permit_id,
            "role": role,
            "since": since.isoformat(),
        }
        with self._guard():
            self._db.table("presence").upsert(doc, self._q.worker_id == worker_id)

    def leave(self, worker_id: str) -> bool:
        """Mark a worker outside; returns whether they were inside."""
        with self._guard():
            return bool(self._db.table("presence").remove(self._q.worker_id == worker_id))

    # ---- lockouts: badge -> {worker_id, locked_at, reason}

    def lockouts(self) -> dict[str, dict[str, Any]]:
        """Locked badges: worker id -> ``reason``, ``at``."""
        with self._guard():
            docs = self._db.table("lockouts").all()
        return {d["worker_id"]: dict(d) for d in docs}

    def lock(self, worker_id: str, reason: str, at: datetime) -> None:
        """Lock a worker's badge (e.g. ``PROXY_ATTEMPT``) until unlocked."""
        doc = {"worker_id": worker_id, "reason": reason, "locked_at": at.isoformat()}
        with self._guard():
            self._db.table("lockouts").upsert(doc, self._q.worker_id == worker_id)

    def unlock(self, worker_id: str) -> bool:
        """Lift a lock; returns whether there was one."""
        with self._guard():
            return bool(self._db.table("lockouts").remove(self._q.worker_id == worker_id))

    # ---- generic small documents for capabilities (face encodings index, versions, ...)

    def get_doc(self, table: str, key: str) -> dict[str, Any] | None:
        """A free-form document (command versions, pending config, zone state), or None."""
        with self._guard():
            doc = self._db.table(table).get(self._q.key == key)
        return dict(doc) if doc else None

    def put_doc(self, table: str, key: str, doc: dict[str, Any]) -> None:
        """Create or replace a free-form document."""
        with self._guard():
            self._db.table(table).upsert({**doc, "key": key}, self._q.key == key)

    def remove_doc(self, table: str, key: str) -> bool:
        """Remove a free-form document; returns whether it was there."""
        with self._guard():
            return bool(self._db.table(table).remove(self._q.key == key))

    def docs(self, table: str) -> list[dict[str, Any]]:
        """Every document of a table (each with its ``key``)."""
        with self._guard():
            return [dict(d) for d in self._db.table(table).all()]

    # ---- health

    def integrity_check(self) -> list[str]:
        """Re-read the file and validate every typed document; returns the problems found."""
        problems: list[str] = []
        try:
            data = AtomicJSONStorage(self.path).read() or {}
        except RegistryCorrupt as err:
            return [str(err)]
        kinds: dict[str, type[Permit] | type[Worker] | type[Zone] | type[GasTest]] = {
            "permits": Permit,
            "workers": Worker,
            "zone": Zone,
            "gas_tests": GasTest,
        }
        for table, model in kinds.items():
            for doc_id, doc in data.get(table, {}).items():
                try:
                    model.model_validate(doc)
                except ValidationError as err:
                    problems.append(f"{table}[{doc_id}]: {err.errors()[0]['msg']}")
        return problems

    def close(self) -> None:
        """Close the database; the registry must not be used afterwards."""
        with self._guard():
            self._db.close()
