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


def test_key_history_stays_int64_when_keys_do_not_fit(monkeypatch):
    s = load_scenario(ROOT / "scenarios" / "teaching.yaml", ["burn_in=0"])
    m = CommissioningModel(s, seed=3, collect=False)
    monkeypatch.setattr(m, "n_agents", (1 << 16) + 1)  # as if n * n ≥ 2**32
    assert m._key_record().dtype == np.int64
