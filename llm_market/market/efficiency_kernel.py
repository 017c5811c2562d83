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
        _take(best[lo : r + 1], s[lo:r], qa, ca)
        top = max(top, r)
        while top > 1 and _falls(best, top, tol) and _falls(best, top - 1, tol):
            best[top] = -np.inf
            top -= 1
    k = 0
    for r in range(1, top + 1):
        if best[r] > best[k]:
            k = r
    return best[k], k


@njit(cache=True)
def _take(best, s, qa, ca):
    """``best[j + 1] = max(best[j + 1], best[j] + s[j] * qa - ca)`` for every ``j``, in place.

    Downwards, so that each slot reads the old value of the one before it. The views and the
    unsigned index are what let LLVM vectorise the loop: a signed index makes numba check for
    negative indices, which keeps it scalar (three times slower here).
    """
    n = s.size
    one = np.uint64(1)
    for i in range(n):
        j = np.uint64(n - 1 - i)
        t = best[j] + (s[j] * qa - ca)
        b = best[j + one]
        best[j + one] = t if t > b else b


@njit(cache=True)
def _falls(best, r, tol):
    return best[r] < best[r - 1] - tol * (abs(best[r - 1]) + 1.0)
