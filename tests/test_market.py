import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from llm_market.market.demand import ClientPopulation, DemandRegime, stationary_distribution
from llm_market.market.efficiency import (
    allocative_efficiency,
    assortative_optimum,
    competitive_equilibrium,
    market_equilibrium,
    max_surplus,
)
from llm_market.market.goods import marginal_costs, production_cost
from llm_market.market.mechanisms import ContinuousDoubleAuction, OrderFlow


def test_stationary_distribution_solves_pi_p_and_matches_a_long_chain():
    p = np.array([[0.9, 0.1, 0.0], [0.05, 0.9, 0.05], [0.0, 0.2, 0.8]])
    pi = stationary_distribution(p)
    assert pi @ p == pytest.approx(pi)
    assert pi.sum() == pytest.approx(1.0)
    # Detailed balance of this birth-death chain: pi1 = 2 pi0, pi2 = pi1 / 4.
    assert pi == pytest.approx(np.array([2, 4, 1]) / 7)
    chain = DemandRegime(np.random.default_rng(0), ("low", "normal", "high"), (0.5, 1, 2), p)
    visits = np.bincount([chain.step() for _ in range(100_000)], minlength=3) / 100_000
    assert visits == pytest.approx(pi, abs=0.01)


def test_demand_regime_starts_in_the_most_likely_state_and_scales_values():
    p = np.array([[0.5, 0.5, 0.0], [0.1, 0.8, 0.1], [0.0, 0.5, 0.5]])
    chain = DemandRegime(np.random.default_rng(0), ("low", "normal", "high"), (0.5, 1, 2), p)
    assert chain.name == "normal" and chain.level == 1.0
    clients = ClientPopulation(np.random.default_rng(0), 2000, 3.0, 0.5, 0.5, 0.4, 0.0)
    low = clients.bids(0.5)
    high = clients.bids(2.0)
    assert np.median(high.value) / np.median(low.value) == pytest.approx(4.0, rel=0.1)
    # Zero-intelligence bids never exceed the value and respect the shading.
    assert np.all(low.price <= low.value) and np.all(low.price >= 0.6 * low.value - 1e-12)
    assert low.client.size == pytest.approx(1000, rel=0.1)


def test_convex_costs():
    mc = marginal_costs(4, 0.5, 0.1)
    assert mc.sum() == pytest.approx(production_cost(4, 0.5, 0.1))
    assert np.all(np.diff(mc) > 0)


def test_competitive_equilibrium_of_a_textbook_example():
    eq = competitive_equilibrium([10, 8, 6, 4, 2], [1, 3, 5, 7, 9])
    assert eq.quantity == 3
    assert eq.max_surplus == pytest.approx(9 + 5 + 1)
    assert (eq.price_low, eq.price_high) == (5, 6)
    assert eq.price == 5.5
    none = competitive_equilibrium([1, 2], [3, 4])
    assert none.quantity == 0 and np.isnan(none.price)
    assert allocative_efficiency(7.5, 15) == 0.5
    assert np.isnan(allocative_efficiency(0, 0))


def flow(asks, bids, values=None, market=None, costs=None):
    asks, bids = np.asarray(asks, float), np.asarray(bids, float)
    return OrderFlow(
        ask_team=np.arange(asks.size),
        ask_price=asks,
        ask_cost=np.asarray(costs if costs is not None else asks * 0.5, float),
        bid_client=np.arange(bids.size),
        bid_price=bids,
        bid_value=np.asarray(values if values is not None else bids, float),
        bid_market=np.asarray(market if market is not None else np.zeros(bids.size), bool),
    )


def test_cda_trades_at_the_resting_price_and_expires_day_orders():
    cda = ContinuousDoubleAuction(1)
    f = flow([5.0, 6.0, 7.0], [6.5, 4.0, 8.0])
    rng = np.random.default_rng(0)
    trades = cda.clear(0, f, rng)
    # Re-create the arrival order to know who rested.
    arrival = np.random.default_rng(0).permutation(6)
    assert len(trades) >= 1
    for b, a, p in zip(trades.bid, trades.ask, trades.price, strict=True):
        assert f.bid_price[b] >= f.ask_price[a]
        assert p in (f.bid_price[b], f.ask_price[a])
        # The price is that of whichever order arrived first.
        first = min(np.flatnonzero(arrival == a)[0], np.flatnonzero(arrival == 3 + b)[0])
        assert p == (f.ask_price[a] if arrival[first] == a else f.bid_price[b])
    assert len(cda.books[0]) == 0
    assert cda.quotes[0].spread == cda.quotes[0].best_ask - cda.quotes[0].best_bid


def test_cda_market_order_clients_never_pay_above_value():
    cda = ContinuousDoubleAuction(1)
    rng = np.random.default_rng(1)
    asks = rng.uniform(1, 10, 200)
    values = rng.uniform(1, 10, 200)
    f = flow(asks, values * 0.8, values=values, market=np.ones(200))
    trades = cda.clear(0, f, rng)
    assert len(trades) > 0
    assert np.all(trades.price <= f.bid_value[trades.bid] + 1e-12)
    # Each order trades at most once (one unit each).
    assert len(set(trades.bid)) == len(trades) and len(set(trades.ask)) == len(trades)


def brute_force_surplus(stakes, qualities, costs) -> float:
    """The assignment problem solved by scipy (no trade: a zero weight)."""
    if not (len(stakes) and len(qualities)):
        return 0.0
    weight = np.maximum(np.outer(stakes, qualities) - np.asarray(costs)[None, :], 0.0)
    rows, cols = linear_sum_assignment(weight, maximize=True)
    return float(weight[rows, cols].sum())


grid = st.integers(0, 6).map(lambda x: x / 2)  # a coarse grid: many ties, zero qualities


@settings(max_examples=300, deadline=None)
@given(
    stakes=st.lists(grid, max_size=8),
    units=st.lists(st.tuples(grid, grid), max_size=8),
)
def test_max_surplus_solves_the_assignment_problem(stakes, units):
    qualities = [q for q, _ in units]
    costs = [c for _, c in units]
    expected = brute_force_surplus(stakes, qualities, costs)
    assert max_surplus(stakes, qualities, costs) == pytest.approx(expected, abs=1e-9)
    surplus, quantity = assortative_optimum(stakes, qualities, costs)
    assert quantity <= min(len(stakes), len(units)) and (quantity > 0) == (surplus > 0)
    # With every quality 1 it is the homogeneous maximum.
    ones = max_surplus(stakes, np.ones(len(units)), costs)
    assert ones == pytest.approx(competitive_equilibrium(stakes, costs).max_surplus, abs=1e-9)


def test_max_surplus_on_random_real_markets():
    rng = np.random.default_rng(0)
    for _ in range(200):
        nb, na = rng.integers(1, 12, 2)
        stakes, qualities = rng.lognormal(0, 0.5, nb), rng.uniform(0, 2, na)
        qualities[rng.random(na) < 0.2] = 0.0
        costs = rng.uniform(0, 2, na)
        expected = brute_force_surplus(stakes, qualities, costs)
        assert max_surplus(stakes, qualities, costs) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError):
        max_surplus([1.0], [-1.0], [0.0])


def test_market_equilibrium_names_a_price_only_when_one_price_clears():
    stakes, costs = [10, 8, 6, 4, 2], [1, 3, 5, 7, 9]
    homogeneous = competitive_equilibrium(stakes, costs)
    assert market_equilibrium(stakes, costs) == homogeneous
    assert market_equilibrium(stakes, costs, np.ones(5)) == homogeneous
    # One quality level (and worthless units beside it): homogeneous again, in values 0.5 x stake.
    half = market_equilibrium(stakes + [1], costs + [0.5], [0.5] * 5 + [0.0])
    assert half == competitive_equilibrium(0.5 * np.array(stakes + [1]), costs)
    # Values 5, 4, 3, 2, 1, 0.5 against costs 1, 3, 5, 7, 9: two trade, clearing prices [3, 4].
    assert (half.quantity, half.price) == (2, 3.5)
    two = market_equilibrium(stakes, costs, [1, 1, 2, 2, 2])
    assert np.isnan(two.price)
    assert two.max_surplus == pytest.approx(brute_force_surplus(stakes, [1, 1, 2, 2, 2], costs))
