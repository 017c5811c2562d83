"""The step's one-pass paths give exactly what the per-team paths they replace give.

Each test runs both on the same inputs and compares values bit for bit (and types, where a
Python value is stored).
"""

import mesa
import numpy as np
import pandas as pd
import pytest

from llm_market import MarketModel
from llm_market.agents import Team
from llm_market.information.headlines import (
    TemplateHeadlines,
    item_headlines,
    log_headlines,
    news_items,
    research_items,
)
from llm_market.information.news import PUBLIC
from llm_market.policies.heuristic import (
    BISECTIONS,
    MIN_GAP,
    PRIOR_BRIER,
    PRIOR_GAP,
    spend_of,
)
from llm_market.recording.collector import _same


def _log(rng, n):
    """A news log with values and noise at and around every word's bound."""
    bounds = np.array([0.0, 0.1, 0.4, 0.5, 1.0, 2.0])
    noise = rng.choice(np.r_[bounds, rng.uniform(0, 3, 6), np.inf], n)
    value = rng.normal(0, 1.5, n)
    # Readings whose suggested move sits exactly on a bound, either sign.
    on_bound = rng.random(n) < 0.3
    value[on_bound] = rng.choice([-1, 1], on_bound.sum()) * rng.choice(
        [0.1, 0.4, 1.0], on_bound.sum()
    )
    value[on_bound] *= 1.0 + noise[on_bound] ** 2
    value[~np.isfinite(value)] = 0.0
    return {
        "kind": np.where(rng.random(n) < 0.4, PUBLIC, PUBLIC + 1),
        "team": rng.integers(-1, 50, n),
        "index": rng.integers(0, 3, n),
        "about_day": rng.integers(1, 30, n),
        "value": value,
        "noise_sd": noise,
    }


@pytest.mark.parametrize("seed", range(5))
def test_a_days_headlines_in_one_pass_are_the_items_headlines(seed):
    log = _log(np.random.default_rng(seed), 400)
    one, each = (TemplateHeadlines(np.random.default_rng(7)) for _ in range(2))
    assert log_headlines(one, log) == [each.headline(item) for item in news_items(log)]
    assert one.rng.random() == each.rng.random()  # the same draws were taken


@pytest.mark.parametrize("seed", range(5))
def test_research_headlines_in_one_pass_are_the_items_headlines(seed):
    """Many teams' research items (flat, at the words' bounds, spans of several days, no
    precision at all) in one pass, against one headline at a time."""
    rng = np.random.default_rng(seed)
    items = []
    for team in range(60):
        values = rng.normal(0, 1.2, (3, 21)) * rng.choice([0.0, 0.05, 1.0])
        precision = float(rng.choice([0.0, 0.25, 1.0, 4.0, rng.exponential(2.0)]))
        items += research_items(team, 12, values, precision, (1, 5, 21))
    one, each = (TemplateHeadlines(np.random.default_rng(7)) for _ in range(2))
    assert item_headlines(one, items) == [each.headline(item) for item in items]
    assert one.rng.random() == each.rng.random()  # the same draws were taken
    assert any("over days 12-32" in h for h in item_headlines(one, items))


def test_an_empty_day_and_a_user_generator_take_the_item_path():
    empty = {k: v[:0] for k, v in _log(np.random.default_rng(0), 5).items()}
    gen = TemplateHeadlines(np.random.default_rng(1))
    assert log_headlines(gen, empty) == []

    class Loud(TemplateHeadlines):
        def headline(self, item):
            return super().headline(item).upper()

    log = _log(np.random.default_rng(2), 20)
    assert log_headlines(Loud(np.random.default_rng(3)), log) == [
        h.upper() for h in log_headlines(TemplateHeadlines(np.random.default_rng(3)), log)
    ]


def _reference_spend(view, teams):
    """The research spend as every team bisecting (the rule before the one-pass path)."""
    a = view.research_productivity * teams.skill
    c = view.research_cost
    cells = float(np.prod(teams.belief_prec.shape[1:]))
    noinfo = view.noinfo_brier if np.isfinite(view.noinfo_brier) else PRIOR_BRIER
    brier = teams.recent_brier
    gap = np.where(np.isfinite(brier), np.maximum(noinfo - brier, MIN_GAP), PRIOR_GAP)
    per_brier = teams.research_intensity * (
        view.research_horizon * teams.recent_revenue / gap
        + view.pivot_factor * teams.monthly_allocation / noinfo
    )
    k = np.maximum(per_brier, 0.0) * noinfo / cells

    def marginal_gain(s):
        x = a * np.log1p(s / c) / cells
        return k * a / ((c + s) * (1.0 + x) ** 2)

    lo = np.zeros(teams.team.size)
    hi = np.maximum(k * a - c, 0.0)
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        above = marginal_gain(mid) > 1.0
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    optimum = np.where(marginal_gain(np.zeros_like(lo)) > 1.0, 0.5 * (lo + hi), 0.0)
    budget = np.where(0.0 > teams.budget, 0.0, teams.budget) / teams.days_left_in_month
    return np.minimum(optimum, teams.research_intensity * budget)


def _run(steps, **params):
    model = MarketModel(**params)
    for _ in range(steps):
        model.step()
    return model


def test_research_spend_is_the_every_team_bisection():
    model = _run(25, n_teams=200, n_clients=2000)
    teams = model.team_arrays(np.arange(model.n_teams))
    # Revenue of every size, so that some teams buy and some do not.
    teams.recent_revenue = np.random.default_rng(0).lognormal(0, 2, model.n_teams)
    got, want = spend_of(model.view.market, teams), _reference_spend(model.view.market, teams)
    assert (got > 0).any() and (got == 0).any()
    np.testing.assert_array_equal(got, want)


def test_deciding_in_team_order_gives_each_team_its_decision_order_draws():
    model = _run(3, n_teams=50, n_clients=500)
    acting = np.random.default_rng(4).permutation(model.n_teams)[:40]
    rows = np.sort(acting)
    policy, state = model.policy, model.policy.rng.bit_generator.state
    by_order = policy.decide_arrays(model.view.market, model.team_arrays(acting))
    policy.rng.bit_generator.state = state
    back = np.searchsorted(rows, acting)  # the row of each team in decision order
    by_team = policy.decide_arrays(model.view.market, model.team_arrays(rows), back)
    for field in ("research_spend", "forecasts", "ask_prices", "markup"):
        np.testing.assert_array_equal(getattr(by_team, field)[back], getattr(by_order, field))


def _mesa_records(model):
    """The day's team records as Mesa's own per-agent reporters give them."""
    return list(mesa.DataCollector._record_agenttype(model.datacollector, model, Team))


@pytest.mark.parametrize(
    "params",
    [
        {"scenario": "small", "floor_rule": "exit", "budget_floor": 0.2, "steps_per_month": 10},
        {"scenario": "networked"},
    ],
)
def test_the_team_rows_built_from_arrays_are_mesas_records(params):
    model = MarketModel(**params)
    for _ in range(35):
        model.step()
        fast = model.datacollector._record_agenttype(model, Team)
        assert isinstance(fast, list)  # the one-pass path ran
        slow = _mesa_records(model)
        assert len(fast) == len(slow)
        assert all(
            len(a) == len(b) and all(map(_same, a, b)) for a, b in zip(fast, slow, strict=True)
        )
    if "floor_rule" in params:
        assert not model.active.all()  # exited teams are reported too


def test_the_team_frame_is_mesas_frame():
    fast = _run(30, scenario="small", floor_rule="exit", budget_floor=0.2, steps_per_month=10)
    slow = MarketModel(scenario="small", floor_rule="exit", budget_floor=0.2, steps_per_month=10)
    slow.datacollector._team_columns = None  # Mesa's reporters from the first day
    slow.datacollector._agenttype_records = {}
    slow.datacollector.model_vars = {k: [] for k in slow.datacollector.model_vars}
    slow.datacollector.collect(slow)
    for _ in range(30):
        slow.step()
    pd.testing.assert_frame_equal(
        fast.datacollector.get_agenttype_vars_dataframe(Team),
        slow.datacollector.get_agenttype_vars_dataframe(Team),
        check_exact=True,
    )


def test_a_roster_that_changed_falls_back_to_mesa():
    model = _run(2, scenario="small")
    model.teams[3].remove()  # Mesa forgets the agent; the model's list still has it
    records = model.datacollector._record_agenttype(model, Team)
    assert not isinstance(records, list)  # Mesa's own lazy records
    assert len(list(records)) == model.n_teams - 1


@pytest.mark.parametrize("seed", range(4))
def test_average_ranks_are_scipys(seed):
    from scipy.stats import rankdata

    from llm_market.budgets.pivot import average_ranks

    rng = np.random.default_rng(seed)
    for n in (1, 2, 7, 200):
        x = rng.choice(np.r_[rng.normal(size=5), -np.inf, 0.0, -0.0], n)
        got, want = average_ranks(x), rankdata(x, method="average")
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    assert average_ranks(np.zeros(0)).size == 0


def _sort_keys(rng, trial):
    """Keys with the ties the market's sorts meet: runs of one value, equal values apart,
    signed zeros, infinities and NaNs, and integers of every width."""
    n = int(rng.integers(0, 60))
    if trial % 4 == 0:
        return rng.integers(0, 5, n)
    if trial % 4 == 1:
        return rng.integers(-(2**40), 2**40, n)
    keys = rng.choice([0.0, -0.0, 1.0, 2.5, np.nan, np.inf, -np.inf, rng.normal()], n)
    return np.repeat(keys, rng.integers(1, 5, n)) if trial % 4 == 2 else keys


@pytest.mark.parametrize("seed", range(4))
def test_the_market_stable_argsort_is_numpys(seed):
    from llm_market.market.sorting import stable_argsort

    rng = np.random.default_rng(seed)
    for trial in range(400):
        keys = _sort_keys(rng, trial)
        got, want = stable_argsort(keys), np.argsort(keys, kind="stable")
        assert got.dtype == want.dtype and np.array_equal(got, want)
    # The market's usual keys: a few units per seller of one quality, sellers by the thousand.
    quality = -np.repeat(rng.random(1000), 4)
    assert np.array_equal(stable_argsort(quality), np.argsort(quality, kind="stable"))
    seller = rng.integers(0, 10_000, 3000)
    assert np.array_equal(stable_argsort(seller), np.argsort(seller, kind="stable"))


@pytest.mark.parametrize("seed", range(3))
def test_sorted_sellers_group_as_numpys_unique(seed):
    from llm_market.market.mechanisms.base import group_sorted

    rng = np.random.default_rng(seed)
    for n in (0, 1, 5, 400):
        for team in (np.sort(rng.integers(0, 50, n)), rng.integers(0, 50, n)):
            got = group_sorted(team)
            want = np.unique(team, return_index=True, return_inverse=True)
            for g, w in zip(got, want, strict=True):
                assert g.dtype == w.dtype and np.array_equal(g, w)


@pytest.mark.parametrize("seed", range(3))
def test_question_prefix_sums_are_the_cumsums(seed):
    from llm_market.information.beliefs import prefix_sums

    rng = np.random.default_rng(seed)
    for days, questions in ((21, 15), (5, 3), (1, 1), (8, 0), (10, 40)):
        cells = rng.normal(size=(30, 3, days)) * 10.0 ** rng.integers(-8, 8, (30, 3, days))
        index = rng.integers(0, 3, questions)
        left = rng.integers(1, days + 1, questions)
        want = np.cumsum(cells, axis=2)[:, index, left - 1]
        assert prefix_sums(cells, index, left).tobytes() == want.tobytes()


def test_price_levels_are_those_of_np_unique():
    """The quote's levels from a partition are np.unique's levels, ties, NaN and zeros too."""
    from llm_market.market.mechanisms.base import price_levels

    def by_unique(prices, levels, descending):
        if prices.size == 0 or levels <= 0:
            return ()
        price, count = np.unique(prices, return_counts=True)
        if descending:
            price, count = price[::-1], count[::-1]
        return tuple(zip(price[:levels].tolist(), count[:levels].tolist(), strict=True))

    rng = np.random.default_rng(3)
    for trial in range(3000):
        size, levels = int(rng.integers(0, 60)), int(rng.integers(0, 7))
        kind = trial % 4
        if kind == 0:  # distinct prices: the partition's path
            prices = rng.lognormal(size=size)
        elif kind == 1:  # ties among the best
            prices = rng.integers(0, 6, size).astype(float)
        elif kind == 2:  # zeros of both signs
            prices = rng.integers(-3, 4, size).astype(float)
            prices[rng.random(size) < 0.3] = -0.0
        else:
            prices = rng.integers(0, 30, size).astype(float)
            prices[rng.random(size) < 0.1] = np.nan
        for descending in (True, False):
            got = price_levels(prices, levels, descending)
            want = by_unique(prices, levels, descending)
            assert repr(got) == repr(want)  # the same floats (sign of zero, NaN) and counts
            assert [type(c) for _, c in got] == [type(c) for _, c in want]
