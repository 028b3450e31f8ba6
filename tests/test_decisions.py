"""Incremental budgets, the floor/ceiling shadows and the decision metrics, on hand-computed cases."""

import numpy as np
import pytest

from simulation import measures as M
from simulation.decisions import Budget, decide, incremental_step, incremental_step_loop
from simulation.engagement import update_engagement, update_engagement_loop
from simulation.knowledge_flows import activity_view
from simulation.model import CommissioningModel
from simulation.tie_dynamics import accept_by_capacity, rewire_pairs


def test_incremental_step_moves_at_most_max_shift_and_matches_loop():
    rng = np.random.default_rng(0)
    cur = rng.dirichlet(np.ones(6), 50)
    tgt = rng.dirichlet(np.ones(6), 50)
    out = incremental_step(cur, tgt, 0.05)
    np.testing.assert_allclose(out, incremental_step_loop(cur, tgt, 0.05), rtol=0, atol=1e-15)
    moved = 0.5 * np.abs(out - cur).sum(axis=1)
    assert moved.max() <= 0.05 + 1e-12
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    # a target within reach is reached exactly
    near = cur + 0.01 * (tgt - cur)
    np.testing.assert_allclose(incremental_step(cur, near, 0.05), near)


def test_incremental_step_hand_computed():
    # TV([0.5,0.5],[0.9,0.1]) = 0.4; max 0.1 moves a quarter of the way
    np.testing.assert_allclose(incremental_step(np.array([[0.5, 0.5]]), np.array([[0.9, 0.1]]), 0.1),
                               [[0.6, 0.4]])


def test_decide_floor_fed_the_inherited_profile_never_moves():
    prof = np.array([0.5, 0.3, 0.2])
    area_group = np.array([0, 0, 1])
    b = Budget.inherited(prof, area_group, 2)
    view = np.tile(prof, (2, 1))
    out = decide(b, view, view, np.tile(prof, (3, 1)), np.tile(prof, (3, 1)), objective_weight=0.3,
                 max_shift=0.05, share=0.2, area_group=area_group,
                 area_population=np.array([1.0, 3.0, 2.0]))
    np.testing.assert_allclose(out.group, view)
    np.testing.assert_allclose(out.area, np.tile(prof, (3, 1)))


def test_decide_mixes_the_devolved_share_and_weights_areas_by_population():
    area_group = np.array([0, 0])
    b = Budget.inherited(np.array([0.5, 0.5]), area_group, 1)
    board = np.array([[0.6, 0.4]])
    local = np.array([[1.0, 0.0], [0.5, 0.5]])
    out = decide(b, board, board, local, local, objective_weight=0.0, max_shift=1.0, share=0.5,
                 area_group=area_group, area_population=np.array([1.0, 3.0]))
    np.testing.assert_allclose(out.area, [[0.8, 0.2], [0.55, 0.45]])
    np.testing.assert_allclose(out.group, [[0.25 * 0.8 + 0.75 * 0.55, 0.25 * 0.2 + 0.75 * 0.45]])


def test_relevance_skill_misallocation_and_shock_funding_hand_computed():
    np.testing.assert_allclose(M.relevance_skill([0.95, 0.90, 0.85], 0.9, 1.0), [0.5, 0.0, -0.5])
    assert np.isnan(M.relevance_skill(0.9, 0.95, 0.9505))  # floor and ceiling coincide
    np.testing.assert_allclose(M.misallocated_per_head([[0.6, 0.4], [0.5, 0.5]], [0.5, 0.5], 1150.0),
                               [115.0, 0.0])
    np.testing.assert_allclose(M.shock_funded([0.15, 0.17, 0.12], 0.13, 0.13, 0.17), [0.5, 1.0, -0.25])
    assert np.isnan(M.shock_funded(0.2, 0.1, 0.2, 0.2))


def test_activity_view_is_need_without_supply_and_geometric_mean_with_it():
    need = np.array([[0.8, 0.2]])
    supply = np.array([[0.2, 0.8]])
    np.testing.assert_allclose(activity_view(need, supply, 0.0), need)
    np.testing.assert_allclose(activity_view(need, supply, 1.0), supply)
    np.testing.assert_allclose(activity_view(need, supply, 0.5), [[0.5, 0.5]])


def test_saturating_engagement_matches_loop_and_stays_in_bounds():
    rng = np.random.default_rng(1)
    e = rng.random(200)
    r = rng.random(200)
    mask = rng.random(200) < 0.7
    out = update_engagement(e, r, 1.0, 0.5, mask)
    np.testing.assert_allclose(out, update_engagement_loop(e, r, 1.0, 0.5, mask), atol=1e-15)
    assert out.min() >= 0 and out.max() <= 1


def test_capacity_acceptance_and_rewiring_preserve_degrees():
    deg = np.array([0, 2, 4])
    assert accept_by_capacity(np.array([0]), np.array([1]), deg, 4, np.array([0.49])).tolist() == [True]
    assert accept_by_capacity(np.array([0]), np.array([1]), deg, 4, np.array([0.51])).tolist() == [False]
    assert accept_by_capacity(np.array([0]), np.array([2]), deg, 4, np.array([0.0])).tolist() == [False]
    rng = np.random.default_rng(3)
    src = rng.integers(0, 500, 3000)
    dst = rng.integers(0, 500, 3000)
    a, b, old = rewire_pairs(src, dst, rng)
    before = np.bincount(np.concatenate([src, dst]), minlength=500)
    after = np.bincount(np.concatenate([a, b]), minlength=500)
    np.testing.assert_array_equal(before, after)  # stub matching keeps every degree
    assert old.tolist() == list(range(3000))


def test_floor_ceiling_bracket_the_model_and_skill_is_reported(tiny):
    m = CommissioningModel(tiny, seed=2)
    for _ in range(24):
        m.step()
    from simulation import reporters as R

    lo, r, hi = R.relevance_floor(m), R.relevance_patient(m), R.relevance_ceiling(m)
    assert np.all(hi > lo)  # true need beats the national profile under the same rule
    skill = R.relevance_skill(m)
    np.testing.assert_allclose(skill, (r - lo) / (hi - lo))
    # with perfect board knowledge and no devolved budget, the model's budget is the ceiling's
    s = tiny.model_validate({**tiny.model_dump(), "localities": {"budget_share": 0.0}})
    m = CommissioningModel(s, seed=2, collect=False)
    m.budget = m.ceiling_budget.copy()
    m.month += 1
    m.hold_board_meeting()
    m.meeting_view = m.group_need.copy()
    m.decide()
    np.testing.assert_allclose(m.budget.group, m.ceiling_budget.group, atol=1e-12)


@pytest.mark.parametrize("field", ["misallocated_per_head", "relevance_skill"])
def test_decision_metrics_are_collected(tiny, field):
    m = CommissioningModel(tiny, seed=2)
    for _ in range(6):
        m.step()
    values = np.asarray(m.datacollector.model_vars[field][-1], float)
    assert values.shape == (3,) and np.isfinite(values).all()


def test_engagement_feedback_reaches_agents_who_never_attend():
    # documented mechanism (simulation.engagement, ODD "Adaptation"): the feedback responds to
    # outcomes, sensed by every present agent; at e = 0 (never attends) a reflected agent gains
    # eta * (r - r*) and an unreflected one loses nothing (0 is a floor, not a trap)
    e = np.array([0.0, 0.0, 0.4])
    r = np.array([0.9, 0.2, 0.9])
    present = np.array([True, True, False])
    out = update_engagement(e, r, 0.5, 0.8, present)
    np.testing.assert_allclose(out, [0.5 * 0.1, 0.0, 0.4])
