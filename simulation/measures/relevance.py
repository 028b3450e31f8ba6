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
    "misallocated_per_head",
    "patient_relevance",
    "provider_relevance",
    "relevance_skill",
    "shock_funded",
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


def relevance_skill(relevance, floor, ceiling, min_range=1e-3):
    r"""Skill score of decisions between a no-knowledge floor and a perfect-knowledge ceiling.

    Parameters
    ----------
    relevance : array_like
        Relevance :math:`R` of the decisions made from what the deciders know.
    floor : array_like
        Relevance :math:`R_0` of the same decision rule fed no local knowledge (the national
        profile), from the same starting allocation and with the same objectives.
    ceiling : array_like
        Relevance :math:`R_1` of the same rule fed true need.
    min_range : float
        Where :math:`|R_1 - R_0|` is below this the score is undefined (NaN): knowledge
        cannot make a difference there (e.g. before the first decision).

    Returns
    -------
    numpy.ndarray or float
        :math:`S = (R - R_0)/(R_1 - R_0)`: 0 = no better than knowing nothing, 1 = as good as
        perfect knowledge; negative when the deciders' knowledge misleads them; it can exceed 1
        when errors happen to offset the objective term.

    Notes
    -----
    The skill-score construction of forecast verification (Murphy 1988, Mon Weather Rev
    116:2417), with the reference forecasts replaced by the two knowledge extremes under the
    same decision rule.

    Examples
    --------
    >>> round(float(relevance_skill(0.95, 0.90, 1.0)), 9)
    0.5
    >>> bool(np.isnan(relevance_skill(0.9, 0.9, 0.9)))
    True
    """
    r, lo, hi = (np.asarray(x, dtype=float) for x in (relevance, floor, ceiling))
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(np.abs(span) >= min_range, (r - lo) / span, np.nan)
    return out if out.ndim else float(out)


def misallocated_per_head(allocation, need, budget_per_head):
    r"""Pounds per head per year allocated away from need.

    Parameters
    ----------
    allocation, need : array_like, shape (..., K)
        Allocation and need distributions.
    budget_per_head : float
        Budget per head per year (£).

    Returns
    -------
    numpy.ndarray or float
        :math:`M = B\,\mathrm{TV}(a, n) = B \sum_k \max(0, a_k - n_k)`, in :math:`[0, B]`:
        the money that would have to move between services for spending to follow need.

    Examples
    --------
    >>> round(float(misallocated_per_head([0.6, 0.4], [0.5, 0.5], 1000.0)), 9)
    100.0
    """
    return float(budget_per_head) * tv_distance(allocation, need)


def shock_funded(alloc_now, alloc_at_shock, need_before, need_after):
    r"""Share of a need shock's extra need that the allocation has come to cover.

    Parameters
    ----------
    alloc_now : array_like
        Allocation share of the shocked service now (per group).
    alloc_at_shock : array_like
        Its share when the shock struck.
    need_before, need_after : array_like
        Share of need for the service just before and just after the shock.

    Returns
    -------
    numpy.ndarray or float
        :math:`F = (a_t - a_0)/(n_1 - n_0)`; 0 = nothing moved, 1 = the whole extra need
        funded; negative if money moved away; NaN where the shock did not raise the service's
        share of need (:math:`n_1 \le n_0`).

    Examples
    --------
    >>> round(float(shock_funded(0.15, 0.13, 0.13, 0.17)), 9)
    0.5
    """
    a1, a0, n0, n1 = (np.asarray(x, dtype=float) for x in (alloc_now, alloc_at_shock, need_before,
                                                             need_after))
    extra = n1 - n0
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(extra > 0, (a1 - a0) / extra, np.nan)
    return out if out.ndim else float(out)
