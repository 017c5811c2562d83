"""When the market's compiled kernels run: large markets, with numba installed, unless turned off.

The kernels (:mod:`.mechanisms.cda_kernel`, :mod:`.efficiency_kernel` and
:mod:`llm_market.information.beliefs_kernel`) give the same results as the plain paths, bit for
bit, so this is only a question of speed. They cost time up front: the first run on a machine
compiles them (tens of seconds on a small machine; numba caches the machine code beside the
source), and every later process loads that cache (about 0.25 CPU s with numba's import, once
the model's own imports are done). A small market would not win that
back in a year of days (the default scenario's day is a few milliseconds either way), so they
run from :data:`JIT_FROM` pairs of traders up (clients x sellers for the CDA's choice, units x
clients for the maximum surplus; for the questions' sums, the cells of the teams' beliefs):
about 100 teams with ten clients each (about 300 for the beliefs). A short run would not
win it back either, so a process loads the kernels only once the plain paths have spent
:data:`PAYBACK_SECONDS` between them (the rent is shared, as most of the purchase, numba's
import, is). ``LLM_MARKET_JIT=0`` keeps every market on the plain paths; ``LLM_MARKET_JIT=1``
uses the kernels at every size (the tests use both to compare them).
``python -m llm_market.market.jit`` compiles them ahead, e.g. before a large sweep whose workers
would otherwise each compile them at once.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable

JIT_FROM = 20_000
"""Pairs of traders from which a market day may run compiled (with ``LLM_MARKET_JIT`` unset)."""

PAYBACK_SECONDS = 0.5
"""CPU seconds the kernels' plain paths run in a process, together, before the kernels load.

About what loading numba and the cached kernels costs on a busy machine (0.25 s measured on
the idle 2-core one), so (as in renting skis until the rent would have bought them) a short run
never spends much more than twice the least it could have, and a long one soon runs compiled."""

_loaded: dict[tuple[str, str], Callable | None] = {}
_plain_seconds = 0.0  # CPU time of every plain path in this process: the shared rent


def kernel(module: str, name: str, pairs: int) -> Callable | None:
    """The compiled ``name`` of ``module`` for a day of ``pairs``, or None.

    ``module`` is named from this package, ``llm_market.market`` (``"efficiency_kernel"``;
    ``"..information.beliefs_kernel"`` for one outside it).

    None when the day is small, the plain paths have not yet spent :data:`PAYBACK_SECONDS` in
    this process (and the kernel is not loaded), numba is not installed (or cannot load on this
    platform), or ``LLM_MARKET_JIT=0``. ``LLM_MARKET_JIT=1`` loads it for every day.
    """
    setting = os.environ.get("LLM_MARKET_JIT", "")
    key = (module, name)
    if setting == "0":
        return None
    if setting != "1":
        if pairs < JIT_FROM:
            return None
        if key not in _loaded and _plain_seconds < PAYBACK_SECONDS:
            return None
    if key not in _loaded:
        try:
            found = getattr(importlib.import_module(f".{module}", __package__), name)
        except ImportError:  # numba missing or unusable here: the plain path gives the same
            found = None
        _loaded[key] = found
    return _loaded[key]


def run(module: str, name: str, pairs: int, plain: Callable, *args):
    """``plain(*args)``, or the same call through the kernel when :func:`kernel` gives one.

    The plain path's CPU time is counted towards :data:`PAYBACK_SECONDS`.
    """
    global _plain_seconds
    compiled = kernel(module, name, pairs)
    if compiled is not None:
        return compiled(*args)
    start = time.process_time()
    result = plain(*args)
    _plain_seconds += time.process_time() - start
    return result


def compile_kernels() -> float:
    """Compile (or load from numba's cache) every kernel on a tiny market; seconds it took.

    ``python -m llm_market.market.jit`` runs it. Without numba it does nothing.
    """
    import numpy as np

    start = time.perf_counter()
    try:
        from ..information.beliefs_kernel import question_sums
        from .efficiency_kernel import best_surplus
        from .mechanisms.cda_kernel import clear_day
    except ImportError:
        return 0.0
    question_sums(np.zeros((1, 2, 3)), np.ones((1, 2, 3)), np.array([0, 1]), np.array([2, 0]))
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
