"""The brief's patterns and the ablations, as paired comparisons with verdicts that have power.

One registry (:data:`PATTERNS`) feeds ``commnet patterns``, its ``patterns.csv`` and figure,
and ``tests/test_patterns.py``.  Each pattern compares a *treatment* arm with a *control* arm
(scenario file plus ``--set`` overrides) run with the same replicate seeds (common random
numbers: replicate *i* of every arm has the same seed, so arms differ only by what they
change), or, for pattern 5, two metrics within one arm.  Every check is a metric reduced over
a window of months (:class:`Window`) on the ``overall`` row; the difference treatment −
control (or metric − versus) is averaged over the pairs with its paired 95% t-interval.

Replicates are pooled over several *root seeds* (``roots``): each root spawns its own
replicate seeds (:func:`simulation.results.replicate_seeds`) and the pairs of all roots form
one sample, so a verdict does not rest on one root's draws.

Each judged check gets one of four verdicts (:func:`verdict`):

* **holds** — the 95% interval lies entirely on the expected side of 0;
* **reversed** — it lies entirely on the other side;
* **no effect** — equivalence by two one-sided tests (TOST, Schuirmann 1987) at 5%: the 90%
  interval lies inside ± the metric's practical margin (:data:`simulation.reporters.MARGINS`,
  stated policy judgements); metrics without a margin never get this verdict;
* **inconclusive** — none of these.

Beside each row: the minimum detectable effect of the paired design at its n, 80% power and
two-sided α = 0.05, ``MDE = (t_{0.975, n−1} + t_{0.80, n−1}) · sd / √n`` (:func:`mde`).  An
inconclusive row whose MDE exceeds its margin needs more pairs, not a different model.

With ``replicates="auto"`` (:func:`run_until_decided`) pairs are added in batches (fresh
seeds spawned deterministically from each root: the first n seeds of a root never change)
until every judged row is decided or a cap is reached.  Looking repeatedly inflates the error
rates of the final tests somewhat (no alpha spending); a decided verdict can be confirmed at
fixed n with other roots.  Checks with no expected direction are reported, not judged.

``--robustness K`` draws a Latin hypercube (scipy.stats.qmc, seeded) of K points over the
parameters the provenance registry marks uncertain (each within its documented plausible
range) and reports, per check, the share of points where it holds with the same rule at
that point's replicates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..loader import load_scenario
from ..model import BurnInCache, CommissioningModel
from ..results import replicate_seeds
from ..scenario import Scenario
from .compare import mean_ci

__all__ = [
    "PATTERNS",
    "VERDICTS",
    "Arm",
    "Check",
    "Pattern",
    "Window",
    "mde",
    "pattern_table",
    "patterns_command",
    "robustness_points",
    "robustness_table",
    "root_seeds",
    "run_patterns",
    "run_until_decided",
    "verdict",
]

BASE = "east_of_england_2013.yaml"
SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"


@dataclass(frozen=True)
class Window:
    """Months a check averages over: ``last`` n months, months ``start``..``stop`` inclusive,
    or every month after ``start`` (``stop`` None)."""

    start: int | None = None
    stop: int | None = None
    last: int | None = None

    def label(self) -> str:
        """Short text for tables."""
        if self.last == 1:
            return "final month"
        if self.last is not None:
            return f"last {self.last} months"
        if self.stop is None:
            return f"months > {self.start}"
        return f"months {self.start}-{self.stop}"

    def select(self, months: np.ndarray, horizon: int) -> np.ndarray:
        """Mask of the months (0..horizon) in the window."""
        if self.last is not None:
            return months > horizon - self.last
        lo = self.start if self.stop is not None else self.start + 1
        hi = self.stop if self.stop is not None else horizon
        return (months >= lo) & (months <= hi)


LAST12 = Window(last=12)
FINAL = Window(last=1)


@dataclass(frozen=True)
class Arm:
    """A scenario file (in ``scenarios/``) with ``--set`` overrides."""

    scenario: str = BASE
    overrides: tuple[str, ...] = ()

    def label(self) -> str:
        """Short text for tables."""
        name = Path(self.scenario).stem
        return f"{name} [{'; '.join(self.overrides)}]" if self.overrides else name


@dataclass(frozen=True)
class Check:
    """One judged (or reported) difference.

    ``direction`` +1: the pattern expects treatment > control (or metric > versus); -1: less;
    None: reported only.
    """

    metric: str
    direction: int | None
    window: Window = LAST12
    versus: str | None = None


@dataclass(frozen=True)
class Pattern:
    """A pattern of the brief or an ablation: control vs treatment, and its checks."""

    key: str
    title: str
    control: Arm
    treatment: Arm
    checks: tuple[Check, ...]
    kind: str = "pattern"  # or "ablation"
    notes: str = ""


SHOCK_12 = ("events=[{type: need_shock, step: 12, service: mental_health, factor: 2.0, "
            "locality_fraction: 0.25}]")
LOSS_12 = "{type: engagement_shift, step: 12, stakeholder: gp, delta: -0.4}"
SHARING = ("exchange.rate=0.8", "exchange.objective_rate=0.5", "network.gp_ties_in_locality=8")
SKILL = Check("relevance_skill", None)
AFTER12 = Window(start=12)

PATTERNS: tuple[Pattern, ...] = (
    Pattern("1", "lower GP engagement -> lower decision relevance, higher board uncertainty",
            Arm(), Arm("low_gp_engagement.yaml"),
            (Check("relevance_skill", -1), Check("misallocated_per_head", +1),
             Check("accuracy_board", -1), Check("board_uncertainty", +1))),
    Pattern("2", "locality sub-groups -> higher decision relevance",
            Arm("no_localities.yaml"), Arm(),
            (Check("relevance_skill", +1), Check("misallocated_per_head", -1))),
    Pattern("2-knowledge", "localities without a devolved budget (knowledge only) -> higher "
            "decision relevance",
            Arm("no_localities.yaml"), Arm(overrides=("localities.budget_share=0",)),
            (Check("relevance_skill", +1), Check("misallocated_per_head", -1)),
            notes="neutralises the devolved budget: the only difference is the meetings"),
    Pattern("2-shock", "locality sub-groups -> faster detection and funding of a local need shock",
            Arm(overrides=(SHOCK_12, "localities.enabled=false")), Arm(overrides=(SHOCK_12,)),
            (Check("shock_detection_time", -1, FINAL), Check("shock_funded_6m", +1, FINAL),
             Check("shock_funded_12m", +1, FINAL), SKILL),
            notes="mental-health need doubles in a quarter of each group's localities at "
                  "month 12; detection = months until the board view moves half-way "
                  "(undetected groups are left out of the mean)"),
    Pattern("3", "networked relationships -> higher external coherence than transactional",
            Arm("transactional.yaml"), Arm(),
            (Check("coherence_external", +1), SKILL),
            notes="equal influence per unit of trust in both modes: only who is tied differs"),
    Pattern("4", "more knowledge sharing among GPs -> higher stability and coherence",
            Arm(), Arm(overrides=SHARING),
            (Check("tie_persistence", +1), Check("coherence_internal", +1),
             Check("leader_dependence", -1), SKILL)),
    Pattern("5", "GPs with a formal role see decisions reflect their views more often",
            Arm(), Arm(),
            (Check("reflected_formal", +1, Window(start=24, stop=30), versus="reflected_other"),
             Check("reflection_formal", +1, Window(start=24, stop=30), versus="reflection_other")),
            notes="read at the 2015 survey's time point (months 24-30); survey levels 0.72 "
                  "(formal role) and 0.14 (no formal role); the threshold "
                  "decisions.reflect_threshold is assumed, to be fitted (issue 9)"),
    Pattern("6", "sharp engagement loss -> turnover -> knowledge loss -> slower recovery",
            Arm(overrides=(f"events=[{LOSS_12}, {{type: turnover_feedback, step: 12, "
                           "engagement_sensitivity: 0}]",)),
            Arm(overrides=(f"events=[{LOSS_12}]",)),
            (Check("turnover", +1, AFTER12), Check("retention", -1, AFTER12),
             Check("accuracy_all", -1, AFTER12), Check("relevance_skill", -1, AFTER12),
             Check("engagement_gp", -1, Window(start=36, stop=36))),
            notes="both arms lose 0.4 of GP engagement at month 12 and are identical before; "
                  "the control cuts the disengagement -> leaving feedback from month 12"),
    Pattern("A1", "no informal ties (formal meetings kept) -> worse decisions",
            Arm(), Arm("no_informal_ties.yaml"),
            (Check("relevance_skill", -1), Check("misallocated_per_head", +1),
             Check("accuracy_board", -1)), kind="ablation"),
    Pattern("A2", "no informal ties and no localities -> worse decisions",
            Arm(), Arm("no_informal_ties.yaml", ("localities.enabled=false",)),
            (Check("relevance_skill", -1), Check("misallocated_per_head", +1),
             Check("accuracy_board", -1)), kind="ablation"),
    Pattern("A1-no-localities", "no informal ties, where there are no localities -> worse "
            "decisions", Arm("no_localities.yaml"),
            Arm("no_informal_ties.yaml", ("localities.enabled=false",)),
            (Check("relevance_skill", -1), Check("misallocated_per_head", +1),
             Check("accuracy_board", -1)), kind="ablation",
            notes="the informal network's value when no locality meetings carry front-line "
                  "knowledge to the board"),
    Pattern("A3", "locality leads and top brokers replaced by unconnected newcomers (month 1)",
            Arm(), Arm(overrides=("events=[{type: broker_loss, step: 1, top_betweenness: 3}]",)),
            (Check("relevance_skill", -1), Check("misallocated_per_head", +1),
             Check("accuracy_board", -1)), kind="ablation"),
    Pattern("A4", "degree- and group-preserving rewiring of the network (month 1)",
            Arm(), Arm(overrides=("events=[{type: rewire, step: 1, preserve: group}]",)),
            (Check("relevance_skill", -1), Check("misallocated_per_head", +1),
             Check("accuracy_board", -1)), kind="ablation",
            notes="ties inside each group rematched within it (degrees and group membership "
                  "kept; cross-group and provider/local-authority ties kept): tests the "
                  "structure within groups, not tie count or mixing between groups"),
    Pattern("A4-locality", "degree-, group- and locality-preserving rewiring (month 1)",
            Arm(), Arm(overrides=("events=[{type: rewire, step: 1, preserve: locality}]",)),
            (Check("relevance_skill", -1), Check("misallocated_per_head", +1),
             Check("accuracy_board", -1)), kind="ablation",
            notes="ties inside a locality rematched within it, the other within-group ties "
                  "within the group: tests structure beyond locality membership"),
    Pattern("contamination", "whole-model rewiring: ties mixed across groups (month 1)",
            Arm(), Arm(overrides=("events=[{type: rewire, step: 1, preserve: none}]",)),
            (Check("relevance_skill", -1), Check("misallocated_per_head", +1),
             Check("accuracy_board", -1)), kind="ablation",
            notes="the old A4: stubs matched across the whole model, so most ties join "
                  "members of different groups, whose beliefs describe another population"),
)


# ------------------------------------------------------------------ running

def _needed(patterns: Sequence[Pattern]) -> dict[Arm, set[tuple[str, Window]]]:
    """Arm -> the (metric, window) reductions its checks need."""
    need: dict[Arm, set[tuple[str, Window]]] = {}
    for p in patterns:
        for c in p.checks:
            for arm in {p.control, p.treatment}:
                need.setdefault(arm, set()).add((c.metric, c.window))
                if c.versus:
                    need[arm].add((c.versus, c.window))
    return need


def _reduce(series: dict[str, list[float]], horizon: int,
            wanted: Iterable[tuple[str, Window]]) -> dict[tuple[str, Window], float]:
    months = np.arange(horizon + 1)
    out = {}
    for metric, window in wanted:
        x = np.asarray(series[metric], float)[window.select(months, horizon)]
        x = x[np.isfinite(x)]
        out[(metric, window)] = float(x.mean()) if x.size else math.nan
    return out


def run_arm(scenario: Scenario, seed: int, wanted: frozenset[tuple[str, Window]],
            burn_in_cache: BurnInCache | None = None) -> dict[tuple[str, Window], float]:
    """Run one replicate of an arm and reduce the overall row of its metrics."""
    months = np.arange(scenario.steps + 1)
    read: dict[str, set[int]] = {}
    for m, window in wanted:  # each metric computed at the months its windows read only
        read.setdefault(m, set()).update(months[window.select(months, scenario.steps)].tolist())
    model = CommissioningModel(scenario, seed=seed, metrics=read, burn_in_cache=burn_in_cache)
    for _ in range(scenario.steps):
        model.step()
    data = model.datacollector.model_vars
    series = {m: [float(v[-1]) for v in data[m]] for m, _ in wanted}
    return _reduce(series, scenario.steps, wanted)


@dataclass
class PatternRun:
    """Per (arm, replicate) reductions of one set of runs, the seed of each replicate and the
    root seeds they were spawned from.  Arms are paired by seed (common random numbers)."""

    values: dict[Arm, list[dict[tuple[str, Window], float]]] = field(default_factory=dict)
    seeds: dict[Arm, list[int]] = field(default_factory=dict)
    roots: tuple[int, ...] = ()

    def extend(self, other: PatternRun) -> None:
        """Add another run's replicates (e.g. a further batch with fresh seeds)."""
        for arm, vals in other.values.items():
            self.values.setdefault(arm, []).extend(vals)
            self.seeds.setdefault(arm, []).extend(other.seeds.get(arm, []))
        self.roots = tuple(dict.fromkeys([*self.roots, *other.roots]))


#: How ``--roots K`` spawns K − 1 further roots from ``--seed`` (a tag, so these roots are not
#: the replicate seeds of the same root).
ROOTS_TAG = 0x726F6F74


def root_seeds(seed: int, k: int) -> list[int]:
    """``k`` root seeds: ``seed`` itself, then ``k − 1`` 32-bit roots drawn from
    ``numpy.random.SeedSequence([ROOTS_TAG, seed])`` (deterministic, distinct from ``seed``'s
    replicate seeds)."""
    if k < 1:
        raise ValueError(f"need at least one root, got {k}")
    more = np.random.SeedSequence([ROOTS_TAG, seed]).generate_state(k - 1, np.uint32)
    return [int(seed), *(int(x) for x in more)]


def pooled_seeds(roots: Sequence[int], replicates: int, start: int = 0) -> list[int]:
    """Replicate seeds ``start .. start + replicates − 1`` of each root, root by root.  A
    root's first n seeds never change as more are drawn (SeedSequence spawning)."""
    return [s for r in roots for s in replicate_seeds(r, start + replicates)[start:]]


def _scenario(arm: Arm, extra: Sequence[str], directory: Path) -> Scenario:
    return load_scenario(directory / arm.scenario, [*arm.overrides, *extra])


def run_seed(arms: Sequence[tuple[Any, Scenario, frozenset]], seed: int
             ) -> list[tuple[Any, dict]]:
    """Run several arms with one replicate seed, sharing the burn-in between the arms whose
    scenarios differ only from month 0 on (:class:`simulation.model.BurnInCache`: bitwise
    the results of separate runs)."""
    cache = BurnInCache(max_items=max(1, len(arms)))
    return [(key, run_arm(sc, seed, wanted, cache)) for key, sc, wanted in arms]


def _execute(jobs: list[tuple[Any, Scenario, int, frozenset]], workers: int,
             progress: Callable[[], None] | None) -> list[tuple[Any, dict]]:
    """Run the jobs ``(key, scenario, seed, wanted)``, one task per seed (all its arms, one
    burn-in per distinct burn-in scenario); ``progress()`` after each arm."""
    from .executors import open_executor

    by_seed: dict[int, list[tuple[Any, Scenario, frozenset]]] = {}
    for key, sc, seed, wanted in jobs:
        by_seed.setdefault(seed, []).append((key, sc, wanted))
    out: list[tuple[Any, dict]] = []

    def collect(done: list[tuple[Any, dict]]) -> None:
        out.extend(done)
        for _ in done:
            if progress:
                progress()

    if workers <= 1:
        for seed, arms in by_seed.items():
            collect(run_seed(arms, seed))
        return out
    with open_executor("local", workers) as handle:
        futures = [handle.executor.submit(run_seed, arms, seed) for seed, arms in by_seed.items()]
        for fut in futures:
            collect(fut.result())
        return out


def run_patterns(
    patterns: Sequence[Pattern] = PATTERNS,
    *,
    replicates: int = 30,
    seed: int = 2013,
    roots: Sequence[int] | None = None,
    start: int = 0,
    extra: Sequence[str] = (),
    points: Sequence[Sequence[str]] = ((),),
    workers: int = 1,
    directory: Path = SCENARIO_DIR,
    progress: Callable[[], None] | None = None,
) -> list[PatternRun]:
    """Run every arm the patterns need, ``replicates`` times per root seed (``roots``, default
    ``[seed]``; replicates ``start ..`` of each root's seeds) with common seeds, once per
    point of ``points`` (each a list of ``--set`` overrides applied to every arm after
    ``extra``; overrides of a parameter that some arm changes — the patterns' contrasts — are
    dropped, so every arm pair keeps its designed difference).  Returns one
    :class:`PatternRun` per point."""
    need = _needed(patterns)
    roots = tuple(roots) if roots else (seed,)
    seeds = pooled_seeds(roots, replicates, start)
    base = _flat(_scenario(Arm(), extra, directory).model_dump(mode="json"))
    changed = {arm: _changed(base, _flat(_scenario(arm, extra, directory).model_dump(mode="json")))
               for arm in need}
    # a point never overrides what any arm changes: every contrast stays as designed
    fixed = set().union(*changed.values())
    jobs = []
    for pi, point in enumerate(points):
        kept = [o for o in point if not _touches(o.split("=", 1)[0], fixed)]
        for arm, wanted in need.items():
            sc = _scenario(arm, [*extra, *kept], directory)
            jobs.extend(((pi, arm, r), sc, s, frozenset(wanted)) for r, s in enumerate(seeds))
    results = [PatternRun({arm: [None] * len(seeds) for arm in need},
                          {arm: list(seeds) for arm in need}, roots) for _ in points]
    for (pi, arm, r), values in _execute(jobs, workers, progress):
        results[pi].values[arm][r] = values
    return results


def run_until_decided(
    patterns: Sequence[Pattern] = PATTERNS,
    *,
    roots: Sequence[int] = (2013,),
    first: int = 10,
    batch: int = 10,
    cap: int = 300,
    extra: Sequence[str] = (),
    workers: int = 1,
    directory: Path = SCENARIO_DIR,
    progress: Callable[[int], None] | None = None,
) -> PatternRun:
    """``--replicates auto``: ``first`` pairs per root, then ``batch`` more per root (the next
    seeds of each root) for the patterns with an inconclusive judged row, until none is left
    or a row would exceed ``cap`` pairs (pooled over the roots).  ``progress(n_jobs)`` is
    called before each batch with its number of runs, and with 0 after each run."""
    roots = tuple(roots)
    per_root = max(1, min(first, cap // len(roots)))
    tick = (lambda: progress(0)) if progress else None
    if progress:
        progress(len(_needed(patterns)) * per_root * len(roots))
    run = run_patterns(patterns, replicates=per_root, roots=roots, extra=extra, workers=workers,
                       directory=directory, progress=tick)[0]
    while True:
        table = pattern_table(run, patterns)
        open_keys = set(table.pattern[table.verdict == "inconclusive"])
        add = min(batch, cap // len(roots) - per_root)
        if not open_keys or add <= 0:
            return run
        chosen = [p for p in patterns if p.key in open_keys]
        if progress:
            progress(len(_needed(chosen)) * add * len(roots))
        run.extend(run_patterns(chosen, replicates=add, start=per_root, roots=roots,
                                extra=extra, workers=workers, directory=directory,
                                progress=tick)[0])
        per_root += add


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def _changed(base: dict[str, Any], arm: dict[str, Any]) -> set[str]:
    """Dotted paths whose value differs between the base scenario and an arm."""
    return {k for k in base.keys() | arm.keys() if base.get(k) != arm.get(k)} - {"name",
                                                                               "description"}


def _touches(path: str, changed: set[str]) -> bool:
    return any(c == path or c.startswith(path + ".") or path.startswith(c + ".") for c in changed)


def _pairs(run: PatternRun, p: Pattern) -> tuple[list[dict], list[dict]]:
    """The (treatment, control) reductions of the seeds both arms ran, in the treatment's
    order (arms are paired by seed)."""
    treat, ctrl = run.values[p.treatment], run.values[p.control]
    ts, cs = run.seeds.get(p.treatment), run.seeds.get(p.control)
    if ts is None or cs is None:
        return list(treat), list(ctrl)
    where = {s: i for i, s in enumerate(cs)}
    both = [(i, where[s]) for i, s in enumerate(ts) if s in where]
    return [treat[i] for i, _ in both], [ctrl[j] for _, j in both]


def _differences(run: PatternRun, p: Pattern, c: Check) -> np.ndarray:
    treat, ctrl = _pairs(run, p)
    if c.versus:
        return np.array([v[(c.metric, c.window)] - v[(c.versus, c.window)]
                         for v in run.values[p.treatment]])
    return np.array([t[(c.metric, c.window)] - k[(c.metric, c.window)]
                     for t, k in zip(treat, ctrl, strict=True)])


VERDICTS = ("holds", "reversed", "no effect", "inconclusive")
ALPHA = 0.05
POWER = 0.80


def mde(sd: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """Minimum detectable effect of a paired design with ``n`` pairs whose differences have
    standard deviation ``sd``: ``(t_{1−α/2, n−1} + t_{power, n−1}) · sd / √n`` (two-sided test
    at level α; NaN below two pairs).

    Examples
    --------
    >>> round(mde(1.0, 30), 3)
    0.532
    """
    from scipy import stats

    if n < 2 or not math.isfinite(sd):
        return math.nan
    return float((stats.t.ppf(1 - alpha / 2, n - 1) + stats.t.ppf(power, n - 1))
                 * sd / math.sqrt(n))


def verdict(d: Sequence[float] | np.ndarray, direction: int | None, margin: float = math.nan,
            alpha: float = ALPHA) -> dict[str, Any]:
    """Judge paired differences ``d`` (NaN ignored) against an expected ``direction``.

    Returns the mean ``difference``, ``sd``, the (1 − α) interval ``ci_low``/``ci_high``, the
    (1 − 2α) TOST interval ``tost_low``/``tost_high``, ``n``, ``mde``, ``margin``,
    ``within_margin`` (TOST equivalence: the (1 − 2α) interval inside ± margin) and
    ``verdict``: *holds* (the (1 − α) interval on the expected side of 0), *reversed* (on
    the other side), *no effect* (within margin, neither of those), *inconclusive*, or
    *reported* when ``direction`` is None.  A significant effect smaller than the margin is
    *holds* or *reversed* with ``within_margin`` true.
    """
    mean, sd, lo, hi, n = mean_ci(d, 1 - alpha)
    _, _, tlo, thi, _ = mean_ci(d, 1 - 2 * alpha)
    finite = math.isfinite(lo) and math.isfinite(hi)
    within = bool(finite and math.isfinite(margin) and -margin < tlo and thi < margin)
    if direction is None:
        word = "reported"
    elif not finite:
        word = "inconclusive"
    elif (lo > 0) if direction > 0 else (hi < 0):
        word = "holds"
    elif (hi < 0) if direction > 0 else (lo > 0):
        word = "reversed"
    elif within:
        word = "no effect"
    else:
        word = "inconclusive"
    return {"difference": mean, "sd": sd, "ci_low": lo, "ci_high": hi, "tost_low": tlo,
            "tost_high": thi, "n": n, "mde": mde(sd, n, alpha), "margin": margin,
            "within_margin": within, "verdict": word}


def _margin(metric: str) -> float:
    from ..reporters import METRICS

    info = METRICS.get(metric)
    return float(info.margin) if info is not None else math.nan


def pattern_table(run: PatternRun, patterns: Sequence[Pattern] = PATTERNS) -> pd.DataFrame:
    """One row per pattern check: difference, paired 95% CI, verdict and power.

    Columns: pattern, kind, title, arm, metric, window, control_mean, treatment_mean,
    difference, sd, ci_low, ci_high, tost_low, tost_high, n, roots (the root seeds, ``;``
    separated), mde, margin, within_margin, expected, verdict, holds (verdict == holds; None
    for reported rows).  See :func:`verdict`.
    """
    rows = []
    roots = ";".join(str(r) for r in run.roots)
    for p in patterns:
        treat_runs, ctrl_runs = _pairs(run, p)
        for c in p.checks:
            d = _differences(run, p, c)
            v = verdict(d, c.direction, _margin(c.metric))
            if c.versus:
                treat = np.array([x[(c.metric, c.window)] for x in run.values[p.treatment]])
                ctrl = np.array([x[(c.versus, c.window)] for x in run.values[p.treatment]])
                arm = f"{p.treatment.label()}: {c.metric} vs {c.versus}"
            else:
                treat = np.array([x[(c.metric, c.window)] for x in treat_runs])
                ctrl = np.array([x[(c.metric, c.window)] for x in ctrl_runs])
                arm = f"{p.treatment.label()} vs {p.control.label()}"
            rows.append({
                "pattern": p.key, "kind": p.kind, "title": p.title, "arm": arm,
                "metric": c.metric, "window": c.window.label(),
                "control_mean": float(np.nanmean(ctrl)) if np.isfinite(ctrl).any() else math.nan,
                "treatment_mean": float(np.nanmean(treat)) if np.isfinite(treat).any() else math.nan,
                **{k: v[k] for k in ("difference", "sd", "ci_low", "ci_high", "tost_low",
                                     "tost_high", "n")},
                "roots": roots, "mde": v["mde"], "margin": v["margin"],
                "within_margin": v["within_margin"],
                "expected": {1: "> 0", -1: "< 0", None: "reported"}[c.direction],
                "verdict": v["verdict"],
                "holds": None if c.direction is None else v["verdict"] == "holds",
            })
    return pd.DataFrame(rows)


def robustness_points(k: int, seed: int, parameters: Sequence[tuple[str, float, float]] | None = None
                      ) -> tuple[list[list[str]], pd.DataFrame]:
    """A seeded Latin hypercube of ``k`` points over the uncertain parameters: the
    ``--set`` overrides of each point and a frame of the values."""
    from scipy.stats import qmc

    from ..provenance import provenance, uncertain_parameters

    params = list(parameters if parameters is not None else uncertain_parameters())
    sample = qmc.LatinHypercube(d=len(params), seed=np.random.default_rng(seed)).random(k)
    lo = np.array([p[1] for p in params])
    hi = np.array([p[2] for p in params])
    values = lo + sample * (hi - lo)
    ints = {path for path, *_ in params if provenance(path).integer}
    points, rows = [], []
    for v in values:
        point = {path: (round(x) if path in ints else float(x))
                 for (path, *_), x in zip(params, v, strict=True)}
        rows.append(point)
        points.append([f"{path}={x}" for path, x in point.items()])
    return points, pd.DataFrame(rows)


def robustness_table(runs: Sequence[PatternRun], patterns: Sequence[Pattern] = PATTERNS
                     ) -> pd.DataFrame:
    """Per judged check: share of hypercube points where it holds (paired CI on the expected
    side at that point's replicates) and where the mean difference has the expected sign."""
    held: dict[tuple[str, str, str], list[tuple[bool, bool]]] = {}
    for run in runs:
        table = pattern_table(run, patterns)
        for row in table.itertuples():
            if row.expected == "reported":
                continue
            sign = (row.difference > 0) if row.expected == "> 0" else (row.difference < 0)
            held.setdefault((row.pattern, row.metric, row.window), []).append(
                (bool(row.holds), bool(sign)))
    return pd.DataFrame([
        {"pattern": k[0], "metric": k[1], "window": k[2], "points": len(v),
         "share_holds": float(np.mean([h for h, _ in v])),
         "share_right_sign": float(np.mean([s for _, s in v]))}
        for k, v in held.items()
    ])


def parse_roots(text: str | None, seed: int) -> list[int]:
    """``--roots``: a comma-separated list of root seeds (``2013,9173``), or a count K (one
    number without a comma: ``--seed`` and K − 1 roots spawned from it, :func:`root_seeds`);
    None: ``[seed]``."""
    if text is None or not str(text).strip():
        return [seed]
    parts = [x.strip() for x in str(text).split(",") if x.strip()]
    try:
        values = [int(x) for x in parts]
    except ValueError:
        raise ValueError(f"--roots {text!r}: a count K or comma-separated integer seeds") from None
    if len(parts) == 1 and "," not in str(text):
        if not 1 <= values[0] <= 1000:
            raise ValueError(f"--roots {text!r}: a count must be 1 to 1000 (for one root seed, "
                             "write it with a trailing comma: 9173,)")
        return root_seeds(seed, values[0])
    if any(not 0 <= v < 2**63 for v in values) or len(set(values)) != len(values):
        raise ValueError(f"--roots {text!r}: distinct seeds in 0 … 2^63−1")
    return values


AUTO_FIRST = 10  # --replicates auto: pairs per root in the first batch ...
AUTO_BATCH = 10  # ... and added per root in each further batch


def patterns_command(replicates: int | str, robustness: int, robustness_replicates: int,
                     workers: int | None, seed: int, scale: float, steps: int | None,
                     out: Path, only: Sequence[str], quiet: bool, console: Any, err: Any,
                     roots: str | None = None, max_replicates: int = 300) -> int:
    """``commnet patterns``: run, print the table, write patterns.csv (and robustness.csv,
    robustness_points.csv), patterns.png and a manifest; return the exit status.

    ``replicates``: pairs per root seed, or ``"auto"`` (:func:`run_until_decided`, at most
    ``max_replicates`` pairs per row pooled over the roots)."""
    import json

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from ..figures import plot_patterns
    from ..loader import ScenarioError
    from ..results import package_versions

    chosen = [p for p in PATTERNS if not only or p.key in only]
    if not chosen:
        raise ScenarioError([("--only", ", ".join(only), "no such pattern; known: "
                              + ", ".join(p.key for p in PATTERNS))])
    try:
        root_list = parse_roots(roots, seed)
    except ValueError as exc:
        raise ScenarioError([("--roots", str(roots), str(exc))]) from None
    auto = str(replicates).strip().lower() == "auto"
    extra = [f"scale={scale}"] + ([f"steps={steps}"] if steps else [])
    workers = workers or 1
    out.mkdir(parents=True, exist_ok=True)
    n_arms = len(_needed(chosen))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, disable=quiet, transient=True) as bar:
        if auto:
            task = bar.add_task("patterns (auto)", total=0)

            def progress(jobs: int) -> None:
                if jobs:
                    bar.update(task, total=(bar.tasks[task].total or 0) + jobs)
                else:
                    bar.advance(task)

            run = run_until_decided(chosen, roots=root_list, first=AUTO_FIRST, batch=AUTO_BATCH,
                                    cap=max_replicates, extra=extra, workers=workers,
                                    progress=progress)
        else:
            replicates = int(replicates)
            task = bar.add_task("patterns", total=n_arms * replicates * len(root_list))
            run = run_patterns(chosen, replicates=replicates, roots=root_list, extra=extra,
                               workers=workers, progress=lambda: bar.advance(task))[0]
        table = pattern_table(run, chosen)
        table.to_csv(out / "patterns.csv", index=False)
        rob = None
        if robustness:
            points, values = robustness_points(robustness, seed)
            values.to_csv(out / "robustness_points.csv", index_label="point")
            task = bar.add_task("robustness", total=n_arms * robustness_replicates * robustness)
            runs = run_patterns(chosen, replicates=robustness_replicates, seed=seed, extra=extra,
                                points=points, workers=workers, progress=lambda: bar.advance(task))
            rob = robustness_table(runs, chosen)
            rob.to_csv(out / "robustness.csv", index=False)
    per_root = max(len(v) for v in run.seeds.values()) // len(root_list)  # most pairs per root
    n_text = (f"{int(table.n.min())}–{int(table.n.max())}" if table.n.min() != table.n.max()
              else f"{int(table.n.max())}")
    plot_patterns(table, path=out / "patterns.png",
                  title=f"patterns: treatment − control, paired 95% CI, {n_text} pairs over "
                        f"{len(root_list)} root seed(s)")
    manifest = {"command": "commnet patterns", "replicates": "auto" if auto else replicates,
                "max_replicates": max_replicates if auto else None, "seed": seed,
                "roots": root_list, "scale": scale, "steps": steps, "robustness": robustness,
                "robustness_replicates": robustness_replicates,
                "replicate_seeds": {str(r): replicate_seeds(r, per_root) for r in root_list},
                "pairs_per_row": {f"{r.pattern}: {r.metric}": int(r.n) for r in table.itertuples()},
                "verdict_rule": "holds/reversed: 95% paired t-interval on one side of 0; no effect: "
                                "TOST 90% interval inside ± margin; else inconclusive",
                "arms": [a.label() for a in _needed(chosen)], "versions": package_versions()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if not quiet:
        t = Table(title=f"patterns ({n_text} pairs, roots {', '.join(map(str, root_list))}; "
                        "difference = treatment − control, 95% CI; MDE at 80% power)")
        for col in ("pattern", "metric", "window", "difference", "95% CI", "n", "MDE", "margin",
                    "expected", "verdict"):
            t.add_column(col, justify="right" if col in ("difference", "95% CI", "n", "MDE",
                                                          "margin") else "left")
        for r in table.itertuples():
            ci = f"{r.ci_low:.3g} – {r.ci_high:.3g}" if math.isfinite(r.ci_low) else ""
            word = "" if r.verdict == "reported" else r.verdict
            if rob is not None and r.holds is not None:
                hit = rob[(rob.pattern == r.pattern) & (rob.metric == r.metric)]
                if len(hit):
                    word += f" (holds in {hit.share_holds.iloc[0]:.0%} of hypercube)"
            margin = f"±{r.margin:.3g}" if math.isfinite(r.margin) else ""
            t.add_row(r.pattern, r.metric, r.window, f"{r.difference:.3g}", ci, str(r.n),
                      f"{r.mde:.3g}" if math.isfinite(r.mde) else "", margin, r.expected, word)
        console.print(t)
        console.print(f"results in [bold]{out}[/] (patterns.csv, patterns.png"
                      f"{', robustness.csv' if rob is not None else ''}, manifest.json)")
    return 0
