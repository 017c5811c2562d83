"""The continuous double auction: a limit order book with price-time priority."""

from __future__ import annotations

from heapq import heappop, heappush
from typing import Any

import numpy as np

from .. import jit
from ..orderbook import BUY, SELL, OrderBook
from .base import (
    DEPTH_LEVELS,
    Allowed,
    Mechanism,
    OrderFlow,
    Quote,
    SellerBooks,
    Trades,
    choose_best,
    differentiated_quality,
    differentiated_quote,
)


class ContinuousDoubleAuction(Mechanism):
    """A continuous double auction on a limit order book with price-time priority.

    Orders of the day arrive in a random order (asks and bids interleaved). Each is a day limit
    order that trades at the resting order's price as long as it crosses; what is left rests until
    the close, when the book is read for quotes and then emptied (day orders expire). A market-order
    client looks at the best ask on arrival and lifts it only if it is below its value, so no client
    pays more than its value.

    When the flow carries a ``requote`` hook (zero-intelligence traders), the day follows Gode and
    Sunder's protocol: every transaction cancels all standing quotes, and the day has ``rounds``
    rounds in which the traders that have not traded quote again at fresh prices, in a new random
    order.

    Differentiated goods (``flow.ask_quality``): one order book per seller (price-time priority
    within each book, trades at the resting order's price; the books are fresh each day and day
    orders expire). Orders still arrive in one random order. An ask goes to its seller's book. An
    arriving client looks at every seller's best ask and picks the seller with the largest surplus
    ``bid_value * quality - best ask`` (ties uniformly at random, ``rng``; sellers of quality 0
    are never chosen, their report being worth nothing). A market-order client then lifts that
    ask if the surplus is at least 0, and otherwise sends nothing (as in the homogeneous book); a
    limit client sends a limit bid there at ``bid_price * quality``, which trades if it crosses
    and rests otherwise. With no ask resting in any book the limit client bids at the seller of
    the highest quality among those whose asks have arrived today (sold out or not), or, before
    any ask has arrived, among all the day's sellers (ties at random); a market-order client
    sends nothing. The closing quote is the union of the books per unit of quality (see
    :class:`~.base.Quote`). It can be crossed (a negative spread): clients choose a seller by
    surplus, not by price per unit of quality, so a bid may rest at one seller below the ask it
    would cross at another. Requoting zero-intelligence traders need homogeneous goods.

    Args:
        n_goods: Number of goods, one book each.
        depth_levels: Price levels per side kept in each good's closing quote.
        rounds: Quoting rounds per day when the flow can requote.
    """

    name = "cda"

    def __init__(self, n_goods: int, depth_levels: int = DEPTH_LEVELS, rounds: int = 1):
        super().__init__(n_goods)
        self.books = [OrderBook() for _ in range(n_goods)]
        self.depth_levels = depth_levels
        self.rounds = rounds

    @classmethod
    def from_params(cls, n_goods: int, params: Any, allowed: Allowed | None = None) -> Mechanism:
        """The CDA of a run: ``cda_rounds`` quoting rounds a day for zero-intelligence traders."""
        return cls(n_goods, rounds=params.cda_rounds)

    def clear(self, good: int, flow: OrderFlow, rng: np.random.Generator) -> Trades:
        """Run the day's order flow through the good's book (see the class docstring)."""
        quality = differentiated_quality(flow)
        if quality is not None:
            if flow.requote is not None:
                raise ValueError("requoting (zero-intelligence) traders need homogeneous goods")
            return self._clear_differentiated(good, flow, quality, rng)
        book = self.books[good]
        n_ask, n_bid = flow.ask_price.size, flow.bid_price.size
        ask_price = flow.ask_price.tolist()
        bid_price = flow.bid_price.tolist()
        # Converted once: the submit loop reads them for every order of every round.
        bid_value = flow.bid_value.tolist()
        bid_market = flow.bid_market.tolist()
        ask_open = np.ones(n_ask, dtype=bool)
        bid_open = np.ones(n_bid, dtype=bool)
        bid, ask, price = [], [], []
        for round_ in range(self.rounds if flow.requote is not None else 1):
            open_a, open_b = np.flatnonzero(ask_open), np.flatnonzero(bid_open)
            if round_:
                # A new round: unfilled quotes are withdrawn and their traders quote afresh.
                book.expire()
                if not (open_a.size and open_b.size):
                    break
                new_a, new_b = flow.requote(rng, open_a, open_b)
                for i, p in zip(open_a.tolist(), new_a.tolist(), strict=True):
                    ask_price[i] = p
                for i, p in zip(open_b.tolist(), new_b.tolist(), strict=True):
                    bid_price[i] = p
            arrival = rng.permutation(np.concatenate([open_a, n_ask + open_b])).tolist()
            self._submit(
                book,
                arrival,
                n_ask,
                ask_price,
                bid_price,
                bid_value,
                bid_market,
                clear_after_trade=flow.requote is not None,
            )
            t = book.take_trades()
            bid += t["trade_buy_tag"]
            ask += t["trade_sell_tag"]
            price += t["trade_price"]
            bid_open[np.asarray(t["trade_buy_tag"], dtype=np.int64)] = False
            ask_open[np.asarray(t["trade_sell_tag"], dtype=np.int64)] = False
        self.quotes[good] = self._quote(book)
        book.expire()
        return Trades(
            bid=np.asarray(bid, dtype=np.int64),
            ask=np.asarray(ask, dtype=np.int64),
            price=np.asarray(price, dtype=float),
        )

    @staticmethod
    def _submit(
        book, arrival, n_ask, ask_price, bid_price, bid_value, bid_market, clear_after_trade
    ) -> None:
        """Send orders to the book in arrival order (asks first in the index space).

        With ``clear_after_trade`` (Gode and Sunder's rule for quoting traders) a transaction
        cancels every standing quote.
        """
        submit_limit, submit_market, best_ask = book.submit_limit, book.submit_market, book.best_ask
        trades = book.n_trades
        for i in arrival:
            if i < n_ask:
                if ask_price[i] == ask_price[i]:  # NaN: this unit does not quote now
                    submit_limit(SELL, ask_price[i], 1, i)
            else:
                b = i - n_ask
                if not bid_market[b]:
                    submit_limit(BUY, bid_price[b], 1, b)
                else:
                    ask = best_ask()
                    if ask is not None and ask <= bid_value[b]:
                        submit_market(BUY, 1, b)
            if clear_after_trade and book.n_trades != trades:
                trades = book.n_trades
                book.expire()

    def _quote(self, book: OrderBook) -> Quote:
        bid, ask = book.best_bid(), book.best_ask()
        return Quote(
            best_bid=float("nan") if bid is None else bid,
            best_ask=float("nan") if ask is None else ask,
            bids=tuple(book.depth(BUY, self.depth_levels)),
            asks=tuple(book.depth(SELL, self.depth_levels)),
        )

    def _clear_differentiated(
        self, good: int, flow: OrderFlow, quality: np.ndarray, rng: np.random.Generator
    ) -> Trades:
        """One book per seller; each client chooses its seller on arrival (class docstring).

        A large day runs compiled (:mod:`.cda_kernel`; see :mod:`..jit`), a small one in
        :func:`differentiated_day`, the same rules in plain Python; both make the same trades
        with the same draws.
        """
        sellers = SellerBooks.of(flow, quality)
        arrival = rng.permutation(flow.ask_price.size + flow.bid_price.size)
        pairs = len(sellers) * flow.bid_price.size
        bid, ask, price, resting_bid, resting_ask = jit.run(
            "mechanisms.cda_kernel",
            "clear_day",
            pairs,
            differentiated_day,
            arrival,
            flow.ask_price.size,
            np.asarray(flow.ask_price, dtype=float),
            np.asarray(sellers.of_ask, dtype=np.int64),
            np.asarray(flow.bid_price, dtype=float),
            np.asarray(flow.bid_market, dtype=bool),
            np.asarray(flow.bid_value, dtype=float),
            np.asarray(sellers.quality, dtype=float),
            rng,
        )
        self.quotes[good] = differentiated_quote(
            np.asarray(flow.bid_price, dtype=float)[resting_bid],
            np.asarray(flow.ask_price, dtype=float)[resting_ask],
            quality[resting_ask],
            self.depth_levels,
        )
        return Trades(bid=bid, ask=ask, price=price)


def differentiated_day(
    arrival: np.ndarray,
    n_ask: int,
    ask_price: np.ndarray,
    of_ask: np.ndarray,
    bid_price: np.ndarray,
    bid_market: np.ndarray,
    value: np.ndarray,
    book_quality: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A differentiated day in plain Python (the reference for :func:`.cda_kernel.clear_day`).

    Every order is for one unit and no order is cancelled, so each seller's book is two bare
    heaps of ``(key, order id, tag)`` with :class:`~..orderbook.OrderBook`'s rules (price-time
    priority, trades at the resting order's price).

    Args:
        arrival: The day's arrival order over asks (``0..n_ask-1``) then bids (``n_ask + b``).
        n_ask: Number of asks.
        ask_price: Price of each ask (NaN: the unit does not quote).
        of_ask: Book (seller) of each ask.
        bid_price: Limit of each bid per unit of quality.
        bid_market: Whether each bid is a market order.
        value: Each client's value per unit of quality.
        book_quality: Quality of each book's seller.
        rng: The generator the ties are drawn from.

    Returns:
        ``(bid, ask, price, resting_bid, resting_ask)``: the trades in order, and which orders
        entered a book and were still there at the close.
    """
    n_books = book_quality.size
    n_bid = bid_price.size
    ask_heaps: list[list] = [[] for _ in range(n_books)]  # (price, id, ask)
    bid_heaps: list[list] = [[] for _ in range(n_books)]  # (-price, id, bid)
    ask_price = ask_price.tolist()
    of_ask = of_ask.tolist()
    bid_price = bid_price.tolist()
    bid_market = bid_market.tolist()
    value = value.tolist()
    quality_of = book_quality.tolist()
    worthless = book_quality <= 0
    valued = (~worthless).tolist()
    # Best resting ask of each book (inf: none), kept up to date after every event there.
    # A worthless seller's entry stays inf, so its surplus is -inf and it is never chosen.
    best_ask = np.full(n_books, np.inf)
    seen = np.zeros(n_books, dtype=bool)
    any_positive = not worthless.all()
    surplus = np.empty(n_books)
    tied = np.empty(n_books, dtype=bool)
    multiply, subtract, equal, count = np.multiply, np.subtract, np.equal, np.count_nonzero
    inf = np.inf
    bid, ask, price = [], [], []
    # Orders that entered a book; those that did not trade rest there at the close.
    resting_bid = np.zeros(n_bid, dtype=bool)
    resting_ask = np.zeros(n_ask, dtype=bool)
    oid = 0
    for i in arrival.tolist():
        oid += 1
        if i < n_ask:
            p = ask_price[i]
            if p != p:  # NaN: this unit does not quote
                continue
            k = of_ask[i]
            seen[k] = True
            resting_ask[i] = True
            asks = ask_heaps[k]
            bids = bid_heaps[k]
            if bids and bids[0][0] <= -p:
                top = heappop(bids)
                bid.append(top[2])
                ask.append(i)
                price.append(-top[0])
            else:
                heappush(asks, (p, oid, i))
        else:
            b = i - n_ask
            if not any_positive:
                continue
            # surplus = value * quality - best ask, the largest first (ties at random):
            # the same arithmetic, and the same draws, as choose_best on the full array.
            multiply(book_quality, value[b], out=surplus)
            subtract(surplus, best_ask, out=surplus)
            k = int(surplus.argmax())
            gain = float(surplus[k])
            if gain > -inf:
                if count(equal(surplus, gain, out=tied)) > 1:
                    ties = tied.nonzero()[0]
                    k = int(ties[rng.integers(ties.size)])
            elif bid_market[b]:
                continue
            else:
                # Nothing rests: bid where the most valuable report has been offered.
                pool = seen & ~worthless if (seen & ~worthless).any() else ~worthless
                k = choose_best(np.where(pool, book_quality, -np.inf), rng)
            asks = ask_heaps[k]
            if bid_market[b]:
                if gain < 0:
                    continue
                top = heappop(asks)
                bid.append(b)
                ask.append(top[2])
                price.append(top[0])
            else:
                resting_bid[b] = True
                limit = bid_price[b] * quality_of[k]
                if asks and asks[0][0] <= limit:
                    top = heappop(asks)
                    bid.append(b)
                    ask.append(top[2])
                    price.append(top[0])
                else:
                    heappush(bid_heaps[k], (-limit, oid, b))
        if valued[k]:
            best_ask[k] = asks[0][0] if asks else inf
    resting_ask[np.asarray(ask, dtype=np.int64)] = False
    resting_bid[np.asarray(bid, dtype=np.int64)] = False
    return (
        np.asarray(bid, dtype=np.int64),
        np.asarray(ask, dtype=np.int64),
        np.asarray(price, dtype=float),
        resting_bid,
        resting_ask,
    )
