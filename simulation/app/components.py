"""Testable parts of the teaching app (no Solara, no browser), gathered in one namespace.

The code lives in one module per concern; this module re-exports their public names (and is
what the tests and older code import):

* :mod:`.controls` — controls generated from the scenario schema, what they change
  (``--set`` strings and plain words), the side-by-side presets and the seed box;
* :mod:`.scenarios` — the files the picker lists and the one it opens first;
* :mod:`.layout` — the fixed, seeded network layout;
* :mod:`.network` — which agents and ties to draw, their colours, the network figure;
* :mod:`.charts` — the seven live charts (matplotlib), redrawn cheaply every step;
* :mod:`.classroom` — the classroom view's four charts (ECharts options) and monitors;
* :mod:`.style` — figure text sizes and PNG encoding;
* :mod:`.teaching` — :class:`TeachingModel`, one scenario or two variants in lock-step, every
  bad input turned into a message;
* :mod:`.info` — the Info text.
"""

from __future__ import annotations

from .charts import CHART_PANELS, CHART_ROW_IN, CHART_WIDTH_IN, ChartRenderer, chart_figure, metric_series
from .classroom import CLASSROOM_PANELS, current_values, format_value, panel_option
from .controls import (
    CLASSROOM_COMPARE,
    COMPARE_FILE,
    COMPARE_OFF,
    COMPARISONS,
    CONTROL_LABELS,
    TEACHING_CONTROLS,
    Control,
    _bounds,
    control_options,
    describe_changes,
    exact_step,
    make_model_params,
    parse_seed,
    preset_paths,
    scenario_value,
    schema_field,
    settings_overrides,
)
from .info import INFO_MARKDOWN
from .layout import compute_layout
from .network import (
    ACCURACY_RANGE,
    COLOUR_MODES,
    MAX_EDGES,
    MAX_NODES,
    TYPE_COLOURS,
    TYPE_LABELS,
    DrawSample,
    Run,
    belief_accuracy,
    draw_network,
    network_figure,
    node_colours,
    sample_nodes,
    select_edges,
)
from .scenarios import SCENARIO_DIR_ENV, SCENARIO_ENV, default_scenario, list_scenarios, scenario_dir
from .style import CHART_FONT_PT, FIGURE_DPI, TITLE_FONT_PT, figure_png
from .teaching import TeachingModel

__all__ = [
    "ACCURACY_RANGE", "CHART_FONT_PT", "CHART_PANELS", "CHART_ROW_IN", "CHART_WIDTH_IN",
    "CLASSROOM_COMPARE", "CLASSROOM_PANELS", "COLOUR_MODES", "COMPARE_FILE", "COMPARE_OFF",
    "COMPARISONS", "CONTROL_LABELS", "FIGURE_DPI", "INFO_MARKDOWN", "MAX_EDGES", "MAX_NODES",
    "SCENARIO_DIR_ENV", "SCENARIO_ENV", "TEACHING_CONTROLS", "TITLE_FONT_PT", "TYPE_COLOURS",
    "TYPE_LABELS", "ChartRenderer", "Control", "DrawSample", "Run", "TeachingModel", "_bounds",
    "belief_accuracy", "chart_figure", "compute_layout", "control_options", "current_values",
    "default_scenario", "describe_changes", "draw_network", "exact_step", "figure_png",
    "format_value", "list_scenarios", "make_model_params", "metric_series", "network_figure",
    "node_colours", "panel_option", "parse_seed", "preset_paths", "sample_nodes", "scenario_dir",
    "scenario_value", "schema_field", "select_edges", "settings_overrides",
]
