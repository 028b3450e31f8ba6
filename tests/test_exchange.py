"""Tests for simulation.exchange: hand-computed cases, loop references, textbook results."""

import ast
import doctest
import inspect

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse

from simulation import exchange as ex

# ---------------------------------------------------------------------------
# fixtures and helpers
# ---------------------------------------------------------------------------


def path3():
    """3-node path 0 - 1 - 2 with asymmetric weights (W[i, j]: i listens to j)."""
    W = sparse.csr_array(np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0], [0.0, 1.0, 0.0]]))
    x = np.array([0.0, 0.4, 1.0])
    return W, x


def ws_network(n, seed, *, k=4, p=0.2, self_loops=False, empty_row=False):
    """Directed weighted Watts-Strogatz network with independent weights per direction."""
    rng = np.random.default_rng(seed)
    G = nx.connected_watts_strogatz_graph(n, k, p, seed=seed)
    e = np.array(G.edges())
    src = np.concatenate([e[:, 0], e[:, 1]])
    dst = np.concatenate([e[:, 1], e[:, 0]])
    w = rng.uniform(0.1, 2.0, src.size)
    if self_loops:
        loops = rng.choice(n, size=n // 4, replace=False)
        src, dst = np.concatenate([src, loops]), np.concatenate([dst, loops])
        w = np.concatenate([w, rng.uniform(0.1, 2.0, loops.size)])
    W = sparse.csr_array((w, (src, dst)), shape=(n, n))
    if empty_row:
        W = sparse.csr_array(W.multiply(np.arange(n)[:, None] != 0))  # agent 0 listens to nobody
    return W


def random_state(n, K, rng):
    """Uniform scalar opinions (K=None) or random distributions over K categories."""
    if K is None:
        return rng.random(n)
    return rng.dirichlet(np.ones(K), size=n)


def complete_graph(n):
    """Unweighted complete graph without self-loops as a CSR array."""
    mask = ~np.eye(n, dtype=bool)
    cols = np.broadcast_to(np.arange(n), (n, n))[mask]
    indptr = np.arange(n + 1) * (n - 1)
    return sparse.csr_array((np.ones(cols.size), cols, indptr), shape=(n, n))


def n_clusters(x, gap=1e-3, min_frac=0.0):
    """Clusters of scalar opinions separated by gaps > gap, holding > min_frac of agents."""
    s = np.sort(x)
    cuts = np.flatnonzero(np.diff(s) > gap) + 1
    sizes = np.diff(np.concatenate([[0], cuts, [s.size]]))
    return int((sizes > min_frac * s.size).sum())


class FixedUniforms:
    """Stand-in generator returning prescribed uniforms (for hand-computed Bass)."""

    def __init__(self, values):
        self.values = np.asarray(values, dtype=float)

    def random(self, size):
        assert size == self.values.size
        return self.values.copy()


# ---------------------------------------------------------------------------
# module hygiene
# ---------------------------------------------------------------------------


def test_module_imports_nothing_from_simulation():
    tree = ast.parse(inspect.getsource(ex))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            roots.add(node.module.split(".")[0])
    assert roots <= {"numpy", "scipy", "warnings"}


def test_all_is_complete_and_doctests_pass():
    public = {n for n, v in vars(ex).items() if callable(v) and not n.startswith("_")}
    public -= {"np", "sparse", "sparse_linalg", "warnings"}
    assert set(ex.__all__) == public
    result = doctest.testmod(ex, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 10
    assert result.failed == 0


# ---------------------------------------------------------------------------
# hand-computed cases
# ---------------------------------------------------------------------------


def test_row_normalise_hand():
    W = sparse.csr_array(np.array([[0.0, 2.0, 2.0], [1.0, 0.0, 3.0], [0.0, 0.0, 0.0]]))
    P = ex.row_normalise(W)
    assert isinstance(P, sparse.csr_array)
    assert_allclose(P.toarray(), [[0, 0.5, 0.5], [0.25, 0, 0.75], [0, 0, 0]])


def test_row_normalise_duplicates_explicit_zeros_and_no_mutation():
    # duplicates (0, 1) twice are summed; explicit zero (2, 0) is an absent edge
    W = sparse.coo_array(([1.0, 1.0, 2.0, 0.0], ([0, 0, 0, 2], [1, 1, 2, 0])), shape=(3, 3))
    P = ex.row_normalise(W)
    assert_allclose(P.toarray(), [[0, 0.5, 0.5], [0, 0, 0], [0, 0, 0]])
    assert P.nnz == 2
    assert_array_equal(W.data, [1.0, 1.0, 2.0, 0.0])


def test_distance_hand():
    assert_allclose(ex.distance([0.1, 0.9], [0.4, 0.2]), [0.3, 0.7])
    a = [[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]]
    b = [[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]
    assert_allclose(ex.distance(a, b), [0.5, 0.0])
    with pytest.raises(ValueError):
        ex.distance([0.1], [0.1, 0.2])


def test_degroot_hand():
    W, x = path3()
    # What = [[0, 1, 0], [1/4, 0, 3/4], [0, 1, 0]]
    assert_allclose(ex.degroot_step(x, W), [0.4, 0.75, 0.4])
    # rate 0.5: [0.5*0 + 0.5*0.4, 0.5*0.4 + 0.5*0.75, 0.5*1 + 0.5*0.4]
    assert_allclose(ex.degroot_step(x, W, rate=0.5), [0.2, 0.575, 0.7])
    assert_allclose(ex.degroot_step(x, W, rate=[1.0, 0.0, 0.25]), [0.4, 0.4, 0.85])


def test_degroot_zero_row_keeps_state():
    W = sparse.csr_array(np.array([[0.0, 1.0], [0.0, 0.0]]))
    assert_array_equal(ex.degroot_step([0.3, 0.7], W, rate=0.3), [0.3 + 0.3 * 0.4, 0.7])


def test_friedkin_johnsen_hand():
    W, x = path3()
    s = [0.5, 0.0, 0.2]
    # [0.5*0 + 0.5*0.4, 0.75, 0.2*1 + 0.8*0.4]
    assert_allclose(ex.friedkin_johnsen_step(x, W, x, s), [0.2, 0.75, 0.52])
    # different anchor; agent 2 without neighbours: s*u + (1-s)*x
    W0 = sparse.csr_array(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]))
    u = np.array([1.0, 1.0, 0.0])
    assert_allclose(ex.friedkin_johnsen_step(x, W0, u, 0.5), [0.7, 0.75, 0.5])


def test_friedkin_johnsen_equilibrium_two_nodes_by_hand():
    # x1 = 0.5*1 + 0.5*x2, x2 = 0.25*0 + 0.75*x1  =>  x1 = 0.8, x2 = 0.6
    W = sparse.csr_array(np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert_allclose(ex.friedkin_johnsen_equilibrium(W, [1.0, 0.0], [0.5, 0.25]), [0.8, 0.6])
    U = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert_allclose(ex.friedkin_johnsen_equilibrium(W, U, [0.5, 0.25]), [[0.8, 0.2], [0.6, 0.4]])


def test_friedkin_johnsen_equilibrium_singular_raises():
    W = sparse.csr_array(np.array([[0.0, 1.0], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="singular"):
        ex.friedkin_johnsen_equilibrium(W, [1.0, 0.0], 0.0)


def test_hegselmann_krause_hand_epsilon_excludes_neighbour():
    W, x = path3()
    # agent 0: self weight max(2) = 2, neighbour 1 (w 2, dist .4 <= .5): (2*0 + 2*.4)/4 = 0.2
    # agent 1: self weight 3, neighbour 0 (w 1, dist .4) in, neighbour 2 (dist .6) out:
    #          (3*.4 + 1*0)/4 = 0.3
    # agent 2: neighbour 1 at dist .6 excluded -> keeps 1.0
    assert_allclose(ex.hegselmann_krause_step(x, W, 0.5), [0.2, 0.3, 1.0])
    # epsilon 0.7 admits everyone: agent 1 -> (3*.4 + 1*0 + 3*1)/7 = 0.6
    assert_allclose(ex.hegselmann_krause_step(x, W, 0.7), [0.2, 0.6, 0.7])
    # boundary is inclusive (exactly representable values)
    assert_allclose(
        ex.hegselmann_krause_step([0.0, 0.5], sparse.csr_array(np.ones((2, 2))), 0.5), [0.25, 0.25]
    )


def test_hegselmann_krause_diagonal_is_self_weight_and_empty_row():
    # agent 0 has explicit self weight 3 and listens to 1 with weight 1
    W = sparse.csr_array(np.array([[3.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    x = np.array([0.0, 0.4, 0.9])
    # agent 0: (3*0 + 1*.4)/4 = 0.1; agent 1: (1*.4 + 1*0)/2 = 0.2; agent 2: empty row
    assert_allclose(ex.hegselmann_krause_step(x, W, 1.0), [0.1, 0.2, 0.9])


def test_hegselmann_krause_hand_distributions():
    W = sparse.csr_array(np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    x = np.array([[1.0, 0.0], [0.6, 0.4], [0.0, 1.0]])
    # TV distances from 0: to 1 = 0.4 (in), to 2 = 1.0 (out); agent 0 -> mean of rows 0, 1
    out = ex.hegselmann_krause_step(x, W, 0.5)
    assert_allclose(out, [[0.8, 0.2], [0.8, 0.2], [0.0, 1.0]])


def test_deffuant_hand():
    x = np.array([0.1, 0.3, 0.9, 0.5])
    # pair (0, 1) at distance 0.2 < 0.3 moves; pair (2, 3) at 0.4 does not
    assert_allclose(ex.deffuant_step(x, [0, 2], [1, 3], 0.3), [0.2, 0.2, 0.9, 0.5])
    # mu = 0.25: 0.1 + 0.25*0.2 = 0.15, 0.3 - 0.25*0.2 = 0.25
    assert_allclose(ex.deffuant_step(x, [0], [1], 0.3, mu=0.25), [0.15, 0.25, 0.9, 0.5])
    # strict inequality: distance 0.5 == threshold 0.5 does not interact
    assert_array_equal(ex.deffuant_step([0.0, 0.5], [0], [1], 0.5), [0.0, 0.5])
    X = np.array([[1.0, 0.0], [0.5, 0.5]])  # TV distance 0.5
    assert_allclose(ex.deffuant_step(X, [1], [0], 0.6), [[0.75, 0.25], [0.75, 0.25]])


def test_deffuant_rejects_overlapping_pairs():
    with pytest.raises(ValueError, match="disjoint"):
        ex.deffuant_step([0.1, 0.2, 0.3], [0, 1], [1, 2], 0.5)


def test_bass_hand():
    W, _ = path3()
    a = np.array([True, False, False])
    # agent 1: p + q * (1*1 + 3*0)/4 = 0.1 + 0.5*0.25 = 0.225; agent 2: p + q*0 = 0.1
    out = ex.bass_adoption_step(a, W, 0.1, 0.5, FixedUniforms([0.9, 0.2, 0.2]))
    assert_array_equal(out, [True, True, False])
    out = ex.bass_adoption_step(a, W, 0.1, 0.5, FixedUniforms([0.9, 0.23, 0.05]))
    assert_array_equal(out, [True, False, True])
    assert out.dtype == bool


def test_bass_draws_exactly_one_uniform_per_agent():
    W, _ = path3()
    rng = np.random.default_rng(3)
    ex.bass_adoption_step(np.array([True, True, False]), W, 0.1, 0.5, rng)
    ref = np.random.default_rng(3)
    ref.random(3)
    assert rng.random() == ref.random()


# ---------------------------------------------------------------------------
# validation and purity
# ---------------------------------------------------------------------------


def test_invalid_inputs_raise():
    W, x = path3()
    with pytest.raises(ValueError, match="non-negative"):
        ex.degroot_step(x, sparse.csr_array(np.array([[0, -1.0, 0], [1, 0, 0], [0, 1, 0]])))
    with pytest.raises(ValueError, match="square"):
        ex.degroot_step(x, sparse.csr_array(np.ones((3, 2))))
    with pytest.raises(ValueError, match="rate"):
        ex.degroot_step(x, W, rate=1.5)
    with pytest.raises(ValueError, match="shape"):
        ex.degroot_step(x[:2], W)
    with pytest.raises(ValueError, match="stubbornness"):
        ex.friedkin_johnsen_step(x, W, x, [0.1, 0.2])
    with pytest.raises(ValueError, match="epsilon"):
        ex.hegselmann_krause_step(x, W, -0.1)


@pytest.mark.parametrize("K", [None, 6])
def test_inputs_are_not_mutated_and_outputs_are_new(K):
    rng = np.random.default_rng(0)
    W = ws_network(30, 0, self_loops=True, empty_row=True)
    x = random_state(30, K, rng)
    x0, data0, ind0 = x.copy(), W.data.copy(), W.indices.copy()
    outs = [
        ex.row_normalise(W).data,
        ex.degroot_step(x, W, rate=0.0),
        ex.friedkin_johnsen_step(x, W, x, 0.0),
        ex.hegselmann_krause_step(x, W, 0.0),
        ex.deffuant_step(x, [0], [1], 0.0),
    ]
    ex.friedkin_johnsen_equilibrium(W, x, 0.5)
    a = rng.random(30) < 0.5
    a0 = a.copy()
    outs.append(ex.bass_adoption_step(a, W, 0.0, 0.0, rng))
    assert_array_equal(x, x0)
    assert_array_equal(a, a0)
    assert_array_equal(W.data, data0)
    assert_array_equal(W.indices, ind0)
    for out in outs:
        assert not np.shares_memory(out, x)
        assert not np.shares_memory(out, W.data)
        assert not np.shares_memory(out, a)


# ---------------------------------------------------------------------------
# vectorised kernels == plain-loop references
# ---------------------------------------------------------------------------

SEEDS = [0, 1, 2]
KS = [None, 6]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("K", KS)
def test_degroot_matches_loop(seed, K):
    rng = np.random.default_rng(seed)
    W = ws_network(60, seed, self_loops=True, empty_row=True)
    x = random_state(60, K, rng)
    for rate in (None, 0.3, rng.random(60)):
        assert_allclose(ex.degroot_step(x, W, rate), ex.degroot_step_loop(x, W, rate), atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("K", KS)
def test_friedkin_johnsen_matches_loop(seed, K):
    rng = np.random.default_rng(seed)
    W = ws_network(60, seed, self_loops=True, empty_row=True)
    x, u = random_state(60, K, rng), random_state(60, K, rng)
    for s in (0.4, rng.random(60)):
        assert_allclose(
            ex.friedkin_johnsen_step(x, W, u, s),
            ex.friedkin_johnsen_step_loop(x, W, u, s),
            atol=1e-12,
        )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("K", KS)
def test_hegselmann_krause_matches_loop(seed, K):
    rng = np.random.default_rng(seed)
    W = ws_network(60, seed, k=8, self_loops=True, empty_row=True)
    x = random_state(60, K, rng)
    for eps in (0.15, 0.4, rng.uniform(0.0, 0.5, 60)):
        vec = ex.hegselmann_krause_step(x, W, eps)
        assert_allclose(vec, ex.hegselmann_krause_step_loop(x, W, eps), atol=1e-12)
        assert not np.allclose(vec, x)  # the case is not trivial


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_sample_disjoint_pairs_matches_sequential_greedy(seed, weighted):
    W = ws_network(40, seed, self_loops=True)
    coo = W.tocoo()
    weight = coo.data if weighted else None
    args = (coo.row, coo.col, 200, np.random.default_rng(seed), weight)
    i, j = ex.sample_disjoint_pairs(*args)
    args = (coo.row, coo.col, 200, np.random.default_rng(seed), weight)
    i_ref, j_ref = ex.sample_disjoint_pairs_loop(*args)
    assert_array_equal(i, i_ref)
    assert_array_equal(j, j_ref)
    both = np.concatenate([i, j])
    assert np.unique(both).size == both.size
    assert len(i) >= 5
    assert np.all(i != j)  # self-loop candidates are never kept


def test_sample_disjoint_pairs_greedy_semantics():
    # keep (0,1); reject (1,2) [1 used]; keep (2,3) [2 only used by a *rejected* pair];
    # reject (3,3) self-loop; keep (4,5)
    src = np.array([0, 1, 2, 3, 4])
    dst = np.array([1, 2, 3, 3, 5])

    class Draws:
        def choice(self, m, size, p=None):
            return np.arange(m)

    i, j = ex.sample_disjoint_pairs(src, dst, 5, Draws())
    assert_array_equal(i, [0, 2, 4])
    assert_array_equal(j, [1, 3, 5])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), min_size=1, max_size=40),
    st.integers(0, 60),
    st.integers(0, 2**32 - 1),
)
def test_sample_disjoint_pairs_hypothesis(edges, n_pairs, seed):
    src, dst = np.array(edges).T
    i, j = ex.sample_disjoint_pairs(src, dst, n_pairs, np.random.default_rng(seed))
    i_ref, j_ref = ex.sample_disjoint_pairs_loop(src, dst, n_pairs, np.random.default_rng(seed))
    assert_array_equal(i, i_ref)
    assert_array_equal(j, j_ref)
    both = np.concatenate([i, j])
    assert np.unique(both).size == both.size


def test_sample_disjoint_pairs_respects_weights():
    src, dst = np.array([0, 2, 4]), np.array([1, 3, 5])
    i, j = ex.sample_disjoint_pairs(src, dst, 50, np.random.default_rng(0), [0.0, 1.0, 0.0])
    assert_array_equal(i, [2])
    assert_array_equal(j, [3])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("K", KS)
def test_deffuant_matches_loop(seed, K):
    rng = np.random.default_rng(seed)
    coo = ws_network(60, seed).tocoo()
    x = random_state(60, K, rng)
    i, j = ex.sample_disjoint_pairs(coo.row, coo.col, 40, rng)
    for mu in (0.5, 0.3):
        vec = ex.deffuant_step(x, i, j, 0.3, mu)
        assert_allclose(vec, ex.deffuant_step_loop(x, i, j, 0.3, mu), atol=1e-12)
        assert not np.allclose(vec, x)


@pytest.mark.parametrize("seed", SEEDS)
def test_bass_matches_loop(seed):
    W = ws_network(200, seed, self_loops=True, empty_row=True)
    a0 = np.random.default_rng(seed).random(200) < 0.2
    a, rng_vec, rng_loop = a0, np.random.default_rng(seed), np.random.default_rng(seed)
    for _ in range(5):
        vec = ex.bass_adoption_step(a, W, 0.05, 0.6, rng_vec)
        ref = ex.bass_adoption_step_loop(a, W, 0.05, 0.6, rng_loop)
        assert_array_equal(vec, ref)
        assert np.all(vec[a])  # adopters stay adopters
        a = vec
    assert 0.5 * 200 < a.sum() < 200


# ---------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------


def assert_distributions(X):
    assert np.all(X >= 0)
    assert_allclose(X.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_distributions_stay_distributions(seed):
    rng = np.random.default_rng(seed)
    n, K = 80, 6
    W = ws_network(n, seed, self_loops=True, empty_row=True)
    coo = W.tocoo()
    X0 = random_state(n, K, rng)
    x_dg, x_fj, x_hk, x_dw = X0, X0, X0, X0
    for _ in range(20):
        x_dg = ex.degroot_step(x_dg, W, rate=rng.random(n))
        x_fj = ex.friedkin_johnsen_step(x_fj, W, X0, rng.random(n))
        x_hk = ex.hegselmann_krause_step(x_hk, W, 0.4)
        i, j = ex.sample_disjoint_pairs(coo.row, coo.col, 50, rng)
        x_dw = ex.deffuant_step(x_dw, i, j, 0.5, mu=0.5 * (1.0 - rng.random()))  # in (0, 0.5]
        for X in (x_dg, x_fj, x_hk, x_dw):
            assert_distributions(X)
    assert_distributions(ex.friedkin_johnsen_equilibrium(W, X0, rng.uniform(0.1, 1, n)))


def test_determinism():
    W = ws_network(100, 5)
    coo = W.tocoo()

    def run(seed):
        rng = np.random.default_rng(seed)
        x = rng.random(100)
        a = np.zeros(100, dtype=bool)
        for _ in range(10):
            i, j = ex.sample_disjoint_pairs(coo.row, coo.col, 30, rng)
            x = ex.deffuant_step(x, i, j, 0.3)
            a = ex.bass_adoption_step(a, W, 0.05, 0.4, rng)
        return x, a

    (x1, a1), (x2, a2), (x3, _) = run(7), run(7), run(8)
    assert_array_equal(x1, x2)
    assert_array_equal(a1, a2)
    assert not np.array_equal(x1, x3)


# ---------------------------------------------------------------------------
# textbook results
# ---------------------------------------------------------------------------


def stationary_distribution(P):
    """Left Perron eigenvector of a dense row-stochastic matrix, computed with numpy.eig."""
    vals, vecs = np.linalg.eig(P.T)
    v = np.real(vecs[:, np.argmin(np.abs(vals - 1.0))])
    return v / v.sum()


@pytest.mark.parametrize("K", KS)
def test_degroot_consensus_is_stationary_average(K):
    n = 40
    W = ws_network(n, 11, self_loops=False)  # connected, both directions, triangles: aperiodic
    Wd = W.toarray()
    pi = stationary_distribution(Wd / Wd.sum(axis=1, keepdims=True))
    assert np.all(pi > 0)
    x0 = random_state(n, K, np.random.default_rng(11))
    x = x0
    for _ in range(5000):
        x = ex.degroot_step(x, W)
        if np.ptp(x, axis=0).max() < 1e-13:
            break
    assert np.ptp(x, axis=0).max() < 1e-12
    assert_allclose(x[0], pi @ x0, atol=1e-10)
    assert not np.allclose(x[0], x0.mean(axis=0), atol=1e-4)  # not the plain average


def test_friedkin_johnsen_iteration_converges_to_equilibrium():
    n = 50
    rng = np.random.default_rng(4)
    W = ws_network(n, 4, self_loops=True, empty_row=True)
    for K in KS:
        u = random_state(n, K, rng)
        s = rng.uniform(0.2, 0.8, n)
        x = u
        for _ in range(200):
            x = ex.friedkin_johnsen_step(x, W, u, s)
        eq = ex.friedkin_johnsen_equilibrium(W, u, s)
        assert_allclose(x, eq, atol=1e-12)
        assert_allclose(eq[0], u[0])  # agent 0 listens to nobody: ends at its anchor
        assert not np.allclose(eq, u, atol=1e-3)


def hk_final(x, W, eps, max_steps=500):
    for _ in range(max_steps):
        nxt = ex.hegselmann_krause_step(x, W, eps)
        if np.abs(nxt - x).max() < 1e-12:
            return nxt
        x = nxt
    return x


def test_hegselmann_krause_complete_graph_clusters_and_consensus_threshold():
    # Hegselmann & Krause 2002, Lorenz 2007: with uniform initial opinions on [0, 1] the
    # complete-graph HK model reaches consensus above eps ~ 0.2; small eps fragments.
    n = 200
    W = complete_graph(n)
    x0 = (np.arange(n) + 0.5) / n
    assert n_clusters(hk_final(x0, W, 0.25)) == 1
    assert n_clusters(hk_final(x0, W, 0.05)) > 3
    grid = np.round(np.arange(0.15, 0.265, 0.01), 2)
    consensus = np.array([n_clusters(hk_final(x0, W, e)) == 1 for e in grid])
    first = np.argmax(consensus)
    assert consensus[first] and consensus[first:].all() and not consensus[:first].any()
    assert 0.18 <= grid[first] <= 0.24


def test_deffuant_complete_mixing_major_clusters():
    # Deffuant et al. 2000: about floor(1/(2d)) major clusters under complete mixing.
    n, seeds, steps = 500, range(6), 400
    src, dst = np.triu_indices(n, 1)
    counts = {}
    for d in (0.1, 0.25, 0.5):
        counts[d] = []
        for seed in seeds:
            rng = np.random.default_rng(seed)
            x = rng.random(n)
            for _ in range(steps):  # ~100 interactions per agent
                i, j = ex.sample_disjoint_pairs(src, dst, n // 2, rng)
                x = ex.deffuant_step(x, i, j, d, mu=0.5)
            counts[d].append(n_clusters(x, gap=0.01, min_frac=0.02))
    assert all(4 <= c <= 6 for c in counts[0.1]) and 4 <= np.mean(counts[0.1]) <= 5.5
    assert all(1 <= c <= 3 for c in counts[0.25]) and 1.5 <= np.mean(counts[0.25]) <= 2.5
    assert counts[0.5] == [1] * len(seeds)


def test_bass_complete_graph_follows_discrete_bass_recursion():
    """Mean adoption curve vs F_{t+1} = F_t + (p + q F_t)(1 - F_t).

    Tolerance = 3 standard errors of the replicate mean + a finite-N allowance delta_t.
    On the complete graph a non-adopter sees the adopter fraction N F / (N - 1), so
    E[F_{t+1} | F_t] = h(F_t), h(F) = F + (1 - F)(p + q' F), q' = q N / (N - 1), and since h is
    quadratic, E[F_{t+1}] = g(E F_t) + q (1 - E F_t) E F_t / (N - 1) - q' Var(F_t) with g the
    Bass map.  Propagating these two O(1/N) terms through |g'| gives
    delta_{t+1} = |g'(B_t)| delta_t + q / (4 (N - 1)) + q' Var(F_t)  (Var from the replicates).
    """
    n, p, q, T, R = 2000, 0.03, 0.38, 15, 10
    W = complete_graph(n)
    rng = np.random.default_rng(2024)
    F = np.zeros((R, T + 1))
    for r in range(R):
        a = np.zeros(n, dtype=bool)
        for t in range(T):
            a = ex.bass_adoption_step(a, W, p, q, rng)
            F[r, t + 1] = a.mean()
    B = np.zeros(T + 1)
    for t in range(T):
        B[t + 1] = B[t] + (p + q * B[t]) * (1 - B[t])
    mean, var = F.mean(axis=0), F.var(axis=0, ddof=1)
    se = np.sqrt(var / R)
    qq = q * n / (n - 1)
    delta = np.zeros(T + 1)
    for t in range(T):
        slope = abs(1 - p + q - 2 * q * B[t])
        delta[t + 1] = slope * delta[t] + q / (4 * (n - 1)) + qq * var[t]
    tol = 3 * se + delta
    assert np.all(np.abs(mean - B) <= tol), (mean - B, tol)
    assert tol.max() < 0.05  # the test is informative
    # exact one-step check: F_{t+1} - h(F_t) has conditional mean zero
    resid = F[:, 1:] - (F[:, :-1] + (1 - F[:, :-1]) * (p + qq * F[:, :-1]))
    assert abs(resid.mean()) <= 4 * resid.std(ddof=1) / np.sqrt(resid.size)


def test_hegselmann_krause_large_sparse_graph_equals_loop_reference():
    # N = 10,000 Watts-Strogatz, K = 8: identical to the loop reference (its speed-up is
    # measured in benchmarks/bench_exchange.py, never asserted in a test)
    n = 10_000
    W = ws_network(n, 3, k=10, p=0.1)
    X = random_state(n, 8, np.random.default_rng(3))
    ref = ex.hegselmann_krause_step_loop(X, W, 0.4)
    out = ex.hegselmann_krause_step(X, W, 0.4)
    assert_allclose(out, ref, atol=1e-12)


def test_stacked_degroot_steps_equal_separate_steps_bitwise():
    rng = np.random.default_rng(3)
    n = 200
    W = sparse.random_array((n, n), density=0.03, rng=rng, format="csr")
    W = (W + W.T).tocsr()
    W.data[rng.random(W.nnz) < 0.2] = 0.0  # explicit zeros, and some empty rows
    W.eliminate_zeros()
    x, y = rng.dirichlet(np.ones(4), n), rng.dirichlet(np.ones(6), n)
    r1, r2 = rng.random(n), rng.random(n) * (rng.random(n) < 0.5)
    got = ex._degroot_steps(W, [x, y], [r1, r2])
    np.testing.assert_array_equal(got[0], ex.degroot_step(x, W, rate=r1))
    np.testing.assert_array_equal(got[1], ex.degroot_step(y, W, rate=r2))


# ---------------------------------------------------------------------------
# refusals of NaN/inf and out-of-range input (public functions and loop references alike)
# ---------------------------------------------------------------------------


def _nan_at(x, k=1):
    y = np.array(x, dtype=float)
    y[k] = np.nan
    return y


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("loop", [False, True])
def test_non_finite_states_are_refused_naming_the_argument(bad, loop):
    W, x = path3()
    y = x.copy()
    y[1] = bad
    sfx = "_loop" if loop else ""
    calls = {
        "x": [
            lambda: getattr(ex, "degroot_step" + sfx)(y, W),
            lambda: getattr(ex, "friedkin_johnsen_step" + sfx)(y, W, x, 0.3),
            lambda: getattr(ex, "hegselmann_krause_step" + sfx)(y, W, 0.5),
            lambda: getattr(ex, "deffuant_step" + sfx)(y, [0], [1], 0.5),
        ],
        "anchor": [lambda: getattr(ex, "friedkin_johnsen_step" + sfx)(x, W, y, 0.3)],
    }
    if not loop:
        calls["anchor"].append(lambda: ex.friedkin_johnsen_equilibrium(W, y, 0.3))
    for name, fns in calls.items():
        for fn in fns:
            with pytest.raises(ValueError, match=rf"^{name} must be finite"):
                fn()


def test_hegselmann_krause_single_nan_is_refused_not_spread():
    # the kernel would turn every neighbour of the NaN agent NaN (the loop reference would not)
    W = ws_network(30, 0)
    x = np.random.default_rng(0).random(30)
    with pytest.raises(ValueError, match=r"x must be finite.*index \(7,\)"):
        ex.hegselmann_krause_step(_nan_at(x, 7), W, 0.3)
    with pytest.raises(ValueError, match="x must be finite"):
        ex.hegselmann_krause_step_loop(_nan_at(x, 7), W, 0.3)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"rate": np.nan}, r"rate must be finite and lie in \[0, 1\]"),
    ({"rate": [0.1, 1.2, 0.3]}, r"rate must be finite.*the first 1.2 at index 1"),
    ({"rate": -0.1}, r"rate must be finite and lie in \[0, 1\]"),
])
def test_degroot_rate_out_of_range(kwargs, match):
    W, x = path3()
    for fn in (ex.degroot_step, ex.degroot_step_loop):
        with pytest.raises(ValueError, match=match):
            fn(x, W, **kwargs)


def test_weights_nan_inf_negative_are_refused():
    W, x = path3()
    for v in (np.nan, np.inf, -1.0):
        B = W.copy()
        B.data[0] = v
        for fn, args in ((ex.degroot_step, (x, B)), (ex.hegselmann_krause_step, (x, B, 0.2)),
                         (ex.friedkin_johnsen_step, (x, B, x, 0.2)),
                         (ex.bass_adoption_step, ([True, False, False], B, 0.1, 0.1, 0))):
            with pytest.raises(ValueError, match="W must have finite, non-negative weights"):
                fn(*args)


@pytest.mark.parametrize(("arg", "value", "match"), [
    ("stubbornness", 1.5, r"stubbornness must be finite and lie in \[0, 1\]"),
    ("stubbornness", np.nan, r"stubbornness must be finite"),
    ("epsilon", np.inf, r"epsilon must be finite and lie in \[0, inf\)"),
    ("epsilon", -0.1, r"epsilon must be finite"),
])
def test_fj_and_hk_parameters_out_of_range(arg, value, match):
    W, x = path3()
    fns = {"stubbornness": (ex.friedkin_johnsen_step, ex.friedkin_johnsen_step_loop),
           "epsilon": (ex.hegselmann_krause_step, ex.hegselmann_krause_step_loop)}[arg]
    for fn in fns:
        with pytest.raises(ValueError, match=match):
            fn(x, W, x, value) if arg == "stubbornness" else fn(x, W, value)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"mu": 0.7}, r"mu must be a finite number in \(0, 0.5\], got 0.7"),
    ({"mu": 0.0}, r"mu must be a finite number in \(0, 0.5\]"),
    ({"mu": np.nan}, r"mu must be a finite number"),
    ({"mu": True}, r"mu must be .* got the boolean True"),
    ({"mu": "half"}, r"mu must be .* got 'half'"),
    ({"threshold": -0.1}, r"threshold must be a finite number in \[0, inf\)"),
    ({"threshold": np.inf}, r"threshold must be a finite number"),
    ({"threshold": np.nan}, r"threshold must be a finite number"),
])
def test_deffuant_parameters_out_of_range(kwargs, match):
    x = np.array([0.1, 0.3, 0.9, 0.5])
    args = {"threshold": 0.3, "mu": 0.5} | kwargs
    for fn in (ex.deffuant_step, ex.deffuant_step_loop):
        with pytest.raises(ValueError, match=match):
            fn(x, [0], [1], **args)


@pytest.mark.parametrize("pairs", [([0.0], [1.0]), ([0.9], [1.2]), ([True, False], [False, True])])
def test_deffuant_float_or_boolean_pair_indices_are_refused(pairs):
    x = np.array([0.1, 0.3, 0.9, 0.5])
    for fn in (ex.deffuant_step, ex.deffuant_step_loop):
        with pytest.raises(ValueError, match="must be an array of integers"):
            fn(x, *pairs, 0.3)
    # empty lists (no pairs) stay fine
    assert_array_equal(ex.deffuant_step(x, [], [], 0.3), x)


def test_sample_disjoint_pairs_refuses_bad_arguments():
    rng = np.random.default_rng(0)
    src, dst = np.array([0, 1, 2]), np.array([1, 2, 3])
    with pytest.raises(ValueError, match="src must be an array of integers"):
        ex.sample_disjoint_pairs(src.astype(float), dst, 3, rng)
    with pytest.raises(ValueError, match="n_pairs must be a non-negative integer"):
        ex.sample_disjoint_pairs(src, dst, 2.5, rng)
    with pytest.raises(ValueError, match="n_pairs must be a non-negative integer"):
        ex.sample_disjoint_pairs(src, dst, -1, rng)
    with pytest.raises(ValueError, match="weight must be finite"):
        ex.sample_disjoint_pairs(src, dst, 3, rng, weight=[1.0, np.nan, 1.0])
    with pytest.raises(ValueError, match=r"rng must be a numpy\.random\.Generator"):
        ex.sample_disjoint_pairs(src, dst, 3, None)
    a = ex.sample_disjoint_pairs(src, dst, 5, 7)  # an int seed is default_rng(seed)
    b = ex.sample_disjoint_pairs(src, dst, 5, np.random.default_rng(7))
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])


@pytest.mark.parametrize(("adopted", "match"), [
    ([0.5, 0.0, 0.0], "adopted must be boolean or integers 0/1, got dtype float64"),
    ([np.nan, 0.0, 1.0], "adopted must be boolean or integers 0/1, got dtype float64"),
    ([2, 0, 1], "adopted must be boolean or integers 0/1, got the value 2"),
    ([True, False], r"adopted must have shape \(3,\)"),
])
def test_bass_adoption_states_must_be_boolean(adopted, match):
    W = sparse.csr_array(np.ones((3, 3)) - np.eye(3))
    for fn in (ex.bass_adoption_step, ex.bass_adoption_step_loop):
        with pytest.raises(ValueError, match=match):
            fn(adopted, W, 0.1, 0.2, np.random.default_rng(0))


def test_bass_accepts_int_states_and_int_seed_and_refuses_bad_rng():
    W = ws_network(40, 1)
    a = np.random.default_rng(1).random(40) < 0.3
    want = ex.bass_adoption_step(a, W, 0.05, 0.4, np.random.default_rng(42))
    assert_array_equal(ex.bass_adoption_step(a.astype(int), W, 0.05, 0.4, 42), want)
    assert_array_equal(ex.bass_adoption_step_loop(a, W, 0.05, 0.4, 42), want)
    for bad in (None, 4.2, "42", True, -1, np.random):
        with pytest.raises(ValueError, match="rng"):
            ex.bass_adoption_step(a, W, 0.05, 0.4, bad)
    for p, q in ((1.5, 0.1), (0.1, np.nan), (np.inf, 0.1)):
        with pytest.raises(ValueError, match=r"(p|q) must be a finite number in \[0, 1\]"):
            ex.bass_adoption_step(a, W, p, q, 0)


@pytest.mark.parametrize("K", [None, 6])
def test_unchecked_kernels_equal_the_public_functions(K):
    # the model calls the kernels; they must compute exactly what the checked functions do
    rng = np.random.default_rng(5)
    n = 60
    W = ws_network(n, 5, self_loops=True, empty_row=True)
    W.data[::7] = 0.0  # explicit zeros, as the model's influence matrix has for inactive agents
    x = random_state(n, K, rng)
    r = rng.random(n)
    s = rng.random(n)
    assert_array_equal(ex._degroot_step(x, W, rate=r), ex.degroot_step(x, W, rate=r))
    assert_array_equal(ex._degroot_step(x, W), ex.degroot_step(x, W))
    assert_array_equal(ex._friedkin_johnsen_step(x, W, x[::-1], s),
                       ex.friedkin_johnsen_step(x, W, x[::-1], s))
    assert_array_equal(ex._hegselmann_krause_step(x, W, 0.3), ex.hegselmann_krause_step(x, W, 0.3))
    coo = W.tocoo()
    w = rng.random(coo.nnz)
    i, j = ex._sample_disjoint_pairs(coo.row, coo.col, 40, np.random.default_rng(1), weight=w)
    i2, j2 = ex.sample_disjoint_pairs(coo.row, coo.col, 40, np.random.default_rng(1), weight=w)
    assert_array_equal(i, i2)
    assert_array_equal(j, j2)
    assert_array_equal(ex._deffuant_step(x, i, j, 0.4, 0.3), ex.deffuant_step(x, i, j, 0.4, 0.3))
    a = rng.random(n) < 0.3
    assert_array_equal(ex._bass_adoption_step(a, W, 0.1, 0.3, np.random.default_rng(2)),
                       ex.bass_adoption_step(a, W, 0.1, 0.3, np.random.default_rng(2)))
