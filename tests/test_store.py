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
from conftest import ONE_GROUP

from simulation.experiment import read_results, sweep
from simulation.experiment.store import LOCK_NAME, WriterLock
from simulation.loader import ScenarioError

ROOT = Path(__file__).resolve().parents[1]

TINY = ONE_GROUP

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
from simulation.experiment import read_results, sweep
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
def tiny(tmp_path):
    from simulation.loader import load_scenario

    (tmp_path / "tiny.yaml").write_text(TINY)
    return load_scenario(tmp_path / "tiny.yaml")


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
        code = refused.wait(timeout=60)
        message = refused.stderr.read()
        assert code == 2, message
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


# --------------------------------------------------------------------------- kills


class Killer:
    """Counts the store's file-system writes in a forked child and exits (as ``kill -9``
    would: no clean-up, no ``finally``) just before write number ``at``.

    Write points: every temporary file written, every rename into place (manifest, design,
    parts, compact files), each compaction swap and each deletion.
    """

    def __init__(self, at, log=None):
        self.at, self.count, self.log = at, 0, log

    def point(self, what):
        self.count += 1
        if self.log is not None:
            with open(self.log, "a") as fh:
                fh.write(what + "\n")
        if self.count == self.at:
            os._exit(KILLED)

    def install(self):
        import simulation.experiment.store as store

        real_atomic = store._atomic_write

        def atomic(path, writer):
            self.point(f"write {Path(path).name}")  # before the temporary file is written

            def write_then_point(tmp):
                writer(tmp)
                self.point(f"rename {Path(path).name}")  # temporary file complete
            real_atomic(path, write_then_point)

        store._atomic_write = atomic
        for name in ("_swap", "_remove_dir", "_unlink", "_move"):
            setattr(store, name, self._before(name, getattr(store, name)))

    def _before(self, name, fn):
        def wrapped(*args):
            self.point(f"{name} {Path(args[-1]).name}")
            return fn(*args)
        return wrapped


KILLED = 87


def _child(exp, out, at, log):
    Killer(at, log).install()
    sweep(exp, out=out, executor="serial", quiet=True, compact_every=2)
    os._exit(0)


def killed_sweep(exp, out, at, log=None):
    """Run the sweep in a child process killed before write ``at``; True if it was killed.

    The child is forked from a fork server (a clean, single-threaded process), not from
    pytest."""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["simulation.experiment.runner", "pyarrow.parquet"])
    proc = ctx.Process(
        target=_child, args=(exp, out, at, log))
    proc.start()
    proc.join(timeout=300)
    assert proc.exitcode in (0, KILLED), f"the child sweep failed (exit {proc.exitcode})"
    return proc.exitcode == KILLED


@pytest.mark.slow
def test_a_kill_at_every_write_point_never_shows_duplicates_and_resume_completes(
        exp, tmp_path):
    exp.write_text(GRID.replace("replicates: 2", "replicates: 1").replace("steps: 4", "steps: 2"))
    ref_out = tmp_path / "reference"
    sweep(exp, out=ref_out, executor="serial", quiet=True, compact_every=2)
    reference = read_results(ref_out, "frame")
    ref_outcomes = pd.read_parquet(ref_out / "outcomes").sort_values(KEYS["outcomes"])
    cols = ["run_id", "point", "replicate", "engagement.gp.mean", "localities.enabled", "seed",
            "status", "accuracy_board", "coherence_internal"]
    at, kills = 1, 0
    while True:
        out = tmp_path / f"k{at:03d}"
        if not killed_sweep(exp, out, at):
            break  # the sweep got past every write point
        kills += 1
        # what pandas sees right after the kill: never a row twice
        for table, keys in KEYS.items():
            if (out / table).exists():
                df = pd.read_parquet(out / table)
                assert not df.duplicated(keys).any(), f"kill before write {at}: {table}"
        resumed = sweep(exp, out=out, executor="serial", quiet=True, resume=True)
        assert resumed.stored == 4, f"kill before write {at}"
        frame = read_results(out, "frame")
        pd.testing.assert_frame_equal(frame[cols], reference[cols], obj=f"kill before {at}")
        outcomes = pd.read_parquet(out / "outcomes").sort_values(KEYS["outcomes"])
        pd.testing.assert_frame_equal(outcomes.reset_index(drop=True),
                                      ref_outcomes.reset_index(drop=True))
        assert (out / "design.parquet").exists()
        at += 1
    # the points passed: manifest, design, parts, compaction swaps and deletions
    log = tmp_path / "points.txt"
    assert not killed_sweep(exp, tmp_path / "counted", 0, log)
    points = log.read_text().splitlines()
    assert kills == len(points)
    assert sum(p.startswith("_swap") for p in points) >= 2  # outcomes and runs compacted
    assert {p.split()[0] for p in points} >= {"write", "rename", "_swap", "_remove_dir"}


# --------------------------------------------------------------------------- damage

COLS = ["run_id", "point", "replicate", "engagement.gp.mean", "localities.enabled", "seed",
        "status", "accuracy_board", "coherence_internal"]


@pytest.fixture
def stored(exp, tmp_path):
    """A finished sweep (two sessions, so each table has two generation files)."""
    out = tmp_path / "out"
    sweep(exp, out=out, executor="serial", quiet=True, max_runs=5)
    sweep(exp, out=out, executor="serial", quiet=True, resume=True)
    return out


def test_every_stored_column_carries_its_description(stored):
    """Each Parquet file of a resumed sweep documents its columns: outcome and time-series
    metrics the registry's unit, range and definition, parameters and bookkeeping columns
    a definition."""
    import pyarrow.parquet as pq

    from simulation.reporters import field_metadata

    files = {t: sorted((stored / t).rglob("*.parquet")) for t in ("runs", "outcomes")}
    assert all(files.values())
    for paths in files.values():
        for f in paths:
            schema = pq.read_schema(f)
            for field in schema:
                meta = field.metadata or {}
                assert meta.get(b"definition"), (f, field.name)
                if field_metadata(field.name) is not None:
                    assert meta == field_metadata(field.name), (f, field.name)
            assert b"design parameter" in schema.field("engagement.gp.mean").metadata[b"definition"]
    outcome = pq.read_schema(files["outcomes"][0]).field("accuracy_board").metadata
    assert outcome[b"unit"] and outcome[b"range"] and outcome[b"direction"]


def damage(path, how):
    """Damage a Parquet file: cut it in half, or flip 8 bytes in the middle of its first
    column chunk (``page``: a data page) or of its footer (``footer``: schema, statistics,
    key-value metadata — the bytes page checksums do not cover)."""
    import pyarrow.parquet as pq

    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
        return
    if how == "page":
        chunk = pq.read_metadata(path).row_group(0).column(0)
        mid = chunk.data_page_offset + chunk.total_compressed_size // 2
    else:
        footer = int.from_bytes(data[-8:-4], "little")
        mid = len(data) - 8 - footer // 2
    data[mid:mid + 8] = bytes(b ^ 0xFF for b in data[mid:mid + 8])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("table,how", [(t, h) for t in ("outcomes", "runs")
                                       for h in ("truncate", "page", "footer")])
def test_a_damaged_part_is_quarantined_and_only_its_runs_rerun(exp, stored, table, how):
    reference = read_results(stored, "frame")
    victim = sorted((stored / table).rglob("c*.parquet"))[0]  # the first session's 5 runs
    held = set(pd.read_parquet(victim)["run_id"])
    damage(victim, how)
    # reading names the file and says how to recover
    with pytest.raises(ScenarioError, match=rf"{victim.name}: cannot be read .*--resume"):
        read_results(stored, table)
    run = cli("sweep", exp, "--out", stored, "--resume", "--executor", "serial", "--quiet")
    assert run.returncode == 0, run.stderr
    assert f"repaired: {victim} could not be read" in run.stderr and "Traceback" not in run.stderr
    moved = stored / "_damaged" / victim.relative_to(stored)
    assert moved.exists() and not victim.exists()
    after = read_results(stored, "frame")
    # exactly the runs the damaged file held were run again (in session 3)
    assert set(after.loc[after["session"] == 3, "run_id"]) == held
    pd.testing.assert_frame_equal(after[COLS], reference[COLS])
    assert_stored_once(stored)


def test_every_damaged_byte_of_a_stored_file_is_found(stored):
    """A file's own SHA-256 covers every byte: one flipped bit or eight flipped bytes at any
    offset — data pages, page headers, schema, statistics, the digest entry itself — are
    found.  Page checksums alone missed about 5% of the 8-byte flips, 0.6% silently changing
    a value or a column name (CI found one: a flip in a run table's footer)."""
    from simulation.experiment.store import digest_problem

    for table in ("runs", "outcomes"):
        victim = sorted((stored / table).rglob("c*.parquet"))[0]
        data = victim.read_bytes()
        assert digest_problem(victim) is None
        missed = []
        for at in range(len(data)):
            for width, mask in ((1, 0x01), (8, 0xFF)):
                hurt = bytearray(data)
                hurt[at:at + width] = bytes(b ^ mask for b in hurt[at:at + width])
                victim.write_bytes(bytes(hurt))
                if digest_problem(victim) is None:
                    missed.append((at, width))
        victim.write_bytes(data)
        assert not missed, (table, len(data), missed[:10])
    assert_stored_once(stored)


def test_the_digest_is_the_same_whatever_the_chunk_it_is_read_in(stored, monkeypatch):
    """Files are hashed a chunk at a time (large time-series files): the digest does not
    depend on the chunk size, including chunks that split the digest's own bytes."""
    import hashlib
    import io

    import simulation.experiment.store as store

    victim = sorted((stored / "runs").rglob("c*.parquet"))[0]
    data = victim.read_bytes()
    at = store._digest_at(io.BytesIO(data))
    whole = hashlib.sha256(data[:at] + b"0" * 64 + data[at + 64:]).hexdigest()
    assert data[at:at + 64] == whole.encode()
    for chunk in (1, 5, 63, 64, 65, at, at + 1, len(data)):
        monkeypatch.setattr(store, "_CHUNK", chunk)
        assert store._sha256(io.BytesIO(data), at) == whole
        assert store.digest_problem(victim) is None
    monkeypatch.setattr(store, "_CHUNK", 7)
    victim.write_bytes(data[:-9] + bytes([data[-9] ^ 1]) + data[-8:])  # the footer's last byte
    assert store.digest_problem(victim) is not None


def test_a_damaged_part_is_not_merged_into_a_compact_file(exp, tmp_path, monkeypatch):
    """Compaction would give a damaged part's rows a new, valid digest: its generation is
    left as it is, for --resume to set the part aside."""
    import pyarrow.parquet as pq

    from simulation.experiment.store import ResultsStore

    out = tmp_path / "out"
    with monkeypatch.context() as m:
        m.setattr(ResultsStore, "compact", lambda self: None)
        sweep(exp, out=out, executor="serial", quiet=True)
    parts = {t: sorted((out / t).rglob("s*.parquet")) for t in ("runs", "outcomes")}
    assert len(parts["runs"]) > 1 and len(parts["outcomes"]) > 1
    damage(parts["runs"][0], "footer")
    schemas = {t: pq.read_schema(parts[t][-1]) for t in parts}
    store = ResultsStore(out, schemas)
    store.compact()
    assert sorted((out / "runs").rglob("*.parquet")) == parts["runs"]  # not merged
    assert [p.name for p in (out / "outcomes").rglob("*.parquet")] == ["c00001.parquet"]
    assert [p for _, p, _ in store.damaged_files()] == [parts["runs"][0]]


def test_a_file_written_before_digests_is_still_read(stored):
    """Stores written by commnet < 0.3.3 have page checksums but no SHA-256: they read as
    before, and a damaged data page in them is still found by its checksum."""
    import pyarrow.parquet as pq

    from simulation.experiment.store import ResultsStore

    reference = read_results(stored, "frame")
    for f in sorted(stored.rglob("*.parquet")):
        table = pq.read_table(f)
        meta = {k: v for k, v in (table.schema.metadata or {}).items()
                if k != b"commnet.integrity"}
        pq.write_table(table.replace_schema_metadata(meta), f, compression="zstd",
                       write_page_checksum=True)
    assert ResultsStore(stored).damaged_files() == []
    pd.testing.assert_frame_equal(read_results(stored, "frame"), reference)
    victim = sorted((stored / "runs").rglob("c*.parquet"))[0]
    damage(victim, "page")
    assert [p for _, p, _ in ResultsStore(stored).damaged_files()] == [victim]


def test_a_truncated_manifest_is_reported_then_rebuilt_on_resume(exp, stored):
    reference = read_results(stored, "frame")
    manifest = stored / "manifest.json"
    manifest.write_text(manifest.read_text()[:100])
    run = cli("sweep", exp, "--out", stored, "--executor", "serial", "--quiet")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "manifest.json: is damaged: not valid JSON" in run.stderr and "--resume" in run.stderr
    report = sweep(exp, out=stored, executor="serial", quiet=True, resume=True)
    assert report.ran == 0 and any("rebuilt" in n for n in report.repaired)
    rebuilt = json.loads(manifest.read_text())
    assert rebuilt["design_hash"] and rebuilt["rebuilt"]["why"].startswith("is damaged")
    pd.testing.assert_frame_equal(read_results(stored, "frame")[COLS], reference[COLS])
    # sessions keep counting from the ones stored
    assert report.store.session == 3


def test_a_missing_manifest_with_another_experiments_runs_is_refused(exp, stored):
    (stored / "manifest.json").unlink()
    exp.write_text(GRID.replace("seed: 11", "seed: 12"))
    with pytest.raises(ScenarioError, match=r"manifest.json: is missing .*not this experiment's "
                       r"\(run 0 has seed"):
        sweep(exp, out=stored, executor="serial", quiet=True, resume=True)
    assert not (stored / "manifest.json").exists()


def test_a_deleted_design_is_recreated_on_resume(exp, stored):
    design = read_results(stored, "design")
    (stored / "design.parquet").unlink()
    with pytest.raises(ScenarioError, match=r"design.parquet: is missing or damaged.*--resume"):
        read_results(stored, "design")
    report = sweep(exp, out=stored, executor="serial", quiet=True, resume=True)
    assert any("design.parquet was missing" in n for n in report.repaired)
    pd.testing.assert_frame_equal(read_results(stored, "design"), design)


# --------------------------------------------------------------------------- I/O errors

# Runs the CLI with a disk that fills after LIMIT Parquet writes (ENOSPC), or with
# networkx.write_graphml writing half a file and then failing the same way.
FULL_DISK = """
import errno, sys
import networkx as nx
import pyarrow.parquet as pq

limit, argv = int(sys.argv[1]), sys.argv[2:]
real, count = pq.ParquetWriter.write_table, [0]

def write_table(self, *args, **kwargs):  # every Parquet write goes through it
    count[0] += 1
    if count[0] > limit:
        raise OSError(errno.ENOSPC, "No space left on device")
    return real(self, *args, **kwargs)

def write_graphml(g, path, **kwargs):
    with open(path, "w") as fh:
        fh.write("<?xml version='1.0'?><graphml><graph>")  # half a file ...
    raise OSError(errno.ENOSPC, "No space left on device")  # ... then the disk is full

pq.ParquetWriter.write_table, nx.write_graphml = write_table, write_graphml
sys.argv = ["commnet", *argv]
from simulation.cli import main
main()
"""


def full_disk(limit, *args):
    return subprocess.run([sys.executable, "-c", FULL_DISK, str(limit), *map(str, args)],
                          cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300,
                          check=False)


def test_a_full_disk_mid_sweep_is_reported_and_loses_nothing_stored(exp, tmp_path):
    reference_out = tmp_path / "reference"
    sweep(exp, out=reference_out, executor="serial", quiet=True)
    reference = read_results(reference_out, "frame")
    out = tmp_path / "out"
    run = full_disk(5, "sweep", exp, "--out", out, "--executor", "serial", "--quiet")
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert "cannot write (No space left on device); the disk is full" in run.stderr
    kept = read_results(out, "runs")
    assert 0 < len(kept) < 8 and f"The {len(kept)} run(s) stored before it are kept" in run.stderr
    for table, keys in KEYS.items():
        assert not pd.read_parquet(out / table).duplicated(keys).any()
    # space freed: the resume runs only the rest and gives the uninterrupted sweep's rows
    report = sweep(exp, out=out, executor="serial", quiet=True, resume=True)
    assert report.ran == 8 - len(kept)
    pd.testing.assert_frame_equal(read_results(out, "frame")[COLS], reference[COLS])
    assert_stored_once(out)


def read_only_folder(tmp_path):
    """A folder this process cannot write in (as root, /sys: the kernel refuses)."""
    if os.geteuid() == 0:
        return Path("/sys/commnet-test")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "out"


def test_a_read_only_out_is_reported_without_traceback(exp, tmp_path, tiny_path):
    out = read_only_folder(tmp_path)
    run = cli("sweep", exp, "--out", out, "--executor", "serial", "--quiet")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "cannot write (" in run.stderr and "not writable" in run.stderr
    assert str(out) in run.stderr.replace("\n", "")
    run = cli("run", tiny_path, "--steps", "2", "--out", out, "--quiet", "--no-figures")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "not writable" in run.stderr


def test_run_on_a_full_disk_leaves_no_truncated_file(tiny_path, tmp_path):
    out = tmp_path / "run"
    run = full_disk(10, "run", tiny_path, "--steps", "2", "--out", out, "--quiet",
                    "--no-figures")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "No space left on device" in run.stderr
    names = sorted(p.name for p in out.iterdir())
    assert "network.graphml" not in names  # never half a file ...
    assert not [n for n in names if n.endswith(".tmp")]  # ... nor its temporary file
    # what was written is whole
    assert pd.read_csv(out / "board_ego.csv").shape[0] > 0
    assert json.loads((out / "manifest.json").read_text())["steps"] == 2


# --------------------------------------------------------------------------- design size

SOBOL = """
name: big
base: tiny.yaml
steps: 2
design: {kind: sobol, samples: SAMPLES}
parameters:
  engagement.gp.mean: {low: 0.2, high: 0.8}
  exchange.rate: {low: 0.05, high: 0.4}
replicates: REPS
seed: 3
"""


def sobol(exp, samples, reps):
    exp.write_text(SOBOL.replace("SAMPLES", str(samples)).replace("REPS", str(reps)))
    return exp


def test_a_sampled_design_over_the_run_limit_is_refused_before_allocation(exp):
    sobol(exp, 2**19, 3)  # 2**19 × (2 + 2) points × 3 replicates
    with pytest.raises(ScenarioError, match=r"design: sobol design: 2,097,152 points × 3 "
                       r"replicates = 6,291,456 runs; the limit is 5,000,000 runs"):
        sweep(exp, executor="serial", quiet=True)


def test_a_design_that_would_not_fit_in_memory_is_refused_with_the_estimate(exp, monkeypatch):
    import simulation.experiment.runner as runner

    monkeypatch.setattr(runner, "available_memory", lambda: 8 * 2**20)
    sobol(exp, 2**14, 2)
    with pytest.raises(ScenarioError, match=r"65,536 points × 2 replicates = 131,072 runs would "
                       r"need about 0\.\d GiB to lay out, but only 0\.0 GiB is available"):
        sweep(exp, executor="serial", quiet=True)


def test_design_memory_estimate_covers_what_laying_out_a_design_allocates(exp):
    import tracemalloc

    from simulation.experiment.runner import design_memory, prepare
    from simulation.experiment.spec import load_experiment

    prepare(load_experiment(sobol(exp, 8, 1)))  # imports SALib and warms caches
    loaded = load_experiment(sobol(exp, 2**12, 3))
    tracemalloc.start()
    try:
        plan = prepare(loaded)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert plan.points == 2**12 * 4 and peak > 0
    assert design_memory(plan.points, 2, plan.total) >= peak


# --------------------------------------------------------------------------- memory guard


def measured_shapes():
    """The peaks measured by benchmarks/memory_guard.py (stored there, not measured here)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("memory_guard",
                                                  ROOT / "benchmarks" / "memory_guard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SHAPES, module.MEASURED


def test_memory_estimate_is_at_least_every_measured_peak():
    from simulation.loader import load_scenario
    from simulation.memory import estimate_memory

    shapes, measured = measured_shapes()
    assert len(measured) >= 5
    for name, path, overrides in shapes:
        if name not in measured:
            continue
        scenario = load_scenario(ROOT / path, overrides, check_memory=False)
        assert estimate_memory(scenario) >= measured[name] * 2**20, name


def test_memory_estimate_covers_what_a_tiny_run_allocates(tiny):
    import tracemalloc

    from simulation.memory import BASE, estimate_memory
    from simulation.model import CommissioningModel

    CommissioningModel(tiny).step()  # imports and caches first
    tracemalloc.start()
    try:
        model = CommissioningModel(tiny)
        for _ in range(2):
            model.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 0 < peak <= estimate_memory(tiny) - BASE


def test_memory_estimate_grows_with_the_ties_a_scenario_asks_for(tiny):
    from simulation.memory import PER_TIE, estimate_memory, estimate_ties

    dense = tiny.model_copy(update={"network": tiny.network.model_copy(
        update={"gp_ties_in_locality": 30.0, "manager_ties": 30.0})})
    n = 1000
    assert estimate_ties(dense, n) > estimate_ties(tiny, n)
    assert estimate_memory(dense) - estimate_memory(tiny) >= PER_TIE * (
        estimate_ties(dense, 0) - estimate_ties(tiny, 0))


def test_compaction_without_rename_exchange_and_a_kill_between_its_two_renames(exp, tmp_path,
                                                                                monkeypatch):
    import simulation.experiment.store as store

    monkeypatch.setattr(store, "_exchange", lambda a, b: False)  # e.g. not Linux
    out = tmp_path / "out"
    sweep(exp, out=out, executor="serial", quiet=True, compact_every=1)
    assert_stored_once(out)
    reference = read_results(out, "frame")
    # the state a kill between "hide the parts" and "show the compact file" leaves
    runs = out / "runs"
    gdir = sorted(runs.glob("g*"))[-1]
    os.rename(gdir, runs / f"_{gdir.name}")  # the staged compact file, not yet shown
    (runs / f"_{gdir.name}.old").mkdir()  # the parts it replaced, hidden
    assert len(pd.read_parquet(runs)) < 8  # rows hidden, never doubled
    report = sweep(exp, out=out, executor="serial", quiet=True, resume=True)
    assert report.ran == 0  # the swap was finished, no run lost
    pd.testing.assert_frame_equal(read_results(out, "frame"), reference)
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        p.name for p in runs.iterdir() if not p.name.startswith("_"))
