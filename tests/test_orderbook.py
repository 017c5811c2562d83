"""Tests for the continuous-double-auction limit order book."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_market.market.orderbook import BUY, SELL, OrderBook

FIELDS = (
    "trade_price",
    "trade_qty",
    "trade_buy_tag",
    "trade_sell_tag",
    "trade_buy_order",
    "trade_sell_order",
    "trade_aggressor",
)


def trades(book: OrderBook) -> list[tuple]:
    """Rows (price, qty, buy_tag, sell_tag, buy_order, sell_order, aggressor) since last drain."""
    return list(zip(*(getattr(book, f) for f in FIELDS), strict=True))


def assert_heap(heap: list) -> None:
    """White-box check of the heap invariant (parent <= children)."""
    for i in range(1, len(heap)):
        assert heap[(i - 1) // 2] <= heap[i]


def assert_uncrossed(book: OrderBook) -> None:
    bid, ask = book.best_bid(), book.best_ask()
    if bid is not None and ask is not None:
        assert bid < ask


# --------------------------------------------------------------------------- limit orders


def test_empty_book():
    book = OrderBook()
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert book.spread() is None
    assert book.mid() is None
    assert book.depth(BUY) == []
    assert book.depth(SELL) == []
    assert len(book) == 0
    assert book.resting_orders() == 0
    assert book.n_trades == 0


def test_limit_orders_rest_without_crossing():
    book = OrderBook()
    b = book.submit_limit(BUY, 99.0, 5, tag=1)
    a = book.submit_limit(SELL, 101.0, 7, tag=2)
    assert (b, a) == (1, 2)
    assert book.best_bid() == 99.0
    assert book.best_ask() == 101.0
    assert book.spread() == 2.0
    assert book.mid() == 100.0
    assert len(book) == 2
    assert book.n_trades == 0


def test_order_ids_increase_across_order_types():
    book = OrderBook()
    ids = [
        book.submit_limit(BUY, 99.0, 1, 0),
        book.submit_market(SELL, 1, 0),
        book.submit_limit(SELL, 100.0, 1, 0),
        book.submit_market(BUY, 5, 0),
    ]
    assert ids == sorted(ids)
    assert len(set(ids)) == 4


def test_limit_crossing_trades_at_resting_price():
    book = OrderBook()
    a = book.submit_limit(SELL, 100.0, 5, tag=10)
    b = book.submit_limit(BUY, 103.0, 5, tag=20)
    assert trades(book) == [(100.0, 5, 20, 10, b, a, BUY)]
    assert len(book) == 0

    book = OrderBook()
    b = book.submit_limit(BUY, 100.0, 5, tag=20)
    a = book.submit_limit(SELL, 97.0, 5, tag=10)
    assert trades(book) == [(100.0, 5, 20, 10, b, a, SELL)]
    assert len(book) == 0


def test_limit_at_equal_price_crosses():
    book = OrderBook()
    book.submit_limit(SELL, 100.0, 3, tag=1)
    book.submit_limit(BUY, 100.0, 3, tag=2)
    assert book.trade_qty == [3]
    assert len(book) == 0


def test_partial_fill_incoming_larger_rests_remainder():
    book = OrderBook()
    book.submit_limit(SELL, 100.0, 3, tag=1)
    b = book.submit_limit(BUY, 101.0, 10, tag=2)
    assert book.trade_qty == [3]
    assert book.best_ask() is None
    assert book.best_bid() == 101.0
    assert book.depth(BUY) == [(101.0, 7)]
    assert book.cancel(b) == 7


def test_partial_fill_resting_larger_keeps_remainder():
    book = OrderBook()
    a = book.submit_limit(SELL, 100.0, 10, tag=1)
    book.submit_limit(BUY, 101.0, 4, tag=2)
    assert book.trade_qty == [4]
    assert book.trade_price == [100.0]
    assert book.best_bid() is None
    assert book.depth(SELL) == [(100.0, 6)]
    assert len(book) == 1
    assert book.cancel(a) == 6


def test_sweep_multiple_levels_price_priority():
    book = OrderBook()
    a3 = book.submit_limit(SELL, 103.0, 1, tag=3)
    a1 = book.submit_limit(SELL, 101.0, 1, tag=1)
    a2 = book.submit_limit(SELL, 102.0, 1, tag=2)
    b = book.submit_limit(BUY, 102.5, 5, tag=9)
    assert trades(book) == [
        (101.0, 1, 9, 1, b, a1, BUY),
        (102.0, 1, 9, 2, b, a2, BUY),
    ]
    assert book.best_bid() == 102.5
    assert book.depth(BUY) == [(102.5, 3)]
    assert book.best_ask() == 103.0
    assert book.cancel(a3) == 1


def test_bid_price_priority():
    book = OrderBook()
    b1 = book.submit_limit(BUY, 98.0, 1, tag=1)
    b2 = book.submit_limit(BUY, 99.0, 1, tag=2)
    s = book.submit_limit(SELL, 90.0, 2, tag=3)
    assert book.trade_buy_order == [b2, b1]
    assert book.trade_price == [99.0, 98.0]
    assert book.trade_sell_order == [s, s]
    assert book.depth(SELL) == []
    assert len(book) == 0


def test_time_priority_fifo_at_same_price():
    book = OrderBook()
    first = book.submit_limit(BUY, 100.0, 2, tag=1)
    second = book.submit_limit(BUY, 100.0, 2, tag=2)
    third = book.submit_limit(BUY, 100.0, 2, tag=3)
    book.submit_limit(SELL, 100.0, 3, tag=9)
    assert book.trade_buy_order == [first, second]
    assert book.trade_qty == [2, 1]
    # The partially filled order keeps its place at the front of the queue.
    book.submit_limit(SELL, 100.0, 2, tag=9)
    assert book.trade_buy_order == [first, second, second, third]
    assert book.trade_qty == [2, 1, 1, 1]


def test_self_trade_is_allowed():
    book = OrderBook()
    book.submit_limit(SELL, 100.0, 1, tag=5)
    book.submit_limit(BUY, 100.0, 1, tag=5)
    assert trades(book)[0][2:4] == (5, 5)


# --------------------------------------------------------------------------- market orders


def test_market_order_against_empty_book():
    book = OrderBook()
    oid = book.submit_market(BUY, 10, tag=1)
    assert oid == 1
    assert book.n_trades == 0
    assert len(book) == 0
    assert book.cancel(oid) == 0


def test_market_order_sweeps_and_discards_remainder():
    book = OrderBook()
    a1 = book.submit_limit(SELL, 101.0, 2, tag=1)
    a2 = book.submit_limit(SELL, 102.0, 3, tag=2)
    m = book.submit_market(BUY, 10, tag=7)
    assert trades(book) == [
        (101.0, 2, 7, 1, m, a1, BUY),
        (102.0, 3, 7, 2, m, a2, BUY),
    ]
    assert len(book) == 0
    assert book.best_bid() is None  # remainder was discarded, not rested
    assert book.cancel(m) == 0


def test_market_order_partial_of_resting():
    book = OrderBook()
    b = book.submit_limit(BUY, 99.0, 10, tag=1)
    m = book.submit_market(SELL, 4, tag=2)
    assert trades(book) == [(99.0, 4, 1, 2, b, m, SELL)]
    assert book.depth(BUY) == [(99.0, 6)]


# --------------------------------------------------------------------------- cancel / expire


def test_cancel_resting_order():
    book = OrderBook()
    b = book.submit_limit(BUY, 99.0, 5, tag=1)
    book.submit_limit(BUY, 98.0, 5, tag=1)
    assert book.cancel(b) == 5
    assert book.best_bid() == 98.0
    assert len(book) == 1


def test_cancel_partially_filled_returns_remainder():
    book = OrderBook()
    a = book.submit_limit(SELL, 100.0, 10, tag=1)
    book.submit_market(BUY, 3, tag=2)
    assert book.cancel(a) == 7
    assert book.best_ask() is None


def test_cancel_unknown_filled_and_twice():
    book = OrderBook()
    assert book.cancel(12345) == 0
    a = book.submit_limit(SELL, 100.0, 1, tag=1)
    book.submit_limit(BUY, 100.0, 1, tag=2)
    assert book.cancel(a) == 0  # filled
    c = book.submit_limit(SELL, 100.0, 4, tag=1)
    assert book.cancel(c) == 4
    assert book.cancel(c) == 0
    assert len(book) == 0


def test_cancelled_order_is_skipped_when_matching():
    book = OrderBook()
    a1 = book.submit_limit(SELL, 100.0, 1, tag=1)
    a2 = book.submit_limit(SELL, 101.0, 1, tag=2)
    book.cancel(a1)
    assert book.best_ask() == 101.0
    book.submit_limit(BUY, 101.0, 1, tag=3)
    assert book.trade_sell_order == [a2]


def test_many_cancels_compact_heap():
    book = OrderBook()
    ids = [book.submit_limit(BUY, 50.0 + i % 7, 1, tag=i) for i in range(1000)]
    for oid in ids[:-3]:
        assert book.cancel(oid) == 1
    assert len(book) == 3
    assert len(book._bids) < 200  # stale entries were dropped
    assert book.depth(BUY, levels=10) == sorted(
        [(50.0 + i % 7, 1) for i in range(997, 1000)], reverse=True
    )


def test_expire_removes_everything():
    book = OrderBook()
    book.submit_limit(BUY, 99.0, 5, tag=1)
    b2 = book.submit_limit(BUY, 98.0, 5, tag=1)
    a = book.submit_limit(SELL, 101.0, 5, tag=1)
    book.submit_limit(SELL, 102.0, 5, tag=1)
    book.cancel(a)
    assert book.expire() == 3
    assert len(book) == 0
    assert book.best_bid() is None and book.best_ask() is None
    assert book.cancel(b2) == 0
    assert book.expire() == 0
    # Ids keep increasing after expiry.
    assert book.submit_limit(BUY, 99.0, 1, tag=1) == 5


# --------------------------------------------------------------------------- depth / trades


def test_depth_aggregates_levels_best_first():
    book = OrderBook()
    for price, qty in [(99.0, 1), (98.0, 2), (99.0, 3), (97.0, 4), (96.0, 5), (95.0, 6)]:
        book.submit_limit(BUY, price, qty, tag=0)
    for price, qty in [(101.0, 1), (102.0, 2), (101.0, 3)]:
        book.submit_limit(SELL, price, qty, tag=0)
    assert book.depth(BUY) == [(99.0, 4), (98.0, 2), (97.0, 4), (96.0, 5), (95.0, 6)]
    assert book.depth(BUY, levels=2) == [(99.0, 4), (98.0, 2)]
    assert book.depth(SELL) == [(101.0, 4), (102.0, 2)]
    assert book.depth(SELL, levels=0) == []


def test_depth_walks_only_the_best_levels_and_agrees_with_a_full_scan():
    # Many orders per level, stale entries among them, and more levels than asked for: the
    # best-first walk must aggregate exactly what a scan of every live order would.
    rng = np.random.default_rng(3)
    book = OrderBook()
    ref = ReferenceBook()
    ids = []
    for _ in range(3000):
        side = BUY if rng.random() < 0.5 else SELL
        price = float(100 - side * int(rng.integers(1, 40)))
        qty = int(rng.integers(1, 9))
        ids.append(book.submit_limit(side, price, qty, 0))
        ref.submit_limit(side, price, qty, 0)
    for oid in rng.choice(ids, size=1200, replace=False).tolist():
        assert book.cancel(oid) == ref.cancel(oid)
    for side in (BUY, SELL):
        for levels in (1, 2, 5, 17, 39, 40, 1000):
            assert book.depth(side, levels) == ref.depth(side, levels)


def test_trade_columns_follow_fills_between_reads():
    book = OrderBook()
    book.submit_limit(SELL, 100.0, 3, tag=1)
    book.submit_market(BUY, 1, tag=2)
    prices = book.trade_price
    assert prices == [100.0] and book.n_trades == 1
    book.submit_limit(BUY, 100.0, 1, tag=3)
    # Reading any column brings every column up to date, in fill order.
    assert book.trade_buy_tag == [2, 3]
    assert book.trade_price is prices and prices == [100.0, 100.0]
    assert book.n_trades == 2


def test_take_trades_drains():
    book = OrderBook()
    book.submit_limit(SELL, 100.0, 2, tag=1)
    book.submit_market(BUY, 1, tag=2)
    book.submit_market(BUY, 1, tag=3)
    assert book.n_trades == 2
    out = book.take_trades()
    assert set(out) == set(FIELDS)
    assert out["trade_qty"] == [1, 1]
    assert out["trade_buy_tag"] == [2, 3]
    assert book.n_trades == 0
    assert book.trade_price == []
    book.submit_limit(SELL, 100.0, 1, tag=1)
    book.submit_market(BUY, 1, tag=4)
    assert out["trade_qty"] == [1, 1]  # drained lists are not touched again
    assert book.take_trades()["trade_buy_tag"] == [4]


def test_numpy_scalars_are_normalised():
    book = OrderBook()
    book.submit_limit(np.int64(SELL), np.float64(100.5), np.int64(3), tag=1)
    book.submit_market(BUY, np.int32(2), tag=2)
    assert book.trade_price == [100.5]
    assert type(book.trade_price[0]) is float
    assert type(book.trade_qty[0]) is int
    book.submit_limit(BUY, 101, 1, tag=3)  # int price accepted
    assert book.trade_price == [100.5, 100.5]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("qty", [0, -1, 1.5, 2.0, True, "3", None])
def test_invalid_qty(qty):
    book = OrderBook()
    with pytest.raises(ValueError, match="qty"):
        book.submit_limit(BUY, 100.0, qty, tag=0)
    with pytest.raises(ValueError, match="qty"):
        book.submit_market(BUY, qty, tag=0)


@pytest.mark.parametrize("price", [0.0, -1.0, math.nan, math.inf, -math.inf, "1", None])
def test_invalid_price(price):
    book = OrderBook()
    with pytest.raises(ValueError, match="price"):
        book.submit_limit(SELL, price, 1, tag=0)


@pytest.mark.parametrize("side", [0, 2, -2, "buy", None])
def test_invalid_side(side):
    book = OrderBook()
    with pytest.raises(ValueError, match="side"):
        book.submit_limit(side, 100.0, 1, tag=0)
    with pytest.raises(ValueError, match="side"):
        book.submit_market(side, 1, tag=0)
    with pytest.raises(ValueError, match="side"):
        book.depth(side)


def test_rejected_order_leaves_no_trace():
    book = OrderBook()
    book.submit_limit(SELL, 100.0, 1, tag=0)
    for bad in [(0, 100.0, 1), (BUY, -1.0, 1), (BUY, 100.0, 0)]:
        with pytest.raises(ValueError):
            book.submit_limit(*bad, tag=0)
    with pytest.raises(ValueError):
        book.submit_market(3, 1, tag=0)
    assert book.n_trades == 0
    assert len(book) == 1
    assert book.submit_limit(BUY, 99.0, 1, tag=0) == 2


# --------------------------------------------------------------------------- reference model


class ReferenceBook:
    """Obviously-correct matcher: unsorted lists scanned linearly for the best order."""

    def __init__(self):
        self.orders = {BUY: [], SELL: []}  # each order: [price, oid, qty, tag]
        self.next_id = 1
        self.trades = []
        self.discarded = 0

    def _best(self, side):
        orders = self.orders[side]
        if not orders:
            return None
        if side == BUY:
            return max(orders, key=lambda o: (o[0], -o[1]))
        return min(orders, key=lambda o: (o[0], o[1]))

    def _match(self, side, price, qty, tag, oid):
        opposite = -side
        while qty > 0:
            best = self._best(opposite)
            if best is None:
                break
            if price is not None and (best[0] > price if side == BUY else best[0] < price):
                break
            fill = min(qty, best[2])
            if side == BUY:
                self.trades.append((best[0], fill, tag, best[3], oid, best[1], side))
            else:
                self.trades.append((best[0], fill, best[3], tag, best[1], oid, side))
            best[2] -= fill
            qty -= fill
            if best[2] == 0:
                self.orders[opposite].remove(best)
        return qty

    def submit_limit(self, side, price, qty, tag):
        oid = self.next_id
        self.next_id += 1
        rest = self._match(side, price, qty, tag, oid)
        if rest:
            self.orders[side].append([price, oid, rest, tag])
        return oid

    def submit_market(self, side, qty, tag):
        oid = self.next_id
        self.next_id += 1
        self.discarded += self._match(side, None, qty, tag, oid)
        return oid

    def cancel(self, oid):
        for side in (BUY, SELL):
            for order in self.orders[side]:
                if order[1] == oid:
                    self.orders[side].remove(order)
                    return order[2]
        return 0

    def expire(self):
        n = len(self.orders[BUY]) + len(self.orders[SELL])
        self.orders = {BUY: [], SELL: []}
        return n

    def best_price(self, side):
        best = self._best(side)
        return None if best is None else best[0]

    def depth(self, side, levels):
        totals = {}
        for price, _oid, qty, _tag in self.orders[side]:
            totals[price] = totals.get(price, 0) + qty
        return sorted(totals.items(), reverse=side == BUY)[:levels]

    def resting_qty(self):
        return sum(o[2] for side in (BUY, SELL) for o in self.orders[side])

    def __len__(self):
        return len(self.orders[BUY]) + len(self.orders[SELL])


sides = st.sampled_from([BUY, SELL])
tags = st.integers(0, 3)
limit_op = st.tuples(st.just("limit"), sides, st.integers(90, 110), st.integers(1, 6), tags)
market_op = st.tuples(st.just("market"), sides, st.integers(1, 12), tags)
cancel_op = st.tuples(st.just("cancel"), st.integers(0, 60))
expire_op = st.just(("expire",))
ops_strategy = st.lists(
    st.one_of(limit_op, limit_op, limit_op, market_op, cancel_op, cancel_op, expire_op),
    max_size=80,
)


def run_against_reference(ops, tick):
    book = OrderBook()
    ref = ReferenceBook()
    submitted = cancelled = expired_qty = 0
    for op in ops:
        kind = op[0]
        if kind == "limit":
            _, side, ticks, qty, tag = op
            price = ticks * tick
            submitted += qty
            assert book.submit_limit(side, price, qty, tag) == ref.submit_limit(
                side, price, qty, tag
            )
        elif kind == "market":
            _, side, qty, tag = op
            submitted += qty
            assert book.submit_market(side, qty, tag) == ref.submit_market(side, qty, tag)
        elif kind == "cancel":
            # Mostly ids that were issued (live, filled, cancelled or market); some unknown.
            oid = op[1]
            got = book.cancel(oid)
            assert got == ref.cancel(oid)
            cancelled += got
        else:
            expired_qty += ref.resting_qty()
            assert book.expire() == ref.expire()

        assert trades(book) == ref.trades
        assert book.best_bid() == ref.best_price(BUY)
        assert book.best_ask() == ref.best_price(SELL)
        for side in (BUY, SELL):
            assert book.depth(side, levels=100) == ref.depth(side, 100)
            assert book.depth(side, levels=3) == ref.depth(side, 3)
        assert len(book) == book.resting_orders() == len(ref)
        assert_uncrossed(book)
        if book.best_bid() is not None and book.best_ask() is not None:
            assert book.spread() == book.best_ask() - book.best_bid()
            assert book.mid() == (book.best_ask() + book.best_bid()) / 2

        resting = sum(q for side in (BUY, SELL) for _, q in book.depth(side, levels=10**6))
        traded = sum(book.trade_qty)
        assert submitted == 2 * traded + resting + cancelled + expired_qty + ref.discarded


@settings(max_examples=300, deadline=None)
@given(ops_strategy)
def test_matches_reference_integer_prices(ops):
    run_against_reference(ops, tick=1)


@settings(max_examples=150, deadline=None)
@given(ops_strategy)
def test_matches_reference_cent_ticks(ops):
    # Float prices on a 0.01 grid, as in the model; ties must still be exact ties.
    run_against_reference(ops, tick=0.01)


@settings(max_examples=100, deadline=None)
@given(ops_strategy, st.integers(0, 200))
def test_take_trades_concatenates_to_full_history(ops, drain_every):
    book = OrderBook()
    ref = ReferenceBook()
    collected = {f: [] for f in FIELDS}
    for i, op in enumerate(ops):
        if op[0] == "limit":
            book.submit_limit(op[1], float(op[2]), op[3], op[4])
            ref.submit_limit(op[1], float(op[2]), op[3], op[4])
        elif op[0] == "market":
            book.submit_market(*op[1:])
            ref.submit_market(*op[1:])
        elif op[0] == "cancel":
            book.cancel(op[1])
            ref.cancel(op[1])
        if drain_every and i % drain_every == 0:
            for f, col in book.take_trades().items():
                collected[f].extend(col)
    for f, col in book.take_trades().items():
        collected[f].extend(col)
    assert list(zip(*(collected[f] for f in FIELDS), strict=True)) == ref.trades


def test_random_stream_against_reference_with_compaction():
    # A longer stream than hypothesis generates: alternating build-up and cancel-heavy phases make
    # the book deep and then leave many stale heap entries, so heap compaction gets exercised.
    rng = np.random.default_rng(1)
    book = OrderBook()
    ref = ReferenceBook()
    ids = []
    for step in range(4000):
        cancel_heavy = (step // 400) % 2 == 1
        p_limit, p_market = (0.2, 0.25) if cancel_heavy else (0.7, 0.8)
        u = rng.random()
        side = BUY if rng.random() < 0.5 else SELL
        if u < p_limit:
            price = 100.0 - side * float(rng.integers(-2, 15))  # mostly passive
            qty = int(rng.integers(1, 10))
            tag = int(rng.integers(0, 5))
            ids.append(book.submit_limit(side, price, qty, tag))
            ref.submit_limit(side, price, qty, tag)
        elif u < p_market:
            qty = int(rng.integers(1, 20))
            book.submit_market(side, qty, 0)
            ref.submit_market(side, qty, 0)
        elif ids:
            live = [o[1] for sd in (BUY, SELL) for o in ref.orders[sd]]
            if live and rng.random() < 0.8:
                oid = live[int(rng.integers(len(live)))]
            else:
                oid = ids[int(rng.integers(len(ids)))]
            assert book.cancel(oid) == ref.cancel(oid)
        if step % 1500 == 1499:
            assert book.expire() == ref.expire()
        if step % 25 == 0:
            assert book.depth(BUY, 1000) == ref.depth(BUY, 1000)
            assert book.depth(SELL, 1000) == ref.depth(SELL, 1000)
            assert book.best_bid() == ref.best_price(BUY)
            assert book.best_ask() == ref.best_price(SELL)
            assert_uncrossed(book)
            assert_heap(book._bids)
            assert_heap(book._asks)
    assert trades(book) == ref.trades
    assert len(book) == len(ref)
