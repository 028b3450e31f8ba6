"""The app's server process: Solara's Starlette application under uvicorn, on loopback.

``python -m simulation.app.serve --host 127.0.0.1 --port 8765`` is what ``commnet app`` starts
(:func:`simulation.app.launch.server_command`).  It does what ``solara run … --production``
does for this app (``SOLARA_APP`` names the page module; Solara's own log configuration) and
in addition:

* refuses, with 403, every HTTP request and websocket handshake whose ``Host`` is not the
  address served (``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT``; with ``--host
  0.0.0.0``, also this machine's network addresses, :func:`lan_addresses`) or whose ``Origin``,
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
import ipaddress
import os
import socket
import struct
import threading
import warnings
from collections.abc import Sequence

__all__ = ["APP_MODULE", "CULL_TIMEOUT", "LoopbackGuard", "allowed_hosts", "build_app",
           "lan_addresses", "main", "release_closed_sessions", "served_addresses"]

#: The page module Solara serves.
APP_MODULE = "simulation.app.app"
#: Extra ``host[:port]`` names the guard accepts (comma-separated), e.g. a machine name when
#: serving a classroom network with ``--host 0.0.0.0``.
ALLOWED_HOSTS_ENV = "COMMNET_APP_ALLOWED_HOSTS"
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
#: Addresses that mean "every interface".
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
_SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address
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


def _usable(address: str) -> bool:
    """A non-loopback, non-link-local, specific IPv4 address."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def _interface_addresses() -> list[str]:
    """IPv4 addresses of this machine's network interfaces (Linux; empty elsewhere): asked of
    the kernel, one ``ioctl`` per interface — nothing is sent on the network."""
    try:
        import fcntl
    except ImportError:  # not a Unix
        return []
    out = []
    try:
        interfaces = socket.if_nameindex()
    except OSError:
        return []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in interfaces:
            try:
                reply = fcntl.ioctl(s.fileno(), _SIOCGIFADDR,
                                    struct.pack("256s", name.encode()[:15]))
            except OSError:  # no IPv4 address on this interface
                continue
            out.append(socket.inet_ntoa(reply[20:24]))
    return out


def lan_addresses() -> list[str]:
    """The machine's non-loopback IPv4 addresses: what students type to reach an app served
    with ``--host 0.0.0.0``.

    Read from the network interfaces (Linux: asked of the kernel, no packet sent); elsewhere,
    or if that finds none, from the machine's own name (``getaddrinfo(gethostname())``,
    answered from ``/etc/hosts`` where the name is listed there).  Sorted, without duplicates.
    """
    found = [a for a in _interface_addresses() if _usable(a)]
    if not found:
        try:
            infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        except OSError:
            infos = []
        found = [info[4][0] for info in infos if _usable(info[4][0])]
    return sorted(set(found), key=lambda a: ipaddress.IPv4Address(a))


def served_addresses(host: str) -> list[str]:
    """The non-loopback addresses at which a server listening on ``host`` is reached: this
    machine's network addresses for a wildcard host, ``host`` itself for a specific
    non-loopback one, none for loopback."""
    if host in WILDCARD_HOSTS:
        return lan_addresses()
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return []
    except ValueError:
        if host.lower() == "localhost":
            return []
    return [host]


def allowed_hosts(host: str, port: int, extra: str | None = None,
                  lan: Sequence[str] | None = None) -> frozenset[str]:
    """``Host`` header values the server answers: the loopback names and ``host`` itself, with
    the port; for a wildcard ``host`` (``0.0.0.0``) also ``lan`` (default
    :func:`lan_addresses`: the addresses students type); plus ``extra`` (comma-separated, a
    missing port means ``port``)."""
    name = f"[{host}]" if ":" in host and not host.startswith("[") else host
    names = {*_LOOPBACK, name.lower()} - {"0.0.0.0", "[::]", ""}
    if host in WILDCARD_HOSTS:
        names |= {a.lower() for a in (lan_addresses() if lan is None else lan)}
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
