"""The no-book baseline of the classroom experiment: zero-intelligence traders matched at random.

Gode and Sunder's result is that a continuous double auction gets budget-constrained
zero-intelligence (ZI-C) traders to nearly full efficiency. How much of that is the order book's
doing? Without one, traders simply meet in random pairs: a buyer and a seller who both still want
to trade draw ZI-C quotes (a bid on ``[floor, value]``, an ask on ``[cost, ceiling]``) and trade at
the midpoint when the bid covers the ask. Nobody sees a better offer elsewhere, so a high-value
buyer can end up with a high-cost unit, and units can be left unsold. The efficiency of that
market is the baseline the CDA's efficiency is compared with in the app's classroom view.
"""

from __future__ import annotations

import numpy as np

from .efficiency import allocative_efficiency, competitive_equilibrium
from .zero_intelligence import zi_asks, zi_bids

# Meetings per trader of the larger side: enough that almost every trade that can happen does.
MEETINGS_PER_TRADER = 50


def random_matching_efficiency(
    values: np.ndarray,
    costs: np.ndarray,
    rng: np.random.Generator,
    price_max: float = 10.0,
    constrained: bool = True,
    meetings: int | None = None,
) -> float:
    """Allocative efficiency of ZI traders who meet in random pairs, without an order book.

    Each meeting pairs a random buyer with a random unit still unsold; both quote as ZI traders
    (:func:`~llm_market.market.zero_intelligence.zi_bids` and ``zi_asks``) and trade when the bid
    is at least the ask. A buyer buys at most one unit (unit demand), a unit sells once.

    Args:
        values: Each buyer's value of a unit.
        costs: Each unit's cost.
        rng: The random stream (meetings and quotes).
        price_max: Top of the quote range.
        constrained: ZI-C (no quote at a loss) rather than ZI-U.
        meetings: How many meetings the day has (default: ``MEETINGS_PER_TRADER`` times the
            larger side).

    Returns:
        Realised surplus over the maximum surplus of ``values`` and ``costs`` (NaN when no
        trade could create surplus).
    """
    values = np.asarray(values, dtype=float)
    costs = np.asarray(costs, dtype=float)
    best = competitive_equilibrium(values, costs).max_surplus
    if not values.size or not costs.size:
        return allocative_efficiency(0.0, best)
    n = meetings if meetings is not None else MEETINGS_PER_TRADER * max(values.size, costs.size)
    buyers = rng.integers(values.size, size=n)
    units = rng.integers(costs.size, size=n)
    bids = zi_bids(rng, values[buyers], constrained, price_max)
    asks = zi_asks(rng, costs[units], constrained, price_max)
    bought = np.zeros(values.size, bool)
    sold = np.zeros(costs.size, bool)
    surplus = 0.0
    # Sequential by nature (who is still in the market depends on earlier meetings), but cheap:
    # only the meetings whose quotes cross can trade.
    for i in np.flatnonzero(bids >= asks):
        b, u = buyers[i], units[i]
        if bought[b] or sold[u]:
            continue
        bought[b] = sold[u] = True
        surplus += values[b] - costs[u]
    return allocative_efficiency(surplus, best)
