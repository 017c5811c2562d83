"""What principals judge their teams by: each team's record over the pivot window.

The record holds each team's rolling Brier score and skill (refreshed from the scoreboard when
questions resolve) and its earnings over the window.

The pivot ranks teams by one metric (``pivot_metric=``): Brier skill (from the scoreboard),
trading profit net of research and language-model costs, prediction-market earnings (payouts
minus stakes), or ``mix``, the sum of each team's ranks on the metrics in play, so that no unit
dominates.
"""

from __future__ import annotations

import numpy as np

from .pivot import RollingSum


class Performance:
    """Per-team scores and earnings over the pivot window.

    Args:
        n_teams: Number of teams.
        window: Days in the window.
    """

    def __init__(self, n_teams: int, window: int):
        self.profit_window = RollingSum(n_teams, window)
        self.msr_window = RollingSum(n_teams, window)
        self.brier = np.full(n_teams, np.nan)
        self.skill = np.full(n_teams, np.nan)

    def update_scores(self, brier: np.ndarray, skill: np.ndarray) -> None:
        """Take the teams' rolling Brier scores and skills after the day's resolutions."""
        self.brier, self.skill = brier, skill

    @property
    def profit(self) -> np.ndarray:
        """Each team's trading profit minus research (and call) spend over the window."""
        return self.profit_window.total.copy()

    @property
    def msr(self) -> np.ndarray:
        """Each team's prediction-market earnings (payouts minus stakes) over the window."""
        return self.msr_window.total.copy()

    def add_profit(self, day: np.ndarray) -> None:
        """Book one day's net profit of every team."""
        self.profit_window.add(day)

    def add_msr(self, day: np.ndarray) -> None:
        """Book one day's market-scoring-rule earnings of every team."""
        self.msr_window.add(day)

    def metric(self, name: str, with_msr: bool) -> np.ndarray:
        """Each team's pivot metric (higher is better).

        Args:
            name: ``brier_skill``, ``profit``, ``msr`` or ``mix``.
            with_msr: Whether a prediction market runs (``mix`` then counts its earnings).

        A team without a resolved question yet counts as skill 0 (no better than the base rate).
        """
        skill = np.nan_to_num(self.skill, nan=0.0)
        if name == "brier_skill":
            return skill
        if name == "profit":
            return self.profit
        if name == "msr":
            return self.msr
        parts = [skill, self.profit]
        if with_msr:
            parts.append(self.msr)
        return sum(np.argsort(np.argsort(x)) for x in parts).astype(float)

    def published_brier(self, questions: int, prior: float) -> np.ndarray:
        """Each team's public track record: its rolling Brier score shrunk to the population's.

        ``(n * B_j + m * mean B) / (n + m)`` with ``n`` the questions in the window and ``m`` the
        prior's weight in questions, so a team with few resolved questions is judged mostly by
        the population (NaN before any question has resolved).
        """
        if not questions or not np.isfinite(self.brier).any():
            return np.full(self.brier.size, np.nan)
        mean = float(np.nanmean(self.brier))
        own = np.where(np.isfinite(self.brier), self.brier, mean)
        return (questions * own + prior * mean) / (questions + prior)

    def principal_returns(self, owner: np.ndarray, capital: np.ndarray) -> np.ndarray:
        """Each principal's return over the window: its teams' net profit over its capital."""
        profit = np.bincount(owner, weights=self.profit_window.total, minlength=capital.size)
        return profit / np.maximum(capital, 1.0)
