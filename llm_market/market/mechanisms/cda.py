"""The continuous double auction: a limit order book with price-time priority."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..orderbook import BUY, SELL, OrderBook
from .base import DEPTH_LEVELS, Allowed, Mechanism, OrderFlow, Quote, Trades


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
