"""Continuous-double-auction limit order book for a single good.

Design
------
Each side of the book is a binary heap (:mod:`heapq`) of ``(key, order_id, tag)`` tuples, where
``key`` is ``-price`` for bids and ``price`` for asks. Order ids come from one increasing counter,
so the tuple order *is* price-time priority: the best price first and, within a price level, the
oldest order first (FIFO). Ids are unique, hence the tag in the third slot is never compared.

The remaining quantity of every resting order lives in one dict per side (``order_id -> qty``).
That dict is the single source of truth for whether an order is live:

* A cancel only deletes the dict entry; the heap entry becomes stale and is discarded the next
  time it reaches the top of its heap (lazy deletion). That makes cancel O(1) instead of O(n).
* When stale entries outnumber live ones on a side, that heap is rebuilt from live entries, so
  memory and heap depth stay proportional to the live book (amortised O(1) per cancel).
* The number of resting orders is ``len(bids) + len(asks)`` of the dicts, hence always exact.

Matching walks the top of the opposite heap while the incoming order crosses, trades at the
*resting* order's price, and pops fully filled orders immediately, so after every public call the
book is uncrossed: every live bid is strictly below every live ask. Queries such as
:meth:`OrderBook.best_bid` first drop stale heap tops, so they never report a cancelled order.

Trades are recorded in columnar lists (``trade_price``, ``trade_qty``, ...) which are cheap to
append to in the hot loop and convenient to turn into arrays; :meth:`OrderBook.take_trades`
hands them over and starts fresh lists so the caller can drain fills once per model step.

Self-trade is allowed: an incoming order may match a resting order carrying the same tag. The
book does not know who the tags belong to; preventing or netting self-trades is the caller's job.

Example:
    >>> book = OrderBook()
    >>> ask = book.submit_limit(SELL, 101.0, 5, tag=7)
    >>> buy = book.submit_limit(BUY, 102.0, 3, tag=9)
    >>> book.trade_price, book.trade_qty, book.best_ask()
    ([101.0], [3], 101.0)
"""

from __future__ import annotations

import math
import numbers
import operator
from heapq import heapify, heappop, heappush

__all__ = ["BUY", "SELL", "OrderBook"]

BUY = 1
"""Side code of a buy order (bid)."""

SELL = -1
"""Side code of a sell order (ask)."""

# Rebuild a heap once it holds more than this many stale entries *and* more stale than live
# ones; the floor stops tiny books from rebuilding on almost every cancel.
_COMPACT_MIN_STALE = 64

_INF = math.inf

_TRADE_FIELDS = (
    "trade_price",
    "trade_qty",
    "trade_buy_tag",
    "trade_sell_tag",
    "trade_buy_order",
    "trade_sell_order",
    "trade_aggressor",
)


def _check_qty(qty: object) -> int:
    """Return ``qty`` as a plain ``int`` or raise ``ValueError``.

    Accepts any integer type (e.g. ``numpy.int64``) but not ``bool`` or floats, because a
    fractional or boolean quantity is almost certainly a caller bug.
    """
    if isinstance(qty, bool):
        raise ValueError(f"qty must be a positive int, got {qty!r}")
    try:
        value = operator.index(qty)
    except TypeError:
        raise ValueError(f"qty must be a positive int, got {qty!r}") from None
    if value <= 0:
        raise ValueError(f"qty must be a positive int, got {qty!r}")
    return value


def _check_price(price: object) -> float:
    """Return ``price`` as a plain ``float`` or raise ``ValueError`` unless finite and > 0."""
    # numbers.Real covers int and numpy scalars but not str, which float() would happily parse.
    if isinstance(price, bool) or not isinstance(price, numbers.Real):
        raise ValueError(f"price must be a finite number > 0, got {price!r}")
    value = float(price)
    if not 0.0 < value < _INF:
        raise ValueError(f"price must be a finite number > 0, got {price!r}")
    return value


def _bad_side(side: object) -> ValueError:
    return ValueError(f"side must be BUY (1) or SELL (-1), got {side!r}")


class OrderBook:
    """Price-time priority limit order book for one good.

    Orders are identified by the integer id returned on submission (1, 2, 3, ... in submission
    order, shared by limit and market orders). Tags are arbitrary caller-chosen integers copied
    into each trade so fills can be mapped back to traders. Self-trade is allowed.

    Attributes:
        trade_price: Execution price of each fill (always the resting order's price).
        trade_qty: Quantity of each fill.
        trade_buy_tag: Tag of the buy order in each fill.
        trade_sell_tag: Tag of the sell order in each fill.
        trade_buy_order: Order id of the buy order in each fill.
        trade_sell_order: Order id of the sell order in each fill.
        trade_aggressor: Side (``BUY`` or ``SELL``) of the incoming order in each fill.
    """

    __slots__ = (
        "_bids",
        "_asks",
        "_bid_qty",
        "_ask_qty",
        "_next_id",
        *_TRADE_FIELDS,
    )

    def __init__(self) -> None:
        # Heaps of (-price, order_id, tag) and (price, order_id, tag); may hold stale entries.
        self._bids: list[tuple[float, int, int]] = []
        self._asks: list[tuple[float, int, int]] = []
        # Live resting orders: order_id -> remaining qty. Membership here defines liveness.
        self._bid_qty: dict[int, int] = {}
        self._ask_qty: dict[int, int] = {}
        self._next_id = 1
        self.trade_price: list[float] = []
        self.trade_qty: list[int] = []
        self.trade_buy_tag: list[int] = []
        self.trade_sell_tag: list[int] = []
        self.trade_buy_order: list[int] = []
        self.trade_sell_order: list[int] = []
        self.trade_aggressor: list[int] = []

    # ------------------------------------------------------------------ order entry

    def submit_limit(self, side: int, price: float, qty: int, tag: int) -> int:
        """Submit a limit order; match what crosses and rest the remainder.

        The order trades against the opposite side while it crosses (a buy at ``price >=`` best
        ask, a sell at ``price <=`` best bid), best price first and oldest first within a price.
        Every fill executes at the resting order's price. Any unfilled quantity rests in the book.

        Args:
            side: ``BUY`` or ``SELL``.
            price: Limit price, finite and > 0.
            qty: Quantity, a positive integer.
            tag: Caller-chosen integer recorded in the trades of this order.

        Returns:
            The new order's id.

        Raises:
            ValueError: If ``side``, ``price`` or ``qty`` is invalid.
        """
        # Fast path skips the helpers for the common exact-type case; the helpers also accept
        # numpy scalars and normalise them so trade lists hold plain Python numbers.
        if type(qty) is not int or qty <= 0:
            qty = _check_qty(qty)
        if type(price) is not float or not 0.0 < price < _INF:
            price = _check_price(price)
        oid = self._next_id
        self._next_id = oid + 1

        # The buy and sell loops mirror each other on purpose: merging them into one loop
        # parameterised by side (heap, key sign, trade columns) costs about 10% of throughput
        # (median of 15 interleaved runs of the 200k-op benchmark stream, CPU time, 0-28% across
        # runs); see benchmarks/bench_orderbook_variants.py.
        if side == 1:
            asks = self._asks
            book = self._ask_qty
            while asks:
                top = asks[0]
                if top[0] > price:
                    break
                rid = top[1]
                rqty = book.get(rid)
                if rqty is None:
                    heappop(asks)
                    continue
                if rqty <= qty:
                    fill = rqty
                    del book[rid]
                    heappop(asks)
                else:
                    fill = qty
                    book[rid] = rqty - qty
                self.trade_price.append(top[0])
                self.trade_qty.append(fill)
                self.trade_buy_tag.append(tag)
                self.trade_sell_tag.append(top[2])
                self.trade_buy_order.append(oid)
                self.trade_sell_order.append(rid)
                self.trade_aggressor.append(1)
                qty -= fill
                if not qty:
                    return oid
            heappush(self._bids, (-price, oid, tag))
            self._bid_qty[oid] = qty
        elif side == -1:
            bids = self._bids
            book = self._bid_qty
            neg = -price
            while bids:
                top = bids[0]
                if top[0] > neg:
                    break
                rid = top[1]
                rqty = book.get(rid)
                if rqty is None:
                    heappop(bids)
                    continue
                if rqty <= qty:
                    fill = rqty
                    del book[rid]
                    heappop(bids)
                else:
                    fill = qty
                    book[rid] = rqty - qty
                self.trade_price.append(-top[0])
                self.trade_qty.append(fill)
                self.trade_buy_tag.append(top[2])
                self.trade_sell_tag.append(tag)
                self.trade_buy_order.append(rid)
                self.trade_sell_order.append(oid)
                self.trade_aggressor.append(-1)
                qty -= fill
                if not qty:
                    return oid
            heappush(self._asks, (price, oid, tag))
            self._ask_qty[oid] = qty
        else:
            # The id was already consumed; give it back so a rejected order leaves no trace.
            self._next_id = oid
            raise _bad_side(side)
        return oid

    def submit_market(self, side: int, qty: int, tag: int) -> int:
        """Submit a market order; match at resting prices and discard the remainder.

        The order sweeps the opposite side best price first until it is filled or that side is
        empty. Unfilled quantity never rests; the caller can infer the filled amount from the
        trades carrying the returned order id.

        Args:
            side: ``BUY`` or ``SELL``.
            qty: Quantity, a positive integer.
            tag: Caller-chosen integer recorded in the trades of this order.

        Returns:
            The new order's id (it is never resting, so cancelling it returns 0).

        Raises:
            ValueError: If ``side`` or ``qty`` is invalid.
        """
        if type(qty) is not int or qty <= 0:
            qty = _check_qty(qty)
        if side == 1:
            heap = self._asks
            book = self._ask_qty
        elif side == -1:
            heap = self._bids
            book = self._bid_qty
        else:
            raise _bad_side(side)
        oid = self._next_id
        self._next_id = oid + 1

        while heap:
            top = heap[0]
            rid = top[1]
            rqty = book.get(rid)
            if rqty is None:
                heappop(heap)
                continue
            if rqty <= qty:
                fill = rqty
                del book[rid]
                heappop(heap)
            else:
                fill = qty
                book[rid] = rqty - qty
            if side == 1:
                self.trade_price.append(top[0])
                self.trade_buy_tag.append(tag)
                self.trade_sell_tag.append(top[2])
                self.trade_buy_order.append(oid)
                self.trade_sell_order.append(rid)
            else:
                self.trade_price.append(-top[0])
                self.trade_buy_tag.append(top[2])
                self.trade_sell_tag.append(tag)
                self.trade_buy_order.append(rid)
                self.trade_sell_order.append(oid)
            self.trade_qty.append(fill)
            self.trade_aggressor.append(side)
            qty -= fill
            if not qty:
                break
        return oid

    def cancel(self, order_id: int) -> int:
        """Remove a resting order.

        Args:
            order_id: Id returned by :meth:`submit_limit`.

        Returns:
            The quantity that was still resting and is now cancelled, or 0 if the order is not
            resting (unknown id, market order, already filled, cancelled or expired).
        """
        qty = self._bid_qty.pop(order_id, 0)
        if qty:
            heap = self._bids
            live = self._bid_qty
        else:
            qty = self._ask_qty.pop(order_id, 0)
            if not qty:
                return 0
            heap = self._asks
            live = self._ask_qty
        stale = len(heap) - len(live)
        if stale > _COMPACT_MIN_STALE and stale > len(live):
            # Rebuild in place so local aliases of the heap list stay valid.
            heap[:] = [entry for entry in heap if entry[1] in live]
            heapify(heap)
        return qty

    def expire(self) -> int:
        """End the trading day: remove every resting order.

        Returns:
            The number of orders removed. The book is empty afterwards.
        """
        n = len(self._bid_qty) + len(self._ask_qty)
        self._bids.clear()
        self._asks.clear()
        self._bid_qty.clear()
        self._ask_qty.clear()
        return n

    # ------------------------------------------------------------------ queries

    # best_bid and best_ask mirror each other on purpose: routing both through one helper costs
    # an extra call, about 70% slower (benchmarks/bench_orderbook_variants.py), and the cda
    # mechanism reads the best ask for every market order it considers.

    def best_bid(self) -> float | None:
        """Return the highest live bid price, or ``None`` if there are no bids."""
        heap = self._bids
        live = self._bid_qty
        while heap:
            top = heap[0]
            if top[1] in live:
                return -top[0]
            heappop(heap)
        return None

    def best_ask(self) -> float | None:
        """Return the lowest live ask price, or ``None`` if there are no asks."""
        heap = self._asks
        live = self._ask_qty
        while heap:
            top = heap[0]
            if top[1] in live:
                return top[0]
            heappop(heap)
        return None

    def spread(self) -> float | None:
        """Return ``best_ask - best_bid``, or ``None`` unless both sides are non-empty."""
        bid = self.best_bid()
        ask = self.best_ask()
        if bid is None or ask is None:
            return None
        return ask - bid

    def mid(self) -> float | None:
        """Return the midpoint of best bid and best ask, or ``None`` unless both exist."""
        bid = self.best_bid()
        ask = self.best_ask()
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2.0

    def depth(self, side: int, levels: int = 5) -> list[tuple[float, int]]:
        """Aggregate resting quantity per price level.

        This scans the whole side (O(n log n)); it is meant for occasional inspection, not for
        use inside matching loops.

        Args:
            side: ``BUY`` for the bid side or ``SELL`` for the ask side.
            levels: Maximum number of price levels to return.

        Returns:
            ``(price, total_qty)`` pairs, best price first (highest bid / lowest ask).

        Raises:
            ValueError: If ``side`` is invalid.
        """
        if side == 1:
            heap, live = self._bids, self._bid_qty
        elif side == -1:
            heap, live = self._asks, self._ask_qty
        else:
            raise _bad_side(side)
        totals: dict[float, int] = {}
        for key, oid, _tag in heap:
            qty = live.get(oid)
            if qty is not None:
                totals[key] = totals.get(key, 0) + qty
        keys = sorted(totals)[: max(levels, 0)]
        return [(-k if side == 1 else k, totals[k]) for k in keys]

    def resting_orders(self) -> int:
        """Return the exact number of live resting orders on both sides."""
        return len(self._bid_qty) + len(self._ask_qty)

    def __len__(self) -> int:
        return len(self._bid_qty) + len(self._ask_qty)

    # ------------------------------------------------------------------ trades

    @property
    def n_trades(self) -> int:
        """Number of fills recorded since the last :meth:`take_trades`."""
        return len(self.trade_qty)

    def take_trades(self) -> dict[str, list]:
        """Hand over the recorded fills and start new, empty trade lists.

        Returns:
            A dict mapping each trade attribute name (``"trade_price"``, ``"trade_qty"``,
            ``"trade_buy_tag"``, ``"trade_sell_tag"``, ``"trade_buy_order"``,
            ``"trade_sell_order"``, ``"trade_aggressor"``) to its list; row ``i`` of every list
            describes fill ``i``, in execution order. The book keeps no reference to them.
        """
        out = {}
        for name in _TRADE_FIELDS:
            out[name] = getattr(self, name)
            setattr(self, name, [])
        return out
