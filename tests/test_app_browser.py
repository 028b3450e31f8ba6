"""The teaching app in a real browser: Debian's headless chromium driven by Playwright.

The app server runs as ``commnet app`` runs it (:mod:`simulation.app.serve` with the offline
environment of :mod:`simulation.app.launch`) on loopback.  Every request the page makes to
anywhere but this server is blocked and counted as a failure, so the test proves the page
needs no CDN; every failed request or HTTP error fails the test too.

A second server opens the repository's own ``scenarios/teaching.yaml`` as a teacher would, for
the classroom view: a fresh page (nothing pending, the file's values exactly), four large
charts drawn by ECharts in the browser (text ≥ 18 px, lines ≥ 3 px, read from the page), and the
redraw time of a Step measured in the page and printed (not asserted: the machine may be
busy).  Screenshots at 1280 × 800 and 1920 × 1080 go to ``$COMMNET_SCREENSHOT_DIR`` or else a
pytest temporary folder; the test prints where.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
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


REPO = Path(__file__).resolve().parents[1]
#: The server process of each URL served (for its CPU time).
_SERVER_PIDS: dict[str, int] = {}


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used, from ``/proc`` (load-independent)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _serve(work: Path, scen: Path, first: Path):
    """The app server on a free loopback port, opening ``first``; yields (url, scen, log)."""
    from simulation.app.launch import app_environment, free_port, server_command, wait_for_server

    env = app_environment(str(first))
    env["COMMNET_SCENARIO_DIR"] = str(scen)
    env["SOLARA_HOME"] = str(work / "solara-home")
    port = free_port()
    log = work / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(server_command(port), env=env, cwd=work, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    _SERVER_PIDS[url] = proc.pid
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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app server on a free loopback port; yields (url, scenario dir, log path)."""
    _require_browser()
    work = tmp_path_factory.mktemp("app")
    scen = work / "scenarios"
    scen.mkdir()
    (scen / "teaching.yaml").write_text(TEACHING)
    (scen / "broken.yaml").write_text(TEACHING.replace("population: 60000",
                                                       "populaton: 60000"))
    (scen / "other.yaml").write_text(
        TEACHING.replace("name: browser-test", "name: other-test").replace("seed: 5", "seed: 9")
        .replace("{gp: {mean: 0.6}}", "{gp: {mean: 0.35}, manager: {mean: 0.45}}"))
    (scen / "short.yaml").write_text(
        TEACHING.replace("name: browser-test", "name: short-test").replace("steps: 24",
                                                                           "steps: 2"))
    with _serve(work, scen, scen / "teaching.yaml") as out:
        yield out


@pytest.fixture(scope="module")
def classroom_server(tmp_path_factory):
    """The app server opening the repository's ``scenarios/teaching.yaml``, as a teacher's
    ``commnet app`` does."""
    _require_browser()
    work = tmp_path_factory.mktemp("classroom")
    scen = work / "scenarios"
    scen.mkdir()
    (scen / "teaching.yaml").write_text((REPO / "scenarios" / "teaching.yaml").read_text())
    with _serve(work, scen, scen / "teaching.yaml") as out:
        yield out


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    """Where the screenshots go: ``$COMMNET_SCREENSHOT_DIR``, else a pytest temporary folder."""
    d = Path(os.environ.get("COMMNET_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {d}")
    return d


@pytest.fixture
def viewport():
    """The page's size (a test may override it with a parametrized fixture)."""
    return {"width": 1600, "height": 1100}


@contextmanager
def _browser_page(url: str, viewport: dict):
    """A fresh chromium page that only reaches the app server at ``url``; records every
    problem in ``page.problems``."""
    from playwright.sync_api import sync_playwright

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
        try:
            yield pg
        finally:
            browser.close()


@pytest.fixture
def page(server, viewport):
    """A fresh page on the test scenarios' server."""
    with _browser_page(server[0], viewport) as pg:
        yield pg


@pytest.fixture
def classroom_page(classroom_server, viewport):
    """A fresh page on the server of the repository's teaching scenario."""
    with _browser_page(classroom_server[0], viewport) as pg:
        yield pg


def _month(pg) -> int:
    text = pg.locator(".commnet-month").first.inner_text(timeout=60_000)
    m = re.search(r"Month (\d+) of (\d+)", text)
    assert m, text
    return int(m.group(1))


def _wait_month(pg, n: int, timeout: float = 90.0) -> float:
    """Wait until the page says month ``n``; returns the seconds it took."""
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


def _gp_slider_value(pg) -> str:
    return pg.get_by_role("slider", name="GP engagement").get_attribute("aria-valuenow")


def _pick(pg, label: str, option: str) -> None:
    pg.get_by_label(label).click(force=True)
    pg.get_by_role("option", name=option).click()


def _show_more(pg) -> None:
    """Switch on the network view and the seven matplotlib charts."""
    pg.get_by_label("Show the network and all seven charts", exact=False).check(force=True)
    _image(pg, ".commnet-network-image")


# ---------------------------------------------------------------- the classroom charts (ECharts)
#: JavaScript: the ECharts instances of the classroom charts, once all four are drawn.
_CHARTS_JS = ("() => [...document.querySelectorAll('.commnet-echart')]"
              ".map(e => e.__vue__ && e.__vue__.chart).filter(c => c)")


def _wait_charts(pg, points: int | None = None, timeout: float = 120_000) -> None:
    """Wait until the four classroom charts exist (and show ``points`` points per line)."""
    cond = "cs.length === 4"
    if points is not None:
        cond += (f" && cs.every(c => c.getOption().series.length > 0 && c.getOption().series"
                 f".every(s => s.data.length === {points}))")
    pg.wait_for_function(f"() => {{ const cs = ({_CHARTS_JS})(); return {cond}; }}",
                         timeout=timeout)


def _chart_options(pg) -> list[dict]:
    """What each classroom chart was given: line widths and colours, text sizes, legend."""
    return pg.evaluate(f"""() => ({_CHARTS_JS})().map(c => {{
        const o = c.getOption();
        return {{metric: c.getDom().parentElement.getAttribute('data-metric') ||
                         c.getDom().getAttribute('data-metric'),
                 widths: o.series.map(s => s.lineStyle.width),
                 colours: o.series.map(s => s.lineStyle.color),
                 points: o.series.map(s => s.data.length),
                 legend: o.legend.map(l => l.show),
                 fonts: [o.xAxis[0].axisLabel.fontSize, o.yAxis[0].axisLabel.fontSize,
                         o.xAxis[0].nameTextStyle.fontSize]}};
    }})""")


def _install_draw_probe(pg) -> None:
    """Record, in the page, when a Step is clicked and when each chart has drawn new data
    (the frame after ``setOption``), so the redraw time is measured where the pupil sees it."""
    pg.evaluate(f"""() => {{
        window.__commnetDraws = [];
        if (!window.__commnetClickProbe) {{
            window.__commnetClickProbe = true;
            document.addEventListener('click', () => {{
                window.__commnetClick = performance.now(); window.__commnetDraws = []; }}, true);
        }}
        ({_CHARTS_JS})().forEach(c => {{
            if (c.__commnetProbe) return;
            c.__commnetProbe = true;
            const set = c.setOption.bind(c);
            c.setOption = (...a) => {{
                const r = set(...a);
                requestAnimationFrame(() => window.__commnetDraws.push(
                    performance.now() - window.__commnetClick));
                return r;
            }};
        }});
    }}""")


def _step_and_time_redraw(pg, month: int) -> float:
    """Click Step, wait until the four charts show month ``month``; the page's measure (ms)
    from the click to the last chart drawn."""
    _click(pg, "Step")
    _wait_charts(pg, points=month + 1)
    pg.wait_for_function("() => window.__commnetDraws.length >= 4", timeout=60_000)
    return max(pg.evaluate("() => window.__commnetDraws"))


def _min_font_px(pg, css: str) -> float:
    """The smallest computed font size (px) of the visible elements ``css`` selects and their
    text-bearing descendants."""
    return pg.evaluate("""sel => {
        const sizes = [];
        document.querySelectorAll(sel).forEach(e => {
            [e, ...e.querySelectorAll('*')].forEach(x => {
                if (x.offsetParent !== null && [...x.childNodes].some(
                        n => n.nodeType === 3 && n.textContent.trim()))
                    sizes.push(parseFloat(getComputedStyle(x).fontSize));
            });
        });
        return sizes.length ? Math.min(...sizes) : 0;
    }""", css)


def _scroll_to_top(pg) -> None:
    """Undo the scrolling that element screenshots did, so a page screenshot shows the top."""
    pg.evaluate("() => { window.scrollTo(0, 0); document.querySelectorAll('*').forEach("
                "e => { if (e.scrollTop) e.scrollTop = 0; }); }")
    pg.wait_for_timeout(300)


def _box(pg, css: str) -> dict:
    return pg.locator(css).first.bounding_box()


def _small_png(path: Path) -> None:
    """Re-save a screenshot with a 256-colour palette (a fraction of the size, same look)."""
    from PIL import Image

    with Image.open(path) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            path, optimize=True)


def _shot(pg, shots: Path, name: str, **kwargs) -> Path:
    path = shots / name
    pg.screenshot(path=str(path), **kwargs)
    _small_png(path)
    print(f"screenshot: {path} ({path.stat().st_size // 1024} kB)")
    return path


# ---------------------------------------------------------------- tests on the test scenarios
def test_slider_reset_step_update_counter_and_charts(page, server):
    url, _, log = server
    pg = page
    pg.goto(url)
    assert _month(pg) == 0
    _wait_charts(pg, points=1)
    for label in ("Reset", "Step"):
        assert pg.get_by_role("button", name=label, exact=True).is_visible()
    assert _gp_slider_value(pg) == "0.6"
    # one run: the GP slider is then the teacher's to move (the comparison would set it)
    _pick(pg, "Side by side", "off (one run)")
    pending = pg.locator(".commnet-pending")
    pending.get_by_text("Side by side off (one run)", exact=False).wait_for(timeout=60_000)

    # lower GP engagement with the keyboard, as a person tabbing to the slider would
    slider = pg.get_by_role("slider", name="GP engagement")
    slider.focus()
    for _ in range(8):
        slider.press("ArrowLeft")
    pg.wait_for_function("() => document.querySelector('[aria-label=\"GP engagement\"]')"
                         ".getAttribute('aria-valuenow') === '0.2'", timeout=10_000)
    # before Reset the page says the new value is not in use yet
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
    _wait_charts(pg, points=1)
    assert [o["points"] for o in _chart_options(pg)] == [[1]] * 4  # one run, one line

    seconds = []
    for n in range(1, 5):
        _click(pg, "Step")
        seconds.append(_wait_month(pg, n))
        _wait_charts(pg, points=n + 1)  # the charts got the new month's data
    print(f"step → counter updated in {[round(s, 2) for s in seconds]} s")

    # the network and the seven charts, on request, move with the steps too
    _show_more(pg)
    charts_before = _image(pg, ".commnet-charts-image")
    network_before = _image(pg, ".commnet-network-image")
    _click(pg, "Step")
    _wait_month(pg, 5)
    pg.wait_for_function(  # the images are replaced once the step's figures are drawn
        "() => document.querySelectorAll('.commnet-network-image').length > 0", timeout=60_000)
    deadline = time.monotonic() + 90
    while _image(pg, ".commnet-charts-image") == charts_before and time.monotonic() < deadline:
        pg.wait_for_timeout(200)
    assert _image(pg, ".commnet-charts-image") != charts_before
    assert _image(pg, ".commnet-network-image") != network_before
    _no_errors_shown(pg)
    assert not _needed_failures(pg.problems), (pg.problems, log.read_text()[-2000:])


def test_side_by_side_and_colour_modes(page, server):
    url, _, log = server
    pg = page
    pg.goto(url)
    assert _month(pg) == 0
    _pick(pg, "Side by side", "Localities: on vs off")
    _click(pg, "Reset")
    pg.get_by_text("B: localities off:", exact=False).wait_for(timeout=120_000)
    legend = pg.locator(".commnet-legend").inner_text()
    assert "A: localities on" in legend and "B: localities off" in legend
    _show_more(pg)
    before = _image(pg, ".commnet-network-image")
    pg.get_by_role("button", name="belief accuracy").click()
    pg.wait_for_timeout(300)
    _click(pg, "Step")
    _wait_month(pg, 1)
    _wait_charts(pg, points=2)
    deadline = time.monotonic() + 90
    while _image(pg, ".commnet-network-image") == before and time.monotonic() < deadline:
        pg.wait_for_timeout(200)
    assert _image(pg, ".commnet-network-image") != before
    _no_errors_shown(pg)
    assert not _needed_failures(pg.problems), (pg.problems, log.read_text()[-2000:])


def test_a_bad_scenario_shows_its_message_and_the_app_keeps_running(page, server):
    url, _, log = server
    pg = page
    pg.goto(url)
    assert _month(pg) == 0
    _pick(pg, "Scenario file", "broken.yaml")
    error = pg.locator(".commnet-error")
    error.wait_for(timeout=120_000)
    text = error.inner_text()
    assert "populaton" in text and "did you mean 'population'" in text
    # the message, and the picker's pointer to it (drawn in the sidebar, maybe a moment later)
    pg.get_by_text("Scenario not loaded — see the message on the right.").wait_for(timeout=60_000)
    assert pg.locator(ERROR_ALERTS).count() >= 2
    assert "Traceback" not in pg.locator("body").inner_text()
    # the app still works: back to the good scenario, step it
    _pick(pg, "Scenario file", "teaching.yaml")
    assert _wait_month(pg, 0) >= 0
    _click(pg, "Step")
    _wait_month(pg, 1)
    _no_errors_shown(pg)
    assert not _needed_failures(pg.problems), (pg.problems, log.read_text()[-2000:])


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

    def only_the_comparison_changes() -> None:
        lines = pg.locator(".commnet-run-status").all_inner_texts()
        assert len(lines) == 2, lines
        assert lines[0].endswith("changed from the file: GP engagement 0.8"), lines
        assert lines[1].endswith("changed from the file: GP engagement 0.2"), lines

    only_the_comparison_changes()
    assert pg.locator(".commnet-pending").count() == 0
    # … and Reset builds the new file, not an empty page
    _click(pg, "Reset")
    pg.wait_for_timeout(1000)
    pg.get_by_text("Scenario: other-test (other.yaml), seed 9").wait_for(timeout=180_000)
    _no_errors_shown(pg)
    assert "no scenario file" not in pg.locator("body").inner_text()
    only_the_comparison_changes()
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


def test_after_a_finished_run_a_scenario_switch_leaves_the_controls_ready(page, server):
    url, _, log = server
    pg = page
    pg.goto(url)
    assert _month(pg) == 0
    _pick(pg, "Scenario file", "short.yaml")
    pg.get_by_text("Month 0 of 2").wait_for(timeout=180_000)
    step = pg.get_by_role("button", name="Step", exact=True)
    play = pg.get_by_role("button", name="▶", exact=True)
    for n in (1, 2):
        step.click()
        _wait_month(pg, n, timeout=180)
    pg.locator(".commnet-complete").wait_for(timeout=60_000)
    pg.wait_for_function("() => [...document.querySelectorAll('button')].filter(b => "
                         "b.innerText.trim().toUpperCase() === 'STEP')[0].disabled",
                         timeout=60_000)
    assert step.is_disabled() and play.is_disabled()
    _pick(pg, "Scenario file", "teaching.yaml")
    pg.get_by_text("Month 0 of 24").wait_for(timeout=180_000)
    pg.wait_for_function("() => !([...document.querySelectorAll('button')].filter(b => "
                         "b.innerText.trim().toUpperCase() === 'STEP')[0].disabled)",
                         timeout=60_000)
    assert step.is_enabled() and play.is_enabled()
    assert pg.locator(".commnet-complete").count() == 0
    # ▶ plays (one click runs the lesson) and ❚❚ pauses
    play.click()
    deadline = time.monotonic() + 180
    while _month(pg) < 2 and time.monotonic() < deadline:
        pg.wait_for_timeout(100)
    pg.get_by_role("button", name="❚❚", exact=True).click()
    paused = _month(pg)
    assert 2 <= paused < 24
    pg.get_by_role("button", name="▶", exact=True).wait_for(timeout=60_000)
    pg.wait_for_timeout(1500)
    assert _month(pg) <= paused + 1  # at most the step under way when ❚❚ was clicked
    _no_errors_shown(pg)
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


# ---------------------------------------------------------------- the classroom view
PANEL_TITLES = ["Decision skill", "£ misallocated", "Board knowledge", "GP engagement"]


def _check_classroom_view(pg, viewport: dict) -> None:
    """The four large charts, their monitors and the runs' legend: on screen, text ≥ 18 px,
    lines ≥ 3 px, two colours, no legend inside a chart."""
    titles = pg.locator(".commnet-panel-title").all_inner_texts()
    assert titles == PANEL_TITLES, titles
    main = pg.locator(".commnet-classroom").inner_text()
    assert "Decision relevance" not in main  # the lesson's effect is in decision skill
    legend = pg.locator(".commnet-legend").inner_text()
    assert "A: GP engagement 0.8" in legend and "B: GP engagement 0.2" in legend
    for css in (".commnet-monitor", ".commnet-legend", ".commnet-panel-title",
                ".commnet-panel-unit", ".commnet-month", ".commnet-status", ".commnet-more"):
        assert _min_font_px(pg, css) >= 18, css
    assert pg.locator(".commnet-monitor").count() == 8  # A and B on each of four charts
    options = _chart_options(pg)
    assert len(options) == 4
    for o in options:
        assert len(o["widths"]) == 2 and min(o["widths"]) >= 3, o
        assert len(set(o["colours"])) == 2, o
        assert min(o["fonts"]) >= 18, o
        assert not any(o["legend"]), o  # the legend is above the charts, never on the data
    _scroll_to_top(pg)
    for css in (".commnet-month", ".commnet-legend"):
        box = _box(pg, css)
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], (css, box)
    panels = pg.locator(".commnet-panel")
    for i in range(4):  # all four charts, whole, on one screen
        box = panels.nth(i).bounding_box()
        assert box["y"] + box["height"] <= viewport["height"] + 1, (i, box)
        assert box["x"] + box["width"] <= viewport["width"], (i, box)


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}])
def test_classroom_view_at_1280x800(classroom_page, classroom_server, viewport, shots):
    from simulation.loader import load_scenario

    url, scen, log = classroom_server
    pg = classroom_page
    pg.goto(url)
    assert _month(pg) == 0
    _wait_charts(pg, points=1)
    # a fresh page: the file's value exactly, nothing pending
    gp = load_scenario(scen / "teaching.yaml").engagement.gp.mean
    assert _gp_slider_value(pg) == f"{gp:g}"
    assert f"{gp:g}" in pg.locator(".commnet-control-value").all_inner_texts()
    pg.wait_for_timeout(2000)  # time for a snapping slider to send a value back
    assert pg.locator(".commnet-pending").count() == 0
    assert "Not applied yet" not in pg.locator("body").inner_text()
    assert not pg.get_by_text("Play interval (ms)").is_visible()  # playback folded away
    box = pg.get_by_role("slider", name="GP engagement").bounding_box()
    assert box is not None and box["y"] + box["height"] <= viewport["height"], box
    _shot(pg, shots, "commnet-app-1280x800-fresh.png")

    # Step: the charts get new data, drawn in the browser; the page measures the redraw
    _install_draw_probe(pg)
    cpu0 = _cpu_seconds(_SERVER_PIDS[url])
    redraw = [_step_and_time_redraw(pg, n) for n in range(1, 7)]
    cpu = (_cpu_seconds(_SERVER_PIDS[url]) - cpu0) / len(redraw)
    print(f"redraw after Step (click → all four charts drawn, measured in the page), ms: "
          f"{[round(r) for r in redraw]}; median {sorted(redraw)[len(redraw) // 2]:.0f} ms; "
          f"server CPU {1000 * cpu:.0f} ms per step (two runs, model and page) "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    assert _month(pg) == 6
    _check_classroom_view(pg, viewport)
    # the monitors show the current values: high GP engagement above low
    gp_monitors = pg.locator(".commnet-panel-engagement_gp .commnet-monitor").all_inner_texts()
    a, b = (float(t.lstrip("AB").strip()) for t in gp_monitors)  # "A 0.82" / "B 0.22"
    assert a > b, gp_monitors
    _shot(pg, shots, "commnet-app-1280x800.png")

    # Info: Close at the top; Escape closes it
    pg.get_by_role("button", name="Info").click()
    pg.get_by_text("Things to try").wait_for(timeout=60_000)
    close = pg.locator(".commnet-info-close")
    close.wait_for(timeout=60_000)
    box = close.bounding_box()
    assert box["y"] + box["height"] <= viewport["height"] / 3, box
    pg.wait_for_timeout(500)
    _shot(pg, shots, "commnet-app-1280x800-info.png")
    pg.keyboard.press("Escape")
    pg.get_by_text("Things to try").wait_for(state="hidden", timeout=60_000)
    pg.get_by_role("button", name="Info").click()
    pg.get_by_text("Things to try").wait_for(timeout=60_000)
    close.click()
    pg.get_by_text("Things to try").wait_for(state="hidden", timeout=60_000)
    _no_errors_shown(pg)
    assert "runs on Solara" not in pg.locator("body").inner_text()
    assert not _needed_failures(pg.problems), (pg.problems, log.read_text()[-2000:])


@pytest.mark.parametrize("viewport", [{"width": 1920, "height": 1080}])
def test_classroom_view_at_1920x1080_one_click_runs_the_lesson(classroom_page, classroom_server,
                                                               viewport, shots):
    url, _, log = classroom_server
    pg = classroom_page
    pg.goto(url)
    assert _month(pg) == 0
    _wait_charts(pg, points=1)
    assert pg.locator(".commnet-pending").count() == 0
    _click(pg, "▶")  # the page opened on the comparison: one click runs it
    deadline = time.monotonic() + 240
    while _month(pg) < 12 and time.monotonic() < deadline:
        pg.wait_for_timeout(200)
    _click(pg, "❚❚")
    pg.get_by_role("button", name="▶", exact=True).wait_for(timeout=60_000)
    month = _month(pg)
    assert month >= 12
    _wait_charts(pg, points=month + 1)
    _check_classroom_view(pg, viewport)
    _shot(pg, shots, "commnet-app-1920x1080.png")
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


def test_commnet_app_on_a_classroom_network_prints_and_allows_exactly_its_addresses(tmp_path):
    """``commnet app --host 0.0.0.0``: prints the addresses students type, answers a request
    made to each of them, and refuses one that names another host."""
    pytest.importorskip("solara", reason="pip install -e '.[app]'")
    from simulation.app.launch import app_environment, free_port
    from simulation.app.serve import lan_addresses

    if not lan_addresses():
        pytest.skip("this machine has no network address to serve a classroom on")
    port = free_port("0.0.0.0")
    env = app_environment(str(REPO / "scenarios" / "teaching.yaml"))
    env["SOLARA_HOME"] = str(tmp_path / "solara-home")
    env.pop("COMMNET_APP_ALLOWED_HOSTS", None)
    cmd = [sys.executable, "-m", "simulation.cli", "app", "--host", "0.0.0.0", "--port",
           str(port), "--no-browser"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not any("answers only" in x for x in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
        print("\n".join(lines))
        students = next((x for x in lines if x.startswith("students open: ")), None)
        assert students is not None, lines
        urls = students.removeprefix("students open: ").split()
        assert urls == [f"http://{a}:{port}/" for a in lan_addresses()]
        allowed = next(x for x in lines if "answers only requests addressed to" in x)
        for a in lan_addresses():
            assert f"{a}:{port}" in allowed
        for u in urls:  # a student's browser reaches the app at the printed address
            assert _status(u, {}) == 200
            assert _status(u, {"Host": f"evil.example:{port}"}) == 403
            assert _status(u, {"Origin": "http://evil.example"}) == 403
    finally:
        proc.terminate()  # commnet app stops its server on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
