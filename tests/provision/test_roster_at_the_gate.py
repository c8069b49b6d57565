"""Workers imported from an HR workbook badge in at a real daemon and get the right decisions.

The whole path a site takes: ``zonegate provision`` (flags), ``zonegate import-roster`` (the
HR workbook of test_roster_hr), ``zonegate run`` with its credentials directory as a technician
starts it by hand, a permit issued by central as a signed command over a real mosquitto, and
card taps on the daemon's FIFO badge reader. An expired certificate is denied CERT_EXPIRED
(not UNKNOWN_BADGE), a requirement is met at the category or the operation-item level.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.clock import SystemClock
from edge.journal import Journal
from edge.models import EventKind
from gateway.cli import main
from gateway.config import load_config
from tests.broker_config import render_acl
from tests.cli_process import zonegate
from tests.provision.conftest import BROKER_PASSWORD, DEVICE, SITE, ProvisionFn, broker_flags
from tests.provision.test_provision_site import mosquitto
from tests.provision.test_roster_hr import hr_workbook

REPO = Path(__file__).resolve().parents[2]
ITEM = "fusion_welding_cutting"  # 2.1 熔化焊接与热切割作业


def _tap(fifo: Path, badge: str) -> None:
    fd = os.open(fifo, os.O_WRONLY)  # blocks until the daemon's reader holds the FIFO
    try:
        os.write(fd, f"{badge}\n".encode())
    finally:
        os.close(fd)


def _permit(members: list[dict[str, Any]]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "device": DEVICE,
        "permit": {
            "permit_id": "HW-2026-001",
            "zone_id": "weld-bay-3",
            "kind": "DHZY",
            "level": "hot_2",
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_to": (now + timedelta(hours=48)).isoformat(),
            "members": members,
        },
    }


def test_imported_workers_badge_in_with_the_right_reasons(
    provision: ProvisionFn, tmp_path: Path
) -> None:
    acl = render_acl(tmp_path / "zonegate.acl", [SITE]).read_text()  # the shipped ACL
    with mosquitto(tmp_path / "broker", acl, users={"central": "central-pw"}) as broker:
        assert main(["central", "keygen", "--out", str(tmp_path / "central")]) == 0
        pw = tmp_path / "pw"
        pw.write_text(BROKER_PASSWORD + "\n")
        fifo = tmp_path / "badge.fifo"
        os.mkfifo(fifo)
        p = provision(
            *broker_flags(broker.port, pw, tmp_path / "central" / "central.pub"),
            template=f"badge:\n  type: file\n  port: {fifo}\n  mode: in\n",
        )
        book = hr_workbook(tmp_path / "hr.xlsx")
        assert main(["import-roster", str(book), "-c", str(p.config)]) == 0

        # Run by hand as the README says: the credentials directory in the environment.
        daemon = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "-c", str(p.config)],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CREDENTIALS_DIRECTORY": str(p.credentials), "NOTIFY_SOCKET": ""},
        )
        assert daemon.stderr is not None
        try:
            seen = []
            for line in daemon.stderr:  # commands reach a device once it has subscribed
                seen.append(line)
                if "mqtt connected" in line or len(seen) > 400:
                    break
            assert "mqtt connected" in seen[-1], "".join(seen)
            body = tmp_path / "permit.json"
            members = [
                # W0005 holds 熔化焊接与热切割作业: meets the item requirement.
                {
                    "worker_id": "W0005",
                    "role": "operator",
                    "required_cert": "fusion_welding_cutting",
                },
                # W0010 holds the same item: meets a category requirement.
                {"worker_id": "W0010", "role": "operator", "required_cert": "welding"},
                # W0007's certificate (登高架设作业) expired: imported all the same.
                {"worker_id": "W0007", "role": "operator", "required_cert": "height"},
                # W0001 holds 低压电工作业: the wrong item for the welding item requirement.
                {
                    "worker_id": "W0001",
                    "role": "operator",
                    "required_cert": "fusion_welding_cutting",
                },
                # W0004 holds only the category 焊接与热切割作业: not enough for an item.
                {
                    "worker_id": "W0004",
                    "role": "operator",
                    "required_cert": "fusion_welding_cutting",
                },
            ]
            body.write_text(json.dumps(_permit(members)))
            (tmp_path / "central-pw").write_text("central-pw\n")
            publish = [
                "central",
                "publish",
                "permit_issue",
                "--key",
                str(tmp_path / "central" / "central.key"),
                "--version",
                "1",
                "--body",
                str(body),
                "--site",
                SITE,
                "--device",
                DEVICE,
                "--host",
                "127.0.0.1",
                "--port",
                str(broker.port),
                "--no-tls",
                "--password-file",
                str(tmp_path / "central-pw"),
                "--wait",
                "30",
            ]
            assert main(publish) == 0
            badges = {"W0005": "000005", "W0010": "000010", "W0007": "000007"}
            badges |= {"W0001": "000001", "W0004": "000004", "nobody": "999999"}
            for badge in badges.values():
                _tap(fifo, badge)
                deadline = time.monotonic() + 30
                for line in daemon.stderr:  # the terminal logs each decision
                    assert time.monotonic() < deadline
                    if f"badge_in {badge}:" in line:
                        break
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
    cfg = load_config(p.config)
    journal = Journal(cfg.journal_path, SystemClock(), boot_id="reader")
    try:
        decisions = {
            e.payload["badge_id"]: e.payload for e in journal.events(kind=EventKind.ACCESS)
        }
    finally:
        journal.close()
    reasons = {b: decisions[b]["reasons"] for b in badges.values()}
    cert_codes = {
        b: [r for r in rs if r.startswith("CERT_") or r == "UNKNOWN_BADGE"]
        for b, rs in reasons.items()
    }
    assert cert_codes == {
        "000005": [],
        "000010": [],
        "000007": ["CERT_EXPIRED"],
        "000001": ["CERT_WRONG_CATEGORY"],
        "000004": ["CERT_WRONG_CATEGORY"],
        "999999": ["UNKNOWN_BADGE"],
    }, reasons
    assert all(not decisions[b]["allowed"] for b in ("000007", "000001", "000004", "999999"))
    # What the technician reads afterwards: the permit's times in the zone's local time (the
    # config's Asia/Shanghai, +08:00), not the stored UTC ISO text read as local (8 h wrong).
    permit = json.loads(_zonegate("permit", "show", "HW-2026-001", "-c", str(p.config), "--json"))[
        "permit"
    ]
    valid_to = datetime.fromisoformat(permit["valid_to"]).astimezone(ZoneInfo("Asia/Shanghai"))
    local = f"{valid_to:%Y-%m-%d %H:%M} +08:00"
    shown = _zonegate("permit", "show", "HW-2026-001", "-c", str(p.config), "--lang", "zh-CN")
    assert local in shown and permit["valid_to"] not in shown, shown
    status = _zonegate("status", "-c", str(p.config), "--lang", "zh-CN")
    assert local in status and permit["valid_to"] not in status, status


def _zonegate(*args: str) -> str:
    """``zonegate ARGS`` as a technician types it, at 200 columns (a table must not fold the
    time); its standard output."""
    proc = zonegate(*args, env={"COLUMNS": "200"}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
