"""Mesa's seeding convention: an explicit ``seed=None`` is a fresh, recorded seed."""

import warnings

import mesa
import numpy as np

from simulation.model import CommissioningModel
from simulation.results import iter_replicates, replicate_seeds


def test_default_seed_is_the_scenarios(tiny):
    a, b = CommissioningModel(tiny, collect=False), CommissioningModel(tiny, collect=False)
    assert a.seed == b.seed == tiny.seed
    np.testing.assert_array_equal(a.ties.weight, b.ties.weight)


def test_explicit_none_draws_a_fresh_recorded_seed(tiny):
    a = CommissioningModel(tiny, seed=None, collect=False)
    b = CommissioningModel(tiny, seed=None, collect=False)
    assert a.seed != b.seed and 0 <= a.seed < 2**63
    again = CommissioningModel(tiny, seed=a.seed, collect=False)  # the recorded seed reproduces
    np.testing.assert_array_equal(again.ties.weight, a.ties.weight)
    np.testing.assert_array_equal(again.ties.src, a.ties.src)


def test_batch_run_iterations_differ_and_record_their_seeds(tiny):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Mesa prefers rng=[None] * 3
        # a list: batch_run would iterate over the pydantic model's fields otherwise
        rows = mesa.batch_run(CommissioningModel, {"scenario": [tiny]}, iterations=3,
                              max_steps=2, number_processes=1, data_collection_period=-1,
                              display_progress=False)
    assert len(rows) == 3
    finals = [repr(np.asarray(r["relevance_skill"])) for r in rows]
    assert len(set(finals)) == 3, finals


def test_commnet_run_seeds_still_come_from_the_scenario(tiny):
    short = tiny.model_copy(update={"steps": 1, "burn_in": 0})
    seeds = replicate_seeds(short.seed, 2)
    assert [m.seed for _, m, _ in iter_replicates(short, seeds)] == seeds
