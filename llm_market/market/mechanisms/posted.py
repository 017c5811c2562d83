"""Posted prices: sellers post offers, clients arrive in random order and buy or leave."""

from __future__ import annotations

import numpy as np

from .base import (
    DEPTH_LEVELS,
    Mechanism,
    OrderFlow,
    Trades,
    differentiated_quality,
    differentiated_quote,
    resting_quote,
)


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

    Differentiated goods (``flow.ask_quality``): discrete choice among the posted offers. An
    arriving client values offer ``a`` at ``bid_value * quality_a`` and buys the offer with the
    largest surplus ``bid_value * quality_a - price_a`` among those left, if that surplus is at
    least 0; otherwise it leaves. Offers are grouped by quality (offers of equal quality differ
    only in price, so the cheapest of each group is the only candidate); ties in surplus are
    broken uniformly at random over the tied offers (``rng``: one random order within each price
    of each group at the start of the day, and a draw among the tied groups weighted by their
    number of tied offers). The quote is per unit of quality (see
    :class:`~.base.Quote`): unsold offers at ``price / quality`` and, as bids, the values of the
    clients who left; each of those found every offer's surplus negative, so again
    ``best_bid < best_ask``. With all qualities 1 this is the homogeneous rule above (and the same
    code).

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
        quality = differentiated_quality(flow)
        if quality is not None:
            return self._clear_differentiated(good, flow, quality, rng)
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

    def _clear_differentiated(
        self, good: int, flow: OrderFlow, quality: np.ndarray, rng: np.random.Generator
    ) -> Trades:
        """Discrete choice among the posted offers (see the class docstring)."""
        ask = np.asarray(flow.ask_price, dtype=float)
        value = np.asarray(flow.bid_value, dtype=float)
        levels, group = np.unique(quality, return_inverse=True)
        # Group first, then price, then a random order within a price.
        offers = np.lexsort((rng.permutation(ask.size), ask, group))
        arrival = rng.permutation(value.size)
        price = ask[offers]
        start = np.searchsorted(group[offers], np.arange(levels.size))
        end = np.append(start[1:], ask.size)
        # tied_left[i]: offers from position i to the end of its price run in its group.
        tied_left = np.ones(ask.size, dtype=np.int64)
        for i in range(ask.size - 2, -1, -1):
            if group[offers[i]] == group[offers[i + 1]] and price[i] == price[i + 1]:
                tied_left[i] = tied_left[i + 1] + 1
        head = start.copy()
        head_price = np.full(levels.size, np.inf)
        head_price[head < end] = price[head[head < end]]
        buyers: list[int] = []
        sold: list[int] = []
        remaining = ask.size
        for client in arrival.tolist():
            if not remaining:
                break
            surplus = value[client] * levels - head_price
            best = surplus.max()
            if not best >= 0:
                continue
            tied = np.flatnonzero(surplus == best)
            if tied.size == 1:
                g = int(tied[0])
            else:
                # Uniform over the tied offers: a group is as likely as its number of them.
                weight = np.cumsum(tied_left[head[tied]])
                g = int(tied[np.searchsorted(weight, rng.integers(weight[-1]), side="right")])
            buyers.append(client)
            sold.append(int(offers[head[g]]))
            head[g] += 1
            head_price[g] = price[head[g]] if head[g] < end[g] else np.inf
            remaining -= 1
        b_idx = np.asarray(buyers, dtype=np.int64)
        a_idx = np.asarray(sold, dtype=np.int64)
        bought = np.zeros(value.size, dtype=bool)
        bought[b_idx] = True
        unsold = np.ones(ask.size, dtype=bool)
        unsold[a_idx] = False
        self.quotes[good] = differentiated_quote(
            value[~bought], ask[unsold], quality[unsold], self.depth_levels
        )
        return Trades(bid=b_idx, ask=a_idx, price=ask[a_idx])
