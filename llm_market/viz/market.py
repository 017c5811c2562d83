"""The market view: report prices, the range of the day's trades, and volumes.

When clients value a report by its seller's record (``client_valuation="decision"``), reports from
different teams are different goods: there is no single competitive price on those days (the
collected ``ce_price`` is NaN) and the band of the day's cheapest to dearest trade shows how far
prices differ by seller. The competitive price is drawn where it exists (induced values, or days
before any record tells the sellers apart).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..recording.columns import CE_PRICE, DAY, PRICE, VOLUME
from .chart import Chart
from .series import series_by_good, trade_price_range, trading_regime, trailing_mean
from .style import (
    OVERLAY_COLOR,
    VOLUME_WINDOW,
    day_panels,
    good_color,
    message,
    overlay_note,
    regime_handles,
    set_day_xlim,
    set_ylim,
    shade_regimes,
)

if TYPE_CHECKING:
    from ..model import MarketModel


class MarketChart(Chart):
    """Report prices: the close, the day's range and the competitive price; and volumes."""

    height = 5.6

    def build(self, model: MarketModel) -> None:
        """Two panels sharing the day axis: prices above, volumes below."""
        self.ax, self.axv = day_panels(
            self.fig,
            (2.2, 1),
            (
                "Report prices: last trade of the day (line), cheapest to dearest trade (band), "
                "competitive price where reports are alike (dashed)",
                "price",
            ),
            (f"Volume: reports traded per day ({VOLUME_WINDOW}-day mean)", "reports"),
        )
        handles = [
            Line2D([], [], color=good_color(g), lw=1.5, label=f"report on index {g}")
            for g in range(model.n_goods)
        ]
        handles.append(Patch(color="0.3", alpha=0.2, label="cheapest to dearest trade"))
        # Reports valued by their seller's record differ by seller: no single price clears them.
        alike = "" if model.params.client_valuation == "induced" else " (while sellers are alike)"
        handles.append(
            Line2D([], [], color="0.3", ls="--", lw=1, label=f"competitive price{alike}")
        )
        self.ax.legend(
            handles=handles + regime_handles(model),
            fontsize=8,
            ncol=2,
            loc="upper left",
            framealpha=0.85,
        )

    def draw(
        self,
        model: MarketModel,
        goods: tuple[int, ...] | None = None,
        overlay: MarketModel | None = None,
        overlay_label: str = "an earlier run",
        **options: Any,
    ) -> None:
        """Plot the close, equilibrium price and volume of every good (or of ``goods``).

        Args:
            model: The model.
            goods: The goods to show (None: all).
            overlay: An earlier run whose closes and volumes are drawn under this one's.
            overlay_label: What the earlier run is called in the chart.
            **options: Ignored.
        """
        (day,), (price, ce, volume) = series_by_good(model, (DAY,), (PRICE, CE_PRICE, VOLUME))
        shown = range(model.n_goods) if goods is None else [g for g in goods if g < model.n_goods]
        # Day 0 has no trading: its zero volume would drag the first means down.
        vol = [np.r_[np.nan, trailing_mean(v[1:], VOLUME_WINDOW)] for v in volume]
        low, high = trade_price_range(model, day.size)
        # A week's mean of each end: single trades at odd prices would make the band a comb.
        low = [np.r_[np.nan, trailing_mean(x[1:], VOLUME_WINDOW)] for x in low]
        high = [np.r_[np.nan, trailing_mean(x[1:], VOLUME_WINDOW)] for x in high]
        shade_regimes(self.ax, day, trading_regime(model), model)
        self._overlay_y, self._overlay_v, self._overlay_day = (), (), np.zeros(0)
        if overlay is not None:
            self._overlay(overlay, shown, overlay_label)
        for g in shown:
            c = good_color(g)
            traded = np.isfinite(low[g])
            self.ax.fill_between(day, low[g], high[g], where=traded, color=c, alpha=0.16, lw=0)
            self.ax.plot(day, price[g], color=c, lw=1.5)
            self.ax.plot(day, ce[g], color=c, lw=1.0, ls="--", alpha=0.8)
            self.axv.plot(day, vol[g], color=c, lw=1.2)
        if day.size < 2:
            message(self.ax, "Press Step: the first trading day fills this chart")
        # Headroom above the prices keeps the legend off the lines.
        ys = [price[g] for g in shown] + [ce[g] for g in shown] + [high[g] for g in shown]
        set_ylim(self.ax, *ys, *self._overlay_y, bottom=0.0, pad=0.45, empty=(0.0, 5.0))
        set_ylim(self.axv, *(vol[g] for g in shown), *self._overlay_v, bottom=0.0, empty=(0, 10))
        set_day_xlim(self.axv, day if overlay is None else max(day, self._overlay_day, key=len))

    _overlay_y: tuple = ()
    _overlay_v: tuple = ()
    _overlay_day: np.ndarray = np.zeros(0)

    def _overlay(self, other: MarketModel, goods, label: str) -> None:
        """Draw an earlier run's closes and volumes in grey, dashed."""
        (day,), (price, volume) = series_by_good(other, (DAY,), (PRICE, VOLUME))
        ys, vs = [], []
        for g in goods:
            if g >= other.n_goods:
                continue
            v = np.r_[np.nan, trailing_mean(volume[g][1:], VOLUME_WINDOW)]
            self.ax.plot(day, price[g], color=OVERLAY_COLOR, lw=1.1, ls="--", alpha=0.8)
            self.axv.plot(day, v, color=OVERLAY_COLOR, lw=1.0, ls="--", alpha=0.8)
            ys.append(price[g])
            vs.append(v)
        self._overlay_y, self._overlay_v, self._overlay_day = tuple(ys), tuple(vs), day
        overlay_note(self.axv, label)


def market_figure(model: MarketModel) -> Figure:
    """Prices, their daily range, the competitive price, and volumes (see :class:`MarketChart`)."""
    return MarketChart(model).update(model)
