"""Zero-intelligence traders (Gode and Sunder 1993), for the classroom experiment.

Gode and Sunder gave traders induced values (buyers) and costs (sellers) and let them quote
random prices: *ZI-U* (unconstrained) traders draw bids and asks uniformly on the whole price range
whatever their value or cost; *ZI-C* (constrained) traders cannot trade at a loss, so a buyer bids
uniformly on ``[floor, value]`` and a seller asks uniformly on ``[cost, ceiling]``. In a continuous
double auction the constrained traders reach close to 100% allocative efficiency: the market
institution, not the traders' intelligence, does most of the work. The unconstrained ones do
clearly worse, because they trade units whose cost exceeds their value.

Traders who have not traded quote again in every round of the day (Gode and Sunder's traders kept
quoting during a trading period); between rounds their old quotes are cancelled. As in Gode and
Sunder, a seller offers its units one at a time, cheapest first: only its next unsold unit quotes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRICE_FLOOR = 0.01


def zi_bids(rng: np.random.Generator, values: np.ndarray, constrained: bool, ceiling: float):
    """Draw zero-intelligence bids: on ``[floor, value]`` (ZI-C) or ``[floor, ceiling]`` (ZI-U)."""
    top = np.minimum(values, ceiling) if constrained else np.full(values.shape, ceiling)
    return PRICE_FLOOR + (np.maximum(top, PRICE_FLOOR) - PRICE_FLOOR) * rng.random(values.shape)


def zi_asks(rng: np.random.Generator, costs: np.ndarray, constrained: bool, ceiling: float):
    """Draw zero-intelligence asks: on ``[cost, ceiling]`` (ZI-C) or ``[floor, ceiling]`` (ZI-U)."""
    low = np.minimum(costs, ceiling) if constrained else np.full(costs.shape, PRICE_FLOOR)
    return low + (ceiling - low) * rng.random(costs.shape)


@dataclass
class ZIQuotes:
    """Draws fresh quotes for the orders that have not traded yet (a CDA ``requote`` hook).

    Attributes:
        values: Every bid's value.
        costs: Every ask's cost (a seller's units in order, cheapest first).
        sellers: The seller of every ask.
        constrained: ZI-C when True, ZI-U when False.
        ceiling: Top of the price range.
    """

    values: np.ndarray
    costs: np.ndarray
    sellers: np.ndarray
    constrained: bool
    ceiling: float

    def __call__(self, rng: np.random.Generator, asks: np.ndarray, bids: np.ndarray):
        """Return new prices for the open asks and bids at the given indices.

        Only each seller's first open unit gets a price; its other units get NaN (not quoted).
        """
        asks = np.sort(asks)
        _, first = np.unique(self.sellers[asks], return_index=True)
        new_asks = np.full(asks.size, np.nan)
        new_asks[first] = zi_asks(rng, self.costs[asks[first]], self.constrained, self.ceiling)
        new_bids = zi_bids(rng, self.values[bids], self.constrained, self.ceiling)
        return np.round(new_asks, 2), np.round(new_bids, 2)
