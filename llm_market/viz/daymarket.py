"""The market-day view: one good's supply and demand on one day, its trades and its equilibrium.

The classroom picture of a market experiment: the demand curve is the day's bids' values sorted
from the highest down, the supply curve the offered units' costs from the lowest up; where they
cross is the competitive equilibrium (its price band and quantity). Beside it, the day's trades
in the order they happened: how prices found (or missed) the equilibrium during the day.

The collected series and logs keep only what traded, not every value and cost submitted, so the
app records each day's order flow as it is cleared (:class:`FlowRecorder`, wrapped around the
model's mechanism from outside: it changes nothing in the run). For reports differentiated by
their seller's record, values and costs are shown per unit of quality (what a report saves a
client), the one scale on which the sellers' reports compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..market.efficiency import competitive_equilibrium
from ..recording.columns import TRADES
from .chart import Chart
from .style import good_color, message, round_limits, set_title, style_axes

if TYPE_CHECKING:
    from ..model import MarketModel

DEMAND_COLOR, SUPPLY_COLOR, CE_COLOR = "#1565c0", "#c62828", "#6a1b9a"


@dataclass(frozen=True)
class DayFlow:
    """What one good's market saw on one day: every bid's value and every offered unit's cost.

    Attributes:
        values: Each bid's value (per unit of quality for differentiated reports).
        costs: Each offered unit's cost (per unit of its seller's quality when differentiated).
        prices: Each trade's price in execution order (per unit of quality when differentiated).
        sellers: The seller of each offered unit (as ``costs``).
    """

    values: np.ndarray
    costs: np.ndarray
    prices: np.ndarray
    sellers: np.ndarray


class FlowRecorder:
    """A mechanism that remembers each day's order flow and otherwise is the mechanism it wraps.

    Install it with :func:`record_flows`; :attr:`flows` maps ``(day, good)`` to a
    :class:`DayFlow`. Clearing is delegated unchanged, so the run is the same with or without it.

    Args:
        mechanism: The mechanism to wrap.
        model: The model (for the day's stamp).
    """

    def __init__(self, mechanism: Any, model: MarketModel):
        self._inner = mechanism
        self._model = model
        self.flows: dict[tuple[int, int], DayFlow] = {}

    def clear(self, good: int, flow: Any, rng: np.random.Generator) -> Any:
        """Remember the flow, then clear it with the wrapped mechanism."""
        trades = self._inner.clear(good, flow, rng)
        values = np.array(flow.bid_value, dtype=float)
        costs = np.array(flow.ask_cost, dtype=float)
        prices = np.array(trades.price, dtype=float)
        sellers = np.array(flow.ask_team, dtype=np.int64)
        if flow.ask_quality is not None:
            q = np.asarray(flow.ask_quality, dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                costs = np.where(q > 0, costs / q, np.inf)
                prices = prices / q[trades.ask]
            sellers = sellers[np.isfinite(costs)]
            costs = costs[np.isfinite(costs)]
        self.flows[(self._model.calendar.stamp, good)] = DayFlow(values, costs, prices, sellers)
        return trades

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def record_flows(model: MarketModel) -> FlowRecorder:
    """Wrap the model's mechanism in a :class:`FlowRecorder` (once) and return the recorder."""
    mech = model.market.mechanism
    if not isinstance(mech, FlowRecorder):
        mech = model.market.mechanism = FlowRecorder(mech, model)
    return mech


def day_trades(model: MarketModel, day: int, good: int) -> tuple[np.ndarray, float]:
    """The prices of one good's trades on a day in execution order, and their realised surplus.

    Prices come from the recorded flow (per unit of quality for differentiated reports) when
    there is one, else from the trades log.
    """
    log = model.logs[TRADES]
    rows = (log.column("step") == day) & (log.column("good") == good)
    surplus = float((log.column("value")[rows] - log.column("cost")[rows]).sum())
    flow = getattr(model.market.mechanism, "flows", {}).get((day, good))
    return (flow.prices if flow is not None else log.column("price")[rows]), surplus


class MarketDayChart(Chart):
    """Supply and demand of one good on one day with the equilibrium, and the day's price path.

    Options of :meth:`update`: ``good`` and ``on_day`` (default: the last day traded).
    """

    height = 4.4

    def build(self, model: MarketModel) -> None:
        """Two panels: the curves, and the trades in execution order."""
        self.ax, self.axp = self.fig.subplots(1, 2, width_ratios=(1.15, 1))
        self.fig.subplots_adjust(left=0.07, right=0.98, top=0.9, bottom=0.13, wspace=0.22)
        per_quality = model.market.decision_valued
        unit = " per unit of quality" if per_quality else ""
        style_axes(self.ax, xlabel="units (cumulative)", ylabel=f"value, cost, price{unit}")
        style_axes(self.axp, xlabel="trade number (order of the day)", ylabel=f"price{unit}")
        self.ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
        self.axp.xaxis.set_major_locator(MaxNLocator(6, integer=True))

    def draw(self, model: MarketModel, good: int = 0, on_day: int | None = None, **options: Any):
        """Draw ``good`` on day ``on_day`` (default: the last day)."""
        day = model.day if on_day is None else on_day
        flows = getattr(model.market.mechanism, "flows", {})
        flow = flows.get((day, good))
        price, realised = day_trades(model, day, good)
        c = good_color(good)
        ys: list[np.ndarray] = [price]
        eq = None
        if flow is not None and flow.values.size and flow.costs.size:
            v = np.sort(flow.values)[::-1]
            s = np.sort(flow.costs)
            eq = competitive_equilibrium(v, s)
            self.ax.step(
                np.arange(v.size + 1),
                np.r_[v, v[-1]],
                where="post",
                color=DEMAND_COLOR,
                lw=1.6,
                label=f"demand: {v.size} bids' values",
            )
            self.ax.step(
                np.arange(s.size + 1),
                np.r_[s, s[-1]],
                where="post",
                color=SUPPLY_COLOR,
                lw=1.6,
                label=f"supply: {s.size} units' costs",
            )
            top = min(v.size, s.size)
            ys += [v[: top + 5], s[: top + 5]]
            self.ax.set_xlim(0, max(v.size, s.size, 4) + 1)
        else:
            message(self.ax, "No order flow recorded for this day (press Step)")
            self.ax.set_xlim(0, 10)
        if eq is not None and eq.quantity and np.isfinite(eq.price):
            for ax in (self.ax, self.axp):
                ax.axhspan(eq.price_low, eq.price_high, color=CE_COLOR, alpha=0.15, lw=0)
                ax.axhline(eq.price, color=CE_COLOR, lw=1, ls="--")
            self.ax.axvline(eq.quantity, color=CE_COLOR, lw=1, ls=":")
            self.ax.plot(
                [],
                [],
                color=CE_COLOR,
                ls="--",
                label=(
                    f"equilibrium: {eq.quantity} units at {eq.price_low:.2f}–{eq.price_high:.2f}"
                ),
            )
        if price.size:
            n = np.arange(1, price.size + 1)
            # The k-th trade at the k-th unit: a trade right of the equilibrium quantity is one
            # that the competitive outcome would not have made.
            self.ax.scatter(n, price, s=14, color=c, zorder=3, label=f"trades ({price.size})")
            self.axp.plot(n, price, color=c, lw=1.2, marker="o", ms=3)
            self.axp.set_xlim(0, price.size + 1)
        else:
            message(self.axp, "No trade on this day")
            self.axp.set_xlim(0, 10)
        vals = np.concatenate([np.ravel(y) for y in ys]) if ys else np.zeros(0)
        vals = vals[np.isfinite(vals)]
        if vals.size:
            lo, hi = round_limits(float(vals.min()), float(vals.max()), pad=0.08)
            self.ax.set_ylim(min(lo, 0.0) if lo < 0 else lo, hi)
            self.axp.set_ylim(*self.ax.get_ylim())
        self.ax.legend(fontsize=8, loc="upper right", framealpha=0.85)
        eff = ""
        homogeneous = not model.market.decision_valued
        if homogeneous and eq is not None and eq.max_surplus > 0 and price.size:
            eff = f"; efficiency {realised / eq.max_surplus:.0%}"
        set_title(self.ax, f"Report on index {good}, day {day}: supply and demand{eff}")
        set_title(self.axp, f"Day {day}: the price of each trade, in order")


def market_day_figure(model: MarketModel, good: int = 0, day: int | None = None) -> Figure:
    """One good's supply, demand and trades on one day (see :class:`MarketDayChart`)."""
    return MarketDayChart(model).update(model, good=good, on_day=day)


def classroom_comparison(model: MarketModel) -> list[tuple[str, float]]:
    """The classroom result for the run's days: ZI-C and ZI-U in the CDA, and ZI-C without a book.

    The run's own traders give one of the two CDA numbers; the other comes from the same run
    (scenario, settings, seed) with the other kind of trader, for as many days. The no-book
    baseline matches ZI-C traders at random on the run's own recorded values and costs
    (:func:`~llm_market.market.baseline.random_matching_efficiency`, drawn from a stream seeded
    by the run's seed and kept apart from the model's). The last two rows bracket what selling
    every unit is worth (:func:`~llm_market.market.baseline.trade_every_unit_efficiency`): ZI-U
    traders sell nearly every unit, and where their figure falls between the two is the market's
    doing (which buyers got the units), not a number fixed by the values and costs.

    Returns:
        ``(what, mean efficiency over the days)`` rows; empty before the first day.
    """
    from ..market.baseline import random_matching_efficiency, trade_every_unit_efficiency
    from ..model import MarketModel as Model
    from ..recording.columns import EFFICIENCY
    from .runs import changed_settings
    from .series import series

    if model.day < 1:
        return []
    p = model.params
    mine = "zi_c" if p.zi_traders == "zi_c" else "zi_u"
    other = "zi_u" if mine == "zi_c" else "zi_c"
    settings = {**changed_settings(model), "zi_traders": other}
    twin = Model(scenario=model.scenario_name, seed=model.seed, **settings)
    for _ in range(model.day):
        twin.step()

    def mean_eff(m: MarketModel) -> float:
        (eff,) = series(m, EFFICIENCY)
        eff = eff[1:][np.isfinite(eff[1:])]
        return float(eff.mean()) if eff.size else float("nan")

    cda = {mine: mean_eff(model), other: mean_eff(twin)}
    where = "continuous double auction" if p.mechanism == "cda" else f"mechanism {p.mechanism}"
    flows = getattr(model.market.mechanism, "flows", {})
    rng = np.random.default_rng([model.seed, 17])
    nobook = [
        random_matching_efficiency(f.values, f.costs, rng, p.zi_price_max, sellers=f.sellers)
        for (day, _), f in sorted(flows.items())
        if 1 <= day <= model.day
    ]
    nobook = [x for x in nobook if np.isfinite(x)]
    sell_all = np.array(
        [
            trade_every_unit_efficiency(f.values, f.costs)
            for (day, _), f in sorted(flows.items())
            if 1 <= day <= model.day
        ]
    ).reshape(-1, 2)
    sell_all = sell_all[np.isfinite(sell_all).all(axis=1)]
    low, high = sell_all.mean(axis=0) if sell_all.size else (float("nan"), float("nan"))
    return [
        (f"ZI-C traders, {where}", cda["zi_c"]),
        (f"ZI-U traders (no budget constraint), {where}", cda["zi_u"]),
        (
            "ZI-C traders matched at random, no order book",
            float(np.mean(nobook)) if nobook else float("nan"),
        ),
        ("Every unit sold, to the highest-value buyers", float(high)),
        ("Every unit sold, to the lowest-value buyers", float(low)),
    ]
