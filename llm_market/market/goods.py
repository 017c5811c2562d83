"""Forecast goods: one report per index, produced at a convex cost.

A team that sells ``q`` reports on a good in a day pays ``c(q) = a q + b q^2``; the ``u``-th
report's marginal cost is ``a + b (2u - 1)``. Costs are paid when a report is sold (reports are
produced to order), and they leave the economy.
"""

from __future__ import annotations

import numpy as np

from .sorting import run_heads, stable_argsort


def production_cost(q, linear: float, quadratic: float) -> np.ndarray:
    """Total cost ``a q + b q^2`` of producing ``q`` reports."""
    q = np.asarray(q, dtype=float)
    return linear * q + quadratic * q * q


def marginal_costs(units: int, linear: float, quadratic: float) -> np.ndarray:
    """Marginal cost of the 1st..``units``-th report: ``a + b (2u - 1)``; sums to ``c(units)``."""
    u = np.arange(1, units + 1, dtype=float)
    return linear + quadratic * (2 * u - 1)


def sale_costs(seller: np.ndarray, marginal_cost: np.ndarray) -> np.ndarray:
    """Production cost of each sale, in execution order: a team's k-th sale costs the k-th MC.

    Costs are convex in the quantity a team sells, ``c(q) = sum of the first q marginal costs``,
    whichever of its asks happened to fill, so the cost booked follows the order of sales.
    """
    n = seller.size
    if n == 0:
        return np.zeros(0)
    order = stable_argsort(seller)
    grouped = seller[order]
    heads = run_heads(grouped)
    # A sale's rank among its seller's sales: its place less the start of the seller's run.
    rank = np.arange(n) - np.flatnonzero(heads)[np.cumsum(heads) - 1]
    cost = np.empty(n)
    cost[order] = marginal_cost[rank]
    return cost
