"""Before/after on a shared machine: the same runs of two checkouts, alternated, in fresh
processes; prints each round and the medians (JSON at the end).

    python benchmarks/interleave.py BEFORE_CHECKOUT AFTER_CHECKOUT [--rounds 4] [--no-england]

Per round and checkout, in processes of their own started with this interpreter and the
checkout as working directory (its ``simulation`` package):

* East of England (load, build with the 120-month burn-in, 60 months), three runs with every
  metric and three without, alternated, minimum CPU (``time.process_time``); once on the
  numpy path and once with the compiled kernels loaded before timing (as in a worker pool);
* England, ``benchmarks/scenario_run.py scenarios/england_2013.yaml --steps 60`` from the
  checkout (CPU in process and peak memory, VmHWM).

Rounds alternate the checkouts (before, after, before, after, ...), so drift of a shared
machine falls on both; compare medians over rounds, never single runs.  A checkout's first
process may compile its kernels into numba's cache: run one round more and drop it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

EOE = r"""
import gc, json, os, sys, time
sys.path.insert(0, os.getcwd())
from simulation import _kernels
from simulation.loader import load_scenario
from simulation.model import CommissioningModel
path = "scenarios/east_of_england_2013.yaml"
if os.environ.get("COMMNET_KERNELS") == "numba":  # every kernel loaded before timing
    _kernels.kernels()
    m = CommissioningModel(load_scenario(path, ["burn_in=1"]), collect=True)
    for _ in range(13):
        m.step()
res = {"with": [], "without": []}
for _ in range(3):
    for collect, key in ((True, "with"), (False, "without")):
        gc.collect()
        c = time.process_time()
        m = CommissioningModel(load_scenario(path, []), collect=collect)
        for _ in range(60):
            m.step()
        res[key].append(time.process_time() - c)
print(json.dumps({k: min(v) for k, v in res.items()}))
"""


def _run(cmd: list[str], cwd: str, env: dict[str, str]) -> str:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def one_round(checkout: str, england: bool) -> dict[str, float]:
    row: dict[str, float] = {}
    for mode in ("numpy", "numba"):
        env = dict(os.environ, COMMNET_KERNELS=mode)
        got = json.loads(_run([sys.executable, "-c", EOE], checkout, env))
        row[f"eoe_{mode}_with"], row[f"eoe_{mode}_without"] = got["with"], got["without"]
    if england:
        env = dict(os.environ)
        env.pop("COMMNET_KERNELS", None)
        got = json.loads(_run([sys.executable, "benchmarks/scenario_run.py",
                               "scenarios/england_2013.yaml", "--steps", "60"], checkout, env))
        row["england_cpu"] = got["end_to_end_cpu_s"]
        row["england_peak_gib"] = got["peak_rss_bytes"] / 2**30
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--no-england", action="store_true")
    args = ap.parse_args()
    rows: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for r in range(args.rounds):
        for name in ("before", "after"):
            row = one_round(getattr(args, name), not args.no_england)
            rows[name].append(row)
            print(r + 1, name, {k: round(v, 3) for k, v in row.items()}, flush=True)
    medians = {name: {k: statistics.median(x[k] for x in rs) for k in rs[0]}
               for name, rs in rows.items()}
    for k in medians["before"]:
        b, a = medians["before"][k], medians["after"][k]
        print(f"{k:22s} {b:8.3f} -> {a:8.3f}  ({100 * (a - b) / b:+.0f}%)")
    print(json.dumps({"load_average": os.getloadavg(), "medians": medians, "rounds": rows}))


if __name__ == "__main__":
    main()
