"""Stability measures: persistence of ties, people and decisions over time.

Tie sets are represented by sorted unique ``int64`` keys
``min(u, v) * n + max(u, v)`` (see :func:`edge_keys`), so that comparisons
between two snapshots are set operations on integer arrays.
"""

from __future__ import annotations

import math

import numpy as np

from .knowledge import mean_by_group, tv_distance
from .structure import _bincount, _check_group, _csr, _safe_div, _unique_int, _within_strength

__all__ = [
    "decision_volatility",
    "edge_keys",
    "jaccard",
    "jaccard_by_group",
    "retention",
    "strength_concentration",
]


def edge_keys(src, dst, n):
    r"""Integer keys of undirected edges.

    Parameters
    ----------
    src, dst : array_like of int, shape (E,)
        Endpoints of the edges (either orientation, duplicates allowed).
    n : int
        Number of nodes; node ids must lie in ``0..n-1``.

    Returns
    -------
    numpy.ndarray of int64, shape (E',)
        Sorted unique keys :math:`\min(u, v)\, n + \max(u, v)`.  Self-loops
        are kept (key :math:`u n + u`).

    Notes
    -----
    Keys are unique for :math:`n^2 < 2^{63}`; ``u, v = divmod(key, n)``
    recovers the endpoints.

    Examples
    --------
    >>> edge_keys([2, 0, 1], [0, 2, 3], 4).tolist()
    [2, 7]
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    if src.shape != dst.shape:
        raise ValueError("src and dst must have the same shape")
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
        raise ValueError("node ids must lie in 0..n-1")
    return _unique_int(np.minimum(src, dst) * np.int64(n) + np.maximum(src, dst))


def jaccard(keys_a, keys_b):
    r"""Jaccard similarity of two sets of edge keys.

    Parameters
    ----------
    keys_a, keys_b : array_like of int
        Edge keys of two snapshots (e.g. from :func:`edge_keys`).

    Returns
    -------
    float
        :math:`|a \cap b| / |a \cup b|` in :math:`[0, 1]`; NaN when both
        sets are empty (the persistence of no ties is undefined, not perfect).

    Notes
    -----
    .. math::

        J(a, b) = \frac{|a \cap b|}{|a \cup b|}

    Examples
    --------
    >>> jaccard([1, 2, 3], [2, 3, 4])
    0.5
    """
    a = _unique_int(keys_a)
    b = _unique_int(keys_b)
    inter = int(_contains(a, b).sum())
    union = a.size + b.size - inter
    return math.nan if union == 0 else inter / union


def _contains(sorted_keys, x):
    """Elementwise membership of `x` in the sorted unique array `sorted_keys`."""
    if sorted_keys.size == 0:
        return np.zeros(x.shape, dtype=bool)
    i = np.minimum(np.searchsorted(sorted_keys, x), sorted_keys.size - 1)
    return sorted_keys[i] == x


def _shared_keys(a, b):
    """The keys held by both sorted unique integer arrays ``a`` and ``b``, sorted: the
    repeated values of their concatenation sorted by numpy's stable sort, which merges the
    two sorted runs (faster than a binary search of each key of ``a`` in ``b``)."""
    c = np.sort(np.concatenate([a, b]), kind="stable")
    return np.compress(c[1:] == c[:-1], c[1:])  # = c[1:][mask], ~2.5x faster for dense masks


def jaccard_by_group(keys_a, keys_b, n, group, n_groups, overall=False):
    r"""Jaccard similarity of two tie snapshots, per group.

    Parameters
    ----------
    keys_a, keys_b : array_like of int
        Edge keys (:func:`edge_keys`) of two snapshots on the same ``n`` nodes.
    n : int
        Number of nodes used to build the keys.
    group : array_like of int, shape (n,)
        Group label ``0..n_groups-1`` or ``-1``.
    n_groups : int
        Number of groups ``G``.
    overall : bool
        Also return :func:`jaccard` of the whole snapshots (from the same intersection).

    Returns
    -------
    numpy.ndarray, shape (G,)
        Jaccard similarity in :math:`[0, 1]`; NaN for groups touched by no
        edge in either snapshot (as :func:`jaccard` of two empty sets).  With
        ``overall``, the tuple ``(per_group, jaccard(keys_a, keys_b))``.

    Notes
    -----
    An edge belongs to group :math:`g` if *at least one* endpoint is in
    :math:`g`, so ties from a group's members to outside nodes (e.g. shared
    providers with label ``-1``) count, and a tie between two groups counts
    for both.  With :math:`E_g(\cdot)` those edges of a snapshot,

    .. math::

        J_g = \frac{|E_g(a) \cap E_g(b)|}{|E_g(a) \cup E_g(b)|}.

    The shared edges come from one stable sort of both key lists (a merge of two sorted
    runs: :func:`_shared_keys`), counts by :func:`numpy.bincount` and
    :math:`|A \cup B| = |A| + |B| - |A \cap B|`.

    Examples
    --------
    >>> a = edge_keys([0, 2], [1, 3], 4)
    >>> b = edge_keys([0, 1], [1, 2], 4)
    >>> jaccard_by_group(a, b, 4, [0, 0, 1, 1], 2).tolist()
    [0.5, 0.0]
    """
    group = _check_group(group, n, n_groups)
    a = _unique_int(keys_a)
    b = _unique_int(keys_b)

    size = n_groups + 1
    shifted = group + 1  # labels + 1: 0 is "no group", so counts need no masks

    def owned(keys):
        """Edges per group: an edge counts for the group of each end (once if both ends
        share it), as floats (integer counts, exact): from the table of edges by the
        (shifted) groups of their two ends, its row and column sums less its diagonal."""
        u = keys // np.int64(n)  # with v: np.divmod(keys, n), ~4x faster
        v = keys - u * np.int64(n)
        gu, gv = shifted[u], shifted[v]
        if size * size > max(4 * keys.size, 1 << 16):  # many groups: no table
            gv[gv == gu] = 0  # the second end's group only where it differs
            counts = np.bincount(gu, minlength=size)[:size] + np.bincount(gv, minlength=size)[:size]
            return counts[1:].astype(float)
        table = np.bincount(gu * np.int64(size) + gv, minlength=size * size).reshape(size, size)
        counts = table.sum(axis=1) + table.sum(axis=0) - np.diagonal(table)
        return counts[1:].astype(float)

    shared = _shared_keys(a, b)  # a ∩ b
    n_a = owned(a)
    n_b = owned(b)
    # |E_g(a) ∩ E_g(b)|: the shared edges counted by owner (integer counts: the same numbers
    # as adding a 0/1 membership weight over a's edges)
    n_inter = owned(shared)
    n_union = n_a + n_b - n_inter  # |A ∪ B| = |A| + |B| − |A ∩ B|, per group
    out = _safe_div(n_inter, n_union)
    out[n_union == 0] = np.nan
    if overall:
        total = int(shared.size)
        union = a.size + b.size - total
        return out, (math.nan if union == 0 else total / union)
    return out


def strength_concentration(A, group, n_groups, top=3):
    r"""Share of a group's tie strength held by its ``top`` strongest nodes.

    Parameters
    ----------
    A : scipy.sparse array, shape (N, N)
        Symmetric tie-weight matrix.
    group : array_like of int, shape (N,)
        Group label ``0..n_groups-1`` or ``-1``.
    n_groups : int
        Number of groups ``G``.
    top : int, default 3
        Number of leading nodes.

    Returns
    -------
    numpy.ndarray, shape (G,)
        Concentration in :math:`(0, 1]` (key-leader dependence): 1 when the
        group has at most `top` nodes with ties, or when they hold all of its
        strength; at least :math:`\min(1, \mathrm{top}/n_g)`.  NaN for groups
        with no within-group ties.

    Notes
    -----
    With within-group strength :math:`s_i = \sum_{j: g_j = g_i} a_{ij}` and
    :math:`T_g` the `top` nodes of group :math:`g` with the largest
    :math:`s_i` (ties in strength broken by node id),

    .. math::

        K_g = \frac{\sum_{i \in T_g} s_i}{\sum_{i \in g} s_i}.

    Ranks within groups come from one :func:`numpy.lexsort` by
    ``(group, -strength)``; when the members come group by group (labels ascending, as the
    model numbers its agents) the ``top`` leaders are taken round by round with
    ``reduceat`` instead (:func:`_top_share_sorted`, the same numbers).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> star = sp.csr_array([[0, 1, 1, 1], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])
    >>> strength_concentration(star, [0, 0, 0, 0], 1, top=1).tolist()
    [0.5]
    """
    if top < 1:
        raise ValueError("top must be >= 1")
    A = _csr(A)
    n = A.shape[0]
    group = _check_group(group, n, n_groups)
    s = _within_strength(A, group, n_groups)
    members = np.flatnonzero(group >= 0)
    gm = group[members]
    if top <= 8 and gm.size and bool((gm[1:] >= gm[:-1]).all()) and np.isfinite(s).all():
        return _top_share_sorted(s[members], gm, n_groups, top)
    order = members[np.lexsort((-s[members], gm))]
    g_sorted = group[order]
    size = np.bincount(g_sorted, minlength=n_groups)  # g_sorted ascending: groups in blocks
    first = np.repeat(np.cumsum(size) - size, size)  # where each node's group block begins
    rank = np.arange(order.size) - first
    lead = order[rank < top]
    total = _bincount(group[members], s[members], n_groups)
    held = _bincount(group[lead], s[lead], n_groups)
    return _safe_div(held, np.where(total > 0, total, 0.0))


def _top_share_sorted(s, g, n_groups, top):
    """:func:`strength_concentration` from the members' strengths ``s`` (finite) and their
    labels ``g`` (ascending: the members come group by group), without the sort.

    Each round takes, in every group, the largest strength left and the first member (lowest
    id) holding it — the member the stable sort by ``(group, -strength)`` puts next — adds it
    to the group's held strength and drops it: after ``top`` rounds each group has added its
    leading members in the sorted order, from zero, as the bincount over them did.  Group
    blocks come from the labels; maxima and first positions by ``reduceat`` (exact)."""
    size = np.bincount(g, minlength=n_groups)[:n_groups]
    total = _bincount(g, s, n_groups)
    nonempty = np.flatnonzero(size > 0)
    sz = size[nonempty]
    start = (np.cumsum(size) - size)[nonempty]
    left = s.copy()
    pos = np.arange(left.size)
    held = np.zeros(n_groups)
    for t in range(min(top, int(sz.max()))):
        best = np.maximum.reduceat(left, start)
        at = np.minimum.reduceat(np.where(left == np.repeat(best, sz), pos, left.size), start)
        live = sz > t  # groups with a member left
        at = at[live]
        held[nonempty[live]] += left[at]
        left[at] = -np.inf
    return _safe_div(held, np.where(total > 0, total, 0.0))


def decision_volatility(alloc_now, alloc_prev):
    r"""Change of allocations between two decisions.

    Parameters
    ----------
    alloc_now, alloc_prev : array_like, shape (..., K)
        Allocation distributions now and at the previous decision.

    Returns
    -------
    numpy.ndarray or float
        TV distance per row, in :math:`[0, 1]`: the share of the budget that
        was moved between services.

    Notes
    -----
    .. math::

        V = \mathrm{TV}(a_t, a_{t-1})

    Examples
    --------
    >>> decision_volatility([[0.6, 0.4]], [[0.5, 0.5]]).round(12).tolist()
    [0.1]
    """
    return tv_distance(alloc_now, alloc_prev)


def retention(ids_now, ids_then, group, n_groups, mask=None):
    r"""Share of each group's slots whose occupant is unchanged.

    Parameters
    ----------
    ids_now, ids_then : array_like of int, shape (S,)
        Occupant id of every slot (e.g. board seats) now and at the earlier
        time.
    group : array_like of int, shape (S,)
        Group of every slot, ``0..n_groups-1`` or ``-1``.
    n_groups : int
        Number of groups ``G``.
    mask : array_like of bool, shape (S,), optional
        Only slots where `mask` is true count (e.g. to drop seats vacant at
        either time).

    Returns
    -------
    numpy.ndarray, shape (G,)
        Retention in :math:`[0, 1]`; NaN for groups without slots.

    Notes
    -----
    .. math::

        R_g = \frac{\#\{s \in g : \mathrm{id}^{now}_s =
            \mathrm{id}^{then}_s\}}{\#\{s \in g\}}

    Ids are compared literally, so two vacancies coded with the same id count
    as retained unless masked out.

    Examples
    --------
    >>> retention([1, 2, 9, 4], [1, 2, 3, 5], [0, 0, 0, 1], 2).round(12).tolist()
    [0.666666666667, 0.0]
    """
    now = np.asarray(ids_now)
    then = np.asarray(ids_then)
    if now.shape != then.shape:
        raise ValueError("ids_now and ids_then must have the same shape")
    return mean_by_group((now == then).astype(float), group, n_groups, mask=mask)
