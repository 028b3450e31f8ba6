"""Caveats every report carries: what the model does not reproduce, and how to read intervals.

:data:`NOT_REPRODUCED` restates, in plain words, the judged checks of the pattern suite that do
not hold at 30 full-scale replicates (docs/ODD.md §1; ``tests/test_patterns.py`` keeps the
list of those checks, and ``tests/test_report.py`` checks this one names the same checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["NOT_REPRODUCED", "Caveat", "run_caveats"]


@dataclass(frozen=True)
class Caveat:
    """A statement and the pattern-suite checks ``(pattern, metric)`` it summarises."""

    text: str
    checks: tuple[tuple[str, str], ...] = ()


#: Patterns of the brief the model does not reproduce (docs/ODD.md §1, 30 replicates).
NOT_REPRODUCED = (
    Caveat("Lower GP engagement does not raise board uncertainty (the disagreement among board "
           "members falls slightly instead): the brief's \"higher board uncertainty\" is not "
           "reproduced (pattern 1).", (("1", "board_uncertainty"),)),
    Caveat("Locality sub-groups do not detect or fund a local need shock faster: detection time "
           "and the share of the extra need funded at 6 and 12 months do not differ clearly "
           "(pattern 2, shock).", (("2-shock", "shock_detection_time"),
                                  ("2-shock", "shock_funded_6m"),
                                  ("2-shock", "shock_funded_12m"))),
    Caveat("Localities without a devolved budget raise decision skill, but their effect on "
           "misallocated £ per head is not clear (pattern 2, knowledge only).",
           (("2-knowledge", "misallocated_per_head"),)),
    Caveat("After a sharp loss of engagement, turnover makes GP engagement recover faster, not "
           "slower: the vicious cycle's last step is not reproduced (pattern 6).",
           (("6", "engagement_gp"),)),
    Caveat("Removing the informal network (formal meetings kept) makes no measurable difference "
           "to decisions where locality meetings exist: meetings and informal ties substitute "
           "for each other (ablation A1).", (("A1", "relevance_skill"),
                                             ("A1", "misallocated_per_head"),
                                             ("A1", "accuracy_board"))),
    Caveat("Without localities, removing informal ties lowers decision skill, but the "
           "differences in misallocated £ and board accuracy are not clear (ablation A1, no "
           "localities).", (("A1-no-localities", "misallocated_per_head"),
                            ("A1-no-localities", "accuracy_board"))),
    Caveat("Replacing locality leads and the best-connected brokers by unconnected newcomers "
           "costs little: the roles are refilled and newcomers attend the same meetings "
           "(ablation A3).", (("A3", "relevance_skill"), ("A3", "misallocated_per_head"),
                              ("A3", "accuracy_board"))),
)

INTERVALS = ("A 95% interval here is a Student-t interval over independent replicates (runs "
             "with different random seeds): it says how far the average could move if the same "
             "scenario were run again with new seeds. It measures the model's own randomness, "
             "not uncertainty in the assumed parameters, and not whether the model's mechanisms "
             "are right. Intervals of metrics with a fixed range (shares, 0–1 scores) are cut "
             "at the range's ends.")


def run_caveats(scenario: Mapping[str, Any], counts: Mapping[str, int], replicates: int | None
                ) -> list[str]:
    """The caveats specific to a scenario and a number of replicates.

    Parameters
    ----------
    scenario : mapping
        Resolved scenario.
    counts : mapping
        Number of fields by provenance basis (``data``, ``fitted``, ``assumed``, ...).
    replicates : int or None
        Replicates per scenario (or per design point); None when intervals are not over
        replicates (a calibration's predictive intervals).
    """
    out = [
        "These are results of a simulation model: what-if comparisons under its assumptions, "
        "not forecasts for a real commissioning group.",
        f"{counts.get('assumed', 0)} of the scenario's {sum(counts.values())} settings are "
        f"assumptions (no measured value; listed under Assumptions), "
        f"{counts.get('fitted', 0)} are fitted to the 2015 GP survey and "
        f"{counts.get('data', 0)} come from published data. A result that depends on an "
        "assumed value is only as good as that assumption; commnet patterns --robustness "
        "varies them.",
    ]
    if replicates is None:
        pass
    elif replicates <= 1:
        out.append("One replicate: there is no estimate of run-to-run variation, so no "
                   "intervals can be given. Run at least 5 replicates (--replicates).")
    elif replicates < 10:
        out.append(f"Only {replicates} replicates: intervals are wide, and small differences "
                   "cannot be told from run-to-run noise.")
    if int(scenario.get("burn_in", 0) or 0) <= 24:
        out.append("GP engagement is still rising by about 0.01 a year in the first five "
                   "years after the 24-month burn-in (docs/ODD.md §9): early months are not "
                   "a steady state.")
    text = str(scenario)
    if "synthetic" in text:
        out.append("The scenario reads files from data/synthetic/: made-up sample data, not "
                   "study data.")
    if scenario.get("events"):
        out.append("The scenario schedules events (listed under Assumptions); metrics around "
                   "an event move because of it.")
    return out
