"""The cheaper structure kernels against their previous implementations (issue 24): the same
values bit for bit on random graphs, incl. the empty graph, isolated nodes, one group and
groups of one or two nodes."""

import numpy as np
import pytest
import scipy.sparse as sp

import simulation.measures.structure as S


def _triangles_products(B, block=None):
    """The previous ``_triangles``: row sums of (U U)∘U, column sums, (UᵀU)∘U (0.3.1)."""
    B = sp.csr_array(B)
    n = B.shape[0]
    d = np.diff(B.indptr)
    rank = np.empty(n, np.int64)
    rank[np.lexsort((np.arange(n), d))] = np.arange(n)
    row = np.repeat(np.arange(n), d)
    up = rank[row] < rank[B.indices]
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(row[up], minlength=n), out=indptr[1:])
    U = sp.csr_array((np.ones(int(up.sum())), B.indices[up], indptr), shape=(n, n))
    P = (U @ U).multiply(U)
    Q = (U.T.tocsr() @ U).multiply(U)
    t = (np.asarray(P.sum(axis=1)).ravel() + np.asarray(P.sum(axis=0)).ravel()
         + np.asarray(Q.sum(axis=1)).ravel())
    return 2.0 * t


def _random_graph(rng, n, p):
    W = np.triu((rng.random((n, n)) < p) * rng.random((n, n)).round(3).clip(0.001), 1)
    return sp.csr_array(W + W.T)


def _cases(seed=0, count=120):
    rng = np.random.default_rng(seed)
    yield sp.csr_array((0, 0)), np.zeros(0, np.int64), 2  # empty graph
    yield sp.csr_array((5, 5)), np.array([0, 0, 1, 1, -1]), 3  # isolated nodes only
    for _ in range(count):
        n = int(rng.integers(1, 70))
        A = _random_graph(rng, n, float(rng.random()) ** 2)
        n_groups = int(rng.integers(1, 8))
        group = rng.integers(-1, n_groups, n)
        if rng.random() < 0.2:
            group[:] = 0  # one group
        yield A, group, n_groups


@pytest.mark.parametrize("chunk", [1 << 18, 1, 7])
@pytest.mark.parametrize("lookup", ["default", "blocks", "sorted", "bits", "bit blocks"])
def test_triangles_equal_previous(monkeypatch, lookup, chunk):
    """Every look-up, with the wedges in one piece or in chunks of 1 and 7 (the chunked
    counts must add up to the same integers)."""
    monkeypatch.setattr(S, "_WEDGE_CHUNK", chunk)
    for A, group, n_groups in _cases():
        B = S._within_adjacency(A, group, n_groups)
        old = _triangles_products(B)
        # the n * n table, the per-group tables (n * n above the limit) or the sorted keys
        limit = {"default": S._DENSE_LOOKUP, "sorted": 0, "bits": 0, "bit blocks": 0,
                 "blocks": S._block_keys(group)[2] if group.size else 0}[lookup]
        bits = {"sorted": 0, "bit blocks": S._block_keys(group)[2] if group.size else 0
                }.get(lookup, S._BIT_LOOKUP)  # "bits": the n * n table as bits
        with monkeypatch.context() as mp:
            mp.setattr(S, "_DENSE_LOOKUP", limit)
            mp.setattr(S, "_BIT_LOOKUP", bits)
            for new in (S._triangles(B, group), S._triangles(B)):
                assert new.dtype == old.dtype and new.shape == old.shape
                assert np.array_equal(new, old)
        full = sp.csr_array((np.ones(A.nnz), A.indices, A.indptr), shape=A.shape)
        assert np.array_equal(S._triangles(full), _triangles_products(full))


def test_clustering_transitivity_bitwise(monkeypatch):
    for A, group, n_groups in _cases(seed=1):
        new = (S.clustering_by_group(A, group, n_groups),
               S.transitivity_by_group(A, group, n_groups))
        with monkeypatch.context() as mp:
            mp.setattr(S, "_triangles", _triangles_products)
            old = (S.clustering_by_group(A, group, n_groups),
                   S.transitivity_by_group(A, group, n_groups))
        for x, y in zip(new, old, strict=True):
            assert x.tobytes() == y.tobytes()


def test_block_keys_dense_and_distinct():
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        block = rng.integers(-1, 5, n)
        base, local, size = S._block_keys(block)
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        same = (block[i] == block[j]) & (block[i] >= 0)
        k = base[i[same]] + local[j[same]]
        assert np.array_equal(np.sort(k), np.arange(size))


def _within_adjacency_coo(A, group, n_groups):
    """The previous ``_within_adjacency``: by a COO conversion (0.3.1)."""
    row, col, _, _ = S._within(A, group, n_groups, weighted=False)
    n = A.shape[0]
    return sp.csr_array((np.ones(row.size), (row, col)), shape=(n, n))


def test_within_adjacency_equal_previous():
    for A, group, n_groups in _cases(seed=2):
        for M in (A, sp.csr_array(A.toarray()[::-1, ::-1])):  # also a reordered matrix
            new, old = S._within_adjacency(M, group, n_groups), _within_adjacency_coo(M, group,
                                                                                        n_groups)
            assert new.shape == old.shape
            for x, y in ((new.indptr, old.indptr), (new.indices, old.indices),
                         (new.data, old.data)):
                assert np.array_equal(x, y)


def _reach_sorted(model):
    """The previous ``reach`` (0.3.1): sorted (group, agent) keys and binary search."""
    import simulation.reporters as R

    p = model.pop
    n = model.n_agents
    A = R._adjacency(model)
    coo = model.board.tocoo()
    g, who = coo.row.astype(np.int64), coo.col.astype(np.int64)
    pos, nb = R._neighbours(A, who, 0.2)
    near = R._sorted_unique(np.concatenate([g * n + who, g[pos] * n + nb]))
    fl = np.flatnonzero(model.front_line & model.present)
    mine = p.group[fl].astype(np.int64)
    hit = R._in_sorted(near, mine * n + fl)
    pos, nb = R._neighbours(A, fl, 0.2)
    hit |= np.bincount(pos, weights=R._in_sorted(near, mine[pos] * n + nb), minlength=fl.size) > 0
    practice_reached = np.zeros(p.n_practices, bool)
    practice_reached[p.practice[fl[hit]]] = True
    share = np.bincount(p.practice_group, weights=practice_reached, minlength=model.n_groups)
    return R._overall(model, share / np.bincount(p.practice_group, minlength=model.n_groups))


@pytest.mark.parametrize("table", [True, False])
def test_reach_equal_previous(monkeypatch, table):
    import simulation.reporters as R
    from simulation.loader import load_scenario
    from simulation.model import CommissioningModel

    if not table:
        monkeypatch.setattr(R, "_REACH_TABLE", 0)
    for path, ov in (("scenarios/icb_2022.yaml", ["scale=0.2", "burn_in=0"]),
                     ("scenarios/east_of_england_2013.yaml", ["scale=0.2", "burn_in=0"])):
        m = CommissioningModel(load_scenario(path, ov), seed=5)
        for _ in range(4):
            m.step()
            assert R.reach.__wrapped__(m).tobytes() == _reach_sorted(m).tobytes()


def _strength_concentration_searchsorted(A, group, n_groups, top=3):
    """The previous ``strength_concentration`` (0.3.1): group starts by ``searchsorted``."""
    A = S._csr(A)
    n = A.shape[0]
    group = S._check_group(group, n, n_groups)
    row, _, w, _ = S._within(A, group, n_groups, weighted=True)
    s = S._bincount(row, w, n)
    members = np.flatnonzero(group >= 0)
    order = members[np.lexsort((-s[members], group[members]))]
    g_sorted = group[order]
    first = np.searchsorted(g_sorted, g_sorted, side="left")
    rank = np.arange(order.size) - first
    lead = order[rank < top]
    total = S._bincount(group[members], s[members], n_groups)
    held = S._bincount(group[lead], s[lead], n_groups)
    return S._safe_div(held, np.where(total > 0, total, 0.0))


@pytest.mark.parametrize("top", [1, 3])
def test_strength_concentration_equal_previous(top):
    from simulation.measures.stability import strength_concentration

    for A, group, n_groups in _cases(seed=4):
        new = strength_concentration(A, group, n_groups, top=top)
        old = _strength_concentration_searchsorted(A, group, n_groups, top=top)
        assert new.tobytes() == old.tobytes()


def test_spawned_seeds_equal_spawn():
    from simulation.reporters import _SpawnedSeeds

    for entropy, n in (([1, 0], 1), ([7, 12], 6), ([123456789, 240], 211)):
        lazy, spawned = _SpawnedSeeds(entropy, n), np.random.SeedSequence(entropy).spawn(n)
        assert len(lazy) == n
        for i in range(n):
            a, b = lazy[i], spawned[i]
            assert a.spawn_key == b.spawn_key and a.pool_size == b.pool_size
            assert np.array_equal(a.generate_state(8), b.generate_state(8))
            ra, rb = np.random.default_rng(a), np.random.default_rng(b)
            assert np.array_equal(ra.choice(50, 32, replace=False), rb.choice(50, 32, replace=False))
        with pytest.raises(IndexError):
            lazy[n]


def test_betweenness_reporter_equal_previous():
    """The reporter with lazily made seeds against the previous one (all seeds spawned)."""
    import simulation.reporters as R
    from simulation.loader import load_scenario
    from simulation.model import CommissioningModel

    for path, ov in (("scenarios/icb_2022.yaml", ["scale=0.2", "burn_in=0"]),
                     ("scenarios/england_2013.yaml", ["scale=0.02", "burn_in=0"])):
        m = CommissioningModel(load_scenario(path, ov), seed=5)
        for _ in range(2):
            m.step()
            k = m.spec.metrics.betweenness_samples or None
            seeds = np.random.SeedSequence([m.seed_value, m.steps]).spawn(m.n_groups)
            old = R._overall(m, S.betweenness_centralisation_by_group(
                R._adjacency(m), np.where(m.present, m.pop.group, -1), m.n_groups, k=k,
                seeds=seeds))
            assert R.betweenness_centralisation.__wrapped__(m).tobytes() == old.tobytes()


def _unique_inverse_sort(x):
    """The previous ``_unique_inverse`` (0.3.1): one stable argsort."""
    x = np.asarray(x).ravel()
    order = np.argsort(x, kind="stable")
    s = x[order]
    new = np.concatenate(([True], s[1:] != s[:-1])) if s.size else np.zeros(0, bool)
    inverse = np.empty(x.size, dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return s[new], inverse


def test_unique_inverse_equal_previous():
    rng = np.random.default_rng(5)
    cases = [np.zeros(0, np.int64), np.array([7]), np.array([-3, -3]), np.array([2**40, 5]),
             np.array([0, 9, 9, 1], np.int32), np.array([-(2**62), 2**62])]
    for _ in range(100):
        n = int(rng.integers(1, 300))
        lo = int(rng.integers(-1000, 1000))
        cases.append(rng.integers(lo, lo + int(rng.integers(1, 3000)), n).astype(
            rng.choice([np.int64, np.int32, np.intp])))
    for x in cases:
        (u, i), (v, j) = S._unique_inverse(x), _unique_inverse_sort(x)
        assert u.dtype == v.dtype and i.dtype == j.dtype
        assert np.array_equal(u, v) and np.array_equal(i, j)


def test_modularity_equal_previous(monkeypatch):
    labels_rng = np.random.default_rng(6)
    for A, group, n_groups in _cases(seed=7):
        labels = labels_rng.integers(0, 5, group.size)
        new = S.modularity_by_group(A, group, labels, n_groups)
        with monkeypatch.context() as mp:
            mp.setattr(S, "_unique_inverse", _unique_inverse_sort)
            old = S.modularity_by_group(A, group, labels, n_groups)
        assert new.tobytes() == old.tobytes()
