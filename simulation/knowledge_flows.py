"""Knowledge flows: how what people see of need travels, through people, to decisions.

The routes, all of them through people (there is no shortcut from front-line beliefs into a
board's view):

1. **Observation** (:func:`observe`): practice-based agents (GPs, practice managers, patient
   representatives) see the current need of their practice with noise; agents without a
   practice (commissioning managers and officers, the nurse, lay members, provider and
   local-authority staff) see *activity data* of their scope, lagged by
   ``observation.data_lag`` months and mixing need with what was commissioned
   (:func:`activity_view`: activity records the services supplied, not only need).
2. **Informal ties** (:func:`exchange_beliefs`): active agents exchange with tied active
   agents, influence proportional to the tie's trust (its weight) times its *source
   relevance* (:func:`tie_relevance`: 1 when the two ends serve a common commissioning group,
   ``exchange.source_relevance`` otherwise, so that what is said about a population the hearer
   does not serve counts for less), the same within and across sectors; the relationship mode
   changes who is tied, not the weight.
3. **Locality meetings** (:func:`simulation.localities.meet`): the active front-line agents of
   a locality pool what they know and move toward it; the locality lead (and any board GP of
   the locality) carries it to the board.
4. **Board meetings**: the board's view is the engagement-weighted mean of its *attending*
   members' beliefs (:func:`simulation.localities.pool` on the board membership); nothing
   else enters it.

Nobody starts with local knowledge: every agent's belief starts at the national need profile
(and so does every newcomer's), so whatever a board knows of its population's need has come
by these routes.  Each route can be switched off (``knowledge_routes``) for ``commnet routes``.

Kernels are pure functions of arrays and pre-drawn random numbers, so that the vectorised
versions and their plain-loop references (suffix ``_loop``) can be compared exactly.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import exchange as ex
from ._numeric import row_sums

__all__ = [
    "activity_view",
    "exchange_beliefs",
    "influence_matrix",
    "influence_weights",
    "noisy_observation",
    "observation_noise",
    "observe",
    "observe_loop",
    "serving_bits",
    "serving_matrix",
    "take_up",
    "tie_relevance",
    "tie_relevance_loop",
]


def observation_noise(engagement: np.ndarray, base: float, type_factor: np.ndarray, k: float) -> np.ndarray:
    """Noise sd of each agent's observation.

    .. math:: \\sigma_i = \\sigma_0\\, f_{type(i)} / (1 + k\\, e_i)

    Noise falls with engagement *e* (contact with patients and data).
    """
    return base * type_factor / (1.0 + k * engagement)


def observe(
    belief: np.ndarray, truth: np.ndarray, sd: np.ndarray, rate: np.ndarray, eps: np.ndarray
) -> np.ndarray:
    """Move beliefs toward a noisy observation of the agent's scope.

    .. math::
        o_{ik} = \\frac{t_{ik} e^{\\sigma_i \\varepsilon_{ik}}}{\\sum_j t_{ij} e^{\\sigma_i
        \\varepsilon_{ij}}}, \\qquad b'_i = (1-a_i)\\, b_i + a_i\\, o_i

    with truth *t* (the need of the agent's scope), noise sd :math:`\\sigma_i`, standard normal
    draws :math:`\\varepsilon` and uptake :math:`a_i` (``rate``; zero for absent agents).
    Convex combinations of distributions stay distributions.
    """
    return take_up(belief, noisy_observation(truth, sd, eps), rate)


def noisy_observation(truth: np.ndarray, sd: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """The renormalised noisy observation :math:`o_i` of :func:`observe` (one temporary:
    the products are formed in place, with the same arithmetic)."""
    obs = np.multiply(sd[:, None], eps)
    np.exp(obs, out=obs)
    obs *= truth
    obs /= row_sums(obs)[:, None]  # = obs.sum(axis=1, keepdims=True), bit for bit
    return obs


def take_up(belief: np.ndarray, obs: np.ndarray, rate: np.ndarray,
            gain: np.ndarray | None = None) -> np.ndarray:
    """:math:`b' = (1 - a) b + a o` row by row (``rate`` = *a*).

    ``gain``, if given, is :math:`a o` computed already (so that several states taking up
    the same observation share it)."""
    a = rate[:, None]
    out = (1.0 - a) * belief
    out += a * obs if gain is None else gain
    return out


def observe_loop(
    belief: np.ndarray, truth: np.ndarray, sd: np.ndarray, rate: np.ndarray, eps: np.ndarray
) -> np.ndarray:
    """Plain-loop reference of :func:`observe` (one agent at a time)."""
    n, k = belief.shape
    out = np.empty_like(belief)
    for i in range(n):
        obs = [truth[i, j] * float(np.exp(sd[i] * eps[i, j])) for j in range(k)]
        total = sum(obs)
        for j in range(k):
            out[i, j] = (1.0 - rate[i]) * belief[i, j] + rate[i] * obs[j] / total
    return out


def activity_view(need: np.ndarray, supply: np.ndarray, supply_share: float) -> np.ndarray:
    """What activity data show: need mixed geometrically with what was commissioned.

    .. math:: v_k = n_k^{1-s} a_k^{s} \\Big/ \\sum_j n_j^{1-s} a_j^{s}

    with need *n*, allocation (supply) *a* and ``supply_share`` *s*: activity counts the
    services that were provided, so data lean toward the status quo (supply-induced demand;
    Wennberg 2010, *Tracking Medicine*).  *s* = 0 gives need itself.

    Examples
    --------
    >>> activity_view(np.array([[0.8, 0.2]]), np.array([[0.2, 0.8]]), 0.5).round(12).tolist()
    [[0.5, 0.5]]
    """
    if supply_share == 0:
        return need
    v = need ** (1.0 - supply_share) * np.maximum(supply, 1e-12) ** supply_share
    return v / v.sum(axis=1, keepdims=True)


def influence_weights(src: np.ndarray, dst: np.ndarray, weight: np.ndarray,
                      active: np.ndarray) -> np.ndarray:
    """Per-tie influence weight :math:`w_{ij} \\chi_i \\chi_j` (see :func:`influence_matrix`)."""
    return weight * (active[src] & active[dst])


def influence_matrix(
    n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, active: np.ndarray
) -> sp.csr_array:
    """Symmetric influence matrix among agents active this step.

    .. math:: W_{ij} = w_{ij}\\, \\chi_i \\chi_j

    with tie weight (trust) *w* and activity indicators :math:`\\chi`; the same across and
    within sectors.
    """
    d = influence_weights(src, dst, weight, active)
    rows = np.concatenate([src, dst])
    cols = np.concatenate([dst, src])
    return sp.csr_array((np.concatenate([d, d]), (rows, cols)), shape=(n, n))


def exchange_beliefs(
    x: np.ndarray,
    W: sp.csr_array,
    rule: str,
    *,
    rate: np.ndarray,
    anchor: np.ndarray,
    stubbornness: float,
    threshold: float,
    mu: float,
    pairs: tuple[np.ndarray, np.ndarray] | None,
    active: np.ndarray,
) -> np.ndarray:
    """Apply one exchange rule of :mod:`simulation.exchange` to the active agents.

    ``degroot``: :math:`x'_i = (1-r_i)x_i + r_i \\sum_j \\hat W_{ij} x_j`;
    ``friedkin_johnsen``: :math:`x'_i = s\\, a_i + (1-s) \\sum_j \\hat W_{ij} x_j` for active
    agents (inactive agents keep :math:`x_i`); ``hegselmann_krause``: bounded-confidence mean
    for active agents; ``deffuant``: the given disjoint pairs of active agents.
    """
    if rule == "degroot":
        return ex._degroot_step(x, W, rate=rate)
    if rule == "friedkin_johnsen":
        out = ex._friedkin_johnsen_step(x, W, anchor, np.full(x.shape[0], stubbornness))
    elif rule == "hegselmann_krause":
        out = ex._hegselmann_krause_step(x, W, threshold)
    elif rule == "deffuant":
        i, j = pairs if pairs is not None else (np.empty(0, int), np.empty(0, int))
        return ex._deffuant_step(x, i, j, threshold, mu)
    else:  # pragma: no cover - the schema only admits the four rules
        raise ValueError(f"unknown exchange rule {rule!r}")
    return np.where(active[:, None], out, x)


def serving_matrix(group: np.ndarray, org_serves: np.ndarray | None, org: np.ndarray,
                   n_groups: int) -> sp.csr_array:
    """Which commissioning groups each agent serves, as a 0/1 ``(N, G)`` matrix.

    An agent of a group serves that group; an agent of an organisation without a group
    (``group < 0``: provider or council staff) serves the groups its organisation serves
    (``org_serves[org]``, a boolean row per agent, or all-False without one).
    """
    n = group.size
    own = group >= 0
    rows = [np.flatnonzero(own)]
    cols = [group[own].astype(np.int64)]
    if org_serves is not None:
        others = np.flatnonzero(~own & (org >= 0))
        r, c = np.nonzero(org_serves[org[others]])
        rows.append(others[r])
        cols.append(c.astype(np.int64))
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_array((np.ones(r.size), (r, c)), shape=(n, n_groups))


def serving_bits(serving: sp.csr_array) -> np.ndarray:
    """:func:`serving_matrix` packed as bit sets: ``(N, ceil(G/64))`` uint64 words, bit *g*
    of agent *i* set when *i* serves group *g* (one AND per tie and word tests overlap)."""
    n, g = serving.shape
    words = max(1, -(-g // 64))
    bits = np.zeros((n, words), np.uint64)
    coo = sp.coo_array(serving)
    rows, cols = coo.row.astype(np.int64), coo.col.astype(np.int64)
    np.bitwise_or.at(bits, (rows, cols // 64), np.left_shift(np.uint64(1), (cols % 64).astype(np.uint64)))
    return bits


def tie_relevance(src: np.ndarray, dst: np.ndarray, bits: np.ndarray,
                  relevance: float) -> np.ndarray:
    r"""Source relevance of each tie: 1 where its ends serve a common group, else ``relevance``.

    .. math:: \rho_{ij} = 1 \text{ if } S_i \cap S_j \neq \emptyset, \;
        \rho \text{ otherwise}

    with :math:`S_i` the groups agent *i* serves (:func:`serving_matrix`, packed by
    :func:`serving_bits` as ``bits``).  A tie between two
    agents of the same group is relevant whatever the groups of others; so the exchange
    kernels weight tie *ij* by :math:`w_{ij}\rho_{ij}`, and an agent whose only tie runs to
    another group's agent moves toward that agent's belief at :math:`\rho` times the rate it
    would inside its own group.  Ties between two agents with a group compare the groups;
    ties with provider or council staff compare the sets of groups served.
    """
    if relevance == 1.0 or src.size == 0:
        return np.ones(src.size)
    if bits.shape[1] == 1:
        common = (bits[src, 0] & bits[dst, 0]) != 0
    else:
        common = ((bits[src] & bits[dst]) != 0).any(axis=1)
    return np.where(common, 1.0, relevance)


def tie_relevance_loop(src: np.ndarray, dst: np.ndarray, served: list[set[int]],
                       relevance: float) -> np.ndarray:
    """Plain-loop reference of :func:`tie_relevance` (``served[i]``: the groups agent *i*
    serves)."""
    return np.array([1.0 if served[int(a)] & served[int(b)] else relevance
                     for a, b in zip(src, dst, strict=True)])
