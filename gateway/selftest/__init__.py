"""``zonegate selftest``: does this gateway's hardware and plumbing work, and if not, why.

One check per configured capability, each beside its capability in this package: ``storage``
(disk room, sound stores), ``sealing`` (the secrets sealed with systemd-creds, not plain
files), ``clock`` (trusted time), ``gas`` (every sensor answers and the air
it reads is below every alarm level, watched for ``--gas-seconds``), ``gps`` (a valid fix inside
the zone's fence), ``broker`` (central's key, the login, the ACL both ways), ``camera`` (a face
in the frames), ``badge`` (a tapped card is read) and ``outputs`` (a test pattern the technician
confirms). ``runner`` collects them; ``command`` is the CLI.

Each check is ``pass`` / ``warn`` / ``fail`` / ``skipped`` with a stable code, the reason and
the fix to try in zh-CN and English (``--lang``, else the config's ``device.language``). A
capability that is not configured is ``skipped``. Exit status is non-zero on any ``fail``;
``--json`` ends with one JSON object.

It refuses to run while a ``zonegate run`` uses the same config: a second reader on a sensor's
UART would steal the daemon's frames, and the daemon would suspend the zone's permits.
"""

from gateway.selftest.command import register, terminal_ask
from gateway.selftest.outcome import Ask, Budgets, CheckResult, Status, Words
from gateway.selftest.runner import run_selftest

__all__ = [
    "Ask",
    "Budgets",
    "CheckResult",
    "Status",
    "Words",
    "register",
    "run_selftest",
    "terminal_ask",
]
