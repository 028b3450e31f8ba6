"""Meetings: locality sub-groups and boards pool what their attendees know.

A meeting of unit *u* (a locality or a board) with attendees :math:`A_u` and attendance
weights :math:`\\omega_i` (engagement) forms the pooled view

.. math:: \\bar b_u = \\sum_{i \\in A_u} \\omega_i b_i \\Big/ \\sum_{i \\in A_u} \\omega_i

and every attendee moves toward it, :math:`b'_i = (1-m) b_i + m \\bar b_u`, with pooling
weight *m* (DeGroot-style averaging on the complete graph of attendees; cf. the locality
groups of the study, which "linked commissioning decisions with patient needs").
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._numeric import csr_product

__all__ = ["meet", "membership", "pool", "pool_loop"]


def membership(unit: np.ndarray, n_units: int, mask: np.ndarray | None = None) -> sp.csr_array:
    """0/1 ``(n_units, N)`` matrix with a one where agent *i* belongs to ``unit[i]`` (≥ 0)."""
    ok = unit >= 0 if mask is None else (unit >= 0) & mask
    idx = np.flatnonzero(ok)
    return sp.csr_array((np.ones(idx.size), (unit[idx], idx)), shape=(n_units, unit.size))


def _pairs(members: sp.csr_array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit, agent, value) of the stored entries of a CSR membership matrix.

    The unit of every entry depends on the row pointers only; it is computed once per
    membership matrix and kept on the matrix (``_unit_of_entry``, checked against the identity
    of its ``indptr``, so a matrix given new row pointers recomputes it)."""
    indptr = members.indptr
    cached = getattr(members, "_unit_of_entry", None)
    if cached is None or cached[0] is not indptr:
        rows = np.repeat(np.arange(members.shape[0]), np.diff(indptr))
        members._unit_of_entry = cached = (indptr, rows)
    return cached[1], members.indices, members.data


def _one_unit_each(members: sp.csr_array) -> bool:
    """Whether no agent has entries in two rows (units) of a membership matrix; computed once
    per matrix and kept on it (``_one_unit``, checked against the identity of its
    ``indices``)."""
    indices = members.indices
    cached = getattr(members, "_one_unit", None)
    if cached is None or cached[0] is not indices:
        one = bool(np.bincount(indices, minlength=1).max(initial=0) <= 1)
        members._one_unit = cached = (indices, one)
    return cached[1]


def _sum_rows(index: np.ndarray, weights: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    """Σ over entries e with index[e] = u of weights[e] · x[e], for u < n (bincount per column)."""
    out = np.empty((n, x.shape[1]))
    for k in range(x.shape[1]):
        out[:, k] = np.bincount(index, weights=weights * x[:, k], minlength=n)
    return out


def pool(members: sp.csr_array, weights: np.ndarray,
         x: np.ndarray | tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean of ``x`` rows over each unit's members.

    ``x`` may be a tuple of ``(N, K_i)`` arrays, pooled as their column stack would be (one
    sparse product per array, the same products added in the same order), without stacking
    them.

    Returns
    -------
    pooled : ndarray (n_units, K)
        NaN rows for units with zero total weight.
    total : ndarray (n_units,)
        Total attendance weight per unit.
    """
    rows, cols, vals = _pairs(members)
    w = vals * weights[cols]
    n_units = members.shape[0]
    total = np.bincount(rows, weights=w, minlength=n_units)
    # Σ_e w_e x[cols_e] per unit as one sparse product over the membership structure: the
    # same products added in the same (entry) order as a bincount per column, so the same
    # bits; scipy's own loop, without building the weighted matrix (csr_product)
    if isinstance(x, tuple):  # a product per state (contiguous), stacked: units x K is small
        s = np.concatenate([csr_product(members.indptr, cols, w, a, n_units) for a in x], axis=1)
    else:
        s = csr_product(members.indptr, cols, w, x, n_units)
    # s / total, NaN where total <= 0 (or NaN): the same quotients, no division by zero
    pooled = np.full_like(s, np.nan)
    np.divide(s, total[:, None], out=pooled, where=(total > 0)[:, None])
    return pooled, total


def pool_loop(members: sp.csr_array, weights: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain-loop reference of :func:`pool`."""
    dense = members.toarray()
    n_units, n = dense.shape
    pooled = np.full((n_units, x.shape[1]), np.nan)
    total = np.zeros(n_units)
    for u in range(n_units):
        acc = np.zeros(x.shape[1])
        for i in range(n):
            if dense[u, i]:
                acc += dense[u, i] * weights[i] * x[i]
                total[u] += dense[u, i] * weights[i]
        if total[u] > 0:
            pooled[u] = acc / total[u]
    return pooled, total


def meet(
    x: np.ndarray | tuple[np.ndarray, ...], members: sp.csr_array, weights: np.ndarray,
    pooling_weight: float, kernels=None
) -> tuple[np.ndarray | tuple[np.ndarray, ...], np.ndarray]:
    """Pool views and move attendees toward their unit's pooled view.

    Agents with zero weight (absent) are unchanged; an agent attending several units (a
    provider clinician on two boards) moves toward the mean of their pooled views.

    ``x`` may be a tuple of ``(N, K_i)`` arrays (beliefs and objectives): they are pooled
    together, as their column stack would be, and a tuple of new arrays is returned, with the
    same bits as splitting the result for the stack (no stack, no split copies).

    ``kernels``, if given, are the compiled kernels (:func:`simulation._kernels.kernels`,
    passed in by the model): the arrays are then pooled and moved in one compiled pass
    (:func:`simulation._kernels.meet_pool`, one or two arrays; the same bits as the
    numpy path below).
    """
    parts = x if isinstance(x, tuple) else (x,)
    if kernels is not None and len(parts) <= 2:
        n = parts[0].shape[0]
        two = len(parts) == 2
        a, b, pooled = kernels.meet_pool(
            members.indptr, members.indices, members.data, np.asarray(weights, dtype=np.float64),
            np.ascontiguousarray(parts[0], dtype=np.float64),
            np.ascontiguousarray(parts[1], dtype=np.float64) if two else np.empty((n, 0)),
            float(pooling_weight), _one_unit_each(members))
        return ((a, b) if two else (a,) if isinstance(x, tuple) else a), pooled
    pooled, total = pool(members, weights, x)
    rows, cols, _ = _pairs(members)
    att = (weights[cols] > 0) & (total[rows] > 0)
    rows, cols = rows[att], cols[att]
    n = parts[0].shape[0]
    outs, col = [], 0
    # each attendee in one unit (localities): its pool; known without counting when nobody
    # belongs to two units of the matrix
    single = _one_unit_each(members)
    if not single:
        count = np.bincount(cols, minlength=n)
        single = count.max(initial=0) <= 1
    if not single:
        # per attendee, the sum of its units' pools: a sparse product over (attendee, unit)
        # entries, each attendee's in ascending unit order (``rows`` ascends: a stable sort by
        # attendee keeps it), the additions of a bincount per column; the CSR structure is
        # laid out directly (what COO -> CSR gives, without building the matrices)
        hit = np.flatnonzero(count > 0)
        at = np.searchsorted(hit, cols)
        order = np.argsort(at, kind="stable")
        indptr = np.zeros(hit.size + 1, np.int64)
        np.cumsum(count[hit], out=indptr[1:])
        target = csr_product(indptr, rows[order].astype(np.int64), np.ones(cols.size), pooled,
                             hit.size) / count[hit, None]
    for part in parts:
        k = part.shape[1]
        out = part.copy()
        # row gathers by take (the same rows as fancy indexing, faster for 2-D arrays)
        if single:
            out[cols] = ((1.0 - pooling_weight) * part.take(cols, axis=0)
                         + pooling_weight * pooled[:, col:col + k].take(rows, axis=0))
        else:
            out[hit] = ((1.0 - pooling_weight) * part.take(hit, axis=0)
                        + pooling_weight * target[:, col:col + k])
        outs.append(out)
        col += k
    return (tuple(outs) if isinstance(x, tuple) else outs[0]), pooled


def meet_loop(
    x: np.ndarray, members: sp.csr_array, weights: np.ndarray, pooling_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """Plain-loop reference of :func:`meet` (one unit, then one agent at a time)."""
    pooled, total = pool_loop(members, weights, x)
    dense = members.toarray()
    out = x.copy()
    for i in range(x.shape[0]):
        targets = [pooled[u] for u in range(dense.shape[0])
                   if dense[u, i] and weights[i] > 0 and total[u] > 0]
        if targets:
            target = sum(targets) / len(targets)
            out[i] = (1.0 - pooling_weight) * x[i] + pooling_weight * target
    return out, pooled
