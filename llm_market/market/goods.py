"""Forecast goods: one report per index, produced at a convex cost.

A team that sells ``q`` reports on a good in a day pays ``c(q) = a q + b q^2``; the ``u``-th
report's marginal cost is ``a + b (2u - 1)``. Costs are paid when a report is sold (reports are
produced to order), and they leave the economy.
"""

from __future__ import annotations

import numpy as np


def production_cost(q, linear: float, quadratic: float) -> np.ndarray:
    """Total cost ``a q + b q^2`` of producing ``q`` reports."""
    q = np.asarray(q, dtype=float)
    return linear * q + quadratic * q * q


def marginal_costs(units: int, linear: float, quadratic: float) -> np.ndarray:
    """Marginal cost of the 1st..``units``-th report: ``a + b (2u - 1)``; sums to ``c(units)``."""
    u = np.arange(1, units + 1, dtype=float)
    return linear + quadratic * (2 * u - 1)
