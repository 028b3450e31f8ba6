"""Scenario files: safe YAML loading, ``extends:`` variants, ``--set`` overrides, clear errors.

A scenario file is YAML holding the fields of :class:`simulation.scenario.Scenario`.  A
what-if variant names its base with ``extends: other.yaml`` and gives only the fields it
changes; mappings are merged key by key, lists and scalars are replaced whole.

``extends:`` names a ``.yaml`` or ``.yml`` file by a *relative* path, resolved against the
folder of the file holding the line.  The base must lie inside the scenario's folder tree:
the project the named scenario belongs to (the nearest folder above it holding
``pyproject.toml`` or ``.git``) or, outside a project, the parent of the scenario's folder
(so ``../base/scenario.yaml`` works); or inside commnet's own project folder, so a study
kept elsewhere (or a calibrated scenario written to any ``--out``) may extend the shipped
``scenarios/``.  Absolute paths and paths climbing out of those trees are refused, and so is a
base that is (or lies under) a symbolic link resolving outside them: the path is resolved,
links followed, before the check, and the refusal names the link and where it points without
reading it.  An error in a base names the file whose ``extends:`` line pointed there.

YAML is read with the YAML 1.2 booleans: only ``true``/``false`` are booleans, so an
unquoted ``off``, ``no``, ``on`` or ``yes`` (a case name, a service) stays the string typed
(boolean fields still accept them as pydantic reads them).

``--set dotted.path=value`` overrides apply last; list items are addressed by index
(``groups.0.population=90000``) and values are parsed as YAML scalars.

Every problem is raised as :class:`ScenarioError` naming the file, the field path, the bad
value and what is allowed; values are quoted as short, cleaned excerpts with their length
(:mod:`simulation._text`) and the list is capped ("… and N more").  Survey files named in
``network.survey`` are resolved against the file that names them and read and checked at load
(:mod:`simulation.surveyed`).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from . import _text, covariates, memory, registers, surveyed
from .errors import (
    RegisterWarning,
    ScenarioError,
    _origin,
    validation_problems,
)
from .memory import count_agents
from .scenario import Scenario
from .schema import merge_mappings

__all__ = [
    "RegisterWarning",
    "ScenarioError",
    "apply_overrides",
    "base_roots",
    "count_agents",
    "estimate_memory",
    "extends_root",
    "link_outside",
    "load_scenario",
    "load_yaml_chain",
    "merge_mappings",
    "safe_yaml",
    "set_path",
    "validation_problems",
]

#: Largest scenario or experiment file read (bytes), deepest nesting accepted and most
#: values (YAML nodes, with aliases expanded) in one document.
MAX_FILE_BYTES = 5 * 2**20
MAX_DEPTH = 32
MAX_NODES = 1_000_000


#: What PyYAML's safe constructors raise, instead of a ``YAMLError``, for a value its explicit
#: tag cannot make (``!!int abc``, ``!!timestamp x``, ``!!bool maybe``, ``!!binary`` that is
#: not base64, ...).
_CONSTRUCT_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError,
                     OverflowError, UnicodeError)


def _tag_name(node: yaml.Node) -> str:
    return _text.excerpt(str(node.tag).replace("tag:yaml.org,2002:", "!!"), 40)


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing duplicate keys in a mapping (a typo class: with the
    plain loader the later value silently wins), and turning what the safe constructors
    raise for a value its explicit tag cannot make into a ``ConstructorError`` at that value
    (PyYAML raises ``TypeError``, ``AttributeError``, ... there: a traceback, not a message)."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except _CONSTRUCT_ERRORS as exc:
            detail = f" ({_text.excerpt(str(exc), 80)})" if isinstance(exc, ValueError) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value as {_tag_name(node)}{detail}",
                node.start_mark) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):  # e.g. ``!!map [a]``, ``!!set a``
            raise yaml.constructor.ConstructorError(
                None, None, f"{_tag_name(node)} needs a mapping, but found a {node.id}",
                node.start_mark)
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, list | dict):  # unhashable: let PyYAML report it
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key].line + 1})",
                    key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _UniqueKeyLoader.construct_mapping)
# YAML 1.2 booleans: ``yes/no/on/off`` (YAML 1.1) stay strings, so a case named ``off`` is
# the string the user typed, not ``False``.
_BOOL_TAG = "tag:yaml.org,2002:bool"
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _measure(root: yaml.Node) -> tuple[int, int]:
    """Nesting depth and expanded node count of a composed YAML document.

    Aliases count as many times as they are used (their expansion is what the loader, the
    merge and the validation walk), but each node is measured once (memoised), so an "alias
    bomb" is measured in linear time.  Iterative: no recursion on hostile input.  Raises
    ``ValueError`` for a recursive alias (a node containing itself).
    """
    done: dict[int, tuple[int, int]] = {}
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if key in done:
            continue
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        if not finished:
            visiting.add(key)
            stack.append((node, True))
            for child in children:
                if id(child) in visiting:
                    raise ValueError("a recursive alias (a node that contains itself)")
                if id(child) not in done:
                    stack.append((child, False))
        else:
            visiting.discard(key)
            depth = 1 + max((done[id(c)][0] for c in children), default=0)
            size = 1 + sum(done[id(c)][1] for c in children)
            done[key] = (depth, min(size, 2**62))
    return done[id(root)]


def safe_yaml(text: str) -> Any:
    """Parse YAML safely: no tags beyond the safe set, no duplicate keys, bounded nesting and
    a bounded number of values once aliases are expanded (no "billion laughs").

    The document is parsed and composed once; its node graph is measured, then constructed
    (the same values as ``yaml.load`` with this loader, at half the parsing: ≈ 13 instead of
    ≈ 28 ms for a scenario file).

    Raises ``yaml.YAMLError`` (or ``ValueError`` for too deep nesting)."""
    loader = _UniqueKeyLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise ValueError(f"nested more than {MAX_DEPTH} levels deep") from None
        if node is None:
            return None
        depth, size = _measure(node)
        if depth > MAX_DEPTH:
            raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
        if size > MAX_NODES:
            raise ValueError(f"{size:,} values once aliases (*name) are expanded; at most "
                             f"{MAX_NODES:,} are read")
        try:
            return loader.construct_document(node)
        except _CONSTRUCT_ERRORS as exc:  # raised outside construct_object (a collection's tail)
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this document ({type(exc).__name__})",
                node.start_mark) from None
    finally:
        loader.dispose()


def _read_yaml(path: Path) -> dict[str, Any]:
    import stat

    try:
        info = path.stat()
    except FileNotFoundError:
        raise ScenarioError([(str(path), "", "file not found")]) from None
    except OSError as exc:  # e.g. a name too long
        raise ScenarioError([(_text.excerpt(path), "", f"cannot read file: {exc.strerror}")]) from None
    if not stat.S_ISREG(info.st_mode):
        raise ScenarioError([(str(path), "", "not a regular file (a scenario is a YAML file)")])
    if info.st_size > MAX_FILE_BYTES:
        raise ScenarioError([(str(path), "", f"file too large ({info.st_size:,} bytes); scenario "
                              f"and experiment files up to {MAX_FILE_BYTES:,} bytes are read")])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # a directory, no permission, EIO (/proc)
        raise ScenarioError([(str(path), "", f"cannot read file: {exc}")]) from None
    try:
        data = safe_yaml(text)
    except ValueError as exc:
        raise ScenarioError([(str(path), "", f"not a usable scenario: {exc}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = _text.excerpt(getattr(exc, "problem", None) or str(exc), 300)
        raise ScenarioError([(str(path), "", f"not valid YAML: {where}{problem}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(
            [(str(path), "", f"must be a mapping of fields, got {type(data).__name__}")]
        )
    return data


#: commnet's own project folder (a source checkout), whose scenarios any study may extend.
_PACKAGE_PROJECT = Path(__file__).resolve().parents[1]


def extends_root(path: str | os.PathLike[str]) -> Path:
    """The scenario's folder tree, which an ``extends:`` chain starting at ``path`` may read.

    The nearest folder above ``path`` holding ``pyproject.toml`` or ``.git`` (the project),
    else the parent of the file's folder.  (Bases inside commnet's own project folder are
    allowed as well, see :func:`load_yaml_chain`.)
    """
    folder = Path(os.path.abspath(path)).parent
    for candidate in (folder, *folder.parents):
        if (candidate / "pyproject.toml").is_file() or (candidate / ".git").exists():
            return candidate
    return folder.parent


def _within(path: Path, root: Path) -> bool:
    return os.path.commonpath([path, root]) == str(root)


def _extends_target(current: Path, parent: Any, roots: list[Path]) -> Path:
    """Check the value of ``current``'s ``extends:`` line and return the base file's path."""
    def refuse(message: str) -> ScenarioError:
        return ScenarioError([(str(current), "extends", message)])

    if not isinstance(parent, str) or not parent.strip():
        raise refuse("must be a file name (a relative path to a .yaml or .yml file), got "
                     f"{_text.value(parent)}")
    shown = _text.value(parent)
    if "\0" in parent or len(parent) > 1024:
        raise refuse(f"not a usable file name: {shown}")
    if Path(parent).suffix.lower() not in (".yaml", ".yml"):
        raise refuse(f"must name a .yaml or .yml file, got {shown}")
    if Path(parent).is_absolute() or parent.startswith("~"):
        raise refuse(f"must be a path relative to this file's folder, got the absolute path {shown}")
    nxt = Path(os.path.normpath(os.path.abspath(current.parent / parent)))
    allowed = ("(a base must be inside the scenario's project, or beside its folder outside a "
               "project, or among commnet's own scenarios)")
    if not any(_within(nxt, root) for root in roots):
        raise refuse(f"{shown} lies outside the scenario's folder tree {roots[0]} {allowed}")
    # Links are followed before the check (the lexical path may stay inside while a link in
    # it points elsewhere); the target is named, never opened.
    try:
        escape = link_outside(nxt, roots)
    except (OSError, ValueError) as exc:
        raise refuse(f"cannot resolve base file {shown}: {exc}") from None
    if escape is not None:
        link, real = escape
        raise refuse(f"{shown} is a symbolic link ({_text.excerpt(link)} points to "
                     f"{_text.excerpt(real)}) that leads outside the scenario's folder tree "
                     f"{roots[0]}; the base was not read {allowed}")
    try:
        found = nxt.is_file()
    except OSError as exc:
        raise refuse(f"cannot read base file {shown}: {exc.strerror}") from None
    if not found:
        raise refuse(f"base file {shown} not found (looked in {_text.excerpt(nxt)})"
                     if not nxt.exists() else f"base {shown} is not a regular file")
    return nxt


def base_roots(path: str | os.PathLike[str]) -> list[Path]:
    """The folder trees a file at ``path`` may take its bases from: :func:`extends_root` and,
    in a source checkout, commnet's own project folder (its ``scenarios/``)."""
    roots = [extends_root(path)]
    if (_PACKAGE_PROJECT / "pyproject.toml").is_file():
        roots.append(_PACKAGE_PROJECT)
    return roots


def link_outside(path: Path, roots: Sequence[Path]) -> tuple[Path, Path] | None:
    """``(link, target)`` if ``path`` (absolute, normalised) lies inside one of ``roots`` but
    is, or runs through, a symbolic link resolving outside every one of them; else None (a
    path named outside the trees is the caller's to judge).  Only names are resolved:
    nothing is opened."""
    if not any(_within(path, root) for root in roots):
        return None
    real = Path(os.path.realpath(path))
    if real == path or any(_within(real, Path(os.path.realpath(root))) for root in roots):
        return None
    return _first_link(path) or path, real


def _first_link(path: Path) -> Path | None:
    """The first component of ``path`` (from the root down) that is a symbolic link."""
    for candidate in (*reversed(path.parents), path):
        try:
            if candidate.is_symlink():
                return candidate
        except OSError:
            return None
    return None


def load_yaml_chain(path: str | os.PathLike[str]) -> list[tuple[str, dict[str, Any]]]:
    """Read a file and its ``extends:`` ancestors, child first.

    Returns
    -------
    list of (file name, raw mapping)
        The raw mappings with ``extends`` removed; cycles are reported as errors.  A base
        must be a relative ``.yaml``/``.yml`` path inside :func:`extends_root` (module
        docstring); an error reading it names the file whose ``extends:`` line pointed there.
    """
    chain: list[tuple[str, dict[str, Any]]] = []
    seen: set[Path] = set()
    current: Path | None = Path(path)
    roots = base_roots(path)
    named_by: Path | None = None
    while current is not None:
        resolved = current.resolve()
        if resolved in seen:
            raise ScenarioError([(str(current), "extends", "circular extends chain")])
        seen.add(resolved)
        try:
            data = _read_yaml(current)
        except ScenarioError as exc:
            if named_by is None:
                raise
            raise ScenarioError([(str(named_by), "extends", f"base file {src}: {path_}: {msg}"
                                  if path_ else f"base file {src}: {msg}")
                                 for src, path_, msg in exc.problems]) from None
        parent = data.pop("extends", None)
        chain.append((str(current), data))
        if parent is None:
            current = None
        else:
            named_by, current = current, _extends_target(current, parent, roots)
    return chain


#: Longest ``--set`` item read (characters): YAML parsing is pure Python, ~2.5 s per MB.
MAX_SET_CHARS = 100_000


def _parse_override(item: str) -> tuple[list[str], Any]:
    if len(item) > MAX_SET_CHARS:
        raise ScenarioError([("--set", _text.excerpt(item, 60), f"too long ({len(item):,} "
                              f"characters); a --set item is at most {MAX_SET_CHARS:,}; put "
                              "large values in the scenario file")])
    if "=" not in item:
        raise ScenarioError([("--set", _text.excerpt(item), "expected dotted.path=value")])
    key, _, raw = item.partition("=")
    key = key.strip()
    if not key:
        raise ScenarioError([("--set", _text.excerpt(item), "empty field path")])
    try:
        value = safe_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    except ValueError as exc:
        raise ScenarioError([("--set", key, str(exc))]) from None
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``dotted.path=value`` overrides applied.

    Intermediate mappings are created where missing; list items are addressed by index.
    """
    out = copy.deepcopy(data)
    for item in overrides:
        parts, value = _parse_override(item)
        try:
            set_path(out, ".".join(parts), value)
        except ValueError as exc:
            raise ScenarioError([("--set", _text.excerpt(".".join(parts)), str(exc))]) from None
    return out


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for the dotted ``path`` ``a.b.c`` (in place).

    Intermediate mappings are created where missing; list items are addressed by index
    (``groups.0.population``).  The value is used as given (typed); :func:`apply_overrides`
    parses it from ``--set`` text first.

    Raises
    ------
    ValueError
        If the path runs through a scalar or names an index outside a list.
    """
    parts = path.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[:depth]) or "the scenario"
        if isinstance(node, list):
            try:
                idx = int(part)
                node[idx]
            except (ValueError, IndexError):
                raise ValueError(f"{_text.value(part)} is not an index of "
                                 f"{_text.excerpt(where)}, a list of {len(node)} items") from None
            if last:
                node[idx] = value
            else:
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
        else:
            raise ValueError(f"{_text.excerpt(where)} is a value ({_text.value(node)}), not a "
                             "mapping or list")


def _generated(data: dict[str, Any], sources: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Expand ``generate:`` rules into groups, providers and local authorities."""
    from .generate import GenerateSpec, expand

    clash = [k for k in ("groups", "providers", "local_authorities") if data.get(k)]
    if clash:
        raise ScenarioError([(_origin([clash[0]], sources), clash[0],
                              "cannot be given together with `generate` (the rules create it)")])
    try:
        GenerateSpec.model_validate(data["generate"])
    except ValidationError as exc:
        problems = validation_problems(exc, data["generate"], [])
        raise ScenarioError([(_origin(["generate"], sources), f"generate.{path}", msg)
                             for _, path, msg in problems]) from None
    seed = data.get("seed", 0)
    if isinstance(seed, float) and seed.is_integer() and seed >= 0:
        data = {**data, "seed": int(seed)}  # as the schema reads an integral float
    try:
        return expand(data)
    except ValueError as exc:
        field = "seed" if str(exc).startswith("seed") else "generate.population"
        raise ScenarioError([(_origin([field.split(".")[0]], sources), field,
                              _text.excerpt(str(exc), 400))]) from None


def load_scenario(
    path: str | os.PathLike[str],
    overrides: Iterable[str] = (),
    *,
    check_memory: bool = True,
) -> Scenario:
    """Load, merge, override and validate a scenario file.

    Parameters
    ----------
    path : path-like
        The YAML scenario file.
    overrides : iterable of str
        ``dotted.path=value`` strings applied after ``extends`` merging.
    check_memory : bool
        Refuse (before anything is allocated) scenarios whose estimated memory exceeds what
        this machine has available.

    Raises
    ------
    ScenarioError
        With the file, field path, bad value and what is allowed for every problem.
    """
    chain = load_yaml_chain(path)
    data: dict[str, Any] = {}
    for _, raw in reversed(chain):
        data = merge_mappings(data, raw)
    overrides = list(overrides)
    sources = list(chain)
    if overrides:
        data = apply_overrides(data, overrides)
        sources = [("--set", apply_overrides({}, overrides)), *chain]
    try:
        if data.get("practices_from") is not None:  # practice registers (simulation.registers)
            data = registers.expand_registers(data, sources)  # and structure.bodies_from
        elif registers.structures_with_bodies_from(data):  # bodies_from without a register
            data = registers.expand_bodies_from(data, sources)
        if data.get("generate") is not None:
            data = _generated(data, sources)
        data = surveyed.resolve_paths(data, lambda loc: _origin(loc, sources))
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(validation_problems(exc, data, sources)) from None
    covariates.check_deprivation(scenario, lambda loc: _origin(loc, sources))
    if check_memory:
        need = estimate_memory(scenario)
        have = available_memory()
        if have is not None and need > have:
            raise ScenarioError(
                [
                    (
                        str(path),
                        "groups",
                        f"this scenario needs about {need / 2**30:.1f} GiB (an estimate: "
                        f"{count_agents(scenario):,} agents and their ties) but only "
                        f"{have / 2**30:.1f} GiB is available (the smallest of free memory and "
                        "this process's address-space and cgroup limits); reduce `scale`, the "
                        "groups or the network's ties per agent",
                    )
                ]
            )
    if scenario.network.survey is None:
        return scenario
    from .survey_match import check_scenario  # numpy and the population: only with a survey

    return check_scenario(scenario, lambda loc: _origin(loc, sources))


def estimate_memory(scenario: Scenario) -> int:
    """Estimated peak bytes of a run: agents, ties and the GraphML export
    (:func:`simulation.memory.estimate_memory`, fitted to measured peaks)."""
    return memory.estimate_memory(scenario)


def available_memory() -> int | None:
    """Bytes of memory available to a new run, or None if unknown: the smallest of
    ``MemAvailable`` and the room under the process's address-space (``RLIMIT_AS``) and
    cgroup limits (:func:`simulation.memory.available_memory`)."""
    from .memory import available_memory as available

    return available()
