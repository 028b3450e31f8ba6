"""Start the teaching app's server: ``commnet app [SCENARIO] --port N``.

The app is served by :mod:`simulation.app.serve` (Solara's server for
``simulation.app.app``) in a child process with an environment that keeps everything on this
machine and the page uncluttered:

* ``SOLARA_ASSETS_PROXY=True`` — the page loads Solara's front end (Vue, Vuetify, the widget
  manager, fonts, Mesa's grid layout) from the server at ``/_solara/cdn/…``, which serves the
  files installed by the ``solara-assets`` package instead of a public CDN;
* ``SOLARA_ASSETS_CDN`` — where that proxy would fetch a file it does not have: pointed at a
  closed loopback port, so a missing file fails at once (and shows up as a failed request)
  instead of hanging on a network that is not there;
* ``SOLARA_TELEMETRY_MIXPANEL_ENABLE=False`` — no usage telemetry leaves the machine;
* ``SOLARA_THEME_SHOW_BANNER=False`` — no "This website runs on Solara" badge over the charts;
* ``SOLARA_KERNEL_CULL_TIMEOUT=2m`` — a browser session that disconnects without closing its
  tab (a crashed or killed browser; a closed tab is released at once) is released after two
  minutes instead of Solara's 24 hours, so memory does not grow with every pupil's session.

Values already set in the caller's environment win, except the scenario.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import webbrowser
from collections.abc import Mapping
from pathlib import Path

from ..loader import ScenarioError
from .scenarios import SCENARIO_ENV
from .serve import ALLOWED_HOSTS_ENV, allowed_hosts, served_addresses

__all__ = ["address_lines", "app_environment", "free_port", "launch", "server_command",
           "wait_for_server"]

#: The page module the server serves.
APP_MODULE = "simulation.app.app"
#: The server's entry point (``python -m …``).
SERVER_MODULE = "simulation.app.serve"
#: A closed loopback port: the assets proxy's fallback, so nothing is fetched from outside.
OFFLINE_CDN = "http://127.0.0.1:9/"

OFFLINE_ENV = {
    "SOLARA_ASSETS_PROXY": "True",
    "SOLARA_ASSETS_CDN": OFFLINE_CDN,
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    "SOLARA_THEME_SHOW_BANNER": "False",
    "SOLARA_KERNEL_CULL_TIMEOUT": "2m",
}


def app_environment(scenario_path: str | None = None,
                    base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server's environment: ``base`` (default ``os.environ``) plus the offline settings.

    Parameters
    ----------
    scenario_path : str, optional
        Scenario to open first (made absolute; stored in ``COMMNET_APP_SCENARIO``).
    base : mapping, optional
        Starting environment.
    """
    env = dict(os.environ if base is None else base)
    for key, value in OFFLINE_ENV.items():
        env.setdefault(key, value)
    root = str(Path(__file__).resolve().parents[2])  # so that `simulation` imports from here
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    if scenario_path:
        env[SCENARIO_ENV] = str(Path(scenario_path).resolve())
    else:
        env.pop(SCENARIO_ENV, None)
    return env


def server_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The server's command line (:mod:`simulation.app.serve`; no browser of its own)."""
    return [sys.executable, "-m", SERVER_MODULE, "--host", host, "--port", str(int(port)),
            "--log-level", "warning"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_server(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> bool:
    """Poll ``url`` until it answers (True), ``timeout`` passes or ``proc`` exits (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    return False


def _url(name: str, port: int) -> str:
    name = f"[{name}]" if ":" in name and not name.startswith("[") else name
    return f"http://{name}:{int(port)}/"


def address_lines(host: str, port: int, extra: str | None = None,
                  lan: list[str] | None = None) -> list[str]:
    """What ``commnet app`` prints once the server answers: the address to open on this
    machine and, when it serves a network (``--host 0.0.0.0`` or a network address), the
    addresses students type and which ``Host`` names the server answers (all others: 403).

    ``lan`` (default: found by :func:`simulation.app.serve.served_addresses`) is for tests.
    """
    network = served_addresses(host) if lan is None else lan
    local = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if network and host not in ("0.0.0.0", "::", ""):
        lines = [f"commnet app: {_url(local, port)}  (Ctrl-C to stop)"]
    else:
        lines = [f"commnet app: {_url(local, port)} on this machine  (Ctrl-C to stop)"]
    if host in ("0.0.0.0", "::", "") or network:
        if network:
            lines.append("students open: " + "   ".join(_url(a, port) for a in network))
        else:
            lines.append("no network address found on this machine: students cannot reach "
                         "it (is it connected?)")
        names = sorted(allowed_hosts(host, port, extra, lan=network))
        lines.append("the server answers only requests addressed to " + ", ".join(names)
                     + f" (others get 403; add names in {ALLOWED_HOSTS_ENV})")
    return lines


def launch(scenario_path: str | None, port: int, host: str = "127.0.0.1",
           open_browser: bool = True) -> int:
    """Serve the teaching app until interrupted; returns the server's exit status.

    Parameters
    ----------
    scenario_path : str, optional
        Scenario to open first; default ``scenarios/teaching.yaml`` (else the first file of
        ``scenarios/``).  A file that does not validate still opens: the app shows why.
    port : int
        TCP port.
    host : str
        Interface to listen on (default loopback only; ``0.0.0.0`` serves a classroom
        network: the addresses students type are printed, :func:`address_lines`).
    open_browser : bool
        Open the page in the default browser once the server answers.

    Raises
    ------
    ScenarioError
        If ``scenario_path`` does not exist.
    """
    if scenario_path and not Path(scenario_path).is_file():
        raise ScenarioError([(str(scenario_path), "", "file not found")])
    env = app_environment(scenario_path)
    url = _url({"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host), port)
    proc = subprocess.Popen(server_command(port, host), env=env)
    previous = None
    if threading.current_thread() is threading.main_thread():
        # `kill` (SIGTERM) stops the server too, like Ctrl-C, instead of orphaning it
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if wait_for_server(url, timeout=90, proc=proc):
            print("\n".join(address_lines(host, port, env.get(ALLOWED_HOSTS_ENV))), flush=True)
            if open_browser:
                webbrowser.open(url)
        return proc.wait()
    except KeyboardInterrupt:
        return _stop(proc)
    finally:
        if proc.poll() is None:
            _stop(proc)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop(proc: subprocess.Popen) -> int:
    """Terminate the server, then kill it if it does not stop within 10 s."""
    proc.terminate()
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
