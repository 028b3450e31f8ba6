"""Decision relevance: how well allocations match need and provider capacity.

An allocation is a distribution of a budget over ``K`` services (rows summing
to one).  Relevance to patients compares it with the distribution of need;
relevance to providers compares it with the distribution of capacity.
"""

from __future__ import annotations

import numpy as np

from .knowledge import tv_distance

__all__ = [
    "locality_relevance",
    "patient_relevance",
    "provider_relevance",
    "wasted_spend",
]


def _capacity_share(capacity):
    """Normalise non-negative capacity rows to shares; all-zero rows become NaN."""
    c = np.asarray(capacity, dtype=float)
    if np.any(c < 0):
        raise ValueError("capacity must be non-negative")
    total = c.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, c / total, np.nan)


def patient_relevance(allocation, need):
    r"""Relevance of allocations to patients' need.

    Parameters
    ----------
    allocation : array_like, shape (..., K)
        Allocation of the budget over services, one distribution per row.
    need : array_like, shape (..., K)
        Distribution of need over services; broadcasts against `allocation`.

    Returns
    -------
    numpy.ndarray or float
        Patient relevance per row, in :math:`[0, 1]`.

    Notes
    -----
    .. math::

        R^{\mathrm{pat}} = 1 - \mathrm{TV}(a, n)

    1 when spending is proportional to need; 0 when no money goes where there
    is need.

    Examples
    --------
    >>> patient_relevance([[0.5, 0.5], [1.0, 0.0]], [0.5, 0.5]).tolist()
    [1.0, 0.5]
    """
    return 1.0 - tv_distance(allocation, need)


def provider_relevance(allocation, capacity):
    r"""Relevance of allocations to what providers can deliver.

    Parameters
    ----------
    allocation : array_like, shape (..., K)
        Allocation distributions.
    capacity : array_like, shape (..., K)
        Non-negative provider capacity per service (any units); normalised to
        shares inside.  Broadcasts against `allocation`.

    Returns
    -------
    numpy.ndarray or float
        Provider relevance per row, in :math:`[0, 1]`; NaN where total
        capacity is zero.

    Notes
    -----
    .. math::

        R^{\mathrm{prov}} = 1 - \mathrm{TV}(a, \tilde c), \qquad
        \tilde c_k = c_k / \sum_j c_j

    Examples
    --------
    >>> float(provider_relevance([0.5, 0.5], [30.0, 10.0]))
    0.75
    """
    return 1.0 - tv_distance(allocation, _capacity_share(capacity))


def wasted_spend(allocation, need, capacity, budget):
    r"""Spend on services beyond both the need and what providers can deliver.

    Parameters
    ----------
    allocation : array_like, shape (..., K)
        Allocation distributions (shares of the budget).
    need : array_like, shape (..., K)
        Need distributions.
    capacity : array_like, shape (..., K)
        Non-negative capacity per service, normalised to shares inside.
    budget : float or array_like, shape (...)
        Budget of each row (same currency as the result).

    Returns
    -------
    numpy.ndarray or float
        Wasted spend per row, in :math:`[0, \mathrm{budget}]`.

    Notes
    -----
    With capacity shares :math:`\tilde c_k = c_k / \sum_j c_j`,

    .. math::

        W = B \sum_k \max\bigl(0,\; a_k - \min(n_k, \tilde c_k)\bigr).

    The share of the budget placed on service :math:`k` is useful only up to
    the smaller of its share of need and its share of capacity; anything
    above that is either not needed or cannot be delivered.  Because
    :math:`0 \le \max(0, a_k - \min(n_k, \tilde c_k)) \le a_k` and
    :math:`\sum_k a_k = 1`, the value lies in :math:`[0, B]`.  It is 0 only
    when :math:`a \le \min(n, \tilde c)` elementwise, which for
    distributions requires :math:`a = n = \tilde c`.  A row with zero total
    capacity can deliver nothing, so its whole budget counts as wasted.

    Examples
    --------
    >>> float(wasted_spend([0.5, 0.5], [0.7, 0.3], [1.0, 1.0], 100.0))
    20.0
    """
    a = np.asarray(allocation, dtype=float)
    c = np.nan_to_num(_capacity_share(capacity), nan=0.0)
    useful = np.minimum(np.asarray(need, dtype=float), c)
    return np.asarray(budget, dtype=float) * np.maximum(0.0, a - useful).sum(axis=-1)


def locality_relevance(local_allocation, locality_need):
    r"""Patient relevance of the allocation within each locality.

    Parameters
    ----------
    local_allocation : array_like, shape (L, K)
        Allocation distribution of spend in each locality.
    locality_need : array_like, shape (L, K)
        Need distribution of each locality.

    Returns
    -------
    numpy.ndarray, shape (L,)
        :func:`patient_relevance` row by row, in :math:`[0, 1]`.

    Notes
    -----
    .. math::

        R^{\mathrm{loc}}_\ell = 1 - \mathrm{TV}(a_\ell, n_\ell)

    Examples
    --------
    >>> locality_relevance([[0.2, 0.8]], [[0.4, 0.6]]).round(12).tolist()
    [0.8]
    """
    return patient_relevance(local_allocation, locality_need)
