"""Issue 24 (fast as it grows): the shortcuts of the hot path give the values of the plain
path, bit for bit."""

from functools import partial

import numpy as np

from simulation.knowledge_flows import serving_bits, tie_relevance
from simulation.model import CommissioningModel
from simulation.network import Ties


# ------------------------------------------------------------------ per-tie values kept
def test_per_tie_values_follow_keep_and_add_as_if_computed_on_the_whole_set():
    """Values carried through keep (a mask) and add (new ties inserted, an existing tie
    re-added) equal compute() on the resulting tie set, element by element."""
    rng = np.random.default_rng(5)
    n = 60
    t = Ties.from_pairs(n, rng.integers(0, n, 400), rng.integers(0, n, 400), rng.random(400))
    group = rng.integers(0, 4, n)

    def compute(src, dst):
        return np.where(group[src] == group[dst], 1.0, 0.25) + 0.001 * (src + dst)

    t.per_tie("x", compute)
    for _ in range(6):
        t = t.keep(rng.random(t.m) < 0.8)
        a, b = rng.integers(0, n, 50), rng.integers(0, n, 50)
        a[:5], b[:5] = t.src[:5], t.dst[:5]  # some ties that exist already
        t = t.add(a, b, 0.3)
        carried = t.per_tie("x", compute)
        np.testing.assert_array_equal(carried, compute(t.src, t.dst))
        fresh = Ties(t.n, t.src, t.dst, t.weight)
        np.testing.assert_array_equal(carried, fresh.per_tie("x", compute))
    empty = t.add(np.empty(0, np.int64), np.empty(0, np.int64), 0.3)
    np.testing.assert_array_equal(empty.per_tie("x", compute), compute(empty.src, empty.dst))


def test_tie_relevance_kept_with_the_ties_of_a_model_equals_recomputing_it(tiny):
    m = CommissioningModel(tiny, seed=11, collect=False)
    e = m.spec.exchange
    for _ in range(8):
        m.step()
        t = m.ties
        f = partial(tie_relevance, bits=m.serving_bits, relevance=e.source_relevance)
        key = ("source_relevance", e.source_relevance, id(m.serving_bits))
        np.testing.assert_array_equal(t.per_tie(key, f),
                                      tie_relevance(t.src, t.dst, serving_bits(m.serving),
                                                    e.source_relevance))


# ------------------------------------------------------------------ metrics off the hot path
def _run(scenario, metrics=None, seed=5):
    m = CommissioningModel(scenario, seed=seed, metrics=metrics)
    for _ in range(scenario.steps):
        m.step()
    return m.datacollector.model_vars


def test_metrics_at_chosen_months_are_those_of_the_full_collection(tiny):
    """Every metric computed only at a few months (none a multiple of a cadence, so the
    carried values come from months that were not read) equals, bit for bit, the full
    collection at those months, and is NaN at the others."""
    from simulation.reporters import METRICS

    s = tiny.model_validate({**tiny.model_dump(), "steps": 26,
                             "metrics": {**tiny.metrics.model_dump(), "structure_every": 3,
                                         "costly_every": 12}})
    full = _run(s)
    read = [1, 5, 13, 14, 25]
    some = _run(s, {name: read for name in METRICS})
    every = _run(s, {name: None for name in METRICS})
    assert set(some) == set(full) == set(METRICS)
    for name in METRICS:
        assert len(some[name]) == len(full[name]) == s.steps + 1
        for t in range(s.steps + 1):
            np.testing.assert_array_equal(every[name][t], full[name][t])
            if t in read:
                np.testing.assert_array_equal(some[name][t], full[name][t], err_msg=name)
            else:
                assert np.isnan(some[name][t]).all()


def test_the_registry_gives_each_metric_its_cadence():
    from simulation.reporters import METRICS

    assert METRICS["relevance_skill"].cadence == "month"
    assert METRICS["reach"].cadence == "structure_every"
    assert METRICS["betweenness_centralisation"].cadence == "costly_every"
    assert "carried forward" in METRICS["clustering"].cadence_text


def test_outcome_months_read_by_the_reductions():
    from simulation.experiment.outcomes import outcome_months

    got = outcome_months([{"metric": "a", "reduce": "final"},
                          {"metric": "a", "reduce": "mean_last", "last": 3},
                          {"metric": "b", "reduce": "time_to_detect"},
                          {"metric": "c", "reduce": "time_to_detect", "after": 58}], 60, shock=None)
    assert got == {"a": {58, 59, 60}, "b": set(), "c": {58, 59, 60}}


def test_a_sweep_run_reading_a_few_months_gives_the_outcomes_of_the_full_series(tiny_path):
    """execute_run with its outcomes' months only and with every month of every metric
    (keep_timeseries) gives the same outcomes, bit for bit."""
    from dataclasses import replace

    from simulation.experiment.executors import RunTask, execute_run
    from simulation.loader import load_scenario

    base = load_scenario(tiny_path).model_dump(mode="json")
    outcomes = ({"metric": "relevance_skill", "reduce": "mean_last", "last": 4},
                {"metric": "tie_persistence", "reduce": "final"},
                {"metric": "reach", "reduce": "mean_last", "last": 5},
                {"metric": "clustering", "reduce": "final"})
    task = RunTask(run_id=0, point=0, replicate=0, seed=9, base=base, values={},
                   outcomes=outcomes)
    lean, full = execute_run(task), execute_run(replace(task, keep_timeseries=True))
    assert lean["status"] == full["status"] == "ok", (lean["error"], full["error"])
    np.testing.assert_array_equal(lean["values"], full["values"])
