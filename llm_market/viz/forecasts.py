"""The forecasts view: the teams' Brier leaderboard and the reliability diagram."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .chart import Chart
from .style import message, nice_ceil, principal_color, set_title, style_axes

if TYPE_CHECKING:
    from ..model import MarketModel

BEST_COLOR, WORST_COLOR = "#2e7d32", "#c62828"
BASE_RATE_COLOR = "#1565c0"


class ForecastChart(Chart):
    """Brier leaderboard over the pivot window, and the reliability diagram.

    Args:
        model: The model.
        max_rows: Most teams listed; beyond it the best and the ten worst are shown.
    """

    height = 5.4

    def __init__(self, model: MarketModel, max_rows: int = 30):
        self.max_rows = max_rows
        super().__init__(model)

    def build(self, model: MarketModel) -> None:
        """Leaderboard on the left, reliability diagram on the right."""
        fig = self.fig
        self.ax, self.axr = fig.subplots(1, 2, width_ratios=(1.25, 1))
        fig.subplots_adjust(left=0.11, right=0.98, top=0.92, bottom=0.11, wspace=0.25)
        style_axes(self.ax, xlabel="mean Brier score (lower is better)", day_axis=False)
        self.ax.grid(axis="y", visible=False)
        self.ax.set_yticks([])
        # The best teams are on top with the shortest bars: their right is empty.
        self.ax.legend(
            handles=[
                Line2D([], [], color="k", lw=1.5, label="crowd (mean forecast)"),
                Line2D([], [], color=BASE_RATE_COLOR, lw=1.2, ls=":", label="always the base rate"),
                Line2D([], [], color="0.5", lw=1, ls="--", label="always 0.5"),
            ],
            fontsize=8,
            loc="upper right",
            framealpha=0.9,
        )
        self.ax.xaxis.set_major_locator(MaxNLocator(6))
        style_axes(
            self.axr,
            "Reliability (all resolved questions)",
            xlabel="forecast probability (bin mean)",
            ylabel="observed frequency",
            day_axis=False,
        )
        self.axr.set(
            xlim=(0, 1), ylim=(0, 1), xticks=np.linspace(0, 1, 6), yticks=np.linspace(0, 1, 6)
        )
        self.axr.set_aspect("equal", adjustable="box")

    def draw(self, model: MarketModel, **options: Any) -> None:
        """Rank the teams and draw the calibration curves."""
        ax, p = self.ax, model.params
        brier = model.team_brier
        scored = np.flatnonzero(np.isfinite(brier))
        if scored.size:
            order = scored[np.argsort(brier[scored], kind="stable")]
            if order.size > self.max_rows:
                # Keep both ends: the best are the pivot's winners, the worst its candidates to cut.
                order = np.concatenate([order[: self.max_rows - 10], order[-10:]])
            y = np.arange(order.size)[::-1]
            colors = [
                principal_color(model.teams[i].principal.idx) if model.active[i] else "0.8"
                for i in order
            ]
            # Bars as thick lines in one collection: a patch per team is slow to draw.
            height = ax.get_window_extent().height * 72 / self.fig.dpi / (order.size + 0.6)
            ax.hlines(y, 0, brier[order], colors=colors, lw=0.75 * height, capstyle="butt")
            # Team names as data, not tick labels: the ranking changes almost daily, and tick
            # labels belong to the cached background.
            size = 7 if order.size > 20 else 8
            for yi, i in zip(y, order, strict=True):
                out = "" if model.active[i] else " (out)"
                ax.text(
                    -0.01,
                    yi,
                    f"team {i} · P{model.teams[i].principal.idx}{out}",
                    transform=ax.get_yaxis_transform(),
                    ha="right",
                    va="center",
                    fontsize=size,
                )
            ax.set_ylim(-0.7, order.size - 0.3)
            if np.isfinite(model.crowd_brier):
                ax.axvline(model.crowd_brier, color="k", lw=1.5)
            base = model.scores.base_rate
            if np.isfinite(base):
                ax.axvline(base * (1 - base), color=BASE_RATE_COLOR, lw=1.2, ls=":")
            ax.axvline(0.25, color="0.5", lw=1, ls="--")
            ax.set_xlim(0, nice_ceil(max(0.3, float(np.nanmax(brier)) * 1.05)))
        else:
            due = model.questions.resolve_day
            first = f" (the first on day {int(due.min())})" if due.size else ""
            message(ax, f"No question has resolved yet{first}")
            ax.set_xlim(0, 0.3)
        shown = f"best and worst of {scored.size}" if scored.size > self.max_rows else "all teams"
        set_title(
            ax, f"Brier leaderboard, last {p.pivot_window} days ({shown}; colour = principal)"
        )
        self._reliability(model)

    def _reliability(self, model: MarketModel) -> None:
        axr = self.axr
        axr.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfectly calibrated")
        mean = model.scores.mean_brier()[:-1]
        candidates = [(model.n_teams, "crowd", "k")]
        if np.isfinite(mean).any():
            best, worst = int(np.nanargmin(mean)), int(np.nanargmax(mean))
            candidates += [
                (best, f"best team ({best})", BEST_COLOR),
                (worst, f"worst team ({worst})", WORST_COLOR),
            ]
        drawn = False
        sb = model.scores
        for col, label, color in candidates:
            # The ScoreBoard's bin sums directly: reliability() builds a DataFrame per call.
            n = sb.bin_counts[col]
            ok = n > 0
            if not ok.any():
                continue
            x, y = sb.bin_sum_p[col][ok] / n[ok], sb.bin_hits[col][ok] / n[ok]
            axr.plot(x, y, color=color, lw=1.2, label=label)
            axr.scatter(x, y, color=color, s=12 + 60 * np.sqrt(n[ok] / n[ok].max()), zorder=3)
            drawn = True
        if not drawn:
            message(axr, "Fills as questions resolve")
        axr.legend(
            fontsize=8, loc="upper left", title="dot size = forecasts in the bin", title_fontsize=7
        )


def forecast_figure(model: MarketModel) -> Figure:
    """Brier leaderboard and reliability diagram (see :class:`ForecastChart`)."""
    return ForecastChart(model).update(model)
