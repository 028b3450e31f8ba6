"""True patient need: initial profiles, monthly drift and need shocks.

Need is a distribution over the K service areas for every practice (``(P, K)``); areas
(localities) and groups aggregate it by list size.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._numeric import row_sums

__all__ = ["aggregation_matrix", "deprivation_shift", "dirichlet_rows", "drift", "imd_quintiles",
           "initial_needs", "shock", "sum_rows"]

#: Rows from which :func:`simulation._numeric.row_sums` beats ``x.sum(axis=1)`` (K = 6; both
#: give the same bits, so the choice is only about speed: numpy's own loop wins on few rows).
ROW_SUMS_FROM = 256


def sum_rows(x: np.ndarray) -> np.ndarray:
    """``x.sum(axis=1)`` of a 2-D array, bit for bit: numpy's reduction on few rows, the
    column-wise :func:`~simulation._numeric.row_sums` on many."""
    return x.sum(axis=1) if x.shape[0] < ROW_SUMS_FROM else row_sums(x)


def dirichlet_rows(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """One Dirichlet draw per row of ``alpha`` (vectorised through Gamma variates)."""
    g = rng.standard_gamma(np.maximum(alpha, 1e-12))
    total = sum_rows(g)[:, None]  # g.sum(axis=1, keepdims=True), bit for bit
    some = total > 0
    return np.where(some, g / np.where(some, total, 1.0), 1.0 / alpha.shape[1])


def initial_needs(
    rng: np.random.Generator,
    baseline: np.ndarray,
    area_group: np.ndarray,
    practice_area: np.ndarray,
    locality_concentration: float,
    practice_concentration: float,
) -> np.ndarray:
    """Practice need profiles ``(P, K)``.

    .. math::
        n_a \\sim \\mathrm{Dir}(c_L\\, b), \\qquad n_p \\sim \\mathrm{Dir}(c_P\\, n_{a(p)})

    with baseline *b*, area *a* and the two concentrations; larger concentrations mean less
    local variation.
    """
    b = np.asarray(baseline, float) / np.sum(baseline)
    area_need = dirichlet_rows(rng, locality_concentration * np.tile(b, (area_group.size, 1)))
    return dirichlet_rows(rng, practice_concentration * area_need[practice_area])


def drift(need: np.ndarray, sd: float, eps: np.ndarray) -> np.ndarray:
    """Multiplicative log-normal drift, renormalised.

    .. math:: n'_{pk} = n_{pk} e^{\\sigma \\varepsilon_{pk}} / \\sum_j n_{pj} e^{\\sigma \\varepsilon_{pj}}
    """
    out = np.exp(sd * eps)
    out *= need  # need * exp(...): the same products
    out /= sum_rows(out)[:, None]  # out.sum(axis=1, keepdims=True), bit for bit
    return out


def shock(need: np.ndarray, rows: np.ndarray, service: int, factor: float) -> np.ndarray:
    """Multiply need for ``service`` by ``factor`` in the practices ``rows`` and renormalise."""
    out = need.copy()
    out[rows, service] *= factor
    out[rows] /= out[rows].sum(axis=1, keepdims=True)
    return out


def aggregation_matrix(labels: np.ndarray, weights: np.ndarray, n_rows: int) -> sp.csr_array:
    """Row-stochastic ``(n_rows, P)`` matrix averaging practices by label, weighted.

    ``aggregation_matrix(practice_area, list_size, L) @ need`` is the list-size-weighted need of
    every area.
    """
    m = sp.csr_array(
        (np.asarray(weights, float), (labels, np.arange(labels.size))), shape=(n_rows, labels.size)
    )
    rs = np.asarray(m.sum(axis=1)).ravel()
    return sp.csr_array(sp.diags_array(1.0 / np.where(rs > 0, rs, 1.0)) @ m)


def deprivation_shift(need: np.ndarray, imd: np.ndarray, ratios: np.ndarray, reference: float,
                      span: float) -> np.ndarray:
    """Shift practice need profiles with deprivation (practices with a finite ``imd`` only).

    .. math:: n'_{pk} = n_{pk}\\, r_k^{(d_p - d_0)/\\Delta} \\big/ \\sum_j n_{pj}\\, r_j^{(d_p - d_0)/\\Delta}

    ``ratios`` (K,) are the need ratios between the most and least deprived fifths of practices,
    ``reference`` :math:`d_0` the score of a practice of average deprivation and ``span``
    :math:`\\Delta` the score difference over which the ratios apply
    (:class:`simulation.input_specs.DeprivationSpec`).
    """
    imd = np.asarray(imd, float)
    ok = np.isfinite(imd)
    if not ok.any():
        return need
    out = need.copy()
    z = (imd[ok] - reference) / span
    out[ok] = need[ok] * np.exp(np.outer(z, np.log(np.asarray(ratios, float))))
    out[ok] /= out[ok].sum(axis=1, keepdims=True)
    return out


def imd_quintiles(imd: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Deprivation fifth of every practice (0 = least deprived, 4 = most; -1 without a score).

    Fifths of the *patients*: cut points at the list-size-weighted 20/40/60/80 % quantiles of
    the scores of the practices that have one, so each fifth holds about a fifth of them.
    """
    imd = np.asarray(imd, float)
    out = np.full(imd.size, -1, np.int64)
    ok = np.isfinite(imd)
    if not ok.any():
        return out
    x, w = imd[ok], np.asarray(weights, float)[ok]
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order])
    # each practice's mid-point in the cumulative patient distribution, in (0, 1)
    mid = np.empty(x.size)
    mid[order] = (cum - w[order] / 2) / cum[-1]
    out[ok] = np.minimum(4, (mid * 5).astype(np.int64))
    return out
