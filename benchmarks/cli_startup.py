"""CLI start-up cost: CPU seconds of ``commnet --help``, ``--version`` and ``validate``.

``.venv/bin/python benchmarks/cli_startup.py [--runs 5] [--baseline /path/to/other/checkout]``

Each command runs as a fresh ``python -m simulation.cli ...`` subprocess and is charged its
own user + system CPU time, read exactly from ``os.wait4``'s resource usage (the same numbers
``/usr/bin/time -v`` prints as "User time" and "System time").  CPU time, not wall time, is
the quantity of the targets (issue 12: ``--help`` ≤ 0.3 s, ``validate scenarios/teaching.yaml``
≤ 0.5 s): on a shared machine wall time also counts the time other processes held the core.
The runs of all commands are interleaved (round-robin), so a burst of load hits every command
alike; a first, uncounted round writes the bytecode caches (``PYTHONDONTWRITEBYTECODE`` is
dropped for the children, and the caches go to a temporary ``PYTHONPYCACHEPREFIX`` folder
rather than into the measured trees: an installed package has its ``.pyc`` files, and recompiling the
sources on every start would be charged to the command); the median and the range over the
runs are reported, and each command's median as a
ratio of the bare interpreter's (``python -c pass``), which is steadier under load than the
seconds themselves.

With ``--baseline DIR`` the same commands also run with ``PYTHONPATH=DIR`` (another checkout,
e.g. the commit before the lazy imports) in the same round-robin, and the table shows
before/after side by side.  Nothing here asserts on a time; a missed target is printed as
``MISSED``.  The deterministic guarantee (importing ``simulation.cli`` loads none of Mesa,
pandas, pyarrow, scipy and networkx) is a test: ``tests/test_cli.py``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: name -> (arguments after ``python``, target CPU seconds or None)
COMMANDS: dict[str, tuple[list[str], float | None]] = {
    "python -c pass": (["-c", "pass"], None),
    "commnet --help": (["-m", "simulation.cli", "--help"], 0.3),
    "commnet --version": (["-m", "simulation.cli", "--version"], 0.3),
    "commnet validate teaching": (["-m", "simulation.cli", "validate",
                                   str(ROOT / "scenarios" / "teaching.yaml")], 0.5),
}


PYCACHE = Path(tempfile.mkdtemp(prefix="commnet-cli-startup-"))


def cpu_seconds(args: list[str], pythonpath: Path) -> float:
    """User + system CPU seconds of one ``python ARGS`` subprocess run in ``pythonpath``
    (NaN if it exits with an error).

    The working directory is the tree too: ``python -m`` puts it first on ``sys.path``.
    """
    env = dict(os.environ, PYTHONPATH=str(pythonpath), COLUMNS="100")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode cached, not recompiled
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)  # ... in a temporary folder, not in the trees
    proc = subprocess.Popen([sys.executable, *args], cwd=pythonpath, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:  # e.g. --version in a baseline that has none
        return float("nan")
    return usage.ru_utime + usage.ru_stime


def measure(runs: int, trees: dict[str, Path]) -> dict[tuple[str, str], list[float]]:
    """CPU seconds per (tree, command), ``runs`` rounds, every round visiting every pair."""
    out: dict[tuple[str, str], list[float]] = {(t, c): [] for t in trees for c in COMMANDS}
    for path in trees.values():  # warm-up, not counted: writes the bytecode caches
        for args, _target in COMMANDS.values():
            cpu_seconds(args, path)
    for _ in range(runs):
        for tree, path in trees.items():
            for name, (args, _target) in COMMANDS.items():
                out[tree, name].append(cpu_seconds(args, path))
    return out


def table(results: dict[tuple[str, str], list[float]], trees: dict[str, Path]) -> str:
    """The printed table: median, range, ratio to bare Python, target."""
    lines = [f"{'command':28s} {'tree':9s} {'CPU median':>10s} {'range':>13s} {'× python':>9s} "
             f"{'target':>7s}"]
    for name, (_args, target) in COMMANDS.items():
        for tree in trees:
            xs = results[tree, name]
            if any(math.isnan(x) for x in xs):
                lines.append(f"{name:28s} {tree:9s} {'failed':>10s}")
                continue
            med = statistics.median(xs)
            floor = statistics.median(results[tree, "python -c pass"])
            verdict = ""
            if target is not None:
                verdict = f"≤ {target:.1f}" + ("" if med <= target else "  MISSED")
            lines.append(f"{name:28s} {tree:9s} {med:9.3f}s {min(xs):6.3f}–{max(xs):.3f} "
                         f"{med / floor:8.1f}× {verdict:>7s}")
    if "baseline" in trees:
        lines.append("")
        for name in COMMANDS:
            before = statistics.median(results["baseline", name])
            after = statistics.median(results["this", name])
            if math.isnan(before) or math.isnan(after):
                continue
            lines.append(f"{name:28s} before/after {before / after:5.1f}×")
    return "\n".join(lines)


def main() -> None:
    """Measure and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--baseline", type=Path, help="another checkout to measure side by side")
    ns = ap.parse_args()
    trees = {"this": ROOT}
    if ns.baseline is not None:
        trees["baseline"] = ns.baseline.resolve()
    results = measure(ns.runs, trees)
    print(f"CPU seconds (user + system, os.wait4) over {ns.runs} interleaved runs; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(table(results, trees))
    shutil.rmtree(PYCACHE, ignore_errors=True)


if __name__ == "__main__":
    main()
