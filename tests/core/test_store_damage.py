"""Stores under stress: short writes on a full disk, damaged and vanished stores (issue 16.1, 16.6).

The disk cases run on a real small tmpfs, where ``write(2)`` really returns short and then
ENOSPC; the damaged-store cases start the real daemon and run ``zonegate status``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.clock import ManualClock
from edge.models import EventKind, EventType, Worker
from edge.registry import Registry, RegistryWriteError
from gateway.exitcodes import ExitCode
from gateway.stores import open_stores
from tests.cli_process import zonegate as _zonegate
from tests.tmpfs import fill, free_bytes, small_tmpfs

REPO = Path(__file__).resolve().parents[2]


def _workers(n: int) -> list[Worker]:
    return [
        Worker(worker_id=f"W{i:04d}", name=f"工人{i}", badge_ids=(f"B{i:04d}",)) for i in range(n)
    ]


def test_registry_survives_a_short_write_on_a_full_disk(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "small", 512) as disk:
        path = disk / "registry.json"
        reg = Registry(path)
        reg.put_workers(_workers(400))
        before = path.read_bytes()
        assert len(before) > 60_000
        # Less room than the file's size: the new version can only be written in part.
        fill(disk, leave=len(before) // 2)
        assert 0 < free_bytes(disk) < len(before)
        with pytest.raises(RegistryWriteError, match="previous version is kept"):
            reg.remove_worker("W0001")
        assert path.read_bytes() == before  # the old file survives, byte for byte
        assert not (disk / ".registry.json.tmp").exists()  # no partial file left behind
        # The process acts on the change it could not persist, and knows it is not durable.
        assert reg.worker("W0001") is None and reg.dirty
        # At 0 bytes free: still an error, still the old file.
        fill(disk, leave=0, name="filler2")
        with pytest.raises(RegistryWriteError):
            reg.flush()
        assert path.read_bytes() == before
        reg.close()
        again = Registry(path)
        assert len(again.workers()) == 400  # every worker of the last durable version
        again.close()
        # Space back: the change held in memory reaches the disk.
        (disk / "filler").unlink()
        (disk / "filler2").unlink()
        assert reg.flush() and not reg.dirty
        third = Registry(path)
        assert len(third.workers()) == 399 and third.worker("W0001") is None
        third.close()


# ------------------------------------------------------------------------ damaged stores


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(
        "device:\n  device_id: gw-t\nzone:\n  site: s\n  zone_id: z\n  work_kinds: [DHZY]\n"
        f"storage:\n  state_dir: {tmp_path / 'state'}\n"
        "daemon:\n  expiry_check_s: 0.2\n  shutdown_timeout_s: 5\n"
    )
    return cfg


def _with_history(state: Path) -> None:
    """Stores as a gateway that has run leaves them: a roster, a lockout, journal events."""
    state.mkdir(parents=True, exist_ok=True)
    clock = ManualClock()
    # Opened the way the daemon opens them (the registry then vouches for its journal).
    reg, journal = open_stores(state / "registry.json", state / "journal.db", clock)
    journal.append(EventKind.SYSTEM, EventType.DAEMON_STARTED, {"version": "t"})
    journal.append(EventKind.ALERT, EventType.GAS_ALARM, {"gas": "co", "value": 85.0})
    journal.close()
    reg.put_workers(_workers(3))
    reg.lock("W0001", "PROXY_ATTEMPT", clock.wall())
    reg.close()


def _damage(state: Path, case: str) -> None:
    registry, journal = state / "registry.json", state / "journal.db"
    if case == "registry invalid utf-8":
        raw = registry.read_bytes()
        registry.write_bytes(raw.replace("工人1".encode(), b"\xff\xfe\xfd", 1))
    elif case == "registry 0 bytes":
        registry.write_bytes(b"")
    elif case == "registry missing":
        registry.unlink()
    elif case == "journal header damaged":
        with journal.open("r+b") as f:
            f.write(b"this is not SQLite")
    elif case == "journal 0 bytes":
        journal.write_bytes(b"")
        for side in ("journal.db-wal", "journal.db-shm"):
            (state / side).unlink(missing_ok=True)
    elif case == "journal missing":
        journal.unlink()
        for side in ("journal.db-wal", "journal.db-shm"):
            (state / side).unlink(missing_ok=True)
    else:  # pragma: no cover
        raise AssertionError(case)


CASES = {
    # case: (words in the refusal, the store to reset)
    "registry invalid utf-8": ("not valid UTF-8", "registry"),
    "registry 0 bytes": ("is missing or empty while", "registry"),
    "registry missing": ("is missing or empty while", "registry"),
    "journal header damaged": ("journal damaged", "journal"),
    "journal 0 bytes": ("is missing or empty while", "journal"),
    "journal missing": ("is missing or empty while", "journal"),
}


def _store_files(state: Path) -> list[str]:
    # A reader may leave SQLite's -wal/-shm side files; the lock file is the daemon's own.
    return sorted(p.name for p in state.iterdir() if p.suffix in (".json", ".db"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_damaged_or_vanished_store_refuses_with_the_recovery_step(
    case: str, tmp_path: Path
) -> None:
    words, store = CASES[case]
    cfg = _config(tmp_path)
    state = tmp_path / "state"
    _with_history(state)
    _damage(state, case)
    files_before = _store_files(state)

    run = _zonegate("run", "-c", str(cfg))
    assert run.returncode == ExitCode.STORE, run.stderr
    assert "Traceback" not in run.stderr
    assert words in run.stderr and f"zonegate reset-store {store} -c {cfg}" in run.stderr
    assert "backup" in run.stderr
    # Refusing wrote nothing: not a fresh install behind the technician's back.
    assert _store_files(state) == files_before

    for argv in (("status", "-c", str(cfg), "--json"), ("status", "-c", str(cfg))):
        status = _zonegate(*argv)
        assert status.returncode == ExitCode.STORE, status.stderr
        assert "Traceback" not in status.stderr + status.stdout
        assert words in status.stdout
    snap = json.loads(_zonegate("status", "-c", str(cfg), "--json").stdout)
    assert snap[f"{store}_problems"] and snap["zone"]["zone_id"] == "z"

    # The recovery step works: the damaged file is set aside (never deleted), the daemon starts.
    reset = _zonegate("reset-store", store, "-c", str(cfg))
    assert reset.returncode == 0, reset.stderr
    assert json.loads(reset.stdout)["store"] == store
    ok = _zonegate("status", "-c", str(cfg), "--json")
    assert ok.returncode == 0, ok.stdout
    if case not in ("registry missing", "journal missing"):
        assert any(".set-aside-" in p.name for p in state.iterdir())


def test_a_roster_imported_before_the_first_start_is_a_fresh_install(tmp_path: Path) -> None:
    """import-roster writes the registry before the daemon ever ran: no journal yet is fine."""
    cfg = _config(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    reg = Registry(state / "registry.json")
    reg.put_workers(_workers(5))
    reg.close()
    status = _zonegate("status", "-c", str(cfg), "--json")
    assert status.returncode == 0, status.stdout
    clock = ManualClock()
    registry, journal = open_stores(state / "registry.json", state / "journal.db", clock)
    assert len(registry.workers()) == 5
    registry.close()
    journal.close()


def test_fresh_install_starts_and_a_healthy_status_answers(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    status = _zonegate("status", "-c", str(cfg), "--json")  # nothing there yet
    assert status.returncode == 0, status.stdout
    snap = json.loads(status.stdout)
    assert snap["registry_problems"] == [] and snap["journal_problems"] == []
