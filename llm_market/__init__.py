"""llm-market: an agent-based market in which research teams forecast and trade forecasts.

The main entry point is :class:`MarketModel`; ``llm-market run`` drives it from the command line.
Names are imported lazily so that the command line answers quickly (Mesa is slow to import).
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "MarketModel": ".model",
    "Team": ".agents",
    "Principal": ".agents",
    "Params": ".params",
    "ParameterError": ".errors",
    "SCENARIOS": ".scenarios",
    "make_params": ".params",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    """Import public names on first use."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
