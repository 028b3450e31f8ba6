"""Levels of commissioning: upper bodies (PCTs, ICBs) over groups (clusters, places).

A scenario's ``structure`` (:class:`~simulation.scenario.StructureSpec`) puts *upper bodies*
over named groups: primary care trusts over practice-based commissioning clusters before
April 2013, integrated care boards over places from July 2022.  Each body has a board (a
``(C, N)`` membership matrix drawn by :func:`draw_boards` from the people of its groups:
GP seats to locality leads first — PCN clinical directors in the ICB era — officers from the
groups' commissioning managers, provider and council members from organisations serving its
groups, lay members from the groups' lay members, then patient representatives).

At each decision step the body's board meets after the groups' boards
(:func:`hold_body_meeting`), pooling its attending members' beliefs and priorities exactly
like a group board (:func:`simulation.localities.meet`).  Nothing is copied between levels:
what a place committee learnt reaches the ICB only in the heads of people who sit on both.
The body then moves its own allocation toward its target and decides ``body_share`` of the
budget of its groups (:func:`simulation.decisions.decide`); the floor and ceiling run the
same three-level rule fed the national profile and true need (the body's need is the
population-weighted need of its groups, :func:`body_need`).

Without ``structure`` nothing here draws a random number or changes a value: the model is
bit for bit what it was (tested).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from .localities import meet, pool
from .population import (
    LOCAL_AUTHORITY,
    PROVIDER,
    R_CM,
    R_GP,
    R_LAY,
    R_NURSE,
    R_OFFICER,
    R_PM,
    R_PPG,
    Population,
    members_by,
)
from .scenario import BoardSpec, StructureSpec

if TYPE_CHECKING:  # pragma: no cover
    from .model import CommissioningModel

__all__ = [
    "body_need",
    "body_profile",
    "decision_inputs",
    "draw_boards",
    "draw_leads",
    "group_bodies",
    "hold_body_meeting",
    "install",
    "refresh_roles",
]


def group_bodies(structure: StructureSpec | None, names: list[str]) -> np.ndarray | None:
    """The upper body of each group (index into ``structure.bodies``), -1 for none; None
    without a structure."""
    if structure is None:
        return None
    out = np.full(len(names), -1, np.int64)
    index = {g: i for i, g in enumerate(names)}
    for c, body in enumerate(structure.bodies):
        out[[index[g] for g in body.groups]] = c
    return out


def draw_leads(pop: Population, rng: np.random.Generator) -> np.ndarray:
    """One lead GP per area, drawn at random among the area's GPs (bool (N,))."""
    lead = np.zeros(pop.n, bool)
    gps = np.flatnonzero(pop.role == R_GP)
    by_area = members_by(pop.area[gps], pop.n_areas)
    for members in by_area:
        if members.size:
            lead[gps[int(rng.choice(members))]] = True
    return lead


def _pick(rng: np.random.Generator, first: np.ndarray, then: np.ndarray, n: int) -> np.ndarray:
    """``n`` agents drawn at random from ``first``, topped up from ``then``."""
    a = rng.permutation(first)[:n]
    rest = np.setdiff1d(then, a)
    b = rng.permutation(rest)[: max(0, n - a.size)]
    return np.concatenate([a, b]).astype(np.int64)


def draw_boards(pop: Population, spec: BoardSpec, units: list[np.ndarray],
                rng: np.random.Generator, lead: np.ndarray, *,
                officers_first: bool) -> sp.csr_array:
    """Boards of ``units`` (each an array of group indices) as a 0/1 ``(U, N)`` matrix.

    Seats are drawn from the people of the unit's groups: GP seats from its locality leads
    first (random order), then other GPs; practice managers; ``officers + nurses`` seats from
    commissioning managers (the groups' designated officers and nurses first when
    ``officers_first``, as a group's own board; at random among all of them for an upper
    body); lay members from the groups' lay members, then patient representatives;
    ``secondary_care_doctors`` from staff of providers serving any of the groups; one council
    member serving any of them (``local_authority_attendee``).
    """
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    prov = np.flatnonzero(pop.kind == PROVIDER)
    las = np.flatnonzero(pop.kind == LOCAL_AUTHORITY)
    for u, groups in enumerate(units):
        groups = np.asarray(groups, np.int64)
        mine = np.flatnonzero(np.isin(pop.group, groups))
        role = pop.role[mine]
        gps = mine[role == R_GP]
        chosen = [_pick(rng, gps[lead[gps]], gps, spec.gps)]
        pms = mine[role == R_PM]
        chosen.append(_pick(rng, pms, pms, spec.practice_managers))
        officers = mine[(role == R_OFFICER) | (role == R_NURSE)]
        managers = mine[(role == R_OFFICER) | (role == R_NURSE) | (role == R_CM)]
        n_off = spec.officers + spec.nurses
        chosen.append(_pick(rng, officers, managers, n_off) if officers_first
                      else _pick(rng, managers, managers, n_off))
        chosen.append(_pick(rng, mine[role == R_LAY], mine[role == R_PPG], spec.lay_members))
        serving_p = prov[pop.provider_serves[pop.org[prov]][:, groups].any(axis=1)] \
            if prov.size else prov
        chosen.append(_pick(rng, serving_p, serving_p, spec.secondary_care_doctors))
        if spec.local_authority_attendee and las.size:
            serving_l = las[pop.la_serves[pop.org[las]][:, groups].any(axis=1)]
            chosen.append(_pick(rng, serving_l, serving_l, 1))
        seats = np.unique(np.concatenate(chosen))
        rows.append(np.full(seats.size, u, np.int64))
        cols.append(seats)
    r = np.concatenate(rows) if rows else np.empty(0, np.int64)
    c = np.concatenate(cols) if cols else np.empty(0, np.int64)
    return sp.csr_array((np.ones(r.size), (r, c)), shape=(len(units), pop.n))


def body_units(structure: StructureSpec, names: list[str]) -> list[np.ndarray]:
    """Group indices of each upper body."""
    index = {g: i for i, g in enumerate(names)}
    return [np.array([index[g] for g in b.groups], np.int64) for b in structure.bodies]


def refresh_roles(model: CommissioningModel) -> None:
    """Re-derive the model's caches of who sits where from its population (after the boards,
    leads or areas change)."""
    p = model.pop
    model.board = p.board
    model.body_board = p.body_board
    model.on_board = p.on_board
    model.board_slots = np.flatnonzero(model.on_board)
    model.formal_role = p.formal_role
    model.board_gp = model.on_board & (p.role == R_GP)


def body_need(model: CommissioningModel, group_need: np.ndarray | None = None) -> np.ndarray:
    """True need of each upper body (C, K): the population-weighted need of its groups."""
    return body_profile(model, model.group_need if group_need is None else group_need)


def body_profile(model: CommissioningModel, per_group: np.ndarray) -> np.ndarray:
    """Population-weighted mean of per-group rows over each body's groups (C, K)."""
    p = model.pop
    gb = p.group_body
    n = p.n_bodies
    w = p.group_population.astype(float) * (gb >= 0)
    num = np.zeros((n, per_group.shape[1]))
    np.add.at(num, gb[gb >= 0], per_group[gb >= 0] * w[gb >= 0, None])
    den = np.bincount(gb[gb >= 0], weights=w[gb >= 0], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den[:, None]


def install(model: CommissioningModel) -> None:
    """Set up the scenario's initial structure (called once by the model's constructor,
    after every other initial draw, so a scenario without ``structure`` draws nothing here)."""
    model.structure = model.spec.structure
    model.body_view = model.body_objective = None
    if model.structure is None:
        return
    set_structure(model, model.structure)


def set_structure(model: CommissioningModel, structure: StructureSpec | None) -> None:
    """Draw the upper bodies' boards of ``structure`` and start their allocations from the
    population-weighted mean of their groups' spending profiles (money carries over)."""
    p = model.pop
    names = [g.name for g in model.spec.groups]
    model.structure = structure
    model.body_meeting_view = model.body_meeting_objective = None  # no meeting in this era yet
    p.group_body = group_bodies(structure, names)
    if structure is None:
        p.body_board = None
    else:
        p.body_board = draw_boards(p, structure.board, body_units(structure, names), model.rng,
                                   p.locality_lead, officers_first=False)
    refresh_roles(model)
    for budget in (model.budget, model.floor_budget, model.ceiling_budget):
        budget.body = None if structure is None else body_profile(model, budget.group)
    if structure is not None:
        _refresh_body_view(model)


def _refresh_body_view(model: CommissioningModel) -> None:
    """The body boards' view between meetings: the engagement-weighted mean of present
    members' beliefs and priorities (the national profile for a board nobody is left on)."""
    w = model.engagement * model.present + 1e-9
    k = model.n_services
    both, _ = pool(model.body_board, w, (model.belief, model.objective))
    view, obj = both[:, :k], both[:, k:]
    empty = ~np.isfinite(view).all(axis=1)
    view[empty] = model.national_need
    obj[empty] = model.national
    model.body_view, model.body_objective = view, obj


def hold_body_meeting(model: CommissioningModel) -> None:
    """The upper bodies' boards meet (after the groups' boards, at a decision step): attending
    members pool their beliefs and priorities, engagement-weighted, and move toward the pool
    (:func:`simulation.localities.meet`); the pool is what the body decides from.  Contact
    with a member is recorded as for a group board (already done: ``on_board`` includes the
    upper boards)."""
    if model.structure is None or model.pop.n_bodies == 0:
        return
    k = model.n_services
    w = model.engagement * model.active
    pw = model.spec.decisions.pooling_weight
    board = model.body_board
    if model.spec.knowledge_routes.board_gps:
        (model.belief, model.objective), pooled = meet((model.belief, model.objective), board,
                                                       w, pw)
        view, obj = pooled[:, :k], pooled[:, k:]
    else:  # GP members' beliefs neither enter the pool nor move to it (as a group board)
        model.objective, obj = meet(model.objective, board, w, pw)
        model.belief, view = meet(model.belief, board, w * ~model.board_gp, pw)
    _refresh_body_view(model)
    ok_v = np.isfinite(view).all(axis=1)[:, None]
    ok_o = np.isfinite(obj).all(axis=1)[:, None]
    model.body_meeting_view = np.where(ok_v, view, model.body_view)
    model.body_meeting_objective = np.where(ok_o, obj, model.body_objective)


def decision_inputs(model: CommissioningModel) -> tuple[dict, dict, dict]:
    """Keyword arguments of :func:`simulation.decisions.decide` for the upper level: for the
    model (the body's meeting view), the floor (the national profile) and the ceiling (the
    body's true need), all with the body's meeting priorities; empty without a structure."""
    st = model.structure
    if st is None:
        return {}, {}, {}
    common = {"body_share": st.body_share, "group_body": model.pop.group_body}
    view, obj = model.body_meeting_view, model.body_meeting_objective
    if view is None:  # no meeting yet in this era: what its members know
        view, obj = model.body_view, model.body_objective
    national = model._national_rows(view.shape[0])
    return ({"body_view": view, "body_objective": obj, **common},
            {"body_view": national, "body_objective": obj, **common},
            {"body_view": body_need(model), "body_objective": obj, **common})
