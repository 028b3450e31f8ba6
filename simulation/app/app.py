"""The teaching app's page: a Reset / ▶ / Step controller around :class:`~.teaching.TeachingModel`.

Serve it with ``commnet app`` (:func:`simulation.app.launch.launch`, which runs
:mod:`simulation.app.serve` — Solara's server behind the loopback ``Host``/``Origin`` check);
``solara run simulation.app.app`` also works, without that check (``COMMNET_APP_SCENARIO``
names the scenario to open).

Layout: the app bar has the title and an **Info** button (NetLogo-style Info tab in a dialog:
Close at the top, Escape closes it); the sidebar has the scenario picker, the Reset / ▶ / Step
buttons (Mesa's, with their state read from the model), then the model's own controls
(generated from the scenario schema, each with its exact value shown) and, collapsed at the
bottom, the playback settings (play interval, steps per update).  The main area is the
**classroom view**: the month and the runs' legend, then four large charts (decision skill, £
misallocated per head, board knowledge, GP engagement) drawn in the browser by ECharts, each
with monitors of the runs' current values; a fresh page opens on a comparison
(:data:`~.controls.CLASSROOM_COMPARE`), so one click on ▶ runs the lesson.  Below: the status
(what runs, notes) and, on request, the network view and all seven charts (matplotlib PNGs,
redrawn every step, so steps are slower while they are shown).

State: the page holds the chosen scenario, the model and the settings (one dictionary, the
keyword arguments of the next Reset).  Every control shows and edits that dictionary, so
picking another scenario resets the controls to that file's values and a later Reset builds
the model from them.  :func:`RunController` (Mesa's ``ModelController``, except that the
buttons' state is read from the model, so they are ready after a scenario switch) does the
stepping and Reset.
"""

from __future__ import annotations

import gc
import os
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import ipyvuetify
import solara
import traitlets
from mesa.visualization.utils import force_update, update_counter
from solara.components.echarts import EchartsWidget

from ..loader import ScenarioError, load_scenario
from ..scenario import Scenario
from .charts import ChartRenderer
from .classroom import (
    CHART_HEIGHT_PX,
    CLASSROOM_PANELS,
    RUN_COLOURS,
    current_values,
    format_value,
    panel_option,
)
from .controls import make_model_params, preset_paths
from .info import INFO_MARKDOWN
from .network import COLOUR_MODES, network_figure
from .scenarios import SCENARIO_ENV, default_scenario, list_scenarios
from .style import figure_png
from .teaching import TeachingModel

__all__ = ["ChartsView", "ClassroomView", "NetworkView", "Page", "PendingNotice", "SettingsPanel",
           "StatusView", "chosen_path", "initial_settings", "unapplied"]

TITLE = "commnet — commissioning networks"

#: Page style: the network and the charts side by side where the screen is wide enough (two
#: runs: at 1600 px and up, so that a projector at 1920 × 1080 shows both without scrolling),
#: slider values in a fixed-width column, Mesa's playback settings out of the way.
CSS = """
.commnet-views { display: grid; grid-template-columns: minmax(0, 1fr); gap: 12px;
                 align-items: start; }
@media (min-width: 1200px) {
  .commnet-single { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
}
@media (min-width: 1600px) {
  .commnet-pair { grid-template-columns: minmax(0, 5fr) minmax(0, 7fr); }
}
.commnet-views > .v-card { margin: 0 !important; }
.commnet-control { width: 100%; }
.commnet-control-value { min-width: 2.6em; text-align: right;
                         font-variant-numeric: tabular-nums; }
.commnet-settings .v-input { margin-top: 0; padding-top: 2px; }
.commnet-settings .v-messages { min-height: 0; }
.commnet-info h2 { margin-top: 0.8em; }
.commnet-info-head { position: sticky; top: 0; z-index: 2; background: white; }
.commnet-topline { display: flex; align-items: baseline; gap: 24px; flex-wrap: wrap;
                   margin-bottom: 6px; }
.commnet-month { font-size: 26px; font-weight: 700; }
.commnet-legend { display: flex; gap: 28px; flex-wrap: wrap; font-size: 20px; }
.commnet-legend-item { display: inline-flex; align-items: center; gap: 8px; }
.commnet-legend-line { display: inline-block; width: 36px; height: 5px; border-radius: 2px; }
.commnet-complete { font-size: 20px; font-weight: 600; color: #1b5e20; }
.commnet-classroom { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr));
                     gap: 10px; }
@media (max-width: 1000px) { .commnet-classroom { grid-template-columns: minmax(0, 1fr); } }
.commnet-panel { background: white; border-radius: 6px; padding: 6px 12px 0 12px;
                 box-shadow: 0 1px 3px rgba(0, 0, 0, 0.2); min-width: 0; }
.commnet-panel-head { display: flex; align-items: baseline; justify-content: space-between;
                      gap: 8px; flex-wrap: wrap; }
.commnet-panel-title { font-size: 24px; font-weight: 700; line-height: 1.2; }
.commnet-panel-unit { font-size: 18px; line-height: 1.25; color: #333; }
.commnet-monitors { display: flex; gap: 18px; }
.commnet-monitor { font-size: 30px; font-weight: 700; line-height: 1.1;
                   font-variant-numeric: tabular-nums; white-space: nowrap; }
.commnet-monitor-run { font-size: 18px; font-weight: 600; margin-right: 4px; }
.commnet-more { margin-top: 8px; }
.commnet-status, .commnet-status *, .commnet-pending, .commnet-pending *,
.commnet-more label { font-size: 18px !important; line-height: 1.35; }
"""

#: Per browser session (Solara scopes module-level reactive variables to the session).
colour_mode = solara.reactive(COLOUR_MODES[0])
show_info = solara.reactive(False)
#: Whether the network view and the seven matplotlib charts are shown (they cost a PNG each
#: per step, 0.1–0.3 s on the teaching scenario, so the classroom view starts without them).
show_more = solara.reactive(False)


def _load(path: str | None) -> tuple[Scenario | None, str | None]:
    """The validated scenario, or the validation message."""
    if not path:
        return None, "no scenario file: put one in scenarios/ or run `commnet app FILE.yaml`"
    try:
        return load_scenario(path), None
    except ScenarioError as exc:
        return None, str(exc)


def initial_settings(params: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :class:`TeachingModel` before anything is moved: fixed
    entries as they are, user inputs at their start values (the scenario file's)."""
    return {k: (v["value"] if isinstance(v, dict) and "type" in v else v)
            for k, v in params.items()}


def _shown(value: Any) -> str:
    """A control's value as shown beside it: two decimals, or as many as it has (the file's
    0.426 shows as 0.426, never rounded to a value it is not)."""
    if isinstance(value, float):
        if abs(value - round(value, 2)) < 1e-9:
            return f"{value:.2f}"
        return f"{round(value, 6):g}"
    return str(value)


def _differs(a: Any, b: Any) -> bool:
    """Whether a control's value differs from the one the model was built with (numbers
    within float noise are equal: a slider sends 0.30000000000000004 for 0.3)."""
    if isinstance(a, float | int) and isinstance(b, float | int) and not (
            isinstance(a, bool) or isinstance(b, bool)):
        return abs(float(a) - float(b)) > 1e-9
    return a != b


def unapplied(params: dict[str, Any], settings: dict[str, Any],
              built_with: dict[str, Any]) -> list[str]:
    """The controls whose value differs from what the running model was built from, as
    ``label value`` (e.g. ``GP engagement 0.20``), in control order.

    A Reset builds from the controls' values as the server has them; under load the browser
    may deliver a slider's last value after the click (widget state is held back while the
    server is busy, events are not), so the app says what is still to apply instead of
    letting the status line and the controls disagree silently.  A control the chosen
    side-by-side preset sets (GP engagement under "GP engagement: high vs low") is not listed:
    a Reset would not use its value either.
    """
    out = []
    preset = preset_paths(settings.get("compare"))
    for name, spec in params.items():
        if not (isinstance(spec, dict) and "type" in spec) or name in preset:
            continue
        value = settings.get(name, spec.get("value"))
        if name not in built_with or _differs(built_with[name], value):
            out.append(f"{spec.get('label', name)} {_shown(value)}")
    return out


@solara.component
def SettingInput(name: str, spec: dict[str, Any], settings: solara.Reactive[dict]):
    """One control, bound to ``settings[name]`` (so it always shows what Reset will use)."""
    value = settings.value.get(name, spec.get("value"))
    label = spec.get("label", name)

    def set_value(v, name=name):
        settings.set({**settings.value, name: v})

    kind = spec["type"]
    if kind in ("SliderFloat", "SliderInt"):
        slider = solara.SliderFloat if kind == "SliderFloat" else solara.SliderInt
        with solara.Row(gap="4px", classes=["commnet-control"], style={"align-items": "center"}):
            with solara.Div(style={"flex": "1 1 auto", "min-width": "0"}):
                slider(label, value=value, on_value=set_value, min=spec["min"], max=spec["max"],
                       step=spec["step"], thumb_label=False)
            solara.Text(_shown(value) if kind == "SliderFloat" else str(value),
                        classes=["commnet-control-value"])
    elif kind == "Select":
        solara.Select(label, value=value, values=spec["values"], on_value=set_value,
                      classes=["commnet-control"])
    elif kind == "Checkbox":
        solara.Checkbox(label=label, value=bool(value), on_value=set_value)
    elif kind == "InputText":
        solara.InputText(label, value=str(value), on_value=set_value, continuous_update=True,
                         classes=["commnet-control"])
    else:  # make_model_params only produces the kinds above
        raise ValueError(f"no input for {name!r} of type {kind!r}")


@solara.component
def SettingsPanel(params: dict[str, Any], settings: solara.Reactive[dict]):
    """The model's own controls, in :data:`~.controls.TEACHING_CONTROLS` order."""
    preset = preset_paths(settings.value.get("compare"))
    for name, spec in params.items():
        if isinstance(spec, dict) and "type" in spec:
            SettingInput(name, spec, settings)
            if name in preset:
                solara.Text(f"set by Side by side: {settings.value['compare']}",
                            classes=["commnet-preset-note"],
                            style={"font-size": "0.8em", "opacity": "0.75",
                                   "margin": "-6px 0 4px 0"})


@solara.component
def NetworkView(model: TeachingModel, width_in: float):
    """The network, coloured by the chosen mode; one panel per run."""
    update_counter.get()
    mode = colour_mode.value

    def render():
        if not model.runs:
            return None, []
        fig, notes = network_figure(model.runs, mode, width=width_in)
        return figure_png(fig), notes

    png, notes = solara.use_memo(render, [id(model), model.month, mode, width_in])
    with solara.Card("Network", classes=["commnet-network"]):
        with solara.Row(gap="8px", style={"align-items": "center", "flex-wrap": "wrap"}):
            solara.Text("Colour by:")
            solara.ToggleButtonsSingle(value=colour_mode, values=list(COLOUR_MODES), dense=True,
                                       style={"flex-wrap": "wrap"})
        if png is None:
            solara.Text("No network: see the message above.")
        else:
            solara.Image(png, width="100%", classes=["commnet-network-image"])
        for note in dict.fromkeys(n for n in notes if n):
            solara.Text(f"Large scenario — {note}.", classes=["commnet-sample-note"])


@solara.component
def ChartsView(model: TeachingModel, ncols: int = 2):
    """Knowledge, coherence, stability, relevance, engagement and flow over time."""
    update_counter.get()

    renderer = solara.use_memo(lambda: ChartRenderer(model.runs, ncols) if model.runs else None,
                               [id(model), ncols])
    png = solara.use_memo(lambda: renderer.png() if renderer else None,
                          [id(model), model.month, ncols])
    with solara.Card("Charts (whole network, by month)", classes=["commnet-charts"]):
        if png is None:
            solara.Text("No charts: see the message above.")
        else:
            solara.Image(png, width="100%", classes=["commnet-charts-image"])


def _monitor_html(panel, runs, values) -> str:
    """A panel's monitors: each run's current value in its colour (A and B)."""
    import html

    parts = []
    for r, (run, value) in enumerate(zip(runs, values, strict=True)):
        tag = run.label.split(":")[0] if run.label else ""
        name = f'<span class="commnet-monitor-run">{html.escape(tag)}</span>' if tag else ""
        parts.append(f'<span class="commnet-monitor" style="color: {RUN_COLOURS[r]}" '
                     f'title="{html.escape(run.label or panel.title)}">{name}'
                     f'{html.escape(format_value(value, panel))}</span>')
    return "".join(parts)


def _legend_html(runs) -> str:
    """The runs' legend: a thick line in each run's colour and the run's label."""
    import html

    return "".join(
        f'<span class="commnet-legend-item"><span class="commnet-legend-line" '
        f'style="background: {RUN_COLOURS[r]}"></span>{html.escape(run.label)}</span>'
        for r, run in enumerate(runs[:2]))


@solara.component
def ClassroomView(model: TeachingModel):
    """The lesson's four charts with their monitors, drawn in the browser (ECharts): a step
    sends each chart's new data, not an image."""
    update_counter.get()
    # The charts stay mounted (hidden) without runs, in a root of a fixed type: a component's
    # root changes type when its number of children does, and the browser then mounts the
    # charts again.  ECharts loads asynchronously, and a chart removed before it has loaded
    # fails in the browser ("Initialize failed: invalid dom").
    with solara.Column(gap="0", classes=["commnet-classroom-root"]):
        with solara.Div(classes=["commnet-classroom"],
                        style={} if model.runs else {"display": "none"}):
            for panel in CLASSROOM_PANELS:
                values = current_values(model.runs, panel.metric)
                with solara.Div(classes=["commnet-panel", f"commnet-panel-{panel.metric}"]):
                    with solara.Div(classes=["commnet-panel-head"]):
                        solara.Text(panel.title, classes=["commnet-panel-title"])
                        solara.HTML(tag="div", classes=["commnet-monitors"],
                                    unsafe_innerHTML=_monitor_html(panel, model.runs, values))
                    solara.Text(panel.unit, classes=["commnet-panel-unit"])
                    _ChartWidget.element(  # solara.FigureEcharts, see _chart_template
                        option=panel_option(model.runs, panel, model.months), responsive=True,
                        attributes={"style": f"height: {CHART_HEIGHT_PX}px; width: 100%;",
                                    "class": "commnet-echart", "data-metric": panel.metric})
        if not model.runs:
            solara.Text("No charts: see the message above.")


@solara.component
def TopLine(model: TeachingModel):
    """The month counter (or the reason nothing runs) and, at the end, that the run is done."""
    update_counter.get()
    with solara.Column(gap="2px"):  # a root of a fixed type (see ClassroomView)
        if model.error:
            solara.Error(f"This scenario cannot be run:\n{model.error}",
                         classes=["commnet-error"], style={"white-space": "pre-wrap"})
            solara.Text("Fix the file, pick another scenario, or change the settings and "
                        "press Reset.")
        else:
            _top_line(model)


def _top_line(model: TeachingModel) -> None:
    with solara.Div(classes=["commnet-topline"]):
        solara.Text(f"Month {model.month} of {model.months}", classes=["commnet-month"])
        if len(model.runs) > 1:
            solara.HTML(tag="div", unsafe_innerHTML=_legend_html(model.runs),
                        classes=["commnet-legend"])
        if model.month >= model.months:
            solara.Text("Run complete — press Reset to start again.",
                        classes=["commnet-complete"])


@solara.component
def StatusView(model: TeachingModel):
    """What is running and notes (the month and any error message are in :func:`TopLine`)."""
    update_counter.get()
    with solara.Column(classes=["commnet-status"], gap="2px"):
        if model.error:
            return
        spec = model.spec
        solara.Text(f"Scenario: {spec.name} ({Path(model.scenario_path).name}), seed "
                    f"{model.seed_value}")
        for run in model.runs:
            m = run.model
            label = f"{run.label}: " if run.label else ""
            changed = ("changed from the file: " + ", ".join(run.changes) if run.changes
                       else "settings as in the file")
            groups = f"{m.n_groups} group" + ("s" if m.n_groups != 1 else "")
            solara.Text(f"{label}{m.n_agents:,} agents, {m.ties.m:,} ties, {groups}; {changed}",
                        classes=["commnet-run-status"])
        if model.month:
            solara.Text(f"Last step: {1000 * model.last_step_seconds:.0f} ms")
        for note in model.notes:
            solara.Info(note, dense=True)


@solara.component
def PendingNotice(params: dict[str, Any], settings: solara.Reactive[dict], model: TeachingModel):
    """Says which settings the running model does not use yet (until the next Reset)."""
    pending = unapplied(params, settings.value, model.built_with)
    if pending:
        solara.Warning("Not applied yet — press Reset to use: " + ", ".join(pending),
                       dense=True, classes=["commnet-pending"])


@solara.component
def RunController(model: solara.Reactive[TeachingModel], settings: solara.Reactive[dict],
                  play_interval: solara.Reactive[int], render_interval: solara.Reactive[int]):
    """Reset / ▶ / Step, as Mesa's ``ModelController`` (same buttons, same update counter),
    except that whether the model can run is read from the model itself, not remembered: a
    finished run leaves ▶ and Step disabled only until another model (Reset, or another
    scenario) is shown."""
    update_counter.get()
    playing = solara.use_reactive(False)
    error = solara.use_reactive(None)
    current = model.value
    can_run = bool(current.running)
    solara.use_effect(lambda: playing.set(False), [id(current)])  # a new model starts paused

    def do_step() -> None:
        for _ in range(max(int(render_interval.value), 1)):
            model.value.step()
            if not model.value.running:
                break
        force_update()

    def play() -> None:
        try:
            while playing.value and model.value.running:
                time.sleep(play_interval.value / 1000)
                if playing.value:
                    do_step()
        except Exception as exc:  # shown, never a dead page
            error.set(f"error in step: {exc}")
            traceback.print_exc()
        finally:
            if not model.value.running:
                playing.set(False)

    solara.lab.use_task(play, dependencies=[playing.value, id(current)], prefer_threaded=True)

    def reset() -> None:
        error.set(None)
        playing.set(False)
        model.set(TeachingModel(**settings.value))
        force_update()

    with solara.Row(justify="space-between"):
        solara.Button(label="Reset", color="primary", on_click=reset)
        solara.Button(label="❚❚" if playing.value else "▶", color="primary",
                      on_click=lambda: playing.set(not playing.value), disabled=not can_run)
        solara.Button(label="Step", color="primary", on_click=do_step,
                      disabled=playing.value or not can_run)
    if error.value:
        solara.Error(error.value)


def info_html() -> str:
    """The Info text as HTML, rendered here: Solara's Markdown component would fetch the KaTeX
    maths library, which the offline assets do not hold (two failed requests per page)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").render(INFO_MARKDOWN)


def _chart_template() -> str:
    """Solara's ECharts template, with one change: new data that arrives while ECharts is still
    loading is kept for the chart's creation instead of raising ``TypeError`` in the browser
    (``this.chart`` is undefined until the library has loaded)."""
    from solara.components import echarts

    source = (Path(echarts.__file__).parent / "echarts.vue").read_text()
    old = "this.chart.setOption(this.option, true);\n    },"
    if source.count(old) != 1:  # another Solara version: its own template, unchanged
        return source
    return source.replace(old, "if (this.chart) { this.chart.setOption(this.option, true); }"
                               "\n    },")


class _ChartWidget(EchartsWidget):
    """Solara's ECharts widget with :func:`_chart_template`."""

    template_file = None
    template = traitlets.Unicode(_chart_template()).tag(sync=True)


class _EscapeWidget(ipyvuetify.VuetifyTemplate):
    """Calls ``on_escape`` when Escape is pressed anywhere on the page (while mounted)."""

    template = traitlets.Unicode("""
<template><span class="commnet-escape" style="display: none"></span></template>
<script>
module.exports = {
  mounted() {
    this.handler = (e) => { if (e.key === "Escape") { this.escape(); } };
    document.addEventListener("keydown", this.handler, true);
  },
  beforeDestroy() { document.removeEventListener("keydown", this.handler, true); },
};
</script>
""").tag(sync=True)
    on_escape = traitlets.Callable(None, allow_none=True)

    def vue_escape(self, data=None):
        if self.on_escape is not None:
            self.on_escape()


@solara.component
def EscapeKey(on_escape):
    """Escape (pressed anywhere on the page) calls ``on_escape``, while this is mounted."""
    return _EscapeWidget.element(on_escape=on_escape)


@solara.component
def InfoDialog():
    """The Info tab (what it is, how it works, how to use it, …) in a dialog."""
    html = solara.use_memo(info_html, [])
    with solara.v.Dialog(v_model=show_info.value, on_v_model=show_info.set, max_width=900,
                         scrollable=True):
        with solara.v.Card(class_="commnet-info"):
            with solara.v.CardTitle(class_="commnet-info-head"):
                solara.Text("About this model")
                solara.v.Spacer()
                solara.Button("Close", on_click=lambda: show_info.set(False), text=True,
                              classes=["commnet-info-close"])
                # Vuetify's own Escape handling needs the focus inside the dialog; this
                # listener (mounted with the dialog's content) does not
                EscapeKey(on_escape=lambda: show_info.set(False))
            solara.v.Divider()
            with solara.v.CardText():
                solara.HTML(tag="div", unsafe_innerHTML=html)


def _choice_labels(paths: list[str]) -> dict[str, str]:
    """Readable picker labels (file names; full paths where names clash) → paths."""
    names = [Path(p).name for p in paths]
    return {(n if names.count(n) == 1 else f"{n} ({Path(p).parent})"): p
            for n, p in zip(names, paths, strict=True)}


def chosen_path(choices: dict[str, str], value: object, current: str | None) -> str | None:
    """The scenario a picker value selects: only a label the picker listed, never a path sent
    by the client (a web page the teacher opens could otherwise make the server read any YAML
    file).  Anything else keeps the current scenario."""
    return choices[value] if isinstance(value, str) and value in choices else current


@solara.component
def Page():
    """The app: scenario picker, the run controller, the model's controls and the main area."""
    choices = solara.use_memo(
        lambda: _choice_labels(list_scenarios(extra=os.environ.get(SCENARIO_ENV))), [])
    first = solara.use_memo(lambda: default_scenario(list(choices.values())), [])
    path, set_path = solara.use_state(first)
    scenario, load_error = solara.use_memo(lambda: _load(path), [path])
    params = solara.use_memo(lambda: make_model_params(path, scenario), [path])
    settings = solara.use_reactive(solara.use_memo(lambda: initial_settings(params), []))
    model = solara.use_reactive(solara.use_memo(lambda: TeachingModel(**settings.value), []))
    play_interval = solara.use_reactive(150)
    render_interval = solara.use_reactive(1)
    label = next((k for k, v in choices.items() if v == path), path)

    def choose(value: object) -> None:
        new = chosen_path(choices, value, path)
        if new == path:
            return
        new_scenario, _ = _load(new)
        fresh = initial_settings(make_model_params(new, new_scenario))
        settings.set(fresh)  # the controls now show the new file's values …
        model.set(TeachingModel(**fresh))  # … and the model runs it
        set_path(new)

    solara.Title("commnet")
    solara.Style(CSS)
    with solara.AppBar():
        solara.AppBarTitle(TITLE)
        solara.Button("Info", on_click=lambda: show_info.set(True), text=True,
                      classes=["commnet-info-button"], style={"color": "white"})
    with solara.Sidebar():
        with solara.Card("Scenario", classes=["commnet-scenario"]):
            if choices:
                solara.Select("Scenario file", value=label, values=list(choices), on_value=choose)
            if scenario is not None and scenario.description:
                solara.Text(scenario.description.strip(), style={"font-size": "0.85em"})
            if load_error:
                solara.Error("Scenario not loaded — see the message on the right.", dense=True)
        with solara.Card("Run", classes=["commnet-run"]):
            RunController(model, settings, play_interval, render_interval)
            solara.Text("Settings take effect when you press Reset.",
                        style={"opacity": "0.7", "font-size": "0.85em"})
        with solara.Card("Settings", classes=["commnet-settings"]):
            SettingsPanel(params, settings)
        with solara.Div(classes=["commnet-playback"]), solara.Details("Playback"):
            solara.SliderInt("Play interval (ms)", value=play_interval, min=1, max=500, step=10)
            solara.SliderInt("Steps per update", value=render_interval, min=1, max=100, step=1)
    InfoDialog()
    m = model.value
    with solara.Column(classes=["commnet-main"], style={"padding": "0 8px 8px 8px"}, gap="6px"):
        TopLine(m)
        PendingNotice(params, settings, m)
        ClassroomView(m)
        StatusView(m)
        with solara.Div(classes=["commnet-more"]):
            solara.Switch(label="Show the network and all seven charts (each step is slower)",
                          value=show_more)
        if show_more.value:
            if len(m.runs) > 1:
                with solara.Div(classes=["commnet-views", "commnet-pair"]):
                    NetworkView(m, width_in=8.0)
                    ChartsView(m, ncols=4)
            else:
                with solara.Div(classes=["commnet-views", "commnet-single"]):
                    NetworkView(m, width_in=4.9)
                    ChartsView(m, ncols=2)


def release_memory() -> None:
    """Collect garbage and hand freed heap back to the operating system (glibc ``malloc_trim``;
    a no-op elsewhere), so the server's memory falls back when sessions end."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _on_kernel_start():
    """Per browser session: when Solara closes the session (tab closed, or disconnected for
    longer than ``SOLARA_KERNEL_CULL_TIMEOUT``) its widgets and state are dropped; a moment
    later, once they are unreachable, :func:`release_memory`."""
    def on_close() -> None:
        timer = threading.Timer(2.0, release_memory)
        timer.daemon = True
        timer.start()
    return on_close


solara.lab.on_kernel_start(_on_kernel_start)

page = Page
