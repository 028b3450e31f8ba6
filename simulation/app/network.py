"""The network view: which agents and ties to draw, their colours, and the figure.

Nodes are coloured by stakeholder type, locality or belief accuracy, board members outlined,
ties drawn by strength; large scenarios draw a fixed sample of agents and only the strongest
ties, and say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..model import CommissioningModel
from ..scenario import STAKEHOLDER_TYPES
from .style import CHART_FONT_PT, FIGURE_DPI, TITLE_FONT_PT

__all__ = [
    "ACCURACY_RANGE", "COLOUR_MODES", "MAX_EDGES", "MAX_NODES", "TYPE_COLOURS", "TYPE_LABELS",
    "DrawSample", "Run", "belief_accuracy", "draw_network", "network_figure", "node_colours",
    "sample_nodes", "select_edges",
]

#: Drawing budget: above this many agents the network view draws a fixed sample.
MAX_NODES = 800
#: Drawing budget: at most this many ties (the strongest) are drawn.
MAX_EDGES = 2500

#: Colour choices of the network view.
COLOUR_MODES = ("stakeholder type", "locality", "belief accuracy")

#: Okabe–Ito colours (colour-blind safe), one per stakeholder type.
TYPE_COLOURS = {
    "gp": "#0072B2",
    "manager": "#E69F00",
    "provider": "#D55E00",
    "patient": "#009E73",
    "local_authority": "#CC79A7",
}
TYPE_LABELS = {
    "gp": "GP",
    "manager": "manager",
    "provider": "provider",
    "patient": "patient / lay member",
    "local_authority": "local authority",
}
#: Belief-accuracy colour range (fixed, so colours compare across steps and runs).
ACCURACY_RANGE = (0.7, 1.0)


@dataclass
class DrawSample:
    """Which agents the network view draws.

    Attributes
    ----------
    mask : ndarray of bool (N,)
        Agents drawn.
    total : int
        Number of agents in the model.
    """

    mask: np.ndarray
    total: int

    @property
    def drawn(self) -> int:
        """Number of agents drawn."""
        return int(self.mask.sum())

    @property
    def complete(self) -> bool:
        """Whether every agent is drawn."""
        return self.drawn == self.total


def sample_nodes(model: CommissioningModel, max_nodes: int = MAX_NODES, seed: int = 0) -> DrawSample:
    """A fixed sample of at most ``max_nodes`` agents to draw (all of them when few enough).

    Agents are taken tier by tier — board members and provider and local-authority staff,
    then locality leads and group-level staff, then everyone else — and a tier that does not
    fit whole is sampled uniformly with a generator seeded by ``seed``.  Agents keep their
    slots under turnover, so the sample holds for the whole run.
    """
    p = model.pop
    n = p.n
    if n <= max_nodes:
        return DrawSample(np.ones(n, bool), n)
    kind = np.asarray(p.kind)
    board = np.asarray(model.on_board)
    tier1 = board | (kind == 2) | (kind == 4)
    tier2 = ~tier1 & (np.asarray(p.locality_lead) | (np.asarray(p.practice) < 0))
    tier3 = ~tier1 & ~tier2
    rng = np.random.default_rng([int(seed), 0x5A_3B1E])
    mask = np.zeros(n, bool)
    budget = int(max_nodes)
    for tier in (tier1, tier2, tier3):
        idx = np.flatnonzero(tier)
        if budget <= 0:
            break
        if idx.size > budget:
            idx = rng.choice(idx, size=budget, replace=False)
        mask[idx] = True
        budget -= idx.size
    return DrawSample(mask, n)


def select_edges(src: np.ndarray, dst: np.ndarray, weight: np.ndarray, mask: np.ndarray,
                 max_edges: int = MAX_EDGES) -> tuple[np.ndarray, int]:
    """Indices of the ties to draw: among drawn agents, the ``max_edges`` strongest.

    Returns
    -------
    (indices, candidates)
        Tie indices sorted weakest first (so strong ties are drawn on top) and the number of
        ties among drawn agents before the cap.
    """
    cand = np.flatnonzero(mask[src] & mask[dst])
    total = int(cand.size)
    if cand.size > max_edges:
        top = np.argpartition(weight[cand], cand.size - max_edges)[cand.size - max_edges:]
        cand = cand[top]
    cand = cand[np.argsort(weight[cand], kind="stable")]
    return cand, total


def belief_accuracy(model: CommissioningModel) -> np.ndarray:
    """Each agent's belief accuracy ``1 − TV(belief, true need of its scope)`` in [0, 1]."""
    return 1.0 - 0.5 * np.abs(model.belief - model.truth).sum(axis=1)


def node_colours(model: CommissioningModel, mode: str) -> tuple[np.ndarray, list[tuple[str, Any]]]:
    """RGBA colours (N, 4) of the agents and legend entries for a colour mode.

    Parameters
    ----------
    model : CommissioningModel
    mode : str
        One of :data:`COLOUR_MODES`.

    Returns
    -------
    (colours, legend)
        ``legend`` lists (label, colour) pairs; empty for belief accuracy, which uses a
        colour bar over :data:`ACCURACY_RANGE`.
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_rgba

    p = model.pop
    n = p.n
    absent = ~np.asarray(getattr(model, "present", np.ones(n, bool)))
    legend: list[tuple[str, Any]] = []
    if mode == "stakeholder type":
        table = np.array([to_rgba(TYPE_COLOURS[t]) for t in STAKEHOLDER_TYPES])
        colours = table[np.asarray(p.kind, np.int64)]
        legend = [(TYPE_LABELS[t], TYPE_COLOURS[t]) for t in STAKEHOLDER_TYPES
                  if (np.asarray(p.kind) == STAKEHOLDER_TYPES.index(t)).any()]
    elif mode == "locality":
        palette = np.array(colormaps["tab20"].colors)
        # distinct hues first (even entries of tab20), then their lighter partners
        order = np.r_[np.arange(0, 20, 2), np.arange(1, 20, 2)]
        area_colour = np.c_[palette[order[np.arange(p.n_areas) % 20]], np.ones(p.n_areas)]
        area = np.asarray(p.area, np.int64)
        colours = np.tile(to_rgba("#9a9a9a"), (n, 1))
        has = area >= 0
        colours[has] = area_colour[area[has]]
        names = [g.name for g in model.spec.groups]
        for a in range(min(p.n_areas, 8)):
            g = int(p.area_group[a])
            first = int(np.flatnonzero(p.area_group == g)[0])
            legend.append((f"{names[g]} locality {a - first + 1}", tuple(area_colour[a])))
        if p.n_areas > 8:
            legend.append((f"… {p.n_areas - 8} more localities", "#ffffff"))
        legend.append(("no locality (group, provider, council)", "#9a9a9a"))
    elif mode == "belief accuracy":
        cmap = colormaps["viridis"]
        lo, hi = ACCURACY_RANGE
        colours = cmap(np.clip((belief_accuracy(model) - lo) / (hi - lo), 0, 1))
    else:
        raise ValueError(f"unknown colour mode {mode!r}; choose one of {', '.join(COLOUR_MODES)}")
    colours = np.array(colours, float)
    colours[absent] = to_rgba("#dddddd")
    return colours, legend


@dataclass
class Run:
    """One model of the app with its fixed layout and drawing sample."""

    label: str
    model: CommissioningModel
    layout: np.ndarray
    sample: DrawSample
    overrides: list[str] = field(default_factory=list)
    #: The settings that differ from the file, in plain words (``GP engagement 0.3``).
    changes: list[str] = field(default_factory=list)


def draw_network(ax: Any, run: Run, mode: str, max_edges: int = MAX_EDGES,
                 legend: bool = True) -> str:
    """Draw one run's network on a matplotlib axes; returns a note on what was left out.

    Ties are drawn by strength (width and opacity grow with the weight), strongest on top;
    board members are squares with a black outline, locality leads triangles.
    """
    m = run.model
    t = m.ties
    pos = run.layout
    mask = run.sample.mask
    idx, candidates = select_edges(t.src, t.dst, t.weight, mask, max_edges)
    if idx.size:
        w = np.clip(t.weight[idx], 0, 1)
        segs = np.stack([pos[t.src[idx]], pos[t.dst[idx]]], axis=1)
        rgba = np.zeros((idx.size, 4))
        rgba[:, :3] = 0.35
        rgba[:, 3] = 0.08 + 0.55 * w
        ax.add_collection(LineCollection(segs, linewidths=0.2 + 2.2 * w, colors=rgba,
                                         zorder=1))
    colours, entries = node_colours(m, mode)
    drawn = run.sample.drawn
    size = float(np.clip(5000.0 / max(drawn, 1), 7, 60))
    board = np.asarray(m.on_board) & mask
    lead = np.asarray(m.pop.locality_lead) & mask & ~board
    plain = mask & ~board & ~lead
    ax.scatter(pos[plain, 0], pos[plain, 1], s=size, c=colours[plain], linewidths=0, zorder=2)
    ax.scatter(pos[lead, 0], pos[lead, 1], s=size * 2.2, c=colours[lead], marker="^",
               edgecolors="black", linewidths=0.8, zorder=3)
    ax.scatter(pos[board, 0], pos[board, 1], s=size * 2.2, c=colours[board], marker="s",
               edgecolors="black", linewidths=1.2, zorder=4)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    if len(pos):
        lo, hi = pos[mask].min(axis=0), pos[mask].max(axis=0)
        pad = 0.06 * max(hi[0] - lo[0], hi[1] - lo[1], 1e-6)
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(lo[1] - pad, hi[1] + pad)
    handles = [Line2D([], [], marker="o", ls="", color=c, label=lbl, markersize=6)
               for lbl, c in entries]
    handles += [Line2D([], [], marker="s", ls="", mfc="white", mec="black", label="board member",
                       markersize=6),
                Line2D([], [], marker="^", ls="", mfc="white", mec="black", label="locality lead",
                       markersize=6)]
    if legend:  # outside the axes, on the right; constrained layout makes room for it
        ax.figure.legend(handles=handles, loc="outside right upper", fontsize=CHART_FONT_PT,
                         frameon=False, handletextpad=0.3)
    notes = []
    if not run.sample.complete:
        notes.append(f"showing a fixed sample of {drawn:,} of {run.sample.total:,} agents (board "
                     "members, providers and councils first, then leads and group staff)")
    if candidates > idx.size:
        notes.append(f"the {idx.size:,} strongest of {candidates:,} ties among them")
    return "; ".join(notes)


def network_figure(runs: Sequence[Run], mode: str = COLOUR_MODES[0],
                   max_edges: int = MAX_EDGES, width: float | None = None
                   ) -> tuple[Figure, list[str]]:
    """The network view: one panel per run, side by side, the legend on the right.

    ``width`` (inches) fixes the figure's width — the app sizes it to where it is shown so
    that the legend's text reads at ≥ 11 px; the panels are square.

    Returns
    -------
    (Figure, notes)
        ``notes`` say what was left out in large scenarios (one per run, empty if nothing).
    """
    k = max(len(runs), 1)
    width = float(width) if width else 4.6 * k + 2.0
    side = max((width - 2.0) / k, 1.5)
    fig = Figure(figsize=(width, side + 0.4), dpi=FIGURE_DPI, layout="constrained")
    axes = fig.subplots(1, k, squeeze=False)[0]
    notes = []
    for i, (ax, run) in enumerate(zip(axes, runs, strict=False)):
        note = draw_network(ax, run, mode, max_edges, legend=(i == k - 1))
        title = f"{run.label} — month {run.model.steps}" if run.label else f"month {run.model.steps}"
        ax.set_title(title, fontsize=TITLE_FONT_PT)
        notes.append(note)
    if mode == "belief accuracy" and runs:
        from matplotlib import colormaps
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        sm = ScalarMappable(norm=Normalize(*ACCURACY_RANGE), cmap=colormaps["viridis"])
        bar = fig.colorbar(sm, ax=list(axes), shrink=0.6)
        bar.set_label("belief accuracy (1 = matches true need)", fontsize=CHART_FONT_PT)
        bar.ax.tick_params(labelsize=CHART_FONT_PT)
    return fig, notes
