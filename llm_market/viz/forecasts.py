"""The forecasts view: the Brier leaderboard, the reliability diagram, and revenue against Brier.

The leaderboard ranks the teams by their rolling Brier score and marks each one's published
record (the score shrunk toward the population's, which is what clients see) and, when clients
value reports by their decision value, what its report saves a client. The benchmarks are the
crowd, the no-information forecaster (the index path alone, free to every client), the base rate
and a coin flip. The scatter asks whether a better forecast earns more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .chart import Chart
from .series import window_revenue
from .style import (
    OVERLAY_COLOR,
    message,
    nice_ceil,
    overlay_note,
    principal_color,
    round_limits,
    set_title,
    style_axes,
)

if TYPE_CHECKING:
    from ..model import MarketModel

BEST_COLOR, WORST_COLOR = "#2e7d32", "#c62828"
BASE_RATE_COLOR = "#1565c0"
NOINFO_COLOR = "#ef6c00"


class ForecastChart(Chart):
    """Brier leaderboard over the pivot window, the reliability diagram, and revenue vs Brier.

    Args:
        model: The model.
        max_rows: Most teams listed; beyond it the best and the ten worst are shown.
    """

    height = 7.6

    def __init__(self, model: MarketModel, max_rows: int = 30):
        self.max_rows = max_rows
        super().__init__(model)

    def build(self, model: MarketModel) -> None:
        """Leaderboard on the left, reliability diagram on the right."""
        fig = self.fig
        grid = fig.add_gridspec(2, 2, width_ratios=(1.25, 1), height_ratios=(1, 0.85))
        self.ax = fig.add_subplot(grid[:, 0])
        self.axr = fig.add_subplot(grid[0, 1])
        self.axe = fig.add_subplot(grid[1, 1])
        fig.subplots_adjust(left=0.11, right=0.98, top=0.95, bottom=0.07, wspace=0.25, hspace=0.32)
        style_axes(self.ax, xlabel="mean Brier score (lower is better)", day_axis=False)
        self.ax.grid(axis="y", visible=False)
        self.ax.set_yticks([])
        # The best teams are on top with the shortest bars: their right is empty.
        self.ax.legend(
            handles=[
                Line2D([], [], color="k", lw=1.5, label="crowd (mean forecast)"),
                Line2D([], [], color=NOINFO_COLOR, lw=1.5, ls="-.", label="no information (free)"),
                Line2D([], [], color=BASE_RATE_COLOR, lw=1.2, ls=":", label="always the base rate"),
                Line2D([], [], color="0.5", lw=1, ls="--", label="always 0.5"),
                Line2D(
                    [],
                    [],
                    color="k",
                    marker="|",
                    ls="",
                    ms=9,
                    mew=1.5,
                    label="published record (what clients see)",
                ),
                *(
                    [Line2D([], [], ls="", label="0.12: Brier its report saves a client")]
                    if model.params.client_valuation == "decision"
                    else []
                ),
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
        style_axes(
            self.axe,
            f"Does a better forecast earn more? Last {model.params.pivot_window} days",
            xlabel="Brier score (lower is better)",
            ylabel="revenue from reports",
            day_axis=False,
        )
        self.axe.xaxis.set_major_locator(MaxNLocator(5))
        self.axe.legend(
            handles=[
                Line2D([], [], color=NOINFO_COLOR, lw=1.5, ls="-.", label="no information"),
            ],
            fontsize=8,
            loc="upper right",
            framealpha=0.9,
        )

    def draw(
        self,
        model: MarketModel,
        overlay: MarketModel | None = None,
        overlay_label: str = "an earlier run",
        **options: Any,
    ) -> None:
        """Rank the teams and draw the calibration curves.

        Args:
            model: The model.
            overlay: An earlier run: its crowd's score, reliability curve and teams' revenue
                against Brier are drawn in grey.
            overlay_label: What the earlier run is called in the chart.
            **options: Ignored.
        """
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
            size = 7 if order.size > 20 else 8
            ax.hlines(y, 0, brier[order], colors=colors, lw=0.75 * height, capstyle="butt")
            market = model.view.market
            # What clients see: the record shrunk toward the mean, so it lags the raw score.
            ax.scatter(
                market.reputation[order],
                y,
                marker="|",
                c="k",
                s=(0.9 * height) ** 2,
                lw=1.5,
                zorder=3,
            )
            if p.client_valuation == "decision":
                # Each report's decision value per unit of stake: the Brier loss it saves a
                # client over an index's open questions (zero when no better than the free one).
                saves = market.quality[order].mean(axis=1)
                end = np.fmax(brier[order], market.reputation[order])
                for yi, b, v in zip(y, end, saves, strict=True):
                    ax.text(b, yi, f"  {v:.2f}", va="center", fontsize=size - 1, color="0.25")
            # Team names as data, not tick labels: the ranking changes almost daily, and tick
            # labels belong to the cached background.
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
            if np.isfinite(model.noinfo_brier):
                ax.axvline(model.noinfo_brier, color=NOINFO_COLOR, lw=1.5, ls="-.")
            base = model.scores.base_rate
            if np.isfinite(base):
                ax.axvline(base * (1 - base), color=BASE_RATE_COLOR, lw=1.2, ls=":")
            ax.axvline(0.25, color="0.5", lw=1, ls="--")
            # Room right of the longest bar for what its report saves.
            ax.set_xlim(0, nice_ceil(max(0.3, float(np.nanmax(brier)) * 1.2)))
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
        self._earnings(model, overlay)
        if overlay is not None:
            if np.isfinite(overlay.crowd_brier):
                ax.axvline(overlay.crowd_brier, color=OVERLAY_COLOR, lw=1.5, ls="--")
            sb = overlay.scores
            n = sb.bin_counts[overlay.crowd_col]
            ok = n > 0
            if ok.any():
                x = sb.bin_sum_p[overlay.crowd_col][ok] / n[ok]
                y = sb.bin_hits[overlay.crowd_col][ok] / n[ok]
                self.axr.plot(x, y, color=OVERLAY_COLOR, lw=1.2, ls="--", marker="o", ms=3)
            overlay_note(self.axr, f"{overlay_label} (its crowd)")

    def _earnings(self, model: MarketModel, overlay: MarketModel | None = None) -> None:
        """Revenue over the window against the rolling Brier score, one dot per team."""
        ax, window = self.axe, model.params.pivot_window
        brier = model.team_brier
        revenue = window_revenue(model, window)
        scored = np.isfinite(brier)
        extra_x, extra_y = np.zeros(0), np.zeros(0)
        if overlay is not None and np.isfinite(overlay.team_brier).any():
            # The earlier run's teams as grey rings: is the relation steeper or flatter?
            ok = np.isfinite(overlay.team_brier)
            extra_x = overlay.team_brier[ok]
            extra_y = window_revenue(overlay, overlay.params.pivot_window)[ok]
            ax.scatter(
                extra_x,
                extra_y,
                s=24,
                facecolors="none",
                edgecolors=OVERLAY_COLOR,
                linewidths=0.9,
                zorder=2,
            )
        if not scored.any():
            message(ax, "Fills as questions resolve")
            ax.set_xlim(0, 0.3)
            ax.set_ylim(0, 1)
            return
        colors = [
            principal_color(t.principal.idx) if model.active[t.idx] else "0.8" for t in model.teams
        ]
        ax.scatter(
            brier[scored],
            revenue[scored],
            c=[c for c, ok in zip(colors, scored, strict=True) if ok],
            s=28,
            edgecolors="white",
            linewidths=0.6,
            zorder=3,
        )
        xs = [brier[scored], extra_x]
        if np.isfinite(model.noinfo_brier):
            ax.axvline(model.noinfo_brier, color=NOINFO_COLOR, lw=1.5, ls="-.")
            xs.append([model.noinfo_brier])
        x = np.concatenate(xs)
        ax.set_xlim(*round_limits(float(x.min()), float(x.max()), pad=0.1, parts=3))
        top = float(np.r_[revenue[scored], extra_y].max())
        ax.set_ylim(0, nice_ceil(top * 1.15) if top > 0 else 1.0)
        if scored.sum() >= 3:
            rho = rank_correlation(revenue[scored], -brier[scored])
            ax.text(
                0.02,
                0.03,
                f"rank correlation of revenue and accuracy: {rho:+.2f}",
                transform=ax.transAxes,
                va="bottom",
                fontsize=8,
            )

    def _reliability(self, model: MarketModel) -> None:
        axr = self.axr
        axr.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfectly calibrated")
        mean = model.scores.mean_brier()[: model.n_teams]
        candidates = [
            (model.crowd_col, "crowd", "k"),
            (model.noinfo_col, "no information", NOINFO_COLOR),
        ]
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


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of ``x`` and ``y`` (NaN when either is constant)."""
    from scipy.stats import spearmanr

    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def forecast_figure(model: MarketModel) -> Figure:
    """Leaderboard, reliability and revenue against Brier (see :class:`ForecastChart`)."""
    return ForecastChart(model).update(model)
