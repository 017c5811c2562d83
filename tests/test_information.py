import numpy as np
import pytest
from scipy.stats import norm

from llm_market.information.beliefs import Beliefs, event_probability
from llm_market.information.indices import IndexProcess
from llm_market.information.news import NewsProcess, research_precision
from llm_market.information.questions import QuestionBook
from llm_market.information.scoring import ScoreBoard, brier_score, brier_skill_score


def make_index(seed=0, k=3, corr=0.5, lookahead=10):
    rng = np.random.default_rng(seed)
    return IndexProcess(rng, k, 0.08, 0.25, corr, 100.0, lookahead, 252)


def test_gbm_log_returns_have_the_exact_moments_and_correlation():
    idx = make_index(k=3, corr=0.5)
    r = np.array([idx.advance() for _ in range(40_000)])
    dt = 1 / 252
    assert r.mean(axis=0) == pytest.approx(np.full(3, (0.08 - 0.5 * 0.25**2) * dt), abs=4e-4)
    assert r.var(axis=0) == pytest.approx(np.full(3, 0.25**2 * dt), rel=0.03)
    c = np.corrcoef(r.T)
    assert c[0, 1] == pytest.approx(0.5, abs=0.03)
    # Exact log-normal step: log levels are the cumulative sum of the log returns.
    assert np.log(idx.level / 100.0) == pytest.approx(r.sum(axis=0))


def test_future_log_return_is_what_then_happens():
    idx = make_index(lookahead=7)
    expected = idx.future_log_return(5)
    start = idx.level.copy()
    for _ in range(5):
        idx.advance()
    assert np.log(idx.level / start) == pytest.approx(expected)


def test_brier_score_and_skill():
    assert brier_score([0.0, 1.0, 0.5, 0.8], [0, 1, 1, 0]).tolist() == pytest.approx(
        [0.0, 0.0, 0.25, 0.64]
    )
    assert brier_skill_score(0.1, 0.2) == pytest.approx(0.5)
    assert np.isnan(brier_skill_score(0.1, 0.0))


def test_question_book_scores_the_mean_daily_brier():
    book = QuestionBook(n_forecasters=2, horizons=(3,), interval=5, threshold=0.0)
    assert book.open_questions(0, np.array([100.0])) == 1
    daily = np.array([[0.2, 0.9], [0.4, 0.8], [0.6, 0.7]])
    for row in daily:
        book.record(row[None, :])
    res = book.resolve(3, np.array([101.0]))  # closes above the strike: outcome 1
    assert res.outcome.tolist() == [1]
    assert res.brier[0] == pytest.approx(((daily - 1) ** 2).mean(axis=0))
    assert res.last_p[0] == pytest.approx(daily[-1])
    assert len(book) == 0
    # Nothing opens on a day that is not a question day.
    assert book.open_questions(3, np.array([100.0])) == 0


def test_scoreboard_rolling_window_skill_and_reliability():
    board = ScoreBoard(["a", "b"], window=2)
    book = QuestionBook(n_forecasters=2, horizons=(1,), interval=1, threshold=0.0)
    outcomes = [1, 0, 1]
    for day, o in enumerate(outcomes):
        book.open_questions(day, np.array([100.0]))
        book.record(np.array([[0.9, 0.5]]))
        board.add_day(book.resolve(day + 1, np.array([101.0 if o else 99.0])))
    # Window of 2 days keeps the last two questions (outcomes 0, 1).
    assert board.rolling_brier() == pytest.approx([(0.81 + 0.01) / 2, 0.25])
    assert board.mean_brier() == pytest.approx([(0.01 + 0.81 + 0.01) / 3, 0.25])
    base = 2 / 3
    ref = ((base - 0) ** 2 + (base - 1) ** 2) / 2
    assert board.rolling_skill() == pytest.approx(1 - np.array([0.41, 0.25]) / ref)
    table = board.reliability(0)
    row = table[table.n > 0].iloc[0]
    assert row.n == 3 and row.mean_forecast == pytest.approx(0.9)
    assert row.observed_frequency == pytest.approx(2 / 3)


def test_belief_update_is_the_gaussian_posterior():
    b = Beliefs(2, 1, 3)
    b.observe([0, 0], [0, 0], [1, 1], np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    # Prior N(0,1) plus readings 1 (precision 1) and 2 (precision 3).
    assert b.prec[0, 0, 1] == pytest.approx(5.0)
    assert b.mean[0, 0, 1] == pytest.approx((1.0 + 6.0) / 5.0)
    assert b.mean[1].sum() == 0 and (b.prec[1] == 1).all()
    b.advance()
    assert b.mean[0, 0, 0] == pytest.approx(7 / 5) and b.prec[0, 0, -1] == 1.0


def test_uninformed_probability_is_the_gbm_probability():
    mu, sd = 0.0003, 0.012
    b = Beliefs(1, 1, 21)
    p = event_probability(b.mean, b.prec, np.array([0]), np.array([21]), np.array([0.01]), mu, sd)
    expected = 1 - norm.cdf((0.01 - 21 * mu) / (sd * np.sqrt(21)))
    assert p[0, 0] == pytest.approx(expected)


def test_research_has_diminishing_returns_and_sharpens_forecasts():
    spend = np.arange(0.0, 5.0)
    pi = research_precision(spend, 2.0, 1.0)
    assert pi[0] == 0 and np.all(np.diff(pi) > 0) and np.all(np.diff(np.diff(pi)) < 0)

    # Teams that buy more research forecast better on average.
    rng = np.random.default_rng(3)
    briers = {0.0: [], 20.0: []}
    for _ in range(300):
        shocks = rng.standard_normal((1, 5))
        news = NewsProcess(rng, 1, 1, 0, 1, 0, 1, 0, np.ones(1), None)
        outcome = float(shocks.sum() * 0.01 > 0)
        for s in briers:
            b = Beliefs(1, 1, 5)
            team, values, prec = news.research(np.array([s]), shocks, 2.0, 1.0)
            b.observe_all_days(team, values, prec)
            p = event_probability(
                b.mean, b.prec, np.array([0]), np.array([5]), np.array([0.0]), 0.0, 0.01
            )[0, 0]
            briers[s].append((p - outcome) ** 2)
    assert np.mean(briers[20.0]) < np.mean(briers[0.0]) - 0.02


def test_news_arrives_at_the_poisson_rates_and_relays_only_to_neighbours():
    # A path graph 0 - 1 - 2 - 3: private news of team 0 can reach only team 1.
    indptr = np.array([0, 1, 3, 5, 6])
    nbrs = np.array([1, 0, 2, 1, 3, 2])
    rng = np.random.default_rng(0)
    skill = np.ones(4)
    news = NewsProcess(rng, 4, 2, 0.5, 1.0, 0.2, 0.5, 1.0, skill, (indptr, nbrs))
    shocks = np.zeros((2, 10))
    n_public, private_by_team, relays = 0, np.zeros(4), []
    for day in range(3000):
        batch, log = news.draw(day, shocks)
        n_public += int((log["kind"] == 0).sum())
        private_by_team += np.bincount(log["team"][log["kind"] == 1], minlength=4)
        relays.append(news.relayed_today)
    assert n_public / 3000 == pytest.approx(2 * 0.5, rel=0.05)
    assert private_by_team / 3000 == pytest.approx(np.full(4, 0.2), rel=0.1)
    # With diffusion probability 1 every private item reaches every neighbour, minus those about
    # a day that has already passed; the mean degree is 1.5.
    assert np.mean(relays) == pytest.approx(0.8 * 1.5 * 0.9, rel=0.15)


def test_relayed_news_goes_to_neighbours_one_step_later():
    indptr = np.array([0, 1, 2, 2])  # 0 - 1, and 2 alone
    nbrs = np.array([1, 0])
    rng = np.random.default_rng(1)
    news = NewsProcess(rng, 3, 1, 0.0, 1.0, 0.0, 0.5, 1.0, np.ones(3), (indptr, nbrs))
    news.private_rate = 0.0
    shocks = np.arange(10.0)[None, :]
    news._queue_relay(
        np.array([7]), np.array([0]), np.array([0]), np.array([5]), np.array([4.2]), np.array([4.0])
    )
    batch, _ = news.draw(1, shocks)
    assert batch.team.tolist() == [1]
    assert batch.value.tolist() == [4.2] and batch.ahead.tolist() == [5 - 2]
    batch, _ = news.draw(2, shocks)
    assert batch.team.size == 0  # one hop only
