"""The metric families computed in one pass a collection (issue 24): the members' means
(accuracy_all, knowledge_flow, retention, turnover, engagement_all, pathway_adoption), the
GP shares (informed, influence, reflected, reflection × formal/other), the survey questions
of each class, the area family (misallocated spend and locality relevance of the model's,
the floor's and the ceiling's allocations) and the bodies' relevances.  Every value must be
the previous reporters' bit for bit: against the previous implementations (kept here) on
several models and months, through reorganisations and a need shock, with the whole
registry, with a subset and with months, and reporter by reporter outside a collection."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from simulation import measures as M
from simulation import reporters as R
from simulation.loader import load_scenario
from simulation.model import CommissioningModel
from simulation.population import LOCAL_AUTHORITY, PROVIDER, R_GP, R_PPG


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


# ------------------------------------------------------------------ previous implementations
def old_overall(w, values):
    """The overall of the previous reporters: the population-weighted mean of finite values."""
    v = np.asarray(values, float).ravel()
    ok = np.isfinite(v)
    out = np.empty(v.size + 1)
    out[:-1] = v
    if v.size and ok.all():
        out[-1] = float(np.sum(w * v) / w.sum())
    else:
        out[-1] = float(np.sum(w[ok] * v[ok]) / w[ok].sum()) if ok.any() else np.nan
    return out


def _w(model):
    return model.pop.group_population.astype(float)


def old_member_values(model):
    """The member means as each reporter computed them alone (mean_by_group over the present
    members of a group)."""
    p = model.pop
    members = model.present & (p.group >= 0)
    then = model.id_history[0]
    cols = {"accuracy_all": M.accuracy(model.belief, model.truth),
            "knowledge_flow": model.exchanges.astype(float),
            "retention": (model.occupant_id == then).astype(float),
            "turnover": model.left_this_step.astype(float),
            "engagement_all": model.engagement,
            "pathway_adoption": model.adopted.astype(float)}
    return {name: old_overall(_w(model), M.mean_by_group(v, p.group, model.n_groups,
                                                         mask=members))
            for name, v in cols.items()}


def old_gp_values(model):
    """informed, influence, reflected, reflection × formal/other, one mean each."""
    p, d = model.pop, model.spec.decisions
    known = np.isfinite(model.reflect)
    informed = model.last_contact > model.month - d.informed_window
    out = {}
    for formal, suffix in ((True, "formal"), (False, "other")):
        gps = (p.role == R_GP) & model.present & (model.formal_role == formal)
        for name, v, mask in (
                ("informed", informed.astype(float), gps),
                ("influence", (model.engagement >= d.influence_threshold).astype(float), gps),
                ("reflected", (model.reflect >= d.reflect_threshold).astype(float),
                 gps & known),
                ("reflection", np.nan_to_num(model.reflect), gps & known)):
            out[f"{name}_{suffix}"] = old_overall(
                _w(model), M.mean_by_group(v, p.group, model.n_groups, mask=mask))
    return out


def old_respondents(model, cls):
    p = model.pop
    if cls == "stakeholder":
        return model.present & ((p.kind == PROVIDER) | (p.kind == LOCAL_AUTHORITY)
                                | (p.role == R_PPG))
    return model.present & (p.role == R_GP) & (model.formal_role == (cls == "formal"))


def old_survey_share(model, agree, cls, known=True):
    """The survey share counted pair by pair (np.bincount over the (respondent, body) pairs,
    deduplicated afresh with an upper level)."""
    rows, cols = model.serving_pairs
    keep = np.flatnonzero(old_respondents(model, cls)[rows])
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
    return old_overall(_w(model), share)


def old_survey_values(model):
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


def old_area_values(model):
    """Misallocated spend and locality relevance over areas, one weighted mean each, and the
    locality-level skill and span made of them."""
    p = model.pop
    per_head = float(model.spec.decisions.budget_per_head)
    allocs = {"model": model.area_alloc, "floor": model.floor_budget.area,
              "ceiling": model.ceiling_budget.area}

    def area_mean(v):
        return M.mean_by_group(v, p.area_group, model.n_groups,
                               weights=model.area_population)

    out, rel = {}, {}
    for which, alloc in allocs.items():
        tv = M.tv_distance(alloc, model.area_need)
        tag = "" if which == "model" else f"_{which}"
        out[f"misallocated{tag}_per_head"] = old_overall(_w(model), area_mean(per_head * tv))
        rel[which] = old_overall(_w(model), area_mean(1.0 - tv))
    out["relevance_localities"] = rel["model"]
    min_span = model.spec.decisions.min_span
    out["relevance_skill_localities"] = M.relevance_skill(rel["model"], rel["floor"],
                                                          rel["ceiling"], min_range=min_span)
    out["decision_span_per_head_localities"] = model.spec.decisions.budget_per_head * (
        rel["ceiling"] - rel["floor"])
    return out


def old_body_values(model):
    """relevance_skill_body and decision_span_per_head_body, each computing the bodies'
    relevances itself."""
    nan = np.full(model.n_groups + 1, np.nan)
    if R._no_body(model):
        return {"relevance_skill_body": nan, "decision_span_per_head_body": nan}
    need = R.body_need(model)
    rel = [M.patient_relevance(R.body_profile(model, b.group), need)
           for b in (model.budget, model.floor_budget, model.ceiling_budget)]
    r, lo, hi = (R._with_overall(model, x) for x in rel)
    return {"relevance_skill_body": M.relevance_skill(
                r, lo, hi, min_range=model.spec.decisions.min_span),
            "decision_span_per_head_body": R._with_overall(
                model, model.spec.decisions.budget_per_head * (rel[2] - rel[1]))}


def old_other_values(model):
    """accuracy_localities, relevance_provider and wasted_spend as they were."""
    view = model.locality_view
    met = np.isfinite(view).all(axis=1)
    acc = np.where(met, M.accuracy(np.nan_to_num(view), model.area_need), np.nan)
    cap = R._compute_group_capacity(model)
    per_head = model.spec.decisions.budget_per_head
    return {"accuracy_localities": old_overall(_w(model), M.mean_by_group(
                acc, model.pop.area_group, model.n_groups, mask=met,
                weights=model.area_population)),
            "relevance_provider": old_overall(_w(model), M.provider_relevance(
                model.group_alloc, cap)),
            "wasted_spend": old_overall(_w(model), M.wasted_spend(
                model.group_alloc, model.group_need, cap, per_head))}


def old_values(model):
    return {**old_member_values(model), **old_gp_values(model), **old_survey_values(model),
            **old_area_values(model), **old_body_values(model), **old_other_values(model)}


FAMILY_METRICS = (
    "accuracy_all", "knowledge_flow", "retention", "turnover", "engagement_all",
    "pathway_adoption",
    *(f"{q}_{c}" for q in ("informed", "influence", "reflected", "reflection")
      for c in ("formal", "other")),
    *(f"survey_{q}_{c}" for q in R.SURVEY_QUESTIONS for c in ("formal", "other", "stakeholder")),
    "misallocated_per_head", "misallocated_floor_per_head", "misallocated_ceiling_per_head",
    "relevance_localities", "relevance_skill_localities", "decision_span_per_head_localities",
    "relevance_skill_body", "decision_span_per_head_body",
    "accuracy_localities", "relevance_provider", "wasted_spend")


def test_the_references_cover_the_families():
    assert set(FAMILY_METRICS) <= set(R.METRICS)


# ------------------------------------------------------------------ the kernels
def _index_cases(seed=0, count=150):
    """(group, n_groups, mask, weights, columns): empty, one agent, one group, groups without
    rows or weight, sorted (CSR path, > 64 rows) and unsorted labels, NaNs and infinities."""
    rng = np.random.default_rng(seed)
    yield np.zeros(0, np.int64), 3, None, None, [np.zeros(0)]
    yield np.array([0]), 1, None, None, [np.array([0.5]), np.array([np.nan])]
    yield np.array([1, 1, -1]), 3, np.array([True, False, True]), None, [np.ones(3)]
    for _ in range(count):
        n = int(rng.integers(1, 400))
        G = int(rng.integers(1, 9))
        group = rng.integers(-1, G, n)
        if rng.random() < 0.6:  # agents numbered group by group (the model's case)
            group[group >= 0] = np.sort(group[group >= 0])
        if rng.random() < 0.2:
            group[:] = 0
        mask = rng.random(n) < rng.random() if rng.random() < 0.7 else None
        weights = None
        if rng.random() < 0.5:
            weights = rng.random(n) * rng.integers(1, 10**6)
            weights[rng.random(n) < 0.1] = 0.0
        cols = []
        for _ in range(int(rng.integers(1, 7))):
            kind = rng.random()
            if kind < 0.3:
                cols.append(rng.random(n) < 0.5)  # 0/1, as bool
            elif kind < 0.6:
                cols.append(rng.random(n) * 10 ** rng.uniform(-3, 4))
            else:
                v = rng.standard_normal(n)
                v[rng.random(n) < 0.05] = np.nan
                v[rng.random(n) < 0.02] = np.inf
                cols.append(v)
        yield group.astype(np.int32 if n % 2 else np.int64), G, mask, weights, cols


@pytest.mark.parametrize("labels_sorted", [False, True])
def test_mean_columns_is_one_mean_per_column(labels_sorted):
    for group, G, mask, weights, cols in _index_cases():
        g = group[group >= 0]
        if labels_sorted and not (g[1:] >= g[:-1]).all():
            continue
        index = M.GroupIndex(group, G, mask, labels_sorted=labels_sorted)
        with np.errstate(invalid="ignore"):
            got = index.mean_columns(cols, weights)
            assert got.shape == (len(cols), G)
            for j, v in enumerate(cols):
                want = M.mean_by_group(np.asarray(v, float), group, G, mask=mask,
                                       weights=weights)
                assert _same(got[j], want), j
                assert _same(got[j], index.mean(v, weights))


def test_mean_columns_checks_lengths():
    index = M.GroupIndex(np.array([0, 1, 1]), 2)
    with pytest.raises(ValueError):
        index.mean_columns([np.ones(3), np.ones(2)])


def test_overall_rows_is_one_overall_per_row():
    rng = np.random.default_rng(7)
    for G in (0, 1, 5, 7, 8, 9, 45, 211):
        w = rng.integers(1_000, 500_000, G)
        model = SimpleNamespace(pop=SimpleNamespace(group_population=w))
        for k in (1, 3, 6):
            V = rng.standard_normal((k, G)) * 10 ** rng.uniform(-3, 3, (k, 1))
            if G and rng.random() < 0.5:
                V[rng.integers(0, k), rng.integers(0, G)] = (np.nan, np.inf)[int(rng.random()
                                                                                 < 0.3)]
            if rng.random() < 0.2:
                V[0] = np.nan
            with np.errstate(invalid="ignore"):
                got = R._overall_rows(model, V)
                for j in range(k):
                    assert _same(got[j], R._overall(model, V[j])), (G, k, j)
                    assert _same(got[j], old_overall(w.astype(float), V[j])), (G, k, j)


# ------------------------------------------------------------------ the models
def _collected(m, name):
    return m.datacollector.model_vars[name][-1]


def _check_month(m, names=FAMILY_METRICS):
    want = old_values(m)
    for name in names:
        got = _collected(m, name)
        assert _same(got, want[name]), (m.month, name, got, want[name])
        # and alone, outside a collection
        assert _same(R.METRICS[name].reporter(m), want[name]), (m.month, name)


@pytest.mark.parametrize("path, overrides, steps", [
    ("scenarios/east_of_england_2013.yaml", [], 14),
    ("scenarios/icb_2022.yaml", ["scale=0.2"], 8),
    ("scenarios/mental_health_surge.yaml", ["burn_in=0"], 22),  # the need shock at 18
])
def test_families_equal_the_previous_reporters(path, overrides, steps):
    m = CommissioningModel(load_scenario(path, overrides), seed=11)
    _check_month(m)
    for _ in range(steps):
        m.step()
        _check_month(m)


def test_families_through_the_reorganisations():
    # PCTs (an upper level) until month 24, the CCG era without one, ICBs from month 135
    s = load_scenario("scenarios/east_of_england_2011_2026.yaml", ["scale=0.1", "burn_in=0"])
    m = CommissioningModel(s, seed=3)
    seen_bodies = set()
    for step in range(140):
        m.step()
        seen_bodies.add(m.pop.n_bodies)
        if step % 4 == 0 or 20 <= step <= 28 or step >= 132:
            _check_month(m)
    assert seen_bodies >= {0, 2, 3}


def test_a_subset_and_months_give_the_same_values():
    s = load_scenario("scenarios/icb_2022.yaml", ["scale=0.2", "burn_in=0"])
    full = CommissioningModel(s, seed=5)
    one_each = ["survey_acted_on_stakeholder", "reflection_other", "influence_formal",
                "turnover", "misallocated_ceiling_per_head", "decision_span_per_head_localities",
                "decision_span_per_head_body"]
    subset = CommissioningModel(s, seed=5, metrics=one_each)
    months = {"survey_reflected_formal": [2, 5], "informed_other": [3], "retention": [5],
              "relevance_localities": [1, 5], "accuracy_all": None}
    some = CommissioningModel(s, seed=5, metrics=months)
    singles = {name: CommissioningModel(s, seed=5, metrics=[name])
               for name in ("survey_engaged_some_other", "reflected_formal",
                            "misallocated_floor_per_head")}
    for step in range(6):
        for m in (full, subset, some, *singles.values()):
            m.step()
        for name in one_each:
            assert _same(_collected(subset, name), _collected(full, name)), (step, name)
        for name, read in months.items():
            got = _collected(some, name)
            if read is None or step + 1 in read:
                assert _same(got, _collected(full, name)), (step, name)
            else:
                assert np.isnan(got).all()
        for name, m in singles.items():
            assert list(m.datacollector.model_vars) == [name]
            assert _same(_collected(m, name), _collected(full, name)), (step, name)


def test_a_family_member_outside_the_collection_is_computed_on_demand():
    # a collection that asked for one member, then another member read inside it (as a
    # metric that reads another does): computed and added, the same value
    s = load_scenario("scenarios/east_of_england_2013.yaml", ["scale=0.3", "burn_in=2"])
    m = CommissioningModel(s, seed=2, collect=False)
    m.step()
    want = old_values(m)
    m.__dict__["_collect_scratch"] = {"wanted": frozenset({"survey_informed_other"})}
    try:
        for name in ("survey_informed_other", "survey_reflected_other", "turnover",
                     "retention", "misallocated_per_head", "relevance_skill_localities"):
            assert _same(R.METRICS[name].reporter(m), want[name]), name
    finally:
        del m.__dict__["_collect_scratch"]


def test_kept_group_indices_follow_the_labels_and_the_masks():
    s = load_scenario("scenarios/icb_2022.yaml", ["scale=0.2", "burn_in=0"])
    m = CommissioningModel(s, seed=5, collect=False)
    m.step()
    first = R._gp_index(m, False, False)
    assert R._gp_index(m, False, False) is first  # unchanged: kept
    gps = R._gps(m, False)
    assert _same(first.mean(gps.astype(float)),
                 M.mean_by_group(gps.astype(float), m.pop.group, m.n_groups, mask=gps))
    who = np.flatnonzero(gps)[:3]
    m.present[who] = False  # three GPs absent: a new mask, a new index
    second = R._gp_index(m, False, False)
    assert second is not first and second.rows.size == first.rows.size - 3
    for name, value in old_gp_values(m).items():
        assert _same(R.METRICS[name].reporter(m), value), name
    members = R._member_index(m)
    m.pop.group = m.pop.group.copy()
    assert R._member_index(m) is members  # equal labels in a new array: kept
    m.pop.group[np.flatnonzero(m.pop.group == 1)[:2]] = 0  # relabelled: rebuilt
    assert R._member_index(m) is not members
    for name, value in old_member_values(m).items():
        assert _same(R.METRICS[name].reporter(m), value), name


@pytest.mark.parametrize("overrides", [[], ["knowledge_routes.locality_meetings=false"]])
def test_kept_capacity_and_area_index_follow_a_provider_exit(overrides):
    # a provider leaves at step 3 (its capacity zeroed, who serves whom changed in place);
    # without locality meetings no area has a view (accuracy_localities all NaN)
    s = load_scenario("scenarios/east_of_england_2013.yaml", ["scale=0.3", *overrides])
    s = s.model_validate({**s.model_dump(), "events": [
        *s.model_dump()["events"],
        {"type": "provider_exit", "step": 3, "provider": "East Mental Health Trust"}]})
    m = CommissioningModel(s, seed=4)
    _check_month(m)
    for _ in range(6):
        m.step()
        _check_month(m)
    assert m.capacity.sum(axis=1).min() == 0
