"""The engagement feedback of a decision month in one compiled pass: the same bits as
simulation.engagement.reflection (twice) and update_engagement, and a plain loop."""


import numpy as np
import pytest
from conftest import HAVE_NUMBA

from simulation import _kernels
from simulation.engagement import reflection, update_engagement, update_engagement_loop


def _simplex(rng, n, k):
    x = rng.random((n, k)) ** 3
    return x / x.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("k", [1, 2, 6, 7, 8, 9, 16, 23, 40])
def test_reflect_feedback_equals_numpy(kern, k):
    rng = np.random.default_rng(k)
    n = 300
    seen, before, objective = _simplex(rng, n, k), _simplex(rng, n, k), _simplex(rng, n, k)
    before[:20] = seen[:20]  # unchanged allocation: moved is False
    e = rng.random(n)
    e[:5] = [0.0, 1.0, 0.5, 1e-300, 1 - 1e-16]
    present = rng.random(n) < 0.8
    reflect, moved, new_e = kern.reflect_feedback(seen, before, objective, e, present, 0.07, 0.55)
    ref = reflection(seen, objective)
    assert np.array_equal(reflect, ref)
    assert np.array_equal(moved, ref > reflection(before, objective))
    assert not moved[:20].any()
    want = update_engagement(e, ref, 0.07, 0.55, present)
    assert np.array_equal(new_e, want)
    assert np.array_equal(new_e, update_engagement_loop(e, ref, 0.07, 0.55, present))


def test_reflect_feedback_plain_loop_reference():
    """Hand-computed: |0.5-0.2| + |0.5-0.8| = 0.6, reflect 0.7; before the same as the
    objective: reflect 1.0, so not moved; gap 0.2 > 0: e + 0.1 * 0.2 * (1 - e)."""
    seen = np.array([[0.5, 0.5]])
    obj = np.array([[0.2, 0.8]])
    r, moved, e = _kernels.reflect_feedback(seen, obj.copy(), obj, np.array([0.4]),
                                            np.array([True]), 0.1, 0.5)
    assert r[0] == pytest.approx(0.7) and not moved[0]
    assert e[0] == pytest.approx(0.4 + 0.1 * 0.2 * 0.6)


def test_feedback_month_same_bits_on_both_paths(monkeypatch):
    from pathlib import Path

    from simulation.loader import load_scenario
    from simulation.model import CommissioningModel

    if not HAVE_NUMBA:
        pytest.skip("numba not installed")
    path = Path(__file__).resolve().parents[1] / "scenarios" / "east_of_england_2013.yaml"
    out = {}
    for mode in ("numpy", "numba"):
        monkeypatch.setenv("COMMNET_KERNELS", mode)
        m = CommissioningModel(load_scenario(path, ["burn_in=3"]), seed=11, collect=False)
        for _ in range(7):  # two decision months
            m.step()
        out[mode] = (m.engagement.copy(), m.reflect.copy(), m.moved_toward.copy())
    for a, b in zip(out["numpy"], out["numba"], strict=True):
        assert np.array_equal(a, b)
