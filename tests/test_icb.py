"""The integrated-care-board scenario (scenarios/icb_2022.yaml): one ICB (an upper body,
simulation.places) over three places with place committees, PCNs as localities; the ICB
board's statutory core drawn from the places' people."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from simulation.loader import load_scenario
from simulation.model import CommissioningModel
from simulation.population import LOCAL_AUTHORITY, PATIENT, PROVIDER, ROLES

ICB = Path(__file__).resolve().parents[1] / "scenarios" / "icb_2022.yaml"
MANAGERS = {"officer", "nurse", "commissioning_manager"}


@pytest.fixture(scope="module")
def icb():
    return load_scenario(ICB)


@pytest.fixture(scope="module")
def model(icb):
    return CommissioningModel(load_scenario(ICB, ["burn_in=0", "steps=1"]), collect=False)


def test_three_places_under_one_icb(icb):
    assert icb.name == "icb_2022"
    assert [g.population for g in icb.groups] == [450_000, 420_000, 330_000]
    assert sum(g.practices.count for g in icb.groups) == 136
    assert icb.relationships.mode == "networked"
    assert icb.steps == 60
    st = icb.structure
    assert st.era == "icb" and len(st.bodies) == 1
    assert st.bodies[0].groups == [g.name for g in icb.groups]
    assert icb.localities.enabled and icb.localities.budget_share <= 0.05
    assert st.body_share + icb.localities.budget_share < 1  # places decide the rest


def test_icb_board_is_the_statutory_core(icb, model):
    b = icb.structure.board
    assert (b.gps, b.practice_managers, b.nurses, b.secondary_care_doctors, b.lay_members,
            b.officers, b.local_authority_attendee) == (1, 0, 1, 1, 3, 3, True)
    pop = model.pop
    members = pop.body_board.indices
    roles = Counter(ROLES[r] for r in pop.role[members])
    assert roles["gp"] == 1                     # partner member for primary medical services
    assert sum(roles[r] for r in MANAGERS) == 4  # chief executive, finance, medical, nursing
    assert roles["lay_member"] == 3             # chair + 2 independent non-executives
    assert roles["provider_staff"] == 1         # partner member from the trusts
    assert roles["local_authority_staff"] == 1  # partner member from the councils
    assert members.size == b.size == 10
    gp = members[pop.role[members] == ROLES.index("gp")]
    assert pop.locality_lead[gp].all()  # the primary-care seat goes to a PCN clinical director
    assert (pop.kind[members[pop.role[members] == ROLES.index("lay_member")]] == PATIENT).all()
    assert (pop.kind[members[pop.role[members] == ROLES.index("provider_staff")]]
            == PROVIDER).all()
    assert (pop.kind[members[pop.role[members] == ROLES.index("local_authority_staff")]]
            == LOCAL_AUTHORITY).all()


def test_place_committees(icb, model):
    pop = model.pop
    for g in range(3):
        members = pop.board[[g]].indices
        roles = Counter(ROLES[r] for r in pop.role[members])
        assert roles["gp"] == 3 and pop.locality_lead[members[pop.role[members] == 0]].all()
        assert roles["provider_staff"] == 2 and roles["local_authority_staff"] == 1
        assert roles["lay_member"] == 1 and sum(roles[r] for r in MANAGERS) == 2
        assert set(pop.group[members][pop.group[members] >= 0]) == {g}


def test_localities_are_pcns_of_30k_to_50k(icb, model):
    pop = model.pop
    assert pop.n_areas == sum(g.localities.count for g in icb.groups) == 30
    per_area = np.bincount(pop.practice_area, weights=pop.list_size, minlength=pop.n_areas)
    assert per_area.sum() == sum(g.population for g in icb.groups)
    assert 30_000 <= per_area.mean() <= 50_000
    assert pop.locality_lead.sum() == pop.n_areas  # one clinical director per PCN


def test_councils_are_coterminous_with_places(model):
    assert (model.pop.la_serves.sum(axis=1) == 1).all()


def test_runs_at_reduced_scale_and_scores_each_level():
    s = load_scenario(ICB, ["scale=0.1", "steps=6", "burn_in=12"])
    m = CommissioningModel(s)
    for _ in range(6):
        m.step()
    assert m.n_groups == 3 and m.pop.n_bodies == 1
    np.testing.assert_allclose(m.belief.sum(axis=1), 1.0)
    df = m.datacollector.get_model_vars_dataframe()
    for metric in ("relevance_skill_body", "decision_span_per_head_body",
                   "misallocated_per_head_body", "decision_span_per_head_localities"):
        assert np.isfinite(df[metric].iloc[-1][-1]), metric
