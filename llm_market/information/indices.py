"""Financial indices: correlated GBM or GARCH(1,1) with Student-t shocks, shocks drawn ahead.

Each day every index moves by the exact log-normal step of GBM,
``log S[t+1] = log S[t] + (mu - sigma^2 / 2) dt + sigma sqrt(dt) z[t+1]``, where the standard
normal shocks ``z`` are correlated across indices through the Cholesky factor of the correlation
matrix. The shocks of the next ``lookahead`` days are drawn in advance into a buffer, so that a
signal about "the return over the next h days" observes something that will really happen; they
come only from the index stream, so news and research do not change the index path.

:class:`GarchIndexProcess` has the same interface with GARCH(1,1) volatility and Student-t shocks,
for markets whose returns show volatility clustering and fat tails.

:class:`MarketIndexProcess` (``index_process="market"``) keeps a GBM or GARCH path as each
index's *fundamental value* and forms the index's *price* in an order book of index traders
(:mod:`~llm_market.market.index_market`); its ``level`` is the traded price.

Every process is built from the run's parameters by :func:`make_index_process`, through the
registry :data:`INDEX_PROCESSES` (name -> class with a ``from_params`` constructor), and has
the same interface: ``level``, ``step_mean``, ``step_sd``, ``unconditional_sd``, ``buffer``,
``lookahead``, ``future_log_return``, ``advance``, ``report_gain`` and the ``observe_reports``,
``observe_research`` and ``observe_news`` hooks (what the report market's buyers bought today,
what research the teams bought, which indices had public news; only the traded index uses
them, and only it has a ``report_gain``: what a report earned in its market).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import ndtr, stdtrit

from .news import PUBLIC

if TYPE_CHECKING:
    from ..params import Params
    from ..rng import Streams


def _common_args(p: Params, lookahead: int) -> tuple[Any, ...]:
    # The arguments every exogenous process takes after its stream, in constructor order.
    return (
        p.n_indices,
        p.index_drift,
        p.index_volatility,
        p.index_correlation,
        p.index_initial,
        lookahead,
        p.trading_days_per_year,
    )


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

    @classmethod
    def from_params(cls, p: Params, streams: Streams, lookahead: int) -> IndexProcess:
        """Build the process of a run (stream ``indices``)."""
        return cls(streams["indices"], *_common_args(p, lookahead))

    report_gain = None  # what a report earned in an index market: no market here

    def observe_reports(self, good: int, buyers: np.ndarray, sellers=None) -> None:
        """Reports bought today do not move an exogenous index."""

    def observe_research(self, team: np.ndarray, precision: np.ndarray) -> None:
        """Research bought today does not move an exogenous index."""

    def observe_news(self, log: dict[str, np.ndarray]) -> None:
        """News does not move an exogenous index."""

    def _draw(self, days: int) -> np.ndarray:
        eps = self.rng.standard_normal((days, self.n))
        return (eps @ self.chol.T).T

    @property
    def lookahead(self) -> int:
        """Days of future shocks known to the process."""
        return self.buffer.shape[1]

    @property
    def unconditional_sd(self) -> float:
        """Long-run daily sd of log returns: for GBM, always ``step_sd``.

        The reference level of "normal" volatility (the value of information compares realised
        volatility with it); :class:`GarchIndexProcess` has the same attribute.
        """
        return self.step_sd

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


class GarchIndexProcess:
    """K indices whose daily log returns follow GARCH(1,1) with Student-t shocks.

    Each index's daily log return is ``r[t] = mu_d + sigma[t] * z[t]`` with the conditional
    variance ``sigma[t]^2 = omega + alpha * (r[t-1] - mu_d)^2 + beta * sigma[t-1]^2`` (Bollerslev
    1986), so large moves are followed by large moves (volatility clustering) and the
    unconditional distribution has fat tails even before the t shocks add their own.

    *Shocks.* ``z`` is standardized Student t with ``nu`` degrees of freedom (unit variance).
    Dependence across indices comes from a **Gaussian copula**: correlated standard normals
    ``g = L e`` (``L`` the Cholesky factor of the equicorrelation matrix, as in
    :class:`IndexProcess`, and drawn from the stream in the same amounts) are mapped through
    ``z = t_nu^-1(Phi(g)) * sqrt((nu - 2) / nu)``. The copula keeps every marginal an exact
    standardized t (so each index's tail and unconditional variance are what the parameters
    say); the Pearson correlation of the ``z`` is slightly below ``correlation`` for small
    ``nu`` (the rank correlation is exactly that of the normals). ``nu = inf`` gives Gaussian
    shocks, and then the path of ``g`` is the one :class:`IndexProcess` would use with the same
    stream.

    *The buffer* holds the standardized shocks ``z`` of the next ``lookahead`` days, drawn ahead
    from the index's own stream, exactly as for :class:`IndexProcess`, so signals about future
    shocks observe something real. Given the buffer the variance path is deterministic (each
    day's variance is a function of the previous day's variance and shock), so
    :meth:`future_log_return` is exact: it returns what :meth:`advance` will realise.

    *What teams see.* ``step_sd`` is the current conditional sd of the next day's return, one per
    index (shape (K,)): the volatility a forecaster would plug in today. Teams that treat it as
    constant over the horizon make a (realistic) approximation; the index itself is exact.

    Args:
        rng: The indices' own random stream.
        n_indices: Number of indices, K.
        drift: Annual drift of the price; the daily mean log return is
            ``mu_d = drift / days_per_year - unconditional_variance / 2`` (as GBM's
            ``(mu - sigma^2 / 2) dt`` when the unconditional vol is ``sigma``).
        volatility: Annual volatility; used only to set ``omega`` when ``omega`` is None, so that
            the unconditional annual volatility equals it.
        correlation: Pairwise correlation of the copula's normals (equicorrelation).
        initial: Starting level of every index.
        lookahead: Days of future shocks held in the buffer (the longest question horizon).
        days_per_year: Steps per year (annual to daily units).
        omega: Variance intercept in daily units (log-return variance per day); None derives it
            from ``volatility``.
        alpha: ARCH coefficient (reaction to yesterday's squared shock), >= 0.
        beta: GARCH coefficient (memory of yesterday's variance), >= 0, ``alpha + beta < 1``.
        nu: Degrees of freedom of the t shocks, > 2 (``math.inf`` for normal shocks).

    Raises:
        ValueError: A parameter is outside the stationary, finite-variance region.
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
        *,
        omega: float | None = None,
        alpha: float = 0.08,
        beta: float = 0.9,
        nu: float = 6.0,
    ):
        if alpha < 0 or beta < 0 or alpha + beta >= 1:
            raise ValueError(
                f"GARCH needs alpha >= 0, beta >= 0 and alpha + beta < 1 "
                f"(got alpha={alpha}, beta={beta})"
            )
        if not nu > 2:
            raise ValueError(f"GARCH nu must be > 2 for a finite variance (got {nu})")
        dt = 1.0 / days_per_year
        if omega is None:
            omega = volatility**2 * dt * (1.0 - alpha - beta)
        if not omega > 0:
            raise ValueError(f"GARCH omega must be > 0 (got {omega})")
        self.rng = rng
        self.n = n_indices
        self.omega, self.alpha, self.beta, self.nu = float(omega), float(alpha), float(beta), nu
        self.unconditional_variance = self.omega / (1.0 - self.alpha - self.beta)
        self.unconditional_sd = float(np.sqrt(self.unconditional_variance))
        self.step_mean = drift * dt - 0.5 * self.unconditional_variance
        corr = np.full((n_indices, n_indices), correlation)
        np.fill_diagonal(corr, 1.0)
        self.chol = np.linalg.cholesky(corr)
        # Start at the unconditional variance: the stationary mean, with no invented history.
        self._var_next = np.full(n_indices, self.unconditional_variance)
        self.level = np.full(n_indices, float(initial))
        self.day = 0
        # buffer[:, j] is the standardized shock of day (self.day + 1 + j).
        self.buffer = self._draw(lookahead)
        self.last_log_return = np.zeros(n_indices)

    @classmethod
    def from_params(cls, p: Params, streams: Streams, lookahead: int) -> GarchIndexProcess:
        """Build the process of a run (stream ``indices``)."""
        return cls(
            streams["indices"],
            *_common_args(p, lookahead),
            omega=p.garch_omega,
            alpha=p.garch_alpha,
            beta=p.garch_beta,
            nu=p.garch_nu,
        )

    report_gain = None  # what a report earned in an index market: no market here

    def observe_reports(self, good: int, buyers: np.ndarray, sellers=None) -> None:
        """Reports bought today do not move an exogenous index."""

    def observe_research(self, team: np.ndarray, precision: np.ndarray) -> None:
        """Research bought today does not move an exogenous index."""

    def observe_news(self, log: dict[str, np.ndarray]) -> None:
        """News does not move an exogenous index."""

    def _draw(self, days: int) -> np.ndarray:
        g = (self.rng.standard_normal((days, self.n)) @ self.chol.T).T
        if np.isinf(self.nu):
            return g
        # The t quantile of the normal's probability (the copula), taken on the lower tail and
        # mirrored: ndtr(g) rounds to 1 for g > 8.3, where the quantile would be infinite.
        t = -np.sign(g) * stdtrit(self.nu, ndtr(-np.abs(g)))
        return t * np.sqrt((self.nu - 2.0) / self.nu)

    @property
    def step_sd(self) -> np.ndarray:
        """Conditional sd of each index's next daily log return, shape (K,)."""
        return np.sqrt(self._var_next)

    @property
    def lookahead(self) -> int:
        """Days of future shocks known to the process."""
        return self.buffer.shape[1]

    def _path(self, days: int) -> tuple[np.ndarray, np.ndarray]:
        # Returns of the next `days` days, shape (K, days), and the variance after the last one.
        var = self._var_next.copy()
        out = np.empty((self.n, days))
        for j in range(days):
            e = np.sqrt(var) * self.buffer[:, j]
            out[:, j] = self.step_mean + e
            var = self.omega + self.alpha * e**2 + self.beta * var
        return out, var

    def future_log_return(self, days: int) -> np.ndarray:
        """Log return of each index over the next ``days`` days (exact given the buffer).

        Args:
            days: Number of days ahead, at most :attr:`lookahead`.

        Returns:
            Array of shape (K,).
        """
        return self._path(days)[0].sum(axis=1)

    def advance(self) -> np.ndarray:
        """Move every index one day forward and return the day's log returns."""
        r, self._var_next = self._path(1)
        r = r[:, 0]
        self.level = self.level * np.exp(r)
        self.buffer = np.concatenate([self.buffer[:, 1:], self._draw(1)], axis=1)
        self.day += 1
        self.last_log_return = r
        return r


class MarketIndexProcess:
    """Indices whose price is traded: a GBM (or GARCH) fundamental and an order-book price.

    The fundamental is the process ``market_fundamental`` names, drawn from the same
    ``indices`` stream as the exogenous index would be, so a traded run and a GBM run of the same
    seed share their fundamental path (and their news, which is about the fundamental's shocks).
    The price is formed each day by :class:`~llm_market.market.index_market.IndexMarket` from
    its own ``index_market`` stream. Questions resolve on ``level``: the traded price.

    ``step_mean``, ``step_sd`` and ``unconditional_sd`` are the fundamental's: what a forecaster
    who models the index as its fundamental plugs in. ``buffer`` holds the fundamental's future
    shocks: news and research are about the fundamental, which the price follows only loosely.

    Args:
        fundamental: The fundamental's process.
        market: The index traders.
    """

    def __init__(
        self,
        fundamental: IndexProcess | GarchIndexProcess,
        market: Any,
        n_teams: int = 0,
        rng: np.random.Generator | None = None,
    ):
        self.fundamental = fundamental
        self.market = market
        self.n = fundamental.n
        self.level = market.price.copy()
        self.day = 0
        self.last_log_return = np.zeros(self.n)
        # Each team's research precision per cell of the last `lookahead` days, one row a day:
        # their sum is the research part of its precision on tomorrow's shock.
        self.research = np.zeros((fundamental.lookahead, n_teams))
        self.rng = rng if rng is not None else market.rng

    @classmethod
    def from_params(cls, p: Params, streams: Streams, lookahead: int) -> MarketIndexProcess:
        """Build the fundamental and the index traders of a run."""
        from ..market.index_market import IndexMarket, config_from_params

        fundamental = INDEX_PROCESSES[p.market_fundamental].from_params(p, streams, lookahead)
        market = IndexMarket(
            config_from_params(p),
            streams["index_market"],
            p.index_initial,
            p.n_indices,
            p.n_clients,
        )
        return cls(fundamental, market, p.n_teams)

    @property
    def step_mean(self):
        """The fundamental's daily mean log return."""
        return self.fundamental.step_mean

    @property
    def step_sd(self):
        """The fundamental's (conditional) daily sd of log returns."""
        return self.fundamental.step_sd

    @property
    def unconditional_sd(self) -> float:
        """The fundamental's long-run daily sd."""
        return self.fundamental.unconditional_sd

    @property
    def buffer(self) -> np.ndarray:
        """The fundamental's future shocks (what news and research observe)."""
        return self.fundamental.buffer

    @property
    def lookahead(self) -> int:
        """Days of future fundamental shocks known to the process."""
        return self.fundamental.lookahead

    @property
    def fundamental_level(self) -> np.ndarray:
        """Each index's fundamental value today."""
        return self.fundamental.level

    def future_log_return(self, days: int) -> np.ndarray:
        """The fundamental's log return over the next ``days`` days (the price's is not known)."""
        return self.fundamental.future_log_return(days)

    @property
    def report_quality(self) -> np.ndarray:
        """Each team's report quality rho: the share of the public estimate's gap it resolves.

        ``x / (1 + x)`` with ``x`` the team's research precision on tomorrow's shock (the sum of
        its research precision per cell over the last ``lookahead`` days; the prior precision
        of a shock is 1): the share the heuristic policy expects research to resolve.
        """
        x = self.research.sum(axis=0)
        return x / (1.0 + x)

    @property
    def report_gain(self) -> np.ndarray:
        """What a report earns its buyer a day in the index market, smoothed, shape (K,)."""
        return self.market.report_gain

    def observe_reports(self, good: int, buyers: np.ndarray, sellers=None) -> None:
        """The clients who bought a report on ``good`` today trade on it as informed traders.

        A report's quality is its seller's (:attr:`report_quality`; 1 when ``sellers`` is None
        or no team is known), and the buyers of one seller's report share its error draw.
        """
        if sellers is None or self.research.shape[1] == 0:
            self.market.inform(good, buyers)
            return
        sellers = np.asarray(sellers, dtype=np.int64)
        # One error draw per seller of the day (drawn for every team: the stream's use does
        # not depend on who sold).
        z = self.rng.standard_normal(self.research.shape[1])
        self.market.inform(good, buyers, self.report_quality[sellers], z[sellers])

    def observe_research(self, team: np.ndarray, precision: np.ndarray) -> None:
        """Book the research precision per cell each team bought today."""
        if self.research.shape[1] == 0:
            return
        self.research = np.roll(self.research, 1, axis=0)
        self.research[0] = 0.0
        self.research[0, np.asarray(team, dtype=np.int64)] = precision

    def observe_news(self, log: dict[str, np.ndarray]) -> None:
        """Public news on an index publishes its fundamental (as an earnings release does)."""
        public = np.asarray(log["kind"]) == PUBLIC
        if public.any():
            self.market.publish(np.asarray(log["index"])[public])

    def advance(self) -> np.ndarray:
        """Move the fundamental one day, trade the day, and return the price's log returns."""
        self.fundamental.advance()
        close = self.market.trade_day(
            np.log(self.fundamental.level), self.fundamental.unconditional_sd
        )
        r = np.log(close / self.level)
        self.level = close
        self.day += 1
        self.last_log_return = r
        return r


INDEX_PROCESSES: dict[str, Any] = {
    "gbm": IndexProcess,
    "garch": GarchIndexProcess,
    "market": MarketIndexProcess,
}
"""``index_process`` name -> its class (each has ``from_params(params, streams, lookahead)``)."""


def make_index_process(p: Params, streams: Streams, lookahead: int):
    """Build the index process ``p.index_process`` names.

    Args:
        p: The run's parameters.
        streams: The run's random streams.
        lookahead: Days of future shocks to hold (the longest question horizon).
    """
    return INDEX_PROCESSES[p.index_process].from_params(p, streams, lookahead)
