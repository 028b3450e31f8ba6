"""A lesson in a real browser: Debian's chromium (Playwright) as a facilitator and three
students playing two months, one of them dropping out and rejoining, with forged requests.

The lesson's server runs in this process (uvicorn in a thread, the same app ``commnet
classroom`` serves) with short polls and a short rejoin grace, so the test waits on
conditions, never on a clock.  Screenshots (the hub, a student's 390 × 844 phone view) go to
``results/screenshots/classroom_*.png`` (``$COMMNET_SCREENSHOT_DIR`` elsewhere, e.g. docs/screenshots).
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[1]
KEY = "browser-test-facilitator-key"
CODE = "PLAY23"
PHONE = {"width": 390, "height": 844}


def _require_browser() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium at /usr/bin/chromium: apt-get install -y chromium")
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (the [dev] extra)")
    pytest.importorskip("uvicorn")


def _shots() -> Path:
    d = Path(os.environ.get("COMMNET_SCREENSHOT_DIR") or REPO / "results" / "screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def lesson_server(tmp_path_factory):
    _require_browser()
    import uvicorn

    from simulation.app.launch import free_port
    from simulation.app.serve import allowed_hosts
    from simulation.classroom.server import Lesson, build_app
    from simulation.classroom.session import Session

    folder = tmp_path_factory.mktemp("lesson")
    session = Session(REPO / "scenarios" / "teaching.yaml", seed=7, seats=8, months=6,
                      folder=folder, code=CODE)
    session.rejoin_grace = 3.0
    lesson = Lesson(session, facilitator_key=KEY, poll_seconds=2.0)
    port = free_port()
    app = build_app(lesson, allowed_hosts("127.0.0.1", port))
    url = f"http://127.0.0.1:{port}"
    app.starlette.state.join_url = url + "/"
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the lesson's server did not start"
    try:
        yield url, lesson
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _small(path: Path) -> None:
    """Palette PNG (the pages use few colours): a few times smaller, same look."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as im:
        im.convert("RGB").quantize(colors=256).save(path, optimize=True)


def test_a_lesson_with_three_students(lesson_server):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # conditions, not clocks: generous for a busy machine
    url, lesson = lesson_server
    session = lesson.session
    problems: list[str] = []

    def watch(page):
        page.on("pageerror", lambda e: problems.append(f"js: {e}"))
        page.on("response", lambda r: r.status >= 500 and problems.append(f"{r.status} {r.url}"))

        def route(r):
            if r.request.url.startswith(url):
                r.continue_()
            else:
                problems.append(f"external: {r.request.url}")
                r.abort()
        page.route("**/*", route)
        return page

    def join(browser, name):
        ctx = browser.new_context(viewport=PHONE)
        pg = watch(ctx.new_page())
        pg.goto(url + "/")
        for _ in range(60):  # a rejoin waits for the old device's grace to pass
            pg.fill("#code", CODE.lower())
            pg.fill("#name", name)
            with pg.expect_response(lambda r: r.url.endswith("/api/join"),
                                    timeout=60_000) as answer:
                pg.click("#join")
            if answer.value.status == 200:
                expect(pg.locator("#month")).to_be_visible(timeout=60_000)
                return ctx, pg
            assert answer.value.status == 409  # the name's old device is not yet silent
            expect(pg.locator("#joinstatus")).to_contain_text("playing")
            pg.wait_for_timeout(500)  # then ask again (bounded by the loop)
        raise AssertionError(f"{name} could not join")

    def month_is(pg, n):
        expect(pg.locator("#month")).to_have_text(re.compile(rf"^Month {n} of "), timeout=30_000)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        hub_ctx = browser.new_context(viewport={"width": 1500, "height": 1000})
        hub = watch(hub_ctx.new_page())
        hub.goto(f"{url}/hub#key={KEY}")
        expect(hub.locator("#code")).to_have_text(CODE)
        expect(hub.locator("#noqr")).to_be_visible()  # no QR library here: the URL, big

        students = {name: join(browser, name) for name in ("Ada", "Bob", "Cy")}
        expect(hub.locator("#students h2")).to_contain_text("3 playing")
        seat_of = {n: pg.locator("#who").inner_text() for n, (_, pg) in students.items()}
        assert len(set(seat_of.values())) == 3

        # ---- month 1: everyone decides
        hub.click("#open")
        for i, (_, pg) in enumerate(students.values()):
            expect(pg.locator("#send")).to_be_enabled()
            pg.locator("#effort").fill(str(20 + 30 * i))
            pg.click("#send")
            expect(pg.locator("#sent")).to_contain_text("Decision sent")
        expect(hub.locator("#students h2")).to_contain_text("3 decided")

        # ---- forged requests from Ada's browser
        ada_ctx, ada = students["Ada"]
        token = ada.evaluate("localStorage.getItem('commnet-classroom-seat')")
        bob_seat = next(s for s in session.seats if s.name == "Bob")
        api = ada_ctx.request
        r = api.post(url + "/api/choices", data={"effort": 0.0},
                     headers={"Authorization": "Bearer forged-token-for-bob-seat"})
        assert r.status == 403
        r = api.post(url + "/api/choices", data={"seat": bob_seat.index, "effort": 0.0},
                     headers={"Authorization": "Bearer " + token})
        assert r.status == 400
        r = api.post(url + "/api/hub/control", data={"action": "close"},
                     headers={"Authorization": "Bearer " + token})
        assert r.status == 403
        r = api.post(url + "/api/join", data={"code": "WRONG9", "name": "Eve"})
        assert r.status == 403
        assert bob_seat.choices["effort"] == 0.5  # Bob's decision is untouched

        hub.click("#close")
        for _, pg in students.values():
            month_is(pg, 1)
        month_is(hub, 1)

        # ---- Bob's phone drops; the model plays his seat; he rejoins on a new device
        bob_ctx, _ = students.pop("Bob")
        bob_ctx.close()
        ctx, pg = join(browser, "Bob")
        students["Bob"] = (ctx, pg)
        expect(pg.locator("#who")).to_have_text(seat_of["Bob"])
        month_is(pg, 1)

        # ---- month 2: Ada seeks a colleague's view (a tie) and sends
        hub.click("#open")
        for name, (_, pg) in students.items():
            expect(pg.locator("#send")).to_be_enabled()
            if name == "Ada":
                pg.locator("#ties input").first.check()
            pg.click("#send")
            expect(pg.locator("#sent")).to_contain_text("Decision sent")
        expect(hub.locator("#students h2")).to_contain_text("3 decided")
        shots = _shots()
        students["Ada"][1].screenshot(path=str(shots / "classroom_student.png"))
        assert len(next(s for s in session.seats if s.name == "Ada").choices["ties"]) == 1
        hub.click("#close")
        for _, pg in students.values():
            month_is(pg, 2)
        month_is(hub, 2)
        expect(hub.locator("#network circle.student")).to_have_count(3)
        hub.click("#reveal")  # the end of the lesson: true need on the projector
        expect(hub.locator("#board h2")).to_contain_text("vs true need")
        expect(hub.locator("#board .legend")).to_contain_text("true need")
        hub.screenshot(path=str(shots / "classroom_hub.png"), full_page=True)
        browser.close()
    _small(shots / "classroom_hub.png")
    _small(shots / "classroom_student.png")

    log = session.log
    bob = [r for r in log if r["name"] == "Bob"]
    assert [r["month"] for r in bob] == [1, 2] and all(r["decided"] for r in bob)
    assert next(r["effort"] for r in log if r["name"] == "Ada") == 0.2
    assert not problems, problems
