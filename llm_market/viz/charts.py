"""Figures of a running market for the browser app (``app.py``) and for notebooks.

Each view is a :class:`Chart`: built once for a model, then updated after every step, which
replaces only the data artists (see :class:`Chart` for why). ``market_figure(model)`` and its
siblings build and draw a chart in one call. Charts work at any step, including step 0 before
anything has happened, and use bare Agg-backed matplotlib figures: no pyplot, so nothing global
changes and figures can be drawn in a web server's threads. They read the model's DataCollector
columns and logs directly rather than building DataFrames, because the app redraws after every
step and a DataFrame of the whole history costs more than the drawing.

Colours mean the same thing in every figure: one colour per good/index (``GOOD_COLORS``), one
per principal (``PRINCIPAL_COLORS``), red and blue shading for high and low demand regimes.
"""

from __future__ import annotations

import colorsys
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib
import networkx as nx
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator
from PIL import Image
from scipy import stats

from ..stats.facts import acf, bartlett_band, excess_kurtosis, log_returns, robust_acf_band

if TYPE_CHECKING:
    from ..model import MarketModel

GOOD_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
PRINCIPAL_COLORS = (
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#666666",
)
BID_COLOR, ASK_COLOR = "#2e7d32", "#c62828"
YES_COLOR, NO_COLOR = "#66bb6a", "#ef5350"
DARK_YES_NO = ("#1b5e20", "#8e0000")
BEST_COLOR, WORST_COLOR = "#2e7d32", "#c62828"
BUYER_COLOR, SELLER_COLOR = "#64b5f6", "#ffb74d"
HIST_COLOR, ACF_COLOR, ABS_ACF_COLOR = "#5c6bc0", "#1e88e5", "#fb8c00"
BASE_RATE_COLOR = "#1565c0"
DPI = 96
WIDTH = 10.5  # inches: about 1000 px, the width of the app's main column on a laptop screen
ROLLING = 10  # days in the rolling means of noisy daily series
VOLUME_WINDOW = 5  # days in the mean of volumes (a week: daily volumes of several goods tangle)
INDEX_WINDOW = 63  # days of index history shown with the open questions (a quarter)
MIN_RETURNS = 20  # fewer returns than this make histograms and ACFs meaningless
FACT_LAGS = 20
BOOK_LEVELS = 5  # price levels per side in the mechanism's closing quotes
COLOR_BY = ("budget share", "Brier score", "forecast")

MONTH = 21  # day axes grow a month at a time, so most redraws reuse the cached background
NICE_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
# PNG at low zlib effort: on a local connection encoding time matters and bytes barely do.
PNG_COMPRESS_LEVEL = 1


def good_color(k: int) -> str:
    """Colour of good (and index) ``k``."""
    return GOOD_COLORS[k % len(GOOD_COLORS)]


def principal_color(p: int) -> str:
    """Colour of principal ``p``."""
    return PRINCIPAL_COLORS[p % len(PRINCIPAL_COLORS)]


# ---------------------------------------------------------------------------------------------
# Data access
# ---------------------------------------------------------------------------------------------


def series(model: MarketModel, *names: str) -> list[np.ndarray]:
    """Collected model-level series as float arrays of one common length.

    Args:
        model: The model.
        *names: DataCollector model-reporter names (``price_0``, ``efficiency``, ...).

    Returns:
        One array per name, row ``i`` being day ``i``. They are cut to the shortest, so a redraw
        that overlaps a collection (Mesa's threaded play) still sees aligned rows.
    """
    cols = [model.datacollector.model_vars[n] for n in names]
    n = min(len(c) for c in cols)
    return [np.asarray(c[:n], dtype=float) for c in cols]


def trading_regime(model: MarketModel) -> np.ndarray:
    """The demand regime each collected day traded under (-1 for day 0, before any trading).

    The regime collected after a step is the one the *next* day trades under, so the series is
    shifted by one day to line up with that day's prices and efficiency.
    """
    (regime,) = series(model, "demand_regime")
    out = np.full(regime.size, -1.0)
    out[1:] = regime[:-1]
    return out


def trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` finite values at each position (NaN where none)."""
    ok = np.isfinite(x)
    c = np.concatenate([[0.0], np.cumsum(np.where(ok, x, 0.0))])
    k = np.concatenate([[0], np.cumsum(ok)])
    i = np.arange(1, x.size + 1)
    lo = np.maximum(i - window, 0)
    num, den = c[i] - c[lo], k[i] - k[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def funding_shares(model: MarketModel) -> tuple[np.ndarray, np.ndarray]:
    """Each team's share of the research funding, at every funding round.

    Returns:
        ``(steps, shares)``: the steps of the funding rounds and an array (rounds x teams) of
        each team's share of that round's total. Read from the budget log, which has every
        transfer, so no history is rebuilt from the DataCollector.
    """
    log = model.budget_log
    kind = log.column("kind")
    funding = kind == "funding"
    step = log.column("step")[funding]
    team = log.column("team")[funding]
    amount = log.column("amount")[funding]
    rounds, row = np.unique(step, return_inverse=True)
    alloc = np.zeros((rounds.size, model.n_teams))
    np.add.at(alloc, (row, team), amount)
    total = alloc.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(total > 0, alloc / total, 0.0)
    return rounds, shares


def current_shares(model: MarketModel) -> np.ndarray:
    """Each team's share of this month's research funding."""
    alloc = np.array([t.monthly_allocation for t in model.teams])
    total = alloc.sum()
    return alloc / total if total > 0 else np.zeros_like(alloc)


def graph_question(model: MarketModel) -> int | None:
    """Row of the open question the graph colours teams by: the oldest, longest one.

    The oldest question has the most days of forecasts and so shows herding best.
    """
    q = model.questions
    if not len(q):
        return None
    order = np.lexsort((-q.horizon, q.open_day))
    return int(order[0])


def headline(model: MarketModel) -> list[tuple[str, str]]:
    """The numbers shown above the views: ``(label, value)`` pairs, values formatted."""
    k = model.n_goods
    cols = series(
        model,
        "efficiency",
        "crowd_brier",
        "mean_team_brier",
        "budget_hhi",
        *[f"volume_{g}" for g in range(k)],
        *[f"price_{g}" for g in range(k)],
    )
    eff, crowd, teams, hhi = (c[-1] for c in cols[:4])
    traded = int(sum(v[-1] for v in cols[4 : 4 + k]))
    prices = [v[-1] for v in cols[4 + k :]]
    p = model.params
    state = p.demand_states[model.demand.state]
    return [
        ("day", f"{model.day}"),
        ("demand now", f"{state} (x{model.demand.level:g})"),
        ("reports traded today", f"{traded}"),
        ("closing prices", " / ".join(_fmt(x, "{:.2f}") for x in prices)),
        ("efficiency today", _fmt(eff, "{:.0%}")),
        ("Brier: crowd / mean team", f"{_fmt(crowd, '{:.3f}')} / {_fmt(teams, '{:.3f}')}"),
        ("funding HHI", _fmt(hhi, "{:.3f}")),
        ("active teams", f"{int(model.active.sum())} of {model.n_teams}"),
    ]


def _fmt(x: float, spec: str) -> str:
    return spec.format(x) if np.isfinite(x) else "–"


# ---------------------------------------------------------------------------------------------
# Chart plumbing
# ---------------------------------------------------------------------------------------------


def new_figure(height: float, width: float = WIDTH) -> Figure:
    """An Agg-backed figure of the app's width."""
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def style_axes(
    ax, title: str = "", xlabel: str = "", ylabel: str = "", day_axis: bool = True
) -> None:
    """House style: light grid, few ticks, a left-aligned title at a fixed height.

    The fixed title height (``y=1.0``) spares matplotlib a bounding-box pass over every tick
    label at each draw, and fewer ticks mean fewer text objects: together most of a redraw.
    """
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, alpha=0.25, lw=0.6)
    ax.tick_params(labelsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(8, integer=day_axis))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ax.set_title(title, fontsize=10, loc="left", y=1.0, pad=5)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)


def nice_ceil(x: float) -> float:
    """The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten) >= x."""
    if not (math.isfinite(x) and x > 0):
        return 1.0
    scale = 10.0 ** math.floor(math.log10(x))
    m = next(m for m in NICE_STEPS if m * scale >= x * (1 - 1e-9))
    return float(f"{m * scale:.12g}")  # 3 * 0.1 is 0.30000000000000004


def set_ylim(ax, *arrays, bottom: float | None = None, pad: float = 0.06, empty=(0.0, 1.0)):
    """Fit the y axis to the finite values of ``arrays``, with round limits.

    Autoscaling would remember removed artists; round limits change only when the data cross
    one, so consecutive redraws usually share the cached background (see :meth:`Chart.png`).

    Args:
        ax: The axes.
        *arrays: The values to show.
        bottom: A fixed lower limit (the data may still go below it), or None to fit both ends.
        pad: Headroom as a share of the data's range.
        empty: Limits when there is no finite value.
    """
    vals = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays] or [[]])
    vals = vals[np.isfinite(vals)]
    if not vals.size:
        ax.set_ylim(*empty)
        return
    lo, hi = float(vals.min()), float(vals.max())
    if bottom is not None:
        lo = min(bottom, lo)
        top = hi + pad * (hi - lo)
        hi = lo + nice_ceil(top - lo) if top > lo else lo + 1.0
        ax.set_ylim(lo if lo == bottom else -nice_ceil(-lo), hi)
        return
    ax.set_ylim(*round_limits(lo, hi, pad))


def round_limits(lo: float, hi: float, pad: float = 0.06, parts: int = 4) -> tuple[float, float]:
    """Pad ``[lo, hi]`` and widen it to multiples of a round step of about ``1/parts`` of it.

    Fewer parts mean coarser limits, which change less often as the data move.
    """
    span = (hi - lo) or abs(hi) or 1.0
    lo, hi = lo - pad * span, hi + pad * span
    step = nice_ceil((hi - lo) / parts)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


def day_axis_end(last: float) -> float:
    """The right end of a day axis: the end of the current month (of a quarter after a year)."""
    chunk = MONTH * (1 + int(last) // 252)
    return float((int(last) // chunk + 1) * chunk)


def set_day_xlim(ax, day: np.ndarray, start: float = 0.0) -> None:
    """Show days from ``start`` to the end of the current month."""
    last = float(day[-1]) if day.size else 0.0
    ax.set_xlim(start, day_axis_end(last))


def message(ax, text: str) -> None:
    """Write a note in the middle of an empty panel."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.35")


def regime_handles(model: MarketModel) -> list[Patch]:
    """Legend entries for the demand-regime shading (only regimes that shift demand)."""
    p = model.params
    return [
        Patch(color=c, alpha=0.25, label=f"demand {p.demand_states[s]} (x{p.demand_levels[s]:g})")
        for s, c in enumerate(_regime_colors(p.demand_levels))
        if c is not None
    ]


def _regime_colors(levels: Sequence[float]) -> list[str | None]:
    return [None if lv == 1 else ("#d73027" if lv > 1 else "#4575b4") for lv in levels]


def shade_regimes(ax, day: np.ndarray, regime: np.ndarray, model: MarketModel) -> None:
    """Shade the background of ``ax`` red where demand is high and blue where it is low."""
    trans = ax.get_xaxis_transform()
    for s, color in enumerate(_regime_colors(model.params.demand_levels)):
        on = regime == s
        if color is not None and on.any():
            ax.fill_between(
                day, 0, 1, where=on, transform=trans, step="mid", color=color, alpha=0.09, lw=0
            )


class Chart:
    """A figure built once per model; each update replaces only its data artists.

    Creating axes, ticks and titles is most of what a fresh matplotlib figure costs, so the app
    keeps one chart per view and model and calls :meth:`update` after every step. Subclasses set
    up axes and everything that never changes in :meth:`build`, and draw the data in
    :meth:`draw`; artists that exist after ``build`` are kept, the rest are removed before the
    next ``draw``.

    Args:
        model: The model the chart shows (its sizes fix the layout).
    """

    height = 5.0
    width = WIDTH

    def __init__(self, model: MarketModel):
        self.fig = new_figure(self.figure_height(model), self.width)
        self.keep_axes: set = set()  # axes that manage their own artists (colorbars)
        self.build(model)
        self._static = self._artists()
        # Legends sit on the data: in a blitted redraw they are drawn again, last.
        self._overlays = [a for a in self._static if isinstance(a, Legend)]
        self._background = None
        self._legend_pixels: list = []
        self._background_key: tuple | None = None

    def figure_height(self, model: MarketModel) -> float:
        """Height in inches (some charts grow with the number of goods)."""
        return self.height

    def build(self, model: MarketModel) -> None:
        """Create the axes, titles, labels and static legends."""
        raise NotImplementedError

    def draw(self, model: MarketModel, **options: Any) -> None:
        """Add the data artists and set the limits."""
        raise NotImplementedError

    def update(self, model: MarketModel, **options: Any) -> Figure:
        """Redraw the data of ``model`` (the model the chart was built for); return the figure."""
        for artist in self._artists() - self._static:
            artist.remove()
        self.draw(model, **options)
        return self.fig

    def png(self, model: MarketModel, **options: Any) -> bytes:
        """Update the chart and return it as PNG bytes, redrawing as little as possible.

        Everything but the data (axes, ticks, titles, legends) is rendered once and cached as
        a bitmap; while the limits and titles stay the same, a redraw pastes that bitmap and
        draws only the data artists on it (matplotlib's blitting). The legends' pixels are
        pasted again on top, so the data never covers them and their text is never redrawn.
        """
        self.update(model, **options)
        canvas = self.fig.canvas
        # The order matplotlib itself draws in: axes by axes, then by zorder, ties in the order
        # the artists were added (a set's order would make crossing lines flicker).
        fresh = self._artists() - self._static
        dynamic = [
            a
            for ax in self.fig.axes
            for a in sorted(ax.get_children(), key=lambda a: a.get_zorder())
            if a in fresh
        ]
        dynamic += [a for a in [*self.fig.texts, *self.fig.legends] if a in fresh]
        key = self.background_key()
        if key != self._background_key:
            for artist in dynamic:
                artist.set_visible(False)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            self._legend_pixels = [
                canvas.copy_from_bbox(legend.get_window_extent().padded(1.0))
                for legend in self._overlays
            ]
            self._background_key = key
            for artist in dynamic:
                artist.set_visible(True)
        else:
            canvas.restore_region(self._background)
        for artist in dynamic:
            self.fig.draw_artist(artist)
        for pixels in self._legend_pixels:
            canvas.restore_region(pixels)
        width, height = canvas.get_width_height(physical=True)
        rgba = canvas.buffer_rgba()
        image = Image.frombuffer("RGBA", (width, height), rgba, "raw", "RGBA", 0, 1)
        out = io.BytesIO()
        image.convert("RGB").save(out, format="png", compress_level=PNG_COMPRESS_LEVEL)
        return out.getvalue()

    def background_key(self) -> tuple:
        """What the cached background depends on: limits, scales and texts of all axes."""
        parts: list[Any] = [t.get_text() for t in self.fig.texts if t in self._static]
        if self.fig._suptitle is not None:
            parts.append(self.fig._suptitle.get_text())
        for ax in self.fig.axes:
            parts += [
                ax.get_xlim(),
                ax.get_ylim(),
                ax.get_title("left"),
                ax.get_title("center"),
                ax.get_title("right"),
            ]
        return (*parts, *self.extra_key())

    def extra_key(self) -> tuple:
        """More that the background depends on (fixed tick labels, a colour scale)."""
        return ()

    def _artists(self) -> set:
        out = set(self.fig.texts) | set(self.fig.legends)
        for ax in self.fig.axes:
            if ax in self.keep_axes:
                continue
            out.update(ax.lines, ax.collections, ax.patches, ax.texts, ax.images)
            if ax.legend_ is not None:
                out.add(ax.legend_)
        return out


# ---------------------------------------------------------------------------------------------
# Market: prices, equilibrium, volume
# ---------------------------------------------------------------------------------------------


class MarketChart(Chart):
    """Report prices (close) against each day's competitive equilibrium price, and volumes."""

    height = 5.6

    def build(self, model: MarketModel) -> None:
        """Two panels sharing the day axis: prices above, volumes below."""
        fig = self.fig
        self.ax, self.axv = fig.subplots(2, 1, sharex=True, height_ratios=(2.2, 1))
        fig.subplots_adjust(left=0.07, right=0.98, top=0.94, bottom=0.09, hspace=0.16)
        style_axes(
            self.ax,
            "Report prices: last trade of the day (solid) and the day's competitive equilibrium "
            "price (dashed)",
            ylabel="price",
        )
        style_axes(
            self.axv,
            f"Volume: reports traded per day ({VOLUME_WINDOW}-day mean)",
            xlabel="day",
            ylabel="reports",
        )
        self.ax.tick_params(labelbottom=False)
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
        k = model.n_goods
        cols = series(
            model,
            "day",
            *[f"price_{g}" for g in range(k)],
            *[f"ce_price_{g}" for g in range(k)],
            *[f"volume_{g}" for g in range(k)],
        )
        day, price, ce = cols[0], cols[1 : k + 1], cols[k + 1 : 2 * k + 1]
        # Day 0 has no trading: its zero volume would drag the first means down.
        vol = [np.r_[np.nan, trailing_mean(v[1:], VOLUME_WINDOW)] for v in cols[2 * k + 1 :]]
        shade_regimes(self.ax, day, trading_regime(model), model)
        for g in range(k):
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


# ---------------------------------------------------------------------------------------------
# Order book depth (continuous double auction)
# ---------------------------------------------------------------------------------------------


def book_levels(model: MarketModel, good: int) -> tuple[list, list]:
    """The closing book's bid levels (best, i.e. highest, first) and ask levels (lowest first)."""
    quote = model.mechanism.quotes[good]
    bids = sorted(quote.bids, key=lambda x: -x[0])
    asks = sorted(quote.asks, key=lambda x: x[0])
    return bids, asks


class DepthChart(Chart):
    """Depth of one good's order book at the last close.

    The book is read at the close, before day orders expire: what is left is the orders that did
    not trade. Only meaningful for the continuous double auction, whose book the quotes come from.
    The book moves every day, so this chart is small and redrawn whole; its history is in
    :class:`SpreadChart`.
    """

    height = 4.6
    width = 6.1

    def build(self, model: MarketModel) -> None:
        """One panel: cumulative units against price."""
        self.ax = self.fig.subplots()
        self.fig.subplots_adjust(left=0.11, right=0.97, top=0.9, bottom=0.13)
        style_axes(self.ax, xlabel="price", ylabel="cumulative units", day_axis=False)
        self.ax.xaxis.set_major_locator(MaxNLocator(6))

    def draw(self, model: MarketModel, good: int = 0, **options: Any) -> None:
        """Draw the book of ``good``."""
        ax = self.ax
        quote = model.mechanism.quotes[good]
        close, ce = (c[-1] for c in series(model, f"price_{good}", f"ce_price_{good}"))
        bids, asks = book_levels(model, good)
        prices = [p for p, _ in bids + asks] + ([close] if np.isfinite(close) else [])
        # A short run past the last level, so the deepest level reads as a step, not a spike.
        tail = 0.04 * (max(prices) - min(prices) or 1.0) if prices else 0.0
        xs, ys = [], []
        if bids:
            bp, bq = np.array(bids + [(bids[-1][0] - tail, 0)], dtype=float).T
            cum = np.cumsum(bq)
            ax.fill_between(bp[::-1], cum[::-1], step="pre", color=BID_COLOR, alpha=0.35)
            ax.step(
                bp[::-1],
                cum[::-1],
                where="pre",
                color=BID_COLOR,
                lw=1.5,
                label=f"bids (clients), best {bp[0]:.2f}",
            )
            xs.append(bp)
            ys.append(cum)
        if asks:
            ap, aq = np.array(asks + [(asks[-1][0] + tail, 0)], dtype=float).T
            cum = np.cumsum(aq)
            ax.fill_between(ap, cum, step="post", color=ASK_COLOR, alpha=0.35)
            ax.step(
                ap,
                cum,
                where="post",
                color=ASK_COLOR,
                lw=1.5,
                label=f"asks (teams), best {ap[0]:.2f}",
            )
            xs.append(ap)
            ys.append(cum)
        if bids or asks:
            if np.isfinite(close):
                ax.axvline(close, color="k", lw=1, label=f"last trade {close:.2f}")
                xs.append([close])
            x = np.concatenate(xs)
            lo, hi = round_limits(float(x.min()), float(x.max()), pad=0.08, parts=2)
            if np.isfinite(ce):
                # The equilibrium can sit far from the book; widening the axis to reach it would
                # squeeze the book into a sliver, so an outlying one is only named.
                where = (
                    ""
                    if lo <= ce <= hi
                    else (" (off the chart, left)" if ce < lo else " (off the chart, right)")
                )
                ax.axvline(
                    ce,
                    color="#6a1b9a",
                    lw=1,
                    ls="--",
                    label=f"competitive equilibrium {ce:.2f}{where}",
                )
            ax.legend(fontsize=8, loc="upper left", framealpha=0.85)
            ax.set_xlim(lo, hi)
        else:
            message(ax, "The book is empty: press Step to run a trading day")
            ax.set_xlim(0, 1)
        set_ylim(ax, *ys, bottom=0.0, pad=0.6, empty=(0.0, 5.0))
        ax.set_title(
            f"Report on index {good}: the book at the close (best {BOOK_LEVELS} levels a side)",
            fontsize=10,
            loc="left",
            y=1.0,
            pad=5,
        )
        sp = quote.spread
        if np.isfinite(sp):
            ax.text(
                0.99,
                0.97,
                f"spread {sp:.2f}",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=9,
                bbox={"fc": "white", "ec": "0.7", "boxstyle": "round"},
            )


class SpreadChart(Chart):
    """One good's closing spread (best ask - best bid) over time."""

    height = 4.6
    width = 4.4

    def build(self, model: MarketModel) -> None:
        """One panel with a static legend."""
        self.axs = self.fig.subplots()
        self.fig.subplots_adjust(left=0.15, right=0.96, top=0.9, bottom=0.13)
        style_axes(self.axs, "Closing spread (best ask - best bid)", xlabel="day", ylabel="spread")
        self.axs.xaxis.set_major_locator(MaxNLocator(5, integer=True))
        self.axs.legend(
            handles=[
                Line2D([], [], color="0.5", lw=1.2, label="each day"),
                Line2D([], [], color="k", lw=1, label=f"{ROLLING}-day mean"),
            ],
            fontsize=8,
            loc="upper right",
        )

    def draw(self, model: MarketModel, good: int = 0, **options: Any) -> None:
        """Plot the spread of ``good`` up to today."""
        day, spread = series(model, "day", f"spread_{good}")
        self.axs.plot(day, spread, color=good_color(good), lw=1.2, drawstyle="steps-mid")
        self.axs.plot(day, trailing_mean(spread, ROLLING), color="k", lw=1)
        set_ylim(self.axs, spread, bottom=0.0, empty=(0.0, 1.0))
        set_day_xlim(self.axs, day)


def depth_rows(model: MarketModel, good: int) -> list[tuple[str, str, str, str, str]]:
    """The closing book of one good as a ladder: level, bid units and price, ask price and units.

    Best prices first; a side with fewer levels has empty cells.
    """
    bids, asks = book_levels(model, good)
    rows = []
    for i in range(max(len(bids), len(asks))):
        b = bids[i] if i < len(bids) else None
        a = asks[i] if i < len(asks) else None
        rows.append(
            (
                str(i + 1),
                str(b[1]) if b else "",
                f"{b[0]:.2f}" if b else "",
                f"{a[0]:.2f}" if a else "",
                str(a[1]) if a else "",
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Indices and the open questions
# ---------------------------------------------------------------------------------------------


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
        k = model.n_goods
        cols = series(model, "day", *[f"index_{g}" for g in range(k)])
        day, levels = cols[0], cols[1:]
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


# ---------------------------------------------------------------------------------------------
# Forecasting: leaderboard and reliability
# ---------------------------------------------------------------------------------------------


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
        ax.set_title(
            f"Brier leaderboard, last {p.pivot_window} days ({shown}; colour = principal)",
            fontsize=10,
            loc="left",
            y=1.0,
            pad=5,
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


# ---------------------------------------------------------------------------------------------
# Budgets
# ---------------------------------------------------------------------------------------------


def team_colors(model: MarketModel) -> dict[int, str]:
    """A colour per team: its principal's hue, lighter or darker per team so teams separate."""
    out = {}
    for principal in model.principals:
        hue, _, sat = colorsys.rgb_to_hls(*mcolors.to_rgb(principal_color(principal.idx)))
        n = len(principal.teams)
        for j, team in enumerate(principal.teams):
            light = 0.3 + 0.45 * (j / max(n - 1, 1))
            out[team.idx] = mcolors.to_hex(colorsys.hls_to_rgb(hue, light, sat))
    return out


class BudgetChart(Chart):
    """Each team's share of research funding over time, and the concentration of funding."""

    height = 5.6

    def build(self, model: MarketModel) -> None:
        """Stacked shares above, HHI and Gini below, principals in the legend."""
        fig = self.fig
        self.ax, self.axc = fig.subplots(2, 1, sharex=True, height_ratios=(2.4, 1))
        fig.subplots_adjust(left=0.07, right=0.8, top=0.94, bottom=0.09, hspace=0.16)
        style_axes(
            self.ax,
            "Share of research funding per team (set at each month end; teams "
            "grouped by principal)",
            ylabel="share of funding",
        )
        self.ax.set_ylim(0, 1)
        self.ax.tick_params(labelbottom=False)
        handles = [
            Patch(
                color=principal_color(pr.idx), label=f"principal P{pr.idx} ({len(pr.teams)} teams)"
            )
            for pr in model.principals
        ]
        self.ax.legend(
            handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False
        )
        style_axes(self.axc, "Concentration of funding", xlabel="day", ylabel="index")
        self.axc.axhline(1 / model.n_teams, color="0.5", lw=1, ls=":")
        self.axc.legend(
            handles=[
                Line2D([], [], color="k", lw=1.3, label="HHI"),
                Line2D([], [], color="#8e24aa", lw=1.3, label="Gini"),
                Line2D([], [], color="0.5", lw=1, ls=":", label="HHI if shares were equal"),
            ],
            fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.05),
            frameon=False,
        )
        colors = team_colors(model)
        # Teams grouped by principal, so each principal's block of the stack is one hue.
        self.order = [t.idx for pr in model.principals for t in pr.teams]
        self.colors = [colors[i] for i in self.order]

    def draw(self, model: MarketModel, **options: Any) -> None:
        """Stack the funding rounds up to today."""
        day, hhi, gini = series(model, "day", "budget_hhi", "budget_gini")
        rounds, shares = funding_shares(model)
        if rounds.size:
            x = np.append(rounds, max(float(day[-1]), rounds[-1] + 1.0))
            y = np.vstack([shares, shares[-1:]])[:, self.order].T
            self.ax.stackplot(x, y, colors=self.colors, step="post", lw=0.3, edgecolor="white")
        self.axc.plot(day, hhi, color="k", lw=1.3)
        self.axc.plot(day, gini, color="#8e24aa", lw=1.3)
        set_ylim(self.axc, hhi, gini, [1 / model.n_teams, 0.25], bottom=0.0, pad=0.15)
        set_day_xlim(self.axc, day)


# ---------------------------------------------------------------------------------------------
# Efficiency and surplus
# ---------------------------------------------------------------------------------------------


class EfficiencyChart(Chart):
    """Allocative efficiency per day, and the split of the realised surplus."""

    height = 5.6

    def build(self, model: MarketModel) -> None:
        """Efficiency above, stacked surplus below."""
        fig = self.fig
        self.ax, self.axs = fig.subplots(2, 1, sharex=True, height_ratios=(1, 1.2))
        fig.subplots_adjust(left=0.07, right=0.98, top=0.94, bottom=0.09, hspace=0.16)
        style_axes(
            self.ax,
            "Allocative efficiency: realised surplus / the most surplus the "
            "day's bids and costs allowed",
            ylabel="efficiency",
        )
        self.ax.set_ylim(0, 1.05)
        self.ax.tick_params(labelbottom=False)
        self.ax.legend(
            handles=[
                Line2D([], [], color="#43a047", lw=0.8, label="each day"),
                Line2D([], [], color="#1b5e20", lw=1.8, label=f"{ROLLING}-day mean"),
                *regime_handles(model),
            ],
            fontsize=8,
            loc="lower left",
            ncol=4,
            framealpha=0.85,
        )
        style_axes(
            self.axs,
            f"Realised surplus per day ({ROLLING}-day mean), stacked",
            xlabel="day",
            ylabel="money per day",
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

    def draw(self, model: MarketModel, **options: Any) -> None:
        """Plot efficiency and surplus from day 1 (day 0 has no trading)."""
        day, eff, buyer, seller = series(
            model, "day", "efficiency", "buyer_surplus", "seller_surplus"
        )
        d, eff, buyer, seller = day[1:], eff[1:], buyer[1:], seller[1:]
        shade_regimes(self.ax, day, trading_regime(model), model)
        if d.size:
            self.ax.plot(d, eff, color="#43a047", lw=0.8, alpha=0.6)
            self.ax.plot(d, trailing_mean(eff, ROLLING), color="#1b5e20", lw=1.8)
            b = np.nan_to_num(trailing_mean(buyer, ROLLING))
            s = np.nan_to_num(trailing_mean(seller, ROLLING))
            self.axs.stackplot(d, b, s, colors=(BUYER_COLOR, SELLER_COLOR))
            set_ylim(self.axs, b + s, bottom=0.0, pad=0.3)
        else:
            message(self.axs, "Press Step: the first trading day fills this chart")
            self.axs.set_ylim(0, 1)
        set_day_xlim(self.axs, day)


# ---------------------------------------------------------------------------------------------
# Stylized facts of report returns
# ---------------------------------------------------------------------------------------------


def report_returns(model: MarketModel) -> list[np.ndarray]:
    """Daily log returns of each good's close price (only between days that both have one)."""
    return [log_returns(p) for p in series(model, *[f"price_{g}" for g in range(model.n_goods)])]


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


# ---------------------------------------------------------------------------------------------
# The social graph
# ---------------------------------------------------------------------------------------------


def graph_layout(model: MarketModel) -> dict[str, Any]:
    """Positions of teams (and of principals when there is no social graph).

    With a social graph, the layout is the graph's own (spring layout, seeded by the run's seed)
    so its structure is what the eye sees. Without one, each principal sits in the middle of a
    ring of its teams, which shows who funds whom.
    """
    n, k = model.n_teams, len(model.principals)
    if model.graph is not None:
        pos = nx.spring_layout(model.graph, seed=model.seed, iterations=60)
        xy = np.array([pos[i] for i in range(n)])
        edges = np.array(list(model.graph.edges()), dtype=int).reshape(-1, 2)
        return {"team_xy": xy, "edges": edges, "principal_xy": None}
    angle = 2 * np.pi * np.arange(k) / k + np.pi / 2
    centre = np.c_[np.cos(angle), np.sin(angle)] * (0.0 if k == 1 else 1.0)
    xy = np.zeros((n, 2))
    radius = 0.42 if k > 1 else 0.9
    for p, principal in enumerate(model.principals):
        m = len(principal.teams)
        a = 2 * np.pi * np.arange(m) / max(m, 1)
        for j, team in enumerate(principal.teams):
            xy[team.idx] = centre[p] + radius * np.array([np.cos(a[j]), np.sin(a[j])])
    return {"team_xy": xy, "edges": np.zeros((0, 2), dtype=int), "principal_xy": centre}


class GraphChart(Chart):
    """Teams on the social graph, filled by a metric, ringed in their principal's colour.

    Options of :meth:`update`: ``color_by`` is ``"budget share"`` (this month's share of all
    funding), ``"Brier score"`` (rolling, lower is better) or ``"forecast"`` (each team's latest
    probability on the oldest open question, where neighbours that herd look alike).
    """

    height = 6.2
    width = 8.6  # the layout is about square: a narrower figure wastes less of the page

    def build(self, model: MarketModel) -> None:
        """Lay out the graph once; edges, principals, rings and the legend never change."""
        fig = self.fig
        lay = graph_layout(model)
        self.xy, pxy = lay["team_xy"], lay["principal_xy"]
        self.ax = fig.add_axes((0.01, 0.02, 0.66, 0.84))
        self.cax = fig.add_axes((0.7, 0.12, 0.02, 0.6))
        self.keep_axes = {self.cax}
        self.ax.set_axis_off()
        n = model.n_teams
        self.size = 240 if n <= 30 else (120 if n <= 60 else 60)
        if lay["edges"].size:
            self.ax.add_collection(
                LineCollection(
                    self.xy[lay["edges"]], colors="0.55", linewidths=0.8, alpha=0.7, zorder=1
                )
            )
        if pxy is not None:
            spokes = [(pxy[t.principal.idx], self.xy[t.idx]) for t in model.teams]
            self.ax.add_collection(
                LineCollection(spokes, colors="0.7", linewidths=0.8, linestyles=":", zorder=1)
            )
            self.ax.scatter(
                pxy[:, 0],
                pxy[:, 1],
                marker="s",
                s=420,
                zorder=2,
                edgecolors="k",
                c=[principal_color(p.idx) for p in model.principals],
            )
            for p in model.principals:
                self.ax.text(
                    *pxy[p.idx],
                    f"P{p.idx}",
                    ha="center",
                    va="center",
                    color="white",
                    fontsize=8,
                    fontweight="bold",
                    zorder=3,
                )
        # The principal's colour is a ring behind the team's fill, with a white gap between, so
        # a fill of a similar colour never hides who owns the team.
        self.ax.scatter(
            self.xy[:, 0],
            self.xy[:, 1],
            s=self.size * 1.9,
            c=[principal_color(t.principal.idx) for t in model.teams],
            linewidths=0,
            zorder=2,
        )
        pts = self.xy if pxy is None else np.vstack([self.xy, pxy])
        span = np.ptp(pts, axis=0).max() or 1.0
        lo, hi = pts.min(axis=0) - 0.1 * span, pts.max(axis=0) + 0.1 * span
        self.ax.set_xlim(lo[0], hi[0])
        self.ax.set_ylim(lo[1], hi[1])
        self.ax.set_aspect("equal", adjustable="box")
        self.mappable = ScalarMappable(mcolors.Normalize(0, 1), "viridis")
        self.cbar = fig.colorbar(self.mappable, cax=self.cax)
        self._scale: tuple = ()
        self.cbar.ax.tick_params(labelsize=8)
        net = model.params.network if isinstance(model.params.network, str) else "custom"
        structure = (
            "No social graph: each principal (square) sits among the teams it funds"
            if pxy is not None
            else f"Social graph '{net}': lines join neighbours, who share news and herd"
        )
        fig.text(0.01, 0.935, structure, fontsize=8.5, va="top", color="0.3")
        self.heading = fig.text(0.01, 0.975, "", fontsize=10, va="top")
        handles = [
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                mfc="white",
                mec=principal_color(p.idx),
                mew=3,
                ms=11,
                label=f"P{p.idx}'s teams",
            )
            for p in model.principals
        ]
        handles += [
            Line2D([], [], marker="o", ls="", mfc="white", mec="0.6", ms=11, label="no value yet"),
            Line2D([], [], marker="x", ls="", color="k", label="defunded (exited)"),
        ]
        fig.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(0.8, 0.8),
            fontsize=8,
            frameon=False,
            title="ring = principal",
            title_fontsize=8,
        )

    def draw(self, model: MarketModel, color_by: str = "budget share", **options: Any) -> None:
        """Fill the teams by ``color_by``."""
        values, cmap, norm, label, what = graph_values(model, color_by)
        xy, ax = self.xy, self.ax
        finite = np.isfinite(values)
        fill = np.full((model.n_teams, 4), 1.0)
        cm = matplotlib.colormaps[cmap]
        fill[finite] = cm(norm(values[finite]))
        ax.scatter(
            xy[:, 0], xy[:, 1], c=fill, s=self.size, edgecolors="white", linewidths=1.6, zorder=3
        )
        if model.n_teams <= 40:
            for i in range(model.n_teams):
                ax.text(
                    xy[i, 0],
                    xy[i, 1],
                    str(i),
                    ha="center",
                    va="center",
                    fontsize=7,
                    zorder=4,
                    color="k" if _luminance(fill[i]) > 0.55 else "white",
                )
        inactive = ~model.active
        if inactive.any():
            ax.scatter(
                xy[inactive, 0], xy[inactive, 1], marker="x", c="k", s=self.size * 0.8, zorder=5
            )
        if self._scale != (cmap, norm.vmin, norm.vmax, label):
            self._scale = (cmap, norm.vmin, norm.vmax, label)
            self.mappable.set_cmap(cmap)
            self.mappable.set_norm(norm)
            self.cbar.update_normal(self.mappable)
            self.cbar.set_label(label, fontsize=9)
        self.heading.set_text(f"Teams coloured by {what}")

    def extra_key(self) -> tuple:
        """The colour scale."""
        return self._scale


def _luminance(rgba) -> float:
    r, g, b = rgba[:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def graph_values(model: MarketModel, color_by: str):
    """Values, colormap, norm, colorbar label and description for colouring the graph's teams."""
    if color_by == "Brier score":
        b = model.team_brier.copy()
        b[~model.active] = np.nan
        top = nice_ceil(max(0.3, float(np.nanmax(b)))) if np.isfinite(b).any() else 0.3
        return (
            b,
            "RdYlGn_r",
            mcolors.Normalize(0, top),
            f"Brier score, last {model.params.pivot_window} days (lower is better)",
            "rolling Brier score (green is good)",
        )
    if color_by == "forecast":
        row = graph_question(model)
        if row is None:
            return (
                np.full(model.n_teams, np.nan),
                "RdBu",
                mcolors.Normalize(0, 1),
                "probability",
                "forecast (no question is open)",
            )
        q = model.questions
        f = q.last_forecasts()[row, : model.n_teams].copy()
        f[~model.active] = np.nan
        what = (
            f"their latest forecast that index {q.index[row]} closes at or above "
            f"{q.strike[row]:.1f} on day {q.resolve_day[row]}"
        )
        return f, "RdBu", mcolors.Normalize(0, 1), "probability (the team's latest forecast)", what
    share = current_shares(model)
    share[~model.active] = np.nan
    biggest = float(np.nanmax(share)) if np.isfinite(share).any() else 0.0
    top = nice_ceil(max(biggest, 2 / model.n_teams))
    return (
        share,
        "viridis",
        mcolors.Normalize(0, top),
        "share of this month's funding",
        "share of this month's research funding",
    )


# One-shot figures for notebooks and tests: the app keeps the Chart objects instead.


def market_figure(model: MarketModel) -> Figure:
    """Prices against the competitive equilibrium, and volumes (see :class:`MarketChart`)."""
    return MarketChart(model).update(model)


def depth_figure(model: MarketModel, good: int = 0) -> Figure:
    """Order-book depth of ``good`` at the close (see :class:`DepthChart`)."""
    return DepthChart(model).update(model, good=good)


def spread_figure(model: MarketModel, good: int = 0) -> Figure:
    """Closing spread of ``good`` over time (see :class:`SpreadChart`)."""
    return SpreadChart(model).update(model, good=good)


def indices_figure(model: MarketModel) -> Figure:
    """Index paths with the open questions (see :class:`IndicesChart`)."""
    return IndicesChart(model).update(model)


def forecast_figure(model: MarketModel) -> Figure:
    """Brier leaderboard and reliability diagram (see :class:`ForecastChart`)."""
    return ForecastChart(model).update(model)


def budget_figure(model: MarketModel) -> Figure:
    """Funding shares over time and their concentration (see :class:`BudgetChart`)."""
    return BudgetChart(model).update(model)


def efficiency_figure(model: MarketModel) -> Figure:
    """Allocative efficiency and surplus (see :class:`EfficiencyChart`)."""
    return EfficiencyChart(model).update(model)


def facts_figure(model: MarketModel) -> Figure:
    """Stylized facts of report returns (see :class:`FactsChart`)."""
    return FactsChart(model).update(model)


def graph_figure(model: MarketModel, color_by: str = "budget share") -> Figure:
    """Teams on the social graph (see :class:`GraphChart`)."""
    return GraphChart(model).update(model, color_by=color_by)


def figure_png(fig: Figure) -> bytes:
    """The whole figure as PNG bytes (a full draw; the app uses :meth:`Chart.png`)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    return buf.getvalue()
