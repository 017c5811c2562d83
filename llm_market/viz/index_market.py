"""The traded index's view: price against fundamental, and who trades (issue 13).

Read from the ``index_traders`` log, which a run with ``index_process="market"`` writes one row
per index and day. :func:`draw_price_vs_fundamental` and :func:`draw_trader_mix` draw on a
Matplotlib Axes; :func:`index_market_figure` puts both side by side for one index (the run
report), and :class:`IndexMarketChart` is the app's tab.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..recording.columns import INDEX_TRADERS
from .chart import Chart
from .style import day_panels, message

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..model import MarketModel

MIX = (
    ("fundamentalists", "fundamentalists", "#1e88e5"),
    ("optimists", "chartists, optimist", "#43a047"),
    ("pessimists", "chartists, pessimist", "#e53935"),
    ("noise", "noise traders", "#9e9e9e"),
)


def trader_frame(model: MarketModel) -> pd.DataFrame | None:
    """The ``index_traders`` log as a frame, or None when the run's index is not traded."""
    log = model.logs.get(INDEX_TRADERS)
    if log is None or not log.rows:
        return None
    return log.to_frame()


def informativeness(frame: pd.DataFrame, index: int | None = None) -> float:
    """How closely the traded price tracks the fundamental: RMSE of log price - log fundamental.

    Args:
        frame: The ``index_traders`` log.
        index: One index, or None for all rows.
    """
    f = frame if index is None else frame[frame["index"] == index]
    gap = np.log(f["price"].to_numpy()) - np.log(f["fundamental"].to_numpy())
    return float(np.sqrt(np.mean(gap**2))) if gap.size else float("nan")


def draw_price_vs_fundamental(ax: Axes, frame: pd.DataFrame, index: int = 0) -> None:
    """The index's traded price and its fundamental value, day by day."""
    f = frame[frame["index"] == index]
    ax.plot(f["step"], f["fundamental"], color="black", lw=1.0, ls="--", label="fundamental")
    ax.plot(f["step"], f["price"], color="#1e88e5", lw=1.1, label="traded price")
    rmse = informativeness(frame, index)
    ax.set(
        title=f"Index {index}: traded price and fundamental (RMSE of log gap {rmse:.3f})",
        xlabel="day",
        ylabel="level",
    )
    ax.legend(fontsize=8, loc="upper left")


def draw_trader_mix(ax: Axes, frame: pd.DataFrame, index: int = 0) -> None:
    """Shares of fundamentalists, chartists and noise traders, and the informed share."""
    f = frame[frame["index"] == index]
    total = f[[c for c, _, _ in MIX]].sum(axis=1).to_numpy(dtype=float)
    shares = [f[c].to_numpy(dtype=float) / total for c, _, _ in MIX]
    ax.stackplot(
        f["step"], *shares, labels=[label for _, label, _ in MIX], colors=[c for *_, c in MIX]
    )
    ax.plot(
        f["step"], f["informed"] / total, color="black", lw=0.9, label="informed (bought a report)"
    )
    ax.set(title=f"Index {index}: who trades", xlabel="day", ylabel="share of traders", ylim=(0, 1))
    ax.legend(fontsize=7, loc="upper right", ncol=2)


def index_market_figure(model: MarketModel, index: int = 0) -> Figure | None:
    """A figure of one index: price against fundamental, and the trader mix (None if untraded)."""
    frame = trader_frame(model)
    if frame is None:
        return None
    fig = Figure(figsize=(12, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    draw_price_vs_fundamental(left, frame, index)
    draw_trader_mix(right, frame, index)
    return fig


class IndexMarketChart(Chart):
    """The app's view of the traded index: index 0's price against its fundamental, and who trades.

    A run whose index is not traded (any ``index_process`` but ``"market"``) gets a note saying
    which scenario has it.
    """

    height = 5.6

    def build(self, model: MarketModel) -> None:
        """Price against fundamental above, the trader mix below, on one day axis."""
        self.price_ax, self.mix_ax = day_panels(
            self.fig,
            (1.2, 1),
            ("Index 0: traded price and fundamental", "level"),
            ("Index 0: who trades", "share of traders"),
        )

    def draw(self, model: MarketModel, **options: Any) -> None:
        """Both panels from the ``index_traders`` log (a note while there is nothing to show)."""
        frame = trader_frame(model)
        if frame is None:
            text = (
                "This run's index is not traded: choose the market scenario"
                if model.params.index_process != "market"
                else "Press Step: the first trading day fills this chart"
            )
            message(self.price_ax, text)
            return
        draw_price_vs_fundamental(self.price_ax, frame, 0)
        draw_trader_mix(self.mix_ax, frame, 0)
        self.mix_ax.set_xlabel("day", fontsize=9)
        self.price_ax.set_xlabel("")
        for ax in (self.price_ax, self.mix_ax):
            ax.relim()
            ax.autoscale_view()
        self.mix_ax.set_ylim(0, 1)
