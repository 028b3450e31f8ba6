"""Scenario files: loading, extends, overrides and the quality of error messages."""

import subprocess
import sys
from pathlib import Path

import pytest

from simulation.loader import ScenarioError, apply_overrides, estimate_memory, load_scenario
from simulation.scenario import Scenario, scenario_hash

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

BAD = sorted((Path(__file__).parent / "bad_scenarios").glob("*.yaml"))


def expectations(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect:"), path
    return [part.strip() for part in first.removeprefix("# expect:").split("|")]


def test_there_are_at_least_ten_malformed_files():
    assert len(BAD) >= 10


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_malformed_file_gives_clear_message(path):
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    text = str(info.value)
    assert text.startswith(str(path)), text  # names the file
    for part in expectations(path):
        assert part in text, f"{part!r} not in {text!r}"


@pytest.mark.parametrize("name", ["typo_field", "not_yaml", "unknown_group"])
def test_cli_exit_status_two_and_no_traceback(name):
    path = Path(__file__).parent / "bad_scenarios" / f"{name}.yaml"
    proc = subprocess.run([sys.executable, "-m", "simulation.cli", "validate", str(path)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert str(path) in proc.stderr
    for part in expectations(path):
        assert part in proc.stderr


def test_cli_run_bad_override_exit_two(tiny_path, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "simulation.cli", "run", str(tiny_path), "--set",
         "exchange.rate=2", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 2
    assert "--set: exchange.rate" in proc.stderr and "less than or equal to 1" in proc.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_library_scenario_validates(path):
    s = load_scenario(path)
    assert isinstance(s, Scenario)


def test_east_of_england_matches_the_study():
    s = load_scenario(SCENARIOS / "east_of_england_2013.yaml")
    assert len(s.groups) == 6
    assert sum(g.population for g in s.groups) == 1_662_000
    assert sum(g.practices.count for g in s.groups) == 208
    for g in s.groups:  # inside the national range of CCG sizes
        assert 63_100 <= g.population <= 869_400


def test_extends_merges_mappings_and_replaces_the_rest():
    base = load_scenario(SCENARIOS / "east_of_england_2013.yaml")
    low = load_scenario(SCENARIOS / "low_gp_engagement.yaml")
    assert low.engagement.gp.mean == 0.3
    assert low.engagement.manager == base.engagement.manager  # untouched sibling kept
    assert low.groups == base.groups
    assert scenario_hash(low) != scenario_hash(base)


def test_error_in_variant_is_attributed_to_the_variant(tmp_path):
    (tmp_path / "base.yaml").write_text(
        "name: b\ngroups:\n  - {name: A, population: 90000, practices: {count: 10}}\n")
    (tmp_path / "var.yaml").write_text("extends: base.yaml\nname: v\nsteps: -3\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "var.yaml")
    assert str(info.value).startswith(str(tmp_path / "var.yaml") + ": steps:")


def test_circular_extends(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    with pytest.raises(ScenarioError, match="circular"):
        load_scenario(tmp_path / "a.yaml")


def test_overrides_set_nested_fields_and_list_items(tiny_path):
    s = load_scenario(tiny_path, ["groups.1.population=120000", "localities.enabled=false",
                                  "exchange.rule=deffuant"])
    assert s.groups[1].population == 120000
    assert s.localities.enabled is False
    assert s.exchange.rule == "deffuant"


def test_override_bad_index_is_an_error():
    with pytest.raises(ScenarioError, match="not an index"):
        apply_overrides({"groups": [{}]}, ["groups.3.population=1"])


def test_hash_is_stable_and_sensitive(tiny):
    assert scenario_hash(tiny) == scenario_hash(tiny.model_copy())
    assert scenario_hash(tiny) != scenario_hash(tiny.model_copy(update={"seed": 6}))


def test_memory_estimate_grows_with_scale(tiny):
    assert estimate_memory(tiny.model_copy(update={"scale": 0.5})) < estimate_memory(tiny)


def test_ctrl_c_keeps_finished_replicates(tmp_path):
    import json
    import signal
    import time

    import pandas as pd

    out = tmp_path / "o"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulation.cli", "run", str(SCENARIOS / "teaching.yaml"),
         "--replicates", "500", "--out", str(out), "-q", "--no-figures"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # long enough for start-up and a first replicate on a loaded machine (a replicate of the
    # teaching scenario takes ~0.2 s idle), short of the 500 (~100 s idle)
    time.sleep(20)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    manifest = json.loads((out / "manifest.json").read_text())
    done = manifest["replicates"]
    assert 1 <= done < 500 and manifest["replicates_requested"] == 500
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert ts["replicate"].nunique() == done
    assert f"{done} of 500 replicates written" in stderr
