"""The memory guard's estimate: peak bytes of one run, from the scenario alone (before anything
is allocated).

A run's peak resident memory is modelled as

.. math::

    M = M_0 + a N + b T + [N \\le 20\\,000]\\,(g T)

with :math:`N` agents, :math:`T` ties (an upper estimate of the initial network plus the ties
tie dynamics can add), :math:`M_0` the interpreter and libraries, :math:`a` the bytes per agent
(Mesa agent objects, belief and objective arrays of shape (N, K), population tables),
:math:`b` the bytes per tie (edge lists, keys, CSR copies of the exchange kernels) and
:math:`g` the bytes per tie of the networkx graph built to export ``network.graphml``
(``commnet run`` does so for networks of at most 20,000 agents).  The coefficients are upper
envelopes of the peaks measured by ``benchmarks/memory_guard.py`` (``/usr/bin/time -v``,
``commnet run --steps 2``) with a margin of 25 %; the table is in docs/experiments.md.

What a new run may use (:func:`available_memory`) is the smallest of the machine's free
memory (``MemAvailable``), the room left under the process's address-space limit
(``RLIMIT_AS``, ``ulimit -v``, less the address space already mapped) and the room left under
its cgroup's memory limit (v2 ``memory.max`` less ``memory.current``; v1
``memory.limit_in_bytes`` less ``memory.usage_in_bytes``), as a container or a batch
scheduler sets it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .scenario import Scenario

__all__ = ["CPU_PER_AGENT_STEP", "CPU_PER_STEP", "GRAPHML_AGENTS", "available_memory",
           "count_agents", "cpu_count", "estimate_cpu_seconds", "estimate_memory",
           "estimate_ties", "group_counts", "memory_limits"]

#: ``commnet run`` exports network.graphml for networks of at most this many agents.
GRAPHML_AGENTS = 20_000

BASE = 300 * 2**20  # interpreter, numpy/scipy/pandas/networkx/matplotlib/mesa imported
PER_AGENT = 4_000
PER_TIE = 700
PER_TIE_GRAPHML = 1_500
MARGIN = 1.25

def _counts(scenario: Scenario) -> tuple[int, int, int]:
    """Estimated (agents, GPs, commissioning managers), before any allocation."""
    total = gps_total = managers = 0
    for g in scenario.groups:
        practices = max(1, round(g.practices.count * (1 if g.practices.explicit else scenario.scale)))
        gps = max(practices, round(practices * g.practices.gps_per_practice))
        total += gps + practices * (1 + scenario.patients_per_practice)
        total += g.commissioning_managers + scenario.board.lay_members
        gps_total += gps
        managers += g.commissioning_managers
    total += sum(p.staff for p in scenario.providers)
    total += sum(a.staff for a in scenario.local_authorities)
    return total, gps_total, managers


def count_agents(scenario: Scenario) -> int:
    """Estimated number of agents (used for the memory guard): read from the validated
    scenario, before anything is allocated."""
    return _counts(scenario)[0]



def group_counts(scenario: Scenario) -> list[dict[str, float]]:
    """Per group: practices, GPs, patients, managers, board size and mean of the squared GPs
    per practice (pairwise practice ties), as the population will draw them."""
    out = []
    board = scenario.board.size
    for g in scenario.groups:
        rules = g.practices
        if rules.explicit:
            gps = [p.gps if p.gps is not None else max(1.0, rules.gps_per_practice)
                   for p in rules.explicit]
            practices = len(gps)
            n_gps = float(sum(gps))
            sq = float(sum(x * x for x in gps)) * 1.2  # defaults scale with list size
        else:
            practices = max(1, round(rules.count * scenario.scale))
            n_gps = float(max(practices, round(practices * rules.gps_per_practice)))
            mean = n_gps / practices
            # list sizes are log-normal with coefficient of variation cv, and GPs scale with
            # them: E[g^2] = mean^2 (1 + cv^2); the floor at one GP adds a little
            sq = practices * (mean * mean * (1 + rules.list_size_cv ** 2) + 1)
        managers = g.commissioning_managers + scenario.board.officers + scenario.board.nurses
        out.append({"practices": practices, "gps": n_gps, "sq": sq,
                    "patients": practices * scenario.patients_per_practice,
                    "managers": managers, "board": board, "lay": scenario.board.lay_members})
    return out


def estimate_ties(scenario: Scenario, agents: int) -> int:
    """An upper estimate of the number of ties during a run (see :mod:`simulation.network`).

    Initial ties: colleagues pairwise within each practice (GPs and the practice manager),
    patient representatives to two colleagues, Poisson GP and manager ties at their means,
    managers and the board pairwise, locality leads to a GP and the manager of each practice,
    lay members to two representatives, staff of each organisation pairwise and, in networked
    mode, three ties per staff member and group served plus joint-forum ties.  Tie dynamics
    add at most ``triadic_closure`` ties per agent and month, and no agent keeps more than
    ``ties.capacity`` (so at most ``N · capacity / 2`` grown ties).
    """
    if not scenario.network.informal:
        return 0
    net = scenario.network
    total = 0.0
    for c in group_counts(scenario):
        # (g + 1) g / 2 pairs per practice of g GPs and one manager
        total += (c["sq"] + c["gps"]) / 2 + c["gps"]
        total += 2 * c["patients"]
        total += c["gps"] * (net.gp_ties_in_locality + net.gp_ties_across_localities)
        front = c["gps"] + c["practices"]
        total += c["managers"] ** 2 / 2 + c["managers"] * min(net.manager_ties, front)
        total += c["board"] ** 2 / 2 + 2 * c["practices"] + 2 * c["lay"]
    networked = scenario.relationships.mode != "transactional"
    serving: dict[str, int] = {}
    for org in [*scenario.providers, *scenario.local_authorities]:
        total += org.staff ** 2 / 2
        total += (3 * org.staff * len(org.serves) if networked else len(org.serves))
        for name in org.serves:
            serving[name] = serving.get(name, 0) + 1
    if networked:  # joint forums: the organisations serving a group pairwise
        total += sum(k * k / 2 for k in serving.values())
    months = scenario.steps + scenario.burn_in
    growth = agents * min(scenario.ties.capacity / 2, scenario.ties.triadic_closure * months)
    return int(total + growth)


def estimate_memory(scenario: Scenario) -> int:
    """Estimated peak bytes of one run of ``scenario`` (module docstring), before anything is
    allocated."""
    n = count_agents(scenario)
    t = estimate_ties(scenario, n)
    k_extra = max(0, scenario.n_services - 6) * 12 * 8  # (N, K) float64 arrays beyond K = 6
    need = PER_AGENT * n + k_extra * n + PER_TIE * t
    if n <= GRAPHML_AGENTS:
        need += PER_TIE_GRAPHML * t
    return int(BASE + MARGIN * need)


#: Where the cgroup file system is mounted (a parameter for the tests).
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read_int(path: Path) -> int | None:
    """An integer file (``max`` or an unreadable file: None)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _meminfo() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _address_space() -> int | None:
    """Room left under ``RLIMIT_AS`` (the soft limit less the address space mapped now)."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    mapped = 0
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    mapped = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    return max(0, soft - mapped)


def _cgroup_dirs() -> list[Path]:
    """The process's cgroup folders (v2 unified, v1 memory controller), then the roots."""
    dirs = []
    try:
        for line in Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines():
            _, controllers, rel = line.split(":", 2)
            rel = rel.lstrip("/")
            if controllers == "":
                dirs.append(CGROUP_ROOT / rel)
            elif "memory" in controllers.split(","):
                dirs.append(CGROUP_ROOT / "memory" / rel)
    except (OSError, ValueError):
        pass
    return [*dirs, CGROUP_ROOT, CGROUP_ROOT / "memory"]


def _cgroup() -> int | None:
    """Room left under the cgroup memory limit (the tightest of the folders found)."""
    best = None
    for d in _cgroup_dirs():
        for limit_file, usage_file in (("memory.max", "memory.current"),
                                       ("memory.limit_in_bytes", "memory.usage_in_bytes")):
            limit = _read_int(d / limit_file)
            if limit is None or limit >= 2**60:  # "max", or v1's "no limit" (2^63 rounded)
                continue
            room = max(0, limit - (_read_int(d / usage_file) or 0))
            best = room if best is None else min(best, room)
    return best


def memory_limits() -> dict[str, int]:
    """Bytes a new run may use by each limit found: ``free memory``, ``address-space limit``
    (``RLIMIT_AS``) and ``cgroup memory limit`` (absent keys: no such limit or unknown)."""
    found = {"free memory": _meminfo(), "address-space limit": _address_space(),
             "cgroup memory limit": _cgroup()}
    return {k: v for k, v in found.items() if v is not None}


def available_memory() -> int | None:
    """Bytes of memory available to a new run: the smallest of :func:`memory_limits` (None if
    none is known)."""
    limits = memory_limits()
    return min(limits.values()) if limits else None


def limiting_factor() -> str:
    """Which limit :func:`available_memory` comes from, for messages."""
    limits = memory_limits()
    return min(limits, key=limits.get) if limits else "unknown"


def cpu_count() -> int:
    """Cores this process may run on (``os.sched_getaffinity``; ``os.cpu_count`` elsewhere)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


#: CPU seconds of one month of a run: a fixed part (metrics, decisions, Mesa's scheduler) and
#: a part per agent.  Measured (``time.process_time`` around ``CommissioningModel.step``, one
#: thread, the shared 2-core development machine, 2026-12-06): east_of_england_2013 (1,551
#: agents) 12.8-13.9 ms per month, england_2013 (58,906 agents) 94 ms per month, teaching (85
#: agents) 8.4 ms: 8 ms + 1.45 µs per agent, rounded up here.
CPU_PER_STEP = 0.010
CPU_PER_AGENT_STEP = 1.6e-6


def estimate_cpu_seconds(scenario: Scenario, replicates: int = 1) -> float:
    """Estimated CPU seconds of ``replicates`` runs of ``scenario`` (burn-in months included),
    from the agent count and the constants above (an estimate: tie dynamics, innovation and
    survey matching add to it)."""
    months = scenario.steps + scenario.burn_in
    return replicates * months * (CPU_PER_STEP + CPU_PER_AGENT_STEP * count_agents(scenario))
