"""Tests for the matching mechanisms: each one's defining rule and the shared invariants."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_market.market.clearing import clear_good
from llm_market.market.efficiency import competitive_equilibrium, max_surplus
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
from llm_market.market.zero_intelligence import ZIQuotes

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


def assert_well_formed(trades: Trades, flow: OrderFlow) -> None:
    n = len(trades)
    assert trades.bid.shape == trades.ask.shape == trades.price.shape == (n,)
    # Valid indices, each bid and each ask used at most once.
    assert np.all((0 <= trades.bid) & (trades.bid < flow.bid_price.size))
    assert np.all((0 <= trades.ask) & (trades.ask < flow.ask_price.size))
    assert np.unique(trades.bid).size == n
    assert np.unique(trades.ask).size == n
    assert np.all(np.isfinite(trades.price))


@pytest.mark.parametrize("name", NAMES)
@PROP
@given(flow=flows, seed=st.integers(0, 2**32 - 1))
def test_shared_invariants(name, flow, seed):
    trades, _ = clear(name, flow, seed)
    assert_well_formed(trades, flow)
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


# --------------------------------------------------------------------------- homogeneous goods


def golden_flows():
    """Seeded flows whose homogeneous trades were recorded before goods were differentiated."""
    flows = [random_flow(seed, 5 + 3 * seed, 40 - 2 * seed, 2 + seed) for seed in range(12)]
    return flows + [large_flow(3, 2_000, 3_000)]


def zi_flow(seed: int, constrained: bool) -> OrderFlow:
    rng = np.random.default_rng(seed)
    values = np.sort(rng.uniform(1, 9, 40))[::-1]
    costs = np.tile(np.sort(rng.uniform(1, 9, 5)), 8)
    team = np.repeat(np.arange(8), 5)
    quotes = ZIQuotes(values, costs, team, constrained, 10.0)
    ask, bid = quotes(rng, np.arange(costs.size), np.arange(values.size))
    return OrderFlow(
        team, ask, costs, np.arange(40), bid, values, np.zeros(40, bool), requote=quotes
    )


def homogeneous_digest(name: str, quality_ones: bool) -> str:
    """Digest of two days of trades, costs, benchmarks and quotes over the golden flows."""
    h = hashlib.sha256()
    mech = make_mechanism(name, 2, **({"rounds": 50} if name == "cda" else {}))
    rng = np.random.default_rng(123)
    flows = golden_flows()
    if name == "cda":
        flows += [zi_flow(s, c) for s in range(3) for c in (True, False)]
    for day in range(2):  # the second day reads state kept from the first
        for flow in flows:
            if quality_ones:
                flow.ask_quality = np.ones(flow.ask_price.size)
            d = clear_good(mech, day, flow, rng, np.linspace(0.1, 1.0, 3000))
            q = mech.quotes[day]
            for arr in (d.buyer, d.seller, d.price, d.value, d.cost):
                h.update(np.ascontiguousarray(arr).tobytes())
            h.update(repr((d.equilibrium, q.best_bid, q.best_ask, q.bids, q.asks)).encode())
    return h.hexdigest()[:16]


# Recorded with the mechanisms as they were before ``ask_quality`` existed (commit 58fa4f5).
HOMOGENEOUS_DIGESTS = {
    "cda": "f7eeb0ce6641efdf",
    "call": "2a5f646f5a4c7f70",
    "bilateral": "4ac8d265b5a0eb1f",
    "posted": "1e833e0f4e9442cc",
}


@pytest.mark.parametrize("quality_ones", [False, True])
@pytest.mark.parametrize("name", SPEC_NAMES)
def test_homogeneous_trades_are_bit_identical_to_before(name, quality_ones):
    assert homogeneous_digest(name, quality_ones) == HOMOGENEOUS_DIGESTS[name]


def test_homogeneous_bilateral_on_a_network_is_bit_identical_to_before():
    net = np.random.default_rng(9).random((200, 6)) < 0.4
    mech = BilateralBargaining(1, allowed=lambda c, t: net[c, t], max_rounds=500)
    h = hashlib.sha256()
    rng = np.random.default_rng(5)
    for flow in golden_flows()[:-1]:
        t = mech.clear(0, flow, rng)
        h.update(t.bid.tobytes() + t.ask.tobytes() + t.price.tobytes())
    assert h.hexdigest()[:16] == "d2d38a59fa550961"


# --------------------------------------------------------------------------- differentiated goods


def with_quality(flow: OrderFlow, seed: int, zero_share: float = 0.2) -> OrderFlow:
    """The flow with one quality per seller on a coarse grid (ties), some sellers worthless."""
    rng = np.random.default_rng(seed)
    per_team = rng.integers(0, 5, 6) / 2.0
    per_team[rng.random(6) < zero_share] = 0.0
    flow.ask_quality = per_team[flow.ask_team]
    return flow


diff_flows = st.builds(
    with_quality,
    flow=flows,
    seed=st.integers(0, 2**32 - 1),
    zero_share=st.floats(0.0, 0.5),
)


@pytest.mark.parametrize("name", NAMES)
@PROP
@given(flow=diff_flows, seed=st.integers(0, 2**32 - 1))
def test_differentiated_shared_invariants(name, flow, seed):
    trades, mech = clear(name, flow, seed)
    assert_well_formed(trades, flow)
    q = flow.ask_quality[trades.ask]
    value = flow.bid_value[trades.bid] * q
    # Nobody pays above its value for that seller's report; a worthless report never sells.
    assert np.all(trades.price <= value + 1e-9)
    assert np.all(trades.price >= flow.ask_price[trades.ask] - 1e-12)
    assert np.all(q > 0)
    if name != "posted":
        assert np.all(trades.price <= effective_bid(flow)[trades.bid] * q + 1e-9)
    realised = float((value - flow.ask_cost[trades.ask]).sum())
    assert realised <= max_surplus(flow.bid_value, flow.ask_quality, flow.ask_cost) + 1e-9
    # Same flow and rng, same day.
    again, mech2 = clear(name, flow, seed)
    np.testing.assert_array_equal(trades.bid, again.bid)
    np.testing.assert_array_equal(trades.price, again.price)
    q1, q2 = mech.quotes[0], mech2.quotes[0]
    assert (q1.bids, q1.asks) == (q2.bids, q2.asks)


@PROP
@given(flow=diff_flows, seed=st.integers(0, 2**32 - 1))
def test_posted_clients_buy_their_best_offer(flow, seed):
    trades, mech = clear("posted", flow, seed)
    value, ask, quality = flow.bid_value, flow.ask_price, flow.ask_quality
    np.testing.assert_array_equal(trades.price, ask[trades.ask])
    unsold = np.setdiff1d(np.arange(ask.size), trades.ask)
    # Offers unsold at the close were there when each buyer chose: none gave it more surplus.
    for b, a in zip(trades.bid, trades.ask, strict=True):
        got = value[b] * quality[a] - ask[a]
        assert got >= 0
        assert np.all(value[b] * quality[unsold] - ask[unsold] <= got)
    idle = np.setdiff1d(np.arange(value.size), trades.bid)
    if unsold.size and idle.size:
        assert np.all(value[idle][:, None] * quality[unsold][None, :] < ask[unsold][None, :])
        assert mech.quotes[0].best_bid == value[idle].max()
        if (quality[unsold] > 0).any():
            keep = unsold[quality[unsold] > 0]
            assert mech.quotes[0].best_ask == pytest.approx((ask[keep] / quality[keep]).min())


def test_posted_discrete_choice_worked_example():
    # A cheap poor report (quality 1 at 2) and a dear good one (quality 3 at 5).
    flow = make_flow([1.0, 1.0], [2.0, 5.0], bid_value=[1.0, 4.0])
    flow.ask_quality = np.array([1.0, 3.0])
    for seed in range(10):
        trades, _ = clear("posted", flow, seed)
        # Stake 1 gains -1 on the good report and -1 on the poor one: it buys nothing. Stake 4
        # gains 2 on the poor report and 7 on the good one: it buys the good one.
        assert trades.bid.tolist() == [1] and trades.ask.tolist() == [1]


def test_posted_breaks_surplus_ties_uniformly_over_offers():
    # Surplus 1 everywhere: one offer of quality 2 at 3, two of quality 1 at 1.
    flow = make_flow([1.0], [3.0, 1.0, 1.0], bid_value=[2.0])
    flow.ask_quality = np.array([2.0, 1.0, 1.0])
    flow.ask_team = np.array([0, 1, 2])
    sold = np.bincount([int(clear("posted", flow, s)[0].ask[0]) for s in range(600)], minlength=3)
    assert np.all(np.abs(sold / 600 - 1 / 3) < 0.07)


def test_cda_differentiated_worked_example():
    # Ask 0: seller 0, quality 1, at 2. Ask 1: seller 1, quality 2, at 3. One client of stake 3
    # (surplus 1 at seller 0, 3 at seller 1) bidding 2 per unit of quality.
    for market in (True, False):
        flow = make_flow([2.0], [2.0, 3.0], bid_value=[3.0], bid_market=[market])
        flow.ask_quality = np.array([1.0, 2.0])
        for seed in range(20):
            trades, _ = clear("cda", flow, seed)
            arrival = np.random.default_rng(seed).permutation(3).tolist()
            seen = arrival[: arrival.index(2)]
            if 1 in seen:  # seller 1's ask rests: the best surplus, taken at the ask
                expected = ([1], [3.0])
            elif seen == [0]:  # only seller 0 rests: surplus 1, its bid 2 crosses the ask 2
                expected = ([0], [2.0])
            elif market:  # nothing rests: a market order has nothing to lift
                expected = ([], [])
            else:  # bids 4 at the best seller of the day, seller 1, whose ask then crosses
                expected = ([1], [4.0])
            assert trades.ask.tolist() == expected[0]
            np.testing.assert_array_equal(trades.price, expected[1])


def test_cda_without_asks_bids_at_the_best_seller_seen():
    # Two limit clients arrive before any ask; the only seller of positive quality is seller 1.
    flow = make_flow([1.0, 1.0], [0.5, 0.5], bid_value=[2.0, 2.0])
    flow.ask_quality = np.array([0.0, 2.0])
    for seed in range(20):
        trades, _ = clear("cda", flow, seed)
        assert set(trades.ask.tolist()) <= {1}
        assert len(trades) == 1


@PROP
@given(flow=diff_flows, seed=st.integers(0, 2**32 - 1))
def test_call_differentiated_clears_in_units_of_quality(flow, seed):
    trades, mech = clear("call", flow, seed)
    quality, value = flow.ask_quality, flow.bid_value
    bids = effective_bid(flow)
    sellable = np.flatnonzero(quality > 0)
    asks = flow.ask_price[sellable] / quality[sellable]
    # The homogeneous rule on per-quality orders: the largest volume any one price trades.
    best = max((volume_at(bids, asks, p) for p in np.concatenate([bids, asks])), default=0)
    assert len(trades) == best
    p = mech.prices[0]
    if best == 0:
        assert np.isnan(p)
        return
    q = quality[trades.ask]
    # One price per unit of quality: every trade at p* times its seller's quality.
    np.testing.assert_allclose(trades.price, p * q, rtol=0, atol=0)
    assert np.all(q > 0)
    assert np.all(bids[trades.bid] >= p) and np.all(asks.min() <= p)
    # Nobody pays above its value (nor its limit); no seller sells below its ask.
    assert np.all(trades.price <= value[trades.bid] * q + 1e-9)
    assert np.all(trades.price <= bids[trades.bid] * q + 1e-9)
    assert np.all(trades.price >= flow.ask_price[trades.ask] - 1e-12)
    # Assortative: listed by stake (highest first) against quality (highest first). Goods that
    # are all of quality 1 take the homogeneous path, whose listing order carries no meaning.
    assert np.all(np.diff(q) <= 0)
    if not np.all(quality == 1.0):
        assert np.all(np.diff(value[trades.bid]) <= 0)
    stake = value[trades.bid]
    assert not np.any((stake[:, None] > stake[None, :]) & (q[:, None] < q[None, :]))
    # Leftovers straddle p*, so the quote per unit of quality is not crossed.
    quote = mech.quotes[0]
    if not (np.isnan(quote.best_bid) or np.isnan(quote.best_ask)):
        assert quote.best_bid <= p <= quote.best_ask


def test_call_differentiated_worked_example():
    # Per unit of quality: asks 2/1 = 2, 3/2 = 1.5, 9/3 = 3, and 1/0 (never trades); bids (limits)
    # 4, 2.5 and, for a market-order client of stake 1.8, 1.8.
    flow = make_flow(
        [4.0, 2.5, 0.5], [2.0, 3.0, 9.0, 1.0], bid_value=[5.0, 3.0, 1.8], bid_market=[0, 0, 1]
    )
    flow.ask_quality = np.array([1.0, 2.0, 3.0, 0.0])
    for seed in range(10):
        trades, mech = clear("call", flow, seed)
        # Bids 4 >= 1.5, 2.5 >= 2, 1.8 < 3: two units; clearing interval [max(2, 1.8), min(2.5,
        # 3)] = [2, 2.5], p* = 2.25. Stake 5 takes quality 2 at 4.5, stake 3 quality 1 at 2.25.
        assert mech.prices[0] == 2.25
        assert trades.bid.tolist() == [0, 1] and trades.ask.tolist() == [1, 0]
        np.testing.assert_array_equal(trades.price, [4.5, 2.25])
        assert mech.quotes[0].best_bid == 1.8 and mech.quotes[0].best_ask == 3.0


def test_call_differentiated_breaks_stake_ties_at_random():
    # Two clients of equal stake, one unit of quality 2 and one of quality 1: either may get the
    # better one.
    flow = make_flow([3.0, 3.0], [1.0, 1.0], bid_value=[3.0, 3.0])
    flow.ask_quality = np.array([2.0, 1.0])
    best = {int(t.bid[0]) for t, _ in (clear("call", flow, s) for s in range(40))}
    assert best == {0, 1}


@PROP
@given(flow=diff_flows, seed=st.integers(0, 2**32 - 1))
def test_bilateral_differentiated_trades_at_the_split(flow, seed):
    trades, mech = clear("bilateral", flow, seed)
    q = flow.ask_quality[trades.ask]
    b, a = effective_bid(flow)[trades.bid] * q, flow.ask_price[trades.ask]
    np.testing.assert_allclose(trades.price, 0.5 * (b + a))
    # Unrestricted bargaining stops only when no pair crosses (per unit of quality).
    left_b = np.setdiff1d(np.arange(flow.bid_price.size), trades.bid)
    left_a = np.setdiff1d(np.arange(flow.ask_price.size), trades.ask)
    left_a = left_a[flow.ask_quality[left_a] > 0]
    if left_b.size and left_a.size:
        per_q = flow.ask_price[left_a] / flow.ask_quality[left_a]
        assert effective_bid(flow)[left_b].max() < per_q.min()
        assert mech.quotes[0].best_ask == pytest.approx(per_q.min())


def test_differentiated_requoting_is_refused():
    flow = zi_flow(0, True)
    flow.ask_quality = np.linspace(0.5, 1.5, flow.ask_price.size)
    with pytest.raises(ValueError, match="homogeneous"):
        make_mechanism("cda", 1, rounds=5).clear(0, flow, np.random.default_rng(0))


@pytest.mark.parametrize("name", NAMES)
def test_differentiated_clear_good_values_trades_by_quality(name):
    flow = large_flow(6, 1_000, 2_000)
    team_quality = np.random.default_rng(2).uniform(0.0, 1.5, 50)
    flow.ask_quality = team_quality[flow.ask_team]
    flow.ask_cost = np.full(flow.ask_price.size, 0.3)  # every sale then costs 0.3, as booked
    day = clear_good(make_mechanism(name, 1), 0, flow, np.random.default_rng(0), np.full(3000, 0.3))
    np.testing.assert_allclose(day.quality, team_quality[day.seller])
    assert np.all(day.value <= flow.bid_value.max() * day.quality + 1e-12)
    assert np.isnan(day.equilibrium.price)
    assert day.equilibrium.max_surplus == pytest.approx(
        max_surplus(flow.bid_value, flow.ask_quality, flow.ask_cost)
    )
    assert 0.0 < day.efficiency <= 1.0 + 1e-12


def _seller_books_by_rows(ask_team: np.ndarray, quality: np.ndarray):
    """The grouping by (seller, quality) rows that SellerBooks made before its fast path."""
    keys = np.column_stack([ask_team.astype(float), quality])
    unique, of_ask = np.unique(keys, axis=0, return_inverse=True)
    team = ask_team[np.unique(of_ask, return_index=True)[1]]
    return team, unique[:, 1], np.asarray(of_ask).ravel()


@pytest.mark.parametrize("seed", range(20))
def test_seller_books_group_as_the_row_wise_unique(seed):
    """One quality per seller (the fast path) or not: the same books, in the same order."""
    from llm_market.market.mechanisms.base import OrderFlow, SellerBooks

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    ask_team = rng.integers(0, 15, n)
    per_team = rng.choice([0.0, 0.5, 1.25, 3.0], 15)
    quality = per_team[ask_team]
    if seed % 2:  # a seller whose units differ in quality takes the general path
        quality = quality.copy()
        quality[0] += 1.0
    flow = OrderFlow(
        ask_team=ask_team,
        ask_price=np.ones(n),
        ask_cost=np.zeros(n),
        bid_client=np.zeros(0, dtype=np.int64),
        bid_price=np.zeros(0),
        bid_value=np.zeros(0),
        bid_market=np.zeros(0, dtype=bool),
        ask_quality=quality,
    )
    books = SellerBooks.of(flow, quality)
    team, q, of_ask = _seller_books_by_rows(ask_team, quality)
    np.testing.assert_array_equal(books.team, team)
    np.testing.assert_array_equal(books.quality, q)
    np.testing.assert_array_equal(books.of_ask, of_ask)
