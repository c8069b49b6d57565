"""The shipped broker config (config/mosquitto/mosquitto.conf + zonegate.acl) on a real
mosquitto (issue 16 item 4): one device's credentials cannot destroy another device's queued
commands, and a device cannot publish under another site."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from cloud_sync.link import BrokerClient, PublishRefused, tls_context
from cloud_sync.topics import DeviceTopics
from firmware_adapters.tcpports import free_port
from tests.broker_config import render_acl, render_conf
from tests.pki import Pki
from tests.sync.conftest import wait_port

SITE = "site1"
DEVICES = {"dev-a": "pw-a", "dev-b": "pw-b"}
CENTRAL = {"central": "pw-central"}


class ShippedBroker:
    """mosquitto running the shipped mosquitto.conf: devices and central on their own ports."""

    def __init__(self, directory: Path, pki: Pki) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.pki = pki
        self.device_port, self.central_port = free_port(), free_port()
        passwd = {}
        for name, users in (("devices", DEVICES), ("central", CENTRAL)):
            path = directory / f"{name}.passwd"
            path.write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
            subprocess.run(["mosquitto_passwd", "-U", str(path)], check=True, capture_output=True)
            passwd[name] = path
        self.conf = render_conf(
            directory,
            pki,
            device_port=self.device_port,
            central_port=self.central_port,
            device_passwd=passwd["devices"],
            central_passwd=passwd["central"],
            acl=render_acl(directory / "zonegate.acl", [SITE]),
        )
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.device_port, proc=self.proc)
        wait_port(self.central_port, proc=self.proc)

    def client(self, user: str, client_id: str, *, port: int | None = None, **kw: Any) -> Any:
        password = {**DEVICES, **CENTRAL}[user]
        default = self.central_port if user in CENTRAL else self.device_port
        return aiomqtt.Client(
            "127.0.0.1", port or default, username=user, password=password, identifier=client_id,
            tls_context=tls_context(str(self.pki.ca_cert)), **kw,
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def shipped(tmp_path: Path, pki: Pki) -> Iterator[ShippedBroker]:
    broker = ShippedBroker(tmp_path / "shipped", pki)
    yield broker
    broker.stop()


async def test_a_device_cannot_wipe_another_devices_queued_commands(
    shipped: ShippedBroker,
) -> None:
    a = DeviceTopics(SITE, "dev-a")
    async with shipped.client("dev-a", "site1-dev-a", clean_session=False) as dev_a:
        await dev_a.subscribe(a.cmd_filter, qos=1)
    async with shipped.client("central", "central-cmd", clean_session=True) as central:
        for i in range(5):
            await central.publish(a.cmd("permit_revoke"), f"queued-{i}".encode(), qos=1)
    # dev-b's credentials with dev-a's client id and a clean session: the broker uses the user
    # name as the client id, so dev-a's session (and its 5 commands) is not touched.
    async with shipped.client("dev-b", "site1-dev-a", clean_session=True):
        pass
    async with shipped.client("dev-b", "dev-a", clean_session=True):
        pass
    # A device's password does not open the central listener (its own password file).
    with pytest.raises(aiomqtt.MqttError):
        async with shipped.client("dev-b", "x", port=shipped.central_port, clean_session=True):
            pass
    got: list[bytes] = []
    async with shipped.client("dev-a", "site1-dev-a", clean_session=False) as dev_a:
        async with asyncio.timeout(10):
            async for message in dev_a.messages:
                got.append(bytes(message.payload))
                if len(got) == 5:
                    break
    assert got == [f"queued-{i}".encode() for i in range(5)]


async def test_a_device_cannot_publish_under_another_site(shipped: ShippedBroker) -> None:
    own, other = DeviceTopics(SITE, "dev-a"), DeviceTopics("site2", "dev-a")
    seen: list[str] = []
    async with shipped.client("central", "central-watch", clean_session=True) as central:
        await central.subscribe("edge/v1/#", qos=1)
        async with BrokerClient(
            "127.0.0.1", shipped.device_port, username="dev-a", password="pw-a",
            identifier="dev-a", tls_context=tls_context(str(shipped.pki.ca_cert)),
            protocol=aiomqtt.ProtocolVersion.V5,
        ) as dev_a:  # fmt: skip
            with pytest.raises(PublishRefused) as refused:
                await dev_a.deliver(other.event("alert"), b'{"forged": true}')
            assert refused.value.code == 0x87  # not authorised
            await dev_a.deliver(own.event("alert"), b'{"marker": true}')
        async with asyncio.timeout(10):
            async for message in central.messages:
                seen.append(str(message.topic))
                if str(message.topic) == own.event("alert"):
                    break
    assert other.event("alert") not in seen
