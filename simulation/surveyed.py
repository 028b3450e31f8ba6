"""Surveyed networks as the initial informal network (issue 9, item 2).

The study surveyed 58 CCG board members about their ties to stakeholder types and analysed
the answers as social networks.  ``network.survey`` puts such data in place of the generated
ties of the groups it covers (:class:`SurveySpec`), in one of three formats:

* ``csv`` -- a node table (``id, type, role, group, practice, board``; ``role`` and
  ``practice`` optional) and an edge table (``source, target, strength``);
* ``graphml`` -- the same node attributes and an edge attribute ``strength`` (or ``weight``),
  read with :func:`networkx.read_graphml`;
* ``ego`` -- an ego-network survey table, one row per reported tie
  (``respondent, role, group, alter_type, strength``).

Column (attribute) names are matched case-insensitively and extra columns are ignored.  Files
are UTF-8 (with or without a byte-order mark); a byte that is not, a row with more or fewer
values than the header (an unquoted comma) and a node id given twice (CSV or GraphML, which
networkx would otherwise merge) are refused, naming the line and column.
Types are :data:`~simulation.scenario.STAKEHOLDER_TYPES`, roles the codes of
:data:`~simulation.population.ROLES`.  Strengths become tie weights: ``0 < strength <= 1``, or
the integers 1-5 with ``scale: likert5`` (mapped to 0.2, 0.4, ..., 1.0).  Ties are undirected:
a tie reported both ways, or twice, is one tie with the larger strength.

Survey nodes are not agents: each is *matched* to a generated agent of the same group, type
and role, board members of that group to its board members and others to non-members
(provider and local-authority nodes to staff of the organisations serving the group).  Nodes
sharing a ``practice`` label go to one generated practice, different labels to different
practices.  In ``mode: match`` only the matched agents' generated ties are removed and the
surveyed ties put in; in ``mode: replace`` every generated tie with an end in a covered group
is removed first (ties among provider and local-authority staff, and theirs with other groups,
stay), so the covered groups' informal network is exactly the survey.  In the ego format each
respondent is matched to a board member of the same role; its generated ties are removed
and each row becomes a tie to a distinct agent of ``alter_type`` belonging to (or serving) the
group, drawn at random from the agents that are not respondents, so every respondent's degree
by stakeholder type is the surveyed one (ties among respondents are not reproduced: an ego
survey does not name its alters).  A row with empty ``alter_type`` and ``strength`` declares a respondent who
reported no ties.

All draws use the generator passed in (the model's ``rng``), after the generated ties, so a
scenario without a survey draws exactly what it drew before.  The loader resolves relative
file names against the scenario file that names them, reads and checks the files, records
their digest (so the scenario hash changes when the data do) and tries the matching on a
population drawn with the scenario seed, so ``commnet validate`` reports bad data and
surveys the scenario cannot hold.  The model's 24-month ``burn_in`` then evolves the
surveyed ties like any others before month 0.

This module reads and checks (a file reader of the input layer: it imports only the errors,
the shared types and the schema); the matching and the tie replacement live in
:mod:`simulation.survey_match`, above the population builder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import stat
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _text
from .errors import ScenarioError
from .input_specs import SurveySpec
from .kinds import ROLES, STAKEHOLDER_TYPES

__all__ = [
    "MAX_BYTES",
    "Survey",
    "SurveySpec",
    "read_survey",
    "resolve_paths",
]

#: Largest survey file read (bytes); larger files are refused before parsing.
MAX_BYTES = 50 * 2**20

#: Most problems listed in one error (the rest counted: "… and N more").
MAX_PROBLEMS = _text.MAX_PROBLEMS


NODE_COLUMNS = ("id", "type", "group", "board")
NODE_OPTIONAL = ("role", "practice")
EDGE_COLUMNS = ("source", "target", "strength")
EGO_COLUMNS = ("respondent", "role", "group", "alter_type", "strength")

#: Roles that belong to a practice (a node with a ``practice`` label must have one of them).
PRACTICE_ROLES = ("gp", "practice_manager", "patient_rep")
#: Roles that sit on a board (ego-survey respondents are board members).
BOARD_ROLES = ("gp", "practice_manager", "officer", "nurse", "lay_member", "provider_staff",
               "local_authority_staff")
#: Roles of each stakeholder type.
TYPE_ROLES = {
    "gp": ("gp",),
    "manager": ("practice_manager", "commissioning_manager", "officer", "nurse"),
    "provider": ("provider_staff",),
    "patient": ("patient_rep", "lay_member"),
    "local_authority": ("local_authority_staff",),
}
_TRUE = {"1", "1.0", "true", "yes", "y"}
_FALSE = {"0", "0.0", "false", "no", "n"}


# --------------------------------------------------------------------------- parsed surveys


@dataclass
class SurveyNode:
    """One surveyed person (csv/graphml); ``where`` locates it in its file."""

    id: str
    kind: int
    role: int | None  # None: any role of the type
    group: str
    practice: str | None
    board: bool
    where: str


@dataclass
class EgoRow:
    """One row of an ego survey; ``alter_kind`` None declares a respondent without ties."""

    respondent: str
    role: int
    group: str
    alter_kind: int | None
    weight: float
    where: str


@dataclass
class Survey:
    """A survey read and checked by :func:`read_survey`.

    ``edges`` holds (source id, target id, weight, where); ``source`` is the file shown in
    errors about the survey as a whole (matching).
    """

    spec: SurveySpec
    source: str
    digest: str
    nodes: list[SurveyNode] = field(default_factory=list)
    edges: list[tuple[str, str, float, str]] = field(default_factory=list)
    ego: list[EgoRow] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # covered groups, in scenario order


class _Problems:
    """Collects (source, where, message) triples; :meth:`raise_if_any` raises them."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []
        self.dropped = 0

    def add(self, source: str, where: str, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append((source, where, message))
        else:
            self.dropped += 1

    def raise_if_any(self) -> None:
        if self.items:
            items = list(self.items)
            if self.dropped:
                src = items[-1][0]
                items.append((src, "", _text.more_line(self.dropped)))
            raise _error(items)


def _error(problems: list[tuple[str, str, str]]) -> Exception:
    return ScenarioError(problems)


def _show(path: Path) -> str:
    """A path as shown in messages: relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- paths and files


def resolve_paths(data: dict[str, Any], origin: Callable[[list[Any]], str]) -> dict[str, Any]:
    """Make the survey file names of a merged scenario mapping absolute (before validation).

    ``origin(loc)`` names the source that set a field (a scenario file or ``--set``); relative
    names are resolved against that file's folder (``--set``: the working directory).
    """
    net = data.get("network")
    survey = net.get("survey") if isinstance(net, dict) else None
    if not isinstance(survey, dict):
        return data
    out = None
    for key in ("nodes", "edges", "file", "table"):
        value = survey.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        path = Path(value).expanduser()
        if not path.is_absolute():
            src = origin(["network", "survey", key])
            base = Path.cwd() if src == "--set" else Path(src).parent
            path = base / path
        try:
            resolved = str(path.resolve())
        except (OSError, ValueError) as exc:  # a NUL byte, a name too long
            raise _error([(origin(["network", "survey", key]), f"network.survey.{key}",
                           f"not a usable file name ({exc})")]) from None
        if resolved != value:
            if out is None:
                out = {**data, "network": {**net, "survey": dict(survey)}}
            out["network"]["survey"][key] = resolved
    return data if out is None else out


def _read_bytes(path: Path, where: tuple[str, str]) -> bytes:
    """The bytes of a survey file; ``where`` = (source, field) for file-level problems."""
    src, fld = where
    shown = _show(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _error([(src, fld, f"survey file {shown} not found")]) from None
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, no permission
        reason = getattr(exc, "strerror", None) or str(exc)
        raise _error([(src, fld, f"cannot read survey file {shown}: {reason}")]) from None
    if not stat.S_ISREG(info.st_mode):
        raise _error([(src, fld, f"survey file {shown} is not a regular file")])
    if info.st_size > MAX_BYTES:
        raise _error([(src, fld, f"survey file {shown} is too large ({info.st_size / 2**20:.1f} "
                       f"MB; at most {MAX_BYTES // 2**20} MB)")])
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _error([(src, fld, f"cannot read survey file {shown}: {exc.strerror}")]) from None


def _byte_at(data: bytes, offset: int) -> str:
    """``line L, column C`` of a byte offset (:func:`simulation._text.byte_position`)."""
    return _text.byte_position(data, offset)


def _graphml_duplicates(data: bytes, shown: str, problems: _Problems) -> None:
    """Refuse ``<node id>`` values that occur twice (networkx would merge them silently),
    naming the line and column of each repeat and of the first."""
    import xml.parsers.expat

    first: dict[str, tuple[int, int]] = {}
    parser = xml.parsers.expat.ParserCreate()

    def start(name: str, attrs: dict[str, str]) -> None:
        if name.rsplit(":", 1)[-1].rsplit("}", 1)[-1] != "node" or "id" not in attrs:
            return
        here = (parser.CurrentLineNumber, parser.CurrentColumnNumber + 1)
        ident = attrs["id"]
        if ident in first:
            problems.add(shown, f"line {here[0]}, column {here[1]}",
                         f"duplicate node id {_text.value(ident)} (first on line "
                         f"{first[ident][0]}, column {first[ident][1]}); every node needs its "
                         "own id")
        else:
            first[ident] = here

    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError:
        return  # networkx has parsed it: nothing more to say here


def _table(data: bytes, shown: str, required: Sequence[str], optional: Sequence[str],
           problems: _Problems) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV table as (line number, {column: stripped text}); columns by name."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add(shown, _byte_at(data, exc.start),
                     f"byte 0x{data[exc.start]:02x} is not UTF-8 text; save the file as UTF-8 "
                     "(CSV UTF-8 in Excel)")
        problems.raise_if_any()
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)
        if header is None:
            problems.add(shown, "", f"empty file; expected a header row with the columns "
                         f"{', '.join(required)}")
            problems.raise_if_any()
        names = [h.strip().lower() for h in header]
        index: dict[str, int] = {}
        fatal = False
        for i, name in enumerate(names):
            if name in (*required, *optional):
                if name in index:
                    problems.add(shown, f"line {reader.line_num}",
                                 f"column {_text.value(name)} appears twice in the header")
                    fatal = True
                index.setdefault(name, i)
        missing = [c for c in required if c not in index]
        fatal = fatal or bool(missing)
        if missing:
            hint = ""
            if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
                hint = " (the header has one column: separate columns with commas)"
            opt = f"; optional: {', '.join(optional)}" if optional else ""
            problems.add(shown, f"line {reader.line_num}",
                         f"missing column{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(repr(m) for m in missing)}{hint}; the file has "
                         f"{_text.excerpt(', '.join(repr(h.strip()) for h in header))}; required: "
                         f"{', '.join(required)}{opt} (names are case-insensitive)")
        if fatal:
            problems.raise_if_any()
        rows = []
        width = len(header)
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            if len(row) != width:  # ragged: refused, as the register reader does
                column = min(len(row), width) + 1
                name = f" ({_text.value(header[column - 1].strip())})" if column <= width else ""
                problems.add(shown, f"line {reader.line_num}, column {column}{name}",
                             f"{len(row)} values but the header has {width} columns (quote a "
                             "value that contains a comma)")
                continue
            rows.append((reader.line_num, {c: row[i].strip() if i < len(row) else ""
                                           for c, i in index.items()}))
    except csv.Error as exc:
        problems.add(shown, f"line {reader.line_num}", f"not valid CSV: {exc}")
        problems.raise_if_any()
    return rows


# --------------------------------------------------------------------------- field parsers


def _names():
    return STAKEHOLDER_TYPES, ROLES


def _kind(value: str, where: str, shown: str, problems: _Problems) -> int | None:
    types, _ = _names()
    v = value.strip().lower()
    if v in types:
        return types.index(v)
    problems.add(shown, where, f"{_text.value(value)} is not a stakeholder type; allowed: {', '.join(types)}"
                 if v else f"is empty; allowed: {', '.join(types)}")
    return None


def _role(value: str, kind: int | None, where: str, shown: str, problems: _Problems,
          allowed: Sequence[str] | None = None, what: str = "a role code") -> int | None:
    types, roles = _names()
    v = value.strip().lower()
    allowed = tuple(allowed or roles)
    if v not in allowed:
        problems.add(shown, where, f"{_text.value(value)} is not {what}; allowed: {', '.join(allowed)}"
                     if v else f"is empty; allowed: {', '.join(allowed)}")
        return None
    if kind is not None and v not in TYPE_ROLES[types[kind]]:
        problems.add(shown, where, f"role {_text.value(v)} is not a role of type "
                     f"{_text.value(types[kind])}; allowed: {', '.join(TYPE_ROLES[types[kind]])}")
        return None
    return roles.index(v)


def _board(value: str, where: str, shown: str, problems: _Problems) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    problems.add(shown, where, f"{_text.value(value)} is not a board flag; allowed: 0 or 1 (also true/false, "
                 "yes/no)")
    return False


def _strength(value: str, scale: str, where: str, shown: str, problems: _Problems) -> float:
    try:
        s = float(value)
    except (TypeError, ValueError):
        s = math.nan
    if scale == "likert5":
        if math.isfinite(s) and s == int(s) and 1 <= s <= 5:
            return int(s) / 5.0
        problems.add(shown, where, f"{_text.value(value)} is not a strength on the 1-5 scale; allowed: the "
                     "integers 1, 2, 3, 4, 5 (network.survey.scale is likert5)")
        return math.nan
    if math.isfinite(s) and 0.0 < s <= 1.0:
        return s
    problems.add(shown, where, f"{_text.value(value)} is not a valid strength; allowed: a number with "
                 "0 < strength <= 1 (or set network.survey.scale: likert5 for a 1-5 scale)")
    return math.nan


def _node(rec: dict[str, str], ident: str, where: str, col: Callable[[str], str], shown: str,
          problems: _Problems) -> SurveyNode | None:
    """A node record -> SurveyNode (None if it has problems, which are recorded)."""
    types, roles = _names()
    before = len(problems.items) + problems.dropped
    kind = _kind(rec.get("type", ""), col("type"), shown, problems)
    role = None
    if rec.get("role"):
        role = _role(rec["role"], kind, col("role"), shown, problems)
    group = rec.get("group", "")
    if not group:
        problems.add(shown, col("group"), "is empty; give the name of a commissioning group")
    board = _board(rec.get("board", ""), col("board"), shown, problems)
    practice = rec.get("practice") or None
    if practice is not None and kind is not None:
        default = {"gp": "gp", "manager": "practice_manager", "patient": "patient_rep"}
        r = roles[role] if role is not None else default.get(types[kind])
        if r not in PRACTICE_ROLES:
            problems.add(shown, col("practice"), f"{_text.value(practice)} given for a {r or types[kind]} "
                         f"node; only {', '.join(PRACTICE_ROLES)} nodes belong to a practice")
        elif role is None:
            role = roles.index(r)
    if len(problems.items) + problems.dropped > before or kind is None:
        return None
    return SurveyNode(ident, kind, role, group, practice, board, where)


# --------------------------------------------------------------------------- readers


def _read_csv(spec: SurveySpec, where_of: Callable[[str], tuple[str, str]],
              problems: _Problems) -> tuple[list[bytes], list[SurveyNode], list, str]:
    npath, epath = Path(spec.nodes), Path(spec.edges)
    ndata = _read_bytes(npath, where_of("nodes"))
    edata = _read_bytes(epath, where_of("edges"))
    nshown, eshown = _show(npath), _show(epath)
    nodes: list[SurveyNode] = []
    first: dict[str, int] = {}
    for line, rec in _table(ndata, nshown, NODE_COLUMNS, NODE_OPTIONAL, problems):
        ident = rec["id"]
        if not ident:
            problems.add(nshown, f"line {line}, column 'id'", "is empty; every node needs an id")
            continue
        if ident in first:
            problems.add(nshown, f"line {line}, column 'id'",
                         f"duplicate node id {_text.value(ident)} (first on line {first[ident]})")
            continue
        first[ident] = line
        node = _node(rec, ident, f"line {line}", _column_at(line), nshown, problems)
        if node is not None:
            nodes.append(node)
    edges = []
    for line, rec in _table(edata, eshown, EDGE_COLUMNS, (), problems):
        a, b = rec["source"], rec["target"]
        ok = True
        for c, v in (("source", a), ("target", b)):
            if v not in first:
                problems.add(eshown, f"line {line}, column {_text.value(c)}",
                             f"unknown node id {_text.value(v)} (not in {nshown})" if v else
                             "is empty; give a node id of the node table")
                ok = False
        if ok and a == b:
            problems.add(eshown, f"line {line}", f"self-tie {_text.value(a)} -- {_text.value(b)}; "
                         "a tie joins two different people")
            ok = False
        w = _strength(rec["strength"], spec.scale, f"line {line}, column 'strength'", eshown,
                      problems)
        if ok and math.isfinite(w):
            edges.append((a, b, w, f"line {line}"))
    return [ndata, edata], nodes, edges, nshown


def _read_graphml(spec: SurveySpec, where_of: Callable[[str], tuple[str, str]],
                  problems: _Problems) -> tuple[list[bytes], list[SurveyNode], list, str]:
    import networkx as nx

    path = Path(spec.file)
    data = _read_bytes(path, where_of("file"))
    shown = _show(path)
    try:
        g = nx.read_graphml(io.BytesIO(data))
    except (ET.ParseError, nx.NetworkXError, ValueError, KeyError, TypeError) as exc:
        problems.add(shown, "", f"not valid GraphML: {_text.excerpt(exc, 300)}")
        problems.raise_if_any()
    _graphml_duplicates(data, shown, problems)
    nodes = []
    for ident, attrs in g.nodes(data=True):
        low = {str(k).strip().lower(): v for k, v in attrs.items()}
        where = f"node {_text.value(str(ident))}"
        missing = [c for c in NODE_COLUMNS[1:] if c not in low]
        if missing:
            problems.add(shown, where, f"missing attribute{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(repr(m) for m in missing)}; nodes need type, group, board "
                         "(optional: role, practice; names are case-insensitive)")
            continue
        rec = {k: "" if v is None else str(v).strip() for k, v in low.items()}
        node = _node(rec, str(ident), where, lambda c, w=where: f"{w}, attribute {_text.value(c)}", shown,
                     problems)
        if node is not None:
            nodes.append(node)
    edges = []
    for a, b, attrs in g.edges(data=True):
        a, b = str(a), str(b)
        where = f"edge {_text.value(a)} -- {_text.value(b)}"
        low = {str(k).strip().lower(): v for k, v in attrs.items()}
        if a == b:
            problems.add(shown, where, "self-tie; a tie joins two different people")
            continue
        key = "strength" if "strength" in low else "weight" if "weight" in low else None
        if key is None:
            problems.add(shown, where, "missing edge attribute 'strength' (or 'weight')")
            continue
        w = _strength(str(low[key]), spec.scale, f"{where}, attribute {_text.value(key)}", shown, problems)
        if math.isfinite(w):
            edges.append((a, b, w, where))
    return [data], nodes, edges, shown


def _column_at(line: int) -> Callable[[str], str]:
    """Locator of a column on one line of a CSV table."""
    return lambda c: f"line {line}, column {_text.value(c)}"


def _read_ego(spec: SurveySpec, where_of: Callable[[str], tuple[str, str]],
              problems: _Problems) -> tuple[list[bytes], list[EgoRow], str]:
    _, roles = _names()
    path = Path(spec.table)
    data = _read_bytes(path, where_of("table"))
    shown = _show(path)
    rows: list[EgoRow] = []
    seen: dict[str, tuple[str, str, int]] = {}
    for line, rec in _table(data, shown, EGO_COLUMNS, (), problems):
        col = _column_at(line)
        before = len(problems.items) + problems.dropped
        who = rec["respondent"]
        if not who:
            problems.add(shown, col("respondent"), "is empty; give the respondent's id")
            continue
        role = _role(rec["role"], None, col("role"), shown, problems, BOARD_ROLES,
                     "a board role (respondents are board members)")
        group = rec["group"]
        if not group:
            problems.add(shown, col("group"), "is empty; give the name of a commissioning group")
        if who in seen and role is not None and group:
            r0, g0, l0 = seen[who]
            if (roles[role], group) != (r0, g0):
                problems.add(shown, f"line {line}", f"respondent {_text.value(who)} is {roles[role]} of "
                             f"{_text.value(group)} here but {r0} of {_text.value(g0)} on line {l0}")
        elif role is not None and group:
            seen[who] = (roles[role], group, line)
        alter, strength = rec["alter_type"], rec["strength"]
        if not alter and not strength:  # a respondent who reported no ties
            kind, w = None, math.nan
        else:
            kind = _kind(alter, col("alter_type"), shown, problems)
            w = _strength(strength, spec.scale, col("strength"), shown, problems)
        if len(problems.items) + problems.dropped == before:
            rows.append(EgoRow(who, role, group, kind, w, f"line {line}"))
    return [data], rows, shown


def read_survey(spec: SurveySpec, group_names: Sequence[str], *,
                origin: Callable[[list[Any]], str] | None = None) -> Survey:
    """Read and check a survey against the scenario's group names.

    ``origin(loc)`` names the scenario file that set a field, for file-level problems (not
    found, not a regular file, too large) and for unknown ``groups``; without it they are
    reported against the survey file itself.

    Raises
    ------
    ScenarioError
        Naming the file, line (or node/edge) and column (attribute), the value and what is
        allowed, for every problem found (up to :data:`MAX_PROBLEMS`).
    """
    problems = _Problems()

    def where_of(key: str) -> tuple[str, str]:
        loc = ["network", "survey", key]
        if origin is None:
            return _show(Path(getattr(spec, key))), ""
        return origin(loc), ".".join(loc)

    nodes: list[SurveyNode] = []
    edges: list = []
    ego: list[EgoRow] = []
    if spec.format == "csv":
        blobs, nodes, edges, shown = _read_csv(spec, where_of, problems)
    elif spec.format == "graphml":
        blobs, nodes, edges, shown = _read_graphml(spec, where_of, problems)
    else:
        blobs, ego, shown = _read_ego(spec, where_of, problems)
    h = hashlib.sha256()
    for blob in blobs:
        h.update(hashlib.sha256(blob).digest())
    digest = h.hexdigest()[:16]
    known = list(group_names)
    items = nodes or ego
    for item in items:
        if item.group not in known:
            col = "column 'group'" if spec.format != "graphml" else "attribute 'group'"
            problems.add(shown, f"{item.where}, {col}", f"group {_text.value(item.group)} is not in the "
                         f"scenario; known groups: {', '.join(known)}")
    named = {item.group for item in items}
    if spec.groups is not None:
        src = origin(["network", "survey", "groups"]) if origin else shown
        for g in spec.groups:
            if g not in known:
                problems.add(src, "network.survey.groups", f"group {_text.value(g)} is not in the scenario; "
                             f"known groups: {', '.join(known)}")
            elif g not in named:
                problems.add(src, "network.survey.groups", f"group {_text.value(g)} has nobody in the "
                             f"survey {shown}")
    problems.raise_if_any()
    covered = [g for g in known if g in (spec.groups if spec.groups is not None else named)]
    if not covered:
        problems.add(shown, "", "the survey has nobody in it (no data rows)")
        problems.raise_if_any()
    keep = set(covered)
    nodes = [n for n in nodes if n.group in keep]
    ids = {n.id for n in nodes}
    edges = [e for e in edges if e[0] in ids and e[1] in ids]
    ego = [r for r in ego if r.group in keep]
    if spec.digest is not None and spec.digest != digest:
        src = origin(["network", "survey", "digest"]) if origin else shown
        problems.add(src, "network.survey.digest", f"the survey files have changed: their "
                     f"digest is {digest}, the scenario says {spec.digest}")
        problems.raise_if_any()
    return Survey(spec, shown, digest, nodes, edges, ego, covered)
