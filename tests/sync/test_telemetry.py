"""Telemetry end to end: 16 Winsen sensors at 10 Hz on ptys -> the whole gateway (adapters,
exposure engine, telemetry, MQTT sync) -> mosquitto -> a central subscriber."""

from __future__ import annotations

import asyncio
import itertools
import statistics
from collections import defaultdict
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from cloud_sync.central import client_for
from cloud_sync.payloads import EventMessage, TelemetrySample
from cloud_sync.topics import DeviceTopics
from firmware_adapters.sim.winsen import WinsenSimulator
from gateway.config import GatewayConfig
from gateway.daemon import Gateway
from gateway.stores import open_stores
from tests.sync.conftest import DEVICE, SITE, gateway_doc

TOPICS = DeviceTopics(SITE, DEVICE)
SENSORS, HZ = 16, 10.0
INTERVAL_S, HISTORY_S = 0.5, 2.0


async def test_sixteen_sensors_at_10_hz_reach_central_at_the_configured_rate(
    broker: Any, keys: Any, tmp_path: Path, wait_until: Callable[..., Any]
) -> None:
    ports = tmp_path / "dev"
    ports.mkdir()
    sensors = [
        {
            "type": "winsen_ze",
            "id": f"co{i}",
            "port": str(ports / f"co{i}"),
            "model": "ze07",
            "warmup_s": 0,
        }
        for i in range(SENSORS)
    ]
    doc = gateway_doc(
        broker,
        keys,
        tmp_path,
        state_dir=tmp_path / "state",
        clock={"assume_trusted": True},
        gas={"sensors": sensors},
        telemetry={"interval_s": INTERVAL_S, "journal_interval_s": HISTORY_S},
    )
    config = GatewayConfig.model_validate(doc)
    live: dict[str, list[TelemetrySample]] = defaultdict(list)
    history: dict[str, list[EventMessage]] = defaultdict(list)
    subscribed = asyncio.Event()

    async def central() -> None:
        async with client_for(broker.settings("central", "central-telemetry")) as c:
            await c.subscribe(f"{TOPICS.prefix}/telemetry/#", qos=1)
            subscribed.set()
            async for m in c.messages:
                levels = str(m.topic).split("/")
                raw = bytes(m.payload)
                if levels[-1] == "live":
                    assert m.qos == 0  # live readings are fire-and-forget
                    sample = TelemetrySample.model_validate_json(raw)
                    live[sample.sensor_id].append(sample)
                else:
                    msg = EventMessage.model_validate_json(raw)
                    history[str(msg.payload["sensor_id"])].append(msg)

    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        for i in range(SENSORS):
            sim = WinsenSimulator(ports / f"co{i}", period_s=1 / HZ, value=2.0 + i / 10)
            await stack.enter_async_context(sim)
        listener = asyncio.create_task(central())
        await asyncio.wait_for(subscribed.wait(), 10)
        async with Gateway(config, None) as gw:
            runner = asyncio.create_task(gw.run(stop))
            try:
                want = 12  # samples per sensor: 6 s of a 0.5 s interval
                await wait_until(
                    lambda: len(live) == SENSORS and all(len(s) >= want for s in live.values()),
                    60,
                    f"{want} live samples from each of {SENSORS} sensors",
                )
                await wait_until(
                    lambda: len(history) == SENSORS, 30, "a journaled reading per sensor"
                )
            finally:
                stop.set()
                await runner
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)

    for sensor, samples in live.items():
        # The rate is the configured one: samples are stamped INTERVAL_S apart (the gateway's
        # timer skips, never bunches, an interval it woke up late for).
        ats = [datetime.fromisoformat(str(s.at)) for s in samples[1:]]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ats)]
        assert 0.8 * INTERVAL_S <= statistics.median(gaps) <= 1.2 * INTERVAL_S, (sensor, gaps)
        assert all(s.interval_s == INTERVAL_S and s.every == 1 for s in samples)
        co = [s.channels["co"] for s in samples[1:]]
        # Downsampled, not dropped: each sample folds in the interval's readings (10 Hz).
        assert statistics.median(c.count for c in co) >= 2, (sensor, [c.count for c in co])
        assert all(c.min is not None and c.max is not None and c.min <= c.max for c in co)
    for msgs in history.values():
        payload = msgs[0].payload
        assert msgs[0].type == "reading" and payload["interval_s"] == HISTORY_S
        assert payload["count"] >= 1 and payload["min"] <= payload["value"] <= payload["max"]


async def test_live_telemetry_is_thinned_first_while_a_backlog_drains(
    broker: Any, keys: Any, tmp_path: Path, wait_until: Callable[..., Any]
) -> None:
    from edge.clock import SystemClock
    from edge.models import EventKind, EventType

    ports = tmp_path / "dev"
    ports.mkdir()
    sensors = 4
    config = GatewayConfig.model_validate(
        gateway_doc(
            broker,
            keys,
            tmp_path,
            state_dir=tmp_path / "state",
            clock={"assume_trusted": True},
            gas={
                "sensors": [
                    {"type": "winsen_ze", "id": f"co{i}", "port": str(ports / f"co{i}"),
                     "model": "ze07", "warmup_s": 0}
                    for i in range(sensors)
                ]
            },
            telemetry={"interval_s": 0.2, "thin_above": 100, "thin_factor": 5},
        )
    )  # fmt: skip
    # What an outage leaves behind: alarms and access events the gateway could not send. Opened
    # as the daemon opens its stores: a journal with history next to no registry is refused as
    # a vanished registry (issue 16.6), not taken for a fresh install.
    registry, backlog = open_stores(
        config.registry_path, config.journal_path, SystemClock(assume_trusted=True)
    )
    registry.close()
    for _ in range(10):
        backlog.append_many(
            [(EventKind.ALERT, EventType.GAS_ALARM_CLEARED, {"zone_id": "z1", "latched": False})]
            * 2000
        )
    backlog.close()
    live: list[TelemetrySample] = []
    subscribed = asyncio.Event()

    async def central() -> None:
        async with client_for(broker.settings("central", "central-thin")) as c:
            await c.subscribe(f"{TOPICS.prefix}/telemetry/+/live", qos=0)
            subscribed.set()
            async for m in c.messages:
                live.append(TelemetrySample.model_validate_json(bytes(m.payload)))

    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        for i in range(sensors):
            await stack.enter_async_context(
                WinsenSimulator(ports / f"co{i}", period_s=1 / HZ, value=2.0)
            )
        listener = asyncio.create_task(central())
        await asyncio.wait_for(subscribed.wait(), 10)
        async with Gateway(config, None) as gw:
            runner = asyncio.create_task(gw.run(stop))
            try:
                await wait_until(lambda: any(s.every == 5 for s in live), 60, "thinned samples")
                await wait_until(
                    lambda: not any(gw.journal.pending_count().values()), 120, "backlog drained"
                )
                await wait_until(
                    lambda: sum(s.every == 1 for s in live) >= 3 * sensors, 30, "full rate again"
                )
            finally:
                stop.set()
                await runner
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    thinned = [s for s in live if s.every == 5 and s.sensor_id == "co0"]
    ats = [datetime.fromisoformat(str(s.at)) for s in thinned]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ats)]
    # While thinned, only every 5th interval of 0.2 s went out (a second apart per sensor).
    assert gaps and statistics.median(gaps) >= 0.8, gaps
