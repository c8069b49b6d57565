"""A second gateway with the same device id (a cloned SD card), as the technician sees it:
``zonegate status`` and ``zonegate selftest`` of the running daemon name the takeover (issue 12
item 2), and the daemon keeps backing off instead of reconnecting twice a second."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from cloud_sync.link import Link
from cloud_sync.topics import DeviceTopics
from gateway.cli import main
from gateway.config import load_config
from gateway.selftest import Budgets, Status, run_selftest
from tests.sync.conftest import DEVICE, SITE, gateway_doc

REPO = Path(__file__).resolve().parents[2]


def config(tmp_path: Path, broker: Any, keys: Any) -> Path:
    doc = gateway_doc(
        broker,
        keys,
        tmp_path,
        state_dir=tmp_path / "state",
        daemon={"shutdown_timeout_s": 5},
        mqtt={"client_id": f"{SITE}-{DEVICE}", "backoff_max_s": 0.4},
    )
    path = tmp_path / "gw.yaml"
    path.write_text(json.dumps(doc))
    return path


async def status_link(cfg: Path, capsys: Any) -> dict[str, Any]:
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["status", "--config", str(cfg), "--json"]) == 0
    snap = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return snap.get("link") or {}


async def test_a_clone_is_named_in_status_and_selftest(
    broker: Any, keys: Any, tmp_path: Path, capsys: Any
) -> None:
    cfg = config(tmp_path, broker, keys)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "run", "--config", str(cfg),
        cwd=REPO, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    log: list[str] = []

    async def read_log() -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            log.append(raw.decode(errors="replace"))

    reader = asyncio.create_task(read_log())

    async def idle(_client: Any) -> None:
        await asyncio.Event().wait()

    clone_settings = broker.settings(
        DEVICE, f"{SITE}-{DEVICE}", backoff_initial_s=0.05, backoff_max_s=0.4
    )
    clone = Link(clone_settings, DeviceTopics(SITE, DEVICE), "boot-of-the-clone", idle)
    try:
        async with asyncio.timeout(60):
            while not any("zonegate ready" in line for line in log):  # noqa: ASYNC110
                await asyncio.sleep(0.1)  # the daemon is another process
            while (await status_link(cfg, capsys)).get("connected") is not True:  # noqa: ASYNC110
                await asyncio.sleep(0.2)  # the daemon is another process
        async with clone, asyncio.timeout(90):
            diagnosis = "SESSION_TAKEN_OVER"
            while (link := await status_link(cfg, capsys)).get("diagnosis") != diagnosis:  # noqa: ASYNC110
                await asyncio.sleep(0.5)  # the daemon is another process
            assert link["rival_boot_id"] == "boot-of-the-clone"
            assert "客户端 ID" in link["diagnosis_zh"]
            assert link["backoff_attempt"] >= 2  # not reset on every CONNACK
            results = await run_selftest(
                load_config(cfg), credentials_dir=tmp_path, budgets=Budgets(1.0, 1.0, 5.0, 1)
            )
            check = next(r for r in results if r.name == "broker")
            assert check.status is Status.FAIL
            assert "SESSION_TAKEN_OVER" in check.reason
    except TimeoutError:
        raise AssertionError("no diagnosis; daemon log:\n" + "".join(log[-40:])) from None
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await reader
