"""The teaching app under a class's load: N browser sessions open, step and close (loopback).

Starts the app server as ``commnet app`` does (:mod:`simulation.app.launch`), on a free
loopback port, then drives Debian's chromium (``/usr/bin/chromium``, Playwright's async API)
with up to ``--concurrent`` sessions at a time, each in its own browser context (own cookie,
so its own Solara session): open the page, wait for the first render (month counter and the
four classroom charts drawn), press Step ``--steps`` times, close the tab (as a pupil would:
the page's unload beacon tells the server).  Every request to anywhere but the server is blocked and
counted.  Measures:

* first render per session (seconds from ``goto`` to the drawn page: month counter and the
  classroom view's four charts);
* the server's resident memory (``VmRSS`` of its process) idle before any session, at the
  peak, and after the sessions closed (once Solara reports no open kernels, plus a settle);
* the live kernels Solara reports (``/resourcez``) at the end;
* the server's CPU time per session (user + system, from ``/proc``) — unlike the render
  times, this does not depend on how busy the machine is.

Usage::

    python benchmarks/app_load.py                       # 30 sessions, 10 at a time
    python benchmarks/app_load.py --sessions 30 --concurrent 10 --json results/app_load.json

Run it on a quiet machine for numbers worth comparing; it needs chromium and playwright.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (from ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """CPU time (user + system, seconds) a process has used (from ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def kernels(url: str) -> dict:
    """Solara's kernel counts (``/resourcez``)."""
    with urllib.request.urlopen(url.rstrip("/") + "/resourcez", timeout=10) as r:
        return json.load(r)["kernels"]


def start_server(scenario: str | None, workdir: Path) -> tuple[subprocess.Popen, str]:
    """The app server on a free loopback port, as ``commnet app`` starts it."""
    from simulation.app.launch import app_environment, free_port, server_command, wait_for_server

    env = app_environment(scenario)
    env["SOLARA_HOME"] = str(workdir / "solara-home")
    port = free_port()
    log = open(workdir / "server.log", "w")  # open for the server's lifetime
    proc = subprocess.Popen(server_command(port), env=env, cwd=workdir, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    if not wait_for_server(url, timeout=180, proc=proc):
        proc.kill()
        raise SystemExit(f"server did not start:\n{(workdir / 'server.log').read_text()[-3000:]}")
    return proc, url


async def one_session(browser, url: str, steps: int, timeout_ms: int, outside: list[str],
                      failed: list[str]) -> dict:
    """Open, render, step, close one session; returns its timings."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()

    async def route(r):
        u = r.request.url
        if u.startswith(url.rstrip("/")) or u.startswith(("data:", "blob:")):
            await r.continue_()
        else:
            outside.append(u)
            await r.abort()

    await page.route("**/*", route)
    page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    t0 = time.monotonic()
    await page.goto(url, timeout=timeout_ms)
    await page.locator(".commnet-month").first.wait_for(timeout=timeout_ms)
    # the classroom view's four charts, drawn in the browser (ECharts)
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.commnet-echart')]"
        ".filter(e => e.__vue__ && e.__vue__.chart).length === 4", timeout=timeout_ms)
    first = time.monotonic() - t0
    t1 = time.monotonic()
    for n in range(1, steps + 1):
        await page.get_by_role("button", name="Step", exact=True).click(timeout=timeout_ms)
        await page.get_by_text(f"Month {n} of", exact=False).first.wait_for(timeout=timeout_ms)
    stepped = time.monotonic() - t1
    await page.close(run_before_unload=True)  # the unload beacon closes the server's session
    await context.close()
    return {"first_render_s": first, "steps_s": stepped}


async def drive(url: str, sessions: int, concurrent: int, steps: int, timeout_s: float,
                on_peak) -> dict:
    """Run the sessions; ``on_peak()`` is sampled while they run."""
    from playwright.async_api import async_playwright

    outside: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    results: list[dict] = []
    gate = asyncio.Semaphore(concurrent)
    peak = 0.0

    async def guarded(i: int):
        async with gate:
            try:
                results.append(await one_session(browser, url, steps, int(timeout_s * 1000),
                                                 outside, failed))
            except Exception as exc:  # one slow session must not hide the others' numbers
                errors.append(f"session {i}: {type(exc).__name__}: {exc}"[:300])

    async def sample():
        nonlocal peak
        while True:
            peak = max(peak, on_peak())
            await asyncio.sleep(0.5)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        sampler = asyncio.create_task(sample())
        t0 = time.monotonic()
        await asyncio.gather(*(guarded(i) for i in range(sessions)))
        wall = time.monotonic() - t0
        sampler.cancel()
        await browser.close()
    return {"results": results, "errors": errors, "outside": outside, "failed": failed,
            "wall_s": wall, "peak_rss_mb": peak}


def _rounded(x):
    if isinstance(x, float):
        return round(x, 2)
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    return x


def main(argv: list[str] | None = None) -> int:
    """Run the load test and print (and optionally save) its numbers."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--concurrent", type=int, default=10)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "teaching.yaml"))
    ap.add_argument("--timeout", type=float, default=240.0, help="per-action timeout, seconds")
    ap.add_argument("--settle", type=float, default=10.0,
                    help="seconds to wait after the last kernel closed before measuring memory")
    ap.add_argument("--json", help="write the numbers to this file")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(args.scenario, Path(tmp))
        try:
            time.sleep(2.0)
            idle = rss_mb(proc.pid)
            cpu0 = cpu_s(proc.pid)
            out = asyncio.run(drive(url, args.sessions, args.concurrent, args.steps,
                                    args.timeout, lambda: rss_mb(proc.pid)))
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and kernels(url)["total"] > 0:
                time.sleep(1.0)
            time.sleep(args.settle)
            after = rss_mb(proc.pid)
            left = kernels(url)
            server_cpu = cpu_s(proc.pid) - cpu0
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    first = sorted(r["first_render_s"] for r in out["results"])
    report = {
        "sessions": args.sessions, "concurrent": args.concurrent, "steps": args.steps,
        "scenario": os.path.basename(args.scenario), "completed": len(first),
        "errors": out["errors"], "requests_outside_127.0.0.1": len(out["outside"]),
        "failed_requests": len(out["failed"]),
        "first_render_s": {"min": first[0], "median": statistics.median(first),
                           "max": first[-1]} if first else None,
        "steps_s_median": statistics.median(r["steps_s"] for r in out["results"])
        if out["results"] else None,
        "wall_s": out["wall_s"],
        "server_cpu_s_per_session": server_cpu / max(len(first), 1),
        "rss_mb": {"idle": idle, "peak": out["peak_rss_mb"], "after_close": after},
        "kernels_left": left["total"], "cpu_count": os.cpu_count(),
        "loadavg_1min": os.getloadavg()[0],
    }
    text = json.dumps(_rounded(report), indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    return 0 if not out["errors"] and not out["outside"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
