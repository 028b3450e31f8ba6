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
  :class:`~simulation.loader.ScenarioError`, so the CLI prints it and exits with status 2.
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
* The file must be a regular file smaller than 200 MB, and must not be a zip archive.  It is
  decoded as UTF-8 (with or without a byte-order mark), falling back to Latin-1.

Groups
------
The groups are named by their code by default (``group_names: name`` uses the map's
sub-ICB/CCG names).  ``providers[].serves``, ``local_authorities[].serves`` and
``events[].groups`` must use these names.  A ``groups:`` entry with the same name is merged
over the register's group.  It may set ``commissioning_managers``, ``engagement``,
``localities`` and ``practices.gps_per_practice``, but not ``population`` or the practice
list.  Such entries keep their position; register groups without an entry follow, in the
order of ``practices_from.groups``.  ``--set groups.N...`` addresses the N-th group when
``groups:`` is absent or lists every register group.

Localities (``locality``): ``pcn`` makes each PCN of the map a locality; ``column`` uses the
plain file's ``locality`` column; ``rules`` shuffles the practices into
``groups[].localities.count`` localities, as for generated groups.  The default is ``pcn`` if
a map is given, else ``column`` if a plain file has a locality column, else ``rules``.  With
``pcn`` or ``column``, the localities are the distinct labels in file order, and
``localities.count`` is ignored.

``scale`` keeps every practice of a register group and multiplies its list sizes (rounded, at
least 100).  Unlike generated groups, the number of practices and agents does not shrink.
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .schema import Strict

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np  # imported where used, so validating a scenario stays light

    from .loader import ScenarioError
    from .scenario import GroupSpec, PracticeRules

__all__ = [
    "MAX_BYTES",
    "ExplicitPractice",
    "PracticeMap",
    "Register",
    "RegisterSpec",
    "expand_registers",
    "explicit_layout",
    "read_nhs_digital",
    "read_plain",
    "read_practice_map",
]

#: Largest register file read (bytes).
MAX_BYTES = 200 * 2**20
#: Largest list size accepted for one practice (the largest English lists are about 100,000).
MAX_LIST_SIZE = 1_000_000
#: Bounds of a group, as in GroupSpec.population and PracticeRules.count.
GROUP_POPULATION = (1_000, 3_000_000)
GROUP_PRACTICES = 2_000
#: Problems reported at most per file (the rest are counted).
MAX_REPORTED = 20

_SUB_ICB, _CCG = "SUB_ICB_LOCATION_CODE", "CCG_CODE"
_NAME_OF = {_SUB_ICB: "SUB_ICB_LOCATION_NAME", _CCG: "CCG_NAME"}


# --------------------------------------------------------------------------- schema


class ExplicitPractice(Strict):
    """One practice of a group given explicitly (usually read from a register file)."""

    code: str = Field(min_length=1, description="practice code (NHS Digital CODE / PRACTICE_CODE)")
    list_size: Annotated[int, Field(ge=1, le=MAX_LIST_SIZE)] = Field(
        description="registered patients (NUMBER_OF_PATIENTS / list_size)"
    )
    locality: str | None = Field(
        None,
        description="locality label (the PCN code, or the plain file's locality); every "
        "practice of a group has one or none does (none: localities by the rules)",
    )
    gps: Annotated[int, Field(ge=1, le=200)] | None = Field(
        None,
        description="GPs at the practice, 1 to 200; default gps_per_practice × list size / "
        "the group's mean list size (at least 1)",
    )


class RegisterSpec(Strict):
    """Practices read from a register file instead of generated by rules (see
    :mod:`simulation.registers`)."""

    file: str = Field(
        min_length=1,
        description="the register CSV, relative to the scenario file that names it (to the "
        "current directory when given with --set)",
    )
    format: Literal["nhs_digital", "plain"] = Field(
        "nhs_digital",
        description="nhs_digital: NHS Digital gp-reg-pat-prac-all.csv; plain: columns "
        "practice, list_size, group [, locality, gps]",
    )
    map_file: str | None = Field(
        None,
        min_length=1,
        description="NHS Digital gp-reg-pat-prac-map.csv (nhs_digital only): PCNs as "
        "localities, names of the commissioning bodies",
    )
    groups: list[str] | None = Field(
        None,
        min_length=1,
        description="commissioning-body codes to take, in this order; default every code in "
        "the file, in file order (the resolved scenario lists them)",
    )
    group_column: str | None = Field(
        None,
        description="column naming the commissioning body; default SUB_ICB_LOCATION_CODE if "
        "the file has it, else CCG_CODE (nhs_digital), group (plain); the resolved scenario "
        "records the column used",
    )
    locality: Literal["pcn", "column", "rules"] | None = Field(
        None,
        description="localities from the map's PCNs (pcn), the plain file's locality column "
        "(column) or groups[].localities.count by the rules (rules); default pcn with a map, "
        "else column if the file has one, else rules",
    )
    group_names: Literal["code", "name"] = Field(
        "code",
        description="group names: the code, or the map's SUB_ICB_LOCATION_NAME / CCG_NAME; "
        "providers[].serves and local_authorities[].serves must use them",
    )

    @field_validator("groups", mode="before")
    @classmethod
    def _codes_are_text(cls, v: Any) -> Any:
        if isinstance(v, list):
            for item in v:
                if not isinstance(item, str):
                    raise PydanticCustomError(
                        "code_type",
                        "group codes must be text: write {item} in quotes (YAML reads an "
                        "unquoted 00123 as a number)",
                        {"item": repr(item)},
                    )
            if len(set(v)) != len(v):
                dup = sorted({x for x in v if v.count(x) > 1})
                raise PydanticCustomError(
                    "duplicate", "group codes must be unique: {dup}", {"dup": ", ".join(dup)})
        return v

    @model_validator(mode="after")
    def _combinations(self) -> RegisterSpec:
        rules = [
            (self.map_file is not None and self.format != "nhs_digital",
             "map_file goes with format nhs_digital only"),
            (self.locality == "pcn" and self.map_file is None,
             "locality: pcn needs a map_file (gp-reg-pat-prac-map.csv) that gives the PCNs"),
            (self.locality == "column" and self.format != "plain",
             "locality: column needs format plain (a file with a locality column)"),
            (self.group_names == "name" and self.map_file is None,
             "group_names: name needs a map_file that gives the names"),
        ]
        for bad, message in rules:
            if bad:
                raise PydanticCustomError("register_combination", message, {})
        return self


# The validators of PracticeRules and GroupSpec (simulation.scenario) delegate to these.


def rules_input(data: Any) -> Any:
    """Before-validation of ``PracticeRules``: a hint for ``file:``, ``count`` from the list."""
    if not isinstance(data, dict):
        return data
    if "file" in data:
        raise PydanticCustomError(
            "register_hint",
            "practices cannot name a file here; read practices from a register with the "
            "top-level `practices_from:` section (file, format, groups; README 'Your own "
            "practices')",
            {},
        )
    if isinstance(data.get("explicit"), list) and "count" not in data:
        data = {**data, "count": len(data["explicit"])}
    return data


def check_rules(rules: PracticeRules) -> None:
    """After-validation of ``PracticeRules`` with an explicit list."""
    ex = rules.explicit
    if ex is None:
        return
    if rules.count != len(ex):
        raise PydanticCustomError(
            "explicit_count", "count is {count} but explicit lists {n} practices (leave count "
            "out)", {"count": rules.count, "n": len(ex)})
    dup = [c for c, n in Counter(p.code for p in ex).items() if n > 1]
    if dup:
        raise PydanticCustomError("duplicate", "practice codes must be unique: {dup}",
                                  {"dup": ", ".join(dup[:10])})
    labelled = [p.locality is not None for p in ex]
    if any(labelled) and not all(labelled):
        i = labelled.index(not labelled[0])
        raise PydanticCustomError(
            "explicit_locality",
            "every practice has a locality or none does: explicit[{i}] ({code}) differs from "
            "explicit[0]", {"i": i, "code": ex[i].code})


def group_input(data: Any) -> Any:
    """Before-validation of ``GroupSpec``: population = sum of an explicit list's sizes."""
    if isinstance(data, dict) and "population" not in data:
        rules = data.get("practices")
        ex = rules.get("explicit") if isinstance(rules, dict) else None
        if isinstance(ex, list):
            try:
                data = {**data, "population": sum(int(p["list_size"]) for p in ex)}
            except (KeyError, TypeError, ValueError):
                pass  # the practice's own validation reports it
    return data


def check_group(group: GroupSpec) -> None:
    """After-validation of ``GroupSpec``: population equals the explicit list's total."""
    ex = group.practices.explicit
    if ex is not None and group.population != (total := sum(p.list_size for p in ex)):
        raise PydanticCustomError(
            "explicit_population",
            "population is {pop} but the explicit practices' list sizes sum to {total} (leave "
            "population out)", {"pop": group.population, "total": total})


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


@dataclass
class PracticeMap:
    """NHS Digital practice mapping: practice code to PCN, commissioning body and names."""

    path: Path
    entries: dict[str, MapEntry]
    group_column: str | None
    name_column: str | None


def _error(path: Path | str, where: str, message: str) -> ScenarioError:
    from .loader import ScenarioError

    return ScenarioError([(_shown(path), where, message)])


def _raise(path: Path, problems: list[tuple[str, str]]) -> None:
    from .loader import ScenarioError

    if not problems:
        return
    from ._text import cap, more_line

    raise ScenarioError(cap([(_shown(path), w, m) for w, m in problems], MAX_REPORTED,
                            more=lambda n: (_shown(path), "", more_line(n))))


def _shown(path: Path | str) -> str:
    return os.path.normpath(str(path))


def _norm(name: str) -> str:
    return name.strip().upper()


def _listing(names: list[str], limit: int = 30) -> str:
    shown = ", ".join(names[:limit]) or "(none)"
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


@dataclass
class _Table:
    path: Path
    names: list[str]  # header as spelled (stripped)
    index: dict[str, int]  # normalised name -> position
    data: Any  # pandas DataFrame of str, columns by position
    lines: np.ndarray  # line number of each data row

    def has(self, name: str) -> bool:
        return _norm(name) in self.index

    def name(self, name: str) -> str:
        return self.names[self.index[_norm(name)]]

    def values(self, name: str) -> np.ndarray:
        col = self.data.iloc[:, self.index[_norm(name)]]
        return col.str.strip().to_numpy(dtype=object)

    def require(self, required: list[str], alternatives: tuple[str, ...] = (),
                hint: str = "") -> None:
        missing = [c for c in required if not self.has(c)]
        if alternatives and not any(self.has(c) for c in alternatives):
            missing.append(" or ".join(alternatives))
        if missing:
            need = ", ".join([*required, *([" or ".join(alternatives)] if alternatives else [])])
            raise _error(self.path, "row 1 (header)",
                         f"missing required column(s) {', '.join(missing)}; required: {need}; "
                         f"the file has: {_listing(self.names)}{hint}")


_COMMENT = re.compile(r"(?m)^[ \t]*#.*$")
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def check_file(path: Path) -> None:
    """Refuse a path that is missing, not a regular file or larger than :data:`MAX_BYTES`."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise _error(path, "", f"file not found (looked in {path.resolve()})") from None
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, no permission
        raise _error(path, "", f"cannot read file: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise _error(path, "", "not a regular file (a directory or device?); name a CSV file")
    size = info.st_size
    if size > MAX_BYTES:
        raise _error(path, "", f"file too large: {size / 2**20:.0f} MB; register files up to "
                               f"{MAX_BYTES // 2**20} MB are read (the practice totals file is "
                               "about 1 MB: use gp-reg-pat-prac-all.csv, not an age breakdown)")


def _read_table(path: Path, *, comments: bool) -> _Table:
    """Read a CSV as strings with its header; rows that are empty are dropped."""
    import numpy as np
    import pandas as pd

    check_file(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _error(path, "", f"cannot read file: {exc.strerror or exc}") from None
    if raw.startswith(b"PK\x03\x04"):
        raise _error(path, "", "is a zip archive: unzip it and name the CSV file inside")
    if b"\x00" in raw[:65536]:
        raise _error(path, "", "is a binary file, not CSV text (an Excel workbook? save it as "
                               "CSV)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if comments:
        text = _COMMENT.sub("", text)  # keeps the line count
    body = text.lstrip(" \t\r\n")
    offset = text[: len(text) - len(body)].count("\n")
    if not body:
        raise _error(path, "", "the file is empty: it needs a header row and practice rows")
    if not comments and body.startswith("#"):
        raise _error(path, f"row {offset + 1}", "starts with a comment line, which NHS Digital "
                                                "files do not have; for a plain file set "
                                                "practices_from.format: plain")
    try:
        df = pd.read_csv(io.StringIO(body), header=None, dtype=str, keep_default_na=False,
                         skip_blank_lines=False, index_col=False)
    except pd.errors.ParserError as exc:
        m = _RAGGED.search(str(exc))
        if m:
            raise _error(path, f"row {int(m[2]) + offset}",
                         f"{m[3]} values but the header has {m[1]} columns (quote a value that "
                         "contains a comma)") from None
        raise _error(path, "", f"not a readable CSV file: {exc}") from None
    except (pd.errors.EmptyDataError, ValueError) as exc:
        raise _error(path, "", f"not a readable CSV file: {exc}") from None
    df = df.fillna("")
    names = [str(x).strip() for x in df.iloc[0].tolist()]
    index: dict[str, int] = {}
    for pos, name in enumerate(names):
        if not name:
            continue
        key = _norm(name)
        if key in index:
            raise _error(path, "row 1 (header)",
                         f"column {name!r} appears twice (columns {index[key] + 1} and "
                         f"{pos + 1}); columns are matched by name, ignoring case")
        index[key] = pos
    data = df.iloc[1:]
    lines = np.arange(2, len(df) + 1) + offset
    blank = (data.apply(lambda c: c.str.strip()) == "").all(axis=1).to_numpy()
    return _Table(path, names, index, data[~blank], lines[~blank])


def _whole(raw: str, what: str, lo: int, hi: int) -> tuple[int | None, str | None]:
    """Parse a whole number in [lo, hi]: (value, None) or (None, message)."""
    import numpy as np

    allowed = f"allowed: {what}, a whole number from {lo:,} to {hi:,}"
    s = raw.strip()
    if not s:
        return None, f"value {raw!r}: empty; {allowed}"
    if re.fullmatch(r"[+-]?\d+", s):
        v = int(s)
    else:
        if re.fullmatch(r"\d{1,3}(,\d{3})+", s):
            return None, f"value {raw!r}: write numbers without thousands separators; {allowed}"
        try:
            f = float(s)
        except ValueError:
            return None, f"value {raw!r}: not a number; {allowed}"
        if not np.isfinite(f):
            return None, f"value {raw!r}: not a number; {allowed}"
        if not f.is_integer():
            return None, f"value {raw!r}: not a whole number; {allowed}"
        v = int(f)
    if v < 0:
        return None, f"value {raw!r}: negative; {allowed}"
    if v < lo:
        return None, f"value {raw!r}: a practice needs at least {lo} patient; {allowed}"
    if v > hi:
        return None, f"value {raw!r}: larger than any practice; {allowed}"
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
        return None, f"value {raw!r}: not a number; {allowed}"
    if not np.isfinite(f) or f <= 0 or f > 200:
        return None, f"value {raw!r}: out of range; {allowed}"
    return max(1, int(np.floor(f + 0.5))), None


def _group_column(t: _Table, requested: str | None, defaults: tuple[str, ...]) -> str:
    if requested is not None:
        if not t.has(requested):
            raise _error(t.path, "row 1 (header)",
                         f"no column {requested!r} (practices_from.group_column); the file "
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
                             f"value {c!r}: practice code appears twice (rows {first[c]} and "
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
                         f"value {g!r}: no practice of this group in the file (asked for in "
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
    entries: dict[str, MapEntry] = {}
    problems: list[tuple[str, str]] = []
    col = t.name("PRACTICE_CODE")
    for i, code in enumerate(codes):
        line = int(t.lines[i])
        if not code:
            problems.append((f"row {line} / column {col}", "value '': empty practice code"))
        elif code in entries:
            problems.append((f"row {line} / column {col}",
                             f"value {code!r}: practice appears twice (rows {entries[code].row} "
                             f"and {line}); a practice belongs to one PCN"))
        else:
            entries[code] = MapEntry(pcn[i], line, "" if pcn_name is None else pcn_name[i],
                                     None if grp is None else grp[i],
                                     None if names is None else names[i])
    _raise(t.path, problems)
    return PracticeMap(t.path, entries, t.name(gcol) if gcol else None,
                       t.name(ncol) if ncol else None)


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
                                 f"value {code!r}: the map places this practice in group "
                                 f"{e.group!r} but the totals file {_shown(reg.path)} has no such "
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
                             f"value {code!r}: practice not in the map file "
                             f"{_shown(pmap.path)}, so it has no PCN (locality: pcn); use the "
                             "map of the same publication, or locality: rules"))
    _raise(reg.path, problems)
    problems = [(f"row {pmap.entries[c].row} / column PCN_CODE",
                 f"value '': empty PCN code for practice {c!r}; every practice needs a PCN "
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
                     f"no name for group {code!r}: none of its practices has one in the map")
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
    from .loader import ScenarioError, _origin, merge_mappings, validation_problems

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
    made: dict[str, dict[str, Any]] = {}
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
            explicit.append(item)
        total = sum(r.list_size for r in rows)
        lo, hi = GROUP_POPULATION
        if not lo <= total <= hi or len(rows) > GROUP_PRACTICES:
            raise _error(reg.path, f"column {reg.group_column}",
                         f"value {code!r}: the group's {len(rows)} practices have {total:,} "
                         f"patients; a group needs {lo:,} to {hi:,} patients in at most "
                         f"{GROUP_PRACTICES:,} practices")
        name = code if spec.group_names == "code" else _group_name(code, rows, pmap)
        made[name] = {"name": name, "population": total,
                      "practices": {"count": len(rows), "explicit": explicit}}
    user = data.get("groups") or []
    by_index: dict[int, Any] = {}
    if isinstance(user, dict) and all(str(k).isdigit() for k in user):
        by_index, user = {int(k): v for k, v in user.items()}, []  # --set groups.N... alone
    if not isinstance(user, list):
        raise ScenarioError([(_origin(["groups"], sources), "groups",
                              "must be a list of groups (entries named like a register group "
                              "are merged over it)")])
    groups, merged = [], set()
    for i, entry in enumerate(user):
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name in made:
            _check_override(entry, i, name, reg, sources)
            groups.append(merge_mappings(made[name], entry))
            merged.add(name)
        elif isinstance(entry, dict) and "practices" not in entry and "population" not in entry:
            raise ScenarioError([(_origin(["groups", i, "name"], sources), f"groups[{i}].name",
                                  f"{name!r} is not a group of the register {_shown(reg.path)} "
                                  f"({_listing(list(made))}) and has no population or practices "
                                  "of its own")])
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
    out = dict(data)
    out["practices_from"] = spec.model_copy(update={
        "groups": list(reg.groups), "group_column": reg.group_column, "locality": mode,
    }).model_dump(mode="json")
    out["groups"] = groups
    return out


def _check_override(entry: dict[str, Any], i: int, name: str, reg: Register,
                    sources: list[tuple[str, dict[str, Any]]]) -> None:
    from .loader import ScenarioError, _origin

    owned = [[k] for k in _REGISTER_OWNED if k in entry]
    rules = entry.get("practices")
    if isinstance(rules, dict):
        owned += [["practices", k] for k in _REGISTER_OWNED_RULES if k in rules]
    if owned:
        loc = ["groups", i, *owned[0]]
        raise ScenarioError([(_origin(loc, sources), f"groups[{i}]." + ".".join(owned[0]),
                              f"group {name!r} comes from the register {_shown(reg.path)}, which "
                              "gives its population and practices; a groups entry may set "
                              "commissioning_managers, engagement, localities and "
                              "practices.gps_per_practice")])


# --------------------------------------------------------------------------- population


def explicit_layout(group: GroupSpec, scale: float, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """List sizes, area (0-based, within the group) and GPs of a group's explicit practices.

    List sizes are the given ones times ``scale`` (rounded, at least 100; every practice is
    kept).  With locality labels, the areas are the distinct labels in list order and
    ``localities.count`` is ignored; without, the practices are shuffled into
    ``min(localities.count, practices)`` areas as for generated groups (drawing from ``rng``).
    GPs are the given ones, else ``gps_per_practice`` × list size / mean list size (≥ 1).

    Returns
    -------
    (sizes int64 (P,), areas int32 (P,), number of areas, gps int (P,))
    """
    import numpy as np

    ex = group.practices.explicit
    sizes = np.array([p.list_size for p in ex], np.int64)
    if scale != 1.0:
        sizes = np.maximum(100, np.rint(sizes * scale)).astype(np.int64)
    n = sizes.size
    if ex[0].locality is not None:
        labels = [p.locality for p in ex]
        index = {label: k for k, label in enumerate(dict.fromkeys(labels))}
        areas = np.array([index[label] for label in labels], np.int32)
        n_areas = len(index)
    else:
        n_areas = min(group.localities.count, n)
        areas = np.empty(n, np.int32)
        for ai, chunk in enumerate(np.array_split(rng.permutation(n), n_areas)):
            areas[chunk] = ai
    gps = np.maximum(1, np.rint(group.practices.gps_per_practice * sizes / sizes.mean())).astype(int)
    for k, p in enumerate(ex):
        if p.gps is not None:
            gps[k] = p.gps
    return sizes, areas, n_areas, gps
