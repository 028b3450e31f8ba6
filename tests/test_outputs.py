"""Self-describing outputs: the metric registry, Parquet field metadata, scenario columns."""

import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from simulation.reporters import METRICS, field_metadata, label, metric_bounds, metric_info
from simulation.results import run_scenario, write_results
from simulation.scenario import scenario_hash


def test_every_metric_is_described():
    # 44 + imd q1-q5 (20) + span, £ floor, £ ceiling + 18 survey (18, 19) + per-level skill,
    # span and £ (locality skill and span; upper-level skill, span, £, £ floor, £ ceiling: 19)
    assert len(METRICS) == 77
    for name, m in METRICS.items():
        assert m.name == name and m.reporter.__name__ == name and m[0] is m.reporter
        assert m.title and m.definition.endswith(".") and m.direction in {"higher", "lower", "none"}
        assert m.lower < m.upper and m.family in {"knowledge", "coherence", "stability",
                                                  "relevance", "structure", "engagement"}
        assert m.title in label(name)


def test_labels_and_lookups():
    assert label("accuracy_board") == "Board accuracy (0–1, higher is better)"
    assert label("misallocated_per_head") == "Misallocated spend (£ per head per year, lower is better)"
    assert label("relevance_skill") == ("Decision skill (0 = no local knowledge, 1 = perfect "
                                        "knowledge; higher is better)")
    assert label("density") == "Network density (0–1)"
    assert label("reach__last12").endswith("mean of the last 12 months")
    assert label("run_id") == "run id"
    assert metric_info("reach__last12").name == "reach"
    assert metric_bounds("ei_index") == (-1.0, 1.0) and metric_bounds("seed") is None
    assert metric_bounds("relevance_skill") == (-math.inf, math.inf)
    with pytest.raises(KeyError, match=r"unknown metric 'reech'.*accuracy_board"):
        metric_info("reech")


def test_results_describe_themselves(tiny, tmp_path):
    res = run_scenario(tiny, replicates=2, steps=4)
    h = scenario_hash(res.scenario)
    for frame in (res.timeseries, res.summary):
        assert list(frame.columns[:2]) == ["scenario", "scenario_hash"]
        assert (frame["scenario"] == "tiny").all() and (frame["scenario_hash"] == h).all()
    paths = write_results(res, tmp_path / "out")
    schema = pq.read_schema(paths["timeseries"])
    meta = schema.field("misallocated_per_head").metadata
    assert meta[b"unit"] == "£ per head per year".encode() and meta[b"direction"] == b"lower"
    assert b"Budget per head" in meta[b"definition"]
    assert schema.field("accuracy_board").metadata[b"range"] == "0–1".encode()
    assert b"scenario_hash" in schema.field("scenario_hash").metadata[b"definition"]
    summary = pq.read_schema(paths["summary"])
    assert b"last 12 months" in summary.field("reach__last12").metadata[b"definition"]
    back = pd.read_parquet(paths["timeseries"])
    pd.testing.assert_frame_equal(back, res.timeseries, check_categorical=False)
    assert field_metadata("replicate") is None
    # two runs concatenated keep their identity
    other = run_scenario(tiny.model_copy(update={"name": "tiny2"}), replicates=1, steps=4)
    both = pd.concat([res.timeseries, other.timeseries], ignore_index=True)
    assert both.groupby("scenario_hash", observed=True)["scenario"].nunique().eq(1).all()
    assert both["scenario_hash"].nunique() == 2
    # overall.csv has a note column; here every interval is defined or clipped
    overall = pd.read_csv(paths["overall"])
    assert {"metric", "mean", "ci_low", "ci_high", "n", "note"} <= set(overall)
    assert np.all(overall["ci_high"].dropna() <= [metric_bounds(m)[1] for m in
                                                   overall.dropna(subset=["ci_high"])["metric"]])


def test_run_result_html_uses_the_registry_labels_and_units(tiny):
    """issue 21: the notebook view showed 44 raw ids without units."""
    html = run_scenario(tiny, replicates=2, steps=3)._repr_html_()
    assert "root seed" in html and html.count("<tr>") == len(METRICS) + 1
    for name in ("misallocated_per_head", "accuracy_board"):
        info = METRICS[name]
        assert f"{info.title} <code" in html and f">{name}</code>" in html
    assert "<td>£ per head per year</td>" in html and "<td>score, 0–1</td>" in html
    assert "lower is better" in html and "higher is better" in html
