"""The permit both latency benchmarks suspend: level-2 hot work in zone ``zb``."""

from __future__ import annotations

from datetime import timedelta

from edge.models import Permit, PermitLevel, PermitMember, Role, WorkKind
from edge.zone import ZoneController

PERMIT_ID = "DH-B"


def issue_hot_work_permit(ctl: ZoneController) -> str:
    """Issue the benchmark's permit (8 h from a minute ago) and return its id."""
    now = ctl.clock.wall()
    ctl.issue_permit(
        Permit(
            permit_id=PERMIT_ID,
            zone_id=ctl.zone.zone_id,
            kind=WorkKind.HOT_WORK,
            level=PermitLevel.HOT_2,
            valid_from=now - timedelta(minutes=1),
            valid_to=now + timedelta(hours=8),
            members=(PermitMember(worker_id="G1", role=Role.GUARDIAN),),
        ),
        "central",
    )
    return PERMIT_ID
