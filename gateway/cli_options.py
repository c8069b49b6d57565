"""Options every ``zonegate`` command shares: where the gateway YAML is.

One definition so that ``-c`` means the same file, with the same default and help, in every
command a technician types (issue 13 item 4: check-config once took its file positionally while
every other command used ``-c``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

# The path ``zonegate provision`` writes and the systemd unit reads.
DEFAULT_CONFIG = Path("/etc/zonegate/gateway.yaml")


def add_config_arg(
    p: argparse.ArgumentParser,
    *,
    parsed_default: Path | None = DEFAULT_CONFIG,
    purpose: str = "gateway YAML",
    when: str = "",
) -> None:
    """Add ``--config/-c PATH`` to ``p``.

    ``parsed_default`` is what argparse stores when ``-c`` is not given: ``DEFAULT_CONFIG``, or
    ``None`` for a command that decides itself (check-config also takes the file positionally;
    gps probe works without a config). ``purpose`` starts the help text; ``when`` qualifies the
    default in it (e.g. " when it exists").
    """
    p.add_argument(
        "--config",
        "-c",
        type=Path,
        default=parsed_default,
        help=f"{purpose} (default {DEFAULT_CONFIG}{when})",
    )
