"""The integrated-care-board scenario (scenarios/icb_2022.yaml): one ICB, PCNs as localities,
the ICB board's statutory core mapped onto the board seats."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from simulation.loader import load_scenario
from simulation.model import CommissioningModel
from simulation.population import LOCAL_AUTHORITY, PATIENT, PROVIDER, ROLES, build_population

ICB = Path(__file__).resolve().parents[1] / "scenarios" / "icb_2022.yaml"


@pytest.fixture(scope="module")
def icb():
    return load_scenario(ICB)


@pytest.fixture(scope="module")
def pop(icb):
    return build_population(icb, np.random.default_rng(0))


def test_one_group_networked(icb):
    assert icb.name == "icb_2022"
    assert len(icb.groups) == 1
    assert icb.relationships.mode == "networked"
    assert icb.steps == 60
    assert icb.localities.enabled and icb.localities.budget_share <= 0.05


def test_board_is_the_statutory_core(icb, pop):
    b = icb.board
    assert (b.gps, b.practice_managers, b.nurses, b.secondary_care_doctors, b.lay_members,
            b.officers, b.local_authority_attendee) == (1, 0, 1, 1, 3, 3, True)
    members = pop.board.toarray()[0] > 0
    roles = Counter(ROLES[r] for r in pop.role[members])
    assert roles == {
        "gp": 1,                     # partner member for primary medical services
        "officer": 3,                # chief executive, finance, medical director
        "nurse": 1,                  # director of nursing
        "lay_member": 3,             # chair + 2 independent non-executives
        "provider_staff": 1,         # partner member from the trusts
        "local_authority_staff": 1,  # partner member from the councils
    }
    assert members.sum() == b.size == 10
    gp = np.flatnonzero(members & (pop.role == ROLES.index("gp")))
    assert pop.locality_lead[gp].all()  # the primary-care seat goes to a PCN lead
    assert (pop.kind[members & (pop.role == ROLES.index("lay_member"))] == PATIENT).all()
    assert (pop.kind[members & (pop.role == ROLES.index("provider_staff"))] == PROVIDER).all()
    assert (pop.kind[members & (pop.role == ROLES.index("local_authority_staff"))]
            == LOCAL_AUTHORITY).all()


def test_localities_are_pcns_of_30k_to_50k(icb, pop):
    g = icb.groups[0]
    assert pop.n_areas == g.localities.count
    per_area = np.bincount(pop.practice_area, weights=pop.list_size, minlength=pop.n_areas)
    assert per_area.sum() == g.population
    assert 30_000 <= per_area.mean() <= 50_000
    assert pop.locality_lead.sum() == pop.n_areas  # one lead GP (clinical director) per PCN


def test_places_are_not_modelled(pop):
    # every provider and council serves (and observes) the whole ICB
    assert pop.provider_serves.all() and pop.la_serves.all()


def test_runs_at_reduced_scale():
    s = load_scenario(ICB, ["scale=0.1", "steps=2"])
    m = CommissioningModel(s)
    for _ in range(2):
        m.step()
    assert m.n_groups == 1
    np.testing.assert_allclose(m.belief.sum(axis=1), 1.0)
