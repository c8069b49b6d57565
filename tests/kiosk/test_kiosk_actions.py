"""A leader's action from the touchscreen on the real daemon: badge AND face, role checked.

Its own daemon (face verification on; the file camera shows the leader's photo all along, as
if the leader stood at the terminal) and its own browser. Workers are enrolled with
``zonegate enroll --photos`` before the daemon starts; the permit is approved, not started.
The leader takes the gas test from the touchscreen (fixed sensors); "开始作业" confirmed by a
worker who is not the leader, and whose face is not the one in front of the camera, is refused
with both failing checks; confirmed by the leader's badge and face, the permit starts.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from edge.models import PermitStatus
from firmware_adapters.sim.site import SimulatedSensors
from tests.datasets import face_photo

from .conftest import REPO, Daemon, LoopThread
from .test_kiosk_page import SIZES, kiosk, shoot, viewport, wait_js

LEADER_PHOTOS = ("obama.jpg", "obama_knn_test1.jpg")
LEADER_SEEN = "obama2.jpg"  # what the terminal camera shows
OTHER_PHOTOS = ("biden.jpg", "biden2.jpg")


def enrol(cfg: Path, worker_id: str, photos: tuple[str, ...]) -> None:
    """``zonegate enroll ID --photos ...``: the technician's command, daemon stopped."""
    paths = [str(face_photo(p)) for p in photos]
    cmd = [sys.executable, "-m", "gateway.cli", "enroll", worker_id, "--config", str(cfg)]
    proc = subprocess.run(
        [*cmd, "--photos", *paths], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.fixture(scope="module")
def leader_daemon(
    tmp_path_factory: pytest.TempPathFactory, sims: tuple[LoopThread, SimulatedSensors]
) -> Iterator[Daemon]:
    # Shipped public-domain photos (tests/data/faces), so a bare clone runs this test too.
    camera = {"type": "files", "paths": [str(face_photo(LEADER_SEEN))]}
    d = Daemon(
        tmp_path_factory.mktemp("gw-actions"),
        sims[1],
        sections={"identity": {"enabled": True, "capture_timeout_s": 2.0, "camera": camera}},
        permit_status=PermitStatus.APPROVED,
    )
    enrol(d.cfg_path, "L1", LEADER_PHOTOS)
    enrol(d.cfg_path, "W2", OTHER_PHOTOS)
    d.start()
    try:
        yield d
    finally:
        d.close()


def press(driver: WebDriver, action: str) -> int:
    """Touch an action button; returns how many outcomes the page had shown before."""
    before = len(kiosk(driver)["actions"])
    driver.find_element(By.CSS_SELECTOR, f"#actions button[data-action='{action}']").click()
    wait_js(driver, "document.body.dataset.view === 'pending'")
    wait_js(driver, "window.__kiosk.armed === true")  # the daemon waits for the tap now
    return before


def outcome(driver: WebDriver, before: int) -> dict[str, Any]:
    wait_js(driver, f"window.__kiosk.actions.length > {before}", timeout=60)
    shown: dict[str, Any] = kiosk(driver)["actions"][before]
    assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-view") == "outcome"
    return shown


def test_a_start_from_the_touchscreen_needs_the_leaders_badge_and_face(
    browser: WebDriver, leader_daemon: Daemon
) -> None:
    d = leader_daemon
    browser.get(d.url)
    viewport(browser, *SIZES["800x480"])
    wait_js(browser, "window.__kiosk.connected && document.querySelector('#permits li.selected')")
    for gas in ("co", "o2", "lel"):
        wait_js(browser, f"document.querySelector('#gas tr[data-gas={gas}]')")

    # The gas test, by the leader at the terminal: fresh readings of the fixed sensors.
    before = press(browser, "gas_test")
    d.tap("B-L1")
    test = outcome(browser, before)
    assert test["ok"] is True, test
    browser.find_element(By.ID, "o-close").click()

    # Start, confirmed by someone else: refused with every failing check.
    before = press(browser, "start")
    shoot(browser, "action-pending")
    d.tap("B-W2")
    refused = outcome(browser, before)
    assert refused["ok"] is False
    assert {"FACE_MISMATCH", "ROLE_NOT_ALLOWED"} <= set(refused["reasons"]), refused
    assert browser.find_element(By.ID, "outcome").get_attribute("data-ok") == "false"
    assert "人脸与工卡不符" in browser.execute_script(
        "return document.getElementById('o-reasons').innerText"
    )
    shoot(browser, "action-refused")
    assert [p["status"]["code"] for p in d.state()["permits"]] == ["approved"]
    browser.find_element(By.ID, "o-close").click()

    # Start, confirmed by the leader's badge with the leader's face in front of the camera.
    before = press(browser, "start")
    d.tap("B-L1")
    started = outcome(browser, before)
    assert started["ok"] is True, started
    assert [p["status"]["code"] for p in d.state()["permits"]] == ["active"]
    wait_js(browser, "document.getElementById('permits').innerText.includes('作业中')")
