"""Upper bodies from the register's map file (``structure.bodies_from: icb``), hand-checked on
the small synthetic register (data/synthetic: groups Z01 of 15 practices and Z02 of 16, all in
ICB ZQ1 in the map), and scenarios/england_2013_2026.yaml built on it."""

import csv
import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from simulation.loader import ScenarioError, load_scenario
from simulation.model import CommissioningModel
from simulation.scenario import Scenario, StructureSpec, scenario_hash

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "synthetic"
TOTALS = DATA / "gp-reg-pat-prac-all.csv"
MAP = DATA / "gp-reg-pat-prac-map.csv"
HISTORY = ROOT / "scenarios" / "england_2013_2026.yaml"
ENGLAND_MAP = ROOT / "data" / "synthetic" / "england" / "gp-reg-pat-prac-map.csv.gz"

ICB_STRUCTURE = "  era: icb\n  bodies_from: icb\n  body_share: 0.5\n"


def edited(tmp_path, source, name, change):
    """A copy of ``source`` with ``change(rows)`` applied (rows[0] is the header)."""
    with open(source, newline="") as fh:
        rows = [list(r) for r in csv.reader(fh) if r]
    change(rows)
    path = tmp_path / name
    with open(path, "w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return path


def set_icb(rows, group, icb, only=None):
    """Set ICB_CODE of the map rows of ``group`` (or of the practice codes in ``only``)."""
    h = rows[0]
    for r in rows[1:]:
        if r[h.index("SUB_ICB_LOCATION_CODE")] == group and (
                only is None or r[h.index("PRACTICE_CODE")] in only):
            r[h.index("ICB_CODE")] = icb


def two_icbs(rows):
    set_icb(rows, "Z02", "ZQ2")


def scenario(tmp_path, map_change=None, structure=ICB_STRUCTURE, extra="", map_file=True,
             register_extra=""):
    """A scenario over the small register; its map edited by ``map_change``."""
    lines = ["name: bf", "steps: 4", "burn_in: 2", "practices_from:",
             f"  file: {TOTALS}"]
    if map_file:
        m = edited(tmp_path, MAP, "map.csv", map_change) if map_change else MAP
        lines.append(f"  map_file: {m}")
    body = "\n".join(lines) + "\n" + register_extra
    if structure is not None:
        body += "structure:\n" + structure
    p = tmp_path / "bf.yaml"
    p.write_text(body + extra)
    return p


def bodies(st):
    return [(b.name, list(b.groups)) for b in st.bodies]


# --------------------------------------------------------------------------- expansion


def test_one_icb_in_the_map_gives_one_body_over_both_groups(tmp_path):
    s = load_scenario(scenario(tmp_path))
    assert bodies(s.structure) == [("ZQ1", ["Z01", "Z02"])]
    assert s.structure.bodies_from is None  # expanded: the resolved scenario lists the bodies
    assert s.structure.era == "icb" and s.structure.body_share == 0.5


def test_two_icbs_in_the_map_give_two_bodies(tmp_path):
    s = load_scenario(scenario(tmp_path, two_icbs))
    assert bodies(s.structure) == [("ZQ1", ["Z01"]), ("ZQ2", ["Z02"])]


def test_group_names_from_the_map_are_used_in_the_bodies(tmp_path):
    s = load_scenario(scenario(tmp_path, two_icbs, register_extra="  group_names: name\n"))
    names = [g.name for g in s.groups]
    assert bodies(s.structure) == [("ZQ1", [names[0]]), ("ZQ2", [names[1]])]
    assert names[0] == "NHS Synthetic North CCG"


def test_bodies_from_in_a_reorganise_event(tmp_path):
    extra = ("events:\n  - type: reorganise\n    step: 2\n    locality_share: 0.02\n"
             "    structure: {era: icb, bodies_from: icb, body_share: 0.8}\n")
    s = load_scenario(scenario(tmp_path, two_icbs, structure=None, extra=extra))
    assert s.structure is None
    assert bodies(s.events[0].structure) == [("ZQ1", ["Z01"]), ("ZQ2", ["Z02"])]
    m = CommissioningModel(s)
    for _ in range(4):
        m.step()
    assert m.pop.n_bodies == 2 and m.structure.era == "icb"


def test_resolved_scenario_round_trips_with_the_bodies(tmp_path):
    s = load_scenario(scenario(tmp_path, two_icbs))
    again = Scenario.model_validate(s.model_dump(mode="json"))  # as experiments rebuild it
    assert again == s and scenario_hash(again) == scenario_hash(s)
    assert bodies(again.structure) == [("ZQ1", ["Z01"]), ("ZQ2", ["Z02"])]


# --------------------------------------------------------------------------- errors


def load_error(path):
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    return " ".join(str(exc.value).split())


def test_group_with_practices_in_two_icbs_is_named_with_the_codes(tmp_path):
    msg = load_error(scenario(tmp_path, lambda rows: set_icb(rows, "Z01", "ZQ2",
                                                             only={"Z00003"})))
    assert "map.csv: column ICB_CODE: group 'Z01' has practices in 2 ICBs: ZQ1 (14 " \
           "practices), ZQ2 (1 practice)" in msg
    assert "structure.bodies_from: icb" in msg


def test_group_with_no_icb_code(tmp_path):
    msg = load_error(scenario(tmp_path, lambda rows: set_icb(rows, "Z02", "")))
    assert "map.csv: column ICB_CODE: group 'Z02' has no ICB code for 16 of its 16 " \
           "practices" in msg


def test_map_without_an_icb_column(tmp_path):
    def drop(rows):
        i = rows[0].index("ICB_CODE")
        for r in rows:
            del r[i]

    msg = load_error(scenario(tmp_path, drop))
    assert "map.csv: row 1 (header): no column ICB_CODE, which structure.bodies_from: icb " \
           "needs" in msg
    assert "the file has: PRACTICE_CODE" in msg


def test_register_without_a_map(tmp_path):
    msg = load_error(scenario(tmp_path, map_file=False))
    assert "bf.yaml: structure.bodies_from:" in msg and "practices_from has no map_file" in msg


def test_no_register_at_all(tmp_path):
    p = tmp_path / "plain.yaml"
    p.write_text("name: x\nsteps: 3\nevents:\n  - type: reorganise\n    step: 2\n"
                 "    structure: {era: icb, bodies_from: icb}\n")
    msg = load_error(p)
    assert "plain.yaml: events.0.structure.bodies_from:" in msg
    assert "the scenario has no practices_from" in msg and "list the bodies" in msg


def test_bodies_and_bodies_from_are_exclusive(tmp_path):
    st = ICB_STRUCTURE + "  bodies: [{name: A, groups: [Z01]}]\n"
    assert "give bodies or bodies_from, not both" in load_error(
        scenario(tmp_path, structure=st))


def test_only_icb_is_allowed(tmp_path):
    msg = load_error(scenario(tmp_path, structure="  era: pct\n  bodies_from: pct\n"))
    assert "structure.bodies_from: 'pct' is not allowed; allowed: icb" in msg


def test_a_group_not_from_the_register_has_no_icb(tmp_path):
    extra = ("groups:\n  - name: Extra\n    population: 100000\n"
             "    practices: {count: 12}\n")
    msg = load_error(scenario(tmp_path, extra=extra))
    assert "group 'Extra' has no practices from the register" in msg


def test_unexpanded_bodies_from_is_refused_by_the_schema():
    with pytest.raises(ValidationError, match="expanded into bodies"):
        StructureSpec.model_validate({"era": "icb", "bodies_from": "icb"})


def test_cli_exit_status_two_and_no_traceback(tmp_path):
    scen = scenario(tmp_path, lambda rows: set_icb(rows, "Z01", "ZQ2", only={"Z00003"}))
    proc = subprocess.run([sys.executable, "-m", "simulation.cli", "validate", str(scen)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "Traceback" not in out
    assert "group 'Z01' has practices in 2 ICBs" in " ".join(out.split())


# --------------------------------------------------------------------------- England 2013-2026


@pytest.fixture(scope="module")
def history():
    with pytest.warns(Warning):  # the register's 15 dormant practices, merged
        return load_scenario(HISTORY)


def test_history_is_ccg_then_the_maps_42_icbs_over_every_group(history):
    assert history.start == "2013-04" and history.steps == 155  # to March 2026
    assert history.structure is None  # CCG era: the groups decide alone
    assert len(history.groups) == 106 and len(history.events) == 1
    ev = history.events[0]
    assert ev.type == "reorganise" and ev.step == 111  # July 2022
    assert ev.structure.era == "icb" and ev.structure.body_share == 0.8
    assert ev.locality_share == 0.02
    names = [g.name for g in history.groups]
    grouped = [g for b in ev.structure.bodies for g in b.groups]
    assert sorted(grouped) == sorted(names)  # every group in exactly one ICB
    # the map's ICBs, read independently of the loader
    with gzip.open(ENGLAND_MAP, "rt", newline="") as fh:
        icb_of = {r["SUB_ICB_LOCATION_CODE"]: r["ICB_CODE"] for r in csv.DictReader(fh)}
    assert len(set(icb_of.values())) == 42
    assert len(ev.structure.bodies) == 42
    assert {b.name: sorted(b.groups) for b in ev.structure.bodies} == {
        icb: sorted(g for g, i in icb_of.items() if i == icb) for icb in set(icb_of.values())}
    # PCNs as localities throughout: the 1,222 PCNs of the map
    pcns = {p.locality for g in history.groups for p in g.practices.explicit}
    assert len(pcns) == 1222


def test_history_runs_through_the_reorganise_at_small_scale():
    # the reorganise moved to the third month so a few months pass through it
    s = load_scenario(HISTORY, ["scale=0.02", "burn_in=1", "steps=4",
                                "events.0.date=2013-07"])
    assert s.events[0].step == 3
    m = CommissioningModel(s)
    assert m.structure is None  # CCG era
    for _ in range(4):
        m.step()
    assert m.structure.era == "icb" and m.pop.n_bodies == 42
    np.testing.assert_allclose(m.belief.sum(axis=1), 1.0)
