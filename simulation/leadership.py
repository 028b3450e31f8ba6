"""Leadership levers: the study's three network-leadership roles as policy switches.

* **Knowledge brokering** (managing knowledge flows): each month every board GP and locality
  lead, with probability ``0.5 × intensity``, forms a tie to a randomly chosen front-line agent
  (GP, practice manager or patient representative) of its group.
* **Coherence building** (managing network coherence): at each decision, a joint forum of the
  board and the staff of providers and local authorities serving the group; attending
  agents' objectives move toward the forum's engagement-weighted mean by ``0.5 × intensity``,
  and each attending external member forms a tie to a random board member.
* **Stability management** (managing network stability): leaving hazards and tie decay are
  multiplied by ``1 − 0.5 × intensity`` (see :mod:`simulation.engagement` and
  :mod:`simulation.tie_dynamics`).

Dhanaraj & Parkhe (2006), Orchestrating innovation networks, Acad Manage Rev 31:659-669.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from .localities import meet
from .population import LOCAL_AUTHORITY, PROVIDER, R_GP

if TYPE_CHECKING:  # pragma: no cover
    from .model import CommissioningModel

__all__ = ["broker_ties", "forum_membership", "joint_forum"]


def broker_ties(model: CommissioningModel, intensity: float) -> tuple[np.ndarray, np.ndarray]:
    """New (leader, front-line agent) ties proposed by knowledge brokers this month."""
    p = model.pop
    leaders = np.flatnonzero(
        ((model.on_board & (p.role == R_GP)) | p.locality_lead) & model.present
    )
    go = leaders[model.rng.random(leaders.size) < 0.5 * intensity]
    if go.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    front = np.flatnonzero(model.front_line & model.present)
    front = front[np.argsort(p.group[front], kind="stable")]
    size = np.bincount(p.group[front], minlength=model.n_groups)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    g = p.group[go]
    ok = size[g] > 0
    go, g = go[ok], g[ok]
    pick = start[g] + np.floor(model.rng.random(go.size) * size[g]).astype(np.int64)
    return go.astype(np.int64), front[pick].astype(np.int64)


def forum_membership(model: CommissioningModel) -> sp.csr_array:
    """0/1 (G, N): each group's board plus the staff of providers and LAs serving it."""
    p = model.pop
    rows, cols = [], []
    for kind, serves in ((PROVIDER, p.provider_serves), (LOCAL_AUTHORITY, p.la_serves)):
        staff = np.flatnonzero((p.kind == kind) & model.present)
        if staff.size == 0:
            continue
        sg, gg = np.nonzero(serves[p.org[staff]])
        rows.append(gg)
        cols.append(staff[sg])
    ext = sp.csr_array(
        (np.ones(sum(r.size for r in rows)), (np.concatenate(rows or [np.empty(0, int)]),
                                              np.concatenate(cols or [np.empty(0, int)]))),
        shape=(model.n_groups, model.n_agents),
    )
    forum = (model.board + ext).tocsr()
    forum.data[:] = 1.0
    return forum


def joint_forum(
    model: CommissioningModel, intensity: float
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Objectives after a joint forum, and the new board–external ties it creates."""
    forum = forum_membership(model)
    w = model.engagement * model.active
    objective, _ = meet(model.objective, forum, w, 0.5 * intensity)
    p = model.pop
    a_parts, b_parts = [], []
    coo = forum.tocoo()
    external = (p.group[coo.col] < 0) & model.active[coo.col]
    for g, person in zip(coo.row[external].tolist(), coo.col[external].tolist(), strict=True):
        members = model.board.indices[model.board.indptr[g] : model.board.indptr[g + 1]]
        members = members[p.group[members] == g]
        if members.size:
            a_parts.append(person)
            b_parts.append(int(model.rng.choice(members)))
    return objective, (np.asarray(a_parts, np.int64), np.asarray(b_parts, np.int64))
