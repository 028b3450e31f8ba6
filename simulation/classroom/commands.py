"""``commnet classroom``: serve a lesson, or debrief one (called by :mod:`simulation.cli`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

__all__ = ["classroom_command"]

DEFAULT_SCENARIO = Path("scenarios") / "teaching.yaml"


def classroom_command(target: str, folder: str | None, seats: int, host: str, port: int,
                      months: int | None, seed: int | None, out: Path | None,
                      replicates: int, workers: int | None, console: Any, err: Any) -> int:
    """``classroom SCENARIO`` serves a lesson; ``classroom debrief FOLDER`` debriefs one."""
    from ..loader import ScenarioError

    if target == "debrief":
        if not folder:
            raise ScenarioError([("debrief", "", "give the session folder: commnet classroom "
                                  "debrief results/classroom/<session>")])
        from .debrief import debrief

        result = debrief(Path(folder), replicates=replicates, workers=workers, quiet=False,
                         console=err)
        console.print(result.report.read_text(), highlight=False, markup=False, soft_wrap=True)
        console.print(f"behaviour scenario: {result.scenario}", highlight=False)
        console.print(f"report: {result.report}", highlight=False)
        return 0
    if folder:
        raise ScenarioError([("classroom", folder, "one scenario; 'debrief FOLDER' debriefs")])
    from .server import serve
    from .session import Session

    path = Path(target)
    if not path.exists():
        raise ScenarioError([("classroom", target, "no such scenario file")])
    out = out or Path("results") / "classroom" / time.strftime("%Y%m%d-%H%M%S")
    session = Session(path, seed=seed, seats=seats, folder=out, months=months)
    return serve(session, host=host, port=port,
                 echo=lambda s: console.print(s, highlight=False, markup=False, soft_wrap=True))
