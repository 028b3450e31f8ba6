"""Scenario discovery (commnet discover): PRIM recovers a known box from a synthetic store,
a real tiny sweep runs end to end through the CLI, bad input exits 2 with a message, and
experiment files mark levers and uncertainties."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from simulation.cli import app
from simulation.experiment import load_experiment
from simulation.experiment.discover import choose_box, discover, knee, load_data, write
from simulation.experiment.store import ResultsStore, make_schemas
from simulation.loader import ScenarioError

ROOT = Path(__file__).resolve().parents[1]


def synthetic_store(folder, n=400, seed=0, replicates=1, noise=0.0):
    """A results folder as `commnet sweep` writes it, for y = 1 on x1 > 0.7 and x2 < 0.3
    (plus a parameter without effect and a boolean one), uniform design."""
    rng = np.random.default_rng(seed)
    design = pd.DataFrame({"point": np.arange(n), "x1": rng.uniform(size=n),
                           "x2": rng.uniform(size=n), "x3": rng.uniform(size=n),
                           "flag": rng.integers(0, 2, n).astype(bool)})
    import pyarrow as pa

    types = {"x1": pa.float64(), "x2": pa.float64(), "x3": pa.float64(), "flag": pa.bool_()}
    schemas = make_schemas(types, ["score"], cases=False)
    store = ResultsStore(folder, schemas)
    store.write_manifest({
        "kind": "commnet experiment results", "experiment_name": "synthetic",
        "design": "latin_hypercube", "parameters": ["x1", "x2", "x3", "flag"], "points": n,
        "replicates": replicates, "root_seed": 42, "outcomes": ["score"], "design_hash": "x",
        "experiment": {"levers": ["x3"], "uncertainties": ["x1", "x2", "flag"]},
    })
    store.write_design(design)
    in_box = (design["x1"] > 0.7) & (design["x2"] < 0.3)
    runs = {c: [] for c in schemas["runs"].names}
    outs = {c: [] for c in schemas["outcomes"].names}
    for r in range(replicates):
        for p in range(n):
            run_id = r * n + p
            score = float(in_box[p]) + noise * rng.normal()
            for c, v in (("run_id", run_id), ("point", p), ("replicate", r)):
                runs[c].append(v)
                outs[c].append(v)
            for c in types:
                runs[c].append(design.loc[p, c].item())
                outs[c].append(design.loc[p, c].item())
            runs["seed"].append(run_id)
            runs["status"].append("ok")
            runs["error"].append(None)
            for c in ("duration", "model_seconds"):
                runs[c].append(0.0)
            runs["worker"].append("w")
            runs["session"].append(1)
            runs["finished"].append(0)
            for g in ("overall", "A"):
                if g == "A":
                    for c in ("run_id", "point", "replicate", *types):
                        outs[c].append(outs[c][-1])
                outs["group"].append(g)
                outs["score"].append(score)
    store.write(runs, outs)
    return folder, in_box


def test_prim_recovers_a_known_box(tmp_path):
    folder, in_box = synthetic_store(tmp_path / "syn", n=300)
    res = discover(folder, "score", above=0.5)
    boxes = res.boxes.set_index("parameter")
    restricted = set(boxes.index[boxes["restricted"]])
    assert restricted == {"x1", "x2"}
    assert boxes.loc["x1", "min"] == pytest.approx(0.7, abs=0.05)
    assert boxes.loc["x1", "max"] == pytest.approx(1.0, abs=0.02)
    assert boxes.loc["x2", "min"] == pytest.approx(0.0, abs=0.02)
    assert boxes.loc["x2", "max"] == pytest.approx(0.3, abs=0.05)
    assert boxes["coverage"].iloc[0] >= 0.9 and boxes["density"].iloc[0] >= 0.9
    # statistics agree with their definitions on the stored data
    n, k, total = boxes["n"].iloc[0], boxes["k"].iloc[0], int(in_box.sum())
    assert boxes["coverage"].iloc[0] == pytest.approx(k / total)
    assert boxes["density"].iloc[0] == pytest.approx(k / n)
    assert boxes["mass"].iloc[0] == pytest.approx(n / len(in_box))
    assert boxes.loc["x1", "qp_lower"] < 0.01 and boxes.loc["x2", "qp_upper"] < 0.01
    assert boxes.loc["x1", "role"] == "uncertainty"
    # the lever x3 is left out by default, and is the only column with --over levers
    assert "x3" not in boxes.index
    assert list(load_data(folder, "score", above=0.5, over="levers").x.columns) == ["x3"]
    # CART's densest leaf is the same box
    top = res.cart.iloc[0]
    assert top["of_interest"] and top["density"] == pytest.approx(1.0)
    assert top["x1:min"] == pytest.approx(0.7, abs=0.02)
    assert top["x2:max"] == pytest.approx(0.3, abs=0.02)
    # --below picks the complement: the box is no longer x1 > 0.7 and x2 < 0.3
    low = load_data(folder, "score", below=0.5)
    assert low.y.sum() == len(in_box) - in_box.sum()


def test_replicates_are_averaged_per_point_or_used_per_run(tmp_path):
    folder, in_box = synthetic_store(tmp_path / "syn", n=200, replicates=3, noise=0.3)
    per_point = load_data(folder, "score", above=0.5)
    assert len(per_point.y) == 200
    per_run = load_data(folder, "score", above=0.5, per="run")
    assert len(per_run.y) == 600
    # averaging 3 replicates removes noise: the point means classify better than single runs
    assert (per_point.y == in_box.to_numpy()).mean() > (
        per_run.y == np.tile(in_box.to_numpy(), 3)).mean()


def test_box_choice_rules(tmp_path):
    folder, _ = synthetic_store(tmp_path / "syn", n=150)
    res = discover(folder, "score", above=0.5)
    traj = res.trajectory
    assert res.chosen == knee(traj) and res.rule.startswith("knee")
    assert traj["chosen"].sum() == 1 and bool(traj.loc[res.chosen, "chosen"])
    assert choose_box(traj, box=3) == (3, "--box 3")
    i, _ = choose_box(traj, min_coverage=0.99)
    assert traj.loc[i, "coverage"] >= 0.99
    assert traj.loc[i, "density"] == traj[traj["coverage"] >= 0.99]["density"].max()
    with pytest.raises(ScenarioError, match="boxes 0 to"):
        choose_box(traj, box=len(traj))
    # a knee on a made-up trajectory: the elbow, not an end
    toy = pd.DataFrame({"id": range(5), "coverage": [1.0, 0.98, 0.95, 0.6, 0.2],
                        "density": [0.2, 0.5, 0.9, 0.95, 1.0]})
    assert knee(toy) == 2


def test_files_and_manifest(tmp_path):
    folder, _ = synthetic_store(tmp_path / "syn", n=120)
    res = discover(folder, "score", above=0.5)
    files = write(res, folder / "discover", folder)
    names = sorted(f.name for f in files)
    assert names == ["boxes.csv", "cart.csv", "manifest.json", "tradeoff.png", "trajectory.csv"]
    manifest = json.loads((folder / "discover" / "manifest.json").read_text())
    assert manifest["threshold"] == 0.5 and manifest["direction"] == "above"
    assert manifest["source"] == str(folder.resolve())
    assert manifest["seed"] == res.seed and "ema_workbench" in manifest["versions"]
    traj = pd.read_csv(folder / "discover" / "trajectory.csv")
    assert {"coverage", "density", "mass", "n", "k", "res_dim", "x1:min", "flag:in"} <= set(traj)
    # the same data give the same files (PRIM is deterministic, CART seeded)
    again = discover(folder, "score", above=0.5)
    pd.testing.assert_frame_equal(again.cart, res.cart)
    pd.testing.assert_frame_equal(again.trajectory, res.trajectory)
    # without figures an old tradeoff.png is removed, not left stale
    write(res, folder / "discover", folder, figures=False)
    assert not (folder / "discover" / "tradeoff.png").exists()


TINY_EXPERIMENT = """
name: tiny_discovery
base: tiny.yaml
steps: 8
design: {kind: latin_hypercube, samples: 16}
parameters:
  engagement.gp.mean: {low: 0.2, high: 0.8}
  engagement_dynamics.learning_rate: {low: 0.02, high: 0.3}
levers: [engagement.gp.mean]
uncertainties: [engagement_dynamics.learning_rate]
seed: 7
outcomes: [engagement_gp, {metric: accuracy_board, reduce: mean_last, last: 3}]
"""


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    from conftest import TINY

    folder = tmp_path_factory.mktemp("disc")
    (folder / "tiny.yaml").write_text(TINY)
    (folder / "exp.yaml").write_text(TINY_EXPERIMENT)
    res = CliRunner().invoke(app, ["sweep", str(folder / "exp.yaml"), "--out",
                                   str(folder / "out"), "--executor", "serial", "-q"])
    assert res.exit_code == 0, res.output
    return folder / "out"


def test_real_sweep_end_to_end_through_the_cli(tiny_sweep):
    values = pd.read_parquet(tiny_sweep / "outcomes")
    values = values[values["group"] == "overall"]["engagement_gp"]
    threshold = float(values.median())
    res = CliRunner().invoke(app, ["discover", str(tiny_sweep), "--outcome", "engagement_gp",
                                   "--below", f"{threshold}", "--over", "all"])
    assert res.exit_code == 0, res.output
    out = tiny_sweep / "discover"
    for name in ("boxes.csv", "trajectory.csv", "cart.csv", "tradeoff.png", "manifest.json"):
        assert (out / name).exists(), name
    boxes = pd.read_csv(out / "boxes.csv")
    assert set(boxes["parameter"]) == {"engagement.gp.mean", "engagement_dynamics.learning_rate"}
    assert dict(zip(boxes["parameter"], boxes["role"], strict=True)) == {
        "engagement.gp.mean": "lever", "engagement_dynamics.learning_rate": "uncertainty"}
    # low GP engagement comes from a low mean engagement: the box restricts it from above
    row = boxes.set_index("parameter").loc["engagement.gp.mean"]
    assert row["restricted"] and row["max"] < row["range_max"]
    assert "coverage" in res.output and "density" in res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["cases"] == 16 and manifest["over"] == "all"
    # default --over uncertainties uses the learning rate only
    res = CliRunner().invoke(app, ["discover", str(tiny_sweep), "--outcome", "engagement_gp",
                                   "--below", f"{threshold}", "--out", str(out / "u"), "-q"])
    assert res.exit_code == 0, res.output
    assert list(pd.read_csv(out / "u" / "boxes.csv")["parameter"]) == [
        "engagement_dynamics.learning_rate"]


@pytest.mark.parametrize("args, message", [
    (["--outcome", "engagement_gp", "--below", "0.5"], "no such folder"),
    (["--outcome", "nope", "--below", "0.5"], "not an outcome of this sweep"),
    (["--outcome", "engagement_gpp", "--below", "0.5"], "did you mean 'engagement_gp'"),
    (["--outcome", "engagement_gp"], "give exactly one threshold"),
    (["--outcome", "engagement_gp", "--below", "0.5", "--above", "0.1"], "exactly one"),
    (["--outcome", "engagement_gp", "--below", "-1"], "holds for none of the 16 points"),
    (["--outcome", "engagement_gp", "--above", "-1"], "holds for every one of the 16"),
    (["--outcome", "engagement_gp", "--below", "nan"], "finite number"),
    (["--outcome", "engagement_gp", "--below", "0.5", "--over", "policies"], "is not one of"),
    (["--outcome", "engagement_gp", "--below", "0.5", "--per", "replicate"], "--per"),
    (["--outcome", "engagement_gp", "--below", "0.5", "--group", "Z"], "not a group"),
    (["--outcome", "engagement_gp", "--below", "0.5", "--box", "999"], "boxes 0 to"),
    (["--outcome", "engagement_gp", "--below", "0.5", "--box", "1", "--min-coverage", "0.5"],
     "at most one"),
    (["--outcome", "engagement_gp", "--below", "0.5", "--min-coverage", "1.5"], "(0, 1]"),
    (["--outcome", "engagement_gp", "--below", "0.5", "--mass-min", "0"], "between 0 and 1"),
])
def test_bad_input_exits_two_with_a_message(tiny_sweep, args, message):
    folder = tiny_sweep if message != "no such folder" else tiny_sweep.parent / "missing"
    res = CliRunner().invoke(app, ["discover", str(folder), *args])
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split()), res.output
    assert "Traceback" not in res.output


def test_folders_that_are_not_sweeps(tmp_path):
    cases = {
        "empty": None,
        "run": {"kind": "commnet run", "scenario": "x"},
        "cases": {"kind": "commnet experiment results", "design": "cases", "parameters": [],
                  "outcomes": ["a"]},
    }
    for name, manifest in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        if manifest is not None:
            (folder / "manifest.json").write_text(json.dumps(manifest))
        res = CliRunner().invoke(app, ["discover", str(folder), "--outcome", "a",
                                       "--below", "1"])
        assert res.exit_code == 2, (name, res.output)
        text = " ".join(res.output.split())
        assert {"empty": "no manifest.json", "run": "'commnet run' folder",
                "cases": "varies no parameters"}[name] in text, text
        assert "Traceback" not in res.output
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text("{not json")
    res = CliRunner().invoke(app, ["discover", str(tmp_path / "broken"), "--outcome", "a",
                                   "--below", "1"])
    assert res.exit_code == 2 and "cannot be read as JSON" in res.output


def test_levers_and_uncertainties_in_experiment_files(tmp_path):
    from conftest import TINY

    (tmp_path / "tiny.yaml").write_text(TINY)

    def load(extra):
        text = TINY_EXPERIMENT.replace(
            "levers: [engagement.gp.mean]\nuncertainties: [engagement_dynamics.learning_rate]\n",
            extra)
        (tmp_path / "e.yaml").write_text(text)
        return load_experiment(tmp_path / "e.yaml")

    plain = load("")
    marked = load("levers: [engagement.gp.mean]\n"
                  "uncertainties: [engagement_dynamics.learning_rate]\n")
    assert marked.spec.role("engagement.gp.mean") == "lever"
    assert plain.spec.role("engagement.gp.mean") == "unmarked"
    # marks change no run, so they leave the design hash (and --resume) alone
    assert plain.design_hash() == marked.design_hash()
    bad = {
        "levers: [engagement.gp.sd]\nuncertainties: [engagement.gp.mean, "
        "engagement_dynamics.learning_rate]\n": ("levers", "'engagement.gp.sd' is not among"),
        "levers: [engagement.gp.mean]\n": ("uncertainties", "mark every one: add "
                                                            "engagement_dynamics.learning_rate"),
        "levers: [engagement.gp.mean]\nuncertainties: [engagement.gp.mean, "
        "engagement_dynamics.learning_rate]\n": ("levers", "either a lever or an uncertainty"),
        "levers: engagement.gp.mean\n": ("levers", "list"),
    }
    for extra, (where, message) in bad.items():
        with pytest.raises(ScenarioError) as exc:
            load(extra)
        source, field, text = exc.value.problems[0]
        assert source.endswith("e.yaml") and field.startswith(where), exc.value.problems
        assert message in text, text


@pytest.mark.parametrize("name", ["engagement_by_locality", "sobol_key_parameters",
                                  "discovery_accuracy"])
def test_library_experiments_mark_every_parameter(name):
    spec = load_experiment(ROOT / "experiments" / f"{name}.yaml").spec
    assert all(spec.role(p) != "unmarked" for p in spec.parameters)
    assert spec.role("engagement.gp.mean") == "lever"


def test_marks_come_from_the_experiment_file_for_an_older_sweep(tiny_sweep, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(tiny_sweep, old, ignore=shutil.ignore_patterns("discover"))
    manifest = json.loads((old / "manifest.json").read_text())
    for key in ("levers", "uncertainties"):
        manifest["experiment"].pop(key)
    (old / "manifest.json").write_text(json.dumps(manifest))
    data = load_data(old, "engagement_gp", below=float(np.median(
        pd.read_parquet(old / "outcomes").query("group == 'overall'")["engagement_gp"])))
    assert data.roles == {"engagement.gp.mean": "lever",
                              "engagement_dynamics.learning_rate": "uncertainty"}
    # ... but not from a file that now describes other runs
    manifest["design_hash"] = "0" * 16
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert set(load_data(old, "engagement_gp", below=0.5).roles.values()) == {"unmarked"}
    assert any("treated as an uncertainty" in n for n in
               load_data(old, "engagement_gp", below=0.5).notes)
