"""The differentiated CDA's day, compiled: one book per seller, each client choosing its seller.

:meth:`~.cda.ContinuousDoubleAuction._clear_differentiated` states the rules and
:func:`~.cda.differentiated_day` keeps them in plain Python; this module runs the same day in
machine code (numba), with the same arithmetic (``value * quality - best ask`` in IEEE double,
multiply then subtract, no fused operations), the same order priority and the same draws from
the same generator, so a day's trades, resting orders and the generator's state after it are
identical (``tests/test_kernels.py`` compares the two on random days). What differs is the cost of
a client's choice among ``n`` sellers:

* Below :data:`FRONTIER_FROM` sellers, a scan of all of them (a few nanoseconds each).
* From :data:`FRONTIER_FROM` on, a scan of the *frontier* only: the sellers whose best ask is
  lower than that of every seller of higher quality. Any other seller has a rival of at least its
  quality at no higher ask, and rounding is monotone, so its surplus is no larger than the
  rival's at every positive value: the best surplus is on the frontier. The frontier is a
  staircase in (quality, ask) and is short (tens of sellers among thousands); it is kept up to
  date as best asks change, with a segment tree of the asks in order of quality. A seller off
  the frontier can still *tie* with the best one after rounding, when its quality is within
  rounding of a tied frontier seller's, so those neighbours are checked with the exact
  arithmetic before a tie is drawn.

Every order is for one unit and none is cancelled, so a book is two binary heaps of
``(price key, arrival number, order)`` in flat arrays shared by all books: asks in a slice
sized by the seller's asks, bids in a slice that doubles when full.

The helpers that run for every order (the heaps, the frontier's repair, a client's choice) are
closures inside :func:`clear_day`, which numba inlines; as separate compiled functions they took
and released a reference to each array they were passed, atomic operations that cost a quarter
of the day. Where a helper's path depends on the data (which child of the segment tree holds a
lower ask, how far up the tree to climb, which frontier seller is best), it computes the answer
with arithmetic and selects instead of branches: mispredicted branches were half the day's time
on 1,000 sellers, and these cut it by a third.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

FRONTIER_FROM = 64
"""Sellers from which a client's choice scans the frontier rather than every seller."""

_EMPTY = -1


@njit(cache=True)
def _first_below(tree, leaves, start, x):
    """First position ``>= start`` whose ask is below ``x`` (-1: none), in a min segment tree."""
    if start >= leaves:
        return -1
    i = start + leaves
    while True:
        if tree[i] < x:
            # Down to the leftmost leaf below x: the child is picked by arithmetic, not a
            # branch, as which side holds it is a coin toss the processor mispredicts.
            while i < leaves:
                i = 2 * i + (tree[2 * i] >= x)
            return i - leaves
        # Up while a right child, then over to the next subtree on the right: i + 1 has as
        # many trailing zeros as i has trailing ones (a right child per level climbed).
        i += 1
        i >>= trailing_zeros(i)
        if i == 1:
            return -1


@njit(cache=True)
def _set_ask(tree, leaves, pos, a):
    i = pos + leaves
    tree[i] = a
    i >>= 1
    while i:
        low = min(tree[2 * i], tree[2 * i + 1])
        if tree[i] == low:
            break  # the minimum above does not change either
        tree[i] = low
        i >>= 1


@njit(cache=True)
def _choose_scan(v, quality, best_ask, rng):
    """The seller with the largest surplus by a full scan, ties at random; (seller, surplus)."""
    n = quality.size
    gain = -np.inf
    k = 0
    for j in range(n):
        s = quality[j] * v - best_ask[j]
        if s > gain:
            gain = s
            k = j
    if gain > -np.inf:
        ties = 0
        for j in range(n):
            if quality[j] * v - best_ask[j] == gain:
                ties += 1
        if ties > 1:
            r = rng.integers(0, ties)
            for j in range(n):
                if quality[j] * v - best_ask[j] == gain:
                    if r == 0:
                        k = j
                        break
                    r -= 1
    return k, gain


@njit(cache=True)
def _choose_quality(quality, pool, rng):
    """The seller of highest quality in ``pool``, ties at random (``choose_best``)."""
    best = -np.inf
    for j in range(quality.size):
        if pool[j] and quality[j] > best:
            best = quality[j]
    ties = 0
    k = 0
    for j in range(quality.size):
        if pool[j] and quality[j] == best:
            if ties == 0:
                k = j
            ties += 1
    if ties > 1:
        r = rng.integers(0, ties)
        for j in range(quality.size):
            if pool[j] and quality[j] == best:
                if r == 0:
                    return j
                r -= 1
    return k


@njit(cache=True)
def clear_day(
    arrival,
    n_ask,
    ask_price,
    of_ask,
    bid_price,
    bid_market,
    value,
    quality,
    rng,
    frontier_from=FRONTIER_FROM,
):
    """Run a differentiated day: :func:`~.cda.differentiated_day`, compiled.

    The arguments and the result are :func:`~.cda.differentiated_day`'s (``quality`` is its
    ``book_quality``), with one more: ``frontier_from``, the number of sellers from which a
    client scans the frontier rather than every seller.
    """
    n_books = quality.size
    n_bid = bid_price.size
    valued = quality > 0
    any_positive = False
    for j in range(n_books):
        if valued[j]:
            any_positive = True
    # Every heap lives in the same three arrays: first each book's asks, in a slice sized by its
    # asks, then its bids, in slices taken from a pool as they fill (doubling, so the pool
    # bounds them all).
    ask_base = np.zeros(n_books, dtype=np.int64)
    counts = np.zeros(n_books, dtype=np.int64)
    for i in range(n_ask):
        counts[of_ask[i]] += 1
    total = 0
    for j in range(n_books):
        ask_base[j] = total
        total += counts[j]
    size = total + 4 * n_books + 4 * n_bid + 4
    kp = np.empty(size)  # price key: the ask, or -limit for a bid
    ko = np.empty(size, dtype=np.int64)  # arrival number
    tag = np.empty(size, dtype=np.int64)  # the ask's or bid's index
    ask_size = np.zeros(n_books, dtype=np.int64)
    bid_base = np.full(n_books, _EMPTY, dtype=np.int64)
    bid_cap = np.zeros(n_books, dtype=np.int64)
    bid_size = np.zeros(n_books, dtype=np.int64)
    pool_used = total

    best_ask = np.full(n_books, np.inf)
    seen = np.zeros(n_books, dtype=np.bool_)
    staircase = n_books >= frontier_from
    # Sellers by quality, highest first (ties by index), their asks in that order in a min
    # segment tree, and the frontier as increasing positions in that order.
    order = np.argsort(-quality, kind="mergesort")
    pos_of = np.empty(n_books, dtype=np.int64)
    for x in range(n_books):
        pos_of[order[x]] = x
    q_at = quality[order]
    ask_at = np.full(n_books, np.inf)
    leaves = 1
    while leaves < n_books:
        leaves *= 2
    tree = np.full(2 * leaves, np.inf)
    stair = np.empty(n_books + 1, dtype=np.int64)
    fresh = np.empty(n_books + 1, dtype=np.int64)
    tied = np.empty(n_books, dtype=np.int64)
    n_stair = 0

    # The per-order helpers: closures over the arrays above, so that numba inlines them
    # (the module docstring says why).

    def less(i, j):
        return kp[i] < kp[j] or (kp[i] == kp[j] and ko[i] < ko[j])

    def swap(i, j):
        kp[i], kp[j] = kp[j], kp[i]
        ko[i], ko[j] = ko[j], ko[i]
        tag[i], tag[j] = tag[j], tag[i]

    def push(base, n, p, o, t):
        """Push onto the heap in ``[base, base + n)``; returns the new size."""
        i = base + n
        kp[i], ko[i], tag[i] = p, o, t
        while i > base:
            parent = base + (i - base - 1) // 2
            if less(i, parent):
                swap(i, parent)
                i = parent
            else:
                break
        return n + 1

    def pop(base, n):
        """Remove the top of the heap in ``[base, base + n)``; returns the new size."""
        last = base + n - 1
        kp[base], ko[base], tag[base] = kp[last], ko[last], tag[last]
        n -= 1
        i = base
        while True:
            left = base + 2 * (i - base) + 1
            if left >= base + n:
                break
            child = left
            right = left + 1
            if right < base + n and less(right, left):
                child = right
            if less(child, i):
                swap(i, child)
                i = child
            else:
                break
        return n

    def update_frontier(pos, a, n_stair):
        """Set the ask at quality position ``pos`` and mend the frontier; its new length.

        Whether a position is on the frontier depends only on the asks at higher qualities, so
        the frontier before ``pos`` stands. From ``pos`` on it is walked again (each step the
        next position below the running minimum) until the walk lands on a seller of the old
        frontier past ``pos``, from where the old one stands too.
        """
        ask_at[pos] = a
        _set_ask(tree, leaves, pos, a)
        lo, hi = 0, n_stair
        while lo < hi:
            mid = (lo + hi) // 2
            if stair[mid] < pos:
                lo = mid + 1
            else:
                hi = mid
        first = lo  # frontier members before pos: stair[:first]
        cur = ask_at[stair[first - 1]] if first else np.inf
        if a >= cur and not (first < n_stair and stair[first] == pos):
            return n_stair  # off the frontier before and after: the running minimum stands
        old = first  # the old members past the walk are stair[old:]
        n_new = 0
        x = pos
        landed = False
        while True:
            x = _first_below(tree, leaves, x, cur)
            if x < 0:
                break
            while old < n_stair and stair[old] < x:
                old += 1
            if old < n_stair and stair[old] == x and x != pos:
                landed = True
                break
            fresh[n_new] = x
            n_new += 1
            cur = ask_at[x]
            x += 1
        tail = n_stair - old if landed else 0
        # Splice stair[:first] + fresh[:n_new] + stair[old:] (the tail moves left or right).
        if first + n_new != old and tail:
            if first + n_new < old:
                for m in range(tail):
                    stair[first + n_new + m] = stair[old + m]
            else:
                for m in range(tail - 1, -1, -1):
                    stair[first + n_new + m] = stair[old + m]
        for m in range(n_new):
            stair[first + m] = fresh[m]
        return first + n_new + tail

    def choose_frontier(v, n_stair):
        """As :func:`_choose_scan`, from the frontier and the rounding ties next to it."""
        if not v > 0.0:
            # The frontier argument needs a positive value (and a number).
            return _choose_scan(v, quality, best_ask, rng)
        if n_stair == 0:
            return 0, -np.inf
        gain = -np.inf
        # Selects rather than branches (where on the frontier the best seller sits is a coin
        # toss to the processor); ``first`` is the first frontier seller with the best surplus.
        first = 0
        for m in range(n_stair):
            x = stair[m]
            s = q_at[x] * v - ask_at[x]
            first = m if s > gain else first
            gain = max(gain, s)
        # Everyone tied with the best: frontier sellers, and the sellers just below a tied one
        # in quality (up to the next frontier seller) whose rounded surplus is the same.
        n_tied = 0
        for m in range(first, n_stair):
            x = stair[m]
            if q_at[x] * v - ask_at[x] != gain:
                continue
            tied[n_tied] = order[x]
            n_tied += 1
            stop = stair[m + 1] if m + 1 < n_stair else n_books
            reach = q_at[x] * v
            slack = 1e-9 * (abs(reach) + abs(ask_at[x]) + abs(gain)) + 1e-300
            for y in range(x + 1, stop):
                if q_at[y] * v < reach - slack:
                    break
                if q_at[y] * v - ask_at[y] == gain:
                    tied[n_tied] = order[y]
                    n_tied += 1
        if n_tied == 1:
            return tied[0], gain
        # The r-th tied seller in index order, as a scan of every seller counts them.
        chosen = tied[:n_tied].copy()
        chosen.sort()
        return chosen[rng.integers(0, n_tied)], gain

    t_bid = np.empty(n_bid, dtype=np.int64)
    t_ask = np.empty(n_bid, dtype=np.int64)
    t_price = np.empty(n_bid)
    n_trades = 0
    resting_bid = np.zeros(n_bid, dtype=np.bool_)
    resting_ask = np.zeros(n_ask, dtype=np.bool_)
    pool = np.empty(n_books, dtype=np.bool_)

    oid = 0
    for i in arrival:
        oid += 1
        if i < n_ask:
            p = ask_price[i]
            if p != p:  # NaN: this unit does not quote
                continue
            k = of_ask[i]
            seen[k] = True
            resting_ask[i] = True
            nb = bid_size[k]
            # A resting bid is stored as -limit: it crosses when -(-limit) >= p.
            if nb and kp[bid_base[k]] <= -p:
                base = bid_base[k]
                t_bid[n_trades] = tag[base]
                t_ask[n_trades] = i
                t_price[n_trades] = -kp[base]
                n_trades += 1
                bid_size[k] = pop(base, nb)
            else:
                ask_size[k] = push(ask_base[k], ask_size[k], p, oid, i)
        else:
            b = i - n_ask
            if not any_positive:
                continue
            v = value[b]
            if staircase:
                k, gain = choose_frontier(v, n_stair)
            else:
                k, gain = _choose_scan(v, quality, best_ask, rng)
            if gain == -np.inf:
                if bid_market[b]:
                    continue
                # Nothing rests: bid where the most valuable report has been offered.
                any_seen = False
                for j in range(n_books):
                    pool[j] = seen[j] and valued[j]
                    if pool[j]:
                        any_seen = True
                if not any_seen:
                    for j in range(n_books):
                        pool[j] = valued[j]
                k = _choose_quality(quality, pool, rng)
            na = ask_size[k]
            base = ask_base[k]
            limit = 0.0
            if bid_market[b]:
                if gain < 0:
                    continue
                crosses = True  # a finite gain: an ask rests there
            else:
                resting_bid[b] = True
                limit = bid_price[b] * quality[k]
                crosses = na > 0 and kp[base] <= limit
            if crosses:
                t_bid[n_trades] = b
                t_ask[n_trades] = tag[base]
                t_price[n_trades] = kp[base]
                n_trades += 1
                ask_size[k] = pop(base, na)
            else:
                # A limit bid that does not cross rests at the seller it chose.
                nb = bid_size[k]
                if nb == bid_cap[k]:
                    # Full (or not yet given a slice): move to a slice twice the size.
                    cap = max(4, 2 * nb)
                    new = pool_used
                    pool_used += cap
                    old = bid_base[k]
                    for m in range(nb):
                        kp[new + m] = kp[old + m]
                        ko[new + m] = ko[old + m]
                        tag[new + m] = tag[old + m]
                    bid_base[k] = new
                    bid_cap[k] = cap
                bid_size[k] = push(bid_base[k], nb, -limit, oid, b)
        if valued[k]:
            a = kp[ask_base[k]] if ask_size[k] else np.inf
            if a != best_ask[k]:
                best_ask[k] = a
                if staircase:
                    n_stair = update_frontier(pos_of[k], a, n_stair)
    for m in range(n_trades):
        resting_ask[t_ask[m]] = False
        resting_bid[t_bid[m]] = False
    return t_bid[:n_trades], t_ask[:n_trades], t_price[:n_trades], resting_bid, resting_ask
