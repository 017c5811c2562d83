"""Tests for the matching mechanisms: each one's defining rule and the shared invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_market.market.efficiency import competitive_equilibrium
from llm_market.market.mechanisms import (
    MECHANISM_CLASSES,
    MECHANISMS,
    BilateralBargaining,
    CallAuction,
    OrderFlow,
    PostedPrices,
    Trades,
    make_mechanism,
)

# Every registered mechanism is held to the shared properties below; the four of the spec must be
# among them.
NAMES = MECHANISMS
SPEC_NAMES = ("cda", "call", "bilateral", "posted")
PROP = settings(max_examples=60, deadline=None)


def make_flow(
    bid_price,
    ask_price,
    bid_value=None,
    bid_market=None,
    ask_cost=None,
    ask_team=None,
    bid_client=None,
) -> OrderFlow:
    bid_price = np.asarray(bid_price, dtype=float)
    ask_price = np.asarray(ask_price, dtype=float)
    nb, na = bid_price.size, ask_price.size
    return OrderFlow(
        ask_team=np.arange(na) if ask_team is None else np.asarray(ask_team),
        ask_price=ask_price,
        ask_cost=0.5 * ask_price if ask_cost is None else np.asarray(ask_cost, dtype=float),
        bid_client=np.arange(nb) if bid_client is None else np.asarray(bid_client),
        bid_price=bid_price,
        bid_value=bid_price.copy() if bid_value is None else np.asarray(bid_value, dtype=float),
        bid_market=np.zeros(nb, bool) if bid_market is None else np.asarray(bid_market, bool),
    )


def random_flow(seed: int, nb: int, na: int, levels: int, market_share: float = 0.3) -> OrderFlow:
    """A flow on a coarse price grid (many ties), values >= bid prices, any costs."""
    rng = np.random.default_rng(seed)
    bid_price = rng.integers(1, levels + 1, nb) / 2
    value = bid_price + rng.integers(0, 4, nb) / 2
    ask_price = rng.integers(1, levels + 1, na) / 2
    cost = np.maximum(ask_price - rng.integers(-2, 4, na) / 2, 0.0)
    return OrderFlow(
        ask_team=rng.integers(0, 6, na),
        ask_price=ask_price,
        ask_cost=cost,
        bid_client=rng.permutation(3 * nb + 1)[:nb],
        bid_price=bid_price,
        bid_value=value,
        bid_market=rng.random(nb) < market_share,
    )


def large_flow(seed: int, nb: int = 10_000, na: int = 15_000) -> OrderFlow:
    """Model-sized flow: log-normal values, shaded bids, costs marked up into asks."""
    rng = np.random.default_rng(seed)
    value = rng.lognormal(0, 0.5, nb)
    cost = rng.lognormal(0, 0.5, na) * 0.8
    return OrderFlow(
        ask_team=rng.integers(0, 50, na),
        ask_price=np.round(np.maximum(cost * (1 + 0.3 * rng.random(na)), 0.01), 2),
        ask_cost=cost,
        bid_client=np.sort(rng.choice(100_000, nb, replace=False)),
        bid_price=np.maximum(np.round(value * (1 - 0.3 * rng.random(nb)), 2), 0.01),
        bid_value=value,
        bid_market=rng.random(nb) < 0.2,
    )


def effective_bid(flow: OrderFlow) -> np.ndarray:
    return np.where(flow.bid_market, flow.bid_value, flow.bid_price)


def clear(name: str, flow: OrderFlow, seed: int = 0) -> tuple[Trades, object]:
    mech = make_mechanism(name, 1)
    return mech.clear(0, flow, np.random.default_rng(seed)), mech


flows = st.builds(
    random_flow,
    seed=st.integers(0, 2**32 - 1),
    nb=st.integers(0, 30),
    na=st.integers(0, 30),
    levels=st.integers(1, 12),
)


# --------------------------------------------------------------------------- all mechanisms


def test_registry():
    assert set(SPEC_NAMES) <= set(MECHANISM_CLASSES)
    for name in NAMES:
        mech = make_mechanism(name, 3)
        assert mech.name == name
        assert len(mech.quotes) == 3


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("nb,na", [(0, 0), (0, 5), (5, 0)])
def test_empty_sides_trade_nothing(name, nb, na):
    trades, mech = clear(name, random_flow(1, nb, na, 5))
    assert len(trades) == 0
    assert trades.bid.dtype == np.int64 and trades.ask.dtype == np.int64
    quote = mech.quotes[0]
    assert np.isnan(quote.best_ask) == (na == 0)
    if name != "cda":  # the CDA's market orders never rest, so its bid side may stay empty
        assert np.isnan(quote.best_bid) == (nb == 0)


@pytest.mark.parametrize("name", NAMES)
@PROP
@given(flow=flows, seed=st.integers(0, 2**32 - 1))
def test_shared_invariants(name, flow, seed):
    trades, _ = clear(name, flow, seed)
    n = len(trades)
    assert trades.bid.shape == trades.ask.shape == trades.price.shape == (n,)
    # Valid indices, each bid and each ask used at most once.
    assert np.all((0 <= trades.bid) & (trades.bid < flow.bid_price.size))
    assert np.all((0 <= trades.ask) & (trades.ask < flow.ask_price.size))
    assert np.unique(trades.bid).size == n
    assert np.unique(trades.ask).size == n
    assert np.all(np.isfinite(trades.price))
    # Nobody pays above value, no seller gets less than its ask.
    assert np.all(trades.price <= flow.bid_value[trades.bid])
    assert np.all(trades.price >= flow.ask_price[trades.ask])
    if name != "posted":
        # Limit bids are honoured too (posted prices shop with the value, see its docstring).
        assert np.all(trades.price <= effective_bid(flow)[trades.bid])
    # Allocative efficiency is at most one.
    eq = competitive_equilibrium(flow.bid_value, flow.ask_cost)
    realised = float((flow.bid_value[trades.bid] - flow.ask_cost[trades.ask]).sum())
    assert realised <= eq.max_surplus + 1e-9


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None)
@given(flow=flows, seed=st.integers(0, 2**32 - 1))
def test_deterministic_given_rng(name, flow, seed):
    (t1, m1), (t2, m2) = clear(name, flow, seed), clear(name, flow, seed)
    np.testing.assert_array_equal(t1.bid, t2.bid)
    np.testing.assert_array_equal(t1.ask, t2.ask)
    np.testing.assert_array_equal(t1.price, t2.price)
    q1, q2 = m1.quotes[0], m2.quotes[0]
    assert (q1.bids, q1.asks) == (q2.bids, q2.asks)
    np.testing.assert_array_equal([q1.best_bid, q1.best_ask], [q2.best_bid, q2.best_ask])


@pytest.mark.parametrize("name", ["call", "bilateral", "posted"])
def test_value_equal_to_bid_never_overpays(name):
    flow = large_flow(7, 2_000, 3_000)
    flow.bid_value = flow.bid_price.copy()
    trades, _ = clear(name, flow, 3)
    assert len(trades) > 0
    assert np.all(trades.price <= flow.bid_value[trades.bid])


@pytest.mark.parametrize("name", ["call", "bilateral", "posted"])
def test_model_sized_flow_clears_efficiently(name):
    # Speed is measured in benchmarks/, never asserted here.
    flow = large_flow(11)
    mech = make_mechanism(name, 1)
    trades = mech.clear(0, flow, np.random.default_rng(0))
    eq = competitive_equilibrium(flow.bid_value, flow.ask_cost)
    realised = (flow.bid_value[trades.bid] - flow.ask_cost[trades.ask]).sum()
    assert 0.5 < realised / eq.max_surplus <= 1.0


# --------------------------------------------------------------------------- call auction


def volume_at(bids: np.ndarray, asks: np.ndarray, p: float) -> int:
    return int(min(np.count_nonzero(bids >= p), np.count_nonzero(asks <= p)))


@PROP
@given(flow=flows, seed=st.integers(0, 2**32 - 1))
def test_call_auction_rule(flow, seed):
    trades, mech = clear("call", flow, seed)
    bids, asks = effective_bid(flow), flow.ask_price
    candidates = np.concatenate([bids, asks])
    best = max((volume_at(bids, asks, p) for p in candidates), default=0)
    assert len(trades) == best
    if best == 0:
        assert np.isnan(mech.prices[0])
        return
    p = trades.price[0]
    assert np.all(trades.price == p)
    assert volume_at(bids, asks, p) == best
    # Tie rule: the midpoint of the market-clearing interval, whose ends are the nb-th and
    # (nb+1)-th lowest of all order prices pooled (where demand meets supply).
    pooled = np.sort(candidates)
    assert p == pytest.approx(0.5 * (pooled[bids.size - 1] + pooled[bids.size]), abs=1e-12)
    # Bids at or above p, asks at or below p, and price priority: nothing better is left out.
    traded_b = np.zeros(bids.size, bool)
    traded_b[trades.bid] = True
    traded_a = np.zeros(asks.size, bool)
    traded_a[trades.ask] = True
    assert np.all(bids[traded_b] >= p) and np.all(asks[traded_a] <= p)
    assert not np.any(bids[~traded_b] > p) and not np.any(asks[~traded_a] < p)
    # The closing quote shows the leftovers, which straddle the price.
    quote = mech.quotes[0]
    if (~traded_b).any():
        assert quote.best_bid == bids[~traded_b].max() <= p
    if (~traded_a).any():
        assert quote.best_ask == asks[~traded_a].min() >= p


def test_call_auction_worked_example():
    flow = make_flow([10, 8, 6], [5, 7, 9])
    trades, mech = clear("call", flow)
    # Two units cross (10 >= 5, 8 >= 7, 6 < 9); clearing interval [max(7, 6), min(8, 9)].
    assert len(trades) == 2
    np.testing.assert_array_equal(trades.price, [7.5, 7.5])
    assert sorted(trades.bid.tolist()) == [0, 1] and sorted(trades.ask.tolist()) == [0, 1]
    assert mech.quotes[0].best_bid == 6 and mech.quotes[0].best_ask == 9


def test_call_auction_market_bid_enters_at_value():
    flow = make_flow([1.0], [5.0], bid_value=[10.0], bid_market=[True])
    trades, _ = clear("call", flow)
    np.testing.assert_array_equal(trades.price, [7.5])


def test_call_auction_rations_the_margin_at_random():
    flow = make_flow([10, 10, 10], [5, 5])
    chosen = set()
    for seed in range(40):
        trades, _ = clear("call", flow, seed)
        np.testing.assert_array_equal(trades.price, [10.0, 10.0])
        chosen.update(trades.bid.tolist())
    assert chosen == {0, 1, 2}


# --------------------------------------------------------------------------- bilateral


@PROP
@given(flow=flows, seed=st.integers(0, 2**32 - 1))
def test_bilateral_trades_feasible_pairs_at_the_split(flow, seed):
    trades, mech = clear("bilateral", flow, seed)
    bids, asks = effective_bid(flow), flow.ask_price
    b, a = bids[trades.bid], asks[trades.ask]
    assert np.all(b >= a)
    np.testing.assert_allclose(trades.price, 0.5 * (b + a))
    # Without restrictions bargaining only stops when no crossing pair is left.
    left_b = np.setdiff1d(np.arange(bids.size), trades.bid)
    left_a = np.setdiff1d(np.arange(asks.size), trades.ask)
    if left_b.size and left_a.size:
        assert bids[left_b].max() < asks[left_a].min()
        assert mech.quotes[0].best_bid == bids[left_b].max()
        assert mech.quotes[0].best_ask == asks[left_a].min()


@PROP
@given(flow=flows, seed=st.integers(0, 2**32 - 1), density=st.floats(0.0, 1.0))
def test_bilateral_respects_allowed(flow, seed, density):
    net = np.random.default_rng(seed).random((3 * flow.bid_price.size + 1, 6)) < density

    def allowed(client, team):
        assert client.shape == team.shape
        return net[client, team]

    # Rounds enough for every feasible pair to meet; the stopping test ends the day early.
    mech = BilateralBargaining(1, allowed=allowed, max_rounds=20_000)
    trades = mech.clear(0, flow, np.random.default_rng(seed))
    assert np.all(net[flow.bid_client[trades.bid], flow.ask_team[trades.ask]])
    assert np.all(effective_bid(flow)[trades.bid] >= flow.ask_price[trades.ask])
    assert mech.rounds[0] <= mech.max_rounds
    # Leftovers: no crossing pair that the network allows (the sets here are small enough for
    # the exhaustive stopping test).
    left_b = np.setdiff1d(np.arange(flow.bid_price.size), trades.bid)
    left_a = np.setdiff1d(np.arange(flow.ask_price.size), trades.ask)
    bb, aa = np.meshgrid(left_b, left_a, indexing="ij")
    cross = effective_bid(flow)[bb] >= flow.ask_price[aa]
    assert not np.any(cross & net[flow.bid_client[bb], flow.ask_team[aa]])


def test_bilateral_allowed_can_block_and_be_set_later():
    flow = make_flow([10, 10], [1, 1])
    mech = BilateralBargaining(1)
    assert len(mech.clear(0, flow, np.random.default_rng(0))) == 2
    mech.allowed = lambda c, t: np.zeros(c.size, bool)
    assert len(mech.clear(0, flow, np.random.default_rng(0))) == 0
    assert mech.quotes[0].best_bid == 10 and mech.quotes[0].best_ask == 1
    # Only client 1 may trade with team 0.
    mech.allowed = lambda c, t: (c == 1) & (t == 0)
    trades = mech.clear(0, flow, np.random.default_rng(0))
    assert trades.bid.tolist() == [1] and trades.ask.tolist() == [0]
    np.testing.assert_array_equal(trades.price, [5.5])


def test_bilateral_round_limit():
    flow = large_flow(5, 2_000, 3_000)
    mech = BilateralBargaining(1, max_rounds=1)
    one = mech.clear(0, flow, np.random.default_rng(0))
    assert mech.rounds[0] == 1
    mech.max_rounds = 200
    full = mech.clear(0, flow, np.random.default_rng(0))
    assert 0 < len(one) < len(full)


# --------------------------------------------------------------------------- posted prices


@PROP
@given(flow=flows, seed=st.integers(0, 2**32 - 1))
def test_posted_buyers_take_the_cheapest_remaining_offer(flow, seed):
    trades, mech = clear("posted", flow, seed)
    asks, values = flow.ask_price, flow.bid_value
    # Trades are in arrival order and each takes the cheapest offer left: the j-th sale is the
    # j-th cheapest offer, at its posted price, and the buyer could afford it.
    np.testing.assert_array_equal(trades.price, np.sort(asks)[: len(trades)])
    np.testing.assert_array_equal(trades.price, asks[trades.ask])
    assert np.all(trades.price <= values[trades.bid])
    # A client that left could not afford the cheapest offer then, which is at most any offer
    # still unsold now.
    unsold = np.setdiff1d(np.arange(asks.size), trades.ask)
    idle = np.setdiff1d(np.arange(values.size), trades.bid)
    if unsold.size and idle.size:
        assert values[idle].max() < asks[unsold].min()
        assert mech.quotes[0].best_bid == values[idle].max()
        assert mech.quotes[0].best_ask == asks[unsold].min()


def test_posted_uses_value_as_reservation():
    flow = make_flow([1.0, 1.0], [5.0, 6.0], bid_value=[10.0, 5.5], bid_market=[False, True])
    trades, _ = clear("posted", flow)
    # Whoever arrives first takes the 5.0 offer; the 6.0 offer is above the other's 5.5 unless
    # the 10.0 client comes second.
    assert len(trades) in (1, 2)
    assert trades.price[0] == 5.0
    assert np.all(trades.price <= flow.bid_value[trades.bid])


def test_posted_breaks_price_ties_at_random():
    flow = make_flow([10.0], [5.0, 5.0, 5.0])
    sold = {int(clear("posted", flow, seed)[0].ask[0]) for seed in range(40)}
    assert sold == {0, 1, 2}


def test_posted_direct_classes():
    assert isinstance(make_mechanism("posted", 1), PostedPrices)
    assert isinstance(make_mechanism("call", 1), CallAuction)
    assert isinstance(make_mechanism("bilateral", 1), BilateralBargaining)
