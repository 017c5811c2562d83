"""When the market's compiled kernels run: large markets, with numba installed, unless turned off.

The kernels (:mod:`.mechanisms.cda_kernel`, :mod:`.efficiency_kernel`) give the same results as
the plain paths, bit for bit, so this is only a question of speed. Compiling them takes tens of
seconds the first time on a small machine (numba caches the machine code beside the source
afterwards), which a small market would never win back: they run from :data:`JIT_FROM` pairs of
traders up (clients x sellers for the CDA's choice, units x clients for the maximum surplus).
``LLM_MARKET_JIT=0`` keeps every market on the plain paths; ``LLM_MARKET_JIT=1`` compiles for
every size (the tests use it to compare the two).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

JIT_FROM = 50_000
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
