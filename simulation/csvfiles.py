"""CSV input files read as text tables: the base of the file readers.

:mod:`simulation.registers` (practice registers and maps) and :mod:`simulation.covariates`
(practice covariates) read their files through :func:`_read_table`: a regular file smaller
than :data:`MAX_BYTES` (after decompression), not a zip archive or binary, decoded as UTF-8
(with or without a byte-order mark; any other byte is refused, naming its line and column, as
the survey readers do), read by pandas with
``dtype=str``, columns matched by name ignoring case and surrounding spaces, rows numbered
as lines of the file (the header is row 1).  A file whose name ends in ``.gz`` (or that starts
with gzip's magic bytes) is decompressed first.  Every problem is a
:class:`~simulation.errors.ScenarioError` naming the file, row and/or column, the value and
what is allowed.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _text
from .errors import ScenarioError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["MAX_BYTES", "MAX_REPORTED", "check_file"]

#: Largest register file read (bytes; for a gzip file, once decompressed).
MAX_BYTES = 200 * 2**20
#: Problems reported at most per file (the rest are counted).
MAX_REPORTED = 20


def _error(path: Path | str, where: str, message: str) -> ScenarioError:
    return ScenarioError([(_shown(path), where, message)])


def _raise(path: Path, problems: list[tuple[str, str]]) -> None:
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
    """A file's column names as a message lists them: cleaned, each a bounded excerpt."""
    shown = ", ".join(_text.excerpt(n, 60) for n in names[:limit]) or "(none)"
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


def _gunzip(path: Path, raw: bytes) -> bytes:
    """Decompress a gzip file, refusing more than :data:`MAX_BYTES` of content (a "zip bomb")
    and a damaged or truncated file."""
    d = zlib.decompressobj(wbits=31)
    try:
        data = d.decompress(raw, MAX_BYTES + 1)
    except zlib.error as exc:
        raise _error(path, "", f"is not a readable gzip file ({exc}); name the CSV file or a "
                               "complete .csv.gz") from None
    if len(data) > MAX_BYTES or d.unconsumed_tail:
        raise _error(path, "", f"decompresses to more than {MAX_BYTES // 2**20} MB; register "
                               "files up to that size are read")
    if not d.eof:
        raise _error(path, "", "is a truncated gzip file; name the CSV file or a complete "
                               ".csv.gz")
    return data


def _read_table(path: Path, *, comments: bool) -> _Table:
    """Read a CSV as strings with its header; rows that are empty are dropped."""
    import numpy as np
    import pandas as pd

    check_file(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _error(path, "", f"cannot read file: {exc.strerror or exc}") from None
    if raw.startswith(b"\x1f\x8b"):
        raw = _gunzip(path, raw)
    if raw.startswith(b"PK\x03\x04"):
        raise _error(path, "", "is a zip archive: unzip it and name the CSV file inside")
    if b"\x00" in raw[:65536]:
        raise _error(path, "", "is a binary file, not CSV text (an Excel workbook? save it as "
                               "CSV)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # as the survey readers: refused, with where
        from ._text import byte_position

        raise _error(path, byte_position(raw, exc.start),
                     f"byte 0x{raw[exc.start]:02x} is not UTF-8 text; save the file as UTF-8 "
                     "(CSV UTF-8 in Excel)") from None
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
                         f"column {_text.value(name)} appears twice (columns {index[key] + 1} and "
                         f"{pos + 1}); columns are matched by name, ignoring case")
        index[key] = pos
    data = df.iloc[1:]
    lines = np.arange(2, len(df) + 1) + offset
    blank = (data.apply(lambda c: c.str.strip()) == "").all(axis=1).to_numpy()
    return _Table(path, names, index, data[~blank], lines[~blank])


