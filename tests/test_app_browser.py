"""The teaching app in a real browser: Debian's headless chromium driven by Playwright.

The app server runs as ``commnet app`` runs it (``solara run`` with the offline environment of
:mod:`simulation.app.launch`) on loopback.  Every request the page makes to anywhere but
this server is blocked and counted as a failure, so the test proves the page needs no CDN.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
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


@pytest.fixture
def page(server):
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
        pg = browser.new_page(viewport={"width": 1600, "height": 1100})
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
    _click(pg, "Reset")
    # Reset rebuilds the model (burn-in included): allow for a loaded machine
    pg.get_by_text("changed from the file: GP engagement 0.2").wait_for(timeout=120_000)
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
    keep = os.environ.get("COMMNET_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
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
    assert pg.locator(ERROR_ALERTS).count() >= 2  # the message, and the picker's pointer to it
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
