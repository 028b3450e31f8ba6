"""simulation.statistics against hand-computed and scipy values."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simulation.results import RunResult
from simulation.statistics import (
    ONE_REPLICATE,
    difference,
    format_interval,
    hedges_g,
    mean_ci,
    mean_interval,
)

A = [1.0, 2.0, 3.0, 4.0]
B = [2.0, 4.0, 6.0, 8.0, 10.0]


def test_t_interval_by_hand():
    # mean 2.5, s = sqrt(5/3), t(0.975, 3) = 3.182446305 (printed tables: 3.182)
    iv = mean_interval(A)
    half = 3.182446305 * math.sqrt(5 / 3) / 2
    assert iv.mean == 2.5 and iv.n == 4 and iv.sd == pytest.approx(math.sqrt(5 / 3))
    assert (iv.low, iv.high) == pytest.approx((2.5 - half, 2.5 + half), abs=1e-8)
    assert iv.half_width == pytest.approx(2.054260, abs=1e-6) and iv.note == ""
    # 90% interval: t(0.95, 3) = 2.353363435
    iv90 = mean_interval(A, conf=0.90)
    assert iv90.half_width == pytest.approx(2.353363435 * math.sqrt(5 / 3) / 2, abs=1e-8)
    # the same as scipy's one-sample t-test interval
    ci = stats.ttest_1samp(A, 0.0).confidence_interval(0.95)
    assert (iv.low, iv.high) == pytest.approx((ci.low, ci.high))
    assert mean_ci(A) == pytest.approx((2.5, math.sqrt(5 / 3), iv.low, iv.high, 4))


def test_t_not_z_at_five_replicates():
    # t(0.975, 4) = 2.776445 against z = 1.959964: the z-interval is 29% too narrow
    x = [0.2, 0.4, 0.1, 0.5, 0.3]
    iv = mean_interval(x)
    se = np.std(x, ddof=1) / math.sqrt(5)
    assert iv.half_width == pytest.approx(2.776445105 * se, rel=1e-8)
    assert 1 - 1.959964 / 2.776445 == pytest.approx(0.294, abs=1e-3)


def test_t_interval_covers_at_its_level():
    # 4000 normal samples of 5: the t-interval covers the mean ~95%, the z-interval ~88%
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 1.0, (4000, 5))
    covered = [mean_interval(row).low <= 0 <= mean_interval(row).high for row in x]
    se = x.std(axis=1, ddof=1) / math.sqrt(5)
    z = np.abs(x.mean(axis=1)) <= 1.96 * se
    assert 0.94 < np.mean(covered) < 0.96
    assert 0.86 < z.mean() < 0.90


def test_undefined_intervals_say_why():
    one = mean_interval([0.4])
    assert one.mean == 0.4 and one.n == 1 and not one.defined and math.isnan(one.low)
    assert one.note == ONE_REPLICATE
    assert format_interval(one.low, one.high, one.note) == ONE_REPLICATE
    none = mean_interval([np.nan, np.inf])
    assert none.n == 0 and none.note == "no finite values"
    same = mean_interval([0.3, 0.3, 0.3])
    assert (same.low, same.high) == (0.3, 0.3) and "identical" in same.note
    with pytest.raises(ValueError, match="conf"):
        mean_interval(A, conf=1.5)


def test_bounded_intervals_are_clipped():
    x = [0.99, 1.0, 1.0, 0.995]
    raw = mean_interval(x)
    iv = mean_interval(x, bounds=(0.0, 1.0))
    assert raw.high > 1 and iv.high == 1.0 and iv.low == pytest.approx(raw.low)
    assert "clipped at the upper bound 1" in iv.note
    low = mean_interval([0.0, 0.0, 0.01], bounds=(0.0, 1.0))
    assert low.low == 0.0 and "lower bound 0" in low.note
    inside = mean_interval([0.4, 0.5, 0.6], bounds=(0.0, 1.0))
    assert inside.note == "" and (inside.low, inside.high) == pytest.approx(
        (mean_interval([0.4, 0.5, 0.6]).low, mean_interval([0.4, 0.5, 0.6]).high))
    # a difference of two [0, 1] metrics lies in [-1, 1]
    d = difference([1.0, 1.0, 0.999], [0.0, 0.0, 0.1], paired=True, bounds=(0.0, 1.0))
    assert d.high <= 1.0 and "clipped" in d.note


def test_paired_difference_matches_scipy():
    x = np.array([0.61, 0.58, 0.66, 0.70, 0.64])
    y = np.array([0.52, 0.55, 0.59, 0.63, 0.60])
    d = difference(x, y, paired=True)
    ci = stats.ttest_rel(x, y).confidence_interval(0.95)
    assert d.method == "paired" and d.n == 5
    assert d.diff == pytest.approx(np.mean(x - y))
    assert (d.low, d.high) == pytest.approx((ci.low, ci.high))
    assert d.excludes_zero
    with pytest.raises(ValueError, match="equal lengths"):
        difference([1.0, 2.0], [1.0], paired=True)


def test_welch_difference_by_hand_and_scipy():
    # va = (5/3)/4, vb = 10/5; Welch–Satterthwaite df = (va+vb)^2 / (va^2/3 + vb^2/4) = 5.5208
    va, vb = (5 / 3) / 4, 10 / 5
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 4)
    assert df == pytest.approx(5.52079, abs=1e-5)
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    d = difference(A, B, paired=False)
    assert d.method == "welch" and d.diff == -3.5
    assert (d.low, d.high) == pytest.approx((-3.5 - half, -3.5 + half))
    ci = stats.ttest_ind(A, B, equal_var=False).confidence_interval(0.95)
    assert (d.low, d.high) == pytest.approx((ci.low, ci.high))
    one = difference([1.0], B, paired=False)
    assert math.isnan(one.low) and "one replicate" in one.note


def test_hedges_g_by_hand():
    # pooled sd = sqrt((3·5/3 + 4·10)/7) = sqrt(45/7); J = 1 − 3/(4·9 − 9) = 8/9
    g = -3.5 / math.sqrt(45 / 7) * (8 / 9)
    assert hedges_g(A, B) == pytest.approx(g)
    assert g == pytest.approx(-1.22704, abs=1e-5)
    d = difference(A, B, paired=False)
    assert d.g == pytest.approx(g) and d.noise_sd == pytest.approx(math.sqrt(45 / 7))
    assert d.g_note == ""
    assert math.isnan(hedges_g([1.0], B))


def test_g_is_withheld_or_flagged_when_noise_is_tiny():
    same = difference([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], paired=True)
    assert same.diff == 1.0 and (same.low, same.high) == (1.0, 1.0)
    assert math.isnan(same.g) and "practically identical" in same.g_note
    tiny = difference([1.0, 1.001, 0.999], [0.0, 0.001, -0.001], paired=False)
    assert abs(tiny.g) > 10 and "read the difference" in tiny.g_note


def test_overall_table_uses_the_t_interval_and_explains_n1():
    summary = pd.DataFrame({"replicate": [0, 1, 2], "group": ["overall"] * 3,
                            "reach": [0.99, 1.0, 1.0], "knowledge_flow": [2.0, 3.0, 4.0]})
    res = RunResult(None, pd.DataFrame(), summary)
    tab = res.overall_table(["reach", "knowledge_flow"]).set_index("metric")
    assert tab.loc["reach", "ci_high"] == 1.0 and "clipped" in tab.loc["reach", "note"]
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    assert tab.loc["knowledge_flow", "ci_low"] == pytest.approx(3.0 - half)
    one = RunResult(None, pd.DataFrame(), summary.iloc[:1]).overall_table(["reach"])
    assert one["note"].iloc[0] == ONE_REPLICATE and one["ci_low"].isna().all()
