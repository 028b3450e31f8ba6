"""Commissioning decisions: boards (and localities holding a devolved budget) allocate.

A deciding body with a view :math:`\\bar b` of need and a pooled objective :math:`\\bar o`
aims at

.. math:: \\tau = (1-\\lambda)\\,\\bar b + \\lambda\\,\\bar o

(a distribution over services; :math:`\\lambda` = ``decisions.objective_weight``).  Budgets are
*incremental* (Wildavsky 1964; Lindblom 1959): a decision moves the current allocation *a*
toward the target by at most :math:`\\Delta` = ``decisions.max_shift`` of the budget,

.. math:: a' = a + \\theta\\,(\\tau - a), \\qquad
    \\theta = \\min\\bigl(1, \\Delta / \\mathrm{TV}(\\tau, a)\\bigr),

so :math:`\\mathrm{TV}(a', a) \\le \\Delta` and reallocation has to be driven, decision after
decision, by what the deciders know.  With localities holding a share :math:`\\varphi` of the
budget, the money spent on area *l* of group *g* follows
:math:`a^{\\mathrm{eff}}_l = (1-\\varphi)\\, a_g + \\varphi\\, a_l`, and the group's allocation is
the population-weighted mean of its areas' effective allocations.

The same rule is run three times on every decision (:func:`decide`): fed the deciders'
knowledge (the model), fed no local knowledge (the national profile: the *floor*) and fed true
need (the *ceiling*), with the same objectives and the same starting allocation.  The skill
score of :func:`simulation.measures.relevance_skill` compares the three.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Budget",
    "allocate",
    "decide",
    "effective_allocation",
    "group_allocation",
    "incremental_step",
    "incremental_step_loop",
]


def allocate(belief: np.ndarray, objective: np.ndarray, objective_weight: float) -> np.ndarray:
    """Target allocation rows :math:`(1-\\lambda)\\bar b + \\lambda \\bar o`, renormalised."""
    a = (1.0 - objective_weight) * belief + objective_weight * objective
    return a / a.sum(axis=1, keepdims=True)


def incremental_step(current: np.ndarray, target: np.ndarray, max_shift: float) -> np.ndarray:
    """Move each allocation row toward its target by at most ``max_shift`` (TV distance).

    Examples
    --------
    >>> incremental_step(np.array([[0.5, 0.5]]), np.array([[0.9, 0.1]]), 0.1).round(12).tolist()
    [[0.6, 0.4]]
    """
    d = 0.5 * np.abs(target - current).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        theta = np.where(d > max_shift, max_shift / d, 1.0)
    return current + theta[:, None] * (target - current)


def incremental_step_loop(current: np.ndarray, target: np.ndarray, max_shift: float) -> np.ndarray:
    """Plain-loop reference of :func:`incremental_step`."""
    out = np.empty_like(current)
    for r in range(current.shape[0]):
        d = 0.5 * sum(abs(float(target[r, k] - current[r, k])) for k in range(current.shape[1]))
        theta = max_shift / d if d > max_shift else 1.0
        for k in range(current.shape[1]):
            out[r, k] = current[r, k] + theta * (target[r, k] - current[r, k])
    return out


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


@dataclass
class Budget:
    """One allocation trajectory: the board's (G, K) and the localities' devolved (L, K)
    allocations, and the resulting per-area and per-group spending profiles."""

    board: np.ndarray
    local: np.ndarray
    area: np.ndarray
    group: np.ndarray

    @classmethod
    def inherited(cls, profile: np.ndarray, area_group: np.ndarray, n_groups: int) -> Budget:
        """Every body starts from the same inherited profile (the legacy PCT allocation)."""
        board = np.tile(profile, (n_groups, 1))
        return cls(board, board[area_group].copy(), board[area_group].copy(), board.copy())

    def copy(self) -> Budget:
        """An independent copy."""
        return Budget(self.board.copy(), self.local.copy(), self.area.copy(), self.group.copy())


def decide(
    budget: Budget,
    board_view: np.ndarray,
    board_objective: np.ndarray,
    local_view: np.ndarray | None,
    local_objective: np.ndarray | None,
    *,
    objective_weight: float,
    max_shift: float,
    share: float,
    area_group: np.ndarray,
    area_population: np.ndarray,
) -> Budget:
    """One decision: the board (and, if ``local_view`` is given, each locality with its
    devolved ``share``) moves its allocation incrementally toward its target.

    ``local_view`` / ``local_objective`` rows that are NaN (a locality that has not met) fall
    back to the board's.
    """
    board = incremental_step(budget.board, allocate(board_view, board_objective, objective_weight),
                             max_shift)
    local = budget.local
    if local_view is not None and share > 0:
        view = np.where(np.isnan(local_view), board_view[area_group], local_view)
        obj = np.where(np.isnan(local_objective), board_objective[area_group], local_objective)
        local = incremental_step(local, allocate(view, obj, objective_weight), max_shift)
        area = effective_allocation(board, local, area_group, share)
    else:
        area = board[area_group].copy()
    group = group_allocation(area, area_population, area_group, board.shape[0])
    return Budget(board, local, area, group)
