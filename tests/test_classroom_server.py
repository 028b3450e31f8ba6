"""The classroom server over HTTP (Starlette's TestClient): seats, codes, keys, limits, hosts,
and malformed requests answered with 4xx, never a 500."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

import warnings

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2; httpx is what is installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from simulation.app.serve import allowed_hosts
from simulation.classroom.server import Lesson, RateLimits, build_app
from simulation.classroom.session import Session

PORT = 8770
BASE = f"http://127.0.0.1:{PORT}"
KEY = "facilitator-secret-for-tests"


def _client(limits: RateLimits | None = None, seats: int = 6, base: str = BASE):
    session = Session("scenarios/teaching.yaml", seed=3, seats=seats, months=6, code="TEST23")
    lesson = Lesson(session, facilitator_key=KEY)
    app = build_app(lesson, allowed_hosts("127.0.0.1", PORT), limits)
    return TestClient(app, base_url=base), lesson


@pytest.fixture
def client():
    c, lesson = _client()
    with c:
        c.lesson = lesson
        yield c


def _join(c, name, code="TEST23"):
    r = c.post("/api/join", json={"code": code, "name": name})
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["token"]}


HUB = {"X-Facilitator-Key": KEY}


def test_pages_and_no_files(client):
    for path, kind in (("/", "text/html"), ("/hub", "text/html"), ("/static/style.css", "text/css"),
                       ("/static/student.js", "text/javascript"), ("/static/hub.js", "text/javascript"),
                       ("/static/common.js", "text/javascript")):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
    for path in ("/etc/passwd", "/static/../../etc/passwd", "/static/%2e%2e/pyproject.toml",
                 "/scenarios/teaching.yaml", "/decisions.parquet", "/api/nothing"):
        assert client.get(path).status_code == 404
    assert client.post("/").status_code == 405


def test_join_code_and_names(client):
    assert client.post("/api/join", json={"code": "WRONG1", "name": "Ada"}).status_code == 403
    assert client.post("/api/join", json={"name": "Ada"}).status_code == 403
    assert client.post("/api/join", json={"code": "TEST23", "name": ""}).status_code == 400
    assert client.post("/api/join", json={"code": "TEST23", "name": ["x"]}).status_code == 400
    assert client.post("/api/join", json={"code": "test23", "name": "Ada"}).status_code == 200
    r = client.post("/api/join", json={"code": "TEST23", "name": "ada"})
    assert r.status_code == 409  # Ada is connected


def test_a_student_acts_only_for_their_seat(client):
    ada, bob = _join(client, "Ada"), _join(client, "Bob")
    client.post("/api/hub/control", json={"action": "open"}, headers=HUB)
    bob_seat = client.get("/api/me", headers=bob).json()["seat"]
    # a forged token for another seat, a missing token, a token in another header
    for h in ({"Authorization": "Bearer " + "x" * 24}, {}, {"Authorization": "Basic abc"},
              {"X-Seat": str(bob_seat["index"])}):
        assert client.post("/api/choices", json={"effort": 0.1}, headers=h).status_code == 403
        assert client.get("/api/me", headers=h).status_code == 403
    # naming another seat in the body is no choice
    for body in ({"seat": bob_seat["index"], "effort": 0.1}, {"slot": bob_seat["id"]},
                 {"token": "x", "effort": 0.2}):
        assert client.post("/api/choices", json=body, headers=ada).status_code == 400
    assert client.post("/api/choices", json={"effort": 0.1}, headers=ada).status_code == 200
    assert client.get("/api/me", headers=bob).json()["choices"] == {}
    assert client.get("/api/me", headers=ada).json()["choices"] == {"effort": 0.1}
    # a student is not the facilitator
    assert client.post("/api/hub/control", json={"action": "close"}, headers=ada).status_code == 403
    assert client.get("/api/hub", headers=ada).status_code == 403


def test_facilitator_key_and_month(client):
    assert client.get("/api/hub").status_code == 403
    assert client.get("/api/hub", headers={"X-Facilitator-Key": "guess"}).status_code == 403
    ada = _join(client, "Ada")
    r = client.post("/api/choices", json={"effort": 0.5}, headers=ada)
    assert r.status_code == 409  # the month is not open
    assert client.post("/api/hub/control", json={"action": "open"}, headers=HUB).status_code == 200
    assert client.post("/api/choices", json={"effort": 0.5}, headers=ada).status_code == 200
    assert client.post("/api/hub/control", json={"action": "pause"}, headers=HUB).json()["phase"] == "paused"
    assert client.post("/api/choices", json={"effort": 0.6}, headers=ada).status_code == 409
    client.post("/api/hub/control", json={"action": "resume"}, headers=HUB)
    assert client.post("/api/hub/control", json={"action": "close"}, headers=HUB).status_code == 200
    me = client.get("/api/me", headers=ada).json()
    assert me["month"] == 1 and me["phase"] == "closed"
    hub = client.get("/api/hub", headers=HUB).json()
    assert hub["month"] == 1 and hub["students"][0]["name"] == "Ada"
    assert hub["board"]["need"] is None
    client.post("/api/hub/control", json={"action": "reveal"}, headers=HUB)
    assert client.get("/api/hub", headers=HUB).json()["board"]["need"] is not None
    net = client.get("/api/hub/network", headers=HUB).json()
    assert sum(n["student"] for n in net["nodes"]) == 1


def test_leave_and_rejoin_restores_the_seat(client):
    ada = _join(client, "Ada")
    seat = client.get("/api/me", headers=ada).json()["seat"]
    assert client.post("/api/leave", json={}, headers=ada).status_code == 200
    assert client.get("/api/me", headers=ada).status_code == 403
    ada2 = _join(client, "Ada")
    assert client.get("/api/me", headers=ada2).json()["seat"] == seat


def test_rate_limit():
    c, _ = _client(RateLimits(address_burst=1000, address_rate=1000, client_burst=5,
                              client_rate=0.001))
    with c:
        ada = _join(c, "Ada")
        codes = [c.get("/api/me", headers=ada).status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and codes[-1] == 429
    c, _ = _client(RateLimits(address_burst=3, address_rate=0.001))
    with c:
        codes = [c.get("/").status_code for _ in range(5)]
        assert codes[:3] == [200] * 3 and codes[3:] == [429, 429]


@pytest.mark.parametrize("base", ["http://evil.example:8770", "http://127.0.0.1:9999",
                                  "http://192.168.1.5:8770"])
def test_other_hosts_are_refused(base):
    c, _ = _client(base=base)
    with c:
        assert c.get("/").status_code == 403
        assert c.post("/api/join", json={"code": "TEST23", "name": "Ada"}).status_code == 403


def test_cross_site_origin_is_refused(client):
    r = client.post("/api/join", json={"code": "TEST23", "name": "Ada"},
                    headers={"Origin": "http://evil.example"})
    assert r.status_code == 403


def test_malformed_requests_are_4xx(client):
    ada = _join(client, "Ada")
    client.post("/api/hub/control", json={"action": "open"}, headers=HUB)
    bodies = [b"", b"{", b"[]", b"null", b"1", b'"x"', b"\xff\xfe", b'{"effort": NaN}',
              b'{"effort": 1e999}', b'{"effort": -0.5}', b'{"ties": [1.5]}',
              b'{"ties": [true]}', b'{"vote": {"a": 1}}', b'{"attend_locality": "yes"}',
              b'{"effort": {"$gt": 0}}', json.dumps({"ties": list(range(500))}).encode()]
    for body in bodies:
        for path, h in (("/api/choices", ada), ("/api/join", {}), ("/api/hub/control", HUB)):
            r = client.post(path, content=body, headers={**h, "Content-Type": "application/json"})
            assert 400 <= r.status_code < 500, (path, body, r.status_code, r.text)
    r = client.post("/api/choices", content=b"x" * 10_000, headers=ada)
    assert r.status_code == 413
    assert client.get("/api/me?v=abc", headers=ada).status_code == 400
    assert client.get("/api/hub?v=-1", headers=HUB).status_code == 400
    for body in ({"action": "timer", "seconds": "5"}, {"action": "timer", "seconds": -1},
                 {"action": "timer", "seconds": True}, {"action": "launch"}, {}):
        assert client.post("/api/hub/control", json=body, headers=HUB).status_code == 400
    # the lesson goes on
    assert client.post("/api/hub/control", json={"action": "close"}, headers=HUB).status_code == 200
    assert client.get("/api/me", headers=ada).json()["month"] == 1


def test_lesson_end_and_auto_timer(client):
    lesson = client.lesson
    client.post("/api/hub/control", json={"action": "timer", "seconds": 0.3}, headers=HUB)
    client.post("/api/hub/control", json={"action": "open"}, headers=HUB)
    # the auto-advance loop closes months by itself: wait on the condition, not a clock
    for _ in range(400):
        if lesson.session.finished:
            break
        client.get("/api/hub?v=" + str(lesson.session.version), headers=HUB)
    assert lesson.session.finished
    assert client.post("/api/hub/control", json={"action": "close"}, headers=HUB).status_code == 409
    assert client.post("/api/hub/control", json={"action": "open"}, headers=HUB).status_code == 409


def test_hosts_answered_are_the_printed_ones():
    from simulation.classroom.server import plan_hosts

    hosts, base, local = plan_hosts("127.0.0.1", PORT)
    assert hosts == {f"127.0.0.1:{PORT}", f"localhost:{PORT}", f"[::1]:{PORT}"}
    assert base == local == BASE
    hosts, base, local = plan_hosts("0.0.0.0", PORT, names=["classroom-pc", "192.168.4.20"])
    assert {f"classroom-pc:{PORT}", f"192.168.4.20:{PORT}", f"127.0.0.1:{PORT}"} <= hosts
    assert not any(h.startswith(("0.0.0.0", "evil")) for h in hosts)
    assert base == f"http://classroom-pc:{PORT}" and local == BASE


def test_cli_refuses_bad_input():
    from typer.testing import CliRunner

    from simulation.cli import app

    for argv in (["classroom", "no/such.yaml"], ["classroom", "debrief"],
                 ["classroom", "debrief", "no/such/folder"],
                 ["classroom", "scenarios/teaching.yaml", "extra"]):
        res = CliRunner().invoke(app, argv)
        assert res.exit_code == 2, (argv, res.output)
        assert "Traceback" not in res.output


def test_facilitator_frees_a_seat(client):
    ada = _join(client, "Ada")
    hub = client.get("/api/hub", headers=HUB).json()
    seat = hub["students"][0]["seat"]
    for bad in ({"action": "free", "seat": 999}, {"action": "free", "seat": "0"},
                {"action": "free"}):
        assert client.post("/api/hub/control", json=bad, headers=HUB).status_code == 400
    assert client.post("/api/hub/control", json={"action": "free", "seat": seat},
                       headers=ada).status_code == 403  # a student is not the facilitator
    assert client.post("/api/hub/control", json={"action": "free", "seat": seat},
                       headers=HUB).status_code == 200
    assert client.get("/api/me", headers=ada).status_code == 403
    assert client.get("/api/hub", headers=HUB).json()["students"] == []
    eve = _join(client, "Eve")  # the freed seat is the first free one again
    assert client.get("/api/me", headers=eve).json()["seat"]["index"] == seat
