"""User and kernel (system) CPU time per step of england_2013 at several sizes.

``python benchmarks/kernel_time.py [--steps 6] [--sizes 1 2 4]`` builds England × k
(``generate.groups`` = 211·k, the population ×k, no burn-in, no metrics collection) in a
process of its own per size, runs one step, then times ``--steps`` steps with
``resource.getrusage``: user ms, system ms and minor page faults per step.  Above England
the system time is what grows faster than the ties (benchmarks/README.md, "Conditions").
Pinned to one CPU; prints one JSON line per size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(k: int, steps: int) -> dict:
    """One size, in this process."""
    import resource

    sys.path.insert(0, str(ROOT))
    from simulation.loader import load_scenario
    from simulation.model import CommissioningModel

    ov = ["burn_in=0"] + ([] if k == 1 else [f"generate.groups={211 * k}",
                                             f"generate.population.total={53_900_000 * k}"])
    m = CommissioningModel(load_scenario(str(ROOT / "scenarios/england_2013.yaml"), ov),
                           collect=False)
    m.step()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(steps):
        m.step()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"size": k, "agents": int(m.n_agents), "ties": int(m.ties.m), "steps": steps,
            "user_ms_per_step": round((r1.ru_utime - r0.ru_utime) / steps * 1e3, 1),
            "system_ms_per_step": round((r1.ru_stime - r0.ru_stime) / steps * 1e3, 1),
            "minor_faults_per_step": (r1.ru_minflt - r0.ru_minflt) // steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a size, in this process
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one, args.steps)))
        return
    cpu = min(os.sched_getaffinity(0))
    for k in args.sizes:
        out = subprocess.run(["taskset", "-c", str(cpu), sys.executable, __file__, "--one",
                              str(k), "--steps", str(args.steps)],
                             capture_output=True, text=True, check=True)
        print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
