"""One trading day of one good: match the order flow, price the sales, measure the surplus.

Whatever the mechanism, the day's outcome is computed the same way: each sale's production cost
follows the seller's order of sales (:func:`~.goods.sale_costs`), buyer surplus is value minus
price, seller surplus is price minus cost, and allocative efficiency is the realised surplus over
the maximum surplus of the day's submitted values and costs.

Reports differentiated by their seller (``flow.ask_quality``) are valued at ``bid_value *
quality``, and the maximum surplus is that of the differentiated market
(:func:`~.efficiency.market_equilibrium`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .efficiency import Equilibrium, allocative_efficiency, market_equilibrium
from .goods import sale_costs
from .mechanisms import Mechanism, OrderFlow


@dataclass
class GoodDay:
    """The outcome of one good's trading day.

    Attributes:
        good: Which good.
        buyer: Client of each trade.
        seller: Team of each trade.
        price: Price of each trade, in execution order.
        value: The buyer's value of each unit bought (its stake times the seller's quality).
        cost: The seller's production cost of each unit sold.
        equilibrium: The benchmark of the day's submitted values, qualities and costs: its
            ``max_surplus`` is the maximum surplus; its ``price`` the competitive price when one
            price clears the market (homogeneous goods, or a single positive quality), else NaN.
        spread: The mechanism's closing spread (per unit of quality for differentiated goods).
        quality: The seller's quality of each trade (None: 1 everywhere).
    """

    good: int
    buyer: np.ndarray
    seller: np.ndarray
    price: np.ndarray
    value: np.ndarray
    cost: np.ndarray
    equilibrium: Equilibrium
    spread: float
    quality: np.ndarray | None = None

    @property
    def volume(self) -> int:
        """Units traded."""
        return len(self.price)

    @property
    def realised_surplus(self) -> float:
        """Value minus cost over the trades, whatever the prices."""
        return float((self.value - self.cost).sum())

    @property
    def buyer_surplus(self) -> float:
        """Value minus price over the trades."""
        return float((self.value - self.price).sum())

    @property
    def seller_surplus(self) -> float:
        """Price minus cost over the trades."""
        return float((self.price - self.cost).sum())

    @property
    def efficiency(self) -> float:
        """Realised over maximum surplus (NaN when nothing could trade)."""
        return allocative_efficiency(self.realised_surplus, self.equilibrium.max_surplus)

    def day_price(self, rule: str, per_quality: bool = False) -> float:
        """The good's daily price: the last trade, or (``"vwap"``) the geometric mean of trades.

        With ``per_quality`` each trade's price is divided by its seller's quality first: the
        price of a report that saves a unit of loss, which sellers of any record can price from.
        NaN when nothing traded.
        """
        if not self.volume:
            return float("nan")
        price = self.price
        if per_quality and self.quality is not None:
            price = price / self.quality
        if rule == "vwap":
            return float(np.exp(np.log(price).mean()))
        return float(price[-1])


def clear_good(
    mechanism: Mechanism,
    good: int,
    flow: OrderFlow,
    rng: np.random.Generator,
    marginal_cost: np.ndarray,
) -> GoodDay:
    """Run one good's order flow through the mechanism and price what was sold.

    Args:
        mechanism: The market institution.
        good: Which good.
        flow: The day's asks and bids.
        rng: The market stream.
        marginal_cost: Marginal cost of a team's 1st, 2nd, ... sale of the day.
    """
    trades = mechanism.clear(good, flow, rng)
    seller = flow.ask_team[trades.ask]
    value = flow.bid_value[trades.bid]
    if flow.ask_quality is None:
        quality = np.ones(len(trades))
    else:
        quality = np.asarray(flow.ask_quality, dtype=float)[trades.ask]
        value = value * quality
    return GoodDay(
        good=good,
        buyer=flow.bid_client[trades.bid],
        seller=seller,
        price=trades.price,
        value=value,
        cost=sale_costs(seller, marginal_cost),
        equilibrium=market_equilibrium(flow.bid_value, flow.ask_cost, flow.ask_quality),
        spread=mechanism.quotes[good].spread,
        quality=quality,
    )
