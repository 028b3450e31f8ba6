"""Text shown to the user from files and arguments: cleaned, shortened, capped.

The bottom layer of commnet's messages (it imports nothing from :mod:`simulation`), used by
every reader and by the command line:

* :func:`clean` replaces control characters (terminal escape sequences, NUL, bidirectional
  overrides, ...) with visible ``\\xNN``-style escapes, so nothing a scenario, data file or
  argument says can set a terminal's title or colour, or hide text;
* :func:`excerpt` is :func:`clean` shortened to a bounded length, with the length of the
  whole (``'xxxx…' (2,000,000 characters)``), for every value an error message quotes;
* :func:`value` is the ``repr``-like form of an excerpt, for any object;
* :func:`cap` caps a list of problems at :data:`MAX_PROBLEMS`, ending with
  ``… and N more``, the same way in every reader;
* :func:`folder_name` turns a scenario's ``name`` into one safe path component.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

__all__ = ["EXCERPT", "MAX_NAME", "MAX_PROBLEMS", "byte_position", "cap", "clean", "excerpt",
           "folder_name", "more_line", "value"]

#: Longest excerpt of a value quoted in a message (characters, before the length note).
EXCERPT = 120
#: Most problems listed in one error; the rest are counted ("… and N more").
MAX_PROBLEMS = 20
#: Longest folder name made from a scenario name.
MAX_NAME = 80

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e", "\0": "\\0"}

def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _unsafe(ch: str) -> bool:
    # Cc: C0/C1 controls (ESC, BEL, NUL, CSI 0x9b ...); Cf: format characters (bidirectional
    # overrides, zero-width joiners); Cs: lone surrogates (undecodable bytes); Zl/Zp: line and
    # paragraph separators
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")


def clean(text: Any, *, newlines: bool = False) -> str:
    """``text`` (made a string) with every control or format character shown as an escape.

    ``newlines=True`` keeps line feeds (multi-line messages); everything else that a terminal
    would interpret (``ESC``, ``BEL``, carriage returns, C1 controls, bidirectional overrides)
    becomes visible text such as ``\\e`` or ``\\x07``.
    """
    text = str(text)
    if text.isprintable() and "\x1b" not in text:
        return text
    return "".join(_escape(ch) if _unsafe(ch) and not (newlines and ch == "\n") else ch
                   for ch in text)


def excerpt(text: Any, limit: int = EXCERPT) -> str:
    """:func:`clean` text, at most ``limit`` characters of it followed by ``…`` and the whole
    length when longer (``'abc…' (2,000,000 characters)`` as :func:`value` shows it)."""
    text = str(text)
    if len(text) <= limit:
        return clean(text)
    return f"{clean(text[:limit])}… ({len(text):,} characters)"


def value(obj: Any, limit: int = EXCERPT) -> str:
    """A value as an error message quotes it: ``repr`` for short values, a quoted, cleaned
    excerpt with the length for long strings, and a bounded ``repr`` for anything else."""
    if isinstance(obj, str):
        if len(obj) <= limit:
            return clean(repr(obj))
        quoted = clean(repr(obj[:limit]))
        return f"{quoted[:-1]}…{quoted[-1]} ({len(obj):,} characters)"
    if isinstance(obj, _dt.date):  # a YAML date: shown as typed (2013-04-15), not its repr
        return obj.isoformat()
    if isinstance(obj, list | tuple | dict | set) and len(obj) > 20:
        kind = type(obj).__name__
        return f"{excerpt(repr(obj), limit)[:limit]}… (a {kind} of {len(obj):,} items)"
    try:
        text = repr(obj)
    except Exception:  # a repr that fails is shown by its type
        text = f"<{type(obj).__name__}>"
    return excerpt(text, limit)


def more_line(n: int) -> str:
    """The line ending a capped list: ``… and N more``."""
    return f"… and {n:,} more"


def cap[T](items: Sequence[T], limit: int = MAX_PROBLEMS, *,
           more: Any = None) -> list[T]:
    """The first ``limit`` items, and (if any were left out) ``more(n)`` for the ``n`` others.

    ``more`` builds the closing item from the count (default: the string of
    :func:`more_line`); for problem triples pass e.g.
    ``more=lambda n: (source, "", more_line(n))``.
    """
    items = list(items)
    if len(items) <= limit:
        return items
    rest = len(items) - limit
    return [*items[:limit], (more or more_line)(rest)]


_SEPARATORS = re.compile(r"[/\\:]+")
_UNSAFE_NAME = re.compile(r"[^\w .,+=@()\[\]{}-]+")


def folder_name(name: Any, fallback: str, limit: int = MAX_NAME) -> str:
    """One printable path component made from a scenario name (the default output folder).

    Path separators and control characters become ``_``; leading dots and spaces are dropped
    (no ``.``, ``..`` or hidden folder); the result is at most ``limit`` characters.  A name
    that cleans to nothing gives ``fallback`` (the scenario file's stem), cleaned the same way.
    """
    def tidy(text: str) -> str:
        text = unicodedata.normalize("NFC", str(text))
        text = "".join("_" if _unsafe(ch) else ch for ch in text)
        text = _SEPARATORS.sub("_", text)
        text = _UNSAFE_NAME.sub("_", text)
        text = re.sub(r"\s+", " ", text).strip(" ._")
        return text[:limit].rstrip(" .")

    out = tidy(name)
    if not out:
        out = tidy(fallback) or "scenario"
    return out


def byte_position(data: bytes, offset: int) -> str:
    """``line L, column C`` of a byte offset in a file's bytes (columns counted in bytes from
    1): where a reader names a byte it cannot decode."""
    start = data.rfind(b"\n", 0, offset) + 1
    return f"line {data.count(b'\n', 0, offset) + 1}, column {offset - start + 1}"
