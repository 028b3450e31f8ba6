"""The teaching model: one scenario, or two variants of it side by side in lock-step."""

from __future__ import annotations

import logging
import time
from typing import Any

import mesa

from ..loader import ScenarioError, load_scenario
from ..model import CommissioningModel
from ..scenario import Scenario
from .controls import COMPARE_FILE, COMPARE_OFF, COMPARISONS, describe_changes, parse_seed, settings_overrides
from .layout import compute_layout
from .network import MAX_NODES, Run, sample_nodes

__all__ = ["TeachingModel"]

log = logging.getLogger(__name__)


class TeachingModel(mesa.Model):
    """One scenario — or two variants of it in lock-step — for the teaching app.

    Every keyword whose name is a dotted scenario path (the controls) is applied as a
    ``--set`` override when it differs from the file; ``compare`` picks a
    :data:`COMPARISONS` preset that runs a second model with one setting changed, same seed,
    stepped together.  Problems never raise: a file that does not validate, a seed that is
    not a number or a setting the schema refuses leaves ``error`` set to the message (shown by
    the app), no runs, and ``running`` false.

    Parameters
    ----------
    scenario_path : str, optional
        The YAML scenario file.
    seed : str or int, optional
        The seed; Mesa's text box delivers a string.  Empty means the scenario's seed.
    compare : str
        A key of :data:`COMPARISONS`.
    max_nodes : int
        Drawing budget (see :func:`sample_nodes`).
    **settings
        ``dotted.path=value`` settings, e.g. ``**{"engagement.gp.mean": 0.3}``.
    """

    def __init__(self, scenario_path: str | None = None, seed: str | int | None = None,
                 compare: str = COMPARE_OFF, max_nodes: int = MAX_NODES, **settings: Any):
        super().__init__(rng=0)  # the wrapper draws nothing; the runs own their generators
        self.scenario_path = scenario_path
        self.error: str | None = None
        self.notes: list[str] = []
        self.runs: list[Run] = []
        self.spec: Scenario | None = None  # (``scenario`` is Mesa's own attribute)
        self.seed_value: int | None = None
        self.last_step_seconds = 0.0
        # Mesa's ModelController Reset passes Mesa's own ``scenario`` (and possibly ``rng``): not ours
        settings = {k: v for k, v in settings.items() if k not in ("scenario", "rng")}
        #: The keyword arguments this model was built from (what the app compares the controls
        #: with, to say which settings a Reset has not applied yet).
        self.built_with: dict[str, Any] = {"scenario_path": scenario_path, "seed": seed,
                                           "compare": compare, "max_nodes": max_nodes,
                                           **settings}
        try:
            self._build(seed, compare, max_nodes, settings)
        except ScenarioError as exc:
            self.error = str(exc)
        except ValueError as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug must not take the classroom's page down
            log.exception("could not build the model")
            self.error = f"The model could not be built: {type(exc).__name__}: {exc}"
        if self.error:
            self.runs = []
        self.running = self.error is None

    def _build(self, seed: Any, compare: str, max_nodes: int, settings: dict[str, Any]) -> None:
        path = self.scenario_path
        if not path:
            raise ScenarioError([("app", "", "no scenario file: put one in scenarios/ or run "
                                  "`commnet app path/to/scenario.yaml`")])
        base = load_scenario(path)
        self.spec = base
        self.seed_value = parse_seed(seed, base.seed)
        if compare not in COMPARISONS:
            raise ValueError(f"unknown comparison {compare!r}; choose one of: "
                             + ", ".join(COMPARISONS))
        overrides, notes = settings_overrides(base, settings)
        changes = describe_changes(base, settings)
        self.notes = notes
        preset = COMPARISONS[compare]
        if preset is None:
            variants = [("", overrides, changes)]
        elif compare == COMPARE_FILE:
            variants = [(preset[0], overrides, changes), (preset[2], [], [])]
            if not overrides:
                self.notes.append("your settings equal the scenario file: A and B are the same")
        else:
            variants = []
            for label, pairs in ((preset[0], preset[1]), (preset[2], preset[3])):
                # the preset's setting replaces the user's for that control (one value each)
                merged = {**settings, **dict(pairs)}
                forced = [p for p, _ in pairs]
                ovr, n = settings_overrides(base, merged, force=forced)
                variants.append((label, ovr, describe_changes(base, merged, force=forced)))
                self.notes += [x for x in n if x not in self.notes]
        for label, ovr, plain in variants:
            scenario = load_scenario(path, ovr) if ovr else base
            model = CommissioningModel(scenario, seed=self.seed_value)
            layout = compute_layout(model.pop, self.seed_value)
            sample = sample_nodes(model, max_nodes, self.seed_value)
            self.runs.append(Run(label, model, layout, sample, list(ovr), plain))
        self.spec = self.runs[0].model.spec

    @property
    def month(self) -> int:
        """Months simulated so far (the runs move together)."""
        return self.runs[0].model.steps if self.runs else 0

    @property
    def months(self) -> int:
        """Length of the scenario in months."""
        return self.spec.steps if self.spec is not None else 0

    def step(self) -> None:
        """Advance every run by one month, together; stop at the scenario's last month."""
        if not self.runs or self.month >= self.months:
            self.running = False
            return
        t0 = time.perf_counter()
        for run in self.runs:
            run.model.step()
        self.last_step_seconds = time.perf_counter() - t0
        self.running = self.month < self.months
