"""Tests for llm_market.stats.facts on series with known answers."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_market.stats.facts import (
    FactsReport,
    abs_acf_decay_exponent,
    acf,
    aggregated_returns,
    bartlett_band,
    excess_kurtosis,
    fit_power_law,
    garch_persistence,
    hill_by_fraction,
    hill_tail_index,
    kurtosis_by_aggregation,
    leverage_correlation,
    log_returns,
    robust_acf_band,
    stylized_facts,
)
from llm_market.viz.facts_report import plot_facts


def simulate_garch(n, seed, alpha=0.1, beta=0.85, nu=6.0, burn=500, var=1e-4):
    """GARCH(1,1) with unit-variance Student-t shocks, unconditional variance `var`."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, n + burn) / math.sqrt(nu / (nu - 2))
    omega = var * (1 - alpha - beta)
    s2 = var
    r = np.empty(n + burn)
    for t in range(n + burn):
        r[t] = math.sqrt(s2) * z[t]
        s2 = omega + alpha * r[t] ** 2 + beta * s2
    return r[burn:]


@pytest.fixture(scope="module")
def gaussian():
    return np.random.default_rng(12345).normal(0.0, 0.01, 5000)


@pytest.fixture(scope="module")
def gaussian_report(gaussian):
    return stylized_facts(gaussian)


@pytest.fixture(scope="module")
def garch_returns():
    return simulate_garch(5000, seed=2024)


@pytest.fixture(scope="module")
def garch_report(garch_returns):
    return stylized_facts(garch_returns)


# --- transforms -------------------------------------------------------------------------------


def test_log_returns_drops_bad_prices_without_bridging():
    prices = [100.0, 101.0, np.nan, 102.0, 0.0, 103.0, 104.0, -1.0]
    r = log_returns(prices)
    # Only pairs of adjacent valid prices survive; no return spans a gap.
    np.testing.assert_allclose(r, [math.log(101 / 100), math.log(104 / 103)])


def test_log_returns_lag_and_series_input():
    p = pd.Series([1.0, 2.0, 4.0, 8.0])
    np.testing.assert_allclose(log_returns(p, lag=2), [math.log(4), math.log(4)])
    assert log_returns([5.0]).size == 0
    with pytest.raises(ValueError):
        log_returns(p, lag=0)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(min_value=1e-3, max_value=1e6),
        ),
        max_size=40,
    )
)
def test_log_returns_always_finite(prices):
    r = log_returns(prices)
    assert np.all(np.isfinite(r))
    assert r.size <= max(len(prices) - 1, 0)


def test_aggregated_returns_non_overlapping_sums():
    r = np.arange(1.0, 12.0)  # 11 values
    np.testing.assert_allclose(aggregated_returns(r, 5), [15.0, 40.0])  # tail of 1 dropped
    np.testing.assert_allclose(aggregated_returns(r, 1), r)


# --- Gaussian iid noise -------------------------------------------------------------------------


def test_gaussian_kurtosis_near_zero(gaussian, gaussian_report):
    assert abs(excess_kurtosis(gaussian)) < 0.3
    assert abs(gaussian_report.excess_kurtosis) < 0.3


def test_gaussian_acf_inside_band(gaussian, gaussian_report):
    a = acf(gaussian, 100)
    assert a.shape == (101,) and a[0] == pytest.approx(1.0)
    outside = np.abs(a[1:]) > bartlett_band(gaussian.size)
    # 5% expected at a 95% band; 10% of 100 lags leaves ample room.
    assert outside.mean() <= 0.10
    np.testing.assert_allclose(gaussian_report.acf_returns, a)


def test_gaussian_facts(gaussian_report):
    facts = gaussian_report.to_dict()["facts"]
    assert facts["heavy_tails"] == "fail"
    assert facts["volatility_clustering"] == "fail"
    assert facts["no_linear_autocorrelation"] == "pass"
    assert facts["slow_decay_abs_acf"] == "fail"


def test_kurtosis_aggregation_keys(gaussian):
    k = kurtosis_by_aggregation(gaussian, levels=(1, 5, 20))
    assert list(k) == [1, 5, 20]
    assert all(abs(v) < 1.5 for v in k.values())


# --- GARCH(1,1) with t shocks -------------------------------------------------------------------


def test_garch_clustering_detected(garch_returns, garch_report):
    band = bartlett_band(garch_returns.size)
    assert acf(np.abs(garch_returns), 1)[1] > band
    assert garch_report.acf_abs_returns[1] > garch_report.band
    assert garch_report.fact("volatility_clustering").result == "pass"


def test_garch_persistence_recovered(garch_returns):
    res = garch_persistence(garch_returns)
    assert res.reason is None
    assert 0.85 <= res.persistence < 1.0
    assert {"alpha[1]", "beta[1]", "omega", "nu"} <= set(res.params)
    assert res.persistence == pytest.approx(res.params["alpha[1]"] + res.params["beta[1]"])
    normal = garch_persistence(garch_returns, dist="normal")
    assert 0.85 <= normal.persistence < 1.0


def test_garch_heavy_tails(garch_returns, garch_report):
    assert excess_kurtosis(garch_returns) > 1
    facts = garch_report.to_dict()["facts"]
    assert facts["heavy_tails"] == "pass"
    assert facts["garch_persistence"] == "pass"
    # Uncorrelated returns: the robust band must not flag the GARCH series.
    assert facts["no_linear_autocorrelation"] == "pass"


def test_robust_band_wider_than_white_noise_under_garch(garch_returns):
    rb = robust_acf_band(garch_returns, 5)
    assert rb[0] == 0.0
    assert np.all(rb[1:] > bartlett_band(garch_returns.size))


# --- Pareto tails -------------------------------------------------------------------------------


def test_hill_recovers_pareto_alpha():
    rng = np.random.default_rng(7)
    n = 20_000
    x = rng.choice([-1.0, 1.0], n) * (rng.pareto(3.0, n) + 1.0)  # classical Pareto, x_m = 1
    # k = 1000 per tail, SE ~ alpha / sqrt(k) ~ 0.095; max error over 60 seeds was 0.23.
    assert hill_tail_index(x, "left", 0.05) == pytest.approx(3.0, abs=0.3)
    assert hill_tail_index(x, "right", 0.05) == pytest.approx(3.0, abs=0.3)
    by_f = hill_by_fraction(x, "left")
    assert set(by_f) == {0.01, 0.025, 0.05, 0.1}
    assert all(abs(a - 3.0) < 0.6 for a in by_f.values())


def test_hill_degenerate_inputs():
    assert math.isnan(hill_tail_index([0.1, -0.2, 0.3], "left", 0.05))  # k = 0
    assert math.isnan(hill_tail_index(np.ones(100), "left"))  # no losses
    with pytest.raises(ValueError):
        hill_tail_index([1.0], "middle")


# --- power law ----------------------------------------------------------------------------------


def test_fit_power_law_exact():
    lags = np.arange(1, 101)
    fit = fit_power_law(lags, 0.3 * lags**-0.25)
    assert fit.beta == pytest.approx(0.25, abs=1e-10)
    assert fit.C == pytest.approx(0.3, rel=1e-10)
    assert fit.r_squared == pytest.approx(1.0)
    assert fit.lags == tuple(range(1, 101))


def test_fit_power_law_skips_non_positive():
    lags = np.arange(1, 11)
    vals = 0.5 * lags**-0.4
    vals[[2, 5]] = [-0.01, np.nan]
    fit = fit_power_law(lags, vals)
    assert fit.beta == pytest.approx(0.4)
    assert 3 not in fit.lags and 6 not in fit.lags
    assert math.isnan(fit_power_law([1, 2], [0.5, 0.4]).beta)


def test_abs_acf_decay_exponent_on_garch(garch_returns):
    fit = abs_acf_decay_exponent(garch_returns, max_lag=50)
    # GARCH(1,1) decays exponentially, i.e. much faster than Cont's tau^-0.2..0.4.
    assert fit.beta > 0.5
    assert max(fit.lags) <= 50


def test_bartlett_formula():
    rho = np.array([1.0, 0.5, 0.2, 0.0])
    band = bartlett_band(100, rho, z=1.0)
    np.testing.assert_allclose(band, [0.0, 0.1, math.sqrt(1.5) / 10, math.sqrt(1.58) / 10])
    assert bartlett_band(400) == pytest.approx(1.959963984540054 / 20)


def test_leverage_negative_when_losses_raise_volatility():
    rng = np.random.default_rng(3)
    n = 5000
    z = rng.standard_normal(n)
    r = np.empty(n)
    r[0] = 0.01 * z[0]
    for t in range(1, n):
        r[t] = 0.01 * (1.0 + 1.0 * (r[t - 1] < 0)) * z[t]
    lev = leverage_correlation(r, 3)
    assert lev.shape == (3,)
    assert lev[0] < -0.1
    assert stylized_facts(r, fit_garch=False).fact("leverage_effect").result == "pass"


# --- pooling ------------------------------------------------------------------------------------


def test_pooling_never_crosses_series_boundaries():
    rng = np.random.default_rng(11)
    a = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, 600)))
    b = 1e6 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    rep = stylized_facts([a, b], kind="prices", fit_garch=False)
    assert rep.n_series == 2
    assert rep.n_returns == 599 + 399
    assert max(np.abs(s).max() for s in rep.returns) < 0.1
    # The naive concatenation would contain a log(1e4) ~ 9.2 jump.
    assert np.abs(log_returns(np.concatenate([a, b]))).max() > 9
    assert rep.excess_kurtosis < 1


def test_pooled_acf_is_length_weighted_mean():
    rng = np.random.default_rng(5)
    s1, s2 = rng.standard_normal(300), rng.standard_normal(900)
    rep = stylized_facts((s1, s2), fit_garch=False, nlags=10)
    expected = (300 * acf(s1, 10) + 900 * acf(s2, 10)) / 1200
    np.testing.assert_allclose(rep.acf_returns, expected)
    assert rep.band == pytest.approx(bartlett_band(1200))
    # DataFrame columns are treated as separate series too.
    df_rep = stylized_facts(pd.DataFrame({"a": s1[:300], "b": s2[:300]}), fit_garch=False)
    assert df_rep.n_series == 2


def test_pooled_aggregation_does_not_straddle_series():
    rng = np.random.default_rng(9)
    s1, s2 = rng.standard_t(4, 203), rng.standard_t(4, 307)  # lengths not multiples of 5
    rep = stylized_facts([s1, s2], fit_garch=False, aggregation_levels=(1, 5))
    per_series = np.concatenate([aggregated_returns(s1, 5), aggregated_returns(s2, 5)])
    assert per_series.size == 40 + 61
    assert rep.kurtosis_by_aggregation[5] == pytest.approx(excess_kurtosis(per_series))
    straddling = aggregated_returns(np.concatenate([s1, s2]), 5)
    assert rep.kurtosis_by_aggregation[5] != pytest.approx(excess_kurtosis(straddling))


# --- robustness, serialisation, figure -----------------------------------------------------------


def test_short_series_garch_none_with_reason():
    r = np.random.default_rng(1).normal(0, 0.01, 100)
    res = garch_persistence(r)
    assert res.persistence is None
    assert "too short" in res.reason
    assert garch_persistence(np.zeros(400)).persistence is None
    assert garch_persistence([np.nan] * 10).persistence is None


def test_short_series_report_is_json_serialisable():
    r = np.random.default_rng(2).normal(0, 0.01, 30)
    rep = stylized_facts(r)
    d = rep.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["garch_persistence"] is None
    assert d["facts"]["garch_persistence"] == "n/a"
    assert set(d["facts"].values()) <= {"pass", "fail", "n/a"}


def test_to_dict_keys_and_types(garch_report):
    d = garch_report.to_dict()
    for key in (
        "n_returns",
        "excess_kurtosis",
        "hill_tail_index",
        "acf_returns",
        "acf_abs_returns",
        "abs_acf_decay_exponent",
        "kurtosis_by_aggregation",
        "leverage",
        "garch_persistence",
        "facts",
    ):
        assert key in d
    assert set(d["hill_tail_index"]) == {"left", "right"}
    assert isinstance(d["acf_returns"], list) and len(d["acf_returns"]) == 101
    assert json.loads(json.dumps(d, allow_nan=False)) == d


def test_table(garch_report):
    t = garch_report.table()
    cols = ["fact", "value", "pvalue", "rule", "source", "result", "surrogate"]
    assert list(t.columns) == cols
    assert len(t) == len(garch_report.facts)
    assert set(t["result"]) <= {"pass", "fail", "n/a"}


def test_empty_input_raises():
    with pytest.raises(ValueError):
        stylized_facts([np.nan, np.nan])


def test_plot_facts_writes_png(tmp_path, garch_report, gaussian):
    out = plot_facts(garch_report, tmp_path)
    assert out == tmp_path / "facts.png"
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    out2 = plot_facts(gaussian, tmp_path / "sub" / "noise.png")
    assert out2.stat().st_size > 10_000


def test_sp500_passes_all_rules():
    sp500 = pytest.importorskip("arch.data.sp500")
    rep = stylized_facts(sp500.load()["Adj Close"], kind="prices")
    assert isinstance(rep, FactsReport)
    assert rep.excess_kurtosis == pytest.approx(8.18, abs=0.05)
    assert rep.acf_returns[1] == pytest.approx(-0.070, abs=0.002)
    assert rep.acf_abs_returns[1] == pytest.approx(0.244, abs=0.002)
    failed = [f.name for f in rep.facts if f.result != "pass"]
    assert failed == []


# --- honest tests (issue 13): stated levels, p-values, shuffled surrogates ------------------


def test_simulated_gbm_passes_at_most_the_no_linear_autocorrelation_rule():
    # Ten GBM price paths of 2,000 days (the default index): nothing but iid Gaussian returns.
    rng = np.random.default_rng(7)
    sd = 0.2 / math.sqrt(252)
    paths = [100 * np.exp(np.cumsum(rng.normal(-0.5 * sd**2, sd, 2000))) for _ in range(10)]
    rep = stylized_facts(paths, kind="prices")
    passed = {f.name for f in rep.facts if f.result == "pass"}
    assert passed <= {"no_linear_autocorrelation"}, passed


def test_every_rule_reports_a_pvalue_or_a_band(garch_report):
    for f in garch_report.facts:
        assert (f.pvalue is not None) or (f.band is not None), f.name
        if f.pvalue is not None and math.isfinite(f.pvalue):
            assert 0.0 <= f.pvalue <= 1.0


def test_the_shuffled_surrogate_keeps_the_tails_and_loses_the_clustering(garch_report):
    sur = garch_report.surrogate
    assert sur is not None and sur.surrogate is None
    np.testing.assert_allclose(
        np.sort(np.concatenate(sur.returns)), np.sort(np.concatenate(garch_report.returns))
    )
    assert sur.fact("heavy_tails").result == "pass"
    assert sur.fact("volatility_clustering").result == "fail"
    assert sur.fact("garch_persistence").result == "fail"
    d = garch_report.to_dict()
    assert d["surrogate_facts"]["volatility_clustering"] == "fail"
    assert d["fact_details"][0]["surrogate"] == "pass"
    assert stylized_facts(np.ones(3) + np.arange(3), surrogate=False).surrogate is None


def test_hill_gaussian_pvalue_separates_gaussian_from_student_t():
    from llm_market.stats.facts import hill_gaussian_pvalue

    rng = np.random.default_rng(3)
    g = rng.standard_normal(5000)
    t3 = rng.standard_t(3, 5000)
    assert hill_gaussian_pvalue(hill_tail_index(g, "left"), 5000, "left") > 0.05
    assert hill_gaussian_pvalue(hill_tail_index(t3, "left"), 5000, "left") < 0.01
