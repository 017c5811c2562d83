"""Tests for the LMSR market maker: prices, costs, bounded loss and rounding."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from llm_market.market.lmsr import (
    DEFAULT_TICK,
    LMSRMarket,
    _log_p,
    b_from_funding,
    binary_buy_within_cash,
    binary_quote,
    cost,
    cost_to_buy,
    prices,
    round_down,
    round_up,
    shares_for_target_price,
    shares_within_cash,
)

PROP = settings(max_examples=150, deadline=None)
EPS = np.finfo(float).eps
liquidity = st.floats(0.5, 50.0)
small_q = st.lists(st.floats(-100.0, 100.0), min_size=2, max_size=5)
targets = st.floats(0.01, 0.99)


def is_tick_multiple(x: float, tick: float = DEFAULT_TICK) -> bool:
    k = x / tick
    # A float holds about 16 digits, so a multiple of 1e-9 near 1e4 is only that close to one.
    return abs(k - round(k)) < 1e-3 + 8 * EPS * abs(k)


# --------------------------------------------------------------------------- prices and cost


@PROP
@given(q=st.lists(st.floats(-1e4, 1e4), min_size=2, max_size=6), b=liquidity)
def test_prices_sum_to_one(q, b):
    p = prices(q, b)
    assert np.all(p >= 0) and np.all(np.isfinite(p))
    assert p.sum() == pytest.approx(1.0, abs=1e-12)


@PROP
@given(q=st.lists(st.floats(-1e4, 1e4), min_size=2, max_size=6), b=liquidity)
def test_cost_matches_scipy_logsumexp(q, b):
    assert cost(q, b) == pytest.approx(b * logsumexp(np.asarray(q) / b), rel=1e-13, abs=1e-12)


def test_known_values():
    q, b = np.array([-10.0, 4.0]), 5.0
    assert cost(q, b) == pytest.approx(4.295, abs=5e-4)
    assert cost(q, b) == pytest.approx(5 * math.log(math.exp(-2) + math.exp(0.8)), rel=1e-12)
    assert cost_to_buy(q, 0, 5.0, b) == pytest.approx(0.470, abs=5e-4)
    assert cost_to_buy(q, 0, 5.0, b) == pytest.approx(cost(q + [5, 0], b) - cost(q, b), abs=2e-9)
    np.testing.assert_allclose(prices([0, 0, 0], 3.0), [1 / 3] * 3)
    assert cost([0, 0], 7.0) == pytest.approx(7 * math.log(2))


def test_b_from_funding():
    assert b_from_funding(10.0, 2) == pytest.approx(10 / math.log(2))
    assert b_from_funding(10.0, 2) * math.log(2) == pytest.approx(10.0)
    assert LMSRMarket(3, funding=6.0).worst_case_loss == pytest.approx(6.0)
    with pytest.raises(ValueError):
        b_from_funding(1.0, 1)
    with pytest.raises(ValueError):
        LMSRMarket(2, b=1.0, funding=1.0)


@pytest.mark.parametrize("scale", [1e3, 5e3, 1e5])
def test_no_overflow_far_from_the_start(scale):
    b = 2.0
    q = np.array([scale * b, -scale * b, 0.5 * scale * b])
    # Underflow of negligible terms is expected; overflow, NaN or log(0) is not.
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        c = cost(q, b)
        p = prices(q, b)
        buy_winner = cost_to_buy(q, 0, 10.0, b)
        buy_loser = cost_to_buy(q, 1, 10.0, b)
        sell_winner = cost_to_buy(q, 0, -10.0, b)
        to_half = shares_for_target_price(q, 1, 0.5, b)
        spend = shares_within_cash(q, 1, 0.5, 3.0, b)
    assert c == pytest.approx(scale * b)
    assert p.sum() == pytest.approx(1.0) and p[0] == pytest.approx(1.0)
    # The near-certain outcome costs ~1 per share; the near-impossible one almost nothing.
    assert buy_winner == pytest.approx(10.0, abs=1e-6)
    assert 0 <= buy_loser <= 1e-8
    assert sell_winner == pytest.approx(-10.0, abs=1e-6)
    assert to_half == pytest.approx(2 * scale * b, rel=1e-12)
    assert 0 < spend and math.isfinite(spend)
    assert cost_to_buy(q, 1, spend, b) <= 3.0


# --------------------------------------------------------------------------- rounding


@PROP
@given(q=small_q, b=liquidity, data=st.data())
def test_rounding_favours_the_maker(q, b, data):
    outcome = data.draw(st.integers(0, len(q) - 1))
    shares = data.draw(st.floats(-50.0, 50.0).filter(lambda s: s != 0))
    q = np.asarray(q)
    charged = cost_to_buy(q, outcome, shares, b)
    step = np.zeros(q.size)
    step[outcome] = shares
    exact = cost(q + step, b) - cost(q, b)
    # Buyers pay at least, sellers receive at most, the exact amount; by under two ticks.
    assert charged >= exact
    assert charged - exact < 2 * DEFAULT_TICK + 1e-12
    assert is_tick_multiple(charged)
    assert cost_to_buy(q, outcome, shares, b, tick=0.0) == pytest.approx(exact, abs=1e-10)


@given(x=st.floats(-1e6, 1e6), tick=st.sampled_from([1e-9, 1e-6, 0.01, 0.25, 1 / 3]))
def test_round_up_and_down(x, tick):
    up, down = round_up(x, tick), round_down(x, tick)
    assert down <= x <= up
    assert up - down <= tick + 8 * EPS * abs(x)
    assert is_tick_multiple(up, tick) and is_tick_multiple(down, tick)


def test_payouts_round_down():
    market = LMSRMarket(2, b=10.0, tick=0.01)
    market.trade("a", 0, 1 / 3)
    market.trade("b", 0, 2.0)
    payouts = market.resolve(0)
    assert payouts == {"a": 0.33, "b": 2.0}
    assert market.paid == pytest.approx(2.33)


# --------------------------------------------------------------------------- target price, cash


@PROP
@given(q=small_q, b=liquidity, p=targets, data=st.data())
def test_shares_for_target_price_reaches_target(q, b, p, data):
    outcome = data.draw(st.integers(0, len(q) - 1))
    q = np.asarray(q)
    s = shares_for_target_price(q, outcome, p, b)
    moved = q.copy()
    moved[outcome] += s
    assert prices(moved, b)[outcome] == pytest.approx(p, abs=1e-9)


@given(q=st.tuples(st.floats(-100, 100), st.floats(-100, 100)), b=liquidity, p=targets)
def test_binary_closed_form(q, b, p):
    s = shares_for_target_price(list(q), 0, p, b)
    assert s == pytest.approx(b * math.log(p / (1 - p)) + q[1] - q[0], abs=1e-9)


@PROP
@given(q=small_q, b=liquidity, p=targets, cash=st.floats(0.0, 200.0), data=st.data())
def test_shares_within_cash_never_overspends(q, b, p, cash, data):
    outcome = data.draw(st.integers(0, len(q) - 1))
    q = np.asarray(q)
    s = shares_within_cash(q, outcome, p, cash, b)
    want = shares_for_target_price(q, outcome, p, b)
    assert s >= 0
    spent = cost_to_buy(q, outcome, s, b)
    assert spent <= cash
    if want <= 0 or cash == 0:
        assert s == 0
    elif cost_to_buy(q, outcome, want, b) <= cash:
        assert s == want
    else:
        # Cash-constrained: it stops short of the target but spends nearly all the cash.
        assert s < want
        assert cash - spent < 1e-6


# --------------------------------------------------------------------------- the market


trade_steps = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 1), st.floats(-80.0, 80.0)),
    min_size=1,
    max_size=40,
)


def run_trades(market: LMSRMarket, steps) -> dict:
    """Apply the steps, clipping sales to holdings; return each trader's net payments."""
    paid = {}
    for trader, outcome, shares in steps:
        held = market.positions.get(trader, np.zeros(market.n_outcomes))[outcome]
        shares = max(shares, -held)
        if shares == 0:
            continue
        paid[trader] = paid.get(trader, 0.0) + market.trade(trader, outcome, shares)
    return paid


@settings(max_examples=300, deadline=None)
@given(b=st.floats(0.1, 20.0), steps=trade_steps)
def test_maker_loss_is_bounded_and_money_is_conserved(b, steps):
    market = LMSRMarket(2, b=b)
    paid = run_trades(market, steps)
    assert market.price().sum() == pytest.approx(1.0)
    np.testing.assert_allclose(market.q, sum(market.positions.values()), atol=1e-9)
    for outcome in range(2):
        resolved = copy.deepcopy(market)
        payouts = resolved.resolve(outcome)
        assert list(payouts) == list(market.positions)  # first-trade order
        assert all(v >= 0 for v in payouts.values())
        assert -resolved.maker_pnl <= b * math.log(2)
        # What traders paid in, less what they got out, is the maker's profit.
        traders_net = sum(paid.values()) - sum(payouts.values())
        assert traders_net == pytest.approx(resolved.maker_pnl, abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(funding=st.floats(0.5, 20.0), n=st.integers(2, 5), data=st.data())
def test_maker_loss_bounded_for_many_outcomes(funding, n, data):
    market = LMSRMarket(n, funding=funding)
    steps = data.draw(
        st.lists(st.tuples(st.integers(0, 3), st.integers(0, n - 1), st.floats(-50, 200)))
    )
    run_trades(market, steps)
    for outcome in range(n):
        resolved = copy.deepcopy(market)
        resolved.resolve(outcome)
        assert -resolved.maker_pnl <= funding * (1 + 1e-12)


def test_worst_case_loss_is_approached():
    # One trader buys the winner far past certainty: the maker loses almost exactly b ln 2.
    market = LMSRMarket(2, b=4.0)
    market.trade(0, 1, 500.0)
    market.resolve(1)
    assert -market.maker_pnl == pytest.approx(4 * math.log(2), abs=1e-6)
    assert -market.maker_pnl <= 4 * math.log(2)


def test_market_bookkeeping():
    market = LMSRMarket(2, b=5.0)
    assert market.price().tolist() == [0.5, 0.5]
    quoted = market.cost(0, 3.0)
    assert market.trade("x", 0, 3.0) == quoted
    assert market.price()[0] > 0.5
    proceeds = market.trade("x", 0, -1.0)
    assert proceeds < 0
    np.testing.assert_allclose(market.positions["x"], [2.0, 0.0])
    with pytest.raises(ValueError):
        market.trade("x", 0, -2.5)  # more than held
    with pytest.raises(ValueError):
        market.trade("y", 1, -1.0)  # holds nothing
    with pytest.raises(ValueError):
        market.trade("x", 2, 1.0)  # no such outcome
    assert market.resolve(0) == {"x": 2.0}
    assert market.maker_pnl == pytest.approx(market.collected - 2.0)
    with pytest.raises(ValueError):
        market.trade("x", 0, 1.0)
    with pytest.raises(ValueError):
        market.resolve(1)


# --------------------------------------------------------------------------- binary fast path


def random_binary_markets(rng: np.random.Generator, n: int):
    """Markets of every kind the maker meets: fresh, lopsided, far out, tied; rich and poor."""
    b = b_from_funding(1.0, 2) * np.exp(rng.uniform(np.log(0.05), np.log(500.0), n))
    kind = rng.integers(0, 5, n)
    scale = np.choose(kind, [0.0, 1.0, 5.0, 50.0, 1e3])
    q = rng.normal(0.0, 1.0, (n, 2)) * (scale * b)[:, None]
    # Some markets only ever bought (q >= 0), some tied, some at the start.
    q[kind == 1] = np.abs(q[kind == 1])
    tie = rng.random(n) < 0.05
    q[tie, 1] = q[tie, 0]
    p = np.where(rng.random(n) < 0.1, rng.uniform(1e-6, 1e-3, n), rng.uniform(0.001, 0.999, n))
    p = np.where(rng.random(n) < 0.1, 1 - p, p)
    cash = np.choose(
        rng.integers(0, 4, n),
        [np.ones(n), rng.uniform(0, 1, n), 10.0 ** rng.uniform(-12, -3, n), rng.uniform(0, 500, n)],
    )
    cash[rng.random(n) < 0.03] = 0.0
    return b, q, p, cash


def test_binary_quote_is_bit_identical_to_the_vector_maker():
    rng = np.random.default_rng(16)
    b, q, _, _ = random_binary_markets(rng, 20_000)
    for (q0, q1), bb in zip(q.tolist(), b.tolist(), strict=True):
        p0, lp0, l1mp0, lp1, l1mp1 = binary_quote(q0, q1, bb)
        v = np.array([q0, q1])
        assert p0 == prices(v, bb)[0]
        assert (lp0, l1mp0) == _log_p(v, 0, bb)
        assert (lp1, l1mp1) == _log_p(v, 1, bb)


@pytest.mark.parametrize("tick", [DEFAULT_TICK, 1e-6, 0.01, 1 / 3])
def test_binary_buy_within_cash_is_bit_identical_to_the_vector_maker(tick):
    rng = np.random.default_rng(int(1 / tick) % 1000)
    b, q, p, cash = random_binary_markets(rng, 3_000)
    cash *= max(1.0, 300 * tick)  # budgets of many ticks, whatever the tick
    outcomes = rng.integers(0, 2, b.size)
    to_target = short_of_it = fallbacks = 0
    for (q0, q1), bb, o, pt, c in zip(
        q.tolist(), b.tolist(), outcomes.tolist(), p.tolist(), cash.tolist(), strict=True
    ):
        v = np.array([q0, q1])
        quote = binary_quote(q0, q1, bb)
        log_p, log_1mp = quote[1:3] if o == 0 else quote[3:5]
        fast = binary_buy_within_cash(q0, q1, bb, o, log_p, log_1mp, pt, c, tick)
        shares = shares_within_cash(v, o, pt, c, bb, tick)
        if fast is None:
            fallbacks += 1
            continue
        assert fast == (shares, cost_to_buy(v, o, shares, bb, tick))
        if shares > 0:
            want = shares_for_target_price(v, o, pt, bb)
            to_target += shares == want
            short_of_it += shares < want
    # Both ways out are exercised (the target reached, the cash spent), and only the rare
    # bisection is left to the vector maker.
    assert to_target > b.size // 10 and short_of_it > b.size // 25
    assert fallbacks < b.size // 100


@PROP
@given(
    q=st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)),
    b=st.floats(0.01, 1e3),
    outcome=st.integers(0, 1),
    p=st.floats(1e-6, 1 - 1e-6),
    cash=st.floats(0.0, 1e3),
)
def test_binary_fast_path_agrees_on_any_market(q, b, outcome, p, cash):
    v = np.array(q)
    quote = binary_quote(*q, b)
    assert quote[0] == prices(v, b)[0]
    log_p, log_1mp = quote[1:3] if outcome == 0 else quote[3:5]
    assert (log_p, log_1mp) == _log_p(v, outcome, b)
    fast = binary_buy_within_cash(*q, b, outcome, log_p, log_1mp, p, cash)
    if fast is not None:
        shares = shares_within_cash(v, outcome, p, cash, b)
        assert fast == (shares, cost_to_buy(v, outcome, shares, b))


def test_binary_fast_path_leaves_errors_and_tick_zero_to_the_vector_maker():
    quote = binary_quote(0.0, 0.0, 3.0)
    assert quote[0] == 0.5
    assert binary_buy_within_cash(0.0, 0.0, 3.0, 0, *quote[1:3], 1.0, 1.0) is None
    assert binary_buy_within_cash(0.0, 0.0, 3.0, 0, *quote[1:3], 0.7, 1.0, tick=0.0) is None
    assert binary_buy_within_cash(0.0, 0.0, 3.0, 0, *quote[1:3], 0.4, 1.0) == (0.0, 0.0)
    assert binary_buy_within_cash(0.0, 0.0, 3.0, 0, *quote[1:3], 0.7, 0.0) == (0.0, 0.0)
