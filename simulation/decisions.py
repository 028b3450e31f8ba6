"""Commissioning decisions: boards (and localities holding a devolved budget) allocate.

A deciding body with pooled belief :math:`\\bar b` about need and pooled objective
:math:`\\bar o` allocates

.. math:: a = (1-\\lambda)\\,\\bar b + \\lambda\\,\\bar o

(a distribution over services; :math:`\\lambda` = ``decisions.objective_weight``).  With
localities holding a share :math:`\\varphi` of the budget, the money spent on area *l* of group
*g* follows :math:`a^{\\mathrm{eff}}_l = (1-\\varphi)\\, a_g + \\varphi\\, a_l`, and the group's
allocation is the population-weighted mean of its areas' effective allocations.
"""

from __future__ import annotations

import numpy as np

__all__ = ["allocate", "effective_allocation", "group_allocation"]


def allocate(belief: np.ndarray, objective: np.ndarray, objective_weight: float) -> np.ndarray:
    """Allocation rows :math:`(1-\\lambda)\\bar b + \\lambda \\bar o`, renormalised."""
    a = (1.0 - objective_weight) * belief + objective_weight * objective
    return a / a.sum(axis=1, keepdims=True)


def effective_allocation(
    board_alloc: np.ndarray, local_alloc: np.ndarray | None, area_group: np.ndarray, share: float
) -> np.ndarray:
    """Per-area allocation ``(L, K)``: the board's, mixed with the area's own devolved share."""
    eff = board_alloc[area_group]
    if local_alloc is None or share == 0:
        return eff.copy()
    local = np.where(np.isnan(local_alloc), eff, local_alloc)
    return (1.0 - share) * eff + share * local


def group_allocation(
    eff: np.ndarray, area_population: np.ndarray, area_group: np.ndarray, n_groups: int
) -> np.ndarray:
    """Population-weighted mean of area allocations per group ``(G, K)``."""
    w = area_population.astype(float)
    num = np.zeros((n_groups, eff.shape[1]))
    np.add.at(num, area_group, eff * w[:, None])
    den = np.bincount(area_group, weights=w, minlength=n_groups)
    return num / den[:, None]
