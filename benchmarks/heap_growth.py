"""How a run's resident memory grows with its length, and what glibc keeps of it.

``python benchmarks/heap_growth.py [SCENARIO] [--steps N] [--every K] [--trim-every M]
[--traced]`` builds the scenario (England by default), runs N months and prints one JSON line
per K months: resident size (``VmRSS``), its high-water mark (``VmHWM``) and, with
``--traced``, the bytes of the arrays alive and the largest since the last line
(``tracemalloc``, which sees numpy's allocations; it slows the run).  ``--trim-every M`` calls
glibc's ``malloc_trim(0)`` every M months, which shows how much of the resident size is free
heap that glibc keeps; the last line also gives the CPU time of the months.

Findings are in benchmarks/README.md (*Where England's peak memory goes*).
"""

import argparse
import ctypes
import ctypes.util
import json
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def status() -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` of this process, in GiB (Linux)."""
    out = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0].lower()] = round(int(line.split()[1]) / 2**20, 4)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios/england_2013.yaml"))
    ap.add_argument("--steps", type=int, default=180)
    ap.add_argument("--every", type=int, default=30)
    ap.add_argument("--trim-every", type=int, default=0)
    ap.add_argument("--traced", action="store_true")
    args = ap.parse_args(argv)

    from simulation.loader import load_scenario
    from simulation.model import CommissioningModel

    trim = None
    if args.trim_every:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    print(json.dumps({"at": "imports", **status()}), flush=True)
    model = CommissioningModel(load_scenario(args.scenario))
    print(json.dumps({"at": "built", "agents": int(model.n_agents), "ties": int(model.ties.m),
                      **status()}), flush=True)
    if args.traced:
        tracemalloc.start(1)
    c0 = time.process_time()
    for month in range(1, args.steps + 1):
        model.step()
        if trim is not None and month % args.trim_every == 0:
            trim(0)
        if month % args.every == 0 or month == args.steps:
            line = {"at": month, "ties": int(model.ties.m), **status()}
            if args.traced:
                alive, peak = tracemalloc.get_traced_memory()
                line.update(alive_gib=round(alive / 2**30, 4), peak_gib=round(peak / 2**30, 4))
                tracemalloc.reset_peak()
            if month == args.steps:
                line["months_cpu_s"] = round(time.process_time() - c0, 2)
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
