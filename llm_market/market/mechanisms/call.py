"""The uniform-price call auction (a k-double auction with k = 1/2)."""

from __future__ import annotations

import numpy as np

from .base import (
    DEPTH_LEVELS,
    Mechanism,
    OrderFlow,
    SellerBooks,
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

    Differentiated goods (``flow.ask_quality``): one call auction per seller. Each seller's book
    clears once at its own uniform price by the rule above. Each client first chooses one seller
    and sends its bid there, ``bid_price * quality`` (market-order clients ``bid_value *
    quality``): the seller with the largest surplus ``bid_value * quality - reference``, where the
    reference is that seller's clearing price of its last auction (yesterday's, for a run) and,
    when that auction traded nothing or the seller is new, its lowest ask today. Sellers of
    quality 0 are never chosen (their report is worth nothing); ties in surplus are broken
    uniformly at random (``rng``). A client's choice is made before the auctions and it does not
    bid elsewhere. The books clear in increasing seller order and the trades are listed in that
    order. :attr:`quotes` holds every book's unmatched orders per unit of quality (see
    :class:`~.base.Quote`); the books clear separately, so that union can be crossed.

    Args:
        n_goods: Number of goods.
        depth_levels: Price levels per side kept in each good's closing quote.

    Attributes:
        prices: Each good's last clearing price (NaN if its last auction traded nothing, and for
            differentiated goods, whose prices are per seller).
        seller_prices: For each good, each seller's last clearing price (NaN when it traded
            nothing), for differentiated goods.
    """

    name = "call"

    def __init__(self, n_goods: int, depth_levels: int = DEPTH_LEVELS):
        super().__init__(n_goods)
        self.depth_levels = depth_levels
        self.prices = np.full(n_goods, np.nan)
        self.seller_prices: list[dict[int, float]] = [{} for _ in range(n_goods)]

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
        """One auction per seller after each client has chosen its seller."""
        books = SellerBooks.of(flow, quality)
        ask = np.asarray(flow.ask_price, dtype=float)
        bid = effective_bids(flow)
        value = np.asarray(flow.bid_value, dtype=float)
        last = self.seller_prices[good]
        lowest_ask = np.full(len(books), np.inf)
        np.minimum.at(lowest_ask, books.of_ask, ask)
        reference = np.array([last.get(int(t), np.nan) for t in books.team.tolist()])
        reference = np.where(np.isnan(reference), lowest_ask, reference)
        surplus = value[:, None] * books.quality[None, :] - reference[None, :]
        surplus[:, books.quality <= 0] = -np.inf
        tied = surplus == surplus.max(axis=1, keepdims=True)
        tied &= books.quality[None, :] > 0
        # A uniformly random tied seller: the largest of independent uniform keys among the tied.
        choice = np.where(tied, rng.random(surplus.shape), -1.0).argmax(axis=1)
        has_choice = tied.any(axis=1)
        bids_b, bids_a, prices, left_b, left_a = [], [], [], [], []
        for k in range(len(books)):
            b_k = np.flatnonzero(has_choice & (choice == k))
            a_k = np.flatnonzero(books.of_ask == k)
            b_order, a_order, q, price = uniform_price(bid[b_k] * books.quality[k], ask[a_k], rng)
            self.seller_prices[good][int(books.team[k])] = price
            bids_b.append(b_k[b_order[:q]])
            bids_a.append(a_k[a_order[:q]])
            prices.append(np.full(q, price))
            left_b.append(b_k[b_order[q:]])
            left_a.append(a_k[a_order[q:]])
        self.prices[good] = np.nan
        # Clients that chose no seller (none of positive quality) stay in the quote as bids.
        left_b.append(np.flatnonzero(~has_choice))
        # A differentiated flow has at least one ask (an empty one is homogeneous), so a book.
        unmatched_a = np.concatenate(left_a)
        self.quotes[good] = differentiated_quote(
            bid[np.concatenate(left_b)], ask[unmatched_a], quality[unmatched_a], self.depth_levels
        )
        return Trades(
            bid=np.concatenate(bids_b).astype(np.int64),
            ask=np.concatenate(bids_a).astype(np.int64),
            price=np.concatenate(prices),
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
