"""News rates from data: jumps of a daily return series (Lee & Mykland 2008).

*The test.* Each return is divided by the local volatility just before it, estimated by bipower
variation over the previous ``window`` returns (robust to the jumps themselves, Barndorff-Nielsen
& Shephard 2004)::

    sigma_t^2 = (pi / 2) / (window - 2) * sum_{j = t-window+2}^{t-1} |r_j| |r_{j-1}|
    z_t = (r_t - mean(r)) / sigma_t

Lee & Mykland (2008, Review of Financial Studies 21, 2535-2563) show that without jumps the
largest ``|z_t|`` of ``n`` tends to a Gumbel law, so a jump is flagged where ``|z_t|`` exceeds::

    threshold = sqrt(2 log n) - (log pi + log log n) / (2 sqrt(2 log n)) + beta / sqrt(2 log n)
    beta = -log(-log(1 - significance))

(their ``C_n + S_n beta*`` in units of sd; at a 5% level and n = 5,000 it is 4.45 sds). The
level is family-wise: with no jumps at all, the chance of flagging any day is about
``significance``. ``test="daily"`` instead flags ``|z_t| > Phi^-1(1 - significance / 2)`` day
by day, which flags ``significance`` of all days by chance. The window defaults to 63 days (a
quarter). Lee & Mykland suggest ``sqrt(252)``, about 16, for daily data, but a bipower estimate
from 14 products is noisy enough to fatten the tails of ``z``: on Gaussian returns without jumps
a 16-day window flagged 4 false jumps per 5,000 days on average (20 samples), all 20 samples had
some, while a 63-day window flagged some in 1 sample of 20, the nominal 5%.

*Assumptions.* Between jumps the returns are conditionally Gaussian with a volatility that is
locally constant over the window; jumps are rare enough that a window rarely holds two (bipower
variation absorbs one); a day carries at most one jump. Fat-tailed diffusions (GARCH-t) flag
some of their own tail draws as jumps.

*The mapping to the model's news (an assumption, written in the config's comments).* A public
news item in the model (:mod:`~llm_market.information.news`) is a reading ``y = z + e`` of one
future standardized shock ``z`` (sd 1) with noise ``e`` of sd ``public_news_noise``, arriving as
a Poisson process of ``public_news_rate`` items per index per day. A jump is read as one item of
news: the rate is jumps per trading day, and the noise is the part of a jump day's move that the
jump does not explain, the diffusion (1 local sd), relative to the jump's size: a jump of
``|z|`` local sds carries a signal-to-noise ratio ``z^2 - 1``, so ``public_news_noise =
1 / sqrt(mean(z^2) - 1)`` over the jump days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..errors import UsageError

TESTS = ("gumbel", "daily")
DEFAULT_WINDOW = 63
DEFAULT_SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class JumpFit:
    """The jumps of a return series and the news rates they imply.

    Attributes:
        test: ``"gumbel"`` or ``"daily"`` (see the module docstring).
        significance: The test's level.
        window: Days of bipower variation behind each local volatility.
        threshold: ``|z|`` above which a return is a jump (local sds).
        n_tested: Returns tested (those with a full window before them).
        jump_index: Positions of the jumps in the tested returns' series (0 = first return).
        z: Standardized size ``z_t`` of each jump (signed).
        size: Each jump's return (decimal log return, signed).
    """

    test: str
    significance: float
    window: int
    threshold: float
    n_tested: int
    jump_index: np.ndarray
    z: np.ndarray
    size: np.ndarray

    @property
    def n_jumps(self) -> int:
        """Jumps found."""
        return int(self.jump_index.size)

    @property
    def rate(self) -> float:
        """Jumps per trading day: the ``public_news_rate`` written."""
        return self.n_jumps / self.n_tested if self.n_tested else 0.0

    @property
    def noise(self) -> float | None:
        """``1 / sqrt(mean(z^2) - 1)`` over the jumps: the ``public_news_noise`` written."""
        if not self.n_jumps:
            return None
        excess = float(np.mean(self.z**2)) - 1.0
        return 1.0 / math.sqrt(excess) if excess > 0 else None

    @property
    def mean_abs_size(self) -> float | None:
        """Mean absolute jump (decimal log return)."""
        return float(np.mean(np.abs(self.size))) if self.n_jumps else None


def gumbel_threshold(n: int, significance: float = DEFAULT_SIGNIFICANCE) -> float:
    """Lee & Mykland's family-wise threshold for ``|z|`` among ``n`` returns (in sds)."""
    a = math.sqrt(2.0 * math.log(n))
    beta = -math.log(-math.log(1.0 - significance))
    return a - (math.log(math.pi) + math.log(math.log(n))) / (2.0 * a) + beta / a


def local_volatility(returns: np.ndarray, window: int = DEFAULT_WINDOW) -> np.ndarray:
    """Bipower local sd before each return (NaN for the first ``window - 1`` returns).

    Args:
        returns: Daily log returns, demeaned or not (the products of absolute returns barely
            notice a daily mean).
        window: Returns ``t - window + 1 .. t - 1`` give the sd of return ``t``.
    """
    r = np.abs(np.asarray(returns, dtype=float))
    prod = np.r_[np.nan, r[1:] * r[:-1]]  # prod[j] = |r_j| |r_{j-1}|
    n_prod = window - 2
    csum = np.r_[0.0, np.nancumsum(prod)]
    out = np.full(r.size, np.nan)
    # The products j = t - window + 2 .. t - 1, all defined once t >= window - 1.
    t = np.arange(window - 1, r.size)
    out[t] = np.sqrt(0.5 * math.pi * (csum[t] - csum[t - n_prod]) / n_prod)
    return out


def find_jumps(
    returns: np.ndarray,
    window: int = DEFAULT_WINDOW,
    significance: float = DEFAULT_SIGNIFICANCE,
    test: str = "gumbel",
) -> JumpFit:
    """Flag the jumps of a daily return series (see the module docstring).

    Args:
        returns: Daily log returns (decimal, finite).
        window: Days of bipower variation for each local volatility (>= 3).
        significance: Level of the test, in (0, 1).
        test: ``"gumbel"`` (family-wise, Lee & Mykland) or ``"daily"`` (day by day).

    Returns:
        The :class:`JumpFit`.

    Raises:
        UsageError: A setting is out of range, or the series is shorter than the window.
    """
    if test not in TESTS:
        raise UsageError(f"jump test {test!r}: choose one of {', '.join(TESTS)}")
    if window < 3:
        raise UsageError(f"jump window: needs at least 3 days (got {window})")
    if not 0.0 < significance < 1.0:
        raise UsageError(f"jump significance: must be in (0, 1) (got {significance})")
    r = np.asarray(returns, dtype=float)
    if r.size <= window:
        raise UsageError(f"jumps: {r.size} returns, the test needs more than {window}")
    sd = local_volatility(r, window)
    tested = np.isfinite(sd) & (sd > 0)
    z = np.full(r.size, np.nan)
    z[tested] = (r[tested] - r.mean()) / sd[tested]
    n = int(tested.sum())
    if test == "gumbel":
        threshold = gumbel_threshold(n, significance)
    else:
        threshold = float(stats.norm.ppf(1.0 - significance / 2.0))
    jumps = np.flatnonzero(tested & (np.abs(np.nan_to_num(z)) > threshold))
    return JumpFit(test, significance, window, threshold, n, jumps, z[jumps], r[jumps])


def simulate_jumps(
    rng: np.random.Generator, days: int, sd: float, rate: float, jump_size: float
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian returns with jumps of ``+-jump_size`` on a share ``rate`` of days (for tests).

    Returns:
        The returns and the days that carry a jump.
    """
    r = rng.normal(0.0, sd, days)
    jump = rng.random(days) < rate
    r[jump] += jump_size * rng.choice((-1.0, 1.0), int(jump.sum()))
    return r, np.flatnonzero(jump)
