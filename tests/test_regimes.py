"""Demand regimes and news rates from data: known answers on simulated series."""

import math

import numpy as np
import pytest

from llm_market.errors import UsageError
from llm_market.market.demand import stationary_distribution
from llm_market.params import make_params
from llm_market.stats.jumps import (
    find_jumps,
    gumbel_threshold,
    local_volatility,
    simulate_jumps,
)
from llm_market.stats.regimes import (
    detrended_log_volume,
    fit_regimes,
    simulate_regimes,
    stationary_law,
)

TRUE_P = np.array([[0.98, 0.02], [0.05, 0.95]])
TRUE_SD = np.array([0.007, 0.02])


@pytest.fixture(scope="module")
def two_regimes():
    x, state = simulate_regimes(np.random.default_rng(0), TRUE_P, TRUE_SD, 4000)
    return x, state, fit_regimes(x, regimes=(2, 3))


def test_a_two_regime_series_recovers_its_chain(two_regimes):
    _, _, fit = two_regimes
    assert fit.k == 2 and fit.scores[2] < fit.scores[3]  # BIC prefers the true number
    # Stated tolerance: every transition probability within 0.015 (the leaving probabilities
    # 0.02 and 0.05 have standard errors of about 0.003 and 0.008 on 4,000 days).
    assert np.abs(fit.transition - TRUE_P).max() < 0.015
    assert fit.sds / 100 == pytest.approx(TRUE_SD, rel=0.05)  # fitted in percent
    assert fit.durations == pytest.approx(1 / (1 - np.diag(TRUE_P)), rel=0.25)
    assert fit.stationary == pytest.approx(stationary_distribution(TRUE_P), abs=0.05)


def test_levels_are_regime_scales_with_stationary_mean_one(two_regimes):
    _, _, fit = two_regimes
    assert fit.states == ("low", "high") and fit.levels[0] < fit.levels[1]
    assert fit.stationary @ fit.levels == pytest.approx(1.0)
    assert fit.levels[1] / fit.levels[0] == pytest.approx(fit.sds[1] / fit.sds[0])
    np.testing.assert_allclose(fit.transition.sum(axis=1), 1.0, atol=1e-12)
    # The model accepts what calibrate writes.
    p = make_params(
        demand_states=fit.states,
        demand_levels=tuple(fit.levels),
        demand_transition=tuple(map(tuple, fit.transition)),
    )
    assert p.transition_matrix().shape == (2, 2)


def test_stationary_law_solves_pi_p_equals_pi():
    p = np.array([[0.9, 0.1, 0.0], [0.05, 0.9, 0.05], [0.0, 0.2, 0.8]])
    pi = stationary_law(p)
    assert pi @ p == pytest.approx(pi) and pi.sum() == pytest.approx(1.0)
    assert pi == pytest.approx(stationary_distribution(p))


def test_volume_is_detrended_and_must_be_positive():
    trend = np.exp(np.linspace(0, 3, 1000))
    d = detrended_log_volume(trend * np.exp(np.random.default_rng(1).normal(0, 0.1, 1000)))
    # Inside, where the centred window is whole, a log-linear trend is removed exactly.
    inner = d[125:-125]
    assert abs(inner.mean()) < 0.02 and abs(np.corrcoef(np.arange(inner.size), inner)[0, 1]) < 0.1
    with pytest.raises(UsageError, match="positive"):
        detrended_log_volume(np.array([1.0, 0.0, 2.0]))


# ------------------------------------------------------------------ jumps


def test_gumbel_threshold_is_lee_myklands():
    n = 5000
    a = math.sqrt(2 * math.log(n))
    c = math.sqrt(2 / math.pi)
    cn = a / c - (math.log(math.pi) + math.log(math.log(n))) / (2 * c * a)
    sn = 1 / (c * a)
    beta = -math.log(-math.log(0.95))
    # Their statistic is r / sigma_bipower-without-pi/2, i.e. z / c: thresholds agree in z.
    assert gumbel_threshold(n, 0.05) == pytest.approx(c * (cn + sn * beta))
    assert gumbel_threshold(n, 0.05) == pytest.approx(4.449, abs=1e-3)


def test_local_volatility_estimates_the_sd():
    r = np.random.default_rng(2).normal(0, 0.01, 20_000)
    sd = local_volatility(r, 16)
    assert np.isnan(sd[:15]).all() and np.isfinite(sd[15:]).all()
    assert np.mean(sd[15:] ** 2) == pytest.approx(1e-4, rel=0.05)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_simulated_jumps_recover_their_rate(seed):
    # Jumps of 8 sds on 1% of 20,000 days: the flagged share is the true share within 15%, and
    # nearly every flag is a true jump.
    r, days = simulate_jumps(np.random.default_rng(seed), 20_000, 0.01, 0.01, 0.08)
    fit = find_jumps(r)
    true_rate = days.size / r.size
    assert fit.rate == pytest.approx(true_rate, rel=0.15)
    assert len(set(fit.jump_index) & set(days)) >= 0.95 * fit.n_jumps
    # Noise of a news item: 1 / sqrt(mean z^2 - 1) with z about 8.
    assert 0.08 < fit.noise < 0.2


def test_no_jumps_in_gaussian_returns():
    r = np.random.default_rng(3).normal(0, 0.01, 5000)
    fit = find_jumps(r)
    assert fit.n_jumps <= 1 and fit.test == "gumbel"
    daily = find_jumps(r, test="daily", significance=0.01)
    assert daily.rate == pytest.approx(0.01, abs=0.005)  # the day-by-day level, by chance


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"test": "bogus"}, "jump test"),
        ({"window": 2}, "at least 3"),
        ({"significance": 1.5}, "(0, 1)"),
    ],
)
def test_bad_jump_settings(kw, needle):
    with pytest.raises(UsageError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        find_jumps(np.zeros(100) + np.arange(100) * 1e-4, **kw)
