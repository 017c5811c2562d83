"""Forecast questions: "will index k close at or above (1+theta) x today's level in h days?".

Questions open every ``question_interval`` days for each index and each horizon. While a question
is open, every forecaster (each team, and extra rows such as the crowd) gives a probability each
day; the book keeps running sums so that the question's score at resolution is the *mean daily
Brier score* of the forecaster over the question's life, the convention of forecasting
tournaments (the Good Judgment Project): a forecaster is rewarded for being right early, not only
on the eve of resolution, when the answer is nearly known from the index path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RELIABILITY_BINS = 10


@dataclass
class Resolution:
    """The questions that resolved on one day and how each forecaster scored on them.

    Attributes:
        qid: Question ids, shape (Q,).
        index: Index of each question, shape (Q,).
        horizon: Horizon in days, shape (Q,).
        open_day: Day each question opened, shape (Q,).
        resolve_day: Day each question resolved, shape (Q,).
        outcome: 1 if the event happened, shape (Q,).
        brier: Mean daily Brier score of each forecaster, shape (Q, F).
        mean_p: Mean daily forecast, shape (Q, F).
        last_p: Last forecast before resolution, shape (Q, F).
        n_forecasts: Days each question was forecast, shape (Q,).
        bin_counts: Daily forecasts per reliability bin, shape (Q, F, B).
        bin_sum_p: Sum of the forecasts in each bin, shape (Q, F, B).
    """

    qid: np.ndarray
    index: np.ndarray
    horizon: np.ndarray
    open_day: np.ndarray
    resolve_day: np.ndarray
    outcome: np.ndarray
    brier: np.ndarray
    mean_p: np.ndarray
    last_p: np.ndarray
    n_forecasts: np.ndarray
    bin_counts: np.ndarray
    bin_sum_p: np.ndarray

    def __len__(self) -> int:
        return len(self.qid)


class QuestionBook:
    """The open questions and the running sums of every forecaster's daily forecasts.

    Args:
        n_forecasters: Columns of the forecast matrix (teams plus extra rows such as the crowd).
        horizons: Question horizons in days.
        interval: Days between new questions.
        threshold: theta; the event is ``S[open + h] >= (1 + theta) * S[open]``.
    """

    _FIELDS = ("qid", "index", "horizon", "open_day", "resolve_day", "strike")

    def __init__(self, n_forecasters: int, horizons, interval: int, threshold: float):
        self.n_forecasters = n_forecasters
        self.horizons = tuple(horizons)
        self.interval = interval
        self.threshold = threshold
        self._next_qid = 0
        self.qid = np.zeros(0, dtype=np.int64)
        self.index = np.zeros(0, dtype=np.int64)
        self.horizon = np.zeros(0, dtype=np.int64)
        self.open_day = np.zeros(0, dtype=np.int64)
        self.resolve_day = np.zeros(0, dtype=np.int64)
        self.strike = np.zeros(0)
        self._sum_p = np.zeros((0, n_forecasters))
        self._sum_p2 = np.zeros((0, n_forecasters))
        self._last_p = np.full((0, n_forecasters), np.nan)
        self._n = np.zeros(0, dtype=np.int64)
        self._bin_counts = np.zeros((0, n_forecasters, RELIABILITY_BINS))
        self._bin_sum_p = np.zeros((0, n_forecasters, RELIABILITY_BINS))

    def __len__(self) -> int:
        return len(self.qid)

    def open_questions(self, day: int, levels: np.ndarray) -> int:
        """Open the day's questions if today is a question day; return how many opened."""
        if day % self.interval:
            return 0
        k_idx, h_idx = np.meshgrid(np.arange(len(levels)), self.horizons, indexing="ij")
        k_idx, h_idx = k_idx.ravel(), h_idx.ravel()
        m = len(k_idx)
        f = self.n_forecasters
        self.qid = np.concatenate([self.qid, self._next_qid + np.arange(m)])
        self._next_qid += m
        self.index = np.concatenate([self.index, k_idx])
        self.horizon = np.concatenate([self.horizon, h_idx])
        self.open_day = np.concatenate([self.open_day, np.full(m, day)])
        self.resolve_day = np.concatenate([self.resolve_day, day + h_idx])
        self.strike = np.concatenate([self.strike, (1.0 + self.threshold) * levels[k_idx]])
        self._sum_p = np.concatenate([self._sum_p, np.zeros((m, f))])
        self._sum_p2 = np.concatenate([self._sum_p2, np.zeros((m, f))])
        self._last_p = np.concatenate([self._last_p, np.full((m, f), np.nan)])
        self._n = np.concatenate([self._n, np.zeros(m, dtype=np.int64)])
        shape = (m, f, RELIABILITY_BINS)
        self._bin_counts = np.concatenate([self._bin_counts, np.zeros(shape)])
        self._bin_sum_p = np.concatenate([self._bin_sum_p, np.zeros(shape)])
        return m

    def days_left(self, day: int) -> np.ndarray:
        """Days until each open question resolves, counted from ``day``."""
        return self.resolve_day - day

    def last_forecasts(self) -> np.ndarray:
        """Each forecaster's latest forecast on each open question, shape (Q, F); NaN if none."""
        return self._last_p

    def record(self, forecasts: np.ndarray) -> None:
        """Add one day's forecasts, shape (Q, F), to the running sums."""
        p = np.clip(forecasts, 0.0, 1.0)
        self._sum_p += p
        self._sum_p2 += p * p
        self._last_p = p.copy()
        self._n += 1
        bins = np.minimum((p * RELIABILITY_BINS).astype(np.int64), RELIABILITY_BINS - 1)
        # Each (question, forecaster) falls in exactly one bin, so only those cells change: a
        # scatter into them (indices distinct) adds what a bincount over every cell would add
        # there (``0.0 + p``, the bincount's sum) and the other cells' + 0 leaves them as they are.
        flat = np.arange(p.size) * RELIABILITY_BINS + bins.ravel()
        self._bin_counts = np.ascontiguousarray(self._bin_counts)  # so the flat view is a view
        self._bin_sum_p = np.ascontiguousarray(self._bin_sum_p)
        self._bin_counts.reshape(-1)[flat] += 1
        self._bin_sum_p.reshape(-1)[flat] += 0.0 + p.ravel()

    def resolve(self, day: int, levels: np.ndarray) -> Resolution:
        """Resolve and remove the questions due on ``day``, scoring every forecaster."""
        due = self.resolve_day <= day
        outcome = (levels[self.index[due]] >= self.strike[due]).astype(np.int64)
        n = np.maximum(self._n[due], 1)[:, None]
        o = outcome[:, None]
        # Mean of (p - o)^2 over the days = mean(p^2) - 2 o mean(p) + o, since o^2 = o.
        mean_p = self._sum_p[due] / n
        brier = self._sum_p2[due] / n - 2 * o * mean_p + o
        res = Resolution(
            qid=self.qid[due],
            index=self.index[due],
            horizon=self.horizon[due],
            open_day=self.open_day[due],
            resolve_day=self.resolve_day[due],
            outcome=outcome,
            brier=np.clip(brier, 0.0, 1.0),
            mean_p=mean_p,
            last_p=self._last_p[due],
            n_forecasts=self._n[due],
            bin_counts=self._bin_counts[due],
            bin_sum_p=self._bin_sum_p[due],
        )
        if not res.qid.size:  # nothing resolved: every array stays as it is (no copies)
            return res
        keep = ~due
        for name in self._FIELDS:
            setattr(self, name, getattr(self, name)[keep])
        self._sum_p, self._sum_p2 = self._sum_p[keep], self._sum_p2[keep]
        self._last_p, self._n = self._last_p[keep], self._n[keep]
        self._bin_counts, self._bin_sum_p = self._bin_counts[keep], self._bin_sum_p[keep]
        return res
