"""Demand regimes from data: a Markov-switching model fitted to a daily series.

The model's demand regime (:class:`~llm_market.market.demand.DemandRegime`) is a Markov chain over
ordered states, each with a level that scales the clients' willingness to pay. Nothing observed
is "demand for forecasts", so the chain is read off a proxy: by default the daily log returns,
whose variance switches between calm and turbulent spells (the demand for forecasts is assumed to
rise with how much the market moves), or a volume column when the data have one.

*The fit.* statsmodels' ``MarkovRegression`` with a switching constant and a switching variance
(Hamilton 1989; Kim & Nelson 1999), by maximum likelihood (EM then BFGS), for 2 and for 3
regimes; the number of regimes is the one with the lower information criterion (BIC by default:
AIC tends to add regimes on long samples). Returns are fitted in percent, as statsmodels is
tuned for values near 1.

*The mapping to demand levels (an assumption, stated in the written config).* Regimes are sorted
by their scale, low to high. For returns, the scale is the regime's sd; for volume, it is
``exp(mean)`` of the regime's detrended log volume. The demand levels are these scales divided
by their mean under the chain's stationary law, so the levels average 1 over time and the
long-run demand equals the uncalibrated model's ``normal`` level: a regime twice as volatile as
the average wants twice the forecasts. The transition matrix is the fitted one (rows sum to 1),
reordered with the regimes; the expected duration of regime ``i`` is ``1 / (1 - p_ii)`` days.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import UsageError

# State names for the model's demand_states, low to high.
STATE_NAMES = {1: ("normal",), 2: ("low", "high"), 3: ("low", "normal", "high")}
CRITERIA = ("bic", "aic")
# Volume trends over decades (S&P 500 volume grew tenfold 1999-2018): regimes are fitted to log
# volume minus its centred rolling mean over this many days, so that they capture spells, not
# the trend.
VOLUME_DETREND_DAYS = 250


@dataclass(frozen=True)
class RegimeFit:
    """A Markov-switching fit, regimes sorted low to high.

    Attributes:
        series: What was fitted: ``"returns"`` or ``"volume"``.
        k: Number of regimes.
        transition: Row-stochastic transition matrix, ``transition[i, j] = P(j tomorrow | i)``.
        means: Regime means (percent returns, or detrended log volume).
        sds: Regime sds (same units).
        scales: The regime scales the levels are made from (see the module docstring).
        levels: Demand levels, scales over their stationary mean.
        criterion: ``"bic"`` or ``"aic"``.
        scores: The criterion of each number of regimes tried.
        loglikelihood: Log likelihood of the chosen fit.
        n_obs: Observations fitted.
    """

    series: str
    k: int
    transition: np.ndarray
    means: np.ndarray
    sds: np.ndarray
    scales: np.ndarray
    levels: np.ndarray
    criterion: str
    scores: dict[int, float]
    loglikelihood: float
    n_obs: int

    @property
    def states(self) -> tuple[str, ...]:
        """The names written as ``demand_states``."""
        return STATE_NAMES[self.k]

    @property
    def durations(self) -> np.ndarray:
        """Expected days in each regime once entered, ``1 / (1 - p_ii)``."""
        stay = np.diag(self.transition)
        with np.errstate(divide="ignore"):
            return 1.0 / (1.0 - stay)

    @property
    def stationary(self) -> np.ndarray:
        """Long-run share of days in each regime."""
        return stationary_law(self.transition)


def stationary_law(transition: np.ndarray) -> np.ndarray:
    """The stationary distribution of a row-stochastic matrix (solved, not by eigenvectors).

    Solving ``pi (P - I) = 0`` with ``sum(pi) = 1`` by least squares is exact for an irreducible
    chain and stays real and non-negative where an eigen-solver can return tiny complex parts.
    """
    p = np.asarray(transition, dtype=float)
    n = p.shape[0]
    a = np.vstack([(p - np.eye(n)).T, np.ones(n)])
    b = np.zeros(n + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def detrended_log_volume(volume: np.ndarray, window: int = VOLUME_DETREND_DAYS) -> np.ndarray:
    """Log volume minus its centred rolling mean (see :data:`VOLUME_DETREND_DAYS`).

    Raises:
        UsageError: A volume is not positive.
    """
    import pandas as pd

    v = np.asarray(volume, dtype=float)
    if not (np.isfinite(v).all() and (v > 0).all()):
        raise UsageError("volume: every value must be a positive number to take its log")
    logv = pd.Series(np.log(v))
    trend = logv.rolling(window, center=True, min_periods=window // 5).mean()
    return (logv - trend).to_numpy()


def _fit_k(y: np.ndarray, k: int):
    import statsmodels.api as sm

    model = sm.tsa.MarkovRegression(y, k_regimes=k, trend="c", switching_variance=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the likelihood is checked below
        return model.fit(disp=False)


def fit_regimes(
    values: np.ndarray,
    series: str = "returns",
    regimes: tuple[int, ...] = (2, 3),
    criterion: str = "bic",
) -> RegimeFit:
    """Fit a switching-mean, switching-variance Markov regression and keep the best ``k``.

    Args:
        values: Daily log returns (decimal) for ``series="returns"``, or detrended log volume
            (:func:`detrended_log_volume`) for ``"volume"``.
        series: ``"returns"`` (levels from regime sds) or ``"volume"`` (levels from means).
        regimes: Numbers of regimes to try.
        criterion: ``"bic"`` or ``"aic"``.

    Returns:
        The :class:`RegimeFit` with the lowest criterion.

    Raises:
        UsageError: No fit has a finite likelihood.
    """
    if criterion not in CRITERIA:
        raise UsageError(f"criterion: {criterion!r}, choose one of {', '.join(CRITERIA)}")
    y = np.asarray(values, dtype=float)
    y = y[np.isfinite(y)]
    if series == "returns":
        y = 100.0 * y
    fits, scores = {}, {}
    for k in regimes:
        try:
            res = _fit_k(y, k)
        except (ValueError, np.linalg.LinAlgError):
            continue
        if not np.isfinite(res.llf):
            continue
        fits[k] = res
        scores[k] = float(res.bic if criterion == "bic" else res.aic)
    if not fits:
        raise UsageError(f"{series}: no Markov-switching fit converged")
    k = min(scores, key=scores.get)
    res = fits[k]
    names = res.model.param_names
    params = np.asarray(res.params)
    means = np.array([params[names.index(f"const[{i}]")] for i in range(k)])
    sds = np.sqrt([params[names.index(f"sigma2[{i}]")] for i in range(k)])
    # statsmodels' regime_transition[i, j] is P(i tomorrow | j today): transpose to rows.
    transition = np.asarray(res.regime_transition)[:, :, 0].T
    scales = sds if series == "returns" else np.exp(means)
    order = np.argsort(scales)
    transition = transition[np.ix_(order, order)]
    transition = transition / transition.sum(axis=1, keepdims=True)
    scales = scales[order]
    levels = scales / float(stationary_law(transition) @ scales)
    return RegimeFit(
        series=series,
        k=k,
        transition=transition,
        means=means[order],
        sds=sds[order],
        scales=scales,
        levels=levels,
        criterion=criterion,
        scores=scores,
        loglikelihood=float(res.llf),
        n_obs=int(y.size),
    )


def simulate_regimes(
    rng: np.random.Generator, transition: np.ndarray, sds: np.ndarray, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate a zero-mean Gaussian series whose sd follows a Markov chain (for tests).

    Returns:
        The series and the regime of each day.
    """
    p = np.asarray(transition, dtype=float)
    cum = np.cumsum(p, axis=1)
    u = rng.random(days)
    state = np.empty(days, dtype=int)
    s = int(np.argmax(stationary_law(p)))
    for t in range(days):
        s = min(int(np.searchsorted(cum[s], u[t], side="right")), p.shape[0] - 1)
        state[t] = s
    return rng.standard_normal(days) * np.asarray(sds)[state], state
