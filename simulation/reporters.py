"""Named DataCollector reporters: every metric of the brief, per group and overall.

Each reporter is a module-level function of the model (picklable, testable, no lambdas)
returning an array of length G + 1: one value per commissioning group, then the overall
value (the population-weighted mean of the group values unless the docstring says
otherwise).  Formulas live with the pure functions in :mod:`simulation.measures`.

Costly measures: the network-structure family, ``reach``, ``tie_persistence`` and
``leader_dependence`` are recomputed every
``metrics.structure_every`` steps (default 3, the decision cycle) and betweenness
centralisation and clustering every ``metrics.costly_every`` steps (default 12; Brandes–Pich sampling with
``metrics.betweenness_samples`` pivots when > 0); values are carried forward in between.
Everything else is computed every step.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from copy import deepcopy
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import scipy.sparse as sp
from mesa import DataCollector

from . import _kernels
from . import measures as M
from ._numeric import csr_product, row_positions, row_sums
from .measures.relevance import _capacity_share
from .places import body_need, body_profile
from .population import GP, LOCAL_AUTHORITY, PATIENT, PROVIDER, R_GP, R_PPG

if TYPE_CHECKING:  # pragma: no cover
    from .model import CommissioningModel

__all__ = ["KEY_METRICS", "MARGINS", "METRICS", "MetricInfo", "field_metadata", "label",
           "make_datacollector", "metric_bounds", "metric_info", "metric_reference"]

#: The metrics shown by default in figures, summaries and experiment outcomes.
KEY_METRICS = (
    "relevance_skill",
    "misallocated_per_head",
    "accuracy_board",
    "board_uncertainty",
    "coherence_internal",
    "coherence_external",
    "tie_persistence",
    "retention",
    "engagement_gp",
)


def _overall(model: CommissioningModel, values: np.ndarray) -> np.ndarray:
    """Append the population-weighted mean of finite group values."""
    v = np.asarray(values, float).ravel()
    w, w_total = _scratch(model, "group_population", lambda: _weights(model))
    out = np.empty(v.size + 1)
    out[:-1] = v
    if v.size and np.isfinite(v).all():  # the common case: the same sum without the masks
        out[-1] = np.add.reduce(w * v) / w_total  # np.sum's own reduction, called directly
    else:
        ok = np.isfinite(v)
        out[-1] = float(np.sum(w[ok] * v[ok]) / w[ok].sum()) if ok.any() else np.nan
    return out


def _overall_rows(model: CommissioningModel, values: np.ndarray) -> np.ndarray:
    """:func:`_overall` of each row of ``values`` (k, G), as a (k, G + 1) array whose row
    ``j`` is ``_overall(model, values[j])`` bit for bit: the rows of finite values weighted
    and added by one reduction along the rows (per row numpy's pairwise sum of the same
    products, as for a single row), the others one by one."""
    v = np.asarray(values, float)
    k, g = v.shape
    out = np.empty((k, g + 1))
    out[:, :-1] = v
    if g == 0:
        out[:, -1] = np.nan
        return out
    w, w_total = _scratch(model, "group_population", lambda: _weights(model))
    finite = np.isfinite(v).all(axis=1)
    if finite.all():
        out[:, -1] = np.add.reduce(v * w, axis=1) / w_total
    else:
        for j in range(k):
            out[j, -1] = _overall(model, v[j])[-1]
    return out


def _weights(model: CommissioningModel) -> tuple[np.ndarray, np.float64]:
    w = model.pop.group_population.astype(float)
    return w, w.sum()


def _adjacency(model: CommissioningModel) -> sp.csr_array:
    """The tie matrix of the current step (cached per step)."""
    cache = getattr(model, "_adjacency_cache", None)
    if cache is None or cache[0] != model.steps or cache[1] is not model.ties:
        A = model.ties.csr()
        for arr in (A.data, A.indices, A.indptr):  # shared by every reporter: read-only
            arr.flags.writeable = False
        cache = (model.steps, model.ties, A)
        model._adjacency_cache = cache
    return cache[2]


def periodic(setting: str):
    """Recompute a reporter only every ``metrics.<setting>`` steps (and at the start); carry
    the last value forward in between.  The wrapped function keeps its name and docstring;
    its ``cadence`` attribute names the setting (the metric registry's ``cadence``)."""

    def wrap(f):
        @functools.wraps(f)
        def reporter(model: CommissioningModel) -> np.ndarray:
            every = getattr(model.spec.metrics, setting)
            step, cached = model.structure_cache.get(f.__name__, (None, None))
            if cached is None or (model.steps % every == 0 and step != model.steps):
                cached = f(model)
                model.structure_cache[f.__name__] = (model.steps, cached)
            return cached

        reporter.cadence = setting
        return reporter

    return wrap


def _scratch(model: CommissioningModel, key: object, compute: Callable[[], object]) -> object:
    """``compute()``, shared by the reporters of one collection (:class:`MetricCollector`
    holds a scratch dict on the model while it collects, so intermediates that several
    metrics read — who is a member, who responds to the surveys, who is informed — are
    computed once a month); computed afresh outside a collection."""
    scratch = model.__dict__.get("_collect_scratch")
    if scratch is None:
        return compute()
    if key not in scratch:
        scratch[key] = compute()
    return scratch[key]


def _family(model: CommissioningModel, key: object, name: object,
            needed_by: Mapping[object, tuple[str, ...]],
            compute: Callable[[tuple], dict]) -> object:
    """The value ``name`` of a family of related metrics computed in one pass.

    ``compute(names)`` returns ``{name: value}`` for the requested members of the family
    (one stacked aggregation instead of one per metric; each value bit for bit what the
    metric computed alone).  In a collection the family is computed once, for the members
    that the collection's metrics need (``needed_by``: member → the metrics reading it;
    all of them when the collection does not say), and kept in the scratch dict under
    ``key``; outside a collection only ``name`` is computed."""
    scratch = model.__dict__.get("_collect_scratch")
    if scratch is None:
        return compute((name,))[name]
    hit = scratch.get(key)
    if hit is None:
        wanted = scratch.get("wanted")
        names = tuple(m for m, users in needed_by.items()
                      if m == name or wanted is None or not wanted.isdisjoint(users))
        hit = scratch[key] = compute(names)
    elif name not in hit:  # a member no metric of the collection asked for
        hit.update(compute((name,)))
    return hit[name]


def _members(model: CommissioningModel) -> np.ndarray:
    """Agents counted in their group's metrics: present and belonging to a group."""
    return _scratch(model, "members", lambda: model.present & (model.pop.group >= 0))


def _index(model: CommissioningModel, key: object, mask: Callable[[], np.ndarray] | None
           ) -> M.GroupIndex:
    """The agents' :class:`~simulation.measures.GroupIndex` (by group, the rows where
    ``mask()`` holds), once a collection per ``key`` and kept from one collection to the
    next while the labels and the mask are the same (:func:`_kept_index`):
    ``_index(...).mean(v)`` is ``mean_by_group(v, model.pop.group, model.n_groups,
    mask=mask())`` bit for bit."""
    return _scratch(model, ("index", key), lambda: _kept_index(
        model, key, model.pop.group, None if mask is None else mask(),
        lambda: _labels_sorted(model)))


def _kept_index(model: CommissioningModel, key: object, group: np.ndarray,
                mask: np.ndarray | None, labels_sorted: Callable[[], bool] = lambda: False
                ) -> M.GroupIndex:
    """``GroupIndex(group, model.n_groups, mask, labels_sorted=labels_sorted())``, kept on
    the model under ``key`` and returned again while the number of groups, the labels and
    the mask are the same (compared element by element: an index is a function of them, so
    the kept one is the one a fresh build gives; members, GPs and their masks change only
    with turnover and presence)."""
    cache = model.__dict__.setdefault("_kept_indices", {})
    hit = cache.get(key)
    if (hit is not None and hit[0] == model.n_groups and np.array_equal(hit[1], group)
            and (hit[2] is None if mask is None
                 else hit[2] is not None and np.array_equal(hit[2], mask))):
        return hit[3]
    index = M.GroupIndex(group, model.n_groups, mask, labels_sorted=labels_sorted())
    cache[key] = (model.n_groups, np.array(group), None if mask is None else np.array(mask),
                  index)
    return index


def _labels_sorted(model: CommissioningModel) -> bool:
    """Whether the agents' group labels ≥ 0 are in ascending order (agents are numbered
    group by group), checked once a collection."""
    def check() -> bool:
        g = model.pop.group
        g = g[g >= 0]
        return bool((g[1:] >= g[:-1]).all())

    return _scratch(model, "labels_sorted", check)


def _member_index(model: CommissioningModel) -> M.GroupIndex:
    """The group index of :func:`_members`."""
    return _index(model, "members", lambda: _members(model))


def _area_index(model: CommissioningModel) -> M.GroupIndex:
    """The areas' group index (every area, by its group), once a collection."""
    return _scratch(model, ("index", "areas"), lambda: _kept_index(
        model, "areas", model.pop.area_group, None))


def _area_mean(model: CommissioningModel, values: np.ndarray) -> np.ndarray:
    """``mean_by_group(values, area_group, n_groups, weights=area_population)``: the
    population-weighted mean over each group's areas."""
    return _area_index(model).mean(values, model.area_population)


# ------------------------------------------------------------------ knowledge
def accuracy_board(model: CommissioningModel) -> np.ndarray:
    """1 − TV(board view, group need) per group."""
    return _overall(model, M.accuracy(model.board_view, model.group_need))


def accuracy_localities(model: CommissioningModel) -> np.ndarray:
    """Mean over a group's areas (population-weighted) of 1 − TV(locality view, area need),
    the view being what the locality's last meeting pooled (NaN without locality meetings)."""
    view = model.locality_view
    # np.isfinite(view).all(axis=1), column by column (one short reduction per row is slow)
    met = np.isfinite(view[:, 0]) if view.shape[1] else np.ones(view.shape[0], bool)
    for k in range(1, view.shape[1]):
        met &= np.isfinite(view[:, k])
    # mean_by_group(where(met, accuracy(nan_to_num(view), area_need), nan), area_group,
    # mask=met, weights=area_population): the accuracy (row by row) and the weights read at
    # the areas that met only, whose views are finite, over the kept index of those areas
    index = _kept_index(model, "areas_met", model.pop.area_group, met)
    rows = index.rows
    acc = M.accuracy(view[rows], model.area_need[rows])
    return _overall(model, index.selected().mean(acc, model.area_population[rows]))


def accuracy_all(model: CommissioningModel) -> np.ndarray:
    """Mean over a group's agents of 1 − TV(belief, need of the agent's scope)."""
    return _member_family(model, "accuracy_all")


def board_uncertainty(model: CommissioningModel) -> np.ndarray:
    r"""Dispersion of the board members' beliefs, in [0, 1].

    .. math:: U_g = \frac{1}{|B_g|}\sum_{i \in B_g} \mathrm{TV}(b_i, \bar b_g),
        \qquad \bar b_g = \frac{1}{|B_g|}\sum_{i \in B_g} b_i

    over the present members :math:`B_g` (unweighted): how much the people round the table
    disagree about need.  Nothing is divided by engagement.
    """
    g = model.n_groups
    board_rows, board_cols = _board_entries(model)
    here = model.present[board_cols]
    rows, cols = board_rows[here], board_cols[here]
    count = np.bincount(rows, minlength=g)
    b = model.belief[cols]
    # per (group, service) the additions of np.add.at (entry order, from zero): the entries
    # are in row order, so one CSR product over them adds the same terms in the same order
    indptr = np.zeros(g + 1, np.int64)
    np.cumsum(count, out=indptr[1:])
    centre = csr_product(indptr, np.arange(rows.size, dtype=np.int64), np.ones(rows.size), b, g)
    centre /= np.maximum(count, 1)[:, None]
    tv = 0.5 * row_sums(np.abs(b - centre[rows]))  # = .sum(axis=1), bit for bit
    num = np.bincount(rows, weights=tv, minlength=g)
    out = np.full(g, np.nan)
    met = count > 0
    out[met] = num[met] / count[met]  # = num / max(count, 1) where count > 0
    return _overall(model, out)


def _board_entries(model: CommissioningModel) -> tuple[np.ndarray, np.ndarray]:
    """(group, member slot) of every entry of the boards' matrix in its (row) order, as its
    ``tocoo()`` gives them; kept while ``model.board`` is the same matrix (a reorganise
    replaces it; nothing writes into it after it is drawn)."""
    hit = model.__dict__.get("_board_entries")
    if hit is None or hit[0] is not model.board:
        coo = model.board.tocoo()
        hit = (model.board, (coo.row, coo.col))
        model.__dict__["_board_entries"] = hit
    return hit[1]


def knowledge_flow(model: CommissioningModel) -> np.ndarray:
    """Exchanges per agent this step: ties used (both ends active) per group member."""
    return _member_family(model, "knowledge_flow")


def _neighbours(
    A: sp.csr_array, nodes: np.ndarray, min_weight: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """(position in ``nodes``, neighbour) pairs over the CSR rows of ``nodes``, for ties of
    weight ≥ ``min_weight``."""
    pos = np.repeat(np.arange(nodes.size), np.diff(A.indptr)[nodes])
    entry = row_positions(A.indptr, nodes)
    strong = A.data[entry] >= min_weight
    return pos[strong], A.indices[entry[strong]]


def _in_sorted(keys: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Membership of ``x`` in the sorted array ``keys``."""
    if keys.size == 0:
        return np.zeros(x.shape, bool)
    return keys[np.minimum(np.searchsorted(keys, x), keys.size - 1)] == x


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    """Sorted unique values (sort-based; faster than hashing for large int arrays)."""
    x = np.sort(x)
    return x[np.concatenate([[True], x[1:] != x[:-1]])] if x.size else x


def _near_neighbour(A: sp.csr_array, group: np.ndarray, n: int,
                    member: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Per agent: whether a tie of weight ≥ 0.2 joins it to an agent that is ``member`` of its
    own group's near set (keys ``group * n + agent``, as :func:`reach` forms them, a label −1
    included), from all the rows of ``A`` at once: for front-line agents the same answer as
    :func:`_neighbours` over their rows and a count of the near neighbours, without gathering
    the rows' entries."""
    if A.nnz == 0:
        return np.zeros(n, bool)
    degree = np.diff(A.indptr)
    # every entry's (its row's group, column) key, looked up; a row's flags are contiguous
    key = np.repeat(group.astype(np.int64), degree) * n + A.indices
    flag = np.zeros(A.nnz + 1, bool)  # a False after the last entry: rows end inside
    np.logical_and(member(key), A.data >= 0.2, out=flag[:-1])
    # a row without entries gets the flag at its start from reduceat: masked
    return np.logical_or.reduceat(flag, A.indptr[:-1]) & (degree > 0)


_REACH_TABLE = 1 << 25  # cells of reach's dense (group, agent) table (32 MB of booleans)


@periodic("structure_every")
def reach(model: CommissioningModel) -> np.ndarray:
    """Share of a group's practices with a present front-line agent within two ties of a
    member of its board (ties of weight ≥ 0.2 count: a working relationship).  Recomputed
    every ``metrics.structure_every`` steps.

    Computed with (group, agent) keys: the agents within one tie of each board, then the
    front-line agents that are, or neighbour, one of them; the keys are looked up in a dense
    (group, agent) table while it has at most ``_REACH_TABLE`` cells, else by binary search
    in the sorted keys (the same membership).
    """
    p = model.pop
    n = model.n_agents
    A = _adjacency(model)
    coo = model.board.tocoo()
    g, who = coo.row.astype(np.int64), coo.col.astype(np.int64)
    pos, nb = _neighbours(A, who, 0.2)
    # (group, agent) keys of agents at most one tie from a member of that group's board
    near = np.concatenate([g * n + who, g[pos] * n + nb])
    if model.n_groups * n <= _REACH_TABLE:
        table = np.zeros(model.n_groups * n, bool)
        table[near] = True
        member = table.__getitem__
    else:
        near = _sorted_unique(near)
        member = functools.partial(_in_sorted, near)
    fl = np.flatnonzero(model.front_line & model.present)
    mine = p.group[fl].astype(np.int64)
    hit = member(mine * n + fl)
    # a front-line agent is reached if it or a neighbour is near
    if 2 * fl.size >= n:  # most agents are front line: every row's ties at once
        hit |= _near_neighbour(A, p.group, n, member)[fl]
    else:
        pos, nb = _neighbours(A, fl, 0.2)
        hit |= np.bincount(pos, weights=member(mine[pos] * n + nb), minlength=fl.size) > 0
    practice_reached = np.zeros(p.n_practices, bool)
    practice_reached[p.practice[fl[hit]]] = True
    share = np.bincount(p.practice_group, weights=practice_reached, minlength=model.n_groups)
    return _overall(model, share / np.bincount(p.practice_group, minlength=model.n_groups))


def shock_detection_time(model: CommissioningModel) -> np.ndarray:
    """Months from the latest need shock until the board view moved half-way to the new need
    (NaN before any shock or until detected); overall = mean over detecting groups."""
    d = model.detection
    return np.append(d, np.nanmean(d) if np.isfinite(d).any() else np.nan)


# ------------------------------------------------------------------ coherence
def coherence_internal(model: CommissioningModel) -> np.ndarray:
    """1 − mean TV of members' objectives to their group's mean objective."""
    # M.internal_coherence over the members' shared index: 1 − their dispersion
    return _overall(model, 1.0 - _member_index(model).dispersion(model.objective))


def _org_objectives(model: CommissioningModel, kind: int, n_orgs: int) -> np.ndarray:
    """Mean objective of the present staff of each organisation (uniform if none).

    Per organisation and service the staff's objectives are added in slot order from zero
    (what one bincount per service did), by one CSR product whose rows are the
    organisations and whose entries are the staff in slot order (:func:`_staff_by_org`)."""
    indptr, staff, ones, count = _staff_by_org(model, kind, n_orgs)
    out = np.full((n_orgs, model.n_services), 1.0 / model.n_services)
    has = count > 0
    out[has] = csr_product(indptr, staff, ones, model.objective, n_orgs)[has]
    out[has] /= count[has, None]
    return out


def _staff_by_org(model: CommissioningModel, kind: int, n_orgs: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The present staff of ``kind`` by organisation: CSR row pointers, the staff's slots
    (ascending within each organisation), ones, and the number per organisation; kept on
    the model while the present staff and their organisations are the same (compared
    element by element)."""
    staff_mask = (model.pop.kind == kind) & model.present
    cache = model.__dict__.setdefault("_staff_by_org", {})
    hit = cache.get(kind)
    if (hit is not None and hit[1] == n_orgs and np.array_equal(hit[2], staff_mask)
            and np.array_equal(hit[0], model.pop.org)):
        return hit[3]
    staff = np.flatnonzero(staff_mask)
    org = model.pop.org[staff]
    order = np.argsort(org, kind="stable")
    count = np.bincount(org, minlength=n_orgs)
    indptr = np.zeros(n_orgs + 1, np.int64)
    np.cumsum(count, out=indptr[1:])
    out = (indptr, staff[order].astype(np.int64), np.ones(staff.size), count.astype(float))
    cache[kind] = (model.pop.org.copy(), n_orgs, staff_mask, out)
    return out


def _serving(model: CommissioningModel) -> tuple[sp.csr_array, sp.csr_array, sp.csr_array]:
    """Who serves each group, as sparse (G, organisations) matrices: local authorities and
    providers (0/1), and the providers' capacity weights (size × the group's share of the
    population the provider serves).

    Sparse, because a dense (G, organisations) @ (organisations, K) product goes to OpenBLAS,
    whose worker threads then spin on the other core (CPU time doubled, a sweep's other worker
    slowed).  Built once and kept while who-serves-whom is unchanged (a provider's exit
    changes it), not from the dense tables every step."""
    return _serving_cached(model)[1]


def _serving_cached(model: CommissioningModel) -> tuple:
    """(key, :func:`_serving`'s matrices, their :class:`~simulation.measures.SystemWeights`),
    rebuilt when who serves whom changed."""
    p = model.pop
    key = (p.la_serves.tobytes(), p.provider_serves.tobytes())
    cached = model.__dict__.get("_serving")
    if cached is None or cached[0] != key:
        serves = p.provider_serves.T.astype(float)  # (G, n_providers)
        pop = serves * p.group_population[:, None]
        share = pop / np.maximum(pop.sum(axis=0, keepdims=True), 1.0)
        mats = (sp.csr_array(p.la_serves.T.astype(float)), sp.csr_array(serves),
                sp.csr_array(share * p.provider_size[None, :]))
        cached = (key, mats, M.SystemWeights(mats[0], mats[1]))
        model.__dict__["_serving"] = cached
    return cached


def system_objective(model: CommissioningModel) -> np.ndarray:
    """The wider system's objective per group (LAs, providers, national priorities; 1/3 each)."""
    p = model.pop
    la = _org_objectives(model, LOCAL_AUTHORITY, p.la_serves.shape[0])
    pr = _org_objectives(model, PROVIDER, p.provider_serves.shape[0])
    # M.system_objective(la, pr, national, la_groups, provider_groups), the serving
    # matrices' row sums kept with them
    return _serving_cached(model)[2].objective(la, pr, model.national)


def coherence_external(model: CommissioningModel) -> np.ndarray:
    """1 − TV(board objective, wider-system objective)."""
    return _overall(model, M.external_coherence(model.board_objective, system_objective(model)))


# ------------------------------------------------------------------ stability
@periodic("structure_every")
def tie_persistence(model: CommissioningModel) -> np.ndarray:
    """Jaccard similarity of the tie set now and ``metrics.stability_window`` steps ago
    (or the start); overall over the whole network.  Recomputed every
    ``metrics.structure_every`` steps."""
    old, new = model.key_history[0].astype(np.int64), model.ties.keys()  # kept as uint32
    per, overall = M.jaccard_by_group(old, new, model.n_agents, model.pop.group, model.n_groups,
                                      overall=True)
    return np.append(per, overall)


def retention(model: CommissioningModel) -> np.ndarray:
    """Share of a group's slots held by the same person as a window ago."""
    # M.retention over the members' shared index: the share of unchanged occupant ids
    return _member_family(model, "retention")


def turnover(model: CommissioningModel) -> np.ndarray:
    """Share of a group's agents who left this step."""
    return _member_family(model, "turnover")


def decision_volatility(model: CommissioningModel) -> np.ndarray:
    """TV distance between the latest allocation and the one before."""
    return _overall(model, M.decision_volatility(model.group_alloc, model.previous_alloc))


@periodic("structure_every")
def leader_dependence(model: CommissioningModel) -> np.ndarray:
    """Share of a group's within-group tie strength held by its three strongest agents."""
    return _overall(model, M.strength_concentration(_adjacency(model), model.pop.group,
                                                    model.n_groups, top=3))


# ------------------------------------------------------------------ relevance
def _group_capacity(model: CommissioningModel) -> np.ndarray:
    """What the providers serving each group can deliver, (G, K): each provider's capacity
    profile weighted by its size (``providers[].size``) times the group's share of the
    population it serves (once a collection: relevance_provider and wasted_spend read it;
    kept from one collection to the next while the serving matrices are the same object and
    the providers' capacities the same, compared element by element; read-only)."""
    return _scratch(model, "group_capacity", lambda: _kept_group_capacity(model))


def _kept_group_capacity(model: CommissioningModel) -> np.ndarray:
    serving = _serving_cached(model) if model.pop.provider_serves.size else None
    key = (model.n_groups, model.n_services)
    hit = model.__dict__.get("_group_capacity_kept")
    if (hit is not None and hit[0] is serving and hit[1] == key
            and np.array_equal(hit[2], model.capacity)):
        return hit[3]
    cap = _compute_group_capacity(model)
    cap.flags.writeable = False
    model.__dict__["_group_capacity_kept"] = (serving, key, np.array(model.capacity), cap)
    return cap


def _compute_group_capacity(model: CommissioningModel) -> np.ndarray:
    if not model.pop.provider_serves.size:
        return np.full((model.n_groups, model.n_services), 1.0 / model.n_services)
    cap = _serving(model)[2] @ model.capacity
    empty = cap.sum(axis=1) <= 0
    cap[empty] = 1.0 / model.n_services
    return cap


def relevance_patient(model: CommissioningModel) -> np.ndarray:
    """1 − TV(group allocation, group need)."""
    return _scratch(model, "relevance_patient", lambda: _overall(
        model, M.patient_relevance(model.group_alloc, model.group_need)))


def _overall_of(model: CommissioningModel, alloc: np.ndarray) -> np.ndarray:
    return _overall(model, M.patient_relevance(alloc, model.group_need))


def relevance_floor(model: CommissioningModel) -> np.ndarray:
    """Patient relevance of the same decisions fed no local knowledge (the national profile
    as every board's and locality's view), from the same inherited allocation."""
    return _scratch(model, "relevance_floor", lambda: _overall_of(model, model.floor_budget.group))


def relevance_ceiling(model: CommissioningModel) -> np.ndarray:
    """Patient relevance of the same decisions fed true need (group and locality need)."""
    return _scratch(model, "relevance_ceiling",
                    lambda: _overall_of(model, model.ceiling_budget.group))


def relevance_skill(model: CommissioningModel) -> np.ndarray:
    """(R − R_floor)/(R_ceiling − R_floor) per group (:func:`simulation.measures.relevance_skill`);
    overall from the population-weighted relevances (the ratio of the mean gain over the mean
    span).  0 = no better than no local knowledge, 1 = as good as perfect knowledge; NaN (not
    interpretable) where the span is below ``decisions.min_span`` of the budget."""
    r, lo, hi = (relevance_patient(model), relevance_floor(model), relevance_ceiling(model))
    return M.relevance_skill(r, lo, hi, min_range=model.spec.decisions.min_span)


def decision_span_per_head(model: CommissioningModel) -> np.ndarray:
    """£ per head per year between the no-knowledge floor and the perfect-knowledge ceiling:
    budget per head × (R_ceiling − R_floor), the most that knowledge could change (the
    denominator of decision skill, in pounds)."""
    per_head = model.spec.decisions.budget_per_head
    return per_head * (relevance_ceiling(model) - relevance_floor(model))


def _area_allocation(model: CommissioningModel, which: str) -> np.ndarray:
    """What is spent in each area by the model's (``"model"``), the floor's or the
    ceiling's decisions."""
    if which == "model":
        return model.area_alloc
    return (model.floor_budget if which == "floor" else model.ceiling_budget).area


def _area_tv(model: CommissioningModel, which: str) -> np.ndarray:
    """TV(area allocation, area need) per area for ``which`` allocation, once a collection:
    the distance that both the locality relevance (1 − TV) and the misallocated spend
    (budget per head × TV) are made of."""
    return _scratch(model, ("area_tv", which), lambda: M.tv_distance(
        _area_allocation(model, which), model.area_need))


def _misallocated(model: CommissioningModel, which: str) -> np.ndarray:
    # M.misallocated_per_head(alloc, area_need, budget_per_head), its TV shared
    return _area_family(model, ("misallocated", which))


_WHICH_NAME = {"model": "", "floor": "_floor", "ceiling": "_ceiling"}

#: The area family's members (what, which allocation) → the metrics that read them.
_AREA_FAMILY = {
    **{("misallocated", w): (f"misallocated{n}_per_head",) for w, n in _WHICH_NAME.items()},
    ("locality_relevance", "model"): ("relevance_localities", "relevance_skill_localities"),
    **{("locality_relevance", w): ("relevance_skill_localities",
                                   "decision_span_per_head_localities")
       for w in ("floor", "ceiling")},
}


def _area_family(model: CommissioningModel, member: tuple[str, str]) -> np.ndarray:
    """The population-weighted means over a group's areas of the misallocated spend
    (budget per head × TV) and the locality relevance (1 − TV) of the model's, the floor's
    and the ceiling's allocations, per group and overall: the area columns stacked into one
    weighted :meth:`~simulation.measures.GroupIndex.mean` (per column the same products
    added in the same order as one :func:`_area_mean` per metric)."""
    def compute(names: tuple) -> dict:
        per_head = float(model.spec.decisions.budget_per_head)
        cols = [per_head * _area_tv(model, w) if what == "misallocated"
                else 1.0 - _area_tv(model, w) for what, w in names]
        means = _area_index(model).mean_columns(cols, model.area_population)
        return dict(zip(names, _overall_rows(model, means), strict=True))

    return _family(model, "area_family", member, _AREA_FAMILY, compute)


def misallocated_per_head(model: CommissioningModel) -> np.ndarray:
    """£ per head per year allocated away from need: budget per head × TV(allocation, need),
    per area (what is spent in an area against that area's need), population-weighted."""
    return _misallocated(model, "model")


def misallocated_floor_per_head(model: CommissioningModel) -> np.ndarray:
    """The same for the decisions fed no local knowledge (the floor's allocation)."""
    return _misallocated(model, "floor")


def misallocated_ceiling_per_head(model: CommissioningModel) -> np.ndarray:
    """The same for the decisions fed true need (the ceiling's allocation)."""
    return _misallocated(model, "ceiling")


def _misallocated_in_quintile(model: CommissioningModel, q: int) -> np.ndarray:
    """£ per head per year allocated away from need for the patients of the practices in
    deprivation fifth ``q`` (0 = least deprived): budget per head × TV(allocation of their
    locality, their practice's need), list-size weighted, per group and overall; NaN without
    practice deprivation scores (practices_from.covariates) or practices in that fifth."""
    pop = model.pop
    cached = getattr(model, "_imd_quintile", None)
    if cached is None:
        from .needs import imd_quintiles

        imd = pop.practice_imd if pop.practice_imd is not None else np.full(pop.n_practices, np.nan)
        cached = model._imd_quintile = imd_quintiles(imd, pop.list_size)
    out = np.full(model.n_groups + 1, np.nan)
    rows = np.flatnonzero(cached == q)
    if rows.size == 0:
        return out
    mis = M.misallocated_per_head(model.area_alloc[pop.practice_area[rows]],
                                  model.practice_need[rows], model.spec.decisions.budget_per_head)
    w = pop.list_size[rows].astype(float)
    g = pop.practice_group[rows]
    tot = np.bincount(g, weights=w, minlength=model.n_groups)
    val = np.bincount(g, weights=w * mis, minlength=model.n_groups)
    out[:-1] = np.where(tot > 0, val / np.where(tot > 0, tot, 1.0), np.nan)
    out[-1] = float(np.sum(w * mis) / w.sum())
    return out


def misallocated_per_head_imd_q1(model: CommissioningModel) -> np.ndarray:
    """Misallocated £ per head for the least deprived fifth of patients (by practice IMD)."""
    return _misallocated_in_quintile(model, 0)


def misallocated_per_head_imd_q2(model: CommissioningModel) -> np.ndarray:
    """Misallocated £ per head for the second least deprived fifth (by practice IMD)."""
    return _misallocated_in_quintile(model, 1)


def misallocated_per_head_imd_q3(model: CommissioningModel) -> np.ndarray:
    """Misallocated £ per head for the middle fifth of patients (by practice IMD)."""
    return _misallocated_in_quintile(model, 2)


def misallocated_per_head_imd_q4(model: CommissioningModel) -> np.ndarray:
    """Misallocated £ per head for the second most deprived fifth (by practice IMD)."""
    return _misallocated_in_quintile(model, 3)


def misallocated_per_head_imd_q5(model: CommissioningModel) -> np.ndarray:
    """Misallocated £ per head for the most deprived fifth of patients (by practice IMD)."""
    return _misallocated_in_quintile(model, 4)


def shock_funded_6m(model: CommissioningModel) -> np.ndarray:
    """Share of the latest need shock's extra need (group share of the shocked service) that
    the group's allocation covers 6 months after it (NaN before; carried forward after)."""
    return _overall(model, model.funded[6])


def shock_funded_12m(model: CommissioningModel) -> np.ndarray:
    """The same, 12 months after the shock."""
    return _overall(model, model.funded[12])


def relevance_provider(model: CommissioningModel) -> np.ndarray:
    """1 − TV(group allocation, what the providers serving the group can deliver), capacity
    profiles weighted by provider size and the group's share of each provider."""
    # M.provider_relevance(group_alloc, capacity), the capacity shares kept
    share, _ = _capacity_shares(model)
    return _overall(model, 1.0 - M.tv_distance(model.group_alloc, share))


def _capacity_shares(model: CommissioningModel) -> tuple[np.ndarray, np.ndarray]:
    """The group capacity normalised to shares as :func:`simulation.measures.provider_relevance`
    and :func:`~simulation.measures.wasted_spend` normalise it (NaN for a row without
    capacity), and the same with NaN as 0 (wasted_spend's); kept while the group capacity
    is the same (kept) array; read-only."""
    cap = _group_capacity(model)
    hit = model.__dict__.get("_capacity_shares_kept")
    if hit is not None and hit[0] is cap:
        return hit[1]
    share = _capacity_share(cap)
    out = (share, np.nan_to_num(share, nan=0.0))
    for x in out:
        x.flags.writeable = False
    model.__dict__["_capacity_shares_kept"] = (cap, out)
    return out


def relevance_localities(model: CommissioningModel) -> np.ndarray:
    """Population-weighted mean over areas of 1 − TV(area allocation, area need)."""
    return _locality_relevance_of(model, "model")


def _pct(r: np.ndarray, lo: np.ndarray, hi: np.ndarray, min_span: float) -> np.ndarray:
    return M.relevance_skill(r, lo, hi, min_range=min_span)


def _locality_relevance_of(model: CommissioningModel, which: str) -> np.ndarray:
    """Per group and overall the population-weighted mean over areas of
    M.locality_relevance (1 − TV(area allocation, area need)), once a collection."""
    return _area_family(model, ("locality_relevance", which))


def relevance_skill_localities(model: CommissioningModel) -> np.ndarray:
    """Decision skill scored at the locality (PCN) level: (R_l − R_l,floor)/(R_l,ceiling −
    R_l,floor) with R_l the population-weighted mean over a group's localities of 1 − TV(what
    is spent in the locality, the locality's need), for the model's, the floor's and the
    ceiling's allocations; NaN (not interpretable) where the span is below
    ``decisions.min_span``."""
    r = _locality_relevance_of(model, "model")
    lo = _locality_relevance_of(model, "floor")
    hi = _locality_relevance_of(model, "ceiling")
    return _pct(r, lo, hi, model.spec.decisions.min_span)


def decision_span_per_head_localities(model: CommissioningModel) -> np.ndarray:
    """Budget per head × (R_l,ceiling − R_l,floor) at the locality level (£ per head)."""
    lo = _locality_relevance_of(model, "floor")
    hi = _locality_relevance_of(model, "ceiling")
    return model.spec.decisions.budget_per_head * (hi - lo)


def _by_body(model: CommissioningModel, per_body: np.ndarray) -> np.ndarray:
    """Per-group values (each group its body's; NaN for a group under no body), without the
    overall."""
    gb = model.pop.group_body
    out = np.full(model.n_groups, np.nan)
    under = gb >= 0
    out[under] = per_body[gb[under]]
    return out


def _body_weights(model: CommissioningModel) -> np.ndarray:
    """Population of each upper body."""
    gb = model.pop.group_body
    under = gb >= 0
    return np.bincount(gb[under], weights=model.pop.group_population[under].astype(float),
                       minlength=model.pop.n_bodies)


def _with_overall(model: CommissioningModel, per_body: np.ndarray) -> np.ndarray:
    """Per group (its body's value) and overall (population-weighted over bodies)."""
    w = _body_weights(model)
    ok = np.isfinite(per_body) & (w > 0)
    total = float(np.sum(w[ok] * per_body[ok]) / w[ok].sum()) if ok.any() else np.nan
    return np.append(_by_body(model, per_body), total)


def _no_body(model: CommissioningModel) -> bool:
    return model.pop.group_body is None or model.pop.n_bodies == 0


def _body_relevances(model: CommissioningModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patient relevance of each body's spending profile (population-weighted over its groups)
    for the model's, the floor's and the ceiling's allocations, against the body's need."""
    def compute() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        need = body_need(model)
        return tuple(M.patient_relevance(body_profile(model, b.group), need)
                     for b in (model.budget, model.floor_budget, model.ceiling_budget))

    # read by relevance_skill_body and decision_span_per_head_body: once a collection
    return _scratch(model, "body_relevances", compute)


def relevance_skill_body(model: CommissioningModel) -> np.ndarray:
    """Decision skill scored at the upper level (PCT, ICB): (R − R_floor)/(R_ceiling − R_floor)
    per body, R = 1 − TV(the body's spending profile, the body's need), both
    population-weighted over its groups; reported per group as its body's value, overall from
    the population-weighted relevances over bodies; NaN for groups under no body, without an
    upper level, and where the span is below ``decisions.min_span``."""
    out = np.full(model.n_groups + 1, np.nan)
    if _no_body(model):
        return out
    r, lo, hi = (_with_overall(model, x) for x in _body_relevances(model))
    return _pct(r, lo, hi, model.spec.decisions.min_span)


def decision_span_per_head_body(model: CommissioningModel) -> np.ndarray:
    """Budget per head × (R_ceiling − R_floor) at the upper level (per body, reported per group
    as its body's value; NaN without an upper level)."""
    if _no_body(model):
        return np.full(model.n_groups + 1, np.nan)
    _, lo, hi = _body_relevances(model)
    return _with_overall(model, model.spec.decisions.budget_per_head * (hi - lo))


def _misallocated_body(model: CommissioningModel, which: int) -> np.ndarray:
    if _no_body(model):
        return np.full(model.n_groups + 1, np.nan)
    b = (model.budget, model.floor_budget, model.ceiling_budget)[which]
    mis = M.misallocated_per_head(body_profile(model, b.group), body_need(model),
                                  model.spec.decisions.budget_per_head)
    return _with_overall(model, mis)


def misallocated_per_head_body(model: CommissioningModel) -> np.ndarray:
    """Budget per head × TV(the body's spending profile, the body's need) per upper body
    (reported per group as its body's value; NaN without an upper level)."""
    return _misallocated_body(model, 0)


def misallocated_floor_per_head_body(model: CommissioningModel) -> np.ndarray:
    """The same for the decisions fed no local knowledge at every level (the floor)."""
    return _misallocated_body(model, 1)


def misallocated_ceiling_per_head_body(model: CommissioningModel) -> np.ndarray:
    """The same for the decisions fed true need at every level (the ceiling)."""
    return _misallocated_body(model, 2)


def wasted_spend(model: CommissioningModel) -> np.ndarray:
    """£ per head per year spent beyond both need and providers' capacity."""
    per_head = model.spec.decisions.budget_per_head
    # M.wasted_spend(group_alloc, group_need, capacity, per_head), its capacity shares kept
    _, c = _capacity_shares(model)
    a = np.asarray(model.group_alloc, dtype=float)
    useful = np.minimum(np.asarray(model.group_need, dtype=float), c)
    return _overall(model, np.asarray(per_head, dtype=float)
                    * np.maximum(0.0, a - useful).sum(axis=-1))


# ------------------------------------------------------------------ structure
@periodic("structure_every")
def density(model: CommissioningModel) -> np.ndarray:
    """Density of each group's internal tie network."""
    return _overall(model, M.density_by_group(_adjacency(model), model.pop.group, model.n_groups))


@periodic("structure_every")
def degree_centralisation(model: CommissioningModel) -> np.ndarray:
    """Freeman degree centralisation of each group's internal network."""
    return _overall(model, M.degree_centralisation_by_group(_adjacency(model), model.pop.group,
                                                            model.n_groups))


class _SpawnedSeeds:
    """``SeedSequence(entropy).spawn(n)``, each child made only when read: child ``i`` is
    ``SeedSequence(entropy, spawn_key=(i,))``, as ``spawn`` makes it, so groups that draw no
    pivots (exact search) cost no seed."""

    def __init__(self, entropy: list[int], n: int) -> None:
        self.entropy, self.n = entropy, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> np.random.SeedSequence:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.random.SeedSequence(self.entropy, spawn_key=(i,))


@periodic("costly_every")
def betweenness_centralisation(model: CommissioningModel) -> np.ndarray:
    """Freeman betweenness centralisation per group (Brandes–Pich pivots when
    ``metrics.betweenness_samples`` > 0), every ``metrics.costly_every`` steps.  Each group's
    pivots are drawn from its own seed, spawned from the model seed and the step."""
    A = _adjacency(model)
    k = model.spec.metrics.betweenness_samples or None
    seeds = _SpawnedSeeds([model.seed_value, model.steps], model.n_groups)
    values = M.betweenness_centralisation_by_group(
        A, np.where(model.present, model.pop.group, -1), model.n_groups, k=k, seeds=seeds,
        kernels=_kernels.kernels(model.kernel_work))
    return _overall(model, values)


@periodic("costly_every")
def clustering(model: CommissioningModel) -> np.ndarray:
    """Average local clustering coefficient of each group's internal network, every
    ``metrics.costly_every`` steps."""
    return _overall(model, M.clustering_by_group(_adjacency(model), model.pop.group, model.n_groups))


@periodic("structure_every")
def modularity_localities(model: CommissioningModel) -> np.ndarray:
    """Newman modularity of the locality (area) partition of each group's network; agents
    without an area form one extra block (the group level)."""
    labels = np.where(model.pop.area >= 0, model.pop.area, model.pop.n_areas + model.pop.group)
    return _overall(model, M.modularity_by_group(_adjacency(model), model.pop.group,
                                                 np.maximum(labels, 0), model.n_groups))


@periodic("structure_every")
def ei_index(model: CommissioningModel) -> np.ndarray:
    """Krackhardt–Stern E–I index of ties across vs within localities (areas)."""
    labels = np.where(model.pop.area >= 0, model.pop.area, model.pop.n_areas + model.pop.group)
    return _overall(model, M.ei_index_by_group(_adjacency(model), model.pop.group,
                                               np.maximum(labels, 0), model.n_groups))


def _board_tie_shares(model: CommissioningModel) -> np.ndarray:
    src_group = np.full(model.n_agents, -1)
    coo = model.board.tocoo()
    src_group[coo.col] = coo.row  # an agent on several boards counts for the last (rare)
    return M.tie_share_by_type(_adjacency(model), model.on_board, model.pop.kind, 5, src_group,
                               model.n_groups)


def _board_tie_share(model: CommissioningModel, kind: int) -> np.ndarray:
    # the three board_ties_* metrics read columns of the same shares: computed once
    share = _scratch(model, "board_tie_share", lambda: _board_tie_shares(model))
    return _overall(model, share[:, kind])


@periodic("structure_every")
def board_ties_provider(model: CommissioningModel) -> np.ndarray:
    """Share of board members' ties that reach provider staff."""
    return _board_tie_share(model, PROVIDER)


@periodic("structure_every")
def board_ties_patient(model: CommissioningModel) -> np.ndarray:
    """Share of board members' ties that reach patient representatives or lay members."""
    return _board_tie_share(model, PATIENT)


@periodic("structure_every")
def board_ties_local_authority(model: CommissioningModel) -> np.ndarray:
    """Share of board members' ties that reach local-authority staff."""
    return _board_tie_share(model, LOCAL_AUTHORITY)


# ------------------------------------------------------------------ engagement, innovation
def engagement_gp(model: CommissioningModel) -> np.ndarray:
    """Mean engagement of the group's GPs."""
    gp = model.pop.kind == GP
    return _overall(model, _index(model, "gp_present", lambda: gp & model.present).mean(
        model.engagement))


def engagement_all(model: CommissioningModel) -> np.ndarray:
    """Mean engagement of all the group's agents."""
    return _member_family(model, "engagement_all")


def _reflected_share(model: CommissioningModel, formal: bool) -> np.ndarray:
    return _gp_family(model, "reflected", formal)


def reflection_formal(model: CommissioningModel) -> np.ndarray:
    """Mean reflection (1 − TV between the allocation a GP sees and the GP's priorities) of
    GPs with a formal role, at the latest decision (threshold-free)."""
    return _reflection(model, True)


def reflection_other(model: CommissioningModel) -> np.ndarray:
    """The same mean among GPs without a formal role."""
    return _reflection(model, False)


def _reflection(model: CommissioningModel, formal: bool) -> np.ndarray:
    return _gp_family(model, "reflection", formal)


#: The GP metrics by their group index (without, with a reflection score known): the
#: question → its column.
_GP_FAMILY = {False: ("informed", "influence"), True: ("reflected", "reflection")}


def _gp_column(model: CommissioningModel, question: str, rows: np.ndarray) -> np.ndarray:
    """What the GP metric ``question`` (informed, influence, reflected, reflection)
    averages over a class of present GPs, at their ``rows`` (its group index's)."""
    if question == "informed":
        return _informed(model)[rows]
    if question == "influence":
        return _influential(model)[rows]
    if question == "reflected":
        return _reflected(model)[rows]
    # reflection: np.nan_to_num(reflect) at rows whose reflection is known (finite), where
    # nan_to_num changes nothing
    return model.reflect[rows]


def _gp_family(model: CommissioningModel, question: str, formal: bool) -> np.ndarray:
    """The GP metrics of one class (``formal``) over one group index, in one pass:
    informed and influence over the class's present GPs, reflected and reflection over
    those with a reflection score; their columns averaged by one
    :meth:`~simulation.measures.GroupIndex.mean_columns` (the same additions per column as
    :func:`_gp_share` and one mean per metric)."""
    known = question in _GP_FAMILY[True]

    def compute(names: tuple) -> dict:
        # the columns gathered at the index's rows (a few GPs) and averaged over the index
        # of those rows (GroupIndex.selected: the same sums in the same order)
        index = _gp_index(model, formal, known)
        means = index.selected().mean_columns([_gp_column(model, q, index.rows)
                                               for q in names])
        return dict(zip(names, _overall_rows(model, means), strict=True))

    return _family(model, ("gp_family", formal, known), question,
                   _GP_NEEDED_BY[formal, known], compute)


#: (formal, known) → the GP family's members → the metric reading each.
_GP_NEEDED_BY = {(formal, known): {q: (f"{q}_{'formal' if formal else 'other'}",)
                                   for q in _GP_FAMILY[known]}
                 for formal in (True, False) for known in (True, False)}


def reflected_formal(model: CommissioningModel) -> np.ndarray:
    """Share of GPs with a formal role (board, locality lead) who see the latest decision
    reflect their priorities (reflection ≥ ``decisions.reflect_threshold``)."""
    return _reflected_share(model, True)


def reflected_other(model: CommissioningModel) -> np.ndarray:
    """The same share among GPs without a formal role."""
    return _reflected_share(model, False)


def _gp_share(model: CommissioningModel, agree: np.ndarray, formal: bool,
              known: np.ndarray | bool = True) -> np.ndarray:
    """Share of present GPs with (without) a formal role for whom ``agree`` holds, among
    those where it is ``known``."""
    if known is True:
        index = _gp_index(model, formal, False)
    elif known is _known_reflect(model):  # the reflection metrics' mask: its shared index
        index = _gp_index(model, formal, True)
    else:
        index = M.GroupIndex(model.pop.group, model.n_groups, _gps(model, formal) & known)
    return _overall(model, index.mean(agree.astype(float)))


def _known_reflect(model: CommissioningModel) -> np.ndarray:
    """Agents with a reflection score (a decision seen), once a collection."""
    return _scratch(model, "known_reflect", lambda: np.isfinite(model.reflect))


def _gp_index(model: CommissioningModel, formal: bool, known_reflect: bool) -> M.GroupIndex:
    """The group index of the present GPs with (without) a formal role (and, with
    ``known_reflect``, a reflection score)."""
    if known_reflect:
        return _index(model, ("gps_known", formal),
                      lambda: _gps(model, formal) & _known_reflect(model))
    return _index(model, ("gps", formal), lambda: _gps(model, formal))


def _gps(model: CommissioningModel, formal: bool) -> np.ndarray:
    """Present GPs with (without) a formal role."""
    return _scratch(model, ("gps", formal), lambda: (model.pop.role == R_GP) & model.present
                    & (model.formal_role == formal))


def _informed(model: CommissioningModel) -> np.ndarray:
    return _scratch(model, "informed", lambda: model.last_contact
                    > model.month - model.spec.decisions.informed_window)


def informed_formal(model: CommissioningModel) -> np.ndarray:
    """Share of GPs with a formal role in contact with a board member (a tie used, or a
    board or locality meeting attended together) in the last ``decisions.informed_window``
    months: the model's "I am informed about what the CCG is trying to achieve"."""
    return _gp_family(model, "informed", True)


def informed_other(model: CommissioningModel) -> np.ndarray:
    """The same share among GPs without a formal role."""
    return _gp_family(model, "informed", False)


def influence_formal(model: CommissioningModel) -> np.ndarray:
    """Share of GPs with a formal role whose engagement ≥ ``decisions.influence_threshold``:
    the model's "I can influence the work of the CCG if I choose to" (engagement is what the
    experience of influencing decisions builds, :mod:`simulation.engagement`)."""
    return _gp_family(model, "influence", True)


def influence_other(model: CommissioningModel) -> np.ndarray:
    """The same share among GPs without a formal role."""
    return _gp_family(model, "influence", False)


# ------------------------------------------------------------------ the surveys' questions
def _respondents(model: CommissioningModel, cls: str) -> np.ndarray:
    """Present respondents of one class: ``formal`` (GPs with a formal role: board member,
    locality lead), ``other`` (GPs without one), ``stakeholder`` (provider and council staff,
    patient representatives)."""
    p = model.pop
    if cls == "stakeholder":
        return _scratch(model, ("respondents", cls), lambda: model.present & (
            (p.kind == PROVIDER) | (p.kind == LOCAL_AUTHORITY) | (p.role == R_PPG)))
    return _scratch(model, ("respondents", cls), lambda: model.present & (p.role == R_GP)
                    & (model.formal_role == (cls == "formal")))


def _survey_share(model: CommissioningModel, agree: np.ndarray, cls: str,
                  known: np.ndarray | bool = True) -> np.ndarray:
    """Share agreeing among a class's respondents, per commissioning body: a respondent
    answers about every body that commissions for it (its group; for provider and council
    staff, each group their organisation serves), so S^T (agree & r) / S^T r with S the
    agents' serving matrix (:func:`simulation.knowledge_flows.serving_matrix`).  With an upper
    level (a PCT, an ICB) the body that commissions for a group is its upper body: the share
    is pooled over the body's respondents (each once) and reported for each of its groups."""
    # the (respondent, body) pairs of the class as a (bodies × agents) 0/1 CSR matrix, kept
    # while the structure and the respondents are unchanged (_kept_pairs): its products with
    # 0/1 vectors are counts, exact in any order of addition, so the numbers are those of
    # counting the pairs one by one (np.bincount over the pairs, as before)
    indptr, at, ones, den_all, unit_of = _scratch(model, ("survey_pairs", cls),
                                                  lambda: _kept_pairs(model, cls))
    n_units = den_all.size
    if known is True:  # the denominator is the class's: shared by its questions
        den = den_all
        num = csr_product(indptr, at, ones, agree.astype(float), n_units)
    else:
        if known is _known_reflect(model):  # shared by the questions known from reflection
            known_f = _scratch(model, "known_reflect_f", lambda: known.astype(float))
            den = _scratch(model, ("survey_known", cls),
                           lambda: csr_product(indptr, at, ones, known_f, n_units))
        else:
            known_f = np.asarray(known, bool).astype(float)
            den = csr_product(indptr, at, ones, known_f, n_units)
        num = csr_product(indptr, at, ones, known_f * agree, n_units)
    if unit_of is not None:  # each group gets its upper body's share
        den, num = den[unit_of], num[unit_of]
    share = np.full(den.size, np.nan)
    pos = den > 0
    share[pos] = num[pos] / den[pos]
    return _overall(model, share)


def _kept_pairs(model: CommissioningModel, cls: str
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`_pairs_of` as a (units × agents) CSR matrix of ones — row pointers, respondents
    (columns), ones — with each unit's number of pairs, and each group's unit (or None),
    kept on the model from one collection to the next while what it
    depends on is unchanged: the serving pairs (the same object), the groups' upper bodies
    (``group_body`` and ``n_bodies``, which a reorganise replaces) and the class's
    respondents (compared element by element).  With an upper level the pairs are
    deduplicated by a sort of every serving pair (:func:`numpy.unique`), ~0.1–0.3 ms a class
    a month, while the respondents change only with turnover and presence."""
    resp = _respondents(model, cls)
    gb = model.pop.group_body
    cache = model.__dict__.setdefault("_survey_pairs_cache", {})
    hit = cache.get(cls)
    if (hit is not None and hit[0] is model.serving_pairs
            and hit[1] == (model.pop.n_bodies, model.n_groups)
            and ((gb is None and hit[2] is None)
                 or (gb is not None and hit[2] is not None and np.array_equal(hit[2], gb)))
            and np.array_equal(hit[3], resp)):
        return hit[4]
    rows, unit, n_units, unit_of = _pairs_of(model, cls)
    order = np.argsort(unit, kind="stable")
    den = np.bincount(unit, minlength=n_units)
    indptr = np.zeros(n_units + 1, np.int64)
    np.cumsum(den, out=indptr[1:])
    out = (indptr, rows[order].astype(np.int64), np.ones(rows.size), den.astype(float), unit_of)
    cache[cls] = (model.serving_pairs, (model.pop.n_bodies, model.n_groups),
                  None if gb is None else gb.copy(),
                  resp.copy(), out)
    return out


def _pairs_of(model: CommissioningModel, cls: str
              ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray | None]:
    """(respondent, body) of the serving pairs whose agent is a respondent of ``cls``, the
    number of bodies, and (with an upper level) each group's body among them, else None.

    With an upper level (PCT, ICB) a group's body is its upper body: the pairs are mapped to
    units (group g, or G + body c) and each respondent counted once per unit."""
    rows, cols = model.serving_pairs
    keep = np.flatnonzero(_respondents(model, cls)[rows])
    rows, cols = rows[keep], cols[keep]
    g = model.n_groups
    gb = model.pop.group_body
    if gb is None or not (gb >= 0).any():
        return rows, cols, g, None
    unit_of = np.where(gb >= 0, g + gb, np.arange(g))
    pairs = np.unique(np.stack([rows, unit_of[cols]]), axis=1)
    return pairs[0], pairs[1], g + model.pop.n_bodies, unit_of


def _engaged(model: CommissioningModel, level: str) -> np.ndarray:
    q = model.spec.survey_questions
    return _scratch(model, ("engaged", level), lambda: model.engagement >= (
        q.engaged_high if level == "high" else q.engaged_some))


def _influential(model: CommissioningModel) -> np.ndarray:
    """Engagement ≥ ``decisions.influence_threshold``, once a collection."""
    return _scratch(model, "influential",
                    lambda: model.engagement >= model.spec.decisions.influence_threshold)


def _reflected(model: CommissioningModel) -> np.ndarray:
    """Reflection ≥ ``decisions.reflect_threshold``, once a collection."""
    return _scratch(model, "reflected",
                    lambda: model.reflect >= model.spec.decisions.reflect_threshold)


def _survey_agree(model: CommissioningModel, question: str) -> np.ndarray:
    """Who agrees with the survey statement ``question`` (of those who can answer it)."""
    if question == "engaged_high":
        return _engaged(model, "high")
    if question == "engaged_some":
        return _engaged(model, "some")
    if question == "influence":
        return _influential(model)
    if question == "reflected":
        return _reflected(model)
    if question == "informed":
        return _informed(model)
    # acted_on: in contact with the body within the window, and its latest decision moved
    # what the respondent sees toward the respondent's priorities
    return _scratch(model, "acted_on", lambda: _informed(model) & model.moved_toward)


#: The questions answered only by respondents with a reflection score (a decision seen).
_KNOWN_FROM_REFLECTION = frozenset({"reflected", "acted_on"})


def _survey_family(model: CommissioningModel, question: str, cls: str) -> np.ndarray:
    """:func:`_survey_share` of every survey question of one class in one pass.

    Numerators and denominators are counts of (respondent, body) pairs — those agreeing,
    those with a reflection score for the questions answered from it — which are exact
    integers in any order of addition, so the counts of every question are taken by one
    bincount over (question, unit) bins of the pairs' agreements gathered at the class's
    respondents (the same numbers as the products with the class's matrix of ones); the
    shares are divided, gathered and overall-weighted as :func:`_survey_share` does,
    question by question."""
    def compute(names: tuple) -> dict:
        indptr, at, _ones, den_all, unit_of = _scratch(model, ("survey_pairs", cls),
                                                      lambda: _kept_pairs(model, cls))
        n_units, k = den_all.size, len(names)
        known_at = None
        hit = np.empty((k + 1, at.size), bool)  # each pair's agreement; last: known
        den = np.empty((k, n_units))
        for j, q in enumerate(names):
            agree_at = _survey_agree(model, q)[at]
            if q in _KNOWN_FROM_REFLECTION:  # among those with a reflection score
                if known_at is None:
                    known_at = hit[k] = _known_reflect(model)[at]
                np.logical_and(known_at, agree_at, out=hit[j])
            else:
                hit[j] = agree_at
        if known_at is None:
            hit[k] = False
        counts = np.bincount(_survey_bins(model, cls, indptr, k)[hit.ravel()],
                             minlength=(k + 1) * n_units).reshape(k + 1, n_units)
        num = counts[:k].astype(float)
        for j, q in enumerate(names):
            den[j] = counts[k] if q in _KNOWN_FROM_REFLECTION else den_all
        if unit_of is not None:  # each group gets its upper body's share
            den, num = den[:, unit_of], num[:, unit_of]
        share = np.full(den.shape, np.nan)
        pos = den > 0
        share[pos] = num[pos] / den[pos]
        return dict(zip(names, _overall_rows(model, share), strict=True))

    return _family(model, ("survey_family", cls), question, _SURVEY_NEEDED_BY[cls], compute)


def _survey_bins(model: CommissioningModel, cls: str, indptr: np.ndarray, k: int
                 ) -> np.ndarray:
    """The bins ``j · units + unit`` of the class's pairs for ``k + 1`` rows of agreements
    (``indptr``: the class's kept pairs, whose entries run unit by unit), kept while the
    pairs are the same arrays."""
    cache = model.__dict__.setdefault("_survey_bins", {})
    hit = cache.get((cls, k))
    if hit is not None and hit[0] is indptr:
        return hit[1]
    n_units = indptr.size - 1
    unit = np.repeat(np.arange(n_units, dtype=np.int64), np.diff(indptr))
    bins = (np.arange(k + 1, dtype=np.int64)[:, None] * n_units + unit).ravel()
    cache[cls, k] = (indptr, bins)
    return bins


def _survey_metric(question: str, cls: str) -> Callable[[CommissioningModel], np.ndarray]:
    def reporter(model: CommissioningModel) -> np.ndarray:
        return _survey_family(model, question, cls)

    reporter.__name__ = f"survey_{question}_{cls}"
    reporter.__doc__ = f"Share of {_CLASS_WORDS[cls]} agreeing: {SURVEY_QUESTIONS[question][0]}"
    return reporter


#: The surveys' statements (wording) and how the model reads each one.
SURVEY_QUESTIONS = {
    "engaged_high": ("'I am highly engaged with the commissioning body' (CCG / ICB place)",
                     "engagement ≥ survey_questions.engaged_high (takes part in most months)"),
    "engaged_some": ("'I am at least somewhat engaged with the commissioning body'",
                     "engagement ≥ survey_questions.engaged_some (takes part in at least one "
                     "month in four)"),
    "influence": ("'I can influence the work of the CCG if I choose to'",
                  "engagement ≥ decisions.influence_threshold"),
    "reflected": ("'Decisions made by the CCG reflect my views'",
                  "1 − TV(allocation seen, own priorities) ≥ decisions.reflect_threshold at "
                  "the latest decision"),
    "informed": ("'I am informed about what the CCG is trying to achieve'",
                 "in contact with a member of a board of the commissioning bodies (the group's "
                 "board or place committee, or with an upper level its PCT or ICB board: a "
                 "tie used, a meeting attended together) within decisions.informed_window "
                 "months"),
    "acted_on": ("'My views are acted on'",
                 "informed (as above) and the latest decision moved the allocation the "
                 "respondent sees toward its priorities"),
}
_CLASS_WORDS = {"formal": "GPs with a formal role (a member of a board at any level: CCG "
                          "governing body, place committee, practice-based commissioning "
                          "cluster board, PCT or ICB board; or a locality lead, in the ICB era "
                          "a PCN clinical director)",
                "other": "GPs without a formal role",
                "stakeholder": "other stakeholders (provider and council staff, patient "
                               "representatives)"}
#: class → the survey family's questions → the metric reading each.
_SURVEY_NEEDED_BY = {c: {q: (f"survey_{q}_{c}",) for q in SURVEY_QUESTIONS}
                     for c in ("formal", "other", "stakeholder")}
_SURVEY_REPORTERS = tuple(_survey_metric(q, c) for q in SURVEY_QUESTIONS
                          for c in ("formal", "other", "stakeholder"))


def pathway_adoption(model: CommissioningModel) -> np.ndarray:
    """Share of the group's agents who have adopted the new clinical pathway."""
    return _member_family(model, "pathway_adoption")


def _member_column(model: CommissioningModel, name: str) -> np.ndarray:
    """What :func:`_member_family`'s metric ``name`` averages over the members."""
    if name == "accuracy_all":
        return M.accuracy(model.belief, model.truth)
    if name == "knowledge_flow":
        return model.exchanges
    if name == "retention":
        then = model.id_history[0]
        if then.shape != model.occupant_id.shape:
            raise ValueError("ids_now and ids_then must have the same shape")
        return model.occupant_id == then
    if name == "turnover":
        return model.left_this_step
    if name == "engagement_all":
        return model.engagement
    return model.adopted  # pathway_adoption


_MEMBER_FAMILY = {name: (name,) for name in ("accuracy_all", "knowledge_flow", "retention",
                                             "turnover", "engagement_all", "pathway_adoption")}


def _member_family(model: CommissioningModel, name: str) -> np.ndarray:
    """The metrics that are a mean over a group's members (accuracy_all, knowledge_flow,
    retention, turnover, engagement_all, pathway_adoption), their columns stacked into one
    :meth:`~simulation.measures.GroupIndex.mean` (per column the same additions in the same
    order as one mean per metric)."""
    def compute(names: tuple) -> dict:
        means = _member_index(model).mean_columns([_member_column(model, n) for n in names])
        return dict(zip(names, _overall_rows(model, means), strict=True))

    return _family(model, "member_family", name, _MEMBER_FAMILY, compute)


class MetricInfo(NamedTuple):
    """Everything known about one metric: the single registry entry.

    The first two fields keep the historical ``(reporter, family)`` shape of
    :data:`METRICS` values, so ``METRICS[name][0]`` is still the reporter.

    Attributes
    ----------
    reporter : callable
        The named DataCollector reporter (model → array of G + 1 values).
    family : str
        knowledge, coherence, stability, relevance, structure or engagement.
    name : str
        Column name in every results table.
    title : str
        Plain-language name ("Decision skill").
    definition : str
        One-sentence definition (formulas: the reporter's docstring and ODD §8).
    unit : str
        Unit in words; empty for dimensionless scores whose range says it all.
    lower, upper : float
        The metric's range (``-inf``/``inf`` when unbounded); intervals are clipped to it.
    direction : str
        Which way is good: ``higher``, ``lower`` or ``none`` (descriptive measures).
    margin : float
        Practical-equivalence margin in the metric's units: differences within ± margin are
        too small to matter for policy (``commnet patterns``' *no effect* verdict); NaN when
        none is stated.  Policy judgements, each with its basis in :data:`MARGINS`.
    cadence : str
        When the value is computed: ``"month"`` (every collected month), or the
        ``metrics`` setting whose number of months it is recomputed every
        (``"structure_every"``, ``"costly_every"``), the last value carried forward in
        between (:func:`periodic`).
    """

    reporter: Callable[[CommissioningModel], np.ndarray]
    family: str
    name: str
    title: str
    definition: str
    unit: str
    lower: float
    upper: float
    direction: str
    margin: float = float("nan")
    cadence: str = "month"

    @property
    def cadence_text(self) -> str:
        """The cadence in words: "every month" or "every metrics.structure_every months
        (default 3), carried forward"."""
        if self.cadence == "month":
            return "every month"
        from .scenario import MetricsSpec

        default = MetricsSpec.model_fields[self.cadence].default
        return f"every metrics.{self.cadence} months (default {default}), carried forward"

    @property
    def bounds(self) -> tuple[float, float]:
        """``(lower, upper)``."""
        return (self.lower, self.upper)

    @property
    def range_text(self) -> str:
        """The range in words: "0–1", "≥ 0", "−1 to 1", "unbounded"."""
        lo, hi = self.lower, self.upper
        if np.isfinite(lo) and np.isfinite(hi):
            return f"{_num(lo)}–{_num(hi)}" if lo >= 0 else f"{_num(lo)} to {_num(hi)}"
        if np.isfinite(lo):
            return f"≥ {_num(lo)}"
        if np.isfinite(hi):
            return f"≤ {_num(hi)}"
        return "unbounded"

    @property
    def direction_text(self) -> str:
        """"higher is better", "lower is better" or "descriptive: no better direction"."""
        return {"higher": "higher is better", "lower": "lower is better"}.get(
            self.direction, "descriptive: no better direction")

    def label(self) -> str:
        """Axis or column label: ``"Decision skill (0 = …, 1 = …; higher is better)"``."""
        what = self.unit or self.range_text
        sep = "; " if ("=" in what or "," in what) else ", "
        tail = "" if self.direction == "none" else f"{sep}{self.direction_text}"
        return f"{self.title} ({what}{tail})"

    def axis_label(self) -> str:
        """The unit alone (``score, 0–1`` for dimensionless scores), for a y axis under a
        titled panel."""
        return self.unit or f"score, {self.range_text}"


def _num(v: float) -> str:
    return f"{v:g}".replace("-", "−")


INF = float("inf")
SHARE = (0.0, 1.0)

#: name → (title, unit, (lower, upper), direction, definition).  ``unit`` empty = a
#: dimensionless score whose range is its unit.
_DESCRIPTIONS: dict[str, tuple[str, str, tuple[float, float], str, str]] = {
    # knowledge
    "accuracy_board": ("Board accuracy", "", SHARE, "higher",
                       "1 − total-variation (TV) distance between the board's view of need and "
                       "the group's true need across services."),
    "accuracy_localities": ("Locality accuracy", "", SHARE, "higher",
                            "Population-weighted mean over localities of 1 − TV(the view pooled at "
                            "the locality's last meeting, the locality's need); NaN without "
                            "locality meetings."),
    "accuracy_all": ("Everyone's accuracy", "", SHARE, "higher",
                     "Mean over a group's members of 1 − TV(the member's belief, the need of the "
                     "member's practice, locality or group)."),
    "board_uncertainty": ("Board uncertainty", "", SHARE, "lower",
                          "Mean TV distance of present board members' beliefs from their "
                          "unweighted mean belief: how much the people round the table disagree "
                          "about need."),
    "knowledge_flow": ("Knowledge flow", "exchanges per member per month", (0.0, INF), "higher",
                       "Ties used this month (both ends active) per group member."),
    "reach": ("Board reach", "share of practices", SHARE, "higher",
              "Share of a group's practices with a present front-line agent within two working "
              "ties (weight ≥ 0.2) of a member of its board."),
    "shock_detection_time": ("Shock detection time", "months", (0.0, INF), "lower",
                             "Months from the latest need shock until the board's view moved "
                             "half-way to the new need (NaN before a shock or until detected)."),
    # coherence
    "coherence_internal": ("Internal coherence", "", SHARE, "higher",
                           "1 − mean TV distance of members' objectives from their group's mean "
                           "objective."),
    "coherence_external": ("External coherence", "", SHARE, "higher",
                           "1 − TV(board objective, wider-system objective: local authorities, "
                           "providers and national priorities, one third each)."),
    # stability
    "tie_persistence": ("Tie persistence", "", SHARE, "higher",
                        "Jaccard similarity of the tie set now and a stability window ago; NaN "
                        "when both are empty."),
    "retention": ("Retention", "share of posts", SHARE, "higher",
                  "Share of a group's posts held by the same person as a stability window ago."),
    "turnover": ("Turnover", "share of members per month", SHARE, "lower",
                 "Share of a group's members who left this month."),
    "decision_volatility": ("Decision volatility", "", SHARE, "none",
                            "TV distance between the latest budget allocation and the one "
                            "before."),
    "leader_dependence": ("Leader dependence", "share of tie strength", SHARE, "lower",
                          "Share of a group's within-group tie strength held by its three "
                          "strongest agents."),
    # relevance
    "relevance_skill": ("Decision skill", "0 = no local knowledge, 1 = perfect knowledge",
                        (-INF, INF), "higher",
                        "(R − R_floor)/(R_ceiling − R_floor), R = patient relevance: the same "
                        "decision rule scored against itself fed no local knowledge (0) and fed "
                        "true need (1); NaN (not interpretable) where the span between floor "
                        "and ceiling is below decisions.min_span of the budget (default 1%)."),
    "decision_span_per_head": ("Decision span", "£ per head per year", (-INF, INF), "none",
                               "Budget per head × (R_ceiling − R_floor): how much better the "
                               "same decisions fed true need score than fed no local "
                               "knowledge, in pounds; the denominator of decision skill."),
    "misallocated_floor_per_head": ("Misallocated, no knowledge", "£ per head per year",
                                    (0.0, INF), "none",
                                    "Misallocated spend of the same decisions fed no local "
                                    "knowledge (the national profile): the benchmark of skill "
                                    "0."),
    "misallocated_ceiling_per_head": ("Misallocated, perfect knowledge", "£ per head per year",
                                      (0.0, INF), "none",
                                      "Misallocated spend of the same decisions fed true need: "
                                      "the benchmark of skill 1 (what incremental budgeting and "
                                      "priorities leave even with perfect knowledge)."),
    "relevance_patient": ("Patient relevance", "", SHARE, "higher",
                          "1 − TV(group allocation across services, group need)."),
    "relevance_floor": ("Relevance floor", "", SHARE, "none",
                        "Patient relevance of the same decisions fed no local knowledge (the "
                        "national need profile): the benchmark skill 0 refers to."),
    "relevance_ceiling": ("Relevance ceiling", "", SHARE, "none",
                          "Patient relevance of the same decisions fed true need: the benchmark "
                          "skill 1 refers to."),
    "misallocated_per_head": ("Misallocated spend", "£ per head per year", (0.0, INF), "lower",
                              "Budget per head × TV(locality allocation, locality need), "
                              "population-weighted: money that would have to move between "
                              "services for spending to follow need."),
    "misallocated_per_head_imd_q1": ("Misallocated spend, IMD fifth 1", "£ per head per year",
                                       (0.0, INF), "lower",
                                       "Budget per head × TV(locality allocation, practice need) "
                                       "for the least deprived fifth of patients "
                                       "(fifths of patients by practice IMD "
                                       "score, practices_from.covariates), list-size weighted; "
                                       "NaN without scores."),
    "misallocated_per_head_imd_q2": ("Misallocated spend, IMD fifth 2", "£ per head per year",
                                       (0.0, INF), "lower",
                                       "Budget per head × TV(locality allocation, practice need) "
                                       "for the second least deprived fifth "
                                       "(fifths of patients by practice IMD "
                                       "score, practices_from.covariates), list-size weighted; "
                                       "NaN without scores."),
    "misallocated_per_head_imd_q3": ("Misallocated spend, IMD fifth 3", "£ per head per year",
                                       (0.0, INF), "lower",
                                       "Budget per head × TV(locality allocation, practice need) "
                                       "for the middle fifth "
                                       "(fifths of patients by practice IMD "
                                       "score, practices_from.covariates), list-size weighted; "
                                       "NaN without scores."),
    "misallocated_per_head_imd_q4": ("Misallocated spend, IMD fifth 4", "£ per head per year",
                                       (0.0, INF), "lower",
                                       "Budget per head × TV(locality allocation, practice need) "
                                       "for the second most deprived fifth "
                                       "(fifths of patients by practice IMD "
                                       "score, practices_from.covariates), list-size weighted; "
                                       "NaN without scores."),
    "misallocated_per_head_imd_q5": ("Misallocated spend, IMD fifth 5", "£ per head per year",
                                       (0.0, INF), "lower",
                                       "Budget per head × TV(locality allocation, practice need) "
                                       "for the most deprived fifth of patients "
                                       "(fifths of patients by practice IMD "
                                       "score, practices_from.covariates), list-size weighted; "
                                       "NaN without scores."),
    "shock_funded_6m": ("Shock funded at 6 months", "share of the extra need", (-INF, INF),
                        "higher",
                        "Rise in the group's allocation share of the shocked service over the "
                        "rise in its need share, 6 months after the latest shock (1 = fully "
                        "funded; NaN before)."),
    "shock_funded_12m": ("Shock funded at 12 months", "share of the extra need", (-INF, INF),
                         "higher", "The same, 12 months after the shock."),
    "relevance_provider": ("Provider relevance", "", SHARE, "higher",
                           "1 − TV(group allocation, what the providers serving the group can "
                           "deliver), capacity weighted by provider size and population share."),
    "relevance_localities": ("Locality relevance", "", SHARE, "higher",
                             "Population-weighted mean over localities of 1 − TV(locality "
                             "allocation, locality need)."),
    "wasted_spend": ("Wasted spend", "£ per head per year", (0.0, INF), "lower",
                     "Budget per head × Σ_k max(0, allocation_k − min(need_k, capacity_k)): "
                     "spending beyond both need and what providers can deliver."),
    "relevance_skill_localities": ("Decision skill, locality level",
                                   "0 = no local knowledge, 1 = perfect knowledge", (-INF, INF),
                                   "higher",
                                   "Decision skill scored at the locality (PCN) level: the same "
                                   "construction as relevance_skill with R = population-weighted "
                                   "mean over localities of 1 − TV(what is spent in the locality, "
                                   "its need); NaN (not interpretable) where the locality-level "
                                   "span is below decisions.min_span."),
    "decision_span_per_head_localities": ("Decision span, locality level", "£ per head per year",
                                          (-INF, INF), "none",
                                          "Budget per head × (R_ceiling − R_floor) of the "
                                          "locality-level relevance: the denominator of "
                                          "relevance_skill_localities in pounds."),
    "relevance_skill_body": ("Decision skill, upper level", "0 = no local knowledge, 1 = "
                             "perfect knowledge", (-INF, INF), "higher",
                             "Decision skill scored at the upper level (PCT or ICB): R = 1 − "
                             "TV(the body's spending profile, the body's need), both "
                             "population-weighted over its groups; per body, reported for each "
                             "of its groups, overall population-weighted over bodies; NaN "
                             "without an upper level or where the span is below "
                             "decisions.min_span."),
    "decision_span_per_head_body": ("Decision span, upper level", "£ per head per year",
                                    (-INF, INF), "none",
                                    "Budget per head × (R_ceiling − R_floor) of the upper "
                                    "bodies' relevance (NaN without an upper level)."),
    "misallocated_per_head_body": ("Misallocated spend, upper level", "£ per head per year",
                                   (0.0, INF), "lower",
                                   "Budget per head × TV(the upper body's spending profile, its "
                                   "need): money that would have to move between services for "
                                   "the body's spending as a whole to follow its need (NaN "
                                   "without an upper level)."),
    "misallocated_floor_per_head_body": ("Misallocated, upper level, no knowledge",
                                         "£ per head per year", (0.0, INF), "none",
                                         "misallocated_per_head_body of the decisions fed no "
                                         "local knowledge at every level."),
    "misallocated_ceiling_per_head_body": ("Misallocated, upper level, perfect knowledge",
                                           "£ per head per year", (0.0, INF), "none",
                                           "misallocated_per_head_body of the decisions fed true "
                                           "need at every level."),
    # structure
    "density": ("Network density", "", SHARE, "none",
                "Ties over possible ties in each group's internal network."),
    "degree_centralisation": ("Degree centralisation", "", SHARE, "none",
                              "Freeman degree centralisation of each group's internal network."),
    "betweenness_centralisation": ("Betweenness centralisation", "", SHARE, "none",
                                   "Freeman betweenness centralisation of each group's internal "
                                   "network (Brandes–Pich pivots when sampled)."),
    "clustering": ("Clustering", "", SHARE, "none",
                   "Mean local clustering coefficient of each group's internal network."),
    "modularity_localities": ("Locality modularity", "", (-0.5, 1.0), "none",
                              "Newman modularity of the locality partition of each group's "
                              "network."),
    "ei_index": ("E–I index", "", (-1.0, 1.0), "none",
                 "Krackhardt–Stern (external − internal)/(external + internal) ties across vs "
                 "within localities."),
    "board_ties_provider": ("Board ties to providers", "share of board members' ties", SHARE,
                            "none", "Share of board members' ties that reach provider staff."),
    "board_ties_patient": ("Board ties to patients", "share of board members' ties", SHARE,
                           "none", "Share of board members' ties that reach patient "
                           "representatives or lay members."),
    "board_ties_local_authority": ("Board ties to local authorities",
                                   "share of board members' ties", SHARE, "none",
                                   "Share of board members' ties that reach local-authority "
                                   "staff."),
    # engagement
    "engagement_gp": ("GP engagement", "", SHARE, "higher",
                      "Mean engagement of the group's present GPs."),
    "engagement_all": ("Engagement of all", "", SHARE, "higher",
                       "Mean engagement of all the group's present members."),
    "reflected_formal": ("Decisions reflect my views, formal role", "share of GPs", SHARE,
                         "higher",
                         "Share of GPs with a formal role whose reflection (1 − TV between the "
                         "allocation they see and their priorities) ≥ decisions.reflect_threshold."),
    "reflected_other": ("Decisions reflect my views, no formal role", "share of GPs", SHARE,
                        "higher", "The same share among GPs without a formal role."),
    "reflection_formal": ("Reflection, formal role", "", SHARE, "higher",
                          "Mean reflection of GPs with a formal role at the latest decision "
                          "(threshold-free)."),
    "reflection_other": ("Reflection, no formal role", "", SHARE, "higher",
                         "Mean reflection of GPs without a formal role."),
    "informed_formal": ("Informed, formal role", "share of GPs", SHARE, "higher",
                        "Share of GPs with a formal role in contact with a board member within "
                        "the last decisions.informed_window months."),
    "informed_other": ("Informed, no formal role", "share of GPs", SHARE, "higher",
                       "The same share among GPs without a formal role."),
    "influence_formal": ("Can influence, formal role", "share of GPs", SHARE, "higher",
                         "Share of GPs with a formal role whose engagement ≥ "
                         "decisions.influence_threshold."),
    "influence_other": ("Can influence, no formal role", "share of GPs", SHARE, "higher",
                        "The same share among GPs without a formal role."),
    **{f"survey_{q}_{c}": (f"Survey: {q.replace('_', ' ')} ({c})", "share of respondents",
                           SHARE, "higher",
                           f"{_CLASS_WORDS[c][0].upper()}{_CLASS_WORDS[c][1:]} agreeing with "
                           f"{words}: {reading}. A respondent answers about every body that "
                           "commissions for its practice (or its organisation's groups) at "
                           "that date: the upper body (PCT, ICB) where there is one, pooled "
                           "over its respondents and reported for each of its groups, else the "
                           "group (CCG).")
       for q, (words, reading) in SURVEY_QUESTIONS.items()
       for c in ("formal", "other", "stakeholder")},
    "pathway_adoption": ("Pathway adoption", "share of members", SHARE, "higher",
                         "Share of the group's members who have adopted the new clinical "
                         "pathway."),
}

_FAMILIES = (
    ("knowledge", (accuracy_board, accuracy_localities, accuracy_all, board_uncertainty,
                   knowledge_flow, reach, shock_detection_time)),
    ("coherence", (coherence_internal, coherence_external)),
    ("stability", (tie_persistence, retention, turnover, decision_volatility,
                   leader_dependence)),
    ("relevance", (relevance_skill, relevance_patient, relevance_floor, relevance_ceiling,
                   decision_span_per_head, misallocated_per_head, misallocated_floor_per_head,
                   misallocated_ceiling_per_head, misallocated_per_head_imd_q1,
                   misallocated_per_head_imd_q2, misallocated_per_head_imd_q3,
                   misallocated_per_head_imd_q4, misallocated_per_head_imd_q5,
                   shock_funded_6m, shock_funded_12m,
                   relevance_provider, relevance_localities, wasted_spend,
                   relevance_skill_localities, decision_span_per_head_localities,
                   relevance_skill_body, decision_span_per_head_body, misallocated_per_head_body,
                   misallocated_floor_per_head_body, misallocated_ceiling_per_head_body)),
    ("structure", (density, degree_centralisation, betweenness_centralisation, clustering,
                   modularity_localities, ei_index, board_ties_provider, board_ties_patient,
                   board_ties_local_authority)),
    ("engagement", (engagement_gp, engagement_all, reflected_formal, reflected_other,
                    reflection_formal, reflection_other, informed_formal, informed_other,
                    influence_formal, influence_other, pathway_adoption, *_SURVEY_REPORTERS)),
)


#: name → (practical margin, its basis): the smallest difference that matters for policy, used
#: by the equivalence ("no effect") verdict of ``commnet patterns``.  These are policy
#: judgements stated before any result, not estimates; they were never chosen to make a
#: verdict come out one way.  The £ scale is the £1,150 per head budget of 2013/14.
MARGINS: dict[str, tuple[float, str]] = {
    "relevance_skill": (0.03, "3% of the no-knowledge to perfect-knowledge range (issue 18)"),
    "misallocated_per_head": (5.0, "£5 per head per year, under 0.5% of the budget (issue 18)"),
    "accuracy_board": (0.005, "0.5% of need mass misread: ≈ £5 of the £1,150 per head"),
    "accuracy_localities": (0.005, "as accuracy_board"),
    "accuracy_all": (0.005, "as accuracy_board"),
    "board_uncertainty": (0.005, "the same total-variation scale as accuracy_board"),
    "coherence_internal": (0.01, "one percentage point of priority weight (no £ equivalent)"),
    "coherence_external": (0.01, "one percentage point of priority weight (no £ equivalent)"),
    "tie_persistence": (0.01, "one tie in a hundred kept or lost over the stability window"),
    "retention": (0.02, "two posts in a hundred held by someone else over the window"),
    "turnover": (0.002, "two leavers per thousand members a month (≈ 2.4% of posts a year)"),
    "leader_dependence": (0.01, "one percentage point of within-group tie strength"),
    "engagement_gp": (0.02, "a twelfth of one step of a 5-point survey scale (0.25)"),
    "reflected_formal": (0.05, "five GPs in a hundred"),
    "reflected_other": (0.05, "five GPs in a hundred"),
    "reflection_formal": (0.01, "one percentage point of allocation (total-variation scale)"),
    "reflection_other": (0.01, "one percentage point of allocation (total-variation scale)"),
    "shock_detection_time": (1.0, "one month, the model's time step"),
    "shock_funded_6m": (0.1, "a tenth of the shock's extra need funded"),
    "shock_funded_12m": (0.1, "a tenth of the shock's extra need funded"),
}


def _registry() -> dict[str, MetricInfo]:
    out = {}
    for family, fs in _FAMILIES:
        for f in fs:
            title, unit, (lo, hi), direction, definition = _DESCRIPTIONS[f.__name__]
            out[f.__name__] = MetricInfo(f, family, f.__name__, title, definition, unit,
                                         float(lo), float(hi), direction,
                                         MARGINS.get(f.__name__, (float("nan"), ""))[0],
                                         getattr(f, "cadence", "month"))
    missing = set(_DESCRIPTIONS) - set(out)
    if missing:  # pragma: no cover - caught by the tests at import
        raise RuntimeError(f"metric descriptions without a reporter: {sorted(missing)}")
    return out


#: The metric registry: name → :class:`MetricInfo` (reporter, family, title, definition,
#: unit, range, direction of good).  The order is the column order of results.  It feeds the
#: DataCollector, Parquet field metadata, figure labels, reports and ``docs/metrics.md``.
METRICS: dict[str, MetricInfo] = _registry()

#: Suffixes of derived columns and what they mean (summary tables, experiment outcomes):
#: ``<metric>__last<n>`` is the mean of the last n months, ``<metric>__detect`` the months to
#: detect a shock (experiment outcomes).
_SUFFIX = re.compile(r"^(?P<base>.+?)(?P<suffix>__last(?P<n>\d+)|__detect)$")


def _base_name(column: str) -> tuple[str, str]:
    """``(metric, suffix)`` of a column: ``reach__last12`` → ``("reach", "__last12")``."""
    m = _SUFFIX.match(column)
    if m and m["base"] in METRICS:
        return m["base"], m["suffix"]
    return column, ""


def _suffix_text(suffix: str) -> str:
    if suffix.startswith("__last"):
        n = int(suffix.removeprefix("__last"))
        return f"mean of the last {n} month{'s' if n != 1 else ''}"
    return "months to detect the shock" if suffix == "__detect" else ""


def metric_info(name: str) -> MetricInfo:
    """The registry entry of a metric (a ``__last12`` suffix is ignored).

    Raises
    ------
    KeyError
        With the list of known metrics, when ``name`` is not one.
    """
    base, _ = _base_name(name)
    try:
        return METRICS[base]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; metrics: {', '.join(METRICS)}") from None


def label(name: str) -> str:
    """Plain-language label of a metric with its unit or range and direction of good, e.g.
    ``"Misallocated spend (£ per head per year, lower is better)"``; a column that is not a
    metric is returned with underscores as spaces."""
    base, suffix = _base_name(name)
    if base not in METRICS:
        return name.replace("_", " ")
    text = METRICS[base].label()
    return f"{text}, {_suffix_text(suffix)}" if suffix else text


def metric_bounds(name: str) -> tuple[float, float] | None:
    """``(lower, upper)`` of a metric or derived column; None for other columns."""
    base, _ = _base_name(name)
    return METRICS[base].bounds if base in METRICS else None


def field_metadata(column: str) -> dict[bytes, bytes] | None:
    """Parquet/Arrow field metadata of a metric column (``title``, ``unit``, ``range``,
    ``direction``, ``definition``, ``label``; a ``__last12`` column says it is the mean of the
    last 12 months), or None for a column that is not a metric."""
    base, suffix = _base_name(column)
    if base not in METRICS:
        return None
    m = METRICS[base]
    definition = m.definition + (f" ({_suffix_text(suffix)})" if suffix else "")
    meta = {"title": m.title, "unit": m.unit or "dimensionless", "range": m.range_text,
            "lower": repr(m.lower), "upper": repr(m.upper), "direction": m.direction,
            "definition": definition, "label": label(column), "family": m.family}
    return {k.encode(): v.encode() for k, v in meta.items()}


def metric_reference() -> str:
    """``docs/metrics.md``: every metric of the registry with its definition, unit, range and
    direction of good, by family (``python -m simulation.reference metrics > docs/metrics.md``)."""
    lines = [
        "# Metric reference",
        "",
        "Generated from the metric registry (`simulation/reporters.py`, `METRICS`) by "
        "`python -m simulation.reference metrics > docs/metrics.md` (`make docs`); a test fails if this "
        "file is stale. The same entries label figures, describe Parquet columns (field "
        "metadata: `unit`, `range`, `direction`, `definition`) and feed reports. Formulas and "
        "when each metric is computed: [ODD §8](ODD.md#8-observation-metrics).",
        "",
        "Every metric is reported per commissioning group and `overall` (the population-weighted "
        "mean of the groups unless the definition says otherwise). *Range* is what the metric "
        "can take; 95% intervals over replicates are clipped to it "
        "(`simulation/statistics.py`). *Good* is the direction an analyst would call better; "
        "descriptive measures of network shape have none. Summary tables add "
        "`<metric>__last12`, the mean of the last 12 months. *Computed* is the metric's "
        "cadence: every month, or every so many months with the value carried forward in "
        "between (the `metrics` settings of the scenario). Runs that reduce a metric to a few "
        "months (sweeps, the pattern suite, calibration) compute it at those months only, with "
        "the same values there (`make_datacollector`'s months).",
        "",
    ]
    for family, fs in _FAMILIES:
        lines += [f"## {family.capitalize()}", "",
                  "| metric | name | definition | unit | range | good | computed |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for f in fs:
            m = METRICS[f.__name__]
            good = {"higher": "higher", "lower": "lower"}.get(m.direction, "—")
            lines.append(f"| `{m.name}` | {m.title} | {m.definition} | "
                         f"{m.unit or 'dimensionless'} | {m.range_text} | {good} | "
                         f"{m.cadence_text} |")
        lines.append("")
    return "\n".join(lines)


class MetricCollector(DataCollector):
    """Mesa's DataCollector for the metric registry, off the hot path.

    * Every metric is computed once a collected month (Mesa's first ``collect`` also calls
      every reporter once more to validate it: the registry's reporters need no such
      check), and stored as a copy of its array (``ndarray.copy``, not ``deepcopy``).
    * Intermediates that several metrics read are computed once a collection
      (:func:`_scratch`).
    * ``months`` (metric → the months it is read at) computes a metric only at those months
      and stores NaN (groups + overall) at the others, so a run that reduces a metric to a
      window (the last 12 months of a sweep's outcome, a calibration target's months) pays
      for those months only.  A metric with a cadence (:func:`periodic`) is still
      recomputed at the months of its cadence that a read month carries forward from, so
      the values at the read months are bit for bit those of collecting every month
      (tested).

    ``model_vars`` and ``get_model_vars_dataframe`` are Mesa's: one entry per collected
    month and metric.
    """

    def __init__(self, model_reporters: dict[str, Callable], months: dict[str, frozenset[int]]
                 | None = None):
        super().__init__(model_reporters=model_reporters)
        self.months = dict(months or {})
        self._validated = True  # the registry's reporters are the known ones

    def collect(self, model: CommissioningModel) -> None:
        """Compute and store the metrics of this month (:attr:`months` aside)."""
        self._collection_steps.append(model.time)
        step = model.steps
        # the metrics computed this month: the families compute the members they need
        scratch: dict = {"wanted": frozenset(
            var for var in self.model_reporters
            if (m := self.months.get(var)) is None or step in m)}
        model.__dict__["_collect_scratch"] = scratch
        try:
            for var, reporter in self.model_reporters.items():
                months = self.months.get(var)
                if months is None or step in months:
                    value = reporter(model)
                    self.model_vars[var].append(value.copy() if isinstance(value, np.ndarray)
                                                else deepcopy(value))
                    continue
                setting = getattr(reporter, "cadence", None)
                if setting is not None:  # keep what a read month will carry forward
                    every = getattr(model.spec.metrics, setting)
                    if step % every == 0 and any(step <= r < step + every for r in months):
                        reporter(model)
                nan = scratch.get("nan_row")
                if nan is None:
                    nan = scratch["nan_row"] = np.full(model.n_groups + 1, np.nan)
                self.model_vars[var].append(nan.copy())
        finally:
            del model.__dict__["_collect_scratch"]


def make_datacollector(metrics: Iterable[str] | Mapping[str, Iterable[int] | None] | None = None
                       ) -> MetricCollector:
    """A :class:`MetricCollector` with every metric of the registry (or only ``metrics``, in
    registry order) as a named model reporter.

    ``metrics`` may map each name to the months (steps after the burn-in, 0 = the first
    row) it is read at, or None for every month: the metric is then computed at those
    months only and is NaN at the others (the values at those months are the same).

    Raises
    ------
    KeyError
        For a name that is not a metric (the message lists the known ones).
    """
    months: dict[str, frozenset[int]] = {}
    if metrics is None:
        names = list(METRICS)
    else:
        wanted = set(metrics)
        unknown = sorted(wanted - METRICS.keys())
        if unknown:
            raise KeyError(f"unknown metric(s) {', '.join(map(repr, unknown))}; metrics: "
                           + ", ".join(METRICS))
        names = [m for m in METRICS if m in wanted]
        if isinstance(metrics, Mapping):
            months = {m: frozenset(int(t) for t in metrics[m]) for m in names
                      if metrics[m] is not None}
    return MetricCollector({name: METRICS[name].reporter for name in names}, months)
