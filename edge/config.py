"""The zone's own configuration sections: device identity, storage, clock trust and access policy.

The whole file (``gateway.yaml``) is assembled and loaded with file:line errors by
``gateway.config``; these are the sections the edge policy itself reads.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from edge.reasons import Lang
from firmware_adapters.bilingual import BilingualValueError
from firmware_adapters.configbase import Section


class DeviceConfig(Section):
    """This gateway: its id, local time zone and terminal language."""

    device_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="this gateway's id")
    timezone: str = Field(default="Asia/Shanghai", description="local day for daily gas tests")
    language: Lang = Field(default=Lang.ZH, description="terminal language: zh-CN or en")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        # ``run`` builds a ZoneInfo at start: a name it cannot load must fail check-config, not
        # kill the daemon in a restart loop (issue 16.7).
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise BilingualValueError(
                f"unknown timezone {value!r}: use an IANA name such as Asia/Shanghai",
                f"未知的时区 {value!r}：请用 IANA 名称，如 Asia/Shanghai",
            ) from err
        return value


class StorageConfig(Section):
    """Where the state lives and how long the journal keeps delivered rows."""

    state_dir: Path = Field(
        default=Path("/var/lib/zonegate"), description="registry, journal, keys (StateDirectory=)"
    )
    retention_days: int = Field(
        default=400, ge=1, description="keep delivered journal rows this long (GB 30871 B.3: 1 y)"
    )
    min_free_mb: int = Field(default=200, ge=1, description="refuse to start below this")
    warn_free_mb: int = Field(default=1000, ge=1, description="raise an alert below this")
    reserve_mb: int = Field(
        default=16,
        ge=0,
        description="space held in a reserve file and released the moment a write fails, so "
        "the gas alarm and the storage alarm can still be journaled on a full disk (0: none)",
    )
    disk_check_s: float = Field(
        default=10, gt=0, description="how often free space is checked and failed writes retried"
    )


class ClockConfig(Section):
    """How the wall clock earns trust (NTP, GPS) or is assumed trusted on a bench."""

    assume_trusted: bool = Field(
        default=False,
        description="treat the wall clock as trusted without NTP or GPS (bench / demo only)",
    )
    gps_validity_s: float = Field(default=600, gt=0, description="how long GPS time keeps trust")


class TelemetryConfig(Section):
    """Per-sensor readings for central: min / max / last per interval (edge.telemetry)."""

    enabled: bool = Field(default=True, description="publish and journal sensor readings")
    interval_s: float = Field(
        default=1.0,
        ge=0.1,
        le=3600,
        description="live interval, seconds: one QoS 0 message per sensor per interval, with "
        "min / max / last of each of its gases",
    )
    journal_interval_s: float = Field(
        default=60.0,
        ge=1.0,
        le=86_400,
        description="history interval, seconds: one journaled `reading` event per sensor and "
        "gas per interval (QoS 1, replayable), at most as often as the live interval",
    )
    thin_above: int = Field(
        default=100,
        ge=0,
        description="while more undelivered journal events than this wait (a backlog "
        "drains), live telemetry is thinned first; 0 = never thin",
    )
    thin_factor: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="while thinned, only every Nth live interval is published",
    )

    @model_validator(mode="after")
    def _history_not_faster(self) -> TelemetryConfig:
        if self.journal_interval_s < self.interval_s:
            raise BilingualValueError(
                "journal_interval_s must be at least interval_s",
                "journal_interval_s 不能小于 interval_s",
            )
        return self


class AccessConfig(Section):
    """Badge-in rules: face-mismatch lockout and certificate expiry warnings."""

    lockout_threshold: int = Field(default=3, ge=1, description="face mismatches that lock a badge")
    lockout_window_s: float = Field(default=600, gt=0, description="window for those mismatches")
    cert_warn_days: tuple[int, int] = Field(
        default=(30, 15), description="warn this many days before a certificate expires"
    )
