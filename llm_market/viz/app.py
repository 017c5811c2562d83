"""llm-market in the browser: a Mesa SolaraViz page for :class:`~llm_market.model.MarketModel`.

Start it with ``llm-market app`` (or ``make app``, or ``solara run app.py`` in a checkout, whose
``app.py`` re-exports this module) and open http://localhost:8765. It needs no network and no
API keys: the model is the heuristic-policy market, and Solara's JavaScript comes from the
``solara-assets`` package instead of a CDN.

The sidebar holds the scenario and the model's parameters, then Mesa's controls (Step, Play,
Reset, the play and render intervals) and the seed. Choosing a scenario loads its values into
the parameters and restarts the run; Reset rebuilds the model from the parameters and seed as
they stand. "Render Interval (steps)" is the number of days each Step (and each redraw while
playing) advances. The main column shows headline numbers and the views, one per tab; only the
open tab is drawn, so stepping stays fast.

The figures live in :mod:`llm_market.viz`, one module per view; this file only arranges them.
"""

from __future__ import annotations

import zlib
from typing import Any, get_args

import solara
import solara.lab
from mesa.visualization import SolaraViz
from mesa.visualization.solara_viz import UserInputs
from mesa.visualization.utils import update_counter

from llm_market import MarketModel, viz
from llm_market.params import MECHANISMS, NETWORKS, SCENARIOS, Params, make_params

DEFAULT_SCENARIO = "default"
DEFAULT_SEED = "42"

# The parameters a user can change, with ranges in which every combination is valid and the
# model stays quick enough to redraw after every step: at most 8 principals against at least 8
# teams, so n_principals <= n_teams always holds.
CONTROLS: dict[str, dict[str, Any]] = {
    "n_teams": {"type": "SliderInt", "label": "Teams", "min": 8, "max": 100, "step": 1},
    "n_principals": {"type": "SliderInt", "label": "Principals", "min": 1, "max": 8, "step": 1},
    "mechanism": {
        "type": "Select",
        "label": "Market mechanism",
        # Read at import so that mechanisms added to the model appear here without an edit.
        "values": list(MECHANISMS),
    },
    "network": {"type": "Select", "label": "Social network of the teams", "values": list(NETWORKS)},
    "herding_weight": {
        "type": "SliderFloat",
        "label": "Herding",
        "min": 0.0,
        "max": 0.9,
        "step": 0.05,
    },
    "pivot_factor": {
        "type": "SliderFloat",
        "label": "Pivot factor",
        "min": 0.0,
        "max": 1.0,
        "step": 0.05,
    },
    "public_news_rate": {
        "type": "SliderFloat",
        "label": "Public news",
        "min": 0.0,
        "max": 2.0,
        "step": 0.1,
    },
    "private_news_rate": {
        "type": "SliderFloat",
        "label": "Private news",
        "min": 0.0,
        "max": 1.0,
        "step": 0.05,
    },
    "research_cost": {
        "type": "SliderFloat",
        "label": "Research cost",
        "min": 0.1,
        "max": 5.0,
        "step": 0.1,
    },
    "demand_persistence": {
        "type": "SliderFloat",
        "label": "Demand persistence",
        "min": 0.5,
        "max": 1.0,
        "step": 0.01,
    },
    "client_valuation": {
        "type": "Select",
        "label": "Clients value a report by",
        "values": list(get_args(Params.model_fields["client_valuation"].annotation)),
    },
    "reputation_prior": {
        "type": "SliderFloat",
        "label": "Reputation prior",
        "min": 0.0,
        "max": 500.0,
        "step": 10.0,
    },
}

# Slider labels stay short (a long label squeezes the slider to a dot); this says what they mean.
CONTROLS_HELP = (
    "Herding: weight teams put on their neighbours' forecasts. Pivot factor: how far each "
    "principal moves funding toward its best teams every month. Public news: items per index "
    "per day, seen by all; private news: items per team per day. Research cost: higher means a "
    "unit of spend buys less precision. Demand persistence: daily chance the demand regime "
    "stays as it is. Clients value a report by: 'decision', what the seller's published record "
    "saves them against the free no-information forecast; 'induced', a value that is the same "
    "whoever sells. Reputation prior: how many questions' worth of the average record a "
    "team's own record is blended with (large: clients cannot tell teams apart)."
)


# The views, one tab each, in order. Most are a caption over one chart; the order book and the
# social graph have controls of their own (:func:`DepthView`, :func:`GraphView`).
TABS = (
    "Market",
    "Order book",
    "Indices",
    "Forecasts",
    "Budgets",
    "Efficiency",
    "Stylized facts",
    "Social graph",
)
CHART_TABS: dict[str, tuple[str, type[viz.Chart]]] = {
    "Market": (
        "Each good is a forecast report on one index, sold by the teams to clients. A client "
        "values a report by what its seller's published record saves it against the free "
        "no-information forecast, so reports differ by seller: the band is the day's cheapest "
        "to dearest trade. Background: the demand regime (red high, blue low).",
        viz.MarketChart,
    ),
    "Indices": (
        "Teams forecast the probability that an index closes at or above a strike on a "
        "given day. Segments are the open questions; the number is the crowd's forecast.",
        viz.IndicesChart,
    ),
    "Forecasts": (
        "Brier score: the mean squared error of a probability forecast (0 is perfect, "
        "0.25 is always saying 50%). The orange line is the free no-information forecast "
        "(the index path alone): a team no better than it saves a client nothing. A calibrated "
        "forecaster's dots lie on the diagonal. Bottom right: does a better forecast earn more?",
        viz.ForecastChart,
    ),
    "Budgets": (
        "Every month end each principal moves funding toward its best teams (by the "
        "pivot factor) and funds them with a share of its capital; investors move capital "
        "toward the principals whose teams earn. HHI and Gini measure how concentrated the "
        "funding has become.",
        viz.BudgetChart,
    ),
    "Efficiency": (
        "Efficiency 100% means the trades created all the value the day's bids and "
        "costs allowed. Surplus splits that value between clients and teams.",
        viz.EfficiencyChart,
    ),
    "Stylized facts": (
        "Do report prices move like real asset prices? Real returns have fat tails, "
        "returns without autocorrelation, and autocorrelated absolute returns "
        "(volatility clustering).",
        viz.FactsChart,
    ),
}


def parse_seed(text: int | str) -> int:
    """The integer seed for what was typed: the number itself, or a stable hash of other text.

    Mesa's ``InputText`` hands the model a string. A whole number >= 0 is used as is; anything
    else ("class A", "-3") becomes its CRC-32, so any text is a valid, reproducible seed and a
    typo never stops Reset.
    """
    s = str(text).strip()
    try:
        value = int(s)
    except ValueError:
        value = -1
    return value if value >= 0 else zlib.crc32(s.encode())


class AppModel(MarketModel):
    """:class:`MarketModel` as the app builds it: the seed arrives as text, the rest as settings.

    Mesa's SolaraViz rebuilds the model on Reset with ``type(model)(**parameters)``, where the
    parameters are its ``model_params``: here the seed, typed into Mesa's own input, and the
    app's :func:`scenario_settings` (a reactive dict holding the scenario and every control),
    read when Reset is pressed. The settings live in the app rather than in Mesa's parameter
    state because choosing a scenario must reset every control to the scenario's values, and
    Mesa keeps its parameter state out of reach (in the sidebar, which a remount does not
    reach). Mesa checks ``model_params`` against the signature and accepts names it does not
    know only through an argument named exactly ``kwargs``; hence this thin subclass. Mesa 3.5's
    Reset also passes ``scenario=``, an empty Mesa ``Scenario`` object (Mesa's own parameter
    set, not a preset): it carries nothing the app set, so it is ignored and the preset comes
    from the settings.

    Args:
        scenario: Name of a preset in :data:`~llm_market.params.SCENARIOS`, or the Mesa
            ``Scenario`` object Mesa 3.5's Reset passes (ignored).
        seed: The seed as typed (see :func:`parse_seed`).
        settings: A dict (or a ``solara.Reactive`` of one) with ``scenario`` and parameter
            values; explicit keywords override it.
        **kwargs: Parameter values that override the scenario's.
    """

    def __init__(
        self,
        scenario: Any = None,
        seed: int | str = DEFAULT_SEED,
        settings: Any = None,
        **kwargs: Any,
    ):
        values = dict(getattr(settings, "value", settings) or {})
        values.update(kwargs)
        if not isinstance(scenario, str):
            scenario = None
        scenario = scenario or values.pop("scenario", DEFAULT_SCENARIO)
        values.pop("scenario", None)
        super().__init__(scenario=scenario, seed=parse_seed(seed), **values)
        self.seed_text = str(seed).strip()


def fits_controls(scenario: str) -> bool:
    """Whether every controlled parameter of the scenario lies within its control's range."""
    p = make_params(scenario)
    for name, spec in CONTROLS.items():
        value = getattr(p, name)
        if spec["type"] == "Select":
            if value not in spec["values"]:
                return False
        elif not spec["min"] <= value <= spec["max"]:
            return False
    return True


# Scenarios the browser can run and redraw in time ("large" is for benchmarks, not browsers).
APP_SCENARIOS = [name for name in SCENARIOS if fits_controls(name)]


def scenario_settings(scenario: str) -> dict[str, Any]:
    """The scenario and every control at the scenario's value.

    Controls start at the scenario's own values because explicit parameters override a
    scenario: controls left at the plain defaults would silently undo it (a "networked" run
    with ``network="none"``).
    """
    preset = make_params(scenario)
    return {"scenario": scenario, **{name: getattr(preset, name) for name in CONTROLS}}


def control_specs(settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Mesa ``model_params``-style input specs for the controls, showing ``settings``.

    Slider labels carry the value ("Pivot factor: 0.3"): the slider itself shows it only while
    it is dragged, and a teacher needs to read the settings at a glance.
    """
    specs = {}
    for name, spec in CONTROLS.items():
        value = settings[name]
        label = spec["label"] if spec["type"] == "Select" else f"{spec['label']}: {value:g}"
        specs[name] = {**spec, "label": label, "value": value}
    return specs


def model_params_for(settings: solara.Reactive | dict, seed: str = DEFAULT_SEED) -> dict:
    """SolaraViz ``model_params``: Mesa's seed input and the app's settings, read on Reset."""
    return {
        "seed": {"type": "InputText", "value": seed, "label": "Seed (same seed, same run)"},
        "settings": settings,
    }


def build_model(scenario: str = DEFAULT_SCENARIO, seed: str = DEFAULT_SEED) -> AppModel:
    """A model exactly as Reset builds it from a scenario's untouched controls."""
    return AppModel(seed=seed, settings=scenario_settings(scenario))


def run_description(model: MarketModel) -> str:
    """One line saying what is running, so a screen (or a screenshot) explains itself."""
    p = model.params
    seed = str(model.seed)
    text = getattr(model, "seed_text", seed)
    seed = seed if text == seed else f"'{text}' (= {seed})"
    network = p.network if isinstance(p.network, str) else "custom"
    return (
        f"scenario {model.scenario_name} · seed {seed} · {p.n_teams} teams · {p.n_principals} "
        f"principals · {p.n_indices} indices · mechanism {p.mechanism} · network {network}"
    )


# ---------------------------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------------------------


@solara.component
def ChartView(chart_cls: type[viz.Chart], model: MarketModel, day: int, **options: Any):
    """A chart built once per model and redrawn when the model has stepped or an option changed.

    The chart renders its own PNG (:meth:`~llm_market.viz.chart.Chart.png`) instead of going
    through ``solara.FigureMatplotlib``, which would redraw the whole figure: redrawing only
    the data is what keeps a step and its redraw within the time budget.

    Args:
        chart_cls: The :class:`~llm_market.viz.chart.Chart` to show.
        model: The model.
        day: The model's day: a new value is what makes reacton redraw the chart.
        **options: Options of the chart's ``update`` (a good, a colouring).
    """
    chart = solara.use_memo(lambda: chart_cls(model), [chart_cls, model])
    png = solara.use_memo(lambda: chart.png(model, **options), [chart, day, *options.values()])
    solara.Image(png, format="png", classes=["llm-chart"])


@solara.component
def Headline(model: MarketModel, day: int):
    """What is running and the day's key numbers, shown above every tab.

    Args:
        model: The model.
        day: The model's day (unused: a new value is what makes reacton redraw).
    """
    solara.Text(run_description(model), style={"font-size": "13px", "color": "#555"})
    with solara.Row(gap="26px", style={"flex-wrap": "wrap", "margin": "6px 0 4px 0"}):
        for label, value in viz.headline(model):
            with solara.Column(gap="0px"):
                solara.Text(label, style={"font-size": "11px", "color": "#777"})
                solara.Text(value, style={"font-size": "17px", "font-weight": "500"})


def caption(text: str) -> None:
    """A short explanation above a tab's chart.

    Plain text, not ``solara.Markdown``: Markdown loads KaTeX from a CDN, which an offline
    classroom does not have.
    """
    solara.Text(
        text,
        style={"font-size": "14px", "color": "#444", "display": "block", "margin": "8px 0"},
    )


def book_table(rows: list[tuple[str, ...]]) -> str:
    """The closing book as a small HTML table (numbers only, so nothing needs escaping)."""
    head = "".join(
        f"<th style='padding:2px 12px'>{h}</th>"
        for h in ("level", "bid units", "bid price", "ask price", "ask units")
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td style='padding:2px 12px;text-align:right'>{c}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    return f"<table style='font-size:13px'><tr>{head}</tr>{body}</table>"


@solara.component
def DepthView(model: MarketModel, day: int, good: solara.Reactive[str]):
    """Order-book depth of a chosen good; only the continuous double auction keeps a book."""
    mechanism = model.params.mechanism
    if mechanism != "cda":
        solara.Info(
            f"The order book view applies to the continuous double auction (mechanism 'cda'). "
            f"This run uses '{mechanism}': choose 'cda' under Market mechanism and press Reset."
        )
        return
    labels = [f"index {g}" for g in range(model.n_goods)]
    chosen = good.value if good.value in labels else labels[0]
    caption(
        "Clients' unsold bids (green) and teams' unsold asks (red) left in the book when the "
        "day closed, added up from the best price outwards. The gap between them is the spread."
        + (
            " Reports differ by seller, so the book is kept per unit of quality: a price "
            "divided by what the seller's report saves a client."
            if model.params.client_valuation == "decision"
            else ""
        )
    )
    solara.ToggleButtonsSingle(value=chosen, values=labels, on_value=good.set)
    g = labels.index(chosen)
    with solara.Row(gap="0px", style={"flex-wrap": "wrap"}):
        ChartView(viz.DepthChart, model, day, good=g)
        ChartView(viz.SpreadChart, model, day, good=g)
    solara.HTML(tag="div", unsafe_innerHTML=book_table(viz.depth_rows(model, g)))


@solara.component
def GraphView(model: MarketModel, day: int, color_by: solara.Reactive[str]):
    """The teams' social graph (or who funds whom), coloured by a chosen metric."""
    caption(
        "Each circle is a research team; its ring is the principal that funds it. Colour the "
        "teams by their share of funding (the pivot at work), their Brier score, or their "
        "latest forecast on one question (herding: neighbours look alike)."
    )
    solara.ToggleButtonsSingle(value=color_by, values=list(viz.COLOR_BY))
    ChartView(viz.GraphChart, model, day, color_by=color_by.value)


@solara.component
def MarketViews(model: solara.Reactive[MarketModel]):
    """Headline numbers and the views in named tabs; only the open tab is drawn.

    Reading ``model.value`` re-renders this on Reset. The views get the model's day as an
    argument because reacton skips a component whose arguments did not change (the model object
    is the same after a step); only this component subscribes to Mesa's step counter, since each
    subscriber costs a render pass over the whole page on every step.
    """
    update_counter.get()
    m = model.value
    day = m.day
    tab = solara.use_reactive(0)
    good = solara.use_reactive("index 0")
    color_by = solara.use_reactive(viz.COLOR_BY[0])
    Headline(m, day)
    with solara.lab.Tabs(value=tab, lazy=True):
        for name in TABS:
            with solara.lab.Tab(name):
                if name in CHART_TABS:
                    text, chart_cls = CHART_TABS[name]
                    caption(text)
                    ChartView(chart_cls, m, day)
                elif name == "Order book":
                    DepthView(m, day, good)
                else:
                    GraphView(m, day, color_by)


@solara.component
def SettingsCard(settings: solara.Reactive, on_scenario):
    """The scenario (what it means, and choosing one) and the model's parameters."""

    def change(name: str, value: Any) -> None:
        settings.set({**settings.value, name: value})

    scenario = settings.value["scenario"]
    with solara.Card("Scenario and parameters"):
        solara.Select("Scenario", values=APP_SCENARIOS, value=scenario, on_value=on_scenario)
        solara.Text(SCENARIOS[scenario][0], style={"font-size": "13px", "display": "block"})
        solara.Text(
            "Choosing a scenario restarts the run with its values. Change the parameters below "
            "and press Reset to rerun with them. Render Interval = days per Step.",
            style={"font-size": "12px", "color": "#777", "display": "block", "margin": "6px 0"},
        )
        UserInputs(control_specs(settings.value), on_change=change)
        solara.Text(
            CONTROLS_HELP,
            style={"font-size": "12px", "color": "#777", "display": "block", "margin-top": "8px"},
        )


@solara.component
def Page():
    """The app: settings and Mesa's controls in the sidebar, the market's views in tabs."""
    settings = solara.use_reactive(scenario_settings(DEFAULT_SCENARIO))
    first = solara.use_memo(lambda: AppModel(seed=DEFAULT_SEED, settings=settings), [])
    model = solara.use_reactive(first)

    def choose(name: str) -> None:
        settings.set(scenario_settings(name))
        model.set(AppModel(seed=model.value.seed_text, settings=settings))

    with solara.Sidebar():
        SettingsCard(settings, choose)
    SolaraViz(
        model,
        components=[],
        model_params=model_params_for(settings, DEFAULT_SEED),
        name="llm-market: a market for forecasts",
        render_interval=1,
    )
    MarketViews(model)
