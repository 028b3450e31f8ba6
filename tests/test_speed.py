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
