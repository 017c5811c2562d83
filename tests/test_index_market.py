"""The traded index (index_process="market", issue 13): conservation, logs, informed traders."""

from dataclasses import replace

import numpy as np
import pytest

from llm_market import MarketModel
from llm_market.information.indices import (
    INDEX_PROCESSES,
    GarchIndexProcess,
    IndexProcess,
    MarketIndexProcess,
    make_index_process,
)
from llm_market.market.index_market import (
    FUNDAMENTALIST,
    NOISE,
    IndexMarket,
    MarketConfig,
    config_from_params,
)
from llm_market.params import make_params
from llm_market.recording.columns import INDEX, INDEX_TRADERS, INDEX_TRADES, good_column
from llm_market.rng import Streams

SMALL = dict(scenario="small", index_process="market", market_traders=120)


def run(model, days):
    for _ in range(days):
        model.step()
    return model


def test_cash_and_shares_are_conserved_and_never_negative_every_step():
    m = MarketModel(seed=2, **SMALL)
    market = m.indices.market
    cash0, shares0 = market.total_cash().copy(), market.total_shares().copy()
    for _ in range(40):
        m.step()
        np.testing.assert_allclose(market.total_cash(), cash0, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(market.total_shares(), shares0)
        assert (market.cash >= -1e-9).all() and (market.shares >= 0).all()
    # The log books the same sums each day.
    log = m.logs[INDEX_TRADERS].to_frame()
    spread = log.groupby("index")["cash"].agg(lambda c: c.max() - c.min())
    assert (spread < 1e-6).all()
    assert (log.groupby("index")["shares"].nunique() == 1).all()


def test_questions_resolve_on_the_traded_price_not_the_fundamental():
    m = run(MarketModel(seed=3, **SMALL), 30)
    assert isinstance(m.indices, MarketIndexProcess)
    np.testing.assert_array_equal(m.indices.level, m.indices.market.price)
    assert not np.allclose(m.indices.level, m.indices.fundamental_level)
    frame = m.datacollector.get_model_vars_dataframe()
    log = m.logs[INDEX_TRADERS].to_frame()
    last = log[log["step"] == log["step"].max()].sort_values("index")
    np.testing.assert_allclose(frame[good_column(INDEX, 0)].iloc[-1], last["price"].iloc[0])
    # The questions strike at the traded price: the moneyness teams see is against it.
    q = m.view.market.questions
    np.testing.assert_allclose(
        np.log(m.questions.strike / m.indices.level[q.index]), q.log_moneyness
    )


def test_the_fundamental_is_the_gbm_path_of_the_same_seed():
    gbm = run(MarketModel(seed=4, scenario="small"), 15)
    traded = run(MarketModel(seed=4, **SMALL), 15)
    np.testing.assert_allclose(traded.indices.fundamental_level, gbm.indices.level)


def test_index_market_logs_are_written_only_when_the_index_is_traded():
    m = run(MarketModel(seed=5, **SMALL), 10)
    trades = m.logs[INDEX_TRADES].to_frame()
    traders = m.logs[INDEX_TRADERS].to_frame()
    assert len(trades) > 0 and (trades["qty"] > 0).all()
    assert len(traders) == 10 * m.params.n_indices
    counts = traders[["fundamentalists", "optimists", "pessimists", "noise"]].sum(axis=1)
    assert (counts == m.params.market_traders).all()
    plain = run(MarketModel(seed=5, scenario="small"), 3)
    assert INDEX_TRADES not in plain.logs and INDEX_TRADERS not in plain.logs


def test_report_buyers_trade_as_informed_traders():
    m = run(MarketModel(seed=6, **SMALL), 20)
    traders = m.logs[INDEX_TRADERS].to_frame()
    bought = m.logs["trades"].to_frame().groupby("step").size()
    assert traders["informed"].sum() > 0 and bought.sum() > 0
    off = run(MarketModel(seed=6, market_informed=False, **SMALL), 20)
    assert off.logs[INDEX_TRADERS].to_frame()["informed"].sum() == 0


def test_inform_maps_clients_to_traders_for_the_days_a_report_informs():
    cfg = MarketConfig(traders=50, informed_days=2)
    market = IndexMarket(cfg, np.random.default_rng(0), 100.0, 2, n_clients=120)
    market.inform(1, np.array([3, 53, 110]))
    assert market.informed[1].nonzero()[0].tolist() == [3, 10]
    assert not market.informed[0].any()
    market.trade_day(np.log([100.0, 100.0]))
    assert market.informed[1].sum() == 2  # still informed the second day
    market.trade_day(np.log([100.0, 100.0]))
    assert not market.informed.any()


def test_switching_off_freezes_the_groups_and_noise_traders_never_switch():
    cfg = MarketConfig(traders=100, switching=False)
    market = IndexMarket(cfg, np.random.default_rng(1), 100.0, 1)
    before = market.type.copy()
    for _ in range(10):
        market.trade_day(np.log([100.0]))
    np.testing.assert_array_equal(market.type, before)
    moving = IndexMarket(replace(cfg, switching=True), np.random.default_rng(1), 100.0, 1)
    noise = moving.type == NOISE
    for _ in range(10):
        moving.trade_day(np.log([100.0]))
    assert (moving.type[noise] == NOISE).all() and not (moving.type[~noise] == NOISE).any()


@pytest.mark.parametrize("imitation", [True, False])
def test_fundamentalists_pull_the_price_toward_the_fundamental(imitation):
    cfg = MarketConfig(traders=200, imitation=imitation, chartist_share=0.0, v2=0.0)
    market = IndexMarket(cfg, np.random.default_rng(2), 100.0, 1)
    assert (market.type[0] != NOISE).sum() == (market.type[0] == FUNDAMENTALIST).sum()
    for _ in range(30):
        market.trade_day(np.log([120.0]))
    assert market.price[0] > 110.0


def test_the_registry_builds_every_process_from_params():
    assert set(INDEX_PROCESSES) == {"gbm", "garch", "market"}
    for name, cls in [("gbm", IndexProcess), ("garch", GarchIndexProcess)]:
        p = make_params(index_process=name)
        built = make_index_process(p, Streams(1), 21)
        assert type(built) is cls
    p = make_params(index_process="market", market_fundamental="garch")
    built = make_index_process(p, Streams(1), 21)
    assert isinstance(built.fundamental, GarchIndexProcess)
    assert built.market.config == config_from_params(p)


def test_a_traded_run_is_reproducible():
    a = run(MarketModel(seed=7, **SMALL), 8)
    b = run(MarketModel(seed=7, **SMALL), 8)
    assert a.digest() == b.digest()
    pa, pb = (m.logs[INDEX_TRADES].to_frame() for m in (a, b))
    assert pa.equals(pb)


def test_the_view_and_the_report_show_the_index_market(tmp_path):
    from llm_market.viz.index_market import index_market_figure, informativeness, trader_frame
    from llm_market.viz.report import plot_report

    m = run(MarketModel(seed=8, **SMALL), 12)
    fig = index_market_figure(m, 1)
    assert fig is not None and len(fig.axes) == 2
    assert 0 <= informativeness(trader_frame(m)) < 1
    plot_report(m, tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert index_market_figure(run(MarketModel(seed=8, scenario="small"), 2)) is None


def _drive(cfg, days, seed, informed_share=0.1):
    # The index market alone on a GBM fundamental, a tenth of its traders informed each day,
    # the fundamental published monthly (the MarketConfig defaults).
    rng = np.random.default_rng(seed)
    market = IndexMarket(cfg, rng, 100.0, 1, n_clients=cfg.traders)
    sd = 0.2 / np.sqrt(252)
    f = np.log(100.0)
    prices, chartists = [], []
    for _ in range(days):
        f += -0.5 * sd**2 + sd * rng.standard_normal()
        # Reports of the quality teams buy at the default research cost (rho about 0.6).
        buyers = np.flatnonzero(rng.random(cfg.traders) < informed_share)
        market.inform(0, buyers, 0.6, rng.standard_normal())
        prices.append(market.trade_day(np.array([f]), sd)[0])
        chartists.append(market.counts()[0, 1:3].sum())
    return np.diff(np.log(prices)), np.array(chartists[1:])


def test_volatility_rises_with_the_chartists_and_the_returns_have_fat_tails():
    from llm_market.stats.facts import stylized_facts

    # A seed in which the chartists spread (in some 1,500-day runs they never do).
    r, chartists = _drive(MarketConfig(), 1500, seed=3)
    r, chartists = r[100:], chartists[100:]
    low, high = np.quantile(chartists, [0.25, 0.75])
    # The mechanism: a market of chartists is a volatile market.
    assert r[chartists >= high].std() > 1.5 * r[chartists <= low].std()
    rep = stylized_facts(r, fit_garch=False)
    assert rep.fact("heavy_tails").result == "pass"
    assert rep.acf_abs_returns[1] > 0.05
    frozen, _ = _drive(MarketConfig(switching=False), 1500, seed=3)
    assert excess_kurtosis_of(frozen[100:]) < rep.excess_kurtosis


def excess_kurtosis_of(r):
    from llm_market.stats.facts import excess_kurtosis

    return excess_kurtosis(r)


def test_the_market_scenario_has_a_gbm_fundamental_and_no_transmitted_facts():
    p = make_params("market")
    assert p.index_process == "market" and p.market_fundamental == "gbm"
    assert p.value_level_elasticity == 0.0 and p.steps >= 2000


# ---------------------------------------------------------------------- Grossman-Stiglitz (gs)


def test_the_public_estimate_moves_with_the_seen_part_and_publication_resets_it():
    sd = 0.0126
    f = np.log(100.0) + np.cumsum(np.r_[0.0, sd * np.random.default_rng(0).standard_normal(30)])
    for h, lag in [(0.0, 21), (1.0, 21), (0.5, 10)]:
        market = IndexMarket(
            MarketConfig(traders=50, hidden_share=h, public_lag=lag),
            np.random.default_rng(1),
            100.0,
            1,
        )
        gaps = []
        for day in range(1, 31):
            market.trade_day(f[day : day + 1], sd)
            gaps.append(market.public_gap[0])
            if h == 0.0:  # nothing hidden: the public estimate is the fundamental
                assert market.public_log[0] == pytest.approx(f[day])
        if h == 1.0:  # everything hidden: the estimate is the last publication's fundamental
            published = [d for d in range(1, 31) if d % lag == 0]
            assert market.public_log[0] == pytest.approx(f[published[-1]])
        if h == 0.5:
            # The gap grows between publications and a publication sets it to zero.
            assert np.std(gaps) > 0
            market.publish(np.array([0]))
            assert market.public_log[0] == pytest.approx(f[30]) and market.public_age[0] == 0


def test_a_report_s_quality_is_its_seller_s_research_precision():
    p = make_params("market", n_teams=4)
    process = make_index_process(p, Streams(3), 21)
    for _ in range(3):
        process.observe_research(np.array([1, 2]), np.array([0.5, 0.05]))
    # Three days of research per cell on tomorrow's shock: x = 1.5 and 0.15, rho = x / (1 + x).
    np.testing.assert_allclose(process.report_quality, [0.0, 0.6, 0.15 / 1.15, 0.0])
    process.observe_reports(0, np.array([10, 11, 12]), np.array([1, 1, 3]))
    rho = process.market.report_rho[0, [10, 11, 12]]
    np.testing.assert_allclose(rho, [0.6, 0.6, 0.0])
    z = process.market.report_z[0, [10, 11, 12]]
    assert z[0] == z[1]  # the buyers of one report share its error


def _informed_run(publish_every_day: bool, seed: int = 5, days: int = 120):
    # One index, a fifth of the traders informed each day with good reports; with public news
    # every day the fundamental is published every evening.
    cfg = MarketConfig(traders=300, chartist_share=0.1)
    rng = np.random.default_rng(seed)
    market = IndexMarket(cfg, np.random.default_rng(seed + 1), 100.0, 1)
    sd = 0.2 / np.sqrt(252)
    f = np.log(100.0)
    gaps = []
    for _ in range(days):
        f += sd * rng.standard_normal()
        market.inform(0, np.flatnonzero(rng.random(cfg.traders) < 0.2), 0.8, rng.standard_normal())
        market.trade_day(np.array([f]), sd)
        gaps.append(market.value[0, 0] - market.value[0, 1])
        if publish_every_day:
            market.publish(np.array([0]))
    return np.nanmean(gaps), market.report_gain[0]


def test_public_news_narrows_the_informed_traders_gain_gap():
    stale_gap, stale_value = _informed_run(publish_every_day=False)
    fresh_gap, fresh_value = _informed_run(publish_every_day=True)
    # Informed traders gain more than uninformed ones when the public estimate is stale...
    assert stale_gap > 0 and stale_value > 0
    # ... and public news, which keeps the public estimate fresh, takes most of that edge away.
    assert fresh_gap < 0.5 * stale_gap
    assert fresh_value < stale_value


def test_trading_valuation_prices_reports_from_the_booked_gain_gap():
    m = MarketModel(seed=9, **{**SMALL, "client_valuation": "trading", "client_base_value": 1.0})
    run(m, 25)
    booked = m.indices.report_gain
    np.testing.assert_allclose(m.market.report_gain, booked)
    # What clients pay for a report: the booked gain, times the seller's record relative to
    # the teams' mean, times the days it informs.
    reputation = m.view.market.reputation
    gap = np.maximum(m.noinfo_brier - reputation, 0.0)
    gap = np.where(np.isfinite(gap), gap, m.params.reputation_prior_gap)
    relative = gap / gap.mean()
    expected = relative[:, None] * np.maximum(booked, 0.0)[None, :] * m.params.market_informed_days
    np.testing.assert_allclose(m.view.market.quality, expected)
    # A market that has booked no gain makes reports worthless; a bigger gain, dearer.
    m.market.observe_index(np.zeros(2), m.indices.level, np.array([0.0, 2.0]))
    q = m.market.trading_quality(gap)
    assert (q[:, 0] == 0).all() and (q[:, 1] == pytest.approx(2.0 * relative))
    # Reports sold, priced per unit of that quality: a day's trades over their sellers' quality.
    trades = m.logs["trades"].to_frame()
    assert len(trades) > 0 and (trades["price"] > 0).all()


def test_trading_valuation_conserves_index_market_money_and_needs_a_traded_index():
    m = MarketModel(seed=2, **{**SMALL, "client_valuation": "trading", "client_base_value": 1.0})
    market = m.indices.market
    cash0, shares0 = market.total_cash().copy(), market.total_shares().copy()
    for _ in range(30):
        m.step()
        np.testing.assert_allclose(market.total_cash(), cash0, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(market.total_shares(), shares0)
    assert abs(m.money_error) < 1e-6
    from llm_market import ParameterError

    with pytest.raises(ParameterError, match="client_valuation"):
        make_params(client_valuation="trading")
