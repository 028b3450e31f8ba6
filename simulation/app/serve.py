"""The app's server process: Solara's Starlette application under uvicorn, on loopback.

``python -m simulation.app.serve --host 127.0.0.1 --port 8765`` is what ``commnet app`` starts
(:func:`simulation.app.launch.server_command`).  It does what ``solara run … --production``
does for this app (``SOLARA_APP`` names the page module; Solara's own log configuration) and
in addition:

* refuses, with 403, every HTTP request and websocket handshake whose ``Host`` is not the
  address served (``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT``) or whose ``Origin``,
  when sent, is not ``http://`` one of those (:class:`LoopbackGuard`): a web page the teacher
  opens elsewhere cannot drive the app through DNS rebinding or a cross-site websocket;
* releases the memory of closed sessions (:func:`release_closed_sessions`): a session whose
  page closes (the page's unload beacon) is closed by Solara at once, and one whose browser
  vanishes without a word (a crash, a lost network) after :data:`CULL_TIMEOUT` instead of
  Solara's 24 hours; each time sessions have closed, a collection and ``malloc_trim`` hand
  their memory back to the system (without them the server kept ~9.5 MB per closed session);
* silences Solara's start-up warning about ``samesite=none`` cookies, which concerns pages
  embedded in another site's iframe over https — not a page served on loopback, where Solara
  falls back to ``samesite=lax``, the right setting.
"""

from __future__ import annotations

import argparse
import os
import threading
import warnings
from collections.abc import Sequence

__all__ = ["APP_MODULE", "CULL_TIMEOUT", "LoopbackGuard", "allowed_hosts", "build_app", "main",
           "release_closed_sessions"]

#: The page module Solara serves.
APP_MODULE = "simulation.app.app"
#: Extra ``host[:port]`` names the guard accepts (comma-separated), e.g. a machine name when
#: serving a classroom network with ``--host 0.0.0.0``.
ALLOWED_HOSTS_ENV = "COMMNET_APP_ALLOWED_HOSTS"
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
#: How long Solara keeps the session of a browser that went away without closing its page
#: (``SOLARA_KERNEL_CULL_TIMEOUT`` overrides it).
CULL_TIMEOUT = "2m"
#: Seconds between checks for closed sessions.
RELEASE_INTERVAL = 5.0


def _trim() -> None:
    """Give freed heap memory back to the system (glibc's ``malloc_trim``; elsewhere a no-op)."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def release_closed_sessions(stop: threading.Event, interval: float = RELEASE_INTERVAL) -> None:
    """Until ``stop`` is set: whenever fewer Solara sessions are open than at the last check,
    collect garbage (a closed session's widgets and model hold reference cycles) and trim the
    heap, so the server's memory falls back when the browsers go."""
    import gc

    from solara.server import kernel_context

    seen = len(kernel_context.contexts)
    while not stop.wait(interval):
        now = len(kernel_context.contexts)
        if now < seen:
            gc.collect()
            _trim()
        seen = now


def allowed_hosts(host: str, port: int, extra: str | None = None) -> frozenset[str]:
    """``Host`` header values the server answers: the loopback names and ``host`` itself, with
    the port; plus ``extra`` (comma-separated, a missing port means ``port``)."""
    name = f"[{host}]" if ":" in host and not host.startswith("[") else host
    names = {*_LOOPBACK, name.lower()} - {"0.0.0.0", "[::]"}
    out = {f"{n}:{int(port)}" for n in names}
    for item in (extra or "").split(","):
        item = item.strip().lower()
        if item:
            out.add(item if item.rsplit(":", 1)[-1].isdigit() and not item.endswith("]")
                    else f"{item}:{int(port)}")
    return frozenset(out)


class LoopbackGuard:
    """ASGI middleware: 403 for requests whose ``Host`` or ``Origin`` names another site.

    Checked for HTTP requests and websocket handshakes alike (Solara's page talks to the
    server over a websocket, which browsers open cross-origin without asking).  A request
    without ``Origin`` (a typed URL, ``curl``) passes if its ``Host`` is allowed; ``Origin:
    null`` does not.

    Parameters
    ----------
    app : ASGI application
    hosts : set of str
        Allowed ``Host`` values, ``name:port`` in lower case (:func:`allowed_hosts`).
    """

    def __init__(self, app, hosts: frozenset[str]):
        self.app = app
        self.hosts = frozenset(hosts)
        self.origins = frozenset(f"http://{h}" for h in self.hosts)

    def allows(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether a request with these (raw ASGI) headers may pass."""
        host = origin = None
        for key, value in headers:
            if key == b"host":
                host = value.decode("latin-1").strip().lower()
            elif key == b"origin":
                origin = value.decode("latin-1").strip().lower()
        return host in self.hosts and (origin is None or origin in self.origins)

    async def __call__(self, scope, receive, send):
        """Pass allowed requests (and lifespan events) on; answer the others with 403."""
        kind = scope["type"]
        if kind in ("http", "websocket") and not self.allows(scope.get("headers", [])):
            if kind == "http":
                body = b"403 Forbidden: this app answers only at its own loopback address\n"
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
            else:  # closing before accepting makes the server answer the handshake with 403
                await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)


def build_app():
    """Solara's ASGI application for :data:`APP_MODULE` (imported here: it reads the settings
    from the environment when first imported)."""
    os.environ["SOLARA_APP"] = APP_MODULE
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https",
                            category=UserWarning)
    from solara.server.starlette import app

    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the app until interrupted."""
    import uvicorn
    from solara.__main__ import LOGGING_CONFIG

    parser = argparse.ArgumentParser(prog="python -m simulation.app.serve",
                                     description="Serve the commnet teaching app.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log-level", default="warning",
                        choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    os.environ["SERVER_NAME"] = args.host
    os.environ["SERVER_PORT"] = str(args.port)
    os.environ.setdefault("SOLARA_KERNEL_CULL_TIMEOUT", CULL_TIMEOUT)
    config = dict(LOGGING_CONFIG)
    config["loggers"] = {**LOGGING_CONFIG["loggers"],
                         "solara": {"handlers": ["default"], "level": args.log_level.upper()}}
    app = LoopbackGuard(build_app(),
                        allowed_hosts(args.host, args.port, os.environ.get(ALLOWED_HOSTS_ENV)))
    stop = threading.Event()
    threading.Thread(target=release_closed_sessions, args=(stop,), name="commnet-release",
                     daemon=True).start()
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_config=config, log_level="error",
                    access_log=False)
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
