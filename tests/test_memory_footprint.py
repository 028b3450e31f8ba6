"""What the model keeps between months, kept small without changing a value."""

import numpy as np

from simulation.loader import load_scenario
from simulation.model import CommissioningModel

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_key_history_is_compact_and_exact():
    s = load_scenario(ROOT / "scenarios" / "teaching.yaml", ["burn_in=0"])
    m = CommissioningModel(s, seed=3, collect=False)
    snapshots = [m.ties.keys().copy()]
    for _ in range(4):
        m.step()
        snapshots.append(m.ties.keys().copy())
    kept = list(m.key_history)[-len(snapshots):]
    assert all(k.dtype == np.uint32 for k in kept)  # n ≤ 65,536: four bytes a key
    for k, full in zip(kept, snapshots, strict=True):
        assert np.array_equal(k.astype(np.int64), full)


def test_id_history_is_compact_and_exact(monkeypatch):
    s = load_scenario(ROOT / "scenarios" / "teaching.yaml", ["burn_in=0"])
    m = CommissioningModel(s, seed=3, collect=False)
    ids = [m.occupant_id.copy()]
    for _ in range(4):
        m.step()
        ids.append(m.occupant_id.copy())
    kept = list(m.id_history)[-len(ids):]
    assert all(k.dtype == np.int32 for k in kept)
    for k, full in zip(kept, ids, strict=True):
        assert np.array_equal(k, full)
    monkeypatch.setattr(m, "agent_id_counter", 2**31)  # ids that no longer fit
    assert m._id_record().dtype == np.int64


def test_key_history_stays_int64_when_keys_do_not_fit(monkeypatch):
    s = load_scenario(ROOT / "scenarios" / "teaching.yaml", ["burn_in=0"])
    m = CommissioningModel(s, seed=3, collect=False)
    monkeypatch.setattr(m, "n_agents", (1 << 16) + 1)  # as if n * n ≥ 2**32
    assert m._key_record().dtype == np.int64


# ------------------------------------------------------------------ shared scopes
def _distinct_reference(m):
    """Distinct rows by a dict of each row's (columns, value bits): the plain definition."""
    seen, first, inverse = {}, [], []
    for i in range(m.shape[0]):
        a, b = m.indptr[i], m.indptr[i + 1]
        key = (m.indices[a:b].tobytes(), m.data[a:b].tobytes())
        if key not in seen:
            seen[key] = len(first)
            first.append(i)
        inverse.append(seen[key])
    return first, inverse


def test_distinct_rows_equal_plain_definition_and_products():
    import scipy.sparse as sp

    from simulation._numeric import csr_product, distinct_rows

    rng = np.random.default_rng(5)
    for trial in range(40):
        n_base, k = int(rng.integers(1, 30)), int(rng.integers(1, 12))
        base = sp.random_array((n_base, k), density=float(rng.random()), rng=rng, format="csr")
        if trial % 5 == 0:
            base.data[:] = np.where(rng.random(base.nnz) < 0.5, -0.0, 0.0)  # signed zeros
        rows = rng.integers(0, n_base, int(rng.integers(1, 200)))
        m = sp.csr_array(base[rows])
        found = distinct_rows(m, most=1.0)
        first, inverse = _distinct_reference(m)
        assert found is not None
        d, inv = found
        # the same groups (numbered in another order): as many, and equal rows share one
        assert d.shape[0] == len(first)
        assert np.array_equal(inv, inv[np.asarray(first)[inverse]])
        x = rng.random((k, 6))
        full = csr_product(m.indptr, m.indices, m.data, x, m.shape[0])
        assert np.array_equal(np.take(csr_product(d.indptr, d.indices, d.data, x, d.shape[0]),
                                      inv, axis=0), full)
    few = sp.csr_array(np.eye(8))
    assert distinct_rows(few) is None  # every row distinct: no shortcut


def test_distinct_rows_refuses_a_hash_collision(monkeypatch):
    import scipy.sparse as sp

    from simulation import _numeric

    m = sp.csr_array(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 0.0], [0.0, 2.0]]))
    monkeypatch.setattr(_numeric, "_row_keys",  # every row the same key: all collide
                        lambda m, indptr, length, pos: np.zeros(m.shape[0], np.uint64))
    assert _numeric.distinct_rows(m) is None


def test_model_truth_by_distinct_rows_is_bitwise_the_full_product():
    from simulation.model import _product

    s = load_scenario(ROOT / "scenarios" / "east_of_england_2013.yaml", ["burn_in=0"])
    m = CommissioningModel(s, seed=2, collect=False)
    for _ in range(3):
        m.step()
    stacked, (n_area, n_group) = m._truth_matrix()
    full = _product(stacked, m.practice_need)
    assert m._distinct_cache and m._distinct_cache[-1][1] is not None  # the shortcut ran
    assert np.array_equal(m.truth, full[n_area + n_group:])
    assert np.array_equal(m.area_need, full[:n_area])
    o = m.spec.observation
    old = m.need_history[0] if o.data_lag and m.need_history else m.practice_need
    assert np.array_equal(m._rows_product(m.data_scope, old), _product(m.data_scope, old))
