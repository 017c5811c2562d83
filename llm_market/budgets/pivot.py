"""The pivot: principals move funding toward the teams that perform.

At each month end a principal ranks its active teams by a performance metric over a rolling window
and sets target shares proportional to ``rank ** pivot_sharpness`` (the worst team has rank 1, the
best ``n``; ties share their average rank; sharpness 1, the default, is proportional to the rank).
The new share is ``(1 - phi) * old + phi * target``, where ``phi`` is the pivot factor: 0 never
moves, 1 jumps to the target at once. Then the floor: under
``floor_rule="floor"`` no active team falls below ``budget_floor`` of the principal's funding;
under ``"exit"`` a team that falls below it is defunded for good and its share goes to the others.
"""

from __future__ import annotations

from collections import deque

import numpy as np


def target_shares(metric: np.ndarray, sharpness: float = 1.0) -> np.ndarray:
    """Shares proportional to ``rank ** sharpness`` by ``metric`` (higher is better; NaN last).

    ``sharpness`` 0 gives equal shares, 1 shares proportional to the rank, and larger values
    concentrate the funding on the best teams.
    """
    m = np.where(np.isfinite(metric), metric, -np.inf)
    weights = average_ranks(m) ** sharpness
    return weights / weights.sum()


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, ties sharing their average rank.

    ``scipy.stats.rankdata(x, method="average")``: the ranks are whole or half numbers, so
    these are exactly its floats. Here rather than scipy's, whose ``scipy.stats`` takes seconds
    to import at the first month end.
    """
    x = np.asarray(x, dtype=float).ravel()
    if not x.size:
        return np.zeros(0)
    order = np.argsort(x, kind="stable")
    s = x[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    counts = np.diff(np.r_[starts, s.size])
    ranks = np.empty(s.size)
    ranks[order] = np.repeat(starts + 1 + (counts - 1) / 2.0, counts)
    return ranks


def pivot_shares(
    old: np.ndarray,
    metric: np.ndarray,
    phi: float,
    floor: float,
    rule: str,
    sharpness: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the new shares of one principal's active teams and which of them exit.

    Args:
        old: Current shares (sum to 1).
        metric: Performance of each team over the window (higher is better).
        phi: Pivot factor in [0, 1].
        floor: Smallest share kept.
        rule: ``"floor"`` raises shares to the floor; ``"exit"`` defunds teams below it.
        sharpness: Exponent of the ranks in the target shares (see :func:`target_shares`).

    Returns:
        The new shares (sum to 1 over the teams that stay) and a boolean mask of exits.
    """
    n = old.size
    if n == 0:
        return old, np.zeros(0, dtype=bool)
    new = (1.0 - phi) * old + phi * target_shares(metric, sharpness)
    exits = np.zeros(n, dtype=bool)
    floor = min(floor, 1.0 / n)
    if rule == "exit":
        exits = new < floor - 1e-12
        if exits.all():
            exits[np.argmax(new)] = False
        new = np.where(exits, 0.0, new)
        return new / new.sum(), exits
    low = new < floor
    if low.any():
        # Raise the teams below the floor and take the difference from the others' excess over the
        # floor, pro rata, so that none of them drops below it (possible since floor <= 1/n).
        give = (floor - new[low]).sum()
        excess = new[~low].sum() - floor * (~low).sum()
        new = np.where(low, floor, floor + (new - floor) * (1 - give / excess))
    return new / new.sum(), exits


def hhi(shares: np.ndarray) -> float:
    """Herfindahl-Hirschman index of shares: 1/n when equal, 1 when one holds everything."""
    s = np.asarray(shares, dtype=float)
    total = s.sum()
    return float(((s / total) ** 2).sum()) if total > 0 else float("nan")


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values: 0 when equal, toward 1 when concentrated."""
    x = np.sort(np.asarray(values, dtype=float))
    n, total = x.size, x.sum()
    if n == 0 or total <= 0:
        return float("nan")
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * total))


class RollingSum:
    """Per-team sums over the last ``window`` days (the pivot's performance window).

    Args:
        n: Number of teams.
        window: Days kept.
    """

    def __init__(self, n: int, window: int):
        self.window = window
        self.total = np.zeros(n)
        self._days: deque[np.ndarray] = deque()

    def add(self, day: np.ndarray) -> None:
        """Add one day's amounts and drop the day that leaves the window."""
        day = np.asarray(day, dtype=float)
        self._days.append(day)
        self.total = self.total + day
        if len(self._days) > self.window:
            self.total = self.total - self._days.popleft()
