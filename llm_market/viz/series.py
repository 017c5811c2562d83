"""The model's collected series as arrays, for charts that redraw after every step.

Charts read the DataCollector's columns directly rather than building DataFrames: the app
redraws after every step, and a DataFrame of the whole history costs more than the drawing.
Columns are named by :mod:`llm_market.recording.columns`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..recording.columns import DEMAND_REGIME, good_columns

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
