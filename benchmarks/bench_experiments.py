"""Benchmark of the experiment layer, measured side by side in one process; prints JSON.

1. Overhead per run beyond the model: a serial sweep (in this process) of ``--overhead-runs``
   runs; overhead = (sweep wall time − time inside the model) / runs.  It covers building
   and validating each run's scenario, reducing outcomes, the progress bookkeeping and the
   atomic Parquet writes.  Target ≤ 10 ms (issue 2), ≤ 3 ms (issue 12).  A worker validates
   each design point's scenario once (its replicates share it).
2. Throughput of ``--runs`` runs on a local process pool of ``--workers`` workers.
3. The same runs on a Dask LocalCluster (processes, 1 thread each) on the same cores, as a
   ratio of the local pool's throughput (target ≥ 0.8; ≥ 0.9 in issue 12).  Both pools are started and warmed
   before timing (start-up times are reported separately) and timed in ABBA order (half the
   runs each, then the rest in reverse order); the two sweeps must give identical outcomes.

    .venv/bin/python benchmarks/bench_experiments.py                 # 1,000 runs, 60 steps
    .venv/bin/python benchmarks/bench_experiments.py --runs 100      # quicker
    .venv/bin/python benchmarks/bench_experiments.py --core-hour-only  # 4. alone

4. Runs per core-hour (issue 24's target: ≥ 30,000 East of England runs): a serial sweep of
   ``--core-hour-runs`` runs in this process, its CPU time (``time.process_time``, so other
   load on a shared machine does not count) per run → 3600 / CPU seconds per run.  The
   runs are the sweep's own (default outcomes, each metric collected at the months its
   outcomes read), end to end: scenario, build and burn-in, steps, reduction, Parquet; on
   the numpy path and again on the compiled kernels loaded beforehand, as a local pool's
   workers have them (``core_hour_compiled``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulation import _kernels  # noqa: E402
from simulation.experiment import read_results, sweep  # noqa: E402
from simulation.experiment.executors import open_executor  # noqa: E402
from simulation.experiment.spec import ExperimentSpec, experiment_from_spec  # noqa: E402


def experiment(scenario: Path, runs: int, steps: int):
    spec = ExperimentSpec.model_validate({
        "name": "bench", "design": {"kind": "cases"},
        "cases": [{"name": scenario.stem, "scenario": str(scenario)}],
        "steps": steps, "replicates": runs, "seed": 2013,
    })
    return experiment_from_spec(spec, ROOT)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=ROOT / "scenarios/east_of_england_2013.yaml")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--overhead-runs", type=int, default=20)
    ap.add_argument("--core-hour-runs", type=int, default=30)
    ap.add_argument("--core-hour-only", action="store_true",
                    help="measure runs per core-hour only (no pools)")
    args = ap.parse_args()
    out: dict = {
        "scenario": args.scenario.stem, "steps": args.steps, "runs": args.runs,
        "workers": args.workers, "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(), "load_average_before": os.getloadavg(),
    }
    tmp = Path(tempfile.mkdtemp(prefix="bench_experiments_"))

    # 4. runs per core-hour: CPU time of a serial sweep (a warm-up run first: imports, caches),
    # on the numpy path and on the compiled kernels loaded beforehand (a local pool's workers
    # have them loaded by the forkserver: simulation.experiment.worker_preload)
    sweep(experiment(args.scenario, 1, args.steps), out=tmp / "warm", executor="serial",
          quiet=True)
    before = os.environ.get("COMMNET_KERNELS")
    paths = ["numpy"] + (["numba"] if _kernels.kernels() is not None else [])
    for path in paths:
        os.environ["COMMNET_KERNELS"] = path
        c0 = time.process_time()
        rep = sweep(experiment(args.scenario, args.core_hour_runs, args.steps),
                    out=tmp / f"core_{path}", executor="serial", quiet=True)
        cpu = time.process_time() - c0
        out["core_hour" if path == "numpy" else "core_hour_compiled"] = {
            "kernels": path, "runs": args.core_hour_runs, "cpu_s": round(cpu, 3),
            "wall_s": round(rep.seconds, 3), "cpu_s_per_run": round(cpu / args.core_hour_runs, 4),
            "runs_per_core_hour": round(3600 * args.core_hour_runs / cpu),
            "target": ">= 30,000 (issue 24)"}
    if before is None:
        os.environ.pop("COMMNET_KERNELS", None)
    else:
        os.environ["COMMNET_KERNELS"] = before
    if args.core_hour_only:
        print(json.dumps(out, indent=2, default=str))
        return

    # 1. overhead per run beyond the model (serial, in this process)
    rep = sweep(experiment(args.scenario, args.overhead_runs, args.steps), out=tmp / "serial",
                executor="serial", quiet=True)
    df = rep.frame
    model = float(df["model_seconds"].sum())
    out["serial"] = {
        "runs": len(df), "wall_s": round(rep.seconds, 3),
        "model_s_per_run": round(model / len(df), 4),
        "overhead_ms_per_run": round(1000 * (rep.seconds - model) / len(df), 2),
        "in_worker_overhead_ms_per_run": round(
            1000 * float((df["duration"] - df["model_seconds"]).mean()), 2),
    }

    exp = experiment(args.scenario, args.runs, args.steps)
    # 2 and 3.  Start both pools first (the forkserver of the local pool, a warmed Dask
    # LocalCluster whose workers have imported the simulator), then time the two executors
    # in ABBA order (local half, Dask half, Dask rest, local rest) so that load from other
    # processes on the machine falls on both alike.
    from distributed import Client, LocalCluster

    t = time.perf_counter()
    with open_executor("local", args.workers):
        pass
    local_start = time.perf_counter() - t
    t = time.perf_counter()
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        client.run(lambda: __import__("simulation.experiment.outcomes"))
        dask_start = time.perf_counter() - t
        options = {"local": {"executor": "local", "workers": args.workers},
                   "dask": {"scheduler": cluster.scheduler_address}}
        seconds = {"local": [], "dask": []}
        half = args.runs // 2
        for name, limit in (("local", half), ("dask", half), ("dask", None), ("local", None)):
            rep = sweep(exp, out=tmp / name, resume=True, max_runs=limit, quiet=True,
                        **options[name])
            seconds[name].append(round(rep.seconds, 2))
    frames = {}
    for name, start in (("local", local_start), ("dask", dask_start)):
        frame = read_results(tmp / name)
        frames[name] = frame
        wall = sum(seconds[name])
        out[name] = {
            "startup_s": round(start, 2), "wall_s": round(wall, 2),
            "wall_s_by_half": seconds[name],
            "runs_per_s": round(len(frame) / wall, 3), "s_per_run": round(wall / len(frame), 4),
            "model_s_per_run": round(float(frame["model_seconds"].mean()), 4),
            "failed": int((frame["status"] != "ok").sum()),
        }
    local, dask = frames["local"], frames["dask"]
    out["dask_vs_local_throughput"] = round(out["dask"]["runs_per_s"]
                                            / out["local"]["runs_per_s"], 3)
    cols = [c for c in local.columns if c not in ("duration", "model_seconds", "worker",
                                                  "finished", "session")]
    out["identical_outcomes"] = bool(local[cols].equals(dask[cols]))
    out["load_average_after"] = os.getloadavg()
    out["targets"] = {"overhead_ms_per_run": "<= 10 (issue 2), <= 3 (issue 12)",
                      "dask_vs_local_throughput": ">= 0.8 (issue 2), >= 0.9 (issue 12)"}
    out["results_folder"] = str(tmp)
    print(json.dumps(out, indent=2, default=lambda v: float(v) if isinstance(v, np.floating)
                     else str(v)))


if __name__ == "__main__":
    main()
