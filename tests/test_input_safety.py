"""Hostile input: every bad file or value is a clean ScenarioError (exit 2), never a crash."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation.loader import MAX_FILE_BYTES, ScenarioError, load_scenario, safe_yaml
from simulation.model import CommissioningModel

ROOT = Path(__file__).resolve().parents[1]
TEACHING = ROOT / "scenarios" / "teaching.yaml"


def _cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "simulation.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout, check=False)


@pytest.mark.parametrize("text, message", [
    ("name: a\nname: b\n", "duplicate key 'name'"),
    ("a: " + "[" * 100 + "]" * 100 + "\n", "nested more than 32 levels"),
    ("!!python/object/apply:os.system ['true']\n", "not valid YAML"),
])
def test_bad_yaml_files(tmp_path, text, message):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        load_scenario(p)


def test_special_and_huge_files_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario(fifo)  # would hang if opened
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario("/dev/zero")
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(ScenarioError, match="file too large"):
        load_scenario(big)
    with pytest.raises(ScenarioError, match="cannot read file"):
        load_scenario(tmp_path / ("x" * 5000 + ".yaml"))


@pytest.mark.parametrize("override, message", [
    ("exchange.rate=true", "a boolean, where a number is meant"),
    ("steps=false", "a boolean, where a number is meant"),
    ("need.baseline=[.inf, 1, 1, 1, 1, 1]", "finite number"),
    ("decisions.budget_per_head=.nan", "finite number"),
    ("seed=null", "valid integer"),
    ("steps=" + "[" * 60 + "]" * 60, "nested more than 32 levels"),
])
def test_bad_overrides(override, message):
    with pytest.raises(ScenarioError, match=message):
        load_scenario(TEACHING, [override])


def test_set_changes_only_the_field_it_names():
    base = load_scenario(TEACHING)
    s = load_scenario(TEACHING, ["engagement.gp.mean=0.3"])
    assert s.engagement.gp.mean == 0.3 and s.engagement.gp.sd == base.engagement.gp.sd
    assert s.model_dump(exclude={"engagement"}) == base.model_dump(exclude={"engagement"})


@pytest.mark.parametrize("args", [("--seed", "-1"), ("--steps", "0"), ("--steps", "-1")])
def test_cli_refuses_out_of_range_options(tmp_path, args):
    proc = _cli("run", str(TEACHING), *args, "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "o").exists()


def test_safe_yaml_keeps_plain_values():
    assert safe_yaml("a: [1, 2.5, x]\nb: {c: true}\n") == {"a": [1, 2.5, "x"], "b": {"c": True}}


# ------------------------------------------------------------------ property-based fuzzing
BASE = yaml.safe_load(TEACHING.read_text())
PATHS = ["steps", "seed", "scale", "burn_in", "exchange.rate", "exchange.rule",
         "network.gp_ties_in_locality", "ties.capacity", "decisions.max_shift",
         "localities.count", "localities.enabled", "engagement.gp.mean", "need.drift_sd",
         "observation.data_lag", "turnover.annual_rate", "groups.0.population",
         "groups.0.practices.count", "decisions.interval"]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
    st.text(max_size=8), st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=3))
def test_fuzzed_overrides_are_accepted_and_run_or_refused_cleanly(changes):
    overrides = [f"{path}={yaml.safe_dump(value, default_flow_style=True).strip()}"
                 .replace("\n...", "") for path, value in changes]
    try:
        s = load_scenario(TEACHING, overrides)
    except ScenarioError as exc:
        assert str(exc)  # a message, not a crash
        return
    small = s.model_copy(update={"steps": min(s.steps, 2), "burn_in": min(s.burn_in, 2),
                                 "scale": min(s.scale, 0.3)})
    m = CommissioningModel(small, collect=True)
    for _ in range(small.steps):
        m.step()
