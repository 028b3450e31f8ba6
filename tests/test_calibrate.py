"""commnet calibrate: ABC-SMC on a small scenario, its outputs, resuming and bad input."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation.experiment.calibrate import SurveyModel, calibrate, load_calibration
from simulation.loader import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]

CAL = """
name: tiny_cal
base: {base}
set: {{steps: 26, burn_in: 6}}
seed: 3
parameters:
  - {{path: engagement.gp.mean, low: 0.3, high: 0.8}}
  - {{path: decisions.informed_window, low: 1, high: 12, integer: true}}
targets:
  - {{name: informed_other, metric: informed_other, months: [24, 26], observed: 0.55, sd: 0.05}}
  - {{name: influence_other, metric: influence_other, months: [24, 26], observed: 0.40, sd: 0.05}}
  - {{name: reflect_other, metric: survey_reflected_other, months: [24, 26], observed: 0.14,
     sd: 0.05, held_out: true}}
abc: {{population_size: 10, generations: 2, predictive_draws: 4}}
"""


@pytest.fixture
def cal_file(tmp_path):
    p = tmp_path / "cal.yaml"
    p.write_text(CAL.format(base=ROOT / "scenarios" / "teaching.yaml"))
    return p


def test_model_evaluations_are_seeded_by_parameters(cal_file):
    spec, fixed, base = load_calibration(cal_file)
    model = SurveyModel(spec, fixed, base)
    params = {"engagement.gp.mean": 0.5, "decisions.informed_window": 6.4}
    a, b = model(params), model(params)
    assert a == b and set(a) == {"informed_other", "influence_other"}  # held out: not fitted
    full = model.simulate(params)
    assert set(full) == {*a, "reflect_other"} and all(full[k] == a[k] for k in a)
    assert model.scenario(params).decisions.informed_window == 6  # integer prior rounded
    assert model.simulate(params, salt=1) != a  # a fresh seed for predictive draws


@pytest.mark.slow
def test_calibration_writes_posterior_predictive_and_scenario(cal_file, tmp_path):
    out = tmp_path / "out"
    res = calibrate(cal_file, out, executor="serial")
    for name in ("posterior.parquet", "predictive.csv", "identification.csv", "calibration.png",
                 "teaching_calibrated.yaml", "abc.db"):
        assert (out / name).exists(), name
    post = pd.read_parquet(out / "posterior.parquet")
    assert set(post.generation) == {0, 1}
    last = post[post.generation == 1]
    assert np.isclose(last.weight.sum(), 1.0)
    assert last["engagement.gp.mean"].between(0.3, 0.8).all()
    pred = pd.read_csv(out / "predictive.csv")
    assert list(pred.target) == ["informed_other", "influence_other", "reflect_other"]
    assert list(pred.held_out) == [False, False, True]  # predicted, not fitted
    assert pred.predicted_median.notna().all()
    ident = pd.read_csv(out / "identification.csv")
    assert (ident.sd_ratio > 0).all()
    corr = pd.read_csv(out / "correlations.csv", index_col=0)
    assert corr.shape == (2, 2) and np.allclose(np.diag(corr), 1.0)
    s = load_scenario(out / "teaching_calibrated.yaml")
    med = res["identification"].set_index("parameter").loc["engagement.gp.mean", "median"]
    assert s.engagement.gp.mean == pytest.approx(med, abs=1e-4)
    assert s.engagement.gp.sd == 0.15  # only the fitted field changed
    text = (out / "teaching_calibrated.yaml").read_text()
    assert text.startswith("# Calibrated by") and "informed_other: 0.550 vs" in text
    assert "(held out)" in text.split("reflect_other: 0.140 vs")[1].splitlines()[0]
    # a stored calibration is not overwritten; --resume continues it (nothing left to do)
    with pytest.raises(ScenarioError, match="--resume"):
        calibrate(cal_file, out, executor="serial")
    again = calibrate(cal_file, out, executor="serial", resume=True)
    assert again["generations"] == 2


@pytest.mark.parametrize("change, message", [
    ("metric: informed_other, months", "unknown metric"),
    ("months: [24, 26]", "after the run"),
    ("path: engagement.gp.mean, low: 0.3", "parameters[0]"),
])
def test_bad_calibration_files_fail_cleanly(cal_file, change, message):
    text = cal_file.read_text()
    bad = {
        "unknown metric": text.replace("metric: informed_other, months", "metric: nope, months"),
        "after the run": text.replace("months: [24, 26]", "months: [24, 99]", 1),
        "parameters[0]": text.replace("path: engagement.gp.mean, low: 0.3",
                                      "path: engagement.gp.mean, low: -0.3"),
    }[message]
    cal_file.write_text(bad)
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_calibration(cal_file)
    run = subprocess.run([sys.executable, "-m", "simulation.cli", "calibrate", str(cal_file),
                          "--out", str(cal_file.parent / "x")], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_held_out_targets_are_left_out_of_the_distance(cal_file, monkeypatch):
    """The distance pyabc gets weighs only the fitted targets, and the observed values it is
    given are theirs; a file whose every target is held out is refused."""
    import pyabc

    seen = {}
    real = pyabc.PNormDistance

    def spy(*args, **kwargs):
        seen["weights"] = kwargs.get("fixed_weights")
        raise RuntimeError("stop")

    monkeypatch.setattr(pyabc, "PNormDistance", spy)
    with pytest.raises(RuntimeError, match="stop"):
        calibrate(cal_file, cal_file.parent / "o", executor="serial")
    assert set(seen["weights"]) == {"informed_other", "influence_other"}
    assert seen["weights"]["influence_other"] == pytest.approx(1 / 0.05)
    monkeypatch.setattr(pyabc, "PNormDistance", real)
    text = cal_file.read_text()
    cal_file.write_text(text.replace("observed: 0.55, sd: 0.05}", "observed: 0.55, sd: 0.05, "
                                     "held_out: true}")
                        .replace("observed: 0.40, sd: 0.05}", "observed: 0.40, sd: 0.05, "
                                 "held_out: true}"))
    with pytest.raises(ScenarioError, match="at least one must be fitted"):
        load_calibration(cal_file)


def test_weighted_correlations_match_numpy():
    from simulation.experiment.calibrate import weighted_correlations

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 2))
    x[:, 1] += 0.8 * x[:, 0]
    df = pd.DataFrame(x, columns=["a", "b"])
    c = weighted_correlations(df, np.ones(200), ["a", "b"])
    assert c.loc["a", "b"] == pytest.approx(np.corrcoef(x.T)[0, 1])
    w = np.r_[np.ones(100), np.zeros(100)]  # zero weight = left out
    c = weighted_correlations(df, w, ["a", "b"])
    assert c.loc["a", "b"] == pytest.approx(np.corrcoef(x[:100].T)[0, 1])
