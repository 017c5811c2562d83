"""The interface every matching mechanism implements, and the pieces they share.

A mechanism receives one good's order flow for the day (:class:`OrderFlow`) and returns the
trades (:class:`Trades`) as index pairs into that flow with prices, and leaves the closing
state of its book in :attr:`Mechanism.quotes`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..sorting import run_heads

# Price levels per side kept in a good's closing quote (what the app's depth view shows).
DEPTH_LEVELS = 5

Allowed = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""Vectorised trading permission: ``(bid client ids, ask team ids) -> bool mask`` per pair."""


@dataclass
class OrderFlow:
    """One good's submitted orders for one day, one unit each.

    Goods may be differentiated by their seller: a client's value of ask ``a``'s unit is
    ``bid_value[b] * ask_quality[a]`` and its limit for it is ``bid_price[b] * ask_quality[a]``
    (the same shading in proportion). ``bid_value`` and ``bid_price`` are therefore per unit of
    quality; with ``ask_quality`` None (or all ones) the goods are homogeneous and they are the
    client's value and bid of every unit.

    Attributes:
        ask_team: Seller of each ask.
        ask_price: Ask price.
        ask_cost: The seller's marginal cost of that unit.
        bid_client: Buyer of each bid.
        bid_price: Bid price (limit) for a unit of quality 1.
        bid_value: The buyer's value of a unit of quality 1 (its stake).
        bid_market: True where the buyer lifts the best ask with a market order when that ask is
            below its value.
        requote: Optional hook ``(rng, ask indices, bid indices) -> (ask prices, bid prices)``
            that draws fresh quotes for orders still open, for mechanisms that quote in rounds.
        ask_quality: Quality (``>= 0``) of the seller of each ask; all units of one seller have
            the same quality. None: 1 everywhere (homogeneous goods).
    """

    ask_team: np.ndarray
    ask_price: np.ndarray
    ask_cost: np.ndarray
    bid_client: np.ndarray
    bid_price: np.ndarray
    bid_value: np.ndarray
    bid_market: np.ndarray
    requote: Callable[[np.random.Generator, np.ndarray, np.ndarray], tuple] | None = None
    ask_quality: np.ndarray | None = None


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
    """The book's state at the close, before day orders expire.

    For differentiated goods the quote is of the union of the sellers' unmatched orders in prices
    per unit of quality: asks at ``ask_price / quality`` (asks of quality 0 left out) and bids at
    the client's bid for a unit of quality 1 (a market-order client at its value). A client
    crosses an ask exactly when its bid per unit of quality is at least the ask per unit of
    quality, so the union reads like one homogeneous book; with all qualities 1 it is that book.
    The CDA, with one book per seller, can leave that union crossed (a negative spread), since
    clients pick a seller by surplus, not by price per unit of quality; the call auction clears
    the union itself, so its quote is never crossed.
    """

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

    @classmethod
    def from_params(cls, n_goods: int, params: Any, allowed: Allowed | None = None) -> Mechanism:
        """Build the mechanism for a run: each institution reads the settings it has.

        Args:
            n_goods: Number of goods.
            params: The run's :class:`~llm_market.params.Params`.
            allowed: Who may trade with whom (the social graph's rule), for mechanisms that
                restrict trade to partners; None lets every pair trade.
        """
        return cls(n_goods)

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


def differentiated_quality(flow: OrderFlow) -> np.ndarray | None:
    """The flow's ask qualities as floats, or None when the goods are homogeneous (all ones).

    Mechanisms take their homogeneous path on None, which is the code that ran before goods
    were differentiated, so homogeneous trades are bit-identical to it.
    """
    if flow.ask_quality is None:
        return None
    quality = np.asarray(flow.ask_quality, dtype=float)
    if np.all(quality == 1.0):
        return None
    if quality.size and quality.min() < 0:
        raise ValueError("ask_quality must be >= 0")
    return quality


def per_quality(prices: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """Prices per unit of quality; infinite where the quality is 0 (a worthless unit)."""
    out = np.full(prices.shape, np.inf)
    np.divide(prices, quality, out=out, where=quality > 0)
    return out


def group_sorted(team: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(team, return_index=True, return_inverse=True)``, without its sort when it can.

    The market's asks come grouped by seller in increasing order (one run per seller), so the
    groups are where the value changes; any other order goes through ``np.unique``.
    """
    if team.size and np.all(team[1:] >= team[:-1]):
        new = run_heads(team)
        first = np.flatnonzero(new)
        return team[first], first, np.cumsum(new) - 1
    return np.unique(team, return_index=True, return_inverse=True)


@dataclass
class SellerBooks:
    """The asks of a differentiated flow grouped by seller (one book per seller).

    Attributes:
        team: Seller of each book, in increasing order.
        quality: Quality of each book's seller.
        of_ask: Book of each ask.
    """

    team: np.ndarray
    quality: np.ndarray
    of_ask: np.ndarray

    @classmethod
    def of(cls, flow: OrderFlow, quality: np.ndarray) -> SellerBooks:
        """Group the flow's asks by seller (and quality, should a seller's units differ)."""
        team = np.asarray(flow.ask_team)
        # The usual flow, one quality per seller: grouping by seller alone gives the same books
        # in the same order as the row-wise unique below, at a fraction of its cost.
        books, first, of_ask = group_sorted(team)
        q = np.asarray(quality, dtype=float)
        if np.array_equal(q, q[first][of_ask]):
            return cls(
                team=books,
                quality=q[first],
                of_ask=np.asarray(of_ask, dtype=np.int64).ravel(),
            )
        keys = np.column_stack([np.asarray(flow.ask_team, dtype=float), quality])
        unique, of_ask = np.unique(keys, axis=0, return_inverse=True)
        return cls(
            team=np.asarray(flow.ask_team)[np.unique(of_ask, return_index=True)[1]],
            quality=unique[:, 1].copy(),
            of_ask=np.asarray(of_ask, dtype=np.int64).ravel(),
        )

    def __len__(self) -> int:
        return self.quality.size


def choose_best(surplus: np.ndarray, rng: np.random.Generator) -> int:
    """Index of the largest entry, ties broken uniformly at random (``rng`` only on a tie)."""
    best = surplus.max()
    tied = np.flatnonzero(surplus == best)
    return int(tied[0]) if tied.size == 1 else int(tied[rng.integers(tied.size)])


def differentiated_quote(
    bids: np.ndarray, asks: np.ndarray, ask_quality: np.ndarray, levels: int
) -> Quote:
    """Closing quote of unmatched orders of a differentiated market, per unit of quality.

    Args:
        bids: The unmatched clients' bids per unit of quality.
        asks: The unmatched asks' prices.
        ask_quality: Those asks' qualities.
        levels: Price levels per side.
    """
    keep = ask_quality > 0
    return resting_quote(bids, asks[keep] / ask_quality[keep], levels)


def effective_bids(flow: OrderFlow) -> np.ndarray:
    """Bid prices with market-order bids entered at their value.

    A market-order client accepts any price up to its value, so its value is its limit.
    """
    return np.where(flow.bid_market, flow.bid_value, flow.bid_price).astype(float)


def price_levels(
    prices: np.ndarray, levels: int, descending: bool
) -> tuple[tuple[float, int], ...]:
    """Aggregate unit orders into ``(price, count)`` levels, best first.

    The same levels as ``np.unique(prices, return_counts=True)`` cut to the best ``levels``,
    without sorting every order (a large day leaves thousands resting and shows five levels):
    the ``levels``-th best order bounds the levels shown, and when exactly ``levels`` orders
    are at or better than it, at distinct prices, those are the levels, one order each.
    Otherwise (ties among the best, NaN, a zero whose sign a sort may pick) it is
    ``np.unique`` of them all.
    """
    if prices.size == 0 or levels <= 0:
        return ()
    if prices.size > 2 * levels and not np.isnan(prices).any():
        cut = prices.size - levels if descending else levels - 1
        bound = np.partition(prices, cut)[cut]
        best = prices[prices >= bound] if descending else prices[prices <= bound]
        if best.size == levels:
            shown = sorted(best.tolist(), reverse=descending)
            if len(set(shown)) == levels and 0.0 not in shown:
                return tuple((p, 1) for p in shown)
    price, count = np.unique(prices, return_counts=True)
    if descending:
        price, count = price[::-1], count[::-1]
    return tuple(zip(price[:levels].tolist(), count[:levels].tolist(), strict=True))


def resting_quote(bids: np.ndarray, asks: np.ndarray, levels: int) -> Quote:
    """Quote of the orders left unmatched at the close."""
    return Quote(
        best_bid=float(bids.max()) if bids.size else float("nan"),
        best_ask=float(asks.min()) if asks.size else float("nan"),
        bids=price_levels(bids, levels, descending=True),
        asks=price_levels(asks, levels, descending=False),
    )


def no_trades() -> Trades:
    """An empty set of trades."""
    return Trades(
        bid=np.zeros(0, dtype=np.int64), ask=np.zeros(0, dtype=np.int64), price=np.zeros(0)
    )
