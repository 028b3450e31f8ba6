"""Patterns of the design brief reproduced across replicates (direction and a one-sided t-test
at the 5% level, paired by seed), on the East of England scenario at half scale for speed."""

from pathlib import Path

import pytest
from scipy import stats

from simulation.loader import load_scenario
from simulation.results import run_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
REPLICATES = 6
COMMON = ["scale=0.5"]

pytestmark = pytest.mark.slow


def outcome(name, metric, extra=(), seed=1):
    s = load_scenario(SCENARIOS / f"{name}.yaml", [*COMMON, *extra])
    r = run_scenario(s, replicates=REPLICATES, steps=36, seed=seed)
    overall = r.summary[r.summary["group"] == "overall"]
    return overall[f"{metric}__last12"].to_numpy()


def greater(a, b, paired=True):
    """a > b on average: one-sided paired t-test across replicates that share seeds (common
    random numbers: replicate i of both arms has the same seed), else Welch's test."""
    assert a.mean() > b.mean(), (a.mean(), b.mean())
    if paired:
        p = stats.ttest_rel(a, b, alternative="greater").pvalue
    else:
        p = stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue
    assert p < 0.05, p


@pytest.fixture(scope="module")
def base_runs():
    s = load_scenario(SCENARIOS / "east_of_england_2013.yaml", COMMON)
    r = run_scenario(s, replicates=REPLICATES, steps=36, seed=1)
    return r.summary[r.summary["group"] == "overall"]


def test_pattern1_low_gp_engagement_lowers_relevance_and_accuracy(base_runs):
    greater(base_runs["relevance_patient__last12"].to_numpy(),
            outcome("low_gp_engagement", "relevance_patient"))
    greater(base_runs["accuracy_board__last12"].to_numpy(),
            outcome("low_gp_engagement", "accuracy_board"))


def test_pattern2_localities_raise_relevance(base_runs):
    greater(base_runs["relevance_patient__last12"].to_numpy(),
            outcome("no_localities", "relevance_patient"))
    greater(base_runs["relevance_localities__last12"].to_numpy(),
            outcome("no_localities", "relevance_localities"))


def test_pattern3_networked_beats_transactional_on_external_coherence(base_runs):
    greater(base_runs["coherence_external__last12"].to_numpy(),
            outcome("transactional", "coherence_external"))


def test_pattern5_formal_roles_see_their_priorities_reflected(base_runs):
    greater(base_runs["reflected_formal__last12"].to_numpy(),
            base_runs["reflected_other__last12"].to_numpy(), paired=False)


def test_pattern4_more_gp_knowledge_sharing_raises_tie_persistence(base_runs):
    sharing = outcome("east_of_england_2013", "tie_persistence",
                      extra=("exchange.rate=0.6", "network.gp_ties_in_locality=6"))
    greater(sharing, base_runs["tie_persistence__last12"].to_numpy())
