"""The third pass over the metrics' costs (issue 24) against the previous implementations,
bit for bit on random inputs and edge cases: the shared within-group tie quantities
(density, E-I index, modularity, leader dependence), the merged tie-key intersection of tie
persistence, the symmetry check's exact-equality shortcut."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

import simulation.measures.structure as S
from simulation.measures import stability as ST


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def _random_graph(rng, n, p):
    W = np.triu((rng.random((n, n)) < p) * rng.random((n, n)).round(3).clip(0.001), 1)
    return sp.csr_array(W + W.T)


def _read_only(A):
    """The reporters' situation: a CSR adjacency whose arrays are read-only (remembered)."""
    A = sp.csr_array(A, dtype=float)
    A.sort_indices()
    for x in (A.data, A.indices, A.indptr):
        x.flags.writeable = False
    return A


def _cases(seed=0, count=100):
    """(A, group, labels, n_groups): the empty graph, isolated nodes, one group, groups of one
    or two, sorted and unsorted labels, negative labels, empty localities."""
    rng = np.random.default_rng(seed)
    yield sp.csr_array((0, 0)), np.zeros(0, np.int64), np.zeros(0, np.int64), 2
    yield sp.csr_array((5, 5)), np.array([0, 0, 1, 1, -1]), np.array([0, 1, 0, 3, 2]), 3
    for _ in range(count):
        n = int(rng.integers(1, 70))
        A = _random_graph(rng, n, float(rng.random()) ** 2)
        G = int(rng.integers(1, 8))
        group = rng.integers(-1, G, n)
        r = rng.random()
        if r < 0.2:
            group[:] = 0  # one group
        elif r < 0.6:  # agents numbered group by group (the model's case)
            members = np.sort(group[group >= 0])
            group[group >= 0] = members
        labels = rng.integers(-1 if rng.random() < 0.3 else 0, int(rng.integers(1, 12)), n)
        if rng.random() < 0.2:
            labels[:] = 5  # one locality
        yield A, group.astype(np.int32 if n % 2 else np.int64), labels, G


# ------------------------------------------------------------------ previous implementations
def _old_density(A, group, n_groups):
    A = S._csr(A)
    group = S._check_group(group, A.shape[0], n_groups)
    _, _, _, g = S._within(A, group, n_groups, weighted=False)
    n = S._group_sizes(group, n_groups)
    return S._safe_div(S._bincount(g, minlength=n_groups), np.where(n >= 2, n * (n - 1), 0))


def _old_modularity(A, group, labels, n_groups, weighted=True):
    A = S._csr(A)
    n = A.shape[0]
    group = S._check_group(group, n, n_groups)
    codes, n_lab = S._codes(labels, n)
    row, col, w, g = S._within(A, group, n_groups, weighted)
    two_m = S._bincount(g, w, n_groups)
    same = codes[row] == codes[col]
    two_l = S._bincount(g[same], w[same], n_groups)
    strength = S._bincount(row, w, n)
    member = np.flatnonzero(group >= 0)
    pair = group[member] * np.int64(n_lab) + codes[member]
    upair, inv = S._unique_inverse(pair)
    d = S._bincount(inv, strength[member], upair.size)
    sq = S._bincount(upair // n_lab, d**2, n_groups)
    return S._safe_div(two_l, two_m) - S._safe_div(sq, two_m**2)


def _old_ei(A, group, labels, n_groups):
    A = S._csr(A)
    labels = np.asarray(labels)
    row, col, _, g = S._within(A, group, n_groups, weighted=False)
    lr, lc = labels[row], labels[col]
    ok = (lr >= 0) & (lc >= 0)
    ext = S._bincount(g[ok & (lr != lc)], minlength=n_groups)
    internal = S._bincount(g[ok & (lr == lc)], minlength=n_groups)
    return S._safe_div(ext - internal, ext + internal)


def _old_strength_concentration(A, group, n_groups, top=3):
    A = S._csr(A)
    n = A.shape[0]
    group = S._check_group(group, n, n_groups)
    row, _, w, _ = S._within(A, group, n_groups, weighted=True)
    s = S._bincount(row, w, n)
    members = np.flatnonzero(group >= 0)
    order = members[np.lexsort((-s[members], group[members]))]
    g_sorted = group[order]
    size = np.bincount(g_sorted, minlength=n_groups)
    first = np.repeat(np.cumsum(size) - size, size)
    rank = np.arange(order.size) - first
    lead = order[rank < top]
    total = S._bincount(group[members], s[members], n_groups)
    held = S._bincount(group[lead], s[lead], n_groups)
    return S._safe_div(held, np.where(total > 0, total, 0.0))


def _old_jaccard_by_group(keys_a, keys_b, n, group, n_groups, overall=False):
    group = S._check_group(group, n, n_groups)
    a = S._unique_int(keys_a)
    b = S._unique_int(keys_b)

    def owners(keys):
        u, v = np.divmod(keys, np.int64(n))
        gu, gv = group[u], group[v]
        first = gu >= 0
        second = (gv >= 0) & (gv != gu)
        return np.concatenate([gu[first], gv[second]]), first, second

    g_a, first, second = owners(a)
    inter = ST._contains(b, a)
    n_a = S._bincount(g_a, None, n_groups)
    n_b = S._bincount(owners(b)[0], None, n_groups)
    n_inter = S._bincount(g_a, np.concatenate([inter[first], inter[second]]).astype(float),
                          n_groups)
    n_union = n_a + n_b - n_inter
    out = S._safe_div(n_inter, n_union)
    out[n_union == 0] = np.nan
    if overall:
        total = int(inter.sum())
        union = a.size + b.size - total
        return out, (math.nan if union == 0 else total / union)
    return out


# ------------------------------------------------------------------ the tests
@pytest.mark.parametrize("read_only", [False, True])
def test_shared_within_quantities_give_the_previous_measures(read_only):
    for A, group, labels, G in _cases(seed=3):
        B = _read_only(A) if read_only else A
        # twice on a read-only matrix: the second call reads what the first remembered
        for _ in range(2 if read_only else 1):
            assert _same(S.density_by_group(B, group, G), _old_density(A, group, G))
            for weighted in (True, False):
                assert _same(S.modularity_by_group(B, group, labels, G, weighted),
                             _old_modularity(A, group, labels, G, weighted))
            assert _same(S.ei_index_by_group(B, group, labels, G), _old_ei(A, group, labels, G))
            assert _same(S.ei_index_by_group(B, group, np.maximum(labels, 0), G),
                         _old_ei(A, group, np.maximum(labels, 0), G))
            for top in (1, 2, 3, 5):
                assert _same(ST.strength_concentration(B, group, G, top=top),
                             _old_strength_concentration(A, group, G, top=top))


def test_remembered_quantities_follow_new_labels_on_the_same_matrix():
    rng = np.random.default_rng(5)
    A = _read_only(_random_graph(rng, 60, 0.2))
    for _ in range(5):
        G = 4
        group = np.sort(rng.integers(-1, G, 60))
        labels = rng.integers(0, 6, 60)
        assert _same(S.modularity_by_group(A, group, labels, G),
                     _old_modularity(A, group, labels, G))
        assert _same(S.ei_index_by_group(A, group, labels, G), _old_ei(A, group, labels, G))
        assert _same(S.density_by_group(A, group, G), _old_density(A, group, G))
        assert _same(ST.strength_concentration(A, group, G),
                     _old_strength_concentration(A, group, G))


def test_strength_concentration_ties_in_strength_broken_by_id():
    # equal strengths everywhere: the leaders are the lowest ids, in the sorted order
    n = 12
    ring = sp.csr_array((np.ones(n), (np.arange(n), (np.arange(n) + 1) % n)), shape=(n, n))
    A = ring + ring.T
    group = np.repeat([0, 1, 2], 4)
    for top in (1, 2, 3, 4, 6):
        assert _same(ST.strength_concentration(A, group, 4, top=top),
                     _old_strength_concentration(A, group, 4, top=top))


def _key_cases(seed=0):
    rng = np.random.default_rng(seed)
    yield np.zeros(0, np.int64), np.zeros(0, np.int64), 4, np.array([0, 0, 1, -1]), 2
    yield np.array([1, 2]), np.zeros(0, np.int64), 4, np.array([0, 0, 1, -1]), 2
    yield np.zeros(0, np.int64), np.array([5, 7]), 4, np.array([0, 0, 1, -1]), 2
    for _ in range(80):
        n = int(rng.integers(2, 60))
        G = int(rng.integers(1, 6))
        group = rng.integers(-1, G, n)
        m = int(rng.integers(0, 3 * n))
        a = ST.edge_keys(rng.integers(0, n, m), rng.integers(0, n, m), n)
        r = rng.random()
        if r < 0.2:
            b = a.copy()  # identical snapshots
        elif r < 0.3:
            b = np.setdiff1d(ST.edge_keys(rng.integers(0, n, m), rng.integers(0, n, m), n), a)
        else:
            keep = rng.random(a.size) < 0.8
            extra = ST.edge_keys(rng.integers(0, n, m // 4), rng.integers(0, n, m // 4), n)
            b = np.union1d(a[keep], extra)
        if rng.random() < 0.3:
            b = rng.permutation(b)  # unsorted input
        yield a, b, n, group, G


def test_jaccard_by_group_equals_the_previous_membership_search():
    for a, b, n, group, G in _key_cases():
        for overall in (False, True):
            new = ST.jaccard_by_group(a, b, n, group, G, overall=overall)
            old = _old_jaccard_by_group(a, b, n, group, G, overall=overall)
            if overall:
                assert _same(new[0], old[0])
                assert (math.isnan(new[1]) and math.isnan(old[1])) or new[1] == old[1]
            else:
                assert _same(new, old)


def test_shared_keys_is_the_intersection():
    rng = np.random.default_rng(1)
    for _ in range(50):
        a = np.unique(rng.integers(0, 500, rng.integers(0, 200)))
        b = np.unique(rng.integers(0, 500, rng.integers(0, 200)))
        assert _same(ST._shared_keys(a, b), np.intersect1d(a, b))


def test_symmetry_check_keeps_its_verdicts():
    rng = np.random.default_rng(2)
    A = _random_graph(rng, 30, 0.3)
    S._check_graph(S._csr(A), "t")  # exactly symmetric: passes
    B = A.tocoo()
    upper = B.row < B.col
    data = B.data.copy()
    data[np.flatnonzero(upper)[0]] *= 1 + 1e-14  # within the rounding tolerance: passes
    S._check_graph(S._csr(sp.coo_array((data, (B.row, B.col)), shape=A.shape).tocsr()), "t")
    data[np.flatnonzero(upper)[0]] *= 1 + 1e-6  # beyond it: refused
    with pytest.raises(ValueError, match="symmetric"):
        S._check_graph(S._csr(sp.coo_array((data, (B.row, B.col)), shape=A.shape).tocsr()),
                       "t")


def _old_within(A, group, n_groups, weighted=True):
    A = S._csr(A)
    group = S._check_group(group, A.shape[0], n_groups)
    row, col, w = S._edges(A)
    gr = group[row]
    keep = np.flatnonzero((gr >= 0) & (gr == group[col]))
    small = np.int32 if A.shape[0] < 2**31 - 1 else np.int64
    return (row[keep].astype(small), col[keep].astype(small),
            w[keep] if weighted else np.ones(keep.size), gr[keep].astype(small))


@pytest.mark.parametrize("read_only", [False, True])
def test_within_ties_equal_the_previous_filter(read_only):
    for A, group, _, G in _cases(seed=9):
        B = _read_only(A) if read_only else A
        for weighted in (True, False):
            new = S._within(B, group, G, weighted)
            old = _old_within(A, group, G, weighted)
            for x, y in zip(new, old, strict=True):
                assert x.dtype == y.dtype and _same(x, y)


@pytest.mark.parametrize("table", [True, False])
def test_near_neighbours_of_all_rows_equal_the_rows_gathered(table):
    """reach's front-line step: every row's near neighbours at once (reduceat over the rows,
    isolated and trailing rows included) against the rows' entries gathered and counted."""
    import functools

    from simulation import reporters as R

    rng = np.random.default_rng(11)
    for k in range(60):
        n = int(rng.integers(1, 50))
        A = _random_graph(rng, n, float(rng.random()) ** 2)
        if k % 3 == 0 and n > 3:  # the last nodes without ties
            keep = np.arange(n) < n - 3
            A = sp.csr_array(A.multiply(keep[:, None]).multiply(keep[None, :]))
        A = sp.csr_array(A)
        A.eliminate_zeros()
        G = int(rng.integers(1, 5))
        group = rng.integers(-1, G, n)
        near = np.unique(rng.integers(-n, G * n, int(rng.integers(0, 4 * n + 1))))
        near = near[near >= 0]
        if table:
            t = np.zeros(G * n, bool)
            t[near] = True
            member = t.__getitem__
        else:
            member = functools.partial(R._in_sorted, near)
        rows = np.arange(n)
        pos, nb = R._neighbours(A, rows, 0.2)
        want = np.bincount(pos, weights=member(group[pos].astype(np.int64) * n + nb),
                           minlength=n) > 0
        assert _same(R._near_neighbour(A, group, n, member), want)


def _old_tv_distance(p, q):
    from simulation._numeric import row_sums

    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    d = np.subtract(p, q)
    np.abs(d, out=d)
    return 0.5 * (row_sums(d) if d.ndim == 2 else d.sum(axis=-1))


@pytest.mark.parametrize("k", [1, 2, 6, 8, 9, 17])
def test_tv_distance_in_blocks_equals_the_whole_array(k):
    from simulation.measures import knowledge as KN

    rng = np.random.default_rng(k)
    for n in (2 * KN._TV_CHUNK, 2 * KN._TV_CHUNK + 1, 5 * KN._TV_CHUNK - 7):
        p = rng.dirichlet(np.ones(k), n) * 10.0 ** rng.uniform(-3, 3, (n, 1))
        q = rng.dirichlet(np.ones(k), n)
        p[rng.integers(0, n, 5), 0] = np.nan  # NaN rows where they occur
        for qq in (q, q[7], np.asfortranarray(q)):
            assert _same(KN.tv_distance(p, qq), _old_tv_distance(p, qq))
        assert _same(KN.tv_distance(p[:, ::-1], q), _old_tv_distance(p[:, ::-1], q))
    small = rng.dirichlet(np.ones(k), 5)
    assert _same(KN.tv_distance(small, small[::-1]), _old_tv_distance(small, small[::-1]))


def test_dispersion_in_blocks_equals_the_previous_dispersion():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_metric_speed import old_dispersion_by_group

    from simulation.measures import GroupIndex

    rng = np.random.default_rng(21)
    n = 40_000
    for sort in (True, False):
        for G in (1, 37):
            group = rng.integers(-1, G, n)
            if sort:
                group = np.sort(group)
            mask = rng.random(n) < 0.9
            w = rng.random(n)
            x = rng.dirichlet(np.ones(6), n)
            x[rng.integers(0, n, 3), 2] = np.nan
            for m in (None, mask):
                for weights in (None, w):
                    want = old_dispersion_by_group(x, group, G, mask=m, weights=weights)
                    assert _same(GroupIndex(group, G, m).dispersion(x, weights), want)


def _old_degree_centralisation(A, group, n_groups):
    A = S._csr(A)
    group = S._check_group(group, A.shape[0], n_groups)
    row, _, _, _ = S._within(A, group, n_groups, weighted=False)
    d = S._bincount(row, minlength=A.shape[0])
    member = group >= 0
    g = group[member]
    dmax = np.zeros(n_groups)
    np.maximum.at(dmax, g, d[member])
    n = S._group_sizes(group, n_groups)
    num = n * dmax - S._bincount(g, d[member], minlength=n_groups)
    return S._safe_div(num, np.where(n >= 3, (n - 1) * (n - 2), 0))


@pytest.mark.parametrize("read_only", [False, True])
def test_sums_over_sorted_labels_equal_bincount(read_only):
    for A, group, _, G in _cases(seed=13):
        B = _read_only(A) if read_only else A
        assert _same(S.degree_centralisation_by_group(B, group, G),
                     _old_degree_centralisation(A, group, G))
    rng = np.random.default_rng(3)
    for _ in range(50):
        size = int(rng.integers(1, 9))
        x = np.sort(rng.integers(0, size + 2, int(rng.integers(0, 200))))  # values >= size too
        w = rng.standard_normal(x.size) * 10.0 ** rng.uniform(-9, 9, x.size)
        for dtype in (np.int32, np.int64):
            for weights in (None, w):
                assert _same(S._group_sums(x.astype(dtype), size, weights, sorted_=True),
                             S._bincount(x, weights, size))


def test_remembered_values_follow_a_replaced_array_of_the_same_matrix_object():
    # _derived's fast path knows the matrix by its three array objects: a new data array on
    # the same csr_array object is a new matrix
    rng = np.random.default_rng(8)
    A = _read_only(_random_graph(rng, 40, 0.3))
    group = np.sort(rng.integers(0, 3, 40))
    first = ST.strength_concentration(A, group, 3)
    assert _same(first, _old_strength_concentration(A.copy(), group, 3))
    data = np.round(A.data * rng.uniform(1, 9, A.nnz), 3)
    B = sp.csr_array((data, A.indices.copy(), A.indptr.copy()), shape=A.shape)
    B = _read_only(B + B.T)  # symmetric again, other weights
    A.data, A.indices, A.indptr = B.data, B.indices, B.indptr  # the same object, new arrays
    again = ST.strength_concentration(A, group, 3)
    assert _same(again, _old_strength_concentration(B.copy(), group, 3))
    assert _same(S.density_by_group(A, group, 3), _old_density(B.copy(), group, 3))


def test_remembered_values_follow_a_replaced_data_array():
    rng = np.random.default_rng(10)
    A = _read_only(_random_graph(rng, 40, 0.3))
    group = np.sort(rng.integers(0, 3, 40))
    labels = rng.integers(0, 4, 40)
    first = S.modularity_by_group(A, group, labels, 3)
    assert _same(first, _old_modularity(A.copy(), group, labels, 3))
    kept = A.data  # alive: what was derived from it is not dropped by its finaliser
    data = A.data ** 2  # the same ties (symmetric), other weights
    data.flags.writeable = False
    A.data = data  # only the data array is new
    assert _same(S.modularity_by_group(A, group, labels, 3),
                 _old_modularity(A.copy(), group, labels, 3))
    assert _same(ST.strength_concentration(A, group, 3),
                 _old_strength_concentration(A.copy(), group, 3))
    assert kept is not A.data


def test_jaccard_by_group_with_many_groups_takes_the_masked_counts():
    rng = np.random.default_rng(4)
    n, G = 300, 280  # (G + 1)^2 cells above the table's limit for these few keys
    group = rng.integers(-1, G, n)
    a = ST.edge_keys(rng.integers(0, n, 200), rng.integers(0, n, 200), n)
    b = np.union1d(a[rng.random(a.size) < 0.7], ST.edge_keys(rng.integers(0, n, 50),
                                                             rng.integers(0, n, 50), n))
    new = ST.jaccard_by_group(a, b, n, group, G, overall=True)
    old = _old_jaccard_by_group(a, b, n, group, G, overall=True)
    assert _same(new[0], old[0]) and new[1] == old[1]
