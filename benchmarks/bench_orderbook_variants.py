"""Does merging the order book's mirrored buy/sell code cost speed?

``OrderBook.submit_limit`` has two mirrored matching loops (a buy walks the ask heap, a sell the
bid heap) and ``best_bid``/``best_ask`` are mirrored too. This script times the shipped book
against merged variants defined here, kept out of the package:

* ``merged``: one matching loop in ``submit_limit`` parameterised by side (the opposite heap,
  the sign of its key; a fill row lists the buyer first, so the side still picks the row's
  layout). Each side's aliases are prebuilt in one tuple, the cheapest merged form found;
  setting them up on every call instead, or sharing one ``_match`` method with
  ``submit_market``, cost more still.
* ``merged-best``: ``best_bid``/``best_ask`` delegate to one ``_best`` helper.

The noisy 2-core machine this runs on makes wall time swing, so the contenders run in this one
process, interleaved (A, B, A, B, ... with the first of each round rotating), timed with
:func:`time.process_time` (CPU time), and the median of ``REPEATS`` runs is reported, along with
the median of the per-round time ratios. It prints numbers only; the single check is that the
merged book produces the very same trades as the shipped one.

The variants subclass :class:`OrderBook` and so work on its internals (and reuse its input
checks): this is a white-box comparison of implementations, not a user of the book.

Run with ``python benchmarks/bench_orderbook_variants.py``.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from heapq import heappop, heappush

from bench_orderbook import make_stream, run

from llm_market.market.orderbook import OrderBook, _check_price, _check_qty

REPEATS = 15
N_QUOTES = 200_000
_INF = float("inf")


class MergedBook(OrderBook):
    """``submit_limit`` with one matching loop for both sides."""

    __slots__ = ("_as_buyer", "_as_seller")

    def __init__(self) -> None:
        super().__init__()
        # (sign, opposite heap, its live dict, own heap, own live dict).
        self._as_buyer = (1, self._asks, self._live, self._bids, self._live)
        self._as_seller = (-1, self._bids, self._live, self._asks, self._live)

    def submit_limit(self, side: int, price: float, qty: int, tag: int) -> int:
        """Same contract as :meth:`OrderBook.submit_limit`."""
        if type(qty) is not int or qty <= 0:
            qty = _check_qty(qty)
        if type(price) is not float or not 0.0 < price < _INF:
            price = _check_price(price)
        if side == 1:
            ctx = self._as_buyer
        elif side == -1:
            ctx = self._as_seller
        else:
            raise ValueError(f"side must be BUY (1) or SELL (-1), got {side!r}")
        sign, heap, live, own_heap, own_live = ctx
        oid = self._next_id
        self._next_id = oid + 1
        # The opposite heap's keys are sign * resting price, so the order crosses while
        # key <= sign * price; its own heap's key is -sign * price. ``sign`` is a plain int even
        # for a numpy ``side``, so keys and trade columns stay Python numbers.
        limit = sign * price
        rows = self._rows
        while heap:
            key, rid, rtag = heap[0]
            if key > limit:
                break
            rqty = live.get(rid)
            if rqty is None:
                heappop(heap)
                continue
            if rqty <= qty:
                fill = rqty
                del live[rid]
                heappop(heap)
            else:
                fill = qty
                live[rid] = rqty - qty
            # A fill row lists the buyer before the seller, so the side decides the order.
            if sign == 1:
                rows.append((key, fill, tag, rtag, oid, rid, 1))
            else:
                rows.append((-key, fill, rtag, tag, rid, oid, -1))
            qty -= fill
            if not qty:
                return oid
        heappush(own_heap, (-limit, oid, tag))
        own_live[oid] = qty
        return oid


class MergedBestBook(OrderBook):
    """``best_bid``/``best_ask`` through one helper."""

    __slots__ = ()

    @staticmethod
    def _best(heap: list, live: dict, sign: int) -> float | None:
        while heap:
            top = heap[0]
            if top[1] in live:
                return sign * top[0]
            heappop(heap)
        return None

    def best_bid(self) -> float | None:
        """Same contract as :meth:`OrderBook.best_bid`."""
        return self._best(self._bids, self._live, -1)

    def best_ask(self) -> float | None:
        """Same contract as :meth:`OrderBook.best_ask`."""
        return self._best(self._asks, self._live, 1)


def time_quotes(book_cls: type[OrderBook], stream: list) -> float:
    """CPU seconds for ``N_QUOTES`` ``best_bid()`` + ``best_ask()`` pairs on a book built from
    ``stream`` (what a mechanism does when it reads the quotes)."""
    _, book, _ = run(stream, book_cls)
    best_bid, best_ask = book.best_bid, book.best_ask
    t0 = time.process_time()
    for _ in range(N_QUOTES):
        best_bid()
        best_ask()
    return time.process_time() - t0


def trade_rows(book: OrderBook) -> list[tuple]:
    """Every recorded fill as one tuple, for an exact comparison between variants."""
    return list(zip(*book.take_trades().values(), strict=True))


def interleaved(
    contenders: dict[str, type[OrderBook]], timer: Callable[[type[OrderBook]], float]
) -> dict[str, list[float]]:
    """Run ``timer(cls)`` for each contender in turn, ``REPEATS`` rounds; CPU seconds each."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    timer(OrderBook)  # warm-up outside the timed rounds
    for i in range(REPEATS):
        # Rotate who goes first so no contender always runs right after the same neighbour.
        for name in names[i % len(names) :] + names[: i % len(names)]:
            times[name].append(timer(contenders[name]))
    return times


def report(title: str, times: dict[str, list[float]], n_ops: int, unit: str) -> None:
    """Print each contender's median rate and its cost relative to the first contender."""
    print(f"{title} (median of {REPEATS} interleaved runs each, CPU time)")
    names = list(times)
    base = statistics.median(times[names[0]])
    for name in names:
        med = statistics.median(times[name])
        # Ratios within a round pair runs made moments apart, which cancels slow load swings.
        paired = statistics.median(t / b for t, b in zip(times[name], times[names[0]], strict=True))
        print(
            f"  {name:12s} {n_ops / med:>11,.0f} {unit}   time / mirrored: {med / base:.3f} "
            f"(median of per-round ratios {paired:.3f})"
        )


def main() -> None:
    """Check that the merged book agrees with the shipped one, then time them interleaved."""
    streams = {
        "uniform cancels": make_stream(),
        "cancels of last 200 ids": make_stream(cancel_window=200),
    }
    for label, stream in streams.items():
        _, ref, _ = run(stream)
        _, book, _ = run(stream, MergedBook)
        rows = trade_rows(ref)
        if trade_rows(book) != rows or len(book) != len(ref):
            raise SystemExit(f"the merged book disagrees with the shipped one on {label}")
        print(f"stream '{label}': {len(stream):,} ops, {len(rows):,} trades; both books agree")

    # The streams are long-lived; freezing them keeps the cyclic collector from re-scanning
    # their 400k tuples in whichever run happens to trigger a full collection.
    gc.collect()
    gc.freeze()
    matchers = {"mirrored": OrderBook, "merged": MergedBook}
    for label, stream in streams.items():
        times = interleaved(matchers, lambda cls, s=stream: run(s, cls, time.process_time)[0])
        report(f"order entry, {label}", times, len(stream), "ops/s")

    quotes = {"mirrored": OrderBook, "merged-best": MergedBestBook}
    times = interleaved(quotes, lambda cls: time_quotes(cls, streams["uniform cancels"]))
    report("best_bid() + best_ask()", times, N_QUOTES, "pairs/s")


if __name__ == "__main__":
    main()
