"""The charts' house style: colours, figure size, axes styling and round axis limits.

Colours mean the same thing in every figure: one colour per good/index (``GOOD_COLORS``), one
per principal (``PRINCIPAL_COLORS``), red and blue shading for high and low demand regimes.

Limits are round numbers that change only when the data cross one, and day axes grow a month at a
time: while the limits stay, a redraw reuses the chart's cached background (see
:meth:`~llm_market.viz.chart.Chart.png`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from matplotlib.axes import Axes

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
HIGH_DEMAND_COLOR, LOW_DEMAND_COLOR = "#d73027", "#4575b4"
DPI = 96
WIDTH = 10.5  # inches: about 1000 px, the width of the app's main column on a laptop screen
ROLLING = 10  # days in the rolling means of noisy daily series
VOLUME_WINDOW = 5  # days in the mean of volumes (a week: daily volumes of several goods tangle)
MONTH = 21  # day axes grow a month at a time, so most redraws reuse the cached background
NICE_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def good_color(k: int) -> str:
    """Colour of good (and index) ``k``."""
    return GOOD_COLORS[k % len(GOOD_COLORS)]


def principal_color(p: int) -> str:
    """Colour of principal ``p``."""
    return PRINCIPAL_COLORS[p % len(PRINCIPAL_COLORS)]


def new_figure(height: float, width: float = WIDTH) -> Figure:
    """An Agg-backed figure of the app's width."""
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def set_title(ax: Axes, title: str) -> None:
    """A panel's title, left-aligned at a fixed height.

    The fixed height (``y=1.0``) spares matplotlib a bounding-box pass over every tick label at
    each draw.
    """
    ax.set_title(title, fontsize=10, loc="left", y=1.0, pad=5)


def style_axes(
    ax: Axes, title: str = "", xlabel: str = "", ylabel: str = "", day_axis: bool = True
) -> None:
    """House style: light grid, few ticks, a left-aligned title at a fixed height.

    Fewer ticks mean fewer text objects, which with the fixed title height (:func:`set_title`)
    are most of a redraw.
    """
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, alpha=0.25, lw=0.6)
    ax.tick_params(labelsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(8, integer=day_axis))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    set_title(ax, title)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)


def day_panels(
    fig: Figure,
    height_ratios: tuple[float, ...],
    *panels: tuple[str, str],
    right: float = 0.98,
) -> tuple[Axes, ...]:
    """Styled panels stacked on a shared day axis, which is labelled below the lowest only.

    Args:
        fig: The figure.
        height_ratios: Height of each panel, top first.
        *panels: Title and y label of each panel, top first.
        right: Right edge of the panels (less leaves room for a legend beside them).

    Returns:
        The axes, top first.
    """
    axes = fig.subplots(len(panels), 1, sharex=True, height_ratios=height_ratios)
    fig.subplots_adjust(left=0.07, right=right, top=0.94, bottom=0.09, hspace=0.16)
    for i, (ax, (title, ylabel)) in enumerate(zip(axes, panels, strict=True)):
        last = i == len(panels) - 1
        style_axes(ax, title, xlabel="day" if last else "", ylabel=ylabel)
        ax.tick_params(labelbottom=last)
    return tuple(axes)


def nice_ceil(x: float) -> float:
    """The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten) >= x."""
    if not (math.isfinite(x) and x > 0):
        return 1.0
    scale = 10.0 ** math.floor(math.log10(x))
    m = next(m for m in NICE_STEPS if m * scale >= x * (1 - 1e-9))
    return float(f"{m * scale:.12g}")  # 3 * 0.1 is 0.30000000000000004


def set_ylim(ax: Axes, *arrays, bottom: float | None = None, pad: float = 0.06, empty=(0.0, 1.0)):
    """Fit the y axis to the finite values of ``arrays``, with round limits.

    Autoscaling would remember removed artists; round limits change only when the data cross
    one, so consecutive redraws usually share the cached background.

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


def set_day_xlim(ax: Axes, day: np.ndarray, start: float = 0.0) -> None:
    """Show days from ``start`` to the end of the current month."""
    last = float(day[-1]) if day.size else 0.0
    ax.set_xlim(start, day_axis_end(last))


def message(ax: Axes, text: str) -> None:
    """Write a note in the middle of an empty panel."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.35")


OVERLAY_COLOR = "0.45"  # an earlier run drawn under this one


def overlay_note(ax: Axes, label: str) -> None:
    """Say in a corner of ``ax`` that the grey dashed lines are an earlier run."""
    ax.text(
        0.99,
        0.02,
        f"grey dashed: {label}",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=8,
        color=OVERLAY_COLOR,
        bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1.5},
    )


def regime_colors(levels: Sequence[float]) -> list[str | None]:
    """The shading of each demand regime: red above normal demand, blue below, None at normal."""
    return [
        None if lv == 1 else (HIGH_DEMAND_COLOR if lv > 1 else LOW_DEMAND_COLOR) for lv in levels
    ]


def regime_handles(model: MarketModel) -> list[Patch]:
    """Legend entries for the demand-regime shading (only regimes that shift demand)."""
    p = model.params
    return [
        Patch(color=c, alpha=0.25, label=f"demand {p.demand_states[s]} (x{p.demand_levels[s]:g})")
        for s, c in enumerate(regime_colors(p.demand_levels))
        if c is not None
    ]


def shade_regimes(ax: Axes, day: np.ndarray, regime: np.ndarray, model: MarketModel) -> None:
    """Shade the background of ``ax`` red where demand is high and blue where it is low.

    ``day`` and ``regime`` are cut to their common length: read by separate calls while a step
    may be collecting, they can differ by a day.
    """
    n = min(day.size, regime.size)
    day, regime = day[:n], regime[:n]
    trans = ax.get_xaxis_transform()
    for s, color in enumerate(regime_colors(model.params.demand_levels)):
        on = regime == s
        if color is not None and on.any():
            ax.fill_between(
                day, 0, 1, where=on, transform=trans, step="mid", color=color, alpha=0.09, lw=0
            )
