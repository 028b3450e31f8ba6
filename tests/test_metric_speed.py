"""The metrics' shortcuts against their previous implementations (issue 24): shared group
indexes, the overall mean, the survey shares' kept (respondent, body) pairs.  Each must give
the previous numbers bit for bit."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from simulation import reporters as R
from simulation._numeric import csr_product
from simulation.measures import GroupIndex, dispersion_by_group, mean_by_group, tv_distance
from simulation.measures.knowledge import _group_index, _group_sums


# ------------------------------------------------------------------ previous implementations
def _old_sorted_means(values, rows, g, n_groups, weights):
    n = values.shape[0]
    kind = g.dtype if np.issubdtype(g.dtype, np.integer) and np.iinfo(g.dtype).max > n_groups \
        else np.int64
    indptr = np.searchsorted(g, np.arange(n_groups + 1, dtype=kind)).astype(np.int64)
    rows = np.asarray(rows, np.int64)
    if weights is None:
        data = np.ones(rows.size)
        totals = np.diff(indptr).astype(float)
    else:
        data = np.asarray(weights, dtype=float)[rows]
        totals = csr_product(indptr, rows, data, np.ones(n), n_groups)
    sums = csr_product(indptr, rows, data, values, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sums / (totals if sums.ndim == 1 else totals[:, None])
    out[totals <= 0] = np.nan
    return out


def old_mean_by_group(values, group, n_groups, mask=None, weights=None):
    """mean_by_group as it was before GroupIndex (main at 0056868)."""
    values = np.asarray(values, dtype=float)
    group, keep = _group_index(group, n_groups, mask)
    rows = np.flatnonzero(keep)
    g = group[rows]
    if g.size > 64 and bool((g[1:] >= g[:-1]).all()):
        return _old_sorted_means(values, rows, g, n_groups, weights)
    if weights is None:
        w = None
        totals = np.bincount(g, minlength=n_groups)[:n_groups].astype(float)
    else:
        w = np.asarray(weights, dtype=float)[keep]
        totals = np.bincount(g, weights=w, minlength=n_groups)[:n_groups]
    sums = _group_sums(values[keep], g, n_groups, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sums / (totals if sums.ndim == 1 else totals[:, None])
    out[totals <= 0] = np.nan
    return out


def old_dispersion_by_group(beliefs, group, n_groups, mask=None, weights=None):
    b = np.asarray(beliefs, dtype=float)
    means = old_mean_by_group(b, group, n_groups, mask=mask, weights=weights)
    group, keep = _group_index(group, n_groups, mask)
    g = group[keep]
    dist = tv_distance(b[keep], means[g])
    return old_mean_by_group(dist, g, n_groups,
                             weights=None if weights is None else np.asarray(weights)[keep])


def old_overall(w, values):
    v = np.asarray(values, float).ravel()
    ok = np.isfinite(v)
    out = np.empty(v.size + 1)
    out[:-1] = v
    if v.size and ok.all():
        out[-1] = float(np.sum(w * v) / w.sum())
    else:
        out[-1] = float(np.sum(w[ok] * v[ok]) / w[ok].sum()) if ok.any() else np.nan
    return out


def _cases(rng):
    """(group, n_groups, mask, weights, values) covering both kernels and the edges."""
    out = []
    for n, G, sort in ((500, 7, True), (500, 7, False), (40, 3, True), (1, 1, True),
                       (0, 2, True), (300, 1, True), (200, 9, True)):
        group = rng.integers(-1, G, n).astype(np.int32 if n % 2 else np.int64)
        if sort:
            group = np.sort(group)
        mask = rng.random(n) < 0.8
        w = rng.random(n) * 10.0 ** rng.uniform(-3, 3, n)
        if n > 3:
            w[:3] = 0.0  # zero weights: a group may have zero total weight
        x1 = rng.standard_normal(n) * 10.0 ** rng.uniform(-5, 5, n)
        if n > 10:
            x1[rng.integers(0, n, 3)] = np.nan  # NaN values where they occur (reflection)
        x2 = rng.dirichlet(np.ones(5), n) if n else np.zeros((0, 5))
        for m in (None, mask, np.zeros(n, bool)):
            for weights in (None, w):
                for x in (x1, x2):
                    out.append((group, G, m, weights, x))
    return out


def _same(a, b):
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def test_group_index_means_are_the_previous_mean_by_group_bit_for_bit():
    rng = np.random.default_rng(24)
    for group, G, mask, weights, x in _cases(rng):
        want = old_mean_by_group(x, group, G, mask=mask, weights=weights)
        index = GroupIndex(group, G, mask)
        assert _same(index.mean(x, weights), want)
        assert _same(index.mean(x, weights), want)  # reused: the kept counts change nothing
        assert _same(mean_by_group(x, group, G, mask=mask, weights=weights), want)
        labels = group[group >= 0]
        if bool((labels[1:] >= labels[:-1]).all()):  # the caller's guarantee, check skipped
            assert _same(GroupIndex(group, G, mask, labels_sorted=True).mean(x, weights), want)


def test_group_index_dispersion_is_the_previous_dispersion_by_group_bit_for_bit():
    rng = np.random.default_rng(7)
    for group, G, mask, weights, x in _cases(rng):
        if x.ndim != 2:
            continue
        want = old_dispersion_by_group(x, group, G, mask=mask, weights=weights)
        assert _same(GroupIndex(group, G, mask).dispersion(x, weights), want)
        assert _same(dispersion_by_group(x, group, G, mask=mask, weights=weights), want)


def test_group_index_checks_its_inputs_as_mean_by_group_did():
    with pytest.raises(ValueError):
        GroupIndex(np.array([3]), 2)
    with pytest.raises(ValueError):
        GroupIndex(np.array([0, 1]), 2).mean(np.ones(3))
    with pytest.raises(TypeError):
        GroupIndex(np.array([0.5]), 2)


def test_overall_is_the_previous_overall_bit_for_bit():
    rng = np.random.default_rng(3)
    for G in (0, 1, 5, 45, 211):
        w = rng.integers(1_000, 500_000, G).astype(float)
        model = SimpleNamespace(pop=SimpleNamespace(group_population=w.astype(np.int64)))
        for v in (rng.random(G), rng.standard_normal(G) * 1e300, np.full(G, np.nan)):
            for bad in (None, np.nan, np.inf, -np.inf):
                v = v.copy()
                if bad is not None and G:
                    v[rng.integers(0, G)] = bad
                with np.errstate(over="ignore", invalid="ignore"):
                    want = old_overall(w, v)
                    got = R._overall(model, v)
                assert np.array_equal(got, want, equal_nan=True)
                assert _same(got, want)


# ------------------------------------------------------------------ the survey shares
def old_survey_share(model, agree, cls, known=True):
    """The survey share as it was (main at 0056868): every (respondent, body) pair counted
    with np.bincount, the pairs deduplicated afresh."""
    rows, cols = model.serving_pairs
    keep = np.flatnonzero(R._respondents(model, cls)[rows])
    rows, cols = rows[keep], cols[keep]
    g = model.n_groups
    gb = model.pop.group_body
    if gb is None or not (gb >= 0).any():
        at, unit, n_units, unit_of = rows, cols, g, None
    else:
        unit_of = np.where(gb >= 0, g + gb, np.arange(g))
        pairs = np.unique(np.stack([rows, unit_of[cols]]), axis=1)
        at, unit, n_units = pairs[0], pairs[1], g + model.pop.n_bodies
    if known is True:
        den = np.bincount(unit, minlength=n_units).astype(float)
        ok = agree[at]
    else:
        k = np.asarray(known, bool)[at]
        den = np.bincount(unit[k], minlength=n_units).astype(float)
        ok = k & agree[at]
    num = np.bincount(unit[ok], minlength=n_units).astype(float)
    if unit_of is not None:
        den, num = den[unit_of], num[unit_of]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    w = model.pop.group_population.astype(float)
    return old_overall(w, share)


def _old_survey_values(model):
    d, q = model.spec.decisions, model.spec.survey_questions
    informed = model.last_contact > model.month - d.informed_window
    known = np.isfinite(model.reflect)
    agree = {"engaged_high": (model.engagement >= q.engaged_high, True),
             "engaged_some": (model.engagement >= q.engaged_some, True),
             "influence": (model.engagement >= d.influence_threshold, True),
             "reflected": (model.reflect >= d.reflect_threshold, known),
             "informed": (informed, True),
             "acted_on": (informed & model.moved_toward, known)}
    return {f"survey_{name}_{c}": old_survey_share(model, a, c, k)
            for name, (a, k) in agree.items() for c in ("formal", "other", "stakeholder")}


def test_survey_shares_with_kept_pairs_equal_counting_afresh_through_reorganisations():
    # the 2011-2026 history: PCTs (an upper level), the CCG era without one (reorganise at
    # month 24), the ICBs (reorganise at month 135); turnover and presence change the
    # respondents every month.  Every month's collected survey shares must be the previous
    # implementation's, computed afresh from the model's state.
    from simulation.loader import load_scenario
    from simulation.model import CommissioningModel

    s = load_scenario("scenarios/east_of_england_2011_2026.yaml", ["scale=0.1", "burn_in=0"])
    m = CommissioningModel(s, seed=3)
    seen_bodies = set()
    for _ in range(140):
        m.step()
        seen_bodies.add(m.pop.n_bodies)
        want = _old_survey_values(m)
        for name, value in want.items():
            got = m.datacollector.model_vars[name][-1]
            assert _same(got, value), (m.month, name)
    assert seen_bodies >= {0, 2, 3}  # PCTs, none, ICBs: each structure was collected


def test_kept_survey_pairs_follow_a_change_of_respondents():
    from simulation.loader import load_scenario
    from simulation.model import CommissioningModel

    s = load_scenario("scenarios/icb_2022.yaml", ["scale=0.2", "burn_in=0"])
    m = CommissioningModel(s, seed=5)
    m.step()
    cls = "stakeholder"
    first = R._kept_pairs(m, cls)
    assert R._kept_pairs(m, cls) is first  # unchanged: kept
    who = np.flatnonzero(R._respondents(m, cls))[:3]
    m.present[who] = False  # three respondents absent: recomputed
    second = R._kept_pairs(m, cls)
    assert second is not first
    assert second[1].size < first[1].size
    for name, value in _old_survey_values(m).items():
        assert _same(R.METRICS[name].reporter(m), value), name


# ------------------------------------------------------------------ coherence, boards
def old_weighted_row_means(weight_matrix, objectives):
    import scipy.sparse as sp

    if sp.issparse(weight_matrix):
        w = weight_matrix if (isinstance(weight_matrix, sp.csr_array)
                              and weight_matrix.dtype == np.float64) \
            else sp.csr_array(weight_matrix, dtype=float)
        totals = np.asarray(w.sum(axis=1)).ravel()
        sums = np.asarray(w @ objectives)
    else:
        w = np.asarray(weight_matrix, dtype=float)
        totals = w.sum(axis=1)
        sums = w @ objectives
    if np.any(w.data < 0 if sp.issparse(w) else w < 0):
        raise ValueError("weight matrices must be non-negative")
    has = totals > 0
    means = np.zeros_like(sums)
    means[has] = sums[has] / totals[has, None]
    return means, has


def old_system_objective(la_obj, provider_obj, national, la_w, provider_w):
    la_mean, has_la = old_weighted_row_means(la_w, np.asarray(la_obj, dtype=float))
    p_mean, has_p = old_weighted_row_means(provider_w, np.asarray(provider_obj, dtype=float))
    nat = np.broadcast_to(np.asarray(national, dtype=float), la_mean.shape)
    parts = has_la.astype(float) + has_p.astype(float) + 1.0
    mix = (la_mean + p_mean + nat) / parts[:, None]
    return mix / mix.sum(axis=1, keepdims=True)


def test_system_weights_give_the_previous_system_objective_bit_for_bit():
    import scipy.sparse as sp

    from simulation.measures import SystemWeights, system_objective

    rng = np.random.default_rng(11)
    for G, n_la, n_p, K in ((1, 1, 1, 1), (5, 3, 7, 6), (211, 116, 241, 6), (40, 9, 30, 8)):
        la_w = (rng.random((G, n_la)) < 0.3) * rng.random((G, n_la)) * 10.0 ** rng.uniform(-3, 3)
        p_w = (rng.random((G, n_p)) < 0.5) * rng.random((G, n_p))
        if G > 1:
            la_w[0] = 0.0  # a group without a local authority
        la_obj = rng.dirichlet(np.ones(K), n_la)
        p_obj = rng.dirichlet(np.ones(K), n_p)
        nat = rng.dirichlet(np.ones(K))
        for a, b in ((sp.csr_array(la_w), sp.csr_array(p_w)), (la_w, p_w),
                     (sp.csr_array(la_w), p_w.astype(np.float32))):
            want = old_system_objective(la_obj, p_obj, nat, a, b)
            assert _same(SystemWeights(a, b).objective(la_obj, p_obj, nat), want)
            assert _same(system_objective(la_obj, p_obj, nat, a, b), want)
    with pytest.raises(ValueError):
        SystemWeights(-np.ones((2, 2)), np.ones((2, 2)))


def _model(path="scenarios/icb_2022.yaml", overrides=("scale=0.2", "burn_in=0"), steps=3):
    from simulation.loader import load_scenario
    from simulation.model import CommissioningModel

    m = CommissioningModel(load_scenario(path, list(overrides)), seed=5)
    for _ in range(steps):
        m.step()
    return m


def old_org_objectives(model, kind, n_orgs):
    staff = np.flatnonzero((model.pop.kind == kind) & model.present)
    org = model.pop.org[staff]
    count = np.bincount(org, minlength=n_orgs).astype(float)
    out = np.full((n_orgs, model.n_services), 1.0 / model.n_services)
    has = count > 0
    for k in range(model.n_services):
        out[has, k] = np.bincount(org, weights=model.objective[staff, k], minlength=n_orgs)[has]
    out[has] /= count[has, None]
    return out


def old_board_uncertainty(model):
    coo = model.board.tocoo()
    here = model.present[coo.col]
    rows, cols = coo.row[here], coo.col[here]
    count = np.bincount(rows, minlength=model.n_groups)
    b = model.belief[cols]
    centre = np.empty((model.n_groups, model.n_services))
    for k in range(model.n_services):
        centre[:, k] = np.bincount(rows, weights=b[:, k], minlength=model.n_groups)
    centre /= np.maximum(count, 1)[:, None]
    tv = 0.5 * np.abs(b - centre[rows]).sum(axis=1)
    num = np.bincount(rows, weights=tv, minlength=model.n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.where(count > 0, num / np.maximum(count, 1), np.nan)
    return old_overall(model.pop.group_population.astype(float), v)


@pytest.mark.parametrize("path, overrides", [
    ("scenarios/icb_2022.yaml", ("scale=0.2", "burn_in=0")),
    ("scenarios/east_of_england_2013.yaml", ("scale=0.2", "burn_in=0")),
])
def test_org_objectives_and_board_uncertainty_equal_the_previous_loops(path, overrides):
    m = _model(path, overrides)
    p = m.pop
    for absent in (0, 5, 40):  # staff and board members leaving: the kept indexes follow
        if absent:
            m.present[np.flatnonzero(m.present)[::max(1, m.n_agents // absent)]] = False
        for kind, n in ((R.LOCAL_AUTHORITY, p.la_serves.shape[0]),
                        (R.PROVIDER, p.provider_serves.shape[0])):
            assert _same(R._org_objectives(m, kind, n), old_org_objectives(m, kind, n))
        assert _same(R.board_uncertainty(m), old_board_uncertainty(m))
    m.present[:] = False  # nobody present: uniform objectives, NaN uncertainty
    assert _same(R.board_uncertainty(m), old_board_uncertainty(m))
    for kind, n in ((R.LOCAL_AUTHORITY, p.la_serves.shape[0]),
                    (R.PROVIDER, p.provider_serves.shape[0])):
        assert _same(R._org_objectives(m, kind, n), old_org_objectives(m, kind, n))


def test_area_metrics_sharing_their_distances_equal_the_measures_called_one_by_one():
    from simulation import measures as M

    m = _model("scenarios/east_of_england_2013.yaml", ("scale=0.2", "burn_in=0"), steps=4)
    w = m.pop.group_population.astype(float)
    per_head = m.spec.decisions.budget_per_head

    def by_area(v):
        return old_overall(w, old_mean_by_group(v, m.pop.area_group, m.n_groups,
                                                weights=m.area_population))

    allocs = {"model": m.area_alloc, "floor": m.floor_budget.area,
              "ceiling": m.ceiling_budget.area}
    rel = {k: by_area(M.locality_relevance(a, m.area_need)) for k, a in allocs.items()}
    mis = {k: by_area(M.misallocated_per_head(a, m.area_need, per_head))
           for k, a in allocs.items()}
    m.__dict__["_collect_scratch"] = {}  # as in a collection: the distances shared
    try:
        assert _same(R.relevance_localities(m), rel["model"])
        assert _same(R.misallocated_per_head(m), mis["model"])
        assert _same(R.misallocated_floor_per_head(m), mis["floor"])
        assert _same(R.misallocated_ceiling_per_head(m), mis["ceiling"])
        assert _same(R.relevance_skill_localities(m), M.relevance_skill(
            rel["model"], rel["floor"], rel["ceiling"], min_range=m.spec.decisions.min_span))
        assert _same(R.decision_span_per_head_localities(m),
                     per_head * (rel["ceiling"] - rel["floor"]))
    finally:
        del m.__dict__["_collect_scratch"]
    assert _same(R.relevance_localities(m), rel["model"])  # outside a collection: the same


def test_accuracy_localities_and_capacity_metrics_equal_the_previous_code():
    from simulation import measures as M

    m = _model("scenarios/east_of_england_2013.yaml", ("scale=0.2", "burn_in=0"), steps=2)
    w = m.pop.group_population.astype(float)
    m.locality_view[::3] = np.nan  # localities that did not meet
    m.locality_view[1, 2] = np.inf  # and a non-finite entry in a met row
    view = m.locality_view
    met = np.isfinite(view).all(axis=1)
    acc = np.where(met, M.accuracy(np.nan_to_num(view), m.area_need), np.nan)
    want = old_overall(w, old_mean_by_group(acc, m.pop.area_group, m.n_groups, mask=met,
                                            weights=m.area_population))
    assert _same(R.accuracy_localities(m), want)
    cap = R._compute_group_capacity(m)
    m.__dict__["_collect_scratch"] = {}
    try:
        assert _same(R.relevance_provider(m), old_overall(
            w, M.provider_relevance(m.group_alloc, cap)))
        assert _same(R.wasted_spend(m), old_overall(w, M.wasted_spend(
            m.group_alloc, m.group_need, cap, m.spec.decisions.budget_per_head)))
    finally:
        del m.__dict__["_collect_scratch"]
