"""The day's order flow for one good: the teams' unit asks and the clients' unit bids.

Teams post one ask per unit they offer (``units_per_team`` a good), each with the marginal cost of
that unit; clients' bids are drawn from the demand curve. In the classroom (``zi_traders``), both
sides quote as Gode and Sunder's zero-intelligence traders on the same induced values and costs.
"""

from __future__ import annotations

import numpy as np

from .demand import Bids
from .mechanisms import OrderFlow
from .zero_intelligence import ZIQuotes


def order_flow(
    ask_team: np.ndarray,
    ask_price: np.ndarray,
    ask_cost: np.ndarray,
    bids: Bids,
    ask_quality: np.ndarray | None = None,
) -> OrderFlow:
    """The order flow of teams' asks (a NaN price: the unit is not offered) and clients' bids.

    Asks are rounded to the cent so that equal prices meet at one price level of the book. For
    homogeneous reports (``ask_quality`` None) bids are floored to the cent so that rounding
    never lifts a bid above the client's value; for reports differentiated by their seller, a
    bid is the client's price for a report of quality 1 and the mechanism scales it by the
    quality of the seller it bids at.
    """
    offered = np.isfinite(ask_price)
    if ask_quality is not None:
        return OrderFlow(
            ask_team=ask_team[offered],
            ask_price=np.round(ask_price, 2)[offered],
            ask_cost=ask_cost[offered],
            bid_client=bids.client,
            bid_price=bids.price,
            bid_value=bids.value,
            bid_market=bids.market,
            ask_quality=ask_quality[offered],
        )
    return OrderFlow(
        ask_team=ask_team[offered],
        ask_price=np.round(ask_price, 2)[offered],
        ask_cost=ask_cost[offered],
        bid_client=bids.client,
        bid_price=np.maximum(np.floor(bids.price * 100) / 100, 0.01),
        bid_value=bids.value,
        bid_market=bids.market,
    )


def zero_intelligence_flow(
    ask_team: np.ndarray,
    ask_cost: np.ndarray,
    bids: Bids,
    rng: np.random.Generator,
    constrained: bool,
    price_max: float,
) -> OrderFlow:
    """The classroom's order flow: zero-intelligence quotes on induced values and costs.

    Args:
        ask_team: Seller of each unit offered.
        ask_cost: Each unit's marginal cost.
        bids: The clients drawn to bid, with their induced values.
        rng: The zero-intelligence stream.
        constrained: ZI-C (no quote at a loss) rather than ZI-U.
        price_max: Top of the quote range.
    """
    quotes = ZIQuotes(bids.value, ask_cost, ask_team, constrained, price_max)
    ask_price, bid_price = quotes(rng, np.arange(ask_cost.size), np.arange(bids.value.size))
    return OrderFlow(
        ask_team=ask_team,
        ask_price=ask_price,
        ask_cost=ask_cost,
        bid_client=bids.client,
        bid_price=bid_price,
        bid_value=bids.value,
        bid_market=np.zeros(bids.value.size, bool),
        requote=quotes,
    )
