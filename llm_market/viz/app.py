"""llm-market in the browser: a Solara page for :class:`~llm_market.model.MarketModel`.

Start it with ``llm-market app`` (or ``make app``, or ``solara run app.py --production`` in a
checkout, whose ``app.py`` re-exports this module) and open http://localhost:8765. It needs no
network and no API keys: the model is the heuristic-policy market, and Solara's JavaScript comes
from the ``solara-assets`` package instead of a CDN.

The sidebar starts with the run's controls (Reset, Play/Pause, Step, the day counter, days per
Step, the pause between steps while playing, the seed), then the scenario and the model's
parameters. Choosing a scenario loads its values and restarts the run with the typed seed; Reset
rebuilds the model from the parameters and seed as they stand, and a badge says when they differ
from the running model's. A scenario's length is honoured: Play stops on its last day. The main
column shows headline numbers and the views, one per tab; only the open tab is drawn.

The controls are the app's own rather than Mesa's ``SolaraViz``: it steps in fixed
odd-valued intervals, shows neither interval's value, offers a threaded mode whose charts read a
model mid-step, keeps its play loop running after the page closes and labels its counter
differently in each Mesa version. Here the play loop runs in a Solara task that stops when its
page closes (:func:`use_play_loop`), and stepping and drawing take the model's lock in turn, so
every chart reads a consistent model.

The runs made since the page opened are kept (:mod:`.runs`): Market, Forecasts and Efficiency
can overlay an earlier one, the Runs tab compares them and downloads any run's series and logs.
The Play tab lets the person at the page take over one team (:mod:`llm_market.policies.human`).
The figures live in :mod:`llm_market.viz`, one module per view; this file only arranges them.
"""

from __future__ import annotations

import threading
import traceback
import zlib
from collections.abc import Callable
from dataclasses import replace
from html import escape
from typing import Any, get_args

import numpy as np
import solara
import solara.lab
from mesa.visualization.solara_viz import UserInputs

from llm_market import MarketModel, viz
from llm_market.errors import ParameterError
from llm_market.params import MECHANISMS, NETWORKS, SCENARIOS, Params, make_params
from llm_market.policies.human import HumanPolicy, Plan, play_team, suggestion
from llm_market.policies.prompt import good_key, question_key
from llm_market.viz.daymarket import MarketDayChart, classroom_comparison, record_flows
from llm_market.viz.runs import RunRecord, comparison_rows, logs_zip, series_csv

DEFAULT_SCENARIO = "default"
DEFAULT_SEED = "42"
# Days one Step (and each redraw while playing) advances, and the pause between redraws while
# playing: round numbers a teacher can name ("ten days a click").
DAYS_PER_STEP = (1, 2, 5, 10, 20, 50)
PAUSES_MS = (0, 50, 100, 250, 500, 1000)
DEFAULT_PAUSE_MS = 100
MAX_RUNS = 12  # earlier runs kept per page (each keeps its model)

# The parameters a user can change, with ranges in which the model stays quick enough to redraw
# after every step. The principals' slider never goes above the number of teams
# (:func:`control_specs`), so every combination the sliders offer is valid.
CONTROLS: dict[str, dict[str, Any]] = {
    "n_teams": {"type": "SliderInt", "label": "Teams", "min": 4, "max": 100, "step": 1},
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


# The views, one tab each, in order.
TABS = (
    "Market",
    "Market day",
    "Order book",
    "Indices",
    "Index market",
    "Forecasts",
    "Budgets",
    "Efficiency",
    "Stylized facts",
    "Social graph",
    "Runs",
    "Play a team",
)
OVERLAY_TABS = ("Market", "Forecasts", "Efficiency")
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
    "Index market": (
        "With the market scenario the index is traded: its fundamental follows a random walk, "
        "and its price is made in an order book by fundamentalists, chartists (whose optimism "
        "spreads by imitation) and noise traders; clients who bought a report trade as informed "
        "fundamentalists. Calm and turbulent spells come from the traders, not the fundamental.",
        viz.IndexMarketChart,
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

# The page at a projector's 1280x720: charts scale to the column and to the height left under
# the headline and the tabs; the tabs wrap instead of scrolling out of sight; captions take the
# theme's text colour (a fixed grey vanished on the dark theme).
CSS = """
.llm-chart { max-width: 100%; height: auto; max-height: max(280px, calc(100vh - 410px));
  object-fit: contain; object-position: left top; }
.llm-tabs .v-slide-group__content { flex-wrap: wrap; white-space: normal; flex: 1 1 auto; }
.llm-tabs .v-slide-group__wrapper { overflow: visible; contain: none; }
.llm-tabs .v-slide-group__prev, .llm-tabs .v-slide-group__next { display: none !important; }
.llm-tabs .v-tab { min-width: 0; padding: 0 9px; height: 36px; text-transform: none;
  letter-spacing: 0; font-size: 14px; }
.llm-tabs .v-tabs-bar { height: auto; }
.llm-caption { font-size: 13px; opacity: 0.85; display: block; margin: 4px 0; }
.llm-small { font-size: 12px; opacity: 0.75; display: block; }
.llm-muted { opacity: 0.72; }
.llm-table { font-size: 13px; border-collapse: collapse; }
.llm-table th, .llm-table td { padding: 2px 10px; text-align: right; }
.llm-table th:first-child, .llm-table td:first-child { text-align: left; }
.llm-table tr.llm-you { font-weight: 600; background: rgba(255, 193, 7, 0.25); }
.llm-badge { display: inline-block; padding: 2px 8px; border-radius: 10px; font-size: 12px;
  background: #ffb300; color: #000; margin: 4px 0; }
"""


def parse_seed(text: int | str) -> int:
    """The integer seed for what was typed: the number itself, or a stable hash of other text.

    A whole number >= 0 is used as is; anything else ("class A", "-3") becomes its CRC-32, so
    any text is a valid, reproducible seed and a typo never stops Reset.
    """
    s = str(text).strip()
    try:
        value = int(s)
    except ValueError:
        value = -1
    return value if value >= 0 else zlib.crc32(s.encode())


class AppModel(MarketModel):
    """:class:`MarketModel` as the app builds it: from the page's settings, with the seed as text.

    It records each day's order flow (for the market-day view), ends on its scenario's last day
    (``params.steps``) and steps under a lock the charts also take, so a chart never reads a
    model halfway through a day.

    Args:
        settings: ``scenario``, ``seed`` (text, see :func:`parse_seed`) and parameter values
            (a dict, or a ``solara.Reactive`` of one).
        seed: The seed as typed; overrides the settings' seed.
        **kwargs: Parameter values that override the settings.
    """

    def __init__(self, settings: Any = None, seed: int | str | None = None, **kwargs: Any):
        values = dict(getattr(settings, "value", settings) or {})
        values.update(kwargs)
        if seed is not None:
            values["seed"] = str(seed)
        values.setdefault("scenario", DEFAULT_SCENARIO)
        values.setdefault("seed", DEFAULT_SEED)
        self.settings = dict(values)  # what the model was built from, for the "changed" badge
        scenario = values.pop("scenario")
        seed_text = str(values.pop("seed")).strip()
        super().__init__(scenario=scenario, seed=parse_seed(seed_text), **values)
        self.seed_text = seed_text
        self.lock = threading.RLock()
        self.end_day = int(self.params.steps)
        record_flows(self)

    def advance(self, days: int) -> int:
        """Step up to ``days`` days, never past the scenario's last day; return the days run."""
        done = 0
        with self.lock:
            while done < days and self.day < self.end_day:
                self.step()
                done += 1
            if self.day >= self.end_day:
                self.running = False
        return done


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


def scenario_settings(scenario: str, seed: str = DEFAULT_SEED) -> dict[str, Any]:
    """The scenario, the seed and every control at the scenario's value.

    Controls start at the scenario's own values because explicit parameters override a
    scenario: controls left at the plain defaults would silently undo it (a "networked" run
    with ``network="none"``).
    """
    preset = make_params(scenario)
    return {"scenario": scenario, "seed": seed, **{n: getattr(preset, n) for n in CONTROLS}}


def control_specs(settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Mesa ``UserInputs`` specs for the controls, showing ``settings``.

    Slider labels carry the value ("Pivot factor: 0.3"): the slider itself shows it only while
    it is dragged, and a teacher needs to read the settings at a glance. The principals' slider
    ends at the number of teams, so no offered combination is invalid.
    """
    specs = {}
    for name, spec in CONTROLS.items():
        value = settings[name]
        label = spec["label"] if spec["type"] == "Select" else f"{spec['label']}: {value:g}"
        specs[name] = {**spec, "label": label, "value": value}
    specs["n_principals"]["max"] = min(CONTROLS["n_principals"]["max"], settings["n_teams"])
    return specs


def with_change(settings: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """``settings`` with one control changed (fewer teams than principals lowers the principals)."""
    out = {**settings, name: value}
    if name == "n_teams":
        out["n_principals"] = min(out["n_principals"], int(value))
    return out


def settings_differ(settings: dict[str, Any], model: AppModel) -> bool:
    """Whether Reset would build a model other than the running one."""
    built = getattr(model, "settings", {})
    return any(
        str(settings[k]).strip() != str(built.get(k)).strip()
        if k == "seed"
        else settings[k] != built.get(k)
        for k in settings
    )


def build_model(scenario: str = DEFAULT_SCENARIO, seed: str = DEFAULT_SEED) -> AppModel:
    """A model exactly as Reset builds it from a scenario's untouched controls."""
    return AppModel(settings=scenario_settings(scenario, seed))


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


def day_counter(model: AppModel) -> str:
    """The day counter: ``Day 3 of 252``."""
    return f"Day {model.day} of {getattr(model, 'end_day', model.params.steps)}"


# ---------------------------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------------------------


def caption(text: str, small: bool = False) -> None:
    """A short explanation above a view, readable in both themes.

    Plain text, not ``solara.Markdown``: Markdown loads KaTeX from a CDN, which an offline
    classroom does not have.
    """
    solara.Text(text, classes=["llm-small" if small else "llm-caption"])


def html_table(head: list[str], rows: list[list[str]], marked: int | None = None) -> str:
    """A small HTML table; cells are escaped, row ``marked`` is highlighted."""
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        f"<tr{' class=llm-you' if i == marked else ''}>"
        + "".join(f"<td>{escape(str(c))}</td>" for c in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f"<table class='llm-table'><tr>{th}</tr>{body}</table>"


def book_table(rows: list[tuple[str, ...]]) -> str:
    """The closing book as a small HTML table."""
    return html_table(["level", "bid units", "bid price", "ask price", "ask units"], rows)


@solara.component
def ChartView(chart_cls: type[viz.Chart], model: MarketModel, day: int, **options: Any):
    """A chart built once per model and redrawn when the model has stepped or an option changed.

    The chart renders its own PNG (:meth:`~llm_market.viz.chart.Chart.png`) instead of going
    through ``solara.FigureMatplotlib``, which would redraw the whole figure: redrawing only
    the data is what keeps a step and its redraw within the time budget. It draws under the
    model's lock, so it never reads a day half done.

    Args:
        chart_cls: The :class:`~llm_market.viz.chart.Chart` to show.
        model: The model.
        day: The model's day: a new value is what makes reacton redraw the chart.
        **options: Options of the chart's ``update`` (a good, a colouring, an overlay).
    """
    chart = solara.use_memo(lambda: chart_cls(model), [chart_cls, model])

    def draw() -> bytes:
        with _lock(model):
            return chart.png(model, **options)

    png = solara.use_memo(draw, [chart, day, *options.values()])
    solara.Image(png, format="png", classes=["llm-chart"])


def _lock(model: MarketModel):
    return getattr(model, "lock", None) or threading.RLock()


@solara.component
def Headline(model: MarketModel, day: int):
    """What is running and the day's key numbers, shown above every tab."""
    with _lock(model):
        numbers = viz.headline(model)
    solara.Text(run_description(model), classes=["llm-small"])
    with solara.Row(gap="14px", style={"flex-wrap": "wrap", "margin": "2px 0 0 0"}):
        for label, value in numbers:
            with solara.Column(gap="0px"):
                solara.Text(label, style={"font-size": "11px"}, classes=["llm-muted"])
                solara.Text(value, style={"font-size": "15px", "font-weight": "500"})


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
            "divided by what the seller's report is worth to a client."
            if model.market.decision_valued
            else ""
        )
    )
    solara.ToggleButtonsSingle(value=chosen, values=labels, on_value=good.set)
    g = labels.index(chosen)
    with solara.Row(gap="0px", style={"flex-wrap": "wrap"}):
        ChartView(viz.DepthChart, model, day, good=g)
        ChartView(viz.SpreadChart, model, day, good=g)
    with _lock(model):
        rows = viz.depth_rows(model, g)
    solara.HTML(tag="div", unsafe_innerHTML=book_table(rows))


@solara.component
def MarketDayView(model: MarketModel, day: int, good: solara.Reactive[str]):
    """One good's supply and demand on a chosen day, its trades and equilibrium."""
    caption(
        "The day's demand (bids' values, highest first) and supply (offered units' costs, "
        "cheapest first) cross at the competitive equilibrium (purple). Dots are the trades, the "
        "k-th at the k-th unit; right: the same trades in the order they happened."
        + (
            " Reports differ by seller: values, costs and prices are per unit of quality."
            if model.market.decision_valued
            else ""
        )
    )
    chosen_day = solara.use_reactive(0)  # 0: follow the latest day
    labels = [f"index {g}" for g in range(model.n_goods)]
    chosen = good.value if good.value in labels else labels[0]
    with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
        solara.ToggleButtonsSingle(value=chosen, values=labels, on_value=good.set)
        if day >= 1:
            shown = chosen_day.value if 1 <= chosen_day.value <= day else day
            solara.SliderInt(
                f"Day: {shown}" + (" (latest)" if chosen_day.value == 0 else ""),
                value=shown,
                min=1,
                max=max(day, 2),
                on_value=lambda v: chosen_day.set(0 if v >= day else v),
                thumb_label=False,
            )
    shown_day = chosen_day.value if 1 <= chosen_day.value <= day else day
    ChartView(MarketDayChart, model, day, good=labels.index(chosen), on_day=shown_day)
    if model.params.zi_traders != "off":
        ClassroomView(model, day)


@solara.component
def ClassroomView(model: MarketModel, day: int):
    """Gode and Sunder's result for this run: ZI-C and ZI-U in the CDA, and ZI-C with no book."""

    def compute():
        with _lock(model):
            return classroom_comparison(model)

    rows = solara.use_memo(compute, [model, day])
    solara.Text("The classroom experiment (Gode and Sunder 1993)", style={"font-weight": "600"})
    if not rows:
        caption("Press Step: the comparison fills once the market has traded.", small=True)
        return
    solara.HTML(
        tag="div",
        unsafe_innerHTML=html_table(
            ["traders and market", f"mean efficiency, days 1–{day}"],
            [[what, "–" if not np.isfinite(x) else f"{x:.1%}"] for what, x in rows],
        ),
    )
    caption(
        "ZI-C traders never trade at a loss, ZI-U traders ignore their values and costs. Same "
        "values, costs and seed in every row. With the order book, random constrained traders "
        "get close to full efficiency: the institution, not the traders' intelligence, does "
        "most of the work; matched at random without a book they lose more of the surplus. "
        "There are more buyers than units, so selling every unit (as ZI-U traders do) is worth "
        "anything between the last two rows: where ZI-U lands depends on who got the units.",
        small=True,
    )


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
def RunsView(model: AppModel, day: int, runs: list[RunRecord], number: int):
    """The runs of this page side by side, and the downloads of any of them."""
    current = RunRecord(number, model, label=f"run {number} (this run): {model.scenario_name}")
    records = [*runs, current]
    caption(
        "Every run since the page opened: what differs from its scenario and its headline "
        "results (means over the days traded; Brier scores as of its last day). Choose an "
        "earlier run above the tabs to overlay it on Market, Forecasts and Efficiency."
    )
    with _lock(model):
        rows = comparison_rows(records)
    head = list(rows[0])
    solara.HTML(
        tag="div",
        unsafe_innerHTML=html_table(head, [list(r.values()) for r in rows], len(rows) - 1),
    )
    labels = [r.label for r in records]
    chosen = solara.use_reactive(labels[-1])
    pick = chosen.value if chosen.value in labels else labels[-1]
    record = records[labels.index(pick)]
    solara.Select("Download the data of", values=labels, value=pick, on_value=chosen.set)
    name = f"llm-market-run{record.number}-{record.model.scenario_name}-seed{record.model.seed}"
    m = record.model

    def locked(fn: Callable[[], bytes]) -> Callable[[], bytes]:
        def get() -> bytes:
            with _lock(m):
                return fn()

        return get

    with solara.Row(style={"flex-wrap": "wrap"}):
        solara.FileDownload(
            locked(lambda: series_csv(m)), f"{name}-series.csv", label="Series (CSV)"
        )
        solara.FileDownload(
            locked(lambda: logs_zip(m, "csv")),
            f"{name}-csv.zip",
            label="Series and logs (CSV, zip)",
        )
        solara.FileDownload(
            locked(lambda: logs_zip(m, "parquet")),
            f"{name}-parquet.zip",
            label="Series and logs (Parquet, zip)",
        )


def leaderboard_rows(model: MarketModel, you: int | None) -> tuple[list[list[str]], int | None]:
    """Every team by Brier score (unscored last), with revenue and funding; the crowd's too.

    Returns:
        The rows and the position of the person's team among them (None if not playing).
    """
    from llm_market.recording.columns import TRADES

    log = model.logs[TRADES]
    revenue = np.bincount(
        log.column("seller"), weights=log.column("price"), minlength=model.n_teams
    )
    brier = model.team_brier
    order = sorted(range(model.n_teams), key=lambda i: (not np.isfinite(brier[i]), brier[i], i))
    rows, marked = [], None
    for rank, i in enumerate(order, start=1):
        t = model.teams[i]
        who = f"team {i} (you)" if i == you else f"team {i}"
        if i == you:
            marked = len(rows)
        rows.append(
            [
                f"{rank}. {who}" + ("" if model.active[i] else " (out)"),
                f"P{t.principal.idx}",
                f"{brier[i]:.3f}" if np.isfinite(brier[i]) else "–",
                f"{revenue[i]:.1f}",
                f"{t.monthly_allocation:.1f}",
            ]
        )
    for name, value in (
        ("crowd (mean forecast)", model.crowd_brier),
        ("no information", model.noinfo_brier),
    ):
        rows.append([name, "", f"{value:.3f}" if np.isfinite(value) else "–", "", ""])
    return rows, marked


@solara.component
def PlayView(model: AppModel, day: int, on_stepped: Callable[[], None], busy: bool):
    """Play one team: set its forecasts, research spend and asks for the day, then step."""
    team = solara.use_reactive(0)
    taken = solara.use_reactive(0)  # bumped on taking over: the view must show the form
    on = isinstance(model.policy, HumanPolicy)
    errors = solara.use_reactive([])
    edits = solara.use_reactive((None, None))  # (model, day, team) and the person's Plan
    you = model.policy.team if on else None
    key = (id(model), model.day, you)

    def suggest():
        if you is None or not model.active[you] or not model.running:
            return None
        with _lock(model):
            return suggestion(model, you)

    suggested = solara.use_memo(suggest, [model, model.day, you, taken.value])
    caption(
        "Can you beat the crowd? Take over one team: each day set its probability for every "
        "open question, what it spends on research and the price it asks for its reports, then "
        "press Submit. The fields start at what the heuristic would do in your place. The other "
        "teams are the model's; the leaderboard below ranks everyone by Brier score."
    )

    def take_over() -> None:
        with _lock(model):
            play_team(model, team.value)
        taken.set(taken.value + 1)

    with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
        solara.Select(
            "Your team",
            values=[f"team {i}" for i in range(model.n_teams)],
            value=f"team {team.value if you is None else you}",
            on_value=lambda v: team.set(int(v.split()[1])),
            disabled=on,
        )
        if not on:
            solara.Button("Take over this team", color="primary", on_click=take_over)
    if not on:
        Leaderboard(*leaderboard_rows(model, None))
        return
    if not model.active[you]:
        solara.Warning(f"Team {you} was defunded and left the market: press Reset to play again.")
        Leaderboard(*leaderboard_rows(model, you))
        return
    if suggested is None:
        solara.Info("The scenario has ended: press Reset to play again.")
        Leaderboard(*leaderboard_rows(model, you))
        return

    def current() -> Plan:
        return edits.value[1] if edits.value[0] == key else suggested

    plan = current()
    obs_team = model.teams[you]

    def edit(**changes: Any) -> None:
        edits.set((key, replace(current(), **changes)))

    solara.Text(
        f"Day {model.day + 1} for team {you}: research budget left {obs_team.budget:.2f} of "
        f"{obs_team.monthly_allocation:.2f} this month; cash {obs_team.cash:.2f}; reports cost "
        f"from {float(model.market.marginal_cost[0]):.2f} to make.",
        style={"font-weight": "500"},
    )
    q = model.view.market.questions
    with solara.Row(style={"flex-wrap": "wrap", "gap": "6px"}):
        for j, qid in enumerate(q.qid):
            k = question_key(qid)
            solara.InputFloat(
                f"{k}: index {int(q.index[j])}, {int(q.days_left[j])} days "
                f"(hint {suggested.forecasts[k]:.2f})",
                value=plan.forecasts[k],
                on_value=lambda v, k=k: edit(forecasts={**current().forecasts, k: v}),
                style={"max-width": "230px"},
            )
    with solara.Row(style={"flex-wrap": "wrap", "gap": "6px"}):
        solara.InputFloat(
            f"research spend (hint {suggested.research_spend:.2f})",
            value=plan.research_spend,
            on_value=lambda v: edit(research_spend=v),
            style={"max-width": "230px"},
        )
        for g in range(model.n_goods):
            k = good_key(g)
            hint = suggested.asks[k]
            solara.InputFloat(
                f"ask for {k} (hint {'none' if hint is None else f'{hint:.2f}'})",
                value=plan.asks[k],
                optional=True,
                on_value=lambda v, k=k: edit(asks={**current().asks, k: v}),
                style={"max-width": "230px"},
            )

    def submit() -> None:
        with _lock(model):
            obs = model.teams[you].observe(model.view)
            problems = model.policy.submit(obs, current())
            errors.set(problems)
            if not problems:
                model.advance(1)
        if not problems:
            on_stepped()

    with solara.Row():
        solara.Button("Submit and step one day", color="primary", on_click=submit, disabled=busy)
        solara.Button("Back to the hints", on_click=lambda: edits.set((None, None)))
    for line in errors.value:
        solara.Error(line, dense=True)
    caption(
        f"You have played {model.policy.days_played} day(s). On days you do not submit (Step or "
        "Play in the sidebar) your team follows the heuristic.",
        small=True,
    )
    Leaderboard(*leaderboard_rows(model, you))


@solara.component
def Leaderboard(rows: list[list[str]], marked: int | None):
    """The teams ranked by Brier score, with revenue and funding."""
    solara.HTML(
        tag="div",
        unsafe_innerHTML=html_table(
            [
                "team (by Brier, best first)",
                "principal",
                "Brier",
                "revenue so far",
                "funding this month",
            ],
            rows,
            marked,
        ),
    )


@solara.component
def OverlaySelect(labels: list[str], chosen: solara.Reactive[str], valid: bool):
    """Which earlier run to draw under this one."""
    solara.Select(
        "Overlay an earlier run (grey, dashed)",
        values=["none", *labels[::-1]],
        value=chosen.value if valid else "none",
        on_value=chosen.set,
        style={"max-width": "640px", "min-width": "420px"},
    )


@solara.component
def MarketViews(
    model: AppModel,
    day: int,
    runs: list[RunRecord],
    number: int,
    on_stepped: Callable[[], None],
    busy: bool,
):
    """Headline numbers, the overlay choice and the views in tabs (only the open tab is drawn)."""
    tab = solara.use_reactive(0)
    good = solara.use_reactive("index 0")
    goods = solara.use_reactive([])  # goods hidden on the Market tab
    color_by = solara.use_reactive(viz.COLOR_BY[0])
    overlay_label = solara.use_reactive("none")
    Headline(model, day)
    labels = [r.label for r in runs]
    overlay = next((r for r in runs if r.label == overlay_label.value), None)
    # Always a row here, filled or not, so the tabs below keep their place (and their widget).
    with solara.Row(style={"min-height": "0px"}):
        if runs and TABS[tab.value] in OVERLAY_TABS:
            OverlaySelect(labels, overlay_label, overlay is not None)
    extra = {"overlay": overlay.model, "overlay_label": overlay.label} if overlay else {}
    with solara.Column(classes=["llm-tabs"], gap="0px"), solara.lab.Tabs(value=tab, lazy=True):
        for name in TABS:
            with solara.lab.Tab(name):
                if name == "Market":
                    caption(CHART_TABS[name][0])
                    names = [f"index {g}" for g in range(model.n_goods)]
                    shown = [n for n in names if n not in goods.value]
                    solara.ToggleButtonsMultiple(
                        value=shown,
                        values=names,
                        on_value=lambda v, names=names: goods.set([n for n in names if n not in v]),
                        dense=True,
                    )
                    chosen = tuple(names.index(n) for n in shown)
                    ChartView(viz.MarketChart, model, day, goods=chosen, **extra)
                elif name in CHART_TABS:
                    text, chart_cls = CHART_TABS[name]
                    caption(text)
                    ChartView(chart_cls, model, day, **(extra if name in OVERLAY_TABS else {}))
                    if name == "Efficiency" and model.params.zi_traders != "off":
                        ClassroomView(model, day)
                elif name == "Market day":
                    MarketDayView(model, day, good)
                elif name == "Order book":
                    DepthView(model, day, good)
                elif name == "Social graph":
                    GraphView(model, day, color_by)
                elif name == "Runs":
                    RunsView(model, day, runs, number)
                else:
                    PlayView(model, day, on_stepped, busy)


def use_play_loop(
    model: solara.Reactive[AppModel],
    playing: solara.Reactive[bool],
    days_per_step: solara.Reactive[int],
    pause_ms: solara.Reactive[int],
    on_stepped: Callable[[], None],
    error: solara.Reactive[str],
) -> None:
    """While ``playing``, step the model and redraw, in a thread that stops with its page.

    The loop stops when Play is pressed again, at the scenario's end, on an error (shown on the
    page) and when the page closes: the page's unmount and its kernel's close both set an event
    the loop waits on, so no model goes on stepping on the server for a closed tab.
    """
    stop = solara.use_memo(threading.Event, [])

    def on_page() -> Callable[[], None]:
        stop.clear()
        try:
            solara.get_kernel_context().on_close(stop.set)
        except Exception:  # noqa: BLE001  (no kernel outside a server, as under solara.render)
            pass
        return stop.set

    solara.use_effect(on_page, [])

    def loop() -> None:
        m = model.value
        while playing.value and not stop.is_set() and m is model.value:
            if stop.wait(pause_ms.value / 1000):
                return
            try:
                m.advance(days_per_step.value)
            except Exception as exc:  # noqa: BLE001  (shown on the page; the loop must stop)
                traceback.print_exc()
                error.set(f"The model failed on day {m.day + 1}: {exc}")
                playing.set(False)
                return
            if stop.is_set():
                return
            on_stepped()
            if not m.running:
                playing.set(False)
                return

    solara.lab.use_task(loop, dependencies=[playing.value, model.value], prefer_threaded=True)


@solara.component
def RunControls(
    model: AppModel,
    day: int,
    settings: solara.Reactive[dict],
    playing: solara.Reactive[bool],
    days_per_step: solara.Reactive[int],
    pause_ms: solara.Reactive[int],
    busy: bool,
    error: str,
    on_reset: Callable[[], None],
    on_step: Callable[[], None],
):
    """Reset, Play/Pause and Step, the day counter and what each click does.

    ``day`` is the model's day: a new value is what makes reacton redraw the counter.
    """
    ended = not model.running
    with solara.Card(style={"padding": "8px"}):
        with solara.Row(justify="space-between"):
            solara.Button("Reset", color="primary", on_click=on_reset, loading=busy, disabled=busy)
            solara.Button(
                "❚❚ Pause" if playing.value else "▶ Play",
                color="primary",
                on_click=lambda: playing.set(not playing.value),
                disabled=busy or ended,
            )
            solara.Button(
                "Step", color="primary", on_click=on_step, disabled=busy or ended or playing.value
            )
        solara.Text(
            day_counter(model),
            style={"font-size": "16px", "font-weight": "500", "margin-top": "6px"},
        )
        if busy:
            solara.Text("Building the model…", classes=["llm-small"])
        if settings_differ(settings.value, model):
            solara.HTML(
                tag="span",
                unsafe_innerHTML="Settings changed: press Reset to run with them",
                classes=["llm-badge"],
            )
        if ended:
            solara.Info(
                f"The end of scenario '{model.scenario_name}' ({model.end_day} days). Press "
                "Reset for another run; earlier runs stay on the Runs tab.",
                dense=True,
            )
        if error:
            solara.Error(error, dense=True)
        # The value in a line of its own: a long label beside a slider squeezes it to a dot.
        solara.Text(f"Days per Step: {days_per_step.value}", classes=["llm-caption"])
        solara.SliderValue(
            "", value=days_per_step.value, values=list(DAYS_PER_STEP), on_value=days_per_step.set
        )
        solara.Text(
            f"Pause between steps while playing: {pause_ms.value} ms", classes=["llm-caption"]
        )
        solara.SliderValue("", value=pause_ms.value, values=list(PAUSES_MS), on_value=pause_ms.set)
        solara.InputText(
            "Seed (same seed, same run)",
            value=str(settings.value["seed"]),
            on_value=lambda v: settings.set({**settings.value, "seed": v}),
            continuous_update=False,
        )


@solara.component
def SettingsCard(settings: solara.Reactive, on_scenario: Callable[[str], None]):
    """The scenario (what it means, and choosing one) and the model's parameters."""

    def change(name: str, value: Any) -> None:
        settings.set(with_change(settings.value, name, value))

    scenario = settings.value["scenario"]
    with solara.Card("Scenario and parameters", style={"padding": "8px"}):
        solara.Select("Scenario", values=APP_SCENARIOS, value=scenario, on_value=on_scenario)
        solara.Text(SCENARIOS[scenario][0], style={"font-size": "13px", "display": "block"})
        caption(
            "Choosing a scenario restarts the run with its values and the typed seed. Change "
            "the parameters below and press Reset to rerun with them.",
            small=True,
        )
        UserInputs(control_specs(settings.value), on_change=change)
        caption(CONTROLS_HELP, small=True)


@solara.component
def Page():
    """The app: the run's controls and settings in the sidebar, the market's views in tabs."""
    settings = solara.use_reactive(scenario_settings(DEFAULT_SCENARIO))
    first = solara.use_memo(lambda: AppModel(settings=settings.value), [])
    model = solara.use_reactive(first)
    day = solara.use_reactive(0)
    runs = solara.use_reactive([])
    number = solara.use_reactive(1)
    playing = solara.use_reactive(False)
    days_per_step = solara.use_reactive(1)
    pause_ms = solara.use_reactive(DEFAULT_PAUSE_MS)
    busy = solara.use_reactive(False)
    error = solara.use_reactive("")
    reset_request = solara.use_reactive(0)

    def stepped() -> None:
        day.set(model.value.day)

    use_play_loop(model, playing, days_per_step, pause_ms, stepped, error)

    def rebuild() -> None:
        # A thread, so that the page shows Reset working while the model is built.
        if not reset_request.value:
            return
        try:
            new = AppModel(settings=settings.value)
        except (ParameterError, ValueError) as exc:
            error.set(f"Reset: {exc}")
            busy.set(False)
            return
        old = model.value
        if old.day > 0:
            runs.set([*runs.value, RunRecord(number.value, old)][-MAX_RUNS:])
            number.set(number.value + 1)
        error.set("")
        day.set(0)
        model.set(new)
        busy.set(False)

    solara.lab.use_task(rebuild, dependencies=[reset_request.value], prefer_threaded=True)

    def reset() -> None:
        playing.set(False)
        busy.set(True)
        reset_request.set(reset_request.value + 1)

    def choose(name: str) -> None:
        settings.set(scenario_settings(name, str(settings.value["seed"])))
        reset()

    def step() -> None:
        try:
            model.value.advance(days_per_step.value)
        except Exception as exc:  # noqa: BLE001  (shown on the page)
            traceback.print_exc()
            error.set(f"The model failed on day {model.value.day + 1}: {exc}")
        stepped()

    solara.Style(CSS)
    solara.Title("llm-market")
    with solara.AppBar():
        solara.AppBarTitle("llm-market: a market for forecasts")
        solara.lab.ThemeToggle()
    with solara.Sidebar():
        RunControls(
            model.value,
            day.value,
            settings,
            playing,
            days_per_step,
            pause_ms,
            busy.value,
            error.value,
            reset,
            step,
        )
        SettingsCard(settings, choose)
    MarketViews(model.value, day.value, runs.value, number.value, stepped, busy.value)
