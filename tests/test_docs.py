"""The parameter reference is generated from the schema and must be current."""

from pathlib import Path

from simulation.reference import parameter_reference
from simulation.reporters import METRICS, metric_reference

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_parameter_reference_is_up_to_date():
    assert (DOCS / "parameters.md").read_text() == parameter_reference(), (
        "docs/parameters.md is stale: run `make docs`")


def test_metric_reference_is_up_to_date():
    assert (DOCS / "metrics.md").read_text() == metric_reference(), (
        "docs/metrics.md is stale: run `make docs`")


def test_every_metric_is_defined_in_the_odd():
    odd = (DOCS / "ODD.md").read_text()
    missing = [m for m in METRICS if f"`{m}`" not in odd and m not in odd]
    assert not missing, missing
