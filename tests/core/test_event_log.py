"""What the daemon's log says when the zone goes red (``zonegate logs`` reads it).

A fresh-user test found the log silent about gas alarms and suspensions while the light was
red: the journal had them, the technician following the log saw nothing.
"""

from __future__ import annotations

import logging

import pytest

from edge.models import PermitStatus

from .conftest import Env


def test_alerts_and_permit_changes_reach_the_log(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.worker("G1")
    env.welder("W1")
    env.active_permit()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="zonegate.zone"):
        suspended = env.ctl.on_air_verdict(env.unsafe())
    assert [p.status for p in suspended] == [PermitStatus.SUSPENDED]
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert any(
        level == logging.WARNING and msg.startswith("alert gas_alarm:") and '"gas":"co"' in msg
        for level, msg in lines
    ), lines
    assert any(msg.startswith("permit permit_suspend:") and "P1" in msg for _, msg in lines)
