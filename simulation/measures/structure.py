"""Structural network measures, overall and per group.

Graphs are symmetric :mod:`scipy.sparse` arrays ``A`` (N x N) of
non-negative tie weights with a zero diagonal; a tie is a non-zero entry.  Every public
function declares this with :func:`_undirected_simple_graph` and refuses other input with a
``ValueError`` naming the function and the first offending entry: a directed (asymmetric)
matrix, a self-loop, a negative, NaN or infinite weight.  (On such input the formulas
silently give values outside their range: a clustering of 1.08 with self-loops, a density
of 1.25, a modularity of -2 with negative weights.)
Group labels are an integer array ``group`` (N,) with values ``0..G-1`` or
``-1`` for nodes in no group.  Unless stated otherwise a per-group measure is
computed on the subgraph *induced* by the group's nodes (ties with both ends
in the group) and returns an array of shape ``(G,)`` with NaN where the group
is too small (or has too few ties) for the measure to be defined.

Everything is computed for all groups at once from the coordinate list of the
graph with :func:`numpy.bincount` and sparse products; there is no Python loop
over nodes or groups.  Betweenness runs Brandes' search as sparse-dense products
level by level (:func:`betweenness`); per group, :func:`betweenness_centralisation_by_group`
searches batches of consecutive groups together.  The tie lists several measures derive
from one read-only matrix (the reporters' per-step adjacency) are computed once
(:func:`_derived`).
"""

from __future__ import annotations

import functools
import weakref

import numpy as np
import scipy.sparse as sp

from .._numeric import csr_product, row_positions

__all__ = [
    "betweenness",
    "betweenness_centralisation",
    "betweenness_centralisation_by_group",
    "clustering_by_group",
    "degree_centralisation_by_group",
    "density_by_group",
    "ego_measures",
    "ei_index_by_group",
    "modularity",
    "modularity_by_group",
    "tie_share_by_type",
    "transitivity_by_group",
]


# ----------------------------------------------------------------------------
# helpers (shared with stability.py)
# ----------------------------------------------------------------------------


def _csr(A):
    """Return `A` as a square float CSR array without explicit zeros.

    A float64 CSR array is taken as it is (no new wrapper), and for one whose arrays are
    read-only (the reporters' adjacency) the scan for explicit zeros is done once
    (:func:`_derived`)."""
    if not (isinstance(A, sp.csr_array) and A.dtype == np.float64):
        A = sp.csr_array(A, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError("A must be a square matrix")
    if A.nnz and _derived(A, "no_zeros", lambda: (np.array([(A.data != 0).all()]),))[0][0]:
        return A
    A = A.copy()
    A.eliminate_zeros()
    return A


def _check_graph(A, where):
    """Refuse anything but an undirected simple graph with finite non-negative weights.

    ``A`` is a square CSR array without explicit zeros (:func:`_csr`); ``where`` names the
    calling function in the message.  Symmetry is checked up to a relative rounding
    tolerance of ``1e-12`` of the largest weight.
    """
    if not A.nnz:
        return A
    d = A.data
    if not np.isfinite(d).all():
        k = int(np.argmax(~np.isfinite(d)))
        i = int(np.searchsorted(A.indptr, k, side="right") - 1)
        raise ValueError(f"{where}: A must have finite tie weights, got A[{i}, {A.indices[k]}] = {d[k]}")
    if d.min() < 0:
        k = int(np.argmin(d))
        i = int(np.searchsorted(A.indptr, k, side="right") - 1)
        raise ValueError(f"{where}: A must have non-negative tie weights, got "
                         f"A[{i}, {A.indices[k]}] = {d[k]}")
    diag = A.diagonal()
    if diag.any():
        i = int(np.flatnonzero(diag)[0])
        raise ValueError(f"{where}: A must have no self-loops (zero diagonal), got "
                         f"{int(np.count_nonzero(diag))} non-zero diagonal entries, the first "
                         f"A[{i}, {i}] = {diag[i]}")
    B = A.T.tocsr()
    B.sort_indices()
    # equal weights pass as allclose would pass them (they are finite here), without its
    # ~6x dearer tolerance arithmetic
    if not (np.array_equal(B.indptr, A.indptr) and np.array_equal(B.indices, A.indices)
            and (np.array_equal(B.data, d) or np.allclose(B.data, d, rtol=1e-12, atol=0.0))):
        D = (A - B).tocoo()
        bad = np.abs(D.data) > 1e-12 * d.max()
        if not bad.any():  # differences within rounding only
            return A
        i, j = int(D.row[bad][0]), int(D.col[bad][0])
        raise ValueError(f"{where}: A must be symmetric (an undirected graph), got "
                         f"A[{i}, {j}] = {A[i, j]} but A[{j}, {i}] = {A[j, i]}")
    return A


def _checked_graph(A, where):
    """:func:`_csr` and :func:`_check_graph`, the verdict remembered for read-only arrays.

    A matrix whose three arrays are read-only (as the reporters' per-step adjacency) cannot
    change after the check, so the several measures computed on it in one step check it
    once (:func:`_derived` keeps the verdict while the matrix lives).
    """
    A = _csr(A)
    _derived(A, "checked", lambda: (_check_graph(A, where), ())[1])
    return A


def _undirected_simple_graph(func):
    """Declare that ``func``'s first argument is an undirected simple weighted graph.

    The decorated function receives ``A`` as a CSR array (:func:`_csr`) after
    :func:`_check_graph` has refused asymmetric matrices, self-loops and negative or
    non-finite weights, in the spirit of networkx's ``@not_implemented_for("directed")``.
    """

    @functools.wraps(func)
    def checked(A, *args, **kwargs):
        return func(_checked_graph(A, func.__name__), *args, **kwargs)

    return checked


# derived from the last read-only matrix ("seen": its three arrays at the last full check)
_DERIVED: dict = {"arrays": (), "where": (), "values": {}, "seen": None}


def _forget(where):
    """Drop what was derived from the matrix at ``where`` (its data array was freed)."""
    if _DERIVED["where"] == where:
        _DERIVED.update(arrays=(), where=(), values={}, seen=None)


def _owner(x):
    """The array that owns ``x``'s memory (``x`` itself, or the base of its views)."""
    while isinstance(x.base, np.ndarray):
        x = x.base
    return x


def _derived(A, key, compute):
    """``compute()``, remembered per ``key`` for a matrix whose arrays are read-only.

    The reporters' per-step adjacency is read-only (it cannot change), and several measures
    of one step derive the same arrays from it (its tie list, the within-group ties); they
    are computed once.  Results are returned read-only.  A matrix with writeable arrays is
    never remembered.  Only the last such matrix is kept (weak references: nothing is held
    alive)."""
    data, indices, indptr = arrays = (A.data, A.indices, A.indptr)
    if data.flags.writeable or indices.flags.writeable or indptr.flags.writeable:
        return compute()
    # the same three array objects as at the last full check (weakly referenced, same
    # shapes): the same memory, so the full check below would find the same matrix
    seen = _DERIVED.get("seen")
    if not (seen is not None and seen[0]() is data and seen[1]() is indices
            and seen[2]() is indptr
            and seen[3] == (data.shape, indices.shape, indptr.shape)):
        # scipy's conversions return views, so an array is known by its memory: the array
        # that owns it (weakly referenced), the address and the shape
        where = tuple((x.__array_interface__["data"][0], x.shape) for x in arrays)
        owners = tuple(_owner(x) for x in arrays)
        refs = _DERIVED["arrays"]
        if (len(refs) != 3 or _DERIVED["where"] != where
                or any(r() is not o for r, o in zip(refs, owners, strict=True))):
            _DERIVED["arrays"] = tuple(weakref.ref(o) for o in owners)
            _DERIVED["where"] = where
            _DERIVED["values"] = {}
            weakref.finalize(owners[0], _forget, where)  # the matrix gone, so is what it gave
        _DERIVED["seen"] = (*(weakref.ref(x) for x in arrays),
                            (data.shape, indices.shape, indptr.shape))
    values = _DERIVED["values"]
    if key not in values:
        out = compute()
        for x in out:
            x.flags.writeable = False
        values[key] = out
    return values[key]


def _edges(A, weighted=True):
    """Return ``(row, col, weight)`` of all ties (each undirected tie twice)."""
    A = _csr(A)
    row = np.repeat(np.arange(A.shape[0], dtype=np.int64), np.diff(A.indptr))
    return row, A.indices.astype(np.int64), (A.data.astype(float) if weighted else np.ones(row.size))


def _check_group(group, n, n_groups):
    """Validate a group label array against the graph size."""
    group = np.asarray(group)
    if group.shape != (n,):
        raise ValueError(f"group must have shape ({n},)")
    if not np.issubdtype(group.dtype, np.integer):
        raise TypeError("group must be an integer array")
    if n and group.max() >= n_groups:
        raise ValueError("group labels must be < n_groups")
    return group.astype(np.int64, copy=False)


def _within(A, group, n_groups, weighted=True):
    """Ties of the group-induced subgraphs.

    Returns ``(row, col, weight, g)`` restricted to ties whose two endpoints
    share a group label ``g >= 0``; each undirected tie appears twice.  Remembered for a
    read-only ``A`` and the same labels (:func:`_derived`).
    """
    A = _csr(A)
    group = _check_group(group, A.shape[0], n_groups)

    def compute():
        # :func:`_edges` filtered, in the small integer type from the start (the rows, the
        # labels) and the weights read from A's own array: the same arrays, fewer bytes moved
        n = A.shape[0]
        small = np.int32 if max(n, n_groups) < 2**31 - 1 else np.int64  # kept: half the bytes
        row = np.repeat(np.arange(n, dtype=small), np.diff(A.indptr))
        labels = group.astype(small)
        gr = labels[row]
        keep = (gr >= 0) & (gr == labels[A.indices])
        # np.compress(keep, x) is x[keep]: the same elements, ~2.5x faster for a dense mask
        return (np.compress(keep, row), np.compress(keep, A.indices).astype(small, copy=False),
                np.compress(keep, A.data).astype(float, copy=False), np.compress(keep, gr),
                group.copy())

    key = ("within", n_groups, hash(group.tobytes()))
    out = _derived(A, key, compute)
    if not np.array_equal(out[4], group):  # a hash collision
        out = compute()
    row, col, w, g, _ = out
    return row, col, (w if weighted else np.ones(row.size)), g


def _within_derived(A, group, n_groups, name, compute, labels=None):
    """``compute(row, col, w, g)`` over :func:`_within`'s (weighted) ties: a tuple of arrays,
    remembered with them for a read-only ``A``, the same labels ``group`` (and ``labels``,
    when given) under ``name`` (:func:`_derived`), so the several measures of one collection
    that need the same per-tie or per-node quantity compute it once.  ``A`` and ``group`` are
    the caller's, already through :func:`_csr` and :func:`_check_group`."""
    keys = (group,) if labels is None else (group, np.asarray(labels))

    def fresh():
        return (*compute(*_within(A, group, n_groups, weighted=True)),
                *(k.copy() for k in keys))

    key = (name, n_groups, *(hash(k.tobytes()) for k in keys), *(k.dtype.str for k in keys))
    out = _derived(A, key, fresh)
    kept = out[len(out) - len(keys):]
    if any(not np.array_equal(a, b) for a, b in zip(kept, keys, strict=True)):
        out = fresh()  # a hash collision
    return out[:len(out) - len(keys)]


def _within_strength(A, group, n_groups):
    """Within-group strength of every node: ``_bincount(row, w, n)`` over the weighted
    within-group ties (shared by :func:`modularity_by_group` and
    :func:`~simulation.measures.stability.strength_concentration`)."""
    n = A.shape[0]
    return _within_derived(A, group, n_groups, "strength",
                           lambda row, col, w, g: (_bincount(row, w, n),))[0]


def _within_counts(A, group, n_groups):
    """Number of within-group tie entries (each tie twice) per group, as floats:
    ``_bincount(g, minlength=n_groups)`` (shared by :func:`density_by_group` and
    :func:`ei_index_by_group`)."""
    def compute(row, col, w, g):
        return (_group_sums(g, n_groups, sorted_=_ascending(g)),)

    return _within_derived(A, group, n_groups, "counts", compute)[0]


def _within_sorted(A, group, n_groups):
    """Whether the within-group ties' labels ``g`` are non-decreasing (they are when the
    nodes are numbered group by group, as the model's agents are)."""
    return bool(_within_derived(A, group, n_groups, "g_sorted",
                                lambda row, col, w, g: (np.array([_ascending(g)]),))[0][0])


def _ascending(x):
    """Whether the 1-D array ``x`` is non-decreasing."""
    return bool((x[1:] >= x[:-1]).all())


def _group_sums(x, size, weights=None, sorted_=False):
    """``_bincount(x, weights, size)`` for integer ``x >= 0``; for a non-decreasing ``x``
    (``sorted_``: the caller's knowledge) without bincount's passes: counts from the bin
    bounds (a search of ``size + 1`` values: for few bins, as groups, not one per node),
    sums by one CSR product over the bins, which
    adds each bin's weights in entry order from zero, as bincount does (each weight times
    1.0: exact), so the same numbers."""
    if not sorted_ or x.size == 0:
        return _bincount(x, weights, size)
    kind = x.dtype if np.iinfo(x.dtype).max > size else np.int64
    bounds = np.searchsorted(x, np.arange(size + 1, dtype=kind))
    if weights is None:
        return np.diff(bounds).astype(float)
    return csr_product(bounds.astype(np.int64), np.zeros(x.size, np.int64),
                       np.asarray(weights, dtype=float), np.ones(1), size)


def _within_same_label(A, group, labels, n_groups):
    """``(same, ok)`` over the within-group tie entries: both ends have the same label, and
    both ends have a label >= 0 (shared by :func:`modularity_by_group` and
    :func:`ei_index_by_group`, which read the same locality labels)."""
    labels = np.asarray(labels)

    def compute(row, col, w, g):
        lr, lc = labels[row], labels[col]
        return lr == lc, (lr >= 0) & (lc >= 0)

    return _within_derived(A, group, n_groups, "same_label", compute, labels=labels)


def _group_sizes(group, n_groups):
    """Return the number of nodes with each label ``0..n_groups-1``."""
    g = group[group >= 0]
    return np.bincount(g, minlength=n_groups)[:n_groups].astype(float)


def _bincount(x, weights=None, minlength=0):
    """Float :func:`numpy.bincount` truncated to `minlength` entries."""
    out = np.bincount(x, weights=weights, minlength=minlength)[:minlength]
    return out.astype(float, copy=False)


def _safe_div(num, den):
    """Elementwise ``num / den`` with NaN where ``den == 0``."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _within_adjacency(A, group, n_groups):
    """Binary CSR adjacency of the union of the group-induced subgraphs."""
    row, col, _, _ = _within(A, group, n_groups, weighted=False)
    n = A.shape[0]
    if not A.has_canonical_format:  # duplicate entries: summed by the conversion
        return sp.csr_array((np.ones(row.size), (row, col)), shape=(n, n))
    # the kept ties are in A's (canonical) CSR order: their rows ascending, columns sorted
    # and unique within a row, so they are the CSR arrays themselves
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=indptr[1:])
    return sp.csr_array((np.ones(row.size), col, indptr), shape=(n, n))


def _unique_int(x):
    """Sorted unique values of an integer array.

    Sort-based (faster than :func:`numpy.unique` for large ``int64`` arrays)
    and free for input that is already strictly increasing.
    """
    x = np.asarray(x, dtype=np.int64).ravel()
    if x.size < 2 or bool(np.all(x[1:] > x[:-1])):
        return x
    s = np.sort(x)
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


def _unique_inverse(x):
    """Return ``(uniq, inverse)`` of an integer array: by a dense table of the values' range
    when it is at most ``4 * x.size + 4096`` wide (no sort), else by one stable argsort."""
    x = np.asarray(x).ravel()
    if x.size and np.issubdtype(x.dtype, np.integer):
        lo, hi = int(x.min()), int(x.max())
        if hi - lo <= 4 * x.size + 4096:
            off = (x - lo).astype(np.int64) if lo else x.astype(np.int64, copy=False)
            seen = np.zeros(hi - lo + 1, bool)
            seen[off] = True
            code = np.cumsum(seen) - 1
            return (np.flatnonzero(seen) + lo).astype(x.dtype, copy=False), code[off]
    order = np.argsort(x, kind="stable")
    s = x[order]
    new = np.concatenate(([True], s[1:] != s[:-1])) if s.size else np.zeros(0, bool)
    inverse = np.empty(x.size, dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return s[new], inverse


_DENSE_LOOKUP = 1 << 24  # a tie look-up table of n * n booleans up to this size (16 MB)
_WEDGE_CHUNK = 1 << 18  # wedges looked up at a time by _triangles (a bound on its memory)
_BIT_LOOKUP = 1 << 28  # above _DENSE_LOOKUP, the look-up table as bits up to this size (32 MB)


def _block_keys(block):
    """``(base, local, size)``: ``base[i] + local[j]`` numbers the node pairs ``(i, j)``
    inside each block of the labels ``block`` densely in ``0..size-1``, block by block
    (``offset[g] + local(i) * n_g + local(j)``; pairs across blocks or with a node labelled
    ``-1`` are not numbered)."""
    member = block >= 0
    n_blocks = int(block.max()) + 1 if member.any() else 0
    ng = np.bincount(block[member], minlength=n_blocks).astype(np.int64)
    offset = np.concatenate([[0], np.cumsum(ng * ng)])
    start = np.concatenate([[0], np.cumsum(ng)])
    order = np.argsort(np.where(member, block, n_blocks), kind="stable")[: int(ng.sum())]
    local = np.zeros(block.size, np.int64)
    g = block[order]
    local[order] = np.arange(order.size) - start[g]
    base = np.zeros(block.size, np.int64)
    base[order] = offset[g] + local[order] * ng[g]
    return base, local, int(offset[-1])


def _triangles(B, block=None):
    r"""Per node ``2 * triangles`` of the binary symmetric `B` (no self-loops): the row sums of
    :math:`(B B) \circ B`, counted exactly by wedge look-ups on the degree-ordered orientation.

    Each tie is kept once, pointing from the endpoint of lower degree to the higher (ties
    broken by index).  A triangle :math:`a \to b, a \to c, b - c` is then found exactly once,
    from its lowest node :math:`a`: every pair of out-ties of :math:`a` (a wedge) is looked
    up in the tie set, and a closed wedge counts one triangle for each of :math:`a, b, c`.
    The orientation keeps out-lists short (hubs point to few nodes), so there are few
    wedges.  The look-up is a dense boolean table: ``n * n`` when that is small
    (``_DENSE_LOOKUP``), or, given ``block`` (a label per node, ``-1`` for nodes without
    ties, such that every tie joins two nodes of one block: the groups of the induced
    subgraphs), one ``n_g * n_g`` table per block; else a binary search in the sorted tie
    keys.  The counts are
    integers: equal to the row sums of :math:`(B B) \circ B` exactly (the tests compare them
    with the previous sparse-product implementation).

    References
    ----------
    .. [1] N. Chiba and T. Nishizeki, "Arboricity and subgraph listing algorithms", SIAM J.
       Comput. 14(1), 210-223, 1985.
    .. [2] M. Latapy, "Main-memory triangle computations for very large (sparse (power-law))
       graphs", Theor. Comput. Sci. 407, 458-473, 2008.
    """
    B = sp.csr_array(B)
    n = B.shape[0]
    d = np.diff(B.indptr)
    rank = np.empty(n, np.int64)
    rank[np.lexsort((np.arange(n), d))] = np.arange(n)
    row = np.repeat(np.arange(n, dtype=np.int64), d)
    col = B.indices.astype(np.int64)
    up = rank[row] < rank[col]
    del rank
    a, b = row[up], col[up]  # the oriented ties a -> b, grouped by a (CSR row order)
    del up
    end = np.cumsum(np.bincount(a, minlength=n))  # end of each node's out-list
    e_pos = np.arange(a.size)
    after = end[a] - e_pos - 1  # out-ties after each one in its node's list
    del end
    w = int(after.sum())
    if w == 0:
        return np.zeros(n)
    if n * n <= _DENSE_LOOKUP:
        base, local, size = np.arange(n) * n, np.arange(n), n * n
    elif block is not None:
        base, local, size = _block_keys(np.asarray(block, np.int64))
    elif n * n <= _BIT_LOOKUP:
        base, local, size = np.arange(n) * n, np.arange(n), n * n
    else:
        size = n * n
    if size <= _DENSE_LOOKUP:
        table = np.zeros(size, bool)
        table[base[row] + local[col]] = True

        def closed(be, bf):
            return table[base[be] + local[bf]]
    elif size <= _BIT_LOOKUP:
        # the same table as bits (an eighth of the bytes; England's 211 groups: 2.4 MB for
        # 19.6 million cells, looked up 4x faster than by binary search in the tie keys)
        cell = base[row] + local[col]
        bits = np.zeros((size >> 3) + 1, np.uint8)
        np.bitwise_or.at(bits, cell >> 3, np.left_shift(1, cell & 7).astype(np.uint8))
        del cell

        def closed(be, bf):
            cell = base[be] + local[bf]
            return (bits[cell >> 3] >> (cell & 7).astype(np.uint8)) & 1 == 1
    else:
        keys = np.sort(row * n + col)

        def closed(be, bf):
            q = be * n + bf
            return keys[np.minimum(np.searchsorted(keys, q), keys.size - 1)] == q
    del row, col
    # the wedges (e, f): out-ties e before f of one node a, to be and bf; taken in chunks of
    # whole out-ties of about _WEDGE_CHUNK wedges, so the wedge arrays stay small (England:
    # 1.05 million wedges, a 96 MB peak in one piece); the counts are integers, so their sum
    # over chunks is exact and the same
    t = np.zeros(n, np.int64)
    cum = np.cumsum(after)
    cuts = np.searchsorted(cum, np.arange(_WEDGE_CHUNK, w, _WEDGE_CHUNK), side="right")
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, a.size], strict=True):
        n_after = after[lo:hi]
        wc = int(n_after.sum())
        if wc == 0:
            continue
        f = np.arange(wc) + np.repeat(e_pos[lo:hi] + 1 - (np.cumsum(n_after) - n_after), n_after)
        ae, be, bf = np.repeat(a[lo:hi], n_after), np.repeat(b[lo:hi], n_after), b[f]
        hit = closed(be, bf)
        t += np.bincount(np.concatenate([ae[hit], be[hit], bf[hit]]), minlength=n)
    return 2.0 * t.astype(float)


# ----------------------------------------------------------------------------
# per-group measures
# ----------------------------------------------------------------------------


@_undirected_simple_graph
def density_by_group(A, group, n_groups):
    r"""Density of each group's induced subgraph.

    Parameters
    ----------
    A : scipy.sparse array, shape (N, N)
        Symmetric tie-weight matrix (weights are ignored: ties are counted).
    group : array_like of int, shape (N,)
        Group label ``0..n_groups-1`` or ``-1``.
    n_groups : int
        Number of groups ``G``.

    Returns
    -------
    numpy.ndarray, shape (G,)
        Density in :math:`[0, 1]`; NaN for groups with fewer than 2 nodes.

    Notes
    -----
    .. math::

        \rho_g = \frac{2 m_g}{n_g (n_g - 1)}

    with :math:`m_g` the number of ties and :math:`n_g` the number of nodes in
    the group's induced subgraph (as :func:`networkx.density`).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> A = sp.csr_array([[0, 1, 1, 0], [1, 0, 0, 0], [1, 0, 0, 1], [0, 0, 1, 0]])
    >>> density_by_group(A, [0, 0, 0, 1], 2).tolist()
    [0.6666666666666666, nan]
    """
    A = _csr(A)
    group = _check_group(group, A.shape[0], n_groups)
    n = _group_sizes(group, n_groups)
    return _safe_div(_within_counts(A, group, n_groups), np.where(n >= 2, n * (n - 1), 0))


def _within_degrees(A, group, n_groups):
    """Unweighted degree of every node inside its group's induced subgraph."""
    row, _, _, _ = _within(A, group, n_groups, weighted=False)
    return _bincount(row, minlength=A.shape[0])


@_undirected_simple_graph
def degree_centralisation_by_group(A, group, n_groups):
    r"""Freeman degree centralisation of each group's induced subgraph.

    Parameters
    ----------
    A : scipy.sparse array, shape (N, N)
        Symmetric tie-weight matrix (ties are counted, weights ignored).
    group : array_like of int, shape (N,)
        Group label ``0..n_groups-1`` or ``-1``.
    n_groups : int
        Number of groups ``G``.

    Returns
    -------
    numpy.ndarray, shape (G,)
        Centralisation in :math:`[0, 1]`: 1 for a star, 0 when all degrees are
        equal.  NaN for groups with fewer than 3 nodes.

    Notes
    -----
    With :math:`d_i` the degree of node :math:`i` inside its group,

    .. math::

        C^D_g = \frac{\sum_{i \in g} (d^{\max}_g - d_i)}{(n_g - 1)(n_g - 2)},

    the denominator being the value of the numerator for a star on
    :math:`n_g` nodes.

    References
    ----------
    .. [1] L. C. Freeman, "Centrality in social networks: conceptual
       clarification", Social Networks 1(3), 215-239, 1979.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> star = sp.csr_array([[0, 1, 1, 1], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])
    >>> degree_centralisation_by_group(star, [0, 0, 0, 0], 1).tolist()
    [1.0]
    """
    A = _csr(A)
    group = _check_group(group, A.shape[0], n_groups)
    d = _within_degrees(A, group, n_groups)
    member = group >= 0
    g = group[member]
    dmax = np.zeros(n_groups)
    np.maximum.at(dmax, g, d[member])
    n = _group_sizes(group, n_groups)
    num = n * dmax - _bincount(g, d[member], minlength=n_groups)
    return _safe_div(num, np.where(n >= 3, (n - 1) * (n - 2), 0))


def _local_clustering_parts(A, group, n_groups):
    """Return ``(2 * triangles, degree)`` per node on the induced subgraphs."""
    B = _within_adjacency(A, group, n_groups)
    d = np.asarray(B.sum(axis=1), dtype=float).ravel()
    return _triangles(B, group), d


@_undirected_simple_graph
def clustering_by_group(A, group, n_groups):
    r"""Average local clustering coefficient of each group's induced subgraph.

    Parameters
    ----------
    A : scipy.sparse array, shape (N, N)
        Symmetric tie-weight matrix (ties are counted, weights ignored).
    group : array_like of int, shape (N,)
        Group label ``0..n_groups-1`` or ``-1``.
    n_groups : int
        Number of groups ``G``.

    Returns
    -------
    numpy.ndarray, shape (G,)
        Mean clustering coefficient in :math:`[0, 1]`; NaN for groups with
        fewer than 3 nodes (no triangle is possible).

    Notes
    -----
    .. math::

        \bar C_g = \frac{1}{n_g} \sum_{i \in g} \frac{2 t_i}{d_i (d_i - 1)},

    where :math:`t_i` is the number of triangles through :math:`i` and
    :math:`d_i` its degree inside the group; nodes with :math:`d_i < 2` count
    as 0, as in :func:`networkx.average_clustering`.  Triangles come from the
    diagonal of :math:`B^3`, the row sums of :math:`(B B) \circ B`, counted on the
    degree-ordered orientation of the ties (``_triangles``).

    References
    ----------
    .. [1] D. J. Watts and S. H. Strogatz, "Collective dynamics of
       'small-world' networks", Nature 393, 440-442, 1998.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> A = sp.csr_array([[0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 0, 1], [0, 0, 1, 0]])
    >>> clustering_by_group(A, [0, 0, 0, 0], 1).round(12).tolist()
    [0.583333333333]
    """
    A = _csr(A)
    group = _check_group(group, A.shape[0], n_groups)
    t2, d = _local_clustering_parts(A, group, n_groups)
    local = _safe_div(t2, d * (d - 1))
    local[d < 2] = 0.0
    member = group >= 0
    n = _group_sizes(group, n_groups)
    return _safe_div(_bincount(group[member], local[member], n_groups), np.where(n >= 3, n, 0))


@_undirected_simple_graph
def transitivity_by_group(A, group, n_groups):
    r"""Transitivity (global clustering) of each group's induced subgraph.

    Parameters
    ----------
    A : scipy.sparse array, shape (N, N)
        Symmetric tie-weight matrix (ties are counted, weights ignored).
    group : array_like of int, shape (N,)
        Group label ``0..n_groups-1`` or ``-1``.
    n_groups : int
        Number of groups ``G``.

    Returns
    -------
    numpy.ndarray, shape (G,)
        Transitivity in :math:`[0, 1]`; NaN for groups with fewer than 3
        nodes; 0 for groups with no connected triple (as
        :func:`networkx.transitivity`).

    Notes
    -----
    .. math::

        T_g = \frac{3 \times \text{triangles}}{\text{connected triples}}
            = \frac{\sum_{i \in g} 2 t_i}{\sum_{i \in g} d_i (d_i - 1)}

    References
    ----------
    .. [1] D. J. Watts and S. H. Strogatz, "Collective dynamics of
       'small-world' networks", Nature 393, 440-442, 1998.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> A = sp.csr_array([[0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 0, 1], [0, 0, 1, 0]])
    >>> transitivity_by_group(A, [0, 0, 0, 0], 1).tolist()
    [0.6]
    """
    A = _csr(A)
    group = _check_group(group, A.shape[0], n_groups)
    t2, d = _local_clustering_parts(A, group, n_groups)
    member = group >= 0
    g = group[member]
    num = _bincount(g, t2[member], n_groups)
    den = _bincount(g, (d * (d - 1))[member], n_groups)
    out = _safe_div(num, den)
    out[den == 0] = 0.0
    out[_group_sizes(group, n_groups) < 3] = np.nan
    return out


def _codes(labels, n):
    """Map arbitrary integer labels to codes ``0..L-1``; return codes and ``L``."""
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},)")
    uniq, codes = _unique_inverse(labels)
    return codes, uniq.size


@_undirected_simple_graph
def modularity(A, labels, weighted=True):
    r"""Newman modularity of a partition of one graph.

    Parameters
    ----------
    A : scipy.sparse array, shape (N, N)
        Symmetric tie-weight matrix.
    labels : array_like, shape (N,)
        Community label of every node; every distinct value (including
        negative ones) is one community.
    weighted : bool, default True
        Use tie weights; if false every tie has weight 1.

    Returns
    -------
    float
        Modularity in :math:`[-1/2, 1)`; NaN for a graph without ties.

    Notes
    -----
    With :math:`m` the total tie weight, :math:`L_c` the weight of ties inside
    community :math:`c` and :math:`D_c` the summed strength of its nodes,

    .. math::

        Q = \sum_c \left[ \frac{L_c}{m} - \left(\frac{D_c}{2m}\right)^2
            \right],

    the same as :func:`networkx.algorithms.community.modularity` with
    resolution 1.

    References
    ----------
    .. [1] M. E. J. Newman, "Modularity and community structure in networks",
       PNAS 103(23), 8577-8582, 2006.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> # two triangles 0-1-2 and 3-4-5 joined by the bridge 2-3
    >>> r = [0, 0, 1, 3, 3, 4, 2]
    >>> c = [1, 2, 2, 4, 5, 5, 3]
    >>> A = sp.coo_array(([1.0] * 7, (r, c)), shape=(6, 6))
    >>> round(modularity(A + A.T, [0, 0, 0, 1, 1, 1]), 12)
    0.357142857143
    """
    A = _csr(A)
    row, col, w = _edges(A, weighted)
    codes, n_lab = _codes(labels, A.shape[0])
    two_m = w.sum()
    if two_m == 0:
        return float("nan")
    strength = _bincount(row, w, A.shape[0])
    d = _bincount(codes, strength, n_lab)
    same = codes[row] == codes[col]
    two_l = w[same].sum()
    return float(two_l / two_m - np.sum((d / two_m) ** 2))


@_undirected_simple_graph
def modularity_by_group(A, group, labels, n_groups, weighted=True):
    r"""Modularity of a partition (e.g. localities) inside each group.

    Parameters
    ----------
    A : scipy.sparse array, shape (N, N)
        Symmetric tie-weight matrix.
    group : array_like of int, shape (N,)
        Group label ``0..n_groups-1`` or ``-1``.
    labels : array_like of int, shape (N,)
        Partition label of every node (every distinct value is one block).
    n_groups : int
        Number of groups ``G``.
    weighted : bool, default True
        Use tie weights; if false every tie has weight 1.

    Returns
    -------
    numpy.ndarray, shape (G,)
        :func:`modularity` of `labels` restricted to each group's induced
        subgraph; NaN for groups without internal ties.

    Notes
    -----
    .. math::

        Q_g = \sum_c \left[ \frac{L_{gc}}{m_g}
            - \left(\frac{D_{gc}}{2 m_g}\right)^2 \right]

    where :math:`m_g` is the tie weight inside group :math:`g`, :math:`L_{gc}`
    the weight of ties inside both :math:`g` and block :math:`c`, and
    :math:`D_{gc}` the within-group strength of the nodes of :math:`g` in
    block :math:`c`.  Only (group, block) pairs that occur are materialised.

    References
    ----------
    .. [1] M. E. J. Newman, "Modularity and community structure in networks",
       PNAS 103(23), 8577-8582, 2006.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> r = [0, 0, 1, 3, 3, 4, 2]
    >>> c = [1, 2, 2, 4, 5, 5, 3]
    >>> A = sp.coo_array(([1.0] * 7, (r, c)), shape=(6, 6))
    >>> modularity_by_group(A + A.T, [0] * 6, [0, 0, 0, 1, 1, 1], 2).round(12).tolist()
    [0.357142857143, nan]
    """
    A = _csr(A)
    n = A.shape[0]
    group = _check_group(group, n, n_groups)
    codes, n_lab = _codes(labels, n)
    row, _, w, g = _within(A, group, n_groups, weighted)
    in_order = _within_sorted(A, group, n_groups)
    two_m = _group_sums(g, n_groups, w, sorted_=in_order)
    # codes[row] == codes[col] is labels[row] == labels[col] (codes number the labels)
    same = _within_same_label(A, group, labels, n_groups)[0]
    two_l = _group_sums(np.compress(same, g), n_groups, np.compress(same, w),  # g[same], w[same]
                        sorted_=in_order)
    strength = _within_strength(A, group, n_groups) if weighted else _bincount(row, w, n)
    member = np.flatnonzero(group >= 0)
    pair = group[member] * np.int64(n_lab) + codes[member]
    upair, inv = _unique_inverse(pair)
    d = _bincount(inv, strength[member], upair.size)
    sq = _bincount(upair // n_lab, d**2, n_groups)
    return _safe_div(two_l, two_m) - _safe_div(sq, two_m**2)


@_undirected_simple_graph
def ei_index_by_group(A, group, labels, n_groups):
    r"""Krackhardt-Stern E-I index of each group's induced subgraph.

    Parameters
    ----------
    A : scipy.sparse array, shape (N, N)
        Symmetric tie-weight matrix (ties are counted, weights ignored).
    group : array_like of int, shape (N,)
        Group label ``0..n_groups-1`` or ``-1``.
    labels : array_like of int, shape (N,)
        Sub-unit of each node (e.g. locality); nodes with a negative label
        have no sub-unit and their ties are left out.
    n_groups : int
        Number of groups ``G``.

    Returns
    -------
    numpy.ndarray, shape (G,)
        E-I index in :math:`[-1, 1]`: -1 when all ties stay inside sub-units,
        +1 when all cross them.  NaN for groups without (labelled) ties.

    Notes
    -----
    .. math::

        EI_g = \frac{E_g - I_g}{E_g + I_g}

    with :math:`E_g` (:math:`I_g`) the number of ties of the group's induced
    subgraph between nodes with different (equal) labels.

    References
    ----------
    .. [1] D. Krackhardt and R. N. Stern, "Informal networks and
       organizational crises: an experimental simulation", Social Psychology
       Quarterly 51(2), 123-140, 1988.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> path = sp.csr_array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]])
    >>> ei_index_by_group(path, [0, 0, 0, 0], [0, 0, 1, 1], 1).round(12).tolist()
    [-0.333333333333]
    """
    A = _csr(A)
    n = A.shape[0]
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},)")
    group = _check_group(group, n, n_groups)
    _, _, _, g = _within(A, group, n_groups, weighted=False)
    same, ok = _within_same_label(A, group, labels, n_groups)
    if ok.all():  # every tie labelled: external = all − internal (exact integer counts)
        internal = _group_sums(np.compress(same, g), n_groups,  # g[same]
                               sorted_=_within_sorted(A, group, n_groups))
        ext = _within_counts(A, group, n_groups) - internal
    else:
        ext = _bincount(g[ok & ~same], minlength=n_groups)
        internal = _bincount(g[ok & same], minlength=n_groups)
    return _safe_div(ext - internal, ext + internal)


@_undirected_simple_graph
def tie_share_by_type(A, source_mask, kind, n_kinds, group, n_groups, weighted=False):
    r"""Share of the source nodes' ties that reach each kind of node, per group.

    Parameters
    ----------
    A : scipy.sparse array, shape (N, N)
        Symmetric tie-weight matrix of the whole network.
    source_mask : array_like of bool, shape (N,)
        Nodes whose ties are counted (e.g. board members).
    kind : array_like of int, shape (N,)
        Kind ``0..n_kinds-1`` of every node; ties to nodes of negative kind are
        ignored.
    n_kinds : int
        Number of kinds.
    group : array_like of int, shape (N,)
        Group label ``0..n_groups-1`` or ``-1``; a tie is attributed to the
        group of its *source* end, the other end may lie in any group or none.
    n_groups : int
        Number of groups ``G``.
    weighted : bool, default False
        Weight ties by tie strength instead of counting them.

    Returns
    -------
    numpy.ndarray, shape (G, n_kinds)
        Row ``g`` is the distribution of the kinds reached by the ties of
        group ``g``'s source nodes; rows sum to 1, NaN rows for groups whose
        sources have no ties.

    Notes
    -----
    .. math::

        S_{gk} = \frac{\#\{(i, j): A_{ij} > 0,\ i \in \mathrm{src},\
            g_i = g,\ \kappa_j = k\}}
            {\#\{(i, j): A_{ij} > 0,\ i \in \mathrm{src},\ g_i = g,\
            \kappa_j \ge 0\}}

    Ties are counted per source end: a tie between two source nodes counts
    once from each end.  Unlike the other per-group measures this one is not
    restricted to the induced subgraph.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> star = sp.csr_array([[0, 1, 1, 1], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])
    >>> src = [True, False, False, False]
    >>> tie_share_by_type(star, src, [0, 1, 1, 2], 3, [0, -1, -1, -1], 1).round(12).tolist()
    [[0.0, 0.666666666667, 0.333333333333]]
    """
    A = _csr(A)
    n = A.shape[0]
    group = _check_group(group, n, n_groups)
    kind = np.asarray(kind, dtype=np.int64)
    source_mask = np.asarray(source_mask, dtype=bool)
    if kind.shape != (n,) or source_mask.shape != (n,):
        raise ValueError(f"kind and source_mask must have shape ({n},)")
    if n and kind.max() >= n_kinds:
        raise ValueError("kind values must be < n_kinds")
    # the rows of the source nodes only (few: board members), in CSR order
    src = np.flatnonzero(source_mask & (group >= 0))
    entry = row_positions(A.indptr, src)
    row, col = np.repeat(src, np.diff(A.indptr)[src]), A.indices[entry]
    w = A.data[entry] if weighted else np.ones(entry.size)
    sel = kind[col] >= 0
    idx = group[row[sel]] * np.int64(n_kinds) + kind[col[sel]]
    counts = _bincount(idx, w[sel], n_groups * n_kinds).reshape(n_groups, n_kinds)
    return _safe_div(counts, counts.sum(axis=1, keepdims=True))


# ----------------------------------------------------------------------------
# whole-graph and ego measures
# ----------------------------------------------------------------------------


@_undirected_simple_graph
def betweenness_centralisation(A, k=None, seed=None):
    r"""Freeman betweenness centralisation of one graph.

    Parameters
    ----------
    A : scipy.sparse array, shape (N, N)
        Symmetric tie-weight matrix; ties are unweighted for shortest paths
        (weights are strengths, not distances).
    k : int, optional
        Number of pivot (source) nodes sampled for the Brandes-Pich
        approximation; ``None`` computes exact betweenness.  Values ``>= N``
        also give the exact result.
    seed : int or numpy.random.Generator, optional
        Randomness for the pivot sample (used only when `k` is given).  With
        ``None`` a fresh, unseeded generator is used; the global random state
        is never touched.

    Returns
    -------
    float
        Centralisation in :math:`[0, 1]`: 1 for a star, 0 for a complete graph
        or a cycle.  NaN for fewer than 3 nodes.

    Notes
    -----
    Freeman's index divides the summed differences from the most central node
    by their maximum, attained by the star:

    .. math::

        C^B = \frac{\sum_i (B_{\max} - B_i)}{(n-1)^2 (n-2)/2}
            = \frac{\sum_i (b_{\max} - b_i)}{n - 1},

    where :math:`B_i` is the raw betweenness (unordered pairs) and
    :math:`b_i = B_i / \binom{n-1}{2}` the normalised betweenness returned by
    :func:`networkx.betweenness_centrality` with ``normalized=True``.  The two
    forms are equal because :math:`(n-1)^2(n-2)/2 = (n-1)\binom{n-1}{2}`.
    Exact computation costs :math:`O(nm)`; the approximation costs
    :math:`O(km)`.

    References
    ----------
    .. [1] L. C. Freeman, "Centrality in social networks: conceptual
       clarification", Social Networks 1(3), 215-239, 1979.
    .. [2] U. Brandes and C. Pich, "Centrality estimation in large networks",
       International Journal of Bifurcation and Chaos 17(7), 2303-2318, 2007.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> star = sp.csr_array([[0, 1, 1, 1], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])
    >>> betweenness_centralisation(star)
    1.0
    """
    A = _csr(A)
    n = A.shape[0]
    if n < 3:
        return float("nan")
    sources, scale = _pivots(n, k, seed)
    raw = betweenness.__wrapped__(A, sources)  # A is checked already
    c = raw * scale
    return float((c.max() - c).sum() / (n - 1))


def _pivots(n, k, seed):
    """Sources of Freeman's index on ``n >= 3`` nodes and the scale of their raw sums: all
    nodes (exact: ``k`` None or ``>= n``) or a sorted sample of ``k`` drawn from ``seed``
    (a Generator, or what :func:`numpy.random.default_rng` takes)."""
    if k is not None and k >= n:
        k = None
    scale = 1.0 / ((n - 1) * (n - 2))
    if k is None:
        return np.arange(n), scale
    if k < 2:
        raise ValueError("k must be at least 2")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=k, replace=False)), scale * n / k


@_undirected_simple_graph
def betweenness_centralisation_by_group(A, group, n_groups, k=None, seeds=None,
                                        cells=1 << 16, kernels=None):
    r"""Freeman betweenness centralisation of every group's induced subgraph at once.

    Parameters
    ----------
    A : scipy.sparse array, shape (N, N)
        Symmetric tie-weight matrix (ties unweighted for shortest paths).
    group : array_like of int, shape (N,)
        Group label of each node, ``-1`` for nodes left out (e.g. absent agents).
    n_groups : int
        Number of groups ``G``.
    k : int, optional
        Pivots per group (Brandes–Pich); ``None``, or ``k`` at least the group's size, is
        exact.
    seeds : sequence of length G, optional
        Per group, what :func:`betweenness_centralisation` takes as ``seed`` (an int, a
        ``SeedSequence`` or a ``Generator``) for its pivot sample.
    cells : int
        Size of the dense work arrays (nodes × sources) of one batch.
    kernels : namespace, optional
        The compiled kernels (:func:`simulation._kernels.kernels`); when given, each batch's
        search runs in :func:`simulation._kernels.brandes_delta`, with the same bits as the
        numpy path (``None``, the reference).

    Returns
    -------
    numpy.ndarray, shape (G,)
        ``betweenness_centralisation(A[idx][:, idx], k, seeds[g])`` for each group's members
        ``idx``: the same pivots, the same breadth-first searches and the same sums, so the
        values agree with the per-group calls up to the order of the final additions (the
        tests check it).  NaN for groups with fewer than 3 members.

    Notes
    -----
    The induced subgraphs are disjoint blocks of one block-diagonal matrix (nodes reordered
    group by group).  Consecutive groups are searched together: column *j* of a batch holds
    the *j*-th pivot of every group in it.  Paths never leave a block, so the searches of
    different groups in one column do not meet, and one sparse product serves all of them
    — the same arithmetic as :func:`betweenness` per group without a Python loop over
    groups.  Batches hold about ``cells`` nodes × sources, so their arrays stay in cache.
    """
    n = A.shape[0]
    group = _check_group(group, n, n_groups)
    out = np.full(n_groups, np.nan)
    order = np.argsort(np.where(group >= 0, group, n_groups), kind="stable")
    size = np.bincount(group[group >= 0], minlength=n_groups)[:n_groups]
    order = order[: int(size.sum())]
    start = np.concatenate([[0], np.cumsum(size)])
    pos = np.full(n, -1, np.int64)
    pos[order] = np.arange(order.size)
    # the block-diagonal matrix of within-group ties, rows and columns in group order; rows
    # keep their ascending columns (positions increase with the node index inside a group)
    small = np.int32 if n < 2**31 - 1 else np.int64  # the temporaries at half the bytes
    row = np.repeat(np.arange(n, dtype=small), np.diff(A.indptr))
    gr = group[row]
    same = np.flatnonzero((gr >= 0) & (gr == group[A.indices]))
    del gr
    r, c = pos[row[same]].astype(small), pos[A.indices[same]].astype(small)
    del row, same
    B = sp.csr_array((np.ones(r.size), (r, c)), shape=(order.size, order.size))
    del r, c
    plan = []  # per group: local sources and the index's scale
    for g in range(n_groups):
        ng = int(size[g])
        if ng < 3:
            plan.append(None)
            continue
        draws = seeds is not None and k is not None and k < ng  # else no seed is read
        plan.append(_pivots(ng, k, seeds[g] if draws else None))
    raw = np.zeros(order.size)
    g = 0
    while g < n_groups:
        if plan[g] is None:
            g += 1
            continue
        # a batch: consecutive groups while nodes × sources stays within ``cells``
        h, width = g, 0
        while h < n_groups and (plan[h] is None or h == g or (start[h + 1] - start[g]) * max(
                width, plan[h][0].size) <= cells):
            if plan[h] is not None:
                width = max(width, plan[h][0].size)
            h += 1
        lo, hi = int(start[g]), int(start[h])
        Bc = sp.csr_array((B.data[B.indptr[lo]:B.indptr[hi]],
                           B.indices[B.indptr[lo]:B.indptr[hi]] - lo,
                           B.indptr[lo:hi + 1] - B.indptr[lo]), shape=(hi - lo, hi - lo))
        srow, scol = [], []
        for q in range(g, h):
            if plan[q] is not None:
                src = plan[q][0]
                srow.append(src + (start[q] - lo))
                scol.append(np.arange(src.size))
        srow, scol = np.concatenate(srow), np.concatenate(scol)
        for c0 in range(0, width, 256):  # exact search of a large group: 256 sources at a time
            sel = (scol >= c0) & (scol < c0 + 256)
            raw[lo:hi] += _brandes_batch(Bc, srow[sel], scol[sel] - c0, min(256, width - c0),
                                         kernels)
        g = h
    for g in range(n_groups):
        if plan[g] is not None:
            ng = int(size[g])
            c = raw[start[g]:start[g + 1]] * plan[g][1]
            out[g] = float((c.max() - c).sum() / (ng - 1))
    return out


def _brandes_batch(A, src, cols, b, kernels=None):
    """Summed dependencies of the sources ``src`` (node ``src[i]`` is the source of column
    ``cols[i]``) on binary ``A``: the level-by-level Brandes search of :func:`betweenness`.

    The search keeps one boolean mask per level (the nodes first reached at that depth) and
    the mask of nodes not reached yet, instead of a distance array compared again at every
    level: the same products and the same sums.  With ``kernels`` (and every stored entry of
    ``A`` 1.0) the search runs in :func:`simulation._kernels.brandes_delta`: the same sums
    in the same order, skipping only terms that are zero."""
    n = A.shape[0]
    if kernels is not None and n > 0 and bool(np.all(A.data == 1.0)):
        delta = kernels.brandes_delta(A.indptr, A.indices, np.asarray(src, np.int64),
                                      np.asarray(cols, np.int64), b)
        delta[src, cols] = 0.0
        return delta.sum(axis=1)
    sigma = np.zeros((n, b))
    sigma[src, cols] = 1.0
    unseen = np.ones((n, b), bool)
    unseen[src, cols] = False
    levels = [~unseen]  # levels[d]: first reached at depth d
    frontier = sigma.copy()
    while True:
        nxt = A @ frontier
        nxt *= unseen  # only nodes not reached yet
        reached = nxt > 0
        if not reached.any():
            break
        levels.append(reached)
        np.logical_and(unseen, ~reached, out=unseen)
        sigma += nxt  # zero outside the newly reached nodes
        frontier = nxt
    depth = len(levels) - 1
    delta = np.zeros((n, b))
    safe_sigma = np.where(sigma > 0, sigma, 1.0)
    for d in range(depth, 0, -1):
        coef = (1.0 + delta) / safe_sigma
        coef *= levels[d]
        contrib = A @ coef
        contrib *= sigma
        contrib *= levels[d - 1]
        delta += contrib
    delta[src, cols] = 0.0
    return delta.sum(axis=1)


@_undirected_simple_graph
def betweenness(A, sources=None, batch=256):
    r"""Raw shortest-path betweenness from the given sources (Brandes 2001), vectorised.

    Parameters
    ----------
    A : scipy.sparse array, shape (N, N)
        Symmetric adjacency; any stored non-zero is a tie (unweighted paths).
    sources : array_like of int, optional
        Source nodes (default all).  With all sources the result counts every ordered pair,
        i.e. twice the undirected betweenness.
    batch : int
        Sources processed together as rows of dense (batch, N) arrays.

    Returns
    -------
    numpy.ndarray, shape (N,)
        :math:`\sum_{s \in S} \delta_s(v)` with the dependency
        :math:`\delta_s(v) = \sum_{w: v \in P_s(w)} \frac{\sigma_{sv}}{\sigma_{sw}}(1 + \delta_s(w))`.

    Notes
    -----
    Breadth-first search runs level by level for a batch of sources at once as sparse-dense
    products (path counts :math:`\sigma` of the next level are ``A @ frontier``); the
    dependencies are accumulated backwards level by level the same way.  Equal to
    :func:`networkx.betweenness_centrality` (``normalized=False``, times 2 for undirected
    graphs) — see the tests.

    References
    ----------
    .. [1] U. Brandes, "A faster algorithm for betweenness centrality", J. Math. Sociol.
       25(2), 163-177, 2001.
    """
    A = _csr(A)
    n = A.shape[0]
    A = sp.csr_array((np.ones(A.nnz), A.indices, A.indptr), shape=A.shape)
    sources = np.arange(n) if sources is None else np.asarray(sources, np.int64)
    total = np.zeros(n)
    for start in range(0, sources.size, batch):
        src = sources[start : start + batch]
        total += _brandes_batch(A, src, np.arange(src.size), src.size)
    return total


@_undirected_simple_graph
def ego_measures(A, nodes=None, weighted=False):
    r"""Ego-network measures: size, density, effective size and constraint.

    Parameters
    ----------
    A : scipy.sparse array, shape (N, N)
        Symmetric tie-weight matrix.
    nodes : array_like of int, optional
        Egos to measure; all nodes if omitted.
    weighted : bool, default False
        Use tie weights in Burt's constraint (size, density and effective size
        are always computed on unweighted ties).

    Returns
    -------
    dict of numpy.ndarray
        Arrays aligned with `nodes`:

        ``"node"``
            the ego ids;
        ``"size"``
            number of alters (degree);
        ``"density"``
            ties among alters / possible ties among alters, in
            :math:`[0, 1]`; NaN for fewer than 2 alters;
        ``"effective_size"``
            Burt's effective size :math:`n - 2t/n`, in :math:`[1, n]`; NaN
            for isolates;
        ``"constraint"``
            Burt's constraint, positive (1 for a pendant node, :math:`1/n`
            for the centre of a star with :math:`n` leaves); NaN for
            isolates.

    Notes
    -----
    With :math:`n` alters and :math:`t` ties among them, the density is
    :math:`t / \binom{n}{2}` and the effective size (redundancy-corrected
    number of alters, in Borgatti's unweighted form) is

    .. math::

        E_i = n - \frac{2t}{n}.

    Constraint uses the proportional tie strengths
    :math:`p_{ij} = a_{ij} / \sum_k a_{ik}`:

    .. math::

        c_i = \sum_{j \in N(i)} \Bigl(p_{ij}
            + \sum_{q \ne i, j} p_{iq} p_{qj}\Bigr)^2
            = \sum_{j \in N(i)} \bigl(P + P^2\bigr)_{ij}^2,

    the second form holding because the diagonal of :math:`P` is zero.  This
    matches :func:`networkx.constraint` and :func:`networkx.effective_size`.

    References
    ----------
    .. [1] R. S. Burt, *Structural Holes: The Social Structure of
       Competition*, Harvard University Press, 1992.
    .. [2] S. P. Borgatti, "Structural holes: unpacking Burt's redundancy
       measures", Connections 20(1), 35-38, 1997.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> star = sp.csr_array([[0, 1, 1, 1], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])
    >>> m = ego_measures(star, [0, 1])
    >>> m["size"].tolist(), m["effective_size"].tolist()
    ([3.0, 1.0], [3.0, 1.0])
    >>> m["constraint"].round(12).tolist()
    [0.333333333333, 1.0]
    """
    A = _csr(A)
    n_all = A.shape[0]
    nodes = np.arange(n_all) if nodes is None else np.asarray(nodes, dtype=np.int64).ravel()
    B = A.copy()
    B.data[:] = 1.0
    Bn = B[nodes, :]
    size = np.asarray(Bn.sum(axis=1), dtype=float).ravel()
    t = _triangles_rows(Bn, B) / 2.0
    pairs = size * (size - 1) / 2.0
    density = _safe_div(t, pairs)
    eff = _safe_div(size * size - 2.0 * t, size)

    W = A if weighted else B
    s = np.asarray(W.sum(axis=1), dtype=float).ravel()
    inv = _safe_div(1.0, s)
    inv[np.isnan(inv)] = 0.0
    P = sp.diags_array(inv) @ W
    Pn = P[nodes, :]
    M = (Pn + Pn @ P).multiply(Bn)
    constraint = np.asarray(M.power(2).sum(axis=1), dtype=float).ravel()
    constraint[size == 0] = np.nan
    return {
        "node": nodes,
        "size": size,
        "density": density,
        "effective_size": eff,
        "constraint": constraint,
    }


def _triangles_rows(Bn, B):
    """``2 * triangles`` for the egos whose rows of `B` are `Bn`."""
    return np.asarray((Bn @ B).multiply(Bn).sum(axis=1), dtype=float).ravel()
