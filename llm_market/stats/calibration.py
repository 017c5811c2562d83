"""Calibrating the index process to a real price series: ``llm-market calibrate PRICES.csv``.

Two fits of the daily log returns ``r`` of a price series:

* **GBM** by maximum likelihood: ``r ~ N((mu - sigma^2 / 2) dt, sigma^2 dt)`` with
  ``dt = 1 / 252``, so ``sigma = sd(r) * sqrt(252)`` (the MLE uses the 1/n variance) and
  ``mu = mean(r) * 252 + sigma^2 / 2``. These are the model's ``index_drift`` and
  ``index_volatility``.
* **GARCH(1,1) with Student-t shocks** by maximum likelihood with the ``arch`` package:
  ``r[t] = mu_d + sigma[t] z[t]``, ``sigma[t]^2 = omega + alpha (r[t-1] - mu_d)^2 +
  beta sigma[t-1]^2``, ``z`` standardized t with ``nu`` degrees of freedom. ``arch`` fits returns
  in percent; the results are converted to daily decimal units (``omega`` in squared log return
  per day).

*Variance targeting.* On long equity samples the MLE puts ``alpha + beta`` within a few 1e-4 of 1
(S&P 500 1999-2018: 0.9997), where ``omega / (1 - alpha - beta)`` is a ratio of two tiny numbers
and the implied unconditional volatility is meaningless (about 80% a year for the S&P 500, whose
sample volatility is 19%). By default the written ``garch_omega`` is therefore set so that the
unconditional variance equals the sample variance, ``omega = var(r) (1 - alpha - beta)`` (the
level from the sample, the dynamics ``alpha``, ``beta``, ``nu`` from the MLE; Engle & Mezrich
1996). ``--omega mle`` writes the MLE's ``omega`` instead. Both are in the file's comments.

Two more fits give the settings that are not the index's (each module states its method and
assumptions):

* **Demand regimes** (:mod:`~.regimes`): a Markov-switching regression with switching variance,
  2 or 3 regimes by BIC, on the returns (or on detrended log volume): ``demand_states``,
  ``demand_levels`` (regime scales over their stationary mean) and ``demand_transition``.
* **News** (:mod:`~.jumps`): the Lee-Mykland jumps of the returns: ``public_news_rate`` (jumps
  per day) and ``public_news_noise`` (the diffusion relative to the jumps' size).

The output is a TOML file whose top-level keys ``llm-market run --config`` reads as parameter
overrides: ``index_drift``, ``index_volatility``, ``index_process = "garch"``, ``garch_omega``,
``garch_alpha``, ``garch_beta``, ``garch_nu``, and, unless switched off, ``demand_states``,
``demand_levels``, ``demand_transition``, ``public_news_rate``, ``public_news_noise``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UsageError
from ..params import Params

if TYPE_CHECKING:
    from .jumps import JumpFit
    from .regimes import RegimeFit
    from .sources import PriceSource

DAYS_PER_YEAR = 252
# A GARCH(1,1) has 5 parameters with t shocks; below a year of data its fit is not worth writing.
MIN_RETURNS = 250


@dataclass(frozen=True)
class ParameterRange:
    """The values a model parameter accepts, from its field in :class:`~llm_market.params.Params`.

    Attributes:
        name: The parameter.
        lo: Lower bound.
        hi: Upper bound.
        lo_open: The lower bound itself is refused (``gt`` rather than ``ge``).
        hi_open: The upper bound itself is refused (``lt`` rather than ``le``).
    """

    name: str
    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    @classmethod
    def of(cls, name: str) -> ParameterRange:
        """The range of parameter ``name``, so that the bounds have one source: the model's."""
        bounds = {
            key: float(getattr(m, key))
            for m in Params.model_fields[name].metadata
            for key in ("ge", "gt", "le", "lt")
            if getattr(m, key, None) is not None
        }
        return cls(
            name,
            bounds.get("ge", bounds.get("gt", -math.inf)),
            bounds.get("le", bounds.get("lt", math.inf)),
            lo_open="gt" in bounds,
            hi_open="lt" in bounds,
        )

    def __contains__(self, x: float) -> bool:
        above = self.lo < x if self.lo_open else self.lo <= x
        below = x < self.hi if self.hi_open else x <= self.hi
        return above and below

    def __str__(self) -> str:
        left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
        return f"{left}{self.lo:g}, {self.hi:g}{right}"


@dataclass(frozen=True)
class GbmFit:
    """Maximum-likelihood GBM fit of daily log returns.

    Attributes:
        drift: Annual drift ``mu`` of the price.
        volatility: Annual volatility ``sigma``.
        daily_mean: Mean daily log return, ``(mu - sigma^2 / 2) dt``.
        daily_sd: Daily sd of log returns (MLE, 1/n).
        n_returns: Returns used.
    """

    drift: float
    volatility: float
    daily_mean: float
    daily_sd: float
    n_returns: int


@dataclass(frozen=True)
class GarchFit:
    """GARCH(1,1)-t fit in daily decimal units.

    Attributes:
        mu: Daily mean log return.
        omega: Variance intercept written to the config (per ``omega_from``).
        omega_mle: Variance intercept of the maximum-likelihood fit.
        alpha: ARCH coefficient.
        beta: GARCH coefficient.
        nu: Degrees of freedom of the t shocks.
        omega_from: ``"target"`` (unconditional variance = sample variance) or ``"mle"``.
        loglikelihood: Log likelihood of the MLE (on percent returns, as ``arch`` reports it).
        n_returns: Returns used.
    """

    mu: float
    omega: float
    omega_mle: float
    alpha: float
    beta: float
    nu: float
    omega_from: str
    loglikelihood: float
    n_returns: int

    @property
    def persistence(self) -> float:
        """``alpha + beta``: how long volatility shocks last."""
        return self.alpha + self.beta

    @property
    def unconditional_daily_vol(self) -> float:
        """``sqrt(omega / (1 - alpha - beta))`` with the written ``omega``."""
        return math.sqrt(self.omega / (1.0 - self.persistence))

    @property
    def unconditional_daily_vol_mle(self) -> float:
        """The same with the MLE's ``omega``."""
        return math.sqrt(self.omega_mle / (1.0 - self.persistence))

    @property
    def half_life(self) -> float:
        """Days for a volatility shock to halve, ``ln(0.5) / ln(alpha + beta)``."""
        return math.log(0.5) / math.log(self.persistence)


def fit_gbm(returns: np.ndarray, days_per_year: int = DAYS_PER_YEAR) -> GbmFit:
    """Fit GBM to daily log returns by maximum likelihood.

    Args:
        returns: Daily log returns (finite).
        days_per_year: Trading days per year (``dt = 1 / days_per_year``).

    Returns:
        The :class:`GbmFit`.
    """
    r = np.asarray(returns, dtype=float)
    m = float(r.mean())
    s = float(r.std())  # ddof=0: the maximum-likelihood variance
    sigma = s * math.sqrt(days_per_year)
    mu = m * days_per_year + 0.5 * sigma**2
    return GbmFit(mu, sigma, m, s, int(r.size))


def fit_garch(returns: np.ndarray, omega_from: str = "target") -> GarchFit:
    """Fit a GARCH(1,1) with Student-t shocks and a constant mean with ``arch``.

    Args:
        returns: Daily log returns (decimal, finite).
        omega_from: ``"target"`` sets ``omega`` from the sample variance (see the module
            docstring); ``"mle"`` keeps the fitted one.

    Returns:
        The :class:`GarchFit` in daily decimal units.

    Raises:
        UsageError: The fit fails or does not converge, or gives a non-stationary process.
    """
    from arch import arch_model

    r = np.asarray(returns, dtype=float)
    # arch's optimiser is tuned for returns in percent; its parameters are converted back below.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = arch_model(
                100.0 * r, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False
            ).fit(disp="off", show_warning=False)
        except (ValueError, np.linalg.LinAlgError) as err:
            raise UsageError(f"GARCH fit failed ({err})") from None
    if res.convergence_flag != 0:
        raise UsageError(f"GARCH fit did not converge (flag {res.convergence_flag})")
    p = res.params
    alpha, beta, nu = float(p["alpha[1]"]), float(p["beta[1]"]), float(p["nu"])
    if not alpha + beta < 1:
        raise UsageError(
            f"GARCH fit is not stationary (alpha + beta = {alpha + beta:.6f} >= 1): no "
            "unconditional variance to run the model with"
        )
    omega_mle = float(p["omega"]) / 1e4
    omega = float(r.var()) * (1.0 - alpha - beta) if omega_from == "target" else omega_mle
    return GarchFit(
        mu=float(p["mu"]) / 100.0,
        omega=omega,
        omega_mle=omega_mle,
        alpha=alpha,
        beta=beta,
        nu=nu,
        omega_from=omega_from,
        loglikelihood=float(res.loglikelihood),
        n_returns=int(r.size),
    )


@dataclass(frozen=True)
class Calibration:
    """Everything ``llm-market calibrate`` fitted, and the config file's text.

    Attributes:
        gbm: The GBM fit.
        garch: The GARCH fit.
        regimes: The demand-regime fit, or None when skipped.
        jumps: The jumps behind the news rate, or None when skipped.
        text: The TOML file.
    """

    gbm: GbmFit
    garch: GarchFit
    regimes: RegimeFit | None = None
    jumps: JumpFit | None = None
    text: str = field(default="", repr=False)


def config_values(cal: Calibration) -> dict[str, Any]:
    """The parameter overrides the config file sets, by name."""
    gbm, garch = cal.gbm, cal.garch
    values: dict[str, Any] = {
        "index_drift": gbm.drift,
        "index_volatility": gbm.volatility,
        "index_process": "garch",
        "garch_omega": garch.omega,
        "garch_alpha": garch.alpha,
        "garch_beta": garch.beta,
        "garch_nu": garch.nu,
    }
    if cal.regimes is not None:
        values["demand_states"] = list(cal.regimes.states)
        values["demand_levels"] = [float(x) for x in cal.regimes.levels]
        values["demand_transition"] = [[float(x) for x in row] for row in cal.regimes.transition]
    if cal.jumps is not None:
        values["public_news_rate"] = cal.jumps.rate
        if cal.jumps.noise is not None:
            values["public_news_noise"] = cal.jumps.noise
    return values


def check_ranges(gbm: GbmFit) -> None:
    """Refuse fits the model would not accept, before writing a config that cannot run.

    Raises:
        UsageError: The fitted drift or volatility is outside the model's range.
    """
    # The model's ranges (see `llm-market params`), checked before writing so that the file is
    # one `llm-market run --config` accepts.
    for name, value in (("index_drift", gbm.drift), ("index_volatility", gbm.volatility)):
        accepted = ParameterRange.of(name)
        if value not in accepted:
            raise UsageError(
                f"fitted {name} {value:.4g} is outside the model's range {accepted} "
                "(are these daily prices?)"
            )


def _num(x: float) -> str:
    # repr gives the shortest exact float; TOML accepts it, exponents with leading zeros included.
    return repr(float(x))


def _toml_list(values) -> str:
    return "[" + ", ".join(_num(v) if not isinstance(v, str) else f'"{v}"' for v in values) + "]"


def regime_lines(fit: RegimeFit) -> list[str]:
    """The config lines of the demand regimes, with the method and the mapping in comments."""
    what = (
        "daily log returns (percent), switching mean and variance"
        if fit.series == "returns"
        else "log volume minus its 250-day centred mean, switching mean and variance"
    )
    scale = "regime sd of returns" if fit.series == "returns" else "exp(regime mean log volume)"
    tried = ", ".join(f"k={k}: {v:.1f}" for k, v in sorted(fit.scores.items()))
    lines = [
        "# Demand regimes: Markov-switching regression (statsmodels MarkovRegression) on",
        f"# {what}; {fit.k} regimes by {fit.criterion.upper()} ({tried}).",
        f"# ASSUMPTION: demand for forecasts scales with the {scale}. Regimes are sorted",
        "# low to high; demand_levels = scale / (stationary mean of the scales), so they",
        "# average 1 over time. demand_transition[i][j] = P(regime j tomorrow | regime i today).",
        f"demand_states = {_toml_list(fit.states)}",
        f"demand_levels = {_toml_list(fit.levels)}",
        "demand_transition = [",
    ]
    for name, row in zip(fit.states, fit.transition, strict=True):
        lines.append(f"    {_toml_list(row)},  # from {name}")
    lines.append("]")
    unit = "% a day" if fit.series == "returns" else " (log volume)"
    for i, name in enumerate(fit.states):
        lines.append(
            f"#   {name:<6}: expected duration {fit.durations[i]:.1f} days, stationary share "
            f"{fit.stationary[i]:.1%}, regime sd {fit.sds[i]:.3g}{unit}, "
            f"mean {fit.means[i]:.3g}{unit}"
        )
    return lines


def jump_lines(fit: JumpFit) -> list[str]:
    """The config lines of the news rate, with the jump test and the mapping in comments."""
    test = (
        f"family-wise {fit.significance:g} level (Gumbel threshold of Lee-Mykland 2008)"
        if fit.test == "gumbel"
        else f"day-by-day {fit.significance:g} level (normal quantile)"
    )
    lines = [
        "# News: jumps of the returns, |r_t - mean| / sigma_t > "
        f"{fit.threshold:.3f} with sigma_t the bipower",
        f"# local sd of the {fit.window - 1} returns before day t; {test}.",
        f"# {fit.n_jumps} jumps in {fit.n_tested} tested days. ASSUMPTIONS: returns are "
        "Gaussian between jumps",
        "# with locally constant volatility; one jump is one public news item; the diffusion "
        "(1 local sd)",
        "# is the item's noise relative to the jump: public_news_noise = 1 / sqrt(mean(z^2) - 1).",
        f"public_news_rate = {_num(fit.rate)}  # news items per index per day",
    ]
    if fit.noise is not None:
        lines.append(
            f"public_news_noise = {_num(fit.noise)}  # noise sd of a news item (shock sds)"
        )
    else:
        lines.append("# public_news_noise: not written (no jumps, or none above 1 local sd)")
    if fit.n_jumps:
        lines.append(
            f"#   mean |jump| {fit.mean_abs_size:.4f} (log return), mean |z| "
            f"{float(np.mean(np.abs(fit.z))):.2f} local sds"
        )
    return lines


def render_toml(
    gbm: GbmFit,
    garch: GarchFit,
    source: str,
    span: str,
    regimes: RegimeFit | None = None,
    jumps: JumpFit | None = None,
) -> str:
    """The config file's text: the overrides with their units and the fit's diagnostics.

    Args:
        gbm: The GBM fit.
        garch: The GARCH fit.
        source: Where the prices came from (for the header).
        span: The sample, for example ``"1999-01-04 to 2018-12-31"``.
        regimes: The demand-regime fit, if any.
        jumps: The jump fit behind the news rate, if any.
    """
    ann = math.sqrt(DAYS_PER_YEAR)
    target = garch.omega_from == "target"
    vol_mle = garch.unconditional_daily_vol_mle
    lines = [
        "# Model calibrated by `llm-market calibrate`",
        f"# from {source}: {gbm.n_returns} daily log returns, {span}.",
        "# Use: llm-market run --config THIS_FILE (keys are parameter overrides; --set wins).",
        "# Units: annual for index_drift and index_volatility (252 trading days a year);",
        "# daily decimal log returns for the garch_* parameters.",
        "",
        "# GBM, maximum likelihood: sigma = sd(r) sqrt(252), mu = mean(r) 252 + sigma^2 / 2.",
        f"index_drift = {_num(gbm.drift)}  # annual drift of the price (1/year)",
        f"index_volatility = {_num(gbm.volatility)}  # annual volatility of log returns",
        "",
        "# GARCH(1,1) with standardized Student-t shocks, maximum likelihood (arch package):",
        "# r[t] = mu_d + sigma[t] z[t],  sigma[t]^2 = omega + alpha (r[t-1] - mu_d)^2 "
        "+ beta sigma[t-1]^2.",
        "# The model takes mu_d = index_drift / 252 - omega / (1 - alpha - beta) / 2.",
        'index_process = "garch"',
        f"garch_omega = {_num(garch.omega)}  # daily variance intercept (squared log return/day)"
        + (", variance-targeted" if target else ", maximum likelihood"),
        f"garch_alpha = {_num(garch.alpha)}  # weight of yesterday's squared shock (no unit)",
        f"garch_beta = {_num(garch.beta)}  # weight of yesterday's variance (no unit)",
        f"garch_nu = {_num(garch.nu)}  # degrees of freedom of the t shocks (> 2)",
        "",
        "# Diagnostics (not parameters):",
        f"#   alpha + beta = {garch.persistence:.6f}; half-life of a volatility shock "
        f"{garch.half_life:.0f} days",
        f"#   unconditional daily vol {garch.unconditional_daily_vol:.5f} "
        f"(annual {garch.unconditional_daily_vol * ann:.4f}) with the written omega",
        f"#   maximum-likelihood omega {garch.omega_mle:.6g}: unconditional daily vol "
        f"{vol_mle:.5f} (annual {vol_mle * ann:.4f})",
        f"#   sample daily vol {gbm.daily_sd:.5f}; GARCH daily mean {garch.mu:.6g}, "
        f"sample daily mean {gbm.daily_mean:.6g}",
        f"#   GARCH log likelihood (percent returns) {garch.loglikelihood:.2f}",
        "",
    ]
    if regimes is not None:
        lines += [*regime_lines(regimes), ""]
    if jumps is not None:
        lines += [*jump_lines(jumps), ""]
    return "\n".join(lines)


def calibrate(
    src: PriceSource,
    omega_from: str = "target",
    regimes: str | None = "returns",
    volume: np.ndarray | None = None,
    jump_test: str | None = "gumbel",
    jump_significance: float = 0.05,
) -> Calibration:
    """Fit the index processes, the demand regimes and the news rate to one price series.

    Args:
        src: A :class:`~.sources.PriceSource` with one series.
        omega_from: ``"target"`` or ``"mle"`` (see :func:`fit_garch`).
        regimes: ``"returns"``, ``"volume"`` (needs ``volume``) or None to skip the regimes.
        volume: The volume of each price day, for ``regimes="volume"``.
        jump_test: ``"gumbel"``, ``"daily"`` or None to skip the news rate (see :mod:`.jumps`).
        jump_significance: The jump test's level.

    Returns:
        The :class:`Calibration`, its ``text`` the TOML file.

    Raises:
        UsageError: Too few returns, or a fit the model cannot use.
    """
    from .facts import log_returns

    if len(src.series) != 1:
        raise UsageError(f"{src.name}: calibration needs one price series, got {len(src.series)}")
    r = log_returns(src.series[0])
    if r.size < MIN_RETURNS:
        raise UsageError(
            f"{src.name}: only {r.size} returns, calibration needs at least {MIN_RETURNS}"
        )
    if r.std() < 1e-10:  # constant (or exactly exponential) prices: no real series does that
        raise UsageError(f"{src.name}: every return is the same, there is nothing to fit")
    gbm = fit_gbm(r)
    check_ranges(gbm)
    garch = fit_garch(r, omega_from)
    regime_fit = None
    if regimes == "volume":
        from .regimes import detrended_log_volume, fit_regimes

        if volume is None:
            raise UsageError(f"{src.name}: --regimes volume needs a volume column")
        regime_fit = fit_regimes(detrended_log_volume(volume), series="volume")
    elif regimes == "returns":
        from .regimes import fit_regimes

        regime_fit = fit_regimes(r, series="returns")
    elif regimes is not None:
        raise UsageError(f"regimes: {regimes!r}, choose returns, volume or none")
    jump_fit = None
    if jump_test is not None:
        from .jumps import find_jumps

        jump_fit = find_jumps(r, significance=jump_significance, test=jump_test)
    span = src.labels[0] if src.kind == "sp500" else f"column {src.column!r}"
    text = render_toml(gbm, garch, src.name, span, regime_fit, jump_fit)
    return Calibration(gbm, garch, regime_fit, jump_fit, text)
