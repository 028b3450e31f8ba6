"""Bitwise check for speed work: the same seed must give the same bits after a change.

``dump`` runs a fixed set of 19 scenario cases (East of England with each exchange rule and
each knowledge route off, levers, innovation, a need shock, the ICB scenario, the 2011-2026
history with its reorganisations, England x 0.1) with the ``simulation`` package of the
current working directory, and pickles every metric at every month plus the final beliefs,
objectives, engagement, private beliefs, last contacts, occupants and ties; ``compare`` says
case by case whether two dumps are equal bit for bit (NaN equal to NaN) and exits 1 if not.

    cd <checkout before> && python benchmarks/bitwise.py dump /tmp/before.pkl [--quick]
    cd <checkout after>  && python benchmarks/bitwise.py dump /tmp/after.pkl
    python benchmarks/bitwise.py compare /tmp/before.pkl /tmp/after.pkl

Run it with ``COMMNET_KERNELS=numpy`` and ``=numba`` to compare the two kernel paths.  The
pickles are this tool's own scratch files: load only dumps you made.
"""
import os
import pickle
import sys

import numpy as np

sys.path.insert(0, os.getcwd())  # the checkout being checked, not an installed copy

CASES = [  # (scenario, overrides, seed, steps)
    ("scenarios/east_of_england_2013.yaml", [], 1, 60),
    ("scenarios/east_of_england_2013.yaml", [], 77, 36),
    ("scenarios/low_gp_engagement.yaml", [], 3, 36),
    ("scenarios/networked_leadership.yaml", [], 4, 36),
    ("scenarios/mental_health_surge.yaml", [], 5, 36),
    ("scenarios/no_informal_ties.yaml", [], 6, 24),
    ("scenarios/no_localities.yaml", [], 7, 24),
    ("scenarios/transactional.yaml", [], 8, 24),
    ("scenarios/icb_2022.yaml", ["scale=0.5"], 9, 36),
    ("scenarios/east_of_england_2011_2026.yaml", ["scale=0.4"], 10, 179),
    ("scenarios/east_of_england_2013.yaml", ["exchange.rule=deffuant"], 11, 24),
    ("scenarios/east_of_england_2013.yaml", ["exchange.rule=hegselmann_krause"], 12, 24),
    ("scenarios/east_of_england_2013.yaml", ["exchange.rule=friedkin_johnsen"], 13, 24),
    ("scenarios/east_of_england_2013.yaml", ["exchange.source_relevance=1"], 14, 24),
    ("scenarios/east_of_england_2013.yaml", ["knowledge_routes.board_gps=false"], 15, 24),
    ("scenarios/east_of_england_2013.yaml", ["knowledge_routes.locality_meetings=false"], 16, 24),
    ("scenarios/east_of_england_2013.yaml", ["knowledge_routes.informal_ties=false"], 17, 24),
    ("scenarios/east_of_england_2013.yaml", ["innovation.enabled=true"], 18, 24),
    ("scenarios/england_2013.yaml", ["scale=0.1"], 19, 12),
]
STATE = ("belief", "objective", "engagement", "private", "last_contact", "occupant_id")


def dump(out: str, quick: bool = False) -> None:
    """Run the cases (the first three with ``quick``) and pickle their results to ``out``."""
    from simulation.loader import load_scenario
    from simulation.model import CommissioningModel

    res = {}
    for path, ov, seed, steps in CASES[:3] if quick else CASES:
        key = f"{path} {' '.join(ov)} seed={seed}"
        m = CommissioningModel(load_scenario(path, ov), seed=seed)
        for _ in range(steps):
            m.step()
        state = {a: np.array(getattr(m, a)) for a in STATE}
        state["ties"] = (m.ties.src.copy(), m.ties.dst.copy(), m.ties.weight.copy())
        res[key] = {"df": m.datacollector.get_model_vars_dataframe(), "state": state}
        print("ran", key, flush=True)
    with open(out, "wb") as f:
        pickle.dump(res, f)


def _same(x, y) -> bool:
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        x, y = np.asarray(x), np.asarray(y)
        return (x.shape == y.shape and x.dtype == y.dtype
                and np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, list | tuple) and isinstance(y, list | tuple):
        return len(x) == len(y) and all(_same(p, q) for p, q in zip(x, y, strict=True))
    if isinstance(x, float) and isinstance(y, float) and x != x and y != y:
        return True
    return bool(x == y)


def _frame_diff(a, b) -> str | None:
    if list(a.columns) != list(b.columns) or a.shape != b.shape:
        return f"columns/shape differ {a.shape} {b.shape}"
    bad = [c for c in a.columns
           if not all(_same(x, y) for x, y in zip(a[c].tolist(), b[c].tolist(), strict=True))]
    return f"columns differ: {bad}" if bad else None


def compare(a: str, b: str) -> bool:
    """Print SAME/DIFF per case; True when every case is equal bit for bit."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        A, B = pickle.load(fa), pickle.load(fb)
    ok = True
    for k in A:
        if k not in B:
            print("MISSING", k)
            ok = False
            continue
        why = _frame_diff(A[k]["df"], B[k]["df"]) or ""
        for s in A[k]["state"]:
            if not _same(A[k]["state"][s], B[k]["state"][s]):
                why += f" state {s} differs"
        print("SAME " if not why else "DIFF ", k, why)
        ok &= not why
    print("ALL BITWISE EQUAL" if ok else "DIFFERENCES FOUND")
    return ok


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "dump":
        dump(sys.argv[2], "--quick" in sys.argv)
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(0 if compare(sys.argv[2], sys.argv[3]) else 1)
    else:
        sys.exit(__doc__)
