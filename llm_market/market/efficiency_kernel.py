"""The differentiated market's maximum surplus, compiled (:func:`.efficiency.assortative_optimum`).

The dynamic programme over units (highest quality first) updates slot ``j + 1`` to
``max(D[j + 1], D[j] + s_j * q - c)``, where ``D[r]`` is the best surplus of ``r`` units. Two
facts of this assignment problem (``D`` stays concave in ``r``, by its augmenting-path
structure) cut the work without changing a single result:

* The slots that take a new unit form a suffix, so each unit is placed by a bisection for the
  first slot that takes it, and only that suffix is updated.
* A difference ``D[r] - D[r - 1]`` only falls when later units shift it to a higher slot, so once
  the top two differences are negative the top slot can never hold the answer and is dropped.

Both tests carry a tolerance far above rounding, so every slot they leave out would have kept
its value under the plain update, and the answer is the same number, bit for bit, as the numpy
programme's (``tests/test_kernels.py`` compares them on random markets).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def best_surplus(s, q, c, tol=1e-9):
    """``(max_r D[r], its first r)``: the best surplus and the number of units it trades.

    Args:
        s: Stakes, highest first (one slot each).
        q: Units' qualities, highest first.
        c: Units' costs, in the same order.
        tol: Relative slack of both tests.
    """
    m = s.size
    best = np.full(m + 1, -np.inf)
    best[0] = 0.0
    top = 0  # slots above it are out of the answer for good
    one = np.uint64(1)

    # A closure, which numba inlines: a compiled function would take and release a reference
    # to ``best`` (atomic operations) on every call.
    def falls(r):
        return best[r] < best[r - 1] - tol * (abs(best[r - 1]) + 1.0)

    for i in range(q.size):
        qa = q[i]
        ca = c[i]
        r = min(i + 1, m, top + 1)
        lo, hi = 0, r
        while lo < hi:
            mid = (lo + hi) // 2
            gain = s[mid] * qa - ca
            if best[mid] + gain > best[mid + 1] - tol * (abs(best[mid + 1]) + abs(gain) + 1.0):
                hi = mid
            else:
                lo = mid + 1
        # best[j + 1] = max(best[j + 1], best[j] + s[j] * qa - ca) for lo <= j < r, downwards
        # so that each slot reads the old value of the one before it. The unsigned index is
        # what lets LLVM vectorise the loop: with a signed one numba checks for negative
        # indices, which keeps it scalar (three times slower here).
        for u in range(r - lo):
            j = np.uint64(r - 1 - u)
            t = best[j] + (s[j] * qa - ca)
            b = best[j + one]
            best[j + one] = t if t > b else b
        top = max(top, r)
        while top > 1 and falls(top) and falls(top - 1):
            best[top] = -np.inf
            top -= 1
    k = 0
    for r in range(1, top + 1):
        if best[r] > best[k]:
            k = r
    return best[k], k
