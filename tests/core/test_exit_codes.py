"""One exit-code table (gateway/exitcodes.py) that the README documents row for row (issue 13)."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.exitcodes import ExitCode

REPO = Path(__file__).resolve().parents[2]


def test_each_number_means_one_thing() -> None:
    # An IntEnum silently turns a repeated value into an alias of the first name.
    assert len(ExitCode.__members__) == len(list(ExitCode))


def test_the_readme_table_lists_every_code_and_no_other() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    after = readme.split("Exit codes (one table for every command", 1)[1]
    table = after.split("\n\n", 2)[1]  # the paragraph after the lead-in line
    documented = {int(n) for n in re.findall(r"^\| (\d+) \|", table, flags=re.MULTILINE)}
    assert documented == {int(c) for c in ExitCode}


def test_the_commands_answer_from_the_table() -> None:
    from gateway import badge_binding, gps_probe, logs_cli, provisioning

    for module in (gps_probe, badge_binding, logs_cli, provisioning):
        codes = {v for k, v in vars(module).items() if k.startswith("EXIT_")}
        assert codes and all(isinstance(c, ExitCode) for c in codes), module.__name__
