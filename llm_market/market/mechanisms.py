"""Matching mechanisms behind one interface.

A mechanism receives one good's order flow for the day (the teams' unit asks with their marginal
costs, the clients' unit bids with their values) and returns the trades as index pairs into that
flow with prices. The model then settles money and surplus the same way whatever the mechanism,
so allocative efficiency is comparable across institutions.

Only the continuous double auction lives here for now; the call auction, bilateral bargaining and
posted prices plug in through :func:`make_mechanism`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from .orderbook import BUY, SELL, OrderBook


@dataclass
class OrderFlow:
    """One good's submitted orders for one day, one unit each.

    Attributes:
        ask_team: Seller of each ask.
        ask_price: Ask price.
        ask_cost: The seller's marginal cost of that unit.
        bid_client: Buyer of each bid.
        bid_price: Bid price (limit).
        bid_value: The buyer's value of the unit.
        bid_market: True where the buyer lifts the best ask with a market order when that ask is
            below its value.
    """

    ask_team: np.ndarray
    ask_price: np.ndarray
    ask_cost: np.ndarray
    bid_client: np.ndarray
    bid_price: np.ndarray
    bid_value: np.ndarray
    bid_market: np.ndarray


@dataclass
class Trades:
    """Trades of one good on one day: indices into the flow's bids and asks, and prices."""

    bid: np.ndarray
    ask: np.ndarray
    price: np.ndarray

    def __len__(self) -> int:
        return len(self.price)


@dataclass
class Quote:
    """The book's state at the close, before day orders expire."""

    best_bid: float = float("nan")
    best_ask: float = float("nan")
    bids: tuple[tuple[float, int], ...] = ()
    asks: tuple[tuple[float, int], ...] = ()

    @property
    def spread(self) -> float:
        """Best ask minus best bid (NaN when a side is empty)."""
        return self.best_ask - self.best_bid


class Mechanism(ABC):
    """A market institution that turns one good's daily order flow into trades."""

    name: str = ""

    def __init__(self, n_goods: int):
        self.n_goods = n_goods
        self.quotes = [Quote() for _ in range(n_goods)]

    @abstractmethod
    def clear(self, good: int, flow: OrderFlow, rng: np.random.Generator) -> Trades:
        """Match one good's order flow.

        Args:
            good: Which good (index) the flow is for.
            flow: The day's asks and bids.
            rng: The market stream, for arrival order and random matching.

        Returns:
            The trades.
        """


class ContinuousDoubleAuction(Mechanism):
    """A continuous double auction on a limit order book with price-time priority.

    Orders of the day arrive in a random order (asks and bids interleaved). Each is a day limit
    order that trades at the resting order's price as long as it crosses; what is left rests until
    the close, when the book is read for quotes and then emptied (day orders expire). A market-order
    client looks at the best ask on arrival and lifts it only if it is below its value, so no client
    pays more than its value.

    Args:
        n_goods: Number of goods, one book each.
        depth_levels: Price levels per side kept in each good's closing quote.
    """

    name = "cda"

    def __init__(self, n_goods: int, depth_levels: int = 5):
        super().__init__(n_goods)
        self.books = [OrderBook() for _ in range(n_goods)]
        self.depth_levels = depth_levels

    def clear(self, good: int, flow: OrderFlow, rng: np.random.Generator) -> Trades:
        """Run the day's order flow through the good's book (see the class docstring)."""
        book = self.books[good]
        n_ask = flow.ask_price.size
        arrival = rng.permutation(n_ask + flow.bid_price.size).tolist()
        ask_price = flow.ask_price.tolist()
        bid_price = flow.bid_price.tolist()
        bid_value = flow.bid_value.tolist()
        bid_market = flow.bid_market.tolist()
        submit_limit, submit_market, best_ask = book.submit_limit, book.submit_market, book.best_ask
        for i in arrival:
            if i < n_ask:
                submit_limit(SELL, ask_price[i], 1, i)
                continue
            b = i - n_ask
            if bid_market[b]:
                ask = best_ask()
                if ask is not None and ask <= bid_value[b]:
                    submit_market(BUY, 1, b)
                continue
            submit_limit(BUY, bid_price[b], 1, b)
        self.quotes[good] = self._quote(book)
        book.expire()
        t = book.take_trades()
        return Trades(
            bid=np.asarray(t["trade_buy_tag"], dtype=np.int64),
            ask=np.asarray(t["trade_sell_tag"], dtype=np.int64),
            price=np.asarray(t["trade_price"], dtype=float),
        )

    def _quote(self, book: OrderBook) -> Quote:
        bid, ask = book.best_bid(), book.best_ask()
        return Quote(
            best_bid=float("nan") if bid is None else bid,
            best_ask=float("nan") if ask is None else ask,
            bids=tuple(book.depth(BUY, self.depth_levels)),
            asks=tuple(book.depth(SELL, self.depth_levels)),
        )


MECHANISM_CLASSES: dict[str, type[Mechanism]] = {"cda": ContinuousDoubleAuction}


def make_mechanism(name: str, n_goods: int) -> Mechanism:
    """Create the mechanism called ``name`` for ``n_goods`` goods."""
    return MECHANISM_CLASSES[name](n_goods)
