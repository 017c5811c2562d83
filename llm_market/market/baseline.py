"""The no-book baseline of the classroom experiment: zero-intelligence traders matched at random.

Gode and Sunder's result is that a continuous double auction gets budget-constrained
zero-intelligence (ZI-C) traders to nearly full efficiency. How much of that is the order book's
doing? Without one, traders simply meet in random pairs. The protocol is the CDA's without the
book: each seller offers its units one at a time, cheapest first; a meeting pairs a random buyer
with a random seller, both of whom still want to trade; they draw ZI-C quotes (a bid on
``[floor, value]``, an ask on ``[cost, ceiling]``) and trade when the bid covers the ask. Nobody
sees a better offer elsewhere, so a low-value buyer can take a unit a high-value buyer wanted,
and units can be left unsold. The efficiency of that market is the baseline the CDA's
efficiency is compared with in the app's classroom view.
"""

from __future__ import annotations

import numpy as np

from .efficiency import allocative_efficiency, competitive_equilibrium
from .zero_intelligence import PRICE_FLOOR

# Meetings per trader of the larger side: enough that almost every trade that can happen does.
MEETINGS_PER_TRADER = 50


def random_matching_efficiency(
    values: np.ndarray,
    costs: np.ndarray,
    rng: np.random.Generator,
    price_max: float = 10.0,
    constrained: bool = True,
    meetings: int | None = None,
    sellers: np.ndarray | None = None,
) -> float:
    """Allocative efficiency of ZI traders who meet in random pairs, without an order book.

    Each meeting pairs a random buyer with a random seller; the seller offers its cheapest unit
    still unsold, both quote as ZI traders (as
    :func:`~llm_market.market.zero_intelligence.zi_bids` and ``zi_asks`` do) and they trade when
    the bid is at least the ask. A buyer buys at most one unit (unit demand), a unit sells once.
    A meeting with a buyer who has bought or a seller who has sold out is lost.

    Args:
        values: Each buyer's value of a unit.
        costs: Each unit's cost.
        rng: The random stream (meetings and quotes).
        price_max: Top of the quote range.
        constrained: ZI-C (no quote at a loss) rather than ZI-U.
        meetings: How many meetings the day has (default: ``MEETINGS_PER_TRADER`` times the
            larger side).
        sellers: The seller of each unit (default: every unit its own seller).

    Returns:
        Realised surplus over the maximum surplus of ``values`` and ``costs`` (NaN when no
        trade could create surplus).
    """
    values = np.asarray(values, dtype=float)
    costs = np.asarray(costs, dtype=float)
    best = competitive_equilibrium(values, costs).max_surplus
    if not values.size or not costs.size:
        return allocative_efficiency(0.0, best)
    sellers = np.arange(costs.size) if sellers is None else np.asarray(sellers)
    if sellers.shape != costs.shape:
        raise ValueError(f"sellers: one per unit ({costs.size}), got {sellers.size}")
    # Each seller's units in the order it offers them: cheapest first.
    ids, seller_of = np.unique(sellers, return_inverse=True)
    order = np.lexsort((costs, seller_of))
    queue = [costs[order][seller_of[order] == s].tolist() for s in range(ids.size)]
    n = meetings if meetings is not None else MEETINGS_PER_TRADER * max(values.size, costs.size)
    buyer = rng.integers(values.size, size=n).tolist()
    seller = rng.integers(ids.size, size=n).tolist()
    u_bid = rng.random(n).tolist()
    u_ask = rng.random(n).tolist()
    value = values.tolist()
    bought = [False] * values.size
    next_unit = [0] * ids.size
    surplus = 0.0
    # Sequential by nature: who is still in the market depends on the earlier meetings.
    for b, s, ub, ua in zip(buyer, seller, u_bid, u_ask, strict=True):
        if bought[b] or next_unit[s] == len(queue[s]):
            continue
        cost = queue[s][next_unit[s]]
        top = min(value[b], price_max) if constrained else price_max
        bid = PRICE_FLOOR + (max(top, PRICE_FLOOR) - PRICE_FLOOR) * ub
        low = min(cost, price_max) if constrained else PRICE_FLOOR
        if bid >= low + (price_max - low) * ua:
            bought[b] = True
            next_unit[s] += 1
            surplus += value[b] - cost
    return allocative_efficiency(surplus, best)


def trade_every_unit_efficiency(values: np.ndarray, costs: np.ndarray) -> tuple[float, float]:
    """The efficiency range of the allocations that sell every unit, as ZI-U traders tend to.

    When buyers (unit demand) are as many as the units, an allocation that trades every unit has
    one surplus whoever buys what, ``sum(values) - sum(costs)``: its efficiency is a number fixed
    by the induced values, not something a market finds. With more buyers than units, *which*
    buyers get the units decides it: from the lowest-value buyers' (the first number) to the
    highest-value buyers' (the second).

    Returns:
        ``(lowest, highest)`` efficiency of selling every unit (the two are equal when there
        are no more buyers than units; NaN when no trade could create surplus).
    """
    values = np.sort(np.asarray(values, dtype=float))
    costs = np.asarray(costs, dtype=float)
    best = competitive_equilibrium(values, costs).max_surplus
    k = min(values.size, costs.size)
    cost = float(np.sort(costs)[:k].sum())
    low = float(values[:k].sum()) - cost
    high = float(values[values.size - k :].sum()) - cost
    return allocative_efficiency(low, best), allocative_efficiency(high, best)
