"""Issue 24 (tie dynamics and turnover): the fused tie kernels of simulation._kernels
(keep_merge_ties, lay_out, merge_structure) and :meth:`simulation.network.Ties.keep_add` give
the arrays, keys, per-tie values and CSR structure of ``keep`` then ``add`` then
``csr_structure``, bit for bit, on random inputs with edge cases (no ties, every tie gone, no
new ties, new ties that exist already or duplicate a tie that does not last), with the kernels
compiled by numba and run as plain Python; plus plain-loop references."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from conftest import HAVE_NUMBA

from simulation import _kernels
from simulation.network import Ties, csr_structure


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def _random_ties(rng, n, m):
    if n < 2 or m == 0:
        return Ties(n, np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    return Ties.from_pairs(n, rng.integers(0, n, m), rng.integers(0, n, m),
                           rng.uniform(0.01, 1.0, m))


def _keep_merge_loop(t, lasting, new):
    """Plain-loop reference of keep_merge_ties: a list of (key, src, dst, weight, origin)."""
    rows = {}
    for e in range(t.m):
        if lasting[e]:
            key = int(t.src[e]) * t.n + int(t.dst[e])
            rows[key] = [key, int(t.src[e]), int(t.dst[e]), float(t.weight[e]), ("old", e)]
    for q in range(new.m):
        key = int(new.src[q]) * t.n + int(new.dst[q])
        if key in rows:
            rows[key][3] = max(rows[key][3], float(new.weight[q]))
        else:
            rows[key] = [key, int(new.src[q]), int(new.dst[q]), float(new.weight[q]), ("new", q)]
    return [rows[k] for k in sorted(rows)]


CASES = [(0, 0, 0.5, 0), (1, 0, 0.5, 3), (10, 0, 0.5, 5), (10, 20, 1.0, 0), (10, 20, 0.0, 0),
         (10, 20, 0.0, 8), (30, 60, 0.7, 1), (30, 60, 0.9, 40), (500, 3000, 0.97, 300),
         (50, 600, 0.5, 600), (50, 600, 1.0, 600),
         # many ties, few changes: blocks of ties renumbered by one shift (merge_structure)
         (3000, 60000, 0.9998, 10), (3000, 60000, 1.0, 4), (3000, 60000, 0.9995, 0)]


@pytest.mark.parametrize("n,m,share,k", CASES)
def test_keep_merge_ties_equals_keep_then_merge(kern, n, m, share, k):
    rng = np.random.default_rng(n + m + k)
    t = _random_ties(rng, n, m)
    lasting = rng.random(t.m) < share
    # half the new ties are old ones (lasting or not), half random
    pick = rng.integers(0, max(t.m, 1), k // 2) if t.m else np.empty(0, np.int64)
    a = np.concatenate([t.src[pick], rng.integers(0, max(n, 1), k - pick.size)])
    b = np.concatenate([t.dst[pick], rng.integers(0, max(n, 1), k - pick.size)])
    new = Ties.from_pairs(n, a, b, rng.uniform(0.0, 1.0, a.size))
    src, dst, weight, keys, at, fresh, final_old, final_fresh, gone, before = (
        kern.keep_merge_ties(t.src, t.dst, t.weight, t.keys(), lasting, new.keys(), new.src,
                             new.dst, new.weight))
    assert same(gone, np.flatnonzero(~lasting))
    # before: the old tie each fresh tie goes before = its place among the old keys
    assert same(before, np.searchsorted(t.keys(), new.keys()[fresh]).astype(np.int64))
    kept = t.keep(lasting)
    merged = kern.merge_ties(kept.keys(), kept.src, kept.dst, kept.weight, new.keys(), new.src,
                             new.dst, new.weight)
    for got, want in zip((src, dst, weight, keys, at, fresh), merged, strict=True):
        assert same(got, want)
    ref = _keep_merge_loop(t, lasting, new)
    assert keys.tolist() == [r[0] for r in ref] and weight.tolist() == [r[3] for r in ref]
    assert src.tolist() == [r[1] for r in ref] and dst.tolist() == [r[2] for r in ref]
    # where every old and fresh tie went
    want_old = np.full(t.m, -1, np.int64)
    want_fresh = []
    for i, r in enumerate(ref):
        if r[4][0] == "old":
            want_old[r[4][1]] = i
        else:
            want_fresh.append(i)
    assert same(final_old, want_old) and same(final_fresh, np.array(want_fresh, np.int64))
    v = rng.random(t.m)
    nv = rng.random(int(fresh.sum()))
    assert same(kern.lay_out(v, gone, before, nv, keys.size),
                np.insert(v[lasting], at, nv))
    # the structure, derived from the old one
    idx = np.int32
    built = (np.empty(n + 1, idx), np.empty(2 * keys.size, idx), np.empty(2 * keys.size, idx))
    kern.merge_structure(*csr_structure(n, t.src, t.dst), final_old, t.src[gone], t.dst[gone],
                         new.src[fresh], new.dst[fresh], final_fresh, *built)
    for got, want in zip(built, csr_structure(n, src, dst), strict=True):
        assert same(got, want)


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")
@pytest.mark.parametrize("n,m,share,k", CASES)
@pytest.mark.parametrize("built", [False, True])
def test_ties_keep_add_equals_keep_then_add(monkeypatch, n, m, share, k, built):
    monkeypatch.setenv("COMMNET_KERNELS", "numba")
    kern = _kernels.kernels()
    rng = np.random.default_rng(n * 7 + m + k)
    group = rng.integers(0, 3, max(n, 1))
    rel = partial(lambda s, d, g: np.where(g[s] == g[d], 1.0, 0.2), g=group)

    def fresh_set():
        t = _random_ties(np.random.default_rng(5), n, m)
        t.per_tie("rel", rel)
        if built:
            t._structure()
        return t

    r = np.random.default_rng(6)
    lasting = r.random(fresh_set().m) < share
    a, b, w = r.integers(0, max(n, 1), k), r.integers(0, max(n, 1), k), r.uniform(0, 1, k)
    want = fresh_set().keep(lasting).add(a, b, w)
    got = fresh_set().keep_add(lasting, a, b, w, kern)
    for attr in ("src", "dst", "weight"):
        assert same(getattr(got, attr), getattr(want, attr))
    assert same(got.keys(), want.keys()) and not got.keys().flags.writeable
    assert same(got.per_tie("rel", rel), want.per_tie("rel", rel))
    assert same(got.per_tie("rel", rel), rel(got.src, got.dst))
    assert ("_csr_structure" in got.__dict__) == built
    for x, y in zip(got._structure(), csr_structure(n, want.src, want.dst), strict=True):
        assert same(x, y)


# ------------------------------------------------------------------ newcomers' climate
def _climate_loop(model, slots):
    """Plain-loop reference of _newcomer_climate: per newcomer, the first level (area, group,
    organisation) whose present peers (not newcomers) of the same type have a mean engagement
    (summed in agent order), else NaN."""
    peer = model.present.copy()
    peer[slots] = False
    out = []
    for s in slots.tolist():
        value = np.nan
        for key, _ in model.climate_keys:
            if key[s] < 0:
                continue
            total, count = 0.0, 0
            for a in range(model.n_agents):
                if peer[a] and key[a] == key[s]:
                    total += float(model.engagement[a])
                    count += 1
            if count:
                value = total / count
                break
        out.append(value)
    return np.array(out)


@pytest.fixture(scope="module")
def eoe_model():
    from simulation.loader import load_scenario
    from simulation.model import CommissioningModel

    m = CommissioningModel(load_scenario("scenarios/east_of_england_2013.yaml", []),
                           collect=False)
    for _ in range(3):
        m.step()
    return m


@pytest.mark.parametrize("absent", [0.0, 0.5, 0.995])
def test_newcomer_climate_kernel_equals_numpy_and_loop(kern, eoe_model, monkeypatch, absent):
    m = eoe_model
    rng = np.random.default_rng(int(absent * 1000))
    present = m.present.copy()
    try:
        m.present = present & (rng.random(m.n_agents) >= absent)
        agent, key_all, slot_keys, n_all = m._climate_entries()
        for size in (0, 1, 7, 200):
            slots = np.sort(rng.choice(m.n_agents, size, replace=False)).astype(np.int64)
            got = kern.newcomer_climate(agent, key_all, n_all, m.present, m.engagement, slots,
                                        slot_keys)
            monkeypatch.setenv("COMMNET_KERNELS", "numpy")
            want = m._newcomer_climate(slots)
            monkeypatch.delenv("COMMNET_KERNELS")
            assert same(got, want)
            if size <= 7:
                assert same(got, _climate_loop(m, slots))
    finally:
        m.present = present


# ------------------------------------------------------------------ leavers
@pytest.mark.parametrize("n", [0, 1, 9, 1000])
@pytest.mark.parametrize("sensitivity,retention", [(0.0, 0.0), (2.0, 0.25), (400.0, 0.0)])
def test_leavers_kernel_equals_hazard_then_draws(kern, n, sensitivity, retention):
    from simulation.engagement import leave_hazard, monthly_rate

    rng = np.random.default_rng(n)
    e = rng.random(n)
    if n > 3:
        e[:3] = [0.0, 1.0, np.nan]  # bounds, and a NaN (never leaves, as with np.minimum)
    u = rng.random(n)
    present = rng.random(n) < 0.8
    got = kern.leavers(u, e, monthly_rate(0.3), sensitivity, retention, present)
    with np.errstate(invalid="ignore"):
        h = leave_hazard(e, 0.3, sensitivity, retention)
    assert same(got, np.flatnonzero((u < h) & present))
    base, loop = monthly_rate(0.3), []
    for i in range(n):
        x = base * (1.0 + sensitivity * (1.0 - float(e[i]))) * (1.0 - retention)
        cap = 1.0 if x > 1.0 else x  # a NaN stays NaN: never below it
        if present[i] and float(u[i]) < cap:
            loop.append(i)
    assert got.tolist() == loop


# ------------------------------------------------------------------ new ties, acceptance
@pytest.mark.parametrize("n,k", [(0, 0), (1, 3), (5, 40), (300, 2000)])
def test_new_tie_keys_equal_from_pairs(kern, n, k):
    rng = np.random.default_rng(k)
    a, b = rng.integers(0, max(n, 1), k), rng.integers(0, max(n, 1), k)
    keys, src, dst = kern.new_tie_keys(a, b, n)
    want = Ties.from_pairs(n, a, b, 0.3)
    assert same(keys, want.keys()) and same(src, want.src) and same(dst, want.dst)
    pairs = zip(a.tolist(), b.tolist(), strict=True)
    loop = sorted({min(x, y) * n + max(x, y) for x, y in pairs if x != y})
    assert keys.tolist() == loop


@pytest.mark.parametrize("k", [0, 1, 500])
@pytest.mark.parametrize("capacity", [1, 7, 1000])
def test_accept_capacity_equals_accept_by_capacity(kern, k, capacity):
    from simulation.tie_dynamics import accept_by_capacity

    rng = np.random.default_rng(k + capacity)
    degree = rng.integers(0, 12, 50)
    a, b, u = rng.integers(0, 50, k), rng.integers(0, 50, k), rng.random(k)
    got = kern.accept_capacity(a, b, degree, capacity, u)
    assert same(got, accept_by_capacity(a, b, degree, capacity, u))
    room = [min(1.0, max(0.0, 1.0 - int(d) / float(capacity))) for d in degree]
    assert got.tolist() == [bool(u[i] < room[a[i]] * room[b[i]]) for i in range(k)]


# ------------------------------------------------------------------ newcomers' engagement
@pytest.mark.parametrize("k", [0, 1, 300])
@pytest.mark.parametrize("c", [0.0, 0.4, 1.0])
def test_newcomer_beta_equals_the_numpy_draw(kern, k, c):
    from simulation.engagement import beta_parameters, draw_engagement

    rng = np.random.default_rng(k)
    clim = rng.random(k)
    clim[rng.random(k) < 0.3] = np.nan  # no peers at any level
    base = rng.choice([0.0, 1e-4, 0.5, 0.9995, 1.0], k) if k else np.empty(0)
    base[: k // 2] = rng.random(k // 2)
    sd = rng.choice([0.0, 0.01, 0.2, 5.0], k) if k else np.empty(0)
    mean, alpha, beta, fixed = kern.newcomer_beta(clim, base, sd, c)
    # the numpy path (model._newcomer_engagement, _draw_engagement, draw_engagement)
    want_mean = np.clip(np.where(np.isfinite(clim), (1.0 - c) * base + c * clim, base),
                        1e-3, 1.0 - 1e-3)
    want_sd = np.minimum(sd, 0.9 * np.sqrt(want_mean * (1.0 - want_mean)))
    a, b = beta_parameters(want_mean, want_sd)
    want_fixed = want_sd <= 0
    assert same(mean, want_mean) and same(fixed, want_fixed)
    assert same(alpha, np.where(want_fixed, 1.0, a)) and same(beta, np.where(want_fixed, 1.0, b))
    got = np.where(fixed, mean, np.random.default_rng(1).beta(alpha, beta))
    assert same(got, draw_engagement(np.random.default_rng(1), want_mean, want_sd))


# ------------------------------------------------------------------ the numpy path's insert
@pytest.mark.parametrize("m,k", [(0, 0), (0, 3), (5, 0), (40, 12), (40, 40)])
def test_inserter_equals_np_insert(m, k):
    from simulation.network import _inserter

    rng = np.random.default_rng(m + k)
    at = np.sort(rng.integers(0, m + 1, k))
    insert = _inserter(m, at)
    for arr, new in ((rng.integers(0, 9, m), rng.integers(0, 9, k)), (rng.random(m), rng.random(k)),
                     (rng.random(m) < 0.5, rng.random(k) < 0.5), (rng.random(m), rng.integers(0, 9, k))):
        assert same(insert(arr, new), np.insert(arr, at, new))


# ------------------------------------------------------------------ leavers' ties
@pytest.mark.parametrize("n,m,k", [(0, 0, 0), (1, 0, 1), (30, 0, 3), (30, 100, 5), (400, 3000, 60)])
def test_cap_incident_equals_incident_then_minimum(kern, n, m, k):
    rng = np.random.default_rng(n + m + k)
    t = _random_ties(rng, n, m)
    w = t.weight.copy()
    if w.size:
        w[0] = np.nan
    slots = np.sort(rng.choice(n, k, replace=False)).astype(np.int64) if n else np.empty(0, np.int64)
    want = w.copy()
    hit = t.incident(slots)
    want[hit] = np.minimum(want[hit], 0.3)
    indptr, _, tie = t._structure()
    got = w.copy()
    kern.cap_incident(indptr, tie, slots, got, 0.3)
    assert same(got, want)
    loop = w.copy()  # plain loop over the ties: an end among the slots
    chosen = set(slots.tolist())
    for e in range(t.m):
        if int(t.src[e]) in chosen or int(t.dst[e]) in chosen:
            loop[e] = loop[e] if np.isnan(loop[e]) else min(loop[e], 0.3)
    assert same(got, loop)
