"""Issue 24 (a lean step): the cached structures and fused calls of the model's meetings,
decisions and turnover give the values of the previous implementations, bit for bit, also
after the events that change the structure (a provider exit, a reorganisation)."""

import numpy as np
import pytest
import scipy.sparse as sp

from simulation import decisions, needs
from simulation.engagement import climate
from simulation.loader import load_scenario
from simulation.localities import _pairs, meet, meet_loop, pool
from simulation.model import CommissioningModel, _product


# ------------------------------------------------------------------ previous implementations
def pool_previous(members, weights, x):
    """pool as it was (hstack, errstate, the pairs recomputed)."""
    rows = np.repeat(np.arange(members.shape[0]), np.diff(members.indptr))
    cols, vals = members.indices, members.data
    w = vals * weights[cols]
    n_units = members.shape[0]
    total = np.bincount(rows, weights=w, minlength=n_units)
    parts = x if isinstance(x, tuple) else (x,)
    s = np.hstack([sp.csr_array((w, cols, members.indptr), shape=(n_units, a.shape[0])) @ a
                   for a in parts])
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = s / total[:, None]
    pooled[total <= 0] = np.nan
    return pooled, total


def meet_previous(x, members, weights, pooling_weight):
    """meet as it was (fancy indexing, a COO -> CSR matrix for agents in several units)."""
    parts = x if isinstance(x, tuple) else (x,)
    pooled, total = pool_previous(members, weights, x)
    rows = np.repeat(np.arange(members.shape[0]), np.diff(members.indptr))
    cols = members.indices
    att = (weights[cols] > 0) & (total[rows] > 0)
    rows, cols = rows[att], cols[att]
    n = parts[0].shape[0]
    count = np.bincount(cols, minlength=n)
    outs, col = [], 0
    single = count.max(initial=0) <= 1
    if not single:
        hit = np.flatnonzero(count > 0)
        at = np.searchsorted(hit, cols)
        T = sp.coo_array((np.ones(cols.size), (at, rows)),
                         shape=(hit.size, pooled.shape[0])).tocsr()
        target = (T @ pooled) / count[hit, None]
    for part in parts:
        k = part.shape[1]
        out = part.copy()
        if single:
            out[cols] = (1.0 - pooling_weight) * part[cols] + pooling_weight * pooled[rows, col:col + k]
        else:
            out[hit] = (1.0 - pooling_weight) * part[hit] + pooling_weight * target[:, col:col + k]
        outs.append(out)
        col += k
    return (tuple(outs) if isinstance(x, tuple) else outs[0]), pooled


def newcomer_climate_previous(m, slots):
    """The newcomers' climate as it was: climate() per level, first level with a value."""
    peers = m.present.copy()
    peers[slots] = False
    clim = np.full(slots.size, np.nan)
    for key, n_keys in m.climate_keys:
        c = climate(m.engagement, key, n_keys, peers)
        k = key[slots]
        fill = np.isnan(clim) & (k >= 0)
        clim[fill] = c[k[fill]]
    return clim


def dist(rng, n, k):
    x = rng.random((n, k))
    return x / x.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------ meetings
@pytest.mark.parametrize("n,units,p_member", [(0, 3, 0.5), (1, 1, 1.0), (25, 4, 0.3),
                                              (40, 6, 0.6), (30, 5, 0.0)])
def test_meet_and_pool_equal_the_previous_implementation_bit_for_bit(n, units, p_member):
    rng = np.random.default_rng(n + units)
    x, y = dist(rng, n, 5), dist(rng, n, 3)
    members = sp.csr_array((rng.random((units, n)) < p_member).astype(float))
    for w in (rng.random(n) * (rng.random(n) < 0.7), np.zeros(n), np.ones(n)):
        for arg in (x, (x, y)):
            got, pooled = meet(arg, members, w, 0.4)
            want, pooled_want = meet_previous(arg, members, w, 0.4)
            assert np.array_equal(pooled, pooled_want, equal_nan=True)
            for a, b in zip(got if isinstance(arg, tuple) else (got,),
                            want if isinstance(arg, tuple) else (want,), strict=True):
                assert np.array_equal(a, b)
            p, t = pool(members, w, arg)
            pp, tp = pool_previous(members, w, arg)
            assert np.array_equal(p, pp, equal_nan=True) and np.array_equal(t, tp)
    if n > 1:  # and the plain loop, to rounding
        w = rng.random(n)
        a, _ = meet(x, members, w, 0.4)
        b, _ = meet_loop(x, members, w, 0.4)
        np.testing.assert_allclose(a, b, atol=1e-14)


def test_pool_with_nan_weights_gives_nan_rows_as_before():
    rng = np.random.default_rng(3)
    x = dist(rng, 10, 4)
    members = sp.csr_array((rng.random((3, 10)) < 0.5).astype(float))
    w = rng.random(10)
    w[2] = np.nan
    p, t = pool(members, w, x)
    pp, tp = pool_previous(members, w, x)
    assert np.array_equal(p, pp, equal_nan=True) and np.array_equal(t, tp, equal_nan=True)


def test_unit_of_each_entry_is_recomputed_when_the_row_pointers_change():
    m = sp.csr_array(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    assert _pairs(m)[0].tolist() == [0, 0, 1]
    m.indptr = np.array([0, 1, 3], m.indptr.dtype)  # new row pointers, same object
    assert _pairs(m)[0].tolist() == [0, 1, 1]


def test_product_equals_scipy_matmul():
    rng = np.random.default_rng(4)
    a = sp.csr_array(rng.random((7, 9)) * (rng.random((7, 9)) < 0.4))
    x = rng.random((9, 6))
    assert np.array_equal(_product(a, x), a @ x)
    assert np.array_equal(_product(a.tocsc(), x), a @ x)  # any other format: scipy's product
    assert np.array_equal(_product(sp.csr_array((0, 9)), x), np.zeros((0, 6)))


# ------------------------------------------------------------------ row sums in the kernels
def test_decision_and_need_kernels_equal_their_previous_formulas():
    rng = np.random.default_rng(6)
    for n, k in ((0, 6), (1, 6), (13, 6), (9, 1), (5, 11)):
        cur, tgt = dist(rng, n, k), dist(rng, n, k)
        if n:
            tgt[0] = cur[0]  # no distance: theta 1 (no division by 0)
        d = 0.5 * np.abs(tgt - cur).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            theta = np.where(d > 0.05, 0.05 / d, 1.0)
        assert np.array_equal(decisions.incremental_step(cur, tgt, 0.05),
                              cur + theta[:, None] * (tgt - cur))
        a = 0.7 * cur + 0.3 * tgt
        assert np.array_equal(decisions.allocate(cur, tgt, 0.3), a / a.sum(axis=1, keepdims=True))
        eps = rng.standard_normal((n, k))
        out = cur * np.exp(0.1 * eps)
        assert np.array_equal(needs.drift(cur, 0.1, eps), out / out.sum(axis=1, keepdims=True))
        alpha = rng.random((n, k)) * 3
        g = np.random.default_rng(1).standard_gamma(np.maximum(alpha, 1e-12))
        tot = g.sum(axis=1, keepdims=True)
        want = np.where(tot > 0, g / np.where(tot > 0, tot, 1.0), 1.0 / k)
        assert np.array_equal(needs.dirichlet_rows(np.random.default_rng(1), alpha), want)


# ------------------------------------------------------------------ model caches and events
def _check_caches(m):
    seen = m._allocation_seen()
    assert np.array_equal(seen, m._allocation_seen_parts())
    rng = np.random.default_rng(m.month + 1000)
    slots = np.unique(rng.integers(0, m.n_agents, 12))
    assert np.array_equal(m._newcomer_climate(slots), newcomer_climate_previous(m, slots),
                          equal_nan=True)
    x = m.practice_need  # the stacked need aggregation: the three products' bits
    assert np.array_equal(m.area_need, m.area_matrix @ x)
    assert np.array_equal(m.group_need, m.group_matrix @ x)
    assert np.array_equal(m.truth, m.pop.scope @ x)
    area, in_area, board_in_area, area0 = m._locality_masks()
    p = m.pop
    assert area is p.area
    assert np.array_equal(in_area, m.front_line & (p.area >= 0))
    assert np.array_equal(board_in_area, m.front_line & (p.area >= 0) & m.on_board)
    assert np.array_equal(area0, np.maximum(p.area, 0))


def test_caches_follow_a_provider_exit(tiny):
    s = tiny.model_validate({**tiny.model_dump(), "events": [
        {"type": "provider_exit", "step": 2, "provider": "MH"}]})
    m = CommissioningModel(s, seed=3, collect=False)
    for _ in range(4):
        m.step()
        _check_caches(m)
    assert not m.pop.provider_serves[1].any()
    staff = np.flatnonzero((m.pop.kind == 2) & (m.pop.org == 1))
    assert np.array_equal(m.allocation_seen()[staff], np.full((staff.size, m.n_services),
                                                               1.0 / m.n_services))


def test_caches_follow_reorganisations():
    s = load_scenario("scenarios/east_of_england_2011_2026.yaml", ["scale=0.15"])
    s = s.model_validate({**s.model_dump(), "burn_in": 2})
    m = CommissioningModel(s, seed=5, collect=False)
    areas = {m.pop.n_areas}
    for _ in range(140):
        m.step()
        if m.month in (1, 23, 24, 25, 134, 135, 136):
            _check_caches(m)
        areas.add(m.pop.n_areas)
    assert len(areas) > 1  # the areas were rebuilt


def test_newcomers_climate_with_few_or_no_peers_left(tiny):
    m = CommissioningModel(tiny, seed=2, collect=False)
    slots = np.arange(m.n_agents)
    for present in (np.zeros(m.n_agents, bool), slots % 3 == 0, slots % 17 == 0):
        m.present[:] = present
        for chosen in (slots[:1], slots[:5], slots[::2], slots):
            got = m._newcomer_climate(chosen)
            assert np.array_equal(got, newcomer_climate_previous(m, chosen), equal_nan=True)
    m.present[:] = False
    assert np.isnan(m._newcomer_climate(slots[:4])).all()


# ------------------------------------------------------------------ decisions stacked
def _same_budget(a, b):
    for name in ("board", "local", "area", "group", "body"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert np.array_equal(x, y), name


def _decide_separately(m):
    """Reference of the model's three decisions (model, floor, ceiling), one
    :func:`simulation.decisions.decide` call each, as before the stacking."""
    from simulation import places

    s, p = m.spec, m.pop
    loc = s.localities.enabled
    kw = {"objective_weight": s.decisions.objective_weight, "max_shift": s.decisions.max_shift,
          "share": m.locality_share if loc else 0.0, "area_group": p.area_group,
          "area_population": m.area_population}
    local_obj = m.locality_objective if loc else None
    obj = m.meeting_objective
    body, body_floor, body_ceiling = places.decision_inputs(m)
    national = np.broadcast_to(m.national_need, m.meeting_view.shape)
    local_national = np.broadcast_to(m.national_need, m.locality_view.shape)
    budget = decisions.decide(m.budget, m.meeting_view, obj, m.locality_view if loc else None,
                              local_obj, **kw, **body)
    floor = decisions.decide(m.floor_budget, national, obj, local_national if loc else None,
                             local_obj, **kw, **body_floor)
    ceiling = decisions.decide(m.ceiling_budget, m.group_need, obj,
                               m.area_need if loc else None, local_obj, **kw, **body_ceiling)
    return budget, floor, ceiling


@pytest.mark.parametrize("path,overrides", [
    ("scenarios/east_of_england_2013.yaml", ["scale=0.3"]),
    ("scenarios/no_localities.yaml", ["scale=0.3"]),
    ("scenarios/icb_2022.yaml", ["scale=0.3"]),
    ("scenarios/east_of_england_2011_2026.yaml", ["scale=0.15"]),
])
def test_stacked_decision_equals_three_separate_decisions(path, overrides):
    s = load_scenario(path, overrides)
    s = s.model_validate({**s.model_dump(), "burn_in": 3})
    m = CommissioningModel(s, seed=8, collect=False)
    months = (1, 2, 25, 26, 136, 137) if "2011" in path else (1, 2, 3)
    for month in range(1, max(months) + 1):
        m.step()
        if month in months:
            ref = _decide_separately(m)
            m.decide()
            for got, want in zip((m.budget, m.floor_budget, m.ceiling_budget), ref, strict=True):
                _same_budget(got, want)


def test_one_unit_each_follows_the_matrix():
    from simulation.localities import _one_unit_each

    m = sp.csr_array(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    assert _one_unit_each(m)
    m.indices = np.array([0, 2, 0], m.indices.dtype)  # agent 0 now in both units
    assert not _one_unit_each(m)
    assert _one_unit_each(sp.csr_array((2, 0)))


@pytest.mark.parametrize("n", [0, 1, 7, 255, 256, 257, 1000])
def test_sum_rows_is_numpys_row_sum_on_either_side_of_the_switch(n):
    x = np.random.default_rng(n).random((n, 6)) * 10.0 ** np.random.default_rng(n + 1).integers(
        -8, 8, (n, 6))
    assert np.array_equal(needs.sum_rows(x), x.sum(axis=1))
