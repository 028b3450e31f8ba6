"""Errors and warnings of the input layer: the bottom of it (imports nothing of commnet's).

:class:`ScenarioError` carries every problem found in a scenario, register, survey or
covariate file as ``(source, field path or row/column, message)`` triples; the CLI prints them
and exits with status 2.  :class:`RegisterWarning` reports a usable but suspicious register
(practices below the minimum list size, localities sized from population); the CLI prints it
on stderr.  :func:`validation_problems` turns a pydantic error into such triples and
:func:`_origin` finds which source (``--set``, the scenario file or one of its bases) set a field.

Layers of the input code (``benchmarks/import_graph.py`` prints them, and
``tests/test_import_layers.py`` fails if an import goes upward or a circle appears):
errors and shared types (this module, :mod:`simulation.kinds`, :mod:`simulation.schema`) →
the schema (:mod:`simulation.input_specs`, :mod:`simulation.generate`,
:mod:`simulation.scenario`) → the file readers (:mod:`simulation.registers`,
:mod:`simulation.surveyed`, :mod:`simulation.covariates`) and the memory guard
(:mod:`simulation.memory`) → the loader (:mod:`simulation.loader`); the model's builders
(:mod:`simulation.population`, :mod:`simulation.network`, :mod:`simulation.survey_match`) take
validated scenarios and read data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _text

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import ValidationError

__all__ = ["RegisterWarning", "ScenarioError", "validation_problems", "warn"]

_MISSING = object()


@dataclass
class ScenarioError(Exception):
    """A scenario (or experiment) file that cannot be used, with every problem found.

    Attributes
    ----------
    problems : list of (source, path, message)
        ``source`` is the file (or ``--set``) the offending value came from, ``path`` the
        dotted field path (``groups[2].population``) and ``message`` what is wrong and what is
        allowed.
    """

    problems: list[tuple[str, str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = []
        for source, path, message in self.problems:
            where = f"{source}: {path}" if path else source
            lines.append(f"{where}: {message}")
        return "\n".join(lines)


class RegisterWarning(UserWarning):
    """A register (or covariate file) that can be used but deserves a look: practices below
    the minimum list size, localities sized from population.  Raised with
    :func:`warnings.warn`; ``commnet`` prints it as ``warning: ...`` on stderr."""


def warn(message: str) -> None:
    """Issue a :class:`RegisterWarning` (shown by ``commnet`` as ``warning: message``)."""
    import warnings

    warnings.warn(RegisterWarning(message), stacklevel=3)


def _format_loc(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + _text.excerpt(part, 60)
    return text


def _lookup(data: Any, loc: Sequence[Any]) -> Any:
    node = data
    for part in loc:
        if isinstance(node, dict) and (part in node or str(part) in node):
            node = node[part] if part in node else node[str(part)]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return _MISSING
    return node


def _origin(loc: Sequence[Any], sources: list[tuple[str, dict[str, Any]]]) -> str:
    """The source (overrides, then child file, then its bases) that sets ``loc``.

    The source holding the whole path wins; failing that, the one holding its longest prefix.
    """
    best, best_depth = (sources[-1][0] if sources else "<scenario>"), -1
    for name, raw in sources:
        probe = list(loc)
        while len(probe) > best_depth:
            if _lookup(raw, probe) is not _MISSING:
                if len(probe) == len(loc):
                    return name
                best, best_depth = name, len(probe)
                break
            probe.pop()
    return best


def _clean_loc(loc: Sequence[Any]) -> list[Any]:
    # Pydantic puts the discriminator tag (e.g. 'need_shock') into the location of union members.
    return [p for p in loc if not (isinstance(p, str) and p in _EVENT_TAGS)]


_EVENT_TAGS = {"need_shock", "gp_exodus", "provider_exit", "lever", "engagement_shift",
               "broker_loss", "rewire", "turnover_feedback", "reorganise"}


def validation_problems(
    exc: ValidationError, data: dict[str, Any], sources: list[tuple[str, dict[str, Any]]],
    *, capped: bool = True
) -> list[tuple[str, str, str]]:
    """Turn a pydantic error into (source, field path, message) triples, one per error of
    ``exc.errors()`` in order; ``capped`` (default) keeps the first
    :data:`~simulation._text.MAX_PROBLEMS` and closes with an ``… and N more`` line."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = _clean_loc(err["loc"])
        if err["type"] == "unknown_field":
            loc = [*loc, err["ctx"]["key"]]
        message = err["msg"]
        if err["type"] not in ("missing", "unknown_field") and "input" in err:
            value = err["input"]
            if not isinstance(value, dict | list):
                message = f"{message} (got {_text.value(value)})"
        if err["type"] == "missing":
            message = "required field is missing"
        problems.append((_origin(loc, sources), _format_loc(loc), _text.excerpt(message, 400)))
    if not capped:
        return problems
    return _text.cap(problems, more=lambda n: (problems[0][0], "", _text.more_line(n)))
