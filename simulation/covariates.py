"""Practice covariates: a deprivation score per practice, joined on the practice code.

``practices_from.covariates`` (:class:`~simulation.input_specs.CovariateSpec`) names a CSV
(or ``.csv.gz``) read at load time, after the register.  Each selected practice gets its
score as ``groups[].practices.explicit[].imd``; ``need.deprivation`` then shifts its need
profile (:func:`simulation.needs.deprivation_shift`).

Formats
-------
``fingertips``
    A download from OHID's Fingertips (``fingertips.phe.org.uk``), e.g. indicator 93553,
    "Deprivation score (IMD 2019)" for GP practices: columns ``Area Code`` (the practice code)
    and ``Value``.  When present, ``Indicator ID`` selects ``covariates.indicator`` (default
    93553), ``Category Type`` keeps the rows without a breakdown (empty), and ``Time period``
    selects ``covariates.time_period`` if given.  Rows of other areas (England, ICBs, PCNs)
    are ignored (not joined, not checked); an empty ``Value`` (suppressed) counts as missing.
``plain``
    A CSV with columns ``practice, imd``; lines starting with ``#`` are comments.

Reading rules are those of the registers (:mod:`simulation.csvfiles`): columns by name,
rows numbered as lines of the file, every problem names the file, the row and/or column, the
value and what is allowed (exit status 2).  A register practice appearing twice among the
rows taken (a plain file: any code twice) is refused; a score must be a number from 0 to 100
(IMD 2019 scores of practice populations lie within about 2-70).  A selected practice
without a score is an error that lists them, unless ``missing: median`` fills in the
list-size-weighted median of the others (with a warning naming them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _text
from .csvfiles import _error, _listing, _raise, _read_table, _shown
from .errors import ScenarioError, warn
from .input_specs import DEPRIVATION_RATIOS, CovariateSpec

__all__ = ["Covariates", "check_deprivation", "read_covariates"]

#: Allowed range of a deprivation score (IMD 2019 scores run from 0 to about 93 by LSOA).
IMD_RANGE = (0.0, 100.0)


@dataclass
class Covariates:
    """Scores of the selected practices.

    Attributes
    ----------
    path : Path
    imd : dict of str to float
        Practice code to deprivation score, for every selected practice.
    filled : list of str
        Practices that had no score and were given the median (``missing: median``).
    """

    path: Path
    imd: dict[str, float]
    filled: list[str] = field(default_factory=list)


def _number(raw: str) -> tuple[float | None, str | None]:
    lo, hi = IMD_RANGE
    allowed = f"allowed: a deprivation score, a number from {lo:g} to {hi:g}"
    try:
        v = float(raw)
    except ValueError:
        return None, f"value {_text.value(raw)}: not a number; {allowed}"
    if not math.isfinite(v) or not lo <= v <= hi:
        return None, f"value {_text.value(raw)}: out of range; {allowed}"
    return v, None


def read_covariates(path: Path, spec: CovariateSpec, practices: dict[str, tuple[int, int]],
                    register: Path) -> Covariates:
    """Read a covariate file and join it to the selected practices.

    Parameters
    ----------
    path : Path
        The covariate CSV.
    spec : CovariateSpec
    practices : dict of str to (list size, register row)
        The selected practices of the register, by code.
    register : Path
        The register file (named in the message about missing practices).

    Raises
    ------
    ScenarioError
        For a bad file, a duplicated practice, a bad value or (``missing: error``) a
        selected practice without a score.
    """
    import numpy as np

    fingertips = spec.format == "fingertips"
    t = _read_table(Path(path), comments=not fingertips)
    if fingertips:
        t.require(["Area Code", "Value"], (),
                  "; for a file with columns practice, imd set covariates.format: plain"
                  if t.has("practice") else "")
        code_col, value_col = "Area Code", "Value"
    else:
        t.require(["practice", "imd"], (),
                  "; this looks like a Fingertips download: set covariates.format: fingertips"
                  if t.has("Area Code") else "")
        code_col, value_col = "practice", "imd"
    keep = np.ones(len(t.lines), bool)
    if fingertips and t.has("Indicator ID"):
        ids = t.values("Indicator ID")
        keep &= ids == spec.indicator
        if not keep.any():
            raise _error(t.path, f"column {t.name('Indicator ID')}",
                         f"no row of indicator {_text.value(spec.indicator)} (covariates.indicator); the "
                         f"file has: {_listing(sorted(set(ids)))}")
    if fingertips and t.has("Category Type"):
        keep &= t.values("Category Type") == ""
    if spec.time_period is not None:
        if not t.has("Time period"):
            raise _error(t.path, "row 1 (header)", "no column 'Time period' "
                         f"(covariates.time_period is {_text.value(spec.time_period)}); the file has: "
                         f"{_listing(t.names)}")
        periods = t.values("Time period")
        if not (keep & (periods == spec.time_period)).any():
            raise _error(t.path, f"column {t.name('Time period')}",
                         f"no row of time period {_text.value(spec.time_period)}; the file has: "
                         f"{_listing(sorted(set(periods[keep])))}")
        keep &= periods == spec.time_period
    codes, values = t.values(code_col), t.values(value_col)
    cname, vname = t.name(code_col), t.name(value_col)
    problems: list[tuple[str, str]] = []
    first: dict[str, int] = {}
    scores: dict[str, float] = {}
    for i in np.flatnonzero(keep):
        c, line = codes[i], int(t.lines[i])
        if not c and not fingertips:
            problems.append((f"row {line} / column {cname}", "value '': empty practice code"))
            continue
        if fingertips and c not in practices:
            continue  # England, ICBs, PCNs, other practices: not joined, not checked
        if c in first:
            hint = (" (several time periods? set covariates.time_period)"
                    if fingertips and spec.time_period is None and t.has("Time period") else "")
            problems.append((f"row {line} / column {cname}",
                             f"value {_text.value(c)}: practice appears twice (rows {first[c]} and {line})"
                             f"; each practice must have one value{hint}"))
            continue
        first[c] = line
        if c not in practices or not values[i]:
            continue  # other practices are ignored; an empty value is missing
        v, msg = _number(values[i])
        if msg:
            problems.append((f"row {line} / column {vname}", msg))
        else:
            scores[c] = v
    _raise(t.path, problems)
    missing = [c for c in practices if c not in scores]
    filled: list[str] = []
    if missing and spec.missing == "error":
        why = {c: "an empty value" if c in first else "no row" for c in missing}
        _raise(t.path, [(f"column {cname}",
                         f"value {_text.value(c)}: practice of the register {_shown(register)} (row "
                         f"{practices[c][1]}) has {why[c]} here; every selected practice "
                         "needs a score (or set practices_from.covariates.missing: median)")
                        for c in missing])
    if missing:
        if not scores:
            raise _error(t.path, f"column {cname}", "none of the register's practices has a "
                         "score in this file: is it the covariate file of these practices?")
        known = sorted(scores)
        x = np.array([scores[c] for c in known])
        w = np.array([practices[c][0] for c in known], float)
        order = np.argsort(x, kind="stable")
        cum = np.cumsum(w[order])
        median = float(x[order][np.searchsorted(cum, cum[-1] / 2)])
        for c in missing:
            scores[c] = median
        filled = missing
        warn(f"{_shown(t.path)}: {len(missing)} of {len(practices)} practices have no score "
             f"and were given the list-size-weighted median {median:.1f} "
             f"(covariates.missing: median): {_listing(missing, 20)}")
    return Covariates(t.path, {c: scores[c] for c in practices}, filled)


def check_deprivation(scenario: Any, origin: Callable[[list[Any]], str]) -> None:
    """``need.deprivation.ratios`` must name services of the scenario (checked whatever the
    register, so a typo is caught before covariates are added)."""
    ratios = scenario.need.deprivation.ratios
    default = set(DEPRIVATION_RATIOS)
    unknown = [k for k in ratios if k not in scenario.services]
    if unknown and set(ratios) == default:
        return  # the default ratios with services of the scenario's own: unused names are fine
    if unknown:
        raise ScenarioError([(origin(["need", "deprivation", "ratios"]),
                              "need.deprivation.ratios",
                              f"{_listing(unknown)} not among the scenario's services "
                              f"({_listing(list(scenario.services))})")])
