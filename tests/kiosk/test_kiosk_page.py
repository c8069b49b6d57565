"""The kiosk page on the real daemon in real headless Chromium (one of each for the module).

The tests run in file order on one zone: idle screen, an admitted tap, a denied tap, a double
read, fifty taps for the latency figures, the gas alarm, then a daemon restart. Screenshots at
800x480 (the original 7" display) and 720x1280 (Touch Display 2, portrait) go to
build/kiosk-screenshots/.
"""

from __future__ import annotations

import json
import statistics
import urllib.error
import urllib.request
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from firmware_adapters.sim.site import SimulatedSensors

from .conftest import SCREENSHOTS, Daemon, LoopThread

SIZES = {"800x480": (800, 480), "720x1280": (720, 1280)}


def wait_js(driver: WebDriver, expr: str, timeout: float = 20) -> Any:
    """Wait until the JavaScript expression is truthy; return its value."""
    return WebDriverWait(driver, timeout, poll_frequency=0.02).until(
        lambda d: d.execute_script(f"return {expr};"), message=expr
    )


def kiosk(driver: WebDriver) -> dict[str, Any]:
    k: dict[str, Any] = driver.execute_script("return window.__kiosk;")
    return k


def text(driver: WebDriver, element_id: str) -> str:
    """The element's text content (scrolled or clipped parts included)."""
    return str(driver.execute_script(f"return document.getElementById('{element_id}').innerText"))


def viewport(driver: WebDriver, w: int, h: int) -> None:
    """Exactly the screen's pixels (a headless window's outer size would include its frame)."""
    metrics = {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    # The layout follows the new size on the next frame; wait for it, not for a time.
    wait_js(driver, f"window.innerWidth === {w} && window.innerHeight === {h}")
    driver.execute_async_script("requestAnimationFrame(() => arguments[0](true))")


def shoot(driver: WebDriver, name: str) -> None:
    """The current view at both screen sizes."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, (w, h) in SIZES.items():
        viewport(driver, w, h)
        driver.save_screenshot(str(SCREENSHOTS / f"{name}-{label}.png"))
    viewport(driver, *SIZES["800x480"])


def decide(driver: WebDriver, daemon: Daemon, *badges: str, count: int = 1) -> list[Any]:
    """Tap, and return the decisions the page showed for it (``count`` of them)."""
    before = len(kiosk(driver)["decisions"])
    daemon.tap(*badges)
    wait_js(driver, f"window.__kiosk.decisions.length >= {before + count}")
    shown: list[Any] = kiosk(driver)["decisions"][before:]
    return shown


def test_idle_screen_shows_zone_permits_people_and_gas(browser: WebDriver, daemon: Daemon) -> None:
    browser.get(daemon.url)
    viewport(browser, *SIZES["800x480"])
    wait_js(browser, "window.__kiosk.connected && window.__kiosk.boot_id")
    for gas in ("co", "o2", "lel"):  # each sensor's first reading
        wait_js(browser, f"document.querySelector('#gas tr[data-gas={gas}]')")
    assert text(browser, "zone") == "三号焊接区"
    permits = text(browser, "permits")
    assert "DH-0001" in permits and "动火作业 · 一级" in permits and "作业中" in permits
    assert "剩余" in permits  # time left to the permit's end
    gas = text(browser, "gas")
    for unit in ("ppm", "%vol", "%LEL", "mg/m3"):  # CO limits are mg/m3 (GBZ 2.1)
        assert unit in gas, (unit, gas)
    assert "空气正常" in text(browser, "air")
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-view") == "idle"
    assert "时钟已同步" in text(browser, "pill-clock")
    # The action buttons show exactly where the operator API can arm the terminal for them.
    request = urllib.request.Request(daemon.url + "api/v1/actions", data=b"{}", method="POST")
    try:
        urllib.request.urlopen(request, timeout=5).close()
        api_status = 200
    except urllib.error.HTTPError as err:
        api_status = err.code
    shown = browser.find_element(By.ID, "actions").is_displayed()
    assert shown == (api_status != 404), api_status
    shoot(browser, "idle")


def test_the_lan_view_is_read_only(daemon: Daemon) -> None:
    def get(port: int, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                return resp.status, resp.read(256)
        except urllib.error.HTTPError as err:
            return err.code, b""

    assert get(daemon.port, "/api/v1/status")[0] == 200  # the touchscreen: page + operator API
    assert get(daemon.lan_port, "/kiosk/state")[0] == 200
    assert get(daemon.lan_port, "/")[0] == 200
    assert get(daemon.lan_port, "/api/v1/status")[0] == 404  # the LAN: nothing that acts
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.lan_port}/kiosk/events") as stream:
        assert stream.readline() == b"retry: 1000\n"
        assert stream.readline() == b"event: settings\n"
        assert json.loads(stream.readline().removeprefix(b"data: "))["readonly"] is True


def test_badge_tap_shows_admit_with_the_name(browser: WebDriver, daemon: Daemon) -> None:
    (shown,) = decide(browser, daemon, "B-W1")
    assert shown["allowed"] is True and shown["badge_id"] == "B-W1"
    box = browser.find_element(By.ID, "decision")
    assert box.get_attribute("data-allowed") == "true" and box.is_displayed()
    assert text(browser, "d-name") == "张伟"
    assert text(browser, "d-verdict") == "准许进入"
    shoot(browser, "admit")
    # Back to idle (the button), where the worker is now listed inside.
    browser.find_element(By.ID, "d-close").click()
    wait_js(browser, "document.body.dataset.view === 'idle'")
    wait_js(browser, "document.getElementById('inside').textContent.includes('张伟')")


def test_denied_tap_shows_the_reason_in_chinese_and_english(
    browser: WebDriver, daemon: Daemon
) -> None:
    (shown,) = decide(browser, daemon, "B-W3")
    assert shown["allowed"] is False
    box = browser.find_element(By.ID, "decision")
    assert box.get_attribute("data-allowed") == "false"
    reason = "document.querySelector('#d-reasons li[data-code=CERT_EXPIRED]').innerText"
    assert "特种作业操作证已过期" in browser.execute_script(f"return {reason}")
    assert "请联系安全员复审证件" in browser.execute_script(f"return {reason}")  # next step
    assert text(browser, "d-verdict") == "禁止进入"
    shoot(browser, "deny")
    browser.find_element(By.ID, "lang").click()
    assert "Special-operation certificate expired" in browser.execute_script(f"return {reason}")
    assert text(browser, "d-verdict") == "DENIED"
    browser.find_element(By.ID, "lang").click()
    assert "特种作业操作证已过期" in browser.execute_script(f"return {reason}")


def test_one_card_read_twice_makes_one_decision(browser: WebDriver, daemon: Daemon) -> None:
    # A card held in the field: three reads, then an unknown badge as a marker that all three
    # reads were handled. Before the debounce the second read checked the worker out again.
    shown = decide(browser, daemon, "B-W2", "B-W2", "B-W2", "B-MARK-1", count=2)
    wait_js(browser, "document.getElementById('inside').textContent.includes('李娜')")
    assert [d["badge_id"] for d in kiosk(browser)["decisions"][-2:]] == ["B-W2", "B-MARK-1"]
    assert shown[0]["allowed"] is True
    inside = [p["worker_id"] for p in daemon.state()["inside"]]
    assert "W2" in inside


def test_tap_to_decision_shown_over_fifty_taps(browser: WebDriver, daemon: Daemon) -> None:
    """Figures for the notes (no timed assertion): tap written -> decision on the page."""
    latencies = []
    for i in range(50):
        before = len(kiosk(browser)["decisions"])
        at = daemon.tap(f"B-LAT-{i:03d}")
        wait_js(browser, f"window.__kiosk.decisions.length >= {before + 1}")
        shown = kiosk(browser)["decisions"][before]
        assert shown["badge_id"] == f"B-LAT-{i:03d}"
        latencies.append(shown["shown_ms"] - at)
    latencies.sort()
    figures = {
        "taps": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[int(0.95 * len(latencies)) - 1], 1),
        "max_ms": round(latencies[-1], 1),
    }
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "tap-latency.json").write_text(json.dumps(figures))
    print("kiosk tap -> decision shown:", json.dumps(figures))
    assert figures["taps"] == 50


def test_gas_alarm_takes_over_the_page(
    browser: WebDriver, daemon: Daemon, sims: tuple[LoopThread, SimulatedSensors]
) -> None:
    loop, sensors = sims
    assert kiosk(browser)["alarms"] == 0
    loop.call(lambda: sensors.set_value("co", 400.0))
    wait_js(browser, "document.body.dataset.view === 'alarm'", timeout=30)
    assert browser.find_element(By.ID, "alarm").is_displayed()
    assert not browser.find_element(By.ID, "decision").is_displayed()
    assert text(browser, "a-title") == "气体报警"
    assert "CO" in text(browser, "a-gas")
    assert "张伟" in text(browser, "a-inside")  # who is inside, for the evacuation
    assert "撤离" in text(browser, "a-instruction")
    state = daemon.state()
    assert state["alarm"]["active"] is True
    assert [p["status"]["code"] for p in state["permits"]] == ["suspended"]
    shoot(browser, "alarm")
    # The air clears but nobody acknowledged: the alarm screen stays (latched).
    loop.call(lambda: sensors.set_value("co", 1.0))
    wait_js(browser, "document.getElementById('a-title').textContent === '报警待确认'", 30)
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-view") == "alarm"


def test_a_daemon_restart_is_recovered_without_a_reload(browser: WebDriver, daemon: Daemon) -> None:
    first = kiosk(browser)["boot_id"]
    daemon.stop()
    wait_js(browser, "document.body.dataset.conn === 'down'")
    assert browser.find_element(By.ID, "offline").is_displayed()
    daemon.start()
    wait_js(browser, f"window.__kiosk.boot_id && window.__kiosk.boot_id !== '{first}'", 30)
    wait_js(browser, "document.body.dataset.conn === 'open'")
    k = kiosk(browser)
    assert k["loads"] == 1  # the same page: reconnected, not reloaded
    assert k["connected"] is True
    assert not browser.find_element(By.ID, "offline").is_displayed()
    # The state came back with the daemon: the alarm is still latched, the permit listed.
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-view") == "alarm"
    assert "DH-0001" in browser.execute_script(
        "return document.getElementById('permits').textContent;"
    )
