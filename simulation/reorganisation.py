"""Reorganisations as events: PCTs into CCGs, CCGs into places of an ICB.

A ``reorganise`` event (:class:`~simulation.scenario.Reorganise`) fires at the start of its
step (months ≥ 1, never in the burn-in) and, in this order:

1. sets the localities' devolved share (``locality_share:``) when given, and re-partitions
   localities when asked (``localities:``): each group's practices are
   shuffled and split into the new number of areas (as at the start), and every
   area-indexed structure is rebuilt by :func:`rebuild_areas` — the geography of need is the
   practices', so only the aggregation changes; new localities have not met (their views are
   NaN) and their devolved allocations start from their group's;
2. reconstitutes the groups' boards (``board:``, else the new structure's ``group_board``,
   else the scenario's ``board``) with fresh draws of membership and fresh locality leads:
   formal roles are gained and lost;
3. replaces the upper level by the new ``structure`` (:func:`simulation.places.set_structure`):
   fresh upper boards; each new body's allocation starts from the population-weighted mean of
   its groups' spending profiles, and a group that leaves a body takes its spending profile
   as its own allocation (money carries over both ways).

People, ties, beliefs, objectives, engagement and contact histories carry over unchanged:
nothing is set by hand; what follows is the model's own dynamics.  The floor and ceiling
budgets are carried over by the same rules, so decision skill stays comparable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import needs, places
from .decisions import Budget, spend
from .kinds import STAKEHOLDER_TYPES
from .localities import membership
from .scenario import Reorganise

if TYPE_CHECKING:  # pragma: no cover
    from .model import CommissioningModel

__all__ = ["rebuild_areas", "reorganise", "respend"]


def _counts(ev: Reorganise, names: list[str]) -> dict[int, int] | None:
    if ev.localities is None:
        return None
    if isinstance(ev.localities, int):
        return dict.fromkeys(range(len(names)), ev.localities)
    index = {g: i for i, g in enumerate(names)}
    return {index[g]: c for g, c in ev.localities.items()}


def rebuild_areas(model: CommissioningModel, counts: dict[int, int]) -> None:
    """Re-split the practices of each group in ``counts`` into that many areas (at most its
    number of practices; other groups keep their partition) and rebuild every area-indexed
    array of the model consistently: area of each practice and agent, area → group, need
    aggregation and area populations, locality membership, newcomers' climate keys, locality
    views (reset: new localities have not met) and devolved allocations (from the group's)."""
    p = model.pop
    rng = model.rng
    old_area = p.practice_area
    practice_area = np.empty_like(old_area)
    area_group: list[int] = []
    for g in range(p.n_groups):
        prac = np.flatnonzero(p.practice_group == g)
        if g in counts:
            n_new = min(counts[g], prac.size)
            chunks = np.array_split(rng.permutation(prac), n_new)
        else:  # unchanged partition, renumbered
            old = old_area[prac]
            chunks = [prac[old == a] for a in np.unique(old)]
        for chunk in chunks:
            practice_area[chunk] = len(area_group)
            area_group.append(g)
    p.practice_area = practice_area
    p.area_group = np.asarray(area_group, np.int32)
    at = p.practice >= 0
    p.area = np.where(at, practice_area[np.maximum(p.practice, 0)], -1).astype(np.int32)
    n_areas, k = p.n_areas, model.n_services
    model.area_matrix = needs.aggregation_matrix(p.practice_area, p.list_size, n_areas)
    model.area_population = np.bincount(p.practice_area, weights=p.list_size, minlength=n_areas)
    model.area_members = membership(p.area, n_areas, model.front_line)
    key = np.where(p.area >= 0, p.kind.astype(np.int64) * n_areas + p.area, -1)
    model.climate_keys[0] = (key, len(STAKEHOLDER_TYPES) * max(n_areas, 1))
    model.locality_view = np.full((n_areas, k), np.nan)
    model.locality_objective = np.full((n_areas, k), np.nan)
    model._refresh_truth()
    for name in ("budget", "floor_budget", "ceiling_budget"):
        b = getattr(model, name)
        b.local = b.board[p.area_group].copy()


def respend(model: CommissioningModel, budget: Budget) -> Budget:
    """The area and group spending profiles of a budget's allocations under the model's
    current structure and areas (the combination :func:`simulation.decisions.decide` makes,
    :func:`simulation.decisions.spend`)."""
    s, p = model.spec, model.pop
    share = model.locality_share if s.localities.enabled else 0.0
    area, group = spend(budget.board, budget.local if share > 0 else None,
                        budget.body if model.structure is not None else None, p.group_body,
                        area_group=p.area_group, area_population=model.area_population,
                        share=share,
                        body_share=model.structure.body_share if model.structure else 0.0)
    return Budget(budget.board, budget.local, area, group, budget.body)


def reorganise(model: CommissioningModel, ev: Reorganise) -> None:
    """Apply a ``reorganise`` event (see the module docstring)."""
    s, p = model.spec, model.pop
    names = [g.name for g in s.groups]
    counts = _counts(ev, names)
    if ev.locality_share is not None:
        model.locality_share = ev.locality_share
    if counts:
        rebuild_areas(model, counts)
    # groups leaving a body take what is spent on their population as their own allocation
    old_body = p.group_body if p.group_body is not None else np.full(p.n_groups, -1)
    new_body = places.group_bodies(ev.structure, names)
    if new_body is None:
        new_body = np.full(p.n_groups, -1)
    leaving = (old_body >= 0) & (new_body < 0)
    for name in ("budget", "floor_budget", "ceiling_budget"):
        b = getattr(model, name)
        b.board = b.board.copy()
        b.board[leaving] = b.group[leaving]
    # the groups' boards and locality leads, drawn afresh
    spec = ev.board or (ev.structure.group_board if ev.structure is not None else None) or s.board
    lead = places.draw_leads(p, model.rng) if s.localities.enabled else np.zeros(p.n, bool)
    p.locality_lead = lead
    p.board = places.draw_boards(p, spec, [np.array([g]) for g in range(p.n_groups)],
                                 model.rng, lead, officers_first=True)
    # the upper level (fresh boards; bodies' allocations from their groups' spending)
    places.set_structure(model, ev.structure)
    for name in ("budget", "floor_budget", "ceiling_budget"):
        setattr(model, name, respend(model, getattr(model, name)))
    model._refresh_board_view()
    model._seen_cache = None
