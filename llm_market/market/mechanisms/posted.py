"""Posted prices: sellers post offers, clients arrive in random order and buy or leave."""

from __future__ import annotations

import numpy as np

from .base import DEPTH_LEVELS, Mechanism, OrderFlow, Trades, resting_quote


class PostedPrices(Mechanism):
    """Posted prices: sellers post offers, buyers arrive and take the cheapest one or leave.

    Rule. Each ask is a unit offered at its posted price (the ask price). Clients arrive one at a
    time in a uniformly random order (``rng``). An arriving client buys the cheapest offer still
    available if its price is at most the client's reservation value, and otherwise leaves
    without buying; it does not come back. The reservation value of every bid, limit or market,
    is ``bid_value``: a client facing a take-it-or-leave-it price buys whenever that price is
    worth it, and never pays more than its value. Each trade executes at the posted price, and
    trades are listed in the buyers' order of arrival.

    Tie rule. Among offers at the same cheapest price, the one sold is drawn uniformly at random
    (``rng``); the offers are put in one random order within each price at the start of the day,
    which is the same as a fresh uniform draw among the tied offers at each sale.

    After clearing, :attr:`quotes` holds the unsold offers as asks and, as bids, the reservation
    values of the clients who left empty-handed. Each of those found the cheapest offer above its
    value, and the cheapest remaining offer only rises, so ``best_bid < best_ask`` whenever both
    exist.

    Args:
        n_goods: Number of goods.
        depth_levels: Price levels per side kept in each good's closing quote.
    """

    name = "posted"

    def __init__(self, n_goods: int, depth_levels: int = DEPTH_LEVELS):
        super().__init__(n_goods)
        self.depth_levels = depth_levels

    def clear(self, good: int, flow: OrderFlow, rng: np.random.Generator) -> Trades:
        """Let the clients shop the posted offers in random order (see the class docstring)."""
        ask = np.asarray(flow.ask_price, dtype=float)
        value = np.asarray(flow.bid_value, dtype=float)
        offers = np.lexsort((rng.permutation(ask.size), ask))
        arrival = rng.permutation(value.size)
        offer_price = ask[offers].tolist()
        n_offers = len(offer_price)
        buyers: list[int] = []
        sold = 0
        # Offers are cheapest first, so the cheapest one left is always offer ``sold``.
        for client, v in zip(arrival.tolist(), value[arrival].tolist(), strict=True):
            if sold == n_offers:
                break
            if offer_price[sold] <= v:
                buyers.append(client)
                sold += 1
        bought = np.zeros(value.size, dtype=bool)
        bought[buyers] = True
        self.quotes[good] = resting_quote(value[~bought], ask[offers[sold:]], self.depth_levels)
        b_idx = np.asarray(buyers, dtype=np.int64)
        a_idx = offers[:sold].astype(np.int64)
        return Trades(bid=b_idx, ask=a_idx, price=ask[a_idx])
