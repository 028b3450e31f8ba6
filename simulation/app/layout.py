"""A fixed, seeded network layout for the app (no spring layout, no global random state).

Groups on a circle, localities as sub-clusters, practices inside them, providers and councils
outside — computed once per run from the scenario seed with its own generator, so nodes never
jump between steps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["compute_layout"]

_GOLDEN = math.pi * (3.0 - math.sqrt(5.0))


def _disk_offsets(labels: np.ndarray, n_labels: int, rng: np.random.Generator) -> np.ndarray:
    """Sunflower (phyllotaxis) offsets in the unit disk for the items sharing each label.

    Item *r* of *n* in its label sits at radius ``sqrt((r + 0.5) / n)`` and angle
    ``r × golden angle + θ_label`` (θ a random rotation per label): evenly spread, no overlap.
    """
    labels = np.asarray(labels, np.int64)
    out = np.zeros((labels.size, 2))
    if labels.size == 0:
        return out
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=n_labels)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(labels.size, np.int64)
    rank[order] = np.arange(labels.size) - starts[labels[order]]
    rot = rng.uniform(0, 2 * math.pi, n_labels)
    r = np.sqrt((rank + 0.5) / counts[labels])
    theta = rank * _GOLDEN + rot[labels]
    out[:, 0] = r * np.cos(theta)
    out[:, 1] = r * np.sin(theta)
    return out


def _ring(n: int, radius: float, start: float = math.pi / 2) -> np.ndarray:
    a = start - 2 * math.pi * np.arange(n) / max(n, 1)
    return radius * np.c_[np.cos(a), np.sin(a)]


def compute_layout(pop: Any, seed: int) -> np.ndarray:
    """Fixed positions (N, 2) of every agent slot, from the population's structure.

    Commissioning groups sit on a circle of radius 1 (one group: at the centre), each group's
    areas (localities) on a ring inside it with their practices as sunflower clusters, the
    practice's GPs, manager and patient representatives around the practice; group-level
    staff (commissioning managers, officers, nurses, lay members) form a hub at the group's
    centre; provider and local-authority staff sit in clusters outside the groups, toward
    the groups their organisation serves (in the middle when it serves them all).  Only a
    generator seeded from ``seed`` adds rotations and a little jitter, so the same scenario and
    seed always give the same picture; slots keep their place under turnover.

    Parameters
    ----------
    pop : simulation.population.Population
    seed : int

    Returns
    -------
    ndarray (N, 2)
    """
    rng = np.random.default_rng([int(seed), 0x1A_7017])
    n = pop.n
    g_count = pop.n_groups
    pos = np.zeros((n, 2))
    many = g_count > 12
    if g_count == 1:
        centres = np.zeros((1, 2))
        rg = 1.0
    elif many:  # a disk of groups (England: 211), not a ring
        i = np.arange(g_count)
        r = np.sqrt((i + 0.5) / g_count)
        centres = np.c_[r * np.cos(i * _GOLDEN), r * np.sin(i * _GOLDEN)]
        rg = 0.85 / math.sqrt(g_count)
    else:
        centres = _ring(g_count, 1.0)
        rg = min(1.0, 0.85 * math.sin(math.pi / g_count))

    # areas (localities) of each group on a ring around the group's hub
    n_areas = pop.n_areas
    area_centre = np.zeros((n_areas, 2))
    area_radius = np.zeros(n_areas)
    hub_centre = centres.copy()
    for g in range(g_count):
        areas = np.flatnonzero(pop.area_group == g)
        k = areas.size
        if k == 0:
            continue
        if k == 1:
            area_centre[areas] = centres[g] + [0.0, -0.3 * rg]
            area_radius[areas] = 0.55 * rg
            hub_centre[g] = centres[g] + [0.0, 0.62 * rg]
        else:
            ring_r = 0.58 * rg
            start = rng.uniform(0, 2 * math.pi)
            area_centre[areas] = centres[g] + _ring(k, ring_r, start)
            area_radius[areas] = min(0.42 * rg, 0.92 * ring_r * math.sin(math.pi / k))

    # practices inside their area
    n_prac = pop.n_practices
    p_area = np.asarray(pop.practice_area, np.int64)
    p_off = _disk_offsets(p_area, n_areas, rng)
    p_per_area = np.bincount(p_area, minlength=n_areas)
    practice_pos = area_centre[p_area] + 0.8 * area_radius[p_area, None] * p_off
    practice_radius = 0.55 * 0.8 * area_radius[p_area] / np.sqrt(np.maximum(p_per_area[p_area], 1))

    practice = np.asarray(pop.practice, np.int64)
    group = np.asarray(pop.group, np.int64)
    at_p = practice >= 0
    if at_p.any():
        off = _disk_offsets(practice[at_p], n_prac, rng)
        pos[at_p] = practice_pos[practice[at_p]] + practice_radius[practice[at_p], None] * off

    hub = (~at_p) & (group >= 0)
    if hub.any():
        off = _disk_offsets(group[hub], g_count, rng)
        pos[hub] = hub_centre[group[hub]] + 0.22 * rg * off

    # provider and local-authority organisations
    kind = np.asarray(pop.kind)
    org = np.asarray(pop.org, np.int64)
    n_prov = pop.provider_serves.shape[0]
    serves = np.concatenate([pop.provider_serves, pop.la_serves]).astype(float)
    n_orgs = serves.shape[0]
    if n_orgs:
        org_id = np.where(kind == 4, org + n_prov, org)  # local authorities after providers
        staff = (org >= 0) & ((kind == 2) | (kind == 4))
        org_pos = np.zeros((n_orgs, 2))
        if g_count == 1:
            org_pos = _ring(n_orgs, 1.3, start=math.pi / 4)  # diagonals keep the picture square
        elif many:  # among the groups they serve
            cnt = np.maximum(serves.sum(axis=1, keepdims=True), 1)
            org_pos = serves @ centres / cnt + rng.normal(0.0, 0.5 * rg, (n_orgs, 2))
        else:
            cnt = np.maximum(serves.sum(axis=1, keepdims=True), 1)
            cen = serves @ centres / cnt
            central = np.linalg.norm(cen, axis=1) < 0.2
            inner = 0.55 * (1.0 - rg)
            org_pos[central] = _ring(int(central.sum()), inner * 0.6 if central.sum() > 1 else 0)
            angle = np.arctan2(cen[:, 1], cen[:, 0])
            outer = ~central
            radius = np.full(n_orgs, 1.0 + rg + 0.22)
            # organisations pointing the same way are stacked outward
            keys = np.round(angle / (2 * math.pi / (4 * g_count))).astype(int)
            for key in np.unique(keys[outer]):
                same = np.flatnonzero(outer & (keys == key))
                radius[same] += 0.22 * np.arange(same.size)
            org_pos[outer] = np.c_[np.cos(angle[outer]), np.sin(angle[outer])] * radius[outer, None]
        off = _disk_offsets(org_id[staff], n_orgs, rng)
        pos[staff] = org_pos[org_id[staff]] + 0.09 * off

    # a little jitter so agents of one cluster do not sit on a perfect spiral
    pos += rng.normal(0.0, 0.004, pos.shape)
    return pos
