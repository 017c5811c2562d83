"""Continuous-double-auction limit order book for a single good.

Design
------
Each side of the book is a binary heap (:mod:`heapq`) of ``(key, order_id, tag)`` tuples, where
``key`` is ``-price`` for bids and ``price`` for asks. Order ids come from one increasing counter,
so the tuple order *is* price-time priority: the best price first and, within a price level, the
oldest order first (FIFO). Ids are unique, hence nothing after the id is ever compared. A bid's
tuple carries its price in a fourth slot, ``(-price, order_id, tag, price)``, so that a sell's
crossing test and its fill rows read the bid's price instead of negating the key, which allocates
a float each time (about 1% of the benchmark's CPU time).

The remaining quantity of every resting order lives in one dict (``order_id -> qty``) shared by
both sides (ids are unique), so a cancel is one dict operation. That dict is the single source of
truth for whether an order is live:

* A cancel only deletes the dict entry; the heap entry becomes stale and is discarded the next
  time it reaches the top of its heap (lazy deletion). That makes cancel O(1) instead of O(n).
* When stale heap entries outnumber live orders, both heaps are rebuilt from live entries, so
  memory and heap depth stay proportional to the live book (amortised O(1) per cancel). Only
  every 64th cancel of a resting order takes the sizes of the heaps and the dict: a cancel that
  hits pays one small-int counter instead (about 1% of the benchmark's CPU time on a stream of
  cancels of recent orders). Heap layout never changes a result: price-time priority is a total
  order, so when the heaps are rebuilt does not change which order trades.
* The number of resting orders is the size of the dict, hence always exact.

Matching walks the top of the opposite heap while the incoming order crosses, trades at the
*resting* order's price, and pops fully filled orders immediately, so after every public call the
book is uncrossed: every live bid is strictly below every live ask. Queries such as
:meth:`OrderBook.best_bid` first drop stale heap tops, so they never report a cancelled order.

:meth:`OrderBook.depth` walks a heap best-first from its root instead of scanning the side: it
visits only the entries at the price levels it returns (and their children), so its cost does not
grow with the book. It aggregates the same entries the former full scan did, hence the same
result.

The hot loop records each fill as one tuple, one ``append`` instead of seven. The columnar lists
(``trade_price``, ``trade_qty``, ...), convenient to turn into arrays, are filled from those
tuples in C (``zip``, ``list.extend``) when one is read; :meth:`OrderBook.take_trades` hands them
over and starts fresh lists so the caller can drain fills once per model step.

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

# Rebuild the heaps once they hold more than this many stale entries *and* more stale than live
# ones; the floor stops tiny books from rebuilding on almost every cancel. The test runs on every
# this-many-th cancel of a resting order (each makes at most one stale entry), so the stale entries
# never exceed max(live orders, this floor) by more than this many.
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


def _column(index: int, doc: str) -> property:
    """A read-only trade column: pending rows are moved into the columns when one is read."""

    def get(self: OrderBook) -> list:
        if self._rows:
            self._sync()
        return self._cols[index]

    return property(get, doc=doc + " A list, since the last take_trades.")


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

    __slots__ = ("_bids", "_asks", "_live", "_next_id", "_hits", "_rows", "_cols")

    def __init__(self) -> None:
        # Heaps of (-price, order_id, tag, price) and (price, order_id, tag); may hold stale
        # entries.
        self._bids: list[tuple[float, int, int, float]] = []
        self._asks: list[tuple[float, int, int]] = []
        # Live resting orders: order_id -> remaining qty. Membership here defines liveness.
        self._live: dict[int, int] = {}
        self._next_id = 1
        # Cancels of resting orders since the last compaction test (a small int: no allocation).
        self._hits = 0
        # Fills not yet moved into the columns, one tuple each: (price, qty, buy_tag, sell_tag,
        # buy_order, sell_order, aggressor). One append per fill instead of seven.
        self._rows: list[tuple] = []
        self._cols: tuple[list, ...] = tuple([] for _ in _TRADE_FIELDS)

    trade_price = _column(0, "Execution price of each fill (always the resting order's price).")
    trade_qty = _column(1, "Quantity of each fill.")
    trade_buy_tag = _column(2, "Tag of the buy order in each fill.")
    trade_sell_tag = _column(3, "Tag of the sell order in each fill.")
    trade_buy_order = _column(4, "Order id of the buy order in each fill.")
    trade_sell_order = _column(5, "Order id of the sell order in each fill.")
    trade_aggressor = _column(6, "Side (``BUY`` or ``SELL``) of the incoming order in each fill.")

    def _sync(self) -> None:
        """Move the pending fill rows into the columns (in C: ``zip`` and ``list.extend``)."""
        rows = self._rows
        for col, values in zip(self._cols, zip(*rows, strict=True), strict=True):
            col.extend(values)
        rows.clear()

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
        # numpy scalars and normalise them so trade lists hold plain Python numbers. Reading
        # ``__class__`` is cheaper than calling ``type()`` here (fewer instructions under
        # callgrind on the benchmark stream) and equivalent for the exact-type test. The price
        # test is spelled as two plain comparisons (``not price > 0.0`` also catches NaN): the
        # chained ``0.0 < price < _INF`` runs two more bytecodes.
        if qty.__class__ is not int or qty <= 0:
            qty = _check_qty(qty)
        if price.__class__ is not float or not price > 0.0 or price == _INF:
            price = _check_price(price)
        oid = self._next_id
        self._next_id = oid + 1

        # The buy and sell loops mirror each other on purpose: merging them into one loop
        # parameterised by side (heap, key sign; the side still picks the fill row's layout)
        # costs 2-5% of throughput (median per-round ratios of 15 interleaved runs of the
        # 200k-op benchmark streams, CPU time); see benchmarks/bench_orderbook_variants.py.
        # Each loop reads the top entry once per fill: unpacked up front to test whether the
        # order crosses at all (most do not), then again only after a fill that leaves
        # quantity. A fill that leaves the resting order partly filled (the commonest) ends
        # the incoming order, so that branch returns at once without updating ``qty``.
        if side == 1:
            asks = self._asks
            if asks:
                key, rid, rtag = asks[0]
                if key <= price:
                    book = self._live
                    rows = self._rows
                    while True:
                        rqty = book.get(rid, 0)
                        if rqty > qty:
                            book[rid] = rqty - qty
                            rows.append((key, qty, tag, rtag, oid, rid, 1))
                            return oid
                        if rqty:
                            del book[rid]
                            heappop(asks)
                            rows.append((key, rqty, tag, rtag, oid, rid, 1))
                            qty -= rqty
                            if not qty:
                                return oid
                        else:  # the stale entry of a cancelled order
                            heappop(asks)
                        if not asks:
                            break
                        key, rid, rtag = asks[0]
                        if key > price:
                            break
            heappush(self._bids, (-price, oid, tag, price))
            self._live[oid] = qty
        elif side == -1:
            bids = self._bids
            if bids:
                _, rid, rtag, bprice = bids[0]
                if bprice >= price:
                    book = self._live
                    rows = self._rows
                    while True:
                        rqty = book.get(rid, 0)
                        if rqty > qty:
                            book[rid] = rqty - qty
                            rows.append((bprice, qty, rtag, tag, rid, oid, -1))
                            return oid
                        if rqty:
                            del book[rid]
                            heappop(bids)
                            rows.append((bprice, rqty, rtag, tag, rid, oid, -1))
                            qty -= rqty
                            if not qty:
                                return oid
                        else:  # the stale entry of a cancelled order
                            heappop(bids)
                        if not bids:
                            break
                        _, rid, rtag, bprice = bids[0]
                        if bprice < price:
                            break
            heappush(self._asks, (price, oid, tag))
            self._live[oid] = qty
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
        if qty.__class__ is not int or qty <= 0:
            qty = _check_qty(qty)
        # Mirrored and shaped like submit_limit's loops, so the side is tested once per order.
        if side == 1:
            oid = self._next_id
            self._next_id = oid + 1
            heap = self._asks
            if heap:
                book = self._live
                rows = self._rows
                while True:
                    key, rid, rtag = heap[0]
                    rqty = book.get(rid, 0)
                    if rqty > qty:
                        book[rid] = rqty - qty
                        rows.append((key, qty, tag, rtag, oid, rid, 1))
                        return oid
                    if rqty:
                        del book[rid]
                        heappop(heap)
                        rows.append((key, rqty, tag, rtag, oid, rid, 1))
                        qty -= rqty
                        if not qty:
                            return oid
                    else:  # the stale entry of a cancelled order
                        heappop(heap)
                    if not heap:
                        break
        elif side == -1:
            oid = self._next_id
            self._next_id = oid + 1
            heap = self._bids
            if heap:
                book = self._live
                rows = self._rows
                while True:
                    _, rid, rtag, bprice = heap[0]
                    rqty = book.get(rid, 0)
                    if rqty > qty:
                        book[rid] = rqty - qty
                        rows.append((bprice, qty, rtag, tag, rid, oid, -1))
                        return oid
                    if rqty:
                        del book[rid]
                        heappop(heap)
                        rows.append((bprice, rqty, rtag, tag, rid, oid, -1))
                        qty -= rqty
                        if not qty:
                            return oid
                    else:  # the stale entry of a cancelled order
                        heappop(heap)
                    if not heap:
                        break
        else:
            raise _bad_side(side)
        return oid

    def cancel(self, order_id: int) -> int:
        """Remove a resting order.

        Args:
            order_id: Id returned by :meth:`submit_limit`.

        Returns:
            The quantity that was still resting and is now cancelled, or 0 if the order is not
            resting (unknown id, market order, already filled, cancelled or expired).
        """
        qty = self._live.pop(order_id, 0)
        # Most cancels name orders that are no longer resting: only the rest count. Taking three
        # lengths allocates ints (the sizes exceed the small-int cache), so it waits for the
        # counter.
        if qty:
            hits = self._hits + 1
            if hits == _COMPACT_MIN_STALE:
                hits = 0
                self._compact_if_stale()
            self._hits = hits
        return qty

    def _compact_if_stale(self) -> None:
        """Rebuild the heaps if stale entries outnumber both the live orders and the floor."""
        n = len(self._live)
        if len(self._bids) + len(self._asks) - n > max(n, _COMPACT_MIN_STALE):
            self._compact()

    def _compact(self) -> None:
        """Rebuild both heaps from their live entries.

        Kept out of :meth:`cancel`: a comprehension there would turn ``cancel``'s locals into
        closure cells, slowing every call.
        """
        live = self._live
        bids, asks = self._bids, self._asks
        # Rebuild in place so local aliases of the heap lists stay valid.
        bids[:] = [entry for entry in bids if entry[1] in live]
        heapify(bids)
        asks[:] = [entry for entry in asks if entry[1] in live]
        heapify(asks)

    def expire(self) -> int:
        """End the trading day: remove every resting order.

        Returns:
            The number of orders removed. The book is empty afterwards.
        """
        n = len(self._live)
        self._bids.clear()
        self._asks.clear()
        self._live.clear()
        return n

    # ------------------------------------------------------------------ queries

    # best_bid and best_ask mirror each other on purpose: routing both through one helper costs
    # an extra call, about 50% slower (benchmarks/bench_orderbook_variants.py), and the cda
    # mechanism reads the best ask for every market order it considers.

    def best_bid(self) -> float | None:
        """Return the highest live bid price, or ``None`` if there are no bids."""
        heap = self._bids
        live = self._live
        while heap:
            top = heap[0]
            if top[1] in live:
                return top[3]
            heappop(heap)
        return None

    def best_ask(self) -> float | None:
        """Return the lowest live ask price, or ``None`` if there are no asks."""
        heap = self._asks
        live = self._live
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

        Walks the side's heap best-first from its root, so it visits only the heap entries at
        the returned price levels (stale ones included), never the whole book: O(k log k) for
        ``k`` such entries, which is O(levels log levels) when each level holds one order (as in
        the cda mechanism, whose unit orders rest at distinct prices and are never cancelled).

        Args:
            side: ``BUY`` for the bid side or ``SELL`` for the ask side.
            levels: Maximum number of price levels to return.

        Returns:
            ``(price, total_qty)`` pairs, best price first (highest bid / lowest ask).

        Raises:
            ValueError: If ``side`` is invalid.
        """
        if side == 1:
            heap, sign = self._bids, -1
        elif side == -1:
            heap, sign = self._asks, 1
        else:
            raise _bad_side(side)
        live = self._live
        n = len(heap)
        out: list[tuple[float, int]] = []
        if not n or levels <= 0:
            return out
        # A heap node is never better than its parent, so repeatedly taking the best node of
        # the frontier (the children of the nodes taken so far) yields the entries in key then
        # id order. Entries are unique, so the frontier's tuples never compare their index.
        frontier = [(heap[0], 0)]
        key = total = None
        while frontier:
            entry, i = heappop(frontier)
            qty = live.get(entry[1])
            if qty is not None:
                if entry[0] == key:
                    total += qty
                else:
                    if key is not None:
                        out.append((sign * key, total))
                        if len(out) == levels:
                            return out
                    key, total = entry[0], qty
            child = 2 * i + 1
            if child < n:
                heappush(frontier, (heap[child], child))
                child += 1
                if child < n:
                    heappush(frontier, (heap[child], child))
        if key is not None:
            out.append((sign * key, total))
        return out

    def resting_orders(self) -> int:
        """Return the exact number of live resting orders on both sides."""
        return len(self._live)

    def __len__(self) -> int:
        return len(self._live)

    # ------------------------------------------------------------------ trades

    @property
    def n_trades(self) -> int:
        """Number of fills recorded since the last :meth:`take_trades`."""
        return len(self._cols[0]) + len(self._rows)

    def take_trades(self) -> dict[str, list]:
        """Hand over the recorded fills and start new, empty trade lists.

        Returns:
            A dict mapping each trade attribute name (``"trade_price"``, ``"trade_qty"``,
            ``"trade_buy_tag"``, ``"trade_sell_tag"``, ``"trade_buy_order"``,
            ``"trade_sell_order"``, ``"trade_aggressor"``) to its list; row ``i`` of every list
            describes fill ``i``, in execution order. The book keeps no reference to them.
        """
        if self._rows:
            self._sync()
        out = dict(zip(_TRADE_FIELDS, self._cols, strict=True))
        self._cols = tuple([] for _ in _TRADE_FIELDS)
        return out
