"""Practice registers as scenario input (simulation.registers): readers, schema, population."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulation import registers as R
from simulation.loader import RegisterWarning, ScenarioError, count_agents, load_scenario
from simulation.model import CommissioningModel
from simulation.population import build_population
from simulation.scenario import Scenario, scenario_hash

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "synthetic"
TOTALS = DATA / "gp-reg-pat-prac-all.csv"
MAP = DATA / "gp-reg-pat-prac-map.csv"
PLAIN = DATA / "practices_plain.csv"
SCENARIOS = ROOT / "scenarios"

# Hand-checked against data/synthetic (make_registers.py writes the same numbers).
Z01_SIZES = [4210, 7895, 12034, 2987, 9650, 5540, 15872, 3320, 6815, 10420, 1870, 8233, 4999,
             7120, 11305]
Z02_SIZES = [5120, 9800, 3410, 14250, 6600, 2150, 8720, 7345, 12900, 4480, 1050, 9175, 5890,
             16420, 3775, 6930]
Z01_PCNS = ["ZPCN02", "ZPCN01", "ZPCN01", "ZPCN02", "ZPCN03", "ZPCN01", "ZPCN03", "ZPCN02",
            "ZPCN03", "ZPCN01", "ZPCN02", "ZPCN03", "ZPCN02", "ZPCN01", "ZPCN03"]


def rows_of(path):
    with open(path, newline="") as fh:
        return [r for r in csv.reader(fh) if r and not r[0].startswith("#")]


def write(path, rows, prefix=""):
    with open(path, "w", newline="") as fh:
        fh.write(prefix)
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return path


def edited(tmp_path, source, name, change):
    """A copy of ``source`` with ``change(rows)`` applied (rows[0] is the header)."""
    rows = [list(r) for r in rows_of(source)]
    change(rows)
    return write(tmp_path / name, rows)


def cell(rows, code, column, value, sex="ALL", age="ALL"):
    """Set ``column`` of the total row (or the given breakdown row) of practice ``code``."""
    h = rows[0]
    for r in rows[1:]:
        if r[h.index("CODE")] == code and r[h.index("SEX")] == sex and r[h.index("AGE")] == age:
            r[h.index(column)] = value
            return rows.index(r) + 1  # the line number
    raise KeyError(code)


def scenario_file(tmp_path, practices_from, extra=""):
    body = ("name: reg\nsteps: 6\npractices_from:\n"
            + "".join(f"  {k}: {v}\n" for k, v in practices_from.items()) + extra)
    p = tmp_path / "reg.yaml"
    p.write_text(body)
    return p


def message(exc_info):
    return str(exc_info.value)


# --------------------------------------------------------------------------- readers


def test_nhs_digital_totals_ignore_breakdown_rows():
    reg = R.read_nhs_digital(TOTALS)
    assert reg.group_column == "CCG_CODE" and reg.groups == ["Z01", "Z02"]
    assert reg.n_practices == 31
    assert [r.list_size for r in reg.practices["Z01"]] == Z01_SIZES
    assert [r.list_size for r in reg.practices["Z02"]] == Z02_SIZES
    assert sum(Z01_SIZES) == 112_270 and sum(Z02_SIZES) == 118_015
    assert reg.practices["Z01"][0].code == "Z00001" and reg.practices["Z01"][0].row == 2
    # the file really has breakdown rows, and summing every row would give a different total
    rows = rows_of(TOTALS)
    h = rows[0]
    breakdown = [r for r in rows[1:] if (r[h.index("SEX")], r[h.index("AGE")]) != ("ALL", "ALL")]
    assert len(breakdown) == 31 * 2 + 4 * 4
    assert {r[h.index("SEX")] for r in breakdown} == {"MALE", "FEMALE", "ALL"}


def test_nhs_digital_selection_keeps_the_requested_order():
    reg = R.read_nhs_digital(TOTALS, groups=["Z02"])
    assert reg.groups == ["Z02"] and reg.n_practices == 16
    assert R.read_nhs_digital(TOTALS, groups=["Z02", "Z01"]).groups == ["Z02", "Z01"]


def test_columns_in_another_order_other_case_and_extra_columns(tmp_path):
    rows = rows_of(TOTALS)
    order = [9, 5, 8, 3, 7, 0, 1, 2, 4, 6]
    shuffled = [[r[i] for i in order] + ["x"] for r in rows]
    shuffled[0] = [f"  {n.lower()} " for n in shuffled[0][:-1]] + ["SOMETHING_NEW"]
    reg = R.read_nhs_digital(write(tmp_path / "shuffled.csv", shuffled))
    assert reg.group_column == "ccg_code"
    assert [r.list_size for r in reg.practices["Z01"]] == Z01_SIZES
    assert reg.n_practices == 31


def test_sub_icb_location_code_is_accepted_and_preferred(tmp_path):
    def rename(rows):
        rows[0][rows[0].index("CCG_CODE")] = "SUB_ICB_LOCATION_CODE"
    reg = R.read_nhs_digital(edited(tmp_path, TOTALS, "new.csv", rename))
    assert reg.group_column == "SUB_ICB_LOCATION_CODE" and reg.groups == ["Z01", "Z02"]

    def both(rows):  # a file with both: the sub-ICB code wins
        rows[0].append("SUB_ICB_LOCATION_CODE")
        for r in rows[1:]:
            r.append("Q" + r[3])
    reg = R.read_nhs_digital(edited(tmp_path, TOTALS, "both.csv", both))
    assert reg.group_column == "SUB_ICB_LOCATION_CODE" and reg.groups == ["QZ01", "QZ02"]


def test_group_column_can_name_another_column():
    reg = R.read_nhs_digital(TOTALS, group_column="ONS_CCG_CODE")
    assert reg.groups == ["E38999901", "E38999902"] and reg.group_column == "ONS_CCG_CODE"


def test_practice_map_gives_pcns_and_names():
    pmap = R.read_practice_map(MAP)
    assert len(pmap.entries) == 33  # 31 practices + 2 of a group not in the totals file
    assert pmap.group_column == "SUB_ICB_LOCATION_CODE"
    assert pmap.entries["Z00001"].pcn == "ZPCN02"
    assert pmap.entries["Z00001"].group_name == "NHS Synthetic North CCG"


def test_plain_file_with_comments_localities_and_gps():
    reg = R.read_plain(PLAIN)
    assert reg.groups == ["Z11", "Z12"] and reg.has_locality
    z11, z12 = reg.practices["Z11"], reg.practices["Z12"]
    assert len(z11) == 10 and len(z12) == 8
    assert sum(r.list_size for r in z11) == 70_700 and sum(r.list_size for r in z12) == 60_200
    assert [r.locality for r in z11[:4]] == ["North", "North", "Coast", "Coast"]
    assert [r.gps for r in z11[:4]] == [6, 3, 8, None]  # empty gps = the default
    assert z11[0].row == 4  # two comment lines, then the header on line 3


def test_plain_file_minimal_columns_any_order(tmp_path):
    p = write(tmp_path / "p.csv", [["Group", "NOTE", "List_Size", "Practice"],
                                   ["G1", "x", "5000", "P1"], [], ["G1", "", " 7000 ", "P2"]])
    reg = R.read_plain(p)
    assert [(r.code, r.list_size, r.row) for r in reg.practices["G1"]] == [
        ("P1", 5000, 2), ("P2", 7000, 4)]
    assert not reg.has_locality


def test_gps_accepts_whole_time_equivalents(tmp_path):
    p = write(tmp_path / "p.csv", [["practice", "list_size", "group", "gps"],
                                   ["P1", "5000", "G", "4.6"], ["P2", "5000", "G", "0.2"]])
    assert [r.gps for r in R.read_plain(p).practices["G"]] == [5, 1]


# --------------------------------------------------------------------------- bad input


def _missing_code(rows):
    i = rows[0].index("CODE")
    for r in rows:
        del r[i]


BAD_TOTALS = [
    # (id, change, expected parts; "{row}" is the edited line)
    ("missing_column", _missing_code,
     ["row 1 (header)", "missing required column(s) CODE",
      "required: CODE, SEX, AGE, NUMBER_OF_PATIENTS, SUB_ICB_LOCATION_CODE or CCG_CODE",
      "the file has: PUBLICATION"]),
    ("negative", lambda rows: cell(rows, "Z00005", "NUMBER_OF_PATIENTS", "-5"),
     ["row {row} / column NUMBER_OF_PATIENTS", "value '-5'", "negative",
      "allowed: registered patients, a whole number from 1 to 1,000,000"]),
    ("non_numeric", lambda rows: cell(rows, "Z00005", "NUMBER_OF_PATIENTS", "lots"),
     ["row {row} / column NUMBER_OF_PATIENTS", "value 'lots'", "not a number"]),
    ("empty", lambda rows: cell(rows, "Z00020", "NUMBER_OF_PATIENTS", ""),
     ["row {row} / column NUMBER_OF_PATIENTS", "value ''", "empty"]),
    ("fraction", lambda rows: cell(rows, "Z00020", "NUMBER_OF_PATIENTS", "12.5"),
     ["row {row} / column NUMBER_OF_PATIENTS", "value '12.5'", "not a whole number"]),
    ("thousands", lambda rows: cell(rows, "Z00020", "NUMBER_OF_PATIENTS", "6,600"),
     ["row {row} / column NUMBER_OF_PATIENTS", "value '6,600'", "thousands separators"]),
    ("zero", lambda rows: cell(rows, "Z00020", "NUMBER_OF_PATIENTS", "0"),
     ["row {row} / column NUMBER_OF_PATIENTS", "value '0'", "at least 1 patient"]),
    ("duplicate", lambda rows: cell(rows, "Z00004", "CODE", "Z00003"),
     ["row {row} / column CODE", "value 'Z00003'", "appears twice (rows 16 and {row})"]),
    ("empty_code", lambda rows: cell(rows, "Z00004", "CODE", ""),
     ["row {row} / column CODE", "value ''", "empty practice code"]),
]


@pytest.mark.parametrize("case", BAD_TOTALS, ids=[c[0] for c in BAD_TOTALS])
def test_bad_totals_file_names_file_row_column_and_value(tmp_path, case):
    name, change, parts = case
    box = {}
    path = edited(tmp_path, TOTALS, f"{name}.csv", lambda rows: box.update(row=change(rows)))
    with pytest.raises(ScenarioError) as info:
        R.read_nhs_digital(path)
    text = message(info)
    assert text.startswith(str(path) + ": "), text
    for part in parts:
        assert part.format(**box) in text, (part, text)


def test_breakdown_rows_are_not_checked(tmp_path):
    path = edited(tmp_path, TOTALS, "b.csv",
                  lambda rows: cell(rows, "Z00001", "NUMBER_OF_PATIENTS", "n/a", sex="MALE"))
    assert R.read_nhs_digital(path).n_practices == 31


def test_values_are_checked_only_in_selected_groups(tmp_path):
    path = edited(tmp_path, TOTALS, "b.csv",
                  lambda rows: cell(rows, "Z00020", "NUMBER_OF_PATIENTS", "-1"))
    assert R.read_nhs_digital(path, groups=["Z01"]).n_practices == 15
    with pytest.raises(ScenarioError, match="value '-1'"):
        R.read_nhs_digital(path, groups=["Z02"])


def test_requested_group_absent_lists_the_codes_present():
    with pytest.raises(ScenarioError) as info:
        R.read_nhs_digital(TOTALS, groups=["Z01", "06H"])
    text = message(info)
    assert text.startswith(f"{TOTALS}: ")
    assert "column CCG_CODE: value '06H': no practice of this group" in text
    assert "codes present: Z01, Z02" in text


def test_many_problems_are_all_reported_up_to_a_limit(tmp_path):
    def spoil(rows):
        for r in rows[1:]:
            r[-1] = "x"
    with pytest.raises(ScenarioError) as info:
        R.read_nhs_digital(edited(tmp_path, TOTALS, "all_bad.csv", spoil))
    problems = info.value.problems
    assert len(problems) == R.MAX_REPORTED + 1 and problems[-1][2] == "… and 11 more"


def test_file_not_found_directory_too_large_zip_ragged_empty(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        R.read_nhs_digital(tmp_path / "missing.csv")
    with pytest.raises(ScenarioError, match="not a regular file"):
        R.read_nhs_digital(tmp_path)
    big = tmp_path / "big.csv"
    with open(big, "wb") as fh:  # sparse: no disk used
        fh.truncate(R.MAX_BYTES + 1)
    with pytest.raises(ScenarioError, match="file too large: 200 MB; register files up to 200 MB"):
        R.read_nhs_digital(big)
    (tmp_path / "a.zip").write_bytes(b"PK\x03\x04rest")
    with pytest.raises(ScenarioError, match="zip archive: unzip it"):
        R.read_nhs_digital(tmp_path / "a.zip")
    (tmp_path / "ragged.csv").write_text("practice,list_size,group\nP1,100,G\nP2,1,200,G\n")
    with pytest.raises(ScenarioError, match=r"ragged.csv: row 3: 4 values but the header has 3"):
        R.read_plain(tmp_path / "ragged.csv")
    (tmp_path / "empty.csv").write_text("# only a comment\n\n")
    with pytest.raises(ScenarioError, match="the file is empty"):
        R.read_plain(tmp_path / "empty.csv")
    (tmp_path / "dup.csv").write_text("practice,list_size,Practice,group\n")
    with pytest.raises(ScenarioError, match="column 'Practice' appears twice"):
        R.read_plain(tmp_path / "dup.csv")


def test_the_wrong_format_gets_a_hint(tmp_path):
    with pytest.raises(ScenarioError, match=r"practices_plain.csv: row 1: starts with a comment "
                                            r"line.*set practices_from.format: plain"):
        R.read_nhs_digital(PLAIN)
    no_comments = write(tmp_path / "p.csv", rows_of(PLAIN))
    with pytest.raises(ScenarioError, match=r"looks like a plain file: set practices_from\.format"):
        R.read_nhs_digital(no_comments)
    with pytest.raises(ScenarioError, match="looks like an NHS Digital file: set practices_from"):
        R.read_plain(TOTALS)


def test_a_breakdown_file_has_no_totals(tmp_path):
    def only_breakdown(rows):
        rows[1:] = [r for r in rows[1:] if r[7] != "ALL"]
    with pytest.raises(ScenarioError, match="no row has SEX = ALL and AGE = ALL"):
        R.read_nhs_digital(edited(tmp_path, TOTALS, "sex.csv", only_breakdown))


BAD_PLAIN = [
    ("missing", [["practice", "group"], ["P1", "G"]],
     ["row 1 (header)", "missing required column(s) list_size",
      "required: practice, list_size, group", "the file has: practice, group"]),
    ("duplicate", [["practice", "list_size", "group"], ["P1", "5000", "G"], ["P1", "4000", "G"]],
     ["row 3 / column practice", "value 'P1'", "appears twice (rows 2 and 3)"]),
    ("negative", [["practice", "list_size", "group"], ["P1", "-20", "G"]],
     ["row 2 / column list_size", "value '-20'", "negative"]),
    ("gps", [["practice", "list_size", "group", "gps"], ["P1", "5000", "G", "many"]],
     ["row 2 / column gps", "value 'many'", "not a number"]),
    ("gps_zero", [["practice", "list_size", "group", "gps"], ["P1", "5000", "G", "0"]],
     ["row 2 / column gps", "value '0'", "a number of GPs > 0"]),
    ("group_empty", [["practice", "list_size", "group"], ["P1", "5000", ""]],
     ["row 2 / column group", "value ''", "empty commissioning-body code"]),
]


@pytest.mark.parametrize("case", BAD_PLAIN, ids=[c[0] for c in BAD_PLAIN])
def test_bad_plain_file(tmp_path, case):
    name, rows, parts = case
    path = write(tmp_path / f"{name}.csv", rows)
    with pytest.raises(ScenarioError) as info:
        R.read_plain(path)
    text = message(info)
    assert text.startswith(str(path) + ": "), text
    for part in parts:
        assert part in text, (part, text)


# --------------------------------------------------------------------------- scenarios


def test_library_scenarios_load_the_registers():
    s = load_scenario(SCENARIOS / "register_nhs_digital.yaml")
    assert [g.name for g in s.groups] == ["Z01", "Z02"]
    assert [g.population for g in s.groups] == [112_270, 118_015]
    z01 = s.groups[0].practices
    assert z01.count == 15 and [p.list_size for p in z01.explicit] == Z01_SIZES
    assert [p.locality for p in z01.explicit] == Z01_PCNS
    assert s.groups[0].commissioning_managers == 5  # merged from the groups: entry
    assert s.groups[1].engagement.patient.mean == 0.3
    assert s.practices_from.group_column == "CCG_CODE" and s.practices_from.locality == "pcn"
    p = load_scenario(SCENARIOS / "register_plain.yaml")
    assert [g.name for g in p.groups] == ["Z11", "Z12"]
    assert p.practices_from.locality == "column" and p.practices_from.groups == ["Z11", "Z12"]
    assert [x.gps for x in p.groups[0].practices.explicit][:4] == [6, 3, 8, None]


def test_population_uses_list_sizes_localities_and_gps():
    s = load_scenario(SCENARIOS / "register_nhs_digital.yaml")
    pop = build_population(s, np.random.default_rng(1))
    assert pop.list_size.tolist() == Z01_SIZES + Z02_SIZES
    assert pop.group_population.tolist() == [112_270, 118_015]
    # areas are the distinct PCNs in file order: ZPCN02, ZPCN01, ZPCN03 in Z01, then Z02's four
    first = {"ZPCN02": 0, "ZPCN01": 1, "ZPCN03": 2}
    assert pop.practice_area[:15].tolist() == [first[c] for c in Z01_PCNS]
    assert pop.area_group.tolist() == [0, 0, 0, 1, 1, 1, 1]
    gps = np.bincount(pop.practice[pop.role == 0], minlength=pop.n_practices)
    mean = np.mean(Z01_SIZES)
    assert gps[:15].tolist() == [max(1, round(5 * x / mean)) for x in Z01_SIZES]
    plain = build_population(load_scenario(SCENARIOS / "register_plain.yaml"),
                             np.random.default_rng(1))
    gps = np.bincount(plain.practice[plain.role == 0], minlength=plain.n_practices)
    assert gps[:4].tolist() == [6, 3, 8, round(5 * 2300 / 7070)]  # given, default for Z10004


def test_scale_multiplies_list_sizes_and_keeps_every_practice():
    s = load_scenario(SCENARIOS / "register_nhs_digital.yaml", ["scale=0.5"])
    pop = build_population(s, np.random.default_rng(1))
    assert pop.n_practices == 31
    assert pop.list_size[:3].tolist() == [2105, round(7895 * 0.5), 6017]
    tiny = build_population(load_scenario(SCENARIOS / "register_nhs_digital.yaml",
                                          ["scale=0.01"]), np.random.default_rng(1))
    assert tiny.list_size.min() == 100 and tiny.n_practices == 31
    assert count_agents(s) == count_agents(load_scenario(SCENARIOS / "register_nhs_digital.yaml"))


def test_locality_rules_use_the_localities_count(tmp_path):
    p = scenario_file(tmp_path, {"file": TOTALS, "map_file": MAP, "locality": "rules"},
                      "groups:\n  - {name: Z01, localities: {count: 4}}\n")
    with pytest.warns(RegisterWarning, match="localities.count 4 gives 28,068 people"):
        s = load_scenario(p)
    assert all(x.locality is None for x in s.groups[0].practices.explicit)
    pop = build_population(s, np.random.default_rng(3))
    # Z01: the 4 it asks for; Z02: sized from its population, round(118,015 / 70,000) = 2
    assert pop.area_group.tolist() == [0, 0, 0, 0, 1, 1]
    assert s.practices_from.sized_groups == ["Z02"]


def test_resolved_scenario_round_trips_and_hash_follows_the_file(tmp_path):
    s = load_scenario(SCENARIOS / "register_nhs_digital.yaml")
    again = Scenario.model_validate(s.model_dump(mode="json"))  # as experiments rebuild it
    assert again == s and scenario_hash(again) == scenario_hash(s)
    path = edited(tmp_path, TOTALS, "t.csv",
                  lambda rows: cell(rows, "Z00001", "NUMBER_OF_PATIENTS", "4211"))
    s2 = load_scenario(scenario_file(tmp_path, {"file": path, "map_file": MAP}))
    s1 = load_scenario(scenario_file(tmp_path, {"file": TOTALS, "map_file": MAP}))
    assert scenario_hash(s1) != scenario_hash(s2)


def test_models_run_on_register_groups():
    for name in ("register_nhs_digital.yaml", "register_plain.yaml"):
        m = CommissioningModel(load_scenario(SCENARIOS / name, ["steps=3"]), collect=False)
        for _ in range(3):
            m.step()
        np.testing.assert_allclose(m.belief.sum(axis=1), 1.0, atol=1e-9)


def test_paths_are_relative_to_the_file_that_names_them(tmp_path):
    (tmp_path / "sub").mkdir()
    base = tmp_path / "sub" / "base.yaml"
    base.write_text("name: b\npractices_from: {file: p.csv, format: plain}\n")
    with pytest.raises(ScenarioError, match=r"p.csv: file not found \(looked in .*/sub/p.csv\)"):
        load_scenario(base)
    (tmp_path / "sub" / "p.csv").write_bytes(PLAIN.read_bytes())
    (tmp_path / "p.csv").write_text("practice,list_size,group\nX,5000,WRONG\n")  # not this one
    (tmp_path / "var.yaml").write_text("extends: sub/base.yaml\nname: v\n"
                                       "practices_from: {groups: [Z12]}\n")
    v = load_scenario(tmp_path / "var.yaml")
    assert [g.name for g in v.groups] == ["Z12"] and v.groups[0].population == 60_200


def test_set_override_reaches_the_register(tmp_path):
    s = load_scenario(SCENARIOS / "register_plain.yaml",
                      ["practices_from.groups=[Z12]", "practices_from.locality=rules",
                       "providers.0.serves=[Z12]", "providers.1.serves=[Z12]",
                       "local_authorities.0.serves=[Z12]"])
    assert [g.name for g in s.groups] == ["Z12"] and s.groups[0].practices.explicit[0].locality is None


def test_set_groups_index_without_a_groups_list():
    # the app's "Localities per group" control sets groups.N.localities.count on every group
    s = load_scenario(SCENARIOS / "register_plain.yaml",
                      ["groups.1.commissioning_managers=3", "groups.0.localities.count=2",
                       "practices_from.locality=rules"])
    assert [g.commissioning_managers for g in s.groups] == [8, 3]
    assert s.groups[0].localities.count == 2 and s.groups[1].name == "Z12"
    with pytest.raises(ScenarioError, match=r"--set: groups.2: not a group: the register gives 2"):
        load_scenario(SCENARIOS / "register_plain.yaml", ["groups.2.commissioning_managers=3"])
    with pytest.raises(ScenarioError, match=r"--set: groups\[0\]\.population: group 'Z11' comes from"):
        load_scenario(SCENARIOS / "register_plain.yaml", ["groups.0.population=5000"])


def test_group_names_from_the_map_must_be_used_by_serves(tmp_path):
    p = scenario_file(tmp_path, {"file": TOTALS, "map_file": MAP, "group_names": "name"},
                      "providers:\n  - {name: H, kind: acute, serves: [Z01]}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert ("providers[0].serves names group 'Z01'; known groups: NHS Synthetic North CCG, "
            "NHS Synthetic South CCG") in message(info)


def test_rule_groups_and_register_groups_mix(tmp_path):
    p = scenario_file(tmp_path, {"file": PLAIN, "format": "plain", "groups": "[Z12]"},
                      "groups:\n  - {name: Rules, population: 90000, practices: {count: 10}}\n")
    s = load_scenario(p)
    assert [g.name for g in s.groups] == ["Rules", "Z12"]
    assert s.groups[0].practices.explicit is None


# --------------------------------------------------------------------------- scenario errors


def test_practices_file_hint(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\ngroups:\n  - {name: A, population: 9000, practices: {file: x.csv}}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert "groups[0].practices: practices cannot name a file here" in message(info)
    assert "top-level `practices_from:`" in message(info)


SPEC_ERRORS = [
    ({"file": "x.csv", "format": "xml"}, "practices_from.format", "'nhs_digital' or 'plain'"),
    ({"file": "x.csv", "fromat": "plain"}, "practices_from.fromat", "did you mean 'format'"),
    ({"file": "x.csv", "locality": "pcn"}, "practices_from", "locality: pcn needs a map_file"),
    ({"file": "x.csv", "format": "plain", "map_file": "m.csv"}, "practices_from",
     "map_file goes with format nhs_digital only"),
    ({"file": "x.csv", "groups": "[Z01, 123]"}, "practices_from.groups",
     "write 123 in quotes"),
    ({"file": "x.csv", "groups": "[Z01, Z01]"}, "practices_from.groups", "must be unique: Z01"),
]


@pytest.mark.parametrize("spec,where,part", SPEC_ERRORS, ids=[s[1] + str(i) for i, s in
                                                              enumerate(SPEC_ERRORS)])
def test_bad_practices_from_section(tmp_path, spec, where, part):
    p = scenario_file(tmp_path, spec)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert message(info).startswith(f"{p}: {where}: "), message(info)
    assert part in message(info)


def test_groups_entries_may_not_contradict_the_register(tmp_path):
    p = scenario_file(tmp_path, {"file": PLAIN, "format": "plain"},
                      "groups:\n  - {name: Z11, population: 5000}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert message(info).startswith(f"{p}: groups[0].population: group 'Z11' comes from the "
                                    "register")
    p = scenario_file(tmp_path, {"file": PLAIN, "format": "plain"},
                      "groups:\n  - {name: Z13, commissioning_managers: 3}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert "groups[0].name: 'Z13' is not a group of the register" in message(info)
    assert "its groups are: Z11, Z12" in message(info)
    # issue 20: an entry with practice settings used to give "groups[1].practices.count:
    # required field is missing"
    p = scenario_file(tmp_path, {"file": PLAIN, "format": "plain"},
                      "groups:\n  - {name: Z11}\n  - {name: Z19, practices: {gps_per_practice: 5}}"
                      "\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert message(info).startswith(f"{p}: groups[1].name: 'Z19' is not a group of the "
                                    "register"), message(info)
    assert "its groups are: Z11, Z12" in message(info) and "required" not in message(info)


def test_register_and_generate_do_not_mix(tmp_path):
    p = scenario_file(tmp_path, {"file": PLAIN, "format": "plain"}, "generate: {groups: 3}\n")
    with pytest.raises(ScenarioError, match="cannot be given together with `generate`"):
        load_scenario(p)


def test_map_practice_absent_from_totals_is_an_error(tmp_path):
    def extra(rows):
        rows.append(["Z00099", "SYNTHETIC", "ZZ99 9ZZ", "ZPCN01", "Synthetic PCN 1", "Z01",
                     "NHS Synthetic North CCG", "ZQ1", "ICB", "Z99", "Region"])
    m = edited(tmp_path, MAP, "map.csv", extra)
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario_file(tmp_path, {"file": TOTALS, "map_file": m}))
    text = message(info)
    assert text.startswith(f"{m}: row 35 / column PRACTICE_CODE: value 'Z00099': the map places "
                           "this practice in group 'Z01'"), text
    assert "different releases" in text
    # practices of groups not taken (Z03 in the sample map) are not checked
    assert len(load_scenario(scenario_file(tmp_path, {"file": TOTALS, "map_file": MAP})).groups) == 2


def test_totals_practice_absent_from_map_or_without_pcn(tmp_path):
    m = edited(tmp_path, MAP, "map.csv", lambda rows: rows.pop(5))  # Z00005's row
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario_file(tmp_path, {"file": TOTALS, "map_file": m}))
    line = cell(rows_of(TOTALS), "Z00005", "CODE", "Z00005")
    assert message(info).startswith(f"{TOTALS}: row {line} / column CODE: value 'Z00005': "
                                    "practice not in the map file")
    # with localities by the rules a practice missing from the map is fine
    s = load_scenario(scenario_file(tmp_path, {"file": TOTALS, "map_file": m, "locality": "rules",
                                               "groups": "[Z02]"}))
    assert s.groups[0].practices.count == 16

    def blank(rows):
        rows[3][rows[0].index("PCN_CODE")] = ""
    m = edited(tmp_path, MAP, "map2.csv", blank)
    with pytest.raises(ScenarioError, match=r"map2.csv: row 4 / column PCN_CODE: value '': "
                                            r"empty PCN code for practice 'Z00003'"):
        load_scenario(scenario_file(tmp_path, {"file": TOTALS, "map_file": m}))


def test_empty_locality_in_column_mode(tmp_path):
    p = write(tmp_path / "p.csv", [["practice", "list_size", "group", "locality"],
                                   ["P1", "5000", "G", "N"], ["P2", "5000", "G", " "]])
    with pytest.raises(ScenarioError, match=r"p.csv: row 3 / column locality: value '': empty"):
        load_scenario(scenario_file(tmp_path, {"file": p, "format": "plain"}))


def test_small_group_is_refused_with_the_file_named(tmp_path):
    p = write(tmp_path / "p.csv", [["practice", "list_size", "group"], ["P1", "500", "G"]])
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario_file(tmp_path, {"file": p, "format": "plain"}))
    assert message(info).startswith(f"{p}: column group: value 'G': the group's 1 practices "
                                    "have 500 patients; a group needs 1,000 to 3,000,000")


def test_explicit_practices_by_hand_are_checked(tmp_path):
    def load(practices, population=""):
        p = tmp_path / "h.yaml"
        p.write_text(f"name: h\ngroups:\n  - {{name: A, {population}practices: "
                     f"{{explicit: {practices}}}}}\n")
        return load_scenario(p)
    s = load("[{code: P1, list_size: 3000}, {code: P2, list_size: 4000}]")
    assert s.groups[0].population == 7000 and s.groups[0].practices.count == 2
    with pytest.raises(ScenarioError, match="population is 9000 but the explicit practices' "
                                            "list sizes sum to 7000"):
        load("[{code: P1, list_size: 3000}, {code: P2, list_size: 4000}]", "population: 9000, ")
    with pytest.raises(ScenarioError, match="every practice has a locality or none does"):
        load("[{code: P1, list_size: 3000, locality: N}, {code: P2, list_size: 4000}]")
    with pytest.raises(ScenarioError, match="practice codes must be unique: P1"):
        load("[{code: P1, list_size: 3000}, {code: P1, list_size: 4000}]")
    with pytest.raises(ScenarioError, match=r"explicit\[1\].list_size: Input should be greater"):
        load("[{code: P1, list_size: 3000}, {code: P2, list_size: -4}]")


# --------------------------------------------------------------------------- CLI


CLI_CASES = [
    ("negative", lambda rows: cell(rows, "Z00005", "NUMBER_OF_PATIENTS", "-5"),
     "row {row} / column NUMBER_OF_PATIENTS: value '-5': negative"),
    ("duplicate", lambda rows: cell(rows, "Z00004", "CODE", "Z00003"),
     "row {row} / column CODE: value 'Z00003': practice code appears twice"),
    ("missing_column", _missing_code, "row 1 (header): missing required column(s) CODE"),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_exit_status_two_and_no_traceback(tmp_path, case):
    name, change, part = case
    box = {}
    path = edited(tmp_path, TOTALS, f"{name}.csv", lambda rows: box.update(row=change(rows)))
    scen = scenario_file(tmp_path, {"file": path.name})
    proc = subprocess.run([sys.executable, "-m", "simulation.cli", "validate", str(scen)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 2
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    assert f"{path}: {part.format(**box)}" in " ".join(out.split()), out


def test_cli_run_missing_register_file(tmp_path):
    scen = scenario_file(tmp_path, {"file": "nowhere.csv"})
    proc = subprocess.run([sys.executable, "-m", "simulation.cli", "run", str(scen), "--out",
                           str(tmp_path / "o"), "--no-figures", "-q"],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr
    assert "error: " in proc.stderr and "nowhere.csv: file not found" in proc.stderr
    assert not (tmp_path / "o").exists()
