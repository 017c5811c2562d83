import hashlib
import math

import numpy as np
import pytest

from llm_market import MarketModel, ParameterError
from llm_market.market.lmsr import binary_buy_within_cash
from llm_market.market.prediction_market import NO, YES, PredictionMarkets


def test_bets_move_the_price_toward_the_forecast_within_the_stake():
    pm = PredictionMarkets(n_teams=2, funding=5.0, stake=1.0)
    pm.open(np.array([7]))
    cash = np.array([10.0, 0.3])
    paid = pm.trade(np.array([7]), [0, 1], np.array([[0.8], [0.9]]), cash)
    assert paid[0] == pytest.approx(1.0) or pm.prices(np.array([7]))[0] == pytest.approx(0.8)
    assert paid[0] <= 1.0 + 1e-9 and paid[1] <= 0.3 + 1e-9
    assert 0.5 < pm.prices(np.array([7]))[0] <= 0.9 + 1e-9


def test_resolution_pays_winning_shares_and_books_earnings():
    pm = PredictionMarkets(n_teams=2, funding=5.0, stake=2.0)
    pm.open(np.array([1]))
    paid = pm.trade(np.array([1]), [0, 1], np.array([[0.9], [0.1]]), np.array([5.0, 5.0]))
    market = pm.markets[1]
    yes_shares = market.positions[0][YES]
    payout, earnings = pm.resolve(np.array([1]), np.array([1]))
    assert payout[0] == pytest.approx(yes_shares, abs=1e-8) and payout[1] == 0.0
    assert earnings == pytest.approx(payout - paid)
    # The maker never loses more than its funding.
    assert payout.sum() - paid.sum() <= 5.0 + 1e-9
    assert 1 not in pm.markets and market.positions[1][NO] > 0


def test_model_with_prediction_market_conserves_money_and_scores_the_market():
    m = MarketModel(
        scenario="small", seed=3, prediction_market=True, pivot_metric="msr", steps_per_month=10
    )
    for _ in range(40):
        m.step()
        assert abs(m.money_error) < 1e-6
    r = m.summary()["results"]
    assert r["market_brier"] is not None and 0 <= r["market_brier"] <= 1
    assert m.accounts.ledger.outflows["prediction_market_stakes"] > 0
    assert m.accounts.ledger.inflows["prediction_market_payouts"] > 0
    preds = m.logs["predictions"].to_frame()
    assert (preds.forecaster == -2).sum() == preds.question.nunique()
    # Market-scoring earnings are what the pivot ranks on.
    assert np.array_equal(m.record.metric(m.params.pivot_metric, with_msr=True), m.record.msr)
    # The sponsor's total loss is bounded by the funding of the markets that resolved.
    loss = (
        m.accounts.ledger.inflows["prediction_market_payouts"]
        - m.accounts.ledger.outflows["prediction_market_stakes"]
    )
    assert loss <= m.scores.total_questions * m.params.pm_funding + 1e-6
    assert math.isfinite(m.market_brier)


def test_msr_metric_needs_the_prediction_market():
    with pytest.raises(ParameterError, match="prediction_market"):
        MarketModel(pivot_metric="msr")


# A run long enough for many bets, resolutions and MSR payments.
PM_STEPS = 60


def market_state_hash(model: MarketModel) -> str:
    """SHA-256 of every open market's exact floats, the teams' cash and their MSR earnings."""
    h = hashlib.sha256()
    pm = model.prediction_markets
    for qid in sorted(pm.markets):
        mk = pm.markets[qid]
        positions = [(t, p.tolist()) for t, p in mk.positions.items()]
        state = (qid, mk.q.tolist(), mk.collected, positions, list(pm._spent[qid]))
        h.update(repr(state).encode())
    h.update(model.accounts.cash.tobytes())
    h.update(np.asarray(model.record.msr).tobytes())
    return h.hexdigest()


def test_default_run_with_the_market_is_bit_identical_to_the_numpy_maker(monkeypatch):
    """A whole run through the fast maker against the same run through the numpy maker.

    Both runs are made here, in one process: a pinned digest of this run differed between two
    machines of the same image (numpy's vectorised exp and log, which the maker uses, may round
    differently by CPU), while the two makers agree to the bit on each.
    """
    states = []
    for maker in ("fast", "numpy"):
        if maker == "numpy":
            monkeypatch.setattr(PredictionMarkets, "trade", PredictionMarkets._trade_reference)
            monkeypatch.setattr(PredictionMarkets, "prices", PredictionMarkets._prices_reference)
        m = MarketModel(seed=42, steps=PM_STEPS, prediction_market=True)
        for _ in range(PM_STEPS):
            m.step()
        # The digest rounds to 12 digits; the state hash sees every bit of every float.
        states.append((m.digest(), market_state_hash(m)))
    assert states[0] == states[1]
    assert np.count_nonzero(m.record.msr) > 0  # the market paid its forecasters


def twin_markets(rng: np.random.Generator) -> tuple[PredictionMarkets, PredictionMarkets]:
    n_teams = int(rng.integers(1, 30))
    params = dict(
        n_teams=n_teams,
        funding=float(10 ** rng.uniform(-1, 2.5)),
        stake=float(rng.choice([1.0, 10 ** rng.uniform(-3, 2)])),
        dead_band=float(rng.choice([0.01, 0.0, rng.uniform(0, 0.1)])),
    )
    return PredictionMarkets(**params), PredictionMarkets(**params)


def assert_same_books(fast: PredictionMarkets, ref: PredictionMarkets) -> None:
    """Every float of every market, to the bit."""
    assert list(fast.markets) == list(ref.markets)
    for qid, mf in fast.markets.items():
        mr = ref.markets[qid]
        assert mf.q.tobytes() == mr.q.tobytes() and mf.collected == mr.collected
        assert list(mf.positions) == list(mr.positions)
        for team, held in mf.positions.items():
            assert held.tobytes() == mr.positions[team].tobytes()
        assert np.array(fast._spent[qid]).tobytes() == np.array(ref._spent[qid]).tobytes()


def run_twins(rng: np.random.Generator, fast: PredictionMarkets, ref: PredictionMarkets) -> int:
    """Trade and resolve both for some days on the same random inputs; the number of bets made."""
    bets, next_qid = 0, 0
    cash = rng.choice([-1.0, 0.0, 0.5, 5.0, 100.0], fast.n_teams) * rng.random(fast.n_teams)
    for _day in range(int(rng.integers(1, 12))):
        opened = np.arange(next_qid, next_qid + int(rng.integers(0, 5)))
        next_qid += opened.size
        fast.open(opened)
        ref.open(opened)
        qids = np.array(list(fast.markets), dtype=int)
        teams = rng.permutation(fast.n_teams)[: int(rng.integers(0, fast.n_teams + 1))].tolist()
        forecasts = rng.choice(
            [rng.random((len(teams), qids.size)), rng.beta(0.3, 0.3, (len(teams), qids.size))]
        )
        if qids.size:
            # Forecasts at the clip bounds and at the current price, where the dead band bites.
            forecasts[rng.random(forecasts.shape) < 0.05] = 0.0
            forecasts[rng.random(forecasts.shape) < 0.05] = 1.0
        paid_fast = fast.trade(qids, teams, forecasts, cash)
        paid_ref = ref._trade_reference(qids, teams, forecasts, cash)
        assert paid_fast.tobytes() == paid_ref.tobytes()
        assert fast.prices(qids).tobytes() == ref._prices_reference(qids).tobytes()
        assert_same_books(fast, ref)
        bets += int(np.count_nonzero(paid_fast))
        cash = cash - paid_fast + rng.random(fast.n_teams) * rng.choice([0.0, 1.0])
        resolving = qids[rng.random(qids.size) < 0.3]
        outcomes = rng.integers(0, 2, resolving.size)
        makers = [(fast.markets[q], ref.markets[q]) for q in resolving.tolist()]
        got_fast = fast.resolve(resolving, outcomes)
        got_ref = ref.resolve(resolving, outcomes)
        assert all(a.tobytes() == b.tobytes() for a, b in zip(got_fast, got_ref, strict=True))
        assert all(mf.maker_pnl == mr.maker_pnl for mf, mr in makers)
        cash = cash + got_fast[0]
    assert_same_books(fast, ref)
    return bets


def test_fast_trade_is_bit_identical_to_the_numpy_maker_on_random_markets():
    rng = np.random.default_rng(1616)
    bets = sum(run_twins(rng, *twin_markets(rng)) for _ in range(80))
    assert bets > 1000


def test_fast_trade_hands_what_it_cannot_do_to_the_numpy_maker(monkeypatch):
    from llm_market.market import prediction_market

    calls = []

    def sometimes_none(*args):
        calls.append(args)
        return None if len(calls) % 2 else binary_buy_within_cash(*args)

    monkeypatch.setattr(prediction_market, "binary_buy_within_cash", sometimes_none)
    rng = np.random.default_rng(7)
    bets = sum(run_twins(rng, *twin_markets(rng)) for _ in range(30))
    assert bets > 300 and len(calls) > 1000
