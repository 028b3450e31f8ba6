"""Scenario generation rules: build many commissioning groups from a seed instead of by hand.

A scenario with a ``generate:`` section (see :class:`GenerateSpec`) gets its ``groups``,
``providers`` and ``local_authorities`` from these rules at load time; the rules and the
scenario seed are part of the resolved scenario, so the same file always gives the same
groups.  Used by ``scenarios/england_2013.yaml`` (211 CCGs, 53.9 million people).

Rules
-----
* **Populations**: log-normal with the given median and mean, truncated to [min, max] and
  rescaled (iteratively, staying inside the range) so that they sum to ``total``.
* **Geography**: groups are placed in order along a ring; "neighbours" are groups close on the
  ring.  Providers and local authorities serve runs of consecutive groups.
* **Practices**: ``round(population / mean_list_size)`` per group (at least 1).
* **Localities**: ``clip(round(population / people_per_locality), min, max)``, and never more
  than the group's practices (a locality is a set of practices).
* **GPs per practice**: uniform in [min, max] per group.
* **Providers**: each acute trust serves a run of 1-3 neighbouring groups; community,
  mental-health and independent providers serve runs of ``community_span``,
  ``mental_health_span`` and ``independent_span`` groups.
* **Local authorities**: each serves a run of 1-``la_max_span`` groups.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from .schema import Strict

if TYPE_CHECKING:
    import numpy as np  # imported where used, so validating a scenario stays light

__all__ = ["GenerateSpec", "expand", "truncated_lognormal_total"]

PositiveInt = Annotated[int, Field(ge=1)]
#: A run of neighbouring groups served by one provider or authority (at most all groups).
Span = Annotated[int, Field(ge=1, le=2000)]


class PopulationRule(Strict):
    """Distribution of group populations."""

    median: Annotated[float, Field(gt=0)] = 221_000
    mean: Annotated[float, Field(gt=0)] = 255_000
    min: Annotated[float, Field(gt=0)] = 63_100
    max: Annotated[float, Field(gt=0)] = 869_400
    total: Annotated[float, Field(gt=0)] = 53_900_000


class GenerateSpec(Strict):
    """Rules that generate groups, providers and local authorities (module docstring)."""

    groups: Annotated[int, Field(ge=1, le=2000)] = 211
    population: PopulationRule = PopulationRule()
    mean_list_size: Annotated[float, Field(ge=500)] = 6_750
    gps_per_practice_min: Annotated[float, Field(gt=0)] = 4.0
    gps_per_practice_max: Annotated[float, Field(gt=0)] = 6.0
    people_per_locality: Annotated[float, Field(gt=0)] = 70_000
    localities_min: Annotated[int, Field(ge=1, le=50)] = 3
    localities_max: Annotated[int, Field(ge=1, le=50)] = 8
    commissioning_managers_per_100k: Annotated[float, Field(ge=0)] = 3.0
    acute_span_max: Span = 3
    community_span: Span = 3
    mental_health_span: Span = 5
    independent_span: Span = 10
    la_max_span: Span = 3
    provider_staff: Annotated[int, Field(ge=1, le=100)] = 3
    la_staff: Annotated[int, Field(ge=1, le=100)] = 2


def truncated_lognormal_total(
    rng: np.random.Generator, n: int, median: float, mean: float, lo: float, hi: float,
    total: float,
) -> np.ndarray:
    """``n`` log-normal draws (given median and mean) clipped to [lo, hi], rescaled to sum to
    ``total`` while staying in range (values at a bound are fixed, the rest rescaled, repeated).

    Raises
    ------
    ValueError
        If ``total`` cannot be reached inside the range.
    """
    import numpy as np

    if not n * lo <= total <= n * hi:
        raise ValueError(f"total {total} is outside [{n * lo}, {n * hi}] for {n} groups")
    sigma = np.sqrt(max(2.0 * np.log(mean / median), 1e-12))
    x = np.clip(rng.lognormal(np.log(median), sigma, n), lo, hi)
    for _ in range(100):
        free = (x > lo) & (x < hi)
        gap = total - x.sum()
        if abs(gap) < 0.5 or not free.any():
            break
        x[free] *= 1.0 + gap / x[free].sum()
        x = np.clip(x, lo, hi)
    return x


def _runs(rng: np.random.Generator, n: int, max_span: int) -> list[list[int]]:
    """Cover 0..n-1 (a ring) with consecutive runs of random length 1..max_span."""
    out, i = [], 0
    while i < n:
        span = int(rng.integers(1, max_span + 1))
        out.append(list(range(i, min(n, i + span))))
        i += span
    return out


def _fixed_runs(n: int, span: int) -> list[list[int]]:
    return [list(range(i, min(n, i + span))) for i in range(0, n, span)]


def expand(data: dict[str, Any]) -> dict[str, Any]:
    """Fill ``groups``, ``providers`` and ``local_authorities`` from ``data["generate"]``.

    The generator is seeded from ``(seed, "generate")`` so the groups depend only on the
    scenario seed and the rules.  Values given explicitly in ``data`` for those three keys are
    an error (the caller reports it).
    """
    import numpy as np

    spec = GenerateSpec.model_validate(data["generate"])
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer (it seeds the generated groups), "
                         f"got {seed!r}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x67656E]))
    p = spec.population
    pops = np.rint(truncated_lognormal_total(rng, spec.groups, p.median, p.mean, p.min, p.max,
                                             p.total)).astype(int)
    names = [f"CCG {i + 1:03d}" for i in range(spec.groups)]
    groups = []
    for name, pop in zip(names, pops.tolist(), strict=True):
        practices = max(1, round(pop / spec.mean_list_size))
        localities = min(practices, int(np.clip(round(pop / spec.people_per_locality),
                                                spec.localities_min, spec.localities_max)))
        groups.append({
            "name": name,
            "population": pop,
            "practices": {
                "count": practices,
                "gps_per_practice": round(float(rng.uniform(spec.gps_per_practice_min,
                                                            spec.gps_per_practice_max)), 2),
            },
            "localities": {"count": localities},
            "commissioning_managers": max(3, round(pop / 1e5 * spec.commissioning_managers_per_100k)),
        })
    providers = []
    for kind, runs in (
        ("acute", _runs(rng, spec.groups, spec.acute_span_max)),
        ("community", _fixed_runs(spec.groups, spec.community_span)),
        ("mental_health", _fixed_runs(spec.groups, spec.mental_health_span)),
        ("independent", _fixed_runs(spec.groups, spec.independent_span)),
    ):
        for j, run in enumerate(runs):
            providers.append({"name": f"{kind} {j + 1:03d}", "kind": kind,
                              "serves": [names[i] for i in run], "staff": spec.provider_staff})
    las = [{"name": f"LA {j + 1:03d}", "serves": [names[i] for i in run], "staff": spec.la_staff}
           for j, run in enumerate(_runs(rng, spec.groups, spec.la_max_span))]
    out = dict(data)
    out["groups"], out["providers"], out["local_authorities"] = groups, providers, las
    return out
