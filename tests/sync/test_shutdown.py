"""SIGTERM while the broker connection is dropping (issue 12 item 4b).

The broker and the daemon are stopped together while 16 Modbus transmitters are polled: the
daemon used to keep reconnecting after logging "zonegate stopped" (a cancellation swallowed in
the MQTT client's connect). It must exit, code 0, within its shutdown budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from cloud_sync.central import client_for
from cloud_sync.topics import DeviceTopics
from firmware_adapters.sim.modbus import ModbusSimulator
from tests.sync.conftest import DEVICE, SITE, gateway_doc

REPO = Path(__file__).resolve().parents[2]
SENSORS = 16
BUDGET_S = 5  # daemon.shutdown_timeout_s
# The whole stop may take one budget per stage plus the interpreter's exit; over this is a hang.
STOP_BOUND_S = 3 * BUDGET_S


def config(tmp_path: Path, broker: Any, keys: Any, rs485: Path) -> Path:
    sensors = [
        {
            "type": "modbus_rtu",
            "id": f"tx-{i}",
            "port": str(rs485),
            "device_id": i,
            "poll_interval_s": 0.5,
            "timeout_s": 0.3,
            "warmup_s": 0,
            "staleness_s": 5,
            "channels": [{"gas": "o2", "unit": "%vol", "address": 0, "scale": 0.1}],
        }
        for i in range(1, SENSORS + 1)
    ]
    doc = gateway_doc(
        broker,
        keys,
        tmp_path,
        state_dir=tmp_path / "state",
        daemon={"shutdown_timeout_s": BUDGET_S},
        gas={"sensors": sensors},
    )
    path = tmp_path / "gw.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


async def online(broker: Any) -> None:
    """Wait for the daemon's retained ``online`` on its status topic."""
    status = DeviceTopics(SITE, DEVICE).status
    async with client_for(broker.settings("central", "central-shutdown"), clean_session=True) as c:
        await c.subscribe(status, qos=1)
        async for message in c.messages:
            if b'"online"' in bytes(message.payload):
                return


@pytest.mark.parametrize("attempt", range(2))
async def test_sigterm_while_the_broker_stops_ends_within_budget(
    broker: Any, keys: Any, tmp_path: Path, attempt: int
) -> None:
    rs485 = tmp_path / "rs485"
    async with ModbusSimulator(rs485, list(range(1, SENSORS + 1))) as sim:
        for device_id in range(1, SENSORS + 1):
            sim.set_value(device_id, 0, 20.9, scale=0.1)
        cfg = config(tmp_path, broker, keys, rs485)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli", "run", "--config", str(cfg),
            cwd=REPO, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stderr is not None
        lines: list[str] = []

        async def read_log() -> None:
            assert proc.stderr is not None
            async for raw in proc.stderr:
                lines.append(raw.decode(errors="replace"))

        reader = asyncio.create_task(read_log())
        try:
            async with asyncio.timeout(60):
                await online(broker)
                while sim.requests < 2 * SENSORS:  # noqa: ASYNC110 - the simulator counts polls
                    await asyncio.sleep(0.05)
            # Together: the broker goes (connection dropping) as the daemon is told to stop.
            assert broker.proc is not None
            broker.proc.send_signal(signal.SIGTERM)
            proc.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.wait_for(proc.wait(), STOP_BOUND_S)
            except TimeoutError:
                raise AssertionError(
                    f"daemon still running {STOP_BOUND_S} s after SIGTERM:\n" + "".join(lines[-30:])
                ) from None
            assert code == 0, "".join(lines[-30:])
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await reader
            with contextlib.suppress(Exception):
                broker.stop()
    log = "".join(lines)
    assert "zonegate stopped" in log
    assert "still running after" not in log, log[-3000:]
