"""``commnet report FOLDER``: one self-contained HTML report of a results folder.

A report is made for a run (``commnet run``), compare, sweep or calibration folder; the kind
is detected from the folder's manifest (:func:`detect_kind`).  It states the question, the
scenario's key assumptions (every value's basis from :mod:`simulation.provenance`: data,
assumed, fitted or structural), the results with units and intervals explained in plain words
(:mod:`simulation.statistics`, labels from the metric registry), the caveats (including the
patterns the model does not reproduce, docs/ODD.md §1) and the provenance (seeds, versions,
scenario hash).  Templates are Jinja2 (``simulation/report/templates``); figures are embedded
as base64 PNG and the CSS inline, and a Content-Security-Policy forbids every external
request, so the file can be mailed and opened offline.

Examples
--------
>>> from simulation.report import write_report          # doctest: +SKIP
>>> write_report("results/east_of_england_2013")         # doctest: +SKIP
PosixPath('results/east_of_england_2013/report.html')
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .build import (
    KINDS,
    calibration_context,
    compare_context,
    damaged_parts,
    detect_kind,
    run_context,
    sweep_context,
)

__all__ = ["KINDS", "build_context", "damaged_parts", "detect_kind", "render", "report_html",
           "write_report"]

_BUILDERS = {"run": run_context, "compare": compare_context, "sweep": sweep_context,
             "calibration": calibration_context}


def build_context(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The template context of a results folder (its kind detected from the manifest)."""
    folder = Path(folder)
    kind = detect_kind(folder)
    ctx = _BUILDERS[kind](folder)
    if kind in ("sweep", "compare"):  # parts of the store set aside are named as caveats
        ctx["caveats"] = [*ctx.get("caveats", []), *damaged_parts(folder)]
    ctx["folder"] = str(folder)
    ctx["generated"] = time.strftime("%Y-%m-%d %H:%M %Z")
    return ctx


def render(context: dict[str, Any]) -> str:
    """Render a context with the kind's template (``<kind>.html.j2``, autoescaped)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("simulation.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template(f"{context['kind']}.html.j2").render(**context)


def report_html(folder: str | os.PathLike[str]) -> str:
    """The report of a results folder as one HTML string."""
    return render(build_context(folder))


def write_report(folder: str | os.PathLike[str],
                 out: str | os.PathLike[str] | None = None) -> Path:
    """Write the report of ``folder`` to ``out`` (default ``FOLDER/report.html``)."""
    from ..experiment.store import os_error_message
    from ..loader import ScenarioError

    html = report_html(folder)
    path = Path(out) if out is not None else Path(folder) / "report.html"
    tmp = path.with_name(f".{path.name}.tmp")
    try:  # a read-only or full folder, a file where a folder is meant: said plainly
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        try:
            tmp.unlink(missing_ok=True)
        except (OSError, ValueError):
            pass
        message = (os_error_message(exc, path) if isinstance(exc, OSError)
                   else f"{path!r}: not a usable file name ({exc})")
        raise ScenarioError([("--out" if out is not None else str(folder), "", message)]) from None
    return path
