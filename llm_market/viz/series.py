"""The model's collected series as arrays, for charts that redraw after every step.

Charts read the DataCollector's columns directly rather than building DataFrames: the app
redraws after every step, and a DataFrame of the whole history costs more than the drawing.
Columns are named by :mod:`llm_market.recording.columns`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..recording.columns import DEMAND_REGIME, TRADES, good_columns

if TYPE_CHECKING:
    from ..model import MarketModel


def series(model: MarketModel, *names: str) -> list[np.ndarray]:
    """Collected model-level series as float arrays of one common length.

    Args:
        model: The model.
        *names: DataCollector model-reporter names (``good_column(PRICE, 0)``, ``EFFICIENCY``...).

    Returns:
        One array per name, row ``i`` being day ``i``. They are cut to the shortest, so a redraw
        that overlaps a collection (Mesa's threaded play) still sees aligned rows.
    """
    cols = [model.datacollector.model_vars[n] for n in names]
    n = min(len(c) for c in cols)
    return [np.asarray(c[:n], dtype=float) for c in cols]


def series_by_good(
    model: MarketModel, names: Sequence[str], per_good: Sequence[str]
) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Model series and per-good series of every good, all of one common length (:func:`series`).

    Args:
        model: The model.
        names: Model series (``DAY``, ``EFFICIENCY``...).
        per_good: Per-good series (``PRICE``, ``VOLUME``...).

    Returns:
        ``(model_series, good_series)``: an array per name, and per per-good series a list with
        an array per good.
    """
    k = model.n_goods
    cols = series(model, *names, *(c for name in per_good for c in good_columns(name, k)))
    n = len(names)
    return cols[:n], [cols[n + i * k : n + (i + 1) * k] for i in range(len(per_good))]


def trading_regime(model: MarketModel) -> np.ndarray:
    """The demand regime each collected day traded under (-1 for day 0, before any trading).

    The regime collected after a step is the one the *next* day trades under, so the series is
    shifted by one day to line up with that day's prices and efficiency.
    """
    (regime,) = series(model, DEMAND_REGIME)
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


def trade_price_range(model: MarketModel, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """The cheapest and the dearest trade of each good on each day, from the trades log.

    When clients value a report by its seller's record, reports from different teams are
    different goods and sell at different prices on the same day: the range shows that spread
    where a single competitive price does not exist.

    Args:
        model: The model.
        n_days: Days to cover (rows ``0 .. n_days - 1`` of the collected series).

    Returns:
        ``(low, high)``, each of shape (goods, n_days), NaN on days a good did not trade.
    """
    log = model.logs[TRADES]
    k = model.n_goods
    low = np.full((k, n_days), np.nan)
    high = np.full((k, n_days), np.nan)
    # Part by part: a streamed run's log is read in the memory of one part.
    for rows in log.iter_columns(["step", "good", "price"]):
        step, good, price = rows["step"], rows["good"], rows["price"]
        keep = step < n_days  # a redraw overlapping a step may see a day not yet collected
        key = step[keep] * k + good[keep]
        price = price[keep]
        if not key.size:
            continue
        if np.any(np.diff(key) < 0):  # the log is written day by day, good by good; be safe
            order = np.argsort(key, kind="stable")
            key, price = key[order], price[order]
        # One contiguous run of rows per (day, good): reduceat is far cheaper than a groupby.
        start = np.flatnonzero(np.r_[True, np.diff(key) > 0])
        day, g = np.divmod(key[start], k)
        # fmin/fmax: a (day, good) split across two parts keeps its extremes.
        low[g, day] = np.fmin(low[g, day], np.minimum.reduceat(price, start))
        high[g, day] = np.fmax(high[g, day], np.maximum.reduceat(price, start))
    return low, high


def window_revenue(model: MarketModel, window: int) -> np.ndarray:
    """Each team's revenue from report sales over the last ``window`` days (trades log)."""
    revenue = np.zeros(model.n_teams)
    for rows in model.logs[TRADES].iter_columns(["step", "seller", "price"]):
        recent = rows["step"] > model.day - window
        if recent.any():
            seller, price = rows["seller"][recent], rows["price"][recent]
            revenue += np.bincount(seller, weights=price, minlength=model.n_teams)
    return revenue
