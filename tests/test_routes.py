"""``commnet routes``: the exact Shapley decomposition over the knowledge routes."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation.experiment.routes import (
    ROUTES,
    coalition_label,
    coalition_overrides,
    routes_table,
    shapley,
    shapley_loop,
)

ROOT = Path(__file__).resolve().parents[1]


def _game(v, n):
    """Coalition values indexed by bitmask, from a function of frozensets."""
    return np.array([v(frozenset(i for i in range(n) if k >> i & 1)) for k in range(1 << n)])


def test_additive_game_shares_are_the_individual_contributions():
    a = [0.3, -0.1, 0.05, 0.0, 0.25]
    v = lambda s: 0.7 + sum(a[i] for i in s)  # noqa: E731
    np.testing.assert_allclose(shapley(_game(v, 5)), a, atol=1e-12)
    np.testing.assert_allclose(shapley_loop(v, 5), a, atol=1e-12)


def test_symmetric_two_player_game_by_hand():
    # v({}) = 0, v({1}) = v({2}) = 1, v({1, 2}) = 3: each adds 1 alone and 2 after the other
    v = {frozenset(): 0.0, frozenset({0}): 1.0, frozenset({1}): 1.0, frozenset({0, 1}): 3.0}
    np.testing.assert_allclose(shapley(_game(v.__getitem__, 2)), [1.5, 1.5])
    assert shapley_loop(v.__getitem__, 2) == [1.5, 1.5]


def test_substitutes_and_complements_by_hand():
    # two perfect substitutes (either gives 1) share 1/2 each; a dummy gets 0
    sub = lambda s: 1.0 if s & {0, 1} else 0.0  # noqa: E731
    np.testing.assert_allclose(shapley(_game(sub, 3)), [0.5, 0.5, 0.0])
    # majority of three: 1/3 each
    maj = lambda s: 1.0 if len(s) >= 2 else 0.0  # noqa: E731
    np.testing.assert_allclose(shapley(_game(maj, 3)), [1 / 3] * 3)


def test_random_games_match_the_loop_and_add_up():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 5):
        values = rng.normal(size=(4, 1 << n))
        phi = shapley(values)
        for g in range(4):
            loop = shapley_loop(lambda s, g=g, values=values: values[g, sum(1 << i for i in s)], n)
            np.testing.assert_allclose(phi[g], loop, atol=1e-12)
        np.testing.assert_allclose(phi.sum(-1), values[:, -1] - values[:, 0], atol=1e-12)
    with pytest.raises(ValueError):
        shapley(np.zeros(6))
    assert np.isnan(shapley(np.array([0.0, np.nan, 1.0, 2.0]))).all()


def test_coalitions_and_table():
    assert coalition_overrides(0b00101) == [
        "knowledge_routes.observation=true", "knowledge_routes.activity_data=false",
        "knowledge_routes.informal_ties=true", "knowledge_routes.locality_meetings=false",
        "knowledge_routes.board_gps=false"]
    assert coalition_label(0) == "none" and coalition_label(31) == "all"
    assert coalition_label(0b10010) == "activity_data+board_gps"
    a = np.array([0.3, 0.1, 0.05, 0.0, 0.25])
    games = np.array([_game(lambda s, d=d: d + sum(a[i] for i in s), 5) for d in (0.0, 0.1, 0.2)])
    table, coal = routes_table({"relevance_skill": games})
    assert list(table.columns) == ["route", "metric", "share", "ci_low", "ci_high", "n"]
    assert table.route.tolist() == list(ROUTES) and (table.n == 3).all()
    np.testing.assert_allclose(table.share, a)
    total = coal[coal.coalition == "all − none"].value.iloc[0]
    assert total == pytest.approx(a.sum())
    assert len(coal) == 33


@pytest.mark.slow
def test_routes_command_at_tiny_scale(tmp_path, monkeypatch):
    """Two replicates of all 32 combinations at 5% scale for 12 months: the files, the
    common seeds, and shares that add up to all − none in every replicate."""
    from typer.testing import CliRunner

    from simulation.cli import app

    monkeypatch.chdir(ROOT)
    out = tmp_path / "routes"
    res = CliRunner().invoke(app, ["routes", "scenarios/east_of_england_2013.yaml",
                                   "--replicates", "2", "--scale", "0.05", "--steps", "12",
                                   "--seed", "5", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "routes.csv")
    assert list(table.columns) == ["route", "metric", "share", "ci_low", "ci_high", "n"]
    assert set(table.metric) == {"relevance_skill", "misallocated_per_head"}
    coal = pd.read_csv(out / "routes_coalitions.csv")
    for metric, t in table.groupby("metric"):
        total = coal[(coal.metric == metric) & (coal.coalition == "all − none")].value.iloc[0]
        assert t.share.sum() == pytest.approx(total)  # efficiency, on the means
    # no route: no local knowledge at all, so skill is 0 (the floor) in every replicate
    none = coal[(coal.metric == "relevance_skill") & (coal.coalition == "none")].iloc[0]
    assert abs(none.value) < 1e-9
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 5 and len(manifest["replicate_seeds"]) == 2
    assert len(manifest["scenario_hash"]) == 16 and manifest["routes"] == list(ROUTES)
    assert (out / "routes.png").stat().st_size > 0


def test_sensitivity_grid_is_the_plausible_range():
    from simulation.experiment.routes import sensitivity_grid
    from simulation.provenance import provenance

    grid = sensitivity_grid(None)
    lag, share = provenance("observation.data_lag"), provenance("observation.activity_supply_share")
    assert grid == [("observation.data_lag", round(lag.plausible[0])),
                    ("observation.data_lag", round(lag.plausible[1])),
                    ("observation.activity_supply_share", share.plausible[0]),
                    ("observation.activity_supply_share", share.plausible[1])]
