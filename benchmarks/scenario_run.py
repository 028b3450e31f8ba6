"""One end-to-end scenario run in a process of its own, for peak-memory measurement.

``python benchmarks/scenario_run.py SCENARIO [--steps N] [--set dotted.path=value ...]
[--no-collect]`` loads the scenario, builds the model and runs N steps (the normal run, with
metrics collection unless ``--no-collect``), then prints one JSON line with the timings
(time.perf_counter) and this process's peak resident set size
(``VmHWM`` on Linux, see :func:`peak_rss_bytes`), which therefore reflects this run only
(plus the interpreter and imports, reported separately as ``rss_after_imports_bytes``).
CPU time (time.process_time) is split into ``load_cpu_s`` (reading and validating the
scenario), the build (``build_cpu_s`` - ``load_cpu_s`` - ``burn_in_cpu_s``), ``burn_in_cpu_s``
(the burn-in months, timed around ``CommissioningModel._advance``) and ``steps_cpu_s``.

``benchmarks/run.py`` starts it with ``sys.executable``; it inherits the parent's CPU pinning.
"""

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def peak_rss_bytes() -> int:
    """Peak RSS of this process so far.

    On Linux this is ``VmHWM`` from /proc/self/status, the high-water mark of this process's
    own address space.  ``getrusage(RUSAGE_SELF).ru_maxrss`` is *not* used there: Linux carries
    the forking parent's RSS across fork + exec into it (a parent holding 1 GiB makes a child
    that allocates nothing report 1 GiB).  Elsewhere ``ru_maxrss`` (KiB, bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return ru_maxrss_bytes()


def ru_maxrss_bytes() -> int:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in bytes (see :func:`peak_rss_bytes`)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r if sys.platform == "darwin" else r * 1024)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--no-collect", action="store_true")
    ap.add_argument("--step-cpu", action="store_true",
                    help="also report the CPU time of every step (time.process_time)")
    args = ap.parse_args(argv)

    from simulation import _kernels
    from simulation.loader import load_scenario
    from simulation.model import CommissioningModel

    t_imported = time.perf_counter()
    c_imported = time.process_time()
    rss_imports = peak_rss_bytes()
    s = load_scenario(args.scenario, args.overrides)
    t_loaded = time.perf_counter()
    c_loaded = time.process_time()
    burn_cpu = [0.0]  # CPU of the burn-in months, timed around CommissioningModel._advance
    advance = CommissioningModel._advance

    def timed_advance(model):
        if model.month >= 0:  # a month of the run (timed by the loop below)
            return advance(model)
        c0 = time.process_time()
        advance(model)
        burn_cpu[0] += time.process_time() - c0

    CommissioningModel._advance = timed_advance
    m = CommissioningModel(s, collect=not args.no_collect)
    CommissioningModel._advance = advance
    t_built = time.perf_counter()
    c_built = time.process_time()
    step_cpu = []
    for _ in range(args.steps):
        c0 = time.process_time()
        m.step()
        step_cpu.append(time.process_time() - c0)
    t_done = time.perf_counter()
    c_done = time.process_time()
    return {
        "scenario": args.scenario,
        "overrides": args.overrides,
        "steps": args.steps,
        "collect": not args.no_collect,
        "n_agents": int(m.n_agents),
        "n_groups": int(m.n_groups),
        "n_practices": int(m.pop.list_size.size),
        "population": int(m.pop.group_population.sum()),
        "ties_final": int(m.ties.m),
        "imports_s": t_imported - T_START,
        "load_s": t_loaded - t_imported,
        "build_s": t_built - t_loaded,
        "steps_s": t_done - t_built,
        "end_to_end_s": t_done - t_imported,  # load + build + steps (imports excluded)
        "end_to_end_cpu_s": c_done - c_imported,
        "build_cpu_s": c_built - c_imported,  # load + build, including the burn-in months
        "load_cpu_s": c_loaded - c_imported,  # reading and validating the scenario (files)
        "burn_in_cpu_s": burn_cpu[0],  # the burn-in months alone (inside the build)
        "steps_cpu_s": c_done - c_built,  # the run's months (with metrics collection)
        "burn_in": int(s.burn_in),
        # whether the compiled kernels ran (COMMNET_KERNELS; auto loads them from 10⁶
        # agent-months, and their load is inside the build's CPU time)
        "kernels_mode": _kernels.mode(),
        "kernels_loaded": _kernels.loaded(),
        **({"step_cpu_s": step_cpu} if args.step_cpu else {}),
        "rss_after_imports_bytes": rss_imports,
        "peak_rss_bytes": peak_rss_bytes(),
        "peak_rss_source": "VmHWM" if sys.platform.startswith("linux") else "ru_maxrss",
        "ru_maxrss_bytes_includes_parent_at_fork": ru_maxrss_bytes(),
        "pid": os.getpid(),
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
