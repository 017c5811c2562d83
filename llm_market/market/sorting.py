"""Stable sorts of the market's keys, in numpy's fast sorting paths.

numpy's stable sort is a merge sort for most types, several times slower than its default sort
(vectorised on this hardware). The market sorts two kinds of keys every good-day, and neither
needs it:

* sellers, small integers: numpy's stable sort of integers of 16 bits or less is a radix sort;
* qualities, one per seller repeated over its units: a run of equal neighbouring keys stays
  together and in order in a stable sort, so the runs are sorted by their first key, and the
  default sort's order of those keys only needs its ties put back in input order (a sort of
  integers, fast again).
"""

from __future__ import annotations

import numpy as np

# The largest integer key the radix path takes (np.uint16).
RADIX_MAX = np.iinfo(np.uint16).max


def run_heads(keys: np.ndarray) -> np.ndarray:
    """Where a run of equal neighbouring keys starts: a mask, True at the first key.

    Args:
        keys: A one-dimensional array with at least one key.
    """
    heads = np.empty(keys.size, dtype=bool)
    heads[0] = True
    np.not_equal(keys[1:], keys[:-1], out=heads[1:])
    return heads


def stable_argsort(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")``, by the fastest sort that gives the same order.

    Args:
        keys: A one-dimensional array of integers or floats.
    """
    keys = np.asarray(keys)
    if keys.size < 2:
        return np.argsort(keys, kind="stable")
    if keys.dtype.kind in "iub":
        if keys.min() >= 0 and keys.max() <= RADIX_MAX:
            return np.argsort(keys.astype(np.uint16), kind="stable")
        return np.argsort(keys, kind="stable")
    if keys.dtype.kind != "f":
        return np.argsort(keys, kind="stable")
    n = keys.size
    head = np.flatnonzero(run_heads(keys))
    if head.size == n:
        return _argsort_ties_in_order(keys)
    # Sort the runs by their keys, then lay each run's positions out in order.
    runs = _argsort_ties_in_order(keys[head])
    end = np.empty_like(head)
    end[:-1] = head[1:]
    end[-1] = n
    length = (end - head)[runs]
    start = np.cumsum(length) - length
    return np.repeat(head[runs] - start, length) + np.arange(n)


def _argsort_ties_in_order(keys: np.ndarray) -> np.ndarray:
    """The stable order of float ``keys``, from the default sort with its ties reordered."""
    order = np.argsort(keys)
    ranked = keys[order]
    if np.isnan(ranked[-1]):  # NaNs sort last, in no particular order among themselves
        return np.argsort(keys, kind="stable")
    # Number the runs of equal keys in sorted order; within one the stable order is by
    # position, so sorting (run, position) pairs packed in one integer gives it.
    n = keys.size
    run = np.zeros(n, dtype=np.int64)
    np.cumsum(ranked[1:] != ranked[:-1], out=run[1:])
    if run[-1] == n - 1:  # all distinct: the order is the only one there is
        return order
    return np.sort(run * n + order) % n
