"""The results store under hostile conditions: concurrent writers, kills at every write
point, damaged files, I/O errors.  Every simulation is a tiny scenario run for a few months."""

import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from simulation.experiment import sweep
from simulation.experiment.store import LOCK_NAME, WriterLock
from simulation.loader import ScenarioError

ROOT = Path(__file__).resolve().parents[1]

TINY = """
name: tiny
seed: 5
steps: 24
groups:
  - {name: A, population: 60000, practices: {count: 8}, localities: {count: 2},
     commissioning_managers: 4}
providers: [{name: Acute, kind: acute, serves: [A]}]
local_authorities: [{name: LA, serves: [A]}]
"""

GRID = """
name: grid
base: tiny.yaml
steps: 4
design: grid
parameters:
  engagement.gp.mean: [0.3, 0.6]
  localities.enabled: [true, false]
replicates: 2
seed: 11
outcomes: [accuracy_board, coherence_internal]
"""

# A writer that holds the lock until FLAG exists: it runs the sweep serially, and its first
# run waits for the flag (so the test decides when it may finish, whatever the machine load).
WAITING_WRITER = """
import sys, time
from pathlib import Path
import simulation.experiment.runner as runner
from simulation.experiment import sweep
from simulation.loader import ScenarioError

flag = Path(sys.argv[3])
real = runner.execute_run

def waiting(task):
    deadline = time.monotonic() + 300
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return real(task)

runner.execute_run = waiting
try:
    sweep(sys.argv[1], out=sys.argv[2], executor="serial", quiet=True, resume=True)
except ScenarioError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
"""

KEYS = {"runs": ["run_id"], "outcomes": ["run_id", "group"]}


@pytest.fixture
def exp(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    path = tmp_path / "g.yaml"
    path.write_text(GRID)
    return path


def env():
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def writer(exp, out, flag):
    return subprocess.Popen([sys.executable, "-c", WAITING_WRITER, str(exp), str(out), str(flag)],
                            cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "simulation.cli", *map(str, args)], cwd=ROOT,
                          env=env(), capture_output=True, text=True, timeout=300, check=False)


def holder_pid(out):
    try:
        return json.loads((out / LOCK_NAME).read_text()).get("pid")
    except (OSError, ValueError):
        return None


def assert_stored_once(out, runs=8):
    """Every run stored exactly once, as pandas reads the folder (no repair, no dedupe)."""
    for table, keys in KEYS.items():
        df = pd.read_parquet(out / table)
        assert not df.duplicated(keys).any(), f"duplicates in {table}"
    stored = pd.read_parquet(out / "runs")
    assert sorted(stored["run_id"]) == list(range(runs))
    assert len(pd.read_parquet(out / "outcomes")) == 2 * runs  # group A and overall


# --------------------------------------------------------------------------- one writer


def test_two_concurrent_writers_exactly_one_proceeds(exp, tmp_path):
    out, flag = tmp_path / "out", tmp_path / "go"
    a, b = writer(exp, out, flag), writer(exp, out, flag)
    try:
        # neither can finish before the flag exists, so one of them must be refused first
        deadline = time.monotonic() + 120
        while a.poll() is None and b.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        refused, winner = (a, b) if a.poll() is not None else (b, a)
        assert refused.wait(timeout=60) == 2
        message = refused.stderr.read()
        assert f"pid {winner.pid} on host {platform.node()}" in message
        assert "only one writer at a time" in message and "Traceback" not in message
        assert winner.poll() is None
        # a third writer through the CLI, with --resume, is refused the same way
        third = cli("sweep", exp, "--out", out, "--resume", "--executor", "serial", "--quiet")
        assert third.returncode == 2 and f"pid {winner.pid}" in third.stderr
        assert "Traceback" not in third.stderr
        flag.touch()
        assert winner.wait(timeout=300) == 0, winner.stderr.read()
    finally:
        flag.touch()
        for p in (a, b):
            p.kill() if p.poll() is None else None
            p.wait()
    assert_stored_once(out)
    # the lock is free again: a resume goes ahead (nothing left to run)
    assert sweep(exp, out=out, executor="serial", quiet=True, resume=True).ran == 0


def test_a_lock_held_in_this_process_refuses_a_sweep_in_another(exp, tmp_path):
    out = tmp_path / "out"
    with WriterLock(out, command="commnet sweep g.yaml --out out"):
        run = cli("sweep", exp, "--out", out, "--executor", "serial", "--quiet")
        assert run.returncode == 2
        assert f"pid {os.getpid()} on host {platform.node()}" in run.stderr
        assert "command: commnet sweep g.yaml --out out" in run.stderr
        assert "Traceback" not in run.stderr
        # and one in this process (another thread or library call) is refused too
        with pytest.raises(ScenarioError, match=f"pid {os.getpid()}"):
            sweep(exp, out=out, executor="serial", quiet=True)
    assert not (out / "manifest.json").exists()  # the refused sweeps wrote nothing


def test_lock_of_a_killed_writer_does_not_block(exp, tmp_path):
    out = tmp_path / "out"
    hold = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                             "from simulation.experiment.store import WriterLock\n"
                             "WriterLock(sys.argv[1]).acquire(); print('held', flush=True)\n"
                             "time.sleep(600)", str(out)],
                            cwd=ROOT, env=env(), stdout=subprocess.PIPE, text=True)
    try:
        assert hold.stdout.readline().strip() == "held"
        with pytest.raises(ScenarioError, match=f"pid {hold.pid}"):
            WriterLock(out).acquire()
    finally:
        hold.send_signal(signal.SIGKILL)
        hold.wait()
    # the kernel released the flock with the process; its pid is still in the file
    assert holder_pid(out) == hold.pid
    report = sweep(exp, out=out, executor="serial", quiet=True)
    assert report.stored == 8
    assert_stored_once(out)
    # a lock file naming a dead pid on another host (copied folder, say) does not block either
    (out / LOCK_NAME).write_text(json.dumps({"pid": 999999, "host": "elsewhere"}))
    assert sweep(exp, out=out, executor="serial", quiet=True, resume=True).ran == 0
