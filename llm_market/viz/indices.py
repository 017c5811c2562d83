"""The indices view: each index's recent path with the open questions about it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..recording.columns import DAY, INDEX
from .chart import Chart
from .series import series_by_good
from .style import MONTH, day_axis_end, good_color, round_limits, style_axes

if TYPE_CHECKING:
    from ..model import MarketModel

INDEX_WINDOW = 63  # days of index history shown with the open questions (a quarter)
YES_COLOR, NO_COLOR = "#66bb6a", "#ef5350"
DARK_YES_NO = ("#1b5e20", "#8e0000")


class IndicesChart(Chart):
    """Each index's path with its open questions drawn as strike segments.

    A question "will index k close at or above the strike on the resolution day?" is a
    horizontal segment at the strike from the day it opened to the day it resolves: green while
    the index is at or above the strike (it would resolve yes today), red below. The number at its
    end is the crowd's latest probability.

    Args:
        model: The model.
        window: Days of index history shown.
    """

    def __init__(self, model: MarketModel, window: int = INDEX_WINDOW):
        self.window = window
        super().__init__(model)

    def figure_height(self, model: MarketModel) -> float:
        """One band per index."""
        return 1.0 + 1.75 * model.n_goods

    def build(self, model: MarketModel) -> None:
        """One panel per index, sharing the day axis, and the legend of question styles."""
        k = model.n_goods
        fig = self.fig
        h = fig.get_figheight()
        self.axes = fig.subplots(k, 1, sharex=True, squeeze=False)[:, 0]
        fig.subplots_adjust(left=0.07, right=0.97, top=1 - 0.55 / h, bottom=0.5 / h, hspace=0.3)
        horizons = sorted(set(model.params.horizons))
        # Longest first: questions opened on the same day share a strike, so the shorter ones
        # are drawn on top, thinner, dashed and darker, or they would vanish under the longer.
        self.horizons = horizons[::-1]
        self.styles = {h_: ("-" if h_ == horizons[-1] else (0, (3, 1.5))) for h_ in horizons}
        self.widths = {h_: (3.0 if h_ == horizons[-1] else 1.5) for h_ in horizons}
        self.shade = {h_: (0 if h_ == horizons[-1] else 1) for h_ in horizons}
        for g, ax in enumerate(self.axes):
            style_axes(ax, f"index {g}", ylabel="level")
            if g < k - 1:
                ax.tick_params(labelbottom=False)
        self.axes[-1].set_xlabel("day (dotted line: today)", fontsize=9)
        handles = [
            Line2D(
                [],
                [],
                color="0.3",
                lw=self.widths[h_],
                ls=self.styles[h_],
                label=f"{h_}-day question",
            )
            for h_ in horizons
        ] + [
            Line2D([], [], color=YES_COLOR, lw=2, label="index at or above the strike now"),
            Line2D([], [], color=NO_COLOR, lw=2, label="below the strike now"),
            Line2D([], [], color="0.3", marker="|", ls="", ms=9, label="resolution day"),
        ]
        fig.legend(
            handles=handles,
            loc="upper right",
            ncol=len(handles),
            fontsize=8,
            frameon=False,
            bbox_to_anchor=(0.98, 1 - 0.22 / h),
        )
        fig.text(
            0.07,
            1 - 0.08 / h,
            f"Indices (last {self.window} days) and the open questions: "
            "strike from opening to resolution day, the crowd's probability at the end",
            fontsize=10,
            va="top",
        )

    def draw(self, model: MarketModel, **options: Any) -> None:
        """Plot the paths and the open questions."""
        (day,), (levels,) = series_by_good(model, (DAY,), (INDEX,))
        q = model.questions
        crowd = q.last_forecasts()[:, -1] if len(q) else np.zeros(0)
        # Both ends move a month at a time, so most redraws reuse the cached background.
        start = float(max(0, (int(day[-1]) - self.window) // MONTH * MONTH))
        end = day_axis_end(max(float(q.resolve_day.max()) if len(q) else 0.0, float(day[-1])) + 2)
        shown = day >= start
        for g, ax in enumerate(self.axes):
            ax.plot(day[shown], levels[g][shown], color=good_color(g), lw=1.4)
            ax.axvline(day[-1], color="0.5", lw=0.8, ls=":")
            mine = np.flatnonzero(q.index == g) if len(q) else np.zeros(0, dtype=int)
            now = levels[g][-1]
            for h_ in self.horizons:
                sel = mine[q.horizon[mine] == h_]
                if sel.size:
                    yes, no = (YES_COLOR, NO_COLOR) if not self.shade[h_] else DARK_YES_NO
                    ax.hlines(
                        q.strike[sel],
                        q.open_day[sel],
                        q.resolve_day[sel],
                        colors=np.where(now >= q.strike[sel], yes, no),
                        lw=self.widths[h_],
                        ls=self.styles[h_],
                    )
            if mine.size:
                ax.plot(q.resolve_day[mine], q.strike[mine], "|", color="0.3", ms=9, mew=1.2)
            for i in mine:
                if np.isfinite(crowd[i]):
                    ax.text(
                        q.resolve_day[i] + 0.4,
                        q.strike[i],
                        f"{crowd[i]:.2f}",
                        fontsize=7,
                        va="bottom",
                        color="0.25",
                    )
            # Coarse limits: each new limit costs a full redraw, and indices drift every day.
            lo, hi = np.nanmin(levels[g][shown]), np.nanmax(levels[g][shown])
            if mine.size:
                lo, hi = min(lo, q.strike[mine].min()), max(hi, q.strike[mine].max())
            ax.set_ylim(*round_limits(float(lo), float(hi), pad=0.12, parts=3))
        self.axes[-1].set_xlim(start, end)


def indices_figure(model: MarketModel) -> Figure:
    """Index paths with the open questions (see :class:`IndicesChart`)."""
    return IndicesChart(model).update(model)
