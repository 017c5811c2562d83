"""The order-book view: one good's book at the close, its history of spreads, and its ladder.

The book is the mechanism's closing quote (``model.mechanism.quotes``): what is left when the day
closes, before day orders expire. Only the continuous double auction keeps a real book.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ..market.mechanisms import DEPTH_LEVELS
from ..recording.columns import CE_PRICE, DAY, PRICE, SPREAD, good_column
from .chart import Chart
from .series import series, trailing_mean
from .style import (
    ROLLING,
    good_color,
    message,
    round_limits,
    set_day_xlim,
    set_title,
    set_ylim,
    style_axes,
)

if TYPE_CHECKING:
    from ..model import MarketModel

BID_COLOR, ASK_COLOR = "#2e7d32", "#c62828"
CE_COLOR = "#6a1b9a"


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
        close, ce = (
            c[-1] for c in series(model, good_column(PRICE, good), good_column(CE_PRICE, good))
        )
        bids, asks = book_levels(model, good)
        per_quality = model.market.decision_valued
        if per_quality:
            # The book is kept per unit of quality (reports differ by seller): a trade's money
            # price is in other units and would mislead beside it.
            close = np.nan
        prices = [p for p, _ in bids + asks] + ([close] if np.isfinite(close) else [])
        # A short run past the last level, so the deepest level reads as a step, not a spike.
        tail = 0.04 * (max(prices) - min(prices) or 1.0) if prices else 0.0
        xs, ys = [], []
        sides = ((bids, -1, BID_COLOR, "bids (clients)"), (asks, 1, ASK_COLOR, "asks (teams)"))
        for levels, outwards, color, who in sides:
            if not levels:
                continue
            price, units = np.array(levels + [(levels[-1][0] + outwards * tail, 0)], dtype=float).T
            cum = np.cumsum(units)
            # Steps run left to right: bids, best (highest) first, are drawn from the far end.
            x, y, align = (price[::-1], cum[::-1], "pre") if outwards < 0 else (price, cum, "post")
            ax.fill_between(x, y, step=align, color=color, alpha=0.35)
            ax.step(x, y, where=align, color=color, lw=1.5, label=f"{who}, best {price[0]:.2f}")
            xs.append(price)
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
                    color=CE_COLOR,
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
        set_title(
            ax, f"Report on index {good}: the book at the close (best {DEPTH_LEVELS} levels a side)"
        )
        ax.set_xlabel(
            "price per unit of quality (what the seller's report saves)"
            if per_quality
            else "price",
            fontsize=9,
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
        day, spread = series(model, DAY, good_column(SPREAD, good))
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


def depth_figure(model: MarketModel, good: int = 0) -> Figure:
    """Order-book depth of ``good`` at the close (see :class:`DepthChart`)."""
    return DepthChart(model).update(model, good=good)


def spread_figure(model: MarketModel, good: int = 0) -> Figure:
    """Closing spread of ``good`` over time (see :class:`SpreadChart`)."""
    return SpreadChart(model).update(model, good=good)
