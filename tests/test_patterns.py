"""The brief's patterns and the ablations, with the code behind ``commnet patterns``.

Every arm runs the East of England scenario at half scale for 48 months (after the 24-month
burn-in) with the same replicate seeds (common random numbers), and each check is the paired
difference treatment − control with its 95% t-interval (:mod:`simulation.experiment.patterns`).
The checks asserted here hold at 30 full-scale replicates (``commnet patterns --replicates 30``,
docs/ODD.md §1) and here; the other judged checks are listed as holding at 30 replicates only
or as not reproduced, and a test keeps the three lists complete.
"""

from functools import cache

import numpy as np
import pytest

from simulation.experiment.patterns import PATTERNS, pattern_table, run_patterns

pytestmark = pytest.mark.slow

REPLICATES = 8
EXTRA = ("scale=0.5", "steps=48")

#: (pattern, metric) checks that hold at 30 full-scale replicates (docs/ODD.md §1) and at the
#: 8 half-scale replicates run here: asserted.
REPRODUCED = {
    ("1", "relevance_skill"), ("1", "accuracy_board"),
    ("2", "misallocated_per_head"),
    ("4", "tie_persistence"), ("4", "coherence_internal"), ("4", "leader_dependence"),
    ("5", "reflected_formal"), ("5", "reflection_formal"),
    ("6", "turnover"), ("6", "retention"), ("6", "accuracy_all"),
    ("A2", "relevance_skill"), ("A2", "misallocated_per_head"), ("A2", "accuracy_board"),
    ("A4", "relevance_skill"), ("A4", "misallocated_per_head"), ("A4", "accuracy_board"),
}

#: Hold at 30 full-scale replicates but are too small to clear 8 half-scale replicates.
REPRODUCED_AT_30_ONLY = {
    ("1", "misallocated_per_head"), ("2", "relevance_skill"), ("2-knowledge", "relevance_skill"),
    ("3", "coherence_external"), ("6", "relevance_skill"), ("A1-no-localities", "relevance_skill"),
}

#: Do not hold at 30 replicates: the mechanism says otherwise (numbers in docs/ODD.md §1).
NOT_REPRODUCED = {
    ("1", "board_uncertainty"), ("2-knowledge", "misallocated_per_head"),
    ("2-shock", "shock_detection_time"), ("2-shock", "shock_funded_6m"),
    ("2-shock", "shock_funded_12m"),
    ("6", "engagement_gp"),
    ("A1", "relevance_skill"), ("A1", "misallocated_per_head"), ("A1", "accuracy_board"),
    ("A1-no-localities", "misallocated_per_head"), ("A1-no-localities", "accuracy_board"),
    ("A3", "relevance_skill"), ("A3", "misallocated_per_head"), ("A3", "accuracy_board"),
}


@cache
def table():
    run = run_patterns(PATTERNS, replicates=REPLICATES, seed=2013, extra=EXTRA, workers=2)[0]
    return pattern_table(run, PATTERNS)


@pytest.mark.parametrize("key", sorted(REPRODUCED))
def test_reproduced_pattern_holds(key):
    t = table()
    row = t[(t.pattern == key[0]) & (t.metric == key[1])].iloc[0]
    assert row.n == REPLICATES
    assert row.holds, (row.difference, row.ci_low, row.ci_high)


def test_every_judged_check_is_claimed_or_listed_as_not_reproduced():
    judged = {(p.key, c.metric) for p in PATTERNS for c in p.checks if c.direction is not None}
    sets = (REPRODUCED, REPRODUCED_AT_30_ONLY, NOT_REPRODUCED)
    assert set().union(*sets) == judged
    assert sum(len(x) for x in sets) == len(judged)  # disjoint


def test_arms_are_paired_and_identical_before_a_month_one_event():
    """Common random numbers: an arm whose only change is an event at month 12 is bitwise
    identical to the base scenario before it."""
    from simulation.experiment.patterns import Arm, Check, Pattern, Window

    p = Pattern("t", "engagement shift at month 12", Arm(),
                Arm(overrides=("events=[{type: engagement_shift, step: 12, stakeholder: gp, "
                               "delta: -0.4}]",)),
                (Check("relevance_skill", None, Window(start=0, stop=11)),))
    run = run_patterns([p], replicates=2, seed=5, extra=("scale=0.2", "steps=14"))[0]
    t = pattern_table(run, [p])
    assert t.difference.iloc[0] == 0.0
    run13 = run_patterns([Pattern("t", "", p.control, p.treatment,
                                  (Check("engagement_gp", None, Window(start=12, stop=14)),))],
                         replicates=2, seed=5, extra=("scale=0.2", "steps=14"))[0]
    vals = run13.values
    assert all(np.isfinite(list(v.values())).all() for rs in vals.values() for v in rs)
