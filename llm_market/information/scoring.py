"""Brier scores, skill against climatology, rolling windows and reliability tables.

The Brier score of a probability ``p`` for an outcome ``o`` in {0, 1} is ``(p - o)^2``: 0 is
perfect, 0.25 is what the uninformed forecast 0.5 earns. The Brier *skill* score compares a
forecaster with the climatological forecast, the base rate ``b`` of the event over all questions
resolved so far: ``BSS = 1 - BS / BS_ref`` with ``BS_ref`` the mean of ``(b - o)^2`` over the same
questions, so 0 means no better than the base rate and 1 means perfect.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

from .questions import RELIABILITY_BINS, Resolution


def brier_score(p, o) -> np.ndarray:
    """Return the Brier score ``(p - o)^2`` elementwise.

    Args:
        p: Forecast probabilities in [0, 1].
        o: Outcomes, 0 or 1.

    Returns:
        The scores, broadcast to a common shape.
    """
    return (np.asarray(p, dtype=float) - np.asarray(o, dtype=float)) ** 2


def brier_skill_score(bs: np.ndarray, bs_ref: float | np.ndarray) -> np.ndarray:
    """Return ``1 - bs / bs_ref``; NaN where the reference scores zero (no uncertainty)."""
    bs_ref = np.asarray(bs_ref, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bs_ref > 0, 1.0 - np.asarray(bs) / bs_ref, np.nan)


class ScoreBoard:
    """Every forecaster's scores: all-time, over a rolling window of days, and reliability.

    Forecasters are columns: the teams first, then extra rows (the crowd, the market price).

    Args:
        names: One name per forecaster column.
        window: Days the rolling scores look back.
    """

    def __init__(self, names: list[str], window: int):
        self.names = list(names)
        n = len(self.names)
        self.window = window
        self._days: deque[tuple[np.ndarray, int, int]] = deque()
        self._roll_brier = np.zeros(n)
        self._roll_questions = 0
        self._roll_outcomes = 0
        self.total_brier = np.zeros(n)
        self.total_questions = 0
        self.total_outcomes = 0
        self.bin_counts = np.zeros((n, RELIABILITY_BINS))
        self.bin_sum_p = np.zeros((n, RELIABILITY_BINS))
        self.bin_hits = np.zeros((n, RELIABILITY_BINS))

    def add_day(self, res: Resolution) -> None:
        """Book one day's resolutions (possibly none) and slide the window one day."""
        day_brier = res.brier.sum(axis=0) if len(res) else np.zeros(len(self.names))
        nq, no = len(res), int(res.outcome.sum())
        self._days.append((day_brier, nq, no))
        self._roll_brier += day_brier
        self._roll_questions += nq
        self._roll_outcomes += no
        if len(self._days) > self.window:
            old_b, old_q, old_o = self._days.popleft()
            self._roll_brier -= old_b
            self._roll_questions -= old_q
            self._roll_outcomes -= old_o
        self.total_brier += day_brier
        self.total_questions += nq
        self.total_outcomes += no
        if nq:
            self.bin_counts += res.bin_counts.sum(axis=0)
            self.bin_sum_p += res.bin_sum_p.sum(axis=0)
            self.bin_hits += (res.bin_counts * res.outcome[:, None, None]).sum(axis=0)

    @property
    def base_rate(self) -> float:
        """Share of all resolved questions whose event happened (NaN before any resolved)."""
        return self.total_outcomes / self.total_questions if self.total_questions else np.nan

    def rolling_brier(self) -> np.ndarray:
        """Mean Brier score of each forecaster over the window's questions (NaN if none)."""
        if not self._roll_questions:
            return np.full(len(self.names), np.nan)
        # Rounding drift of the running sums is removed at the source: clip tiny negatives.
        return np.maximum(self._roll_brier, 0.0) / self._roll_questions

    def mean_brier(self) -> np.ndarray:
        """Mean Brier score of each forecaster over every resolved question."""
        if not self.total_questions:
            return np.full(len(self.names), np.nan)
        return self.total_brier / self.total_questions

    def _reference(self, n: int, outcomes: int) -> float:
        b = self.base_rate
        if not n or np.isnan(b):
            return np.nan
        freq = outcomes / n
        # Mean of (b - o)^2 over questions with outcome frequency freq.
        return b * b - 2 * b * freq + freq

    @property
    def rolling_questions(self) -> int:
        """Questions resolved within the window (every forecaster scored on each of them)."""
        return self._roll_questions

    def rolling_skill_against(self, reference: int) -> np.ndarray:
        """Brier skill score of each forecaster over the window against forecaster ``reference``.

        With the no-information forecaster as the reference, this is the skill that signals and
        research add to what the index path alone tells.
        """
        brier = self.rolling_brier()
        return brier_skill_score(brier, brier[reference])

    def skill_against(self, reference: int) -> np.ndarray:
        """Brier skill score of each forecaster over every question, against ``reference``."""
        brier = self.mean_brier()
        return brier_skill_score(brier, brier[reference])

    def rolling_skill(self) -> np.ndarray:
        """Brier skill score of each forecaster over the window, against the base rate."""
        ref = self._reference(self._roll_questions, self._roll_outcomes)
        return brier_skill_score(self.rolling_brier(), ref)

    def skill(self) -> np.ndarray:
        """Brier skill score of each forecaster over every resolved question."""
        ref = self._reference(self.total_questions, self.total_outcomes)
        return brier_skill_score(self.mean_brier(), ref)

    def reliability(self, forecaster: int) -> pd.DataFrame:
        """Return the reliability (calibration) table of one forecaster.

        Args:
            forecaster: Column of the forecaster (a team's index, or an extra row).

        Returns:
            One row per probability bin: the bin's range, the number of daily forecasts in it, the
            mean forecast and the observed frequency of the event.
        """
        edges = np.linspace(0.0, 1.0, RELIABILITY_BINS + 1)
        n = self.bin_counts[forecaster]
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_p = np.where(n > 0, self.bin_sum_p[forecaster] / n, np.nan)
            freq = np.where(n > 0, self.bin_hits[forecaster] / n, np.nan)
        return pd.DataFrame(
            {
                "bin_low": edges[:-1],
                "bin_high": edges[1:],
                "n": n,
                "mean_forecast": mean_p,
                "observed_frequency": freq,
            }
        )
