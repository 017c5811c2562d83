"""Dated daily history of a real series: prices, returns and volume, with a date window.

:mod:`~.sources` reads price series as plain arrays for the stylized facts; calibration and
``llm-market fit`` also need the dates (to fit on 1999-2008 and check on 2009-2018) and, for the
demand regimes, the volume column when there is one. :func:`load_history` reads the same
sources (a CSV of dated prices or ``sp500``) into a :class:`History`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from .sources import SP500, pick_columns, read_csv_file

VOLUME_COLUMNS = ("volume", "vol", "turnover")


@dataclass(frozen=True)
class History:
    """One daily price series with its dates (when known) and volume (when present).

    Attributes:
        name: What the user gave (a path or ``sp500``).
        column: The price column read.
        prices: Prices in date order.
        dates: One ``numpy.datetime64`` per price, or None when the file has no dates.
        volume: Volume per day, or None.
    """

    name: str
    column: str
    prices: np.ndarray
    dates: np.ndarray | None
    volume: np.ndarray | None

    @property
    def returns(self) -> np.ndarray:
        """Daily log returns (one fewer than prices)."""
        return np.diff(np.log(self.prices))

    @property
    def return_dates(self) -> np.ndarray | None:
        """The date of each return (the later day of the two)."""
        return None if self.dates is None else self.dates[1:]

    def span(self) -> str:
        """The sample in words: ``1999-01-04 to 2018-12-31`` or ``N prices``."""
        if self.dates is None or not self.dates.size:
            return f"{self.prices.size} prices"
        return f"{_day(self.dates[0])} to {_day(self.dates[-1])}"

    def window(self, start: str | None = None, end: str | None = None) -> History:
        """The days from ``start`` to ``end`` (inclusive, ``YYYY-MM-DD``; None: open).

        Raises:
            UsageError: A date is given but the series has none, a date is not a date, or the
                window holds fewer than 2 prices.
        """
        if start is None and end is None:
            return self
        if self.dates is None:
            raise UsageError(f"{self.name}: has no date column, so start/end cannot be used")
        keep = np.ones(self.dates.size, dtype=bool)
        for bound, cmp in ((start, np.greater_equal), (end, np.less_equal)):
            if bound is not None:
                try:
                    day = np.datetime64(str(bound), "D")
                except ValueError:
                    raise UsageError(f"{bound!r}: not a date (use YYYY-MM-DD)") from None
                keep &= cmp(self.dates.astype("datetime64[D]"), day)
        if keep.sum() < 2:
            raise UsageError(f"{self.name}: no prices between {start} and {end}")
        volume = None if self.volume is None else self.volume[keep]
        return History(self.name, self.column, self.prices[keep], self.dates[keep], volume)


def _day(d: Any) -> str:
    return str(np.datetime64(d, "D"))


def _from_frame(name: str, frame: Any, column: str | None) -> History:
    import pandas as pd

    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    date, col = pick_columns(list(frame.columns), column, name)
    if date is None and frame.shape[1] > 1 and frame.columns[0] != col:
        date = frame.columns[0]  # a DataFrame saved with its index
    dates = None
    if date is not None:
        when = pd.to_datetime(frame[date], errors="coerce", format="mixed")
        if when.notna().mean() > 0.9:
            frame = frame.assign(_when=when).dropna(subset=["_when"])
            frame = frame.sort_values("_when", kind="stable")
            dates = frame["_when"].to_numpy(dtype="datetime64[ns]")
    prices = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
    volume_col = next(
        (c for c in frame.columns if c.lower().replace(" ", "") in VOLUME_COLUMNS and c != col),
        None,
    )
    volume = None
    if volume_col is not None:
        volume = pd.to_numeric(frame[volume_col], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(prices) & (prices > 0)
    if ok.sum() < 2:
        raise UsageError(f"{name}: column {col!r} has fewer than 2 positive prices")
    return History(
        name,
        col,
        prices[ok],
        None if dates is None else dates[ok],
        None if volume is None else volume[ok],
    )


def load_history(source: str, column: str | None = None) -> History:
    """Read ``sp500`` (the sample shipped with ``arch``) or a CSV of dated prices.

    Raises:
        UsageError: The file is missing or unreadable, or has no price column.
    """
    if source == SP500 and not Path(source).is_file():
        try:
            from arch.data import sp500
        except ImportError:
            raise UsageError("sp500: needs the arch package (pip install arch)") from None
        frame = sp500.load().reset_index()
        return _from_frame(SP500, frame, column or "Adj Close")
    path = Path(source)
    return _from_frame(str(path), read_csv_file(path), column)
