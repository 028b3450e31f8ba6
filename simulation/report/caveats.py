"""Caveats every report carries: what the model does not reproduce, and how to read intervals.

:data:`NOT_REPRODUCED` restates, in plain words, the judged checks of the pattern suite whose
verdict is not *holds* in model v3's pooled run (30 full-scale pairs; docs/ODD.md §1;
``tests/test_patterns.py`` keeps the list of those checks, and ``tests/test_report.py`` checks
this one names the same checks).
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


#: Patterns of the brief the model does not reproduce: every judged check of the pattern suite
#: whose verdict is not *holds* in model v3's pooled run (docs/ODD.md §1: East of England 2013,
#: full scale, 30 pairs over three root seeds, `commnet patterns --replicates 10 --roots 3`).
NOT_REPRODUCED = (
    Caveat("Lower GP engagement lowers decision skill and board accuracy, but only a little "
           "(skill −0.042, £3 per head more misallocated, below the £5 margin a commissioner "
           "would notice), and board uncertainty falls instead of rising: the brief's "
           "\"higher board uncertainty\" is not reproduced (pattern 1).",
           (("1", "board_uncertainty"),)),
    Caveat("That locality sub-groups detect a local need shock faster and fund more of it "
           "at 6 and 12 months is not shown: at 30 pairs detection time and the funded shares "
           "are inconclusive (pattern 2's shock response is not reproduced).",
           (("2-shock", "shock_detection_time"), ("2-shock", "shock_funded_6m"),
            ("2-shock", "shock_funded_12m"))),
    Caveat("Leadership that coordinates across organisations does not raise external "
           "coherence beyond the ±0.01 margin (+0.003, no effect): pattern 3 is not "
           "reproduced at the refitted defaults.",
           (("3", "coherence_external"),)),
    Caveat("Localities without a devolved budget raise decision skill, but their effect on "
           "misallocated £ per head is not settled at 30 pairs (pattern 2, knowledge only).",
           (("2-knowledge", "misallocated_per_head"),)),
    Caveat("After a sharp loss of engagement, turnover makes GP engagement recover faster, not "
           "slower: the vicious cycle's last step is not reproduced (pattern 6).",
           (("6", "engagement_gp"),)),
    Caveat("Removing the informal network (formal meetings kept) lowers board accuracy a "
           "little but has no effect on misallocated £ and no settled effect on decision skill; "
           "without localities none of the three is settled or each is within its margin: in "
           "this model most of a board's knowledge comes from observation and activity data, "
           "and informal ties carry a small share (commnet routes; ablations A1 and A1 without "
           "localities).", (("A1", "relevance_skill"), ("A1", "misallocated_per_head"),
                            ("A1-no-localities", "relevance_skill"),
                                    ("A1-no-localities", "misallocated_per_head"),
                                    ("A1-no-localities", "accuracy_board"))),
    Caveat("Replacing locality leads and the best-connected brokers by unconnected newcomers "
           "has no effect within the practical margins: the roles are refilled and newcomers "
           "attend the same meetings (ablation A3).",
           (("A3", "relevance_skill"), ("A3", "misallocated_per_head"),
            ("A3", "accuracy_board"))),
    Caveat("Rewiring ties at random within each group (degrees kept) raises board accuracy and "
           "decision skill slightly, while it costs £10 per head through the localities' "
           "devolved budgets; also keeping localities leaves £ and accuracy unchanged. The structure of the "
           "network inside a group is not what makes the board's decisions relevant; mixing "
           "people of different groups is (row contamination) (null models A4, A4-locality).",
           (("A4", "relevance_skill"), ("A4", "accuracy_board"),
            ("A4-locality", "relevance_skill"), ("A4-locality", "misallocated_per_head"),
            ("A4-locality", "accuracy_board"))),
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
    if int(scenario.get("burn_in", 120) or 0) < 120:
        out.append("The burn-in is shorter than the 120 months after which the slow variables "
                   "settle (docs/ODD.md §9): early months are not a steady state.")
    out.append("Most of a board's knowledge of need comes, in this model, from activity data "
               "and first-hand observation; informal ties, locality meetings and GP board seats "
               "carry a smaller share each (commnet routes; docs/ODD.md §1). The data route's "
               "strength is assumed.")
    text = str(scenario)
    if "synthetic" in text:
        out.append("The scenario reads files from data/synthetic/: made-up sample data, not "
                   "study data.")
    if scenario.get("events"):
        out.append("The scenario schedules events (listed under Assumptions); metrics around "
                   "an event move because of it.")
    return out
