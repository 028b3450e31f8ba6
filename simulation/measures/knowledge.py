r"""Knowledge measures: accuracy, dispersion and detection of beliefs.

Beliefs are discrete distributions over ``K`` services stored as the rows of a
float array of shape ``(..., K)`` whose rows sum to one.  All distances between
distributions are total variation distances,

.. math::

    \mathrm{TV}(p, q) = \tfrac12 \sum_{k=1}^{K} |p_k - q_k| \in [0, 1].

The functions are pure and vectorised; "per group" functions aggregate rows
with :func:`numpy.bincount` and never loop over nodes in Python.
"""

from __future__ import annotations

import numpy as np

from .._numeric import csr_product, row_sums

__all__ = [
    "GroupIndex",
    "accuracy",
    "detection_time",
    "dispersion",
    "dispersion_by_group",
    "mean_by_group",
    "tv_distance",
]


def tv_distance(p, q):
    r"""Row-wise total variation distance between two sets of distributions.

    Parameters
    ----------
    p, q : array_like, shape (..., K)
        Distributions along the last axis.  The leading axes broadcast against
        each other, so one distribution can be compared with many.

    Returns
    -------
    numpy.ndarray or float
        ``TV(p, q)`` for every row, shape ``broadcast(p, q).shape[:-1]``
        (a 0-d result for two single distributions).

    Notes
    -----
    .. math::

        \mathrm{TV}(p, q) = \tfrac12 \sum_k |p_k - q_k|

    For distributions the value lies in :math:`[0, 1]`: 0 for identical rows and
    1 for rows with disjoint support.

    Examples
    --------
    >>> float(tv_distance([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]))
    0.5
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if (p.ndim == 2 and p.shape[0] >= 2 * _TV_CHUNK and 1 <= p.shape[1] <= 128
            and (q.shape == p.shape or q.shape == p.shape[1:])):
        return _tv_rows_chunked(p, q)
    d = np.subtract(p, q)
    np.abs(d, out=d)  # in place: one temporary, the same arithmetic
    return 0.5 * (row_sums(d) if d.ndim == 2 else d.sum(axis=-1))


_TV_CHUNK = 8192  # rows of tv_distance's blocks: (8192, K) differences stay in the cache


def _tv_rows_chunked(p, q):
    """:func:`tv_distance` of many rows, block by block of ``_TV_CHUNK`` rows: the same
    subtraction, absolute value and row sums (:func:`row_sums`: column by column, each row on
    its own), so the same numbers; the column passes of a block read it from the cache
    instead of memory (about 1.8x faster for 60,000 rows of 6)."""
    n, k = p.shape
    out = np.empty(n)
    buf = np.empty((_TV_CHUNK, k))
    whole = q.ndim == 2
    for i in range(0, n, _TV_CHUNK):
        j = min(i + _TV_CHUNK, n)
        d = buf[: j - i]
        np.subtract(p[i:j], q[i:j] if whole else q, out=d)
        np.abs(d, out=d)
        out[i:j] = row_sums(d)
    out *= 0.5  # = 0.5 * sums, elementwise
    return out


def accuracy(belief, truth):
    r"""Row-wise accuracy of beliefs: one minus the TV distance to the truth.

    Parameters
    ----------
    belief : array_like, shape (..., K)
        Believed distributions (e.g. a board's belief about need by service).
    truth : array_like, shape (..., K)
        True distributions; broadcasts against `belief`.

    Returns
    -------
    numpy.ndarray or float
        Accuracy per row.

    Notes
    -----
    .. math::

        \mathrm{acc}(b, t) = 1 - \mathrm{TV}(b, t) \in [0, 1],

    1 for a perfect belief and 0 for a belief with support disjoint from the
    truth.

    Examples
    --------
    >>> accuracy([[1.0, 0.0], [0.5, 0.5]], [0.75, 0.25]).tolist()
    [0.75, 0.75]
    """
    return 1.0 - tv_distance(belief, truth)


def _group_index(group, n_groups, mask):
    """Validate group labels and return the selection of rows to aggregate."""
    group = np.asarray(group)
    if group.ndim != 1:
        raise ValueError("group must be a 1-D integer array")
    if not np.issubdtype(group.dtype, np.integer):
        raise TypeError("group must be an integer array")
    if group.size and group.max(initial=-1) >= n_groups:
        raise ValueError("group labels must be < n_groups")
    keep = group >= 0
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != group.shape:
            raise ValueError("mask must have the same shape as group")
        keep &= mask
    return group, keep


def _group_sums(values, group, n_groups, weights=None):
    """Sum ``weights * values`` per group with one :func:`numpy.bincount` call.

    `values` is ``(N,)`` or ``(N, K)``; `group` holds labels ``0..n_groups-1``
    (callers remove negative labels first).  Returns ``(G,)`` or ``(G, K)``.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        if weights is not None:
            values = values * weights
        return np.bincount(group, weights=values, minlength=n_groups)[:n_groups]
    # one bincount per column: per group the same products added in the same (row) order as
    # one bincount over (group, column) keys, without the (N, K) key array
    out = np.empty((n_groups, values.shape[1]))
    for k in range(values.shape[1]):
        col = values[:, k] if weights is None else values[:, k] * weights
        out[:, k] = np.bincount(group, weights=col, minlength=n_groups)[:n_groups]
    return out


class GroupIndex:
    """The selection of rows that :func:`mean_by_group` aggregates, prepared once and
    reusable for several value arrays with the same ``group`` and ``mask`` (the reporters
    share one per mask within a collection).

    ``GroupIndex(group, n_groups, mask).mean(values, weights)`` is
    ``mean_by_group(values, group, n_groups, mask, weights)`` bit for bit — it is its
    implementation: the same selection, the same kernel (a CSR product over the group
    boundaries when the selected labels are sorted and more than 64, else one bincount per
    column), the same additions in the same order.

    Attributes
    ----------
    rows : numpy.ndarray
        The selected rows (label ≥ 0 and ``mask``), ascending.
    g : numpy.ndarray
        Their labels.
    indptr : numpy.ndarray of int64 or None
        The group boundaries in ``rows`` when the labels are sorted (the CSR path), else None.
    """

    __slots__ = ("_counts", "_keys", "_local", "g", "indptr", "n", "n_groups", "rows")

    def __init__(self, group, n_groups, mask=None, labels_sorted=False):
        """``labels_sorted=True`` is the caller's guarantee that the labels ≥ 0 of ``group``
        are sorted (agents numbered group by group): every selection of them is then sorted
        too, and the check of the selected labels is skipped (the same kernel is chosen)."""
        group, keep = _group_index(group, n_groups, mask)
        self.n = group.shape[0]
        self.n_groups = n_groups
        rows = np.flatnonzero(keep)
        g = group[rows]
        self.g = g
        self._counts = None
        self._local = None
        self._keys = {}  # mean_columns' bincount keys by number of columns
        if g.size > 64 and (labels_sorted or bool((g[1:] >= g[:-1]).all())):
            # the group boundaries searched in g's own integer type (an int64 needle made
            # numpy convert the whole int32 label array on every call: 6x slower at England)
            kind = g.dtype if np.issubdtype(g.dtype, np.integer) and \
                np.iinfo(g.dtype).max > n_groups else np.int64
            self.indptr = np.searchsorted(g, np.arange(n_groups + 1, dtype=kind)).astype(np.int64)
            self.rows = np.asarray(rows, np.int64)
        else:
            self.indptr = None
            self.rows = rows

    def selected(self) -> GroupIndex:
        """The index over the selected rows themselves: ``.selected().mean(v[rows])`` is
        ``mean_by_group(v[rows], g, n_groups)`` (values already gathered)."""
        if self._local is None:
            local = GroupIndex.__new__(GroupIndex)
            local.n = self.rows.size
            local.n_groups = self.n_groups
            local.g = self.g
            local.indptr = self.indptr
            local.rows = np.arange(self.rows.size, dtype=np.int64 if self.indptr is not None
                                   else np.intp)
            local._counts = None
            local._local = None
            local._keys = {}
            self._local = local
        return self._local

    def mean(self, values, weights=None):
        """Weighted mean of ``values`` (N,) or (N, K) per group over the selected rows (NaN
        where a group has no selected row or zero total weight): :func:`mean_by_group`."""
        values = np.asarray(values, dtype=float)
        if values.shape[0] != self.n:
            raise ValueError("values and group must have the same length")
        n_groups, rows = self.n_groups, self.rows
        w, totals = self._weights(weights)
        if self.indptr is not None:
            # the selected rows of each group are one row of a (G, N) CSR matrix M holding the
            # weights (ones without weights), and M @ values adds, per group, the same products
            # in the same (row) order as the bincounts do — bit for bit — in one pass over the
            # values instead of one per column
            sums = csr_product(self.indptr, rows, w, values, n_groups)
        else:  # unit weights (w None): counts, and sums of the values (v·1 = v)
            sums = _group_sums(np.take(values, rows, axis=0), self.g, n_groups, w)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = sums / (totals if sums.ndim == 1 else totals[:, None])
        out[totals <= 0] = np.nan
        return out

    def _weights(self, weights):
        """The selected rows' weights as :meth:`mean` uses them and each group's total: on the
        CSR path the entries of the (G, N) matrix (ones without weights) and their row sums
        (the counts, kept); on the bincount path the weights (None without) and their
        bincount (the counts)."""
        n_groups, rows = self.n_groups, self.rows
        if self.indptr is not None:
            if weights is None:
                if self._counts is None:
                    self._counts = np.diff(self.indptr).astype(float)
                return np.ones(rows.size), self._counts
            data = np.asarray(weights, dtype=float)[rows]
            return data, csr_product(self.indptr, rows, data, np.ones(self.n), n_groups)
        if weights is None:
            return None, np.bincount(self.g, minlength=n_groups)[:n_groups].astype(float)
        w = np.asarray(weights, dtype=float)[rows]
        return w, np.bincount(self.g, weights=w, minlength=n_groups)[:n_groups]

    def mean_columns(self, columns, weights=None):
        """The weighted means per group of several value arrays at once: a
        (len(columns), G) array whose row ``j`` is ``self.mean(columns[j], weights)`` bit for
        bit (each column (N,) summed by the same kernel, one CSR product or bincount per
        column; the weights' totals, the division and the NaN of empty groups done once for
        all the columns)."""
        n_groups, rows = self.n_groups, self.rows
        sums = np.empty((len(columns), n_groups))
        values = [np.asarray(v, dtype=float) for v in columns]
        if any(v.ndim != 1 or v.shape[0] != self.n for v in values):
            raise ValueError("values and group must have the same length")
        w, totals = self._weights(weights)
        if self.indptr is not None:  # the CSR path of mean(), column by column
            for j, v in enumerate(values):
                sums[j] = csr_product(self.indptr, rows, w, v, n_groups)
        else:  # the bincount path of mean(), every column in one bincount
            g = self.g
            # column j's (row, value × weight) added into bin j·G + label: per bin the same
            # products added in the same (row) order, from zero, as one bincount per column
            taken = np.empty((len(values), rows.size))
            every = rows.size == self.n  # every row selected: rows is 0..n-1
            for j, v in enumerate(values):
                taken[j] = v if every else v[rows]
            if weights is not None:
                taken *= w
            keys = self._keys.get(len(values))
            if keys is None:
                keys = self._keys[len(values)] = (
                    np.arange(len(values), dtype=np.int64)[:, None] * n_groups + g).ravel()
            sums[:] = np.bincount(keys, weights=taken.ravel(),
                                  minlength=sums.size)[:sums.size].reshape(sums.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = sums / totals
        out[:, totals <= 0] = np.nan
        return out

    def dispersion(self, beliefs, weights=None):
        """:func:`dispersion_by_group` over the selected rows: the weighted mean per group of
        each row's TV distance to its group's weighted mean row."""
        b = np.asarray(beliefs, dtype=float)
        means = self.mean(b, weights)
        rows = self.rows
        # the rows gathered by np.take (the same rows, ~3x faster than fancy indexing of a
        # 2-D array); the group means repeated block by block when the rows come group by
        # group (the CSR path), which is means[g] without a gather
        if b.ndim == 2 and rows.size >= 2 * _TV_CHUNK and 1 <= b.shape[1] <= 128:
            # block by block: each block's rows and their group means gathered into the
            # cache, then tv_distance of the block (the same rows, the same numbers)
            dist = np.empty(rows.size)
            g = self.g
            for i in range(0, rows.size, _TV_CHUNK):
                j = min(i + _TV_CHUNK, rows.size)
                dist[i:j] = tv_distance(np.take(b, rows[i:j], axis=0),
                                        np.take(means, g[i:j], axis=0))
        else:
            own = np.take(b, rows, axis=0)
            if self.indptr is not None:
                centre = np.repeat(means, np.diff(self.indptr), axis=0)
            else:
                centre = np.take(means, self.g, axis=0)
            dist = tv_distance(own, centre)
        return self.selected().mean(dist, None if weights is None
                                    else np.asarray(weights)[rows])


def mean_by_group(values, group, n_groups, mask=None, weights=None):
    r"""Weighted mean of values (or of distribution rows) per group.

    Parameters
    ----------
    values : array_like, shape (N,) or (N, K)
        One value (or one row) per node.
    group : array_like of int, shape (N,)
        Group label ``0..n_groups-1`` of each node, or ``-1`` for no group.
    n_groups : int
        Number of groups ``G``.
    mask : array_like of bool, shape (N,), optional
        Only rows where `mask` is true are used.
    weights : array_like, shape (N,), optional
        Non-negative weights; equal weights if omitted.

    Returns
    -------
    numpy.ndarray, shape (G,) or (G, K)
        Weighted mean per group; NaN for groups with no selected rows (or with
        zero total weight).

    Notes
    -----
    .. math::

        \bar v_g = \frac{\sum_{i: g_i = g} w_i v_i}{\sum_{i: g_i = g} w_i}

    Rows with label ``-1`` are ignored.

    Examples
    --------
    >>> mean_by_group([1.0, 3.0, 5.0, 7.0], [0, 0, 1, -1], 3).tolist()
    [2.0, 5.0, nan]
    """
    return GroupIndex(group, n_groups, mask).mean(values, weights)


def dispersion(beliefs, weights=None):
    r"""Weighted mean TV distance of beliefs to their weighted mean belief.

    Parameters
    ----------
    beliefs : array_like, shape (N, K) or (K,)
        One distribution per row.  A single distribution has dispersion 0.
    weights : array_like, shape (N,), optional
        Non-negative weights of the rows; equal weights if omitted.

    Returns
    -------
    float
        Dispersion in :math:`[0, 1]`; NaN when there are no rows (or zero total
        weight).

    Notes
    -----
    With :math:`\bar b = \sum_i w_i b_i / \sum_i w_i`,

    .. math::

        D = \frac{\sum_i w_i \, \mathrm{TV}(b_i, \bar b)}{\sum_i w_i}.

    0 when all rows agree (in particular for one row).  The supremum 1 is
    approached by many rows that are point masses on distinct services.

    Examples
    --------
    >>> dispersion([[1.0, 0.0], [0.0, 1.0]])
    0.5
    """
    b = np.asarray(beliefs, dtype=float)
    if b.ndim == 1:
        b = b[None, :]
    w = np.ones(b.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    total = w.sum()
    if b.shape[0] == 0 or total <= 0:
        return float("nan")
    mean = (w[:, None] * b).sum(axis=0) / total
    return float((w * tv_distance(b, mean)).sum() / total)


def dispersion_by_group(beliefs, group, n_groups, mask=None, weights=None):
    r"""Dispersion of beliefs within each group.

    Parameters
    ----------
    beliefs : array_like, shape (N, K)
        One distribution per node.
    group : array_like of int, shape (N,)
        Group label ``0..n_groups-1`` of each node, or ``-1`` for no group.
    n_groups : int
        Number of groups ``G``.
    mask : array_like of bool, shape (N,), optional
        Only rows where `mask` is true are used (e.g. board members).
    weights : array_like, shape (N,), optional
        Non-negative row weights; equal weights if omitted.

    Returns
    -------
    numpy.ndarray, shape (G,)
        :func:`dispersion` of the selected rows of each group, in
        :math:`[0, 1]`; NaN for groups without selected rows.

    Notes
    -----
    .. math::

        D_g = \frac{\sum_{i \in g} w_i \, \mathrm{TV}(b_i, \bar b_g)}
                   {\sum_{i \in g} w_i}

    computed with two :func:`numpy.bincount` passes (group means, then the
    group sums of distances), without any Python loop.

    Examples
    --------
    >>> b = [[1.0, 0.0], [0.0, 1.0], [0.3, 0.7]]
    >>> dispersion_by_group(b, [0, 0, 1], 3).tolist()
    [0.5, 0.0, nan]
    """
    return GroupIndex(group, n_groups, mask).dispersion(beliefs, weights)


def detection_time(series, shock_step, baseline_window=3, fraction=0.5, true_series=None):
    r"""Count the steps until a belief series registers a shock.

    Parameters
    ----------
    series : array_like, shape (T,)
        The board's belief in the shocked service at each step (index = step).
    shock_step : int
        Step at which the shock happens.  ``series[shock_step]`` is the first
        value that can reflect it.
    baseline_window : int, default 3
        Number of values before the shock averaged into the baseline
        (fewer if the series starts later than that).
    fraction : float, default 0.5
        Share of the baseline-to-target gap that must be closed, in (0, 1].
    true_series : array_like, shape (T,), optional
        The true value of the quantity; the target is
        ``true_series[shock_step]``.  If omitted the target is the maximum of
        ``series[shock_step:]`` (an upward shock is assumed).

    Returns
    -------
    float
        ``t - shock_step`` for the first step ``t >= shock_step`` at which the
        series reaches the threshold (0 if it already does at `shock_step`);
        ``numpy.inf`` if it never does; NaN if `true_series` is given and the
        target equals the baseline up to rounding (nothing to detect).

    Notes
    -----
    With :math:`\beta` the mean of ``series[shock_step - baseline_window :
    shock_step]`` and :math:`\tau` the target, the threshold is

    .. math::

        \theta = \beta + f \, (\tau - \beta).

    For an upward shift (:math:`\tau > \beta`) detection is the first
    :math:`t \ge t_s` with :math:`x_t \ge \theta`; for a downward shift
    (possible only with `true_series`) the first with :math:`x_t \le \theta`.
    The comparison includes equality so that ``fraction=1`` with the default
    (maximum) target detects at the step the maximum is reached.  When the
    target is the series maximum and it does not exceed the baseline (up to
    a relative rounding tolerance of 1e-9), the series never rose, and the
    result is ``inf``.  NaN values in `series`
    never count as a detection.  The result is in ``[0, T - 1 - shock_step]``
    or ``inf``.

    Examples
    --------
    >>> detection_time([0.2, 0.2, 0.2, 0.3, 0.5, 0.6, 0.6], shock_step=3)
    1.0
    """
    x = np.asarray(series, dtype=float)
    if x.ndim != 1:
        raise ValueError("series must be 1-D")
    if not 0 < shock_step < x.size:
        raise ValueError("shock_step must be in 1..len(series)-1 (a baseline is needed)")
    if baseline_window < 1:
        raise ValueError("baseline_window must be >= 1")
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    baseline = float(np.mean(x[max(0, shock_step - baseline_window) : shock_step]))
    after = x[shock_step:]
    if true_series is not None:
        target = float(np.asarray(true_series, dtype=float)[shock_step])
        if np.isclose(target, baseline, rtol=1e-9, atol=1e-12):
            return float("nan")
    else:
        target = float(np.nanmax(after)) if np.any(~np.isnan(after)) else baseline
        if target <= baseline or np.isclose(target, baseline, rtol=1e-9, atol=1e-12):
            return float("inf")
    threshold = baseline + fraction * (target - baseline)
    hit = after >= threshold if target > baseline else after <= threshold
    idx = np.flatnonzero(hit)
    return float(idx[0]) if idx.size else float("inf")
