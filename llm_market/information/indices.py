"""Financial indices: correlated geometric Brownian motion with shocks drawn ahead.

Each day every index moves by the exact log-normal step of GBM,
``log S[t+1] = log S[t] + (mu - sigma^2 / 2) dt + sigma sqrt(dt) z[t+1]``, where the standard
normal shocks ``z`` are correlated across indices through the Cholesky factor of the correlation
matrix. The shocks of the next ``lookahead`` days are drawn in advance into a buffer, so that a
signal about "the return over the next h days" observes something that will really happen; they
come only from the index stream, so news and research do not change the index path.
"""

from __future__ import annotations

import numpy as np


class IndexProcess:
    """K correlated GBM indices with a buffer of future shocks.

    Args:
        rng: The indices' own random stream.
        n_indices: Number of indices, K.
        drift: Annual drift ``mu`` of the price.
        volatility: Annual volatility ``sigma``.
        correlation: Pairwise correlation of the daily shocks (equicorrelation).
        initial: Starting level of every index.
        lookahead: Days of future shocks held in the buffer (the longest question horizon).
        days_per_year: Steps per year, so ``dt = 1 / days_per_year``.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        n_indices: int,
        drift: float,
        volatility: float,
        correlation: float,
        initial: float,
        lookahead: int,
        days_per_year: int = 252,
    ):
        self.rng = rng
        self.n = n_indices
        dt = 1.0 / days_per_year
        self.step_mean = (drift - 0.5 * volatility**2) * dt
        self.step_sd = volatility * np.sqrt(dt)
        corr = np.full((n_indices, n_indices), correlation)
        np.fill_diagonal(corr, 1.0)
        self.chol = np.linalg.cholesky(corr)
        self.level = np.full(n_indices, float(initial))
        self.day = 0
        # buffer[:, j] is the shock of day (self.day + 1 + j).
        self.buffer = self._draw(lookahead)
        self.last_log_return = np.zeros(n_indices)

    def _draw(self, days: int) -> np.ndarray:
        eps = self.rng.standard_normal((days, self.n))
        return (eps @ self.chol.T).T

    @property
    def lookahead(self) -> int:
        """Days of future shocks known to the process."""
        return self.buffer.shape[1]

    def future_log_return(self, days: int) -> np.ndarray:
        """Log return of each index over the next ``days`` days (already determined)."""
        return days * self.step_mean + self.step_sd * self.buffer[:, :days].sum(axis=1)

    def advance(self) -> np.ndarray:
        """Move every index one day forward and return the day's log returns."""
        z = self.buffer[:, 0]
        r = self.step_mean + self.step_sd * z
        self.level = self.level * np.exp(r)
        self.buffer = np.concatenate([self.buffer[:, 1:], self._draw(1)], axis=1)
        self.day += 1
        self.last_log_return = r
        return r
