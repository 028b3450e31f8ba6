"""Calendar time: months written ``YYYY-MM``, the steps they map to, and NHS financial years.

A scenario may give ``start: 2011-04`` (:class:`simulation.scenario.Scenario`): month 0, the
first recorded month after the burn-in, is that month and month *m* is *m* months later.
Events may then be given by ``date:`` instead of ``step:``; the date is resolved at load to
``step = months from start to date`` (an event fires at the start of its step, from step 1,
so the earliest date is the month after ``start``).

Months are carried as ``YYYY-MM`` strings everywhere (the scenario, the ``date`` column of
the outputs, ``survey_by_year.csv``): the form users type, read unambiguously by every CSV
reader (no day, no time zone) and sorting in time order.  ``pd.PeriodIndex(col, freq="M")``
or ``pd.to_datetime(col, format="%Y-%m")`` turn such a column into pandas time types.

This module imports nothing of commnet's (a leaf helper of the input layer,
``benchmarks/import_graph.py``).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "add_months",
    "financial_year",
    "financial_year_label",
    "month_index",
    "month_labels",
    "months_between",
    "parse_month",
    "year_fraction",
]

#: Years a month may lie in (a date column with four-digit years).
FIRST_YEAR, LAST_YEAR = 1900, 9999

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})(?:-(\d{1,2}))?\s*$")

ALLOWED = ("a calendar month written YYYY-MM (e.g. 2013-04), or the date of its first day "
           "(2013-04-01)")


def parse_month(value: Any) -> str:
    """Read a calendar month: ``"2013-04"``, ``"2013-04-01"`` or a date (a YAML ``2013-04-01``)
    of a month's first day.  Returns ``"YYYY-MM"``.

    Raises
    ------
    ValueError
        Saying what is wrong and what is allowed (a day other than the 1st, a date with a
        time, a number, a month outside 1..12 or a year outside 1900..9999); the caller
        quotes the value (the loader's messages end ``(got …)``).
    """
    if isinstance(value, _dt.datetime):
        raise ValueError(f"a date and time, not a month; give {ALLOWED}")
    if isinstance(value, _dt.date):
        year, month, day = value.year, value.month, value.day
    elif isinstance(value, str):
        m = _MONTH.match(value)
        if m is None:
            raise ValueError(f"not a calendar month; give {ALLOWED}")
        year, month = int(m.group(1)), int(m.group(2))
        day = int(m.group(3)) if m.group(3) is not None else 1
        if not 1 <= month <= 12:
            raise ValueError(f"month {month} is not 1..12; give {ALLOWED}")
        try:
            _dt.date(year, month, day)
        except ValueError:
            raise ValueError(f"day {day} is not a day of that month; give {ALLOWED}") from None
    else:
        raise ValueError(f"a value of type {type(value).__name__}, not a calendar month; give "
                         f"{ALLOWED}")
    if day != 1:
        raise ValueError(f"{year:04d}-{month:02d}-{day:02d} is a day other than the first (the "
                         "model steps in whole months); give the month, YYYY-MM: "
                         f"{year:04d}-{month:02d} (or {year:04d}-{month:02d}-01)")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"year {year} is outside {FIRST_YEAR} to {LAST_YEAR}; give {ALLOWED}")
    return f"{year:04d}-{month:02d}"


def month_index(month: str) -> int:
    """Months since January of year 0: ``12 * year + month - 1`` (``"2013-04"`` → 24159)."""
    year, mon = month.split("-")[:2]
    return 12 * int(year) + int(mon) - 1


def add_months(month: str, n: int) -> str:
    """The month ``n`` months after ``month`` (``add_months("2011-04", 24) == "2013-04"``)."""
    year, mon0 = divmod(month_index(month) + int(n), 12)
    return f"{year:04d}-{mon0 + 1:02d}"


def months_between(start: str, month: str) -> int:
    """Months from ``start`` to ``month`` (negative if ``month`` is earlier)."""
    return month_index(month) - month_index(start)


def month_labels(start: str, steps: Iterable[int] | np.ndarray) -> np.ndarray:
    """``YYYY-MM`` of each step (month 0 = ``start``), as an array of Python strings."""
    import numpy as np  # here: the schema imports this module and stays free of numpy

    steps = np.asarray(steps, dtype=np.int64)
    uniq, inverse = np.unique(steps, return_inverse=True)
    labels = np.array([add_months(start, int(s)) for s in uniq], dtype=object)
    return labels[inverse.reshape(steps.shape)] if len(uniq) else np.array([], dtype=object)


def financial_year(month: str) -> int:
    """The NHS financial year (April to March) a month lies in, by its first calendar year:
    ``"2013-04"`` and ``"2014-03"`` are in 2013 (labelled ``2013/14``)."""
    year, mon = (int(x) for x in month.split("-")[:2])
    return year if mon >= 4 else year - 1


def financial_year_label(year: int) -> str:
    """``2013`` → ``"2013/14"``."""
    return f"{year}/{(year + 1) % 100:02d}"


def year_fraction(month: str) -> float:
    """A month's start as a decimal year (``"2013-04"`` → 2013.25), for plot axes."""
    return month_index(month) / 12.0
