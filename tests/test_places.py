"""Levels of commissioning (simulation.places) and reorganisations (simulation.reorganisation):
hand-computed cases of the three-level budget, the upper boards, the per-level scores and the
reorganise event; no structure is bit for bit the model before levels existed."""

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import TINY

from simulation import places
from simulation import reporters as R
from simulation.decisions import (
    Budget,
    decide,
    effective_allocation_levels,
    effective_allocation_levels_loop,
)
from simulation.loader import load_scenario
from simulation.model import CommissioningModel
from simulation.population import LOCAL_AUTHORITY, PROVIDER, R_GP, R_PPG
from simulation.reorganisation import reorganise
from simulation.scenario import Reorganise

THREE = """
name: three
seed: 7
steps: 30
burn_in: 6
groups:
  - {name: A, population: 60000, practices: {count: 8}, localities: {count: 2},
     commissioning_managers: 4}
  - {name: B, population: 90000, practices: {count: 12}, localities: {count: 3},
     commissioning_managers: 5}
  - {name: C, population: 50000, practices: {count: 6}, localities: {count: 2},
     commissioning_managers: 3}
providers:
  - {name: AcuteAB, kind: acute, serves: [A, B]}
  - {name: AcuteC, kind: acute, serves: [C]}
local_authorities:
  - {name: LAA, serves: [A]}
  - {name: LAC, serves: [C]}
"""

ICB = """
structure:
  era: icb
  bodies: [{name: ICB, groups: [A, B]}]
  board: {gps: 2, practice_managers: 0, nurses: 1, secondary_care_doctors: 1, lay_members: 2,
          officers: 3}
  group_board: {gps: 3, lay_members: 1}
  body_share: 0.6
"""


def _load(tmp_path, text, overrides=()):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return load_scenario(p, list(overrides))


# ------------------------------------------------------------------ the three-level budget
def test_three_level_effective_allocation_by_hand():
    body = np.array([[0.5, 0.5]])
    group_body = np.array([0, -1])
    board = np.array([[1.0, 0.0], [0.0, 1.0]])
    local = np.array([[0.0, 1.0], [np.nan, np.nan], [0.2, 0.8]])
    area_group = np.array([0, 0, 1])
    want = np.array([[0.6, 0.4],     # 0.6*[.5,.5] + 0.3*[1,0] + 0.1*[0,1]
                     [0.7, 0.3],     # locality not met: its group's allocation
                     [0.02, 0.98]])  # no body: 0.9*[0,1] + 0.1*[.2,.8]
    got = effective_allocation_levels(body, group_body, board, local, area_group, 0.6, 0.1)
    np.testing.assert_allclose(got, want, atol=1e-15)
    np.testing.assert_allclose(
        effective_allocation_levels_loop(body, group_body, board, local, area_group, 0.6, 0.1),
        got, atol=1e-15)


def test_vectorised_levels_match_the_loop_on_random_cases():
    rng = np.random.default_rng(3)
    for _ in range(20):
        g, c, k = 4, 2, 5
        area_group = rng.integers(0, g, 9)
        body = rng.dirichlet(np.ones(k), c)
        board = rng.dirichlet(np.ones(k), g)
        local = rng.dirichlet(np.ones(k), 9)
        local[rng.random(9) < 0.2] = np.nan
        gb = rng.integers(-1, c, g)
        a = effective_allocation_levels(body, gb, board, local, area_group, 0.5, 0.2)
        b = effective_allocation_levels_loop(body, gb, board, local, area_group, 0.5, 0.2)
        np.testing.assert_allclose(a, b, atol=1e-14)
        np.testing.assert_allclose(a.sum(axis=1), 1.0)


def test_body_decision_by_hand():
    flat = np.array([[0.5, 0.5]])
    budget = Budget(flat.copy(), flat.copy(), flat.copy(), flat.copy(), body=flat.copy())
    out = decide(budget, flat, flat, None, None, objective_weight=0.5, max_shift=0.1, share=0.0,
                 area_group=np.array([0]), area_population=np.array([1.0]),
                 body_view=np.array([[0.9, 0.1]]), body_objective=flat, body_share=0.5,
                 group_body=np.array([0]))
    # body target 0.5*[.9,.1] + 0.5*[.5,.5] = [.7,.3]; TV 0.2 > 0.1: half-way -> [.6,.4]
    np.testing.assert_allclose(out.body, [[0.6, 0.4]])
    np.testing.assert_allclose(out.board, flat)  # the group's target is where it is
    np.testing.assert_allclose(out.area, [[0.55, 0.45]])  # 0.5*[.6,.4] + 0.5*[.5,.5]
    np.testing.assert_allclose(out.group, [[0.55, 0.45]])


# ------------------------------------------------------------------ no structure = before
#: TINY at its seed, 24 months: values computed with the code before levels existed (commit
#: 0e2d217), printed with repr, at that commit's defaults (OLD_DEFAULTS: the calibration refit
#: of docs/ODD.md §10 changed three of them since)
OLD_DEFAULTS = ("decisions.reflect_threshold=0.95", "engagement_dynamics.expectation=0.829",
                "engagement_dynamics.learning_rate=0.181")
BEFORE = {
    "relevance_skill": [0.696387307773674, 0.7987928221892153, 0.7405911082662733],
    "misallocated_per_head": [114.56991854719139, 128.7813859808848, 123.09679900740745],
    "engagement_gp": [0.5081037478316297, 0.5254915344064223, 0.5185364197765052],
    "accuracy_board": [0.9416335522756791, 0.9768701686789708, 0.9627755221176542],
    "survey_reflected_formal": [0.42857142857142855, 1.0, 0.7714285714285714],
    "density": [0.16948284690220175, 0.12334014300306435, 0.1417972245627193],
}


def _final(model):
    df = model.datacollector.get_model_vars_dataframe()
    return {c: np.asarray(df[c].iloc[-1], float) for c in df.columns}


def test_no_structure_is_bitwise_the_model_before_levels(tiny_path):
    tiny = load_scenario(tiny_path, list(OLD_DEFAULTS))
    m = CommissioningModel(tiny)
    for _ in range(tiny.steps):
        m.step()
    got = _final(m)
    for name, values in BEFORE.items():
        assert got[name].tolist() == values, name
    assert np.isnan(got["relevance_skill_body"]).all()


def test_structure_without_bodies_equals_no_structure(tmp_path):
    a = _load(tmp_path, TINY)
    b = _load(tmp_path, TINY + "structure: {era: ccg}\n")
    ma, mb = CommissioningModel(a), CommissioningModel(b)
    for _ in range(a.steps):
        ma.step()
        mb.step()
    fa, fb = _final(ma), _final(mb)
    for name in fa:
        np.testing.assert_array_equal(fa[name], fb[name], err_msg=name)
    assert np.array_equal(ma.belief, mb.belief)


# ------------------------------------------------------------------ the upper board
def test_upper_board_drawn_from_its_groups(tmp_path):
    s = _load(tmp_path, THREE + ICB.replace("lay_members: 1}", "lay_members: 1}"))
    m = CommissioningModel(s)
    p = m.pop
    assert p.n_bodies == 1 and p.group_body.tolist() == [0, 0, -1]
    members = p.body_board.indices
    assert members.size == s.structure.board.size  # every seat filled (enough people)
    own = p.group[members] >= 0
    assert set(p.group[members[own]]) <= {0, 1}  # nobody of group C
    staff = members[~own]
    assert np.isin(p.kind[staff], (PROVIDER, LOCAL_AUTHORITY)).all()
    for i in staff:  # provider / council members serve A or B
        serves = (p.provider_serves if p.kind[i] == PROVIDER else p.la_serves)[p.org[i]]
        assert serves[:2].any()
    gp = members[p.role[members] == R_GP]
    assert gp.size == 2 and p.locality_lead[gp].all()  # GP seats to locality leads first
    # formal roles include the upper board; the group boards follow group_board (3 GPs each)
    assert m.formal_role[members].all()
    assert all((p.role[p.board[[g]].indices] == R_GP).sum() == 3 for g in range(3))


def test_structure_errors_name_the_field(tmp_path):
    from simulation.loader import ScenarioError

    with pytest.raises(ScenarioError, match=r"structure.bodies\[0\].groups names 'Z'; known "
                       r"groups: A, B, C"):
        _load(tmp_path, THREE + ICB.replace("groups: [A, B]", "groups: [A, Z]"))
    with pytest.raises(ScenarioError, match=r"body_share .* localities.budget_share .* more than 1"):
        _load(tmp_path, THREE + ICB.replace("body_share: 0.6", "body_share: 0.9"))
    with pytest.raises(ScenarioError, match="already under body"):
        _load(tmp_path, THREE + ICB.replace("bodies: [{name: ICB, groups: [A, B]}]",
                                            "bodies: [{name: X, groups: [A]}, "
                                            "{name: Y, groups: [A, B]}]"))


# ------------------------------------------------------------------ knowledge between levels
def _disjoint(m):
    """Make the upper board's members sit on no group board and in no locality."""
    p = m.pop
    free = np.flatnonzero(~(np.asarray(p.board.sum(axis=0)).ravel() > 0) & (p.area < 0)
                          & (p.group >= 0))[:5]
    p.body_board = sp.csr_array((np.ones(free.size), (np.zeros(free.size, int), free)),
                                shape=(1, p.n))
    places.refresh_roles(m)
    return free


def _body_view_after(m, with_place_meeting):
    state = (m.belief.copy(), m.objective.copy(), m.last_contact.copy())
    if with_place_meeting:
        m.hold_board_meeting()
    places.hold_body_meeting(m)
    view = m.body_meeting_view.copy()
    m.belief, m.objective, m.last_contact = state
    return view


def test_knowledge_crosses_levels_only_through_shared_members(tmp_path):
    s = _load(tmp_path, THREE + ICB)
    m = CommissioningModel(s)
    m.active = np.ones(m.n_agents, bool)
    _disjoint(m)
    np.testing.assert_array_equal(_body_view_after(m, False), _body_view_after(m, True))
    # put one place-board member on the upper board too: the place meeting now reaches it
    shared = m.pop.board[[0]].indices[:1]
    p = m.pop
    cols = np.concatenate([p.body_board.indices, shared])
    p.body_board = sp.csr_array((np.ones(cols.size), (np.zeros(cols.size, int), cols)),
                                shape=(1, p.n))
    places.refresh_roles(m)
    assert not np.array_equal(_body_view_after(m, False), _body_view_after(m, True))


# ------------------------------------------------------------------ per-level scores
def test_body_skill_span_and_pounds_by_hand(tmp_path):
    s = _load(tmp_path, TINY + ICB, ["burn_in=0"])
    m = CommissioningModel(s, collect=False)
    assert m.pop.group_population.tolist() == [60000, 90000]  # body weights 0.4, 0.6
    z = np.zeros(2)
    m.group_need = np.array([[0.5, 0.5, 0, 0, *z], [0, 0, 0.5, 0.5, *z]])  # body: .2 .2 .3 .3
    m.budget.group = np.tile([0.2, 0.2, 0.3, 0.3, 0, 0], (2, 1))  # R = 1
    m.floor_budget.group = np.full((2, 6), 1 / 6)  # TV 1/3: R = 2/3
    m.ceiling_budget.group = np.tile([0.25, 0.25, 0.25, 0.25, 0, 0], (2, 1))  # TV .1: R = .9
    skill = (1 - 2 / 3) / (0.9 - 2 / 3)
    np.testing.assert_allclose(R.relevance_skill_body(m), [skill] * 3)
    np.testing.assert_allclose(R.decision_span_per_head_body(m), [1150 * (0.9 - 2 / 3)] * 3)
    np.testing.assert_allclose(R.misallocated_per_head_body(m), [0.0] * 3, atol=1e-12)
    np.testing.assert_allclose(R.misallocated_floor_per_head_body(m), [1150 / 3] * 3)
    np.testing.assert_allclose(R.misallocated_ceiling_per_head_body(m), [115.0] * 3)
    # a span below decisions.min_span is not interpretable
    m.ceiling_budget.group = m.floor_budget.group.copy()
    assert np.isnan(R.relevance_skill_body(m)).all()


def test_locality_skill_by_hand(tmp_path):
    s = _load(tmp_path, TINY, ["burn_in=0"])
    m = CommissioningModel(s, collect=False)
    L = m.pop.n_areas
    need = np.zeros((L, 6))
    need[:, 0] = need[:, 1] = 0.5
    m.area_need = need
    m.budget.area = need.copy()  # R = 1
    m.floor_budget.area = np.full((L, 6), 1 / 6)  # TV 2/3: R = 1/3
    m.ceiling_budget.area = np.tile([0.4, 0.4, 0.05, 0.05, 0.05, 0.05], (L, 1))  # R = .8
    np.testing.assert_allclose(R.relevance_skill_localities(m), [(1 - 1 / 3) / (0.8 - 1 / 3)] * 3)
    np.testing.assert_allclose(R.decision_span_per_head_localities(m),
                               [1150 * (0.8 - 1 / 3)] * 3)
    assert np.isnan(R.relevance_skill_body(m)).all()  # no upper level


# ------------------------------------------------------------------ reorganise
def _event(**kw):
    return Reorganise(type="reorganise", step=1, **kw)


def test_reorganise_into_an_icb_carries_money_and_people_over(tmp_path):
    s = _load(tmp_path, THREE, ["burn_in=3"])
    m = CommissioningModel(s, collect=False)
    before = {k: getattr(m, k).copy() for k in ("engagement", "belief", "objective", "private",
                                                "occupant_id", "last_contact")}
    ties = (m.ties.src.copy(), m.ties.dst.copy(), m.ties.weight.copy())
    spend = {b: getattr(m, b).group.copy() for b in ("budget", "floor_budget", "ceiling_budget")}
    own = m.budget.board.copy()
    structure = _load(tmp_path, THREE + ICB).structure
    reorganise(m, _event(structure=structure))
    p = m.pop
    assert p.n_bodies == 1 and p.body_board.nnz == structure.board.size
    assert set(p.group[p.body_board.indices][p.group[p.body_board.indices] >= 0]) <= {0, 1}
    w = p.group_population[:2] / p.group_population[:2].sum()
    for b, g in spend.items():  # the body starts from its groups' spending, exactly
        np.testing.assert_allclose(getattr(m, b).body, [w @ g[:2]], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(m.budget.board, own)  # places keep their own allocations
    for k, v in before.items():  # nothing about people changes
        np.testing.assert_array_equal(getattr(m, k), v, err_msg=k)
    np.testing.assert_array_equal(m.ties.src, ties[0])
    np.testing.assert_array_equal(m.ties.weight, ties[2])
    np.testing.assert_array_equal(m.formal_role, p.formal_role)
    assert m.on_board[p.body_board.indices].all()
    for _ in range(24):  # the run goes on
        m.step()
    assert np.isfinite(m.budget.body).all() and np.isfinite(m.group_alloc).all()
    np.testing.assert_allclose(m.budget.area.sum(axis=1), 1.0)


def test_reorganise_repartitions_localities_consistently(tmp_path):
    s = _load(tmp_path, THREE, ["burn_in=3"])
    m = CommissioningModel(s, collect=False)
    reorganise(m, _event(structure=None, localities={"A": 4, "C": 10}))
    p = m.pop
    per_group = np.bincount(p.area_group, minlength=3).tolist()
    assert per_group == [4, 3, 6]  # C has 6 practices: at most one locality per practice
    L = p.n_areas
    assert p.practice_area.max() == L - 1 and (np.bincount(p.practice_area) > 0).all()
    assert (p.area_group[p.practice_area] == p.practice_group).all()
    at = p.practice >= 0
    assert (p.area[at] == p.practice_area[p.practice[at]]).all() and (p.area[~at] == -1).all()
    assert m.area_matrix.shape[0] == L and m.area_need.shape == (L, 6)
    assert m.area_members.shape == (L, p.n) and np.isnan(m.locality_view).all()
    np.testing.assert_allclose(np.bincount(p.area_group, weights=m.area_population, minlength=3),
                               p.group_population)
    for b in (m.budget, m.floor_budget, m.ceiling_budget):
        assert b.local.shape == (L, 6) and b.area.shape == (L, 6)
        np.testing.assert_array_equal(b.local, b.board[p.area_group])  # from the group's
    key, n_keys = m.climate_keys[0]
    assert key.max() < n_keys
    assert p.locality_lead.sum() == L  # one fresh lead per new locality
    reorganise(m, _event(structure=None, localities=2))
    assert np.bincount(m.pop.area_group).tolist() == [2, 2, 2]
    for _ in range(24):
        m.step()
    assert np.isfinite(m.group_alloc).all()


def test_leaving_a_body_takes_its_spending_over(tmp_path):
    s = _load(tmp_path, THREE + ICB, ["burn_in=6"])
    m = CommissioningModel(s, collect=False)
    spend = m.budget.group.copy()
    reorganise(m, _event(structure=None))
    assert m.pop.body_board is None and m.budget.body is None
    np.testing.assert_array_equal(m.budget.board[:2], spend[:2])  # A and B left the ICB
    assert not np.isnan(R.relevance_skill(m)[:-1]).all()


def test_history_runs_through_reorganisations(tmp_path):
    text = THREE + ICB.replace("era: icb", "era: pct") + """
events:
  - {type: reorganise, step: 3, structure: null, board: {gps: 5}}
  - type: reorganise
    step: 9
    localities: {A: 3, B: 4}
    structure:
      era: icb
      bodies: [{name: ICB, groups: [A, B, C]}]
      body_share: 0.7
"""
    s = _load(tmp_path, text, ["steps=33"])
    m = CommissioningModel(s)
    for _ in range(s.steps):
        m.step()
    df = m.datacollector.get_model_vars_dataframe()
    body = np.array(df["relevance_skill_body"].tolist())
    assert np.isnan(body[3:9]).all()  # CCG era: no upper level
    assert np.isfinite(m.budget.body).all() and m.pop.n_bodies == 1
    assert np.bincount(m.pop.area_group).tolist()[:2] == [3, 4]


# ------------------------------------------------------------------ survey answers by body
def test_survey_share_is_pooled_over_the_upper_body(tmp_path):
    s = _load(tmp_path, THREE + ICB, ["burn_in=0"])
    m = CommissioningModel(s, collect=False)
    p = m.pop
    gp_other = (p.role == R_GP) & ~m.formal_role
    # agree: engagement ≥ engaged_high for exactly the other GPs of group A
    m.engagement = np.where(gp_other & (p.group == 0), 0.9, 0.1)
    n_a = (gp_other & (p.group == 0)).sum()
    n_ab = (gp_other & np.isin(p.group, [0, 1])).sum()
    share = R.METRICS["survey_engaged_high_other"].reporter(m)
    # A and B answer about the ICB: one pooled share; C about itself (nobody agrees)
    assert share[0] == share[1] == pytest.approx(n_a / n_ab)
    assert share[2] == 0.0
    # stakeholders serving A and B are counted once for the ICB
    m.engagement = np.where(p.kind == PROVIDER, 0.9, 0.1)
    st = R.METRICS["survey_engaged_high_stakeholder"].reporter(m)
    resp = (np.isin(p.kind, (PROVIDER, LOCAL_AUTHORITY)) | (p.role == R_PPG))
    serves_ab = np.zeros(p.n, bool)
    prov = p.kind == PROVIDER
    serves_ab[prov] = p.provider_serves[p.org[prov]][:, :2].any(axis=1)
    la = p.kind == LOCAL_AUTHORITY
    serves_ab[la] = p.la_serves[p.org[la]][:, :2].any(axis=1)
    ppg = p.role == R_PPG
    serves_ab[ppg] = np.isin(p.group[ppg], [0, 1])
    want = (resp & serves_ab & prov).sum() / (resp & serves_ab).sum()
    assert st[0] == st[1] == pytest.approx(want)


def test_eras_are_recorded_in_the_manifest(tmp_path):
    from simulation.results import eras

    text = TINY + ICB.replace("era: icb", "era: pct") + """
events:
  - {type: reorganise, step: 5, structure: null}
"""
    assert eras(_load(tmp_path, text)) == [{"from_step": 0, "era": "pct"},
                                          {"from_step": 5, "era": "ccg"}]


def test_reorganise_redraws_formal_roles(tmp_path):
    s = _load(tmp_path, THREE + ICB.replace("era: icb", "era: pct"), ["burn_in=0"])
    m = CommissioningModel(s, collect=False)
    before = m.formal_role.copy()
    reorganise(m, _event(structure=None, board={"gps": 7, "lay_members": 2}))
    p = m.pop
    after = m.formal_role
    assert (after & ~before).any() and (before & ~after).any()  # roles gained and lost
    on_group_board = np.asarray(p.board.sum(axis=0)).ravel() > 0
    np.testing.assert_array_equal(after, on_group_board | p.locality_lead)  # no upper board
    gps = p.board.toarray()[:, p.role == R_GP].sum(axis=1)
    assert gps.tolist() == [7, 7, 7]
