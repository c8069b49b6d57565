"""Self-test of the state directory: room on the disk, and stores the daemon can open."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from gateway.selftest.outcome import CheckResult, Status, Words

if TYPE_CHECKING:
    from gateway.config import GatewayConfig

DISK_FULL = Words(
    "DISK_FULL",
    "{dir}：剩余 {free:.0f} MB，低于 storage.min_free_mb={min}：守护进程将拒绝启动",
    "{dir}: {free:.0f} MB free, below storage.min_free_mb={min}: the daemon refuses to start",
    "清理空间（apt-get clean、journalctl --vacuum-size=100M）或换更大的 SD 卡",
    "free space (apt-get clean, journalctl --vacuum-size=100M) or a bigger SD card",
)
DISK_LOW = Words(
    "DISK_LOW",
    "剩余 {free:.0f} MB，低于 storage.warn_free_mb={warn}",
    "{free:.0f} MB free, below storage.warn_free_mb={warn}",
    "在空间用完前清理；或调低 storage.retention_days",
    "free space before it runs out; lower storage.retention_days",
)
DISK_OK = Words("DISK_OK", "剩余 {free:.0f} MB", "{free:.0f} MB free")

STATE_NOT_WRITABLE = Words(
    "STATE_NOT_WRITABLE",
    "{dir} 对 uid {uid} 不可写",
    "{dir} is not writable by uid {uid}",
    "以 zonegate 用户运行，或修正属主：systemd-tmpfiles --create zonegate.conf",
    "run as the zonegate user or fix ownership: systemd-tmpfiles --create zonegate.conf",
)
STORES_DAMAGED = Words(
    "STORES_DAMAGED",
    "{n} 个问题：{first}",
    "{n} problem(s): {first}",
    "从备份恢复状态目录，或重新 provision 并从中心重新同步",
    "restore the state directory from a backup, or re-provision and re-sync from central",
)
STORES_OK = Words(
    "STORES_OK",
    "{dir}：可写，登记库与审计日志完好",
    "{dir}: writable, registry and journal sound",
)


def check_disk(cfg: GatewayConfig) -> CheckResult:
    """Free space in ``storage.state_dir`` against ``min_free_mb`` (fail) / ``warn_free_mb``."""
    from gateway.daemon import free_mb

    st = cfg.storage
    left = free_mb(st.state_dir)
    details = {
        "free_mb": round(left),
        "min_free_mb": st.min_free_mb,
        "warn_free_mb": st.warn_free_mb,
    }
    if left < st.min_free_mb:
        return DISK_FULL.result(
            "disk", Status.FAIL, details, dir=st.state_dir, free=left, min=st.min_free_mb
        )
    if left < st.warn_free_mb:
        return DISK_LOW.result("disk", Status.WARN, details, free=left, warn=st.warn_free_mb)
    return DISK_OK.result("disk", Status.PASS, details, free=left)


def check_stores(cfg: GatewayConfig) -> CheckResult:
    """The state directory is writable and the registry and journal pass their integrity
    checks (a store that does not exist yet is fine: the daemon creates it)."""
    from edge.clock import SystemClock
    from edge.journal import Journal, JournalError
    from edge.registry import Registry, RegistryError
    from gateway.provisioning import restore_state_ownership

    state = cfg.storage.state_dir
    probe = state
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        return STATE_NOT_WRITABLE.result("stores", Status.FAIL, dir=probe, uid=os.getuid())
    problems: list[str] = []
    try:
        if cfg.registry_path.exists():
            registry = Registry(cfg.registry_path)
            try:
                problems += registry.integrity_check()
            finally:
                registry.close()
        if cfg.journal_path.exists():
            journal = Journal(cfg.journal_path, SystemClock(), boot_id="selftest")
            try:
                problems += journal.integrity_check()
            finally:
                journal.close()
    except (RegistryError, JournalError, OSError) as err:
        problems.append(str(err))
    finally:
        restore_state_ownership(state)
    if problems:
        details: dict[str, Any] = {"problems": problems}
        return STORES_DAMAGED.result(
            "stores", Status.FAIL, details, n=len(problems), first=problems[0]
        )
    return STORES_OK.result("stores", Status.PASS, dir=state)
