"""The teaching app's page: Mesa's SolaraViz around :class:`~.components.TeachingModel`.

Serve it with ``commnet app`` (:func:`simulation.app.launch.launch`), or directly with
``solara run simulation.app.app`` (``COMMNET_APP_SCENARIO`` names the scenario to open).

Layout: the app bar has the title and an **Info** button (NetLogo-style Info tab in a dialog);
the sidebar has the scenario picker, then SolaraViz's controls (Reset, ▶/❚❚, Step), the
controls generated from the scenario schema and Mesa's step counter; the main area has a
status card (month counter, what runs, notes, and any error message), the network view and
the live charts — side by side, or stacked when two runs are compared.
"""

from __future__ import annotations

import os
from pathlib import Path

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from ..loader import ScenarioError, load_scenario
from ..scenario import Scenario
from .components import (
    COLOUR_MODES,
    INFO_MARKDOWN,
    SCENARIO_ENV,
    ChartRenderer,
    TeachingModel,
    default_scenario,
    figure_png,
    list_scenarios,
    make_model_params,
    network_figure,
)

__all__ = ["ChartsView", "NetworkView", "Page", "StatusView", "Viewer"]

TITLE = "commnet — commissioning networks"

#: Per browser session (Solara scopes module-level reactive variables to the session).
colour_mode = solara.reactive(COLOUR_MODES[0])
show_info = solara.reactive(False)


def _load(path: str | None) -> tuple[Scenario | None, str | None]:
    """The validated scenario, or the validation message."""
    if not path:
        return None, "no scenario file: put one in scenarios/ or run `commnet app FILE.yaml`"
    try:
        return load_scenario(path), None
    except ScenarioError as exc:
        return None, str(exc)


@solara.component
def NetworkView(model: TeachingModel):
    """The network, coloured by the chosen mode; one panel per run."""
    update_counter.get()
    mode = colour_mode.value

    def render():
        if not model.runs:
            return None, []
        fig, notes = network_figure(model.runs, mode)
        return figure_png(fig), notes

    png, notes = solara.use_memo(render, [id(model), model.month, mode])
    with solara.Card("Network", classes=["commnet-network"]):
        with solara.Row(gap="8px", style={"align-items": "center"}):
            solara.Text("Colour by:")
            solara.ToggleButtonsSingle(value=colour_mode, values=list(COLOUR_MODES), dense=True)
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
    with solara.Card("Charts (whole network)", classes=["commnet-charts"]):
        if png is None:
            solara.Text("No charts: see the message above.")
        else:
            solara.Image(png, width="100%", classes=["commnet-charts-image"])


@solara.component
def StatusView(model: TeachingModel):
    """Month counter, what is running, notes and — for bad input — the message."""
    update_counter.get()
    with solara.Column(classes=["commnet-status"], gap="2px"):
        if model.error:
            solara.Error(f"This scenario cannot be run:\n{model.error}",
                         classes=["commnet-error"], style={"white-space": "pre-wrap"})
            solara.Text("Fix the file, pick another scenario, or change the settings and press "
                        "Reset.")
            return
        spec = model.spec
        solara.Text(f"Month {model.month} of {model.months}", classes=["commnet-month"],
                    style={"font-size": "1.3em", "font-weight": "bold"})
        solara.Text(f"Scenario: {spec.name} ({Path(model.scenario_path).name}), seed "
                    f"{model.seed_value}")
        for run in model.runs:
            m = run.model
            label = f"{run.label}: " if run.label else ""
            changed = ", ".join(o for o in run.overrides) or "as in the file"
            solara.Text(f"{label}{m.n_agents:,} agents, {m.ties.m:,} ties, "
                        f"{m.n_groups} group(s); settings: {changed}")
        if model.month:
            solara.Text(f"Last step: {1000 * model.last_step_seconds:.0f} ms")
        if model.month >= model.months:
            solara.Info("Run complete. Press Reset to start again.", dense=True)
        for note in model.notes:
            solara.Info(note, dense=True)
        solara.Text("Settings take effect when you press Reset.", style={"opacity": "0.7"})


@solara.component
def InfoDialog():
    """The Info tab (what it is, how it works, how to use it, …) in a dialog."""
    with solara.v.Dialog(v_model=show_info.value, on_v_model=show_info.set, max_width=900,
                         scrollable=True):
        with solara.Card("About this model", classes=["commnet-info"]):
            solara.Markdown(INFO_MARKDOWN)
            solara.Button("Close", on_click=lambda: show_info.set(False), text=True)


@solara.component
def Viewer(path: str | None, scenario: Scenario | None):
    """SolaraViz (controls, Reset/Play/Step, parameters, step counter) and the main area.

    The model is a reactive variable shared with SolaraViz, whose Reset replaces it; the main
    area is drawn here rather than in SolaraViz's draggable grid so that the network and the
    charts get sizes that read well on a projector.
    """
    initial = solara.use_memo(lambda: TeachingModel(path), [])
    params = solara.use_memo(lambda: make_model_params(path, scenario), [])
    model = solara.use_reactive(initial)
    SolaraViz(model, components=[], model_params=params, name=TITLE, play_interval=150)
    m = model.value
    with solara.Column(classes=["commnet-main"], style={"padding": "8px"}):
        StatusView(m)
        if len(m.runs) > 1:
            NetworkView(m)
            ChartsView(m, ncols=3)
        else:
            with solara.ColumnsResponsive(default=12, large=[6, 6]):
                NetworkView(m)
                ChartsView(m, ncols=2)


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
    """The app: scenario picker, Info, and a :func:`Viewer` rebuilt when the scenario changes."""
    choices = solara.use_memo(
        lambda: _choice_labels(list_scenarios(extra=os.environ.get(SCENARIO_ENV))), [])
    path, set_path = solara.use_state(default_scenario(list(choices.values())))
    scenario, load_error = solara.use_memo(lambda: _load(path), [path])
    label = next((k for k, v in choices.items() if v == path), path)

    with solara.AppBar():
        solara.Button("Info", on_click=lambda: show_info.set(True), text=True,
                      classes=["commnet-info-button"], style={"color": "white"})
    with solara.Sidebar():
        with solara.Card("Scenario"):
            if choices:
                solara.Select("Scenario file", value=label, values=list(choices),
                              on_value=lambda v: set_path(chosen_path(choices, v, path)))
            if scenario is not None and scenario.description:
                solara.Text(scenario.description.strip(), style={"font-size": "0.85em"})
            if load_error:
                solara.Error("Scenario not loaded — see the message on the right.", dense=True)
    InfoDialog()
    Viewer(path, scenario).key(f"viewer-{path}")


page = Page
