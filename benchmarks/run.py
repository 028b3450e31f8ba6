"""The benchmark suite: one command, side by side in one run, JSON + a readable table.

``.venv/bin/python benchmarks/run.py [--quick] [--out benchmarks/out]``

Measures (see ``benchmarks/README.md`` for what each number means and the targets):

1. the exchange kernel (``simulation.exchange.degroot_step``) against its plain-loop Mesa-style
   reference at N = 10,000 on a Watts–Strogatz graph (k = 10, K = 8 service areas), and against
   the memory-bandwidth bound of this machine measured in the same run
   (:func:`bench_exchange.run`);
2. ``scenarios/east_of_england_2013.yaml`` for 60 steps end to end (load + build + steps), with
   metrics collection (the normal run) and without it, best of N;
3. ``scenarios/england_2013.yaml`` for 60 steps end to end in a subprocess of its own
   (``benchmarks/scenario_run.py``) so that its peak RSS reflects that run only;
4. a per-phase breakdown of a step at East of England and England scale: the model's phase
   methods and the DataCollector (and each metric reporter) are wrapped with timers *on the
   instance*, summed over several steps, and reported as exclusive CPU seconds per step and
   share of the step, with the bytes each phase must touch and its ratio to the DRAM copy
   bound measured in the same run (:func:`phase_bytes`);
5. a scaling ladder from a quarter of England to four times England (groups × 2 and × 4):
   CPU per step against ties (:func:`scaling`).

The process pins itself to one CPU (``os.sched_setaffinity``) where the OS allows it, since the
targets are "on one core"; the England subprocess inherits the pinning.  Timings use
``time.perf_counter`` and best-of-N.  Nothing here asserts on a time: a missed target is
reported, never raised.  Writes ``<out>/results.json`` and ``<out>/table.txt``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

import bench_exchange  # noqa: E402

from simulation import _kernels  # noqa: E402
from simulation.loader import load_scenario  # noqa: E402
from simulation.model import CommissioningModel  # noqa: E402
from simulation.results import git_commit, package_versions  # noqa: E402

EOE = "scenarios/east_of_england_2013.yaml"
ENGLAND = "scenarios/england_2013.yaml"
GiB = 2**30

#: Targets (issue 2 "Speed" and issue 5 deliverable 3), measured on one core.
TARGETS = {
    "exchange_speedup": (">=", 100.0, "×"),
    "exchange_over_bandwidth_bound": ("<=", 5.0, "×"),
    "eoe_60_steps_issue2": ("<=", 1.0, "s"),
    "eoe_60_steps_issue5": ("<=", 0.5, "s"),
    "england_60_steps": ("<=", 30.0, "s"),
    "england_peak_rss": ("<=", 2.0 * GiB, "bytes"),
    "england_60_steps_cpu_issue12": ("<=", 3.0, "s"),
    "england_peak_rss_issue12": ("<=", 0.5 * GiB, "bytes"),
    "exchange_speedup_issue12": (">=", 250.0, "×"),
    "exchange_speedup_100k_issue12": (">=", 100.0, "×"),
    "exchange_over_spmm_issue12": ("<=", 1.2, "×"),
    "exchange_over_bandwidth_bound_issue12": ("<=", 3.0, "×"),
    "eoe_cpu_median_issue24": ("<=", 0.15, "s"),
    "england_cpu_median_issue24": ("<=", 3.0, "s"),
    "step_over_bound_issue24": ("<=", 8.0, "×"),
}

#: Phase group → the model's phase methods (in step order).  ``feed_back_engagement`` is the
#: engagement half of the brief's phase 6 ("engagement feedback and turnover").
PHASE_GROUPS: dict[str, list[str]] = {
    "observation": ["fire_events", "drift_needs", "draw_attendance", "observe_need"],
    "exchange": ["exchange_knowledge", "spread_pathway"],
    "meetings": ["hold_locality_meetings", "hold_board_meeting", "hold_joint_forum",
                 "_refresh_board_view"],
    "decisions": ["decide"],
    "turnover": ["feed_back_engagement", "turn_over"],
    "tie dynamics": ["update_ties"],
    "metrics": ["track_shocks"],  # + every metric reporter ("metric:<name>")
    "data collection": ["datacollector.collect"],  # exclusive: collect() minus its reporters
}
PHASES = [m for g in PHASE_GROUPS.values() for m in g if "." not in m]


# ---------------------------------------------------------------------------
# machine, pinning, helpers
# ---------------------------------------------------------------------------


def _cpu_busy(cpus: list[int], interval: float = 0.5) -> dict[int, float]:
    """Busy fraction of each CPU over ``interval`` seconds, from /proc/stat (Linux)."""

    def snap() -> dict[int, tuple[int, int]]:
        out = {}
        with open("/proc/stat", encoding="utf-8") as fh:
            for line in fh:
                name, *vals = line.split()
                if name.startswith("cpu") and name[3:].isdigit():
                    v = [int(x) for x in vals]
                    out[int(name[3:])] = (sum(v), v[3] + v[4])  # total, idle + iowait
        return out

    a = snap()
    time.sleep(interval)
    b = snap()
    busy = {}
    for c in cpus:
        total, idle = b[c][0] - a[c][0], b[c][1] - a[c][1]
        busy[c] = 1.0 - idle / total if total else 0.0
    return busy


def pin_to_one_core() -> dict[str, Any]:
    """Pin this process (and its future children) to one CPU if the OS allows it: the least
    busy of the allowed CPUs over half a second (other work on a shared machine competes for
    a core, and the targets are per core)."""
    if not hasattr(os, "sched_setaffinity"):
        return {"pinned": False, "reason": "os.sched_setaffinity not available"}
    before = sorted(os.sched_getaffinity(0))
    try:
        busy = _cpu_busy(before)
    except (OSError, KeyError, ValueError):
        busy = {}
    cpu = min(before, key=lambda c: busy.get(c, 0.0))
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as err:
        return {"pinned": False, "reason": str(err), "affinity_before": before}
    return {"pinned": True, "affinity_before": before, "affinity": sorted(os.sched_getaffinity(0)),
            "cpu_busy_before_pinning": busy}


def _read_first(path: str, key: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def machine_info(pinning: dict[str, Any]) -> dict[str, Any]:
    """Platform, CPU, memory, Python and package versions, source revision."""
    mem = _read_first("/proc/meminfo", "MemTotal")
    try:
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "simulation", "scenarios"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10,
                               check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        dirty = ""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _read_first("/proc/cpuinfo", "model name") or platform.processor(),
        "cpu_count": os.cpu_count(),
        "memory_total_bytes": int(mem.split()[0]) * 1024 if mem else None,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "packages": package_versions(),
        "git_commit": git_commit(),
        "git_uncommitted_changes_in_simulation_or_scenarios": bool(dirty),
        "cpu_pinning": pinning,
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def runs_stats(runs: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    """Median, min, max and spread (max − min, and as a share of the median) of ``keys``
    over ``runs`` (issue 24: three runs, medians and spread, CPU and wall)."""
    import statistics

    out: dict[str, Any] = {"n": len(runs)}
    for k in keys:
        xs = sorted(r[k] for r in runs if r.get(k) is not None)
        if not xs:
            continue
        med = statistics.median(xs)
        out[k] = {"median": med, "min": xs[0], "max": xs[-1], "spread": xs[-1] - xs[0],
                  "spread_share": (xs[-1] - xs[0]) / med if med else None}
    return out


def _status(key: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    op, target, _ = TARGETS[key]
    ok = value >= target if op == ">=" else value <= target
    return "met" if ok else "MISSED"


# ---------------------------------------------------------------------------
# 1. exchange kernel
# ---------------------------------------------------------------------------


def bench_kernel(quick: bool) -> dict[str, Any]:
    """bench_exchange.run() at N = 10,000, k = 10, K = 8, with the headline numbers pulled out."""
    kw = {"repeats": 2, "number": 5, "bandwidth_mb": 256} if quick else \
        {"repeats": 5, "number": 20, "bandwidth_mb": 512}
    t0 = time.perf_counter()
    raw = bench_exchange.run(n=10_000, k_neighbours=10, K=8, seed=0, **kw)
    d, bw = raw["degroot"], raw["bandwidth"]
    large_n = 20_000 if quick else 100_000
    large = bench_exchange.run_speedup(n=large_n, repeats=2 if quick else 3)
    return {
        "call": f"bench_exchange.run(n=10_000, k_neighbours=10, K=8, seed=0, {kw}); "
                f"bench_exchange.run_speedup(n={large_n})",
        "wall_s": time.perf_counter() - t0,
        "speedup_over_mesa_loop": d["speedup_mesa_loop_over_vectorised"],
        "time_over_bandwidth_bound": bw["degroot_time_over_bandwidth_bound"],
        "time_over_spmm": d["vectorised_s"] / d["scipy_spmm_only_s"],
        "spmm_over_bandwidth_bound": bw["scipy_spmm_time_over_bandwidth_bound"],
        "large": large,
        "raw": raw,
    }


# ---------------------------------------------------------------------------
# 2. a scenario end to end, in process
# ---------------------------------------------------------------------------


def time_scenario(path: str, overrides: list[str], steps: int, repeats: int,
                  kernels: str = "numpy") -> dict[str, Any]:
    """Best-of-``repeats`` load + build + ``steps`` steps, with and without metrics collection
    (repeats interleaved so that drift of the machine affects both alike), on the kernel path
    ``kernels`` (``COMMNET_KERNELS``; ``numba`` is loaded before timing: a worker pool's
    situation, which loads it once per pool)."""
    runs: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    info: dict[str, Any] = {}
    before = os.environ.get("COMMNET_KERNELS")
    os.environ["COMMNET_KERNELS"] = kernels
    try:
        _time_runs(path, overrides, steps, repeats, runs, info)
    finally:
        if before is None:
            os.environ.pop("COMMNET_KERNELS", None)
        else:
            os.environ["COMMNET_KERNELS"] = before
    out: dict[str, Any] = {"scenario": path, "overrides": overrides, "steps": steps,
                           "repeats": repeats, "kernels": kernels, **info}
    for collect, name in ((True, "with_collection"), (False, "without_collection")):
        best = min(runs[collect], key=lambda r: r["end_to_end_s"])
        out[name] = {"best": best, "runs": runs[collect],
                     "stats": runs_stats(runs[collect], ("end_to_end_cpu_s", "end_to_end_s",
                                                         "build_s", "steps_s"))}
    out["collection_cost_s"] = (out["with_collection"]["best"]["end_to_end_s"]
                                - out["without_collection"]["best"]["end_to_end_s"])
    return out


def _time_runs(path: str, overrides: list[str], steps: int, repeats: int,
               runs: dict[bool, list[dict[str, float]]], info: dict[str, Any]) -> None:
    _kernels.kernels()  # numba's import and the kernels' load (numba path only), not timed
    for _ in range(repeats):
        for collect in (True, False):
            gc.collect()
            c0 = time.process_time()
            t0 = time.perf_counter()
            s = load_scenario(path, overrides)
            t1 = time.perf_counter()
            m = CommissioningModel(s, collect=collect)
            t2 = time.perf_counter()
            c2 = time.process_time()
            for _ in range(steps):
                m.step()
            t3 = time.perf_counter()
            c3 = time.process_time()
            runs[collect].append({"load_s": t1 - t0, "build_s": t2 - t1, "steps_s": t3 - t2,
                                  "end_to_end_s": t3 - t0, "end_to_end_cpu_s": c3 - c0,
                                  "build_cpu_s": c2 - c0, "steps_cpu_s": c3 - c2})
            info.update({"n_agents": int(m.n_agents), "n_groups": int(m.n_groups),
                         "n_practices": int(m.pop.list_size.size), "ties_final": int(m.ties.m)})
            del m, s


# ---------------------------------------------------------------------------
# 3. a scenario end to end, in a subprocess (peak memory)
# ---------------------------------------------------------------------------


def run_subprocess(path: str, overrides: list[str], steps: int, repeats: int) -> dict[str, Any]:
    """Run ``benchmarks/scenario_run.py`` ``repeats`` times; best time, largest peak RSS (the
    child's own ``VmHWM``: on Linux ``ru_maxrss``, of the child or ``RUSAGE_CHILDREN``, starts
    from this process's RSS at fork, so it would not reflect that run only)."""
    cmd = [sys.executable, str(HERE / "scenario_run.py"), path, "--steps", str(steps)]
    for o in overrides:
        cmd += ["--set", o]
    runs, errors = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            errors.append({"returncode": proc.returncode, "stderr_tail": proc.stderr[-2000:]})
            continue
        rec = json.loads(proc.stdout.strip().splitlines()[-1])
        rec["process_wall_s"] = wall  # interpreter start + imports + run
        runs.append(rec)
    out: dict[str, Any] = {"command": shlex.join(cmd), "scenario": path, "overrides": overrides,
                           "steps": steps, "repeats": repeats, "runs": runs, "errors": errors}
    if runs:
        best = min(runs, key=lambda r: r["end_to_end_s"])
        out["best"] = best
        out["stats"] = runs_stats(runs, ("end_to_end_cpu_s", "end_to_end_s", "build_cpu_s",
                                         "process_wall_s", "peak_rss_bytes"))
        out["end_to_end_s"] = best["end_to_end_s"]
        out["peak_rss_bytes"] = max(r["peak_rss_bytes"] for r in runs)
    return out


# ---------------------------------------------------------------------------
# 4. per-phase breakdown
# ---------------------------------------------------------------------------


class PhaseTimer:
    """Exclusive (self) time of wrapped callables: time spent in a nested wrapped call is
    charged to the inner one only, so the phases add up without double counting (the board
    meeting calls ``_refresh_board_view``; ``collect`` calls the metric reporters)."""

    def __init__(self) -> None:
        self.self_s: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._stack: list[list[float]] = []

    def wrap(self, name: str, fn):
        stack, self_s, calls = self._stack, self.self_s, self.calls

        def timed(*args, **kwargs):
            frame = [0.0]
            stack.append(frame)
            t0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.process_time() - t0
                stack.pop()
                self_s[name] += dt - frame[0]
                calls[name] += 1
                if stack:
                    stack[-1][0] += dt

        timed.__name__ = getattr(fn, "__name__", name)
        timed.__doc__ = getattr(fn, "__doc__", None)
        return timed


def instrument(model: CommissioningModel) -> PhaseTimer:
    """Wrap the phase methods, the DataCollector and its reporters on this instance only."""
    timer = PhaseTimer()
    for name in PHASES:
        setattr(model, name, timer.wrap(name, getattr(model, name)))
    if model.collect:
        dc = model.datacollector
        for var, rep in list(dc.model_reporters.items()):
            dc.model_reporters[var] = timer.wrap(f"metric:{var}", rep)
        dc.collect = timer.wrap("datacollector.collect", dc.collect)
    return timer


def phase_breakdown(path: str, overrides: list[str], steps: int, repeats: int) -> dict[str, Any]:
    """Seconds per step per phase over ``steps`` steps of a freshly built model (build not
    timed; steps 1..``steps`` cover whole decision and structure-metric cycles).  Best of
    ``repeats`` passes by total step time, each pass on a fresh model."""
    best = None
    totals = []
    for _ in range(repeats):
        s = load_scenario(path, overrides)
        m = CommissioningModel(s)
        timer = instrument(m)
        gc.collect()
        c0 = time.process_time()
        t0 = time.perf_counter()
        for _ in range(steps):
            m.step()
        wall = time.perf_counter() - t0
        total = time.process_time() - c0  # phases are CPU time: the machine may be shared
        totals.append(total)
        if best is None or total < best[0]:
            best = (total, timer, int(m.n_agents), int(m.ties.m), wall, phase_bytes(m))
        del m, s
    total, timer, n_agents, ties, wall, nbytes = best
    cpu = total
    per = {k: v / steps for k, v in timer.self_s.items()}
    step_s = total / steps
    metric_names = sorted((k for k in per if k.startswith("metric:")), key=per.get, reverse=True)
    groups = {}
    for g, members in PHASE_GROUPS.items():
        names = members + (metric_names if g == "metrics" else [])
        sec = sum(per.get(n, 0.0) for n in names)
        groups[g] = {
            "s_per_step": sec,
            "share": sec / step_s,
            "phases": {n: {"s_per_step": per.get(n, 0.0), "share": per.get(n, 0.0) / step_s,
                           "calls": timer.calls.get(n, 0)}
                       for n in members},
        }
    accounted = sum(g["s_per_step"] for g in groups.values())
    groups["other (step bookkeeping, timers)"] = {"s_per_step": step_s - accounted,
                                                  "share": (step_s - accounted) / step_s,
                                                  "phases": {}}
    return {
        "scenario": path, "overrides": overrides, "steps_timed": steps, "repeats": repeats,
        "n_agents": n_agents, "ties_final": ties,
        "step_s": step_s, "pass_totals_s": totals, "best_pass_cpu_over_wall": cpu / wall,
        "clock": "time.process_time (CPU)", "bytes_per_step": nbytes,
        "groups": groups,
        "metrics_by_reporter": {n.removeprefix("metric:"): {"s_per_step": per[n],
                                                            "share": per[n] / step_s}
                                for n in metric_names},
    }


def phase_bytes(m: CommissioningModel) -> dict[str, int]:
    """Bytes each phase group must touch per step at least: its inputs read once and its
    outputs written once (a lower bound: no temporaries, no re-reads, perfect reuse).

    With ``n`` agents, ``K`` services, ``m`` ties, ``u`` ties used this month and 8-byte floats
    and indices: observation reads need, belief and private view and writes both views and
    the normal draws (6nK·8 + 3n·8: engagement, attendance draws, activity); exchange reads
    the ties (3m·8) and the CSR structure (2m·12), writes and reads W of the used ties
    (2·2u·12), reads and writes beliefs and objectives (4nK·8) plus contact / exchange counts
    (2n·8); meetings read and write beliefs and objectives (4nK·8); turnover reads
    engagement, the leave draws and the tie ends (2n·8 + 2m·8); tie dynamics reads tie ends
    and weights (3m·8), writes the new tie list (3m·8), the tie keys for persistence (m·8),
    degrees (n·8) and the CSR structure of the kept ties (2m·12); metrics read beliefs,
    objectives, truth and private views (4nK·8) and the ties (3m·8); decisions touch
    (groups + areas) × K budgets only.
    """
    n, k = m.belief.shape
    t = int(m.ties.m)
    used = int(m.exchanges.sum() // 2)
    f = 8
    g = (m.n_groups + m.pop.n_areas) * k * f * 6
    return {
        "observation": 6 * n * k * f + 3 * n * f,
        "exchange": 3 * t * f + 2 * t * 12 + 2 * 2 * used * 12 + 4 * n * k * f + 2 * n * f,
        "meetings": 4 * n * k * f,
        "decisions": g,
        "turnover": 2 * n * f + 2 * t * f,
        "tie dynamics": 3 * t * f + 3 * t * f + t * f + n * f + 2 * t * 12,
        "metrics": 4 * n * k * f + 3 * t * f,
        "data collection": 0,
    }


def phase_bound_rows(ph: dict[str, Any], bandwidth: float) -> list[dict[str, Any]]:
    """Per phase group: bytes, CPU time per step, DRAM copy bound (bytes / bandwidth) and the
    ratio time / bound."""
    rows = []
    total_b = 0
    for g, v in ph["groups"].items():
        b = ph["bytes_per_step"].get(g)
        if b is None:
            continue
        total_b += b
        bound = b / bandwidth
        rows.append({"phase": g, "bytes": b, "s_per_step": v["s_per_step"], "bound_s": bound,
                     "ratio": v["s_per_step"] / bound if bound else None})
    bound = total_b / bandwidth
    rows.append({"phase": "step", "bytes": total_b, "s_per_step": ph["step_s"], "bound_s": bound,
                 "ratio": ph["step_s"] / bound})
    return rows


#: The scaling ladder: England at a quarter and half its size (``scale``), as it is, and with
#: two and four times the groups at the same group sizes (``generate.groups`` and the total
#: population multiplied together), no burn-in (the step cost is what is measured).
SCALING = [
    ("England × 0.25", ["scale=0.25"]),
    ("England × 0.5", ["scale=0.5"]),
    ("England", []),
    ("England × 2 (422 groups)", ["generate.groups=422", "generate.population.total=107800000"]),
    ("England × 4 (844 groups)", ["generate.groups=844", "generate.population.total=215600000"]),
]


def scaling(steps: int, quick: bool) -> dict[str, Any]:
    """CPU per step (median over steps 2..N, with metrics) against the number of ties, each
    size in a subprocess of its own (peak RSS of that size only); the exponent between
    neighbouring sizes is d log(time) / d log(ties) (1 = linear)."""
    ladder = SCALING[:3] if quick else SCALING
    rows = []
    for label, ov in ladder:
        cmd = [sys.executable, str(HERE / "scenario_run.py"), ENGLAND, "--steps", str(steps),
               "--step-cpu", "--set", "burn_in=0"]
        for o in ov:
            cmd += ["--set", o]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            rows.append({"label": label, "overrides": ov, "error": proc.stderr[-2000:]})
            continue
        rec = json.loads(proc.stdout.strip().splitlines()[-1])
        per = sorted(rec["step_cpu_s"][1:]) or rec["step_cpu_s"]
        rows.append({"label": label, "overrides": ov, "command": shlex.join(cmd),
                     "n_agents": rec["n_agents"], "n_groups": rec["n_groups"],
                     "ties": rec["ties_final"], "step_cpu_s": per[len(per) // 2],
                     "all_step_cpu_s": rec["step_cpu_s"], "peak_rss_bytes": rec["peak_rss_bytes"],
                     "build_cpu_s": rec["build_cpu_s"]})
    import itertools
    import math

    ok = [r for r in rows if "error" not in r]
    for a, b in itertools.pairwise(ok):
        b["exponent_vs_previous"] = (math.log(b["step_cpu_s"] / a["step_cpu_s"])
                                     / math.log(b["ties"] / a["ties"]))
    return {"steps": steps, "rows": rows}


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x * 1e3:.2f} ms" if x < 0.1 else f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def headline_rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, measured, target, status) rows of the summary table."""
    quick = res["quick"]
    k, e, en = res["exchange_kernel"], res["east_of_england"], res["england"]
    e_with = e["with_collection"]["best"]["end_to_end_s"]
    e_without = e["without_collection"]["best"]["end_to_end_s"]
    e_cpu = e["with_collection"]["best"]["end_to_end_cpu_s"]
    e_cpu_without = e["without_collection"]["best"]["end_to_end_cpu_s"]
    rows = [
        ("Exchange kernel (DeGroot) speed-up vs Mesa plain-loop model, N=10,000",
         f"{k['speedup_over_mesa_loop']:.0f}×", "≥ 100×",
         _status("exchange_speedup", k["speedup_over_mesa_loop"])),
        ("  same", f"{k['speedup_over_mesa_loop']:.0f}×", "≥ 250× (issue 12)",
         _status("exchange_speedup_issue12", k["speedup_over_mesa_loop"])),
        (f"  same at N={k['large']['n']:,} (one Mesa step)",
         f"{k['large']['speedup_mesa_loop_over_vectorised']:.0f}×", "≥ 100× (issue 12)",
         "n/a (quick)" if quick else _status("exchange_speedup_100k_issue12",
                                             k["large"]["speedup_mesa_loop_over_vectorised"])),
        ("Exchange kernel time / scipy's bare W @ X (N=10,000)", f"{k['time_over_spmm']:.2f}×",
         "≤ 1.2× (issue 12)", _status("exchange_over_spmm_issue12", k["time_over_spmm"])),
        ("Exchange kernel time / bandwidth bound (same run)",
         f"{k['time_over_bandwidth_bound']:.1f}×", "≤ 5×",
         _status("exchange_over_bandwidth_bound", k["time_over_bandwidth_bound"])),
        ("  same", f"{k['time_over_bandwidth_bound']:.1f}×", "≤ 3× (issue 12)",
         _status("exchange_over_bandwidth_bound_issue12", k["time_over_bandwidth_bound"])),
        ("  scipy's bare W @ X / bandwidth bound (the floor without a fused kernel)",
         f"{k['spmm_over_bandwidth_bound']:.1f}×", "—", ""),
        (f"east_of_england_2013, 60 steps e2e, with metrics (best of {e['repeats']})",
         _fmt_s(e_with), "≤ 1 s (issue 2)", _status("eoe_60_steps_issue2", e_with)),
        ("  same", _fmt_s(e_with), "≤ 0.5 s (issue 5)", _status("eoe_60_steps_issue5", e_with)),
        ("  CPU time of that run", _fmt_s(e_cpu), "—", ""),
        ("  same, without metrics collection (collect=False)", _fmt_s(e_without), "—",
         f"metrics cost {_fmt_s(e['collection_cost_s'])}"),
        ("  CPU time of that run", _fmt_s(e_cpu_without), "—", ""),
    ]
    label = "england_2013" + (f" [QUICK: {', '.join(en['overrides'])}, {en['steps']} steps]"
                              if quick else f", {en['steps']} steps e2e incl. build")
    t = en.get("end_to_end_s")
    t_cpu = en["best"]["end_to_end_cpu_s"] if en.get("best") else None
    rss = en.get("peak_rss_bytes")
    rows += [
        (label, _fmt_s(t), "≤ 30 s", "n/a (quick)" if quick else _status("england_60_steps", t)),
        ("  CPU time of that run (build incl. the burn-in months + steps)", _fmt_s(t_cpu),
         "≤ 3 s (issue 12)",
         "n/a (quick)" if quick else _status("england_60_steps_cpu_issue12", t_cpu)),
        ("  peak RSS of that run (own process, VmHWM)", f"{rss / GiB:.2f} GiB" if rss else "—",
         "≤ 2 GiB", "n/a (quick)" if quick else _status("england_peak_rss", rss)),
        ("  same", f"{rss / GiB:.2f} GiB" if rss else "—", "≤ 0.5 GiB (issue 12)",
         "n/a (quick)" if quick else _status("england_peak_rss_issue12", rss)),
    ]
    return rows


def spread_rows(res: dict[str, Any]) -> list[tuple[str, ...]]:
    """(run, n, CPU median, CPU range, wall median, wall range, target, status) rows."""
    def rng(st: dict[str, Any]) -> str:
        sh = st.get("spread_share")
        return f"{_fmt_s(st['min'])}–{_fmt_s(st['max'])}" + (f" ({sh:.0%})" if sh is not None
                                                             else "")

    e, en = res["east_of_england"], res["england"]
    rows = []
    for name, label, key in (("with_collection", "east_of_england_2013, 60 steps, with metrics",
                              "eoe_cpu_median_issue24"),
                             ("without_collection", "  same, without metrics", None)):
        st = e[name]["stats"]
        c, w = st["end_to_end_cpu_s"], st["end_to_end_s"]
        rows.append((label, str(st["n"]), _fmt_s(c["median"]), rng(c), _fmt_s(w["median"]),
                     rng(w), "≤ 0.15 s" if key else "—",
                     _status(key, c["median"]) if key else ""))
    ec = res.get("east_of_england_compiled")
    for name, label in (("with_collection", "  same, compiled kernels (loaded), with metrics"),
                        ("without_collection", "  same, compiled kernels, without metrics")):
        if ec:
            st = ec[name]["stats"]
            c, w = st["end_to_end_cpu_s"], st["end_to_end_s"]
            key = "eoe_cpu_median_issue24" if name == "with_collection" else None
            rows.append((label, str(st["n"]), _fmt_s(c["median"]), rng(c), _fmt_s(w["median"]),
                         rng(w), "≤ 0.15 s" if key else "—",
                         _status(key, c["median"]) if key else ""))
    st = en.get("stats")
    if st:
        c, w = st["end_to_end_cpu_s"], st["end_to_end_s"]
        label = f"england_2013{' [QUICK]' if res['quick'] else ''}, {en['steps']} steps, with metrics"
        rows.append((label, str(st["n"]), _fmt_s(c["median"]), rng(c), _fmt_s(w["median"]),
                     rng(w), "≤ 3 s", "n/a (quick)" if res["quick"]
                     else _status("england_cpu_median_issue24", c["median"])))
        pw = st["process_wall_s"]
        rows.append(("  same, whole process (interpreter + imports) wall", str(st["n"]), "—", "—",
                     _fmt_s(pw["median"]), rng(pw), "—", ""))
    return rows


def contention(res: dict[str, Any]) -> dict[str, Any]:
    """CPU time / wall time of the timed runs, and the load average: below ~95 % another
    process took the pinned core for part of the run and the wall times are pessimistic."""
    out: dict[str, Any] = {}
    e = res["east_of_england"]["with_collection"]["best"]
    out["east_of_england_best_run"] = e["end_to_end_cpu_s"] / e["end_to_end_s"]
    en = res["england"].get("best")
    if en:
        out["england_run"] = en["end_to_end_cpu_s"] / en["end_to_end_s"]
    for scale, ph in res["phases"].items():
        out[f"phases {scale}"] = ph["best_pass_cpu_over_wall"]
    m = res["machine"]
    out["load_average_at_start"] = m.get("load_average_at_start")
    out["load_average_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    return out


def contention_text(c: dict[str, Any]) -> str:
    """One line for the report."""
    ratios = ", ".join(f"{k} {v:.0%}" for k, v in c.items() if isinstance(v, float))
    la = c.get("load_average_at_start"), c.get("load_average_at_end")
    loads = " / ".join(f"{x[0]:.2f}" if x else "—" for x in la)
    return (f"CPU/wall of timed runs: {ratios} (below ~95% = the core was shared, wall times "
            f"pessimistic); 1-min load average start / end: {loads}")


def print_report(res: dict[str, Any], out_dir: Path) -> str:
    """Print the tables (rich if available) and return them as plain text."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a project dependency
        return _plain_report(res)

    console = Console(record=True, width=130)
    m = res["machine"]
    dirty = m["git_uncommitted_changes_in_simulation_or_scenarios"]
    console.print(f"[bold]commnet benchmarks[/bold]  {res['timestamp']}  "
                  f"{'[yellow]QUICK MODE[/yellow]' if res['quick'] else 'full'}")
    console.print(f"{m['cpu_model']} · {m['cpu_count']} CPUs · pinned to "
                  f"{m['cpu_pinning'].get('affinity', 'not pinned')} · Python {m['python']} · "
                  f"mesa {m['packages'].get('mesa')} · numpy {m['packages'].get('numpy')} · "
                  f"commit {str(m['git_commit'])[:10]}"
                  f"{' (+uncommitted changes)' if dirty else ''}")
    console.print(f"command: {res['command']}")

    t = Table(title="Targets", title_justify="left")
    for col in ("measure", "measured", "target", "status"):
        t.add_column(col, justify="right" if col != "measure" else "left")
    for row in headline_rows(res):
        style = "red" if row[3] == "MISSED" else None
        t.add_row(*row, style=style)
    console.print(t)

    t = Table(title="Three runs, median and spread (issue 24): load + build incl. burn-in + "
                    "steps", title_justify="left",
              caption="spread = max − min (share of the median); CPU = time.process_time; "
                      "England in a process of its own (imports excluded)",
              caption_justify="left")
    for col in ("run", "n", "CPU median", "CPU min–max", "wall median", "wall min–max",
                "target (CPU)", "status"):
        t.add_column(col, justify="right" if col != "run" else "left")
    for row in spread_rows(res):
        t.add_row(*row, style="red" if row[-1] == "MISSED" else None)
    console.print(t)

    k = res["exchange_kernel"]["raw"]
    d, hk, bw = k["degroot"], k["hegselmann_krause"], k["bandwidth"]
    t = Table(title=f"Exchange kernel detail (N={k['n']:,}, k={k['k_neighbours']}, K={k['K']}, "
                    f"nnz={k['nnz']:,})", title_justify="left")
    for col in ("", "time / step", "speed-up of vectorised", "max |diff|"):
        t.add_column(col, justify="right" if col else "left")
    t.add_row("DeGroot vectorised (degroot_step)", _fmt_s(d["vectorised_s"]), "1×", "")
    t.add_row("  scipy W @ X alone", _fmt_s(d["scipy_spmm_only_s"]), "", "")
    t.add_row("  Mesa model, plain neighbour loop", _fmt_s(d["mesa_loop_s"]),
              f"{d['speedup_mesa_loop_over_vectorised']:.0f}×", f"{d['max_abs_diff_mesa_loop']:.1e}")
    t.add_row("  Mesa model, vectorised within agent", _fmt_s(d["mesa_agent_rowvec_s"]),
              f"{d['speedup_mesa_rowvec_over_vectorised']:.0f}×",
              f"{d['max_abs_diff_mesa_rowvec']:.1e}")
    t.add_row("  degroot_step_loop", _fmt_s(d["loop_reference_s"]),
              f"{d['speedup_loop_reference_over_vectorised']:.0f}×",
              f"{d['max_abs_diff_loop_reference']:.1e}")
    t.add_row("Hegselmann–Krause vectorised", _fmt_s(hk["vectorised_s"]), "1×", "")
    t.add_row("  Mesa model, plain loop", _fmt_s(hk["mesa_loop_s"]),
              f"{hk['speedup_mesa_loop_over_vectorised']:.0f}×", f"{hk['max_abs_diff_mesa_loop']:.1e}")
    t.add_row("Bandwidth bound for DeGroot's bytes", _fmt_s(bw["degroot_bandwidth_bound_s"]),
              f"copy {bw['copy_bandwidth_bytes_per_s'] / 1e9:.1f} GB/s",
              f"{bw['degroot_kernel_bytes'] / 1e6:.1f} MB")
    console.print(t)

    for scale, ph in res["phases"].items():
        t = Table(title=f"Per-phase breakdown, {scale}: {ph['n_agents']:,} agents, "
                        f"step = {_fmt_s(ph['step_s'])}", title_justify="left",
                  caption=f"{shlex.join([ph['scenario'], *ph['overrides']])}; exclusive time per "
                          f"step, mean over steps 1-{ph['steps_timed']}; ×n = calls",
                  caption_justify="left", min_width=100)
        for col in ("phase", "per step", "share"):
            t.add_column(col, justify="right" if col != "phase" else "left")
        ranked = sorted(ph["groups"].items(), key=lambda kv: kv[1]["s_per_step"], reverse=True)
        for g, v in ranked:
            t.add_row(f"[bold]{g}[/bold]", _fmt_s(v["s_per_step"]), f"{v['share']:.1%}")
            for n, pv in v["phases"].items():
                if pv["calls"]:
                    t.add_row(f"  {n} ×{pv['calls']}", _fmt_s(pv["s_per_step"]),
                              f"{pv['share']:.1%}", style="dim")
            if g == "metrics":
                for n, mv in list(ph["metrics_by_reporter"].items())[:5]:
                    t.add_row(f"  metric {n}", _fmt_s(mv["s_per_step"]), f"{mv['share']:.1%}",
                              style="dim")
        console.print(t)
    bw = res["exchange_kernel"]["raw"]["bandwidth"]["copy_bandwidth_bytes_per_s"]
    for scale, ph in res["phases"].items():
        t = Table(title=f"Phase bytes and bounds, {scale} (copy bandwidth {bw / 1e9:.1f} GB/s, "
                        f"same run)", title_justify="left",
                  caption="bytes = inputs read once + outputs written once (phase_bytes); "
                          "bound = bytes / bandwidth; ratio = CPU time / bound",
                  caption_justify="left")
        for col in ("phase", "bytes", "CPU / step", "DRAM bound", "ratio", "issue 12",
                    "issue 24"):
            t.add_column(col, justify="right" if col != "phase" else "left")
        for r in phase_bound_rows(ph, bw):
            verdicts = []
            # issue 12: the step ≤ 5×, no phase above 8×; issue 24: the step ≤ 8×, none above 10×
            for step_limit, phase_limit in ((5.0, 8.0), (8.0, 10.0)):
                limit = step_limit if r["phase"] == "step" else phase_limit
                verdicts.append("" if not r["ratio"] else
                                f"≤ {limit:g}× {'met' if r['ratio'] <= limit else 'MISSED'}")
            t.add_row(r["phase"], f"{r['bytes'] / 1e6:.1f} MB", _fmt_s(r["s_per_step"]),
                      _fmt_s(r["bound_s"]), f"{r['ratio']:.1f}×" if r["ratio"] else "—",
                      *verdicts)
        console.print(t)
    sc = res.get("scaling")
    if sc:
        t = Table(title=f"Scaling (CPU per step with metrics, median of steps 2-{sc['steps']}, "
                        "no burn-in)", title_justify="left")
        for col in ("size", "agents", "groups", "ties", "CPU / step", "exponent vs previous",
                    "peak RSS"):
            t.add_column(col, justify="right" if col != "size" else "left")
        for r in sc["rows"]:
            if "error" in r:
                t.add_row(r["label"], "failed", "", "", "", "", "")
                continue
            e = r.get("exponent_vs_previous")
            t.add_row(r["label"], f"{r['n_agents']:,}", str(r["n_groups"]), f"{r['ties']:,}",
                      _fmt_s(r["step_cpu_s"]), f"{e:.2f}" if e is not None else "—",
                      f"{r['peak_rss_bytes'] / GiB:.2f} GiB")
        console.print(t)
    console.print(contention_text(res["contention"]))
    console.print(f"JSON: {out_dir / 'results.json'}")
    return console.export_text()


def _plain_report(res: dict[str, Any]) -> str:  # pragma: no cover - fallback without rich
    lines = [f"commnet benchmarks {res['timestamp']} {'QUICK' if res['quick'] else 'full'}"]
    lines += [f"{a:<70} {b:>12} {c:>18} {d}" for a, b, c, d in headline_rows(res)]
    lines += ["", "three runs: run, n, CPU median, CPU min-max, wall median, wall min-max, "
              "target, status"]
    lines += ["  ".join(r) for r in spread_rows(res)]
    for scale, ph in res["phases"].items():
        lines.append(f"\nphases, {scale} (step = {_fmt_s(ph['step_s'])})")
        for g, v in sorted(ph["groups"].items(), key=lambda kv: -kv[1]["s_per_step"]):
            lines.append(f"  {g:<40} {_fmt_s(v['s_per_step']):>12} {v['share']:>7.1%}")
    lines.append(contention_text(res["contention"]))
    text = "\n".join(lines)
    print(text)
    return text


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description="commnet benchmark suite (see benchmarks/README.md)")
    ap.add_argument("--quick", action="store_true",
                    help="fewer repeats; England at scale=0.1 and 12 steps (targets not comparable)")
    ap.add_argument("--out", default=None,
                    help="output directory (default benchmarks/out in the repository)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="best-of-N for east_of_england_2013 (default 3; 1 with --quick)")
    ap.add_argument("--england-repeats", type=int, default=3,
                    help="runs of the England subprocess (default 3: median and spread)")
    ap.add_argument("--phase-steps", type=int, default=12,
                    help="steps summed in the per-phase breakdown (default 12)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    ap.add_argument("--scaling-steps", type=int, default=6,
                    help="steps per size in the scaling ladder (default 6)")
    ap.add_argument("--no-scaling", action="store_true", help="skip the scaling ladder")
    args = ap.parse_args(argv)
    out_dir = Path(args.out).resolve() if args.out else HERE / "out"
    os.chdir(ROOT)  # scenario paths are relative to the repository
    out_dir.mkdir(parents=True, exist_ok=True)
    quick = args.quick
    repeats = args.repeats or (1 if quick else 3)
    england_ov = ["scale=0.1"] if quick else []
    england_steps = 12 if quick else 60

    pinning = {"pinned": False, "reason": "--no-pin"} if args.no_pin else pin_to_one_core()
    res: dict[str, Any] = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join([sys.executable, *sys.argv]),
        "cwd": str(ROOT),
        "quick": quick,
        "machine": machine_info(pinning),
        "targets": {k: {"op": op, "value": v, "unit": u} for k, (op, v, u) in TARGETS.items()},
    }
    t_all = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - t_all:6.1f} s] {msg}", file=sys.stderr, flush=True)

    say("1/4 exchange kernel vs Mesa-style loop and bandwidth bound (N=10,000)")
    res["exchange_kernel"] = bench_kernel(quick)
    say(f"2/4 {EOE}: 60 steps end to end, best of {repeats}, with and without collection")
    res["east_of_england"] = time_scenario(EOE, [], 60, repeats)
    if _kernels.kernels() is not None:  # COMMNET_KERNELS allows the compiled path here
        say(f"2b {EOE}: the same on the compiled kernels (numba loaded before timing)")
        res["east_of_england_compiled"] = time_scenario(EOE, [], 60, repeats, kernels="numba")
    say(f"3/4 {ENGLAND} {' '.join(england_ov)}: {england_steps} steps in a subprocess")
    res["england"] = run_subprocess(ENGLAND, england_ov, england_steps, args.england_repeats)
    for e in res["england"]["errors"]:
        say(f"england run failed (exit {e['returncode']}):\n{e['stderr_tail']}")
    say(f"4/4 per-phase breakdown ({args.phase_steps} steps) at both scales")
    res["phases"] = {
        "East of England": phase_breakdown(EOE, [], args.phase_steps, repeats),
        "England" + (" (quick: scale=0.1)" if quick else ""):
            phase_breakdown(ENGLAND, england_ov, args.phase_steps, 1),
    }
    if not args.no_scaling:
        say(f"5/5 scaling ladder up to 4x England ({args.scaling_steps} steps each)")
        res["scaling"] = scaling(args.scaling_steps, quick)
    res["total_wall_s"] = time.perf_counter() - t_all
    res["contention"] = contention(res)
    res["summary"] = [dict(zip(("measure", "measured", "target", "status"), r, strict=True))
                      for r in headline_rows(res)]

    (out_dir / "results.json").write_text(json.dumps(res, indent=2, default=str) + "\n",
                                          encoding="utf-8")
    text = print_report(res, out_dir)
    (out_dir / "table.txt").write_text(text, encoding="utf-8")
    return res


if __name__ == "__main__":
    main()
