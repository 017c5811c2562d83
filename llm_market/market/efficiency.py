"""The maximum surplus of one market day, its competitive price, and allocative efficiency.

Homogeneous goods: given the day's submitted buyer values and seller unit costs, the maximum
surplus trades the highest values against the lowest costs while value exceeds cost, and the
competitive equilibrium price is the midpoint of the interval of prices that clear the market
(:func:`competitive_equilibrium`).

Differentiated goods (reports whose worth depends on their producer): a buyer's value of seller
``a``'s unit is ``stake_b * quality_a``. The maximum surplus is then an assignment problem, solved
exactly and fast by :func:`max_surplus` thanks to that product form (:func:`market_equilibrium`
picks the right benchmark for a day).

Allocative efficiency is the realised surplus (sum over trades of value minus cost, whatever the
price) divided by the maximum surplus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import jit
from .sorting import stable_argsort


@dataclass
class Equilibrium:
    """The competitive benchmark of one market day.

    Attributes:
        quantity: Units traded at the competitive equilibrium (at the surplus-maximising
            assignment, for differentiated goods).
        max_surplus: The largest total surplus the submitted values and costs allow.
        price_low: Lowest market-clearing price (NaN if nothing can trade, or if the goods are
            differentiated, where no single price clears the market).
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


def assortative_optimum(stakes, qualities, costs) -> tuple[float, int]:
    """Maximum surplus of the differentiated market and the number of units it trades.

    The market: unit-demand clients with stakes ``s_b``, units with qualities ``q_a >= 0`` and
    costs ``c_a``; client ``b`` values unit ``a`` at ``s_b * q_a``. The maximum surplus is the
    assignment problem ``max sum over matched (b, a) of s_b * q_a - c_a`` over matchings of clients
    to units (each at most once, nobody has to trade).

    Method. Sort the clients by stake, highest first (``s_(1) >= s_(2) >= ...``), and the units by
    quality, highest first. A dynamic programme walks the units in that order keeping, for every
    number ``r`` of units taken so far, the best surplus ``D[r]``; a unit is either skipped or put
    in slot ``r + 1``, where it is matched with the ``(r + 1)``-th highest stake:
    ``D'[r + 1] = max(D[r + 1], D[r] + s_(r+1) * q_a - c_a)``. The answer is ``max_r D[r]``. The
    cost is O(units x min(clients, units)): compiled for large markets
    (:mod:`.efficiency_kernel`, which updates only the slots that can change the answer; see
    :mod:`.jit`), in numpy otherwise.

    Why this is exact (proof sketch). Fix the set ``U`` of traded units, ``|U| = k``. Its costs are
    fixed, so only ``sum s_b q_a`` over the matching matters. (1) Whatever ``k`` clients trade,
    the rearrangement inequality makes pairing them with ``U`` in the same order (highest stake
    with highest quality) the best. (2) Replacing the traded clients by the ``k`` highest stakes
    raises each slot's stake weakly and, as ``q_a >= 0``, the sum weakly. So the optimum is
    ``max over U of sum_r s_(r) q_U(r) - c(U)`` with ``q_U`` in decreasing order, and every such
    ``U`` is one path of the programme (take exactly its units, in decreasing quality; ties in
    quality give the same sum in any order). Units that cannot gain with any client
    (``s_(1) * q_a <= c_a``) and clients that cannot gain with any unit are dropped first: some
    optimal matching uses only pairs with a positive gain, so the optimum does not change.

    Args:
        stakes: Each client's value of a unit of quality 1.
        qualities: Each unit's quality, ``>= 0``.
        costs: Each unit's cost.

    Returns:
        ``(maximum surplus, units traded at the optimum)``; ``(0.0, 0)`` when nothing can gain.
    """
    s = np.sort(np.asarray(stakes, dtype=float))[::-1]
    q = np.asarray(qualities, dtype=float)
    c = np.asarray(costs, dtype=float)
    if q.size and q.min() < 0:
        raise ValueError("qualities must be >= 0")
    if not (s.size and q.size):
        return 0.0, 0
    useful = s[0] * q - c > 0
    q, c = q[useful], c[useful]
    if not q.size:
        return 0.0, 0
    order = stable_argsort(-q)
    q, c = q[order], c[order]
    # Clients below the best possible gain cannot help; they are a tail of the sorted stakes.
    n_clients = int(np.count_nonzero(s * q[0] - c.min() > 0))
    m = min(n_clients, q.size)
    # Contiguous, as the kernel's vectorised loop wants (the sorted view runs backwards).
    s = np.ascontiguousarray(s[:m])
    surplus, k = jit.run("efficiency_kernel", "best_surplus", q.size * m, best_surplus, s, q, c)
    return float(surplus), int(k)


def best_surplus(s: np.ndarray, q: np.ndarray, c: np.ndarray) -> tuple[float, int]:
    """The programme of :func:`assortative_optimum` in numpy: ``(max_r D[r], its first r)``.

    Args:
        s: Stakes, highest first (one slot each).
        q: Units' qualities, highest first.
        c: Units' costs, in the same order.
    """
    m = s.size
    best = np.full(m + 1, -np.inf)
    best[0] = 0.0
    for i, (qa, ca) in enumerate(zip(q.tolist(), c.tolist(), strict=True)):
        r = min(i + 1, m)
        # Computed from the old D before the in-place update: slot j + 1 reads D[j].
        take = best[:r] + (s[:r] * qa - ca)
        np.maximum(best[1 : r + 1], take, out=best[1 : r + 1])
    k = int(np.argmax(best))
    return float(best[k]), k


def max_surplus(stakes, qualities, costs) -> float:
    """The maximum surplus of the differentiated market (see :func:`assortative_optimum`).

    Args:
        stakes: Each client's value of a unit of quality 1.
        qualities: Each unit's quality, ``>= 0``.
        costs: Each unit's cost.
    """
    return assortative_optimum(stakes, qualities, costs)[0]


def market_equilibrium(stakes, costs, qualities=None) -> Equilibrium:
    """The benchmark of one good-day, homogeneous or differentiated.

    Without qualities (homogeneous goods) this is :func:`competitive_equilibrium`. When every
    unit of positive quality has the same quality ``q`` (as when no track record separates the
    sellers yet) the good is homogeneous again, with values ``stake * q``; its competitive
    equilibrium is that of the positive-quality units (a unit of quality 0 is worth nothing to
    anyone and, at a nonnegative cost, never trades). Otherwise the goods are differentiated: the
    maximum surplus comes from :func:`assortative_optimum` and no single price clears the market
    (each quality would need its own price), so the price bounds are NaN.

    Args:
        stakes: Each client's value of a unit of quality 1.
        costs: Each unit's cost.
        qualities: Each unit's quality (None: 1 everywhere).
    """
    if qualities is None:
        return competitive_equilibrium(stakes, costs)
    q = np.asarray(qualities, dtype=float)
    c = np.asarray(costs, dtype=float)
    positive = q > 0
    valued = q[positive]
    # At most one positive quality (a min-max test: no sort of the qualities needed).
    if (not valued.size or valued.min() == valued.max()) and np.all(c[~positive] >= 0):
        level = valued[0] if valued.size else 0.0
        return competitive_equilibrium(np.asarray(stakes, dtype=float) * level, c[positive])
    surplus, quantity = assortative_optimum(stakes, q, c)
    return Equilibrium(quantity, surplus, np.nan, np.nan)


def allocative_efficiency(realised: float, maximum: float) -> float:
    """Realised surplus over maximum surplus; NaN when no trade could create surplus."""
    return realised / maximum if maximum > 0 else float("nan")
