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

With an upper level of commissioning (a PCT or an ICB, :mod:`simulation.places`) deciding a
share :math:`s_b` of the budget of its groups, the money spent on area *l* of group *g* under
body *c* is

.. math:: a^{\\mathrm{eff}}_l = s_b\\, a_c + (1 - s_b - \\varphi)\\, a_g + \\varphi\\, a_l

(groups under no body keep :math:`s_b = 0`), and the body's own allocation :math:`a_c` moves
incrementally toward its target like a board's.

The same rule is run three times on every decision (:func:`decide`): fed the deciders'
knowledge (the model), fed no local knowledge (the national profile: the *floor*) and fed true
need (the *ceiling*), with the same objectives and the same starting allocation.  The skill
score of :func:`simulation.measures.relevance_skill` compares the three.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .needs import sum_rows

__all__ = [
    "Budget",
    "allocate",
    "decide",
    "effective_allocation",
    "effective_allocation_levels",
    "effective_allocation_levels_loop",
    "group_allocation",
    "incremental_step",
    "incremental_step_loop",
    "spend",
]


def allocate(belief: np.ndarray, objective: np.ndarray, objective_weight: float) -> np.ndarray:
    """Target allocation rows :math:`(1-\\lambda)\\bar b + \\lambda \\bar o`, renormalised."""
    a = (1.0 - objective_weight) * belief + objective_weight * objective
    a /= sum_rows(a)[:, None]  # a.sum(axis=1, keepdims=True), bit for bit
    return a


def incremental_step(current: np.ndarray, target: np.ndarray, max_shift: float) -> np.ndarray:
    """Move each allocation row toward its target by at most ``max_shift`` (TV distance).

    Examples
    --------
    >>> incremental_step(np.array([[0.5, 0.5]]), np.array([[0.9, 0.1]]), 0.1).round(12).tolist()
    [[0.6, 0.4]]
    """
    diff = target - current
    d = 0.5 * sum_rows(np.abs(diff))
    theta = np.ones_like(d)  # max_shift / d where d > max_shift (no division by 0 or NaN)
    np.divide(max_shift, d, out=theta, where=d > max_shift)
    return current + theta[:, None] * diff


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


def effective_allocation_levels(
    body_alloc: np.ndarray, group_body: np.ndarray, board_alloc: np.ndarray,
    local_alloc: np.ndarray | None, area_group: np.ndarray, body_share: float, share: float
) -> np.ndarray:
    """Per-area allocation ``(L, K)`` with an upper level: ``s_b a_c + (1 - s_b - φ) a_g + φ a_l``
    for areas of groups under a body (``group_body`` ≥ 0), ``(1 - φ) a_g + φ a_l`` elsewhere;
    NaN locality rows fall back to the group's allocation (as :func:`effective_allocation`)."""
    area_body = group_body[area_group]
    under = area_body >= 0
    sb = np.where(under, body_share, 0.0)[:, None]
    a_g = board_alloc[area_group]
    phi = share if local_alloc is not None else 0.0
    local = a_g if local_alloc is None else np.where(np.isnan(local_alloc), a_g, local_alloc)
    a_c = np.where(under[:, None], body_alloc[np.maximum(area_body, 0)], 0.0) if len(body_alloc) \
        else np.zeros_like(a_g)
    return sb * a_c + (1.0 - sb - phi) * a_g + phi * local


def effective_allocation_levels_loop(
    body_alloc: np.ndarray, group_body: np.ndarray, board_alloc: np.ndarray,
    local_alloc: np.ndarray | None, area_group: np.ndarray, body_share: float, share: float
) -> np.ndarray:
    """Plain-loop reference of :func:`effective_allocation_levels`."""
    n_areas, k = area_group.size, board_alloc.shape[1]
    out = np.empty((n_areas, k))
    for l in range(n_areas):  # noqa: E741
        g = int(area_group[l])
        c = int(group_body[g])
        sb = body_share if c >= 0 else 0.0
        phi = share if local_alloc is not None else 0.0
        for j in range(k):
            loc = board_alloc[g, j]
            if local_alloc is not None and not np.isnan(local_alloc[l, j]):
                loc = local_alloc[l, j]
            upper = body_alloc[c, j] if c >= 0 else 0.0
            out[l, j] = sb * upper + (1.0 - sb - phi) * board_alloc[g, j] + phi * loc
    return out


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
    allocations, and the resulting per-area and per-group spending profiles; with an upper
    level, ``body`` holds the upper bodies' own allocations (C, K) (None without)."""

    board: np.ndarray
    local: np.ndarray
    area: np.ndarray
    group: np.ndarray
    body: np.ndarray | None = None

    @classmethod
    def inherited(cls, profile: np.ndarray, area_group: np.ndarray, n_groups: int) -> Budget:
        """Every body starts from the same inherited profile (the legacy PCT allocation)."""
        board = np.tile(profile, (n_groups, 1))
        return cls(board, board[area_group].copy(), board[area_group].copy(), board.copy())

    def copy(self) -> Budget:
        """An independent copy."""
        return Budget(self.board.copy(), self.local.copy(), self.area.copy(), self.group.copy(),
                      None if self.body is None else self.body.copy())


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
    body_view: np.ndarray | None = None,
    body_objective: np.ndarray | None = None,
    body_share: float = 0.0,
    group_body: np.ndarray | None = None,
) -> Budget:
    """One decision: the board (and, if ``local_view`` is given, each locality with its
    devolved ``share``) moves its allocation incrementally toward its target.

    ``local_view`` / ``local_objective`` rows that are NaN (a locality that has not met) fall
    back to the board's.  With ``body_view`` (C, K) (an upper level, :mod:`simulation.places`)
    each upper body also moves its own allocation ``budget.body`` toward its target, and the
    area allocations mix the three levels (:func:`effective_allocation_levels`).
    """
    board = incremental_step(budget.board, allocate(board_view, board_objective, objective_weight),
                             max_shift)
    local = budget.local
    devolved = local_view is not None and share > 0
    if devolved:
        view = np.where(np.isnan(local_view), board_view[area_group], local_view)
        obj = np.where(np.isnan(local_objective), board_objective[area_group], local_objective)
        local = incremental_step(local, allocate(view, obj, objective_weight), max_shift)
    body = budget.body
    if body_view is not None:
        body = incremental_step(body, allocate(body_view, body_objective, objective_weight),
                                max_shift) if len(body) else body
    area, group = spend(board, local if devolved else None,
                        body if body_view is not None else None, group_body,
                        area_group=area_group, area_population=area_population, share=share,
                        body_share=body_share)
    return Budget(board, local, area, group, body)


def spend(board: np.ndarray, local: np.ndarray | None, body: np.ndarray | None,
          group_body: np.ndarray | None, *, area_group: np.ndarray, area_population: np.ndarray,
          share: float, body_share: float) -> tuple[np.ndarray, np.ndarray]:
    """What is spent per area ``(L, K)`` and per group ``(G, K)`` given each level's own
    allocation: the groups' ``board``, the localities' devolved ``local`` (None: no devolved
    share) and the upper bodies' ``body`` (None: no upper level;
    :func:`effective_allocation_levels`, else :func:`effective_allocation`)."""
    if body is not None:
        area = effective_allocation_levels(body, group_body, board, local, area_group,
                                           body_share, share)
    elif local is not None:
        area = effective_allocation(board, local, area_group, share)
    else:
        area = board[area_group].copy()
    return area, group_allocation(area, area_population, area_group, board.shape[0])
