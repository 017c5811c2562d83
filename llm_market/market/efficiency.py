"""Competitive equilibrium and allocative efficiency of one market day.

Given the day's submitted buyer values and seller unit costs, the maximum surplus trades the
highest values against the lowest costs while value exceeds cost. Allocative efficiency is the
realised surplus (sum over trades of value minus cost, whatever the price) divided by that maximum.
The competitive equilibrium price is the midpoint of the interval of prices that clear the market.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Equilibrium:
    """The competitive benchmark of one market day.

    Attributes:
        quantity: Units traded at the competitive equilibrium.
        max_surplus: The largest total surplus the submitted values and costs allow.
        price_low: Lowest market-clearing price (NaN if nothing can trade).
        price_high: Highest market-clearing price.
    """

    quantity: int
    max_surplus: float
    price_low: float
    price_high: float

    @property
    def price(self) -> float:
        """Midpoint of the clearing interval."""
        return 0.5 * (self.price_low + self.price_high)


def competitive_equilibrium(values, costs) -> Equilibrium:
    """Return the competitive equilibrium of unit demand ``values`` and unit supply ``costs``."""
    v = np.sort(np.asarray(values, dtype=float))[::-1]
    c = np.sort(np.asarray(costs, dtype=float))
    n = min(v.size, c.size)
    gains = v[:n] - c[:n]
    q = int(np.count_nonzero(gains > 0))
    if q == 0:
        return Equilibrium(0, 0.0, np.nan, np.nan)
    # Clearing prices p satisfy: q buyers and q sellers willing, the (q+1)-th of neither.
    low = max(c[q - 1], v[q] if q < v.size else -np.inf)
    high = min(v[q - 1], c[q] if q < c.size else np.inf)
    return Equilibrium(q, float(gains[:q].sum()), float(low), float(high))


def allocative_efficiency(realised: float, maximum: float) -> float:
    """Realised surplus over maximum surplus; NaN when no trade could create surplus."""
    return realised / maximum if maximum > 0 else float("nan")
