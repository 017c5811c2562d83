"""Moments of daily returns for the method of simulated moments, vectorised over series.

Each moment is a number computed from one return series; :func:`moments` computes the chosen
ones for every row of a 2-D array at once (one row per series or per bootstrap draw), which is
what makes a block bootstrap of 1,000 draws cheap. The definitions match
:mod:`~.facts` (the ``facts`` command's table):

========== ==================================================================================
``vol``    annualised sd of log returns, ``sd(r) sqrt(252)``
``kurtosis`` excess kurtosis (bias-corrected, as ``scipy.stats.kurtosis(bias=False)``)
``hill``   Hill tail index at 5% of the sample, mean of the left and the right tail
``acf_r_L`` autocorrelation of returns at lag L (any L >= 1, for example ``acf_r_1``)
``acf_abs_L`` autocorrelation of absolute returns at lag L (``acf_abs_1``, ``acf_abs_10``, ...)
========== ==================================================================================

The autocorrelation is the usual estimator, ``sum (x_t - m)(x_{t+L} - m) / sum (x_t - m)^2``.

:func:`block_bootstrap` resamples a real series in blocks (circular moving blocks, Kunsch 1989;
Politis & Romano 1992), which keeps the volatility clustering inside each block; the covariance
of the moments over draws is the MSM weighting's raw material.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..errors import UsageError
from .facts import HILL_FRACTION

DAYS_PER_YEAR = 252
# The moments issue 18 asks for, in this order.
DEFAULT_MOMENTS = ("vol", "kurtosis", "hill", "acf_abs_1", "acf_abs_10", "acf_abs_50", "acf_r_1")
_LAGGED = re.compile(r"^acf_(r|abs)_([1-9][0-9]*)$")


def check_names(names) -> tuple[str, ...]:
    """Return the moment names as a tuple, refusing unknown ones and repeats.

    Raises:
        UsageError: A name is not a moment, or is listed twice.
    """
    names = tuple(names)
    if not names:
        raise UsageError("moments: give at least one moment")
    for name in names:
        if name not in ("vol", "kurtosis", "hill") and not _LAGGED.match(str(name)):
            raise UsageError(
                f"moments: unknown {name!r}; choose vol, kurtosis, hill, acf_r_L or acf_abs_L"
            )
        if names.count(name) > 1:
            raise UsageError(f"moments: {name!r} is listed twice")
    return names


def _acf_at(x: np.ndarray, lag: int) -> np.ndarray:
    d = x - x.mean(axis=1, keepdims=True)
    den = np.sum(d * d, axis=1)
    if lag >= x.shape[1]:
        return np.full(x.shape[0], np.nan)
    num = np.sum(d[:, :-lag] * d[:, lag:], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def _hill(x: np.ndarray, fraction: float = HILL_FRACTION) -> np.ndarray:
    """Hill index of each row, mean of both tails; :func:`~.facts.hill_tail_index` per row."""
    n = x.shape[1]
    k = int(fraction * n)
    out = np.zeros(x.shape[0])
    for side in (-x, x):
        # The k + 1 largest of each row; values of the other sign never reach them when the
        # tail holds more than k observations (checked below).
        top = -np.sort(-side, axis=1)[:, : k + 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            denom = np.sum(np.log(top[:, :k] / top[:, k : k + 1]), axis=1)
            h = k / denom
        few = (side > 0).sum(axis=1) <= k
        h[few | ~(denom > 0)] = np.nan
        out += h
    return out / 2.0


def moments(returns, names=DEFAULT_MOMENTS) -> np.ndarray:
    """The chosen moments of each row of ``returns``.

    Args:
        returns: One series (1-D) or several of equal length (2-D, one per row).
        names: Moment names (see the module docstring).

    Returns:
        Shape ``(len(names),)`` for one series, ``(rows, len(names))`` for several.
    """
    names = check_names(names)
    x = np.asarray(returns, dtype=float)
    one = x.ndim == 1
    x = np.atleast_2d(x)
    cols = []
    for name in names:
        if name == "vol":
            cols.append(x.std(axis=1, ddof=1) * math.sqrt(DAYS_PER_YEAR))
        elif name == "kurtosis":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                cols.append(stats.kurtosis(x, axis=1, fisher=True, bias=False))
        elif name == "hill":
            cols.append(_hill(x))
        else:
            kind, lag = _LAGGED.match(name).groups()
            cols.append(_acf_at(np.abs(x) if kind == "abs" else x, int(lag)))
    out = np.column_stack(cols)
    return out[0] if one else out


def pooled_moments(series, names=DEFAULT_MOMENTS) -> np.ndarray:
    """The mean of each moment over several series (of any lengths).

    This is the simulated moment of MSM: each simulated series is one replication, and their
    mean has ``1 / S`` of one replication's variance.
    """
    rows = [moments(np.asarray(s, dtype=float), names) for s in series]
    return np.nanmean(np.vstack(rows), axis=0)


def block_bootstrap(
    returns, names=DEFAULT_MOMENTS, block: int = 100, draws: int = 500, seed: int = 0
) -> np.ndarray:
    """The moments of ``draws`` circular moving-block resamples of one series.

    Args:
        returns: One real return series.
        names: Moment names.
        block: Block length (days). Long enough to keep the clustering up to the longest ACF lag
            mostly inside blocks.
        draws: Resamples.
        seed: Seed of the resampling.

    Returns:
        Shape ``(draws, len(names))``.
    """
    r = np.asarray(returns, dtype=float)
    n = r.size
    if not 1 <= block <= n:
        raise UsageError(f"bootstrap block: must be between 1 and {n} days (got {block})")
    rng = np.random.default_rng(seed)
    blocks = -(-n // block)
    starts = rng.integers(0, n, size=(draws, blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(draws, -1)[:, :n] % n
    return moments(r[idx], names)


@dataclass(frozen=True)
class TargetMoments:
    """The real series' moments, their bootstrap spread, and where they came from.

    Attributes:
        names: Moment names.
        values: The moments of the real series.
        cov: Covariance of the moments over the bootstrap draws.
        low: ``value - 1.96 sd`` (the bootstrap sd) of each moment.
        high: ``value + 1.96 sd``.
        n_returns: Length of the real series.
        block: Bootstrap block length.
        draws: Bootstrap draws.
        label: The series, for tables (``sp500 1999-01-04 to 2008-12-31``).
    """

    names: tuple[str, ...]
    values: np.ndarray
    cov: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_returns: int
    block: int
    draws: int
    label: str = ""

    @property
    def sd(self) -> np.ndarray:
        """Bootstrap sd of each moment."""
        return np.sqrt(np.diag(self.cov))


def target_moments(
    returns,
    names=DEFAULT_MOMENTS,
    block: int = 100,
    draws: int = 500,
    seed: int = 0,
    label: str = "",
) -> TargetMoments:
    """A real series' moments with their block-bootstrap covariance and 95% normal band.

    Raises:
        UsageError: A moment is undefined on the series (too short, constant), or the bootstrap
            covariance is singular (fewer draws than moments).
    """
    names = check_names(names)
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    values = moments(r, names)
    bad = [n for n, v in zip(names, values, strict=True) if not np.isfinite(v)]
    if bad:
        raise UsageError(f"target: moment {bad[0]} is undefined on {r.size} returns")
    boot = block_bootstrap(r, names, block, draws, seed)
    boot = boot[np.isfinite(boot).all(axis=1)]
    if boot.shape[0] <= len(names):
        raise UsageError(
            f"bootstrap: {boot.shape[0]} usable draws for {len(names)} moments; raise draws"
        )
    cov = np.atleast_2d(np.cov(boot, rowvar=False))
    # The band is centred on the real moment: block resampling cuts the pairs that straddle two
    # blocks, which pulls the draws' long-lag ACF(|r|) down, so their quantiles would sit off it.
    half = 1.959963984540054 * np.sqrt(np.diag(cov))
    low, high = values - half, values + half
    return TargetMoments(names, values, cov, low, high, int(r.size), block, draws, label)
