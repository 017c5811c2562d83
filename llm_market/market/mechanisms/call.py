"""The uniform-price call auction (a k-double auction with k = 1/2)."""

from __future__ import annotations

import numpy as np

from .base import (
    DEPTH_LEVELS,
    Mechanism,
    OrderFlow,
    Trades,
    effective_bids,
    no_trades,
    resting_quote,
)


class CallAuction(Mechanism):
    """A uniform-price call auction that clears once per day.

    All of the day's unit orders are collected and cleared at one price. Market-order bids enter
    as limit bids at the client's value, so no client pays more than its value.

    Rule. Sort bids from high to low (``b_1 >= b_2 >= ...``) and asks from low to high
    (``a_1 <= a_2 <= ...``). The traded volume ``q`` is the largest ``k`` with ``b_k >= a_k``; it
    is the most that any single price can trade, since at price ``p`` the volume is
    ``min(#{b >= p}, #{a <= p})``. Every price in the market-clearing interval
    ``[max(a_q, b_{q+1}), min(b_q, a_{q+1})]`` (a missing ``b_{q+1}`` or ``a_{q+1}`` drops out)
    trades ``q`` units and, inside the interval, demand equals supply.

    Tie rule. Among the volume-maximising prices the auction takes the midpoint of that
    market-clearing interval, the k-double auction with ``k = 1/2`` (Rustichini, Satterthwaite and
    Williams 1994). Every trade executes at that one price.

    Which orders trade: bids priced above the price and asks priced below it all trade; the
    orders priced exactly at it are rationed in a uniformly random order drawn from ``rng``
    (price priority, random priority within a price). The ``j``-th highest filled bid is paired
    with the ``j``-th lowest filled ask, which only labels who traded with whom: the price is
    uniform. With no crossing orders nothing trades.

    After clearing, :attr:`quotes` holds the orders left unmatched (market-order bids at the
    value they entered with), so ``best_bid < best_ask`` whenever both exist.

    Args:
        n_goods: Number of goods.
        depth_levels: Price levels per side kept in each good's closing quote.

    Attributes:
        prices: Each good's last clearing price (NaN if its last auction traded nothing).
    """

    name = "call"

    def __init__(self, n_goods: int, depth_levels: int = DEPTH_LEVELS):
        super().__init__(n_goods)
        self.depth_levels = depth_levels
        self.prices = np.full(n_goods, np.nan)

    def clear(self, good: int, flow: OrderFlow, rng: np.random.Generator) -> Trades:
        """Clear the good's orders at one price (see the class docstring)."""
        bid = effective_bids(flow)
        ask = np.asarray(flow.ask_price, dtype=float)
        # lexsort's last key is primary: price, then a random rank that rations ties at the margin.
        b_order = np.lexsort((rng.permutation(bid.size), -bid))
        a_order = np.lexsort((rng.permutation(ask.size), ask))
        b_sorted, a_sorted = bid[b_order], ask[a_order]
        n = min(bid.size, ask.size)
        # b_sorted - a_sorted is non-increasing, so the crossing pairs form a prefix.
        q = int(np.count_nonzero(b_sorted[:n] >= a_sorted[:n]))
        self.quotes[good] = resting_quote(b_sorted[q:], a_sorted[q:], self.depth_levels)
        if q == 0:
            self.prices[good] = np.nan
            return no_trades()
        low = max(a_sorted[q - 1], b_sorted[q] if q < bid.size else -np.inf)
        high = min(b_sorted[q - 1], a_sorted[q] if q < ask.size else np.inf)
        price = 0.5 * (low + high)
        self.prices[good] = price
        return Trades(
            bid=b_order[:q].astype(np.int64),
            ask=a_order[:q].astype(np.int64),
            price=np.full(q, price),
        )
