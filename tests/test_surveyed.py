"""Surveyed networks as the initial informal network (simulation.surveyed)."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulation import survey_match, surveyed
from simulation.loader import ScenarioError, load_scenario
from simulation.network import build_ties
from simulation.population import ROLES, build_population
from simulation.scenario import STAKEHOLDER_TYPES, scenario_hash

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SYNTHETIC = ROOT / "data" / "synthetic"

# one practice per group is enough for hand-checkable cases; group A has 4 practices
BASE = """
name: survey_test
seed: 11
steps: 6
burn_in: 0
groups:
  - {name: A, population: 40000, practices: {count: 4}, localities: {count: 2},
     commissioning_managers: 4}
  - {name: B, population: 30000, practices: {count: 3}, localities: {count: 1},
     commissioning_managers: 3}
providers:
  - {name: Acute, kind: acute, serves: [A, B]}
local_authorities:
  - {name: LA, serves: [A]}
"""

NODES4 = """id,type,role,group,practice,board
a,gp,gp,A,,1
b,manager,practice_manager,A,,0
c,manager,officer,A,,1
d,provider,,A,,0
"""
EDGES4 = """source,target,strength
a,b,0.3
b,c,0.6
c,d,0.9
a,c,1.0
"""


def write(tmp_path, survey: str, files: dict[str, str], extra: str = "") -> Path:
    """A scenario with a ``network.survey`` section (YAML text, indented under it) + files."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    path = tmp_path / "scenario.yaml"
    body = "\n".join("    " + line for line in survey.strip().splitlines())
    path.write_text(BASE + extra + "network:\n  survey:\n" + body + "\n")
    return path


CSV4 = "format: csv\nnodes: nodes.csv\nedges: edges.csv\nmode: replace"


def pairs(ties):
    return {(int(a), int(b)): float(w) for a, b, w in zip(ties.src, ties.dst, ties.weight,
                                                          strict=True)}


def generated_and_matched(scenario, seed):
    """The generated ties and the survey's matching with the draws build_ties makes."""
    rng = np.random.default_rng(seed)
    pop = build_population(scenario, rng)
    plain = scenario.model_copy(update={"network": scenario.network.model_copy(
        update={"survey": None})})
    gen = build_ties(dataclasses.replace(pop, scenario=plain), rng)
    survey = surveyed.read_survey(scenario.network.survey, [g.name for g in scenario.groups])
    return pop, gen, survey, survey_match.match_survey(pop, survey, rng)


def built(scenario, seed):
    rng = np.random.default_rng(seed)
    pop = build_population(scenario, rng)
    return pop, build_ties(pop, rng)


# --------------------------------------------------------------------------- csv, replace


def test_four_node_survey_replaces_the_groups_ties_exactly(tmp_path):
    s = load_scenario(write(tmp_path, CSV4, {"nodes.csv": NODES4, "edges.csv": EDGES4}))
    pop, ties = built(s, 3)
    _, gen, _, m = generated_and_matched(s, 3)
    ag = m.agent_of
    expect = {tuple(sorted((ag[x], ag[y]))): w for x, y, w in
              (("a", "b", 0.3), ("b", "c", 0.6), ("c", "d", 0.9), ("a", "c", 1.0))}
    in_a = pop.group == 0
    got = pairs(ties)
    touching = {k: w for k, w in got.items() if in_a[k[0]] or in_a[k[1]]}
    assert touching == pytest.approx(expect)
    # everything else is the generated network, untouched
    rest = {k: w for k, w in pairs(gen).items() if not (in_a[k[0]] or in_a[k[1]])}
    assert {k: w for k, w in got.items() if k not in touching} == rest
    assert len(rest) > 0 and ties.m == 4 + len(rest)
    # the matched agents have the surveyed types, roles and board membership
    board_a = set(pop.board.indices[pop.board.indptr[0]:pop.board.indptr[1]].tolist())
    for node, kind, role, board in (("a", "gp", "gp", True), ("b", "manager", "practice_manager",
                                    False), ("c", "manager", "officer", True),
                                    ("d", "provider", "provider_staff", False)):
        assert STAKEHOLDER_TYPES[pop.kind[ag[node]]] == kind
        assert ROLES[pop.role[ag[node]]] == role
        assert (ag[node] in board_a) == board


def test_reported_both_ways_is_one_tie_with_the_larger_strength(tmp_path):
    edges = EDGES4 + "b,a,0.7\nc,b,0.2\n"
    s = load_scenario(write(tmp_path, CSV4, {"nodes.csv": NODES4, "edges.csv": edges}))
    ties = built(s, 3)[1]
    _, _, _, m = generated_and_matched(s, 3)
    got = pairs(ties)
    ag = m.agent_of
    assert got[tuple(sorted((ag["a"], ag["b"])))] == 0.7
    assert got[tuple(sorted((ag["b"], ag["c"])))] == 0.6


def test_likert_scale_maps_one_to_five_onto_fifths(tmp_path):
    edges = "source,target,strength\na,b,1\nb,c,2\nc,d,3\na,c,5\n"
    s = load_scenario(write(tmp_path, CSV4 + "\nscale: likert5",
                            {"nodes.csv": NODES4, "edges.csv": edges}))
    pop, ties = built(s, 3)
    touching = sorted(w for (a, b), w in pairs(ties).items() if pop.group[a] == 0
                      or pop.group[b] == 0)
    assert touching == pytest.approx([0.2, 0.4, 0.6, 1.0])


def test_headers_are_case_insensitive_and_extra_columns_ignored(tmp_path):
    nodes = "Notes,ID,Type,ROLE,Group,Board\n" + "".join(
        f"x,{i},{t},{r},{g},{b}\n" for i, t, r, g, _, b in
        (line.split(",") for line in NODES4.strip().splitlines()[1:]))
    s = load_scenario(write(tmp_path, CSV4, {"nodes.csv": nodes, "edges.csv": EDGES4}))
    _, ties = built(s, 3)
    assert ties.m > 0


# --------------------------------------------------------------------------- csv, match


def test_match_mode_keeps_types_roles_board_and_practices():
    s = load_scenario(SCENARIOS / "surveyed_network.yaml")
    pop, ties = built(s, 7)
    _, gen, survey, m = generated_and_matched(s, 7)
    assert len(survey.nodes) == 40 and len(survey.edges) > 100
    agents = [m.agent_of[n.id] for n in survey.nodes]
    assert len(set(agents)) == len(agents)  # one agent per surveyed person
    g = 0  # Site A
    board = set(pop.board.indices[pop.board.indptr[g]:pop.board.indptr[g + 1]].tolist())
    label_of = {}
    for n in survey.nodes:
        a = m.agent_of[n.id]
        assert pop.kind[a] == n.kind
        assert n.role is None or pop.role[a] == n.role
        assert (a in board) == n.board
        if pop.kind[a] in (2, 4):  # provider / LA staff serve Site A
            serves = pop.provider_serves if pop.kind[a] == 2 else pop.la_serves
            assert serves[pop.org[a], g]
        else:
            assert pop.group[a] == g
        if n.practice is not None:
            label_of.setdefault(n.practice, set()).add(int(pop.practice[a]))
    assert all(len(v) == 1 for v in label_of.values())  # one practice per label
    assert len({next(iter(v)) for v in label_of.values()}) == len(label_of)  # distinct
    # the matched agents' ties are exactly the surveyed ones; all other ties are generated
    matched = np.zeros(pop.n, bool)
    matched[agents] = True
    got, old = pairs(ties), pairs(gen)
    mine = {k: w for k, w in got.items() if matched[k[0]] or matched[k[1]]}
    expect = {}
    for x, y, w, _ in survey.edges:
        key = tuple(sorted((m.agent_of[x], m.agent_of[y])))
        expect[key] = max(w, expect.get(key, 0.0))
    assert mine == pytest.approx(expect)
    assert {k: w for k, w in got.items() if k not in mine} == {
        k: w for k, w in old.items() if not (matched[k[0]] or matched[k[1]])}


def test_csv_and_graphml_samples_give_the_same_ties():
    a = load_scenario(SCENARIOS / "surveyed_network.yaml")
    b = load_scenario(SCENARIOS / "surveyed_network.yaml", [
        f"network.survey={{format: graphml, file: {SYNTHETIC / 'survey.graphml'}}}"])
    assert b.network.survey.format == "graphml"
    ta, tb = built(a, 5)[1], built(b, 5)[1]
    assert pairs(ta) == pairs(tb)


def test_same_seed_same_ties_other_seed_other_matching():
    s = load_scenario(SCENARIOS / "surveyed_network.yaml")
    one, two, other = built(s, 42)[1], built(s, 42)[1], built(s, 43)[1]
    assert np.array_equal(one.src, two.src) and np.array_equal(one.dst, two.dst)
    assert np.array_equal(one.weight, two.weight)
    assert pairs(one) != pairs(other)
    m1 = generated_and_matched(s, 42)[3].agent_of
    assert m1 == generated_and_matched(s, 42)[3].agent_of
    assert m1 != generated_and_matched(s, 43)[3].agent_of


def test_groups_select_which_part_of_a_survey_is_used(tmp_path):
    nodes = NODES4 + "e,gp,gp,B,,1\nf,gp,gp,B,,0\n"
    edges = EDGES4 + "e,f,0.5\na,e,0.5\n"
    s = load_scenario(write(tmp_path, CSV4 + "\ngroups: [A]", {"nodes.csv": nodes,
                                                               "edges.csv": edges}))
    survey = surveyed.read_survey(s.network.survey, ["A", "B"])
    assert survey.groups == ["A"] and {n.id for n in survey.nodes} == set("abcd")
    assert len(survey.edges) == 4


def test_no_informal_ties_wins_over_a_survey(tmp_path):
    s = load_scenario(write(tmp_path, CSV4, {"nodes.csv": NODES4, "edges.csv": EDGES4}),
                      ["network.informal=false"])
    assert built(s, 1)[1].m == 0


def test_paths_are_relative_to_the_file_that_names_them(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "n.csv").write_text(NODES4)
    (tmp_path / "data" / "e.csv").write_text(EDGES4)
    (tmp_path / "base").mkdir()
    write(tmp_path / "base", "format: csv\nnodes: ../data/n.csv\nedges: ../data/e.csv",
                 {})
    (tmp_path / "variants").mkdir()
    child = tmp_path / "variants" / "v.yaml"
    child.write_text("extends: ../base/scenario.yaml\nname: variant\n")
    monkeypatch.chdir(ROOT)
    s = load_scenario(child)
    assert Path(s.network.survey.nodes) == (tmp_path / "data" / "n.csv").resolve()
    assert built(s, 1)[1].m > 0


def test_the_digest_follows_the_data(tmp_path):
    path = write(tmp_path, CSV4, {"nodes.csv": NODES4, "edges.csv": EDGES4})
    s1 = load_scenario(path)
    assert s1.network.survey.digest and len(s1.network.survey.digest) == 16
    (tmp_path / "edges.csv").write_text(EDGES4.replace("0.3", "0.4"))
    s2 = load_scenario(path)
    assert scenario_hash(s1) != scenario_hash(s2)
    # a run from a loaded scenario whose files changed since is refused
    with pytest.raises(ScenarioError, match="the survey files have changed"):
        built(s1, 1)


# --------------------------------------------------------------------------- ego


def test_ego_survey_reproduces_each_respondents_ties_by_type():
    s = load_scenario(SCENARIOS / "surveyed_ego.yaml")
    pop, ties = built(s, 9)
    *_, survey, m = generated_and_matched(s, 9)
    names = [g.name for g in s.groups]
    respondents = {r.respondent for r in survey.ego}
    assert 15 <= len(respondents) <= 20
    nb = ties.csr()
    for who in respondents:
        rows = [r for r in survey.ego if r.respondent == who]
        a = m.agent_of[who]
        g = names.index(rows[0].group)
        assert a in pop.board.indices[pop.board.indptr[g]:pop.board.indptr[g + 1]]
        assert pop.role[a] == rows[0].role
        reported = np.bincount([r.alter_kind for r in rows if r.alter_kind is not None],
                               minlength=len(STAKEHOLDER_TYPES))
        alters = nb.indices[nb.indptr[a]:nb.indptr[a + 1]]
        assert np.array_equal(np.bincount(pop.kind[alters], minlength=len(STAKEHOLDER_TYPES)),
                              reported), who
        want = sorted(r.weight for r in rows if r.alter_kind is not None)
        assert sorted(nb.data[nb.indptr[a]:nb.indptr[a + 1]]) == pytest.approx(want)
        assert set(np.round(want, 6)) <= {0.2, 0.4, 0.6, 0.8, 1.0}
    silent = [w for w in respondents if all(r.alter_kind is None for r in survey.ego
                                            if r.respondent == w)]
    assert silent and all(ties.degree()[m.agent_of[w]] == 0 for w in silent)


def test_ego_alters_belong_to_or_serve_the_group(tmp_path):
    table = ("respondent,role,group,alter_type,strength\n"
             "r1,gp,A,gp,0.5\nr1,gp,A,provider,0.5\nr1,gp,A,local_authority,0.5\n"
             "r2,lay_member,B,patient,0.4\nr2,lay_member,B,manager,0.4\n")
    s = load_scenario(write(tmp_path, "format: ego\ntable: ego.csv", {"ego.csv": table}))
    pop, ties = built(s, 2)
    *_, m = generated_and_matched(s, 2)
    nb = ties.csr()
    for who, g in (("r1", 0), ("r2", 1)):
        a = m.agent_of[who]
        for k in nb.indices[nb.indptr[a]:nb.indptr[a + 1]]:
            if pop.kind[k] == 2:
                assert pop.provider_serves[pop.org[k], g]
            elif pop.kind[k] == 4:
                assert pop.la_serves[pop.org[k], g]
            else:
                assert pop.group[k] == g


# --------------------------------------------------------------------------- bad input


def _fails(path, *parts, overrides=()):
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, list(overrides))
    text = str(info.value)
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"
    return text


BAD_CSV = [  # (name, nodes, edges, expected parts)
    ("missing_column", NODES4.replace(",board", "").replace(",1\n", "\n").replace(",0\n", "\n"),
     EDGES4, ["nodes.csv", "line 1", "missing column 'board'", "required: id, type, group, board"]),
    ("unknown_id", NODES4, EDGES4 + "a,zz,0.5\n",
     ["edges.csv", "line 6, column 'target'", "unknown node id 'zz'"]),
    ("self_tie", NODES4, EDGES4 + "b,b,0.5\n", ["edges.csv", "line 6", "self-tie 'b' -- 'b'"]),
    ("duplicate_id", NODES4 + "a,gp,gp,A,,0\n", EDGES4,
     ["nodes.csv", "line 6, column 'id'", "duplicate node id 'a' (first on line 2)"]),
    ("unknown_type", NODES4.replace("d,provider", "d,doctor"), EDGES4,
     ["nodes.csv", "line 5, column 'type'", "'doctor' is not a stakeholder type",
      "allowed: gp, manager, provider, patient, local_authority"]),
    ("unknown_role", NODES4.replace("officer", "surgeon"), EDGES4,
     ["line 4, column 'role'", "'surgeon' is not a role code", "allowed: gp, practice_manager"]),
    ("role_of_other_type", NODES4.replace("a,gp,gp", "a,manager,gp"), EDGES4,
     ["line 2, column 'role'", "role 'gp' is not a role of type 'manager'"]),
    ("bad_board", NODES4.replace(",,1\n", ",,maybe\n", 1), EDGES4,
     ["line 2, column 'board'", "'maybe' is not a board flag; allowed: 0 or 1"]),
    ("strength_high", NODES4, EDGES4.replace("0.6", "1.5"),
     ["edges.csv", "line 3, column 'strength'", "'1.5' is not a valid strength",
      "0 < strength <= 1", "likert5"]),
    ("strength_zero", NODES4, EDGES4.replace("0.6", "0"), ["line 3, column 'strength'", "'0'"]),
    ("strength_text", NODES4, EDGES4.replace("0.6", "strong"), ["'strong' is not a valid"]),
    ("strength_nan", NODES4, EDGES4.replace("0.6", "nan"), ["'nan' is not a valid"]),
    ("unknown_group", NODES4.replace("d,provider,,A", "d,provider,,Site Z"), EDGES4,
     ["nodes.csv", "line 5, column 'group'", "group 'Site Z' is not in the scenario",
      "known groups: A, B"]),
    ("practice_for_officer", NODES4.replace("officer,A,,", "officer,A,P1,"), EDGES4,
     ["line 4, column 'practice'", "only gp, practice_manager, patient_rep"]),
    ("semicolons", NODES4.replace(",", ";"), EDGES4, ["separate columns with commas"]),
    ("empty", "", EDGES4, ["nodes.csv", "empty file"]),
]


@pytest.mark.parametrize("name,nodes,edges,parts", BAD_CSV, ids=[b[0] for b in BAD_CSV])
def test_bad_csv_survey_gives_a_clear_message(tmp_path, name, nodes, edges, parts):
    path = write(tmp_path, CSV4, {"nodes.csv": nodes, "edges.csv": edges})
    _fails(path, *parts)


def test_every_problem_is_listed(tmp_path):
    nodes = NODES4.replace("d,provider", "d,doctor").replace("officer", "surgeon")
    edges = EDGES4.replace("0.6", "7")
    text = _fails(write(tmp_path, CSV4, {"nodes.csv": nodes, "edges.csv": edges}),
                  "'doctor'", "'surgeon'", "'7'")
    assert len(text.splitlines()) == 3


def test_likert_values_are_checked(tmp_path):
    path = write(tmp_path, CSV4 + "\nscale: likert5", {
        "nodes.csv": NODES4, "edges.csv": EDGES4.replace("0.6", "2.5")})
    _fails(path, "line 3, column 'strength'", "'2.5' is not a strength on the 1-5 scale",
           "the integers 1, 2, 3, 4, 5")


def test_file_problems_name_the_scenario_field(tmp_path):
    path = write(tmp_path, CSV4, {"edges.csv": EDGES4})
    _fails(path, f"{path}: network.survey.nodes", "nodes.csv not found")
    (tmp_path / "nodes.csv").mkdir()
    _fails(path, "network.survey.nodes", "is not a regular file")


def test_too_large_files_are_refused_before_parsing(tmp_path, monkeypatch):
    import networkx as nx

    path = write(tmp_path, "format: graphml\nfile: net.graphml",
                 {"net.graphml": (SYNTHETIC / "survey.graphml").read_text()})
    monkeypatch.setattr(surveyed, "MAX_BYTES", 1000)
    monkeypatch.setattr(nx, "read_graphml", lambda *a, **k: pytest.fail("parsed"))
    _fails(path, "network.survey.file", "is too large", "at most")
    path = write(tmp_path, CSV4, {"nodes.csv": NODES4 + "x" * 2000, "edges.csv": EDGES4})
    _fails(path, "network.survey.nodes", "is too large")


def test_bad_graphml(tmp_path):
    path = write(tmp_path, "format: graphml\nfile: net.graphml", {"net.graphml": "<graphml><oops"})
    _fails(path, "net.graphml", "not valid GraphML")
    text = (SYNTHETIC / "survey.graphml").read_text()
    no_board = text.replace('<data key="d2">1</data>', "", 1)
    (tmp_path / "net.graphml").write_text(no_board)
    _fails(path, "net.graphml: node 'GP1'", "missing attribute 'board'")
    bad = text.replace('<data key="d0">gp</data>', '<data key="d0">doctor</data>', 1)
    (tmp_path / "net.graphml").write_text(bad)
    _fails(path, "node 'GP1', attribute 'type'", "'doctor' is not a stakeholder type")
    loop = text.replace("</graph>", '<edge source="GP1" target="GP1"><data key="d5">0.5</data>'
                        "</edge></graph>")
    (tmp_path / "net.graphml").write_text(loop)
    _fails(path, "edge 'GP1' -- 'GP1'", "self-tie")
    weak = text.replace('<data key="d5">', '<data key="d5">9', 1)
    (tmp_path / "net.graphml").write_text(weak)
    _fails(path, "attribute 'strength'", "is not a valid strength")


BAD_EGO = [
    ("not_board_role", "r1,commissioning_manager,A,gp,0.5\n",
     ["line 2, column 'role'", "not a board role", "allowed: gp, practice_manager, officer"]),
    ("inconsistent", "r1,gp,A,gp,0.5\nr1,nurse,A,gp,0.5\n",
     ["line 3", "respondent 'r1' is nurse of 'A' here but gp of 'A' on line 2"]),
    ("bad_alter", "r1,gp,A,surgeon,0.5\n", ["line 2, column 'alter_type'", "'surgeon'"]),
    ("too_many_respondents", "r1,lay_member,A,gp,0.5\nr2,lay_member,A,gp,0.5\n"
     "r3,lay_member,A,gp,0.5\n", ["column 'role'", "A lay_member on the board: 3 respondents, 2 "
                                  "board members"]),
    ("too_many_alters", "".join("r1,gp,A,local_authority,0.5\n" for _ in range(3)),
     ["respondent 'r1'", "reports 3 ties to local_authority but only 2 agents"]),
    ("unknown_group", "r1,gp,Z,gp,0.5\n", ["group 'Z' is not in the scenario"]),
]


@pytest.mark.parametrize("name,rows,parts", BAD_EGO, ids=[b[0] for b in BAD_EGO])
def test_bad_ego_survey_gives_a_clear_message(tmp_path, name, rows, parts):
    table = "respondent,role,group,alter_type,strength\n" + rows
    path = write(tmp_path, "format: ego\ntable: ego.csv", {"ego.csv": table})
    _fails(path, "ego.csv", *parts)


def test_too_few_agents_lists_needed_and_available(tmp_path):
    nodes = "id,type,role,group,board\n" + "".join(f"g{i},gp,gp,A,1\n" for i in range(9)) + \
        "".join(f"p{i},provider,,A,0\n" for i in range(5))
    path = write(tmp_path, CSV4, {"nodes.csv": nodes, "edges.csv": "source,target,strength\n"})
    _fails(path, "nodes.csv", "not enough agents", "A gp/gp on the board: 9 needed, 7 available",
           "A provider/any role not on the board: 5 needed, 2 available")


def test_too_many_practice_labels(tmp_path):
    nodes = "id,type,group,practice,board\n" + "".join(
        f"pm{i},manager,A,P{i},0\n" for i in range(5))
    path = write(tmp_path, CSV4, {"nodes.csv": nodes, "edges.csv": "source,target,strength\n"})
    _fails(path, "cannot place the surveyed practices of A", "1 practice_manager")


@pytest.mark.parametrize("survey,parts", [
    ("format: csv\nnodes: nodes.csv", ["network.survey", "format csv needs nodes and edges"]),
    ("format: ego\ntable: t.csv\nmode: replace", ["mode replace needs a whole network"]),
    ("format: graphml\nfile: f.graphml\nnodes: n.csv", ["nodes is not used with format graphml"]),
    (CSV4 + "\ngroups: [A, Q]", ["network.survey.groups", "group 'Q' is not in the scenario"]),
    (CSV4 + "\ngroups: [B]", ["network.survey.groups", "group 'B' has nobody in the survey"]),
    (CSV4 + "\ndigest: 0123456789abcdef", ["network.survey.digest", "have changed"]),
    (CSV4 + "\nformt: csv", ["unknown field 'formt'"]),
])
def test_bad_survey_settings(tmp_path, survey, parts):
    path = write(tmp_path, survey, {"nodes.csv": NODES4, "edges.csv": EDGES4})
    _fails(path, str(path), *parts)


@pytest.mark.parametrize("command", ["validate", "run"])
def test_cli_exits_two_without_traceback(tmp_path, command):
    path = write(tmp_path, CSV4, {"nodes.csv": NODES4.replace("d,provider", "d,doctor"),
                                  "edges.csv": EDGES4})
    args = [str(path)] + (["--out", str(tmp_path / "o"), "--no-figures"] if command == "run"
                          else [])
    proc = subprocess.run([sys.executable, "-m", "simulation.cli", command, *args],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "nodes.csv: line 5, column 'type': 'doctor' is not a stakeholder type" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_sample_scenarios_validate():
    for name in ("surveyed_network", "surveyed_ego"):
        s = load_scenario(SCENARIOS / f"{name}.yaml")
        assert s.network.survey is not None and s.network.survey.digest


# --------------------------------------------------------------------------- issue 23: one way
def test_ragged_rows_are_refused_naming_line_and_column(tmp_path):
    # as the register reader refuses them (a value with an unquoted comma shifts the rest)
    nodes = NODES4.replace("b,manager,practice_manager,A,,0", "b,manager,practice_manager,A,,0,x")
    nodes = nodes.replace("d,provider,,A,,0", "d,provider,,A")
    path = write(tmp_path, CSV4, {"nodes.csv": nodes, "edges.csv": EDGES4})
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    text = str(info.value)
    assert "nodes.csv: line 3, column 7: 7 values but the header has 6 columns" in text
    assert "nodes.csv: line 5, column 5 ('practice'): 4 values but the header has 6" in text


def test_a_byte_that_is_not_utf8_is_named_by_line_and_column(tmp_path):
    path = write(tmp_path, CSV4, {"edges.csv": EDGES4})
    (tmp_path / "nodes.csv").write_bytes(NODES4.replace("a,gp,gp,A", "a,gp,gp,Caf\xe9").encode("latin-1"))
    _fails(path, "nodes.csv: line 2, column 12", "byte 0xe9 is not UTF-8 text")


def test_graphml_duplicate_node_ids_are_refused_naming_both(tmp_path):
    text = (SYNTHETIC / "survey.graphml").read_text()
    assert text.count('<node id="GP2">') == 1
    path = write(tmp_path, "format: graphml\nfile: net.graphml",
                 {"net.graphml": text.replace('<node id="GP2">', '<node id="GP1">')})
    with pytest.raises(ScenarioError, match=r"net.graphml: line \d+, column 5: duplicate node id "
                                            r"'GP1' \(first on line 10, column 5\)"):
        load_scenario(path)


def test_long_values_in_survey_files_are_bounded_excerpts(tmp_path):
    nodes = NODES4.replace("a,gp,gp,A,,1", "a," + "q" * 100_000 + ",gp,A,,1")
    path = write(tmp_path, CSV4, {"nodes.csv": nodes, "edges.csv": EDGES4})
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "(100,000 characters)" in str(info.value) and len(str(info.value)) < 1000
