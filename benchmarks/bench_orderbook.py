"""Throughput of ``llm_market.market.orderbook.OrderBook`` against two baselines.

The reference stream
--------------------
:func:`make_stream` draws a seeded stream (``numpy.random.default_rng(seed)``) of operations:
~60% limit orders, ~20% market orders and ~20% cancels. Limit prices sit on a 0.01 tick around a
mid price that drifts as a Gaussian random walk (step sd 0.01 from 100.0); buys rest mostly below
the mid and sells mostly above (offset ``|N(0, 0.10)| - 0.03``), so a fair share of limit orders
cross on arrival. Limit quantities are uniform on 1..100, market quantities on 1..50, tags on
0..999. A cancel names a uniformly random earlier order id (so most hit orders that are already
filled or cancelled), or with ``cancel_window`` one of the last ``cancel_window`` ids (most of
those are still resting, which leaves stale heap entries behind). The stream is a list of plain
Python tuples built before any timing starts.

The baselines
-------------
* ``heapq``: :class:`BareHeapqBook`, defined below, the textbook price-time matcher with no
  extras: two :mod:`heapq` heaps of ``(key, order_id, tag)`` (``key`` = ``-price`` for bids),
  one dict of live quantities shared by both sides, lazy cancellation (a cancel only drops the
  dict entry) with no heap compaction, no input checks, and one tuple appended per fill.
* ``ABIDES``: the order book of ABIDES (``abides_markets.order_book.OrderBook`` from the
  ``abides-markets`` and ``abides-core`` packages of github.com/jpmorganchase/abides-jpmc-public),
  fed the same stream: prices in integer cents (ABIDES takes integer prices), one ``LimitOrder``
  or ``MarketOrder`` object per operation built *before* timing (ABIDES consumes them, so they are
  rebuilt for every repetition outside the timer), the owner a stub exchange whose
  ``send_message`` and ``logEvent`` do nothing, and a cancel calling ``cancel_order`` with the
  order object of that id (cancels of market-order ids are skipped: ABIDES never rests them).
  ABIDES is not on PyPI and this script fetches nothing at run time; when ``abides_markets``
  cannot be imported the ABIDES column is skipped. To include it, get a copy of that
  repository beforehand (a clone, or ``git archive`` of a mirror, into ``SRC``), install its
  two packages without dependencies into a scratch directory ``D`` outside this repository,
  ``pip install --no-deps --target D SRC/abides-core SRC/abides-markets``, and run with
  ``PYTHONPATH=.:D`` (its other imports, numpy and pandas, are already installed here). This
  repository neither contains nor depends on ABIDES.

Before timing, the script checks that the three books agree fill for fill on the stream (the
bare matcher on every trade field; ABIDES on resting id, incoming id and quantity of every fill).

Last, it times ``OrderBook.depth(side, 5)`` on both sides of a book shaped like the cda
mechanism's at the close (unit orders of ``--depth-clients`` buyers and as many sellers at
continuous prices, seeded) against the former implementation, a scan of the whole side
(:func:`full_scan_depth`), after checking both give the same levels.

Timing: contenders run interleaved in this one process, timed with :func:`time.process_time`
(CPU time, robust to other processes on this noisy 2-core machine). A round runs ours, then each
baseline followed by ours again (``O H O A O``), so every baseline run is bracketed by two runs of
ours; the round's throughput ratio for that baseline is its time over the mean of the two (ours /
baseline; above 1 means ours is faster). Every timed run directly follows an untimed run of the
same contender on the same stream: a run that directly follows another contender's pays for the
state that one left behind. Measured here, our book ran 3.9% slower right after an ABIDES run (a
second of allocating and freeing a large object graph) than right after a run of its own (48.5
against 46.7 ms, medians of 9), and ABIDES about 2% slower right after ours than after its own.
Reported are the median ops/s of each contender and, per baseline, the median of ``--repeats``
per-round ratios with their spread (min, quartiles, max), then the same median computed from the
untimed runs, each of which follows the other contender (the figure this script printed before it
paired its runs), so both are in view.

Run with ``python benchmarks/bench_orderbook.py`` (``--ops``, ``--repeats`` to change sizes).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from heapq import heappop, heappush

import numpy as np

from llm_market.market.orderbook import BUY, SELL, OrderBook

N_OPS = 200_000
REPEATS = 3
LIMIT, MARKET, CANCEL = 0, 1, 2


def make_stream(
    n: int = N_OPS, seed: int = 0, cancel_window: int | None = None
) -> list[tuple[int, int, float, int, int]]:
    """Build ``(kind, side, price, qty_or_order_id, tag)`` tuples as plain Python objects.

    Cancels pick a uniformly random previously submitted id, or, with ``cancel_window``, one of
    the last ``cancel_window`` ids (those are much more likely to still be resting).
    """
    rng = np.random.default_rng(seed)
    kinds = rng.choice([LIMIT, MARKET, CANCEL], size=n, p=[0.6, 0.2, 0.2])
    sides = np.where(rng.random(n) < 0.5, BUY, SELL)
    mid = 100.0 + np.cumsum(rng.normal(0.0, 0.01, size=n))
    # Buys are placed mostly below the mid and sells mostly above, with enough spread that a
    # fair share of limit orders cross and trade on arrival.
    offset = np.abs(rng.normal(0.0, 0.10, size=n)) - 0.03
    prices = np.round(mid - sides * offset, 2)
    prices = np.maximum(prices, 0.01)
    qtys = rng.integers(1, 101, size=n)
    mkt_qtys = rng.integers(1, 51, size=n)
    tags = rng.integers(0, 1000, size=n)
    cancel_u = rng.random(n)

    stream = []
    submitted = 0  # OrderBook ids are 1, 2, 3, ... over limit and market orders
    for kind, side, price, qty, mqty, tag, u in zip(
        kinds.tolist(),
        sides.tolist(),
        prices.tolist(),
        qtys.tolist(),
        mkt_qtys.tolist(),
        tags.tolist(),
        cancel_u.tolist(),
        strict=True,
    ):
        if kind == LIMIT:
            submitted += 1
            stream.append((LIMIT, side, price, qty, tag))
        elif kind == MARKET:
            submitted += 1
            stream.append((MARKET, side, 0.0, mqty, tag))
        elif submitted:
            span = submitted if cancel_window is None else min(cancel_window, submitted)
            stream.append((CANCEL, 0, 0.0, submitted - int(u * span), 0))
    return stream


def run(
    stream: list[tuple[int, int, float, int, int]],
    book_cls: type = OrderBook,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, OrderBook, int]:
    """Feed the stream through a fresh ``book_cls()``; return seconds by ``clock``, the book and
    its number of trades. ``benchmarks/bench_orderbook_variants.py`` passes other book classes
    and CPU time."""
    book = book_cls()
    limit = book.submit_limit
    market = book.submit_market
    cancel = book.cancel
    t0 = clock()
    for kind, side, price, qty, tag in stream:
        if kind == 0:
            limit(side, price, qty, tag)
        elif kind == 1:
            market(side, qty, tag)
        else:
            cancel(qty)
    elapsed = clock() - t0
    return elapsed, book, book.n_trades


class BareHeapqBook:
    """The bare heapq baseline (module docstring): same matching rule, nothing else."""

    def __init__(self) -> None:
        self.bids: list[tuple[float, int, int]] = []
        self.asks: list[tuple[float, int, int]] = []
        self.live: dict[int, int] = {}
        self.next_id = 1
        # (price, qty, buy_tag, sell_tag, buy_order, sell_order, aggressor) per fill.
        self.trades: list[tuple] = []

    @property
    def n_trades(self) -> int:
        """Number of fills so far."""
        return len(self.trades)

    def submit_limit(self, side: int, price: float, qty: int, tag: int) -> int:
        """Match what crosses, rest the remainder; return the order id."""
        oid = self.next_id
        self.next_id = oid + 1
        live = self.live
        trades = self.trades
        if side == 1:
            heap = self.asks
            while heap and heap[0][0] <= price:
                key, rid, rtag = heap[0]
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
                trades.append((key, fill, tag, rtag, oid, rid, 1))
                qty -= fill
                if not qty:
                    return oid
            heappush(self.bids, (-price, oid, tag))
        else:
            heap = self.bids
            while heap and heap[0][0] <= -price:
                key, rid, rtag = heap[0]
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
                trades.append((-key, fill, rtag, tag, rid, oid, -1))
                qty -= fill
                if not qty:
                    return oid
            heappush(self.asks, (price, oid, tag))
        live[oid] = qty
        return oid

    def submit_market(self, side: int, qty: int, tag: int) -> int:
        """Match at resting prices, discard the remainder; return the order id."""
        oid = self.next_id
        self.next_id = oid + 1
        live = self.live
        trades = self.trades
        heap = self.asks if side == 1 else self.bids
        while heap:
            key, rid, rtag = heap[0]
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
            if side == 1:
                trades.append((key, fill, tag, rtag, oid, rid, 1))
            else:
                trades.append((-key, fill, rtag, tag, rid, oid, -1))
            qty -= fill
            if not qty:
                break
        return oid

    def cancel(self, order_id: int) -> int:
        """Drop a resting order; return its remaining quantity (0 if not resting)."""
        return self.live.pop(order_id, 0)


# ----------------------------------------------------------------------------- ABIDES


def load_abides():
    """Return ABIDES's ``(OrderBook, LimitOrder, MarketOrder, Side)``, or ``None`` if absent."""
    try:
        from abides_markets.order_book import OrderBook as AbidesBook
        from abides_markets.orders import LimitOrder, MarketOrder, Side
    except ImportError:
        return None
    return AbidesBook, LimitOrder, MarketOrder, Side


class _StubExchange:
    """The owner ABIDES's book requires, with messaging and event logging switched off."""

    def __init__(self) -> None:
        self.current_time = 0
        self.mkt_open = 0
        self.book_logging = None
        self.stream_history = 10

    def send_message(self, *args, **kwargs) -> None:
        pass

    def logEvent(self, *args, **kwargs) -> None:  # noqa: N802 - ABIDES's name
        pass


def abides_ops(stream: list[tuple], abides) -> list[tuple[int, object]]:
    """Translate the stream into ABIDES order objects: ``(kind, order)`` pairs."""
    _, limit_order, market_order, side_enum = abides
    ops = []
    orders = {}  # order id -> the LimitOrder a later cancel names
    oid = 0
    for kind, side, price, qty, tag in stream:
        if kind == CANCEL:
            order = orders.get(qty)
            if order is not None:
                ops.append((CANCEL, order))
            continue
        oid += 1
        s = side_enum.BID if side == BUY else side_enum.ASK
        if kind == LIMIT:
            order = limit_order(tag, 0, "X", qty, s, round(price * 100), order_id=oid)
            orders[oid] = order
        else:
            order = market_order(tag, 0, "X", qty, s, order_id=oid)
        ops.append((kind, order))
    return ops


def run_abides(ops: list[tuple[int, object]], abides, clock: Callable[[], float]) -> tuple:
    """Feed the translated stream through a fresh ABIDES book; return seconds and the book."""
    book = abides[0](_StubExchange(), "X")
    limit, market, cancel = book.handle_limit_order, book.handle_market_order, book.cancel_order
    t0 = clock()
    for kind, order in ops:
        if kind == LIMIT:
            limit(order)
        elif kind == MARKET:
            market(order)
        else:
            cancel(order)
    return clock() - t0, book


# ----------------------------------------------------------------------------- checks


def our_rows(book: OrderBook) -> list[tuple]:
    """Every fill of our book as ``(price, qty, buy_tag, sell_tag, buy_id, sell_id, side)``."""
    t = book.take_trades()
    return list(
        zip(
            t["trade_price"],
            t["trade_qty"],
            t["trade_buy_tag"],
            t["trade_sell_tag"],
            t["trade_buy_order"],
            t["trade_sell_order"],
            t["trade_aggressor"],
            strict=True,
        )
    )


def check_agreement(stream: list[tuple], abides) -> int:
    """Raise ``SystemExit`` unless the books agree fill for fill; return the number of fills."""
    _, ours, _ = run(stream)
    rows = our_rows(ours)
    _, bare, _ = run(stream, BareHeapqBook)
    if bare.trades != rows:
        raise SystemExit("the bare heapq matcher disagrees with OrderBook")
    if abides is not None:
        _, book = run_abides(abides_ops(stream, abides), abides, time.perf_counter)
        # (resting id, incoming id, qty) of every ABIDES execution, in order.
        got = [
            (h["order_id"], h["oppos_order_id"], h["quantity"])
            for h in book.history
            if h["type"] == "EXEC"
        ]
        want = [
            (sell, buy, q) if side == BUY else (buy, sell, q)
            for _, q, _, _, buy, sell, side in rows
        ]
        if got != want:
            raise SystemExit("ABIDES's book disagrees with OrderBook")
    return len(rows)


# ----------------------------------------------------------------------------- depth


def full_scan_depth(book: OrderBook, side: int, levels: int) -> list[tuple[float, int]]:
    """``depth`` as the book computed it before: aggregate every heap entry, then sort."""
    heap, live = (book._bids, book._live) if side == BUY else (book._asks, book._live)
    totals: dict[float, int] = {}
    for entry in heap:  # a bid's entry also carries its price, after the tag
        key, oid = entry[0], entry[1]
        qty = live.get(oid)
        if qty is not None:
            totals[key] = totals.get(key, 0) + qty
    keys = sorted(totals)[: max(levels, 0)]
    return [(-k if side == BUY else k, totals[k]) for k in keys]


def cda_close_book(n_clients: int, seed: int = 0) -> OrderBook:
    """A book shaped like the cda mechanism's at the close: unit orders of ``n_clients``
    buyers and as many sellers at continuous prices, half of them crossed and traded."""
    rng = np.random.default_rng(seed)
    book = OrderBook()
    asks = rng.uniform(0.2, 1.0, n_clients).tolist()
    bids = rng.uniform(0.0, 0.8, n_clients).tolist()
    for i in rng.permutation(2 * n_clients).tolist():
        if i < n_clients:
            book.submit_limit(SELL, asks[i], 1, i)
        else:
            book.submit_limit(BUY, bids[i - n_clients], 1, i - n_clients)
    book.take_trades()
    return book


def bench_depth(n_clients: int, repeats: int, levels: int = 5) -> None:
    """Time ``depth`` on both sides against the former full scan, interleaved, CPU time."""
    book = cda_close_book(n_clients)
    for side in (BUY, SELL):
        if book.depth(side, levels) != full_scan_depth(book, side, levels):
            raise SystemExit("depth disagrees with the full scan")
    times: dict[str, list[float]] = {"depth": [], "full scan": []}
    inner = 200  # calls per timing, so each timing is well above the clock's resolution
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(inner):
            book.depth(BUY, levels)
            book.depth(SELL, levels)
        times["depth"].append((time.process_time() - t0) / inner)
        t0 = time.process_time()
        for _ in range(max(inner // 100, 1)):
            full_scan_depth(book, BUY, levels)
            full_scan_depth(book, SELL, levels)
        times["full scan"].append((time.process_time() - t0) / max(inner // 100, 1))
    new, old = statistics.median(times["depth"]), statistics.median(times["full scan"])
    print(
        f"depth({levels}) of both sides, cda-like close book of {n_clients:,} buyers and sellers "
        f"({len(book):,} resting): {new * 1e6:,.1f} us against {old * 1e6:,.0f} us for the "
        f"former full scan ({old / new:,.0f}x), median of {repeats}"
    )


# ----------------------------------------------------------------------------- timing


def compare(
    stream: list[tuple], abides, repeats: int
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, list[float]]]:
    """Time the contenders on ``stream`` in ``repeats`` interleaved rounds (CPU seconds).

    Each round runs ``OrderBook``, then each baseline followed by ``OrderBook`` again (``O H O``
    or ``O H O A O`` with ABIDES), so every baseline run is bracketed by two runs of ours and
    its ratio for the round is its time over the mean of those two: a change of machine speed
    that lasts about a run (other processes share this 2-core machine) hits both sides. Each
    of those runs is timed right after an untimed run of the same contender (module docstring).

    Returns:
        The times of every timed run by contender, each baseline's per-round throughput ratios
        (ours / baseline, above 1 when ours is faster), and the same ratios computed from the
        untimed runs, each of which directly follows another contender's run.
    """
    clock = time.process_time

    def ours() -> float:
        return run(stream, OrderBook, clock)[0]

    baselines: dict[str, Callable[[], float]] = {
        "heapq": lambda: run(stream, BareHeapqBook, clock)[0],
    }
    if abides is not None:

        def abides_timer() -> float:
            ops = abides_ops(stream, abides)  # consumed by a run, so built afresh, untimed
            return run_abides(ops, abides, clock)[0]

        baselines["ABIDES"] = abides_timer
    times: dict[str, list[float]] = {"OrderBook": [], **{name: [] for name in baselines}}
    ratios: dict[str, list[float]] = {name: [] for name in baselines}
    unpaired: dict[str, list[float]] = {name: [] for name in baselines}

    def timed(name: str, timer: Callable[[], float]) -> tuple[float, float]:
        """Run ``timer`` twice; keep the second (timed) run, return both times."""
        gc.collect()
        first = timer()  # follows another contender's run: reported apart, not in ``times``
        gc.collect()
        t = timer()
        times[name].append(t)
        return first, t

    for _ in range(repeats):
        before = timed("OrderBook", ours)
        for name, timer in baselines.items():
            t = timed(name, timer)
            after = timed("OrderBook", ours)
            ratios[name].append(t[1] / ((before[1] + after[1]) / 2))
            unpaired[name].append(t[0] / ((before[0] + after[0]) / 2))
            before = after
    return times, ratios, unpaired


def report(
    label: str,
    n_ops: int,
    timing: tuple[dict[str, list[float]], dict[str, list[float]], dict[str, list[float]]],
) -> None:
    """Print median ops/s of each contender and the per-round ratios against each baseline:
    their median and their spread over the rounds (min, quartiles, max), and the median ratio of
    the untimed runs that follow another contender's."""
    times, ratios, unpaired = timing
    print(f"{label}: {len(next(iter(ratios.values())))} interleaved rounds, CPU time")
    for name, t in times.items():
        print(f"  {name:10s} {n_ops / statistics.median(t):>12,.0f} ops/s (median of {len(t)})")
    for name, r in ratios.items():
        r = sorted(r)
        q1, _, q3 = statistics.quantiles(r, n=4) if len(r) > 1 else r * 3
        print(
            f"  OrderBook / {name} throughput: {statistics.median(r):.3f} median of per-round "
            f"ratios (min {r[0]:.3f}, quartiles {q1:.3f}-{q3:.3f}, max {r[-1]:.3f}); "
            f"{statistics.median(unpaired[name]):.3f} from the runs right after the other's"
        )


def main() -> None:
    """Check agreement, then time OrderBook, the bare heapq matcher and ABIDES interleaved."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=100_000, help="operations per stream")
    parser.add_argument("--repeats", type=int, default=11, help="interleaved rounds")
    parser.add_argument(
        "--depth-clients", type=int, default=150_000, help="buyers (and sellers) in the depth test"
    )
    args = parser.parse_args()
    abides = load_abides()
    if abides is None:
        print("ABIDES (abides_markets) is not importable: skipping it; see the module docstring")
    streams = {
        "uniform cancels": make_stream(args.ops),
        "cancels of last 200 ids": make_stream(args.ops, cancel_window=200),
    }
    for label, stream in streams.items():
        kinds = [op[0] for op in stream]
        n_fills = check_agreement(stream, abides)
        print(
            f"stream '{label}': {len(stream):,} ops ({kinds.count(LIMIT):,} limit, "
            f"{kinds.count(MARKET):,} market, {kinds.count(CANCEL):,} cancel), {n_fills:,} "
            f"fills; {'all three' if abides else 'both'} books agree fill for fill"
        )
    # The streams are long-lived; freezing them keeps the cyclic collector from re-scanning
    # their tuples in whichever run happens to trigger a full collection.
    gc.collect()
    gc.freeze()
    for label, stream in streams.items():
        report(label, len(stream), compare(stream, abides, args.repeats))
    bench_depth(args.depth_clients, args.repeats)


if __name__ == "__main__":
    main()
