"""The efficiency view: allocative efficiency per day, and the split of the realised surplus."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..recording.columns import BUYER_SURPLUS, DAY, EFFICIENCY, SELLER_SURPLUS
from .chart import Chart
from .series import series, trading_regime, trailing_mean
from .style import (
    OVERLAY_COLOR,
    ROLLING,
    day_panels,
    message,
    overlay_note,
    regime_handles,
    set_day_xlim,
    set_ylim,
    shade_regimes,
)

if TYPE_CHECKING:
    from ..model import MarketModel

BUYER_COLOR, SELLER_COLOR = "#64b5f6", "#ffb74d"
DAILY_COLOR, MEAN_COLOR = "#43a047", "#1b5e20"


class EfficiencyChart(Chart):
    """Allocative efficiency per day, and the split of the realised surplus."""

    height = 5.6

    def build(self, model: MarketModel) -> None:
        """Efficiency above, stacked surplus below."""
        self.ax, self.axs = day_panels(
            self.fig,
            (1, 1.2),
            (
                "Allocative efficiency: realised surplus / the most surplus the "
                "day's bids and costs allowed",
                "efficiency",
            ),
            (f"Realised surplus per day ({ROLLING}-day mean), stacked", "money per day"),
        )
        self.ax.set_ylim(0, 1.05)
        self.ax.legend(
            handles=[
                Line2D([], [], color=DAILY_COLOR, lw=0.8, label="each day"),
                Line2D([], [], color=MEAN_COLOR, lw=1.8, label=f"{ROLLING}-day mean"),
                *regime_handles(model),
            ],
            fontsize=8,
            loc="lower left",
            ncol=4,
            framealpha=0.85,
        )
        self.axs.legend(
            handles=[
                Patch(color=BUYER_COLOR, label="buyers (clients): value - price"),
                Patch(color=SELLER_COLOR, label="sellers (teams): price - cost"),
            ],
            fontsize=8,
            loc="upper left",
            ncol=2,
        )

    def draw(
        self,
        model: MarketModel,
        overlay: MarketModel | None = None,
        overlay_label: str = "an earlier run",
        **options: Any,
    ) -> None:
        """Plot efficiency and surplus from day 1 (day 0 has no trading).

        Args:
            model: The model.
            overlay: An earlier run whose rolling efficiency and surplus are drawn in grey.
            overlay_label: What the earlier run is called in the chart.
            **options: Ignored.
        """
        day, eff, buyer, seller = series(model, DAY, EFFICIENCY, BUYER_SURPLUS, SELLER_SURPLUS)
        d, eff, buyer, seller = day[1:], eff[1:], buyer[1:], seller[1:]
        shade_regimes(self.ax, day, trading_regime(model), model)
        total_other = np.zeros(0)
        if overlay is not None:
            oday, oeff, ob, os_ = series(overlay, DAY, EFFICIENCY, BUYER_SURPLUS, SELLER_SURPLUS)
            if oday.size > 1:
                mean = trailing_mean(oeff[1:], ROLLING)
                self.ax.plot(oday[1:], mean, color=OVERLAY_COLOR, lw=1.4, ls="--")
                total_other = np.nan_to_num(trailing_mean(ob[1:], ROLLING)) + np.nan_to_num(
                    trailing_mean(os_[1:], ROLLING)
                )
                self.axs.plot(oday[1:], total_other, color=OVERLAY_COLOR, lw=1.2, ls="--")
                day = max(day, oday, key=len)
            overlay_note(self.ax, overlay_label)
        if d.size:
            self.ax.plot(d, eff, color=DAILY_COLOR, lw=0.8, alpha=0.6)
            self.ax.plot(d, trailing_mean(eff, ROLLING), color=MEAN_COLOR, lw=1.8)
            b = np.nan_to_num(trailing_mean(buyer, ROLLING))
            s = np.nan_to_num(trailing_mean(seller, ROLLING))
            self.axs.stackplot(d, b, s, colors=(BUYER_COLOR, SELLER_COLOR))
            set_ylim(self.axs, b + s, total_other, bottom=0.0, pad=0.3)
        else:
            message(self.axs, "Press Step: the first trading day fills this chart")
            self.axs.set_ylim(0, 1)
        set_day_xlim(self.axs, day)


def efficiency_figure(model: MarketModel) -> Figure:
    """Allocative efficiency and surplus (see :class:`EfficiencyChart`)."""
    return EfficiencyChart(model).update(model)
