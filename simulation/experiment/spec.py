"""Experiment files: the schema of ``experiments/*.yaml`` and its loader.

An experiment file names a base scenario, the parameters to vary by their dotted scenario
paths, a design, replicates, a root seed and the outcomes to record::

    # Does GP engagement matter more when there are locality sub-groups?
    name: engagement_by_locality
    base: ../scenarios/east_of_england_2013.yaml   # relative to this file
    set: {steps: 60}                # fixed changes to the base, dotted path: value
    design: grid                    # grid | cases | latin_hypercube | sobol | morris
    parameters:
      engagement.gp.mean: [0.3, 0.45, 0.6, 0.75]   # a list: levels (grid) or categories
      localities.enabled: [true, false]
      exchange.rate: {low: 0.1, high: 0.6}         # a range (sampled designs)
    replicates: 10
    seed: 20130401
    levers: [engagement.gp.mean, localities.enabled]  # what policy controls (optional)
    uncertainties: [exchange.rate]                    # what the world does (optional)
    outcomes:
      - accuracy_board                              # final value
      - {metric: coherence_internal, reduce: mean_last, last: 12}
      - {metric: shock_detection_time, reduce: time_to_detect}
    keep_timeseries: false

``levers`` and ``uncertainties`` (the EMA Workbench's vocabulary, Kwakkel 2017) classify the
parameters for scenario discovery (:mod:`simulation.experiment.discover`): a lever is what
a commissioner or policy can set, an uncertainty what the world does.  They do not change
any run, so they are left out of the design hash (marking parameters does not stop a
``--resume``).  Either mark none, or mark every parameter exactly once.

It is validated by the same machinery as scenario files (:class:`simulation.scenario.Strict`,
:func:`simulation.loader.validation_problems`), so every problem is reported as a
:class:`~simulation.loader.ScenarioError` naming the file, the field, the bad value and what
is allowed.  Parameter paths and values are checked against the scenario schema before any
run starts: a path that does not exist, or a value its field can never take, is an error in
the experiment file; a *combination* of values that is invalid only jointly (e.g. an
engagement spread too large for a sampled mean) becomes a failed run, recorded with its error.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from .. import _text
from ..loader import (
    ScenarioError,
    base_roots,
    link_outside,
    load_scenario,
    load_yaml_chain,
    merge_mappings,
    set_path,
    validation_problems,
)
from ..reporters import KEY_METRICS, METRICS
from ..scenario import Scenario, Strict, scenario_hash

__all__ = [
    "DEFAULT_OUTCOMES",
    "CaseSpec",
    "DesignSpec",
    "Experiment",
    "ExperimentSpec",
    "OutcomeSpec",
    "ParameterSpec",
    "experiment_from_spec",
    "load_experiment",
    "set_path",
]

#: Outcomes recorded when an experiment file lists none: key metrics, final overall value.
DEFAULT_OUTCOMES = KEY_METRICS

DESIGN_ALIASES = {
    "full_factorial": "grid",
    "factorial": "grid",
    "lhs": "latin_hypercube",
    "latin": "latin_hypercube",
    "saltelli": "sobol",
    "scenarios": "cases",
}
REDUCE_ALIASES = {"mean": "mean_last", "last": "final", "detection_time": "time_to_detect"}

#: Largest design an experiment may ask for (points × replicates).
MAX_RUNS = 5_000_000


def _custom(error_type: str, message: str, field: str | None = None, /, **ctx: Any
            ) -> PydanticCustomError:
    """A validation error with its message formatted here (``str.format`` of ``ctx``);
    ``field`` names the offending field of a whole-model check (shown as its location).
    The first three are positional-only, so ``ctx`` may hold any name (``kind=...``)."""
    return PydanticCustomError(error_type, message.format(**ctx),
                               {"field": field} if field else None)


# --------------------------------------------------------------------------- parameters


class ParameterSpec(Strict):
    """One varied parameter: a list of values, or a range / distribution to sample.

    In YAML a list is shorthand for ``{values: [...]}``.  Grid designs use the values as
    levels (or ``levels`` evenly spaced points of a range); sampled designs (Latin hypercube,
    Sobol, Morris) draw ranges through the inverse CDF of their distribution and treat a list
    as equally likely categories.
    """

    values: list[Any] | None = Field(None, description="levels or categories (any YAML values)")
    distribution: Literal["uniform", "loguniform", "triangular", "normal"] | None = Field(
        None, description="default: uniform when low/high are given, normal when mean/sd are"
    )
    low: float | None = Field(None, description="lower bound (truncation bound for normal)")
    high: float | None = Field(None, description="upper bound (truncation bound for normal)")
    mode: float | None = Field(None, description="peak of a triangular distribution")
    mean: float | None = Field(None, description="mean of a normal distribution")
    sd: Annotated[float, Field(gt=0.0)] | None = Field(None, description="sd of a normal")
    integer: bool = Field(False, description="round sampled values to integers")
    levels: Annotated[int, Field(ge=2, le=1000)] | None = Field(
        None, description="grid designs: this many evenly spaced values from low to high"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            return {"values": list(data)}
        if not isinstance(data, dict):
            raise _custom(
                "parameter_form",
                "a single value {value!r} is not something to vary: give a list of values "
                "([a, b, ...]) or a range ({{low: .., high: ..}}); fixed changes go under `set:`",
                value=data,
            )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ParameterSpec:
        ranged = {k for k in ("low", "high", "mode", "mean", "sd", "distribution", "levels")
                  if getattr(self, k) is not None}
        if self.values is not None:
            if ranged or self.integer:
                raise _custom("parameter_form", "give either `values` or a range/distribution "
                              "({fields}), not both", fields=", ".join(sorted(ranged)))
            if not self.values:
                raise _custom("parameter_form", "`values` is empty; give at least one value")
            keys = [json.dumps(v, sort_keys=True, default=str) for v in self.values]
            if len(set(keys)) != len(keys):
                raise _custom("duplicate", "`values` has duplicates: {values}",
                              values=self.values)
            return self
        dist = self.distribution
        if dist is None:
            dist = "normal" if self.mean is not None or self.sd is not None else "uniform"
            object.__setattr__(self, "distribution", dist)
        if dist in ("uniform", "loguniform", "triangular"):
            if self.low is None or self.high is None:
                raise _custom("parameter_form", "a {dist} range needs `low` and `high` "
                              "(or give a list of values)", dist=dist)
            if not self.low < self.high:
                raise _custom("parameter_range", "`low` ({low}) must be less than `high` "
                              "({high})", low=self.low, high=self.high)
            if dist == "loguniform" and self.low <= 0:
                raise _custom("parameter_range", "a loguniform range needs `low` > 0 "
                              "(got {low})", low=self.low)
        if dist == "triangular" and (self.mode is None or not self.low <= self.mode <= self.high):
            raise _custom("parameter_range", "a triangular distribution needs `mode` between "
                          "`low` and `high` (got mode {mode})", mode=self.mode)
        if dist == "normal":
            if self.mean is None or self.sd is None:
                raise _custom("parameter_form", "a normal distribution needs `mean` and `sd`")
            if self.low is not None and self.high is not None and not self.low < self.high:
                raise _custom("parameter_range", "truncation bounds: `low` ({low}) must be "
                              "less than `high` ({high})", low=self.low, high=self.high)
        if self.levels is not None and dist not in ("uniform", "loguniform"):
            raise _custom("parameter_form", "`levels` needs a uniform or loguniform range")
        if self.integer and dist == "uniform" and not (float(self.low).is_integer()
                                                       and float(self.high).is_integer()):
            raise _custom("parameter_range", "an integer range needs whole-number bounds "
                          "(got {low}..{high})", low=self.low, high=self.high)
        return self

    @property
    def is_values(self) -> bool:
        """Whether the parameter is a list of values (levels or categories)."""
        return self.values is not None

    def probe_values(self) -> list[Any]:
        """Values checked against the scenario schema before any run: every listed value,
        or a range's bounds, mode and mean."""
        if self.values is not None:
            return list(self.values)
        out = [v for v in (self.low, self.high, self.mode, self.mean) if v is not None]
        return [round(v) for v in out] if self.integer else out


# --------------------------------------------------------------------------- design, outcomes


class DesignSpec(Strict):
    """How design points are generated.

    ``grid``: every combination of the parameters' values (full factorial).  ``cases``: the
    named cases listed under ``cases:``.  ``latin_hypercube``: ``samples`` points
    (scipy.stats.qmc).  ``sobol``: Saltelli's scheme via SALib, ``samples`` = base sample N
    (a power of 2): N·(D+2) points, N·(2D+2) with ``second_order``.  ``morris``: ``samples``
    trajectories of D+1 points on a ``levels``-level grid (SALib).
    """

    kind: Literal["grid", "cases", "latin_hypercube", "sobol", "morris"]
    samples: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        None, description="points (LHS), base samples N (Sobol) or trajectories (Morris)"
    )
    second_order: bool = Field(False, description="Sobol: also estimate second-order indices")
    levels: Annotated[int, Field(ge=2, le=100)] = Field(4, description="Morris grid levels")
    optimization: Literal["random-cd", "lloyd"] | None = Field(
        None, description="Latin hypercube: scipy.stats.qmc optimisation of the points"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            data = {"kind": data}
        if isinstance(data, dict) and isinstance(data.get("kind"), str):
            data = {**data, "kind": DESIGN_ALIASES.get(data["kind"], data["kind"])}
        return data


class OutcomeSpec(Strict):
    """A metric and its reduction over a run's time series.

    ``final``: the value at the last step.  ``mean_last``: the mean over the last ``last``
    steps.  ``time_to_detect``: months from ``after`` (default: the scenario's first
    ``need_shock`` event) until the metric first crosses ``threshold`` (``direction`` above or
    below); without a threshold (for ``shock_detection_time``) the model's own detection
    delay (overall: the mean over the groups that detected).  Undetected shocks give NaN,
    or the months to the end of the run (+1) if ``censor`` is true.  A string is shorthand
    for ``{metric: <string>}``.
    """

    metric: str
    reduce: Literal["final", "mean_last", "time_to_detect"] = "final"
    last: Annotated[int, Field(ge=1)] = Field(12, description="mean_last: number of steps")
    after: Annotated[int, Field(ge=0)] | None = Field(None, description="time_to_detect: from")
    threshold: float | None = Field(None, description="time_to_detect: level to cross")
    direction: Literal["above", "below"] = "above"
    censor: bool = False
    name: str | None = Field(None, description="column name (default metric__reduction)")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            data = {"metric": data}
        if isinstance(data, dict) and isinstance(data.get("reduce"), str):
            data = {**data, "reduce": REDUCE_ALIASES.get(data["reduce"], data["reduce"])}
        return data

    @model_validator(mode="after")
    def _known_metric(self) -> OutcomeSpec:
        if self.metric not in METRICS:
            import difflib

            close = difflib.get_close_matches(self.metric, list(METRICS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _custom("unknown_metric", "unknown metric {metric!r}{hint}; metrics: {allowed}",
                          metric=self.metric, hint=hint, allowed=", ".join(METRICS))
        if (self.reduce == "time_to_detect" and self.threshold is None
                and self.metric != "shock_detection_time"):
            raise _custom("outcome_form", "time_to_detect on {metric!r} needs a `threshold` "
                          "(only shock_detection_time has its own)", metric=self.metric)
        return self

    @property
    def column(self) -> str:
        """Column name in the outcome tables."""
        if self.name:
            return self.name
        if self.reduce == "final":
            return self.metric
        if self.reduce == "mean_last":
            return f"{self.metric}__last{self.last}"
        return f"{self.metric}__detect"


class CaseSpec(Strict):
    """A named case of a ``cases`` design: a scenario file and/or changes to it."""

    name: str = Field(min_length=1)
    scenario: str | None = Field(None, description="scenario file (default: the base)")
    set: dict[str, Any] = Field(default_factory=dict, description="dotted path: value")


def _default_outcomes() -> list[OutcomeSpec]:
    return [OutcomeSpec(metric=m) for m in DEFAULT_OUTCOMES]


class ExperimentSpec(Strict):
    """An experiment file (see the module docstring)."""

    name: str = Field(min_length=1)
    description: str = ""
    base: str | None = Field(None, description="base scenario file, relative to this file")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="fixed changes to the base: dotted path: value")
    steps: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        None, description="months per run (default: the base scenario's)"
    )
    design: DesignSpec
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    cases: list[CaseSpec] = Field(default_factory=list)
    replicates: Annotated[int, Field(ge=1, le=100_000)] = 1
    seed: Annotated[int, Field(ge=0)] = Field(0, description="root seed of every run's seed")
    seeds: Literal["common", "independent"] = Field(
        "common",
        description="common: replicate r has the same seed at every design point (common "
        "random numbers); independent: every run its own seed",
    )
    outcomes: list[OutcomeSpec] = Field(default_factory=_default_outcomes, min_length=1)
    keep_timeseries: bool = Field(False, description="also store every run's time series")
    levers: list[str] = Field(
        default_factory=list,
        description="parameters policy controls (EMA's levers; for scenario discovery)",
    )
    uncertainties: list[str] = Field(
        default_factory=list,
        description="parameters the world decides (EMA's uncertainties; for scenario discovery)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSpec:
        kind = self.design.kind
        if kind == "cases":
            if not self.cases:
                raise _custom("design", "design `cases` needs a list under `cases:`", "cases")
            if self.parameters:
                raise _custom("design", "design `cases` takes its changes from each case's "
                              "`set:`; remove `parameters` (or use design grid)", "parameters")
            names = [c.name for c in self.cases]
            if len(set(names)) != len(names):
                raise _custom("duplicate", "case names must be unique: {names}", "cases",
                              names=names)
            if self.base is None and any(c.scenario is None for c in self.cases):
                raise _custom("missing_base", "`base` is required unless every case names its "
                              "own `scenario`", "base")
        else:
            if self.cases:
                raise _custom("design", "`cases` are only used by design `cases` (this is "
                              "design {kind!r})", "cases", kind=kind)
            if not self.parameters:
                raise _custom("design", "design {kind!r} needs `parameters` to vary", "parameters",
                              kind=kind)
            if self.base is None:
                raise _custom("missing_base", "`base` (the base scenario file) is required", "base")
        if kind == "grid":
            bad = [p for p, s in self.parameters.items() if not s.is_values and s.levels is None]
            if bad:
                raise _custom("design", "a grid needs a list of values (or a range with "
                              "`levels`) for every parameter; not for: {bad}", "parameters",
                              bad=", ".join(bad))
            points = math.prod(len(s.values) if s.is_values else s.levels
                               for s in self.parameters.values())
            if points * self.replicates > MAX_RUNS:
                raise _custom("too_big", "the grid has {points} points × {r} replicates; the "
                              "limit is {limit} runs", "design", points=points, r=self.replicates,
                              limit=MAX_RUNS)
        if kind in ("latin_hypercube", "sobol", "morris") and self.design.samples is None:
            raise _custom("design", "design {kind!r} needs `design.samples`", "design.samples",
                          kind=kind)
        if kind == "sobol":
            n = self.design.samples
            if n & (n - 1):
                raise _custom("design", "Sobol designs need `design.samples` to be a power of "
                              "2 (got {n}; try {lo} or {hi})", "design.samples", n=n,
                              lo=1 << (n.bit_length() - 1),
                              hi=1 << n.bit_length())
        if kind == "morris":
            bad = [p for p, s in self.parameters.items()
                   if s.is_values or s.distribution not in ("uniform", "loguniform")]
            if bad:
                raise _custom("design", "Morris designs need uniform ranges ({{low, high}}) for "
                              "every parameter; not for: {bad}", "parameters", bad=", ".join(bad))
        self._check_roles()
        columns = [o.column for o in self.outcomes]
        dup = sorted({c for c in columns if columns.count(c) > 1})
        if dup:
            raise _custom("duplicate", "outcome columns must be unique; repeated: {dup} (give "
                          "`name:` to tell them apart)", "outcomes", dup=", ".join(dup))
        return self

    def _check_roles(self) -> None:
        """``levers`` and ``uncertainties`` name parameters, each once, all or none."""
        if not (self.levers or self.uncertainties):
            return
        if self.design.kind == "cases":
            field_name = "levers" if self.levers else "uncertainties"
            raise _custom("roles", "design `cases` varies no parameters, so there is nothing "
                          "to mark as levers or uncertainties; remove `{f}`", field_name,
                          f=field_name)
        allowed = ", ".join(self.parameters)
        for field_name in ("levers", "uncertainties"):
            names = getattr(self, field_name)
            unknown = [n for n in names if n not in self.parameters]
            if unknown:
                raise _custom("roles", "{bad} not among the parameters; `{f}` lists parameters "
                              "of this experiment: {allowed}", field_name,
                              bad=", ".join(repr(n) for n in unknown) + (
                                  " is" if len(unknown) == 1 else " are"),
                              f=field_name, allowed=allowed)
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise _custom("duplicate", "{dup} listed more than once", field_name,
                              dup=", ".join(dup))
        both = [n for n in self.levers if n in self.uncertainties]
        if both:
            raise _custom("roles", "{both}: a parameter is either a lever or an uncertainty, "
                          "not both", "levers", both=", ".join(both))
        unmarked = [n for n in self.parameters
                    if n not in self.levers and n not in self.uncertainties]
        if unmarked:
            raise _custom("roles", "once parameters are marked, mark every one: add {bad} to "
                          "`levers` (policy controls it) or `uncertainties` (the world "
                          "decides it)", "uncertainties", bad=", ".join(unmarked))

    def role(self, parameter: str) -> str:
        """``lever``, ``uncertainty`` or ``unmarked`` (no parameter marked in the file)."""
        if parameter in self.levers:
            return "lever"
        if parameter in self.uncertainties:
            return "uncertainty"
        return "unmarked"

    def runs_per_replicate(self) -> int:
        """Number of design points (runs per replicate)."""
        d = len(self.parameters)
        kind, n = self.design.kind, self.design.samples or 0
        if kind == "grid":
            return math.prod(len(s.values) if s.is_values else s.levels
                             for s in self.parameters.values())
        if kind == "cases":
            return len(self.cases)
        if kind == "latin_hypercube":
            return n
        if kind == "sobol":
            return n * (2 * d + 2 if self.design.second_order else d + 2)
        return n * (d + 1)


# --------------------------------------------------------------------------- loading




#: Spec fields that do not change any run, left out of the design hash.
_NOT_IN_HASH = {"description", "levers", "uncertainties"}


@dataclass
class Experiment:
    """A loaded, validated experiment: spec, resolved base scenarios and provenance.

    Attributes
    ----------
    spec : ExperimentSpec
    path : Path or None
        The experiment file (None for experiments built in code, e.g. by ``compare``).
    bases : list of dict
        The resolved scenario mapping (``model_dump(mode="json")``) of each case; one entry
        for non-case designs.  Parameters are set on a copy of it for each run.
    base_files : list of str
        The scenario file of each entry of ``bases``.
    """

    spec: ExperimentSpec
    path: Path | None
    bases: list[dict[str, Any]]
    base_files: list[str]
    file_sha256: str | None = None
    base_hashes: list[str] = field(default_factory=list)
    #: ``dotted.path=value`` changes applied to every base scenario (``commnet sweep --set``)
    overrides: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self.spec.name

    @property
    def source(self) -> str:
        """The experiment file as shown in messages."""
        return str(self.path) if self.path is not None else f"<experiment {self.spec.name}>"

    def design_hash(self) -> str:
        """SHA-256 of what determines the results: the spec and the resolved base scenarios."""
        payload = {
            "spec": self.spec.model_dump(mode="json", exclude=_NOT_IN_HASH),
            "bases": self.base_hashes,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def scenario_for(self, case: int, values: dict[str, Any]) -> Scenario:
        """Build and validate the scenario of one design point (raises on invalid points)."""
        return point_scenario(self.bases[case], values)[0]


def point_scenario(base: dict[str, Any], values: dict[str, Any]) -> tuple[Scenario, dict[str, Any]]:
    """The validated scenario of a design point, and its data: ``base`` (not modified) with
    each dotted parameter path set to its value.  Raises pydantic's ``ValidationError`` for
    an invalid point."""
    data = copy.deepcopy(base)
    for path, value in values.items():
        set_path(data, path, value)
    return Scenario.model_validate(data), data


def _key_loc(loc: Sequence[Any]) -> str:
    """Format a location, quoting mapping keys that contain dots (parameter paths)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "." in str(part):
            text += f"[{str(part)!r}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _spec_problems(exc: ValidationError, data: dict[str, Any],
                   chain: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str, str]]:
    """Pydantic errors of an experiment spec as (file, field, message) triples."""
    problems = validation_problems(exc, data, chain, capped=False)  # one per error
    out = []
    for (source, _, message), err in zip(problems, exc.errors(include_url=False), strict=True):
        loc = list(err["loc"])
        if err["type"] == "unknown_field":
            loc = [*loc, err["ctx"]["key"]]
        elif (err.get("ctx") or {}).get("field"):
            loc = [*loc, *err["ctx"]["field"].split(".")]
        out.append((source, _key_loc(loc), message))
    return _text.cap(out, more=lambda n: (out[0][0], "", _text.more_line(n)))


def _path_problems(loc: Sequence[Any], path: str, unknown: bool = False) -> bool:
    """Whether a scenario validation error at ``loc`` is about the field at ``path``.

    An unknown field anywhere along the path is; otherwise the error must be at the field
    or inside its value.  Errors of an enclosing model (a constraint between several
    fields, e.g. an engagement sd too large for its mean) are not: that value may be fine
    with other values of the design.
    """
    parts = path.split(".")
    got = [str(p) for p in loc]
    if unknown:
        return got == parts[: len(got)]
    return got[: len(parts)] == parts


def _scenario_messages(exc: ValidationError, data: dict[str, Any], path: str | None
                       ) -> list[tuple[str, str]]:
    """(location, message) of the scenario errors; only those about ``path`` if given."""
    out = []
    problems = validation_problems(exc, data, [("<scenario>", data)], capped=False)
    for (_, where, message), err in zip(problems, exc.errors(include_url=False), strict=True):
        loc = list(err["loc"])
        if err["type"] == "unknown_field":
            loc = [*loc, err["ctx"]["key"]]
        if path is None or _path_problems(loc, path, err["type"] == "unknown_field"):
            out.append((where, message))
    return out


def _resolve_file(source: str, field_path: str, name: str, folder: Path,
                  roots: Sequence[Path] = ()) -> Path:
    """The scenario file an experiment names.  A name inside the experiment's folder tree
    (``roots``, :func:`~simulation.loader.base_roots`) that is, or runs through, a symbolic
    link leading outside it is refused without reading the target (as ``extends:`` is)."""
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = folder / path
    shown = name if len(name) <= 120 else name[:120] + "..."
    try:
        found = path.exists()
        escape = link_outside(Path(os.path.normpath(os.path.abspath(path))), roots)
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        raise ScenarioError([(source, field_path, f"not a usable file name {shown!r}: "
                              f"{getattr(exc, 'strerror', None) or exc}")]) from None
    if escape is not None:
        link, real = escape
        raise ScenarioError([(source, field_path, f"{_text.value(name)} is a symbolic link "
                              f"({_text.excerpt(link)} points to {_text.excerpt(real)}) that "
                              f"leads outside the experiment's folder tree {roots[0]}; the "
                              "scenario was not read")])
    if not found:
        raise ScenarioError([(source, field_path, f"scenario file {shown!r} not found "
                              f"(looked in {os.path.abspath(path)})")])
    return path


def _load_base(source: str, field_path: str, path: Path, fixed: dict[str, Any],
               fixed_field: str, steps: int | None, overrides: Sequence[str] = ()
               ) -> tuple[dict[str, Any], str]:
    """Load a scenario file, apply fixed changes and steps, validate; return (mapping, hash)."""
    try:
        scenario = load_scenario(path, list(overrides))
    except ScenarioError as exc:
        raise ScenarioError([(source, field_path, f"the scenario {str(path)!r} is not valid:"),
                             *exc.problems]) from None
    data = scenario.model_dump(mode="json")
    problems = []
    for key, value in fixed.items():
        try:
            set_path(data, key, value)
        except ValueError as exc:
            problems.append((source, f"{fixed_field}[{key!r}]", str(exc)))
    if steps is not None:
        data["steps"] = steps
    if problems:
        raise ScenarioError(problems)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        for where, message in _scenario_messages(exc, data, None):
            loc = where.replace("[", ".").replace("]", "").split(".")
            key = next((k for k in fixed if _path_problems(loc, k)
                        or _path_problems(loc, k, unknown=True)), None)
            field_name = f"{fixed_field}[{key!r}]" if key else ("steps" if steps else field_path)
            problems.append((source, field_name, f"{where}: {message}"))
        raise ScenarioError(_text.cap(problems, more=lambda n: (source, "", _text.more_line(n))))\
            from None
    data = scenario.model_dump(mode="json")
    return data, scenario_hash(scenario)


#: Columns of the results store that parameters and outcomes may not be named after.
RESERVED_COLUMNS = frozenset({"run_id", "point", "replicate", "case", "seed", "status", "error",
                              "duration", "model_seconds", "worker", "session", "finished",
                              "group", "step"})


def _check_parameters(exp: Experiment) -> None:
    """Each parameter path must exist and each listed value / range bound must be valid."""
    problems = []
    base = exp.bases[0]
    for path, spec in exp.spec.parameters.items():
        if path == "seed":
            problems.append((exp.source, "parameters['seed']",
                             "the seed is not a parameter: every run's seed is spawned from the "
                             "experiment's `seed` (common random numbers across points); use "
                             "`replicates` for more seeds or `seed` for another root"))
            continue
        if path in RESERVED_COLUMNS:
            problems.append((exp.source, f"parameters[{path!r}]",
                             f"{path!r} names a column of the results store; reserved: "
                             f"{', '.join(sorted(RESERVED_COLUMNS))}"))
            continue
        for value in spec.probe_values():
            data = copy.deepcopy(base)
            try:
                set_path(data, path, value)
            except ValueError as exc:
                problems.append((exp.source, f"parameters[{path!r}]", str(exc)))
                break
            try:
                Scenario.model_validate(data)
            except ValidationError as exc:
                messages = _scenario_messages(exc, data, path)
                if messages:
                    where, message = messages[0]
                    unknown = "unknown field" in message
                    text = (message if unknown
                            else f"value {_text.value(value)} is not allowed: {message}")
                    if where != path and not unknown:
                        text = f"{where}: {text}"
                    problems.append((exp.source, f"parameters[{path!r}]", text))
                    break
    if problems:
        raise ScenarioError(problems)


def _check_outcomes(exp: Experiment) -> None:
    problems = []
    for i, o in enumerate(exp.spec.outcomes):
        if o.column in RESERVED_COLUMNS or o.column in exp.spec.parameters:
            problems.append((exp.source, f"outcomes[{i}].name",
                             f"{o.column!r} is already a column of the results (reserved: "
                             f"{', '.join(sorted(RESERVED_COLUMNS))}, and the parameters); "
                             "give the outcome another `name:`"))
            continue
        if o.reduce != "time_to_detect" or o.after is not None:
            continue
        for base, name in zip(exp.bases, exp.base_files, strict=True):
            if not any(ev.get("type") == "need_shock" for ev in base.get("events", [])):
                problems.append((exp.source, f"outcomes[{i}]", f"time_to_detect needs a shock, "
                                 f"but {name} has no need_shock event; give `after: <step>`"))
                break
    if problems:
        raise ScenarioError(problems)


def experiment_from_spec(spec: ExperimentSpec, folder: str | os.PathLike[str] = ".",
                         path: Path | None = None, file_sha256: str | None = None,
                         overrides: Sequence[str] = ()) -> Experiment:
    """Resolve and check an experiment given as an :class:`ExperimentSpec`.

    ``folder`` is where relative scenario paths are looked up; ``overrides`` are
    ``dotted.path=value`` strings applied to every base scenario (the CLI's ``--set``).
    """
    folder = Path(folder)
    source = str(path) if path is not None else f"<experiment {spec.name}>"
    roots = base_roots(path if path is not None else folder / "experiment.yaml")
    bases, files, hashes = [], [], []
    if spec.design.kind == "cases":
        for i, case in enumerate(spec.cases):
            name = case.scenario or spec.base
            where = f"cases[{i}].scenario" if case.scenario else "base"
            file = _resolve_file(source, where, name, folder, roots)
            fixed = {**spec.set, **case.set}
            data, h = _load_base(source, where, file, fixed,
                                 f"cases[{i}].set" if case.set else "set", spec.steps, overrides)
            bases.append(data)
            files.append(str(file))
            hashes.append(h)
    else:
        file = _resolve_file(source, "base", spec.base, folder, roots)
        data, h = _load_base(source, "base", file, spec.set, "set", spec.steps, overrides)
        bases, files, hashes = [data], [str(file)], [h]
    exp = Experiment(spec, path, bases, files, file_sha256, hashes)
    _check_parameters(exp)
    _check_outcomes(exp)
    return exp


def looks_like_scenario(data: Any) -> bool:
    """Whether a YAML mapping is a scenario file rather than an experiment: it has no
    ``design`` and at least one top-level field that only a scenario has."""
    if not isinstance(data, dict) or "design" in data:
        return False
    only_scenario = set(Scenario.model_fields) - set(ExperimentSpec.model_fields) - {"extends"}
    return bool(only_scenario & set(data))


def load_experiment(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Experiment:
    """Load, validate and resolve an experiment file.

    The file may ``extends:`` another experiment file (mappings merged key by key, as for
    scenarios).  Scenario paths are relative to the experiment file.  ``overrides`` are
    ``dotted.path=value`` changes applied to the base scenario(s) before the design (the
    CLI's ``commnet sweep --set``).

    Raises
    ------
    ScenarioError
        With the file, field, bad value and what is allowed for every problem; a scenario
        file given instead of an experiment is named as such.
    """
    path = Path(path)
    chain = load_yaml_chain(path)
    data: dict[str, Any] = {}
    for _, raw in reversed(chain):
        data = merge_mappings(data, raw)
    if looks_like_scenario(data):
        raise ScenarioError([(str(path), "", "is a scenario file, not an experiment; "
                              f"run it with `commnet run {path}` (an experiment file names a "
                              "`base:` scenario, a `design:` and `parameters:`; see "
                              "experiments/*.yaml and docs/experiments.md)")])
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_spec_problems(exc, data, chain)) from None
    clash = []
    for o in overrides:
        key = o.split("=", 1)[0].strip()
        if key in spec.parameters:
            clash.append(("--set", o, f"the experiment varies {key!r} (parameters:), so a "
                          "--set of it would be overwritten at every point; remove it"))
        elif key in spec.set or any(key in c.set for c in spec.cases):
            clash.append(("--set", o, f"the experiment file fixes {key!r} (set:), which "
                          "would overwrite it; edit the file instead"))
    if clash:
        raise ScenarioError(clash)
    # scenario paths are relative to the file of the chain that names them
    folder = next((Path(name).parent for name, raw in chain if "base" in raw or "cases" in raw),
                  path.parent)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    exp = experiment_from_spec(spec, folder, path, digest, overrides=overrides)
    exp.overrides = list(overrides)
    return exp
