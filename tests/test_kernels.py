"""The compiled kernels of simulation._kernels: bit for bit equal to the numpy path they replace
and to plain-loop references, on random inputs with edge cases (no agents, one agent, no ties,
isolated agents, K below and above numpy's pairwise block of 8), with the kernels both compiled
by numba and run as plain Python; and whole model runs with COMMNET_KERNELS=numpy and =numba
equal bit for bit."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from simulation import _kernels
from simulation import exchange as ex
from simulation.knowledge_flows import noisy_observation, observation_noise, take_up, tie_relevance
from simulation.loader import load_scenario
from simulation.model import CommissioningModel
from simulation.network import Ties
from simulation.tie_dynamics import (
    accept_by_capacity,
    close_triads,
    update_weights,
    update_weights_loop,
)

ROOT = Path(__file__).resolve().parents[1]

try:
    import numba  # noqa: F401

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is a dependency
    HAVE_NUMBA = False


def _impls():
    """The kernels as plain Python (always) and compiled by numba (when importable)."""
    out = [pytest.param(_kernels._KERNELS, id="python")]
    out.append(pytest.param("numba", id="numba", marks=pytest.mark.skipif(
        not HAVE_NUMBA, reason="numba not installed")))
    return out


@pytest.fixture(params=_impls())
def kern(request, monkeypatch):
    if request.param == "numba":
        monkeypatch.setenv("COMMNET_KERNELS", "numba")
        return _kernels.kernels()
    from types import SimpleNamespace

    return SimpleNamespace(**request.param)


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


# ---------------------------------------------------------------------------------- the switch


def test_mode_reads_the_environment(monkeypatch):
    monkeypatch.delenv("COMMNET_KERNELS", raising=False)
    assert _kernels.mode() == "auto"
    for value, want in (("numpy", "numpy"), (" NUMBA ", "numba"), ("", "auto"), ("auto", "auto")):
        monkeypatch.setenv("COMMNET_KERNELS", value)
        assert _kernels.mode() == want
    monkeypatch.setenv("COMMNET_KERNELS", "cython")
    with pytest.raises(ValueError, match="COMMNET_KERNELS"):
        _kernels.mode()
    monkeypatch.setenv("COMMNET_KERNELS", "numpy")
    assert _kernels.kernels() is None


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")
def test_auto_and_numba_give_the_compiled_kernels(monkeypatch):
    monkeypatch.setenv("COMMNET_KERNELS", "auto")
    k = _kernels.kernels()
    assert k is not None and set(vars(k)) == set(_kernels._KERNELS)
    monkeypatch.setenv("COMMNET_KERNELS", "numba")
    assert _kernels.kernels() is k


def test_without_numba_auto_falls_back_and_numba_is_an_error(tmp_path):
    """A process where ``import numba`` fails: auto runs the numpy path, numba says why."""
    blocker = tmp_path / "numba.py"
    blocker.write_text("raise ImportError('no numba here')\n")
    code = ("import os\nfrom simulation import _kernels\n"
            "os.environ['COMMNET_KERNELS'] = 'auto'\nassert _kernels.kernels() is None\n"
            "os.environ['COMMNET_KERNELS'] = 'numba'\n"
            "try:\n    _kernels.kernels()\nexcept ImportError as e:\n    print('raised', e)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout
    assert "raised COMMNET_KERNELS=numba" in out and "no numba here" in out


def test_import_simulation_does_not_import_numba():
    code = ("import sys, simulation, simulation.model, simulation.cli\n"
            "print('numba' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


# ---------------------------------------------------------------------------------- observe


def _pairwise_loop(p):
    """numpy's pairwise sum of a short row (< 129 elements) as a plain loop."""
    k = len(p)
    if k < 8:
        s = 0.0
        for v in p:
            s += v
        return s
    r = list(p[:8])
    full = k - k % 8
    for i in range(8, full, 8):
        for j in range(8):
            r[j] += p[i + j]
    s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for i in range(full, k):
        s += p[i]
    return s


def _observe_loop(expo, seen, rate, eng, act, route, belief, private):
    n, k = expo.shape
    b, q = np.empty_like(belief), np.empty_like(private)
    for i in range(n):
        a = rate * eng[i] * float(act[i]) * route[i]
        p = [expo[i, j] * seen[i, j] for j in range(k)]
        s = _pairwise_loop(p)
        for j in range(k):
            g = a * (p[j] / s)
            b[i, j] = (1.0 - a) * belief[i, j] + g
            q[i, j] = (1.0 - a) * private[i, j] + g
    return b, q


@pytest.mark.parametrize("n,k", [(0, 6), (1, 1), (1, 6), (37, 3), (50, 6), (40, 8), (30, 13),
                                 (20, 16), (20, 27), (9, 128)])
def test_observe_kernels_equal_the_numpy_path_and_a_loop(kern, n, k):
    rng = np.random.default_rng(n * 131 + k)
    eng = rng.random(n)
    eng[: n // 5] = 0.0
    act = rng.random(n) < 0.6
    tf = rng.uniform(0.5, 2.0, n)
    route = rng.choice([0.0, 1.0, 0.7], n)
    seen = rng.dirichlet(np.ones(k), n) if n else np.empty((0, k))
    belief = rng.dirichlet(np.ones(k), n) if n else np.empty((0, k))
    private = rng.dirichlet(np.ones(k), n) if n else np.empty((0, k))
    eps = rng.standard_normal((n, k))
    base, kf, rate = 0.3, 1.7, 0.25
    # the numpy path of CommissioningModel.observe_need
    sd = observation_noise(eng, base, tf, kf)
    r = rate * eng * act * route
    obs = noisy_observation(seen, sd, eps)
    gain = r[:, None] * obs
    want_b, want_p = take_up(belief, obs, r, gain), take_up(private, obs, r, gain)
    arg = kern.observe_noise(base, tf, kf, eng, eps)
    assert same(arg, np.multiply(sd[:, None], eps))
    np.exp(arg, out=arg)
    got_b, got_p = kern.observe_take_up(arg, seen, rate, eng, act, route, belief, private)
    assert same(got_b, want_b) and same(got_p, want_p)
    loop_b, loop_p = _observe_loop(arg, seen, rate, eng, act, route, belief, private)
    assert same(got_b, loop_b) and same(got_p, loop_p)


# ---------------------------------------------------------------------------------- exchange


def _random_ties(rng, n, m, zero_rows=0):
    if n < 2 or m == 0:
        return Ties(n, np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    a = rng.integers(zero_rows, n, m)
    b = rng.integers(zero_rows, n, m)
    return Ties.from_pairs(n, a, b, rng.uniform(0.01, 1.0, m))


def _exchange_numpy(t, act, eng, belief, objective, rel, e_rate, o_rate, pull, move_belief,
                    board, last_contact, month):
    """The numpy path of CommissioningModel.exchange_knowledge (weights > 0, DeGroot)."""
    n = act.size
    used = act[t.src] & act[t.dst]
    d = t.weight * used
    trust = None
    if rel is not None:
        trust = np.bincount(t.src, d, n) + np.bincount(t.dst, d, n)
        d = d * rel
    W = t.csr(d, entries=used)
    exchanges = np.diff(W.indptr).astype(np.int64)
    rows = board[exchanges[board] > 0]
    last_contact[rows] = month
    from simulation._numeric import row_positions

    last_contact[W.indices[row_positions(W.indptr, rows)]] = month
    rate = e_rate * eng * act
    obj_rate = o_rate * eng * act
    if move_belief:
        belief, obj = ex._degroot_steps(W, [belief, objective], [rate, obj_rate], trust)
    else:
        (obj,) = ex._degroot_steps(W, [objective], [obj_rate], trust)
    p = pull * eng[:, None] * act[:, None]
    return used, exchanges, belief, (1.0 - p) * obj + p * belief


def _exchange_loop(t, act, eng, belief, objective, rel, e_rate, o_rate, pull, move_belief,
                   board, last_contact, month):
    """Plain loops over agents and their ties (in ascending neighbour order)."""
    n = act.size
    used = np.array([bool(act[s] and act[d]) for s, d in zip(t.src, t.dst, strict=True)], bool)
    nbrs = [[] for _ in range(n)]
    for e in range(t.m):
        nbrs[t.dst[e]].append((t.src[e], e))
    for e in range(t.m):
        nbrs[t.src[e]].append((t.dst[e], e))
    trust_s, trust_d = np.zeros(n), np.zeros(n)
    for e in range(t.m):
        de = t.weight[e] * float(used[e])
        trust_s[t.src[e]] += de
        trust_d[t.dst[e]] += de
    exchanges = np.zeros(n, np.int64)
    new_b, new_o = belief.copy(), objective.copy()
    for i in range(n):
        row = [(j, e) for j, e in nbrs[i] if used[e]]
        exchanges[i] = len(row)
        if not row:
            continue
        ds = [t.weight[e] * (rel[e] if rel is not None else 1.0) for _, e in row]
        s = 0.0
        for v in ds:
            s += v
        if rel is not None:
            tr = trust_s[i] + trust_d[i]
            denom = tr if tr > 0 else 1.0
            kept = s / denom
        else:
            denom, kept = s, 1.0
        for x, out, r0 in ((belief, new_b, e_rate), (objective, new_o, o_rate)):
            if x is belief and not move_belief:
                continue
            r = r0 * eng[i] * float(act[i])
            for k in range(x.shape[1]):
                acc = 0.0
                for (j, _), v in zip(row, ds, strict=True):
                    acc += v * x[j, k]
                out[i, k] = acc * (r / denom) + (1.0 - r * kept) * x[i, k]
        if i in set(board.tolist()):
            last_contact[i] = month
            for j, _ in row:
                last_contact[j] = month
    p = pull * eng * act
    return used, exchanges, new_b, (1.0 - p[:, None]) * new_o + p[:, None] * new_b


@pytest.mark.parametrize("n,m,k,relevance,move", [
    (0, 0, 6, 0.2, True), (1, 0, 6, 0.2, True), (2, 1, 6, 0.2, True), (40, 0, 6, 0.2, True),
    (60, 150, 6, 0.2, True), (60, 150, 6, 1.0, True), (60, 150, 6, 0.2, False),
    (200, 900, 9, 0.35, True), (300, 600, 3, 1.0, True), (80, 40, 6, 0.2, True),
    # the kernel keeps the first 8 columns in registers, further ones in arrays: 1-16 columns
    (50, 200, 1, 0.2, True), (50, 200, 8, 0.2, True), (50, 200, 8, 1.0, False),
    (60, 300, 12, 0.2, False), (70, 300, 16, 1.0, True), (70, 300, 2, 0.2, True),
])
@pytest.mark.parametrize("special", [False, True])
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # NaN, inf
def test_exchange_kernel_equals_the_numpy_path_and_a_loop(kern, n, m, k, relevance, move,
                                                          special):
    rng = np.random.default_rng(n + 7 * m + k)
    t = _random_ties(rng, n, m, zero_rows=3 if n > 5 else 0)  # agents 0-2 without ties
    act = rng.random(n) < 0.7
    eng = rng.random(n)
    belief = rng.dirichlet(np.ones(k), n) if n else np.empty((0, k))
    objective = rng.dirichlet(np.ones(k), n) if n else np.empty((0, k))
    if special and n:  # NaN, inf and -0.0 in the states propagate as on the numpy path
        for x in (belief, objective):
            x.flat[rng.integers(0, x.size, 3)] = np.nan
            x.flat[rng.integers(0, x.size, 2)] = np.inf
            x.flat[rng.integers(0, x.size, 2)] = -0.0
    group = rng.integers(0, 3, n)
    rel = None
    if relevance != 1.0:
        rel = np.where(group[t.src] == group[t.dst], 1.0, relevance)
        if t.m:
            rel[:: 7] = 0.0  # a tie with no relevance: trust without influence
    board = np.flatnonzero(rng.random(n) < 0.2).astype(np.int64)
    lc0 = rng.integers(-5, 3, n).astype(np.int64)
    args = (0.3, 0.15, 0.1, move)
    want_lc, loop_lc, got_lc = lc0.copy(), lc0.copy(), lc0.copy()
    want = _exchange_numpy(t, act, eng, belief, objective, rel, *args, board, want_lc, 9)
    indptr, indices, tie = t._structure()
    got = kern.exchange_degroot(t.src, t.dst, t.weight, act, t.weight if rel is None else rel,
                                rel is not None, indptr, indices, tie, eng, *args[:3], belief,
                                objective, move, board, got_lc, 9)
    for g, w in zip(got, want, strict=True):
        assert same(g, w)
    assert same(got_lc, want_lc)
    loop = _exchange_loop(t, act, eng, belief, objective, rel, *args, board, loop_lc, 9)
    for g, w in zip(got, loop, strict=True):
        assert same(g, w)
    assert same(got_lc, loop_lc)


# ---------------------------------------------------------------------------------- ties


@pytest.mark.parametrize("m", [0, 1, 50, 2000])
def test_tie_weights_equal_update_weights(kern, m):
    rng = np.random.default_rng(m)
    w = rng.uniform(0.0, 1.0, m)
    used = rng.random(m) < 0.4
    out, lasting = kern.tie_weights(w, used, 0.1, 0.03, 0.2, 0.3)
    want = update_weights(w, used, 0.1, 0.03, 0.2)
    assert same(out, want) and same(out, update_weights_loop(w, used, 0.1, 0.03, 0.2))
    assert same(lasting, want >= 0.3)


def _triads_loop(t, lasting, starters, u1, u2):
    n = t.n
    nb = [[] for _ in range(n)]
    for e in range(t.m):
        if lasting[e]:
            nb[t.src[e]].append(t.dst[e])
            nb[t.dst[e]].append(t.src[e])
    nb = [sorted(x) for x in nb]
    a, b = [], []
    for s, i in enumerate(starters):
        if not nb[i]:
            continue
        j = nb[i][int(np.floor(u1[s] * len(nb[i])))]
        k = nb[j][int(np.floor(u2[s] * len(nb[j])))]
        if k != i:
            a.append(i)
            b.append(k)
    return np.array(a, np.int64), np.array(b, np.int64), np.array([len(x) for x in nb], np.int64)


@pytest.mark.parametrize("share", [0.0, 0.8, 1.0])
@pytest.mark.parametrize("n,m", [(0, 0), (1, 0), (5, 3), (100, 300), (400, 3000)])
def test_kept_triads_equal_close_triads_on_the_kept_pattern(kern, n, m, share):
    rng = np.random.default_rng(n + m)
    t = _random_ties(rng, n, m)
    lasting = rng.random(t.m) < share
    starters = np.flatnonzero(rng.random(n) < 0.5)
    u = rng.random((2, starters.size))
    a, b, deg = kern.kept_triads(*t._structure(), t.src, t.dst, lasting, starters, u[0], u[1])
    nbrs = t.pattern(lasting)
    wa, wb = close_triads(nbrs, starters, u[0], u[1])
    assert same(a, wa) and same(b, wb)
    assert np.array_equal(deg, np.diff(nbrs.indptr))
    la, lb, ldeg = _triads_loop(t, lasting, starters, u[0], u[1])
    assert same(a, la) and same(b, lb) and same(deg, ldeg)
    acc = rng.random(a.size)
    assert same(accept_by_capacity(a, b, deg, 7, acc),
                accept_by_capacity(wa, wb, np.diff(nbrs.indptr), 7, acc))


@pytest.mark.parametrize("n,m,new", [(10, 0, 5), (10, 20, 0), (30, 60, 1), (30, 60, 40),
                                     (500, 3000, 300), (50, 600, 600)])
def test_ties_add_equals_the_numpy_merge(monkeypatch, n, m, new):
    rng = np.random.default_rng(n + m + new)
    group = rng.integers(0, 3, n)
    rel = partial(lambda s, d, g: np.where(g[s] == g[d], 1.0, 0.2), g=group)

    def run(value):
        monkeypatch.setenv("COMMNET_KERNELS", value)
        t = _random_ties(np.random.default_rng(1), n, m)
        t.per_tie("rel", rel)
        r = np.random.default_rng(2)
        out = t.add(r.integers(0, n, new), r.integers(0, n, new), r.uniform(0.0, 1.0, new),
                    kernels=_kernels.kernels())
        return out, out.keys(), out.per_tie("rel", rel)

    want = run("numpy")
    for value in (["numba"] if HAVE_NUMBA else []):
        got = run(value)
        for attr in ("src", "dst", "weight"):
            assert same(getattr(got[0], attr), getattr(want[0], attr))
        assert same(got[1], want[1]) and same(got[2], want[2])
        assert not got[1].flags.writeable and not got[2].flags.writeable
        assert same(got[2], rel(got[0].src, got[0].dst))


def test_merge_and_insert_kernels_equal_np_insert(kern):
    rng = np.random.default_rng(3)
    for m, k in ((0, 0), (0, 4), (5, 0), (40, 12), (40, 40)):
        keys = np.unique(rng.integers(0, 100, m)).astype(np.int64)
        nk = np.unique(rng.integers(0, 100, k)).astype(np.int64)
        w, nw = rng.random(keys.size), rng.random(nk.size)
        src, dst, weight, merged, at, fresh = kern.merge_ties(keys, keys // 10, keys % 10, w,
                                                              nk, nk // 10, nk % 10, nw)
        pos = np.searchsorted(keys, nk)
        exists = np.isin(nk, keys)
        ww = w.copy()
        ww[pos[exists]] = np.maximum(ww[pos[exists]], nw[exists])
        assert same(fresh, ~exists) and same(at, pos[~exists])
        assert same(merged, np.insert(keys, pos[~exists], nk[~exists]))
        assert same(weight, np.insert(ww, pos[~exists], nw[~exists]))
        assert same(src, merged // 10) and same(dst, merged % 10)
        v = rng.random(keys.size)
        assert same(kern.insert_sorted(v, at, nw[fresh]), np.insert(v, at, nw[fresh]))


# ---------------------------------------------------------------------------------- whole runs


def _final_state(path, overrides, seed, steps, value, monkeypatch):
    monkeypatch.setenv("COMMNET_KERNELS", value)
    m = CommissioningModel(load_scenario(path, overrides), seed=seed)
    for _ in range(steps):
        m.step()
    df = m.datacollector.get_model_vars_dataframe()
    return {"belief": m.belief, "objective": m.objective, "private": m.private,
            "engagement": m.engagement, "last_contact": m.last_contact,
            "src": m.ties.src, "dst": m.ties.dst, "weight": m.ties.weight,
            "exchanges": m.exchanges, **{c: np.asarray(df[c].tolist()) for c in df.columns
                                         if df[c].dtype.kind in "fiub"}}


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")
@pytest.mark.parametrize("overrides", [[], ["exchange.source_relevance=1"],
                                       ["knowledge_routes.informal_ties=false"],
                                       ["exchange.rule=friedkin_johnsen"]])
def test_model_runs_are_bitwise_equal_on_both_paths(tiny_path, monkeypatch, overrides):
    a = _final_state(tiny_path, overrides, 3, 12, "numpy", monkeypatch)
    b = _final_state(tiny_path, overrides, 3, 12, "numba", monkeypatch)
    assert a.keys() == b.keys()
    for key in a:
        assert same(a[key], b[key]), key


def test_relevance_kernel_input_is_the_per_tie_values(tiny):
    """The compiled exchange reads the same per-tie source relevance as the numpy path."""
    m = CommissioningModel(tiny, seed=1)
    t = m.ties
    e = m.spec.exchange
    got = t.per_tie(("source_relevance", e.source_relevance, id(m.serving_bits)),
                    partial(tie_relevance, bits=m.serving_bits, relevance=e.source_relevance))
    assert same(got, tie_relevance(t.src, t.dst, m.serving_bits, e.source_relevance))


def test_auto_loads_numba_only_for_work_that_pays(monkeypatch):
    """``auto`` does not import numba for a caller below AUTO_MIN_WORK agent-months unless the
    kernels are loaded already; at or above it (or with unknown work) it loads them."""
    monkeypatch.setenv("COMMNET_KERNELS", "auto")
    monkeypatch.setattr(_kernels, "_compiled", None)
    monkeypatch.setattr(_kernels, "_tried", False)
    small = _kernels.AUTO_MIN_WORK - 1
    assert _kernels.kernels(small) is None
    assert not _kernels.loaded() and not _kernels._tried  # nothing imported for it
    monkeypatch.setenv("COMMNET_KERNELS", "numpy")
    assert _kernels.kernels(10 * _kernels.AUTO_MIN_WORK) is None
    if HAVE_NUMBA:
        monkeypatch.setenv("COMMNET_KERNELS", "auto")
        k = _kernels.kernels(_kernels.AUTO_MIN_WORK)
        assert k is not None and _kernels.loaded()
        assert _kernels.kernels(small) is k  # loaded: used for everything
        monkeypatch.setenv("COMMNET_KERNELS", "numba")
        monkeypatch.setattr(_kernels, "_compiled", None)
        monkeypatch.setattr(_kernels, "_tried", False)
        assert _kernels.kernels(small) is not None  # numba: whatever the work


def test_model_announces_its_agent_months():
    from simulation.loader import load_scenario
    from simulation.model import CommissioningModel

    s = load_scenario(ROOT / "scenarios/teaching.yaml", ["burn_in=3", "steps=5"])
    m = CommissioningModel(s, seed=1, collect=False)
    assert m.kernel_work == m.n_agents * 8


# ---------------------------------------------------------------------------------- meetings


def _members(rng, n_units, n, two_units):
    """A random 0/1 membership matrix: each agent in at most one unit (localities), or, with
    ``two_units``, some agents in two units (boards); some units empty."""
    import scipy.sparse as sp

    unit = rng.integers(-1, n_units, n)
    rows, cols = [unit[unit >= 0]], [np.flatnonzero(unit >= 0)]
    if two_units and n_units > 1:
        extra = np.flatnonzero((unit >= 0) & (rng.random(n) < 0.3))
        other = (unit[extra] + 1 + rng.integers(0, n_units - 1, extra.size)) % n_units
        rows.append(other)
        cols.append(extra)
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_array((np.ones(r.size), (r, c)), shape=(n_units, n))


@pytest.mark.parametrize("k", [1, 2, 7, 8, 9, 20])
@pytest.mark.parametrize("n_units,n", [(0, 5), (1, 1), (3, 0), (1, 6), (4, 30), (40, 500)])
@pytest.mark.parametrize("two_units", [False, True])
def test_meet_kernel_equals_the_numpy_meet_and_a_loop(kern, k, n_units, n, two_units):
    """``meet`` with the compiled kernel gives the numpy path's bits (one array and a tuple
    of two), incl. empty units, one member, zero weights and agents in two units."""
    from simulation.localities import meet, meet_loop

    rng = np.random.default_rng(1000 * k + 10 * n_units + n + two_units)
    members = _members(rng, n_units, n, two_units)
    w = rng.uniform(0.0, 1.5, n) * (rng.random(n) < 0.7)  # zeros: absent
    if n_units >= 4:
        w[members.indices[members.indptr[0]:members.indptr[1]]] = 0.0  # a unit nobody attends
    x = rng.uniform(-1.0, 1.0, (n, k))
    y = rng.uniform(0.0, 1.0, (n, k + 3))
    for pw in (0.0, 0.3, 1.0):
        want, want_p = meet(x, members, w, pw)
        got, got_p = meet(x, members, w, pw, kernels=kern)
        assert same(got, want) and same(got_p, want_p)
        loop, loop_p = meet_loop(x, members, w, pw)
        assert np.allclose(got, loop, rtol=1e-12, atol=1e-12)
        assert np.allclose(got_p, loop_p, rtol=1e-12, atol=1e-12, equal_nan=True)
        (wx, wy), want_p = meet((x, y), members, w, pw)
        (gx, gy), got_p = meet((x, y), members, w, pw, kernels=kern)
        assert same(gx, wx) and same(gy, wy) and same(got_p, want_p)
        (wx,), want_p = meet((x,), members, w, pw)
        (gx,), got_p = meet((x,), members, w, pw, kernels=kern)
        assert same(gx, wx) and same(got_p, want_p)
    if n_units and members.nnz:
        assert np.isnan(want_p[~(np.bincount(
            np.repeat(np.arange(n_units), np.diff(members.indptr)),
            weights=w[members.indices], minlength=n_units) > 0)]).all()


def test_meet_kernel_two_units_takes_the_mean_of_the_pools(kern):
    """An agent on two boards moves toward the mean of both pooled views (both paths)."""
    import scipy.sparse as sp

    from simulation.localities import meet

    members = sp.csr_array(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]))
    w = np.array([1.0, 2.0, 0.5])
    x = np.array([[0.1, 0.9], [0.4, 0.2], [0.8, 0.3]])
    want, want_p = meet(x, members, w, 0.5)
    got, got_p = meet(x, members, w, 0.5, kernels=kern)
    assert same(got, want) and same(got_p, want_p)
    assert not np.array_equal(got[1], x[1])


@pytest.mark.parametrize("k", [3, 6, 8, 11])
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # NaN, inf
def test_meet_kernel_keeps_nan_inf_and_signed_zeros_as_numpy(kern, k):
    """Non-finite and -0.0 states pool and move as on the numpy path (the kernel sums the
    first 8 columns in registers, further ones in an array)."""
    from simulation.localities import meet

    rng = np.random.default_rng(k)
    members = _members(rng, 6, 80, False)
    w = rng.uniform(0.0, 1.5, 80) * (rng.random(80) < 0.7)
    x = rng.uniform(-1.0, 1.0, (80, k))
    y = rng.uniform(0.0, 1.0, (80, k + 1))
    for z in (x, y):
        z.flat[rng.integers(0, z.size, 3)] = np.nan
        z.flat[rng.integers(0, z.size, 2)] = -np.inf
        z.flat[rng.integers(0, z.size, 4)] = -0.0
    (wx, wy), want_p = meet((x, y), members, w, 0.4)
    (gx, gy), got_p = meet((x, y), members, w, 0.4, kernels=kern)
    assert same(gx, wx) and same(gy, wy) and same(got_p, want_p)
    assert np.signbit(gx).tolist() == np.signbit(wx).tolist()
    assert np.signbit(got_p).tolist() == np.signbit(want_p).tolist()


def test_a_ctrl_c_inside_numba_is_raised_as_keyboard_interrupt():
    """numba's C dispatcher reports a KeyboardInterrupt that arrived in its Python code
    (loading a kernel from the cache, compiling) as a SystemError; the kernels raise it
    again as the KeyboardInterrupt, so `commnet run` keeps the finished replicates and exits
    130 (tests/test_scenarios.py::test_ctrl_c_keeps_finished_replicates)."""

    def interrupted(*args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise SystemError("returned a result with an exception set") from exc

    def failing(*args):
        raise SystemError("something else")

    def kernel(x):
        """doc"""
        return x

    call = _kernels._interruptible(interrupted, kernel)
    assert call.__name__ == "kernel" and call.__doc__ == "doc"
    with pytest.raises(KeyboardInterrupt):
        call(1)
    with pytest.raises(SystemError, match="something else"):
        _kernels._interruptible(failing, kernel)(1)
    assert _kernels._interruptible(lambda x: x + 1, kernel)(1) == 2
