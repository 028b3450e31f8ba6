"""Patterns of the design brief reproduced across replicates.

Each arm runs the East of England scenario at half scale for 36 months with the same root
seed, so replicate *i* of every arm shares its seed (common random numbers) and arms are
compared with one-sided paired tests at the 5% level: on the overall values across
replicates, or, where stated, on the six groups × replicates.  Outcomes are means over the
last 12 months unless stated.
"""

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simulation.loader import load_scenario
from simulation.results import run_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
REPLICATES = 8
STEPS = 36

pytestmark = pytest.mark.slow

SHARING = ("exchange.rate=0.8", "exchange.objective_rate=0.5", "network.gp_ties_in_locality=8")
ENGAGEMENT_LOSS = "events=[{type: engagement_shift, step: 12, stakeholder: gp, delta: -0.4}]"


@cache
def arm(name: str, extra: tuple[str, ...] = ()):
    s = load_scenario(SCENARIOS / f"{name}.yaml", ["scale=0.5", *extra])
    return run_scenario(s, replicates=REPLICATES, steps=STEPS, seed=1)


def overall(name, metric, extra=()):
    summary = arm(name, tuple(extra)).summary
    return summary[summary["group"] == "overall"][f"{metric}__last12"].to_numpy()


def by_group(name, metric, extra=()):
    summary = arm(name, tuple(extra)).summary
    rows = summary[summary["group"] != "overall"].sort_values(["replicate", "group"])
    return rows[f"{metric}__last12"].to_numpy(float)


def greater(a, b, paired=True):
    """a > b on average: one-sided paired t-test (Welch's test when not paired)."""
    assert a.mean() > b.mean(), (a.mean(), b.mean())
    if paired:
        p = stats.ttest_rel(a, b, alternative="greater").pvalue
    else:
        p = stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue
    assert p < 0.05, p


BASE = "east_of_england_2013"


def test_pattern1_low_gp_engagement_lowers_relevance_and_raises_uncertainty():
    greater(overall(BASE, "relevance_patient"), overall("low_gp_engagement", "relevance_patient"))
    greater(overall(BASE, "accuracy_board"), overall("low_gp_engagement", "accuracy_board"))
    greater(overall("low_gp_engagement", "board_uncertainty"), overall(BASE, "board_uncertainty"))


def test_pattern2_localities_raise_relevance():
    greater(overall(BASE, "relevance_patient"), overall("no_localities", "relevance_patient"))
    greater(overall(BASE, "relevance_localities"), overall("no_localities", "relevance_localities"))


LOCAL_SHOCK = ("events=[{type: need_shock, step: 12, service: mental_health, factor: 2.0, "
               "locality_fraction: 0.25}]",)


def test_pattern2_localities_detect_a_local_need_shock_faster():
    """Mental-health need doubles in a quarter of each group's localities at month 12; months
    until each board's view moves half-way (never detected counts as 99), six groups ×
    replicates, one-sided Wilcoxon signed-rank test."""

    def detection(extra):
        summary = arm(BASE, extra).summary
        rows = summary[summary["group"] != "overall"].sort_values(["replicate", "group"])
        return np.nan_to_num(rows["shock_detection_time"].to_numpy(float), nan=99.0)

    with_loc = detection(LOCAL_SHOCK)
    without = detection((*LOCAL_SHOCK, "localities.enabled=false"))
    assert np.median(with_loc) < np.median(without)
    assert stats.wilcoxon(with_loc, without, alternative="less").pvalue < 0.05


def test_pattern3_networked_beats_transactional_on_external_coherence():
    greater(overall(BASE, "coherence_external"), overall("transactional", "coherence_external"))


def test_pattern4_gp_knowledge_sharing_raises_stability_and_coherence():
    # six groups x replicates, paired
    greater(by_group(BASE, "tie_persistence", SHARING), by_group(BASE, "tie_persistence"))
    greater(by_group(BASE, "coherence_internal", SHARING), by_group(BASE, "coherence_internal"))
    # and the network depends less on a few key leaders
    greater(by_group(BASE, "leader_dependence"), by_group(BASE, "leader_dependence", SHARING))


def test_pattern5_formal_roles_see_their_priorities_reflected():
    # within each group and replicate: GPs with a formal role vs the other GPs
    formal, other = by_group(BASE, "reflected_formal"), by_group(BASE, "reflected_other")
    ok = np.isfinite(formal) & np.isfinite(other)
    greater(formal[ok], other[ok])


def test_pattern6_engagement_loss_turnover_knowledge_loss():
    """A sharp fall in GP engagement (month 12) with engagement-driven turnover (the vicious
    cycle) vs the same fall without the turnover feedback: more turnover, lower retention and
    more knowledge lost over the following two years."""

    def after_shock(extra, metric):
        ts = arm(BASE, extra).timeseries
        ts = ts[(ts["group"] == "overall") & (ts["step"] > 12)]
        return ts.groupby("replicate")[metric].mean().to_numpy()

    vicious = (ENGAGEMENT_LOSS,)
    damped = (ENGAGEMENT_LOSS, "turnover.engagement_sensitivity=0")
    greater(after_shock(vicious, "turnover"), after_shock(damped, "turnover"))
    greater(after_shock(damped, "retention"), after_shock(vicious, "retention"))
    greater(after_shock(damped, "accuracy_all"), after_shock(vicious, "accuracy_all"))
    # the loss persists: a year later knowledge has not caught up
    late_v = overall(BASE, "accuracy_all", vicious)
    late_d = overall(BASE, "accuracy_all", damped)
    greater(late_d, late_v)


def test_summary_values_are_finite():
    for metric in ("relevance_patient", "coherence_external", "tie_persistence"):
        assert np.isfinite(overall(BASE, metric)).all()
