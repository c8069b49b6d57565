"""Opening the two stores together, and the technician's way out when one is damaged or gone.

The registry (current state) and the journal (history) vouch for each other: a registry that
vanished while the journal holds events, or a journal that vanished while the registry holds
permits or workers, is not a fresh install. Starting anyway would silently forget permits,
lockouts, latched alarms and accepted document versions (issue 16.6), so each such case refuses
with what was found and the recovery step. ``zonegate reset-store`` is that step when no backup
exists: it keeps the damaged file aside and starts an empty store on purpose.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.clock import Clock
from edge.journal import Journal, JournalError, count_events
from edge.registry import AtomicJSONStorage, Registry, RegistryError
from gateway.cli_options import add_config_arg
from gateway.errors import GatewayError
from gateway.exitcodes import ExitCode

# Tables that only the running gateway fills: any document in one of them is history. The zone
# document alone is not (every start writes it).
_STATE_TABLES_IGNORED = frozenset({"zone"})

# The daemon marks the registry once it has opened a journal beside it. A registry without the
# mark (a roster imported before the first start) next to no journal is a fresh install; with the
# mark, a missing journal has vanished.
META_TABLE = "store_meta"
JOURNAL_MARK = "journal"


class StoreRefused(GatewayError):
    """A store is damaged, or missing while its partner holds history.

    ``store`` is "registry" or "journal"; ``recovery`` is the step that gets the gateway going.
    """

    def __init__(self, store: str, message: str, recovery: str) -> None:
        super().__init__(f"{message}. {recovery}")
        self.store = store
        self.recovery = recovery


@dataclass(frozen=True, slots=True)
class StoreFacts:
    """What is on disk, read without creating or changing anything."""

    registry_present: bool
    registry_history: int  # documents outside the zone table
    registry_had_journal: bool  # the daemon opened a journal beside this registry before
    registry_problem: str | None
    journal_events: int | None  # None: no journal (missing or 0 bytes)
    journal_problem: str | None


def _reset_hint(store: str, config: Path | None) -> str:
    cfg = f" -c {config}" if config is not None else ""
    return f"zonegate reset-store {store}{cfg}"


def inspect_stores(registry_path: Path, journal_path: Path) -> StoreFacts:
    """Look at both files (never writes); problems come back as text, never as exceptions."""
    present = False
    history = 0
    had_journal = False
    registry_problem = None
    try:
        data = AtomicJSONStorage(registry_path).read()
        present = data is not None  # a missing, 0-byte or blank file reads as None
        history = sum(
            len(docs)
            for table, docs in (data or {}).items()
            if table not in _STATE_TABLES_IGNORED and isinstance(docs, dict)
        )
        marks = (data or {}).get(META_TABLE, {})
        had_journal = isinstance(marks, dict) and any(
            isinstance(d, dict) and d.get("key") == JOURNAL_MARK for d in marks.values()
        )
    except RegistryError as err:
        registry_problem = str(err)
    except OSError as err:
        registry_problem = f"{registry_path}: cannot read: {err.strerror}"
    journal_events = None
    journal_problem = None
    try:
        journal_events = count_events(journal_path)
    except JournalError as err:
        journal_problem = str(err)
    except OSError as err:
        journal_problem = f"{journal_path}: cannot read: {err.strerror}"
    return StoreFacts(
        present, history, had_journal, registry_problem, journal_events, journal_problem
    )


def refusals(
    registry_path: Path, journal_path: Path, config: Path | None = None
) -> list[StoreRefused]:
    """Every reason the stores must not be opened as they are, each with its recovery step."""
    facts = inspect_stores(registry_path, journal_path)
    out: list[StoreRefused] = []
    backup = "restore it from the latest backup"
    if facts.registry_problem is not None:
        out.append(
            StoreRefused(
                "registry",
                f"registry damaged: {facts.registry_problem}",
                f"Recovery: keep the file for inspection and {backup}, or run "
                f"`{_reset_hint('registry', config)}` to set it aside and start an empty "
                "registry (central must then send the roster and permits again)",
            )
        )
    if facts.journal_problem is not None:
        out.append(
            StoreRefused(
                "journal",
                f"journal damaged: {facts.journal_problem}",
                f"Recovery: {backup} (journal.db with its -wal file), or run "
                f"`{_reset_hint('journal', config)}` to set it aside and start a new journal "
                "(its undelivered events are then only in the file set aside)",
            )
        )
    if not facts.registry_present and facts.journal_events:
        out.append(
            StoreRefused(
                "registry",
                f"{registry_path} is missing or empty while {journal_path} holds "
                f"{facts.journal_events} events: this is not a fresh install, and starting would "
                "forget permits, workers, lockouts, latched alarms and accepted document versions",
                f"Recovery: {backup}, or run `{_reset_hint('registry', config)}` to start an "
                "empty registry on purpose",
            )
        )
    journal_gone = facts.journal_events is None and facts.journal_problem is None
    if journal_gone and facts.registry_had_journal:
        out.append(
            StoreRefused(
                "journal",
                f"{journal_path} is missing or empty while {registry_path} holds "
                f"{facts.registry_history} documents: this is not a fresh install, and the audit "
                "trail and every undelivered event would be lost",
                f"Recovery: {backup} (with its -wal file), or run "
                f"`{_reset_hint('journal', config)}` to start a new journal on purpose",
            )
        )
    return out


def open_stores(
    registry_path: Path, journal_path: Path, clock: Clock, config: Path | None = None
) -> tuple[Registry, Journal]:
    """Open both stores for the daemon, or raise ``StoreRefused`` / ``RegistryError`` /
    ``JournalError`` with the recovery step.

    The journal is created before the registry on a fresh install: a crash between the two
    then leaves an empty journal and no registry, which reads as fresh, not as lost history.
    """
    found = refusals(registry_path, journal_path, config)
    if found:
        raise found[0]
    journal = Journal(journal_path, clock)
    try:
        _refuse_damaged("journal", journal_path, journal.integrity_check(), config)
        registry = Registry(registry_path)
    except BaseException:
        journal.close()
        raise
    try:
        _refuse_damaged("registry", registry_path, registry.integrity_check(), config)
        if registry.get_doc(META_TABLE, JOURNAL_MARK) is None:
            # From now on the registry vouches that a journal exists beside it.
            registry.put_doc(
                META_TABLE, JOURNAL_MARK, {"path": str(journal_path), "since": _now_iso()}
            )
    except BaseException:
        registry.close()
        journal.close()
        raise
    return registry, journal


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _refuse_damaged(store: str, path: Path, problems: list[str], config: Path | None) -> None:
    if problems:
        raise StoreRefused(
            store,
            f"{store} damaged: {path}: {problems[0]}",
            f"Recovery: restore it from the latest backup, or run `{_reset_hint(store, config)}`",
        )


def recent_alerts(journal: Journal, limit: int = 5) -> list[dict[str, Any]]:
    """The journal's latest ``limit`` alerts as ``zonegate status`` shows them: time (ISO),
    type and payload."""
    from edge.models import EventKind

    return [
        {"time": e.wall_time.isoformat(), "type": e.type, "payload": e.payload}
        for e in journal.events(kind=EventKind.ALERT, limit=limit)
    ]


def status_of_stores(
    registry_path: Path, journal_path: Path, clock: Clock, config: Path | None = None
) -> dict[str, Any]:
    """Everything ``zonegate status`` shows from the stores; answers whatever state they are in.

    A store that cannot be read contributes its problem (with the recovery step) instead of
    its data.
    """
    out: dict[str, Any] = {
        "permits": [],
        "presence": {},
        "locked": [],
        "pending": {},
        "recent_alerts": [],
        "registry_problems": [],
        "journal_problems": [],
        # False until the first start (or roster import) creates the store: a just-provisioned
        # gateway has neither, which is a state to name, not a problem.
        "stores_exist": {"registry": registry_path.exists(), "journal": journal_path.exists()},
    }
    for refused in refusals(registry_path, journal_path, config):
        out[f"{refused.store}_problems"].append(str(refused))
    if not out["registry_problems"] and registry_path.exists():
        try:
            registry = Registry(registry_path)
            try:
                out["permits"] = [p.model_dump(mode="json") for p in registry.permits()]
                out["presence"] = registry.presence()
                out["locked"] = sorted(registry.lockouts())
                out["registry_problems"] = registry.integrity_check()
            finally:
                registry.close()
        except (RegistryError, OSError, ValueError) as err:
            out["registry_problems"].append(f"{registry_path}: {err}")
    if not out["journal_problems"] and journal_path.exists():
        try:
            journal = Journal(journal_path, clock, readonly=True)
            try:
                out["pending"] = {k.value: v for k, v in journal.pending_count().items()}
                out["recent_alerts"] = recent_alerts(journal)
                out["journal_problems"] = journal.integrity_check()
            finally:
                journal.close()
        except (JournalError, OSError, ValueError) as err:
            out["journal_problems"].append(f"{journal_path}: {err}")
    return out


# --------------------------------------------------------------------------- reset-store


def _set_aside(path: Path, stamp: str) -> list[Path]:
    moved = []
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists():
            target = p.with_name(f"{p.name}.set-aside-{stamp}")
            os.replace(p, target)
            moved.append(target)
    return moved


def reset_store(which: str, registry_path: Path, journal_path: Path, clock: Clock) -> list[Path]:
    """Set the store's files aside (never deleted) and create an empty one on purpose."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if which == "registry":
        moved = _set_aside(registry_path, stamp)
        # "{}" rather than no file: an empty registry written on purpose is not a lost one.
        storage = AtomicJSONStorage(registry_path)
        storage.write({})
        return moved
    moved = _set_aside(journal_path, stamp)
    journal = Journal(journal_path, clock)
    try:
        from edge.models import EventKind, EventType

        journal.append(
            EventKind.SYSTEM,
            EventType.JOURNAL_RESET,
            {"set_aside": [str(p) for p in moved], "by": "zonegate reset-store"},
        )
    finally:
        journal.close()
    return moved


def cmd_reset_store(args: argparse.Namespace) -> int:
    """``zonegate reset-store``: set a damaged or orphaned store aside (renamed, never
    deleted) and start an empty one; refuses while the daemon runs."""
    from gateway.config import ConfigError, load_config
    from gateway.daemon import daemon_running
    from gateway.phrasebook import pick_lang
    from gateway.services import system_clock

    lang = pick_lang(getattr(args, "lang", None), args.config)
    zh = lang.value != "en"
    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        # Normally said by config_precheck already; the file may have changed since.
        for line in err.lines(lang.value):
            print(line, file=sys.stderr)
        return ExitCode.CONFIG
    if daemon_running(cfg.storage.state_dir):
        print(
            "zonegate 正在运行：请先停止（sudo systemctl stop zonegate）"
            if zh
            else "the zonegate daemon is running: stop it first (systemctl stop zonegate)"
        )
        return ExitCode.BUSY
    clock = system_clock(cfg)
    try:
        moved = reset_store(args.store, cfg.registry_path, cfg.journal_path, clock)
    except (RegistryError, JournalError, OSError) as err:
        what = {"registry": "登记库", "journal": "审计日志"}.get(args.store, args.store)
        said = f"无法重置{what}：{err}" if zh else f"cannot reset the {args.store}: {err}"
        print(said, file=sys.stderr)
        return ExitCode.STORE
    print(
        json.dumps(
            {"store": args.store, "set_aside": [str(p) for p in moved], "fresh": True},
            ensure_ascii=False,
        )
    )
    return ExitCode.OK


def register(sub: Any) -> None:
    """Add ``reset-store`` to the ``zonegate`` command."""

    p = sub.add_parser(
        "reset-store",
        help="set a damaged or orphaned store aside and start an empty one on purpose",
    )
    p.add_argument("store", choices=["registry", "journal"])
    add_config_arg(p)
    from gateway.phrasebook import add_lang_arg

    add_lang_arg(p)
    p.set_defaults(func=cmd_reset_store)
