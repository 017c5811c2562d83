"""Matching mechanisms behind one interface.

A mechanism receives one good's order flow for the day (the teams' unit asks with their marginal
costs, the clients' unit bids with their values) and returns the trades as index pairs into that
flow with prices. The model then settles money and surplus the same way whatever the mechanism,
so allocative efficiency is comparable across institutions.

Four institutions plug in through :func:`make_mechanism`: the continuous double auction
(``"cda"``), a uniform-price call auction (``"call"``), random pairwise bargaining
(``"bilateral"``) and posted prices (``"posted"``). Every random choice draws on the ``rng`` passed
to :meth:`Mechanism.clear`, never on set or dict order, so a day's trades are a function of the
flow and the stream's state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
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
        requote: Optional hook ``(rng, ask indices, bid indices) -> (ask prices, bid prices)``
            that draws fresh quotes for orders still open, for mechanisms that quote in rounds.
    """

    ask_team: np.ndarray
    ask_price: np.ndarray
    ask_cost: np.ndarray
    bid_client: np.ndarray
    bid_price: np.ndarray
    bid_value: np.ndarray
    bid_market: np.ndarray
    requote: Callable[[np.random.Generator, np.ndarray, np.ndarray], tuple] | None = None


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

    def __init__(self, n_goods: int, depth_levels: int = 5, rounds: int = 1):
        super().__init__(n_goods)
        self.books = [OrderBook() for _ in range(n_goods)]
        self.depth_levels = depth_levels
        self.rounds = rounds

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


def _effective_bids(flow: OrderFlow) -> np.ndarray:
    """Bid prices with market-order bids entered at their value.

    A market-order client accepts any price up to its value, so its value is its limit.
    """
    return np.where(flow.bid_market, flow.bid_value, flow.bid_price).astype(float)


def _levels(prices: np.ndarray, levels: int, descending: bool) -> tuple[tuple[float, int], ...]:
    """Aggregate unit orders into ``(price, count)`` levels, best first."""
    if prices.size == 0 or levels <= 0:
        return ()
    price, count = np.unique(prices, return_counts=True)
    if descending:
        price, count = price[::-1], count[::-1]
    return tuple(zip(price[:levels].tolist(), count[:levels].tolist(), strict=True))


def _resting_quote(bids: np.ndarray, asks: np.ndarray, levels: int) -> Quote:
    """Quote of the orders left unmatched at the close."""
    return Quote(
        best_bid=float(bids.max()) if bids.size else float("nan"),
        best_ask=float(asks.min()) if asks.size else float("nan"),
        bids=_levels(bids, levels, descending=True),
        asks=_levels(asks, levels, descending=False),
    )


def _no_trades() -> Trades:
    return Trades(
        bid=np.zeros(0, dtype=np.int64), ask=np.zeros(0, dtype=np.int64), price=np.zeros(0)
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

    def __init__(self, n_goods: int, depth_levels: int = 5):
        super().__init__(n_goods)
        self.depth_levels = depth_levels
        self.prices = np.full(n_goods, np.nan)

    def clear(self, good: int, flow: OrderFlow, rng: np.random.Generator) -> Trades:
        """Clear the good's orders at one price (see the class docstring)."""
        bid = _effective_bids(flow)
        ask = np.asarray(flow.ask_price, dtype=float)
        # lexsort's last key is primary: price, then a random rank that rations ties at the margin.
        b_order = np.lexsort((rng.permutation(bid.size), -bid))
        a_order = np.lexsort((rng.permutation(ask.size), ask))
        b_sorted, a_sorted = bid[b_order], ask[a_order]
        n = min(bid.size, ask.size)
        # b_sorted - a_sorted is non-increasing, so the crossing pairs form a prefix.
        q = int(np.count_nonzero(b_sorted[:n] >= a_sorted[:n]))
        self.quotes[good] = _resting_quote(b_sorted[q:], a_sorted[q:], self.depth_levels)
        if q == 0:
            self.prices[good] = np.nan
            return _no_trades()
        low = max(a_sorted[q - 1], b_sorted[q] if q < bid.size else -np.inf)
        high = min(b_sorted[q - 1], a_sorted[q] if q < ask.size else np.inf)
        price = 0.5 * (low + high)
        self.prices[good] = price
        return Trades(
            bid=b_order[:q].astype(np.int64),
            ask=a_order[:q].astype(np.int64),
            price=np.full(q, price),
        )


Allowed = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""Vectorised trading permission: ``(bid client ids, ask team ids) -> bool mask`` per pair."""


class BilateralBargaining(Mechanism):
    """Random pairwise bargaining ("horse trading") between buyers and sellers.

    Rule. Trading runs in rounds. In each round the buyers and sellers still in the market are
    put in uniformly random pairs (``rng``): each trader on the shorter side meets a distinct
    trader of the longer side drawn uniformly without replacement, and the rest of the longer side
    sits the round out. A pair trades when the bid is at least the ask and the pair is allowed
    (see ``allowed``), at the price that splits the difference, ``(bid + ask) / 2``; both then
    leave. Market-order bids bargain with the client's value as their bid, so a client never pays
    more than its value.

    Traders who cannot trade with anyone left at any price (a bid below every remaining ask, an
    ask above every remaining bid) leave before the next round, which keeps random meetings among
    traders who can still gain. Rounds continue until no feasible pair is left or ``max_rounds``
    rounds have run. Without ``allowed`` every round trades at least once (the highest bid, or
    the lowest ask, crosses whoever it meets), so the day ends with the remaining orders
    uncrossed unless the round limit binds.

    After clearing, :attr:`quotes` holds the unmatched bids (market-order bids at value) and asks.

    Args:
        n_goods: Number of goods.
        allowed: Optional trading permission, e.g. a client-team network. Called with equal-length
            arrays of bid client ids (``flow.bid_client``) and ask team ids (``flow.ask_team``) of
            the pairs that met, it returns a boolean array, True where that pair may trade. None
            lets every pair trade. It may also be set later through the attribute of that name.
        max_rounds: Limit on bargaining rounds per good per day. Without ``allowed`` about 20
            rounds exhaust 10,000 bids against 15,000 asks, far below the limit; on a sparse
            ``allowed`` network meetings rarely succeed and the limit acts as a search friction.
        depth_levels: Price levels per side kept in each good's closing quote.

    Attributes:
        rounds: Bargaining rounds run in each good's last clearing.
    """

    name = "bilateral"

    # Below this many remaining (bid, ask) combinations the stopping test evaluates ``allowed`` on
    # all of them; above it, checking costs more than running the remaining rounds.
    dense_check_limit = 1 << 16

    def __init__(
        self,
        n_goods: int,
        allowed: Allowed | None = None,
        max_rounds: int = 200,
        depth_levels: int = 5,
    ):
        super().__init__(n_goods)
        self.allowed = allowed
        self.max_rounds = max_rounds
        self.depth_levels = depth_levels
        self.rounds = np.zeros(n_goods, dtype=np.int64)

    def clear(self, good: int, flow: OrderFlow, rng: np.random.Generator) -> Trades:
        """Bargain the good's orders in random pairs (see the class docstring)."""
        bid = _effective_bids(flow)
        ask = np.asarray(flow.ask_price, dtype=float)
        b_left = np.arange(bid.size)
        a_left = np.arange(ask.size)
        traded_b: list[np.ndarray] = []
        traded_a: list[np.ndarray] = []
        rounds = 0
        while rounds < self.max_rounds and b_left.size and a_left.size:
            lowest_ask, highest_bid = ask[a_left].min(), bid[b_left].max()
            if highest_bid < lowest_ask:
                break
            b_left = b_left[bid[b_left] >= lowest_ask]
            a_left = a_left[ask[a_left] <= highest_bid]
            if self.allowed is not None and not self._any_feasible(flow, bid, ask, b_left, a_left):
                break
            rounds += 1
            # Everyone on the short side meets a uniformly random member of the long side, drawn
            # without replacement in random order: a uniformly random pairing. Positions refer to
            # the remaining lists, kept in index order, so a round's draw depends only on who is
            # left.
            if b_left.size <= a_left.size:
                sb = np.arange(b_left.size)
                sa = rng.choice(a_left.size, b_left.size, replace=False)
            else:
                sb = rng.choice(b_left.size, a_left.size, replace=False)
                sa = np.arange(a_left.size)
            pb, pa = b_left[sb], a_left[sa]
            ok = bid[pb] >= ask[pa]
            if self.allowed is not None:
                ok &= np.asarray(self.allowed(flow.bid_client[pb], flow.ask_team[pa]), dtype=bool)
            if not ok.any():
                continue
            traded_b.append(pb[ok])
            traded_a.append(pa[ok])
            keep_b = np.ones(b_left.size, dtype=bool)
            keep_b[sb[ok]] = False
            keep_a = np.ones(a_left.size, dtype=bool)
            keep_a[sa[ok]] = False
            b_left, a_left = b_left[keep_b], a_left[keep_a]
        self.rounds[good] = rounds
        if traded_b:
            b_idx = np.concatenate(traded_b).astype(np.int64)
            a_idx = np.concatenate(traded_a).astype(np.int64)
        else:
            b_idx = a_idx = np.zeros(0, dtype=np.int64)
        # The quote shows every unmatched order, including those that gave up bargaining.
        open_b = np.ones(bid.size, dtype=bool)
        open_b[b_idx] = False
        open_a = np.ones(ask.size, dtype=bool)
        open_a[a_idx] = False
        self.quotes[good] = _resting_quote(bid[open_b], ask[open_a], self.depth_levels)
        return Trades(bid=b_idx, ask=a_idx, price=0.5 * (bid[b_idx] + ask[a_idx]))

    def _any_feasible(
        self,
        flow: OrderFlow,
        bid: np.ndarray,
        ask: np.ndarray,
        b_left: np.ndarray,
        a_left: np.ndarray,
    ) -> bool:
        """Whether some remaining pair crosses and is allowed (True when too many to check)."""
        if b_left.size * a_left.size > self.dense_check_limit:
            return True
        bb, aa = np.meshgrid(b_left, a_left, indexing="ij")
        bb, aa = bb.ravel(), aa.ravel()
        cross = bid[bb] >= ask[aa]
        bb, aa = bb[cross], aa[cross]
        if bb.size == 0:
            return False
        return bool(np.asarray(self.allowed(flow.bid_client[bb], flow.ask_team[aa])).any())


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

    def __init__(self, n_goods: int, depth_levels: int = 5):
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
        self.quotes[good] = _resting_quote(value[~bought], ask[offers[sold:]], self.depth_levels)
        b_idx = np.asarray(buyers, dtype=np.int64)
        a_idx = offers[:sold].astype(np.int64)
        return Trades(bid=b_idx, ask=a_idx, price=ask[a_idx])


MECHANISM_CLASSES: dict[str, type[Mechanism]] = {
    "cda": ContinuousDoubleAuction,
    "call": CallAuction,
    "bilateral": BilateralBargaining,
    "posted": PostedPrices,
}
# The mechanism names, in the order the CLI, the app and comparisons list them.
MECHANISMS: tuple[str, ...] = tuple(MECHANISM_CLASSES)


def make_mechanism(name: str, n_goods: int, **options) -> Mechanism:
    """Create the mechanism called ``name`` for ``n_goods`` goods.

    Args:
        name: A key of :data:`MECHANISM_CLASSES`.
        n_goods: Number of goods.
        **options: Keyword arguments of that mechanism's constructor.
    """
    return MECHANISM_CLASSES[name](n_goods, **options)
