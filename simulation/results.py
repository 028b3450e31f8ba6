"""Running a scenario with replicates and writing tidy results, a summary and a manifest.

:func:`run_scenario` is the library entry point (the CLI and the experiment layer call it):
it returns a :class:`RunResult` holding

* ``timeseries`` — one row per replicate, step and commissioning group (plus ``overall``),
  one column per metric of :data:`simulation.reporters.METRICS`;
* ``summary`` — one row per replicate and group: each metric's final value and its mean over
  the last 12 steps (``<metric>__last12``);
* ``manifest`` — seeds, package versions, git commit, scenario hash and timings.

Replicate seeds are spawned from the root seed with :class:`numpy.random.SeedSequence`, so a
replicate's results depend only on (root seed, replicate index), never on the executor.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .model import CommissioningModel
from .reporters import METRICS
from .scenario import Scenario, scenario_hash

__all__ = [
    "RunResult",
    "build_manifest",
    "ego_table",
    "export_graphml",
    "iter_replicates",
    "package_versions",
    "replicate_seeds",
    "run_replicate",
    "run_scenario",
    "write_results",
]

PACKAGES = ("commnet", "mesa", "numpy", "scipy", "networkx", "pandas", "matplotlib", "pydantic")


def replicate_seeds(root: int, n: int) -> list[int]:
    """``n`` independent 63-bit seeds spawned from ``root`` (numpy SeedSequence)."""
    return [int(s.generate_state(1, np.uint64)[0] >> np.uint64(1))
            for s in np.random.SeedSequence(root).spawn(n)]


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on, and Python's."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str | None:
    """The current git commit of the source tree, if it is a git checkout."""
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5, check=False)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def tidy(model: CommissioningModel, replicate: int = 0) -> pd.DataFrame:
    """The model's collected metrics as a tidy frame (replicate, step, group, metrics…)."""
    data = model.datacollector.model_vars
    names = [g.name for g in model.spec.groups] + ["overall"]
    steps = len(next(iter(data.values())))
    cols: dict[str, Any] = {
        "replicate": np.full(steps * len(names), replicate, np.int32),
        "step": np.repeat(np.arange(steps, dtype=np.int32), len(names)),
        "group": pd.Categorical(np.tile(names, steps), categories=names),
    }
    for metric in METRICS:
        cols[metric] = np.asarray(np.stack(data[metric]), float).ravel()
    return pd.DataFrame(cols)


def ego_table(model: CommissioningModel) -> pd.DataFrame:
    """Ego-network measures of every board member at the model's current step.

    Columns: group, agent (slot), role, type, size (alters), density (ties among alters over
    possible), effective_size (Burt 1992: n − 2t/n) and constraint (Burt 1992).
    """
    from . import measures
    from .population import ROLES
    from .scenario import STAKEHOLDER_TYPES

    coo = model.board.tocoo()
    ego = measures.ego_measures(model.ties.csr(), coo.col)
    names = [g.name for g in model.spec.groups]
    return pd.DataFrame({
        "group": [names[g] for g in coo.row],
        "agent": coo.col,
        "role": [ROLES[r] for r in model.pop.role[coo.col]],
        "type": [STAKEHOLDER_TYPES[k] for k in model.pop.kind[coo.col]],
        "size": ego["size"],
        "density": ego["density"],
        "effective_size": ego["effective_size"],
        "constraint": ego["constraint"],
    })


def export_graphml(model: CommissioningModel, path: str | os.PathLike[str]) -> Path:
    """Write the current tie network as GraphML with node attributes (type, role, group,
    locality, board membership, engagement) for Gephi, Cytoscape or networkx."""
    import networkx as nx

    from .population import ROLES
    from .scenario import STAKEHOLDER_TYPES

    p = model.pop
    names = [g.name for g in model.spec.groups]
    g = model.ties.to_networkx({
        "type": np.asarray(STAKEHOLDER_TYPES)[p.kind],
        "role": np.asarray(ROLES)[p.role],
        "group": np.asarray([names[i] if i >= 0 else "" for i in p.group]),
        "locality": p.area,
        "board": model.on_board.astype(int),
        "engagement": model.engagement.round(6),
    })
    path = Path(path)
    _atomic_write(path, lambda p: nx.write_graphml(g, p))
    return path


def run_replicate(scenario: Scenario, seed: int, replicate: int = 0,
                  steps: int | None = None) -> pd.DataFrame:
    """Run one replicate and return its tidy time series."""
    model = CommissioningModel(scenario, seed=seed)
    for _ in range(scenario.steps if steps is None else steps):
        model.step()
    return tidy(model, replicate)


def summarise(ts: pd.DataFrame, window: int = 12) -> pd.DataFrame:
    """Per replicate and group: final value and mean over the last ``window`` steps."""
    last = ts["step"].max()
    metrics = [m for m in METRICS if m in ts.columns]
    final = ts[ts["step"] == last].set_index(["replicate", "group"])[metrics]
    tail = (ts[ts["step"] > last - window].groupby(["replicate", "group"], observed=True)[metrics]
            .mean().add_suffix("__last12"))
    return final.join(tail).reset_index()


@dataclass
class RunResult:
    """Results of :func:`run_scenario`."""

    scenario: Scenario
    timeseries: pd.DataFrame
    summary: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)

    def overall_table(self, metrics: list[str] | None = None) -> pd.DataFrame:
        """Mean and 95% CI across replicates of each metric's final overall value."""
        overall = self.summary[self.summary["group"] == "overall"]
        rows = []
        for m in metrics or list(METRICS):
            v = overall[m].to_numpy(float)
            v = v[np.isfinite(v)]
            n = v.size
            mean = float(v.mean()) if n else np.nan
            half = float(1.96 * v.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
            rows.append({"metric": m, "mean": mean, "ci_low": mean - half, "ci_high": mean + half,
                         "n": n})
        return pd.DataFrame(rows)


def iter_replicates(
    scenario: Scenario, seeds: list[int], on_step: Callable[[], None] | None = None
) -> Iterator[tuple[int, CommissioningModel, float]]:
    """Run one replicate per seed; yield ``(replicate, finished model, seconds)``.

    ``on_step`` is called after every model step (progress bars).  Stopping the iteration
    early (or Ctrl-C between replicates) keeps everything yielded so far.
    """
    for r, s in enumerate(seeds):
        t0 = time.perf_counter()
        model = CommissioningModel(scenario, seed=s)
        for _ in range(scenario.steps):
            model.step()
            if on_step is not None:
                on_step()
        yield r, model, time.perf_counter() - t0


def build_manifest(
    scenario: Scenario, seeds: list[int], timings: list[float], **extra: Any
) -> dict[str, Any]:
    """The record of a run: resolved scenario and its hash, root and replicate seeds, package
    versions, git commit, platform and timings (plus ``extra`` fields)."""
    return {
        "scenario_name": scenario.name,
        "scenario_hash": scenario_hash(scenario),
        **extra,
        "root_seed": scenario.seed,
        "replicate_seeds": list(seeds),
        "replicates": len(seeds),
        "steps": scenario.steps,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "platform": platform.platform(),
        "seconds_per_replicate": list(timings),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "scenario": scenario.model_dump(mode="json"),
    }


def run_scenario(
    scenario: Scenario,
    *,
    replicates: int = 1,
    seed: int | None = None,
    steps: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Run ``replicates`` independent replicates of a scenario.

    Parameters
    ----------
    scenario : Scenario
    replicates : int
    seed : int, optional
        Root seed (default ``scenario.seed``); replicate seeds are spawned from it.
    steps : int, optional
        Overrides ``scenario.steps``.
    progress : callable, optional
        Called with the replicate index after each replicate finishes.
    """
    if steps is not None:
        scenario = scenario.model_copy(update={"steps": steps})
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": seed})
    seeds = replicate_seeds(scenario.seed, replicates)
    frames, timings = [], []
    for r, model, seconds in iter_replicates(scenario, seeds):
        frames.append(tidy(model, r))
        timings.append(seconds)
        if progress is not None:
            progress(r)
    ts = pd.concat(frames, ignore_index=True)
    return RunResult(scenario, ts, summarise(ts), build_manifest(scenario, seeds, timings))


def _atomic_write(path: Path, writer: Callable[[Path], None]) -> None:
    """Write via a temporary file in the same folder, then rename (never a half file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        writer(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_results(result: RunResult, out: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``timeseries.parquet``, ``summary.parquet``, ``summary.csv`` and ``manifest.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "timeseries": out / "timeseries.parquet",
        "summary": out / "summary.parquet",
        "summary_csv": out / "summary.csv",
        "overall": out / "overall.csv",
        "manifest": out / "manifest.json",
    }
    _atomic_write(paths["timeseries"], lambda p: result.timeseries.to_parquet(p, index=False))
    _atomic_write(paths["summary"], lambda p: result.summary.to_parquet(p, index=False))
    _atomic_write(paths["summary_csv"], lambda p: result.summary.to_csv(p, index=False))
    _atomic_write(paths["overall"], lambda p: result.overall_table().to_csv(p, index=False))
    _atomic_write(paths["manifest"],
                  lambda p: p.write_text(json.dumps(result.manifest, indent=2, default=str)))
    return paths
