"""The Mesa model of a commissioning network.

:class:`CommissioningModel` owns the hot state as arrays (beliefs, objectives, engagement,
tie weights) and sequences the monthly phases of the design brief in :meth:`~CommissioningModel.step`.
Agents (:mod:`simulation.agents`) carry identity and per-agent behaviour; the phases are
vectorised kernels from the topic modules (:mod:`~simulation.knowledge_flows`,
:mod:`~simulation.localities`, :mod:`~simulation.decisions`, :mod:`~simulation.engagement`,
:mod:`~simulation.tie_dynamics`, :mod:`~simulation.leadership`), each with a plain-loop
reference in the tests.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections import OrderedDict, deque
from collections.abc import Iterable
from functools import partial
from typing import Any

import mesa
import numpy as np
import scipy.sparse as sp

from . import _kernels, leadership, needs, places
from . import exchange as ex
from ._numeric import csr_product, distinct_rows, row_positions
from .agents import AGENT_CLASSES, CommissioningAgent
from .decisions import Budget, decide
from .engagement import (
    draw_engagement,
    leave_hazard,
    monthly_rate,
    reflection,
    regress,
    update_engagement,
)
from .knowledge_flows import (
    activity_view,
    exchange_beliefs,
    influence_weights,
    noisy_observation,
    observation_noise,
    serving_bits,
    serving_matrix,
    take_up,
    tie_relevance,
)
from .localities import meet, membership, pool
from .measures import betweenness, shock_funded
from .network import Ties, build_ties
from .population import (
    LOCAL_AUTHORITY,
    PROVIDER,
    R_GP,
    R_PM,
    R_PPG,
    Population,
    build_population,
    members_by,
)
from .reorganisation import reorganise
from .scenario import STAKEHOLDER_TYPES, BrokerLoss, GPExodus, NeedShock, Scenario
from .tie_dynamics import accept_by_capacity, close_triads, rewire_pairs, update_weights

__all__ = ["NEVER", "SCENARIO_SEED", "BurnInCache", "CommissioningModel"]


class BurnInCache:
    """Burned-in model states, shared by runs that differ only from month 0 on.

    A paired comparison runs every arm with the same replicate seeds; arms whose scenarios
    differ only in what happens from month 0 on (``events``, which fire at months ≥ 1, the
    number of ``steps``, ``name``, ``description``, and the calendar ``start``, which only
    labels months) have the same burn-in, so it is computed
    once per seed and copied (pickled, so arms never share arrays).  At most ``max_items``
    states are kept (least recently used first out).
    """

    #: Scenario fields the burn-in does not read.
    AFTER_BURN_IN = ("events", "steps", "name", "description", "start")

    def __init__(self, max_items: int = 8):
        self.max_items = max_items
        self._states: OrderedDict[str, bytes] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @classmethod
    def key(cls, scenario: Scenario, seed: int) -> str:
        """Identity of a burn-in: the scenario less :attr:`AFTER_BURN_IN`, and the seed."""
        dump = scenario.model_dump(mode="json", exclude=set(cls.AFTER_BURN_IN))
        text = json.dumps([dump, int(seed)], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> bytes | None:
        """The stored state of ``key`` (counted as a hit), or None (a miss)."""
        blob = self._states.get(key)
        if blob is None:
            self.misses += 1
            return None
        self.hits += 1
        self._states.move_to_end(key)
        return blob

    def put(self, key: str, blob: bytes) -> None:
        """Store a state, dropping the least recently used beyond ``max_items``."""
        self._states[key] = blob
        self._states.move_to_end(key)
        while len(self._states) > self.max_items:
            self._states.popitem(last=False)


class _ScenarioSeed:
    def __repr__(self) -> str:
        return "<the scenario's seed>"


#: Default ``seed`` of :class:`CommissioningModel`: the scenario's (an explicit None is fresh).
SCENARIO_SEED: Any = _ScenarioSeed()

#: ``last_contact`` of an agent who never met a board member (months).
NEVER = -(10**6)


class CommissioningModel(mesa.Model):
    """Stakeholders of one or more commissioning groups exchanging knowledge over a network.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario (see :func:`simulation.loader.load_scenario`).
    seed : int or None, optional
        Overrides ``scenario.seed`` (the default when not given).  An explicit ``None``
        follows Mesa's convention: a fresh seed from operating-system entropy, so
        ``mesa.batch_run(CommissioningModel, ..., iterations=3)`` gives three different
        replicates.  The seed used is recorded as ``self.seed`` (and ``seed_value``).  The
        model's ``numpy.random.Generator`` (``self.rng``), seeded once from it, drives
        everything: population, ties, dynamics and metrics sampling.  Global random state is
        never touched.
    collect : bool
        Collect metrics with the DataCollector every step (default).  Benchmarks switch it off
        to time the dynamics alone.
    metrics : iterable of str, optional
        Collect only these metrics (names of :data:`~simulation.reporters.METRICS`); default
        all.  The metrics only read the model's state (their caches aside), so the dynamics
        and every collected value are the same whichever are collected (a test compares them
        bit for bit); sweeps, the pattern suite and calibration collect only what they reduce.
    burn_in_cache : BurnInCache, optional
        Share burned-in states between runs that differ only from month 0 on (the arms of a
        paired comparison whose scenarios differ only in ``events``, ``steps``, ``name`` or
        ``description``): the first such run with a seed burns in and stores its state; the
        others start from a copy of it.  A shared and a fresh burn-in give identical results
        (tested bit for bit).

    Notes
    -----
    The constructor runs ``scenario.burn_in`` months of spin-up (every process, decisions
    included, but no events and no recording), so month 0 — the first row of the results —
    starts from a settled network.  ``self.month`` counts months from -burn_in; after the
    burn-in it equals Mesa's ``self.steps``.
    """

    def __init__(self, scenario: Scenario, seed: int | None = SCENARIO_SEED, *, collect: bool = True,
                 metrics: Iterable[str] | None = None, burn_in_cache: BurnInCache | None = None):
        if seed is None:  # Mesa's convention: None draws a fresh seed (63 bits, recorded)
            seed = int(np.random.SeedSequence().entropy % 2**63)
        self.seed_value = self.seed = int(scenario.seed if seed is SCENARIO_SEED else seed)
        super().__init__(rng=self.seed_value)
        mesa_keys = set(vars(self))
        self.spec = scenario
        s = scenario
        rng = self.rng
        self.pop: Population = build_population(s, rng)
        self.ties: Ties = build_ties(self.pop, rng)
        p = self.pop
        n, k, g_count = p.n, s.n_services, p.n_groups
        self.n_agents, self.n_services, self.n_groups = n, k, g_count

        # ---- structure caches
        self.sector = np.select([p.kind == PROVIDER, p.kind == LOCAL_AUTHORITY], [1, 2], 0)
        self.front_line = np.isin(p.role, (R_GP, R_PM, R_PPG))
        self.area_matrix = needs.aggregation_matrix(p.practice_area, p.list_size, p.n_areas)
        self.group_matrix = needs.aggregation_matrix(p.practice_group, p.list_size, g_count)
        self.area_population = np.bincount(p.practice_area, weights=p.list_size, minlength=p.n_areas)
        self.board = p.board
        self.on_board = p.on_board
        self.board_slots = np.flatnonzero(p.on_board)
        self.formal_role = p.formal_role
        self.area_members = membership(p.area, p.n_areas, self.front_line)
        self.national = _normalised(s.national_priorities, k)
        self.type_noise = np.array(
            [getattr(s.observation.noise_by_type, t) for t in STAKEHOLDER_TYPES]
        )[p.kind]
        self.present = np.ones(n, bool)
        self.capacity = p.provider_capacity.copy()
        self.levers = {name: lever.model_dump() for name, lever in s.leadership}
        self.month = -s.burn_in
        # agent-months this model will run: whether COMMNET_KERNELS=auto loads numba for it
        self.kernel_work = n * (s.burn_in + s.steps)
        self.turnover_sensitivity = s.turnover.engagement_sensitivity
        self.engagement_base, self.engagement_sd = self._engagement_params(np.arange(n))
        # newcomers' local climate: one per (type, unit), key = type * n_units + unit; slots
        # keep their type, area, group and organisation, so the keys are fixed
        self.climate_keys = [
            (np.where(unit >= 0, p.kind.astype(np.int64) * n_units + unit, -1),
             len(STAKEHOLDER_TYPES) * max(n_units, 1))
            for unit, n_units in ((p.area, p.n_areas), (p.group, p.n_groups),
                                  (p.org, int(p.org.max()) + 1))
        ]

        # ---- need
        baseline = _normalised(s.need.baseline, k)
        self.practice_need = needs.initial_needs(
            rng, baseline, p.area_group, p.practice_area,
            s.need.locality_concentration, s.need.practice_concentration,
        )
        if p.practice_imd is not None and np.isfinite(p.practice_imd).any():  # need.deprivation
            dep = s.need.deprivation
            self.practice_need = needs.deprivation_shift(
                self.practice_need, p.practice_imd, [dep.ratios.get(x, 1.0) for x in s.services],
                dep.reference_imd, dep.imd_span)
        self._refresh_truth()
        self.data_observer = p.practice < 0
        self.data_scope = p.scope[self.data_observer]  # fixed: sliced once, not every month
        self.need_history: deque[np.ndarray] = deque(maxlen=max(1, s.observation.data_lag))
        self.national_need = baseline

        # ---- knowledge routes (knowledge_flows): who observes, whose ties count for how much
        r = s.knowledge_routes
        self.route_observe = np.where(self.data_observer, float(r.activity_data),
                                      float(r.observation))
        self.serving = serving_matrix(
            p.group, np.vstack([p.provider_serves, p.la_serves]),
            np.where(p.kind == LOCAL_AUTHORITY, p.org + len(p.provider_serves), p.org), g_count)
        self.serving_bits = serving_bits(self.serving)
        coo = self.serving.tocoo()  # (agent, group) pairs, for per-body shares of respondents
        self.serving_pairs = (coo.row.astype(np.int64), coo.col.astype(np.int64))
        self.board_gp = self.on_board & (p.role == R_GP)

        # ---- agents' state: nobody knows local need at the start (the national profile);
        # knowledge of local need is built only by the routes of knowledge_flows
        self.engagement = self._draw_engagement(np.arange(n))
        self.belief = np.tile(self.national_need, (n, 1))
        self.private = self.belief.copy()
        self.objective = self._draw_objectives(np.arange(n))
        self.adopted = np.zeros(n, bool)
        self.active = np.ones(n, bool)
        self.used = np.zeros(self.ties.m, bool)
        self.exchanges = np.zeros(n, np.int64)
        self.reflect = np.full(n, np.nan)
        self.moved_toward = np.zeros(n, bool)
        self.left_this_step = np.zeros(n, bool)
        self.last_contact = np.full(n, NEVER)  # month of the last contact with a board member

        # ---- Mesa agents, one class per stakeholder type, one per slot; identity arrays
        self.occupant_id = np.zeros(n, np.int64)  # unique_id of each slot's occupant
        self.joined = np.zeros(n, np.int64)  # step at which the occupant joined
        self.occupant: list[CommissioningAgent] = [
            AGENT_CLASSES[int(kd)](self, slot) for slot, kd in enumerate(p.kind)
        ]

        # ---- views and decisions: every body starts from the inherited (national) profile;
        # the floor and ceiling run the same rule fed no local knowledge / true need
        self.locality_view = np.full((p.n_areas, k), np.nan)
        self.locality_objective = np.full((p.n_areas, k), np.nan)
        self._refresh_board_view()
        self.budget = Budget.inherited(baseline, p.area_group, g_count)
        self.floor_budget = self.budget.copy()
        self.ceiling_budget = self.budget.copy()
        self.previous_alloc = self.group_alloc.copy()
        self.decisions_made = 0
        self.locality_share = s.localities.budget_share  # a reorganise may change it
        places.install(self)  # upper bodies (PCTs, ICBs) of `structure`; nothing without it

        # ---- histories for stability and shock detection
        window = s.metrics.stability_window
        self.key_history: deque[np.ndarray] = deque([self._key_record()], maxlen=window + 1)
        self.id_history: deque[np.ndarray] = deque([self._id_record()], maxlen=window + 1)
        self.shocks: list[dict[str, Any]] = []
        self.detection = np.full(g_count, np.nan)
        self.funded = {6: np.full(g_count, np.nan), 12: np.full(g_count, np.nan)}
        self.structure_cache: dict[str, np.ndarray] = {}

        key = burn_in_cache.key(s, self.seed) if burn_in_cache is not None else None
        state = burn_in_cache.get(key) if key is not None else None
        if state is not None:  # the same burned-in state as a fresh burn-in (tested bitwise)
            self._restore(state)
        else:
            for _ in range(s.burn_in):  # spin-up: the network settles before month 0
                self._advance()
            if key is not None:
                burn_in_cache.put(key, self._snapshot(mesa_keys))
        self.collect = collect
        if collect:
            from .reporters import make_datacollector  # local: reporters import the model type

            self.datacollector = make_datacollector(metrics)
            self.datacollector.collect(self)

    # ================================================================== burn-in sharing
    def _snapshot(self, mesa_keys: set[str]) -> bytes:
        """The model's own state after the burn-in (not Mesa's internals, nor the agents,
        which read everything from the arrays), with the generators' states, pickled."""
        skip = mesa_keys | {"spec", "occupant", "_seen_cache", *_STRUCTURE_CACHES}
        state = {k: v for k, v in vars(self).items() if k not in skip}
        state["agent_id_counter"] = self.agent_id_counter
        return pickle.dumps((state, self.rng.bit_generator.state, self.random.getstate()),
                            protocol=pickle.HIGHEST_PROTOCOL)

    def _restore(self, blob: bytes) -> None:
        state, rng_state, random_state = pickle.loads(blob)
        spec = self.spec
        self.__dict__.update(state)
        self.spec = spec  # the run's own scenario (it differs only from month 0 on)
        self._seen_cache = None
        self.rng.bit_generator.state = rng_state
        self.random.setstate(random_state)

    # ================================================================== helpers
    @property
    def board_alloc(self) -> np.ndarray:
        """The boards' own allocations (G, K)."""
        return self.budget.board

    @property
    def area_alloc(self) -> np.ndarray:
        """What is spent in each area (L, K): board allocation mixed with the devolved share."""
        return self.budget.area

    @property
    def group_alloc(self) -> np.ndarray:
        """Each group's spending profile (G, K): population-weighted mean over its areas."""
        return self.budget.group

    def _refresh_truth(self) -> None:
        """Area, group and per-agent (scope) need from practice need."""
        # one product with the three aggregation matrices stacked (row by row the same sums
        # as three products), split into row blocks
        stacked, (n_area, n_group) = self._truth_matrix()
        need = self._rows_product(stacked, self.practice_need)
        self.area_need = need[:n_area]
        self.group_need = need[n_area:n_area + n_group]
        self.truth = need[n_area + n_group:]

    def _truth_matrix(self) -> tuple[sp.csr_array, tuple[int, int]]:
        """The area, group and scope aggregation matrices stacked (rows in that order) and
        the numbers of area and group rows; cached until one of them changes."""
        parts = (self.area_matrix, self.group_matrix, self.pop.scope)
        cached = getattr(self, "_truth_cache", None)
        if cached is None or not all(a is b for a, b in zip(cached[0], parts, strict=True)):
            stacked = sp.csr_array(sp.vstack(parts, format="csr"))
            cached = self._truth_cache = (parts, (stacked, (parts[0].shape[0], parts[1].shape[0])))
        return cached[1]

    def _rows_product(self, m: sp.csr_array, x: np.ndarray) -> np.ndarray:
        """``m @ x`` for the aggregation matrices, bit for bit, over their distinct rows
        (:func:`simulation._numeric.distinct_rows`: many agents share one scope, e.g. a
        group's managers; England's 59,927 stacked rows are 9,534 distinct) then gathered;
        the distinct rows are found once per matrix (the last two matrices are kept)."""
        cache = self.__dict__.setdefault("_distinct_cache", [])
        found = next((entry[1] for entry in cache if entry[0] is m), False)
        if found is False:
            found = distinct_rows(m) if m.shape[0] >= 64 else None
            cache.insert(0, (m, found))
            del cache[2:]
        if found is None:
            return _product(m, x)
        distinct, inverse = found
        return np.take(_product(distinct, x), inverse, axis=0)

    def observed_need(self) -> np.ndarray:
        """What each agent's observation is of: current need of its scope for practice-based
        agents; need ``observation.data_lag`` months ago for agents who see need through
        activity data or needs assessments (group-level managers, lay members, provider and
        local-authority staff)."""
        o = self.spec.observation
        old = self.need_history[0] if o.data_lag and self.need_history else self.practice_need
        data = self._rows_product(self.data_scope, old)
        data = activity_view(data, self._observers_supply(), o.activity_supply_share)
        seen = self.truth.copy()
        seen[self._observer_rows()] = data  # the rows of data_observer (an index: faster)
        return seen

    def _observer_rows(self) -> np.ndarray:
        """Slots of the data observers, in order (cached with ``data_observer``)."""
        cached = getattr(self, "_observer_cache", None)
        if cached is None or cached[0] is not self.data_observer:
            cached = self._observer_cache = (self.data_observer,
                                             np.flatnonzero(self.data_observer))
        return cached[1]

    def _observers_supply(self) -> np.ndarray:
        """The allocation the data observers see (their rows of :meth:`allocation_seen`),
        cached with it until the next decision."""
        seen = self.allocation_seen()
        cached = getattr(self, "_supply_cache", None)
        if cached is None or cached[0] is not seen or cached[1] is not self.data_observer:
            cached = self._supply_cache = (seen, self.data_observer, seen[self.data_observer])
        return cached[2]

    def _engagement_params(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s, p = self.spec, self.pop
        mean = np.empty(slots.size)
        sd = np.empty(slots.size)
        for t, name in enumerate(STAKEHOLDER_TYPES):
            base = getattr(s.engagement, name)
            is_t = p.kind[slots] == t
            mean[is_t], sd[is_t] = base.mean, base.sd
            for gi, gs in enumerate(s.groups):
                over = getattr(gs.engagement, name)
                if over is not None:
                    hit = is_t & (p.group[slots] == gi)
                    mean[hit], sd[hit] = over.mean, over.sd
        return mean, sd

    def _draw_engagement(self, slots: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        # a slot's type and group are fixed, so are its parameters (no loop over groups here)
        base, sd = self.engagement_base[slots], self.engagement_sd[slots]
        mean = base if mean is None else mean
        sd = np.minimum(sd, 0.9 * np.sqrt(mean * (1.0 - mean)))  # a feasible Beta spread
        return draw_engagement(self.rng, mean, sd)

    def _newcomer_engagement(self, slots: np.ndarray) -> np.ndarray:
        """Newcomers' engagement: Beta around (1 − c) × type mean + c × the local climate (the
        mean engagement of present peers of the same type in the same area, else group, else
        organisation)."""
        clim = self._newcomer_climate(slots)
        base = self.engagement_base[slots]
        c = self.spec.turnover.newcomer_climate
        kern = _kernels.kernels(self.kernel_work)
        if kern is not None:  # the same parameters in one pass, then the same draws
            mean, alpha, beta, fixed = kern.newcomer_beta(clim, base, self.engagement_sd[slots],
                                                          float(c))
            return np.where(fixed, mean, self.rng.beta(alpha, beta))
        mean = np.where(np.isfinite(clim), (1.0 - c) * base + c * clim, base)
        return self._draw_engagement(slots, np.clip(mean, 1e-3, 1.0 - 1e-3))

    def _newcomer_climate(self, slots: np.ndarray) -> np.ndarray:
        """The local climate of newcomers in ``slots``: the mean engagement of the present
        peers (not newcomers) of the same type in the same area, else group, else
        organisation (NaN when none has any)."""
        # the climates of the three levels (area, group, organisation) in one pass: their
        # (agent, key) entries laid end to end, keys offset per level, so each key's sum
        # adds the same engagements in the same (agent) order as climate() per level
        agent, key_all, slot_keys, n_all = self._climate_entries()
        kern = _kernels.kernels(self.kernel_work)
        if kern is not None:  # the same sums, for the newcomers' keys only, in one pass
            return kern.newcomer_climate(agent, key_all, n_all, self.present, self.engagement,
                                         slots, slot_keys)
        peers = self.present.copy()
        peers[slots] = False
        ok = peers[agent]
        unit = key_all[ok]
        total = np.bincount(unit, weights=self.engagement[agent[ok]], minlength=n_all + 1)
        count = np.bincount(unit, minlength=n_all + 1)
        c_all = total / np.maximum(count, 1)
        c_all[count == 0] = np.nan  # the last entry (no key) stays NaN
        # each newcomer's climate: the first level (area, group, organisation) with a value
        levels = c_all[slot_keys[slots]]
        first = np.isnan(levels).argmin(axis=1)  # 0 (NaN) when no level has a value
        return levels[np.arange(slots.size), first]

    def _climate_entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """(agent, offset key) of every agent with a key at each level of ``climate_keys``,
        level after level; each agent's offset key per level ``(N, levels)`` (the total number
        of keys where it has none) and that total; cached until a level's keys change (a
        reorganise event rebuilds the areas')."""
        cached = getattr(self, "_climate_cache", None)
        keys = [key for key, _ in self.climate_keys]
        if cached is not None and len(cached[0]) == len(keys) and all(
                a is b for a, b in zip(cached[0], keys, strict=True)):
            return cached[1]
        agents, offset_keys, per_agent, start = [], [], [], 0
        for key, n_keys in self.climate_keys:
            valid = np.flatnonzero(key >= 0)
            agents.append(valid)
            offset_keys.append(key[valid] + start)
            per_agent.append(np.where(key >= 0, key + start, -1))
            start += n_keys
        slot_keys = np.stack(per_agent, axis=1)
        slot_keys[slot_keys < 0] = start
        entries = (np.concatenate(agents), np.concatenate(offset_keys), slot_keys, start)
        self._climate_cache = (keys, entries)
        return entries

    def _draw_objectives(self, slots: np.ndarray) -> np.ndarray:
        """Initial priorities: Dirichlet(c × base) (see :class:`~simulation.scenario.ObjectiveSpec`).

        The base is what the agent can know on arrival — its own belief (the national need
        profile: no local knowledge), its organisation's capacity profile for provider staff,
        and the mean of its belief and national priorities for council staff — never the true
        local need, which reaches priorities only through beliefs (``objectives.belief_pull``).
        """
        p = self.pop
        base = self.belief[slots]  # a copy (integer index)
        prov = p.kind[slots] == PROVIDER
        base[prov] = self.capacity[p.org[slots[prov]]]
        la = p.kind[slots] == LOCAL_AUTHORITY
        base[la] = 0.5 * base[la] + 0.5 * self.national
        return needs.dirichlet_rows(self.rng, self.spec.objectives.concentration * base)

    def _refresh_board_view(self) -> None:
        """What the board knows between meetings: the engagement-weighted mean of its present
        members' beliefs and objectives (nothing but its members' knowledge enters it; with
        ``knowledge_routes.board_gps`` off, GP members' beliefs do not enter it, and a board
        whose view has no member left falls back to the national profile)."""
        w = self.engagement * self.present + 1e-9
        if self.spec.knowledge_routes.board_gps:
            both, _ = pool(self.board, w, (self.belief, self.objective))
            k = self.n_services
            self.board_view, self.board_objective = both[:, :k], both[:, k:]
        else:
            self.board_objective = pool(self.board, w, self.objective)[0]
            self.board_view = self._national_if_empty(
                pool(self.board, w * ~self.board_gp, self.belief)[0])

    def _national_if_empty(self, view: np.ndarray) -> np.ndarray:
        """Rows of a pooled view with nobody in the pool (NaN) become the national profile."""
        empty = ~np.isfinite(view).all(axis=1)
        if empty.any():
            view = view.copy()
            view[empty] = self.national_need
        return view

    def is_decision_step(self) -> bool:
        """Whether boards decide at the current month."""
        return self.month % self.spec.decisions.interval == 0

    # ================================================================== the step
    def step(self) -> None:
        """Advance one month.

        Phases run in this fixed order, each updating all agents *synchronously* (every agent
        reads the state left by the previous phase; no agent sees another's update within a
        phase).  There is no random activation order: randomness enters only through the
        draws of the model's generator (who attends, observation noise, pairs, leavers, new
        ties), taken in the same order every step.
        """
        self._advance()
        if self.collect:
            self.datacollector.collect(self)

    def _advance(self) -> None:
        """One month of every phase (the body of :meth:`step`, also run by the burn-in)."""
        self.month += 1
        if self.month > 0:
            self.fire_events()  # 1. scheduled events (shocks, exodus, exits, lever switches)
        self.drift_needs()  # 1. need drifts
        self.draw_attendance()  # who takes part this month (probability = engagement)
        self.observe_need()  # 2. front-line observation
        self.exchange_knowledge()  # 3. exchange with neighbours
        self.hold_locality_meetings()  # 4. locality meetings pool knowledge
        if self.is_decision_step():
            self.hold_board_meeting()  # 4. the board pools its members' knowledge
            places.hold_body_meeting(self)  # 4. upper bodies' boards (PCTs, ICBs), if any
            self.hold_joint_forum()  # coherence-building lever (if on)
            self.decide()  # 5. boards (and localities) allocate the budget
            self.feed_back_engagement()  # 6. virtuous / vicious engagement cycles
        self.regress_engagement()  # 6. engagement regresses toward its type's mean
        self._refresh_board_view()
        self.spread_pathway()  # innovation adoption (if enabled)
        self.turn_over()  # 6. leaving and replacement
        self.update_ties()  # 7. tie dynamics and brokering
        self.track_shocks()

    # ------------------------------------------------------------------ 1. events, need
    def fire_events(self) -> None:
        """Apply the scenario's events scheduled for this step."""
        for ev in self.spec.events:
            if ev.step != self.month:
                continue
            groups = self._event_groups(ev.groups)
            if isinstance(ev, NeedShock):
                self._need_shock(ev, groups)
            elif isinstance(ev, GPExodus):
                gps = np.flatnonzero((self.pop.role == R_GP) & np.isin(self.pop.group, groups))
                n_out = round(ev.fraction * gps.size)
                self.replace(self.rng.choice(gps, size=n_out, replace=False))
            elif ev.type == "provider_exit":
                self._provider_exit(ev.provider)
            elif ev.type == "lever":
                self.levers[ev.lever]["enabled"] = ev.enabled
                if ev.intensity is not None:
                    self.levers[ev.lever]["intensity"] = ev.intensity
            elif ev.type == "engagement_shift":
                t = STAKEHOLDER_TYPES.index(ev.stakeholder)
                hit = (self.pop.kind == t) & (np.isin(self.pop.group, groups) | (self.pop.group < 0))
                self.engagement[hit] = np.clip(self.engagement[hit] + ev.delta, 0.0, 1.0)
            elif isinstance(ev, BrokerLoss):
                self.replace(self._brokers(ev, groups), drop_ties=True)
            elif ev.type == "rewire":
                a, b, old = rewire_pairs(
                    self.ties.src, self.ties.dst, self.rng,
                    group=None if ev.preserve == "none" else self.pop.group,
                    locality=self.pop.area if ev.preserve == "locality" else None)
                self.ties = Ties.from_pairs(self.n_agents, a, b, self.ties.weight[old])
                self.used = np.zeros(self.ties.m, bool)
            elif ev.type == "turnover_feedback":
                self.turnover_sensitivity = ev.engagement_sensitivity
            elif ev.type == "reorganise":
                reorganise(self, ev)  # bodies, boards, localities reconstituted

    def _brokers(self, ev: BrokerLoss, groups: np.ndarray) -> np.ndarray:
        """Slots of the locality leads and of each group's ``top_betweenness`` agents by exact
        betweenness on the group's internal network (ties broken by slot)."""
        p = self.pop
        out = [np.flatnonzero(p.locality_lead & np.isin(p.group, groups))] if ev.locality_leads else []
        if ev.top_betweenness and self.ties.m:
            A = self.ties.csr()
            members = members_by(np.where(self.present, p.group, -1), self.n_groups)
            for g in groups:
                idx = members[g]
                if idx.size:
                    bc = betweenness(A[idx][:, idx])
                    out.append(idx[np.argsort(-bc, kind="stable")[: ev.top_betweenness]])
        return np.unique(np.concatenate(out)) if out else np.empty(0, np.int64)

    def _event_groups(self, names: list[str] | None) -> np.ndarray:
        if names is None:
            return np.arange(self.n_groups)
        index = {g.name: i for i, g in enumerate(self.spec.groups)}
        return np.array([index[x] for x in names])

    def _need_shock(self, ev: NeedShock, groups: np.ndarray) -> None:
        p = self.pop
        svc = self.spec.services.index(ev.service)
        areas = []
        for g in groups:
            ga = np.flatnonzero(p.area_group == g)
            n_hit = max(1, round(ev.locality_fraction * ga.size))
            areas.extend(self.rng.choice(ga, size=n_hit, replace=False).tolist())
        rows = np.flatnonzero(np.isin(p.practice_area, areas))
        before = self.group_need[:, svc].copy()
        self.practice_need = needs.shock(self.practice_need, rows, svc, ev.factor)
        self._refresh_truth()
        self.shocks.append(
            {"step": self.month, "service": svc, "groups": groups,
             "baseline": self.board_view[:, svc].copy(), "before": before,
             "target": self.group_need[:, svc].copy(), "alloc": self.group_alloc[:, svc].copy()}
        )
        self.detection[groups] = np.nan
        for funded in self.funded.values():
            funded[groups] = np.nan

    def _provider_exit(self, name: str) -> None:
        o = [pr.name for pr in self.spec.providers].index(name)
        staff = np.flatnonzero((self.pop.kind == PROVIDER) & (self.pop.org == o))
        self.present[staff] = False
        self.engagement[staff] = 0.0
        self.capacity[o] = 0.0
        self.pop.provider_serves[o] = False
        gone = np.isin(self.ties.src, staff) | np.isin(self.ties.dst, staff)
        self.ties = self.ties.keep(~gone)
        self.used = self.used[~gone]

    def drift_needs(self) -> None:
        """Practice need drifts (multiplicative log-normal, :func:`simulation.needs.drift`)."""
        sd = self.spec.need.drift_sd
        if sd > 0:
            eps = self.rng.standard_normal(self.practice_need.shape)
            self.practice_need = needs.drift(self.practice_need, sd, eps)
            self._refresh_truth()

    def draw_attendance(self) -> None:
        """Each present agent takes part this month with probability equal to its engagement."""
        self.active = (self.rng.random(self.n_agents) < self.engagement) & self.present

    # ------------------------------------------------------------------ 2-3. knowledge flows
    def observe_need(self) -> None:
        """Active agents observe the need of their scope (:func:`~simulation.knowledge_flows.observe`)."""
        o = self.spec.observation
        kern = _kernels.kernels(self.kernel_work)
        if kern is not None and 1 <= self.belief.shape[1] <= 128:  # compiled: the same bits
            eps = self.rng.standard_normal(self.belief.shape)
            arg = kern.observe_noise(o.noise, self.type_noise, o.noise_engagement_factor,
                                     self.engagement, eps)
            np.exp(arg, out=arg)  # numpy's exp, as on the numpy path
            self.belief, self.private = kern.observe_take_up(
                arg, self.observed_need(), o.rate, self.engagement, self.active,
                self.route_observe, self.belief, self.private)
            if o.data_lag:
                self.need_history.append(self.practice_need)
            return
        sd = observation_noise(self.engagement, o.noise, self.type_noise, o.noise_engagement_factor)
        rate = o.rate * self.engagement * self.active * self.route_observe
        eps = self.rng.standard_normal(self.belief.shape)
        obs = noisy_observation(self.observed_need(), sd, eps)  # one draw, two views
        gain = rate[:, None] * obs
        self.belief = take_up(self.belief, obs, rate, gain)
        self.private = take_up(self.private, obs, rate, gain)
        if o.data_lag:
            self.need_history.append(self.practice_need)

    def exchange_knowledge(self) -> None:
        """Beliefs by the scenario's rule and objectives by DeGroot, among active agents.

        The influence matrix holds only the ties in use this month (both ends active): the
        other ties would be explicit zeros, which the kernels drop anyway.  With the DeGroot
        rule beliefs and objectives share one sparse product
        (:func:`simulation.exchange._degroot_steps`, bitwise equal to two ``degroot_step``
        calls)."""
        e = self.spec.exchange
        t = self.ties
        act = self.active
        informal = self.spec.knowledge_routes.informal_ties
        if t.m and (e.rule == "degroot" or not informal) and t.weight.min() > 0:
            kern = _kernels.kernels(self.kernel_work)
            if kern is not None:  # the compiled DeGroot month: the same bits
                self._exchange_compiled(kern, informal)
                return
        self.used = used = act[t.src] & act[t.dst]
        d = t.weight * used  # influence_weights(t.src, t.dst, t.weight, act)
        trust = None
        if e.source_relevance != 1.0:  # scoped knowledge: discounted ties, full trust kept
            n = self.n_agents
            trust = np.bincount(t.src, d, n) + np.bincount(t.dst, d, n)
            # a tie's relevance depends on its two ends only: kept with the tie set through
            # its monthly changes, computed for new ties only (Ties.per_tie; the same values)
            d = d * t.per_tie(("source_relevance", e.source_relevance, id(self.serving_bits)),
                              partial(tie_relevance, bits=self.serving_bits,
                                      relevance=e.source_relevance))
        if t.m and t.weight.min() > 0:
            # every used tie is an entry of W: W's rows are the ties each agent used, and
            # the board members' rows are who talked with the board
            W = t.csr(d, entries=used)
            self.exchanges = np.diff(W.indptr).astype(np.int64)
            rows = self.board_slots[self.exchanges[self.board_slots] > 0]
            self.last_contact[rows] = self.month
            self.last_contact[W.indices[row_positions(W.indptr, rows)]] = self.month
        else:  # zero-weight ties are used but carry no influence
            W = t.csr(d, entries=d != 0)
            self.exchanges = (np.bincount(t.src[used], minlength=self.n_agents)
                              + np.bincount(t.dst[used], minlength=self.n_agents))
            talk = used & (self.on_board[t.src] | self.on_board[t.dst])
            self.last_contact[t.src[talk]] = self.month
            self.last_contact[t.dst[talk]] = self.month
        rate = e.rate * self.engagement * act
        obj_rate = e.objective_rate * self.engagement * act
        if not self.spec.knowledge_routes.informal_ties:  # beliefs stay; priorities travel
            (obj,) = ex._degroot_steps(W, [self.objective], [obj_rate], trust)
        elif e.rule == "degroot":
            self.belief, obj = ex._degroot_steps(W, [self.belief, self.objective], [rate, obj_rate],
                                                 trust)
        else:
            pairs = None
            if e.rule == "deffuant" and t.m:
                n_pairs = round(e.pairs_per_agent * act.sum())
                pairs = ex._sample_disjoint_pairs(t.src[self.used], t.dst[self.used], n_pairs,
                                                 self.rng, weight=t.weight[self.used])
            self.belief = exchange_beliefs(
                self.belief, W, e.rule, rate=rate, anchor=self.private,
                stubbornness=e.stubbornness, threshold=e.threshold, mu=e.mu, pairs=pairs,
                active=act,
            )
            (obj,) = ex._degroot_steps(W, [self.objective], [obj_rate], trust)
        pull = self.spec.objectives.belief_pull * self.engagement[:, None] * act[:, None]
        self.objective = (1.0 - pull) * obj + pull * self.belief

    def _exchange_compiled(self, kern, informal: bool) -> None:
        """:meth:`exchange_knowledge` by the DeGroot rule (or objectives only, with the
        informal-ties route off) in one compiled pass (:func:`simulation._kernels.exchange_degroot`),
        for tie sets with every weight positive."""
        e = self.spec.exchange
        t = self.ties
        relevance = None
        if e.source_relevance != 1.0:
            relevance = t.per_tie(("source_relevance", e.source_relevance, id(self.serving_bits)),
                                  partial(tie_relevance, bits=self.serving_bits,
                                          relevance=e.source_relevance))
        indptr, indices, tie = t._structure()
        self.used, self.exchanges, belief, self.objective = kern.exchange_degroot(
            t.src, t.dst, t.weight, self.active, t.weight if relevance is None else relevance,
            relevance is not None, indptr, indices, tie, self.engagement, e.rate,
            e.objective_rate, self.spec.objectives.belief_pull, self.belief, self.objective,
            informal, self.board_slots, self.last_contact, self.month)
        self.belief = belief

    # ------------------------------------------------------------------ 4. meetings
    def hold_locality_meetings(self) -> None:
        """The attending front-line agents of each locality (its lead and any board GP among
        them) pool their beliefs and objectives and move toward the pooled view; the view is
        the locality's until its next meeting.  Without locality institutions there is no
        locality view (NaN)."""
        loc = self.spec.localities
        if not loc.enabled or self.month % loc.meeting_interval:
            return
        k = self.n_services
        attend = self.active
        if loc.attendance < 1.0:
            attend = attend & (self.rng.random(self.n_agents) < loc.attendance)
        attend = self.locality_attendance(attend)
        # attendees of a meeting with a board member present are in contact with the board
        area, in_area, board_in_area, area0 = self._locality_masks()
        present_board = np.zeros(self.pop.n_areas, bool)
        present_board[area[attend & board_in_area]] = True
        met_board = attend & in_area & present_board[area0]
        self.last_contact[met_board] = self.month
        if not self.spec.knowledge_routes.locality_meetings:  # priorities only, no view of need
            self.objective, pooled = meet(self.objective, self.area_members,
                                          self.engagement * attend, loc.pooling_weight,
                                          kernels=_kernels.kernels(self.kernel_work))
            met = np.isfinite(pooled).all(axis=1)
            self.locality_objective[met] = pooled[met]
            return
        # beliefs and objectives pooled in one pass (as their column stack, not stacked)
        (self.belief, self.objective), pooled = meet(
            (self.belief, self.objective), self.area_members, self.engagement * attend,
            loc.pooling_weight, kernels=_kernels.kernels(self.kernel_work))
        met = np.isfinite(pooled).all(axis=1)
        self.locality_view[met] = pooled[met, :k]
        self.locality_objective[met] = pooled[met, k:]

    def _locality_masks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The agents' areas, who is front-line in an area, who of them is on a board, and
        the areas clipped at 0 (an index): cached until areas or boards change."""
        area = self.pop.area
        cached = getattr(self, "_locality_cache", None)
        if (cached is None or cached[0] is not area or cached[1] is not self.front_line
                or cached[2] is not self.on_board):
            in_area = self.front_line & (area >= 0)
            cached = (area, self.front_line, self.on_board,
                      (area, in_area, in_area & self.on_board, np.maximum(area, 0)))
            self._locality_cache = cached
        return cached[3]

    def locality_attendance(self, attend: np.ndarray) -> np.ndarray:
        """Who attends this month's locality meetings, given who the model drew (a hook: the
        model's own rule returns ``attend`` unchanged; the classroom game overrides it with
        the students' choices)."""
        return attend

    def hold_board_meeting(self) -> None:
        """Attending board members pool their beliefs and priorities (engagement-weighted) and
        move toward the pooled view; the pool is what the board decides from.  A board nobody
        attends decides from what its present members know."""
        k = self.n_services
        self.last_contact[self.on_board & self.active] = self.month
        w = self.engagement * self.active
        pw = self.spec.decisions.pooling_weight
        kern = _kernels.kernels(self.kernel_work)
        if self.spec.knowledge_routes.board_gps:
            (self.belief, self.objective), pooled = meet(
                (self.belief, self.objective), self.board, w, pw, kernels=kern)
            view, obj = pooled[:, :k], pooled[:, k:]
        else:  # GP members' beliefs neither enter the pooled view of need nor move to it
            self.objective, obj = meet(self.objective, self.board, w, pw, kernels=kern)
            self.belief, view = meet(self.belief, self.board, w * ~self.board_gp, pw,
                                     kernels=kern)
        self._refresh_board_view()
        self.meeting_view = np.where(np.isfinite(view).all(axis=1)[:, None], view, self.board_view)
        self.meeting_objective = np.where(np.isfinite(obj).all(axis=1)[:, None], obj,
                                          self.board_objective)

    def hold_joint_forum(self) -> None:
        """Coherence building: the board meets providers and local authorities on objectives."""
        lever = self.levers["coherence_building"]
        if lever["enabled"]:
            self.objective, new_ties = leadership.joint_forum(self, lever["intensity"])
            if self.spec.network.informal:
                self.ties = self.ties.add(*new_ties, self.spec.ties.new_tie_weight)
                self.used = np.zeros(self.ties.m, bool)

    # ------------------------------------------------------------------ 5-6. decisions, engagement
    def decide(self) -> None:
        """Boards move their allocation incrementally toward what their meeting's view and
        priorities call for; localities do the same with their devolved share
        (:func:`simulation.decisions.decide`).  The floor and ceiling budgets take the same
        decision fed the national profile and true need instead of the deciders' views.

        The three decisions run as one (:meth:`_decide_stacked`: their rows stacked, every
        operation row by row), bit for bit three separate calls of
        :func:`~simulation.decisions.decide` (tested)."""
        s = self.spec
        p = self.pop
        loc = s.localities.enabled
        share = self.locality_share if loc else 0.0
        kw = {"objective_weight": s.decisions.objective_weight, "max_shift": s.decisions.max_shift,
              "share": share, "area_group": p.area_group, "area_population": self.area_population}
        local_obj = self.locality_objective if loc else None
        self.previous_alloc = self.group_alloc.copy()
        self._seen_before = self.allocation_seen()  # what each agent saw before this decision
        obj = self.meeting_objective
        body, body_floor, body_ceiling = places.decision_inputs(self)  # {} without bodies
        views = (self.meeting_view, self._national_rows(self.meeting_view.shape[0]),
                 self.group_need)
        local_views = (self.locality_view, self._national_rows(self.locality_view.shape[0]),
                       self.area_need) if loc else None
        self.budget, self.floor_budget, self.ceiling_budget = self._decide_stacked(
            (self.budget, self.floor_budget, self.ceiling_budget), views, obj, local_views,
            local_obj, kw, (body, body_floor, body_ceiling))
        self.decisions_made += 1

    def _decide_stacked(self, budgets: tuple[Budget, ...], views: tuple[np.ndarray, ...],
                        obj: np.ndarray, local_views: tuple[np.ndarray, ...] | None,
                        local_obj: np.ndarray | None, kw: dict,
                        bodies: tuple[dict, ...]) -> list[Budget]:
        """:func:`simulation.decisions.decide` for several budgets with the same priorities,
        as one call on their rows stacked (groups, areas and bodies of budget *i* offset by
        *i* times their number).  Every operation of the decision is row by row (row sums,
        the areas' group and body rows gathered by index, per-group sums over the areas in
        area order), so each budget's rows are those of its own call, bit for bit; the
        budgets returned are row blocks (views) of the stacked result."""
        n = len(budgets)
        cat = np.concatenate
        area_group, area_population, group_body = self._stacked_structure(n, kw["area_group"],
                                                                          kw["area_population"])
        g, a = budgets[0].board.shape[0], budgets[0].local.shape[0]
        has_body = bool(bodies[0])
        upper = {}
        if has_body:
            upper = {"body_view": cat([b["body_view"] for b in bodies]),
                     "body_objective": cat([b["body_objective"] for b in bodies]),
                     "body_share": bodies[0]["body_share"], "group_body": group_body}
        body = cat([b.body for b in budgets]) if budgets[0].body is not None else None
        # decide reads the allocations (board, local, body) only, not what they spend
        stacked = Budget(cat([b.board for b in budgets]), cat([b.local for b in budgets]),
                         None, None, body)  # type: ignore[arg-type]
        r = decide(stacked, cat(views), cat([obj] * n),
                   None if local_views is None else cat(local_views),
                   None if local_obj is None else cat([local_obj] * n),
                   objective_weight=kw["objective_weight"], max_shift=kw["max_shift"],
                   share=kw["share"], area_group=area_group, area_population=area_population,
                   **upper)
        c = 0 if r.body is None else r.body.shape[0] // n
        return [Budget(r.board[i * g:(i + 1) * g], r.local[i * a:(i + 1) * a],
                       r.area[i * a:(i + 1) * a], r.group[i * g:(i + 1) * g],
                       None if r.body is None else r.body[i * c:(i + 1) * c])
                for i in range(n)]

    def _stacked_structure(self, n: int, area_group: np.ndarray, area_population: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``area_group``, ``area_population`` and the groups' upper bodies repeated ``n``
        times, the groups and bodies of copy *i* offset by *i* times their number (cached
        until the areas or the structure change)."""
        gb = self.pop.group_body
        key = (n, area_group, area_population, gb, self.n_groups)
        cached = getattr(self, "_stacked_cache", None)
        if cached is not None and all(x is y for x, y in zip(cached[0], key, strict=True)):
            return cached[1]
        n_bodies = self.pop.n_bodies if gb is not None else 0
        stacked_gb = None if gb is None else np.concatenate(
            [np.where(gb >= 0, gb + i * n_bodies, -1) for i in range(n)])
        value = (np.concatenate([area_group.astype(np.int64) + i * self.n_groups
                                 for i in range(n)]),
                 np.tile(area_population, n), stacked_gb)
        self._stacked_cache = (key, value)
        return value

    def _national_rows(self, n: int) -> np.ndarray:
        """The national need profile as ``n`` rows (a read-only broadcast view, cached)."""
        cache = getattr(self, "_national_cache", None)
        if cache is None or cache[0] is not self.national_need:
            cache = self._national_cache = (self.national_need, {})
        rows = cache[1].get(n)
        if rows is None:
            rows = cache[1][n] = np.broadcast_to(self.national_need, (n, self.national_need.size))
        return rows

    def allocation_seen(self) -> np.ndarray:
        """The allocation each agent judges: its area's, else its group's, else (provider/LA
        staff) the mean over the groups its organisation serves.  Cached until the next
        decision (read-only)."""
        cached = getattr(self, "_seen_cache", None)
        if cached is not None and cached[0] is self.budget:
            return cached[1]
        seen = self._allocation_seen()
        seen.flags.writeable = False
        self._seen_cache = (self.budget, seen)
        return seen

    def _allocation_seen(self) -> np.ndarray:
        """One gather from the stacked area, group and per-organisation allocations
        (:meth:`_seen_index`), the same values as :meth:`_allocation_seen_parts`."""
        index = self._seen_index()
        if index is None:  # somebody judges nothing: the reference, piece by piece
            return self._allocation_seen_parts()
        idx, orgs = index
        tables = [self.area_alloc, self.group_alloc]
        for sv, div, has in orgs:
            # the mean over the groups each organisation serves (sparse, as the reference)
            tables.append(np.where(has, csr_product(sv.indptr, sv.indices, sv.data,
                                                    self.group_alloc, sv.shape[0]) / div,
                                   1.0 / self.n_services))
        return np.concatenate(tables).take(idx, axis=0)

    def _seen_index(self) -> tuple[np.ndarray, list] | None:
        """Row of each agent in the stack [area allocations; group allocations; provider
        views; council views] of :meth:`_allocation_seen` (later pieces override earlier ones,
        as in :meth:`_allocation_seen_parts`), and per organisation kind with staff its
        serving matrix (CSR), the divisor and whether it serves any group; None when some
        agent is in no piece.  Cached until areas, groups or who serves whom change (a
        reorganise event, a provider exit)."""
        p = self.pop
        key = (p.area, p.group, p.kind, p.org, p.n_areas, self.n_groups,
               p.provider_serves.tobytes(), p.la_serves.tobytes())
        cached = getattr(self, "_seen_index_cache", None)
        if cached is not None and len(cached[0]) == len(key) and all(
                a is b or (isinstance(a, (bytes, int)) and a == b)
                for a, b in zip(cached[0], key, strict=True)):
            return cached[1]
        idx = np.full(p.n, -1, np.int64)
        has_area = p.area >= 0
        idx[has_area] = p.area[has_area]
        grp = ~has_area & (p.group >= 0)
        idx[grp] = p.n_areas + p.group[grp]
        offset = p.n_areas + self.n_groups
        orgs = []
        for kind, serves in ((PROVIDER, p.provider_serves), (LOCAL_AUTHORITY, p.la_serves)):
            staff = p.kind == kind
            if staff.any():
                sv = sp.csr_array(serves.astype(float))
                tot = sv.sum(axis=1)[:, None]
                orgs.append((sv, np.where(tot > 0, tot, 1.0), tot > 0))
                idx[staff] = offset + p.org[staff]
                offset += serves.shape[0]
        result = None if (idx < 0).any() else (idx, orgs)
        self._seen_index_cache = (key, result)
        return result

    def _allocation_seen_parts(self) -> np.ndarray:
        """Reference of :meth:`_allocation_seen`, piece by piece (agents in no piece keep
        uninitialised rows)."""
        p = self.pop
        seen = np.empty_like(self.belief)
        has_area = p.area >= 0
        seen[has_area] = self.area_alloc[p.area[has_area]]
        grp = ~has_area & (p.group >= 0)
        seen[grp] = self.group_alloc[p.group[grp]]
        for kind, serves in ((PROVIDER, p.provider_serves), (LOCAL_AUTHORITY, p.la_serves)):
            staff = p.kind == kind
            if staff.any():
                # per organisation, as a sparse product: a dense one would go to a
                # multi-threaded BLAS whose spinning threads cost more than the product
                sv = sp.csr_array(serves.astype(float))
                tot = sv.sum(axis=1)[:, None]
                mean_alloc = (sv @ self.group_alloc) / np.where(tot > 0, tot, 1.0)
                view = np.where(tot > 0, mean_alloc, 1.0 / self.n_services)
                seen[staff] = view[p.org[staff]]
        return seen

    def feed_back_engagement(self) -> None:
        """Engagement follows whether decisions reflect the agent's priorities."""
        d = self.spec.engagement_dynamics
        kern = _kernels.kernels(self.kernel_work)
        if kern is not None and 1 <= self.objective.shape[1] <= 128:  # one pass, the same bits
            self.reflect, self.moved_toward, self.engagement = kern.reflect_feedback(
                self.allocation_seen(), self._seen_before, self.objective, self.engagement,
                self.present, d.learning_rate, d.expectation)
            return
        self.reflect = reflection(self.allocation_seen(), self.objective)
        # did the decision move what the agent sees toward its priorities? (survey_acted_on)
        self.moved_toward = self.reflect > reflection(self._seen_before, self.objective)
        self.engagement = update_engagement(self.engagement, self.reflect, d.learning_rate,
                                            d.expectation, self.present)

    def regress_engagement(self) -> None:
        """Engagement regresses toward its type's (or group's) mean each month."""
        self.engagement = regress(self.engagement, self.engagement_base,
                                  self.spec.engagement_dynamics.regression, self.present)

    # ------------------------------------------------------------------ innovation
    def spread_pathway(self) -> None:
        """Bass-style spread of a new clinical pathway from the boards (if enabled)."""
        inn = self.spec.innovation
        if not inn.enabled or self.month < inn.start:
            return
        if self.month == inn.start:
            self.adopted |= self.on_board & self.present
        t = self.ties
        W = t.csr(influence_weights(t.src, t.dst, t.weight, self.present))
        self.adopted = ex._bass_adoption_step(self.adopted, W, inn.p, inn.q, self.rng) & self.present

    # ------------------------------------------------------------------ 6. turnover
    def turn_over(self) -> None:
        """Agents leave with an engagement-dependent hazard and newcomers take their slots."""
        t = self.spec.turnover
        lever = self.levers["stability_management"]
        retention = 0.5 * lever["intensity"] if lever["enabled"] else 0.0
        kern = _kernels.kernels(self.kernel_work)
        if kern is not None:  # the same hazards and comparisons, in one pass
            leavers = kern.leavers(self.rng.random(self.n_agents), self.engagement,
                                   monthly_rate(t.annual_rate), float(self.turnover_sensitivity),
                                   float(retention), self.present)
        else:
            h = leave_hazard(self.engagement, t.annual_rate, self.turnover_sensitivity, retention)
            leavers = np.flatnonzero((self.rng.random(self.n_agents) < h) & self.present)
        self.left_this_step = np.zeros(self.n_agents, bool)
        self.replace(leavers)

    def replace(self, slots: np.ndarray, drop_ties: bool = False) -> None:
        """Replace the agents in ``slots`` by newcomers: beliefs at the national need profile
        (no local knowledge yet), weakly tied (untied with ``drop_ties``), engagement drawn
        around a mix of the type's mean and the local climate."""
        slots = np.asarray(slots, np.int64)
        if slots.size == 0:
            return
        # newcomers take the seats: fresh ids from Mesa's counter, in slot order (see agents.py)
        self.occupant_id[slots] = self.agent_id_counter + np.arange(slots.size)
        self.agent_id_counter += int(slots.size)
        self.joined[slots] = self.steps
        self.left_this_step[slots] = True
        self.belief[slots] = self.national_need  # the national picture, nothing local yet
        self.private[slots] = self.national_need
        self.objective[slots] = self._draw_objectives(slots)
        self.engagement[slots] = self._newcomer_engagement(slots)
        self.adopted[slots] = False
        self.last_contact[slots] = NEVER
        if drop_ties:
            leaving = np.zeros(self.n_agents, bool)
            leaving[slots] = True
            hit = leaving[self.ties.src] | leaving[self.ties.dst]
            self.ties = self.ties.keep(~hit)
            self.used = self.used[~hit] if self.used.size == hit.size else np.zeros(self.ties.m, bool)
        else:  # the leavers' ties, from their rows of the tie structure (not a pass over all)
            cap = self.spec.turnover.newcomer_tie_weight
            kern = _kernels.kernels(self.kernel_work)
            if kern is not None:  # the same, in place, without laying out the tie indices
                indptr, _, tie = self.ties._structure()
                kern.cap_incident(indptr, tie, slots, self.ties.weight, float(cap))
            else:
                hit = self.ties.incident(slots)
                w = self.ties.weight
                w[hit] = np.minimum(w[hit], cap)

    # ------------------------------------------------------------------ 7. ties
    def update_ties(self) -> None:
        """Used ties strengthen, unused decay and dissolve, triads close, leaders broker."""
        s = self.spec.ties
        lever = self.levers["stability_management"]
        maintenance = 0.5 * lever["intensity"] if lever["enabled"] else 0.0
        t = self.ties
        used = self.used if self.used.size == t.m else np.zeros(t.m, bool)
        kern = _kernels.kernels(self.kernel_work)
        if kern is not None:
            t.weight, lasting = kern.tie_weights(t.weight, used, s.reinforce, s.decay, maintenance,
                                                 s.dissolve_below)
        else:
            t.weight = update_weights(t.weight, used, s.reinforce, s.decay, maintenance)
            lasting = t.weight >= s.dissolve_below
        before = t
        t = None  # the ties that last, with the new ones (below)
        if self.spec.network.informal:
            starters = np.flatnonzero((self.rng.random(self.n_agents) < s.triadic_closure)
                                      & self.active)
            u = self.rng.random((2, starters.size))
            if kern is not None:  # close_triads on before.pattern(lasting), compiled
                a, b, degree = kern.kept_triads(*before._structure(), before.src, before.dst,
                                                lasting, starters, u[0], u[1])
            else:
                nbrs = before.pattern(lasting)  # = t.pattern(), from the structure built already
                a, b = close_triads(nbrs, starters, u[0], u[1])
                degree = np.diff(nbrs.indptr)
            if self.spec.relationships.mode == "transactional":
                same = self.sector[a] == self.sector[b]
                a, b = a[same], b[same]
            brokering = self.levers["knowledge_brokering"]
            if brokering["enabled"]:
                ba, bb = leadership.broker_ties(self, brokering["intensity"])
                a, b = np.concatenate([a, ba]), np.concatenate([b, bb])
            u_accept = self.rng.random(a.size)
            if kern is not None:
                ok = kern.accept_capacity(a, b, degree, s.capacity, u_accept)
            else:
                ok = accept_by_capacity(a, b, degree, s.capacity, u_accept)
            if kern is not None:  # keep and add in one pass, the tie structure carried over
                t = before.keep_add(lasting, a[ok], b[ok], s.new_tie_weight, kern)
            elif ok.any():
                t = before.keep(lasting).add(a[ok], b[ok], s.new_tie_weight)
        if t is None:
            t = before.keep(lasting)
        self.ties = t
        self.used = np.zeros(t.m, bool)
        self.key_history.append(self._key_record())
        self.id_history.append(self._id_record())

    def _id_record(self) -> np.ndarray:
        """The slots' occupant ids as kept in ``id_history`` for retention: ``int32`` while
        every id issued so far fits (half the memory of the window's snapshots), else a copy
        as ``int64``; the same values (compared with ``occupant_id`` as numbers)."""
        if self.agent_id_counter < 2**31:
            return self.occupant_id.astype(np.int32)
        return self.occupant_id.copy()

    def _key_record(self) -> np.ndarray:
        """The tie set's keys (:meth:`simulation.network.Ties.keys`) as kept in
        ``key_history`` for tie persistence: as ``uint32`` while every key ``src * n + dst``
        fits (n ≤ 65,536 agents: half the memory of the window's 13 snapshots, 17 MB at
        England), else ``int64``; the same values (readers convert back)."""
        keys = self.ties.keys()
        return keys.astype(np.uint32) if self.n_agents <= 1 << 16 else keys

    # ------------------------------------------------------------------ shocks
    def track_shocks(self) -> None:
        """Record when each group's board view first moves half-way to a shocked need level,
        and the share of the shock's extra need funded 6 and 12 months after it."""
        if not self.shocks:
            return
        last = self.shocks[-1]
        svc = last["service"]
        since = self.month - last["step"]
        for g in last["groups"]:
            if not np.isnan(self.detection[g]):
                continue
            base, target = last["baseline"][g], last["target"][g]
            if self.board_view[g, svc] >= base + 0.5 * (target - base) and target > base:
                self.detection[g] = since
        if since in self.funded:
            g = last["groups"]
            self.funded[since][g] = shock_funded(self.group_alloc[g, svc], last["alloc"][g],
                                                 last["before"][g], last["target"][g])


#: Attributes caching what is constant between structure changes (rebuilt on first use when
#: what they derive from changes; left out of burn-in snapshots).
_STRUCTURE_CACHES = ("_seen_index_cache", "_locality_cache", "_climate_cache", "_national_cache",
                     "_supply_cache", "_stacked_cache", "_truth_cache", "_observer_cache",
                     "_distinct_cache")


def _normalised(values: list[float] | None, k: int) -> np.ndarray:
    if values is None:
        return np.full(k, 1.0 / k)
    v = np.asarray(values, float)
    return v / v.sum()



def _product(m: sp.csr_array, x: np.ndarray) -> np.ndarray:
    """``m @ x`` for a CSR matrix, bit for bit (scipy's loop without its dispatch)."""
    if m.format != "csr" or m.indptr.dtype != m.indices.dtype:
        return m @ x
    return csr_product(m.indptr, m.indices, m.data, x, m.shape[0])
