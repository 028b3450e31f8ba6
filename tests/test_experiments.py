"""Experiments: designs, seeds, fault isolation, the resumable store, executors, CLI, compare
and sensitivity.  Every simulation here is a tiny scenario run for a few months."""

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ONE_GROUP
from typer.testing import CliRunner

from simulation.cli import app
from simulation.experiment import load_experiment, read_results, run_experiment, sweep
from simulation.experiment.compare import compare_table, hedges_g, mean_ci, run_compare
from simulation.experiment.designs import (
    build_design,
    run_seeds,
    sobol_unit,
    to_values,
)
from simulation.experiment.outcomes import final, mean_last, time_to_detect
from simulation.experiment.sensitivity import analyse, morris_indices, sobol_indices
from simulation.experiment.spec import ParameterSpec
from simulation.experiment.store import ResultsStore
from simulation.loader import ScenarioError
from simulation.results import replicate_seeds

ROOT = Path(__file__).resolve().parents[1]

TINY = ONE_GROUP

GRID = """
# a small grid
name: grid
base: tiny.yaml
steps: 6
design: grid
parameters:
  engagement.gp.mean: [0.3, 0.6]
  localities.enabled: [true, false]
replicates: 2
seed: 11
outcomes:
  - accuracy_board
  - {metric: coherence_internal, reduce: mean_last, last: 3}
"""

VALUE_COLUMNS = ["run_id", "point", "replicate", "engagement.gp.mean", "localities.enabled",
                 "seed", "status", "accuracy_board", "coherence_internal__last3"]


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    return tmp_path


def write(folder, name, text):
    path = folder / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- designs


def test_grid_has_every_combination_in_order(folder):
    exp = load_experiment(write(folder, "g.yaml", GRID.replace("[0.3, 0.6]", "[0.2, 0.4, 0.6]")))
    d = build_design(exp)
    assert len(d) == 6 == exp.spec.runs_per_replicate()
    assert d.columns["engagement.gp.mean"] == [0.2, 0.2, 0.4, 0.4, 0.6, 0.6]
    assert d.columns["localities.enabled"] == [True, False] * 3
    assert d.frame().shape == (6, 3)


def test_grid_range_with_levels(folder):
    text = GRID.replace("[0.3, 0.6]", "{low: 0.2, high: 0.8, levels: 4}")
    d = build_design(load_experiment(write(folder, "g.yaml", text)))
    assert d.columns["engagement.gp.mean"][::2] == pytest.approx([0.2, 0.4, 0.6, 0.8])


SAMPLED = """
name: s
base: tiny.yaml
steps: 4
design: {kind: KIND, samples: SAMPLES}
parameters:
  engagement.gp.mean: {low: 0.3, high: 0.7}
  observation.noise: {distribution: triangular, low: 0.1, mode: 0.2, high: 0.9}
  exchange.rate: {mean: 0.3, sd: 0.2, low: 0.05, high: 0.5}
  network.manager_ties: {low: 1, high: 4, integer: true}
  exchange.rule: [degroot, friedkin_johnsen]
seed: SEED
"""


def sampled(folder, kind, samples, seed=1):
    text = SAMPLED.replace("KIND", kind).replace("SAMPLES", str(samples)).replace("SEED", str(seed))
    if kind == "morris":
        text = "\n".join(line for line in text.splitlines()
                         if not any(k in line for k in ("triangular", "sd:", "rule")))
    return build_design(load_experiment(write(folder, f"{kind}{seed}.yaml", text)))


def test_latin_hypercube_counts_bounds_strata_and_reproducibility(folder):
    d = sampled(folder, "latin_hypercube", 20)
    assert len(d) == 20 and d.unit.shape == (20, 5)
    for i in range(5):  # one point per stratum in every dimension
        assert sorted((d.unit[:, i] * 20).astype(int)) == list(range(20))
    x = np.array(d.columns["engagement.gp.mean"])
    assert x.min() >= 0.3 and x.max() <= 0.7
    tri = np.array(d.columns["observation.noise"])
    assert tri.min() >= 0.1 and tri.max() <= 0.9
    rate = np.array(d.columns["exchange.rate"])
    assert rate.min() >= 0.05 and rate.max() <= 0.5  # truncated normal
    ties = d.columns["network.manager_ties"]
    assert set(ties) <= {1, 2, 3, 4} and all(isinstance(t, int) for t in ties)
    assert set(d.columns["exchange.rule"]) == {"degroot", "friedkin_johnsen"}
    again = sampled(folder, "latin_hypercube", 20)
    assert np.array_equal(again.unit, d.unit)
    other = sampled(folder, "latin_hypercube", 20, seed=2)
    assert not np.array_equal(other.unit, d.unit)


def test_sobol_and_morris_point_counts(folder):
    d = sampled(folder, "sobol", 8)
    assert len(d) == 8 * (5 + 2)
    assert np.array_equal(sampled(folder, "sobol", 8).unit, d.unit)
    assert ((d.unit >= 0) & (d.unit <= 1)).all()
    m = sampled(folder, "morris", 3)
    assert len(m) == 3 * (2 + 1)  # two uniform parameters
    # each Morris step changes exactly one parameter, on the 4-level grid
    steps = np.abs(np.diff(m.unit.reshape(3, 3, 2), axis=1))
    assert ((steps > 0).sum(axis=2) == 1).all()
    assert set(np.round(m.unit.ravel() * 3, 9)) <= {0, 1, 2, 3}


def test_inverse_cdf_transforms():
    u = np.array([0.0, 0.5, 0.999999])
    assert to_values(ParameterSpec(low=2, high=4), u) == pytest.approx([2, 3, 4], abs=1e-5)
    assert to_values(ParameterSpec(low=1, high=100, distribution="loguniform"), u)[1] == \
        pytest.approx(10)
    assert to_values(ParameterSpec(mean=1, sd=2), np.array([0.5]))[0] == pytest.approx(1)
    assert to_values(ParameterSpec(values=["a", "b", "c"]), np.array([0.0, 0.34, 0.99])) == \
        ["a", "b", "c"]


def test_run_seeds_derive_from_root():
    common = run_seeds(7, points=3, replicates=4)
    assert (common == common[:, :1]).all()  # common random numbers across points
    assert list(common[:, 0]) == replicate_seeds(7, 4)  # = `commnet run --seed 7` replicates
    ind = run_seeds(7, 3, 4, "independent")
    assert len(set(ind.ravel())) == 12
    assert np.array_equal(ind, run_seeds(7, 3, 4, "independent"))
    assert not np.array_equal(ind, run_seeds(8, 3, 4, "independent"))


# --------------------------------------------------------------------------- outcomes


def test_outcome_reductions():
    x = np.array([[0.0, 1], [1, 1], [2, 5], [3, 5], [4, 5]])
    assert list(final(x)) == [4, 5]
    assert list(mean_last(x, 2)) == [3.5, 5]
    assert list(time_to_detect(x, after=1, threshold=2.5)) == [2, 1]
    below = time_to_detect(x, after=2, threshold=4.5, direction="below")
    assert below[0] == 0 and np.isnan(below[1])
    delay = np.array([[np.nan, np.nan], [np.nan, np.nan], [np.nan, 1.0], [2.0, 1.5],
                      [2.0, 1.5]])  # a group's delay; overall = mean over detecting groups
    assert list(time_to_detect(delay, after=1)) == [2.0, 1.5]
    never = np.full((5, 1), np.nan)
    assert np.isnan(time_to_detect(never, after=1)[0])
    assert time_to_detect(never, after=1, censor=True)[0] == 4  # right-censored: months + 1


# --------------------------------------------------------------------------- bad files

BAD = {
    "kind": ("design: grd", "design.kind", "'grid', 'cases', 'latin_hypercube'"),
    "typo_path": ("parameters: {engagement.gp.maen: [0.3]}", "parameters['engagement.gp.maen']",
                  "did you mean 'mean'"),
    "value": ("parameters: {engagement.gp.mean: [0.5, 1.5]}",
              "parameters['engagement.gp.mean']", "value 1.5 is not allowed"),
    "metric": ("outcomes: [acuracy_board]", "outcomes[0]", "did you mean 'accuracy_board'"),
    "sobol_n": ("design: {kind: sobol, samples: 100}\nparameters: {exchange.rate: "
                "{low: 0.1, high: 0.5}}", "design.samples", "power of 2"),
    "top_key": ("replicate: 3", "replicate", "did you mean 'replicates'"),
    "base": ("base: nope.yaml", "base", "scenario file 'nope.yaml' not found"),
    "range": ("design: {kind: latin_hypercube, samples: 4}\nparameters: {exchange.rate: "
              "{low: 0.5, high: 0.1}}", "parameters['exchange.rate']", "must be less than"),
    "list_index": ("parameters: {groups.3.population: [50000]}",
                   "parameters['groups.3.population']", "not an index of groups"),
    "no_shock": ("outcomes: [{metric: shock_detection_time, reduce: time_to_detect}]",
                 "outcomes[0]", "no need_shock event"),
    # these crashed in the store (column clashes) before they were refused here
    "seed_parameter": ("parameters: {seed: [1, 2]}", "parameters['seed']",
                       "every run's seed is spawned"),
    "group_outcome": ("outcomes: [{metric: engagement_gp, name: group}]", "outcomes[0].name",
                      "give the outcome another `name:`"),
}


def bad_file(folder, name):
    change, _, _ = BAD[name]
    text = "name: bad\nbase: tiny.yaml\ndesign: grid\nparameters: {engagement.gp.mean: [0.5]}\n"
    for line in change.splitlines():
        key = line.split(":")[0]
        text = "\n".join(x for x in text.splitlines() if not x.startswith(key + ":")) + "\n"
    return write(folder, f"{name}.yaml", text + change + "\n")


@pytest.mark.parametrize("name", list(BAD))
def test_bad_experiment_file_names_file_field_and_fix(folder, name):
    path = bad_file(folder, name)
    with pytest.raises(ScenarioError) as info:
        load_experiment(path)
    text = str(info.value)
    _, field, hint = BAD[name]
    assert text.startswith(f"{path}: {field}:"), text
    assert hint in text, text


def test_cli_bad_experiment_exit_two(folder):
    path = bad_file(folder, "typo_path")
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(folder / "o")])
    assert result.exit_code == 2
    assert f"{path}: parameters['engagement.gp.maen']" in result.output
    assert "Traceback" not in result.output
    assert not (folder / "o").exists()


def test_a_scenario_file_given_as_an_experiment_is_named_as_such(folder):
    """issue 21: `commnet sweep scenarios/teaching.yaml` answered "need: unknown field"."""
    for scenario in (folder / "tiny.yaml", ROOT / "scenarios" / "teaching.yaml"):
        with pytest.raises(ScenarioError, match="is a scenario file, not an experiment"):
            load_experiment(scenario)
        result = CliRunner().invoke(app, ["sweep", str(scenario), "--out", str(folder / "o")])
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert f"{scenario}: is a scenario file, not an experiment; run it with `commnet run " \
               f"{scenario}`" in text, text
        assert "unknown field" not in text and "Traceback" not in text
    assert not (folder / "o").exists()


def test_sweep_set_changes_the_base_scenario_and_is_recorded(folder):
    path = write(folder, "g.yaml", GRID.replace("replicates: 2", "replicates: 1"))
    exp = load_experiment(path, ["engagement.gp.sd=0.05", "need.drift_sd=0.0"])
    assert exp.bases[0]["engagement"]["gp"]["sd"] == 0.05 and exp.bases[0]["need"]["drift_sd"] == 0
    plain = load_experiment(path)
    assert plain.bases[0]["engagement"]["gp"]["sd"] != 0.05
    assert exp.base_hashes != plain.base_hashes  # so --resume with other --set is refused
    with pytest.raises(ScenarioError, match=r"varies 'engagement\.gp\.mean'"):
        load_experiment(path, ["engagement.gp.mean=0.5"])
    with pytest.raises(ScenarioError, match=r"engagement\.gp\.sdd"):
        load_experiment(path, ["engagement.gp.sdd=0.05"])
    out = folder / "s"
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(out), "--executor",
                                      "serial", "--quiet", "--set", "engagement.gp.sd=0.05"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["overrides"] == ["engagement.gp.sd=0.05"]
    again = CliRunner().invoke(app, ["sweep", str(path), "--out", str(out), "--executor",
                                     "serial", "--quiet", "--resume"])
    assert again.exit_code == 2 and "base scenario" in again.output, again.output


# --------------------------------------------------------------------------- runs, store


def test_failing_runs_are_isolated_and_recorded(folder, monkeypatch):
    # mean 0.02 with the default sd 0.15 is not a Beta distribution: those runs fail
    exp = write(folder, "f.yaml", GRID.replace("[0.3, 0.6]", "[0.6, 0.02]"))
    report = sweep(exp, out=folder / "f", executor="local", workers=2, quiet=True)
    df = report.frame
    assert len(df) == 8 and report.failed == 4 == report.failed_total
    bad = df[df["engagement.gp.mean"] == 0.02]
    assert (bad["status"] == "failed").all() and bad["accuracy_board"].isna().all()
    assert bad["error"].str.contains("sd 0.15 is too large for mean 0.02").all()
    assert (df.loc[df["engagement.gp.mean"] == 0.6, "status"] == "ok").all()
    assert any("--retry-failed" in line for line in report.lines("commnet sweep f.yaml"))

    # an exception inside the model is isolated too (serial: the patch applies in-process)
    import simulation.results as results

    real = results.run_replicate

    def flaky(scenario, seed, replicate=0, steps=None, metrics=None, **kwargs):
        if not scenario.localities.enabled:
            raise RuntimeError("boom in the model")
        return real(scenario, seed, replicate, steps, metrics, **kwargs)

    monkeypatch.setattr(results, "run_replicate", flaky)
    df = run_experiment(write(folder, "g.yaml", GRID), executor="serial", quiet=True)
    failed = df[df["status"] == "failed"]
    assert list(failed["localities.enabled"]) == [False] * 4
    assert failed["error"].str.startswith("RuntimeError: boom in the model").all()
    assert failed["error"].str.contains("Traceback").all()

    # --retry-failed reruns exactly the failed runs once the cause is gone
    out = folder / "r"
    sweep(write(folder, "g.yaml", GRID), out=out, executor="serial", quiet=True)
    before = read_results(out, "runs")
    monkeypatch.setattr(results, "run_replicate", real)
    report = sweep(folder / "g.yaml", out=out, executor="serial", quiet=True, resume=True,
                   retry_failed=True)
    after = read_results(out, "runs")
    assert report.ran == 4 and (after["status"] == "ok").all()
    ok_before = before[before["status"] == "ok"].reset_index(drop=True)
    pd.testing.assert_frame_equal(after[after["session"] == 1].reset_index(drop=True), ok_before)


def test_progress_bar_counts_done_failed_and_remaining(folder):
    import io

    from rich.console import Console

    buf = io.StringIO()
    exp = write(folder, "f.yaml", GRID.replace("[0.3, 0.6]", "[0.6, 0.02]"))
    report = sweep(exp, executor="serial", console=Console(file=buf, width=150))
    text = buf.getvalue()
    assert "8/8" in text and "4 failed" in text and "0 remaining" in text and "ETA" in text
    assert report.failed == 4


def crash_on_point_one(task):
    """Stands in for execute_run in worker processes: replicate 0 of point 1 kills its worker
    (as the OOM killer would); every other run is executed normally."""
    from simulation.experiment.executors import execute_run

    if task.point == 1 and task.replicate == 0:
        os._exit(3)
    return execute_run(task)


def test_a_dying_worker_fails_only_the_run_that_killed_it(folder, monkeypatch):
    import simulation.experiment.runner as runner

    exp = write(folder, "g.yaml", GRID)
    reference = run_experiment(exp, executor="serial", quiet=True)
    monkeypatch.setattr(runner, "execute_run", crash_on_point_one)
    df = run_experiment(exp, executor="local", workers=2, quiet=True)
    assert len(df) == 8 and df["run_id"].is_unique
    failed = df[df["status"] == "failed"]
    assert list(failed["run_id"]) == [1]  # the others in flight were rerun, one at a time
    assert failed["error"].str.contains("worker process died").all()
    ok = df["status"] == "ok"
    pd.testing.assert_frame_equal(df.loc[ok, VALUE_COLUMNS], reference.loc[ok, VALUE_COLUMNS])


def test_store_is_readable_with_pandas_and_resume_rules(folder):
    exp = write(folder, "g.yaml", GRID)
    out = folder / "out"
    report = sweep(exp, out=out, executor="serial", quiet=True, max_runs=3)
    assert report.stored == 3 and report.remaining == 5
    # interleaved: the first runs cover different design points
    assert sorted(read_results(out, "runs")["point"]) == [0, 1, 2]
    runs = pd.read_parquet(out / "runs")
    assert len(runs) == 3 and set(runs.columns) >= {"run_id", "engagement.gp.mean", "seed",
                                                    "replicate", "status", "error", "duration"}
    outcomes = pd.read_parquet(out / "outcomes")
    assert set(outcomes["group"]) == {"A", "overall"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs"] == 8 and manifest["experiment_sha256"]
    with pytest.raises(ScenarioError, match="add --resume"):
        sweep(exp, out=out, executor="serial", quiet=True)
    # a comment does not change the experiment; a parameter does
    exp.write_text(GRID + "# a comment\n")
    sweep(exp, out=out, executor="serial", quiet=True, resume=True, max_runs=1)
    exp.write_text(GRID.replace("replicates: 2", "replicates: 3"))
    with pytest.raises(ScenarioError, match=r"has changed since .*replicates"):
        sweep(exp, out=out, executor="serial", quiet=True, resume=True)
    report = sweep(exp, out=out, executor="serial", quiet=True, overwrite=True)
    assert report.stored == 12 and report.done_before == 0


def test_store_repairs_traces_of_a_crash(folder):
    out = folder / "out"
    sweep(write(folder, "g.yaml", GRID), out=out, executor="serial", quiet=True)
    store = ResultsStore(out)
    runs, outs = out / "runs" / "g00001", out / "outcomes" / "g00001"
    (runs / ".c00001.parquet.x.tmp").write_bytes(b"half")
    (out / "outcomes" / "_g00001").mkdir()  # a compaction staged when the sweep was killed
    (out / "outcomes" / "_g00001" / "c00001.parquet").write_bytes(b"half")
    orphan = outs / "s0009-0000001.parquet"  # outcome part without its run part
    orphan.write_bytes((outs / "c00001.parquet").read_bytes())
    merged = runs / "s0001-0000001.parquet"  # a part already in the compact file
    merged.write_bytes((runs / "c00001.parquet").read_bytes())
    # the compact file lists its parts; add the stray name to its list
    import pyarrow.parquet as pq

    table = pq.read_table(runs / "c00001.parquet")
    parts = [*json.loads(table.schema.metadata[b"commnet.parts"]), merged.name]
    pq.write_table(table.replace_schema_metadata({b"commnet.parts": json.dumps(parts)}),
                   runs / "c00001.parquet")
    assert len(read_results(out, "runs")) == 8  # duplicates are dropped by the reader
    removed = store.repair()
    assert removed == {"temporary": 2, "merged": 1, "orphan": 1}
    assert len(pd.read_parquet(out / "runs")) == 8 and len(pd.read_parquet(out / "outcomes")) == 16


def test_sweep_killed_with_sigkill_and_resumed_equals_uninterrupted(folder):
    exp = write(folder, "k.yaml", GRID.replace("replicates: 2", "replicates: 8")
                .replace("steps: 6", "steps: 10"))
    reference = run_experiment(exp, executor="serial", quiet=True)
    out = folder / "killed"
    cmd = [sys.executable, "-m", "simulation.cli", "sweep", str(exp), "--out", str(out),
           "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            parts = list((out / "runs").rglob("s*.parquet")) if (out / "runs").exists() else []
            if len(parts) >= 4 or proc.poll() is not None:
                break
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker, no clean-up
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    stored = read_results(out, "runs")
    assert 4 <= len(stored) < 32
    # resumed on another executor: the results do not depend on it
    resumed = subprocess.run([*cmd, "--resume", "--executor", "serial"], cwd=ROOT,
                             capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    after = read_results(out, "frame")
    assert len(after) == 32 and after["run_id"].is_unique
    # no stored run was done again: the first session's rows are untouched ...
    first = after[after["session"] == 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(first[stored.columns], stored)
    # ... and the second session ran exactly the rest
    assert set(after.loc[after["session"] == 2, "run_id"]) == set(range(32)) - set(
        stored["run_id"])
    pd.testing.assert_frame_equal(after[VALUE_COLUMNS], reference[VALUE_COLUMNS])
    groups = read_results(out, "outcomes", group=None)
    assert len(groups) == 64 and not groups.duplicated(["run_id", "group"]).any()


def test_local_pool_and_dask_cluster_give_identical_results(folder):
    from distributed import LocalCluster

    exp = write(folder, "g.yaml", GRID.replace("replicates: 2", "replicates: 3"))
    serial = run_experiment(exp, executor="serial", quiet=True)
    local = run_experiment(exp, executor="local", workers=2, quiet=True)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, host="127.0.0.1",
                      protocol="tcp", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        dask = run_experiment(exp, scheduler=cluster.scheduler_address, quiet=True)
    with ThreadPoolExecutor(2) as pool:  # any concurrent.futures executor slots in
        threads = run_experiment(exp, executor=pool, quiet=True)
    assert (serial["status"] == "ok").all() and len(serial) == 12
    pd.testing.assert_frame_equal(local[VALUE_COLUMNS], serial[VALUE_COLUMNS])
    pd.testing.assert_frame_equal(dask[VALUE_COLUMNS], serial[VALUE_COLUMNS])
    pd.testing.assert_frame_equal(threads[VALUE_COLUMNS], serial[VALUE_COLUMNS])
    assert local["worker"].nunique() == 2


# --------------------------------------------------------------------------- compare


def test_compare_statistics_on_known_numbers():
    mean, sd, _lo, hi, n = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert (mean, n) == (2.5, 4) and sd == pytest.approx(1.2909944)
    assert hi - mean == pytest.approx(3.182446305 * sd / 2)  # t(0.975, 3) × sd / √4
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 6.0, 8.0, 10.0])
    pooled = np.sqrt((3 * a.var(ddof=1) + 4 * b.var(ddof=1)) / 7)
    assert hedges_g(b, a) == pytest.approx((6 - 2.5) / pooled * (1 - 3 / (4 * 9 - 9)))
    frame = pd.DataFrame({
        "case": ["x"] * 4 + ["y"] * 5 + ["z"] * 4,
        "replicate": [0, 1, 2, 3, 0, 1, 2, 3, 4, 0, 1, 2, 3],
        "seed": [1, 2, 3, 4, 1, 2, 3, 4, 5, 1, 2, 3, 4],
        "m": [*a, *b, *(a + 1)],
    })
    t = compare_table(frame, ["m"]).set_index("scenario")
    from scipy import stats

    welch = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert t.loc["y", "method"] == "welch" and t.loc["y", "diff"] == pytest.approx(3.5)
    assert (t.loc["y", "diff_ci_low"], t.loc["y", "diff_ci_high"]) == pytest.approx(
        (welch.low, welch.high))
    # z = x + 1 with the same seeds: paired difference exactly 1 with a zero-width interval
    assert t.loc["z", "method"] == "paired"
    assert (t.loc["z", "diff"], t.loc["z", "diff_ci_low"], t.loc["z", "diff_ci_high"]) == \
        pytest.approx((1, 1, 1))
    assert np.isnan(t.loc["x", "diff"])


def test_compare_end_to_end(folder):
    write(folder, "same.yaml", "extends: tiny.yaml\nname: same\ninnovation: {q: 0.9}\n")
    write(folder, "low.yaml", "extends: tiny.yaml\nname: low\nengagement: {gp: {mean: 0.2}}\n")
    paths = [folder / "tiny.yaml", folder / "same.yaml", folder / "low.yaml"]
    result = run_compare(paths, replicates=4, steps=6, out=folder / "cmp", executor="serial",
                         quiet=True, metrics=["engagement_gp", "accuracy_board"])
    t = result.table.set_index(["metric", "scenario"])
    same = t.xs("same", level="scenario")
    # a change without effect (innovation is off): zero difference for every metric
    assert (same["diff"].fillna(0) == 0).all() and (same["hedges_g"].fillna(0) == 0).all()
    low = t.loc[("engagement_gp", "low")]
    assert low["diff_ci_high"] < 0 and low["hedges_g"] < -2 and low["method"] == "paired"
    assert (folder / "cmp" / "compare.csv").exists() and result.figure.exists()
    csv = pd.read_csv(folder / "cmp" / "compare.csv")
    assert len(csv) == 3 * len(set(csv["metric"])) and {"ci_low", "hedges_g"} <= set(csv)
    # one reduction, named in the file (default: mean of the last 12 months, here all 6)
    assert set(csv["reduction"]) == {"mean of all 6 months (runs shorter than 12 months)"}
    assert result.reduce == "last12" and result.warnings  # 4 replicates: underpowered
    # the CLI prints the table and exits 0; --reduce final is named as such
    res = CliRunner().invoke(app, ["compare", *map(str, paths[:2]), "--replicates", "2",
                                   "--steps", "3", "--out", str(folder / "c2"), "--executor",
                                   "serial", "--quiet", "--metric", "engagement_gp",
                                   "--reduce", "final"])
    assert res.exit_code == 0, res.output
    assert "engagement_gp" in res.output and "Hedges" in res.output
    assert "Final month, overall" in res.output and "warning: only 2 replicates" in res.output
    assert set(pd.read_csv(folder / "c2" / "compare.csv")["reduction"]) == {"final month"}
    from simulation.report import build_context

    assert build_context(folder / "c2")["what"] == "final month"  # the report follows


def test_compare_table_keeps_names_whole_at_80_columns(folder):
    """issue 21: at 80 columns the table cut names (`relevance_sk…`)."""
    write(folder, "b.yaml", "extends: tiny.yaml\nname: b\nengagement: {gp: {mean: 0.2}}\n")
    shown = ["relevance_skill", "relevance_patient", "relevance_localities",
             "misallocated_per_head", "coherence_internal"]
    proc = subprocess.run([sys.executable, "-m", "simulation.cli", "compare",
                           str(folder / "tiny.yaml"), str(folder / "b.yaml"), "--replicates", "2",
                           "--steps", "3", "--out", str(folder / "c"), "--executor", "serial",
                           "--quiet", *[a for m in shown for a in ("--metric", m)]],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "COLUMNS": "80", "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    table = [line for line in lines if line[:1] in "┏┃┡│├└"]
    assert len(table) > 10 and max(len(line) for line in table) <= 80
    assert "…" not in proc.stdout
    for m in shown:
        assert any(m in line for line in lines), m
    assert "Mean of all 3 months" in proc.stdout  # the reduction, named


def test_compare_of_arms_differing_only_in_events_shares_the_burn_in(folder, monkeypatch):
    """Two cases that differ only in an event: each seed's burn-in is computed once and
    shared, and the results equal those of fresh burn-ins; cases that differ in anything
    the burn-in reads share nothing."""
    from simulation.experiment import executors

    write(folder, "shock.yaml", "extends: tiny.yaml\nname: shock\nevents: [{type: "
          "engagement_shift, step: 2, stakeholder: gp, delta: -0.3}]\n")
    write(folder, "low.yaml", "extends: tiny.yaml\nname: low\nengagement: {gp: {mean: 0.2}}\n")
    paths = [folder / "tiny.yaml", folder / "shock.yaml"]
    kw = dict(replicates=3, steps=5, executor="serial", quiet=True, metrics=["engagement_gp"])
    executors._BURN_INS = None
    shared = run_compare(paths, out=folder / "shared", **kw).table
    assert executors._burn_in_cache().hits == 3  # one per seed
    monkeypatch.setattr("simulation.experiment.runner._Plan.share_burn_in", False)
    fresh = run_compare(paths, out=folder / "fresh", **kw).table
    pd.testing.assert_frame_equal(shared, fresh)
    row = shared.set_index(["metric", "scenario"]).loc[("engagement_gp", "shock")]
    assert row["diff"] < 0
    monkeypatch.undo()
    executors._BURN_INS = None
    run_compare([folder / "tiny.yaml", folder / "low.yaml"], out=folder / "low", **kw)
    assert executors._BURN_INS is None  # not shareable: no cache was even made


# --------------------------------------------------------------------------- sensitivity


def ishigami(x, a=7.0, b=0.1):
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_indices_of_ishigami_with_a_dummy_parameter():
    rng = np.random.default_rng(3)
    unit = sobol_unit(4, 1024, rng)
    x = np.column_stack([to_values(ParameterSpec(low=-np.pi, high=np.pi), unit[:, i])
                         for i in range(4)])
    t = sobol_indices(ishigami(x), ["x1", "x2", "x3", "dummy"], resamples=200, seed=5)
    t = t.set_index("parameter")
    assert t["S1"].to_numpy() == pytest.approx([0.314, 0.442, 0.0, 0.0], abs=0.05)
    assert t["ST"].to_numpy() == pytest.approx([0.558, 0.442, 0.244, 0.0], abs=0.05)
    assert t.loc["dummy", "ST"] == 0 and t.loc["dummy", "S1"] == 0


def test_morris_on_a_linear_model():
    from simulation.experiment.designs import morris_unit

    unit = morris_unit(3, 10, np.random.default_rng(1), levels=4)
    lows, highs = np.array([0.0, 0.0, 5.0]), np.array([2.0, 1.0, 6.0])
    y = (lows + unit * (highs - lows)) @ np.array([3.0, -0.5, 0.0])
    t = morris_indices(unit, y, ["a", "b", "c"], resamples=100, seed=1)
    assert t["mu_star"].to_numpy() == pytest.approx([6.0, 0.5, 0.0])  # |coef| × range
    assert t["mu"].to_numpy() == pytest.approx([6.0, -0.5, 0.0])
    assert t["sigma"].to_numpy() == pytest.approx([0, 0, 0], abs=1e-12)


def test_sensitivity_end_to_end_parameter_without_effect_scores_zero(folder):
    exp = write(folder, "s.yaml", """
name: sob
base: tiny.yaml
steps: 4
design: {kind: sobol, samples: 4}
parameters:
  engagement.gp.mean: {low: 0.2, high: 0.8}
  innovation.q: {low: 0.0, high: 1.0}   # innovation is off: no effect at all
seed: 3
outcomes: [engagement_gp]
""")
    out = folder / "sob"
    assert sweep(exp, out=out, executor="local", workers=2, quiet=True).failed == 0
    res = CliRunner().invoke(app, ["sensitivity", str(out), "--resamples", "50"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "sensitivity" / "sensitivity.csv").set_index("parameter")
    assert table.loc["innovation.q", "S1"] == 0 and table.loc["innovation.q", "ST"] == 0
    assert table.loc["engagement.gp.mean", "ST"] > 0.5
    assert (out / "sensitivity" / "sensitivity_engagement_gp.png").exists()
    # a partial sweep is analysed on its complete blocks only
    partial = folder / "partial"
    sweep(exp, out=partial, executor="serial", quiet=True, max_runs=8)
    result = analyse(partial, resamples=20)
    assert result.table["blocks"].iloc[0] == 2 and "2 of 4 blocks" in result.notes[0]
    res = CliRunner().invoke(app, ["sensitivity", str(folder / "g")])
    assert res.exit_code == 2 and "no experiment results here" in res.output


# --------------------------------------------------------------------------- library


@pytest.mark.parametrize("name", ["engagement_by_locality", "leadership_levers",
                                  "sobol_key_parameters", "discovery_accuracy"])
def test_experiment_library_is_valid(name):
    path = ROOT / "experiments" / f"{name}.yaml"
    assert path.read_text().startswith("# Question:")
    exp = load_experiment(path)
    design = build_design(exp)
    assert 50 <= len(design) * exp.spec.replicates <= 1100


def test_sweep_point_equals_commnet_run_of_the_same_values_and_seed(folder):
    # replicate r of a point is seeded replicate_seeds(root, R)[r] (seeds: common), as
    # `commnet run --seed root`; the parameter values are set exactly as `--set` sets them
    path = write(folder, "one.yaml", """
name: one
base: tiny.yaml
steps: 6
design: grid
parameters:
  engagement.gp.mean: [0.3]
  network.gp_ties_in_locality: [2.0]
  localities.enabled: [false]
replicates: 1
seed: 11
keep_timeseries: true
outcomes: [accuracy_board, coherence_internal, relevance_skill]
""")
    sweep(path, out=folder / "sweep", executor="serial")
    swept = read_results(folder / "sweep", "timeseries", group=None)
    res = CliRunner().invoke(app, [
        "run", str(folder / "tiny.yaml"), "--seed", "11", "--steps", "6", "--no-figures",
        "--set", "engagement.gp.mean=0.3", "--set", "network.gp_ties_in_locality=2.0",
        "--set", "localities.enabled=false", "--out", str(folder / "run")])
    assert res.exit_code == 0, res.output
    ran = pd.read_parquet(folder / "run" / "timeseries.parquet")
    ran = ran[ran["replicate"] == 0]
    metrics = [c for c in ran.columns if c not in ("replicate", "step", "group", "month")
               and pd.api.types.is_numeric_dtype(ran[c])]
    assert len(metrics) >= 20
    key = ["step", "group"]
    a = ran.assign(group=ran["group"].astype(str)).sort_values(key).reset_index(drop=True)
    b = swept.assign(group=swept["group"].astype(str)).sort_values(key).reset_index(drop=True)
    assert len(a) == len(b) > 0
    pd.testing.assert_frame_equal(a[key + metrics], b[key + metrics], check_dtype=False)
    # and the stored outcomes are those of the run's series
    frame = read_results(folder / "sweep")
    last = a[a["group"] == "overall"].iloc[-1]
    assert frame["accuracy_board"].iloc[0] == pytest.approx(last["accuracy_board"], abs=0, rel=0)


def test_a_worker_validates_each_design_point_once_and_never_mixes_points():
    # replicates of one point share one validated scenario (the per-run overhead of a sweep);
    # another point, another base or a task without a base key gets its own
    import yaml

    from simulation.experiment import executors as X

    base = {**yaml.safe_load(ONE_GROUP), "steps": 2}
    outcomes = ({"name": "skill", "metric": "relevance_skill", "reduce": "final"},)

    def task(values, key="0:abc"):
        return X.RunTask(0, 0, 0, 1, base, values, outcomes, base_key=key)

    X._SCENARIOS.clear()
    a, _ = X._scenario_of(task({"exchange.rate": 0.3}))
    b, _ = X._scenario_of(task({"exchange.rate": 0.3}))
    c, _ = X._scenario_of(task({"exchange.rate": 0.4}))
    d, _ = X._scenario_of(task({"exchange.rate": 0.3}, key="1:def"))
    e, _ = X._scenario_of(task({"exchange.rate": 0.3}, key=""))
    assert a is b and a.exchange.rate == 0.3
    assert c is not a and c.exchange.rate == 0.4
    assert d is not a and e is not a and len(X._SCENARIOS) == 3
    for i in range(2 * X._SCENARIOS_KEPT):  # the cache stays bounded
        X._scenario_of(task({"exchange.rate": i / 100}))
    assert len(X._SCENARIOS) == X._SCENARIOS_KEPT
    out = X.execute_run(task({"exchange.rate": 0.3}))
    assert out["status"] == "ok", out["error"]


def test_sensitivity_tables_keep_parameter_names_whole_at_80_columns():
    from rich.console import Console

    from simulation.experiment.sensitivity import SensitivityResult, print_indices

    names = ["engagement_dynamics.learning_rate", "localities.attendance", "engagement.gp.mean"]
    table = pd.DataFrame({"outcome": "relevance_skill__last12", "parameter": names,
                          "S1": [0.5, -0.1, 0.2], "S1_conf": [0.1, 0.2, 0.3],
                          "ST": [0.6, 1.2, 0.3], "ST_conf": [0.1, 0.2, 0.4], "blocks": 8})
    console = Console(width=80, record=True)
    print_indices(SensitivityResult("sobol", table), console)
    text = console.export_text()
    for name in names[1:]:  # up to 30 characters: whole
        assert name in text, name
    assert "…" not in text
    assert "warning: only 8 Sobol base samples" in " ".join(text.split())
    assert "S1 < 0 for localities.attendance" in " ".join(text.split())
