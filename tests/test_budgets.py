import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_market.budgets.ledger import Ledger
from llm_market.budgets.pivot import gini, hhi, pivot_shares, target_shares
from llm_market.budgets.validation import affordable_research, fines, overspend


def test_target_shares_follow_the_ranks():
    t = target_shares(np.array([0.1, 0.3, 0.2, np.nan]))
    assert t == pytest.approx(np.array([2, 4, 3, 1]) / 10)


def test_pivot_factor_zero_keeps_and_one_jumps_to_target():
    old = np.array([0.25, 0.25, 0.5])
    metric = np.array([3.0, 1.0, 2.0])
    same, _ = pivot_shares(old, metric, 0.0, 0.0, "floor")
    assert same == pytest.approx(old)
    jump, _ = pivot_shares(old, metric, 1.0, 0.0, "floor")
    assert jump == pytest.approx(target_shares(metric))
    half, _ = pivot_shares(old, metric, 0.5, 0.0, "floor")
    assert half == pytest.approx(0.5 * old + 0.5 * target_shares(metric))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0.001, 1.0), min_size=1, max_size=12),
    st.floats(0.0, 1.0),
    st.floats(0.0, 0.2),
)
def test_pivot_keeps_shares_a_distribution_above_the_floor(raw, phi, floor):
    old = np.array(raw) / sum(raw)
    metric = np.random.default_rng(len(raw)).normal(size=len(raw))
    new, exits = pivot_shares(old, metric, phi, floor, "floor")
    assert new.sum() == pytest.approx(1.0)
    assert not exits.any()
    assert np.all(new >= min(floor, 1 / len(raw)) - 1e-9)
    new, exits = pivot_shares(old, metric, phi, floor, "exit")
    assert new.sum() == pytest.approx(1.0)
    assert np.all(new[exits] == 0) and not exits.all()


def test_exit_rule_defunds_teams_below_the_floor():
    old = np.array([0.01, 0.49, 0.5])
    new, exits = pivot_shares(old, np.array([0.0, 1.0, 2.0]), 0.0, 0.05, "exit")
    assert exits.tolist() == [True, False, False]
    assert new == pytest.approx([0.0, 0.49 / 0.99, 0.5 / 0.99])


def test_concentration_measures():
    assert hhi(np.ones(4)) == pytest.approx(0.25)
    assert hhi(np.array([0, 0, 5.0])) == pytest.approx(1.0)
    assert gini(np.ones(5)) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 1.0])) == pytest.approx(0.75)


def test_overbudget_rules():
    budget = np.array([5.0, 1.0, -2.0])
    spend = np.array([3.0, 4.0, 1.0])
    assert affordable_research(spend, budget, "clip").tolist() == [3.0, 1.0, 0.0]
    assert affordable_research(spend, budget, "flag").tolist() == spend.tolist()
    assert overspend(budget - spend).tolist() == [0.0, 3.0, 3.0]
    assert fines(np.array([0.0, 3.0]), "penalize", 0.5).tolist() == [0.0, 1.5]
    assert fines(np.array([0.0, 3.0]), "flag", 0.5).tolist() == [0.0, 0.0]


def test_ledger_books_sources_and_sinks():
    ledger = Ledger(100.0)
    ledger.inflow("client_payments", 30.0)
    ledger.outflow("research", 10.0)
    assert ledger.discrepancy(120.0) == pytest.approx(0.0)
    assert ledger.discrepancy(119.0) == pytest.approx(-1.0)


def test_pivot_sharpness_concentrates_the_target():
    metric = np.array([0.1, 0.4, 0.2, 0.3])
    flat = target_shares(metric, 0.0)
    linear = target_shares(metric, 1.0)
    sharp = target_shares(metric, 3.0)
    assert flat == pytest.approx(np.full(4, 0.25))
    assert linear == pytest.approx(target_shares(metric))
    assert hhi(flat) < hhi(linear) < hhi(sharp)
    assert np.argmax(sharp) == 1


def test_a_batched_month_end_logs_the_same_rows_as_one_by_one():
    """allocate_budgets batches the budget log's appends; the rows and their order are unchanged."""
    from llm_market import MarketModel

    def month_end_rows(batched: bool):
        m = MarketModel(n_teams=12, n_principals=3, seed=3, overbudget="penalize")
        while not m.calendar.month_ends_today:
            m.step()
        before = m.event_logs.budgets.rows
        if batched:
            m.allocate_budgets()
        else:
            m._month_end()  # the same month end, each transfer appended on its own
        frame = m.event_logs.budgets.to_frame().iloc[before:]
        return frame.reset_index(drop=True), m.accounts.capital.copy()

    (one_by_one, capital), (batched, capital_b) = month_end_rows(False), month_end_rows(True)
    assert len(batched) > 12  # a row per team and more
    assert batched.equals(one_by_one)
    np.testing.assert_array_equal(capital, capital_b)
