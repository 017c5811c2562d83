"""The differentiated CDA's day, compiled: one book per seller, each client choosing its seller.

:meth:`~.cda.ContinuousDoubleAuction._clear_differentiated` states the rules and keeps them in
plain Python; this module runs the same day in machine code (numba), with the same arithmetic
(``value * quality - best ask`` in IEEE double, multiply then subtract, no fused operations), the
same order priority and the same draws from the same generator, so a day's trades, resting
orders and the generator's state after it are identical (``tests/test_kernels.py`` compares
the two on random days). The difference is the cost of a client's choice among ``n`` sellers:

* Below :data:`BLOCK_FROM` sellers it is a scan of all of them, a few nanoseconds each.
* From :data:`BLOCK_FROM` sellers on, the sellers are sorted by quality and cut into blocks of
  :data:`BLOCK` sellers. Each block keeps the upper envelope of its lines
  ``v -> quality * v - best ask`` (only sellers with an ask resting), rebuilt when one of its
  best asks changes. A client with value ``v`` reads each block's envelope at ``v`` (a binary
  search), and scans in full only the blocks whose envelope comes within a tolerance of the best
  one: that scan, with the exact arithmetic, decides the winner and its ties. The tolerance
  (:func:`_slack`) is many orders of magnitude above the rounding of the envelope's arithmetic,
  so the blocks it skips cannot hold a seller whose rounded surplus reaches the best.

Every order is for one unit and none is cancelled, so a book is two binary heaps of
``(price key, arrival number, order)`` in flat arrays: asks in a slice sized by the seller's
asks, bids in a slice that doubles when full.
"""

from __future__ import annotations

import numpy as np
from numba import njit

BLOCK = 64
"""Sellers per block of the envelope search."""

BLOCK_FROM = 512
"""Sellers from which a client's choice uses the block envelopes rather than a full scan."""

_EMPTY = -1


@njit(cache=True, inline="always")
def _less(kp, ko, i, j):
    return kp[i] < kp[j] or (kp[i] == kp[j] and ko[i] < ko[j])


@njit(cache=True)
def _swap(kp, ko, tag, i, j):
    kp[i], kp[j] = kp[j], kp[i]
    ko[i], ko[j] = ko[j], ko[i]
    tag[i], tag[j] = tag[j], tag[i]


@njit(cache=True)
def _push(kp, ko, tag, base, size, p, o, t):
    """Push onto the heap in ``[base, base + size)``; returns the new size."""
    i = base + size
    kp[i], ko[i], tag[i] = p, o, t
    while i > base:
        parent = base + (i - base - 1) // 2
        if _less(kp, ko, i, parent):
            _swap(kp, ko, tag, i, parent)
            i = parent
        else:
            break
    return size + 1


@njit(cache=True)
def _pop(kp, ko, tag, base, size):
    """Remove the top of the heap in ``[base, base + size)``; returns the new size."""
    last = base + size - 1
    kp[base], ko[base], tag[base] = kp[last], ko[last], tag[last]
    size -= 1
    i = base
    while True:
        left = base + 2 * (i - base) + 1
        if left >= base + size:
            break
        child = left
        right = left + 1
        if right < base + size and _less(kp, ko, right, left):
            child = right
        if _less(kp, ko, child, i):
            _swap(kp, ko, tag, i, child)
            i = child
        else:
            break
    return size


@njit(cache=True)
def _slack(v, qmax, amax, gain):
    # Far above the rounding of a product and a difference of numbers of this size, so a line
    # the envelope drops or reads low by rounding is still scanned.
    return 1e-9 * (abs(v) * qmax + amax + abs(gain)) + 1e-300


@njit(cache=True)
def _rebuild(b, order, quality, best_ask, hull, hull_size):
    """Upper envelope of block ``b``'s lines with an ask resting (sorted by quality)."""
    start = b * BLOCK
    stop = min(start + BLOCK, order.size)
    h0 = b * BLOCK
    n = 0
    for pos in range(start, stop):
        j = order[pos]
        a = best_ask[j]
        if a == np.inf:
            continue
        q = quality[j]
        if n and quality[hull[h0 + n - 1]] == q:
            # Same slope: only the lower ask can be on the envelope (a tie is found by the scan).
            if best_ask[hull[h0 + n - 1]] <= a:
                continue
            n -= 1
        while n >= 2:
            i1 = hull[h0 + n - 2]
            i2 = hull[h0 + n - 1]
            # i2 is under max(i1, j) everywhere when the crossing of i1 and j comes no later
            # than the crossing of i1 and i2 (slopes increase along the envelope).
            lhs = (best_ask[j] - best_ask[i1]) * (quality[i2] - quality[i1])
            rhs = (best_ask[i2] - best_ask[i1]) * (quality[j] - quality[i1])
            if lhs <= rhs:
                n -= 1
            else:
                break
        hull[h0 + n] = j
        n += 1
    hull_size[b] = n


@njit(cache=True)
def _envelope_at(b, v, quality, best_ask, hull, hull_size):
    """Largest surplus on block ``b``'s envelope at value ``v`` (-inf when the block is empty)."""
    n = hull_size[b]
    if n == 0:
        return -np.inf
    h0 = b * BLOCK
    lo, hi = 0, n - 1
    # Along the envelope the surplus rises then falls: find the peak by bisection.
    while lo < hi:
        mid = (lo + hi) // 2
        j, k = hull[h0 + mid], hull[h0 + mid + 1]
        if quality[j] * v - best_ask[j] < quality[k] * v - best_ask[k]:
            lo = mid + 1
        else:
            hi = mid
    j = hull[h0 + lo]
    return quality[j] * v - best_ask[j]


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
def _choose_blocks(v, quality, best_ask, order, hull, hull_size, top, qmax, amax, rng):
    """As :func:`_choose_scan`, scanning only the blocks that can hold the winner."""
    n_blocks = hull_size.size
    approx = -np.inf
    for b in range(n_blocks):
        e = _envelope_at(b, v, quality, best_ask, hull, hull_size)
        top[b] = e
        if e > approx:
            approx = e
    if approx == -np.inf:
        return 0, -np.inf
    cut = approx - _slack(v, qmax, amax, approx)
    # The exact winner among the candidate blocks: the first seller (by index) of the largest
    # rounded surplus, and the number of sellers tied with it, as a full scan would find them.
    gain = -np.inf
    k = 0
    ties = 0
    size = order.size
    for b in range(n_blocks):
        if top[b] < cut:
            continue
        for pos in range(b * BLOCK, min(b * BLOCK + BLOCK, size)):
            j = order[pos]
            s = quality[j] * v - best_ask[j]
            if s > gain:
                gain, k, ties = s, j, 1
            elif s == gain:
                ties += 1
                if j < k:
                    k = j
    if ties > 1:
        # The r-th tied seller in index order, as the full scan counts them.
        r = rng.integers(0, ties)
        tied = np.empty(ties, dtype=np.int64)
        m = 0
        for b in range(n_blocks):
            if top[b] < cut:
                continue
            for pos in range(b * BLOCK, min(b * BLOCK + BLOCK, size)):
                j = order[pos]
                if quality[j] * v - best_ask[j] == gain:
                    tied[m] = j
                    m += 1
        tied.sort()
        k = tied[r]
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
    block_from=BLOCK_FROM,
):
    """Run a differentiated day; see :meth:`ContinuousDoubleAuction._clear_differentiated`.

    Args:
        arrival: The day's arrival order over asks (``0..n_ask-1``) then bids (``n_ask + b``).
        n_ask: Number of asks.
        ask_price: Price of each ask (NaN: the unit does not quote).
        of_ask: Book (seller) of each ask.
        bid_price: Limit of each bid per unit of quality.
        bid_market: Whether each bid is a market order.
        value: Each client's value per unit of quality.
        quality: Quality of each book's seller.
        rng: The generator the ties are drawn from.
        block_from: Sellers from which the choice searches block envelopes (a full scan below).

    Returns:
        ``(bid, ask, price, resting_bid, resting_ask)``: the trades in order, and which orders
        entered a book and were still there at the close.
    """
    n_books = quality.size
    n_bid = bid_price.size
    valued = quality > 0
    any_positive = False
    for j in range(n_books):
        if valued[j]:
            any_positive = True
    # Ask heaps: each book's slice is sized by its asks.
    ask_base = np.zeros(n_books, dtype=np.int64)
    counts = np.zeros(n_books, dtype=np.int64)
    for i in range(n_ask):
        counts[of_ask[i]] += 1
    total = 0
    for j in range(n_books):
        ask_base[j] = total
        total += counts[j]
    akp = np.empty(max(total, 1))
    ako = np.empty(max(total, 1), dtype=np.int64)
    atag = np.empty(max(total, 1), dtype=np.int64)
    ask_size = np.zeros(n_books, dtype=np.int64)
    # Bid heaps: slices taken from a pool as they fill (doubling, so the pool bounds them all).
    pool_size = 4 * n_books + 4 * n_bid + 4
    bkp = np.empty(pool_size)
    bko = np.empty(pool_size, dtype=np.int64)
    btag = np.empty(pool_size, dtype=np.int64)
    bid_base = np.full(n_books, _EMPTY, dtype=np.int64)
    bid_cap = np.zeros(n_books, dtype=np.int64)
    bid_size = np.zeros(n_books, dtype=np.int64)
    pool_used = 0

    best_ask = np.full(n_books, np.inf)
    seen = np.zeros(n_books, dtype=np.bool_)
    blocked = n_books >= block_from
    # Sellers by quality (stable), the blocks' envelopes and their peaks at a client's value.
    by_quality = np.argsort(quality, kind="mergesort")
    n_blocks = (n_books + BLOCK - 1) // BLOCK if blocked else 0
    hull = np.empty(n_blocks * BLOCK, dtype=np.int64)
    hull_size = np.zeros(n_blocks, dtype=np.int64)
    top = np.empty(n_blocks)
    block_of = np.empty(n_books, dtype=np.int64)
    for pos in range(n_books):
        block_of[by_quality[pos]] = pos // BLOCK
    qmax = 0.0
    for j in range(n_books):
        if abs(quality[j]) > qmax:
            qmax = abs(quality[j])
    amax = 0.0
    for i in range(n_ask):
        if abs(ask_price[i]) > amax:  # False for NaN
            amax = abs(ask_price[i])

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
            if nb and bkp[bid_base[k]] <= -p:
                base = bid_base[k]
                t_bid[n_trades] = btag[base]
                t_ask[n_trades] = i
                t_price[n_trades] = -bkp[base]
                n_trades += 1
                bid_size[k] = _pop(bkp, bko, btag, base, nb)
            else:
                ask_size[k] = _push(akp, ako, atag, ask_base[k], ask_size[k], p, oid, i)
        else:
            b = i - n_ask
            if not any_positive:
                continue
            v = value[b]
            if blocked:
                k, gain = _choose_blocks(
                    v, quality, best_ask, by_quality, hull, hull_size, top, qmax, amax, rng
                )
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
            if bid_market[b]:
                if gain < 0:
                    continue
                t_bid[n_trades] = b
                t_ask[n_trades] = atag[base]
                t_price[n_trades] = akp[base]
                n_trades += 1
                ask_size[k] = _pop(akp, ako, atag, base, na)
            else:
                resting_bid[b] = True
                limit = bid_price[b] * quality[k]
                if na and akp[base] <= limit:
                    t_bid[n_trades] = b
                    t_ask[n_trades] = atag[base]
                    t_price[n_trades] = akp[base]
                    n_trades += 1
                    ask_size[k] = _pop(akp, ako, atag, base, na)
                else:
                    nb = bid_size[k]
                    if nb == bid_cap[k]:
                        # Full (or not yet given a slice): move to a slice twice the size.
                        cap = max(4, 2 * nb)
                        new = pool_used
                        pool_used += cap
                        old = bid_base[k]
                        for m in range(nb):
                            bkp[new + m] = bkp[old + m]
                            bko[new + m] = bko[old + m]
                            btag[new + m] = btag[old + m]
                        bid_base[k] = new
                        bid_cap[k] = cap
                    bid_size[k] = _push(bkp, bko, btag, bid_base[k], nb, -limit, oid, b)
        if valued[k]:
            a = akp[ask_base[k]] if ask_size[k] else np.inf
            if a != best_ask[k]:
                best_ask[k] = a
                if blocked:
                    _rebuild(block_of[k], by_quality, quality, best_ask, hull, hull_size)
    for m in range(n_trades):
        resting_ask[t_ask[m]] = False
        resting_bid[t_bid[m]] = False
    return t_bid[:n_trades], t_ask[:n_trades], t_price[:n_trades], resting_bid, resting_ask
