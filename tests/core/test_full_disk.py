"""A full disk never silences the gas path (issue 16.2), on a real small tmpfs.

The controller keeps acting on memory (suspension, outputs, decisions), raises the storage alarm
(light, status, an event as soon as one can be written), refuses entries it cannot record, and
writes everything it held once space is back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.models import EventKind, PermitStatus
from edge.reasons import ReasonCode
from edge.registry import Registry
from firmware_adapters.outputs.signals import Light
from tests.core.conftest import Env
from tests.tmpfs import fill, free_bytes, small_tmpfs


@pytest.fixture
def small_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with small_tmpfs(tmp_path_factory.mktemp("disk"), 2048) as disk:
        yield disk


@pytest.fixture
def tmp_path(small_disk: Path) -> Path:
    """The core ``env`` fixture's stores live on the small tmpfs in this module."""
    return small_disk


async def test_at_zero_bytes_free_entry_is_refused_and_gas_still_suspends(
    env: Env, small_disk: Path
) -> None:
    env.worker("G1")
    env.welder("W1")
    permit = env.active_permit()
    filler = fill(small_disk, leave=0)
    assert free_bytes(small_disk) == 0

    # An entry that cannot be recorded is refused, with its reason, and nobody is counted in.
    decision = await env.ctl.badge_in("B-G1")
    assert not decision.allowed and decision.reasons == (ReasonCode.STORE_UNWRITABLE,)
    assert "无法记录" in decision.message_zh
    assert "G1" not in env.registry.presence()
    assert not env.ctl.storage_ok and env.ctl.health["storage"]["state"] == "failed"
    assert env.lights.current == (Light.AMBER, False)  # the storage alarm on the post
    assert not env.ctl.journal_writable
    again = await env.ctl.badge_in("B-W1")  # later taps: still a decision, at once
    assert again.reasons == (ReasonCode.STORE_UNWRITABLE,)

    # Gas at 0 bytes free: red and buzzer, the permit suspended in memory, nothing raised.
    suspended = env.ctl.on_air_verdict(env.unsafe())
    assert [p.permit_id for p in suspended] == [permit.permit_id]
    assert env.registry.permit(permit.permit_id).status is PermitStatus.SUSPENDED  # type: ignore[union-attr]
    assert env.lights.current == (Light.RED, True)
    # Leaving is never refused.
    out = await env.ctl.badge_out("B-G1")
    assert out.allowed

    # Space back: what memory held reaches both stores, storage alarm first, in order.
    filler.unlink()
    assert env.ctl.retry_storage() and env.ctl.storage_ok and env.ctl.journal_writable
    types = [e.type for e in env.journal.events()]
    tail = types[types.index("storage_failed") :]
    assert tail[:3] == ["storage_failed", "access_decision", "access_decision"]
    assert "gas_alarm" in tail and tail[-1] == "storage_recovered"
    gas = env.journal.events(kind=EventKind.ALERT, type_="gas_alarm")[-1]
    assert gas.payload["suspended_permits"] == [permit.permit_id]
    env.registry.close()
    on_disk = Registry(env.registry.path)
    stored = on_disk.permit(permit.permit_id)
    assert stored is not None and stored.status is PermitStatus.SUSPENDED
    on_disk.close()
