"""Surveyed networks put into a population: matching survey nodes to agents, replacing ties.

Above the population builder and the survey reader (:mod:`simulation.surveyed` reads and checks
the files); :mod:`simulation.network` calls :func:`apply_survey` when it builds the initial
ties and the loader calls :func:`check_scenario` to try the matching at load time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import maximum_bipartite_matching

from . import _text
from .errors import ScenarioError
from .population import LOCAL_AUTHORITY, PROVIDER, Population, build_population
from .scenario import Scenario
from .surveyed import Survey, _names, _Problems, read_survey

__all__ = ["Matched", "apply_survey", "check_scenario", "match_survey"]


def _error(problems: list[tuple[str, str, str]]) -> Exception:
    return ScenarioError(problems)


# --------------------------------------------------------------------------- matching


@dataclass
class Matched:
    """A survey matched to agents: tie end points and weights, and the agents to rewire.

    ``agent_of`` maps survey node ids (respondent ids for ego surveys) to agent slots;
    ``clear`` marks the agents whose generated ties are removed.
    """

    agent_of: dict[str, int]
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    clear: np.ndarray


def _group_view(pop: Population, g: int) -> tuple[np.ndarray, np.ndarray]:
    """(belongs to or serves group g, sits on g's board) as boolean arrays."""
    cand = pop.group == g
    for k, serves in ((PROVIDER, pop.provider_serves), (LOCAL_AUTHORITY, pop.la_serves)):
        staff = np.flatnonzero(pop.kind == k)
        if staff.size and serves.size:
            cand[staff] = serves[pop.org[staff], g]
    onb = np.zeros(pop.n, bool)
    onb[pop.board.indices[pop.board.indptr[g] : pop.board.indptr[g + 1]]] = True
    return cand, onb


def _key_text(group: str, kind: int, role: int | None, board: bool) -> str:
    types, roles = _names()
    r = roles[role] if role is not None else "any role"
    return f"{group} {types[kind]}/{r} {'on the board' if board else 'not on the board'}"


def _match_nodes(pop: Population, survey: Survey, rng: np.random.Generator) -> dict[str, int]:
    """Survey node id -> agent slot (csv and graphml)."""
    names = [g.name for g in pop.scenario.groups]
    used = np.zeros(pop.n, bool)
    agent_of: dict[str, int] = {}
    short: list[str] = []
    for gname in survey.groups:
        g = names.index(gname)
        cand, onb = _group_view(pop, g)
        mine = [n for n in survey.nodes if n.group == gname]
        # 1. practice labels -> distinct generated practices (a bipartite matching)
        labels = list(dict.fromkeys(n.practice for n in mine if n.practice is not None))
        if labels:
            practices = np.flatnonzero(pop.practice_group == g)
            keys = sorted({(n.role, n.board) for n in mine if n.practice is not None})
            need = np.zeros((len(labels), len(keys)), np.int64)
            for n in mine:
                if n.practice is not None:
                    need[labels.index(n.practice), keys.index((n.role, n.board))] += 1
            have = np.zeros((practices.size, len(keys)), np.int64)
            local = np.full(pop.n_practices, -1, np.int64)
            local[practices] = np.arange(practices.size)
            for j, (r, b) in enumerate(keys):
                who = np.flatnonzero(cand & (pop.role == r) & (onb == b) & (pop.practice >= 0))
                have[:, j] = np.bincount(local[pop.practice[who]], minlength=practices.size)
            fits = (have[None, :, :] >= need[:, None, :]).all(axis=2)  # (labels, practices)
            perm = rng.permutation(practices.size)
            graph = csr_array(fits[:, perm].astype(np.int8))
            pick = maximum_bipartite_matching(graph, perm_type="column")
            unplaced = [i for i in range(len(labels)) if pick[i] < 0]
            if unplaced:
                _, roles = _names()
                parts = []
                for i in unplaced[:5]:
                    wants = ", ".join(f"{need[i, j]} {roles[r]}{' on the board' if b else ''}"
                                      for j, (r, b) in enumerate(keys) if need[i, j])
                    parts.append(f"practice {_text.value(labels[i])} needs {wants} "
                                 f"({int(fits[i].sum())} of {practices.size} practices fit)")
                raise _error([(survey.source, "column 'practice'" if survey.spec.format == "csv"
                               else "attribute 'practice'",
                               f"cannot place the surveyed practices of {gname} in distinct "
                               f"generated practices: {'; '.join(parts)}")])
            for i, label in enumerate(labels):
                p = practices[perm[pick[i]]]
                for r, b in keys:
                    nodes = [n for n in mine if n.practice == label and (n.role, n.board) == (r, b)]
                    if not nodes:
                        continue
                    pool = np.flatnonzero(cand & (pop.practice == p) & (pop.role == r)
                                          & (onb == b) & ~used)
                    chosen = rng.choice(pool, size=len(nodes), replace=False)
                    used[chosen] = True
                    agent_of.update((n.id, int(a)) for n, a in zip(nodes, chosen, strict=True))
        # 2. nodes with a role, then 3. nodes with a type only
        for with_role in (True, False):
            rest = [n for n in mine if n.practice is None and (n.role is not None) == with_role]
            keys = sorted({(n.kind, n.role if with_role else -1, n.board) for n in rest})
            for k, r, b in keys:
                nodes = [n for n in rest if (n.kind, n.role if with_role else -1, n.board)
                         == (k, r, b)]
                sel = cand & (pop.kind == k) & (onb == b) & ~used
                if with_role:
                    sel &= pop.role == r
                pool = np.flatnonzero(sel)
                if pool.size < len(nodes):
                    short.append(f"{_key_text(gname, k, r if with_role else None, b)}: "
                                 f"{len(nodes)} needed, {pool.size} available")
                    continue
                chosen = rng.choice(pool, size=len(nodes), replace=False)
                used[chosen] = True
                agent_of.update((n.id, int(a)) for n, a in zip(nodes, chosen, strict=True))
    if short:
        raise _error([(survey.source, "", "not enough agents in the scenario to match the "
                       "survey nodes (group type/role board: needed vs available): "
                       + "; ".join(short))])
    return agent_of


def _match_ego(pop: Population, survey: Survey, rng: np.random.Generator) -> Matched:
    """Respondents -> board members of their role; rows -> ties to drawn alters."""
    types, roles = _names()
    names = [g.name for g in pop.scenario.groups]
    respondents = list(dict.fromkeys(r.respondent for r in survey.ego))
    first = {r.respondent: r for r in reversed(survey.ego)}
    used = np.zeros(pop.n, bool)
    agent_of: dict[str, int] = {}
    short = []
    for gname in survey.groups:
        g = names.index(gname)
        cand, onb = _group_view(pop, g)
        mine = [w for w in respondents if first[w].group == gname]
        for r in sorted({first[w].role for w in mine}):
            who = [w for w in mine if first[w].role == r]
            pool = np.flatnonzero(cand & onb & (pop.role == r) & ~used)
            if pool.size < len(who):
                short.append(f"{gname} {roles[r]} on the board: {len(who)} respondents, "
                             f"{pool.size} board members")
                continue
            chosen = rng.choice(pool, size=len(who), replace=False)
            used[chosen] = True
            agent_of.update((w, int(a)) for w, a in zip(who, chosen, strict=True))
    if short:
        raise _error([(survey.source, "column 'role'", "more respondents than board seats of "
                       "their role (respondents are matched to board members): "
                       + "; ".join(short))])
    src, dst, wts = [], [], []
    problems = _Problems()
    for gname in survey.groups:
        g = names.index(gname)
        cand, _ = _group_view(pop, g)
        for w in respondents:
            if first[w].group != gname:
                continue
            rows = [x for x in survey.ego if x.respondent == w and x.alter_kind is not None]
            for k in sorted({x.alter_kind for x in rows}):
                mine = [x for x in rows if x.alter_kind == k]
                pool = np.flatnonzero(cand & (pop.kind == k) & ~used)
                if pool.size < len(mine):
                    problems.add(survey.source, f"respondent {_text.value(w)}",
                                 f"reports {len(mine)} ties to {types[k]} but only {pool.size} "
                                 f"agents of that type belong to or serve {gname} (respondents "
                                 "excluded)")
                    continue
                chosen = rng.choice(pool, size=len(mine), replace=False)
                src.extend([agent_of[w]] * len(mine))
                dst.extend(int(a) for a in chosen)
                wts.extend(x.weight for x in mine)
    problems.raise_if_any()
    return Matched(agent_of, np.asarray(src, np.int64), np.asarray(dst, np.int64),
                   np.asarray(wts, float), used)


def match_survey(pop: Population, survey: Survey, rng: np.random.Generator) -> Matched:
    """Match a survey to a population's agents (all draws from ``rng``).

    Raises
    ------
    ScenarioError
        If the scenario lacks agents for the survey: how many of each (group, type, role,
        board membership) were needed and how many are available.
    """
    if survey.spec.format == "ego":
        return _match_ego(pop, survey, rng)
    agent_of = _match_nodes(pop, survey, rng)
    src = np.asarray([agent_of[a] for a, _, _, _ in survey.edges], np.int64)
    dst = np.asarray([agent_of[b] for _, b, _, _ in survey.edges], np.int64)
    weight = np.asarray([w for _, _, w, _ in survey.edges], float)
    if survey.spec.mode == "replace":  # every tie with an end in a covered group
        names = [g.name for g in pop.scenario.groups]
        clear = np.isin(pop.group, [names.index(g) for g in survey.groups])
    else:  # every tie of a matched agent
        clear = np.zeros(pop.n, bool)
        clear[list(agent_of.values())] = True
    return Matched(agent_of, src, dst, weight, clear)


def apply_survey(pop: Population, ties: Any, rng: np.random.Generator) -> Any:
    """The generated ties (a :class:`simulation.network.Ties`) with the scenario's survey put
    in (see :mod:`simulation.surveyed`)."""
    spec = pop.scenario.network.survey
    survey = read_survey(spec, [g.name for g in pop.scenario.groups])
    m = match_survey(pop, survey, rng)
    kept = ties.keep(~(m.clear[ties.src] | m.clear[ties.dst]))
    return kept.add(m.src, m.dst, m.weight)


def check_scenario(scenario: Scenario, origin: Callable[[list[Any]], str] | None = None
                   ) -> Scenario:
    """Read and check a scenario's survey; return the scenario with its digest filled in.

    The matching is tried on a population drawn with the scenario seed, so a survey the
    scenario cannot hold (too few board seats or agents of a role) is an error at load time;
    a tight practice-level fit may still fail for another seed, and is then reported when a
    run builds its ties.
    """
    spec = scenario.network.survey
    if spec is None:
        return scenario

    survey = read_survey(spec, [g.name for g in scenario.groups], origin=origin)
    rng = np.random.default_rng(scenario.seed)
    match_survey(build_population(scenario, rng), survey, rng)
    if spec.digest == survey.digest:
        return scenario
    net = scenario.network
    return scenario.model_copy(update={"network": net.model_copy(update={
        "survey": spec.model_copy(update={"digest": survey.digest})})})
