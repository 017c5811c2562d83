"""The uniform-price call auction (a k-double auction with k = 1/2)."""

from __future__ import annotations

import numpy as np

from .base import (
    DEPTH_LEVELS,
    Mechanism,
    OrderFlow,
    Trades,
    differentiated_quality,
    differentiated_quote,
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

    Differentiated goods (``flow.ask_quality``): one call auction in units of quality, a hedonic
    market cleared once a day. A client's value of a unit of quality ``x`` is ``stake * x``, so its
    willingness to pay per unit of quality is its stake (its limit per unit of quality
    ``bid_price``), whichever seller. Every bid enters at that per-quality limit (market-order
    clients at ``bid_value``), every ask at its price per unit of quality ``ask_price / quality``
    (asks of quality 0 never trade: their report is worth nothing), and the homogeneous rule above
    clears them: the largest crossing volume ``q``, the midpoint of the clearing interval as the
    price per unit of quality ``p*``, random rationing at the margin. Every trade executes at
    ``p* * quality`` of its seller, so no client pays above its limit (``p* <= bid_price``) and no
    seller sells below its ask (``p* >= ask_price / quality``).

    Who gets which traded unit: at one price per unit of quality a client's surplus
    ``(stake - p*) * quality`` from a unit grows with its quality, so each traded client prefers
    the best traded unit left. The traded clients in order of stake (highest first, ties at random)
    each take their surplus-maximising unit, i.e. the traded units in order of quality (highest
    first, ties at random): the matching is assortative, the surplus-maximising assignment of the
    traded units to the traded clients (rearrangement inequality). Trades are listed in that order,
    so the last is the lowest-quality unit sold. :attr:`quotes` holds the unmatched orders per unit
    of quality (see :class:`~.base.Quote`); one auction cleared them, so it is never crossed
    (``best_bid <= p* <= best_ask``).

    Args:
        n_goods: Number of goods.
        depth_levels: Price levels per side kept in each good's closing quote.

    Attributes:
        prices: Each good's last clearing price (NaN if its last auction traded nothing); for a
            differentiated good, the price per unit of quality ``p*`` (a unit of quality ``x``
            sold at ``p* * x``).
    """

    name = "call"

    def __init__(self, n_goods: int, depth_levels: int = DEPTH_LEVELS):
        super().__init__(n_goods)
        self.depth_levels = depth_levels
        self.prices = np.full(n_goods, np.nan)

    def clear(self, good: int, flow: OrderFlow, rng: np.random.Generator) -> Trades:
        """Clear the good's orders at one price (see the class docstring)."""
        quality = differentiated_quality(flow)
        if quality is not None:
            return self._clear_differentiated(good, flow, quality, rng)
        bid = effective_bids(flow)
        ask = np.asarray(flow.ask_price, dtype=float)
        b_order, a_order, q, price = uniform_price(bid, ask, rng)
        self.quotes[good] = resting_quote(bid[b_order[q:]], ask[a_order[q:]], self.depth_levels)
        self.prices[good] = price
        if q == 0:
            return no_trades()
        return Trades(
            bid=b_order[:q].astype(np.int64),
            ask=a_order[:q].astype(np.int64),
            price=np.full(q, price),
        )

    def _clear_differentiated(
        self, good: int, flow: OrderFlow, quality: np.ndarray, rng: np.random.Generator
    ) -> Trades:
        """One call auction in units of quality, then assortative matching (class docstring)."""
        bid = effective_bids(flow)
        ask = np.asarray(flow.ask_price, dtype=float)
        value = np.asarray(flow.bid_value, dtype=float)
        sellable = np.flatnonzero(quality > 0)
        b_order, a_order, q, price = uniform_price(bid, ask[sellable] / quality[sellable], rng)
        self.prices[good] = price
        unmatched_a = sellable[a_order[q:]]
        self.quotes[good] = differentiated_quote(
            bid[b_order[q:]], ask[unmatched_a], quality[unmatched_a], self.depth_levels
        )
        if q == 0:
            return no_trades()
        traded_b, traded_a = b_order[:q], sellable[a_order[:q]]
        # Highest stake first and highest quality first, each with ties in random order.
        by_stake = traded_b[np.lexsort((rng.permutation(q), -value[traded_b]))]
        by_quality = traded_a[np.lexsort((rng.permutation(q), -quality[traded_a]))]
        return Trades(
            bid=by_stake.astype(np.int64),
            ask=by_quality.astype(np.int64),
            price=price * quality[by_quality],
        )


def uniform_price(
    bid: np.ndarray, ask: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Clear unit bids and asks at one price (the rule of :class:`CallAuction`).

    Returns:
        The bids from high to low and the asks from low to high (ties in random order), the
        volume ``q`` (the first ``q`` of each trade) and the price (NaN when ``q`` is 0).
    """
    # lexsort's last key is primary: price, then a random rank that rations ties at the margin.
    b_order = np.lexsort((rng.permutation(bid.size), -bid))
    a_order = np.lexsort((rng.permutation(ask.size), ask))
    b_sorted, a_sorted = bid[b_order], ask[a_order]
    n = min(bid.size, ask.size)
    # b_sorted - a_sorted is non-increasing, so the crossing pairs form a prefix.
    q = int(np.count_nonzero(b_sorted[:n] >= a_sorted[:n]))
    if q == 0:
        return b_order, a_order, 0, float("nan")
    low = max(a_sorted[q - 1], b_sorted[q] if q < bid.size else -np.inf)
    high = min(b_sorted[q - 1], a_sorted[q] if q < ask.size else np.inf)
    return b_order, a_order, q, float(0.5 * (low + high))
