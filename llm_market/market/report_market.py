"""The market for forecast reports: one good per index, its institution, its clients.

Each day the teams' asks on every good meet the clients' bids in the configured mechanism
(:mod:`~.clearing`), good by good. The market keeps what the goods' day left behind (the daily
price, volume, spread, efficiency and competitive price of each good, and the day's surplus).

What clients will pay (``client_valuation=``):

* ``"decision"`` (the default, MODEL.md's "value of a forecast"): a client acts on a probability
  for every open question on the index, with a Brier-score loss. A report from team ``j`` is
  worth ``stake * regime level * open questions * max(0, B_noinfo - B_j)``: the expected loss it
  saves against the free no-information forecast, judged from the seller's published record.
  Reports are therefore differentiated by their producer, and clients choose whom to buy from.
* ``"induced"``: the classroom's induced values, the same for every seller: higher when the
  demand regime is high, when the index is volatile (``value_volatility_elasticity``) and when
  teams forecast well (``value_quality_weight``).

* ``"trading"`` (the traded index, ``index_process="market"``): a report on index ``k`` is
  worth what it earns its buyer in the index market, as the market has booked it: the smoothed
  daily gain of informed over uninformed fundamentalists on ``k``
  (:attr:`~llm_market.market.index_market.IndexMarket.report_gain`), times the seller's
  relative quality (its gap ``B_noinfo - B_j`` over the mean gap of the teams, from the
  published records), times the days a report informs, times the client's stake. When public
  news narrows the informed traders' edge, the booked gain, and with it the price clients pay,
  falls (Grossman & Stiglitz 1980).

In all, a report can also be worth more when the index is high (``value_level_elasticity``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..params import Params
from .clearing import GoodDay, clear_good
from .demand import ClientPopulation, DemandRegime
from .efficiency import allocative_efficiency
from .goods import marginal_costs
from .mechanisms import Allowed, mechanism_for_run
from .orders import order_flow, zero_intelligence_flow

# Smoothing of the realised volatility that drives the value of information (about a month).
VOL_SMOOTHING = 1.0 / 21
# The value of information stays within these multiples of its calm-market level.
INFO_VALUE_BOUNDS = (0.25, 4.0)


class ReportMarket:
    """The goods, their mechanism, the clients and the demand regime.

    Args:
        params: The run's parameters.
        streams: The run's random streams (``demand``, ``clients``, ``zi`` are used here).
        unconditional_sd: The indices' unconditional daily volatility (the calm level).
        allowed: Who may trade with whom (the social graph's rule), or None.

    Attributes:
        mechanism: The market institution.
        demand: The Markov demand regime.
        clients: The client population.
        marginal_cost: Marginal cost of a team's 1st, 2nd, ... report of a good in a day.
        ref_price: The price sellers price their reports from: the last daily price, per unit
            of quality when reports are valued by their decision value.
        close: Each good's last daily price (NaN before any trade).
        volume, spread, efficiency, ce_price: Each good's figures of the last day.
        day_surplus: The last day's buyer, seller, realised and maximum surplus over all goods.
    """

    def __init__(self, params: Params, streams, unconditional_sd: float, allowed: Allowed | None):
        p = self.params = params
        k = p.n_indices
        self.mechanism = mechanism_for_run(p, allowed)
        self.demand = DemandRegime(
            streams["demand"], p.demand_states, p.demand_levels, p.transition_matrix()
        )
        self.clients = ClientPopulation(
            streams["clients"],
            p.n_clients,
            p.client_base_value,
            p.client_value_sd,
            p.client_participation,
            p.bid_shading,
            p.market_order_share,
        )
        self._zi_rng = streams["zi"] if p.zi_traders != "off" else None
        self.marginal_cost = marginal_costs(p.units_per_team, p.cost_linear, p.cost_quadratic)
        self.unconditional_sd = unconditional_sd
        self.realised_vol = np.full(k, unconditional_sd)
        self.ref_price = np.full(k, p.client_base_value)
        self.close = np.full(k, np.nan)
        self.volume = np.zeros(k, dtype=np.int64)
        self.spread = np.full(k, np.nan)
        self.efficiency = np.full(k, np.nan)
        self.ce_price = np.full(k, np.nan)
        self.info_value = np.ones(k)
        self.level_value = np.ones(k)
        # What a report earns in the index market a day (trading valuation), per good.
        self.report_gain = np.full(k, np.nan)
        self.day_surplus = {"buyer": 0.0, "seller": 0.0, "realised": 0.0, "maximum": 0.0}

    @property
    def n_goods(self) -> int:
        """Number of goods (one per index)."""
        return self.close.size

    @property
    def decision_valued(self) -> bool:
        """Whether clients value reports by their seller (decision or trading value)."""
        return self.params.client_valuation in ("decision", "trading")

    @property
    def trading_valued(self) -> bool:
        """Whether clients value reports by their booked gain in the index market."""
        return self.params.client_valuation == "trading"

    def report_quality(
        self, reputation: np.ndarray, noinfo_brier: float, open_questions: np.ndarray
    ) -> np.ndarray:
        """What a report from each team saves a client per unit of stake on each good.

        ``open questions * max(0, B_noinfo - B_j)`` from each team's published record; before
        any question has resolved there is no record and clients go by their prior
        (``reputation_prior_gap``). With induced values every seller's report is worth the same
        (quality 1).

        Args:
            reputation: Each team's published record (NaN before any resolution).
            noinfo_brier: The no-information forecaster's published record.
            open_questions: Open questions on each good's index.

        Returns:
            Shape (teams, goods).
        """
        if not self.decision_valued:
            return np.ones((reputation.size, self.n_goods))
        gap = np.maximum(noinfo_brier - reputation, 0.0)
        gap = np.where(np.isfinite(gap), gap, self.params.reputation_prior_gap)
        if self.trading_valued:
            return self.trading_quality(gap)
        return gap[:, None] * open_questions[None, :]

    def trading_quality(self, gap: np.ndarray) -> np.ndarray:
        """What a report from each team earns its buyer in the index market, shape (teams, goods).

        ``max(0, booked gain) * gap_j / mean(gap) * informed_days``: the index market's smoothed
        gain gap of informed over uninformed traders (``market_gain_prior`` before any is
        booked), scaled by the seller's record relative to the teams' mean (what a client can
        see of a report's quality).

        Args:
            gap: Each team's published Brier gap to the no-information forecast.
        """
        p = self.params
        booked = np.where(np.isfinite(self.report_gain), self.report_gain, p.market_gain_prior)
        mean_gap = float(gap.mean()) if gap.size else 0.0
        relative = gap / mean_gap if mean_gap > 0 else np.ones_like(gap)
        return relative[:, None] * np.maximum(booked, 0.0)[None, :] * p.market_informed_days

    @property
    def efficiency_of_day(self) -> float:
        """Allocative efficiency of the last day over all goods (NaN when nothing could trade)."""
        return allocative_efficiency(self.day_surplus["realised"], self.day_surplus["maximum"])

    def trade(
        self,
        sellers: np.ndarray,
        asks: Sequence[np.ndarray],
        rng: np.random.Generator,
        quality: np.ndarray,
    ) -> list[GoodDay]:
        """Trade every good for one day, in good order.

        Args:
            sellers: The teams that offer reports today.
            asks: Each seller's ask prices, shape (goods, units) (NaN: a unit not offered), as
                a sequence or one array of shape (sellers, goods, units).
            rng: The market stream.
            quality: What a report from each team saves a client per unit of stake, shape
                (teams, goods) (the decision value of its published record; see MODEL.md).

        Returns:
            Each good's trading day.
        """
        units = self.marginal_cost.size
        ask_team = np.repeat(sellers, units)
        ask_cost = np.tile(self.marginal_cost, len(asks))
        days = []
        # One (sellers, goods, units) array, so that a good's asks are one slice of it.
        asks = np.asarray(asks, dtype=float).reshape(len(asks), self.n_goods, units)
        for k in range(self.n_goods):
            prices = asks[:, k, :].ravel()
            flow = self._flow(k, ask_team, prices, ask_cost, quality[:, k])
            days.append(clear_good(self.mechanism, k, flow, rng, self.marginal_cost))
        self._record(days)
        self.demand.step()
        return days

    def _flow(self, k: int, ask_team, ask_price, ask_cost, quality):
        level = self.demand.level * self.level_value[k]
        if self.decision_valued:
            # A client's value of a report is its stake times what that seller's report saves.
            bids = self.clients.bids(level)
            return order_flow(ask_team, ask_price, ask_cost, bids, quality[ask_team])
        bids = self.clients.bids(level * self.info_value[k])
        if self._zi_rng is None:
            return order_flow(ask_team, ask_price, ask_cost, bids)
        offered = np.isfinite(ask_price)
        return zero_intelligence_flow(
            ask_team[offered],
            ask_cost[offered],
            bids,
            self._zi_rng,
            self.params.zi_traders == "zi_c",
            self.params.zi_price_max,
        )

    def _record(self, days: list[GoodDay]) -> None:
        totals = dict.fromkeys(self.day_surplus, 0.0)
        for d in days:
            k = d.good
            totals["buyer"] += d.buyer_surplus
            totals["seller"] += d.seller_surplus
            totals["realised"] += d.realised_surplus
            totals["maximum"] += d.equilibrium.max_surplus
            self.volume[k] = d.volume
            self.efficiency[k] = d.efficiency
            self.ce_price[k] = d.equilibrium.price
            self.spread[k] = d.spread
            if d.volume:
                # Teams price tomorrow's reports from the day's price; reports differentiated by
                # their seller's record are priced per unit of quality.
                rule = self.params.daily_price
                self.close[k] = d.day_price(rule)
                self.ref_price[k] = d.day_price(rule, per_quality=self.decision_valued)
        self.day_surplus = totals

    def observe_index(
        self, log_return: np.ndarray, level: np.ndarray, report_gain: np.ndarray | None = None
    ) -> None:
        """Update the realised volatility (and level values) from the indices' move today.

        Args:
            log_return: The indices' log returns today.
            level: The indices' levels.
            report_gain: What a report earned in the index market (a traded index), or None.
        """
        if report_gain is not None:
            self.report_gain = np.asarray(report_gain, dtype=float).copy()
        gamma = self.params.value_level_elasticity
        if gamma:
            # A report on an index is worth more when the index is high (more is at stake), and
            # sellers reprice their reference with the index's move.
            self.level_value = (level / self.params.index_initial) ** gamma
            self.ref_price = self.ref_price * np.exp(gamma * log_return)
        self.realised_vol = np.sqrt(
            (1 - VOL_SMOOTHING) * self.realised_vol**2 + VOL_SMOOTHING * log_return**2
        )

    def update_values(self, mean_team_skill: float) -> None:
        """Set tomorrow's value of information of each good from volatility and forecast skill."""
        p = self.params
        quality = max(mean_team_skill, 0.0) if np.isfinite(mean_team_skill) else 0.0
        vol_ratio = (self.realised_vol / self.unconditional_sd) ** p.value_volatility_elasticity
        self.info_value = np.clip(
            vol_ratio * (1.0 + p.value_quality_weight * quality), *INFO_VALUE_BOUNDS
        )
