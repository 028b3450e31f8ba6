"""Tests of simulation.measures: hand-computed values, networkx references, ranges."""

from __future__ import annotations

import doctest
import random

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from networkx.algorithms.community import modularity as nx_modularity

import simulation.measures as M
from simulation.measures import (
    accuracy,
    betweenness_centralisation,
    clustering_by_group,
    coherence,
    decision_volatility,
    degree_centralisation_by_group,
    density_by_group,
    detection_time,
    dispersion,
    dispersion_by_group,
    edge_keys,
    ego_measures,
    ei_index_by_group,
    external_coherence,
    internal_coherence,
    jaccard,
    jaccard_by_group,
    knowledge,
    locality_relevance,
    mean_by_group,
    modularity,
    modularity_by_group,
    patient_relevance,
    provider_relevance,
    relevance,
    retention,
    stability,
    strength_concentration,
    structure,
    system_objective,
    tie_share_by_type,
    transitivity_by_group,
    tv_distance,
    wasted_spend,
)

# ---------------------------------------------------------------------------
# small graphs
# ---------------------------------------------------------------------------


def graph(edges, n, weights=None):
    """Symmetric CSR array from an undirected edge list."""
    edges = np.asarray(edges, dtype=int).reshape(-1, 2)
    w = np.ones(len(edges)) if weights is None else np.asarray(weights, dtype=float)
    u, v = edges[:, 0], edges[:, 1]
    return sp.csr_array(
        (np.concatenate([w, w]), (np.concatenate([u, v]), np.concatenate([v, u]))), shape=(n, n)
    )


STAR = graph([(0, 1), (0, 2), (0, 3)], 4)  # centre 0
PATH = graph([(0, 1), (1, 2), (2, 3)], 4)
TRIANGLE = graph([(0, 1), (1, 2), (0, 2)], 3)
TRI_PENDANT = graph([(0, 1), (0, 2), (1, 2), (2, 3)], 4)  # triangle 0-1-2, pendant 3 on 2
TWO_TRI = graph([(0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (4, 5), (2, 3)], 6)  # bridge 2-3
K4 = graph([(i, j) for i in range(4) for j in range(i + 1, 4)], 4)
CYCLE6 = graph([(i, (i + 1) % 6) for i in range(6)], 6)

N_RAND, G_RAND = 80, 4


def random_case(seed, n=N_RAND, p=0.12):
    """Weighted random graph, 4 groups plus unassigned (-1) nodes, and labels."""
    rng = np.random.default_rng(seed)
    g = nx.gnp_random_graph(n, p, seed=int(rng.integers(2**31)))
    for u, v in g.edges:
        g[u][v]["weight"] = float(rng.integers(1, 5))
    A = nx.to_scipy_sparse_array(g, nodelist=range(n), weight="weight", format="csr")
    group = rng.integers(-1, G_RAND, n)
    labels = rng.integers(0, 3, n)
    return g, A, group, labels


def subgraph(g, group, k):
    return g.subgraph(np.flatnonzero(group == k).tolist())


def dirichlet(rng, n, k):
    return rng.dirichlet(np.ones(k), size=n)


# ---------------------------------------------------------------------------
# package surface and docstring examples
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("module", [knowledge, coherence, stability, relevance, structure])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_public_api_is_exported():
    for module in (knowledge, coherence, stability, relevance, structure):
        for name in module.__all__:
            assert getattr(M, name) is getattr(module, name)
            assert getattr(module, name).__doc__
    assert sorted(M.__all__) == sorted(
        n for m in (knowledge, coherence, stability, relevance, structure) for n in m.__all__
    )


# ---------------------------------------------------------------------------
# knowledge
# ---------------------------------------------------------------------------


def test_tv_distance_hand_values():
    assert tv_distance([0.2, 0.3, 0.5], [0.5, 0.3, 0.2]) == pytest.approx(0.3)
    assert tv_distance([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)
    assert tv_distance([0.25, 0.75], [0.25, 0.75]) == 0.0
    rows = tv_distance([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]], [0.5, 0.5, 0.0])
    assert rows.shape == (2,)
    np.testing.assert_allclose(rows, [0.5, 0.5])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_tv_is_a_metric_bounded_by_one(seed):
    rng = np.random.default_rng(seed)
    p, q, r = (dirichlet(rng, 5, 4) for _ in range(3))
    d = tv_distance(p, q)
    assert np.all((d >= 0) & (d <= 1 + 1e-12))
    np.testing.assert_allclose(d, tv_distance(q, p))
    assert np.all(tv_distance(p, r) <= d + tv_distance(q, r) + 1e-12)
    np.testing.assert_allclose(accuracy(p, q), 1 - d)


def test_accuracy_hand_values():
    assert accuracy([0.2, 0.3, 0.5], [0.5, 0.3, 0.2]) == pytest.approx(0.7)
    np.testing.assert_allclose(accuracy([[1.0, 0.0], [0.0, 1.0]], [1.0, 0.0]), [1.0, 0.0])


def test_dispersion_hand_values():
    assert dispersion(np.eye(3)) == pytest.approx(2 / 3)
    # weights 3:1 -> mean [0.75, 0.25]; distances 0.25 and 0.75 -> (3*.25 + .75)/4
    assert dispersion([[1.0, 0.0], [0.0, 1.0]], weights=[3.0, 1.0]) == pytest.approx(0.375)
    assert dispersion([[0.2, 0.8]]) == 0.0
    assert dispersion([0.2, 0.8]) == 0.0
    assert dispersion([[0.2, 0.8], [0.2, 0.8]]) == pytest.approx(0.0)
    assert np.isnan(dispersion(np.empty((0, 3))))


def test_dispersion_range_random():
    for seed in range(10):
        rng = np.random.default_rng(seed)
        b = dirichlet(rng, 7, 5)
        d = dispersion(b, weights=rng.random(7))
        assert 0 < d <= 1
        # moving all rows halfway to a common row lowers dispersion
        assert dispersion(0.5 * b + 0.5 * b[0]) < dispersion(b)


def test_mean_by_group_hand_values():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    group = [0, 0, 1, 1, -1]
    out = mean_by_group(
        values, group, 3, mask=[True, True, True, False, True], weights=[1, 3, 1, 1, 1]
    )
    np.testing.assert_allclose(out, [1.75, 3.0, np.nan])
    rows = mean_by_group([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], [1, 1, 0], 2)
    np.testing.assert_allclose(rows, [[0.5, 0.5], [0.5, 0.5]])
    zero_w = mean_by_group([1.0, 2.0], [0, 1], 2, weights=[0.0, 1.0])
    np.testing.assert_allclose(zero_w, [np.nan, 2.0])
    with pytest.raises(ValueError):
        mean_by_group([1.0], [3], 2)


def test_dispersion_by_group_hand_values():
    beliefs = [[1.0, 0.0], [0.0, 1.0], [0.2, 0.8], [0.2, 0.8], [0.6, 0.4], [0.0, 1.0]]
    group = [0, 0, 1, 1, 1, -1]
    mask = [True, True, True, True, False, True]
    # group 1: mean [1/3, 2/3]; distances 2/15, 2/15, 4/15
    np.testing.assert_allclose(dispersion_by_group(beliefs, group, 3), [0.5, 8 / 45, np.nan])
    np.testing.assert_allclose(
        dispersion_by_group(beliefs, group, 3, mask=mask), [0.5, 0.0, np.nan], atol=1e-15
    )


def test_dispersion_by_group_matches_loop():
    rng = np.random.default_rng(3)
    b = dirichlet(rng, 200, 6)
    group = rng.integers(-1, 5, 200)
    mask = rng.random(200) < 0.7
    w = rng.random(200)
    got = dispersion_by_group(b, group, 6, mask=mask, weights=w)
    for k in range(6):
        sel = (group == k) & mask
        want = dispersion(b[sel], weights=w[sel]) if sel.any() else np.nan
        np.testing.assert_allclose(got[k], want, rtol=1e-12)
    assert np.isnan(got[5])  # label 5 never drawn


def test_detection_time_hand_series():
    # baseline 0.1, max after shock 0.5 -> threshold 0.3, reached at step 5
    s = [0.1, 0.1, 0.1, 0.1, 0.2, 0.4, 0.5]
    assert detection_time(s, 3) == 2
    # true target 0.9 -> threshold 0.5, reached at step 6
    truth = [0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9]
    assert detection_time(s, 3, true_series=truth) == 3
    # threshold 0.1 + 0.9 * 0.8 = 0.82 never reached
    assert detection_time(s, 3, fraction=0.9, true_series=truth) == np.inf
    # fraction 1 with max target: detected when the max is reached
    assert detection_time(s, 3, fraction=1.0) == 3
    # already at the threshold at the shock step
    assert detection_time([0.0, 0.0, 0.0, 1.0, 1.0], 3) == 0


def test_detection_time_baseline_window_and_direction():
    s = [0.0, 0.0, 0.3, 0.35, 0.6]
    # window 3: baseline 0.1, threshold 0.35 at step 3
    assert detection_time(s, 3, baseline_window=3) == 0
    # window 1: baseline 0.3, threshold 0.45 at step 4
    assert detection_time(s, 3, baseline_window=1) == 1
    # downward shock: baseline 0.5, target 0.1, threshold 0.3
    down = [0.5, 0.5, 0.5, 0.5, 0.4, 0.3, 0.2]
    assert detection_time(down, 3, true_series=[0.5, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1]) == 2
    # nothing rose after the shock
    assert detection_time([0.4, 0.4, 0.4, 0.3, 0.2], 3) == np.inf
    # NaN never counts as a detection
    assert detection_time([0.0, 0.0, 0.0, np.nan, 1.0], 3, true_series=[0, 0, 0, 1, 1]) == 1
    # no change in the truth: undefined
    assert np.isnan(detection_time([0.2] * 5, 3, true_series=[0.2] * 5))
    with pytest.raises(ValueError):
        detection_time(s, 0)
    with pytest.raises(ValueError):
        detection_time(s, 3, fraction=0.0)


# ---------------------------------------------------------------------------
# coherence
# ---------------------------------------------------------------------------


def test_internal_coherence_hand_values():
    obj = [[1.0, 0.0], [0.0, 1.0], [0.2, 0.8], [0.2, 0.8], [0.9, 0.1]]
    group = [0, 0, 1, 1, 1]
    np.testing.assert_allclose(
        internal_coherence(obj, group, 3, mask=[True, True, True, True, False]),
        [0.5, 1.0, np.nan],
    )
    # with the outlier: mean [13/30, 17/30]; distances 7/30, 7/30, 14/30
    np.testing.assert_allclose(internal_coherence(obj, group, 2)[1], 1 - 14 / 45)


def test_internal_coherence_range_random():
    rng = np.random.default_rng(11)
    c = internal_coherence(dirichlet(rng, 100, 5), rng.integers(0, 4, 100), 4)
    assert np.all((c >= 0) & (c <= 1)) and np.all(c < 1)


def test_external_coherence_hand_values():
    np.testing.assert_allclose(
        external_coherence([[0.5, 0.3, 0.2], [1.0, 0.0, 0.0]], [[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]),
        [0.7, 1.0],
    )


def test_system_objective_hand_values():
    la = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    prov = np.array([[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]])
    national = np.array([0.3, 0.3, 0.4])
    w_la = np.array([[3.0, 1.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    w_p = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    got = system_objective(la, prov, national, w_la, w_p)
    want = np.array(
        [
            # LA mean [0.75, 0.25, 0]; provider [0, 0, 1]; national -> /3
            [(0.75 + 0.3) / 3, (0.25 + 0.3) / 3, (1.0 + 0.4) / 3],
            # LA [0, 1, 0], no provider -> /2
            [0.15, 0.65, 0.2],
            # no LA, provider mean [0.25, 0.25, 0.5] -> /2
            [0.275, 0.275, 0.45],
            # nothing but national priorities
            [0.3, 0.3, 0.4],
        ]
    )
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(got.sum(axis=1), 1.0)
    sparse = system_objective(la, prov, national, sp.csr_array(w_la), sp.csr_array(w_p))
    np.testing.assert_allclose(sparse, want)
    per_group_national = np.tile(national, (4, 1))
    np.testing.assert_allclose(system_objective(la, prov, per_group_national, w_la, w_p), want)
    with pytest.raises(ValueError):
        system_objective(la, prov, national, -w_la, w_p)


# ---------------------------------------------------------------------------
# relevance
# ---------------------------------------------------------------------------


def test_patient_and_locality_relevance_hand_values():
    alloc = [[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]
    need = [[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]]
    np.testing.assert_allclose(patient_relevance(alloc, need), [0.7, 1.0])
    np.testing.assert_allclose(locality_relevance(alloc, need), [0.7, 1.0])


def test_provider_relevance_hand_values():
    assert provider_relevance([0.5, 0.5], [30.0, 10.0]) == pytest.approx(0.75)
    got = provider_relevance([[0.25, 0.75], [0.5, 0.5]], [[2.0, 6.0], [0.0, 0.0]])
    assert got[0] == pytest.approx(1.0)
    assert np.isnan(got[1])
    with pytest.raises(ValueError):
        provider_relevance([0.5, 0.5], [-1.0, 2.0])


def test_wasted_spend_hand_values():
    # capacity share [.25, .25, .5]; useful min(n, c) = [.2, .25, .4];
    # excess [.3, .05, 0] -> 0.35 of 200
    assert wasted_spend([0.5, 0.3, 0.2], [0.2, 0.4, 0.4], [1, 1, 2], 200.0) == pytest.approx(70.0)
    # perfect match wastes nothing; zero capacity wastes everything
    got = wasted_spend(
        [[0.2, 0.8], [0.2, 0.8]], [[0.2, 0.8], [0.2, 0.8]], [[1, 4], [0, 0]], [50.0, 80.0]
    )
    np.testing.assert_allclose(got, [0.0, 80.0])


def test_wasted_spend_range_random():
    for seed in range(10):
        rng = np.random.default_rng(seed)
        a, n = dirichlet(rng, 20, 5), dirichlet(rng, 20, 5)
        cap = rng.random((20, 5)) * 10
        budget = rng.random(20) * 1e6
        w = wasted_spend(a, n, cap, budget)
        assert np.all((w >= 0) & (w <= budget))
        # never less than the spend beyond need alone (= budget * TV(a, n))
        assert np.all(w >= budget * tv_distance(a, n) - 1e-6)
        rel = provider_relevance(a, cap)
        assert np.all((rel >= 0) & (rel <= 1))


# ---------------------------------------------------------------------------
# stability
# ---------------------------------------------------------------------------


def test_edge_keys_hand_values():
    keys = edge_keys([3, 1, 0, 1], [1, 3, 2, 0], 4)
    assert keys.dtype == np.int64
    assert keys.tolist() == [1, 2, 7]  # (0,1), (0,2), (1,3)
    assert edge_keys([], [], 4).size == 0
    big = edge_keys([59_999], [59_998], 60_000)
    assert big.tolist() == [59_998 * 60_000 + 59_999]
    with pytest.raises(ValueError):
        edge_keys([0], [4], 4)


def test_jaccard_hand_values():
    assert jaccard([1, 2, 3], [2, 3, 4, 5]) == pytest.approx(0.4)
    assert np.isnan(jaccard([], []))  # persistence of no ties is undefined
    assert jaccard([1], []) == 0.0
    assert jaccard([3, 1, 1], [1, 3]) == 1.0


def test_jaccard_by_group_hand_values():
    n = 6
    group = np.array([0, 0, 1, 1, -1, -1])
    a = edge_keys([0, 1, 3, 4], [1, 2, 4, 5], n)  # 0-1, 1-2, 3-4, 4-5
    b = edge_keys([0, 3, 2, 0, 2], [1, 4, 3, 5, 4], n)  # 0-1, 3-4, 2-3, 0-5, 2-4
    # group 0 touches {01, 12, 05}, shared {01}; group 1 touches {12, 34, 23, 24},
    # shared {34}; group 2 touches nothing
    np.testing.assert_allclose(jaccard_by_group(a, b, n, group, 3), [1 / 3, 1 / 4, np.nan])
    per, overall = jaccard_by_group(a, b, n, group, 3, overall=True)
    np.testing.assert_allclose(per, [1 / 3, 1 / 4, np.nan])
    assert overall == jaccard(a, b) == pytest.approx(2 / 7)  # shared {01, 34} of 7 ties


def test_jaccard_by_group_matches_loop():
    _, A, group, _ = random_case(5)
    rng = np.random.default_rng(5)
    c = sp.triu(A).tocoo()
    keep = rng.random(c.nnz) < 0.7
    extra = rng.integers(0, N_RAND, (40, 2))
    extra = extra[extra[:, 0] != extra[:, 1]]
    ka = edge_keys(c.row, c.col, N_RAND)
    kb = edge_keys(
        np.concatenate([c.row[keep], extra[:, 0]]),
        np.concatenate([c.col[keep], extra[:, 1]]),
        N_RAND,
    )
    got = jaccard_by_group(ka, kb, N_RAND, group, G_RAND)
    for k in range(G_RAND):

        def touching(keys, k=k):
            u, v = np.divmod(keys, N_RAND)
            return keys[(group[u] == k) | (group[v] == k)]

        assert got[k] == pytest.approx(jaccard(touching(ka), touching(kb)))
    assert np.all((got > 0) & (got < 1))


def test_strength_concentration_hand_values():
    # star centre 0 with weights 1..4 in group 0; node 5 (group 1) tied to 0 with weight 100
    A = graph([(0, 1), (0, 2), (0, 3), (0, 4), (0, 5)], 6, weights=[1, 2, 3, 4, 100])
    group = [0, 0, 0, 0, 0, 1]
    # strengths 10, 1, 2, 3, 4 (total 20): top 3 = 10 + 4 + 3
    np.testing.assert_allclose(strength_concentration(A, group, 3), [0.85, np.nan, np.nan])
    np.testing.assert_allclose(strength_concentration(A, group, 2, top=1), [0.5, np.nan])
    np.testing.assert_allclose(strength_concentration(TRIANGLE, [0, 0, 0], 1, top=3), [1.0])
    np.testing.assert_allclose(strength_concentration(PATH, [0, 0, 0, 0], 1, top=1), [1 / 3])


def test_strength_concentration_matches_loop():
    g, A, group, _ = random_case(7)
    for top in (1, 3):
        got = strength_concentration(A, group, G_RAND, top=top)
        for k in range(G_RAND):
            s = np.array([d for _, d in subgraph(g, group, k).degree(weight="weight")])
            want = np.sort(s)[::-1][:top].sum() / s.sum()
            assert got[k] == pytest.approx(want)
            assert min(1.0, top / s.size) - 1e-12 <= got[k] <= 1.0


def test_decision_volatility_hand_values():
    np.testing.assert_allclose(
        decision_volatility([[0.6, 0.4, 0.0], [0.2, 0.2, 0.6]], [[0.5, 0.5, 0.0], [0.2, 0.2, 0.6]]),
        [0.1, 0.0],
        atol=1e-15,
    )


def test_retention_hand_values():
    now = [10, 11, 12, 20, 21, 30, 40]
    then = [10, 11, 99, 20, 98, 30, 41]
    group = [0, 0, 0, 1, 1, -1, 2]
    np.testing.assert_allclose(retention(now, then, group, 4), [2 / 3, 0.5, 0.0, np.nan])
    mask = [True, True, False, True, True, True, True]
    np.testing.assert_allclose(retention(now, then, group, 3, mask=mask), [1.0, 0.5, 0.0])


# ---------------------------------------------------------------------------
# structure: per group
# ---------------------------------------------------------------------------


def test_density_by_group_hand_values():
    np.testing.assert_allclose(density_by_group(TRI_PENDANT, [0, 0, 0, 0], 1), [4 / 6])
    np.testing.assert_allclose(
        density_by_group(TRI_PENDANT, [0, 0, 0, 1], 3), [1.0, np.nan, np.nan]
    )
    np.testing.assert_allclose(density_by_group(TWO_TRI, [0, 0, 1, 1, 0, 0], 2), [2 / 6, 1.0])
    # explicit zeros are not ties
    A = graph([(0, 1), (1, 2), (0, 2)], 3, weights=[0.0, 1.0, 1.0])
    assert A.nnz == 6
    np.testing.assert_allclose(density_by_group(A, [0, 0, 0], 1), [2 / 3])


def test_degree_centralisation_hand_values():
    one = [0, 0, 0, 0]
    assert degree_centralisation_by_group(STAR, one, 1)[0] == pytest.approx(1.0)
    assert degree_centralisation_by_group(PATH, one, 1)[0] == pytest.approx(1 / 3)
    assert degree_centralisation_by_group(K4, one, 1)[0] == pytest.approx(0.0)
    # degrees 2, 2, 3, 1: (1 + 1 + 0 + 2) / (3 * 2)
    assert degree_centralisation_by_group(TRI_PENDANT, one, 1)[0] == pytest.approx(2 / 3)
    # star split: {0,1,2} is a path of 3 (centralisation 1), {3} too small
    np.testing.assert_allclose(degree_centralisation_by_group(STAR, [0, 0, 0, 1], 2), [1.0, np.nan])


def test_clustering_and_transitivity_hand_values():
    one4, one6 = [0] * 4, [0] * 6
    assert clustering_by_group(TRI_PENDANT, one4, 1)[0] == pytest.approx(7 / 12)
    assert clustering_by_group(TWO_TRI, one6, 1)[0] == pytest.approx(7 / 9)
    assert clustering_by_group(STAR, one4, 1)[0] == 0.0
    assert transitivity_by_group(TRI_PENDANT, one4, 1)[0] == pytest.approx(0.6)
    assert transitivity_by_group(TWO_TRI, one6, 1)[0] == pytest.approx(0.6)
    assert transitivity_by_group(K4, one4, 1)[0] == pytest.approx(1.0)
    assert transitivity_by_group(PATH, one4, 1)[0] == 0.0
    # no connected triple at all: 0 as in networkx, not NaN
    one_edge = graph([(0, 1)], 3)
    assert transitivity_by_group(one_edge, [0, 0, 0], 1)[0] == nx.transitivity(nx.Graph([(0, 1)]))
    assert transitivity_by_group(one_edge, [0, 0, 0], 1)[0] == 0.0
    assert clustering_by_group(one_edge, [0, 0, 0], 1)[0] == 0.0
    # the groups of TWO_TRI split at the bridge are two triangles; a 2-node group is NaN
    np.testing.assert_allclose(clustering_by_group(TWO_TRI, [0, 0, 0, 1, 1, 1], 2), [1.0, 1.0])
    np.testing.assert_allclose(
        transitivity_by_group(TRI_PENDANT, [0, 0, 1, 1], 2), [np.nan, np.nan]
    )
    # weights do not matter
    W = TWO_TRI.copy()
    W.data = np.arange(1.0, W.nnz + 1)
    W = (W + W.T) / 2
    assert clustering_by_group(W, one6, 1)[0] == pytest.approx(7 / 9)


def test_modularity_hand_values():
    parts = [0, 0, 0, 1, 1, 1]
    assert modularity(TWO_TRI, parts) == pytest.approx(5 / 14)
    assert modularity(TWO_TRI, [7] * 6) == pytest.approx(0.0)
    # bridge weight 3: m = 9, L_c = 3, D_c = 9 -> 6/9 - 2 * (1/2)^2
    W = graph([(0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (4, 5), (2, 3)], 6, [1] * 6 + [3])
    assert modularity(W, parts) == pytest.approx(1 / 6)
    assert modularity(W, parts, weighted=False) == pytest.approx(5 / 14)
    # singleton partition of a triangle: -sum (2/6)^2
    assert modularity(TRIANGLE, [-1, 4, 9]) == pytest.approx(-1 / 3)
    assert np.isnan(modularity(sp.csr_array((3, 3)), [0, 1, 2]))


@pytest.mark.parametrize("seed", range(4))
def test_modularity_matches_networkx(seed):
    g, A, _, labels = random_case(seed)
    comms = [set(np.flatnonzero(labels == c).tolist()) for c in np.unique(labels)]
    assert modularity(A, labels) == pytest.approx(nx_modularity(g, comms, weight="weight"))
    assert modularity(A, labels, weighted=False) == pytest.approx(
        nx_modularity(g, comms, weight=None)
    )


def test_modularity_by_group_hand_values():
    # TWO_TRI as group 0 and a path 6-7-8 as group 1 with labels [0, 0, 1]:
    # Q_1 = 1/2 - (3/4)^2 - (1/4)^2 = -1/8
    A = graph([(0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (4, 5), (2, 3), (6, 7), (7, 8)], 9)
    group = [0, 0, 0, 0, 0, 0, 1, 1, 1]
    labels = [0, 0, 0, 1, 1, 1, 0, 0, 1]
    np.testing.assert_allclose(
        modularity_by_group(A, group, labels, 3), [5 / 14, -1 / 8, np.nan], rtol=1e-12
    )


def test_ei_index_hand_values():
    one = [0, 0, 0, 0]
    assert ei_index_by_group(PATH, one, [0, 0, 1, 1], 1)[0] == pytest.approx(-1 / 3)
    assert ei_index_by_group(PATH, one, [0, 1, 0, 1], 1)[0] == pytest.approx(1.0)
    assert ei_index_by_group(TWO_TRI, [0] * 6, [0, 0, 0, 1, 1, 1], 1)[0] == pytest.approx(-5 / 7)
    # node 3 unlabelled: tie 2-3 ignored -> E = 1 (1-2), I = 1 (0-1)
    assert ei_index_by_group(PATH, one, [0, 0, 1, -1], 1)[0] == pytest.approx(0.0)
    np.testing.assert_allclose(ei_index_by_group(STAR, [0, 1, 1, 2], [0, 0, 0, 0], 3), [np.nan] * 3)


def test_tie_share_by_type_hand_values():
    # 0, 1: board of group 0 (kind 0); 2: provider (kind 1); 3: LA (kind 2); 4: board of group 1
    A = graph([(0, 1), (0, 2), (1, 2), (1, 3), (4, 2)], 5, weights=[1, 1, 2, 5, 1])
    source = [True, True, False, False, True]
    kind = [0, 0, 1, 2, 0]
    group = [0, 0, -1, -1, 1]
    # group 0 tie ends: from 0 -> kinds 0, 1; from 1 -> kinds 0, 1, 2
    got = tie_share_by_type(A, source, kind, 3, group, 3)
    np.testing.assert_allclose(got, [[0.4, 0.4, 0.2], [0.0, 1.0, 0.0], [np.nan] * 3])
    # weighted: group 0 -> kind 0: 1 + 1, kind 1: 1 + 2, kind 2: 5
    got_w = tie_share_by_type(A, source, kind, 3, group, 2, weighted=True)
    np.testing.assert_allclose(got_w, [[0.2, 0.3, 0.5], [0.0, 1.0, 0.0]])


def test_tie_share_by_type_matches_loop():
    g, A, group, labels = random_case(9)
    rng = np.random.default_rng(9)
    source = rng.random(N_RAND) < 0.3
    kind = labels.copy()
    kind[rng.random(N_RAND) < 0.1] = -1
    got = tie_share_by_type(A, source, kind, 3, group, G_RAND)
    for k in range(G_RAND):
        counts = np.zeros(3)
        for i in np.flatnonzero(source & (group == k)):
            for j in g.neighbors(int(i)):
                if kind[j] >= 0:
                    counts[kind[j]] += 1
        np.testing.assert_allclose(got[k], counts / counts.sum())
        assert got[k].sum() == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(3))
def test_per_group_measures_match_networkx_subgraph_loop(seed):
    g, A, group, labels = random_case(seed)
    dens = density_by_group(A, group, G_RAND)
    cent = degree_centralisation_by_group(A, group, G_RAND)
    clus = clustering_by_group(A, group, G_RAND)
    trans = transitivity_by_group(A, group, G_RAND)
    mod = modularity_by_group(A, group, labels, G_RAND)
    mod_u = modularity_by_group(A, group, labels, G_RAND, weighted=False)
    ei = ei_index_by_group(A, group, labels, G_RAND)
    for k in range(G_RAND):
        h = subgraph(g, group, k)
        n = h.number_of_nodes()
        assert n >= 3
        assert dens[k] == pytest.approx(nx.density(h))
        deg = np.array([d for _, d in h.degree()])
        assert cent[k] == pytest.approx((deg.max() - deg).sum() / ((n - 1) * (n - 2)))
        assert clus[k] == pytest.approx(nx.average_clustering(h))
        assert trans[k] == pytest.approx(nx.transitivity(h))
        comms = [set(c for c in h if labels[c] == lab) for lab in np.unique(labels)]
        comms = [c for c in comms if c]
        assert mod[k] == pytest.approx(nx_modularity(h, comms, weight="weight"))
        assert mod_u[k] == pytest.approx(nx_modularity(h, comms, weight=None))
        e = sum(labels[u] != labels[v] for u, v in h.edges)
        i = sum(labels[u] == labels[v] for u, v in h.edges)
        assert ei[k] == pytest.approx((e - i) / (e + i))
        assert -1 <= ei[k] <= 1 and -0.5 <= mod[k] < 1 and 0 <= cent[k] <= 1


@pytest.mark.parametrize("seed", range(4))
def test_oriented_triangle_count_equals_the_two_path_count(seed):
    """Per-node triangles from the degree-ordered orientation = row sums of (B B) ∘ B and
    networkx's triangle counts, on graphs with hubs, isolated nodes and equal degrees."""
    from simulation.measures.structure import _triangles

    rng = np.random.default_rng(seed)
    g = nx.powerlaw_cluster_graph(120, 3, 0.6, seed=seed)  # hubs and many triangles
    g.add_nodes_from(range(120, 125))  # isolated nodes
    g = nx.disjoint_union(g, nx.complete_graph(6))  # equal degrees: ties broken by index
    nodes = rng.permutation(g.number_of_nodes())  # the index order must not matter
    B = sp.csr_array(nx.to_scipy_sparse_array(g, nodelist=nodes.tolist(), dtype=float))
    got = _triangles(B)
    np.testing.assert_array_equal(got, np.asarray((B @ B).multiply(B).sum(axis=1)).ravel())
    tri = nx.triangles(g)
    np.testing.assert_array_equal(got, [2 * tri[int(v)] for v in nodes])
    assert _triangles(sp.csr_array((4, 4))).tolist() == [0.0] * 4


def test_per_group_measures_small_and_empty_groups():
    # group 0: triangle; group 1: two isolated nodes; group 2: empty
    A = graph([(0, 1), (1, 2), (0, 2), (2, 3)], 5)
    group = [0, 0, 0, 1, 1]
    labels = [0, 1, 1, 0, 0]
    np.testing.assert_allclose(density_by_group(A, group, 3), [1.0, 0.0, np.nan])
    np.testing.assert_allclose(degree_centralisation_by_group(A, group, 3), [0.0, np.nan, np.nan])
    np.testing.assert_allclose(clustering_by_group(A, group, 3), [1.0, np.nan, np.nan])
    np.testing.assert_allclose(modularity_by_group(A, group, labels, 3)[1:], [np.nan, np.nan])
    np.testing.assert_allclose(ei_index_by_group(A, group, labels, 3), [1 / 3, np.nan, np.nan])
    assert np.isnan(strength_concentration(A, group, 3)[1:]).all()


# ---------------------------------------------------------------------------
# structure: whole graph and egos
# ---------------------------------------------------------------------------


def test_betweenness_centralisation_hand_values():
    assert betweenness_centralisation(STAR) == pytest.approx(1.0)
    assert betweenness_centralisation(K4) == pytest.approx(0.0)
    assert betweenness_centralisation(CYCLE6) == pytest.approx(0.0)
    # raw betweenness 0, 2, 2, 0: sum(2 - B_i) / ((n-1)^2 (n-2) / 2) = 4 / 9
    assert betweenness_centralisation(PATH) == pytest.approx(4 / 9)
    assert np.isnan(betweenness_centralisation(graph([(0, 1)], 2)))


def test_betweenness_centralisation_matches_freeman_raw_formula():
    g, A, _, _ = random_case(2)
    n = g.number_of_nodes()
    raw = np.array(list(nx.betweenness_centrality(g, normalized=False).values()))
    want = (raw.max() - raw).sum() / ((n - 1) ** 2 * (n - 2) / 2)
    assert betweenness_centralisation(A) == pytest.approx(want)


def test_betweenness_centralisation_approximation():
    # ~200-node scale-free network; k = n/4 = 50 pivots
    A = nx.to_scipy_sparse_array(nx.barabasi_albert_graph(200, 2, seed=1), format="csr")
    exact = betweenness_centralisation(A)
    approx = [betweenness_centralisation(A, k=50, seed=s) for s in range(5)]
    assert all(abs(a - exact) <= 0.08 for a in approx)  # ~3 sd of the estimate
    assert abs(np.mean(approx) - exact) <= 0.04
    assert len(set(approx)) > 1  # sampling really happened
    assert betweenness_centralisation(A, k=50, seed=3) == approx[3]
    assert betweenness_centralisation(A, k=50, seed=np.random.default_rng(3)) == pytest.approx(
        exact, abs=0.08
    )
    assert betweenness_centralisation(A, k=500) == exact


@pytest.mark.parametrize("k", [None, 4, 12])
def test_betweenness_centralisation_by_group_equals_the_per_group_calls(k):
    # groups of different sizes (0, 2, 5, 9, 14, 40 members, some exact at k), ties across
    # groups that must be ignored, and nodes left out (-1); the batched search must give the
    # value of betweenness_centralisation on each group's induced subgraph, same pivots
    rng = np.random.default_rng(7)
    sizes = [0, 2, 5, 9, 14, 40]
    group = np.concatenate([np.full(n, g) for g, n in enumerate(sizes)] + [np.full(6, -1)])
    group = group[rng.permutation(group.size)]
    n = group.size
    a, b = rng.integers(0, n, (2, 400))
    same = group[a] == group[b]
    keep = (a != b) & (same | (rng.random(400) < 0.2))
    A = sp.csr_array((np.ones(keep.sum()), (a[keep], b[keep])), shape=(n, n))
    A = ((A + A.T) > 0).astype(float) * 0.5
    seeds = np.random.SeedSequence(3).spawn(len(sizes))
    for cells in (16, 1 << 16):
        got = M.betweenness_centralisation_by_group(A, group, len(sizes), k=k, seeds=seeds,
                                                    cells=cells)
        for g in range(len(sizes)):
            idx = np.flatnonzero(group == g)
            want = betweenness_centralisation(A[idx][:, idx], k=k, seed=seeds[g]) \
                if idx.size >= 3 else np.nan
            np.testing.assert_allclose(got[g], want, rtol=1e-12, atol=1e-15)
    assert np.isnan(got[:2]).all() and np.isfinite(got[2:]).all()


def test_measures_of_one_read_only_matrix_share_work_but_never_go_stale():
    # the per-step adjacency is read-only, so the tie lists derived from it are computed once
    # (structure._derived); new labels, a new matrix or a writeable matrix must not be
    # served what was derived for another
    from simulation.measures import structure as S

    def frozen(A):
        A = sp.csr_array(A)
        for x in (A.data, A.indices, A.indptr):
            x.flags.writeable = False
        return A

    A = frozen(graph([(0, 1), (1, 2), (0, 2), (2, 3)], 5))
    g1 = np.array([0, 0, 0, 1, 1])
    g2 = np.array([0, 0, 1, 1, 1])
    np.testing.assert_allclose(density_by_group(A, g1, 2), [1.0, 0.0])
    np.testing.assert_allclose(density_by_group(A, g2, 2), [1.0, 1 / 3])
    g1[3] = 0  # the same array object, changed in place
    np.testing.assert_allclose(density_by_group(A, g1, 2), [4 / 6, np.nan])
    B = frozen(graph([(3, 4)], 5))
    np.testing.assert_allclose(density_by_group(B, g2, 2), [0.0, 1 / 3])
    assert len(S._DERIVED["values"]) >= 1
    # a verdict is the matrix's own: a read-only directed matrix is refused after a valid one
    D = frozen(sp.csr_array(np.array([[0.0, 1.0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0],
                                      [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]])))
    with pytest.raises(ValueError, match="symmetric"):
        density_by_group(D, g2, 2)
    C = sp.csr_array(graph([(0, 1), (3, 4)], 5))  # writeable: never remembered
    np.testing.assert_allclose(density_by_group(C, g2, 2), [1.0, 1 / 3])
    C.data[:] = 0.0
    C.eliminate_zeros()
    np.testing.assert_allclose(density_by_group(C, g2, 2), [0.0, 0.0])


def test_betweenness_approximation_leaves_global_random_state_alone():
    A = nx.to_scipy_sparse_array(nx.path_graph(30), format="csr")
    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    betweenness_centralisation(A, k=10)
    betweenness_centralisation(A, k=10, seed=1)
    assert random.getstate() == py_state
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1])


def test_ego_measures_hand_values():
    m = ego_measures(TRI_PENDANT)
    np.testing.assert_array_equal(m["node"], [0, 1, 2, 3])
    np.testing.assert_allclose(m["size"], [2, 2, 3, 1])
    np.testing.assert_allclose(m["density"], [1.0, 1.0, 1 / 3, np.nan])
    np.testing.assert_allclose(m["effective_size"], [1.0, 1.0, 7 / 3, 1.0])
    # node 2: (1/3 + 1/6)^2 * 2 + (1/3)^2; node 0: (1/2 + 1/6)^2 + (1/2 + 1/4)^2
    np.testing.assert_allclose(m["constraint"], [145 / 144, 145 / 144, 11 / 18, 1.0])
    star = ego_measures(STAR, [0])
    np.testing.assert_allclose(star["constraint"], [1 / 3])
    np.testing.assert_allclose(star["density"], [0.0])
    iso = ego_measures(graph([(0, 1)], 3), [2])
    assert iso["size"][0] == 0
    assert np.isnan(iso["effective_size"][0]) and np.isnan(iso["constraint"][0])


@pytest.mark.parametrize("seed", range(3))
def test_ego_measures_match_networkx(seed):
    g, A, _, _ = random_case(seed, p=0.08)
    nodes = np.arange(0, N_RAND, 3)
    m = ego_measures(A, nodes)
    m_w = ego_measures(A, nodes, weighted=True)
    con = nx.constraint(g, nodes.tolist())
    con_w = nx.constraint(g, nodes.tolist(), weight="weight")
    eff = nx.effective_size(g, nodes.tolist())
    for idx, v in enumerate(nodes.tolist()):
        assert m["size"][idx] == g.degree(v)
        np.testing.assert_allclose(m["constraint"][idx], con[v])
        np.testing.assert_allclose(m_w["constraint"][idx], con_w[v])
        np.testing.assert_allclose(m["effective_size"][idx], eff[v])
        if g.degree(v) >= 2:
            np.testing.assert_allclose(m["density"][idx], nx.density(g.subgraph(list(g[v]))))


# ----------------------------------------------------------------------------
# structure measures declare and check their input: undirected, simple, weights >= 0
# ----------------------------------------------------------------------------

STRUCTURE_CALLS = {
    "density_by_group": lambda A: M.density_by_group(A, np.zeros(A.shape[0], int), 1),
    "degree_centralisation_by_group": lambda A: M.degree_centralisation_by_group(
        A, np.zeros(A.shape[0], int), 1),
    "clustering_by_group": lambda A: M.clustering_by_group(A, np.zeros(A.shape[0], int), 1),
    "transitivity_by_group": lambda A: M.transitivity_by_group(A, np.zeros(A.shape[0], int), 1),
    "modularity": lambda A: M.modularity(A, np.arange(A.shape[0]) % 2),
    "modularity_by_group": lambda A: M.modularity_by_group(
        A, np.zeros(A.shape[0], int), np.arange(A.shape[0]) % 2, 1),
    "ei_index_by_group": lambda A: M.ei_index_by_group(
        A, np.zeros(A.shape[0], int), np.arange(A.shape[0]) % 2, 1),
    "tie_share_by_type": lambda A: M.tie_share_by_type(
        A, np.ones(A.shape[0], bool), np.zeros(A.shape[0], int), 1, np.zeros(A.shape[0], int), 1),
    "betweenness_centralisation": lambda A: M.betweenness_centralisation(A),
    "betweenness": lambda A: M.betweenness(A),
    "ego_measures": lambda A: M.ego_measures(A),
}


def _karate():
    return sp.csr_array(nx.to_scipy_sparse_array(nx.karate_club_graph(), weight=None, dtype=float))


@pytest.mark.parametrize("name", sorted(STRUCTURE_CALLS))
def test_structure_measures_refuse_self_loops_asymmetry_and_bad_weights(name):
    call = STRUCTURE_CALLS[name]
    K = _karate()
    call(K)  # the valid graph is accepted
    with pytest.raises(ValueError, match=rf"^{name}: A must have no self-loops.*34 non-zero diagonal"):
        call(K + sp.eye_array(34))  # karate + I: clustering was 1.08
    D = sp.lil_array(K)
    D[0, 1] = 0.0  # 0 -> 1 dropped, 1 -> 0 kept: directed
    sym = r"A must be symmetric \(an undirected graph\), got A\[0, 1\] = 0.0 but A\[1, 0\] = 1.0"
    with pytest.raises(ValueError, match=rf"^{name}: {sym}"):
        call(sp.csr_array(D))
    for bad, match in ((-1.0, "non-negative tie weights"), (np.nan, "finite tie weights"),
                       (np.inf, "finite tie weights")):
        B = K.copy()
        B.data[:] = bad
        with pytest.raises(ValueError, match=rf"^{name}: A must have {match}"):
            call(B)


def test_structure_measures_former_wrong_values_are_now_errors():
    # the values the issue found: density 1.25 (self-loops), modularity -2 (negative weights)
    A = sp.csr_array(np.ones((2, 2)))  # two nodes, a tie and two self-loops
    with pytest.raises(ValueError, match="self-loops"):
        M.density_by_group(A, [0, 0], 1)
    N = sp.csr_array(np.array([[0.0, -1.0], [-1.0, 0.0]]))
    with pytest.raises(ValueError, match="non-negative"):
        M.modularity(N, [0, 1])
    # rounding-level asymmetry (e.g. W + W.T computed in another order) is accepted
    S = sp.csr_array(np.array([[0.0, 0.1 + 0.2], [0.3, 0.0]]))
    assert M.density_by_group(S, [0, 0], 1).tolist() == [1.0]


def test_structure_check_is_remembered_only_for_read_only_arrays():
    K = _karate()
    for arr in (K.data, K.indices, K.indptr):
        arr.flags.writeable = False
    M.density_by_group(K, np.zeros(34, int), 1)  # checked and remembered
    B = K.copy()  # writable copy: checked again, so a self-loop added to it is caught
    B.setdiag(1.0)
    with pytest.raises(ValueError, match="self-loops"):
        M.density_by_group(B, np.zeros(34, int), 1)


def test_row_sums_are_numpys_row_sums_bit_for_bit():
    # the column-wise pairwise summation (simulation._numeric.row_sums) must reproduce
    # numpy's own per-row pairwise sums exactly, for every width the model may use
    from simulation._numeric import row_sums

    rng = np.random.default_rng(11)
    for k in range(1, 41):
        x = rng.standard_normal((300, k)) * 10.0 ** rng.uniform(-9, 4, (300, k))
        assert np.array_equal(row_sums(x), x.sum(axis=1)), k
    wide = rng.random((5, 130))
    strided = rng.random((40, 16))[:, ::2]
    ints = rng.integers(0, 9, (7, 8))
    for x in (wide, strided, ints, np.zeros((0, 8))):  # the fallbacks
        assert np.array_equal(row_sums(x), x.sum(axis=1))


@pytest.mark.parametrize("private", [True, False])
def test_csr_product_is_scipys_product_bit_for_bit(private, monkeypatch):
    from simulation import _numeric
    from simulation._numeric import csr_product

    assert _numeric._PRIVATE_LOOP_OK  # this environment's scipy passes the import-time check
    monkeypatch.setattr(_numeric, "_PRIVATE_LOOP_OK", private)  # False: the public fallback
    rng = np.random.default_rng(5)
    A = sp.random_array((40, 60), density=0.2, rng=rng, format="csr")
    A.data *= 10.0 ** rng.uniform(-6, 6, A.nnz)
    for idx in (np.int32, np.int64):
        ip, ind = A.indptr.astype(idx), A.indices.astype(idx)
        for x in (rng.standard_normal(60), rng.standard_normal((60, 8)),
                  rng.standard_normal((60, 16))[:, ::2]):  # a strided matrix is copied
            assert (csr_product(ip, ind, A.data, x, 40) == A @ x).all()
            assert csr_product(ip, ind, A.data, x, 40).tobytes() == (A @ x).tobytes()
    empty = np.zeros(4, np.int64)  # three empty rows
    assert csr_product(empty, np.zeros(0, np.int64), np.zeros(0), np.ones(5), 3).tolist() == [0.0] * 3


def test_sorted_group_means_equal_the_bincount_sums_bit_for_bit():
    # agents are numbered group by group, so the metrics take mean_by_group's sorted-labels
    # path; per group it must add the same terms in the same order as a bincount does
    rng = np.random.default_rng(8)
    n, G = 500, 7
    group = np.sort(rng.integers(-1, G, n))
    mask = rng.random(n) < 0.8
    w = rng.random(n) * 10.0 ** rng.uniform(-3, 3, n)
    x1 = rng.standard_normal(n) * 10.0 ** rng.uniform(-5, 5, n)
    x2 = rng.dirichlet(np.ones(8), n)
    keep = (group >= 0) & mask
    g = group[keep]
    for weights in (None, w):
        wk = np.ones(keep.sum()) if weights is None else w[keep]
        tot = np.bincount(g, weights=None if weights is None else wk, minlength=G).astype(float)
        for x in (x1, x2):
            cols = [x[keep]] if x.ndim == 1 else [x[keep, k] for k in range(x.shape[1])]
            sums = [np.bincount(g, weights=c if weights is None else c * wk, minlength=G) for c in cols]
            want = (sums[0] if x.ndim == 1 else np.stack(sums, axis=1)) / (
                tot if x.ndim == 1 else tot[:, None])
            got = mean_by_group(x, group, G, mask=mask, weights=weights)
            assert got.tobytes() == want.tobytes()
