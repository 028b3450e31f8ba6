"""Compiled (numba) kernels for the model step's hottest phases, bit for bit equal to numpy.

Each kernel fuses what the numpy path of one phase does in many small array calls into one
pass (``observe_need``: :func:`observe_noise` and :func:`observe_take_up` around numpy's own
``exp``; ``exchange_knowledge``: :func:`exchange_degroot`; ``update_ties``:
:func:`tie_weights`, :func:`kept_triads`, :func:`new_tie_keys`, :func:`accept_capacity`, and
the month's kept and new ties in one pass (:meth:`simulation.network.Ties.keep_add`:
:func:`keep_merge_ties`, :func:`lay_out`, with next month's CSR structure carried over by
:func:`merge_structure`), or :meth:`simulation.network.Ties.add` through :func:`merge_ties`
and :func:`insert_sorted`; ``turn_over``: :func:`leavers`, :func:`newcomer_climate`,
:func:`newcomer_beta`, :func:`cap_incident`; ``feed_back_engagement``:
:func:`reflect_feedback`; the locality and board meetings:
:func:`meet_pool`; the betweenness metric's searches:
:func:`brandes_delta`).  They perform the same floating-point
operations in the same order as the numpy path, element by element: products and sums are
accumulated in the entry order of scipy's CSR loops and ``np.bincount``, row sums of ``K``
columns in numpy's pairwise order (:func:`simulation._numeric.row_sums`), and no operation
whose last bit may differ between numpy and LLVM (``exp``, ``log``, ``**``) runs inside a
kernel.  Random numbers are drawn by the caller, with numpy's Generator, in the same order and
shapes as on the numpy path; the kernels take the drawn arrays.  Compiled without
``fastmath`` (no reassociation, no fused multiply-add) and without ``parallel``.

Which path runs is chosen by the environment variable ``COMMNET_KERNELS``:

* ``numpy``: the numpy path (the reference; always available);
* ``numba``: these kernels (an error if numba cannot be imported);
* ``auto`` (default): these kernels when numba can be imported, otherwise numpy.

Both paths give the same results for the same seed (the test suite and the project's bitwise
check compare them).  numba is imported, and the kernels compiled or loaded from numba's
on-disk cache (``cache=True``: ``__pycache__`` next to this file, or numba's user cache
directory when the package is installed read-only, or ``NUMBA_CACHE_DIR``), at the first
call of :func:`kernels` that selects them, so ``import simulation`` and ``commnet --help``
never pay for it.  The kernels here are plain Python functions until then.
"""

from __future__ import annotations

import functools
import os
from types import SimpleNamespace

import numpy as np

__all__ = ["AUTO_MIN_WORK", "MODES", "kernels", "loaded", "mode"]

#: The accepted values of ``COMMNET_KERNELS``.
MODES = ("auto", "numba", "numpy")

_compiled: SimpleNamespace | None = None
_tried = False
_error: BaseException | None = None


def mode() -> str:
    """The kernel mode asked for by ``COMMNET_KERNELS`` (``auto`` when unset or empty)."""
    m = os.environ.get("COMMNET_KERNELS", "").strip().lower() or "auto"
    if m not in MODES:
        raise ValueError(f"COMMNET_KERNELS={m!r}: expected one of {', '.join(MODES)}")
    return m


#: ``auto`` loads numba for a caller only when the work it announces (agent-months: agents
#: × months still to run, burn-in included) is at least this.  Measured break-even (issue 24,
#: 6 Dec 2026): a new process pays ≈ 0.4–0.8 s to import numba and load the cached kernels,
#: and the kernels save ≈ 0.6 µs (East of England) to 0.8 µs (England × 0.1) per agent-month,
#: so they pay from ≈ 10⁶ agent-months (one East of England run is 1,551 × 180 ≈ 2.8·10⁵;
#: one England run 58,889 × 84 ≈ 4.9·10⁶).  Once loaded (by a larger caller, or by a worker
#: pool's preload) they are used for everything.  Either path gives the same bits.
AUTO_MIN_WORK = 1_000_000


def kernels(work: float | None = None) -> SimpleNamespace | None:
    """The compiled kernels, or ``None`` when the numpy path is to run (``COMMNET_KERNELS``).

    ``work`` is what the caller is about to run, in agent-months (``None``: unknown, treated
    as large).  With ``auto``, numba is imported only for work of at least
    :data:`AUTO_MIN_WORK`, or when the kernels are loaded already.  The first call that
    selects them imports numba and compiles (or loads from the cache) every kernel; later
    calls return the same namespace.
    """
    m = mode()
    if m == "numpy":
        return None
    if m == "auto" and not _tried and work is not None and work < AUTO_MIN_WORK:
        return None  # not worth numba's import for this caller alone
    k = _compiled if _tried else _compile()
    if k is None and m == "numba":
        raise ImportError(f"COMMNET_KERNELS=numba but numba cannot be used: {_error!r}")
    return k


def loaded() -> bool:
    """Whether the compiled kernels are loaded in this process."""
    return _compiled is not None


def _compile() -> SimpleNamespace | None:
    """Wrap every kernel of this module with ``numba.njit(cache=True)`` (once), after the
    helpers they call (:data:`_HELPERS`), which replace their plain versions here."""
    global _compiled, _tried, _error
    _tried = True
    try:
        import numba
    except Exception as exc:  # not installed, or an llvmlite that does not load
        _error = exc
        return None
    for name, fn in _HELPERS.items():  # the kernels call them by their module-level names
        globals()[name] = numba.njit(cache=True, inline="always")(fn)
    _compiled = SimpleNamespace(**{name: _interruptible(numba.njit(cache=True)(fn), fn)
                                   for name, fn in _KERNELS.items()})
    return _compiled


def _from_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is numba's report of a Ctrl-C: a ``SystemError`` ("returned a result
    with an exception set") whose chain holds the ``KeyboardInterrupt``."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _interruptible(dispatcher, fn):
    """The compiled kernel ``dispatcher`` (of the Python function ``fn``), raising a Ctrl-C
    that reaches numba's own Python code during a call — its cache loader, its compiler, the
    unpickling of a constant — as the ``KeyboardInterrupt`` it was: numba's C dispatcher
    turns it into a ``SystemError``, which the commands' Ctrl-C handling (keep what has
    finished, exit 130) and the experiment runner would not recognise."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return dispatcher(*args, **kwargs)
        except SystemError as exc:
            if _from_interrupt(exc):
                raise KeyboardInterrupt from exc
            raise

    call.dispatcher = dispatcher
    return call


# ---------------------------------------------------------------------------------------------
# helpers the kernels call (compiled first: _HELPERS)
# ---------------------------------------------------------------------------------------------


def _pairwise_sum(p):
    """``p.sum()`` of a short float64 row in numpy's own order (:func:`simulation._numeric.row_sums`,
    at most 128 elements): below 8 in order from ``0.0``; else eight running sums over the
    blocks of eight, combined ``((r0+r1)+(r2+r3)) + ((r4+r5)+(r6+r7))``, then the rest."""
    kk = p.size
    if kk < 8:
        s = p[0] + 0.0
        for j in range(1, kk):
            s += p[j]
        return s
    full = kk - kk % 8
    r0, r1, r2, r3 = p[0], p[1], p[2], p[3]
    r4, r5, r6, r7 = p[4], p[5], p[6], p[7]
    for q in range(8, full, 8):
        r0 += p[q]
        r1 += p[q + 1]
        r2 += p[q + 2]
        r3 += p[q + 3]
        r4 += p[q + 4]
        r5 += p[q + 5]
        r6 += p[q + 6]
        r7 += p[q + 7]
    s = (r0 + r1) + (r2 + r3)
    s += (r4 + r5) + (r6 + r7)
    for q in range(full, kk):
        s += p[q]
    return s


# ---------------------------------------------------------------------------------------------
# observe_need (simulation.knowledge_flows.noisy_observation and take_up)
# ---------------------------------------------------------------------------------------------


def observe_noise(base, type_factor, k, engagement, eps):
    """``sd_i * eps_ij`` with ``sd_i = base * type_factor_i / (1 + k * engagement_i)``
    (:func:`simulation.knowledge_flows.observation_noise`), the argument of the exponential
    of :func:`simulation.knowledge_flows.noisy_observation` (whose ``exp`` stays numpy's)."""
    n, kk = eps.shape
    out = np.empty((n, kk))
    for i in range(n):
        sd = base * type_factor[i] / (1.0 + k * engagement[i])
        for j in range(kk):
            out[i, j] = sd * eps[i, j]
    return out


def observe_take_up(expo, seen, rate, engagement, active, route, belief, private):
    """Beliefs and private beliefs after observation: ``o_i = expo_i seen_i / sum_j(...)`` and
    ``b' = (1 - a) b + a o`` for both, with ``a_i = rate * engagement_i * active_i * route_i``
    (:func:`simulation.knowledge_flows.noisy_observation` then ``take_up`` twice sharing the
    gain ``a o``).  The row sum is numpy's pairwise sum of the ``K`` products (``row_sums``;
    at most 128 columns: the caller checks)."""
    n, kk = expo.shape
    new_b = np.empty_like(belief)
    new_p = np.empty_like(private)
    p = np.empty(kk)
    for i in range(n):
        a = rate * engagement[i] * (1.0 if active[i] else 0.0) * route[i]
        for j in range(kk):
            p[j] = expo[i, j] * seen[i, j]
        s = _pairwise_sum(p)
        keep = 1.0 - a
        for j in range(kk):
            g = a * (p[j] / s)
            new_b[i, j] = keep * belief[i, j] + g
            new_p[i, j] = keep * private[i, j] + g
    return new_b, new_p


# ---------------------------------------------------------------------------------------------
# exchange_knowledge, DeGroot (simulation.exchange._degroot_core on the ties in use)
# ---------------------------------------------------------------------------------------------


def exchange_degroot(src, dst, weight, active, relevance, use_relevance, indptr, indices, tie,
                     engagement, rate, objective_rate, pull, belief, objective, move_belief,
                     board_slots, last_contact, month):
    """One month of informal exchange by DeGroot among active agents, fused.

    Per tie: ``used = active[src] & active[dst]``, influence ``d = weight * used`` (times
    ``relevance`` when ``use_relevance``; each agent's trust ``T_i`` is then the sum of its
    undiscounted ``d`` as two ``np.bincount`` passes, by ``src`` then by ``dst``).  Per agent
    *i*, over the entries of its row of the tie structure (``indptr``, ``indices``, ``tie``:
    :meth:`simulation.network.Ties._structure`) whose tie is used, in entry order as scipy's
    CSR loops: the row sum of ``d`` and ``sum_j d_ij x_j`` for each state; then
    :func:`simulation.exchange._degroot_core`'s update (beliefs only when ``move_belief``;
    rates ``rate * engagement * active``) and the objectives' pull toward the new beliefs,
    ``o' = (1 - p) o + p b`` with ``p = pull * engagement * active``.  Board members who used
    a tie, and their partners on the used ties, get ``last_contact = month`` (in place).

    Returns ``(used, exchanges, belief, objective)`` (``exchanges``: used ties per agent).
    Requires every weight > 0 (the caller's branch), so the used ties are the entries of W.

    An entry of row *i* is a tie between *i* and ``indices[p]``, used when both are active:
    the row's used entries are gathered first (none for an inactive agent), then summed with
    the first 8 columns of each state in scalar locals (registers) and further columns in
    small arrays, the same products and additions in the same order as one array of sums.
    """
    n = active.size
    m = src.size
    used = np.empty(m, np.bool_)
    d = np.empty(m)
    t_src = np.zeros(n)
    t_dst = np.zeros(n)
    for e in range(m):
        u = active[src[e]] & active[dst[e]]  # not `and`: no unpredictable branch
        used[e] = u
        de = weight[e] * (1.0 if u else 0.0)
        if use_relevance:
            t_src[src[e]] += de
            t_dst[dst[e]] += de
            de = de * relevance[e]
        d[e] = de
    # Each agent's sums over its used entries, in entry order: the first 8 columns of each
    # state in scalar locals (registers; a column k >= K is skipped by a branch on K, taken
    # the same way at every entry), further columns in small arrays.  Per entry and column
    # the same product and addition as an array of sums: the same bits, faster than adding
    # into an array (a load and a store per addition, ≈ 1.6x the whole kernel's time).
    kb = belief.shape[1] if move_belief else 0
    ko = objective.shape[1]
    new_b = np.empty_like(belief) if move_belief else belief
    new_o = np.empty_like(objective)
    exchanges = np.empty(n, np.int64)
    acc_b = np.empty(max(kb - 8, 0))
    acc_o = np.empty(max(ko - 8, 0))
    longest = 0
    for i in range(n):
        longest = max(longest, indptr[i + 1] - indptr[i])
    row_j = np.empty(longest, np.int64)  # the row's used entries: neighbour, tie
    row_e = np.empty(longest, np.int64)
    for i in range(n):
        c = 0
        if active[i]:  # a tie is used when both ends are active: none of an inactive agent's
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                row_j[c] = j  # written always, kept when used (no unpredictable branch)
                row_e[c] = tie[p]
                c += 1 if active[j] else 0
        s = 0.0
        b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = 0.0
        o0 = o1 = o2 = o3 = o4 = o5 = o6 = o7 = 0.0
        acc_b[:] = 0.0
        acc_o[:] = 0.0
        for h in range(c):
            w = d[row_e[h]]
            j = row_j[h]
            s += w * 1.0
            if kb > 0:
                b0 += w * belief[j, 0]
            if kb > 1:
                b1 += w * belief[j, 1]
            if kb > 2:
                b2 += w * belief[j, 2]
            if kb > 3:
                b3 += w * belief[j, 3]
            if kb > 4:
                b4 += w * belief[j, 4]
            if kb > 5:
                b5 += w * belief[j, 5]
            if kb > 6:
                b6 += w * belief[j, 6]
            if kb > 7:
                b7 += w * belief[j, 7]
                for k in range(8, kb):
                    acc_b[k - 8] += w * belief[j, k]
            if ko > 0:
                o0 += w * objective[j, 0]
            if ko > 1:
                o1 += w * objective[j, 1]
            if ko > 2:
                o2 += w * objective[j, 2]
            if ko > 3:
                o3 += w * objective[j, 3]
            if ko > 4:
                o4 += w * objective[j, 4]
            if ko > 5:
                o5 += w * objective[j, 5]
            if ko > 6:
                o6 += w * objective[j, 6]
            if ko > 7:
                o7 += w * objective[j, 7]
                for k in range(8, ko):
                    acc_o[k - 8] += w * objective[j, k]
        exchanges[i] = c
        has = 1.0 if c > 0 else 0.0
        act = 1.0 if active[i] else 0.0
        kept = 0.0
        if use_relevance:
            trust = t_src[i] + t_dst[i]
            denom = trust if (c > 0 and trust > 0) else 1.0
            kept = (s if c > 0 else 0.0) / denom
        else:
            denom = s if c > 0 else 1.0
        if move_belief:
            r = rate * engagement[i] * act * has
            q = r / denom
            stay = (1.0 - r * kept) if use_relevance else (1.0 - r)
            for k in range(kb):
                a = (b0 if k == 0 else b1 if k == 1 else b2 if k == 2 else b3 if k == 3 else
                     b4 if k == 4 else b5 if k == 5 else b6 if k == 6 else b7 if k == 7 else
                     acc_b[k - 8])
                new_b[i, k] = a * q + stay * belief[i, k]
        r = objective_rate * engagement[i] * act * has
        q = r / denom
        stay = (1.0 - r * kept) if use_relevance else (1.0 - r)
        pl = pull * engagement[i] * act
        for k in range(ko):
            a = (o0 if k == 0 else o1 if k == 1 else o2 if k == 2 else o3 if k == 3 else
                 o4 if k == 4 else o5 if k == 5 else o6 if k == 6 else o7 if k == 7 else
                 acc_o[k - 8])
            o = a * q + stay * objective[i, k]
            new_o[i, k] = (1.0 - pl) * o + pl * new_b[i, k]
    for b in board_slots:
        if exchanges[b] > 0:
            last_contact[b] = month
            for p in range(indptr[b], indptr[b + 1]):
                if used[tie[p]]:
                    last_contact[indices[p]] = month
    return used, exchanges, new_b, new_o


# ---------------------------------------------------------------------------------------------
# update_ties (simulation.tie_dynamics, simulation.network.Ties)
# ---------------------------------------------------------------------------------------------


def tie_weights(w, used, reinforce, decay, maintenance, dissolve_below):
    """:func:`simulation.tie_dynamics.update_weights` and the mask of ties lasting
    (``w' >= dissolve_below``)."""
    m = w.size
    out = np.empty(m)
    lasting = np.empty(m, np.bool_)
    f = 1.0 - decay * (1.0 - maintenance)
    for e in range(m):
        we = w[e]
        x = we + reinforce * (1.0 - we) if used[e] else we * f
        out[e] = x
        lasting[e] = x >= dissolve_below
    return out, lasting


def _nth_lasting(indptr, tie, lasting, row, want):
    """The position of the ``want``-th (from 0) entry of CSR row ``row`` whose tie lasts
    (the caller guarantees the row has more than ``want`` of them)."""
    p = indptr[row]
    while True:
        if lasting[tie[p]]:
            if want == 0:
                return p
            want -= 1
        p += 1


def kept_triads(indptr, indices, tie, src, dst, lasting, starters, u1, u2):
    """:func:`simulation.tie_dynamics.close_triads` on the lasting ties' pattern
    (``Ties.pattern(lasting)``: the entries of the structure ``indptr``, ``indices``, ``tie``
    whose tie lasts, in entry order), without laying that pattern out: each agent's degree in
    it is its degree less its ties that do not last, and a starter's (or its neighbour's)
    ``floor(u * deg)``-th lasting neighbour is found by scanning its own row only.  Returns the
    proposals ``(i, k)`` and every agent's degree in the pattern."""
    n = indptr.size - 1
    deg = np.empty(n, np.int64)
    for r in range(n):
        deg[r] = indptr[r + 1] - indptr[r]
    for e in range(lasting.size):
        if not lasting[e]:
            deg[src[e]] -= 1
            deg[dst[e]] -= 1
    a = np.empty(starters.size, np.int64)
    b = np.empty(starters.size, np.int64)
    q = 0
    for s in range(starters.size):
        i = starters[s]
        di = deg[i]
        if di > 0:
            j = indices[_nth_lasting(indptr, tie, lasting, i, np.int64(np.floor(u1[s] * di)))]
            k = indices[_nth_lasting(indptr, tie, lasting, j,
                                     np.int64(np.floor(u2[s] * deg[j])))]
            if k != i:
                a[q] = i
                b[q] = k
                q += 1
    return a[:q], b[:q], deg


def merge_ties(keys, src, dst, weight, new_keys, new_src, new_dst, new_weight):
    """:meth:`simulation.network.Ties.add`'s merge of sorted unique ``new_keys`` into sorted
    unique ``keys``: an existing tie keeps ``max(weight, new weight)``, a new one is inserted
    at its ``searchsorted`` position.  Returns ``(src, dst, weight, keys, at, fresh)`` with ``at``
    the insert positions (in the old arrays, as ``np.insert`` takes them) of the new ties not
    in ``keys`` and ``fresh`` the mask of those among the new ties."""
    m = keys.size
    k = new_keys.size
    at = np.empty(k, np.int64)
    fresh = np.empty(k, np.bool_)
    pos = 0
    nf = 0
    for q in range(k):
        while pos < m and keys[pos] < new_keys[q]:
            pos += 1
        at[q] = pos
        fresh[q] = not (pos < m and keys[pos] == new_keys[q])
        if fresh[q]:
            nf += 1
    total = m + nf
    o_src = np.empty(total, src.dtype)
    o_dst = np.empty(total, dst.dtype)
    o_w = np.empty(total, weight.dtype)
    o_keys = np.empty(total, keys.dtype)
    out_at = np.empty(nf, np.int64)
    e = 0
    o = 0
    f = 0
    for q in range(k + 1):
        stop = at[q] if q < k else m
        while e < stop:
            o_src[o] = src[e]
            o_dst[o] = dst[e]
            o_w[o] = weight[e]
            o_keys[o] = keys[e]
            e += 1
            o += 1
        if q == k:
            break
        if fresh[q]:
            o_src[o] = new_src[q]
            o_dst[o] = new_dst[q]
            o_w[o] = new_weight[q]
            o_keys[o] = new_keys[q]
            out_at[f] = at[q]
            f += 1
            o += 1
        else:  # the existing tie at[q] (not copied yet: e == at[q]) keeps the larger weight
            w_old = weight[e]
            w_new = new_weight[q]
            o_src[o] = src[e]
            o_dst[o] = dst[e]
            o_w[o] = w_new if w_new > w_old else w_old
            o_keys[o] = keys[e]
            e += 1
            o += 1
    return o_src, o_dst, o_w, o_keys, out_at, fresh


def insert_sorted(values, at, new):
    """``np.insert(values, at, new)`` for non-decreasing ``at``."""
    m = values.size
    k = at.size
    out = np.empty(m + k, values.dtype)
    e = 0
    o = 0
    for q in range(k + 1):
        stop = at[q] if q < k else m
        while e < stop:
            out[o] = values[e]
            e += 1
            o += 1
        if q < k:
            out[o] = new[q]
            o += 1
    return out


def keep_merge_ties(src, dst, weight, keys, lasting, new_keys, new_src, new_dst, new_weight):
    """``Ties.keep(lasting).add(new)`` in one pass: the ties (sorted unique ``keys``) where
    ``lasting`` is true, merged with the sorted unique new ties as :func:`merge_ties` merges
    them (a lasting tie with a new tie's key keeps ``max(weight, new weight)``, a fresh one is
    inserted at its ``searchsorted`` position).  The few changes (ties that do not last,
    fresh ties) are found first (a binary search per new tie), and the runs of ties between
    them are copied as blocks.  Returns ``(src, dst, weight, keys, at, fresh, final_old,
    final_fresh, gone, before)``: ``at`` the insert positions of the fresh ties in the kept
    arrays (as ``np.insert`` takes them), ``fresh`` the mask of those among the new ties,
    ``final_old[e]`` the index of old tie ``e`` in the result (-1 if it does not last),
    ``final_fresh`` the index of each fresh tie in the result, ``gone`` the old ties that do
    not last (ascending) and ``before`` the old tie each fresh tie is placed before (``m`` at
    the end)."""
    m = keys.size
    k = new_keys.size
    nd = 0
    for e in range(m):
        if not lasting[e]:
            nd += 1
    gone = np.empty(nd, np.int64)
    g = 0
    for e in range(m):
        if not lasting[e]:
            gone[g] = e
            g += 1
    pos = np.searchsorted(keys, new_keys)  # each new tie's place among the old ties
    fresh = np.empty(k, np.bool_)
    nf = 0
    for q in range(k):
        p = pos[q]
        fresh[q] = not (p < m and keys[p] == new_keys[q] and lasting[p])
        if fresh[q]:
            nf += 1
    total = m - nd + nf
    o_src = np.empty(total, src.dtype)
    o_dst = np.empty(total, dst.dtype)
    o_w = np.empty(total, weight.dtype)
    o_keys = np.empty(total, keys.dtype)
    at = np.empty(nf, np.int64)
    before = np.empty(nf, np.int64)
    final_old = np.empty(m, np.int64)
    final_fresh = np.empty(nf, np.int64)
    e = 0  # next old tie
    o = 0  # next output slot
    g = 0  # next tie that does not last
    q = 0  # next new tie
    f = 0  # fresh ties placed
    while True:
        while q < k and not fresh[q]:
            q += 1
        x = m  # the next change: a fresh tie goes before old tie x, or old tie x is gone
        if q < k and pos[q] < x:
            x = pos[q]
        if g < nd and gone[g] < x:
            x = gone[g]
        length = x - e
        o_src[o:o + length] = src[e:x]
        o_dst[o:o + length] = dst[e:x]
        o_w[o:o + length] = weight[e:x]
        o_keys[o:o + length] = keys[e:x]
        for i in range(length):
            final_old[e + i] = o + i
        o += length
        e = x
        if q < k and pos[q] == x:  # fresh ties first: before old tie x, whether or not it lasts
            o_src[o] = new_src[q]
            o_dst[o] = new_dst[q]
            o_w[o] = new_weight[q]
            o_keys[o] = new_keys[q]
            at[f] = x - g  # kept ties before it
            before[f] = x
            final_fresh[f] = o
            f += 1
            o += 1
            q += 1
        elif g < nd and gone[g] == x:
            final_old[x] = -1
            e += 1
            g += 1
        else:
            break  # x == m: everything laid out
    for q in range(k):  # a lasting tie with a new tie's key keeps the larger weight
        if not fresh[q]:
            i = final_old[pos[q]]
            w_old = o_w[i]
            w_new = new_weight[q]
            o_w[i] = w_new if w_new > w_old else w_old
    return o_src, o_dst, o_w, o_keys, at, fresh, final_old, final_fresh, gone, before


def lay_out(values, gone, before, new, total):
    """Per-tie ``values`` of the old ties and ``new`` ones of the fresh ties laid out as
    :func:`keep_merge_ties` lays out the ties (``gone``: the old ties that do not last,
    ascending; ``before``: the old tie each fresh tie goes before; ``total`` ties), the runs
    between them copied as blocks: ``np.insert(values[lasting], at, new)`` with that
    kernel's ``at``."""
    m = values.size
    nd = gone.size
    nf = before.size
    out = np.empty(total, values.dtype)
    e = 0
    o = 0
    g = 0
    q = 0
    while True:
        x = m
        if q < nf and before[q] < x:
            x = before[q]
        if g < nd and gone[g] < x:
            x = gone[g]
        length = x - e
        out[o:o + length] = values[e:x]
        o += length
        e = x
        if q < nf and before[q] == x:
            out[o] = new[q]
            o += 1
            q += 1
        elif g < nd and gone[g] == x:
            e += 1
            g += 1
        else:
            break
    return out


def merge_structure(indptr, indices, tie, final_old, gone_src, gone_dst, fresh_src, fresh_dst,
                    final_fresh, out_indptr, out_indices, out_tie):
    """The CSR structure (:func:`simulation.network.csr_structure`) of the tie set
    :func:`keep_merge_ties` returns, from the structure ``indptr, indices, tie`` of the old
    tie set without a sort.  The runs of rows of no tie that is gone (ends ``gone_src``,
    ``gone_dst``) or fresh are copied as flat ranges with their ties renumbered by
    ``final_old``; in the other rows the entries of
    the lasting ties (``final_old >= 0``, columns ascending) are merged by column with those
    of the fresh ties ``fresh_src < fresh_dst`` (in key order; result indices
    ``final_fresh``).  Fills ``out_indptr``, ``out_indices`` and ``out_tie`` (sized for the
    result)."""
    n = indptr.size - 1
    nf = fresh_src.size
    touched = np.zeros(n, np.bool_)
    for q in range(gone_src.size):
        touched[gone_src[q]] = True
        touched[gone_dst[q]] = True
    # the fresh ties' entries by row: (dst, src) then (src, dst), in key order, so each row's
    # columns ascend (those below the row, then those above)
    fptr = np.zeros(n + 1, np.int64)
    for q in range(nf):
        fptr[fresh_dst[q] + 1] += 1
        fptr[fresh_src[q] + 1] += 1
        touched[fresh_src[q]] = True
        touched[fresh_dst[q]] = True
    for r in range(n):
        fptr[r + 1] += fptr[r]
    fcol = np.empty(2 * nf, np.int64)
    ftie = np.empty(2 * nf, np.int64)
    fill = fptr[:n].copy()
    for q in range(nf):
        r = fresh_dst[q]
        fcol[fill[r]] = fresh_src[q]
        ftie[fill[r]] = final_fresh[q]
        fill[r] += 1
    for q in range(nf):
        r = fresh_src[q]
        fcol[fill[r]] = fresh_dst[q]
        ftie[fill[r]] = final_fresh[q]
        fill[r] += 1
    o = 0
    out_indptr[0] = 0
    r = 0
    while r < n:
        if not touched[r]:  # a run of rows without a change: the same entries, renumbered,
            r_end = r + 1   # copied as one flat range
            while r_end < n and not touched[r_end]:
                r_end += 1
            p = indptr[r]
            shift = o - p
            for q in range(p, indptr[r_end]):
                out_indices[q + shift] = indices[q]
                out_tie[q + shift] = final_old[tie[q]]
            for x in range(r + 1, r_end + 1):
                out_indptr[x] = indptr[x] + shift
            o = indptr[r_end] + shift
            r = r_end
            continue
        p = indptr[r]
        p_end = indptr[r + 1]
        g = fptr[r]
        g_end = fptr[r + 1]
        while True:
            while p < p_end and final_old[tie[p]] < 0:
                p += 1
            if p < p_end:
                if g < g_end and fcol[g] < indices[p]:
                    out_indices[o] = fcol[g]
                    out_tie[o] = ftie[g]
                    g += 1
                else:
                    out_indices[o] = indices[p]
                    out_tie[o] = final_old[tie[p]]
                    p += 1
                o += 1
            elif g < g_end:
                out_indices[o] = fcol[g]
                out_tie[o] = ftie[g]
                g += 1
                o += 1
            else:
                break
        out_indptr[r + 1] = o
        r += 1


def newcomer_climate(agent, key, n_keys, present, engagement, slots, slot_keys):
    """:meth:`simulation.model.CommissioningModel._newcomer_climate`: the mean engagement of
    the present agents other than the newcomers ``slots`` per key (``np.bincount`` over the
    entries ``(agent, key)`` in entry order: the same sums), for the keys of the newcomers
    only (``slot_keys``: a row of keys per agent, level by level, ``n_keys`` where it has
    none), and each newcomer's first level with a value (NaN when none has)."""
    peer = present.copy()
    for s in range(slots.size):
        peer[slots[s]] = False
    levels = slot_keys.shape[1]
    wanted = np.zeros(n_keys + 1, np.bool_)
    for s in range(slots.size):
        for v in range(levels):
            wanted[slot_keys[slots[s], v]] = True
    wanted[n_keys] = False  # no key: no value
    total = np.zeros(n_keys + 1)
    count = np.zeros(n_keys + 1, np.int64)
    for i in range(agent.size):
        a = agent[i]
        u = key[i]
        if peer[a] and wanted[u]:
            total[u] += engagement[a]
            count[u] += 1
    out = np.empty(slots.size)
    for s in range(slots.size):
        out[s] = np.nan
        for v in range(levels):
            u = slot_keys[slots[s], v]
            if count[u] > 0:
                c = total[u] / count[u]
                if not np.isnan(c):
                    out[s] = c
                    break
    return out


def leavers(u, e, base, sensitivity, retention, present):
    """The agents who leave this month, ``flatnonzero((u < h) & present)`` for the hazard
    ``h = min(1, base * (1 + sensitivity * (1 - e)) * (1 - retention))`` of
    :func:`simulation.engagement.leave_hazard` (``base`` its monthly rate), the same
    operations in the same order, without the intermediate arrays."""
    n = u.size
    out = np.empty(n, np.int64)
    k = 0
    keep = 1.0 - retention
    for i in range(n):
        h = base * (1.0 + sensitivity * (1.0 - e[i])) * keep
        if u[i] < (1.0 if h > 1.0 else h) and present[i]:  # np.minimum: NaN stays NaN
            out[k] = i
            k += 1
    return out[:k]


def new_tie_keys(a, b, n):
    """The sorted unique keys ``lo * n + hi`` of the pairs ``(a, b)`` without self-pairs, with
    their ``lo`` and ``hi``: :meth:`simulation.network.Ties.from_pairs` for pairs that all
    have the same weight (whichever duplicate it keeps has that weight)."""
    keys = np.empty(a.size, np.int64)
    k = 0
    for i in range(a.size):
        x = a[i]
        y = b[i]
        if x != y:
            keys[k] = x * n + y if x < y else y * n + x
            k += 1
    keys = np.unique(keys[:k])
    src = np.empty(keys.size, np.int64)
    dst = np.empty(keys.size, np.int64)
    for i in range(keys.size):
        src[i] = keys[i] // n
        dst[i] = keys[i] % n
    return keys, src, dst


def accept_capacity(a, b, degree, capacity, u):
    """:func:`simulation.tie_dynamics.accept_by_capacity` (``u < room_a * room_b`` with
    ``room = clip(1 - d / C, 0, 1)``), the room computed for the proposals' ends only."""
    c = float(capacity)
    ok = np.empty(a.size, np.bool_)
    for i in range(a.size):
        ra = 1.0 - degree[a[i]] / c
        ra = 0.0 if ra < 0.0 else (1.0 if ra > 1.0 else ra)
        rb = 1.0 - degree[b[i]] / c
        rb = 0.0 if rb < 0.0 else (1.0 if rb > 1.0 else rb)
        ok[i] = u[i] < ra * rb
    return ok


def newcomer_beta(clim, base, sd, c):
    """The Beta parameters of newcomers' engagement draws
    (:meth:`simulation.model.CommissioningModel._newcomer_engagement` and
    :func:`simulation.engagement.draw_engagement` up to the draw), the same operations in the
    same order: the mean ``(1 - c) * base + c * clim`` (``base`` where the climate ``clim`` is
    not finite) clipped to [0.001, 0.999], the spread capped at ``0.9 * sqrt(m (1 - m))``, and
    :func:`simulation.engagement.beta_parameters`.  Returns ``(mean, alpha, beta, fixed)``
    with ``alpha = beta = 1`` where ``fixed`` (spread 0: the draw is replaced by the mean)."""
    k = clim.size
    mean = np.empty(k)
    alpha = np.empty(k)
    beta = np.empty(k)
    fixed = np.empty(k, np.bool_)
    lo = 1e-3
    hi = 1.0 - 1e-3
    for i in range(k):
        x = clim[i]
        m = (1.0 - c) * base[i] + c * x if np.isfinite(x) else base[i]
        m = lo if m < lo else (hi if m > hi else m)
        mean[i] = m
        cap = 0.9 * np.sqrt(m * (1.0 - m))
        s = sd[i] if sd[i] < cap else cap  # np.minimum (no NaN here: m is inside (0, 1))
        mm = 1e-6 if m < 1e-6 else (1 - 1e-6 if m > 1 - 1e-6 else m)
        q = s if s > 1e-9 else 1e-9
        nu = mm * (1 - mm) / (q * q) - 1.0
        fixed[i] = s <= 0
        alpha[i] = 1.0 if fixed[i] else mm * nu
        beta[i] = 1.0 if fixed[i] else (1 - mm) * nu
    return mean, alpha, beta, fixed


def cap_incident(indptr, tie, slots, weight, cap):
    """``weight[hit] = np.minimum(weight[hit], cap)`` in place for ``hit`` the ties of the
    agents ``slots`` (``Ties.incident``: their rows of the CSR structure ``indptr``, ``tie``);
    a NaN weight stays NaN, as with ``np.minimum``."""
    for s in range(slots.size):
        r = slots[s]
        for p in range(indptr[r], indptr[r + 1]):
            e = tie[p]
            if weight[e] > cap:
                weight[e] = cap


# ---------------------------------------------------------------------------------------------
# meetings (simulation.localities.pool and meet)
# ---------------------------------------------------------------------------------------------


def meet_pool(indptr, indices, data, weights, x, y, pooling_weight, one_unit):
    """:func:`simulation.localities.meet` for two states ``x`` ``(N, Kx)`` and ``y``
    ``(N, Ky)`` (``Ky`` may be 0), pooled as their column stack: returns ``(x', y', pooled)``
    with ``pooled`` ``(n_units, Kx + Ky)``.

    Per unit *u* (a row of the CSR membership matrix ``indptr``, ``indices``, ``data``), over
    its entries in entry order: ``w_e = data_e * weights_i``, the total ``T_u = sum w_e`` (as
    ``np.bincount``) and ``S_u = sum w_e z_i`` for each column of ``z = [x y]`` (as scipy's
    CSR product, from zeros); the pooled view ``S_u / T_u``, NaN where ``T_u`` is not > 0.
    An entry attends when ``weights_i > 0`` and ``T_u > 0``.  When every attendee attends one
    unit (``one_unit``: the matrix has one entry per agent at most; else counted),
    ``z'_i = (1 - m) z_i + m pooled_u``; otherwise every attendee moves toward the mean of its
    units' pooled views, summed from zeros in ascending unit order (the CSR product over
    (attendee, unit) entries) and divided by their count.  Other rows are copied.
    """
    n_units = indptr.size - 1
    n, kx = x.shape
    ky = y.shape[1]
    kk = kx + ky
    total = np.zeros(n_units)
    s = np.zeros((n_units, kk))
    # the first 8 columns of x and of y summed in scalar locals (registers; a column k >= K
    # skipped by a branch taken the same way at every entry), further ones in s: per entry
    # and column the same product and addition as summing into s (the same bits), faster
    sx = np.zeros(max(kx - 8, 0))
    sy = np.zeros(max(ky - 8, 0))
    for u in range(n_units):
        t = 0.0
        x0 = x1 = x2 = x3 = x4 = x5 = x6 = x7 = 0.0
        y0 = y1 = y2 = y3 = y4 = y5 = y6 = y7 = 0.0
        sx[:] = 0.0
        sy[:] = 0.0
        for e in range(indptr[u], indptr[u + 1]):
            i = indices[e]
            w = data[e] * weights[i]
            t += w
            if kx > 0:
                x0 += w * x[i, 0]
            if kx > 1:
                x1 += w * x[i, 1]
            if kx > 2:
                x2 += w * x[i, 2]
            if kx > 3:
                x3 += w * x[i, 3]
            if kx > 4:
                x4 += w * x[i, 4]
            if kx > 5:
                x5 += w * x[i, 5]
            if kx > 6:
                x6 += w * x[i, 6]
            if kx > 7:
                x7 += w * x[i, 7]
                for k in range(8, kx):
                    sx[k - 8] += w * x[i, k]
            if ky > 0:
                y0 += w * y[i, 0]
            if ky > 1:
                y1 += w * y[i, 1]
            if ky > 2:
                y2 += w * y[i, 2]
            if ky > 3:
                y3 += w * y[i, 3]
            if ky > 4:
                y4 += w * y[i, 4]
            if ky > 5:
                y5 += w * y[i, 5]
            if ky > 6:
                y6 += w * y[i, 6]
            if ky > 7:
                y7 += w * y[i, 7]
                for k in range(8, ky):
                    sy[k - 8] += w * y[i, k]
        total[u] = t
        for k in range(kx):
            s[u, k] = (x0 if k == 0 else x1 if k == 1 else x2 if k == 2 else x3 if k == 3 else
                       x4 if k == 4 else x5 if k == 5 else x6 if k == 6 else x7 if k == 7 else
                       sx[k - 8])
        for k in range(ky):
            s[u, kx + k] = (y0 if k == 0 else y1 if k == 1 else y2 if k == 2 else
                            y3 if k == 3 else y4 if k == 4 else y5 if k == 5 else
                            y6 if k == 6 else y7 if k == 7 else sy[k - 8])
    pooled = np.empty((n_units, kk))
    for u in range(n_units):
        if total[u] > 0:
            for k in range(kk):
                pooled[u, k] = s[u, k] / total[u]
        else:
            for k in range(kk):
                pooled[u, k] = np.nan
    single = one_unit
    count = np.zeros(n if not one_unit else 0, np.int64)
    if not one_unit:
        most = 0
        for u in range(n_units):
            if total[u] > 0:
                for e in range(indptr[u], indptr[u + 1]):
                    i = indices[e]
                    if weights[i] > 0:
                        count[i] += 1
                        if count[i] > most:
                            most = count[i]
        single = most <= 1
    keep = 1.0 - pooling_weight
    out_x = x.copy()
    out_y = y.copy()
    if single:
        for u in range(n_units):
            if total[u] > 0:
                for e in range(indptr[u], indptr[u + 1]):
                    i = indices[e]
                    if weights[i] > 0:
                        for k in range(kx):
                            out_x[i, k] = keep * x[i, k] + pooling_weight * pooled[u, k]
                        for k in range(ky):
                            out_y[i, k] = keep * y[i, k] + pooling_weight * pooled[u, kx + k]
        return out_x, out_y, pooled
    slot = np.empty(n, np.int64)  # each attendee's row of acc (attendees only: n may be large)
    h = 0
    for i in range(n):
        if count[i] > 0:
            slot[i] = h
            h += 1
    acc = np.zeros((h, kk))
    for u in range(n_units):
        if total[u] > 0:
            for e in range(indptr[u], indptr[u + 1]):
                i = indices[e]
                if weights[i] > 0:
                    a = slot[i]
                    for k in range(kk):
                        acc[a, k] += 1.0 * pooled[u, k]
    for i in range(n):
        if count[i] > 0:
            a = slot[i]
            c = float(count[i])
            for k in range(kx):
                out_x[i, k] = keep * x[i, k] + pooling_weight * (acc[a, k] / c)
            for k in range(ky):
                out_y[i, k] = keep * y[i, k] + pooling_weight * (acc[a, kx + k] / c)
    return out_x, out_y, pooled


# ---------------------------------------------------------------------------------------------
# feed_back_engagement (simulation.engagement.reflection twice, then update_engagement)
# ---------------------------------------------------------------------------------------------


def _tv_row_sum(a, b, i, p):
    """``row_sums(|a - b|)`` of row ``i`` (numpy's pairwise order for up to 128 columns),
    through the scratch row ``p``."""
    for j in range(p.size):
        p[j] = abs(a[i, j] - b[i, j])
    return _pairwise_sum(p)


def reflect_feedback(seen, before, objective, engagement, present, rate, expectation):
    """One decision's engagement feedback in one pass: ``reflect = 1 - 0.5 * sum_k |seen -
    objective|`` (:func:`simulation.engagement.reflection`), ``moved = reflect > 1 - 0.5 *
    sum_k |before - objective|``, and :func:`simulation.engagement.update_engagement`
    (``e + rate * gap * room`` for present agents, ``gap = reflect - expectation``, ``room =
    1 - e`` if ``gap > 0`` else ``e``).  Row sums in numpy's pairwise order (at most 128
    columns: the caller checks).  Returns ``(reflect, moved, engagement)``."""
    n, kk = seen.shape
    reflect = np.empty(n)
    moved = np.empty(n, np.bool_)
    new_e = np.empty(n)
    p = np.empty(kk)
    for i in range(n):
        r = 1.0 - 0.5 * _tv_row_sum(seen, objective, i, p)
        reflect[i] = r
        moved[i] = r > 1.0 - 0.5 * _tv_row_sum(before, objective, i, p)
        e = engagement[i]
        if present[i]:
            gap = r - expectation
            room = 1.0 - e if gap > 0 else e
            new_e[i] = e + rate * gap * room
        else:
            new_e[i] = e
    return reflect, moved, new_e


_KERNELS = {f.__name__: f for f in (observe_noise, observe_take_up, exchange_degroot, tie_weights,
                                    kept_triads, merge_ties, insert_sorted)}
_KERNELS["meet_pool"] = meet_pool
_KERNELS.update((f.__name__, f) for f in (keep_merge_ties, lay_out, merge_structure,
                                          newcomer_climate, leavers, new_tie_keys,
                                          accept_capacity, newcomer_beta, cap_incident))


# ---------------------------------------------------------------------------------------------
# betweenness (simulation.measures.structure._brandes_batch)
# ---------------------------------------------------------------------------------------------


def brandes_delta(indptr, indices, src, cols, b):
    """The dependencies ``delta`` (shape ``(n, b)``, before the sources' own entries are
    zeroed) of the level-synchronous Brandes search of
    :func:`simulation.measures.structure._brandes_batch` on the binary CSR matrix
    ``(indptr, indices)`` (every stored entry 1.0): node ``src[t]`` is the source of column
    ``cols[t]``.

    The numpy path computes, per level, ``A @ frontier`` forwards and ``A @ coef`` backwards
    over the whole ``(n, b)`` block.  Here each product is pulled row by row: for a row ``i``
    that can take a value at this level (an unseen column forwards, a column on level
    ``d - 1`` backwards), the ``b``-wide rows of its CSR neighbours ``j`` are added in CSR
    order, as scipy's ``csr_matvecs`` adds them; neighbours whose whole row is zero (not on
    the frontier, or on no column of level ``d``) are skipped, which leaves every sum
    unchanged (adding ``+0.0`` to a sum of non-negative terms is exact).  The element-wise
    steps are numpy's: the frontier is ``sigma`` on level ``d - 1`` (zero elsewhere, read
    from ``sigma`` and the levels, not kept in an array of its own: entries on level
    ``d - 1`` do not change during level ``d``); ``sigma`` of a newly reached entry is its
    sum; ``coef = (1.0 + delta) / sigma`` on level ``d`` (zero elsewhere);
    ``delta = (A @ coef) * sigma`` on level ``d - 1`` (the ``0.0 + x`` that numpy adds it to
    is ``x``).  Level 0 holds only the
    sources, whose entries the numpy path zeroes at the end, so the last backward level
    (depth 1 to 0) is not computed and they stay zero here.  The caller sums the rows with
    numpy.
    """
    n = indptr.size - 1
    sigma = np.zeros((n, b))
    lev = np.full((n, b), -1, np.int32)
    left = np.full(n, b, np.int64)  # unseen columns per row
    on_cur = np.zeros(n, np.bool_)  # row has a frontier entry
    on_nxt = np.zeros(n, np.bool_)
    rows = np.empty(n, np.int64)  # the frontier's rows
    nrows = 0
    for t in range(src.size):
        i = src[t]
        k = cols[t]
        if lev[i, k] == -1:
            lev[i, k] = 0
            sigma[i, k] = 1.0
            left[i] -= 1
            if not on_cur[i]:
                on_cur[i] = True
                rows[nrows] = i
                nrows += 1
    levels = [rows[:nrows].copy()]  # levels[d]: the rows with an entry first reached at depth d
    acc = np.empty(b)
    d = 0
    while True:
        d += 1
        new = np.empty(n, np.int64)
        nnew = 0
        for i in range(n):
            if left[i] == 0:
                continue
            hit = False
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                if on_cur[j]:
                    if not hit:
                        hit = True
                        for k in range(b):
                            acc[k] = 0.0
                    for k in range(b):  # numpy's frontier: sigma on level d - 1, else 0
                        acc[k] += sigma[j, k] if lev[j, k] == d - 1 else 0.0
            if not hit:
                continue
            reached = 0
            for k in range(b):  # branch-free; numpy: nxt = (A @ frontier) * unseen; sigma += nxt
                r = lev[i, k] == -1 and acc[k] > 0
                v = acc[k] if r else 0.0
                sigma[i, k] += v
                lev[i, k] = d if r else lev[i, k]
                reached += r
            if reached > 0:
                left[i] -= reached
                on_nxt[i] = True
                new[nnew] = i
                nnew += 1
        if nnew == 0:
            break
        for t in range(nrows):  # clear the old frontier
            on_cur[rows[t]] = False
        on_cur, on_nxt = on_nxt, on_cur
        rows = new
        nrows = nnew
        levels.append(new[:nnew].copy())
    depth = d - 1
    delta = np.zeros((n, b))
    coef = np.zeros((n, b))
    on_coef = on_nxt  # all False: the old frontier was cleared before the last swap
    for dd in range(depth, 1, -1):  # depth 1 -> 0 would only fill the sources' own entries
        upper = levels[dd]
        for t in range(upper.size):
            j = upper[t]
            on_coef[j] = True
            for k in range(b):  # numpy: (1.0 + delta) / safe_sigma * level mask
                s = sigma[j, k]
                x = (1.0 + delta[j, k]) / (s if s > 0 else 1.0)
                coef[j, k] = x if lev[j, k] == dd else 0.0
        lower = levels[dd - 1]
        for t in range(lower.size):
            i = lower[t]
            for k in range(b):
                acc[k] = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                if on_coef[j]:
                    for k in range(b):
                        acc[k] += coef[j, k]
            for k in range(b):  # numpy: delta += (A @ coef) * sigma * level mask
                x = acc[k] * sigma[i, k]
                delta[i, k] = x if lev[i, k] == dd - 1 else delta[i, k]
        for t in range(upper.size):
            j = upper[t]
            on_coef[j] = False
            for k in range(b):
                coef[j, k] = 0.0
    return delta
_KERNELS["brandes_delta"] = brandes_delta
_KERNELS["reflect_feedback"] = reflect_feedback
#: Functions the kernels call: compiled first and bound in their place in this module.
_HELPERS = {"_pairwise_sum": _pairwise_sum, "_tv_row_sum": _tv_row_sum,
            "_nth_lasting": _nth_lasting}
