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


@pytest.mark.parametrize("lookup", ["default", "blocks", "sorted"])
def test_triangles_equal_previous(monkeypatch, lookup):
    for A, group, n_groups in _cases():
        B = S._within_adjacency(A, group, n_groups)
        old = _triangles_products(B)
        # the n * n table, the per-group tables (n * n above the limit) or the sorted keys
        limit = {"default": S._DENSE_LOOKUP, "sorted": 0,
                 "blocks": S._block_keys(group)[1] if group.size else 0}[lookup]
        with monkeypatch.context() as mp:
            mp.setattr(S, "_DENSE_LOOKUP", limit)
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
        key, size = S._block_keys(block)
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        same = (block[i] == block[j]) & (block[i] >= 0)
        k = key(i[same], j[same])
        assert np.array_equal(np.sort(k), np.arange(size))
