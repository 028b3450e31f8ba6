"""Tie dynamics: ties used strengthen, unused ones decay and dissolve, triads close.

For tie weight *w*, each month

.. math:: w' = \\begin{cases} w + \\gamma (1 - w) & \\text{if used} \\\\
                             w\\,(1 - \\delta (1 - \\mu)) & \\text{otherwise} \\end{cases}

(reinforcement :math:`\\gamma`, decay :math:`\\delta`, maintenance :math:`\\mu` from the
stability-management lever); ties with :math:`w' <` ``dissolve_below`` dissolve.  Triadic
closure (Granovetter 1973; Rapoport 1953): a sampled agent *i* picks a neighbour *j* and one
of *j*'s neighbours *k* uniformly, and the tie *i–k* forms with weight ``new_tie_weight``
with probability :math:`(1 - d_i/C)^+ (1 - d_k/C)^+` for degrees *d* and capacity *C*
(``ties.capacity``): people maintain a limited number of working relationships (Dunbar 1998;
Roberts et al. 2009), so tie formation slows as networks fill and density settles where
formation balances dissolution.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "accept_by_capacity",
    "close_triads",
    "rewire_pairs",
    "rewire_pairs_loop",
    "tie_blocks",
    "update_weights",
    "update_weights_loop",
]


def update_weights(
    w: np.ndarray, used: np.ndarray, reinforce: float, decay: float, maintenance: float = 0.0
) -> np.ndarray:
    """Reinforce used ties and decay the rest (formula in the module docstring)."""
    out = w * (1.0 - decay * (1.0 - maintenance))
    i = np.flatnonzero(used)  # the used ties only: no second full pass, no branchy select
    wi = w[i]
    out[i] = wi + reinforce * (1.0 - wi)
    return out


def update_weights_loop(
    w: np.ndarray, used: np.ndarray, reinforce: float, decay: float, maintenance: float = 0.0
) -> np.ndarray:
    """Plain-loop reference of :func:`update_weights`."""
    out = np.empty_like(w)
    for e in range(w.size):
        if used[e]:
            out[e] = w[e] + reinforce * (1.0 - w[e])
        else:
            out[e] = w[e] * (1.0 - decay * (1.0 - maintenance))
    return out


def close_triads(
    adjacency: sp.csr_array, starters: np.ndarray, u1: np.ndarray, u2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Proposed new ties ``(i, k)`` closing triads i–j–k, from uniform draws ``u1``, ``u2``.

    ``adjacency`` is a CSR matrix of the ties, or just its pattern (anything with its
    ``indptr`` and ``indices``, e.g. :meth:`simulation.network.Ties.pattern`).

    ``j`` is neighbour ``floor(u1 * deg(i))`` of *i* and ``k`` neighbour ``floor(u2 * deg(j))``
    of *j* in CSR order.  Starters without neighbours and proposals with ``k == i`` are dropped;
    proposals that duplicate existing ties are merged by the caller.
    """
    indptr, indices = adjacency.indptr, adjacency.indices
    deg = np.diff(indptr)
    i = starters[deg[starters] > 0]
    u1 = u1[deg[starters] > 0]
    u2 = u2[deg[starters] > 0]
    j = indices[indptr[i] + np.floor(u1 * deg[i]).astype(np.int64)]
    k = indices[indptr[j] + np.floor(u2 * deg[j]).astype(np.int64)]
    keep = k != i
    return i[keep].astype(np.int64), k[keep].astype(np.int64)


def accept_by_capacity(
    a: np.ndarray, b: np.ndarray, degree: np.ndarray, capacity: int, u: np.ndarray
) -> np.ndarray:
    """Mask of proposed ties ``(a, b)`` accepted: ``u < (1 - d_a/C)^+ (1 - d_b/C)^+``.

    Examples
    --------
    >>> accept_by_capacity(np.array([0, 1]), np.array([2, 2]), np.array([0, 4, 2]), 4,
    ...                    np.array([0.4, 0.0])).tolist()
    [True, False]
    """
    room = np.clip(1.0 - degree / float(capacity), 0.0, 1.0)
    return u < room[a] * room[b]


def rewire_pairs(
    src: np.ndarray, dst: np.ndarray, rng: np.random.Generator,
    group: np.ndarray | None = None, locality: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Degree-preserving rewiring by random stub matching (configuration model).

    Every tie contributes its two ends as stubs; the stubs are shuffled and paired.  Returns
    the new ``(a, b)`` and the index of the old tie whose weight each new tie carries.  The
    caller drops self-pairs and duplicates (a small share on sparse graphs), so degrees are
    preserved exactly except at those ties (Newman 2010, ch. 13).

    Without ``group`` (mode *none*): the stubs of all ties are matched across the whole model,
    tie *e* becoming the pair of stubs ``2e`` and ``2e + 1`` of the shuffled list.

    With ``group`` (per agent, -1 = no group; mode *group*): the stubs of the ties whose two
    ends are in the same group ``g >= 0`` are matched only among themselves, so every such tie
    is replaced by a tie inside ``g``; every other tie (two groups, or an end with no group:
    provider and local-authority staff) is kept as it is.  Each agent keeps its degree, its
    within-group degree and its cross-group ties.

    With ``locality`` too (per agent, -1 = none; mode *locality*): the stubs of ties whose two
    ends are in the same locality are matched within that locality; the remaining ties inside
    a group (across its localities, or with an end outside any locality) are matched among
    themselves within the group; cross-group ties are kept.  Each agent keeps its degree, its
    within-locality degree and its within-group degree.

    See :func:`rewire_pairs_loop` for the plain-loop reference of the blocked modes: both
    draw one uniform per stub and sort each block's stubs by it.
    """
    if group is None:
        stubs = np.concatenate([src, dst])
        perm = rng.permutation(stubs.size)
        shuffled = stubs[perm]
        a, b = shuffled[0::2], shuffled[1::2]
        return a, b, np.arange(src.size)
    block = tie_blocks(src, dst, group, locality)
    inb = np.flatnonzero(block >= 0)
    ties = inb[np.argsort(block[inb], kind="stable")]  # rewired ties, grouped by block
    stubs = np.concatenate([src[ties], dst[ties]])
    stub_block = np.concatenate([block[ties], block[ties]])
    u = rng.random(stubs.size)
    shuffled = stubs[np.lexsort((u, stub_block))]  # a uniform order inside each block
    fixed = np.flatnonzero(block < 0)
    a = np.concatenate([shuffled[0::2], src[fixed]])
    b = np.concatenate([shuffled[1::2], dst[fixed]])
    return a, b, np.concatenate([ties, fixed])


def tie_blocks(src: np.ndarray, dst: np.ndarray, group: np.ndarray,
               locality: np.ndarray | None = None) -> np.ndarray:
    """Block of each tie for :func:`rewire_pairs`: -1 = kept as it is (ends in different
    groups or an end without a group); ``group`` index for a tie inside a group; with
    ``locality``, ``n_groups + locality`` for a tie inside a locality (localities are numbered
    across the model)."""
    gs, gd = group[src], group[dst]
    block = np.where((gs == gd) & (gs >= 0), gs, -1).astype(np.int64)
    if locality is not None:
        ls, ld = locality[src], locality[dst]
        inside = (ls == ld) & (ls >= 0) & (block >= 0)
        n_groups = int(group.max()) + 1 if group.size else 0
        block[inside] = n_groups + ls[inside]
    return block


def rewire_pairs_loop(
    src: np.ndarray, dst: np.ndarray, u: np.ndarray, group: np.ndarray,
    locality: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain-loop reference of the blocked modes of :func:`rewire_pairs`, given the uniform
    draws ``u`` it makes (one per stub of a rewired tie: the source ends of the rewired ties
    in block order, then their destination ends)."""
    n_groups = max(int(g) for g in group) + 1 if len(group) else 0
    blocks: dict[int, list[int]] = {}
    fixed = []
    for e in range(len(src)):
        i, j = int(src[e]), int(dst[e])
        if group[i] == group[j] and group[i] >= 0:
            key = int(group[i])
            if locality is not None and locality[i] == locality[j] and locality[i] >= 0:
                key = n_groups + int(locality[i])
            blocks.setdefault(key, []).append(e)
        else:
            fixed.append(e)
    ties = [e for key in sorted(blocks) for e in blocks[key]]
    t = len(ties)
    a, b = [], []
    for key in sorted(blocks):
        stubs = []  # (draw, agent) of the block's stubs
        for k, e in enumerate(ties):
            if e in blocks[key]:
                stubs.append((u[k], int(src[e])))
                stubs.append((u[t + k], int(dst[e])))
        stubs.sort(key=lambda s: s[0])
        for p in range(0, len(stubs), 2):
            a.append(stubs[p][1])
            b.append(stubs[p + 1][1])
    for e in fixed:
        a.append(int(src[e]))
        b.append(int(dst[e]))
    return np.array(a, np.int64), np.array(b, np.int64), np.array(ties + fixed, np.int64)
