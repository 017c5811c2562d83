"""The stylized-facts view: are report returns fat-tailed, uncorrelated and volatility-clustered?"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator
from scipy import stats

from ..recording.columns import PRICE
from ..stats.facts import acf, bartlett_band, excess_kurtosis, log_returns, robust_acf_band
from .chart import Chart
from .series import series_by_good
from .style import message, set_ylim, style_axes

if TYPE_CHECKING:
    from ..model import MarketModel

MIN_RETURNS = 20  # fewer returns than this make histograms and ACFs meaningless
FACT_LAGS = 20
HIST_COLOR, ACF_COLOR, ABS_ACF_COLOR = "#5c6bc0", "#1e88e5", "#fb8c00"


def report_returns(model: MarketModel) -> list[np.ndarray]:
    """Daily log returns of each good's close price (only between days that both have one)."""
    _, (prices,) = series_by_good(model, (), (PRICE,))
    return [log_returns(p) for p in prices]


class FactsChart(Chart):
    """Return histogram against the normal (log scale), ACF of returns and of absolute returns.

    Returns of all goods are pooled after standardising each good's own returns, so goods with
    different volatility line up; autocorrelations are averaged over goods, weighted by length.

    Args:
        model: The model.
        nlags: Largest lag of the autocorrelations.
    """

    height = 4.4

    def __init__(self, model: MarketModel, nlags: int = FACT_LAGS):
        self.nlags = nlags
        super().__init__(model)

    def build(self, model: MarketModel) -> None:
        """Three panels with their axes, scales and legends."""
        fig = self.fig
        self.axes = fig.subplots(1, 3)
        fig.subplots_adjust(left=0.06, right=0.99, top=0.84, bottom=0.14, wspace=0.28)
        ah, a1, a2 = self.axes
        style_axes(
            ah,
            "Returns against the normal",
            "standardised daily return",
            "density (log scale)",
            day_axis=False,
        )
        ah.set_yscale("log")
        # Plain labels: log axes default to mathtext, whose parser costs more than the plot.
        ah.yaxis.set_major_locator(LogLocator(numticks=5))
        ah.yaxis.set_minor_locator(NullLocator())
        ah.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ah.legend(
            handles=[
                Patch(color=HIST_COLOR, alpha=0.65, label="report returns"),
                Line2D([], [], color="k", ls="--", label="normal N(0, 1)"),
            ],
            fontsize=8,
            loc="upper right",
        )
        style_axes(a1, "Autocorrelation of returns", "lag (days)", "autocorrelation")
        style_axes(a2, "Autocorrelation of |returns|", "lag (days)", "autocorrelation")
        band = Patch(color="0.6", alpha=0.3, label="95% band, white noise")
        a1.legend(
            handles=[band, Line2D([], [], color="r", ls=":", label="95% band, volatility-robust")],
            fontsize=8,
            loc="upper right",
        )
        a2.legend(handles=[band], fontsize=8, loc="upper right")
        fig.suptitle(
            "Stylized facts of report returns", x=0.06, y=0.985, ha="left", va="top", fontsize=10
        )

    def draw(self, model: MarketModel, **options: Any) -> None:
        """Compute the statistics on the returns so far and plot them."""
        every = report_returns(model)
        rets = [r for r in every if r.size > 2 and np.std(r) > 0]
        n = sum(r.size for r in rets)
        ah, a1, a2 = self.axes
        if n < MIN_RETURNS:
            have = sum(r.size for r in every)
            for ax in self.axes:
                message(ax, f"Needs {MIN_RETURNS} daily returns\n(now {have}): press Step")
            ah.set(xlim=(-4, 4), ylim=(1e-3, 1))
            for ax in (a1, a2):
                ax.set(xlim=(0.5, self.nlags + 0.5), ylim=(-0.2, 0.2))
            return
        z = np.concatenate([(r - r.mean()) / r.std() for r in rets])
        lim = float(max(4, math.ceil(np.abs(z).max())))
        # One stairs artist rather than a patch per bin: a histogram of patches costs more to
        # draw than the rest of the panel.
        bottom = max(1e-4, 10.0 ** math.floor(math.log10(0.3 / n)))
        dens, edges = np.histogram(
            z, bins=min(60, max(10, n // 8)), range=(-lim, lim), density=True
        )
        ah.stairs(
            np.maximum(dens, bottom),
            edges,
            baseline=bottom,
            fill=True,
            color=HIST_COLOR,
            alpha=0.65,
        )
        grid = np.linspace(-lim, lim, 200)
        ah.plot(grid, stats.norm.pdf(grid), "k--", lw=1.2)
        ah.set_xlim(-lim, lim)
        ah.set_ylim(bottom, 1.5)

        nl = min(self.nlags, max(2, min(r.size for r in rets) // 3))
        weights = np.array([r.size for r in rets], dtype=float)
        lags = np.arange(1, nl + 1)
        band = bartlett_band(n)
        robust = np.average(
            np.vstack([robust_acf_band(r, nl)[1:] for r in rets]), axis=0, weights=weights
        )
        a1.plot(lags, robust, "r:", lw=1.2)
        a1.plot(lags, -robust, "r:", lw=1.2)
        for ax, transform, color in ((a1, np.asarray, ACF_COLOR), (a2, np.abs, ABS_ACF_COLOR)):
            rho = np.vstack([acf(transform(r), nl)[1:] for r in rets])
            ok = np.isfinite(rho)
            w = weights[:, None] * ok
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(w.sum(0) > 0, (np.where(ok, rho, 0) * w).sum(0) / w.sum(0), np.nan)
            ax.vlines(lags, 0, mean, color=color, lw=2.2)
            ax.axhline(0, color="k", lw=0.6)
            ax.fill_between([0.5, nl + 0.5], -band, band, color="0.6", alpha=0.3)
            ax.set_xlim(0.5, nl + 0.5)
            set_ylim(
                ax,
                mean,
                [band, -band],
                robust if ax is a1 else [],
                -robust if ax is a1 else [],
                pad=0.15,
            )
        # Changes every step: drawn as data, not as the (cached) title.
        self.fig.text(
            0.4,
            0.985,
            f"{n} daily log returns of {len(rets)} goods; excess kurtosis "
            f"{excess_kurtosis(z):.2f} (0 for a normal)",
            ha="left",
            va="top",
            fontsize=10,
            color="0.25",
        )


def facts_figure(model: MarketModel) -> Figure:
    """Stylized facts of report returns (see :class:`FactsChart`)."""
    return FactsChart(model).update(model)
