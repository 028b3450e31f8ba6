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

__all__ = ["meet", "membership", "pool", "pool_loop"]


def membership(unit: np.ndarray, n_units: int, mask: np.ndarray | None = None) -> sp.csr_array:
    """0/1 ``(n_units, N)`` matrix with a one where agent *i* belongs to ``unit[i]`` (≥ 0)."""
    ok = unit >= 0 if mask is None else (unit >= 0) & mask
    idx = np.flatnonzero(ok)
    return sp.csr_array((np.ones(idx.size), (unit[idx], idx)), shape=(n_units, unit.size))


def pool(members: sp.csr_array, weights: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean of ``x`` rows over each unit's members.

    Returns
    -------
    pooled : ndarray (n_units, K)
        NaN rows for units with zero total weight.
    total : ndarray (n_units,)
        Total attendance weight per unit.
    """
    m = members @ sp.diags_array(weights)
    total = np.asarray(m.sum(axis=1)).ravel()
    s = m @ x
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = s / total[:, None]
    pooled[total <= 0] = np.nan
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
    x: np.ndarray, members: sp.csr_array, weights: np.ndarray, pooling_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pool views and move attendees toward their unit's pooled view.

    Agents with zero weight (absent) are unchanged; an agent attending several units (a
    provider clinician on two boards) moves toward the mean of their pooled views.
    """
    pooled, total = pool(members, weights, x)
    att = members @ sp.diags_array((weights > 0).astype(float))
    att = sp.csr_array(att[total > 0])
    target_sum = att.T @ np.nan_to_num(pooled[total > 0])
    count = np.asarray(att.sum(axis=0)).ravel()
    out = x.copy()
    hit = count > 0
    target = target_sum[hit] / count[hit, None]
    out[hit] = (1.0 - pooling_weight) * x[hit] + pooling_weight * target
    return out, pooled
