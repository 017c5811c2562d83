"""The browser app without a browser: its controls, its charts and its page under solara.render."""

import importlib.util
import io
import sys
import threading
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import ipyvuetify as v
import ipywidgets as widgets
import numpy as np
import pytest
import solara
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


def counter(day: int, end: int = 252) -> str:
    return f"Day {day} of {end}"


def _wait(condition, timeout: float = 30.0) -> None:
    # Reset and Play work in a thread: wait for what they must reach, not for a fixed time.
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the page did not reach the expected state"
        time.sleep(0.02)


def _chart_bytes(page) -> bytes | None:
    # While the overlay redraws, the tab's chart is briefly replaced: None until it is back.
    images = page.find(widgets.Image).widgets
    return bytes(images[0].value) if len(images) == 1 else None


def _pixels(png: bytes) -> np.ndarray:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(png)))


# ------------------------------------------------------------------------------ controls


def test_controls_are_the_ones_the_issue_asks_for():
    settings = app.scenario_settings("default")
    params = {**app.control_specs(settings), **settings}
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
    specs = app.control_specs(settings)
    # Read from the model at import, so a colleague's new mechanism shows up by itself.
    assert specs["mechanism"]["values"] == list(MECHANISMS)
    assert specs["network"]["values"] == list(NETWORKS)


def test_every_offered_value_is_valid_and_large_is_not_offered():
    assert "default" in app.APP_SCENARIOS and "large" not in app.APP_SCENARIOS
    assert "classroom" in app.APP_SCENARIOS
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
        # The principals' slider ends at the number of teams.
        settings = {**app.scenario_settings("default"), **corner}
        top = app.control_specs(settings)["n_principals"]["max"]
        make_params("default", **{**corner, "n_principals": min(corner["n_principals"], top)})
    fewer = app.with_change(app.scenario_settings("default"), "n_teams", 4)
    assert fewer["n_principals"] == 4


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


def test_settings_badge_and_scenario_length():
    settings = app.scenario_settings("classroom", "7")
    model = app.AppModel(settings=settings)
    assert model.seed == 7 and not app.settings_differ(settings, model)
    assert app.settings_differ({**settings, "seed": "8"}, model)
    assert app.settings_differ({**settings, "n_teams": 5}, model)
    assert model.end_day == 20
    assert model.advance(50) == 20 and model.day == 20 and not model.running
    assert model.advance(1) == 0  # never past the scenario's end


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


def _reset(rc) -> None:
    # Reset builds the model in a thread: done when the button is enabled again on day 0.
    _click(rc, "Reset")
    reset = rc.find(v.Btn, children=["Reset"])
    _wait(lambda: not reset.widget.disabled and counter(0) in _texts(rc))


def test_page_steps_and_redraws(page):
    assert counter(0) in _texts(page)
    chart = page.find(widgets.Image).widget
    before = bytes(chart.value)
    for _ in range(3):
        _click(page, "Step")
    assert counter(3) in _texts(page)
    assert _headline(page)["day"] == "3"
    assert bytes(page.find(widgets.Image).widget.value) != before


def test_days_per_step_take_round_values(page):
    slider = page.find(v.Slider).widgets[0]  # the run card's first slider
    slider.v_model = app.DAYS_PER_STEP.index(5)
    assert "Days per Step: 5" in _texts(page)
    _click(page, "Step")
    assert counter(5) in _texts(page) and _headline(page)["day"] == "5"


def test_every_tab_shows_its_view(page):
    _click(page, "Step")
    tabs = page.find(v.Tabs).widget
    names = [t.children[0] for t in page.find(v.Tab).widgets]
    assert names == list(app.TABS)
    for i, name in enumerate(names):
        if name in ("Runs", "Play a team"):
            continue
        tabs.v_model = i
        images = page.find(widgets.Image).widgets
        assert images, name
        before = [bytes(im.value) for im in images]
        _click(page, "Step")
        after = [bytes(im.value) for im in page.find(widgets.Image).widgets]
        assert len(after) == len(before) and all(len(b) > 1000 for b in after), name
        # Month ends only; the chosen day; a note, since the default scenario's index is not traded.
        if name not in ("Social graph", "Market day", "Index market"):
            assert after != before, f"{name} did not redraw after a step"


def test_view_options_switch_the_chart(page):
    _click(page, "Step")
    tabs = page.find(v.Tabs).widget
    tabs.v_model = app.TABS.index("Order book")
    depth = bytes(page.find(widgets.Image).widgets[0].value)
    page.find(v.BtnToggle).widget.v_model = 2  # index 2
    assert bytes(page.find(widgets.Image).widgets[0].value) != depth
    tabs.v_model = app.TABS.index("Social graph")
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
    assert "Settings changed: press Reset to run with them" in str(page.find(v.Html).widgets)
    _reset(page)
    description = next(t for t in _texts(page) if t.startswith("scenario "))
    assert "network watts_strogatz" in description
    assert "30 teams" in description and "seed 7 " in description


def test_choosing_a_scenario_loads_its_values(page):
    seed = page.find(v.TextField, label="Seed (same seed, same run)").widget
    seed.v_model = "9"
    seed.fire_event("keyup.enter", None)
    page.find(v.Select, label="Scenario").widget.v_model = "networked"
    _wait(lambda: any(t.startswith("scenario networked · seed 9 ") for t in _texts(page)))
    # The controls show the scenario's values, so Reset keeps its network...
    assert page.find(v.Select, label="Social network of the teams").widget.v_model == (
        "watts_strogatz"
    )
    assert page.find(v.Slider, label="Herding: 0.35").widget.v_model == 0.35
    description = next(t for t in _texts(page) if t.startswith("scenario "))
    assert description.startswith("scenario networked") and "network watts_strogatz" in description
    _click(page, "Step")
    _reset(page)
    # ...and Reset rebuilds the same scenario.
    description = next(t for t in _texts(page) if t.startswith("scenario "))
    assert description.startswith("scenario networked") and "network watts_strogatz" in description


def test_depth_view_explains_itself_for_other_mechanisms():
    model = SimpleNamespace(params=SimpleNamespace(mechanism="call"), n_goods=2)
    box, rc = solara.render(app.DepthView(model, 0, solara.reactive("index 0")), handle_error=False)
    alert = rc.find(v.Alert).widget
    assert "continuous double auction" in str(alert.children)
    rc.close()


# ------------------------------------------------------------------------------ issue 17


def test_charts_survive_series_of_unequal_length():
    # A redraw overlapping a step can read the day series and the regime a day apart.
    from llm_market.viz.style import new_figure, shade_regimes

    model = MarketModel(scenario="volatile_demand", seed=3)
    run_steps(model, 30)
    ax = new_figure(3).subplots()
    shade_regimes(ax, np.arange(541.0), np.zeros(542), model)
    shade_regimes(ax, np.arange(542.0), np.zeros(541), model)


PERMANENT = set(threading.enumerate())


def test_play_runs_until_paused_and_stops_when_the_page_closes():
    box, rc = solara.render(solara.AppLayout(children=[app.Page()]), handle_error=False)
    _click(rc, "▶ Play")
    _wait(lambda: any(t.startswith("Day ") and t != counter(0) for t in _texts(rc)))
    _click(rc, "❚❚ Pause")
    _wait(lambda: rc.find(v.Btn, children=["▶ Play"]).widgets)
    _click(rc, "▶ Play")
    threads = {t for t in threading.enumerate() if t.is_alive()}
    rc.close()  # the page closes while playing: its loop must end
    # Every thread that was running the loop ends (nothing keeps stepping a closed page).
    _wait(
        lambda: all(
            not t.is_alive() for t in threads - {threading.current_thread()} if t not in PERMANENT
        )
    )


def test_play_stops_at_the_end_of_a_scenario():
    model = app.AppModel(settings=app.scenario_settings("classroom"))
    box, rc = solara.render(
        app.RunControls(
            model,
            0,
            solara.reactive(model.settings),
            solara.reactive(False),
            solara.reactive(1),
            solara.reactive(0),
            False,
            "",
            lambda: None,
            lambda: None,
        ),
        handle_error=False,
    )
    rc.close()
    model.advance(25)
    box, rc = solara.render(
        app.RunControls(
            model,
            model.day,
            solara.reactive(model.settings),
            solara.reactive(False),
            solara.reactive(1),
            solara.reactive(0),
            False,
            "",
            lambda: None,
            lambda: None,
        ),
        handle_error=False,
    )
    assert rc.find(v.Btn, children=["▶ Play"]).widget.disabled
    assert "The end of scenario 'classroom' (20 days)" in str(rc.find(v.Alert).widget.children)
    rc.close()


def test_runs_are_kept_compared_overlaid_and_exported(page):

    _click(page, "Step")
    _click(page, "Step")
    page.find(v.Select, label="Market mechanism").widget.v_model = "call"
    _reset(page)
    _click(page, "Step")
    tabs = page.find(v.Tabs).widget
    tabs.v_model = app.TABS.index("Efficiency")
    before = bytes(page.find(widgets.Image).widget.value)
    select = page.find(v.Select, label="Overlay an earlier run (grey, dashed)").widget
    assert select.items == ["none", "run 1: default, seed 42"]
    select.v_model = select.items[1]
    _wait(lambda: _chart_bytes(page) not in (None, before))
    for name in ("Market", "Forecasts"):
        tabs.v_model = app.TABS.index(name)
        assert page.find(widgets.Image).widgets
    tabs.v_model = app.TABS.index("Runs")

    def table() -> str:
        return str(page.find(v.Html, tag="div").widgets)

    _wait(lambda: "run 1" in table() and "mechanism=call" in table())


def test_run_exports_have_every_series_and_log():
    import zipfile

    import pandas as pd

    from llm_market.viz.runs import RunRecord, comparison_rows, logs_zip, series_csv

    model = app.build_model("small")
    model.advance(4)
    csv = pd.read_csv(io.BytesIO(series_csv(model)))
    assert len(csv) == 5 and "efficiency" in csv.columns
    for fmt in ("csv", "parquet"):
        with zipfile.ZipFile(io.BytesIO(logs_zip(model, fmt))) as z:
            names = {n.split(".")[0] for n in z.namelist()}
            assert names == {"series", *model.logs}
    (row,) = comparison_rows([RunRecord(1, model)])
    assert row["days"] == "4" and row["scenario"] == "small"


def test_market_day_view_records_the_flow_without_changing_the_run():
    a = app.build_model("classroom")
    b = MarketModel(scenario="classroom", seed=42)
    a.advance(3)
    run_steps(b, 3)
    assert a.digest() == b.digest()
    flows = a.market.mechanism.flows
    assert set(flows) == {(d, 0) for d in (1, 2, 3)}
    assert flows[(3, 0)].prices.size == a.datacollector.model_vars["volume_0"][-1]
    assert _pixels(viz.figure_png(viz.market_day_figure(a, 0, 2))).std() > 0
    rows = dict(viz.classroom_comparison(a))
    (zi_c, zi_u, nobook, sell_all_high, sell_all_low) = rows.values()
    assert zi_c > zi_u and zi_c > nobook and 0 < nobook <= 1
    assert sell_all_low < zi_u < sell_all_high


def test_random_matching_without_a_book_loses_surplus():
    from llm_market.market.baseline import random_matching_efficiency

    rng = np.random.default_rng(0)
    values = rng.uniform(1, 9, 30)
    costs = rng.uniform(1, 9, 30)
    zi_c = [random_matching_efficiency(values, costs, rng) for _ in range(50)]
    zi_u = [random_matching_efficiency(values, costs, rng, constrained=False) for _ in range(50)]
    assert 0.6 < np.mean(zi_c) < 1.0 and np.mean(zi_u) < np.mean(zi_c)
    assert np.isnan(random_matching_efficiency([1.0], [2.0], rng))  # nothing can trade


def test_without_a_book_sellers_still_offer_their_cheapest_unit_first():
    from llm_market.market.baseline import random_matching_efficiency

    rng = np.random.default_rng(1)
    # One seller with units costing 1 and 8, one buyer valuing a unit at 9: the best trade is
    # the cost-1 unit, and it is the only one the seller offers until it sells.
    effs = [random_matching_efficiency([9.0], [8.0, 1.0], rng, sellers=[0, 0]) for _ in range(20)]
    assert effs == [1.0] * 20
    # Two sellers: the cost-8 unit may sell first, and then the buyer is gone.
    effs = [random_matching_efficiency([9.0], [8.0, 1.0], rng, sellers=[0, 1]) for _ in range(50)]
    assert min(effs) == pytest.approx(1 / 8) and max(effs) == 1.0


def test_a_person_plays_a_team_with_the_same_checks_as_any_policy():
    import dataclasses

    from llm_market.policies.human import play_team, suggestion

    a, b = MarketModel(seed=4), MarketModel(seed=4)
    run_steps(a, 3)
    run_steps(b, 3)
    human = play_team(a, 2)
    plan = suggestion(a, 2)
    obs = a.teams[2].observe(a.view)
    assert (
        "more than the budget"
        in human.submit(obs, dataclasses.replace(plan, research_spend=1e9))[0]
    )
    key = next(iter(plan.forecasts))
    bad = dataclasses.replace(plan, forecasts={**plan.forecasts, key: 1.5})
    assert "less than or equal to 1" in human.submit(obs, bad)[0]
    assert (
        "marginal cost"
        in human.submit(obs, dataclasses.replace(plan, asks=dict.fromkeys(plan.asks, 0.01)))[0]
    )
    mine = dataclasses.replace(plan, forecasts=dict.fromkeys(plan.forecasts, 0.5))
    assert human.submit(obs, mine) == []
    a.step()
    b.step()
    assert human.days_played == 1
    np.testing.assert_array_equal(a.teams[2].action.forecasts, 0.5)
    # The other teams decide exactly as without a person at the page.
    np.testing.assert_array_equal(a.teams[5].action.forecasts, b.teams[5].action.forecasts)


def test_play_tab_steps_one_day_as_a_team(page):
    _click(page, "Step")
    page.find(v.Tabs).widget.v_model = app.TABS.index("Play a team")
    _click(page, "Take over this team")
    _click(page, "Submit and step one day")
    assert counter(2) in _texts(page)
    assert any("You have played 1 day(s)" in t for t in _texts(page))
    assert "team 0 (you)" in str(page.find(v.Html, tag="div").widgets)


def test_index_market_tab_draws_the_traded_index():
    from llm_market import MarketModel

    model = MarketModel(scenario="market", n_teams=6, n_principals=2, n_clients=60, steps=30)
    chart = viz.IndexMarketChart(model)
    for _ in range(5):
        model.step()
    first = chart.png(model)
    model.step()
    second = chart.png(model)
    assert first != second and _pixels(second).std() > 0
    # A run whose index is not traded gets the note instead of an error.
    small = MarketModel(scenario="small")
    assert _pixels(viz.IndexMarketChart(small).png(small)).std() > 0
    assert "market" in app.APP_SCENARIOS
