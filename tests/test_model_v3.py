"""Model v3: no knowledge for free, scoped knowledge, route switches, the decision score's
span, and the shared burn-in (issue 18).  Hand-computed cases and plain-loop references."""

import numpy as np
import pytest
import scipy.sparse as sp

from simulation import exchange as ex
from simulation.knowledge_flows import (
    serving_bits,
    serving_matrix,
    tie_relevance,
    tie_relevance_loop,
)
from simulation.measures import relevance_skill
from simulation.model import BurnInCache, CommissioningModel
from simulation.network import Ties
from simulation.population import R_GP
from simulation.statistics import ratio_interval


def _with(s, **update):
    return s.model_validate({**s.model_dump(), **update})


# ------------------------------------------------------------------ no knowledge for free
def test_everyone_starts_at_the_national_profile(tiny):
    m = CommissioningModel(_with(tiny, burn_in=0), seed=3, collect=False)
    np.testing.assert_array_equal(m.belief, np.tile(m.national_need, (m.n_agents, 1)))
    np.testing.assert_array_equal(m.private, m.belief)


def test_initial_priorities_do_not_read_true_need(tiny):
    """Objectives are drawn around what the agent believes (the national profile), not the
    true need of its scope: garbling the truth leaves the draw unchanged."""
    m = CommissioningModel(_with(tiny, burn_in=0), seed=3, collect=False)
    slots = np.arange(m.n_agents)
    state = m.rng.bit_generator.state
    a = m._draw_objectives(slots)
    m.rng.bit_generator.state = state
    m.truth = np.random.default_rng(1).dirichlet(np.ones(m.n_services), m.n_agents)
    b = m._draw_objectives(slots)
    np.testing.assert_array_equal(a, b)


def test_with_no_observation_of_any_kind_the_board_knows_nothing(tiny):
    """No own observation and no activity data: every belief stays the national profile
    through burn-in and run, so decisions equal the no-knowledge floor (skill exactly 0)."""
    s = _with(tiny, knowledge_routes={"observation": False, "activity_data": False})
    m = CommissioningModel(s, seed=4)
    for _ in range(s.steps):
        m.step()
    np.testing.assert_allclose(m.belief, np.tile(m.national_need, (m.n_agents, 1)), atol=1e-12)
    np.testing.assert_allclose(m.budget.group, m.floor_budget.group, atol=1e-12)
    skill = np.asarray(m.datacollector.model_vars["relevance_skill"][-1], float)
    assert np.all((np.abs(skill) < 1e-9) | np.isnan(skill))


# ------------------------------------------------------------------ scoped knowledge
def test_tie_relevance_matches_its_loop_on_a_model(tiny):
    m = CommissioningModel(_with(tiny, burn_in=0), seed=2, collect=False)
    rng = np.random.default_rng(0)  # the generated network has no cross-group ties: add some
    t = Ties.from_pairs(m.n_agents, np.r_[m.ties.src, rng.integers(0, m.n_agents, 300)],
                        np.r_[m.ties.dst, rng.integers(0, m.n_agents, 300)], 0.5)
    served = [set(np.flatnonzero(m.serving[[i]].toarray().ravel())) for i in range(m.n_agents)]
    got = tie_relevance(t.src, t.dst, serving_bits(m.serving), 0.3)
    np.testing.assert_array_equal(got, tie_relevance_loop(t.src, t.dst, served, 0.3))
    assert (got < 1).any() and (got == 1).any()  # the tiny network has both kinds


def test_serving_matrix_hand_case():
    # agents: group 0, group 1, provider 0 (serves 0 and 1), council 1 (serves 1), nobody
    group = np.array([0, 1, -1, -1, -1])
    org = np.array([-1, -1, 0, 1, -1])
    serves = np.array([[True, True], [False, True]])
    S = serving_matrix(group, serves, org, 2).toarray()
    np.testing.assert_array_equal(S, [[1, 0], [0, 1], [1, 1], [0, 1], [0, 0]])
    src, dst = np.array([0, 0, 0, 1, 2, 0]), np.array([1, 2, 3, 3, 3, 4])
    rel = tie_relevance(src, dst, serving_bits(sp.csr_array(S)), 0.25)
    np.testing.assert_array_equal(rel, [0.25, 1.0, 0.25, 1.0, 1.0, 0.25])


def test_serving_bits_beyond_64_groups():
    """England has 211 groups: several words per agent."""
    n, g = 40, 150
    rng = np.random.default_rng(3)
    S = sp.csr_array((rng.random((n, g)) < 0.02).astype(float))
    bits = serving_bits(S)
    assert bits.shape == (n, 3)
    src, dst = rng.integers(0, n, 500), rng.integers(0, n, 500)
    served = [set(np.flatnonzero(S[[i]].toarray().ravel())) for i in range(n)]
    np.testing.assert_array_equal(tie_relevance(src, dst, bits, 0.1),
                                  tie_relevance_loop(src, dst, served, 0.1))


def test_discounted_tie_moves_its_agent_by_the_discount_hand_case():
    """Agent 0 (group A) has one tie, to agent 1 (group B), trust 1; rate 0.5; rho = 0.2.
    Plain DeGroot would move 0 half-way to 1's view; scoped, 0.2 of that:
    x0' = (1 - 0.5*0.2) [1, 0] + 0.5*0.2 [0, 1] = [0.9, 0.1]."""
    A = sp.csr_array(np.array([[0.0, 0.2], [0.2, 0.0]]))
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    rate = np.array([0.5, 0.5])
    trust = np.array([1.0, 1.0])
    (got,) = ex._degroot_steps(A, [x], [rate], trust)
    np.testing.assert_allclose(got, [[0.9, 0.1], [0.1, 0.9]], atol=1e-15)
    np.testing.assert_allclose(ex.degroot_trust_step_loop(x, A, rate, trust), got, atol=1e-15)
    # no discount (trust = row sums) is the plain DeGroot step, bit for bit
    (plain,) = ex._degroot_steps(A, [x], [rate])
    (same,) = ex._degroot_steps(A, [x], [rate], A @ np.ones(2))
    np.testing.assert_array_equal(plain, same)


def test_trust_step_matches_its_loop_on_random_graphs():
    rng = np.random.default_rng(7)
    for _ in range(5):
        n, k = 30, 4
        D = rng.random((n, n)) * (rng.random((n, n)) < 0.15)
        D = np.triu(D, 1)
        D = D + D.T
        rho = np.where(rng.random((n, n)) < 0.4, 0.3, 1.0)
        rho = np.triu(rho, 1) + np.triu(rho, 1).T
        A = sp.csr_array(D * rho)
        A.eliminate_zeros()
        trust = D.sum(axis=1)
        x = rng.dirichlet(np.ones(k), n)
        rate = rng.random(n)
        (got,) = ex._degroot_steps(A, [x], [rate], trust)
        np.testing.assert_allclose(got, ex.degroot_trust_step_loop(x, A, rate, trust), atol=1e-13)
        np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-12)


def test_a_gp_tied_only_across_groups_moves_by_the_weight_in_the_model(tiny):
    """In the model: one tie between a GP of group A and a GP of group B, both fully engaged
    and active; after one exchange the A GP has moved rate * rho of the way, not rate."""
    rho, rate = 0.2, 0.5
    s = _with(tiny, burn_in=0, exchange={"rate": rate, "source_relevance": rho,
                                          "objective_rate": 0.0})
    m = CommissioningModel(s, seed=1, collect=False)
    gps = m.pop.role == R_GP
    a = int(np.flatnonzero(gps & (m.pop.group == 0))[0])
    b = int(np.flatnonzero(gps & (m.pop.group == 1))[0])
    m.ties = Ties.from_pairs(m.n_agents, np.array([a]), np.array([b]), np.array([0.8]))
    m.engagement[:] = 1.0
    m.active[:] = True
    k = m.n_services
    m.belief[a] = np.eye(k)[0]
    m.belief[b] = np.eye(k)[1]
    m.exchange_knowledge()
    expect = (1 - rate * rho) * np.eye(k)[0] + rate * rho * np.eye(k)[1]
    np.testing.assert_allclose(m.belief[a], expect, atol=1e-12)


# ------------------------------------------------------------------ route switches
def test_board_gps_off_board_view_ignores_gp_members(tiny):
    s = _with(tiny, burn_in=0, knowledge_routes={"board_gps": False})
    m = CommissioningModel(s, seed=3, collect=False)
    m._refresh_board_view()
    before = m.board_view.copy()
    m.belief[m.board_gp] = np.eye(m.n_services)[0]
    m._refresh_board_view()
    np.testing.assert_array_equal(m.board_view, before)
    m.active[:] = True
    m.hold_board_meeting()
    m2 = CommissioningModel(s, seed=3, collect=False)
    m2.active[:] = True
    m2.hold_board_meeting()
    np.testing.assert_allclose(m.meeting_view, m2.meeting_view, atol=1e-12)


def test_locality_meetings_off_give_no_view_of_need(tiny):
    s = _with(tiny, knowledge_routes={"locality_meetings": False})
    m = CommissioningModel(s, seed=3, collect=False)
    for _ in range(6):
        m.step()
    assert np.isnan(m.locality_view).all()
    assert np.isfinite(m.locality_objective).any()  # priorities still pooled


def test_informal_ties_off_leaves_beliefs_to_other_routes(tiny):
    s = _with(tiny, burn_in=0, knowledge_routes={"informal_ties": False})
    m = CommissioningModel(s, seed=3, collect=False)
    m.active[:] = True
    m.belief = np.random.default_rng(0).dirichlet(np.ones(m.n_services), m.n_agents)
    before = m.belief.copy()
    m.exchange_knowledge()
    np.testing.assert_array_equal(m.belief, before)


# ------------------------------------------------------------------ the decision score
def test_skill_is_not_interpretable_below_the_span_threshold():
    assert np.isnan(relevance_skill(0.905, 0.90, 0.909, min_range=0.01))
    assert relevance_skill(0.905, 0.90, 0.91, min_range=0.01) == pytest.approx(0.5)


def test_skill_across_replicates_is_a_ratio_of_means():
    # two replicates: gains 0.01, 0.03; spans 0.02, 0.06 -> 0.04/0.08 = 0.5 (the mean of the
    # per-replicate ratios would also be 0.5; make them differ): spans 0.02, 0.10
    iv = ratio_interval([0.01, 0.03], [0.02, 0.10])
    assert iv.mean == pytest.approx(0.04 / 0.12)
    again = ratio_interval([0.01, 0.03], [0.02, 0.10])
    assert (iv.low, iv.high) == (again.low, again.high)  # seeded bootstrap
    assert np.isnan(ratio_interval([0.01, 0.02], [0.001, 0.002], min_den=0.01).mean)


def test_span_and_benchmarks_in_pounds(tiny):
    m = CommissioningModel(tiny, seed=2, metrics=["decision_span_per_head", "relevance_floor",
                                                  "relevance_ceiling", "misallocated_per_head",
                                                  "misallocated_floor_per_head",
                                                  "misallocated_ceiling_per_head"])
    for _ in range(6):
        m.step()
    v = {k: np.asarray(x[-1], float) for k, x in m.datacollector.model_vars.items()}
    per_head = tiny.decisions.budget_per_head
    np.testing.assert_allclose(v["decision_span_per_head"],
                               per_head * (v["relevance_ceiling"] - v["relevance_floor"]))
    assert np.all(v["misallocated_ceiling_per_head"] <= v["misallocated_floor_per_head"] + 1e-9)


# ------------------------------------------------------------------ shared burn-in
def test_shared_and_fresh_burn_in_give_identical_results(tiny):
    control = _with(tiny, steps=8)
    treat = _with(tiny, steps=8, events=[{"type": "engagement_shift", "step": 2,
                                          "stakeholder": "gp", "delta": -0.3}])
    cache = BurnInCache()
    runs = {}
    for name, s, c in (("control", control, cache), ("shared", treat, cache),
                       ("fresh", treat, None)):
        m = CommissioningModel(s, seed=11, burn_in_cache=c)
        for _ in range(s.steps):
            m.step()
        runs[name] = m
    assert (cache.hits, cache.misses) == (1, 1)
    a, b = runs["shared"], runs["fresh"]
    for attr in ("belief", "objective", "engagement", "occupant_id", "last_contact"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    np.testing.assert_array_equal(a.ties.weight, b.ties.weight)
    va, vb = a.datacollector.model_vars, b.datacollector.model_vars
    for k in va:
        np.testing.assert_array_equal(np.asarray(va[k], float), np.asarray(vb[k], float))
    # and the arms really differ after the event
    assert not np.array_equal(runs["control"].engagement, a.engagement)


def test_burn_in_cache_keys_ignore_only_what_happens_after_month_zero(tiny):
    k = BurnInCache.key
    assert k(tiny, 1) == k(_with(tiny, steps=99, name="other"), 1)
    assert k(tiny, 1) != k(tiny, 2)
    assert k(tiny, 1) != k(_with(tiny, exchange={"rate": 0.1}), 1)


# ------------------------------------------------------------------ the surveys' questions
def test_survey_shares_hand_case(tiny):
    """Engagement set by class: formal GPs 0.8, other GPs 0.5, stakeholders 0.1 except the
    council's staff 0.9.  Group A's stakeholders are the acute trust's and the council's staff
    (both serve A and B) and A's patient representatives; group B's also the MH trust's."""
    from simulation.population import LOCAL_AUTHORITY, PROVIDER, R_PPG
    from simulation.reporters import METRICS

    m = CommissioningModel(_with(tiny, burn_in=0), seed=2, collect=False)
    p = m.pop
    gp = p.role == R_GP
    stake = np.isin(p.kind, (PROVIDER, LOCAL_AUTHORITY)) | (p.role == R_PPG)
    m.engagement[:] = 0.0
    m.engagement[gp & m.formal_role] = 0.8
    m.engagement[gp & ~m.formal_role] = 0.5
    m.engagement[stake] = 0.1
    council = p.kind == LOCAL_AUTHORITY
    m.engagement[council] = 0.9

    def val(name):
        return np.asarray(METRICS[name].reporter(m), float)

    np.testing.assert_allclose(val("survey_engaged_high_formal")[:2], [1.0, 1.0])
    np.testing.assert_allclose(val("survey_engaged_high_other")[:2], [0.0, 0.0])
    np.testing.assert_allclose(val("survey_engaged_some_other")[:2], [1.0, 1.0])
    acute = (p.kind == PROVIDER) & (p.org == 0)
    mh = (p.kind == PROVIDER) & (p.org == 1)
    ppg = p.role == R_PPG
    n_la, n_acute, n_mh = council.sum(), acute.sum(), mh.sum()
    n_ppg = [int((ppg & (p.group == g)).sum()) for g in (0, 1)]
    expect = [n_la / (n_la + n_acute + n_ppg[0]), n_la / (n_la + n_acute + n_mh + n_ppg[1])]
    np.testing.assert_allclose(val("survey_engaged_high_stakeholder")[:2], expect)
    # overall: population-weighted over the groups
    w = p.group_population / p.group_population.sum()
    assert val("survey_engaged_high_stakeholder")[2] == pytest.approx(float(np.dot(w, expect)))


def test_compare_pools_skill_as_a_ratio_of_means():
    """Two arms, three paired replicates: skill per arm = Σ gain / Σ span, the difference is
    the difference of those ratios (not of mean per-replicate skills)."""
    import pandas as pd

    from simulation.experiment.compare import compare_table

    rows = []
    for case, gains, spans in (("a", [0.01, 0.02, 0.03], [0.02, 0.04, 0.10]),
                               ("b", [0.00, 0.01, 0.02], [0.02, 0.04, 0.10])):
        for r, (g, s) in enumerate(zip(gains, spans, strict=True)):
            rows.append({"case": case, "replicate": r, "seed": 10 + r,
                         "relevance_floor": 0.9, "relevance_ceiling": 0.9 + s,
                         "relevance_patient": 0.9 + g, "relevance_skill": g / s})
    t = compare_table(pd.DataFrame(rows), ["relevance_skill"], min_span=0.01).set_index("scenario")
    assert t.loc["a", "mean"] == pytest.approx(0.06 / 0.16)
    assert t.loc["b", "diff"] == pytest.approx(0.03 / 0.16 - 0.06 / 0.16)
    assert t.loc["b", "method"] == "paired bootstrap of ratios"
    assert t.loc["b", "diff_ci_low"] <= t.loc["b", "diff"] <= t.loc["b", "diff_ci_high"]
    # below the span threshold: not interpretable
    t = compare_table(pd.DataFrame(rows), ["relevance_skill"], min_span=0.5).set_index("scenario")
    assert np.isnan(t.loc["a", "mean"]) and "not interpretable" in t.loc["a", "note"]
