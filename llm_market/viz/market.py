"""The market view: report prices against the competitive equilibrium, and volumes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..recording.columns import CE_PRICE, DAY, PRICE, VOLUME
from .chart import Chart
from .series import series_by_good, trading_regime, trailing_mean
from .style import (
    VOLUME_WINDOW,
    day_panels,
    good_color,
    message,
    regime_handles,
    set_day_xlim,
    set_ylim,
    shade_regimes,
)

if TYPE_CHECKING:
    from ..model import MarketModel


class MarketChart(Chart):
    """Report prices (close) against each day's competitive equilibrium price, and volumes."""

    height = 5.6

    def build(self, model: MarketModel) -> None:
        """Two panels sharing the day axis: prices above, volumes below."""
        self.ax, self.axv = day_panels(
            self.fig,
            (2.2, 1),
            (
                "Report prices: last trade of the day (solid) and the day's competitive "
                "equilibrium price (dashed)",
                "price",
            ),
            (f"Volume: reports traded per day ({VOLUME_WINDOW}-day mean)", "reports"),
        )
        handles = [
            Line2D([], [], color=good_color(g), lw=1.5, label=f"report on index {g}")
            for g in range(model.n_goods)
        ]
        handles.append(Line2D([], [], color="0.3", ls="--", lw=1, label="competitive equilibrium"))
        self.ax.legend(
            handles=handles + regime_handles(model),
            fontsize=8,
            ncol=2,
            loc="upper left",
            framealpha=0.85,
        )

    def draw(self, model: MarketModel, **options: Any) -> None:
        """Plot every good's close, equilibrium price and volume up to today."""
        (day,), (price, ce, volume) = series_by_good(model, (DAY,), (PRICE, CE_PRICE, VOLUME))
        # Day 0 has no trading: its zero volume would drag the first means down.
        vol = [np.r_[np.nan, trailing_mean(v[1:], VOLUME_WINDOW)] for v in volume]
        shade_regimes(self.ax, day, trading_regime(model), model)
        for g in range(model.n_goods):
            c = good_color(g)
            self.ax.plot(day, price[g], color=c, lw=1.5)
            self.ax.plot(day, ce[g], color=c, lw=1.0, ls="--", alpha=0.8)
            self.axv.plot(day, vol[g], color=c, lw=1.2)
        if day.size < 2:
            message(self.ax, "Press Step: the first trading day fills this chart")
        # Headroom above the prices keeps the legend off the lines.
        set_ylim(self.ax, *price, *ce, bottom=0.0, pad=0.45, empty=(0.0, 5.0))
        set_ylim(self.axv, *vol, bottom=0.0, empty=(0.0, 10.0))
        set_day_xlim(self.axv, day)


def market_figure(model: MarketModel) -> Figure:
    """Prices against the competitive equilibrium, and volumes (see :class:`MarketChart`)."""
    return MarketChart(model).update(model)
