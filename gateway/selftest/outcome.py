"""What one self-test check returns, and the words it says in zh-CN and English.

Each check module holds its outcomes as ``Words`` constants (a stable code, the reason and the
fix to try in both languages, with ``{placeholders}``), the pattern of ``edge.reasons``: the
table prints the technician's language, ``--json`` carries both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from edge.reasons import Lang


class Status(StrEnum):
    """A check's outcome; any ``FAIL`` makes ``zonegate selftest`` exit non-zero."""

    PASS = "pass"  # noqa: S105 - a check outcome, not a password
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass
class CheckResult:
    """One line of the self-test table.

    ``reason`` / ``fix`` are English (what scripts and logs match on), ``reason_zh`` /
    ``fix_zh`` the same in Chinese; ``code`` names the outcome stably (``GAS_ALARM``,
    ``DISK_LOW``, ...). ``details`` holds the figures behind the words (JSON-ready).
    """

    name: str
    status: Status
    reason: str
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    code: str = ""
    reason_zh: str = ""
    fix_zh: str = ""

    def reason_in(self, lang: Lang | str) -> str:
        """The reason in ``lang`` (zh-CN falls back to English where no Chinese was given)."""
        if str(lang) == Lang.EN.value:
            return self.reason
        return self.reason_zh or self.reason

    def fix_in(self, lang: Lang | str) -> str:
        """The fix to try in ``lang`` (zh-CN falls back to English where none was given)."""
        if str(lang) == Lang.EN.value:
            return self.fix
        return self.fix_zh or self.fix

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: every field, ``status`` as its string value."""
        out = asdict(self)
        out["status"] = self.status.value
        return out


@dataclass(frozen=True)
class Words:
    """One outcome of a check: a stable ``code``, the reason and the fix in zh-CN and English.

    The texts are ``str.format`` templates; ``result`` fills them from its keyword values.
    """

    code: str
    zh: str
    en: str
    fix_zh: str = ""
    fix_en: str = ""

    def say(self, lang: Lang | str, **values: object) -> str:
        """The reason text alone in ``lang`` (prompts and questions), filled from ``values``."""
        return (self.en if str(lang) == Lang.EN.value else self.zh).format(**values)

    def result(
        self,
        name: str,
        status: Status,
        details: dict[str, Any] | None = None,
        **values: object,
    ) -> CheckResult:
        """A ``CheckResult`` named ``name`` with these words filled from ``values``.

        Raises ``KeyError`` when a placeholder has no value (a bug in the check).
        """
        return CheckResult(
            name=name,
            status=status,
            reason=self.en.format(**values),
            fix=self.fix_en.format(**values),
            details=details if details is not None else {},
            code=self.code,
            reason_zh=self.zh.format(**values),
            fix_zh=self.fix_zh.format(**values),
        )


@dataclass(frozen=True)
class Budgets:
    """How long each kind of check may wait for its peer, seconds (``camera_frames``: frames).

    ``gas_s`` is the whole window the gas sensors are watched: every reading in it is judged.
    """

    gas_s: float = 8.0
    gps_s: float = 15.0
    broker_s: float = 8.0
    camera_frames: int = 15
    tap_s: float = 30.0


Ask = Callable[[str], "bool | None"]
"""Ask the technician a yes/no question; None when nobody is there to answer (no terminal)."""

CRASHED = Words(
    "CHECK_CRASHED",
    "检查程序出错：{err}",
    "check crashed: {err}",
    "请把这一行报告给开发人员",
    "report this bug",
)
