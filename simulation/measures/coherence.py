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

from .knowledge import dispersion_by_group, tv_distance

__all__ = [
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


def _weighted_row_means(weight_matrix, objectives):
    """Return (W @ O) / rowsum(W) and a mask of rows with positive total weight."""
    if sp.issparse(weight_matrix):
        # a float64 CSR array as it is (the reporters' cached serving matrices): the
        # conversion would only copy it
        w = weight_matrix if (isinstance(weight_matrix, sp.csr_array)
                              and weight_matrix.dtype == np.float64) \
            else sp.csr_array(weight_matrix, dtype=float)
        totals = np.asarray(w.sum(axis=1)).ravel()
        sums = np.asarray(w @ objectives)
    else:
        w = np.asarray(weight_matrix, dtype=float)
        totals = w.sum(axis=1)
        sums = w @ objectives
    if np.any(w.data < 0 if sp.issparse(w) else w < 0):
        raise ValueError("weight matrices must be non-negative")
    has = totals > 0
    means = np.zeros_like(sums)
    means[has] = sums[has] / totals[has, None]
    return means, has


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
    la_obj = np.asarray(la_obj, dtype=float)
    provider_obj = np.asarray(provider_obj, dtype=float)
    la_mean, has_la = _weighted_row_means(la_weight_matrix, la_obj)
    p_mean, has_p = _weighted_row_means(provider_weight_matrix, provider_obj)
    if la_mean.shape != p_mean.shape:
        raise ValueError("weight matrices must have the same number of rows (groups)")
    nat = np.broadcast_to(np.asarray(national, dtype=float), la_mean.shape)
    parts = has_la.astype(float) + has_p.astype(float) + 1.0
    mix = (la_mean + p_mean + nat) / parts[:, None]  # absent parts are zero rows
    return mix / mix.sum(axis=1, keepdims=True)
