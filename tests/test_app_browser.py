"""The teaching app in a real browser: Debian's headless chromium driven by Playwright.

The app server runs as ``commnet app`` runs it (:mod:`simulation.app.serve` with the offline
environment of :mod:`simulation.app.launch`) on loopback.  Every request the page makes to
anywhere but this server is blocked and counted as a failure, so the test proves the page
needs no CDN; every failed request or HTTP error fails the test too.

Screenshots at 1280 × 800 and 1920 × 1080 are kept in ``results/screenshots/`` of the
repository (``$COMMNET_SCREENSHOT_DIR`` to put them elsewhere).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

TEACHING = """\
name: browser-test
description: One small group for the browser test.
seed: 5
steps: 24
engagement: {gp: {mean: 0.6}}   # explicit: the slider test starts from 0.6
groups:
  - name: Riverside
    population: 60000
    practices: {count: 8}
    localities: {count: 2}
    commissioning_managers: 4
providers:
  - {name: Riverside Acute, kind: acute, serves: [Riverside]}
local_authorities:
  - {name: Riverside Council, serves: [Riverside]}
"""


def _require_browser() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium at /usr/bin/chromium: install the Debian package `chromium` "
                    "(apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (the [dev] extra)")
    pytest.importorskip("solara", reason="pip install -e '.[app]'")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app server on a free loopback port; yields (url, scenario dir, log path)."""
    _require_browser()
    from simulation.app.launch import app_environment, free_port, server_command, wait_for_server

    work = tmp_path_factory.mktemp("app")
    scen = work / "scenarios"
    scen.mkdir()
    (scen / "teaching.yaml").write_text(TEACHING)
    (scen / "broken.yaml").write_text(TEACHING.replace("population: 60000",
                                                       "populaton: 60000"))
    (scen / "other.yaml").write_text(
        TEACHING.replace("name: browser-test", "name: other-test").replace("seed: 5", "seed: 9")
        .replace("{gp: {mean: 0.6}}", "{gp: {mean: 0.35}, manager: {mean: 0.45}}"))
    env = app_environment(str(scen / "teaching.yaml"))
    env["COMMNET_SCENARIO_DIR"] = str(scen)
    env["SOLARA_HOME"] = str(work / "solara-home")
    port = free_port()
    log = work / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(server_command(port), env=env, cwd=work, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        if not wait_for_server(url, timeout=120, proc=proc):
            pytest.fail(f"app server did not start:\n{log.read_text()[-3000:]}")
        yield url, scen, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


REPO = Path(__file__).resolve().parents[1]


def _screenshot_dir() -> Path:
    d = Path(os.environ.get("COMMNET_SCREENSHOT_DIR") or REPO / "results" / "screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
def viewport():
    """The page's size (a test may override it with a parametrized fixture)."""
    return {"width": 1600, "height": 1100}


@pytest.fixture
def page(server, viewport):
    """A fresh chromium page that only reaches the app server; records every problem."""
    from playwright.sync_api import sync_playwright

    url = server[0]
    problems: dict[str, list[str]] = {"failed": [], "http": [], "external": [], "js": []}

    def route(r):
        u = r.request.url
        if u.startswith(url.rstrip("/")) or u.startswith(("data:", "blob:")):
            r.continue_()
        else:
            problems["external"].append(u)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport=viewport)
        pg.route("**/*", route)
        pg.on("requestfailed", lambda r: problems["failed"].append(f"{r.url} {r.failure}"))
        pg.on("response", lambda r: r.status >= 400 and problems["http"].append(
            f"{r.status} {r.url}"))
        pg.on("pageerror", lambda e: problems["js"].append(str(e)))
        pg.problems = problems
        yield pg
        browser.close()


def _month(pg) -> int:
    text = pg.locator(".commnet-month").first.inner_text(timeout=60_000)
    m = re.search(r"Month (\d+) of (\d+)", text)
    assert m, text
    return int(m.group(1))


def _wait_month(pg, n: int, timeout: float = 90.0) -> float:
    """Wait until the status card says month ``n``; returns the seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if _month(pg) == n:
                return time.monotonic() - t0
        except AssertionError:
            pass
        pg.wait_for_timeout(50)
    raise AssertionError(f"month never reached {n}; page says {_month(pg)}")


def _image(pg, css: str) -> bytes:
    pg.wait_for_function(
        "sel => { const i = document.querySelector(sel); return i && i.complete && "
        "i.naturalWidth > 0; }", arg=css, timeout=60_000)
    return pg.locator(css).first.screenshot()


ERROR_ALERTS = ".v-alert.error--text, .v-alert.error, .commnet-error"


def _no_errors_shown(pg) -> None:
    assert pg.locator(ERROR_ALERTS).count() == 0
    body = pg.locator("body").inner_text()
    assert "Traceback" not in body and "error in step" not in body


def _click(pg, name: str) -> None:
    pg.get_by_role("button", name=name, exact=True).click()


def _needed_failures(problems: dict[str, list[str]]) -> list[str]:
    return problems["failed"] + problems["http"] + problems["external"] + problems["js"]


def test_slider_reset_step_update_counter_and_charts(page, server, tmp_path):
    url, _, log = server
    pg = page
    pg.goto(url)
    assert _month(pg) == 0
    # the page drew its controls, network and charts
    for selector in (".commnet-network-image", ".commnet-charts-image"):
        _image(pg, selector)
    for label in ("Reset", "Step"):
        assert pg.get_by_role("button", name=label, exact=True).is_visible()
    slider = pg.get_by_role("slider", name="GP engagement")
    assert slider.get_attribute("aria-valuenow") == "0.6"
    charts_before = _image(pg, ".commnet-charts-image")
    network_before = _image(pg, ".commnet-network-image")

    # lower GP engagement with the keyboard, as a person tabbing to the slider would
    slider.focus()
    for _ in range(8):
        slider.press("ArrowLeft")
    pg.wait_for_function("() => document.querySelector('[aria-label=\"GP engagement\"]')"
                         ".getAttribute('aria-valuenow') === '0.2'", timeout=10_000)
    # before Reset the page says the new value is not in use yet
    pending = pg.locator(".commnet-pending")
    pending.get_by_text("GP engagement 0.20", exact=False).wait_for(timeout=60_000)
    # Reset rebuilds the model (burn-in included): allow for a loaded machine.  Widget state
    # (the slider's value) and events (the click) travel separately, and a busy server can
    # take the click before the last value: the first Reset may rebuild from the previous
    # value, and then the page must still say the value is not applied (the status never
    # claims a change that was not made); a second Reset uses it.
    changed = pg.get_by_text("changed from the file: GP engagement 0.2")
    for attempt in range(3):
        _click(pg, "Reset")
        try:
            changed.wait_for(timeout=60_000)
            break
        except Exception:  # playwright's TimeoutError: the click overtook the value
            assert pending.is_visible(), "Reset used the old value and the page did not say so"
            if attempt == 2:
                raise
    pending.wait_for(state="detached", timeout=30_000)
    assert _month(pg) == 0

    seconds = []
    for n in range(1, 5):
        _click(pg, "Step")
        seconds.append(_wait_month(pg, n))
    print(f"step → counter updated in {[round(s, 2) for s in seconds]} s")

    charts_after = _image(pg, ".commnet-charts-image")
    network_after = _image(pg, ".commnet-network-image")
    assert charts_after != charts_before
    assert network_after != network_before
    _no_errors_shown(pg)

    shot = tmp_path / "commnet-app.png"
    pg.screenshot(path=str(shot), full_page=True)
    shutil.copy(shot, _screenshot_dir() / shot.name)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    assert not _needed_failures(pg.problems), (pg.problems, log.read_text()[-2000:])


def test_side_by_side_and_colour_modes(page, server):
    url, _, log = server
    pg = page
    pg.goto(url)
    assert _month(pg) == 0
    pg.get_by_label("Side by side").click(force=True)
    pg.get_by_role("option", name="GP engagement: high (0.8) vs low (0.2)").click()
    _click(pg, "Reset")
    pg.get_by_text("B: GP engagement 0.2:", exact=False).wait_for(timeout=120_000)
    before = _image(pg, ".commnet-network-image")
    pg.get_by_role("button", name="belief accuracy").click()
    pg.wait_for_timeout(300)
    _click(pg, "Step")
    _wait_month(pg, 1)
    assert _image(pg, ".commnet-network-image") != before
    _no_errors_shown(pg)
    assert not _needed_failures(pg.problems), (pg.problems, log.read_text()[-2000:])


def test_a_bad_scenario_shows_its_message_and_the_app_keeps_running(page, server, tmp_path):
    url, _, log = server
    pg = page
    pg.goto(url)
    assert _month(pg) == 0
    pg.get_by_label("Scenario file").click(force=True)
    pg.get_by_role("option", name="broken.yaml").click()
    error = pg.locator(".commnet-error")
    error.wait_for(timeout=120_000)
    text = error.inner_text()
    assert "populaton" in text and "did you mean 'population'" in text
    # the message, and the picker's pointer to it (drawn in the sidebar, maybe a moment later)
    pg.get_by_text("Scenario not loaded — see the message on the right.").wait_for(timeout=60_000)
    assert pg.locator(ERROR_ALERTS).count() >= 2
    assert "Traceback" not in pg.locator("body").inner_text()
    pg.screenshot(path=str(tmp_path / "commnet-app-bad-scenario.png"), full_page=True)
    # the app still works: back to the good scenario, step it
    pg.get_by_label("Scenario file").click(force=True)
    pg.get_by_role("option", name="teaching.yaml").click()
    assert _wait_month(pg, 0) >= 0
    _click(pg, "Step")
    _wait_month(pg, 1)
    _no_errors_shown(pg)
    assert not _needed_failures(pg.problems), (pg.problems, log.read_text()[-2000:])


def _gp_slider_value(pg) -> str:
    return pg.get_by_role("slider", name="GP engagement").get_attribute("aria-valuenow")


def _pick(pg, label: str, option: str) -> None:
    pg.get_by_label(label).click(force=True)
    pg.get_by_role("option", name=option).click()


def test_switch_scenario_then_reset_and_step_and_controls_follow_the_file(page, server):
    url, _, log = server
    pg = page
    pg.goto(url)
    assert _month(pg) == 0
    assert _gp_slider_value(pg) == "0.6"
    _pick(pg, "Scenario file", "other.yaml")
    pg.get_by_text("Scenario: other-test (other.yaml), seed 9").wait_for(timeout=180_000)
    # the controls show the new file's values …
    pg.wait_for_function("() => document.querySelector('[aria-label=\"GP engagement\"]')"
                         ".getAttribute('aria-valuenow') === '0.35'", timeout=60_000)
    assert pg.get_by_role("slider", name="Manager engagement").get_attribute(
        "aria-valuenow") == "0.45"
    assert pg.get_by_label("Seed (whole number)").input_value() == "9"
    assert "settings as in the file" in pg.locator(".commnet-status").inner_text()
    # … and Reset builds the new file, not an empty page
    _click(pg, "Reset")
    pg.wait_for_timeout(1000)
    pg.get_by_text("Scenario: other-test (other.yaml), seed 9").wait_for(timeout=180_000)
    _no_errors_shown(pg)
    assert "no scenario file" not in pg.locator("body").inner_text()
    assert "settings as in the file" in pg.locator(".commnet-status").inner_text()
    for n in (1, 2):
        _click(pg, "Step")
        _wait_month(pg, n, timeout=180)
    _no_errors_shown(pg)
    # and back: the first file's values again
    _pick(pg, "Scenario file", "teaching.yaml")
    pg.get_by_text("Scenario: browser-test (teaching.yaml), seed 5").wait_for(timeout=180_000)
    pg.wait_for_function("() => document.querySelector('[aria-label=\"GP engagement\"]')"
                         ".getAttribute('aria-valuenow') === '0.6'", timeout=60_000)
    assert not _needed_failures(pg.problems), (pg.problems, log.read_text()[-2000:])


def test_side_by_side_status_is_consistent_and_plain(page, server):
    url, _, log = server
    pg = page
    pg.goto(url)
    assert _month(pg) == 0
    slider = pg.get_by_role("slider", name="GP engagement")
    slider.focus()
    for _ in range(6):  # 0.6 → 0.3
        slider.press("ArrowLeft")
    pg.wait_for_function("() => document.querySelector('[aria-label=\"GP engagement\"]')"
                         ".getAttribute('aria-valuenow') === '0.3'", timeout=10_000)
    _pick(pg, "Side by side", "GP engagement: high (0.8) vs low (0.2)")
    _click(pg, "Reset")
    pg.get_by_text("B: GP engagement 0.2:", exact=False).wait_for(timeout=180_000)
    lines = pg.locator(".commnet-run-status").all_inner_texts()
    assert len(lines) == 2, lines
    a, b = lines
    assert a.startswith("A: GP engagement 0.8:") and b.startswith("B: GP engagement 0.2:")
    assert a.endswith("changed from the file: GP engagement 0.8"), a
    assert b.endswith("changed from the file: GP engagement 0.2"), b
    status = pg.locator(".commnet-status").inner_text()
    assert "0.3" not in status and "engagement.gp" not in status and "=" not in status
    _no_errors_shown(pg)
    assert not _needed_failures(pg.problems), (pg.problems, log.read_text()[-2000:])


def _chart_text_px(pg, css: str) -> float:
    """On-screen size (px) of the figure text: points × dpi / 72 × displayed / natural width."""
    from simulation.app.style import CHART_FONT_PT, FIGURE_DPI

    shown, natural = pg.evaluate(
        "sel => { const i = document.querySelector(sel); "
        "return [i.getBoundingClientRect().width, i.naturalWidth]; }", css)
    return CHART_FONT_PT * FIGURE_DPI / 72 * shown / natural


def _scroll_to_top(pg) -> None:
    """Undo the scrolling that element screenshots did, so a page screenshot shows the top."""
    pg.evaluate("() => { window.scrollTo(0, 0); document.querySelectorAll('*').forEach("
                "e => { if (e.scrollTop) e.scrollTop = 0; }); }")
    pg.wait_for_timeout(300)


def _box(pg, css: str) -> dict:
    return pg.locator(css).first.bounding_box()


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}])
def test_layout_at_1280x800(page, server, viewport):
    url, _, log = server
    pg = page
    pg.goto(url)
    assert _month(pg) == 0
    _image(pg, ".commnet-charts-image")
    _image(pg, ".commnet-network-image")
    _scroll_to_top(pg)
    # the model's controls come first and are on screen, with their values shown
    gp = pg.get_by_role("slider", name="GP engagement")
    box = gp.bounding_box()
    assert box is not None and box["y"] + box["height"] <= viewport["height"], box
    values = pg.locator(".commnet-control-value").all_inner_texts()
    assert "0.60" in values, values
    # Mesa's playback settings are folded away
    assert not pg.get_by_text("Play interval (ms)").is_visible()
    assert not pg.get_by_text("Render Interval (steps)").count()
    # readable charts and network legend, no badge
    assert _chart_text_px(pg, ".commnet-charts-image") >= 11
    assert _chart_text_px(pg, ".commnet-network-image") >= 11
    assert "runs on Solara" not in pg.locator("body").inner_text()
    pg.screenshot(path=str(_screenshot_dir() / "commnet-app-1280x800.png"))
    # the Info text opens without fetching anything (Solara's Markdown would fetch KaTeX)
    pg.get_by_role("button", name="Info").click()
    pg.get_by_text("Things to try").wait_for(timeout=60_000)
    pg.wait_for_timeout(1000)
    pg.screenshot(path=str(_screenshot_dir() / "commnet-app-1280x800-info.png"))
    pg.get_by_role("button", name="Close").click()
    pg.get_by_text("Things to try").wait_for(state="hidden", timeout=60_000)
    _no_errors_shown(pg)
    assert not _needed_failures(pg.problems), (pg.problems, log.read_text()[-2000:])


@pytest.mark.parametrize("viewport", [{"width": 1920, "height": 1080}])
def test_side_by_side_fits_a_1920x1080_screen(page, server, viewport):
    url, _, log = server
    pg = page
    pg.goto(url)
    assert _month(pg) == 0
    pg.screenshot(path=str(_screenshot_dir() / "commnet-app-1920x1080.png"))
    _pick(pg, "Side by side", "Localities: on vs off")
    _click(pg, "Reset")
    pg.get_by_text("B: localities off:", exact=False).wait_for(timeout=180_000)
    _click(pg, "Step")
    _wait_month(pg, 1, timeout=180)
    _image(pg, ".commnet-charts-image")
    _scroll_to_top(pg)
    charts = _box(pg, ".commnet-charts-image")
    network = _box(pg, ".commnet-network-image")
    assert charts["y"] >= 0 and charts["y"] + charts["height"] <= viewport["height"], charts
    assert network["y"] + network["height"] <= viewport["height"], network
    assert _chart_text_px(pg, ".commnet-charts-image") >= 11
    assert "runs on Solara" not in pg.locator("body").inner_text()
    pg.screenshot(path=str(_screenshot_dir() / "commnet-app-1920x1080-side-by-side.png"))
    _no_errors_shown(pg)
    assert not _needed_failures(pg.problems), (pg.problems, log.read_text()[-2000:])


def _status(url: str, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _websocket_status(port: int, host: str, origin: str | None) -> int:
    """The HTTP status of a websocket handshake to Solara's kernel endpoint."""
    lines = ["GET /jupyter/api/kernels/k1/channels?session_id=p1 HTTP/1.1", f"Host: {host}",
             "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
    if origin:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        reply = s.recv(1024).decode("latin-1")
    return int(reply.split()[1])


def test_requests_naming_another_host_or_origin_are_refused(server):
    url = server[0]
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    own = f"127.0.0.1:{port}"
    assert _status(url, {}) == 200
    assert _status(url, {"Host": f"localhost:{port}"}) == 200
    assert _status(url, {"Origin": f"http://{own}"}) == 200
    for headers in ({"Host": f"evil.example:{port}"}, {"Host": "evil.example"},
                    {"Host": "127.0.0.1:1"}, {"Origin": "http://evil.example"},
                    {"Origin": "null"}, {"Origin": f"https://{own}"}):
        assert _status(url, headers) == 403, headers
        assert _status(url + "static/main-vuetify.js", headers) == 403, headers
    assert _websocket_status(port, own, f"http://{own}") == 101
    assert _websocket_status(port, own, "http://evil.example") == 403
    assert _websocket_status(port, "evil.example", None) == 403
    assert _websocket_status(port, f"rebound.example:{port}", f"http://rebound.example:{port}") \
        == 403
