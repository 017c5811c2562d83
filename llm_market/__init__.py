"""llm-market: an agent-based market in which research teams forecast and trade forecasts.

The main entry point is :class:`MarketModel`; ``llm-market run`` drives it from the command line.
"""

__version__ = "0.1.0"

from .agents import Principal, Team  # noqa: E402
from .model import MarketModel  # noqa: E402
from .params import SCENARIOS, ParameterError, Params, make_params  # noqa: E402

__all__ = [
    "MarketModel",
    "Team",
    "Principal",
    "Params",
    "ParameterError",
    "SCENARIOS",
    "make_params",
    "__version__",
]
