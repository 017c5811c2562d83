"""The GARCH index process and `llm-market calibrate`: known answers, files, bad input."""

import contextlib
import io
import math
import subprocess
import sys
import tomllib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from llm_market.cli import load_config, main
from llm_market.information.indices import GarchIndexProcess, IndexProcess
from llm_market.market.demand import stationary_distribution
from llm_market.params import Params, make_params
from llm_market.stats.calibration import fit_garch, fit_gbm
from llm_market.stats.facts import acf

ENTRY = "import sys; from llm_market.cli import main; sys.exit(main(sys.argv[1:]))"
GARCH_KEYS = ("garch_omega", "garch_alpha", "garch_beta", "garch_nu")
REGIME_KEYS = ("demand_states", "demand_levels", "demand_transition")
NEWS_KEYS = ("public_news_rate", "public_news_noise")
wired = pytest.mark.skipif(
    not {"index_process", *GARCH_KEYS} <= set(Params.model_fields),
    reason="index_process and garch_* are not model parameters yet",
)


def garch(seed=0, k=1, corr=0.0, lookahead=10, **kw):
    kw = {"alpha": 0.1, "beta": 0.8, "nu": 8.0, **kw}
    return GarchIndexProcess(
        np.random.default_rng(seed), k, 0.06, 0.2, corr, 100.0, lookahead, 252, **kw
    )


def simulate(proc, days):
    return np.array([proc.advance() for _ in range(days)])  # (days, K)


@pytest.fixture(scope="module")
def long_path():
    # 4 independent indices x 20,000 days: enough for the variance to within a few percent.
    proc = garch(seed=11, k=4)
    return proc, simulate(proc, 20_000)


# ------------------------------------------------------------------ the GARCH index


def test_interface_matches_index_process():
    g, b = (
        garch(k=3, lookahead=7),
        IndexProcess(np.random.default_rng(0), 3, 0.06, 0.2, 0.0, 100.0, 7, 252),
    )
    for name in ("level", "day", "buffer", "step_mean", "step_sd", "last_log_return", "lookahead"):
        assert np.shape(getattr(g, name)) == np.shape(
            np.broadcast_to(getattr(b, name), np.shape(getattr(g, name)))
        )
    assert g.buffer.shape == (3, 7) and g.lookahead == 7
    assert g.step_sd.shape == (3,) and np.ndim(g.step_mean) == 0
    r = g.advance()
    assert r.shape == (3,) and g.day == 1 and np.array_equal(g.last_log_return, r)
    assert g.buffer.shape == (3, 7)


def test_omega_defaults_to_the_annual_volatility():
    g = garch(alpha=0.05, beta=0.9)
    assert g.unconditional_sd == pytest.approx(0.2 / math.sqrt(252))
    assert np.allclose(g.step_sd, g.unconditional_sd)  # it starts at the stationary level
    assert g.step_mean == pytest.approx(0.06 / 252 - 0.5 * 0.2**2 / 252)


def test_reproduces_its_unconditional_variance(long_path):
    proc, r = long_path
    assert r.var() == pytest.approx(proc.unconditional_variance, rel=0.1)
    assert r.mean() == pytest.approx(proc.step_mean, abs=3 * r.std() / math.sqrt(r.size))


def test_volatility_clusters_and_returns_do_not_autocorrelate(long_path):
    _, r = long_path
    abs_acf = np.mean([acf(np.abs(r[:, k]), 10)[1:] for k in range(4)], axis=0)
    ret_acf = np.mean([acf(r[:, k], 10)[1:] for k in range(4)], axis=0)
    assert abs_acf[0] > 0.1 and (abs_acf > 0.03).all()
    assert np.abs(ret_acf).max() < 0.03
    gbm = IndexProcess(np.random.default_rng(11), 1, 0.06, 0.2, 0.0, 100.0, 10, 252)
    r_gbm = simulate(gbm, 20_000)[:, 0]
    assert abs(acf(np.abs(r_gbm), 1)[1]) < 0.03  # the GBM index has no clustering


def test_shocks_are_standardized_t_with_the_copula_correlation():
    proc = garch(seed=3, k=2, corr=0.6, lookahead=50_000, nu=6.0)
    z = proc.buffer
    assert z.std(axis=1) == pytest.approx([1.0, 1.0], abs=0.03)
    # Each marginal is a standardized t(6); the ranks carry the normals' correlation.
    scaled = z[0] / math.sqrt(4 / 6)
    assert stats.kstest(scaled, stats.t(6).cdf).pvalue > 0.01
    rho_s = stats.spearmanr(z[0], z[1]).statistic
    assert rho_s == pytest.approx(6 / math.pi * math.asin(0.6 / 2), abs=0.02)


def test_future_log_return_equals_what_then_happens():
    proc = garch(seed=5, k=3, corr=0.3, lookahead=12, alpha=0.2, beta=0.75)
    for _ in range(3):
        expected = {d: proc.future_log_return(d) for d in (1, 5, 12)}
        r = simulate(proc, 12)
        for d, value in expected.items():
            assert np.allclose(r[:d].sum(axis=0), value, rtol=0, atol=1e-12)


def test_the_same_stream_gives_the_same_path_and_another_seed_does_not():
    a, b, c = garch(seed=9, k=2), garch(seed=9, k=2), garch(seed=10, k=2)
    ra, rb, rc = simulate(a, 50), simulate(b, 50), simulate(c, 50)
    assert np.array_equal(ra, rb) and np.array_equal(a.buffer, b.buffer)
    assert not np.allclose(ra, rc)


def test_infinite_nu_is_the_gbm_index_s_gaussian_shocks():
    g = garch(seed=4, k=3, corr=0.3, lookahead=6, nu=math.inf)
    b = IndexProcess(np.random.default_rng(4), 3, 0.06, 0.2, 0.3, 100.0, 6, 252)
    assert np.array_equal(g.buffer, b.buffer)


@pytest.mark.parametrize(
    "kw",
    [{"alpha": 0.3, "beta": 0.7}, {"alpha": -0.1}, {"beta": -0.1}, {"nu": 2.0}, {"omega": 0.0}],
)
def test_non_stationary_or_infinite_variance_parameters_are_refused(kw):
    with pytest.raises(ValueError, match="GARCH"):
        garch(**kw)


def test_extreme_normal_draws_give_finite_t_shocks():
    class Huge:  # a stream whose normals are far beyond where ndtr rounds to 1
        def standard_normal(self, size):
            return np.full(size, 20.0)

    g = GarchIndexProcess(Huge(), 2, 0.0, 0.2, 0.0, 100.0, 3, 252)
    assert np.isfinite(g.buffer).all() and (g.buffer > 0).all()


# ------------------------------------------------------------------ the fits


def test_gbm_fit_is_the_maximum_likelihood_closed_form():
    rng = np.random.default_rng(1)
    sigma, mu, dt = 0.25, 0.08, 1 / 252
    r = rng.normal((mu - sigma**2 / 2) * dt, sigma * math.sqrt(dt), 10_000)
    fit = fit_gbm(r)
    assert fit.volatility == pytest.approx(sigma, rel=0.02)
    assert fit.volatility == pytest.approx(r.std(ddof=0) * math.sqrt(252))
    assert fit.drift == pytest.approx(r.mean() * 252 + fit.volatility**2 / 2)
    assert fit.drift == pytest.approx(mu, abs=4 * sigma / math.sqrt(10_000 * dt))


@pytest.fixture(scope="module")
def garch_prices():
    proc = garch(seed=21, alpha=0.08, beta=0.9, nu=6.0)
    r = simulate(proc, 6000)[:, 0]
    return proc, r, 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))


def test_garch_fit_recovers_the_parameters(garch_prices):
    proc, r, _ = garch_prices
    fit = fit_garch(r, "mle")
    assert fit.alpha == pytest.approx(0.08, abs=0.03)
    assert fit.beta == pytest.approx(0.9, abs=0.04)
    assert 4.0 < fit.nu < 10.0
    assert fit.unconditional_daily_vol == pytest.approx(proc.unconditional_sd, rel=0.15)
    target = fit_garch(r, "target")
    assert target.omega == pytest.approx(r.var() * (1 - target.alpha - target.beta))
    assert target.unconditional_daily_vol == pytest.approx(r.std())


@pytest.fixture(scope="module")
def price_csv(tmp_path_factory, garch_prices):
    _, _, prices = garch_prices
    days = pd.bdate_range("2001-01-01", periods=prices.size)
    path = tmp_path_factory.mktemp("cal") / "prices.csv"
    pd.DataFrame({"Date": days, "Close": prices}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def calibrated(price_csv, tmp_path_factory):
    # One full calibration (the Markov-switching fits take seconds) for the tests that read it.
    out = tmp_path_factory.mktemp("calibrated") / "cal.toml"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["calibrate", str(price_csv), "--out", str(out)]) == 0
    return out, buffer.getvalue()


def test_calibrate_writes_a_config_run_accepts(calibrated):
    out, printed = calibrated
    assert "wrote" in printed and "demand regimes" in printed and "jumps" in printed
    text = out.read_text()
    data = tomllib.loads(text)
    assert data["index_process"] == "garch"
    assert set(data) == {
        "index_drift",
        "index_volatility",
        "index_process",
        *GARCH_KEYS,
        *REGIME_KEYS,
        *NEWS_KEYS,
    }
    assert 0.15 < data["index_volatility"] < 0.3
    assert data["garch_omega"] < 1e-4  # daily decimal units, not percent
    assert data["garch_alpha"] + data["garch_beta"] < 1 and data["garch_nu"] > 2
    assert "daily" in text and "annual" in text  # the units are in the comments
    cfg = load_config(out)
    make_params(index_drift=cfg["index_drift"], index_volatility=cfg["index_volatility"])
    # GARCH returns have one variance regime that moves smoothly: whatever k the BIC picks, the
    # chain is a valid demand regime with levels of stationary mean 1 and durations in comments.
    p = make_params(**{k: cfg[k] for k in (*REGIME_KEYS, *NEWS_KEYS)})
    pi = stationary_distribution(p.transition_matrix())
    assert pi @ np.asarray(p.demand_levels) == pytest.approx(1.0)
    assert "expected duration" in text and "stationary share" in text and "ASSUMPTION" in text
    assert "Lee-Mykland" in text and 0 <= data["public_news_rate"] < 0.05


def test_calibrate_default_output_is_next_to_the_prices(price_csv):
    assert main(["calibrate", str(price_csv), "--regimes", "none", "--jumps", "none"]) == 0
    written = tomllib.loads((price_csv.parent / "prices_calibrated.toml").read_text())
    assert set(written) == {"index_drift", "index_volatility", "index_process", *GARCH_KEYS}


def test_volume_regimes_need_a_volume_column(price_csv, tmp_path, capsys):
    out = tmp_path / "o.toml"
    assert main(["calibrate", str(price_csv), "--regimes", "volume", "--out", str(out)]) == 2
    assert "Volume" in capsys.readouterr().err and not out.exists()


@wired
def test_the_calibrated_config_runs(calibrated, tmp_path):
    cfg, _ = calibrated
    assert (
        main(
            [
                "run",
                "--config",
                str(cfg),
                "--scenario",
                "small",
                "--steps",
                "5",
                "--out",
                str(tmp_path / "run"),
                "--quiet",
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: d / "missing.csv", "no such file"),
        (lambda d: _csv(d, {"Date": ["2001-01-01"] * 3, "Volume": [1, 2, 3]}), "no price column"),
        (lambda d: _csv(d, {"price": 100 + np.arange(100.0)}), "at least 250"),
        (lambda d: _csv(d, {"price": np.full(400, 5.0)}), "nothing to fit"),
        (lambda d: _csv(d, {"price": np.exp(np.arange(400.0) / 10)}), "nothing to fit"),
        (
            lambda d: _csv(
                d, {"price": np.exp(np.random.default_rng(0).normal(0, 0.5, 400).cumsum())}
            ),
            "outside the model's range",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, make, needle):
    assert main(["calibrate", str(make(tmp_path)), "--out", str(tmp_path / "o.toml")]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.toml").exists()


def test_bad_input_has_no_traceback(tmp_path):
    # The installed entry point's way in (`python -m llm_market.cli` would make cli.py __main__,
    # a second copy of the module whose UsageError the subcommands do not raise).
    res = subprocess.run(
        [sys.executable, "-c", ENTRY, "calibrate", str(tmp_path / "nope.csv")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr and "nope.csv" in res.stderr


def _csv(directory, columns):
    path = directory / "p.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    return path
