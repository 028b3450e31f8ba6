"""The game's server: a small Starlette app over a :class:`~.session.Session`.

Pages are plain HTML with a little JavaScript (no framework, nothing fetched from elsewhere):
``/`` for students (join, then their seat's month), ``/hub`` for the facilitator (the key is in
the URL's fragment, ``/hub#key=…``, so it never travels in a request line or a referrer).
Screens long-poll their state (``?v=`` the version they show: the answer comes as soon as
something changes, or after :data:`POLL_SECONDS`).

Safety on a classroom network (tested in ``tests/test_classroom_server.py``):

* it listens on loopback unless ``--host`` says otherwise, and answers only ``Host`` (and
  ``Origin``) values it printed (:class:`simulation.app.serve.LoopbackGuard`; 403 otherwise);
* a student session needs the join code; the facilitator's controls a separate secret
  (``X-Facilitator-Key``); each seat has its own token (``Authorization: Bearer``), and
  every student endpoint acts only for the token's seat: no request names a seat;
* per-client token buckets (by address, and by token) answer 429 when exceeded;
* no file is served or read: the pages are strings in :mod:`.pages`; request bodies are
  size-capped JSON objects, validated field by field (4xx, never a 500, for bad input);
* a lesson's state changes only under the session's lock; the month runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import pages
from .session import ChoiceError, SeatTaken, Session, SessionClosed, SessionFull

__all__ = ["Lesson", "RateLimits", "build_app", "lan_hosts", "plan_hosts", "qr_svg", "serve"]

#: Seconds a long poll waits for a change before answering anyway.
POLL_SECONDS = 20.0
#: Largest request body accepted (bytes).
MAX_BODY = 4096
#: A student who sent nothing for this long returns their seat to the model (at the month's
#: close); their next request brings them back.
IDLE_SECONDS = 60.0


@dataclass
class RateLimits:
    """Token buckets: ``burst`` requests at once, refilled at ``rate`` per second, per client
    address (every request), per seat token / facilitator (authenticated requests) and per
    address for joins."""

    address_burst: float = 600.0  # a whole class may share one address (NAT, a test)
    address_rate: float = 200.0
    client_burst: float = 30.0
    client_rate: float = 4.0
    facilitator_burst: float = 120.0  # the hub wakes on every student's decision
    facilitator_rate: float = 20.0
    join_burst: float = 60.0  # joins per address (a class shares few addresses behind NAT)
    join_rate: float = 2.0


class _Buckets:
    def __init__(self, burst: float, rate: float, cap: int = 20_000):
        self.burst, self.rate, self.cap = burst, rate, cap
        self.state: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> bool:
        now = time.monotonic()
        tokens, then = self.state.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if len(self.state) > self.cap:  # forget the fullest buckets' clients (bounded memory)
            self.state = {k: v for k, v in self.state.items() if v[0] < self.burst - 1}
        if tokens < 1.0:
            self.state[key] = (tokens, now)
            return False
        self.state[key] = (tokens - 1.0, now)
        return True


class Lesson:
    """A session with the lesson's phase: ``closed`` (between months), ``open`` (students
    decide), ``paused``; an optional auto-advance timer; change notification for long polls."""

    def __init__(self, session: Session, facilitator_key: str | None = None,
                 idle_seconds: float = IDLE_SECONDS, poll_seconds: float = POLL_SECONDS):
        self.session = session
        self.key = facilitator_key or secrets.token_urlsafe(24)
        self.phase = "closed"
        self.timer: float = 0.0  # auto-advance seconds (0 = off)
        self.deadline: float | None = None  # monotonic time the open month closes
        self.remaining: float | None = None  # kept while paused
        self.idle_seconds = idle_seconds
        self.poll_seconds = poll_seconds
        self.advanced_at: float | None = None  # wall time of the last month's end
        self.last_advance_seconds: float | None = None
        self._writer: asyncio.Task | None = None
        self.public_version = 0  # what students' screens show changed (month, phase, ...)
        self._event: asyncio.Event | None = None
        self._public_event: asyncio.Event | None = None
        self._advancing = False

    # ------------------------------------------------------------ notification
    def _changed(self, public: bool = True) -> None:
        """Something changed: wake the hub's long polls, and (``public``: the month, phase,
        timer or reveal changed) the students' too."""
        with self.session.lock:
            self.session.version += 1
            if public:
                self.public_version += 1
        for name in ("_event", "_public_event") if public else ("_event",):
            ev = getattr(self, name)
            setattr(self, name, None)
            if ev is not None:
                ev.set()

    async def wait(self, seen: int, public: bool = False, timeout: float | None = None) -> None:
        """Return when the (public) version differs from ``seen`` or after ``timeout``."""
        name = "_public_event" if public else "_event"
        current = self.public_version if public else self.session.version
        if current != seen:
            return
        if getattr(self, name) is None:
            setattr(self, name, asyncio.Event())
        ev = getattr(self, name)
        try:
            await asyncio.wait_for(ev.wait(), self.poll_seconds if timeout is None else timeout)
        except TimeoutError:
            pass

    # ------------------------------------------------------------ control
    def status(self) -> dict[str, Any]:
        """Phase, timer and seconds left, for the screens."""
        left = None
        if self.phase == "open" and self.deadline is not None:
            left = max(0.0, self.deadline - time.monotonic())
        elif self.phase == "paused":
            left = self.remaining
        return {"phase": self.phase, "timer": self.timer,
                "seconds_left": None if left is None else round(left, 1),
                "advanced_at": self.advanced_at}

    def open(self) -> None:
        """Open the coming month for the students' decisions (the timer starts)."""
        if self.session.finished:
            raise SessionClosed("the lesson is over")
        self.phase = "open"
        self.deadline = time.monotonic() + self.timer if self.timer else None
        self._changed()

    async def advance(self) -> None:
        """Close the month: run it (in a worker thread) and, with the timer on, open the next."""
        if self._advancing:
            return
        self._advancing = True
        try:
            t0 = time.perf_counter()
            self.session.drop_idle(self.idle_seconds)
            await run_in_threadpool(self.session.advance, False)
            self.last_advance_seconds = time.perf_counter() - t0
            self.advanced_at = time.time()
            self.phase = "closed"
            self.deadline = None
            if self.timer and not self.session.finished:
                self.phase = "open"
                self.deadline = time.monotonic() + self.timer
        finally:
            self._advancing = False
            self._changed()
        # the log is written once the screens have their answers (off the critical path)
        self._writer = asyncio.get_running_loop().create_task(self._write_later())

    async def _write_later(self) -> None:
        await asyncio.sleep(0.5)
        await run_in_threadpool(self.session.write)

    def pause(self) -> None:
        """Stop the clock and refuse decisions until :meth:`resume`."""
        if self.phase == "open":
            self.remaining = (None if self.deadline is None
                              else max(0.0, self.deadline - time.monotonic()))
            self.phase, self.deadline = "paused", None
            self._changed()

    def resume(self) -> None:
        """Reopen a paused month with the time it had left."""
        if self.phase == "paused":
            self.phase = "open"
            self.deadline = (None if self.remaining is None
                             else time.monotonic() + self.remaining)
            self.remaining = None
            self._changed()

    def set_timer(self, seconds: float) -> None:
        """Auto-advance: close each open month after ``seconds`` (0 = off)."""
        self.timer = float(seconds)
        if self.phase == "open":
            self.deadline = time.monotonic() + self.timer if self.timer else None
        self._changed()

    async def tick(self) -> None:
        """The auto-advance loop (runs for the app's lifetime)."""
        while True:
            await asyncio.sleep(0.2)
            if (self.phase == "open" and self.deadline is not None
                    and time.monotonic() >= self.deadline and not self.session.finished):
                try:
                    await self.advance()
                except SessionClosed:
                    self.phase = "closed"


# ============================================================================ helpers
def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_NO_STORE)


_NO_STORE = {"cache-control": "no-store"}
_SECURITY = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; "
     b"style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
     b"base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class _Guard:
    """ASGI middleware: security headers on every answer, per-address rate limit, body cap,
    and a last-resort 500 that never takes the server down (nor shows a traceback)."""

    def __init__(self, app, limits: RateLimits):
        self.app = app
        self.by_address = _Buckets(limits.address_burst, limits.address_rate)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_secure(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + _SECURITY
            await send(message)

        client = (scope.get("client") or ("?", 0))[0]
        if not self.by_address.take(client):
            await _error(429, "too many requests: slow down")(scope, receive, send_secure)
            return
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    n = int(v)
                except ValueError:
                    n = MAX_BODY + 1
                if n > MAX_BODY or n < 0:
                    await _error(413, "request too large")(scope, receive, send_secure)
                    return
        try:
            await self.app(scope, receive, send_secure)
        except Exception:  # the lesson must survive any request
            if not started:
                await _error(500, "internal error")(scope, receive, send_secure)


async def _body(request: Request) -> dict[str, Any]:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise _BadRequest(413, "request too large")
    if not raw.strip():
        raise _BadRequest(400, "the body is a JSON object")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _BadRequest(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise _BadRequest(400, "the body is a JSON object")
    return data


class _BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _version(request: Request) -> int | None:
    v = request.query_params.get("v")
    if v is None or v == "":
        return None
    if not v.isdigit() or len(v) > 12:
        raise _BadRequest(400, "v is a version number")
    return int(v)


def _bearer(request: Request) -> str:
    h = request.headers.get("authorization", "")
    return h[7:].strip() if h.lower().startswith("bearer ") else ""


# ============================================================================ the app
def build_app(lesson: Lesson, hosts: frozenset[str] | None = None,
              limits: RateLimits | None = None):
    """The ASGI app of a lesson: routes, per-client limits and (with ``hosts``) the
    ``Host``/``Origin`` check of :class:`simulation.app.serve.LoopbackGuard`."""
    from ..app.serve import LoopbackGuard

    limits = limits or RateLimits()
    by_client = _Buckets(limits.client_burst, limits.client_rate)
    by_join = _Buckets(limits.join_burst, limits.join_rate)
    by_facilitator = _Buckets(limits.facilitator_burst, limits.facilitator_rate)
    session = lesson.session

    def limited(key: str) -> bool:
        return not by_client.take(key)

    def facilitator(request: Request) -> None:
        key = request.headers.get("x-facilitator-key", "")
        if not secrets.compare_digest(key.encode(), lesson.key.encode()):
            raise _BadRequest(403, "facilitator key required")
        if not by_facilitator.take("facilitator"):
            raise _BadRequest(429, "too many requests: slow down")

    def student(request: Request) -> str:
        token = _bearer(request)
        if not token or len(token) > 64:
            raise _BadRequest(403, "join first: no seat token")
        if limited("t:" + token):
            raise _BadRequest(429, "too many requests: slow down")
        try:
            session.seat(token)
        except PermissionError:
            raise _BadRequest(403, "this token holds no seat: join again with the code and "
                              "your name") from None
        return token

    def handler(fn):
        async def wrapped(request: Request) -> Response:
            try:
                return await fn(request)
            except _BadRequest as exc:
                return _error(exc.status, exc.message)
            except ChoiceError as exc:
                return _error(400, str(exc))
            except SessionClosed as exc:
                return _error(409, str(exc))
            except PermissionError as exc:
                return _error(403, str(exc))
        return wrapped

    def page(body: str, media: str):
        async def serve(request: Request) -> Response:
            return Response(body, media_type=media, headers={"cache-control": "no-cache"})
        return serve

    @handler
    async def join(request: Request) -> Response:
        data = await _body(request)
        client = (request.client.host if request.client else "?")
        if not by_join.take(client):
            raise _BadRequest(429, "too many requests: slow down")
        code, name = data.get("code"), data.get("name")
        if not isinstance(code, str) or len(code) > 16:
            raise _BadRequest(403, "wrong join code")
        try:
            token = session.join(name, code=code)
        except (SeatTaken, SessionFull) as exc:
            return _error(409, str(exc))
        lesson._changed(public=False)
        return JSONResponse({"token": token}, headers=_NO_STORE)

    @handler
    async def me(request: Request) -> Response:
        token = student(request)
        seen = _version(request)
        if seen is not None:
            await lesson.wait(seen, public=True)
        state = session.state(token)
        state.update(lesson.status())
        state["version"] = lesson.public_version
        return JSONResponse(state, headers=_NO_STORE)

    @handler
    async def choices(request: Request) -> Response:
        token = student(request)
        data = await _body(request)
        if lesson.phase != "open":
            return _error(409, "the month is not open for decisions")
        out = session.submit(token, **data)
        lesson._changed(public=False)
        return JSONResponse({"choices": out}, headers=_NO_STORE)

    @handler
    async def leave(request: Request) -> Response:
        token = student(request)
        session.leave(token)
        lesson._changed(public=False)
        return JSONResponse({"left": True}, headers=_NO_STORE)

    @handler
    async def hub(request: Request) -> Response:
        facilitator(request)
        seen = _version(request)
        if seen is not None:
            await lesson.wait(seen)
            if lesson.session.version != seen:
                await asyncio.sleep(0.15)  # a burst of decisions is one update of the hub
        state = session.state()
        state.update(lesson.status())
        state["version"] = session.version
        state["join_url"] = request.app.state.join_url
        state["qr"] = request.app.state.qr
        state["last_advance_seconds"] = lesson.last_advance_seconds
        return JSONResponse(state, headers=_NO_STORE)

    @handler
    async def network(request: Request) -> Response:
        facilitator(request)
        return JSONResponse(session.network(), headers=_NO_STORE)

    @handler
    async def control(request: Request) -> Response:
        facilitator(request)
        data = await _body(request)
        action = data.get("action")
        if action == "open":
            lesson.open()
        elif action in ("close", "advance"):
            if session.finished:
                raise SessionClosed("the lesson is over")
            await lesson.advance()
        elif action == "pause":
            lesson.pause()
        elif action == "resume":
            lesson.resume()
        elif action == "timer":
            sec = data.get("seconds")
            if isinstance(sec, bool) or not isinstance(sec, (int, float)) \
                    or not math.isfinite(sec) or not 0 <= sec <= 3600:
                raise _BadRequest(400, "seconds is a number from 0 (off) to 3600")
            lesson.set_timer(sec)
        elif action == "free":
            session.free(data.get("seat"))
            lesson._changed()
        elif action in ("reveal", "hide"):
            session.reveal(action == "reveal")
            lesson._changed()
        else:
            raise _BadRequest(400, "action is one of open, close, pause, resume, timer, "
                              "reveal, hide, free")
        return JSONResponse(lesson.status(), headers=_NO_STORE)

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(404, "not found")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return _error(405, "method not allowed")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(lesson.tick())
        try:
            yield
        finally:
            task.cancel()

    routes = [
        Route("/", page(pages.STUDENT_HTML, "text/html"), methods=["GET"]),
        Route("/hub", page(pages.HUB_HTML, "text/html"), methods=["GET"]),
        Route("/static/style.css", page(pages.CSS, "text/css"), methods=["GET"]),
        Route("/static/common.js", page(pages.COMMON_JS, "text/javascript"), methods=["GET"]),
        Route("/static/student.js", page(pages.STUDENT_JS, "text/javascript"), methods=["GET"]),
        Route("/static/hub.js", page(pages.HUB_JS, "text/javascript"), methods=["GET"]),
        Route("/favicon.ico", page("", "image/x-icon"), methods=["GET"]),
        Route("/api/join", join, methods=["POST"]),
        Route("/api/me", me, methods=["GET"]),
        Route("/api/choices", choices, methods=["POST"]),
        Route("/api/leave", leave, methods=["POST"]),
        Route("/api/hub", hub, methods=["GET"]),
        Route("/api/hub/network", network, methods=["GET"]),
        Route("/api/hub/control", control, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: not_found, 405: not_allowed})
    app.state.join_url = ""
    app.state.qr = None
    app.state.lesson = lesson
    inner = _Guard(app, limits)
    outer = LoopbackGuard(inner, hosts) if hosts is not None else inner
    outer.starlette = app  # for callers setting app.state (join URL, QR)
    return outer


def lan_hosts() -> list[str]:
    """The non-loopback IPv4 addresses of this machine, then its name (read locally, no traffic):
    phones on the classroom network reach an address more surely than a name."""
    names: list[str] = []
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        names += sorted({i[4][0] for i in infos})
    except OSError:
        pass
    names.append(socket.gethostname())
    return [n for n in dict.fromkeys(names) if n and not n.startswith("127.")]


def qr_svg(text: str) -> str | None:
    """An SVG QR code of ``text`` if a QR library is installed (segno or qrcode), else None."""
    try:
        import segno  # type: ignore[import-not-found]

        return segno.make(text).svg_inline(scale=6)
    except ImportError:
        pass
    try:
        import io

        import qrcode  # type: ignore[import-not-found]
        import qrcode.image.svg  # type: ignore[import-not-found]

        buf = io.BytesIO()
        qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage).save(buf)
        return buf.getvalue().decode()
    except ImportError:
        return None


def plan_hosts(host: str, port: int, names: list[str] | None = None
               ) -> tuple[frozenset[str], str, str]:
    """``(allowed Host values, join base URL, facilitator base URL)`` for serving on
    ``host``: loopback names always; with a wildcard ``host`` (0.0.0.0, ::) also this
    machine's name and addresses (``names``, default :func:`lan_hosts`), which are printed."""
    from ..app.serve import allowed_hosts

    wide = host in ("0.0.0.0", "::", "[::]")
    shown = (lan_hosts() if names is None else names) if wide else [host]
    shown = shown or ["127.0.0.1"]
    hosts = allowed_hosts(host, port, ",".join(shown))
    name = shown[0] if ":" not in shown[0] else f"[{shown[0]}]"
    local = "127.0.0.1" if wide or host == "127.0.0.1" else name
    return hosts, f"http://{name}:{port}", f"http://{local}:{port}"


def serve(session: Session, host: str = "127.0.0.1", port: int = 8770,
          echo=print) -> int:
    """Serve a lesson until interrupted; prints the facilitator URL, join URL and code."""
    import uvicorn

    lesson = Lesson(session)
    wide = host in ("0.0.0.0", "::", "[::]")
    hosts, base, local = plan_hosts(host, port)
    app = build_app(lesson, hosts)
    app.starlette.state.join_url = base + "/"
    app.starlette.state.qr = qr_svg(base + "/")
    echo(f"Lesson {session.spec.name!r}: {len(session.seats)} seats, {session.months} months, "
         f"session folder {session.folder}")
    echo(f"Facilitator (keep this link private): {local}/hub#key={lesson.key}")
    echo(f"Students join at: {base}/   with the code: {session.code}")
    if wide:
        echo("Answering only at: " + ", ".join(sorted(hosts)))
    else:
        echo("Listening on this machine only; use --host 0.0.0.0 for the classroom network.")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    return 0
