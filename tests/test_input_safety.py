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


# ------------------------------------------------------------------ extends, sizes, YAML 1.1 words
TINY_GROUPS = ("groups:\n  - {name: A, population: 60000, practices: {count: 8}, "
               "localities: {count: 2}, commissioning_managers: 4}\n")


@pytest.mark.parametrize("target, message", [
    ("/etc/hosts.yaml", "must be a path relative to this file's folder"),
    ("/etc/passwd", "must name a .yaml or .yml file"),
    ("base.txt", "must name a .yaml or .yml file"),
    ("~/base.yaml", "must be a path relative"),
    ("../../../../../../../../etc/base.yaml", "lies outside the scenario's folder tree"),
    ("x" * 5000 + ".yaml", "not a usable file name"),
    ("nothere.yaml", "base file 'nothere.yaml' not found"),
    ("sub", "must name a .yaml or .yml file"),
    ("[1, 2]", "must be a file name"),
])
def test_extends_is_restricted_to_yaml_files_in_the_scenario_tree(tmp_path, target, message):
    folder = tmp_path / "study" / "variants"
    folder.mkdir(parents=True)
    (folder / "sub").mkdir()
    child = folder / "v.yaml"
    child.write_text(f"extends: {target}\nname: v\n")
    with pytest.raises(ScenarioError, match=message) as info:
        load_scenario(child)
    assert str(info.value).startswith(f"{child}: extends: ")


def test_extends_may_reach_a_sibling_folder_and_errors_name_the_including_file(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "variants").mkdir()
    base = tmp_path / "base" / "b.yaml"
    base.write_text("name: b\n" + TINY_GROUPS)
    child = tmp_path / "variants" / "v.yaml"
    child.write_text("extends: ../base/b.yaml\nname: v\n")
    assert load_scenario(child).name == "v"
    base.write_text("name: b\nname: c\n")  # a broken base: the message says who pointed there
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    text = str(info.value)
    assert text.startswith(f"{child}: extends: base file {base}") and "duplicate key" in text


def test_extends_inside_the_project_from_a_results_folder():
    # a calibrated scenario written under results/ extends ../../scenarios/<base>.yaml
    from simulation.loader import extends_root
    assert extends_root(ROOT / "results" / "x" / "c.yaml") == ROOT
    assert extends_root(TEACHING) == ROOT


def test_more_localities_than_practices_is_an_error(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\n" + TINY_GROUPS.replace("localities: {count: 2}", "localities: {count: 9}"))
    with pytest.raises(ScenarioError, match=r"groups\[0\]: localities.count is 9 but the group has 8 "
                                            r"practices"):
        load_scenario(p)


@pytest.mark.parametrize("extra, message", [
    ("seed: null", "seed must be a non-negative integer"),
    ("seed: .inf", "seed must be a non-negative integer"),
    ("seed: -3", "seed must be a non-negative integer"),
    ("seed: true", "seed must be a non-negative integer"),
])
def test_generate_refuses_bad_seeds(tmp_path, extra, message):
    p = tmp_path / "g.yaml"
    p.write_text(f"name: g\n{extra}\ngenerate: {{groups: 3, population: {{total: 600000}}}}\n")
    with pytest.raises(ScenarioError, match=message):
        load_scenario(p)


@pytest.mark.parametrize("rule", ["localities_min: 100000000000000000000000",
                                  "la_max_span: 10000000000000000000000", "provider_staff: 1000000000"])
def test_generate_bounds_its_rules(tmp_path, rule):
    p = tmp_path / "g.yaml"
    p.write_text(f"name: g\ngenerate: {{groups: 3, population: {{total: 600000}}, {rule}}}\n")
    with pytest.raises(ScenarioError, match="less than or equal"):
        load_scenario(p)


def test_generated_localities_never_exceed_practices(tmp_path):
    p = tmp_path / "g.yaml"
    p.write_text("name: g\ngenerate: {groups: 3, population: {total: 600000}, mean_list_size: 100000, "
                 "localities_min: 5, localities_max: 8}\n")
    s = load_scenario(p)
    assert all(g.localities.count <= g.practices.count for g in s.groups)


def test_dense_network_is_refused_before_allocation_with_the_estimate(monkeypatch):
    # the estimate counts the generated informal ties: 100 + 100 per GP and 100 per manager
    from simulation import loader
    dense = ["network.gp_ties_in_locality=100", "network.gp_ties_across_localities=100",
             "network.manager_ties=100"]
    sparse_need = loader.estimate_memory(load_scenario(TEACHING, check_memory=False))
    dense_need = loader.estimate_memory(load_scenario(TEACHING, dense, check_memory=False))
    assert dense_need > sparse_need
    monkeypatch.setattr(loader, "available_memory", lambda: (sparse_need + dense_need) // 2)
    load_scenario(TEACHING)
    with pytest.raises(ScenarioError, match=r"needs about [\d.]+ GiB \(an estimate: [\d,]+ agents"):
        load_scenario(TEACHING, dense)


def test_yaml_1_1_words_stay_the_strings_typed():
    assert safe_yaml("a: [off, no, on, yes, true, False]") == {"a": ["off", "no", "on", "yes", True, False]}
    s = load_scenario(TEACHING, ["localities.enabled=off", "innovation.enabled=yes"])
    assert s.localities.enabled is False and s.innovation.enabled is True


def test_an_experiment_case_named_off_is_the_string_off(tmp_path):
    from simulation.experiment.spec import load_experiment
    (tmp_path / "t.yaml").write_text("name: t\n" + TINY_GROUPS)
    (tmp_path / "e.yaml").write_text("name: e\nbase: t.yaml\ndesign: {kind: cases}\ncases:\n"
                                     "  - {name: off, set: {network.informal: off}}\n"
                                     "  - {name: on, set: {network.informal: on}}\n")
    exp = load_experiment(tmp_path / "e.yaml")
    assert [c.name for c in exp.spec.cases] == ["off", "on"]
    assert [b["network"]["informal"] for b in exp.bases] == [False, True]


def test_a_study_elsewhere_may_extend_the_shipped_scenarios(tmp_path):
    child = tmp_path / "study" / "v.yaml"
    child.parent.mkdir()
    child.write_text(f"extends: {os.path.relpath(TEACHING, child.parent)}\nname: v\n")
    assert load_scenario(child).name == "v"


@pytest.mark.parametrize("text, message", [
    ("a: &l0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 10)),
     "values once aliases"),
    ("a: &a [*a]\n", "recursive alias"),
])
def test_alias_bombs_are_refused_quickly(tmp_path, text, message):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        load_scenario(p)


def test_a_quoted_number_is_not_converted():
    with pytest.raises(ScenarioError, match=r"steps: got '5', a string, where a number is meant"):
        load_scenario(TEACHING, ["steps='5'"])


@pytest.mark.parametrize("name", ["a" * 5000 + ".csv", "x\0y.csv"])
def test_data_file_names_too_long_or_with_nul_are_clean_errors(tmp_path, name):
    # found by benchmarks/fuzz_campaign.py: OSError (File name too long) from the register check
    for extra in ({"practices_from": {"file": name, "format": "plain"}},
                  {"network": {"survey": {"format": "csv", "nodes": name, "edges": name}}}):
        data = yaml.safe_load(TEACHING.read_text())
        if "practices_from" in extra:
            data.pop("groups")
        data.update(extra)
        p = tmp_path / "s.yaml"
        p.write_text(yaml.safe_dump(data))
        with pytest.raises(ScenarioError, match=r"cannot read|not found|not a usable file name"):
            load_scenario(p)
