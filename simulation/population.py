"""Who is in the network: practices, localities, stakeholders and their roles, as arrays.

:func:`build_population` turns a :class:`~simulation.scenario.Scenario` into a
:class:`Population`: flat integer/boolean arrays indexed by agent *slot* (an agent leaving is
replaced in the same slot, so counts hold under turnover) plus practice- and locality-level
arrays.  All randomness comes from the generator passed in (the model's ``rng``).

Geography and institutions are kept apart: every practice lies in a geographic *area* (one
per locality of the scenario) whose need profile it shares, whether or not locality
sub-groups exist as institutions (``localities.enabled``).  Switching localities off removes
the meetings, the devolved budget and the locality-lead roles, not the geography.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .kinds import ROLES, STAKEHOLDER_TYPES
from .scenario import BoardSpec, GroupSpec, Scenario

__all__ = ["GP", "LOCAL_AUTHORITY", "MANAGER", "PATIENT", "PROVIDER", "Population", "build_population"]

GP, MANAGER, PROVIDER, PATIENT, LOCAL_AUTHORITY = range(5)

#: Register labels kept per practice (``Population.practice_labels``).
PRACTICE_LABELS = ("code", "pcn", "sub_icb", "icb")

R_GP, R_PM, R_CM, R_OFFICER, R_NURSE, R_PPG, R_LAY, R_PROV, R_LA = range(len(ROLES))

#: Default provider capacity profile by provider kind over the default six services (urgent and
#: emergency, planned, mental health, long-term/community, maternity and children, prevention
#: and primary care).  ASSUMPTION: no source gives service mixes per provider kind in these
#: categories; the profiles encode what each kind is for (acute trusts: emergency and elective
#: care with maternity; community providers: long-term conditions and community services;
#: mental-health trusts; independent providers: elective procedures).  A scenario can give
#: ``providers[].capacity`` from contract data instead.
KIND_CAPACITY = {
    "acute": (0.40, 0.40, 0.02, 0.08, 0.08, 0.02),
    "community": (0.05, 0.05, 0.05, 0.60, 0.10, 0.15),
    "mental_health": (0.05, 0.02, 0.85, 0.04, 0.02, 0.02),
    "independent": (0.05, 0.75, 0.05, 0.10, 0.02, 0.03),
}

#: Default relative size of a provider's NHS contracts by kind (weights its capacity in provider
#: relevance).  ASSUMPTION from the split of CCG spend in 2013/14: acute care about 50-55%,
#: community services and mental health about 10-12% each, independent-sector providers a few
#: per cent (NHS England CCG programme budgeting; calibration.md "budget").  A CCG is served by
#: 1-2 acute trusts, one community and one mental-health provider, so one acute trust weighs
#: about five times a community or mental-health provider and twenty times an independent one.
KIND_SIZE = {"acute": 1.0, "community": 0.2, "mental_health": 0.2, "independent": 0.05}


@dataclass
class Population:
    """Arrays describing the agents (length N), practices (P), areas (L) and groups (G).

    Attributes
    ----------
    kind : int8 (N,)  stakeholder type, index into :data:`~simulation.scenario.STAKEHOLDER_TYPES`
    role : int8 (N,)  role code, index into :data:`ROLES`
    group : int32 (N,)  commissioning group, -1 for provider and local-authority staff
    area : int32 (N,)  area (locality) index, -1 if the agent has none
    practice : int32 (N,)  practice index, -1 if none
    org : int32 (N,)  provider or local-authority index, -1 otherwise
    scope : csr (N, P)  row-stochastic weights of the practices whose need each agent observes
    board : csr (G, N)  0/1 board membership (a provider or LA agent may sit on several)
    locality_lead : bool (N,)
    practice_labels : dict of str to object array (P,)
        Register labels of every practice, ``""`` where unknown (generated practices):
        ``code``, ``pcn``, ``sub_icb``, ``icb`` (from the map file; for the ICB levels).
    practice_imd : float (P,)
        Deprivation score of each practice (``practices_from.covariates``), NaN without.
    """

    scenario: Scenario
    kind: np.ndarray
    role: np.ndarray
    group: np.ndarray
    area: np.ndarray
    practice: np.ndarray
    org: np.ndarray
    locality_lead: np.ndarray
    board: sp.csr_array
    scope: sp.csr_array
    practice_group: np.ndarray
    practice_area: np.ndarray
    list_size: np.ndarray
    area_group: np.ndarray
    group_population: np.ndarray
    provider_serves: np.ndarray  # bool (n_providers, G)
    la_serves: np.ndarray  # bool (n_LA, G)
    provider_capacity: np.ndarray  # (n_providers, K) distributions
    provider_size: np.ndarray  # (n_providers,) relative contract size
    practice_labels: dict[str, np.ndarray] | None = None
    practice_imd: np.ndarray | None = None
    #: csr (C, N) 0/1 membership of the upper bodies' boards (``structure``; None without)
    body_board: sp.csr_array | None = None
    #: int (G,) the upper body of each group, -1 for none (None without ``structure``)
    group_body: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of agents N."""
        return int(self.kind.size)

    @property
    def n_groups(self) -> int:
        """Number of commissioning groups G."""
        return int(self.group_population.size)

    @property
    def n_areas(self) -> int:
        """Number of areas (localities) L."""
        return int(self.area_group.size)

    @property
    def n_practices(self) -> int:
        """Number of practices P."""
        return int(self.list_size.size)

    @property
    def on_board(self) -> np.ndarray:
        """Boolean (N,): sits on at least one board (a group's or, with an upper level, an
        upper body's)."""
        on = np.asarray(self.board.sum(axis=0)).ravel() > 0
        if self.body_board is not None:
            on |= np.asarray(self.body_board.sum(axis=0)).ravel() > 0
        return on

    @property
    def n_bodies(self) -> int:
        """Number of upper bodies C (0 without ``structure``)."""
        return 0 if self.body_board is None else int(self.body_board.shape[0])

    @property
    def formal_role(self) -> np.ndarray:
        """Boolean (N,): a member of a board at any level (CCG governing body, place
        committee, practice-based commissioning cluster board, PCT or ICB board) or a
        locality lead (PCN clinical director in the ICB era): a 'formal role'."""
        return self.on_board | self.locality_lead

    def counts_by_kind(self) -> dict[str, int]:
        """Number of agents of each stakeholder type."""
        counts = np.bincount(self.kind, minlength=len(STAKEHOLDER_TYPES))
        return {name: int(c) for name, c in zip(STAKEHOLDER_TYPES, counts, strict=True)}


def _list_sizes(rng: np.random.Generator, n: int, population: int, cv: float, floor: int) -> np.ndarray:
    """Log-normal list sizes with coefficient of variation ``cv`` summing to ``population``."""
    sigma = np.sqrt(np.log1p(cv * cv))
    raw = rng.lognormal(mean=-0.5 * sigma * sigma, sigma=sigma, size=n) if cv > 0 else np.ones(n)
    sizes = raw / raw.sum() * population
    floor = min(floor, population // n)
    sizes = np.maximum(sizes, floor)
    sizes *= population / sizes.sum()
    out = np.floor(sizes).astype(np.int64)
    out[np.argsort(sizes - out)[::-1][: population - out.sum()]] += 1  # largest remainders
    return out


def build_population(scenario: Scenario, rng: np.random.Generator) -> Population:
    """Create every agent slot, practice and area of a scenario.

    Per group: practices with log-normal list sizes summing to the (scaled) population,
    split into ``localities.count`` areas of consecutive practices after a random shuffle;
    GPs per practice proportional to list size (at least one); one practice manager and
    ``patients_per_practice`` patient representatives per practice; commissioning managers
    (the first ``board.officers`` are the officers, the next ``board.nurses`` the nurses);
    ``board.lay_members`` lay members.  Then provider and local-authority staff, shared by the
    groups they serve.  Boards follow :class:`~simulation.scenario.BoardSpec`.

    A group with explicit practices (``practices.explicit``, from a register) keeps them all,
    with their list sizes times ``scale`` (rounded, at least 100) and their GPs where given.
    If they carry locality labels, its areas are the distinct labels in list order and
    ``localities.count`` is ignored (:func:`explicit_layout`).
    """
    s = scenario
    gb = group_board_spec(s)
    kind: list[np.ndarray] = []
    role: list[np.ndarray] = []
    group: list[np.ndarray] = []
    area: list[np.ndarray] = []
    practice: list[np.ndarray] = []
    p_group: list[np.ndarray] = []
    p_area: list[np.ndarray] = []
    p_size: list[np.ndarray] = []
    a_group: list[int] = []
    g_pop = np.zeros(len(s.groups), dtype=np.int64)
    labels: dict[str, list[str]] = {k: [] for k in PRACTICE_LABELS}
    imd: list[float] = []

    def add(n: int, k: int, r: int, g: int, a: np.ndarray | int, p: np.ndarray | int) -> None:
        kind.append(np.full(n, k, np.int8))
        role.append(np.full(n, r, np.int8))
        group.append(np.full(n, g, np.int32))
        area.append(np.broadcast_to(np.asarray(a, np.int32), (n,)).copy())
        practice.append(np.broadcast_to(np.asarray(p, np.int32), (n,)).copy())

    n_prac_total = 0
    for gi, gs in enumerate(s.groups):
        if gs.practices.explicit is not None:  # a register's practices (simulation.registers)
            sizes, areas_local, n_areas, gps = explicit_layout(gs, s.scale, rng)
            n_prac = int(sizes.size)
            for key, values in labels.items():
                values.extend(getattr(p, key) or "" for p in gs.practices.explicit)
            imd.extend(np.nan if p.imd is None else p.imd for p in gs.practices.explicit)
        else:
            pop = max(1000, round(gs.population * s.scale))
            n_prac = max(1, round(gs.practices.count * s.scale))
            sizes = _list_sizes(rng, n_prac, pop, gs.practices.list_size_cv, gs.practices.min_list_size)
            n_areas = min(gs.localities.count, n_prac)
            order = rng.permutation(n_prac)
            areas_local = np.empty(n_prac, np.int32)
            for ai, chunk in enumerate(np.array_split(order, n_areas)):
                areas_local[chunk] = ai
            gps = np.maximum(1, np.rint(gs.practices.gps_per_practice * sizes / sizes.mean())).astype(int)
            for values in labels.values():
                values.extend([""] * n_prac)
            imd.extend([np.nan] * n_prac)
        g_pop[gi] = sizes.sum()
        area0 = len(a_group)
        a_group.extend([gi] * n_areas)
        pidx = np.arange(n_prac_total, n_prac_total + n_prac, dtype=np.int32)
        p_group.append(np.full(n_prac, gi, np.int32))
        p_area.append(areas_local + area0)
        p_size.append(sizes)
        add(int(gps.sum()), GP, R_GP, gi, np.repeat(areas_local + area0, gps), np.repeat(pidx, gps))
        add(n_prac, MANAGER, R_PM, gi, areas_local + area0, pidx)
        if s.patients_per_practice:
            k = s.patients_per_practice
            add(n_prac * k, PATIENT, R_PPG, gi, np.repeat(areas_local + area0, k), np.repeat(pidx, k))
        n_cm = gs.commissioning_managers
        n_off = min(gb.officers, n_cm)
        n_nurse = min(gb.nurses, n_cm - n_off)
        add(n_off, MANAGER, R_OFFICER, gi, -1, -1)
        add(n_nurse, MANAGER, R_NURSE, gi, -1, -1)
        add(n_cm - n_off - n_nurse, MANAGER, R_CM, gi, -1, -1)
        add(gb.lay_members, PATIENT, R_LAY, gi, -1, -1)
        n_prac_total += n_prac

    org: list[np.ndarray] = [np.full(sum(x.size for x in kind), -1, np.int32)]
    for pi, ps in enumerate(s.providers):
        add(ps.staff, PROVIDER, R_PROV, -1, -1, -1)
        org.append(np.full(ps.staff, pi, np.int32))
    for li, ls in enumerate(s.local_authorities):
        add(ls.staff, LOCAL_AUTHORITY, R_LA, -1, -1, -1)
        org.append(np.full(ls.staff, li, np.int32))

    kind_a = np.concatenate(kind)
    role_a = np.concatenate(role)
    group_a = np.concatenate(group)
    area_a = np.concatenate(area)
    practice_a = np.concatenate(practice)
    org_a = np.concatenate(org)
    n = kind_a.size
    practice_group = np.concatenate(p_group)
    practice_area = np.concatenate(p_area)
    list_size = np.concatenate(p_size)
    area_group = np.asarray(a_group, np.int32)
    names = {g.name: i for i, g in enumerate(s.groups)}
    g_count = len(s.groups)
    provider_serves = np.zeros((len(s.providers), g_count), bool)
    for pi, ps in enumerate(s.providers):
        provider_serves[pi, [names[x] for x in ps.serves]] = True
    la_serves = np.zeros((len(s.local_authorities), g_count), bool)
    for li, ls in enumerate(s.local_authorities):
        la_serves[li, [names[x] for x in ls.serves]] = True
    provider_capacity = _capacities(s)

    scope = _scope_matrix(
        kind_a, role_a, group_a, practice_a, org_a, practice_group, list_size, provider_serves, la_serves
    )
    lead = np.zeros(n, bool)
    board_rows, board_cols = _boards(
        s, rng, kind_a, role_a, group_a, area_a, org_a, area_group, provider_serves, la_serves, lead,
        gb)
    board = sp.csr_array(
        (np.ones(len(board_rows)), (board_rows, board_cols)), shape=(g_count, n)
    )
    board.sum_duplicates()
    board.data[:] = 1.0
    return Population(
        scenario=s,
        kind=kind_a,
        role=role_a,
        group=group_a,
        area=area_a,
        practice=practice_a,
        org=org_a,
        locality_lead=lead,
        board=board,
        scope=scope,
        practice_group=practice_group,
        practice_area=practice_area,
        list_size=list_size,
        area_group=area_group,
        group_population=g_pop,
        provider_serves=provider_serves,
        la_serves=la_serves,
        provider_capacity=provider_capacity,
        provider_size=np.array([KIND_SIZE[p.kind] if p.size is None else p.size
                                for p in s.providers], float),
        practice_labels={k: np.array(v, dtype=object) for k, v in labels.items()},
        practice_imd=np.array(imd, float),
    )


def _capacities(s: Scenario) -> np.ndarray:
    k = s.n_services
    caps = np.empty((len(s.providers), k))
    for pi, ps in enumerate(s.providers):
        if ps.capacity is not None:
            cap = np.asarray(ps.capacity, float)
        elif k == len(KIND_CAPACITY[ps.kind]):
            cap = np.asarray(KIND_CAPACITY[ps.kind], float)
        else:
            cap = np.ones(k)
        caps[pi] = cap / cap.sum() if cap.sum() > 0 else np.full(k, 1.0 / k)
    return caps


def _scope_matrix(
    kind: np.ndarray,
    role: np.ndarray,
    group: np.ndarray,
    practice: np.ndarray,
    org: np.ndarray,
    practice_group: np.ndarray,
    list_size: np.ndarray,
    provider_serves: np.ndarray,
    la_serves: np.ndarray,
) -> sp.csr_array:
    """Row-stochastic (N, P): which practices' need each agent observes.

    Practice-based agents see their practice; group-level agents (commissioning managers,
    officers, nurses, lay members) see their group's list-size-weighted need; provider and
    local-authority staff see the need of the population of the groups they serve.
    """
    n = kind.size
    n_p = list_size.size
    g_count = provider_serves.shape[1]
    w = list_size.astype(float)
    # group -> practices, list-size weighted and row-normalised
    gmat = sp.csr_array((w, (practice_group, np.arange(n_p))), shape=(g_count, n_p))
    gmat = sp.csr_array(sp.diags_array(1.0 / np.maximum(gmat.sum(axis=1), 1e-300)) @ gmat)
    rows, cols, vals = [], [], []
    at_practice = practice >= 0
    idx = np.flatnonzero(at_practice)
    rows.append(idx)
    cols.append(practice[idx])
    vals.append(np.ones(idx.size))
    group_level = (practice < 0) & (group >= 0)
    gl = np.flatnonzero(group_level)
    if gl.size:
        sub = sp.csr_array(gmat[group[gl]])
        coo = sub.tocoo()
        rows.append(gl[coo.row])
        cols.append(coo.col)
        vals.append(coo.data)
    for serves, k in ((provider_serves, PROVIDER), (la_serves, LOCAL_AUTHORITY)):
        ag = np.flatnonzero(kind == k)
        if ag.size == 0:
            continue
        # population-weighted need of the served groups
        sv = serves[org[ag]].astype(float)  # (n_ag, G)
        pop_g = np.bincount(practice_group, weights=w, minlength=g_count)
        m = sp.csr_array(sv * pop_g[None, :]) @ gmat
        m = sp.csr_array(sp.diags_array(1.0 / np.maximum(m.sum(axis=1), 1e-300)) @ m)
        coo = m.tocoo()
        rows.append(ag[coo.row])
        cols.append(coo.col)
        vals.append(coo.data)
    scope = sp.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n_p)
    )
    scope.sum_duplicates()
    return scope


def _boards(
    s: Scenario,
    rng: np.random.Generator,
    kind: np.ndarray,
    role: np.ndarray,
    group: np.ndarray,
    area: np.ndarray,
    org: np.ndarray,
    area_group: np.ndarray,
    provider_serves: np.ndarray,
    la_serves: np.ndarray,
    lead: np.ndarray,
    board: BoardSpec | None = None,
) -> tuple[list[int], list[int]]:
    """Choose board members and locality leads; returns (group, agent) membership pairs."""
    b = s.board if board is None else board
    rows: list[int] = []
    cols: list[int] = []

    def seat(g: int, members: np.ndarray) -> None:
        rows.extend([g] * len(members))
        cols.extend(int(x) for x in members)

    by_group = members_by(group, len(s.groups))
    areas_of = members_by(area_group, len(s.groups))
    prov_by_org = members_by(np.where(kind == PROVIDER, org, -1), provider_serves.shape[0])
    la_by_org = members_by(np.where(kind == LOCAL_AUTHORITY, org, -1), la_serves.shape[0])
    for g in range(len(s.groups)):
        mine = by_group[g]
        gps = mine[role[mine] == R_GP]
        chosen: list[int] = []
        if s.localities.enabled:
            for a in areas_of[g]:
                cand = gps[area[gps] == a]
                if cand.size:
                    leader = int(rng.choice(cand))
                    lead[leader] = True
                    if len(chosen) < b.gps:
                        chosen.append(leader)
        rest = np.setdiff1d(gps, chosen)
        extra = min(b.gps - len(chosen), rest.size)
        if extra > 0:
            chosen.extend(int(x) for x in rng.choice(rest, size=extra, replace=False))
        seat(g, np.asarray(chosen, int))
        pms = mine[role[mine] == R_PM]
        seat(g, rng.choice(pms, size=min(b.practice_managers, pms.size), replace=False))
        seat(g, mine[(role[mine] == R_OFFICER) | (role[mine] == R_NURSE)])
        seat(g, mine[role[mine] == R_LAY])
        provs = _serving(prov_by_org, provider_serves, g)
        if provs.size and b.secondary_care_doctors:
            seat(g, rng.choice(provs, size=min(b.secondary_care_doctors, provs.size), replace=False))
        las = _serving(la_by_org, la_serves, g)
        if las.size and b.local_authority_attendee:
            seat(g, rng.choice(las, size=1))
    return rows, cols


def group_board_spec(s: Scenario) -> BoardSpec:
    """The groups' boards at the start: ``structure.group_board`` if given, else ``board``."""
    if s.structure is not None and s.structure.group_board is not None:
        return s.structure.group_board
    return s.board


def members_by(labels: np.ndarray, n: int) -> list[np.ndarray]:
    """Indices of the items with each label 0..n-1 (negative labels skipped), in index order."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    bounds = np.searchsorted(sorted_labels, np.arange(n + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(n)]


def _serving(staff_by_org: list[np.ndarray], serves: np.ndarray, g: int) -> np.ndarray:
    """Staff of the organisations serving group ``g``."""
    orgs = np.flatnonzero(serves[:, g]) if serves.size else []
    parts = [staff_by_org[o] for o in orgs]
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


# Explicit practices (read from a register by simulation.registers at load time).


def explicit_layout(group: GroupSpec, scale: float, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """List sizes, area (0-based, within the group) and GPs of a group's explicit practices.

    List sizes are the given ones times ``scale`` (rounded, at least 100; every practice is
    kept).  With locality labels, the areas are the distinct labels in list order and
    ``localities.count`` is ignored; without, the practices are shuffled into
    ``min(localities.count, practices)`` areas as for generated groups (drawing from ``rng``).
    GPs are the given ones, else ``gps_per_practice`` × list size / mean list size (≥ 1).

    Returns
    -------
    (sizes int64 (P,), areas int32 (P,), number of areas, gps int (P,))
    """
    import numpy as np

    ex = group.practices.explicit
    sizes = np.array([p.list_size for p in ex], np.int64)
    if scale != 1.0:
        sizes = np.maximum(100, np.rint(sizes * scale)).astype(np.int64)
    n = sizes.size
    if ex[0].locality is not None:
        labels = [p.locality for p in ex]
        index = {label: k for k, label in enumerate(dict.fromkeys(labels))}
        areas = np.array([index[label] for label in labels], np.int32)
        n_areas = len(index)
    else:
        n_areas = min(group.localities.count, n)
        areas = np.empty(n, np.int32)
        for ai, chunk in enumerate(np.array_split(rng.permutation(n), n_areas)):
            areas[chunk] = ai
    gps = np.maximum(1, np.rint(group.practices.gps_per_practice * sizes / sizes.mean())).astype(int)
    for k, p in enumerate(ex):
        if p.gps is not None:
            gps[k] = p.gps
    return sizes, areas, n_areas, gps
