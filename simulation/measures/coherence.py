"""Coherence measures: agreement of objectives inside and around a board.

Objectives are distributions over ``K`` services (rows summing to one).
*Internal* coherence measures how far a board's members agree with one
another; *external* coherence how far the board's objective agrees with the
wider system's objective (local authorities, providers and national
priorities), built by :func:`system_objective`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._numeric import csr_product
from .knowledge import dispersion_by_group, tv_distance

__all__ = [
    "RowWeights",
    "SystemWeights",
    "external_coherence",
    "internal_coherence",
    "system_objective",
]


def internal_coherence(objectives, group, n_groups, mask=None):
    r"""Agreement of members' objectives with their group's mean objective.

    Parameters
    ----------
    objectives : array_like, shape (N, K)
        Objective distribution of each node.
    group : array_like of int, shape (N,)
        Group label ``0..n_groups-1`` of each node, or ``-1`` for no group.
    n_groups : int
        Number of groups ``G``.
    mask : array_like of bool, shape (N,), optional
        Only rows where `mask` is true count (e.g. board members).

    Returns
    -------
    numpy.ndarray, shape (G,)
        Internal coherence in :math:`[0, 1]`; 1 when all members agree.  NaN
        for groups without selected members.

    Notes
    -----
    .. math::

        C^{\mathrm{int}}_g = 1 - \frac{1}{n_g} \sum_{i \in g}
            \mathrm{TV}(o_i, \bar o_g),

    i.e. one minus :func:`~simulation.measures.knowledge.dispersion_by_group`.

    Examples
    --------
    >>> internal_coherence([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7]], [0, 0, 1], 2).tolist()
    [0.5, 1.0]
    """
    return 1.0 - dispersion_by_group(objectives, group, n_groups, mask=mask)


def external_coherence(board_objective, system_objective):
    r"""Agreement of each board's objective with its wider system's objective.

    Parameters
    ----------
    board_objective : array_like, shape (G, K)
        Objective distribution of each group's board.
    system_objective : array_like, shape (G, K)
        The wider system's objective for each group (see
        :func:`system_objective`).

    Returns
    -------
    numpy.ndarray, shape (G,)
        External coherence in :math:`[0, 1]`.

    Notes
    -----
    .. math::

        C^{\mathrm{ext}}_g = 1 - \mathrm{TV}(o^{\mathrm{board}}_g,
            o^{\mathrm{sys}}_g)

    Examples
    --------
    >>> external_coherence([[0.6, 0.4]], [[0.5, 0.5]]).round(12).tolist()
    [0.9]
    """
    return 1.0 - tv_distance(board_objective, system_objective)


class RowWeights:
    r"""The objectives-independent part of the weighted row means :math:`(W O) /
    \operatorname{rowsum}(W)`: ``W`` as a float array (a float64 CSR array as it is), its
    row sums and the rows with positive total weight, prepared once for a weight matrix that
    several objectives are averaged with (the reporters keep one while who-serves-whom is
    unchanged).  ``RowWeights(W).means(O)`` is the previous ``_weighted_row_means(W, O)``
    bit for bit: the same row sums (scipy's), the same product loop (scipy's ``csr_matvecs``
    for a sparse ``W``, :func:`simulation._numeric.csr_product`), the same divisions.

    Raises
    ------
    ValueError
        If ``W`` has a negative weight.
    """

    __slots__ = ("_den", "_rows", "has", "sparse", "totals", "w")

    def __init__(self, weight_matrix):
        if sp.issparse(weight_matrix):
            # a float64 CSR array as it is (the reporters' cached serving matrices): the
            # conversion would only copy it
            w = weight_matrix if (isinstance(weight_matrix, sp.csr_array)
                                  and weight_matrix.dtype == np.float64) \
                else sp.csr_array(weight_matrix, dtype=float)
            totals = np.asarray(w.sum(axis=1)).ravel()
            negative = np.any(w.data < 0)
        else:
            w = np.asarray(weight_matrix, dtype=float)
            totals = w.sum(axis=1)
            negative = np.any(w < 0)
        if negative:
            raise ValueError("weight matrices must be non-negative")
        self.w, self.totals, self.sparse = w, totals, sp.issparse(w)
        self.has = totals > 0
        # the rows with positive weight and their totals as a column, indexed once
        self._rows = np.flatnonzero(self.has)
        self._den = totals[self._rows][:, None]

    def means(self, objectives):
        """``(W @ O) / rowsum(W)`` (zero rows where the total weight is not positive) and the
        mask of rows with positive total weight."""
        w = self.w
        if self.sparse:
            x = np.asarray(objectives, dtype=float)
            if x.ndim == 2 and x.shape[0] == w.shape[1]:
                sums = csr_product(w.indptr, w.indices, w.data, x, w.shape[0])
            else:  # scipy's own product (and its errors) for anything else
                sums = np.asarray(w @ objectives)
        else:
            sums = w @ objectives
        rows = self._rows
        if rows.size == sums.shape[0]:  # every row has weight: the same divisions, no gather
            return sums / self._den, self.has
        means = np.zeros_like(sums)
        means[rows] = sums[rows] / self._den  # = sums[has] / totals[has, None]
        return means, self.has


def _weighted_row_means(weight_matrix, objectives):
    """Return (W @ O) / rowsum(W) and a mask of rows with positive total weight."""
    return RowWeights(weight_matrix).means(objectives)


class SystemWeights:
    """:func:`system_objective` with its two weight matrices prepared once
    (:class:`RowWeights`): ``SystemWeights(W_LA, W_P).objective(o_LA, o_P, national)`` is
    ``system_objective(o_LA, o_P, national, W_LA, W_P)`` — its implementation."""

    __slots__ = ("la", "provider")

    def __init__(self, la_weight_matrix, provider_weight_matrix):
        self.la = RowWeights(la_weight_matrix)
        self.provider = RowWeights(provider_weight_matrix)

    def objective(self, la_obj, provider_obj, national):
        """The system objective of each group, (G, K): :func:`system_objective`."""
        la_obj = np.asarray(la_obj, dtype=float)
        provider_obj = np.asarray(provider_obj, dtype=float)
        la_mean, has_la = self.la.means(la_obj)
        p_mean, has_p = self.provider.means(provider_obj)
        if la_mean.shape != p_mean.shape:
            raise ValueError("weight matrices must have the same number of rows (groups)")
        nat = np.broadcast_to(np.asarray(national, dtype=float), la_mean.shape)
        parts = has_la.astype(float) + has_p.astype(float) + 1.0
        mix = (la_mean + p_mean + nat) / parts[:, None]  # absent parts are zero rows
        return mix / mix.sum(axis=1, keepdims=True)


def system_objective(la_obj, provider_obj, national, la_weight_matrix, provider_weight_matrix):
    r"""Objective of the wider system around each group.

    Parameters
    ----------
    la_obj : array_like, shape (n_LA, K)
        Objective distribution of each local authority.
    provider_obj : array_like, shape (n_P, K)
        Objective distribution of each provider.
    national : array_like, shape (K,) or (G, K)
        National priorities (one vector for all groups, or one per group).
    la_weight_matrix : array_like or scipy.sparse, shape (G, n_LA)
        Non-negative weight of each local authority for each group (e.g. 1 if
        it serves the group, 0 otherwise, or population shares).
    provider_weight_matrix : array_like or scipy.sparse, shape (G, n_P)
        Same for providers.

    Returns
    -------
    numpy.ndarray, shape (G, K)
        The system objective of each group, a distribution per row.

    Notes
    -----
    With :math:`\bar o^{LA}_g = \sum_a W^{LA}_{ga} o_a / \sum_a W^{LA}_{ga}`
    and :math:`\bar o^{P}_g` defined likewise,

    .. math::

        o^{\mathrm{sys}}_g = \frac{\delta^{LA}_g \bar o^{LA}_g
            + \delta^{P}_g \bar o^{P}_g + \nu}
            {\delta^{LA}_g + \delta^{P}_g + 1},

    where :math:`\delta_g` is 1 if the group has positive total weight on that
    kind of organisation and 0 otherwise: an equal-weight (1/3 each) mixture
    that renormalises over the parts available.  The national part is always
    present.  Rows are renormalised to sum to one.

    Examples
    --------
    >>> la = [[1.0, 0.0], [0.0, 1.0]]
    >>> prov = [[0.5, 0.5]]
    >>> w_la = [[1, 1], [1, 0]]
    >>> w_p = [[1], [0]]
    >>> system_objective(la, prov, [0.2, 0.8], w_la, w_p).round(12).tolist()
    [[0.4, 0.6], [0.6, 0.4]]
    """
    return SystemWeights(la_weight_matrix, provider_weight_matrix).objective(
        la_obj, provider_obj, national)
