"""A small version of ``benchmarks/app_load.py``: a few browser sessions open, step and close,
and the server releases them.

Nothing here asserts on a time (the benchmark reports those): only that every session renders
and steps, nothing leaves 127.0.0.1, no request fails, the server holds no session once the
tabs are closed, and its memory is back near where it was after a first (warm-up) session.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from pathlib import Path

import pytest
from test_app_browser import CHROMIUM, TEACHING, _require_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "app_load.py"


def _bench():
    spec = importlib.util.spec_from_file_location("app_load", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _wait_no_kernels(bench, url: str, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    k = bench.kernels(url)
    while time.monotonic() < deadline and k["total"] > 0:
        time.sleep(1.0)
        k = bench.kernels(url)
    return k


def test_sessions_open_step_close_and_are_released(tmp_path):
    _require_browser()
    assert Path(CHROMIUM).exists()
    bench = _bench()
    scenario = tmp_path / "teaching.yaml"
    scenario.write_text(TEACHING)
    proc, url = bench.start_server(str(scenario), tmp_path)
    try:
        # a first session warms the server up (imports, font cache, first figures)
        warm = asyncio.run(bench.drive(url, 1, 1, 1, 300.0, lambda: 0.0))
        assert not warm["errors"], warm["errors"]
        assert _wait_no_kernels(bench, url)["total"] == 0
        time.sleep(3.0)
        warmed = bench.rss_mb(proc.pid)
        out = asyncio.run(bench.drive(url, 4, 2, 2, 300.0, lambda: bench.rss_mb(proc.pid)))
        assert not out["errors"], out["errors"]
        assert len(out["results"]) == 4
        assert not out["outside"] and not out["failed"], (out["outside"], out["failed"])
        left = _wait_no_kernels(bench, url)
        assert left["total"] == 0, left  # closed tabs release their sessions
        time.sleep(3.0)
        after = bench.rss_mb(proc.pid)
        # ~9 MB per session used to stay; allow noise, not a per-session leak
        assert after < warmed + 60, (warmed, out["peak_rss_mb"], after)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
