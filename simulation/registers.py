"""Practice registers as scenario input: real (or your own) practices instead of generated ones.

A scenario's top-level ``practices_from:`` section (:class:`RegisterSpec`) names a CSV file of
practices.  At load time, before validation, :func:`expand_registers` turns it into
``groups:`` entries, one per commissioning-body code, each holding an explicit practice list
(``groups[].practices.explicit``, items :class:`ExplicitPractice`) with the group's
population set to the sum of its list sizes.

Formats
-------
``nhs_digital``
    NHS Digital's "Patients Registered at a GP Practice" practice-level file
    ``gp-reg-pat-prac-all.csv`` (``PUBLICATION, EXTRACT_DATE, TYPE, CCG_CODE, ONS_CCG_CODE,
    CODE, POSTCODE, SEX, AGE, NUMBER_OF_PATIENTS``).  Practice totals are the rows with
    ``SEX`` = ``ALL`` and ``AGE`` = ``ALL``; every other row (a sex or age breakdown) is
    ignored.  ``CODE`` is the practice code.  The commissioning body is
    ``SUB_ICB_LOCATION_CODE`` (releases from July 2022) or ``CCG_CODE`` (before), whichever
    the file has (``SUB_ICB_LOCATION_CODE`` if both); ``group_column`` can name another
    column.  The resolved scenario records the column used in ``practices_from.group_column``.
    The optional ``map_file`` ``gp-reg-pat-prac-map.csv`` (``PRACTICE_CODE, PRACTICE_NAME,
    PRACTICE_POSTCODE, PCN_CODE, PCN_NAME, SUB_ICB_LOCATION_CODE, SUB_ICB_LOCATION_NAME,
    ICB_CODE, ICB_NAME, ...``; ``CCG_CODE``/``CCG_NAME`` in older releases) gives each
    practice's primary care network, used as its locality, and the commissioning bodies' names.
``plain``
    A CSV with columns ``practice, list_size, group`` and optionally ``locality`` and ``gps``.
    Lines starting with ``#`` are comments.

Reading rules
-------------
* Files are read with pandas ``read_csv(dtype=str)`` and every value is converted explicitly.
  Columns are matched by name (case-insensitive, surrounding spaces stripped), never by
  position. Other columns are ignored. A missing required column is an error that lists the
  required columns and the columns the file has.
* Rows are numbered as lines of the file, the header being row 1.  Every error names the
  file, the row and/or column, and the value, and says what is allowed.  It is raised as
  :class:`~simulation.errors.ScenarioError`, so the CLI prints it and exits with status 2.
* Every practice-total row is checked for an empty or duplicated practice code and an empty
  group code.  The values (list size, locality, GPs) are checked only in the rows of the
  selected groups.
* A list size is a whole number of patients from 1 to 1,000,000: empty, negative,
  non-numeric or fractional values are errors.  ``gps`` (plain files) may be empty, which
  means the default; otherwise it is a number > 0 (whole-time equivalents are accepted)
  rounded to the nearest whole number, at least 1.
* Map and totals must agree.  If the map places a practice in a selected group and the totals
  file has no such practice in that group, that is an **error**, not a warning: the two files
  are then from different releases, so the map's PCN membership cannot be trusted either.
  Take both files from the same publication.  Practices of groups that were not selected are
  not checked, so a national map can go with a totals file cut down to a few groups.  When
  localities are PCNs, a selected practice missing from the map, or one with an empty
  ``PCN_CODE``, is an error.
* The file must be a regular file smaller than 200 MB, and must not be a zip archive; a
  gzip file (``.csv.gz``) is decompressed first (at most 200 MB of content).  It is decoded as
  UTF-8 (with or without a byte-order mark); a byte that is not UTF-8 is refused, naming its
  line and column (:mod:`simulation.csvfiles`), as in the survey readers.

Groups
------
The groups are named by their code by default (``group_names: name`` uses the map's
sub-ICB/CCG names).  ``providers[].serves``, ``local_authorities[].serves`` and
``events[].groups`` must use these names.  A ``groups:`` entry with the same name is merged
over the register's group.  It may set ``commissioning_managers``, ``engagement``,
``localities`` and ``practices.gps_per_practice``, but not ``population`` or the practice
list.  Such entries keep their position; register groups without an entry follow, in the
order of ``practices_from.groups``.  ``--set groups.N...`` addresses the N-th group when
``groups:`` is absent or lists every register group.  An entry naming a group the register
lacks, without a population of its own, is an error that lists the register's groups.

Small practices: practices with fewer than ``min_list_size`` patients (default 1,000) are
listed by code, name (from the map), size, group and row in a
:class:`~simulation.errors.RegisterWarning`.  ``small_practices``: ``keep`` (default) leaves
them; ``merge`` joins each to the largest practice of its locality (the locality label, else
the map's PCN, else the group), adding its patients (and GPs when both are given) and
list-size weighting its deprivation score; ``exclude`` drops it and shares its patients
among the locality's other practices in proportion to their lists (largest remainders).  A
locality of small practices only keeps its largest.  Group totals never change.

Map levels: with a map, each practice records its PCN, sub-ICB location (or CCG) and ICB
(``explicit[].pcn``, ``sub_icb``, ``icb``).  Covariates (``covariates``,
:mod:`simulation.covariates`) add each practice's deprivation score (``explicit[].imd``).
Upper bodies from the map: ``structure.bodies_from: icb`` (top level or a ``reorganise``
event's ``structure``) is replaced by ``bodies``, one per ICB code, over the groups whose
practices the map puts there (:func:`expand_bodies_from`, after the groups are made).

Localities (``locality``): ``pcn`` makes each PCN of the map a locality; ``column`` uses the
plain file's ``locality`` column; ``rules`` shuffles the practices into
``groups[].localities.count`` localities, as for generated groups, where the count is
round(population / ``people_per_locality``) (1 to 50, at most one per practice) unless the
group's entry sets it; the resolved scenario lists the groups sized so in
``practices_from.sized_groups``, and a count set by the scenario that gives fewer than 40,000
or more than 100,000 people per locality is warned about.  The default is ``pcn`` if
a map is given, else ``column`` if a plain file has a locality column, else ``rules``.  With
``pcn`` or ``column``, the localities are the distinct labels in file order, and
``localities.count`` is ignored.

``scale`` keeps every practice of a register group and multiplies its list sizes (rounded, at
least 100).  Unlike generated groups, the number of practices and agents does not shrink.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from . import _text
from .covariates import read_covariates
from .csvfiles import (
    MAX_BYTES,
    MAX_REPORTED,
    _error,
    _listing,
    _norm,
    _raise,
    _read_table,
    _shown,
    _Table,
    check_file,
)
from .errors import ScenarioError, _origin, validation_problems, warn
from .input_specs import (
    MAX_LIST_SIZE,
    ExplicitPractice,
    RegisterSpec,
    check_group,
    check_rules,
    group_input,
    rules_input,
)
from .schema import merge_mappings

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np  # imported where used, so validating a scenario stays light

__all__ = [
    "MAX_BYTES",
    "MAX_LIST_SIZE",
    "MAX_REPORTED",
    "ExplicitPractice",
    "PracticeMap",
    "Register",
    "RegisterSpec",
    "check_file",
    "check_group",
    "check_rules",
    "expand_bodies_from",
    "expand_registers",
    "group_input",
    "read_nhs_digital",
    "read_plain",
    "read_practice_map",
    "rules_input",
    "structures_with_bodies_from",
]

#: People per locality documented in calibration.md (one locality per 40k-100k people).
LOCALITY_PEOPLE = (40_000, 100_000)
#: Bounds of a group, as in GroupSpec.population and PracticeRules.count.
GROUP_POPULATION = (1_000, 3_000_000)
GROUP_PRACTICES = 2_000

_SUB_ICB, _CCG = "SUB_ICB_LOCATION_CODE", "CCG_CODE"
_NAME_OF = {_SUB_ICB: "SUB_ICB_LOCATION_NAME", _CCG: "CCG_NAME"}


# --------------------------------------------------------------------------- schema
# ExplicitPractice, RegisterSpec and the validators that PracticeRules and GroupSpec delegate to
# live in simulation.input_specs (the schema layer, below this reader); re-exported here.


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class RegisterRow:
    """One practice read from a register file."""

    code: str
    group: str
    list_size: int
    row: int
    locality: str | None = None
    gps: int | None = None


@dataclass
class Register:
    """The practices of the selected groups of a register file.

    Attributes
    ----------
    path : Path
    format : {"nhs_digital", "plain"}
    group_column : str
        The column that named the commissioning bodies, as spelled in the file.
    groups : list of str
        The selected group codes, in order.
    practices : dict of str to list of RegisterRow
        Each selected group's practices, in file order.
    has_locality : bool
        The file has a locality column (plain files).
    columns : list of str
        The file's header, as spelled there.
    """

    path: Path
    format: str
    group_column: str
    groups: list[str]
    practices: dict[str, list[RegisterRow]]
    has_locality: bool = False
    columns: list[str] = field(default_factory=list)

    @property
    def n_practices(self) -> int:
        """Number of practices read."""
        return sum(len(v) for v in self.practices.values())


@dataclass(frozen=True)
class MapEntry:
    """One practice of a map file."""

    pcn: str
    row: int
    pcn_name: str = ""
    group: str | None = None
    group_name: str | None = None
    name: str = ""
    icb: str = ""


@dataclass
class PracticeMap:
    """NHS Digital practice mapping: practice code to PCN, commissioning body and names."""

    path: Path
    entries: dict[str, MapEntry]
    group_column: str | None
    name_column: str | None
    icb_column: str | None = None  # the ICB_CODE column as spelled, if the map has one
    columns: list[str] = field(default_factory=list)  # the header as spelled


def _whole(raw: str, what: str, lo: int, hi: int) -> tuple[int | None, str | None]:
    """Parse a whole number in [lo, hi]: (value, None) or (None, message)."""
    import numpy as np

    allowed = f"allowed: {what}, a whole number from {lo:,} to {hi:,}"
    s = raw.strip()
    if not s:
        return None, f"value {_text.value(raw)}: empty; {allowed}"
    if re.fullmatch(r"[+-]?\d+", s):
        if len(s.lstrip("+-").lstrip("0")) > 18:  # int() of over 4,300 digits raises
            v = -1 if s.startswith("-") else hi + 1
        else:
            v = int(s)
    else:
        if re.fullmatch(r"\d{1,3}(,\d{3})+", s):
            return None, f"value {_text.value(raw)}: write numbers without thousands separators; {allowed}"
        try:
            f = float(s)
        except ValueError:
            return None, f"value {_text.value(raw)}: not a number; {allowed}"
        if not np.isfinite(f):
            return None, f"value {_text.value(raw)}: not a number; {allowed}"
        if not f.is_integer():
            return None, f"value {_text.value(raw)}: not a whole number; {allowed}"
        v = int(f)
    if v < 0:
        return None, f"value {_text.value(raw)}: negative; {allowed}"
    if v < lo:
        return None, f"value {_text.value(raw)}: a practice needs at least {lo} patient; {allowed}"
    if v > hi:
        return None, f"value {_text.value(raw)}: larger than any practice; {allowed}"
    return v, None


def _gps(raw: str) -> tuple[int | None, str | None]:
    """Parse an optional GP count (number > 0, rounded, at least 1; empty = default)."""
    import numpy as np

    s = raw.strip()
    if not s:
        return None, None
    allowed = "allowed: empty (the default) or a number of GPs > 0 and ≤ 200 (rounded)"
    try:
        f = float(s)
    except ValueError:
        return None, f"value {_text.value(raw)}: not a number; {allowed}"
    if not np.isfinite(f) or f <= 0 or f > 200:
        return None, f"value {_text.value(raw)}: out of range; {allowed}"
    return max(1, int(np.floor(f + 0.5))), None


def _group_column(t: _Table, requested: str | None, defaults: tuple[str, ...]) -> str:
    if requested is not None:
        if not t.has(requested):
            raise _error(t.path, "row 1 (header)",
                         f"no column {_text.value(requested)} (practices_from.group_column); the file "
                         f"has: {_listing(t.names)}")
        return t.name(requested)
    for name in defaults:
        if t.has(name):
            return t.name(name)
    return defaults[0]  # require() reports it


def _collect(t: _Table, fmt: str, rows: np.ndarray, code_col: str, size_col: str,
             group_col: str, groups: list[str] | None, loc_col: str | None,
             gps_col: str | None) -> Register:
    """Check and gather the practice rows ``rows`` (boolean mask) of the selected groups."""
    import numpy as np

    problems: list[tuple[str, str]] = []
    codes, grp, lines = t.values(code_col), t.values(group_col), t.lines
    code_name, group_name, size_name = t.name(code_col), t.name(group_col), t.name(size_col)
    first: dict[str, int] = {}
    for i in np.flatnonzero(rows):
        c, line = codes[i], int(lines[i])
        if not c:
            problems.append((f"row {line} / column {code_name}",
                             "value '': empty practice code; every practice row needs one"))
        elif c in first:
            problems.append((f"row {line} / column {code_name}",
                             f"value {_text.value(c)}: practice code appears twice (rows {first[c]} and "
                             f"{line}); each practice must have one row"
                             + (" with SEX = ALL and AGE = ALL" if fmt == "nhs_digital" else "")))
        else:
            first[c] = line
        if not grp[i]:
            problems.append((f"row {line} / column {group_name}",
                             "value '': empty commissioning-body code; every practice row needs one"))
    _raise(t.path, problems)
    present = list(dict.fromkeys(g for g in grp[rows] if g))
    chosen = present if groups is None else list(groups)
    absent = [g for g in chosen if g not in set(present)]
    if absent:
        _raise(t.path, [(f"column {group_name}",
                         f"value {_text.value(g)}: no practice of this group in the file (asked for in "
                         f"practices_from.groups); codes present: {_listing(present)}")
                        for g in absent])
    wanted = set(chosen)
    sizes, locs = t.values(size_col), t.values(loc_col) if loc_col else None
    gps = t.values(gps_col) if gps_col else None
    by_group: dict[str, list[RegisterRow]] = {g: [] for g in chosen}
    for i in np.flatnonzero(rows):
        if grp[i] not in wanted:
            continue
        line = int(lines[i])
        size, msg = _whole(sizes[i], "registered patients", 1, MAX_LIST_SIZE)
        if msg:
            problems.append((f"row {line} / column {size_name}", msg))
        n_gps = None
        if gps is not None:
            n_gps, msg = _gps(gps[i])
            if msg:
                problems.append((f"row {line} / column {t.name(gps_col)}", msg))
        if not problems:
            by_group[grp[i]].append(RegisterRow(
                codes[i], grp[i], int(size), line,
                locality=None if locs is None else locs[i], gps=n_gps))
    _raise(t.path, problems)
    return Register(t.path, fmt, group_name, chosen, by_group,
                    has_locality=loc_col is not None, columns=t.names)


def read_nhs_digital(path: str | os.PathLike[str], groups: list[str] | None = None,
                     group_column: str | None = None) -> Register:
    """Read NHS Digital's practice totals (``gp-reg-pat-prac-all.csv``).

    Parameters
    ----------
    path : path-like
        The CSV file.
    groups : list of str, optional
        Commissioning-body codes to take (default: all, in file order).
    group_column : str, optional
        The column naming the commissioning body (default ``SUB_ICB_LOCATION_CODE`` if the file
        has it, else ``CCG_CODE``).

    Returns
    -------
    Register
        The practices of the selected groups: rows with ``SEX`` = ``AGE`` = ``ALL`` only.

    Raises
    ------
    ScenarioError
        Naming the file, row, column and value of every problem (module docstring).
    """
    import numpy as np

    t = _read_table(Path(path), comments=False)
    gcol = _group_column(t, group_column, (_SUB_ICB, _CCG))
    plain = t.has("practice") and t.has("list_size")
    t.require(["CODE", "SEX", "AGE", "NUMBER_OF_PATIENTS"],
              (_SUB_ICB, _CCG) if group_column is None else (),
              "; this looks like a plain file: set practices_from.format: plain" if plain else "")
    sex = np.char.upper(t.values("SEX").astype(str))
    age = np.char.upper(t.values("AGE").astype(str))
    totals = (sex == "ALL") & (age == "ALL")
    if not totals.any():
        raise _error(t.path, f"column {t.name('SEX')} / column {t.name('AGE')}",
                     "no practice totals: no row has SEX = ALL and AGE = ALL (use the "
                     "practice-level totals file gp-reg-pat-prac-all.csv)")
    return _collect(t, "nhs_digital", totals, "CODE", "NUMBER_OF_PATIENTS", gcol, groups,
                    None, None)


def read_plain(path: str | os.PathLike[str], groups: list[str] | None = None,
               group_column: str | None = None) -> Register:
    """Read a plain practice CSV: ``practice, list_size, group`` [, ``locality``, ``gps``].

    Parameters and errors as :func:`read_nhs_digital`; ``#`` lines are comments.  An empty
    ``locality`` is kept as ``""`` (:func:`expand_registers` refuses it when localities come
    from the column).
    """
    import numpy as np

    t = _read_table(Path(path), comments=True)
    gcol = _group_column(t, group_column, ("group",))
    nhs = t.has("CODE") and t.has("NUMBER_OF_PATIENTS")
    t.require(["practice", "list_size", *([] if group_column else ["group"])], (),
              "; this looks like an NHS Digital file: set practices_from.format: nhs_digital"
              if nhs else "")
    rows = np.ones(len(t.lines), bool)
    return _collect(t, "plain", rows, "practice", "list_size", gcol, groups,
                    "locality" if t.has("locality") else None, "gps" if t.has("gps") else None)


def read_practice_map(path: str | os.PathLike[str], group_column: str | None = None
                      ) -> PracticeMap:
    """Read NHS Digital's practice mapping (``gp-reg-pat-prac-map.csv``).

    Requires ``PRACTICE_CODE`` and ``PCN_CODE``; ``PCN_NAME``, the commissioning-body code
    (``group_column`` if the map has it, else ``SUB_ICB_LOCATION_CODE`` or ``CCG_CODE``) and
    its name (``SUB_ICB_LOCATION_NAME`` / ``CCG_NAME``) are used when present.  Empty or
    duplicated practice codes are errors.
    """
    t = _read_table(Path(path), comments=False)
    t.require(["PRACTICE_CODE", "PCN_CODE"])
    gcol = next((c for c in ([group_column] if group_column else []) + [_SUB_ICB, _CCG]
                 if c and t.has(c)), None)
    own_name = [_NAME_OF.get(_norm(gcol))] if gcol else []  # the name column of that code
    ncol = next((n for n in [*own_name, *_NAME_OF.values()] if n and t.has(n)), None)
    codes, pcn = t.values("PRACTICE_CODE"), t.values("PCN_CODE")
    pcn_name = t.values("PCN_NAME") if t.has("PCN_NAME") else None
    grp = t.values(gcol) if gcol else None
    names = t.values(ncol) if ncol else None
    pname = t.values("PRACTICE_NAME") if t.has("PRACTICE_NAME") else None
    icb = t.values("ICB_CODE") if t.has("ICB_CODE") else None
    entries: dict[str, MapEntry] = {}
    problems: list[tuple[str, str]] = []
    col = t.name("PRACTICE_CODE")
    for i, code in enumerate(codes):
        line = int(t.lines[i])
        if not code:
            problems.append((f"row {line} / column {col}", "value '': empty practice code"))
        elif code in entries:
            problems.append((f"row {line} / column {col}",
                             f"value {_text.value(code)}: practice appears twice (rows {entries[code].row} "
                             f"and {line}); a practice belongs to one PCN"))
        else:
            entries[code] = MapEntry(pcn[i], line, "" if pcn_name is None else pcn_name[i],
                                     None if grp is None else grp[i],
                                     None if names is None else names[i],
                                     "" if pname is None else pname[i],
                                     "" if icb is None else icb[i])
    _raise(t.path, problems)
    return PracticeMap(t.path, entries, t.name(gcol) if gcol else None,
                       t.name(ncol) if ncol else None,
                       t.name("ICB_CODE") if icb is not None else None, list(t.names))


# --------------------------------------------------------------------------- expansion


def _resolve(name: str, source: str) -> Path:
    """``name`` relative to the scenario file ``source`` (to the current directory for --set)."""
    p = Path(name).expanduser()
    if p.is_absolute() or source.startswith(("--set", "<")):
        return p
    return Path(source).parent / p


def _check_map(reg: Register, pmap: PracticeMap, mode: str) -> None:
    """Map and totals agree for the selected groups (module docstring)."""
    selected = {r.code: r for rows in reg.practices.values() for r in rows}
    if pmap.group_column is not None:
        wanted = set(reg.groups)
        problems = []
        for code, e in pmap.entries.items():
            if e.group in wanted and (code not in selected or selected[code].group != e.group):
                problems.append((f"row {e.row} / column PRACTICE_CODE",
                                 f"value {_text.value(code)}: the map places this practice in group "
                                 f"{_text.value(e.group)} but the totals file {_shown(reg.path)} has no such "
                                 "practice in that group; the two files are probably from "
                                 "different releases (use the map of the same publication)"))
        _raise(pmap.path, problems)
    if mode != "pcn":
        return
    problems = []
    for code, r in selected.items():
        e = pmap.entries.get(code)
        if e is None:
            problems.append((f"row {r.row} / column CODE",
                             f"value {_text.value(code)}: practice not in the map file "
                             f"{_shown(pmap.path)}, so it has no PCN (locality: pcn); use the "
                             "map of the same publication, or locality: rules"))
    _raise(reg.path, problems)
    problems = [(f"row {pmap.entries[c].row} / column PCN_CODE",
                 f"value '': empty PCN code for practice {_text.value(c)}; every practice needs a PCN "
                 "when localities are PCNs (or use locality: rules)")
                for c in selected if not pmap.entries[c].pcn]
    _raise(pmap.path, problems)


def _group_name(code: str, rows: list[RegisterRow], pmap: PracticeMap | None) -> str:
    if pmap is None or pmap.name_column is None:
        raise _error(pmap.path if pmap else "", "row 1 (header)",
                     "group_names: name needs a SUB_ICB_LOCATION_NAME or CCG_NAME column")
    names = Counter(pmap.entries[r.code].group_name for r in rows
                    if r.code in pmap.entries and pmap.entries[r.code].group_name)
    if not names:
        raise _error(pmap.path, f"column {pmap.name_column}",
                     f"no name for group {_text.value(code)}: none of its practices has one in the map")
    return names.most_common(1)[0][0]


_REGISTER_OWNED = ("population",)
_REGISTER_OWNED_RULES = ("count", "explicit", "list_size_cv", "min_list_size")


def expand_registers(data: dict[str, Any], sources: list[tuple[str, dict[str, Any]]]
                     ) -> dict[str, Any]:
    """Replace ``practices_from`` by the groups it describes (before validation).

    Parameters
    ----------
    data : dict
        The merged raw scenario (after ``extends`` and ``--set``).
    sources : list of (name, raw mapping)
        Where each value came from (the loader's ``sources``), used to resolve file names
        relative to the scenario file that gives them and to attribute errors.

    Returns
    -------
    dict
        ``data`` with ``groups`` filled in and ``practices_from`` resolved (the groups taken,
        the group column used and the locality mode recorded).

    Raises
    ------
    ScenarioError
        For a bad ``practices_from`` section, a bad file, or a ``groups:`` entry that
        contradicts the register.
    """
    origin = _origin(["practices_from"], sources)
    raw = data["practices_from"]
    if data.get("generate") is not None:
        raise ScenarioError([(origin, "practices_from",
                              "cannot be given together with `generate` (both create the groups)")])
    try:
        spec = RegisterSpec.model_validate(raw)
    except ValidationError as exc:
        problems = validation_problems(exc, raw if isinstance(raw, dict) else {}, [])
        raise ScenarioError([(origin, f"practices_from.{p}" if p else "practices_from", m)
                             for _, p, m in problems]) from None
    path = _resolve(spec.file, _origin(["practices_from", "file"], sources))
    reader = read_nhs_digital if spec.format == "nhs_digital" else read_plain
    reg = reader(path, groups=spec.groups, group_column=spec.group_column)
    pmap = None
    if spec.map_file is not None:
        map_path = _resolve(spec.map_file, _origin(["practices_from", "map_file"], sources))
        pmap = read_practice_map(map_path, reg.group_column)
    mode = spec.locality or ("pcn" if pmap else "column" if reg.has_locality else "rules")
    if mode == "column" and not reg.has_locality:
        raise _error(reg.path, "row 1 (header)",
                     "no locality column (practices_from.locality is column); the file has: "
                     f"{_listing(reg.columns)}")
    if pmap is not None:
        _check_map(reg, pmap, mode)
    if mode == "column":
        empty = [r for rows in reg.practices.values() for r in rows if not r.locality]
        _raise(reg.path, [(f"row {r.row} / column locality",
                           "value '': empty locality; every practice needs one when localities "
                           "come from the locality column (or use locality: rules)")
                          for r in empty])
    cov = None
    if spec.covariates is not None:
        cov_path = _resolve(spec.covariates.file,
                            _origin(["practices_from", "covariates", "file"], sources))
        cov = read_covariates(cov_path, spec.covariates,
                              {r.code: (r.list_size, r.row) for rows in reg.practices.values()
                               for r in rows}, reg.path)
    made: dict[str, dict[str, Any]] = {}
    small: list[str] = []
    for code in reg.groups:
        rows = reg.practices[code]
        explicit = []
        for r in rows:
            item: dict[str, Any] = {"code": r.code, "list_size": r.list_size}
            if mode == "pcn":
                item["locality"] = pmap.entries[r.code].pcn
            elif mode == "column":
                item["locality"] = r.locality
            if r.gps is not None:
                item["gps"] = r.gps
            e = pmap.entries.get(r.code) if pmap is not None else None
            if e is not None:
                item.update({k: v for k, v in (("pcn", e.pcn), ("sub_icb", e.group),
                                               ("icb", e.icb)) if v})
            if cov is not None:
                item["imd"] = cov.imd[r.code]
            explicit.append(item)
        total = sum(r.list_size for r in rows)
        lo, hi = GROUP_POPULATION
        if not lo <= total <= hi or len(rows) > GROUP_PRACTICES:
            raise _error(reg.path, f"column {reg.group_column}",
                         f"value {_text.value(code)}: the group's {len(rows)} practices have {total:,} "
                         f"patients; a group needs {lo:,} to {hi:,} patients in at most "
                         f"{GROUP_PRACTICES:,} practices")
        name = code if spec.group_names == "code" else _group_name(code, rows, pmap)
        rows_of = {r.code: r for r in rows}
        tiny = [x for x in explicit if x["list_size"] < spec.min_list_size]
        for x in tiny:
            e = pmap.entries.get(x["code"]) if pmap is not None else None
            label = f"{x['code']} {e.name}" if e is not None and e.name else x["code"]
            small.append(f"{label} ({x['list_size']:,} patient{'s' * (x['list_size'] != 1)}, "
                         f"group {name}, row "
                         f"{rows_of[x['code']].row})")
        if tiny and spec.small_practices != "keep":
            explicit = _fold_small(explicit, spec.min_list_size, spec.small_practices)
        made[name] = {"name": name, "population": total,
                      "practices": {"count": len(explicit), "explicit": explicit}}
    if small:
        action = {"keep": "kept as they are (set practices_from.small_practices: exclude or "
                          "merge to fold them into their locality)",
                  "exclude": "excluded; their patients are shared pro rata among the other "
                             "practices of their locality (group totals unchanged)",
                  "merge": "merged into the largest practice of their locality (group totals "
                           "unchanged)"}[spec.small_practices]
        warn(f"{_shown(reg.path)}: {len(small)} practice(s) below the minimum list size "
             f"{spec.min_list_size:,} (practices_from.min_list_size; dormant, closing or "
             f"merging practices), {action}: {_listing(small, 20)}")
    user = data.get("groups") or []
    by_index: dict[int, Any] = {}
    if isinstance(user, dict) and all(str(k).isdigit() for k in user):
        by_index, user = {int(k): v for k, v in user.items()}, []  # --set groups.N... alone
    if not isinstance(user, list):
        raise ScenarioError([(_origin(["groups"], sources), "groups",
                              "must be a list of groups (entries named like a register group "
                              "are merged over it)")])
    groups, merged = [], set()
    counted: set[str] = set()  # register groups whose entry sets localities.count
    for i, entry in enumerate(user):
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name in made:
            _check_override(entry, i, name, reg, sources)
            groups.append(merge_mappings(made[name], entry))
            merged.add(name)
            if _sets_count(entry):
                counted.add(name)
        elif isinstance(entry, dict) and "population" not in entry and not (
                isinstance(entry.get("practices"), dict) and "explicit" in entry["practices"]):
            raise ScenarioError([(_origin(["groups", i, "name"], sources), f"groups[{i}].name",
                                  f"{_text.value(name)} is not a group of the register {_shown(reg.path)}; "
                                  f"its groups are: {_listing(list(made))} (an entry named like "
                                  "one of them is merged over it; a group of your own needs a "
                                  "population and practices)")])
        else:
            groups.append(entry)
    groups += [g for n, g in made.items() if n not in merged]
    for i, entry in sorted(by_index.items()):  # the i-th group of the register
        if i >= len(groups) or not isinstance(entry, dict):
            raise ScenarioError([(_origin(["groups", i], sources), f"groups.{i}",
                                  f"not a group: the register gives {len(groups)} groups "
                                  f"({_listing(list(made))}), addressed as groups.0 to "
                                  f"groups.{len(groups) - 1}")])
        _check_override(entry, i, groups[i]["name"], reg, sources)
        groups[i] = merge_mappings(groups[i], entry)
        if _sets_count(entry):
            counted.add(groups[i]["name"])
    sized: list[str] = []
    if mode == "rules":
        per = spec.people_per_locality
        for g in groups:
            if g.get("name") not in made:
                continue
            n_prac, total = g["practices"]["count"], g["population"]
            if g["name"] in counted:
                count = (g.get("localities") or {}).get("count")
                if isinstance(count, int) and count > 0 and not (
                        LOCALITY_PEOPLE[0] <= total / count <= LOCALITY_PEOPLE[1]):
                    warn(f"group {g['name']}: localities.count {count} gives {total / count:,.0f} "
                         f"people per locality, outside the documented "
                         f"{LOCALITY_PEOPLE[0]:,}-{LOCALITY_PEOPLE[1]:,} (calibration.md)")
                continue
            count = max(1, min(50, n_prac, round(total / per)))
            g["localities"] = merge_mappings(g.get("localities") or {}, {"count": count})
            sized.append(g["name"])
    out = dict(data)
    out["practices_from"] = spec.model_copy(update={
        "groups": list(reg.groups), "group_column": reg.group_column, "locality": mode,
        "sized_groups": sized or None,
    }).model_dump(mode="json")
    out["groups"] = groups
    return expand_bodies_from(out, sources, pmap)


BODIES_FROM = ("icb",)


def structures_with_bodies_from(data: dict[str, Any]) -> list[tuple[list[Any], dict[str, Any]]]:
    """The structures that name ``bodies_from``: the top-level ``structure`` and each
    ``reorganise`` event's ``structure``, as (location, raw mapping)."""
    found: list[tuple[list[Any], dict[str, Any]]] = []
    st = data.get("structure")
    if isinstance(st, dict) and st.get("bodies_from") is not None:
        found.append((["structure"], st))
    events = data.get("events")
    for i, ev in enumerate(events if isinstance(events, list) else []):
        st = ev.get("structure") if isinstance(ev, dict) else None
        if isinstance(st, dict) and st.get("bodies_from") is not None:
            found.append((["events", i, "structure"], st))
    return found


def expand_bodies_from(data: dict[str, Any], sources: list[tuple[str, dict[str, Any]]],
                       pmap: PracticeMap | None = None) -> dict[str, Any]:
    """Replace ``structure.bodies_from: icb`` by the bodies it describes (before validation).

    One body per ICB code of the register's map file (``ICB_CODE``), named by the code, over
    the groups whose practices the map places in that ICB, in the order the groups come; this
    in the top-level ``structure`` and in every ``reorganise`` event's ``structure``.  Every
    practice of a group must have the same ICB code.

    Parameters
    ----------
    data : dict
        The raw scenario with ``groups`` already expanded from ``practices_from``.
    sources : list of (name, raw mapping)
        The loader's sources, to attribute errors.
    pmap : PracticeMap or None
        The register's map file (None: the scenario has no register or no map file).

    Raises
    ------
    ScenarioError
        ``bodies_from`` other than ``icb``, given with ``bodies``, without a register and its
        map, a map without an ``ICB_CODE`` column, a group with no ICB code or with practices
        in more than one ICB.
    """
    found = structures_with_bodies_from(data)
    if not found:
        return data
    out = dict(data)
    events = list(out.get("events") or [])
    for loc, st in found:
        where = ".".join(str(x) for x in loc)
        origin = _origin([*loc, "bodies_from"], sources)
        value = st["bodies_from"]
        if value not in BODIES_FROM:
            raise ScenarioError([(origin, f"{where}.bodies_from",
                                  f"{_text.value(value)} is not allowed; allowed: icb (one body per ICB "
                                  "code of the register's map file)")])
        if st.get("bodies"):
            raise ScenarioError([(origin, f"{where}.bodies_from",
                                  "give bodies or bodies_from, not both (bodies_from: icb "
                                  "fills in bodies from the register's map file)")])
        if data.get("practices_from") is None or pmap is None:
            what = ("the scenario has no practices_from" if data.get("practices_from") is None
                    else "practices_from has no map_file")
            raise ScenarioError([(origin, f"{where}.bodies_from",
                                  f"bodies_from: icb takes the bodies from the register's map "
                                  f"file, but {what}; give practices_from with format: "
                                  "nhs_digital and map_file: an NHS Digital "
                                  "gp-reg-pat-prac-map.csv with an ICB_CODE column, or list "
                                  "the bodies (bodies: [{name, groups}])")])
        if pmap.icb_column is None:
            raise _error(pmap.path, "row 1 (header)",
                         f"no column ICB_CODE, which {where}.bodies_from: icb needs (each "
                         f"practice's integrated care board); the file has: "
                         f"{_listing(pmap.columns)}")
        by_icb: dict[str, list[str]] = {}
        for g in data.get("groups") or []:
            name = g.get("name") if isinstance(g, dict) else None
            rules = g.get("practices") if isinstance(g, dict) else None
            ex = rules.get("explicit") if isinstance(rules, dict) else None
            ex = [p for p in ex or [] if isinstance(p, dict)]
            if not ex:
                raise ScenarioError([(origin, f"{where}.bodies_from",
                                      f"group {_text.value(name)} has no practices from the register, so "
                                      "no ICB code to place it by; every group needs one "
                                      "(bodies_from: icb), or list the bodies")])
            blank = [str(p.get("code")) for p in ex if not p.get("icb")]
            if blank:
                raise _error(pmap.path, f"column {pmap.icb_column}",
                             f"group {_text.value(name)} has no ICB code for {len(blank)} of its "
                             f"{len(ex)} practices ({_listing(blank, 10)}); {where}.bodies_from: "
                             "icb needs every practice's ICB code (or list the bodies)")
            codes = Counter(str(p["icb"]) for p in ex)
            if len(codes) > 1:
                shown = ", ".join(f"{c} ({n} practice{'s' * (n != 1)})"
                                  for c, n in codes.most_common())
                raise _error(pmap.path, f"column {pmap.icb_column}",
                             f"group {_text.value(name)} has practices in {len(codes)} ICBs: {shown}; "
                             f"{where}.bodies_from: icb puts each group under one ICB, so all "
                             "of a group's practices must share one ICB code (fix the map, "
                             "or list the bodies)")
            by_icb.setdefault(next(iter(codes)), []).append(name)
        new = {k: v for k, v in st.items() if k != "bodies_from"}
        new["bodies"] = [{"name": code, "groups": names} for code, names in by_icb.items()]
        if loc[0] == "structure":
            out["structure"] = new
        else:
            events[loc[1]] = {**events[loc[1]], "structure": new}
    if events:
        out["events"] = events
    return out


def _sets_count(entry: Any) -> bool:
    loc = entry.get("localities") if isinstance(entry, dict) else None
    return isinstance(loc, dict) and "count" in loc


def _fold_small(explicit: list[dict[str, Any]], minimum: int, how: str) -> list[dict[str, Any]]:
    """Fold the practices below ``minimum`` into their locality (else their group).

    ``merge``: each joins the largest practice of its locality (its patients and GPs added,
    the deprivation score list-size weighted).  ``exclude``: each is dropped and its patients
    are shared among the locality's other practices in proportion to their lists (largest
    remainders, so totals are exact).  A locality of small practices only keeps its largest.
    The locality is ``locality`` if the practices carry one, else ``pcn``, else the group.
    """
    def key(x: dict[str, Any]) -> Any:
        return x.get("locality") or x.get("pcn")

    out = [dict(x) for x in explicit]
    units: dict[Any, list[int]] = {}
    for i, x in enumerate(out):
        units.setdefault(key(x), []).append(i)
    drop: set[int] = set()
    for members in units.values():
        tiny = [i for i in members if out[i]["list_size"] < minimum]
        rest = [i for i in members if i not in tiny]
        if not rest:  # only small practices here: keep the largest, fold the others into it
            big = max(tiny, key=lambda i: out[i]["list_size"])
            tiny, rest = [i for i in tiny if i != big], [big]
        if not tiny:
            continue
        if how == "merge":
            for i in tiny:
                j = max(rest, key=lambda r: out[r]["list_size"])
                a, b = out[j], out[i]
                if "imd" in a and "imd" in b:
                    a["imd"] = round((a["imd"] * a["list_size"] + b["imd"] * b["list_size"])
                                     / (a["list_size"] + b["list_size"]), 3)
                if "gps" in a and "gps" in b:
                    a["gps"] = min(200, a["gps"] + b["gps"])
                a["list_size"] += b["list_size"]
        else:
            extra = sum(out[i]["list_size"] for i in tiny)
            w = [out[r]["list_size"] for r in rest]
            share = [extra * x / sum(w) for x in w]
            add = [int(x) for x in share]
            for k in sorted(range(len(rest)), key=lambda k: add[k] - share[k])[:extra - sum(add)]:
                add[k] += 1
            for r, n in zip(rest, add, strict=True):
                out[r]["list_size"] += n
        drop.update(tiny)
    return [x for i, x in enumerate(out) if i not in drop]


def _check_override(entry: dict[str, Any], i: int, name: str, reg: Register,
                    sources: list[tuple[str, dict[str, Any]]]) -> None:
    owned = [[k] for k in _REGISTER_OWNED if k in entry]
    rules = entry.get("practices")
    if isinstance(rules, dict):
        owned += [["practices", k] for k in _REGISTER_OWNED_RULES if k in rules]
    if owned:
        loc = ["groups", i, *owned[0]]
        raise ScenarioError([(_origin(loc, sources), f"groups[{i}]." + ".".join(owned[0]),
                              f"group {_text.value(name)} comes from the register {_shown(reg.path)}, which "
                              "gives its population and practices; a groups entry may set "
                              "commissioning_managers, engagement, localities and "
                              "practices.gps_per_practice")])
