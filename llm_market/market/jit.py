"""When the market's compiled kernels run: large markets, with numba installed, unless turned off.

The kernels (:mod:`.mechanisms.cda_kernel`, :mod:`.efficiency_kernel`) give the same results as
the plain paths, bit for bit, so this is only a question of speed. They cost time up front: the
first run on a machine compiles them (tens of seconds on a small machine; numba caches the
machine code beside the source), and every later process loads that cache (about 2 s with
numba's import). A small market would not win that back in a year of days (the default
scenario's day is a few milliseconds either way), so they run from :data:`JIT_FROM` pairs of
traders up (clients x sellers for the CDA's choice, units x clients for the maximum surplus):
about 100 teams with ten clients each. ``LLM_MARKET_JIT=0`` keeps every market on the plain
paths; ``LLM_MARKET_JIT=1`` uses the kernels at every size (the tests use both to compare them).
``python -m llm_market.market.jit`` compiles them ahead, e.g. before a large sweep whose workers
would otherwise each compile them at once.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

JIT_FROM = 20_000
"""Pairs of traders from which a market day runs compiled (with ``LLM_MARKET_JIT`` unset)."""

_loaded: dict[tuple[str, str], Callable | None] = {}


def kernel(module: str, name: str, pairs: int) -> Callable | None:
    """The compiled ``name`` of ``llm_market.market.<module>`` for a day of ``pairs``, or None.

    None when the day is small, numba is not installed (or cannot load on this platform), or
    ``LLM_MARKET_JIT=0``.
    """
    setting = os.environ.get("LLM_MARKET_JIT", "")
    if setting == "0" or (setting != "1" and pairs < JIT_FROM):
        return None
    key = (module, name)
    if key not in _loaded:
        try:
            found = getattr(importlib.import_module(f"{__package__}.{module}"), name)
        except ImportError:  # numba missing or unusable here: the plain path gives the same
            found = None
        _loaded[key] = found
    return _loaded[key]


def compile_kernels() -> float:
    """Compile (or load from numba's cache) every kernel on a tiny market; seconds it took.

    ``python -m llm_market.market.jit`` runs it. Without numba it does nothing.
    """
    import time

    import numpy as np

    start = time.perf_counter()
    try:
        from .efficiency_kernel import best_surplus
        from .mechanisms.cda_kernel import clear_day
    except ImportError:
        return 0.0
    best_surplus(np.array([2.0, 1.0]), np.array([1.0, 0.5]), np.array([0.1, 0.2]))
    for frontier_from in (1, 10**9):  # both ways of choosing a seller
        clear_day(
            np.arange(5),
            2,
            np.array([1.0, 2.0]),
            np.array([0, 1]),
            np.array([3.0, 3.0, 3.0]),
            np.array([True, False, False]),
            np.array([3.0, 3.0, 3.0]),
            np.array([0.5, 0.7]),
            np.random.default_rng(0),
            frontier_from,
        )
    return time.perf_counter() - start


if __name__ == "__main__":
    print(f"market kernels ready in {compile_kernels():.1f} s")
