"""Executors: where runs execute, and the function that executes one run.

:func:`execute_run` is the unit of work: it builds a design point's scenario, runs one
replicate with :func:`simulation.results.run_replicate` and reduces the metrics to outcomes.
It never raises for a failing run — the error is returned as data, so one bad run never stops
a sweep.

:func:`open_executor` gives a ``concurrent.futures``-style executor:

* ``"local"`` (default) — a :class:`~concurrent.futures.ProcessPoolExecutor`, one worker
  per core;
* ``"dask"`` — Dask distributed: connect to a scheduler by address, or start a
  :class:`distributed.LocalCluster` on the loopback interface when none is given;
* ``"serial"`` — in this process, one run at a time (debugging, profiling);
* any :class:`concurrent.futures.Executor` instance (e.g. a ``ThreadPoolExecutor`` or a Dask
  ``client.get_executor()``), used as given and not shut down.

Results do not depend on the executor or the number of workers: every run's seed is fixed by
the design before anything is submitted.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

__all__ = [
    "ExecutorHandle",
    "RunTask",
    "SerialExecutor",
    "default_workers",
    "execute_run",
    "open_executor",
]


def default_workers() -> int:
    """Cores available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs to execute one run (picklable, self-contained)."""

    run_id: int
    point: int
    replicate: int
    seed: int
    base: dict[str, Any]
    values: dict[str, Any]
    outcomes: tuple[dict[str, Any], ...]
    keep_timeseries: bool = False
    base_key: str = ""  # identifies ``base`` (its case and hash): replicates share a scenario
    share_burn_in: bool = False  # every point has the same burn-in: share it per seed


#: Burned-in states of this worker process, shared by the runs of one seed at design points
#: that differ only from month 0 on (``RunTask.share_burn_in``; runs are replicate-major, so
#: the points of one seed follow each other).
_BURN_INS = None


def _burn_in_cache() -> Any:
    global _BURN_INS
    if _BURN_INS is None:
        from ..model import BurnInCache

        _BURN_INS = BurnInCache(max_items=4)
    return _BURN_INS


#: Validated scenarios of recent design points in this worker process, by (base_key, values):
#: the replicates of one point validate their scenario once, not once per run.
_SCENARIOS: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {}
_SCENARIOS_KEPT = 16


def _scenario_of(task: RunTask) -> tuple[Any, dict[str, Any]]:
    """The validated scenario of a task's design point and its data (cached per worker)."""
    from .spec import point_scenario

    key = (task.base_key, repr(sorted(task.values.items()))) if task.base_key else None
    hit = _SCENARIOS.get(key) if key else None
    if hit is not None:
        return hit
    hit = point_scenario(task.base, task.values)
    if key:
        if len(_SCENARIOS) >= _SCENARIOS_KEPT:
            _SCENARIOS.pop(next(iter(_SCENARIOS)))  # the oldest
        _SCENARIOS[key] = hit
    return hit


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        from ..loader import validation_problems

        lines = [f"{path}: {msg}" if path else msg
                 for _, path, msg in validation_problems(exc, {}, [("<point>", {})])]
        return "invalid scenario at this design point: " + "; ".join(lines)
    head = f"{type(exc).__name__}: {exc}"
    tb = "".join(traceback.format_exception(exc))
    return f"{head}\n\n{tb}"


def execute_run(task: RunTask) -> dict[str, Any]:
    """Execute one run; failures are returned (``status='failed'`` and the error text).

    Returns
    -------
    dict
        ``run_id``, ``status`` (``ok``/``failed``), ``error``, ``duration`` (seconds in the
        worker), ``model_seconds`` (seconds in the model), ``worker`` (host:pid),
        ``groups`` (group names + ``overall``), ``values`` (array groups × outcomes, or None)
        and ``timeseries`` (tidy frame if kept, else None).
    """
    from ..results import run_replicate
    from .outcomes import outcome_months, reduce_outcomes, shock_step

    t0 = time.perf_counter()
    out: dict[str, Any] = {
        "run_id": task.run_id, "status": "ok", "error": None, "model_seconds": np.nan,
        "worker": f"{socket.gethostname()}:{os.getpid()}", "groups": None, "values": None,
        "timeseries": None,
    }
    try:
        scenario, _ = _scenario_of(task)
        needed = {o["metric"] for o in task.outcomes}
        t1 = time.perf_counter()
        # only the outcomes' metrics at the months they read, unless the time series of
        # every metric is kept
        ts = run_replicate(scenario, task.seed, task.replicate,
                           metrics=None if task.keep_timeseries
                           else outcome_months(task.outcomes, scenario.steps, shock_step(scenario)),
                           burn_in_cache=_burn_in_cache() if task.share_burn_in else None)
        out["model_seconds"] = time.perf_counter() - t1
        groups = list(ts["group"].cat.categories)
        rows = len(ts) // len(groups)
        series = {m: ts[m].to_numpy(float).reshape(rows, len(groups)) for m in needed}
        out["groups"] = groups
        out["values"] = reduce_outcomes(series, task.outcomes, shock_step(scenario))
        if task.keep_timeseries:
            out["timeseries"] = ts
    except Exception as exc:
        out.update(status="failed", error=_error_text(exc), groups=None, values=None,
                   timeseries=None)
    out["duration"] = time.perf_counter() - t0
    return out


# --------------------------------------------------------------------------- executors


class SerialExecutor(Executor):
    """Runs each submitted call at once, in this process (a ``concurrent.futures`` executor)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Run ``fn(*args, **kwargs)`` now and return its completed future."""
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:
            fut.set_exception(exc)
        return fut


def _ignore_sigint() -> None:
    # Workers finish their run on Ctrl-C; the parent decides what to do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool(workers: int) -> ProcessPoolExecutor:
    # forkserver (Python 3.14's default): workers are forked from a clean server process
    # that has imported the simulator once, never from this process and its threads
    # (progress bar, notebook kernel, Dask client), so no lock is copied in a held state.
    # The server starts once per process (~1 import of the simulator); later pools are fast.
    ctx = multiprocessing.get_context("forkserver")
    # The compiled kernels are loaded there too (worker_preload), once per pool.
    ctx.set_forkserver_preload(["simulation.experiment.executors", "simulation.results",
                                "simulation.experiment.outcomes",
                                "simulation.experiment.worker_preload"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_ignore_sigint)


def _warm(executor: Executor, workers: int) -> None:
    """Start every worker now (before a progress thread exists)."""
    futures = [executor.submit(os.getpid) for _ in range(workers)]
    for f in futures:
        f.result()


def _terminate(executor: ProcessPoolExecutor) -> None:
    kill = getattr(executor, "terminate_workers", None)  # Python >= 3.14
    if kill is not None:
        kill()
        return
    for proc in list((getattr(executor, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            proc.terminate()
    executor.shutdown(wait=False, cancel_futures=True)


@dataclass
class ExecutorHandle:
    """An open executor with what the runner needs to know about it."""

    executor: Executor
    description: str
    slots: Callable[[], int]
    restart: Callable[[], Executor] | None = None
    abandon: Callable[[], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def open_executor(kind: str | Executor = "local", workers: int | None = None,
                  scheduler: str | None = None, *, processes: bool = True
                  ) -> Iterator[ExecutorHandle]:
    """Open an executor for a sweep (a context manager that closes what it opened).

    Parameters
    ----------
    kind : {"local", "dask", "serial"} or Executor
    workers : int, optional
        Local pool size, or the number of workers of a Dask ``LocalCluster`` (default: the
        cores available).  Ignored when connecting to a Dask scheduler.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); implies ``kind="dask"``.
    processes : bool
        Dask ``LocalCluster`` only: worker processes (default) or threads.
    """
    if scheduler is not None and kind == "local":
        kind = "dask"
    if isinstance(kind, Executor):
        n = workers or getattr(kind, "_max_workers", None) or default_workers()
        yield ExecutorHandle(kind, type(kind).__name__, lambda: n)
        return
    if kind == "serial":
        yield ExecutorHandle(SerialExecutor(), "serial (in this process)", lambda: 1)
        return
    if kind == "local":
        n = workers or default_workers()
        state = {"pool": _pool(n)}
        _warm(state["pool"], n)

        def restart() -> Executor:
            _terminate(state["pool"])
            state["pool"] = _pool(n)
            return state["pool"]

        def abandon() -> None:
            _terminate(state["pool"])

        try:
            yield ExecutorHandle(state["pool"], f"local process pool, {n} workers",
                                 lambda: n, restart, abandon)
        finally:
            state["pool"].shutdown(wait=True, cancel_futures=True)
        return
    if kind != "dask":
        raise ValueError(f"unknown executor {kind!r}; use local, dask or serial")
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise RuntimeError("the dask executor needs `pip install dask[distributed]`") from exc
    cluster = None
    if scheduler is None:
        import dask

        # no statistical profiler in our own workers: it samples every 10 ms in a thread of
        # the worker, competing for the GIL with the run (the workers inherit this setting)
        with dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                                   processes=processes, host="127.0.0.1", protocol="tcp",
                                   dashboard_address=None,
                                   silence_logs=logging.ERROR)
        client = Client(cluster)
        where = f"Dask LocalCluster on 127.0.0.1 ({len(cluster.workers)} workers)"
    else:
        client = Client(scheduler, timeout="30s")
        where = f"Dask scheduler {scheduler}"
    cache = {"t": 0.0, "n": 1}

    def slots() -> int:
        now = time.monotonic()
        if now - cache["t"] > 5.0:
            with contextlib.suppress(Exception):
                cache["n"] = max(1, sum(client.nthreads().values()))
            cache["t"] = now
        return cache["n"]

    executor = client.get_executor(pure=False)

    def abandon() -> None:
        with contextlib.suppress(Exception):
            executor.shutdown(wait=False)

    try:
        yield ExecutorHandle(executor, where, slots, None, abandon,
                             {"client": client, "cluster": cluster})
    finally:
        with contextlib.suppress(Exception):
            executor.shutdown(wait=False)
        client.close()
        if cluster is not None:
            cluster.close()
