"""Every event type is produced somewhere in the suite with a payload that fits its model
(edge.event_payloads). These cover the types no other test journals; their journals also feed
the real examples of docs/mqtt/events.md (``pytest --event-examples``)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from edge.air import GasService
from edge.clock import SystemClock
from edge.event_payloads import validate_payload
from edge.gas_config import GasConfig
from edge.models import Event, EventType, PermitStatus
from edge.zone import ZoneController
from firmware_adapters.gas.adapter import AdapterStats, ReadingSink
from gateway.config import GatewayConfig
from gateway.daemon import Gateway
from tests.core.conftest import ZONE, Env


def _all_fit(events: list[Event]) -> set[str]:
    for ev in events:
        validate_payload(ev.type, ev.payload)  # raises with the field that does not fit
    return {ev.type.value for ev in events}


def test_the_permit_lifecycle_journals_typed_events(env: Env) -> None:
    env.welder("W1")
    env.worker("G1")
    p1 = env.permit("P1")
    env.ctl.issue_permit(p1.model_copy(update={"version": 2}), "central")  # permit_updated
    env.gas_test()
    env.ctl.start_permit("P1", "leader")
    env.ctl.complete_permit("P1", "leader")
    env.ctl.close_permit("P1", "officer")
    env.permit("P2")
    env.ctl.cancel_permit("P2", "central", "weather")
    # A crash between the registry write and the journal append: the next start appends the
    # missing event (ZoneController.reconcile), as the daemon does at every start.
    p3 = env.permit("P3")
    env.registry.put_permit(p3.model_copy(update={"status": PermitStatus.CANCELLED}))
    again = ZoneController(
        zone=ZONE, registry=env.registry, journal=env.journal, clock=env.clock, air=env.air
    )
    assert again.reconcile() == ["P3"]
    seen = _all_fit(env.journal.events())
    assert {
        "permit_issued",
        "permit_updated",
        "permit_start",
        "permit_complete",
        "permit_close",
        "permit_cancel",
        "permit_state_recovered",
    } <= seen


class BrokenAdapter:
    """An adapter with a bug: its loop raises (the supervisor must restart it and say so)."""

    name = "broken"

    def __init__(self) -> None:
        self.stats = AdapterStats()
        self.runs = 0

    @property
    def sensor_ids(self) -> tuple[str, ...]:
        return ()

    async def run(self, sink: ReadingSink) -> None:
        self.runs += 1
        raise RuntimeError("adapter bug")


async def test_a_crashing_gas_adapter_journals_a_typed_fault(env: Env) -> None:
    adapter = BrokenAdapter()
    service = GasService(env.ctl, GasConfig(), SystemClock(assume_trusted=True), adapters=[adapter])
    crashed = asyncio.Event()
    env.ctl.event_listeners.append(
        lambda ev: crashed.set() if ev.type is EventType.GAS_ADAPTER_CRASHED else None
    )
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(crashed.wait(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    [fault] = env.journal.events(type_="gas_adapter_crashed")
    assert _all_fit([fault]) == {"gas_adapter_crashed"}
    assert fault.payload["adapter"] == "broken" and "adapter bug" in fault.payload["error"]


@pytest.mark.filterwarnings("ignore::gpiozero.PinFactoryFallback")
async def test_daemon_faults_journal_typed_events(tmp_path: Path) -> None:
    # Real conditions, no fakes: this machine has no GPIO (outputs unavailable), the badge
    # reader's device does not exist (the terminal service fails and is restarted), and the
    # free-space warning is set above any disk (disk low).
    config = GatewayConfig.model_validate(
        {
            "device": {"device_id": "gw-faults"},
            "zone": {"site": "s", "zone_id": "z1", "work_kinds": ["DHZY"]},
            "storage": {"state_dir": str(tmp_path), "warn_free_mb": 10**9, "min_free_mb": 1},
            "clock": {"assume_trusted": True},
            "outputs": {"mock": False},
            "badge": {"type": "file", "port": str(tmp_path / "no-such-reader")},
        }
    )
    wanted = {"outputs_unavailable", "service_failed", "disk_low"}
    seen: set[str] = set()
    done = asyncio.Event()

    def on_event(ev: Event) -> None:
        seen.update(_all_fit([ev]))
        if wanted <= seen:
            done.set()

    stop = asyncio.Event()
    async with Gateway(config, None) as gw:
        gw.controller.event_listeners.append(on_event)
        seen.update(_all_fit(gw.journal.events()))
        if wanted <= seen:
            done.set()
        runner = asyncio.create_task(gw.run(stop))
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(20):
                    await done.wait()
        finally:
            stop.set()
            await runner
        journaled = _all_fit(gw.journal.events())
    assert wanted <= seen | journaled, seen | journaled
    assert EventType.DAEMON_STARTED.value in journaled
