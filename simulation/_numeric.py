"""Numerical helpers shared by the model's kernels and the metrics (no model imports)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

try:  # scipy's own CSR × dense loops (csr_product); private, so checked once below
    from scipy.sparse import _sparsetools
except ImportError:  # pragma: no cover - a scipy without the module: the public product
    _sparsetools = None

__all__ = ["csr_product", "distinct_rows", "row_positions", "row_sums"]


def row_sums(x: np.ndarray) -> np.ndarray:
    """``x.sum(axis=1)`` of a 2-D float64 array, bit for bit, about 3x faster for K = 8.

    numpy adds the few elements of each row with its pairwise summation (for K ≥ 8: eight
    running sums over the row's blocks of eight, combined as ``((r0+r1)+(r2+r3)) +
    ((r4+r5)+(r6+r7))``, then the remaining elements in order; below 8 elements in order),
    one short inner loop per row.  Here the same additions run column-wise over all rows at
    once.  C-contiguous float64 arrays with 1 to 128 columns take this path; anything else
    is ``x.sum(axis=1)`` itself.  The test suite checks the bits against numpy for K = 1..40.
    """
    k = x.shape[1]
    if not (x.dtype == np.float64 and x.flags.c_contiguous and 1 <= k <= 128):
        return x.sum(axis=1)
    if k < 8:
        out = x[:, 0] + 0.0  # numpy starts from 0.0
        for j in range(1, k):
            out += x[:, j]
        return out
    full = k - k % 8
    if full == 8:
        r = [x[:, j] for j in range(8)]
    else:
        r = [x[:, j] + x[:, 8 + j] for j in range(8)]
        for i in range(16, full, 8):
            for j in range(8):
                r[j] += x[:, i + j]
    out = r[0] + r[1]
    out += r[2] + r[3]
    rest = r[4] + r[5]
    rest += r[6] + r[7]
    out += rest
    for i in range(full, k):
        out += x[:, i]
    return out


def row_positions(indptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Positions of the stored entries of CSR rows ``rows``, concatenated in row order.

    Examples
    --------
    >>> row_positions(np.array([0, 2, 2, 5]), np.array([2, 0])).tolist()
    [2, 3, 4, 0, 1]
    """
    rows = np.asarray(rows, np.int64)
    start = indptr[rows].astype(np.int64)
    length = indptr[rows + 1].astype(np.int64) - start
    # entry p of the concatenation: its row's start + p - (entries of the earlier rows)
    return np.repeat(start - (np.cumsum(length) - length), length) + np.arange(int(length.sum()))


#: Odd 64-bit multipliers of :func:`_row_keys` (golden ratio, xxHash primes).
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))


def _row_keys(m: sp.csr_array, indptr: np.ndarray, length: np.ndarray, pos: np.ndarray
              ) -> np.ndarray:
    """A 64-bit hash of each CSR row's entries (column, value bits, place in the row)."""
    with np.errstate(over="ignore"):
        z = (m.data.view(np.uint64) ^ (m.indices.astype(np.uint64) + _MIX[1]) * _MIX[0]
             ^ (pos.astype(np.uint64) + 1) * _MIX[2])
        # splitmix64's finaliser: every input bit moves many output bits (a plain sum of
        # products would let sign bits cancel: +0.0 and -0.0 differ only in the top bit)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        mix = z ^ (z >> np.uint64(31))
        total = np.concatenate([np.zeros(1, np.uint64), np.cumsum(mix, dtype=np.uint64)])
        key = (total[indptr[1:]] - total[indptr[:-1]]) ^ (length.astype(np.uint64) * _MIX[1])
    return key


def distinct_rows(m: sp.csr_array, most: float = 0.5) -> tuple[sp.csr_array, np.ndarray] | None:
    """The distinct rows of a CSR matrix and each row's index among them, or None.

    Two rows are the same when they store the same columns with the same values (bits) in
    the same order, so ``m @ x`` equals ``(distinct @ x)[inverse]`` bit for bit: each row's
    product is the same sum in the same order.  Rows are grouped by a 64-bit hash of their
    entries (column, value bits and position, wrapping sums) and then compared entry by
    entry with their group's first row; on a hash collision (a row unequal to it) the answer
    is None, as it is when more than ``most`` of the rows are distinct (a gather would not
    pay).  ``distinct`` keeps the first row of each group.

    Examples
    --------
    >>> m = sp.csr_array(np.array([[1.0, 0], [0, 2], [1, 0], [1, 0]]))
    >>> d, inverse = distinct_rows(m)
    >>> d.toarray().tolist(), inverse.tolist()
    ([[1.0, 0.0], [0.0, 2.0]], [0, 1, 0, 0])
    """
    n = m.shape[0]
    if n == 0 or m.format != "csr" or m.data.dtype != np.float64:
        return None
    indptr = m.indptr.astype(np.int64)
    length = np.diff(indptr)
    row = np.repeat(np.arange(n), length)
    pos = np.arange(m.nnz) - indptr[row]  # each entry's place in its row
    key = _row_keys(m, indptr, length, pos)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    if first.size > most * n:
        return None
    rep = first[inverse]
    if not np.array_equal(length[rep], length):
        return None
    other = indptr[rep][row] + pos  # the same entry of the group's first row
    if not (np.array_equal(m.indices[other], m.indices)
            and np.array_equal(m.data[other].view(np.uint64), m.data.view(np.uint64))):
        return None  # a hash collision: no shortcut
    at = row_positions(m.indptr, first)
    sub_ptr = np.concatenate([[0], np.cumsum(length[first])]).astype(m.indptr.dtype)
    distinct = sp.csr_array((m.data[at], m.indices[at], sub_ptr), shape=(first.size, m.shape[1]))
    return distinct, inverse.ravel()


def csr_product(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, x: np.ndarray,
                n_rows: int) -> np.ndarray:
    """``csr_array((data, indices, indptr), shape=(n_rows, len(x))) @ x``, bit for bit.

    The same C loop scipy runs for a sparse × dense product (``csr_matvec`` for a vector,
    ``csr_matvecs`` for a matrix, into zeros), without building the matrix object: its
    constructor's format checks cost more than the product for the small per-group
    aggregations of the metrics (~25 µs a call).  ``indptr`` and ``indices`` must share one
    integer dtype and describe a valid CSR structure (the caller's guarantee: nothing is
    checked); ``data`` and ``x`` are float64 (``x`` 1-D or 2-D).
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    data = np.asarray(data, dtype=np.float64)
    if not _PRIVATE_LOOP_OK:  # the public product: the same loop behind scipy's dispatch
        return sp.csr_array((data, indices, indptr), shape=(n_rows, x.shape[0])) @ x
    if x.ndim == 1:
        out = np.zeros(n_rows)
        _sparsetools.csr_matvec(n_rows, x.shape[0], indptr, indices, data, x, out)
    else:
        out = np.zeros((n_rows, x.shape[1]))
        _sparsetools.csr_matvecs(n_rows, x.shape[0], x.shape[1], indptr, indices, data,
                                 x.ravel(), out.ravel())
    return out


def _private_loop_ok() -> bool:
    """Whether scipy's private CSR loops exist and give the public product's bits on a small
    case (checked once at import, so a scipy that renames or changes them falls back to the
    public ``csr_array @ x`` instead of failing)."""
    global _PRIVATE_LOOP_OK
    if _sparsetools is None:
        return False
    indptr = np.array([0, 2, 3], np.int32)
    indices = np.array([0, 2, 1], np.int32)
    data = np.array([0.1, 0.7, 0.3])
    x1 = np.array([0.2, 0.5, 0.9])
    x2 = np.arange(6.0).reshape(3, 2) / 7.0
    public = sp.csr_array((data, indices, indptr), shape=(2, 3))
    try:
        _PRIVATE_LOOP_OK = True
        same = (np.array_equal(csr_product(indptr, indices, data, x1, 2), public @ x1)
                and np.array_equal(csr_product(indptr, indices, data, x2, 2), public @ x2))
    except Exception:  # any failure of a private API means: do not use it
        same = False
    return same


_PRIVATE_LOOP_OK = False
_PRIVATE_LOOP_OK = _private_loop_ok()
