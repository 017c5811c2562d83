"""Throughput benchmark for ``llm_market.market.orderbook.OrderBook``.

Generates a seeded stream of 200,000 operations (~60% limit, ~20% market, ~20% cancel) around a
drifting mid price on a 0.01 tick and reports the best of three timed runs.

Run with ``python benchmarks/bench_orderbook.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

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
    book_cls: type[OrderBook] = OrderBook,
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


def bench(stream: list[tuple[int, int, float, int, int]]) -> tuple[float, OrderBook, int]:
    """Best-of-``REPEATS`` throughput in ops/s, with the last run's book and trade count."""
    best = float("inf")
    for _ in range(REPEATS):
        elapsed, book, n_trades = run(stream)
        best = min(best, elapsed)
    return len(stream) / best, book, n_trades


def main() -> None:
    """Run the benchmark and print throughput."""
    stream = make_stream()
    kinds = [op[0] for op in stream]
    print(
        f"stream: {len(stream):,} ops ({kinds.count(LIMIT):,} limit, {kinds.count(MARKET):,} "
        f"market, {kinds.count(CANCEL):,} cancel of uniformly random earlier ids)"
    )
    rate, book, n_trades = bench(stream)
    print(f"orderbook: {rate:,.0f} orders/s (best of {REPEATS})")
    print(
        f"trades: {n_trades:,}; resting at end: {len(book):,}; "
        f"bid/ask: {book.best_bid()} / {book.best_ask()}"
    )
    # Uniform cancels mostly hit dead orders (cheap no-ops); also time a stream whose cancels
    # target recent ids, so many of them remove live orders and leave stale heap entries.
    rate, book, n_trades = bench(make_stream(cancel_window=200))
    print(
        f"orderbook (cancels of last 200 ids): {rate:,.0f} orders/s (best of {REPEATS}); "
        f"trades: {n_trades:,}"
    )


if __name__ == "__main__":
    main()
