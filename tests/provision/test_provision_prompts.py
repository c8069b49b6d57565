"""Interactive ``zonegate provision`` on a pty (issue 13 item 2, fresh-technician findings 6,
7 and 8): with ``--template`` the example's zone name, fence and CA file are asked, never kept
silently; the broker host is checked; an empty password or central-key answer is asked again
in the technician's language (zh-CN by default), not a run aborted or ``找不到文件：.``."""

from __future__ import annotations

import os
from pathlib import Path

from gateway.config import load_config
from tests.pki import Pki
from tests.provision.conftest import BROKER_PASSWORD, DEVICE, zonegate_on_pty
from tests.provision.test_provision_site import EXAMPLE, _converse


def test_template_values_are_asked_and_bad_answers_asked_again(
    tmp_path: Path, central_key: Path, pki: Pki
) -> None:
    root = tmp_path / "root"
    proc, master = zonegate_on_pty(
        "provision",
        *("--root", str(root), "--template", str(EXAMPLE)),
        *("--state-dir", str(tmp_path / "state"), "--assume-clock-trusted"),
    )
    out = _converse(
        master,
        [
            ("设备编号".encode(), DEVICE.encode()),
            ("厂区".encode(), b"plant1"),
            ("区域编号".encode(), b"bay-3"),
            ("三号焊接区".encode(), "二号焊接区".encode()),  # the template's name, as default
            (b"31.2304,121.4737,60", b"30.25,120.16,80"),  # the template's fence, as default
            (b"broker.plant1.example", "二号区".encode()),  # the template's host, as default
            ("不是主机名或 IP 地址".encode(), b"127.0.0.1"),
            (b"8883", b""),
            ("CA 证书文件".encode(), b""),  # the template's ca_file does not exist here
            ("请输入签发 broker 证书的 CA".encode(), str(pki.ca_cert).encode()),
            ("中心公钥文件".encode(), b""),
            ("请输入中心公钥文件的路径".encode(), str(central_key).encode()),
            ("MQTT 服务器密码".encode(), b""),
            # getpass flushes what was typed ahead: answer the second prompt itself.
            ("请再输入一次\r\nMQTT 服务器密码".encode(), BROKER_PASSWORD.encode()),
        ],
    )
    text = out.decode(errors="replace")
    assert proc.wait(timeout=60) == 0, text
    os.close(master)
    assert "找不到文件：." not in text and "()" not in text
    cfg = load_config(root / "etc" / "zonegate" / "gateway.yaml")
    assert cfg.zone.name == "二号焊接区"
    fence = cfg.zone.geofence
    assert fence is not None and fence.type == "circle"
    assert (fence.center.lat, fence.center.lon, fence.radius_m) == (30.25, 120.16, 80)
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.tls) == ("127.0.0.1", 8883, True)
    assert cfg.mqtt.ca_file == Path("/etc/zonegate/broker-ca.pem")
    ca = root / "etc" / "zonegate" / "broker-ca.pem"
    assert ca.read_bytes() == pki.ca_cert.read_bytes()
    creds = root / "etc" / "zonegate" / "credentials"
    assert (creds / "mqtt-password").read_text() == BROKER_PASSWORD + "\n"
