"""The economy of information: reports priced by their decision value, research at the margin,
principals that reinvest and compete, penalties that bite, skill against an honest benchmark."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from llm_market import MarketModel
from llm_market.budgets.accounts import Accounts
from llm_market.calendar import Calendar
from llm_market.experiments.runner import run_steps
from llm_market.policies.heuristic import research_spend
from llm_market.recording.columns import NOINFO_ID, PREDICTIONS, TRADES
from llm_market.recording.logs import EventLogs


@pytest.fixture(scope="module")
def year():
    m = MarketModel(seed=3, steps=126)
    run_steps(m, 126)
    return m


def test_a_report_is_worth_what_the_sellers_record_saves(year):
    v = year.view.market
    open_per_good = np.bincount(v.questions.index, minlength=year.n_goods)
    gap = np.maximum(v.noinfo_brier - v.reputation, 0.0)
    assert v.quality == pytest.approx(gap[:, None] * open_per_good[None, :])
    # A better published record (lower Brier) is worth at least as much on every good.
    order = np.argsort(v.reputation)
    assert np.all(np.diff(v.quality[order, 0]) <= 1e-12)


def test_the_published_record_is_shrunk_toward_the_population(year):
    rec = year.record
    n = year.scores.rolling_questions
    prior = year.params.reputation_prior
    mean = np.nanmean(rec.brier)
    expected = (n * rec.brier + prior * mean) / (n + prior)
    assert year.view.market.reputation == pytest.approx(expected)
    # With no prior the record is the team's own; with a huge prior everyone looks alike.
    assert rec.published_brier(n, 0.0) == pytest.approx(rec.brier)
    assert np.ptp(rec.published_brier(n, 1e9)) < 1e-6


def test_trades_log_the_sellers_reputation(year):
    t = year.logs[TRADES].to_frame()
    assert {"step", "good", "buyer", "seller", "price", "value", "cost", "reputation"} <= set(t)
    # No record before the first question resolves; from then on every sale carries one.
    first = year.logs[PREDICTIONS].to_frame().resolve_step.min()
    assert np.isfinite(t.reputation[t.step > first]).all()
    assert t.reputation[t.step <= first].isna().all()


def test_skill_is_reported_against_the_no_information_forecaster(year):
    preds = year.logs[PREDICTIONS].to_frame()
    assert (preds.forecaster == NOINFO_ID).any()
    r = year.summary()["results"]
    assert r["noinfo_brier"] > r["crowd_brier"]
    assert r["crowd_skill_vs_noinfo"] == pytest.approx(1 - r["crowd_brier"] / r["noinfo_brier"])
    # The benchmark is honest: it already beats the base rate without any signal.
    assert r["noinfo_skill"] > 0


def test_the_prediction_market_is_scored_on_its_price_after_the_days_trades():
    m = MarketModel(scenario="small", seed=2, prediction_market=True)
    run_steps(m, 8)
    last = m.questions.last_forecasts()[:, m.market_col]
    assert last == pytest.approx(m.prediction_markets.prices(m.questions.qid))
    assert m.summary()["results"]["market_skill_vs_noinfo"] is not None


def _observations(model):
    return [t.observe(model.view) for t in model.teams]


def test_research_is_bought_at_the_margin(year):
    obs = _observations(year)

    def spend_with(**market):
        view = replace(year.view.market, **market)
        return research_spend([replace(o, market=view) for o in obs])

    spend = research_spend(obs)
    assert (spend >= 0).all() and spend.sum() > 0
    assert spend_with(research_productivity=0.0).sum() == 0.0
    assert spend_with(research_cost=25.0).sum() < spend.sum()
    # Within its budget: at most the balance spread over the month's days left, times intensity.
    cap = [o.profile.research_intensity * max(o.budget, 0) / o.days_left_in_month for o in obs]
    assert (spend <= np.array(cap) + 1e-12).all()


def test_no_productivity_no_research():
    m = MarketModel(scenario="small", seed=1, research_productivity=0.0)
    run_steps(m, 30)
    assert m.accounts.ledger.outflows.get("research", 0.0) == 0.0


def test_funding_follows_capital_and_surplus_capital_is_paid_out(year):
    m = MarketModel(scenario="small", seed=4)
    p = m.params
    capital = m.accounts.capital.copy()
    # The first month's funding is the payout rule's share of each principal's capital.
    funded = np.bincount(m.accounts.owner, weights=m.accounts.allocation)
    assert funded == pytest.approx(p.funding_rate * (capital + funded))
    # A principal whose teams earn pays its investors part of the capital above its start.
    assert year.accounts.ledger.outflows.get("dividends", 0.0) > 0
    assert "dividend" in set(year.logs["budgets"].column("kind"))
    assert abs(year.money_error) < 1e-6


def test_investors_move_capital_toward_returns_and_conserve_it():
    log = EventLogs().budgets
    a = Accounts(np.array([0, 1, 2]), 3, 100.0, 0.0, log, Calendar(21))
    a.capital = np.array([100.0, 200.0, 300.0])
    target = np.array([0.6, 0.3, 0.1])
    a.move_capital(target, 0.5)
    assert a.capital.sum() == pytest.approx(600.0)
    assert a.capital == pytest.approx([0.5 * 100 + 0.5 * 360, 0.5 * 200 + 0.5 * 180, 150 + 30])
    assert set(log.column("kind")) == {"investor_flow"}
    assert log.column("amount").sum() == pytest.approx(0.0)


def test_investor_pivot_off_leaves_capital_to_each_principal():
    on = MarketModel(scenario="small", seed=5)
    off = MarketModel(scenario="small", seed=5, investor_pivot=0.0)
    for m in (on, off):
        run_steps(m, 2 * m.params.steps_per_month)
    kinds_on = set(on.logs["budgets"].column("kind"))
    kinds_off = set(off.logs["budgets"].column("kind"))
    assert "investor_flow" in kinds_on and "investor_flow" not in kinds_off


def test_penalties_cut_allocations_and_leave_the_economy():
    runs = {}
    for rule in ("flag", "penalize"):
        m = MarketModel(scenario="small", seed=6, overbudget=rule, research_intensity_sd=1.0)
        run_steps(m, 3 * m.params.steps_per_month)
        runs[rule] = m
    flag, pen = runs["flag"], runs["penalize"]
    assert flag.accounts.ledger.outflows.get("penalties", 0.0) == 0.0
    assert pen.accounts.ledger.outflows.get("penalties", 0.0) > 0.0
    assert "penalty_cut" in set(pen.logs["budgets"].column("kind"))
    # A penalty costs the economy money, so the outcomes differ from flagging.
    assert pen.accounts.money_held() != pytest.approx(flag.accounts.money_held())
    assert abs(pen.money_error) < 1e-6
