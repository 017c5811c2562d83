"""The browser app without a browser: its controls, its charts and its page under solara.render."""

import importlib.util
import io
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import ipyvuetify as v
import ipywidgets as widgets
import numpy as np
import pytest
import solara
from mesa_versions import MESA_35, counter
from PIL import Image

from llm_market import MarketModel, viz
from llm_market.experiments.runner import run_steps
from llm_market.market.mechanisms import DEPTH_LEVELS
from llm_market.params import MECHANISMS, NETWORKS, make_params
from llm_market.recording.columns import BUDGETS, PRICE, good_column
from llm_market.viz.budgets import capital_history, funding_shares
from llm_market.viz.forecasts import NOINFO_COLOR
from llm_market.viz.series import series, trade_price_range, trailing_mean, window_revenue
from llm_market.viz.style import nice_ceil

ROOT = Path(__file__).resolve().parents[1]


def _load_app():
    # app.py sits at the repository root, which is not a package and not on sys.path.
    with warnings.catch_warnings():
        # Mesa's own ComponentsView trips a solara hook check at import.
        warnings.simplefilter("ignore")
        spec = importlib.util.spec_from_file_location("llm_market_app", ROOT / "app.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


app = _load_app()

CHARTS = [
    (viz.MarketChart, {}),
    (viz.DepthChart, {"good": 1}),
    (viz.SpreadChart, {"good": 1}),
    (viz.IndicesChart, {}),
    (viz.ForecastChart, {}),
    (viz.BudgetChart, {}),
    (viz.EfficiencyChart, {}),
    (viz.FactsChart, {}),
    (viz.GraphChart, {"color_by": "budget share"}),
    (viz.GraphChart, {"color_by": "Brier score"}),
    (viz.GraphChart, {"color_by": "forecast"}),
]


def _pixels(png: bytes) -> np.ndarray:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(png)))


# ------------------------------------------------------------------------------ controls


def test_controls_are_the_ones_the_issue_asks_for():
    settings = app.scenario_settings("default")
    params = {**app.model_params_for(settings), **app.control_specs(settings), **settings}
    for name in (
        "scenario",
        "seed",
        "n_teams",
        "n_principals",
        "mechanism",
        "network",
        "pivot_factor",
        "public_news_rate",
        "private_news_rate",
        "research_cost",
        "demand_persistence",
        "client_valuation",
        "reputation_prior",
    ):
        assert name in params
    assert app.model_params_for(settings)["seed"]["type"] == "InputText"
    specs = app.control_specs(settings)
    # Read from the model at import, so a colleague's new mechanism shows up by itself.
    assert specs["mechanism"]["values"] == list(MECHANISMS)
    assert specs["network"]["values"] == list(NETWORKS)


def test_every_offered_value_is_valid_and_large_is_not_offered():
    assert "default" in app.APP_SCENARIOS and "large" not in app.APP_SCENARIOS
    for scenario in app.APP_SCENARIOS:
        settings = app.scenario_settings(scenario)
        for name, spec in app.CONTROLS.items():
            value = settings[name]
            if spec["type"] == "Select":
                assert value in spec["values"]
            else:
                assert spec["min"] <= value <= spec["max"]
    # The corners of the ranges build, including the most principals against the fewest teams.
    lo = {n: s["min"] for n, s in app.CONTROLS.items() if s["type"] != "Select"}
    hi = {n: s["max"] for n, s in app.CONTROLS.items() if s["type"] != "Select"}
    hi["n_teams"] = lo["n_teams"]
    for corner in (lo, hi):
        make_params("default", **corner)


@pytest.mark.parametrize("scenario", app.APP_SCENARIOS)
def test_untouched_controls_reproduce_the_scenario(scenario):
    # Explicit parameters override a scenario: controls must start at the scenario's values or
    # Reset would quietly undo it (a "networked" run without a network).
    model = app.build_model(scenario)
    assert model.params == make_params(scenario)
    assert model.seed == 42


def test_seed_text_is_always_a_valid_reproducible_seed():
    assert app.parse_seed("42") == 42
    assert app.parse_seed(" 7 ") == 7
    assert app.parse_seed(7) == 7
    for text in ("class A", "-3", "4.5", ""):
        seed = app.parse_seed(text)
        assert seed >= 0 and seed == app.parse_seed(text)
    m = app.AppModel(seed="class A")
    assert m.seed == app.parse_seed("class A") and "'class A'" in app.run_description(m)


def _mesa_checks(model: MarketModel, params: dict) -> None:
    # Mesa's ModelCreator (SolaraViz's sidebar) checks model_params against the model's
    # signature when it renders, and raises on a parameter the model would not accept.
    from mesa.visualization.solara_viz import ModelCreator  # after _load_app(): see there

    box, rc = solara.render(ModelCreator(solara.reactive(model), params), handle_error=False)
    rc.close()


def test_app_model_passes_mesas_parameter_check():
    settings = solara.reactive(app.scenario_settings("networked"))
    params = app.model_params_for(settings, "3")
    if MESA_35:  # Mesa 3.5 lets any name through **params; the plain model refuses it itself
        with pytest.raises(ValueError, match="settings"):
            MarketModel(scenario="small", settings=params["settings"])
    else:
        with pytest.raises(ValueError):  # the check runs: the plain model takes no "settings"
            _mesa_checks(MarketModel(scenario="small"), params)
    _mesa_checks(app.AppModel(seed="3", settings=settings), params)
    # What Reset does: the seed from Mesa's input, the settings as they stand now.
    settings.set({**settings.value, "n_teams": 12})
    m = app.AppModel(seed=params["seed"]["value"], settings=params["settings"])
    assert isinstance(m, MarketModel) and m.seed == 3 and m.params.network == "watts_strogatz"
    assert m.params.n_teams == 12 and m.scenario_name == "networked"


# ------------------------------------------------------------------------------ charts


@pytest.mark.parametrize("scenario", ["default", "networked", "strict_budgets"])
def test_every_chart_draws_at_every_stage(scenario):
    model = app.build_model(scenario)
    charts = [(cls(model), opts) for cls, opts in CHARTS]
    for steps in (0, 1, 25):
        run_steps(model, steps)
        for chart, opts in charts:
            img = _pixels(chart.png(model, **opts))
            assert img.shape[0] > 300 and img.shape[1] > 300
            assert img.std() > 0  # not a blank canvas


def test_blitted_redraws_match_a_fresh_full_draw():
    # The cached background must be redrawn whenever anything in it changed: after many steps,
    # a chart that blitted all along looks exactly like one drawn from scratch.
    model = app.build_model("networked")
    # The graph's colourings differ in their scale and heading only: two of them suffice.
    cases = [c for c in CHARTS if c[1].get("color_by") != "budget share"]
    charts = [(cls(model), opts) for cls, opts in cases]

    # 30 days cross a month end (a pivot, a new day-axis range) and several resolution days.
    def redraw() -> None:
        for chart, opts in charts:
            chart.png(model, **opts)

    run_steps(model, 30, on_step=redraw)
    for (chart, opts), (cls, _) in zip(charts, cases, strict=True):
        np.testing.assert_array_equal(
            _pixels(chart.png(model, **opts)), _pixels(cls(model).png(model, **opts)), cls.__name__
        )


def test_one_shot_figures_and_helpers():
    model = MarketModel(scenario="small", seed=2)
    run_steps(model, 30)
    for fn in (
        viz.market_figure,
        viz.depth_figure,
        viz.spread_figure,
        viz.indices_figure,
        viz.forecast_figure,
        viz.budget_figure,
        viz.efficiency_figure,
        viz.facts_figure,
        viz.graph_figure,
    ):
        assert _pixels(viz.figure_png(fn(model))).std() > 0
    numbers = dict(viz.headline(model))
    assert numbers["day"] == "30" and numbers["active teams"] == "8 of 8"
    steps, shares = funding_shares(model)
    assert steps[0] == 0 and np.allclose(shares.sum(axis=1), 1.0)
    rows = viz.depth_rows(model, 0)
    assert 0 < len(rows) <= DEPTH_LEVELS and rows[0][0] == "1"
    assert nice_ceil(0.26) == 0.3 and nice_ceil(7) == 8 and nice_ceil(1e-3) == 1e-3
    np.testing.assert_allclose(trailing_mean(np.array([1.0, np.nan, 3.0, 5.0]), 2), [1, 1, 3, 4])


@pytest.fixture(scope="module")
def economy():
    """The default scenario after two months: records published, capital moved twice."""
    model = MarketModel(seed=5)
    run_steps(model, 45)
    return model


def test_forecasts_view_has_the_no_information_benchmark_and_the_earnings_scatter(economy):
    model = economy
    chart = viz.ForecastChart(model)
    chart.update(model)
    assert np.isfinite(model.noinfo_brier)
    for ax in (chart.ax, chart.axe):  # the leaderboard and the scatter both mark the benchmark
        xs = [ln.get_xdata()[0] for ln in ax.lines if ln.get_color() == NOINFO_COLOR]
        assert xs == [pytest.approx(model.noinfo_brier)]
    # Every scored team is a dot at (its rolling Brier, its revenue over the same window).
    (dots,) = chart.axe.collections
    scored = np.isfinite(model.team_brier)
    expected = np.c_[model.team_brier[scored], window_revenue(model, model.params.pivot_window)]
    np.testing.assert_allclose(dots.get_offsets(), expected[scored])
    assert any("rank correlation" in t.get_text() for t in chart.axe.texts)
    # The leaderboard marks each team's published record and prints what its report saves.
    records = [c for c in chart.ax.collections if c.get_offsets().shape[0] == scored.sum()]
    assert records
    saves = {t.get_text().strip() for t in chart.ax.texts} - {""}
    q = model.view.market.quality[scored].mean(axis=1)
    assert {f"{v:.2f}" for v in q} <= saves


def test_budgets_view_shows_capital_rebuilt_from_the_budget_log(economy):
    model = economy
    steps, capital = capital_history(model)
    assert steps[0] == 0
    np.testing.assert_allclose(capital[-1], model.accounts.capital, atol=1e-9)
    kinds = set(model.logs[BUDGETS].column("kind"))
    assert {"investor_flow", "funding"} <= kinds  # principals' own rows are in the log
    chart = viz.BudgetChart(model)
    chart.update(model)
    assert len(chart.axk.lines) == 1 + len(model.principals)  # start line and one per principal
    # Principals' own rows (team -1) never enter the teams' funding shares.
    rounds, shares = funding_shares(model)
    assert shares.shape[1] == model.n_teams and np.allclose(shares.sum(axis=1), 1.0)


def test_penalty_cuts_and_dividends_are_in_the_capital_history():
    model = MarketModel(seed=1, overbudget="penalize")
    run_steps(model, 70)
    assert "penalty_cut" in set(model.logs[BUDGETS].column("kind"))
    np.testing.assert_allclose(capital_history(model)[1][-1], model.accounts.capital, atol=1e-9)


def test_market_view_shows_the_price_range_where_there_is_no_competitive_price(economy):
    model = economy
    (close,) = series(model, good_column(PRICE, 0))
    low, high = trade_price_range(model, close.size)
    traded = np.isfinite(low[0])
    assert traded.sum() > 30
    # The close is one of the day's trades, so it lies within the day's range.
    assert np.all(low[0][traded] <= close[traded] + 1e-12)
    assert np.all(close[traded] <= high[0][traded] + 1e-12)
    chart = viz.MarketChart(model)
    labels = [t.get_text() for t in chart.ax.get_legend().get_texts()]
    assert "competitive price (while sellers are alike)" in labels
    induced = viz.MarketChart(MarketModel(seed=5, client_valuation="induced"))
    assert "competitive price" in [t.get_text() for t in induced.ax.get_legend().get_texts()]


def test_report_has_the_new_panels(economy, tmp_path):
    from llm_market.viz.report import plot_report

    path = plot_report(economy, tmp_path / "report.png")
    assert _pixels(path.read_bytes()).shape[0] > 1300  # four rows of panels


# ------------------------------------------------------------------------------ the page


@pytest.fixture
def page():
    box, rc = solara.render(solara.AppLayout(children=[app.Page()]), handle_error=False)
    yield rc
    rc.close()


def _texts(rc) -> list[str]:
    # solara.Text renders a span; find() stops at the outermost match, so filter on the tag.
    spans = rc.find(v.Html, tag="span").widgets
    return [w.children[0] for w in spans if w.children and isinstance(w.children[0], str)]


def _headline(rc) -> dict[str, str]:
    texts = _texts(rc)
    start = texts.index("day")
    return dict(zip(texts[start::2], texts[start + 1 :: 2], strict=False))


def _click(rc, label: str) -> None:
    rc.find(v.Btn, children=[label]).widget.click()


def test_page_steps_and_redraws(page):
    assert counter(0) in _texts(page)
    chart = page.find(widgets.Image).widget
    before = bytes(chart.value)
    for _ in range(3):
        _click(page, "Step")
    assert counter(3) in _texts(page)
    assert _headline(page)["day"] == "3"
    assert bytes(page.find(widgets.Image).widget.value) != before


def test_render_interval_is_steps_per_redraw(page):
    page.find(v.Slider, label="Render Interval (steps)").widget.v_model = 5
    _click(page, "Step")
    assert counter(5) in _texts(page) and _headline(page)["day"] == "5"


def test_every_tab_shows_its_view(page):
    _click(page, "Step")
    tabs = page.find(v.Tabs).widget
    names = [t.children[0] for t in page.find(v.Tab).widgets]
    assert names == [
        "Market",
        "Order book",
        "Indices",
        "Forecasts",
        "Budgets",
        "Efficiency",
        "Stylized facts",
        "Social graph",
    ]
    for i, name in enumerate(names):
        tabs.v_model = i
        images = page.find(widgets.Image).widgets
        assert images, name
        before = [bytes(im.value) for im in images]
        _click(page, "Step")
        after = [bytes(im.value) for im in page.find(widgets.Image).widgets]
        assert len(after) == len(before) and all(len(b) > 1000 for b in after), name
        if name != "Social graph":  # funding shares change at month ends only
            assert after != before, f"{name} did not redraw after a step"


def test_view_options_switch_the_chart(page):
    _click(page, "Step")
    tabs = page.find(v.Tabs).widget
    tabs.v_model = 1  # order book
    depth = bytes(page.find(widgets.Image).widgets[0].value)
    page.find(v.BtnToggle).widget.v_model = 2  # index 2
    assert bytes(page.find(widgets.Image).widgets[0].value) != depth
    tabs.v_model = 7  # social graph
    share = bytes(page.find(widgets.Image).widget.value)
    toggle = page.find(v.BtnToggle).widget
    toggle.v_model = viz.COLOR_BY.index("Brier score")
    assert bytes(page.find(widgets.Image).widget.value) != share


def test_reset_rebuilds_the_model_from_the_controls(page):
    for _ in range(2):
        _click(page, "Step")
    page.find(v.Select, label="Social network of the teams").widget.v_model = "watts_strogatz"
    page.find(v.Slider, label="Teams: 20").widget.v_model = 30
    assert page.find(v.Slider, label="Teams: 30").widget.v_model == 30  # the label shows it
    seed = page.find(v.TextField, label="Seed (same seed, same run)").widget
    seed.v_model = "7"
    seed.fire_event("keyup.enter", None)  # the text counts once the user presses Enter
    assert counter(2) in _texts(page)  # nothing happens before Reset
    _click(page, "Reset")
    assert counter(0) in _texts(page)
    description = next(t for t in _texts(page) if t.startswith("scenario "))
    assert "network watts_strogatz" in description
    assert "30 teams" in description and "seed 7 " in description


def test_choosing_a_scenario_loads_its_values(page):
    page.find(v.Select, label="Scenario").widget.v_model = "networked"
    # The controls show the scenario's values, so Reset keeps its network...
    assert page.find(v.Select, label="Social network of the teams").widget.v_model == (
        "watts_strogatz"
    )
    assert page.find(v.Slider, label="Herding: 0.35").widget.v_model == 0.35
    description = next(t for t in _texts(page) if t.startswith("scenario "))
    assert description.startswith("scenario networked") and "network watts_strogatz" in description
    _click(page, "Step")
    _click(page, "Reset")
    # ...and Reset rebuilds the same scenario.
    description = next(t for t in _texts(page) if t.startswith("scenario "))
    assert description.startswith("scenario networked") and "network watts_strogatz" in description


def test_depth_view_explains_itself_for_other_mechanisms():
    model = SimpleNamespace(params=SimpleNamespace(mechanism="call"), n_goods=2)
    box, rc = solara.render(app.DepthView(model, 0, solara.reactive("index 0")), handle_error=False)
    alert = rc.find(v.Alert).widget
    assert "continuous double auction" in str(alert.children)
    rc.close()
