"""Knowledge reaches boards only through people; the ablation switches do what they say."""

import numpy as np

from simulation.model import CommissioningModel


def _with(tiny, **update):
    return tiny.model_validate({**tiny.model_dump(), **update})


def test_board_view_is_a_function_of_board_members_only(tiny):
    m = CommissioningModel(tiny, seed=3, collect=False)
    m._refresh_board_view()  # (turnover after the last refresh may have changed members)
    before = m.board_view.copy()
    others = ~m.on_board
    m.belief[others] = np.random.default_rng(0).dirichlet(np.ones(m.n_services), others.sum())
    m.locality_view[:] = 1.0 / m.n_services
    m._refresh_board_view()
    np.testing.assert_array_equal(m.board_view, before)
    # and a board meeting pools only its attending members
    m.active[:] = True
    saved = m.belief.copy()
    m.hold_board_meeting()
    meeting = m.meeting_view.copy()
    m.belief = saved
    m.belief[others] = 1.0 / m.n_services
    m.hold_board_meeting()
    np.testing.assert_allclose(m.meeting_view, meeting, atol=1e-12)


def test_front_line_change_reaches_the_board_only_through_a_tie_or_a_meeting(tiny):
    """A front-line GP's knowledge moves the board after one month only if tied to a board
    member or meeting with one; with no ties and no localities it cannot reach the board."""
    s = _with(tiny, network={"informal": False}, localities={"enabled": False}, burn_in=0)
    m = CommissioningModel(s, seed=3, collect=False)
    gps = np.flatnonzero((m.pop.kind == 0) & ~m.on_board)
    m.belief[gps] = np.eye(m.n_services)[0]
    m.private[gps] = np.eye(m.n_services)[0]
    before = m.board_view.copy()
    m.exchange_knowledge()
    m.hold_locality_meetings()
    m._refresh_board_view()
    np.testing.assert_array_equal(m.board_view, before)


def test_no_informal_ties_means_no_ties_at_any_time(tiny):
    s = _with(tiny, network={"informal": False},
              leadership={"knowledge_brokering": {"enabled": True, "intensity": 1.0},
                          "coherence_building": {"enabled": True, "intensity": 1.0}})
    m = CommissioningModel(s, seed=1)
    for _ in range(12):
        m.step()
        assert m.ties.m == 0
    assert np.isfinite(np.asarray(m.datacollector.model_vars["relevance_skill"][-1])).all()


def test_burn_in_runs_before_month_zero_and_events_count_from_it(tiny):
    s = _with(tiny, burn_in=12, events=[{"type": "engagement_shift", "step": 2,
                                          "stakeholder": "gp", "delta": -0.5}])
    m = CommissioningModel(s, seed=1)
    assert m.month == 0 and m.steps == 0 and m.decisions_made == 4
    gp = m.pop.kind == 0
    m.step()
    e1 = m.engagement[gp].mean()
    m.step()
    assert m.month == 2 and m.engagement[gp].mean() < e1 - 0.3


def test_broker_loss_replaces_leads_and_brokers_by_untied_newcomers(tiny):
    s = _with(tiny, events=[{"type": "broker_loss", "step": 1, "top_betweenness": 2}])
    m = CommissioningModel(s, seed=1, collect=False)
    leads = np.flatnonzero(m.pop.locality_lead)
    ids = m.occupant_id[leads].copy()
    m.month = 0
    m.step()
    assert np.all(m.occupant_id[leads] != ids)  # new people in the lead roles
    assert m.pop.locality_lead[leads].all()  # the roles remain
    np.testing.assert_allclose(m.belief[leads].mean(axis=0), m.belief[leads][0], atol=0.2)
    # after one month the newcomers hold at most the ties closed this month
    assert m.ties.degree()[leads].max() <= 2


def test_rewire_keeps_tie_count_close_and_degrees(tiny):
    s = _with(tiny, events=[{"type": "rewire", "step": 1}], ties={"triadic_closure": 0.0,
                                                                  "decay": 0.0})
    a = CommissioningModel(s, seed=1, collect=False)
    deg0, m0 = a.ties.degree(), a.ties.m
    a.fire_events()
    assert a.ties.m == m0  # not fired at month 0
    a.month = 1
    a.fire_events()
    assert 0.9 * m0 <= a.ties.m <= m0
    assert np.abs(a.ties.degree() - deg0).sum() <= 4 * (m0 - a.ties.m)


def test_newcomers_take_engagement_from_the_local_climate(tiny):
    s = _with(tiny, turnover={"newcomer_climate": 1.0}, burn_in=0)
    m = CommissioningModel(s, seed=1, collect=False)
    gps = np.flatnonzero(m.pop.kind == 0)
    area0 = gps[m.pop.area[gps] == m.pop.area[gps[0]]]
    m.engagement[area0] = 0.05
    m.replace(area0[:2])
    assert m.engagement[area0[:2]].max() < 0.4
    other = gps[m.pop.area[gps] != m.pop.area[gps[0]]]
    m.engagement[other] = 0.95
    m.replace(other[:2])
    assert m.engagement[other[:2]].min() > 0.6
    np.testing.assert_allclose(m.belief[area0[:2]], np.tile(m.national_need, (2, 1)))
