"""The compiled Brandes kernel (simulation._kernels.brandes_delta): the betweenness searches of
simulation.measures.structure with it give bit for bit the numpy path's results (the
reference), compiled by numba and run as plain Python, on random graphs and groups with edge
cases (groups of fewer than 3 members, disconnected groups, absent nodes, exact searches of
more than 256 sources in two chunks, stars, paths, isolated nodes)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

from simulation import _kernels
from simulation.measures import structure as S

try:
    import numba  # noqa: F401

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is a dependency
    HAVE_NUMBA = False

PYTHON = SimpleNamespace(brandes_delta=_kernels.brandes_delta)  # the kernel before numba


@pytest.fixture
def compiled(monkeypatch):
    if not HAVE_NUMBA:
        pytest.skip("numba not installed")
    monkeypatch.setenv("COMMNET_KERNELS", "numba")
    return _kernels.kernels()


def graph(rng, n, p, isolated=0.0):
    """A random undirected simple graph (symmetric, binary, no loops) as a CSR array."""
    if n == 0:
        return sp.csr_array((0, 0))
    upper = sp.triu(sp.random_array((n, n), density=p, rng=rng), k=1)
    M = ((upper + upper.T) > 0).astype(float).tocsr()
    if isolated:
        keep = (rng.random(n) >= isolated).astype(float)
        M = sp.csr_array(sp.diags_array(keep) @ M @ sp.diags_array(keep))
        M.eliminate_zeros()
    return sp.csr_array(M)


def star(n):
    r = np.zeros(n - 1, np.int64)
    c = np.arange(1, n)
    M = sp.csr_array((np.ones(2 * (n - 1)), (np.r_[r, c], np.r_[c, r])), shape=(n, n))
    return M


def path(n):
    r = np.arange(n - 1)
    M = sp.csr_array((np.ones(2 * (n - 1)), (np.r_[r, r + 1], np.r_[r + 1, r])), shape=(n, n))
    return M


def both(A, group, n_groups, kern, **kw):
    a = S.betweenness_centralisation_by_group(A, group, n_groups, **kw)
    b = S.betweenness_centralisation_by_group(A, group, n_groups, kernels=kern, **kw)
    return a, b


def test_by_group_random_graphs(compiled):
    rng = np.random.default_rng(20261206)
    for trial in range(40):
        n = int(rng.integers(0, 700))
        G = int(rng.integers(1, 7))
        A = graph(rng, n, rng.uniform(0.001, 0.06), isolated=rng.choice([0.0, 0.2]))
        group = rng.integers(-1, G, n)
        if n and trial % 5 == 0:
            group[group == 0] = -1  # an empty group
            group[: min(2, n)] = 0  # a group of fewer than 3 members
        k = [None, 2, 5, 32, 300][trial % 5]
        seeds = [trial * 100 + g for g in range(G)]
        cells = [1 << 16, 1 << 10, 64][trial % 3]
        a, b = both(A, group, G, compiled, k=k, seeds=seeds, cells=cells)
        assert np.array_equal(a, b, equal_nan=True), trial


def test_exact_two_chunks_and_disconnected(compiled):
    rng = np.random.default_rng(7)
    # group 0: 600 members in two components (exact: 256 + 256 + 88 sources); group 1: a path;
    # group 2: a star; group 3: two members; group 4: isolated nodes only
    A0 = sp.block_diag([graph(rng, 350, 0.02), graph(rng, 250, 0.03)], format="csr")
    blocks = [A0, path(40), star(30), path(2), sp.csr_array((5, 5))]
    A = sp.csr_array(sp.block_diag(blocks, format="csr"))
    group = np.repeat(np.arange(5), [b.shape[0] for b in blocks])
    perm = rng.permutation(group.size)  # groups interleaved in node order
    A = sp.csr_array(A[perm][:, perm])
    A.sort_indices()
    group = group[perm]
    a, b = both(A, group, 5, compiled)
    assert np.isnan(a[3]) and np.isnan(b[3])
    assert np.array_equal(a, b, equal_nan=True)
    a, b = both(A, group, 5, compiled, k=40, seeds=list(range(5)))
    assert np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("n", [3, 4, 17, 300])
def test_star_and_path(compiled, n):
    for A in (star(n), path(n)):
        a, b = both(A, np.zeros(n, np.int64), 1, compiled)
        assert np.array_equal(a, b)
    assert S.betweenness_centralisation_by_group(star(n), np.zeros(n, np.int64), 1,
                                                 kernels=compiled)[0] == 1.0


def _batches(rng, kern):
    """``_brandes_batch`` with ``kern`` against the numpy path on small random batches."""
    for trial in range(60):
        n = int(rng.integers(1, 60))
        A = graph(rng, n, rng.uniform(0.02, 0.3), isolated=rng.choice([0.0, 0.3]))
        b = int(rng.integers(1, 9))
        src, cols = [], []
        for c in range(b):  # one source per column, some columns without one
            if rng.random() < 0.8:
                src.append(int(rng.integers(n)))
                cols.append(c)
        src, cols = np.array(src, np.int64), np.array(cols, np.int64)
        ref = S._brandes_batch(A, src, cols, b)
        got = S._brandes_batch(A, src, cols, b, kern)
        assert np.array_equal(ref, got), trial


def test_batch_plain_python():
    _batches(np.random.default_rng(3), PYTHON)


def test_batch_compiled(compiled):
    _batches(np.random.default_rng(4), compiled)


def test_plain_python_by_group():
    rng = np.random.default_rng(11)
    for trial in range(6):
        n = int(rng.integers(5, 80))
        A = graph(rng, n, 0.08)
        group = rng.integers(-1, 3, n)
        a, b = both(A, group, 3, PYTHON, k=[None, 4][trial % 2], seeds=[1, 2, 3])
        assert np.array_equal(a, b, equal_nan=True)


def test_non_binary_falls_back():
    """A matrix whose stored entries are not all 1.0 runs the numpy path (same result)."""
    A = path(6)
    A.data[:] = 2.0
    src, cols = np.array([0, 3]), np.array([0, 1])
    assert np.array_equal(S._brandes_batch(A, src, cols, 2),
                          S._brandes_batch(A, src, cols, 2, PYTHON))


def test_kernel_plain_loop_dependencies():
    """The kernel's delta on a path from its end: dependencies n-1-v for the inner nodes."""
    n = 6
    A = path(n)
    delta = _kernels.brandes_delta(A.indptr, A.indices, np.array([0]), np.array([0]), 1)
    assert delta[:, 0].tolist() == [0.0, 4.0, 3.0, 2.0, 1.0, 0.0]
