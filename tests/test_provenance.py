"""The provenance registry covers the schema exactly, and its ranges are usable.

The schema is walked here independently of ``simulation.provenance.schema_leaves`` (through
``model_fields``, into nested models, list items, optional sections and unions), so a bug in
the module's own walk cannot hide a missing entry.
"""

import inspect
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from simulation.loader import load_scenario
from simulation.provenance import (
    CONTENT,
    PENDING,
    REGISTRY,
    justification_table,
    provenance,
    uncertain_parameters,
)
from simulation.scenario import EngagementSpec, Scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "east_of_england_2013.yaml"
REQUIRED = object()


def _models(annotation):
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models(typing.get_args(annotation)[0])
    if origin in (list, typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _models(a)]
    return [annotation] if inspect.isclass(annotation) and issubclass(annotation, BaseModel) else []


def leaves(model, prefix="", default=None):
    """{path: (field_info, effective default)} for every leaf field below ``model``."""
    out = {}
    for name, info in model.model_fields.items():
        if default is not None:
            value = getattr(default, name)
        else:
            value = REQUIRED if info.is_required() else info.get_default(call_default_factory=True)
        nested = _models(info.annotation)
        if not nested:
            out[prefix + name] = (info, value)
            continue
        sep = "[]." if typing.get_origin(info.annotation) is list else "."
        for sub in nested:
            out.update(leaves(sub, prefix + name + sep, value if isinstance(value, sub) else None))
    return out


def _covered(path, registry):
    return path in registry or any(path.startswith(p + ".") and p in registry for p in CONTENT)


def missing_entries(model, registry):
    return sorted(p for p in leaves(model) if not _covered(p, registry))


def unknown_entries(model, registry, pending=frozenset()):
    paths = leaves(model)
    return sorted(k for k in registry if k not in paths and k not in pending
                  and not (k in CONTENT and any(p.startswith(k + ".") for p in paths)))


LEAVES = leaves(Scenario)


def _bounds(info):
    lo, hi = -float("inf"), float("inf")
    for meta in info.metadata:
        for attr in ("ge", "gt"):
            if getattr(meta, attr, None) is not None:
                lo = max(lo, getattr(meta, attr))
        for attr in ("le", "lt"):
            if getattr(meta, attr, None) is not None:
                hi = min(hi, getattr(meta, attr))
    return lo, hi


# --------------------------------------------------------------------------- coverage


def test_every_schema_field_has_an_entry():
    assert missing_entries(Scenario, REGISTRY) == [], "add these to simulation/provenance.py"


def test_no_entry_names_a_field_that_does_not_exist():
    assert unknown_entries(Scenario, REGISTRY, PENDING) == [], (
        "stale registry entries (or fields not yet added: list them in PENDING)")


def test_pending_fields_do_not_exist_yet_and_have_entries():
    landed = sorted(p for p in PENDING if p in LEAVES)
    assert not landed, f"these fields exist now: remove them from PENDING: {landed}"
    assert PENDING <= REGISTRY.keys()


def test_the_checks_catch_a_new_field_and_a_stale_entry():
    class Extended(Scenario):
        brand_new_rate: float = 0.5

    assert missing_entries(Extended, REGISTRY) == ["brand_new_rate"]
    stale = {**REGISTRY, "exchange.cross_sector_weight": REGISTRY["exchange.rate"]}
    assert unknown_entries(Scenario, stale) == ["exchange.cross_sector_weight"]
    assert unknown_entries(Scenario, stale, frozenset({"exchange.cross_sector_weight"})) == []


def test_walk_reaches_list_items_generation_rules_and_events():
    for path in ("groups[].practices.count", "providers[].size", "generate.population.total",
                 "groups[].engagement.gp.sd", "observation.noise_by_type.manager",
                 "events[].factor", "burn_in"):
        assert path in LEAVES, path


# --------------------------------------------------------------------------- content


def test_bases_and_justifications():
    for path, entry in REGISTRY.items():
        assert entry.basis in ("data", "assumed", "fitted", "structural"), path
        assert entry.why.strip(), path
        if entry.basis == "fitted":
            assert entry.target and entry.target.strip(), f"{path}: fitted to what?"


def test_reflect_threshold_is_fitted_to_the_gp_survey():
    entry = provenance("decisions.reflect_threshold")
    assert entry.basis == "fitted" and "posterior median" in entry.why
    assert "e015464" in entry.target


@pytest.mark.parametrize("path", sorted(p for p, e in REGISTRY.items() if e.plausible))
def test_plausible_range_inside_bounds_and_contains_default(path):
    entry = REGISTRY[path]
    lo, hi = entry.plausible
    assert lo < hi
    if path not in LEAVES:  # only PENDING entries get here
        assert path in PENDING
        return
    info, default = LEAVES[path]
    blo, bhi = _bounds(info)
    assert blo <= lo and hi <= bhi, f"{path}: {entry.plausible} outside [{blo}, {bhi}]"
    assert lo <= default <= hi, f"{path}: default {default} outside {entry.plausible}"
    is_int = info.annotation is int
    assert entry.integer == is_int, f"{path}: integer flag should be {is_int}"
    if is_int:
        assert isinstance(lo, int) and isinstance(hi, int)


def test_behavioural_parameters_are_uncertain():
    varied = {p for p, _, _ in uncertain_parameters()}
    expected = {
        *(f"engagement.{t}.mean" for t in ("gp", "manager", "provider", "patient",
                                           "local_authority")),
        "observation.noise", "observation.rate", "observation.activity_supply_share",
        "exchange.rate", "exchange.objective_rate", "objectives.belief_pull",
        "ties.reinforce", "ties.decay", "ties.triadic_closure", "ties.capacity",
        "turnover.annual_rate", "turnover.engagement_sensitivity", "turnover.newcomer_climate",
        "engagement_dynamics.learning_rate", "engagement_dynamics.expectation",
        "engagement_dynamics.regression", "decisions.max_shift", "decisions.objective_weight",
        "decisions.pooling_weight", "localities.pooling_weight",
        "need.locality_concentration", "need.practice_concentration", "need.drift_sd",
    }
    assert expected <= varied, sorted(expected - varied)
    assert not any("[]" in p for p in varied)


def test_uncertain_ranges_can_be_set_on_a_scenario():
    # all at once, as a Latin hypercube sets them (engagement.gp.mean alone would replace the
    # whole engagement.gp section, resetting its sd to the class default)
    params = uncertain_parameters()
    for corner in (0, 1):
        load_scenario(SCENARIO, [f"{p}={r[corner]}" for p, *r in params], check_memory=False)
    ranges = {p: (lo, hi) for p, lo, hi in params}
    for t in ("gp", "manager", "provider", "patient", "local_authority"):
        for m in ranges[f"engagement.{t}.mean"]:  # every corner is a feasible Beta
            for s in ranges[f"engagement.{t}.sd"]:
                EngagementSpec(mean=m, sd=s)


# --------------------------------------------------------------------------- lookup and table


def test_lookup_maps_list_items_and_events():
    assert provenance("groups[3].population") is REGISTRY["groups[].population"]
    assert provenance("groups.3.population") is REGISTRY["groups[].population"]
    assert provenance("providers[0].size") is REGISTRY["providers[].size"]
    assert provenance("events[2].factor") is REGISTRY["events[]"]
    with pytest.raises(KeyError):
        provenance("exchange.cross_sector_weight")


def test_table_has_one_complete_row_per_field():
    rows = [r for r in justification_table().splitlines()[2:] if r.startswith("| `")]
    shown = [r.split("`")[1] for r in rows]
    expected = [p for p in LEAVES if not any(p.startswith(c + ".") for c in CONTENT)]
    expected += [c for c in CONTENT if c not in expected]
    assert sorted(shown) == sorted(expected)
    assert "**missing**" not in justification_table()
    fitted = [r for r in rows if "| fitted |" in r]
    assert len(fitted) == 6 and all("2015 GP survey" in r for r in fitted)


def test_a_plain_field_is_a_leaf():
    class Tiny(BaseModel):
        x: float = Field(0.5, ge=0.0, le=1.0)

    assert list(leaves(Tiny)) == ["x"]
    assert _bounds(Tiny.model_fields["x"]) == (0.0, 1.0)
