"""The tie network: an undirected weighted edge list built from the population, fast at scale.

Ties are held as three arrays (``src < dst``, ``weight``) in :class:`Ties`; the exchange
kernels get a symmetric CSR matrix from :meth:`Ties.csr`.  networkx is used only for analysis
and export (:meth:`Ties.to_networkx`), never to build large graphs.

With ``network.informal`` false there are no ties at all (only meetings).  Otherwise, initial
ties (all with weight ``network.initial_weight`` unless said otherwise):

* colleagues within a practice: all GPs and the practice manager pairwise; each patient
  representative to the practice manager and one GP;
* GP to GPs of other practices: Poisson(``gp_ties_in_locality``) in the same area and
  Poisson(``gp_ties_across_localities``) elsewhere in the group;
* commissioning managers (officers and nurses included) pairwise, and each to
  Poisson(``manager_ties``) practice managers or GPs of its group;
* the board pairwise (members meet monthly);
* with localities enabled, each locality lead to one GP of every other practice and every
  practice manager of its area;
* lay members to Poisson(2) patient representatives of their group;
* staff of one provider or local authority pairwise;
* board and providers/local authorities by relationship mode: *transactional* — one contract
  tie per (group, organisation) between the group's first officer and one staff member;
  *networked* — every staff member tied to two board members and one commissioning manager of
  every group served, and provider/LA staff of organisations serving the same group to one
  another (joint forums).

With ``network.survey`` the surveyed ties then replace the generated ties of the surveyed
people (or, in ``mode: replace``, of the whole groups surveyed): :mod:`simulation.surveyed`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse import _sparsetools  # the COO->CSR counting sort (csr_structure)

from ._numeric import row_positions
from .population import (
    LOCAL_AUTHORITY,
    PROVIDER,
    R_CM,
    R_GP,
    R_LAY,
    R_NURSE,
    R_OFFICER,
    R_PM,
    R_PPG,
    Population,
    members_by,
)

__all__ = ["Ties", "build_ties", "csr_structure", "pairs_within"]


class CSRPattern(NamedTuple):
    """The sparsity pattern of a CSR matrix: row pointers and column indices."""

    indptr: np.ndarray
    indices: np.ndarray


@dataclass
class Ties:
    """Undirected weighted ties among ``n`` agents; each tie stored once with ``src < dst``."""

    n: int
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray

    @classmethod
    def from_pairs(cls, n: int, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> Ties:
        """Ties from arbitrary pairs: self-pairs dropped, duplicates merged keeping the max weight."""
        a = np.asarray(a, np.int64)
        b = np.asarray(b, np.int64)
        w = np.broadcast_to(np.asarray(w, float), a.shape)
        keep = a != b
        lo, hi, w = np.minimum(a, b)[keep], np.maximum(a, b)[keep], w[keep]
        keys = lo * n + hi
        order = np.lexsort((-w, keys))
        keys, w = keys[order], w[order]
        first = np.ones(keys.size, bool)
        first[1:] = keys[1:] != keys[:-1]
        keys, w = keys[first], w[first]
        return cls(n, (keys // n).astype(np.int64), (keys % n).astype(np.int64), w.astype(float))

    @property
    def m(self) -> int:
        """Number of ties."""
        return int(self.src.size)

    def keys(self) -> np.ndarray:
        """Sorted unique int64 keys ``src * n + dst`` (computed once per tie set, read-only)."""
        keys = self.__dict__.get("_keys")
        if keys is None or keys.size != self.src.size:
            keys = self.src * self.n + self.dst
            keys.flags.writeable = False
            self.__dict__["_keys"] = keys
        return keys

    def per_tie(self, name: object, compute: Callable[[np.ndarray, np.ndarray], np.ndarray]
                ) -> np.ndarray:
        """Per-tie values that depend only on each tie's two ends, ``compute(src, dst)``,
        kept under ``name`` (which must identify ``compute``: same name, same function).

        Computed once for a tie set and carried through :meth:`keep` (the kept ties' values)
        and :meth:`add` (``compute`` run on the new ties only, inserted where they are): the
        tie set changes every month, but most of its ties do not, so the values are those of
        ``compute`` on the whole set without computing them for every tie every month (the
        same values, element by element; read-only).
        """
        store = self.__dict__.setdefault("_per_tie", {})
        hit = store.get(name)
        if hit is None or hit[1].size != self.m:
            values = np.asarray(compute(self.src, self.dst))
            values.flags.writeable = False
            store[name] = hit = (compute, values)
        return hit[1]

    def _carry(self, out: Ties, how: Callable[[Callable, np.ndarray], np.ndarray]) -> Ties:
        """Give ``out`` this tie set's :meth:`per_tie` values, mapped by ``how``."""
        store = self.__dict__.get("_per_tie")
        if store:
            carried = {}
            for name, (compute, values) in store.items():
                if values.size == self.m:
                    v = how(compute, values)
                    v.flags.writeable = False
                    carried[name] = (compute, v)
            out.__dict__["_per_tie"] = carried
        return out

    def incident(self, agents: np.ndarray) -> np.ndarray:
        """Indices of the ties of ``agents`` (a tie between two of them appears twice), read
        from their rows of the CSR structure: no pass over all ties."""
        indptr, _, tie = self._structure()
        return tie[row_positions(indptr, agents)].astype(np.int64)

    def pattern(self, entries: np.ndarray | None = None) -> CSRPattern:
        """``indptr`` and ``indices`` of :meth:`csr` (the neighbours of every agent in
        ascending order), without laying out any data.  With ``entries`` (a boolean mask
        over the ties), the pattern of those ties only: the same as
        ``self.keep(entries).pattern()``, filtered from this tie set's structure."""
        indptr, indices, _ = self._structure()
        if entries is None:
            return CSRPattern(indptr, indices)
        kept_indptr, at = self._kept(entries)
        return CSRPattern(kept_indptr, indices.take(at))

    def _kept(self, entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row pointers of the structure restricted to the ties in ``entries`` (a boolean
        mask over the ties) and the positions of the entries kept, in entry order."""
        indptr, _, tie = self._structure()
        at = np.flatnonzero(np.asarray(entries, bool)[tie])  # take by position: faster than masks
        # row r starts at the number of kept entries before its first entry: a search of its
        # start among the kept positions (the same integers as a prefix count over all entries,
        # without a pass over them)
        return np.searchsorted(at, indptr).astype(indptr.dtype), at

    def _structure(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSR structure of the symmetric matrix, computed once per tie set: ``indptr``,
        ``indices`` and the tie behind each stored entry (see :func:`csr_structure`)."""
        cached = self.__dict__.get("_csr_structure")
        if cached is None:
            cached = csr_structure(self.n, self.src, self.dst)
            self.__dict__["_csr_structure"] = cached
        return cached

    def csr(self, data: np.ndarray | None = None, entries: np.ndarray | None = None) -> sp.csr_array:
        """Symmetric (n, n) CSR matrix with ``data`` (default the weights) on each tie.

        Rows have sorted column indices and no duplicates (canonical format); the structure is
        cached on the tie set, so repeated calls with new data cost one gather.  With
        ``entries`` (a boolean mask over the ties) only those ties are stored: the matrix of a
        sub-network (e.g. the ties used this month) without explicit zeros, same entry order.
        """
        d = self.weight if data is None else data
        indptr, indices, tie = self._structure()
        if entries is not None:
            kept_indptr, at = self._kept(entries)
            m = sp.csr_array((d.take(tie.take(at)), indices.take(at), kept_indptr),
                             shape=(self.n, self.n))
        else:
            # copies of the structure: callers may modify the matrix in place (eliminate_zeros)
            m = sp.csr_array((d[tie], indices.copy(), indptr.copy()), shape=(self.n, self.n))
        m.has_canonical_format = True
        return m

    def degree(self) -> np.ndarray:
        """Number of ties of each agent."""
        return np.bincount(self.src, minlength=self.n) + np.bincount(self.dst, minlength=self.n)

    def strength(self) -> np.ndarray:
        """Sum of tie weights of each agent."""
        return np.bincount(self.src, self.weight, self.n) + np.bincount(self.dst, self.weight, self.n)

    def add(self, a: np.ndarray, b: np.ndarray, w: float | np.ndarray, kernels=None) -> Ties:
        """New ties merged in; a tie that exists already keeps the larger weight.

        Keys stay sorted: new keys are inserted at their ``searchsorted`` positions, so the
        cost is linear in the number of ties plus a sort of the new ones only.  ``kernels``,
        if given, are the compiled kernels (:func:`simulation._kernels.kernels`, passed in by
        the model: this input-layer module does not import them) that do the same merge in
        one pass (:func:`simulation._kernels.merge_ties`; the same arrays).
        """
        new = Ties.from_pairs(self.n, np.asarray(a, np.int64), np.asarray(b, np.int64),
                              np.broadcast_to(np.asarray(w, float), np.shape(a)))
        if new.m == 0:
            return self._carry(Ties(self.n, self.src.copy(), self.dst.copy(), self.weight.copy()),
                               lambda f, v: v)
        if self.m == 0:
            return new
        keys = self.keys()
        nk = new.keys()
        kern = kernels
        if kern is not None:  # the same merge in one compiled pass
            src, dst, weight, merged, at, fresh = kern.merge_ties(
                keys, self.src, self.dst, self.weight, nk, new.src, new.dst, new.weight)
            out = Ties(self.n, src, dst, weight)
            merged.flags.writeable = False
            out.__dict__["_keys"] = merged
            return self._carry(out, lambda f, v: kern.insert_sorted(
                v, at, f(new.src[fresh], new.dst[fresh])))
        pos = np.searchsorted(keys, nk)
        exists = (pos < keys.size) & (keys[np.minimum(pos, keys.size - 1)] == nk)
        weight = self.weight.copy()
        weight[pos[exists]] = np.maximum(weight[pos[exists]], new.weight[exists])
        at, fresh = pos[~exists], ~exists
        insert = _inserter(self.m, at)  # np.insert at these positions, for every array
        out = Ties(self.n, insert(self.src, new.src[fresh]), insert(self.dst, new.dst[fresh]),
                   insert(weight, new.weight[fresh]))
        merged = insert(keys, nk[fresh])
        merged.flags.writeable = False
        out.__dict__["_keys"] = merged
        return self._carry(out, lambda f, v: insert(v, f(new.src[fresh], new.dst[fresh])))

    def keep_add(self, mask: np.ndarray, a: np.ndarray, b: np.ndarray, w: float | np.ndarray,
                 kernels) -> Ties:
        """``self.keep(mask).add(a, b, w)`` (the same arrays, keys and :meth:`per_tie`
        values) in one compiled pass (:func:`simulation._kernels.keep_merge_ties`: the runs of
        ties between the few that change are copied as blocks), without the intermediate tie
        set; ``kernels`` are the compiled kernels (required).  When this tie set's CSR
        structure is built, the result's is derived from it
        (:func:`simulation._kernels.merge_structure`: runs of rows without a change copied
        with their ties renumbered, the others merged) instead of a counting sort over all ties; the same
        arrays as :func:`csr_structure`."""
        kern = kernels
        mask = np.asarray(mask, bool)
        a = np.asarray(a, np.int64)
        if np.ndim(w) == 0:  # one weight: from_pairs' keys, in one compiled pass
            keys, new_src, new_dst = kern.new_tie_keys(a, np.asarray(b, np.int64), self.n)
            new = Ties(self.n, new_src, new_dst, np.full(keys.size, float(w)))
            keys.flags.writeable = False
            new.__dict__["_keys"] = keys
        else:
            new = Ties.from_pairs(self.n, a, np.asarray(b, np.int64),
                                  np.broadcast_to(np.asarray(w, float), a.shape))
        src, dst, weight, keys, _, fresh, final_old, final_fresh, gone, before = (
            kern.keep_merge_ties(self.src, self.dst, self.weight, self.keys(), mask, new.keys(),
                                 new.src, new.dst, new.weight))
        out = Ties(self.n, src, dst, weight)
        keys.flags.writeable = False
        out.__dict__["_keys"] = keys
        fresh_src, fresh_dst = new.src[fresh], new.dst[fresh]
        structure = self.__dict__.get("_csr_structure")
        if structure is not None:
            m = out.m
            idx = np.int32 if max(self.n, 2 * m) < 2**31 - 1 else np.int64  # as csr_structure
            built = (np.empty(self.n + 1, idx), np.empty(2 * m, idx), np.empty(2 * m, idx))
            kern.merge_structure(*structure, final_old, self.src[gone], self.dst[gone],
                                 fresh_src, fresh_dst, final_fresh, *built)
            out.__dict__["_csr_structure"] = built
        return self._carry(out, lambda f, v: kern.lay_out(v, gone, before, f(fresh_src, fresh_dst),
                                                          out.m))

    def keep(self, mask: np.ndarray) -> Ties:
        """The ties where ``mask`` is true."""
        return self._carry(Ties(self.n, self.src[mask], self.dst[mask], self.weight[mask]),
                           lambda f, v: v[mask])

    def to_networkx(self, attrs: dict[str, np.ndarray] | None = None) -> nx.Graph:
        """A networkx Graph with integer nodes 0..n-1, ``weight`` edges and node attributes."""
        g = nx.Graph()
        g.add_nodes_from(range(self.n))
        g.add_weighted_edges_from(
            zip(self.src.tolist(), self.dst.tolist(), self.weight.tolist(), strict=True)
        )
        for name, values in (attrs or {}).items():
            nx.set_node_attributes(g, dict(enumerate(np.asarray(values).tolist())), name)
        return g


def _inserter(m: int, at: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``insert(arr, values)`` = ``np.insert(arr, at, values)`` for arrays of length ``m`` and
    non-decreasing ``at``, the output positions computed once for all the arrays (as
    ``np.insert`` computes them: new element *q* at ``at[q] + q``, the old ones in order in
    the rest)."""
    pos = at + np.arange(at.size)
    old = np.ones(m + at.size, bool)
    old[pos] = False

    def insert(arr: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.empty(m + at.size, arr.dtype)
        out[pos] = values
        out[old] = arr
        return out

    return insert


def csr_structure(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR structure of the symmetric matrix of undirected ties ``src < dst`` with sorted keys.

    Returns ``(indptr, indices, tie)``: ``tie[p]`` is the tie stored at entry ``p``, so
    ``data[tie]`` lays per-tie data out in CSR order.  The entries ``(dst, src)`` then
    ``(src, dst)`` are placed by one stable counting sort on the row (scipy's COO to CSR
    conversion: count per row, prefix sum, scatter in input order), O(ties + n) instead of a
    comparison sort.  Within row *r* the entries with column ``src < r`` come first in
    ascending ``src`` (keys are sorted by ``src``), then those with ``dst > r`` in ascending
    ``dst``, so columns come out sorted (canonical format) without sorting them.  Identical to
    a stable ``argsort`` of the rows (the test suite checks it).
    """
    m = int(src.size)
    idx = np.int32 if max(n, 2 * m) < 2**31 - 1 else np.int64
    rows = np.empty(2 * m, idx)
    cols = np.empty(2 * m, idx)
    rows[:m], rows[m:] = dst, src
    cols[:m], cols[m:] = src, dst
    ties = np.arange(m, dtype=idx)
    indptr = np.empty(n + 1, idx)
    indices = np.empty(2 * m, idx)
    tie = np.empty(2 * m, idx)  # int32 when it fits: half the bytes of every gather through it
    _sparsetools.coo_tocsr(n, n, 2 * m, rows, cols, np.concatenate([ties, ties]),
                           indptr, indices, tie)
    return indptr, indices, tie


def pairs_within(labels: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All unordered pairs of ``members`` sharing a label (vectorised over pair offsets).

    Members are sorted by label; for each offset d = 1 .. (largest block − 1) the pairs
    (sorted[i], sorted[i + d]) with equal labels are kept.

    Examples
    --------
    >>> a, b = pairs_within(np.array([0, 0, 1, 0]), np.arange(4))
    >>> sorted(zip(a.tolist(), b.tolist()))
    [(0, 1), (0, 3), (1, 3)]
    """
    members = np.asarray(members)
    if members.size < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    lab = labels[members]
    order = np.argsort(lab, kind="stable")
    m, lab = members[order], lab[order]
    biggest = np.bincount(lab - lab.min()).max()
    a_parts, b_parts = [], []
    for d in range(1, biggest):
        same = lab[:-d] == lab[d:]
        a_parts.append(m[:-d][same])
        b_parts.append(m[d:][same])
    if not a_parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(a_parts).astype(np.int64), np.concatenate(b_parts).astype(np.int64)


def _random_partners(
    rng: np.random.Generator, who: np.ndarray, block_of: np.ndarray, pool: np.ndarray, lam: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each agent in ``who`` gets Poisson(lam) partners drawn uniformly from ``pool`` members of
    the same block (``block_of`` maps agents to blocks, e.g. area or group)."""
    if lam <= 0 or who.size == 0 or pool.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    pool = pool[np.argsort(block_of[pool], kind="stable")]
    pblock = block_of[pool]
    nb = int(max(block_of[who].max(), pblock.max())) + 1
    size = np.bincount(pblock, minlength=nb)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    counts = rng.poisson(lam, who.size)
    src = np.repeat(who, counts)
    blk = block_of[src]
    ok = size[blk] > 0
    src, blk = src[ok], blk[ok]
    pick = start[blk] + np.floor(rng.random(src.size) * size[blk]).astype(np.int64)
    return src.astype(np.int64), pool[pick].astype(np.int64)


def build_ties(pop: Population, rng: np.random.Generator) -> Ties:
    """Build the initial tie network of a population (rules in the module docstring)."""
    s = pop.scenario
    net = s.network
    w0 = net.initial_weight
    n = pop.n
    if not net.informal:  # the 'no informal network' ablation: meetings only
        return Ties(n, np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    role, group, area, practice, org, kind = (
        pop.role, pop.group, pop.area, pop.practice, pop.org, pop.kind
    )
    a_parts: list[np.ndarray] = []
    b_parts: list[np.ndarray] = []

    def add(a: np.ndarray, b: np.ndarray) -> None:
        a_parts.append(np.asarray(a, np.int64))
        b_parts.append(np.asarray(b, np.int64))

    # colleagues within a practice
    staff = np.flatnonzero((role == R_GP) | (role == R_PM))
    add(*pairs_within(practice, staff))
    ppg = np.flatnonzero(role == R_PPG)
    if ppg.size:
        pm_of_practice = np.full(pop.n_practices, -1, np.int64)
        pms = np.flatnonzero(role == R_PM)
        pm_of_practice[practice[pms]] = pms
        add(ppg, pm_of_practice[practice[ppg]])
        gps = np.flatnonzero(role == R_GP)
        add(*_random_partners(rng, ppg, practice, gps, 1.0)[:2])
    gps = np.flatnonzero(role == R_GP)
    # GP to GPs of other practices in the area / the group (same-practice picks are merged)
    add(*_random_partners(rng, gps, area, gps, net.gp_ties_in_locality))
    add(*_random_partners(rng, gps, group, gps, net.gp_ties_across_localities))
    # commissioning managers
    cms = np.flatnonzero(np.isin(role, (R_CM, R_OFFICER, R_NURSE)))
    add(*pairs_within(group, cms))
    front = np.flatnonzero((role == R_PM) | (role == R_GP))
    add(*_random_partners(rng, cms, group, front, net.manager_ties))
    # boards
    bcoo = pop.board.tocoo()
    ia, ib = pairs_within(bcoo.row, np.arange(bcoo.nnz))
    add(bcoo.col[ia], bcoo.col[ib])
    # locality leads
    if s.localities.enabled:
        leads = np.flatnonzero(pop.locality_lead)
        lead_of_area = np.full(pop.n_areas, -1, np.int64)
        lead_of_area[area[leads]] = leads
        # one GP per practice (the first listed) and every practice manager of the area
        first_gp = np.full(pop.n_practices, -1, np.int64)
        first_gp[practice[gps][::-1]] = gps[::-1]
        targets = np.concatenate([first_gp[first_gp >= 0], np.flatnonzero(role == R_PM)])
        la = lead_of_area[area[targets]]
        ok = la >= 0
        add(la[ok], targets[ok])
    # lay members to patient representatives
    lay = np.flatnonzero(role == R_LAY)
    add(*_random_partners(rng, lay, group, ppg, 2.0))
    # staff of one organisation
    for k in (PROVIDER, LOCAL_AUTHORITY):
        ks = np.flatnonzero(kind == k)
        add(*pairs_within(org, ks))
    _cross_sector(pop, rng, add)

    a = np.concatenate(a_parts) if a_parts else np.empty(0, np.int64)
    b = np.concatenate(b_parts) if b_parts else np.empty(0, np.int64)
    ok = (a >= 0) & (b >= 0)
    ties = Ties.from_pairs(n, a[ok], b[ok], np.full(int(ok.sum()), w0))
    if net.survey is not None:  # surveyed ties in place of generated ones (after all draws above)
        from .survey_match import apply_survey

        ties = apply_survey(pop, ties, rng)
    return ties


def _cross_sector(pop: Population, rng: np.random.Generator, add) -> None:
    """Ties between each group and the providers / local authorities serving it."""
    s = pop.scenario
    transactional = s.relationships.mode == "transactional"
    is_cm = np.isin(pop.role, (R_CM, R_OFFICER, R_NURSE))
    cms_by_group = members_by(np.where(is_cm, pop.group, -1), pop.n_groups)
    staff_of = {
        k: members_by(np.where(pop.kind == k, pop.org, -1), serves.shape[0])
        for k, serves in ((PROVIDER, pop.provider_serves), (LOCAL_AUTHORITY, pop.la_serves))
    }
    for g in range(pop.n_groups):
        members = pop.board.indices[pop.board.indptr[g] : pop.board.indptr[g + 1]]
        internal = members[pop.group[members] == g]
        cms = cms_by_group[g]
        officers = cms[pop.role[cms] == R_OFFICER]
        contact = officers[0] if officers.size else (internal[0] if internal.size else -1)
        orgs = []
        for k, serves in ((PROVIDER, pop.provider_serves), (LOCAL_AUTHORITY, pop.la_serves)):
            for o in np.flatnonzero(serves[:, g]):
                staff = staff_of[k][o]
                orgs.append(staff)
                if staff.size == 0 or contact < 0:
                    continue
                if transactional:
                    add([contact], [staff[0]])
                else:
                    for person in staff:
                        if internal.size:
                            add([person] * 2, rng.choice(internal, size=2))
                        if cms.size:
                            add([person], [rng.choice(cms)])
        if not transactional and len(orgs) > 1:
            # joint forum: one tie between the first staff member of each pair of organisations
            heads = np.asarray([o[0] for o in orgs if o.size])
            lab = np.zeros(heads.size, np.int64)
            idx = np.arange(heads.size)
            a, b = pairs_within(lab, idx)
            add(heads[a], heads[b])
