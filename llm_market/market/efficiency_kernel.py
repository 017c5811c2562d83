"""The differentiated market's maximum surplus, compiled (:func:`.efficiency.assortative_optimum`).

The dynamic programme over units (highest quality first) updates slot ``j + 1`` to
``max(D[j + 1], D[j] + s_j * q - c)``. The slots that take the new unit form a suffix (``D`` is
concave in the number of units, the assignment problem's augmenting-path structure), so each
unit is placed by a bisection for the first slot that takes it and only that suffix is updated.
The bisection's test carries a tolerance far above rounding, so every slot it leaves out keeps
its value under the plain update too: the result is the same number, bit for bit, as the numpy
programme (``tests/test_kernels.py`` compares them on random markets).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def best_by_count(s, q, c, tol=1e-9):
    """``D[r]``, the best surplus of ``r`` units matched to the ``r`` highest stakes.

    Args:
        s: Stakes, highest first (one slot each).
        q: Units' qualities, highest first.
        c: Units' costs, in the same order.
        tol: Relative slack of the bisection's test.
    """
    m = s.size
    best = np.full(m + 1, -np.inf)
    best[0] = 0.0
    take = np.empty(m)
    for i in range(q.size):
        qa = q[i]
        ca = c[i]
        r = min(i + 1, m)
        lo, hi = 0, r
        while lo < hi:
            mid = (lo + hi) // 2
            gain = s[mid] * qa - ca
            if best[mid] + gain > best[mid + 1] - tol * (abs(best[mid + 1]) + abs(gain) + 1.0):
                hi = mid
            else:
                lo = mid + 1
        # Two passes, so that each slot reads the old value of the one before it.
        for j in range(lo, r):
            take[j] = best[j] + (s[j] * qa - ca)
        for j in range(lo, r):
            if take[j] > best[j + 1]:
                best[j + 1] = take[j]
    return best
