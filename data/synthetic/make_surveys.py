"""Write the synthetic survey samples of this folder (run from the repository root).

    .venv/bin/python data/synthetic/make_surveys.py

The samples are invented, not study data: a ~40-person network around the board of Site A
of ``scenarios/east_of_england_2013.yaml`` (as csv node/edge tables and as GraphML) and an
ego-network survey of 17 board members of Sites A and B (one row per reported tie, strengths
on a 1-5 scale).  The draws use a fixed seed, so the files are reproducible.
"""

from __future__ import annotations

import csv
from itertools import combinations
from pathlib import Path

import networkx as nx
import numpy as np

HERE = Path(__file__).resolve().parent
rng = np.random.default_rng(20130220)  # the study's publication date

# ---------------------------------------------------------------- the Site A network (40 people)
# (id, type, role, practice, board); role '' = any role of the type, practice '' = none
NODES = [
    # GP chair and locality leads; practice labels only where colleagues are surveyed too
    # (a label is a hard constraint on the matching: leave it empty where it does not matter)
    *[(f"GP{i}", "gp", "gp", f"P0{i}" if i <= 3 else "", 1) for i in range(1, 8)],
    ("PM1", "manager", "practice_manager", "P08", 1),
    ("AO", "manager", "officer", "", 1),  # accountable officer
    ("CFO", "manager", "officer", "", 1),  # chief finance officer
    ("NUR", "manager", "nurse", "", 1),
    ("LAY1", "patient", "lay_member", "", 1),
    ("LAY2", "patient", "lay_member", "", 1),
    ("SCD", "provider", "provider_staff", "", 1),  # secondary-care doctor
    ("LA1", "local_authority", "local_authority_staff", "", 1),  # non-voting attendee
    ("GP8", "gp", "", "P01", 0), ("GP9", "gp", "", "P01", 0), ("GP10", "gp", "", "P02", 0),
    ("GP11", "gp", "", "P03", 0), ("GP12", "gp", "", "P09", 0), ("GP13", "gp", "", "P09", 0),
    ("GP14", "gp", "", "P10", 0), ("GP15", "gp", "", "", 0), ("GP16", "gp", "", "", 0),
    ("PM2", "manager", "practice_manager", "P01", 0), ("PM3", "manager", "practice_manager", "P02", 0),
    ("PM4", "manager", "practice_manager", "P09", 0), ("PM5", "manager", "practice_manager", "P10", 0),
    *[(f"CM{i}", "manager", "commissioning_manager", "", 0) for i in range(1, 5)],
    ("PPG1", "patient", "patient_rep", "P01", 0), ("PPG2", "patient", "patient_rep", "P09", 0),
    ("PPG3", "patient", "patient_rep", "", 0),
    ("PROV1", "provider", "", "", 0), ("PROV2", "provider", "", "", 0),
    ("PROV3", "provider", "", "", 0),
    ("LA2", "local_authority", "", "", 0), ("LA3", "local_authority", "", "", 0),
]


def strength(mean: float) -> float:
    """A strength in 0.1 steps in (0, 1], around ``mean``."""
    return float(np.clip(np.round(rng.beta(4 * mean, 4 * (1 - mean)), 1), 0.1, 1.0))


def network() -> list[tuple[str, str, float]]:
    """Ties among NODES as (id, id, strength), by role: board, practice colleagues, GP peers,
    managers, lay members to patient representatives, provider and local-authority staff."""
    info = {n[0]: n for n in NODES}
    ties: dict[tuple[str, str], float] = {}

    def tie(a: str, b: str, p: float, mean: float) -> None:
        if a != b and rng.random() < p:
            ties[tuple(sorted((a, b)))] = strength(mean)

    ids = [n[0] for n in NODES]
    board = [i for i in ids if info[i][4]]
    for a, b in combinations(board, 2):  # board members meet monthly
        tie(a, b, 0.55, 0.6)
    for a, b in combinations(ids, 2):  # colleagues in one practice
        if info[a][3] and info[a][3] == info[b][3]:
            tie(a, b, 0.95, 0.8)
    gps = [i for i in ids if info[i][1] == "gp"]
    for a, b in combinations(gps, 2):  # GP to GP across practices
        tie(a, b, 0.12, 0.4)
    managers = ["AO", "CFO", "NUR", "CM1", "CM2", "CM3", "CM4"]
    for a, b in combinations(managers, 2):
        tie(a, b, 0.8, 0.7)
    for cm in managers[3:]:  # commissioning managers to practices
        for other in ids:
            if info[other][2] in ("practice_manager",) or info[other][1] == "gp":
                tie(cm, other, 0.1, 0.4)
    for lay in ("LAY1", "LAY2"):
        for ppg in ("PPG1", "PPG2", "PPG3"):
            tie(lay, ppg, 0.6, 0.5)
    for p in ("PROV1", "PROV2", "PROV3"):  # provider staff: contracts and clinical links
        for other in ("SCD", "AO", "CFO", "CM1", "CM2", "GP1", "GP2"):
            tie(p, other, 0.35, 0.4)
    for la in ("LA2", "LA3"):
        for other in ("LA1", "AO", "NUR", "CM3", "LAY1"):
            tie(la, other, 0.45, 0.4)
    for node in ids:  # nobody in a survey is an isolate
        if not any(node in k for k in ties):
            other = board[int(rng.integers(len(board)))]
            ties[tuple(sorted((node, other if other != node else "AO")))] = strength(0.4)
    return [(a, b, w) for (a, b), w in sorted(ties.items())]


def write_network() -> None:
    """survey_nodes.csv, survey_edges.csv and the same network as survey.graphml."""
    edges = network()
    with open(HERE / "survey_nodes.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "type", "role", "group", "practice", "board"])
        for ident, kind, role, practice, board in NODES:
            w.writerow([ident, kind, role, "Site A", practice, board])
    with open(HERE / "survey_edges.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["source", "target", "strength"])
        w.writerows(edges)
    g = nx.Graph()
    for ident, kind, role, practice, board in NODES:
        attrs = {"type": kind, "group": "Site A", "board": board}
        if role:
            attrs["role"] = role
        if practice:
            attrs["practice"] = practice
        g.add_node(ident, **attrs)
    g.add_edges_from((a, b, {"strength": s}) for a, b, s in edges)
    nx.write_graphml(g, HERE / "survey.graphml")


# ---------------------------------------------------------------- the ego survey (17 respondents)
RESPONDENTS = [  # (id, group, role, mean ties to gp, manager, provider, patient, local_authority)
    ("R01", "Site A", "gp", (8, 4, 2, 2, 1)), ("R02", "Site A", "gp", (7, 3, 1, 1, 0)),
    ("R03", "Site A", "gp", (6, 3, 2, 1, 1)), ("R04", "Site A", "gp", (5, 2, 1, 1, 0)),
    ("R05", "Site A", "practice_manager", (5, 5, 0, 2, 0)),
    ("R06", "Site A", "officer", (4, 6, 3, 1, 2)), ("R07", "Site A", "nurse", (3, 5, 2, 2, 1)),
    ("R08", "Site A", "lay_member", (2, 2, 0, 3, 1)),
    ("R09", "Site A", "provider_staff", (3, 3, 3, 0, 0)),
    ("R10", "Site B", "gp", (6, 2, 1, 1, 0)), ("R11", "Site B", "gp", (5, 2, 1, 0, 0)),
    ("R12", "Site B", "gp", (4, 2, 0, 1, 0)),
    ("R13", "Site B", "practice_manager", (4, 4, 0, 1, 0)),
    ("R14", "Site B", "officer", (3, 5, 2, 0, 1)), ("R15", "Site B", "nurse", (2, 4, 1, 1, 0)),
    ("R16", "Site B", "lay_member", (1, 1, 0, 2, 0)),
    ("R17", "Site B", "local_authority_staff", (0, 0, 0, 0, 0)),  # reported no ties
]
TYPES = ("gp", "manager", "provider", "patient", "local_authority")
LIMIT = {"Site A": (50, 50, 10, 20, 2), "Site B": (50, 50, 6, 20, 1)}


def write_ego() -> None:
    """ego_survey.csv: one row per reported tie, Poisson counts around each mean, 1-5 scale."""
    with open(HERE / "ego_survey.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["respondent", "role", "group", "alter_type", "strength"])
        for ident, group, role, means in RESPONDENTS:
            rows = 0
            for kind, mean, cap in zip(TYPES, means, LIMIT[group], strict=True):
                for _ in range(min(cap, int(rng.poisson(mean)) if mean else 0)):
                    w.writerow([ident, role, group, kind, int(rng.integers(1, 6))])
                    rows += 1
            if rows == 0:
                w.writerow([ident, role, group, "", ""])


if __name__ == "__main__":
    write_network()
    write_ego()
