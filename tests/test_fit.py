"""The method of simulated moments: moments, bootstrap, the engine on a GBM, `llm-market fit`."""

import json
import math
import tomllib

import numpy as np
import pytest

from llm_market.cli import load_config, main
from llm_market.errors import UsageError
from llm_market.experiments.designs import Bound
from llm_market.experiments.fit import (
    ModelSimulator,
    estimate,
    objective,
    parse_fit_spec,
)
from llm_market.params import make_params
from llm_market.stats import facts
from llm_market.stats.history import load_history
from llm_market.stats.moments import (
    DEFAULT_MOMENTS,
    block_bootstrap,
    moments,
    pooled_moments,
    target_moments,
)

DAILY = 1 / math.sqrt(252)


def test_moments_agree_with_the_facts_estimators():
    r = np.random.default_rng(0).standard_t(5, 3000) * 0.01
    m = dict(zip(DEFAULT_MOMENTS, moments(r), strict=True))
    assert m["vol"] == pytest.approx(r.std(ddof=1) * math.sqrt(252))
    assert m["kurtosis"] == pytest.approx(facts.excess_kurtosis(r))
    hill = (facts.hill_tail_index(r, "left") + facts.hill_tail_index(r, "right")) / 2
    assert m["hill"] == pytest.approx(hill)
    acf_abs = facts.acf(np.abs(r), 50)
    for lag in (1, 10, 50):
        assert m[f"acf_abs_{lag}"] == pytest.approx(acf_abs[lag])
    assert m["acf_r_1"] == pytest.approx(facts.acf(r, 1)[1])
    # Rows are series: the 2-D call is the 1-D call row by row.
    two = np.vstack([r, r[::-1]])
    np.testing.assert_allclose(moments(two)[1], moments(r[::-1]))
    assert pooled_moments([r, r[::-1]]) == pytest.approx(moments(two).mean(axis=0))


def test_block_bootstrap_is_reproducible_and_its_band_holds_the_target():
    r = np.random.default_rng(1).normal(0, 0.01, 2000)
    a, b = (
        block_bootstrap(r, block=50, draws=200, seed=3),
        block_bootstrap(r, block=50, draws=200, seed=3),
    )
    assert a.shape == (200, len(DEFAULT_MOMENTS)) and np.array_equal(a, b)
    t = target_moments(r, block=50, draws=200)
    assert (t.low < t.values).all() and (t.values < t.high).all()
    # The sd of the annualised vol of iid returns: about vol / sqrt(2 n).
    assert t.sd[0] == pytest.approx(0.01 * math.sqrt(252) / math.sqrt(2 * 2000), rel=0.3)


@pytest.mark.parametrize("bad", [["vol", "vol"], ["skew"], ["acf_r_0"], []])
def test_unknown_moments_are_refused(bad):
    with pytest.raises(UsageError, match="moments"):
        moments(np.ones(10), bad)


# ------------------------------------------------------------------ the engine on a GBM


TRUE_VOL = 0.25
T = 2000


@pytest.fixture(scope="module")
def gbm_target():
    real = np.random.default_rng(99).normal(0.0, TRUE_VOL * DAILY, T)
    return target_moments(real, ("vol", "kurtosis", "acf_abs_1"), block=50, draws=300)


def gbm_simulator(calls):
    def simulate(points):
        calls.append(len(points))
        out = []
        for p in points:
            # Common random numbers: the same draws for every candidate.
            z = np.random.default_rng(7).standard_normal((4, T))
            out.append(list(p["index_volatility"] * DAILY * z))
        return out

    return simulate


def test_msm_recovers_the_volatility_of_a_gbm(gbm_target):
    calls = []
    res = estimate(
        gbm_simulator(calls),
        [Bound("index_volatility", 0.05, 1.0, log=True)],
        gbm_target,
        max_evaluations=40,
        echo=lambda _: None,
    )
    # Stated tolerance: 0.015, about three bootstrap sds of the target's vol (0.004) plus the
    # simulation noise of S = 4 replications.
    assert res.best["index_volatility"] == pytest.approx(TRUE_VOL, abs=0.015)
    assert res.df == 2 and res.p_value > 0.01  # a true model is not rejected
    assert len(res.evaluations) <= 40
    assert calls[0] == 8  # the initial design is one batch
    assert res.j == min(e.j for e in res.evaluations)


def test_differential_evolution_keeps_to_its_budget_and_batches_generations(gbm_target):
    calls = []
    res = estimate(
        gbm_simulator(calls),
        [Bound("index_volatility", 0.05, 1.0, log=True)],
        gbm_target,
        method="differential-evolution",
        max_evaluations=25,
        popsize=5,
        echo=lambda _: None,
    )
    assert len(res.evaluations) <= 25 and "budget" in res.message
    assert calls[0] == 5  # the first population is one batch
    assert res.best["index_volatility"] == pytest.approx(TRUE_VOL, abs=0.05)


def test_undefined_moments_get_a_penalty(gbm_target):
    assert objective(np.full(3, np.nan), gbm_target, 4) >= 1e12
    assert objective(gbm_target.values, gbm_target, 4) == 0.0


# ------------------------------------------------------------------ the spec


def spec(**overrides):
    data = {
        "scenario": "small",
        "series": "price",
        "burn_in": 10,
        "seeds": [1],
        "moments": ["vol", "kurtosis", "acf_abs_1", "acf_r_1"],
        "target": {"source": "sp500", "start": "2008-01-01", "end": "2008-03-31"},
        "check": {"start": "2009-01-01", "end": "2009-03-31"},
        "bootstrap": {"block": 10, "draws": 100},
        "optimizer": {"max_evaluations": 3, "initial": 2},
        "parameters": {
            "index_volatility": {"low": 0.1, "high": 0.6, "log": True},
            "n_indices": 1,
        },
    }
    data.update(overrides)
    return data


def test_a_spec_reads_bounds_and_fixed_values():
    s = parse_fit_spec(spec())
    assert s.names == ["index_volatility"] and s.fixed == {"n_indices": 1}
    assert s.bounds[0].log and s.method == "nelder-mead" and s.max_evaluations == 3


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"sceanrio": "small"}, "sceanrio: unknown key"),
        ({"n_teams": 5}, "under [parameters]"),
        ({"series": "volume"}, "series: unknown"),
        ({"seeds": []}, "seeds"),
        (
            {
                "moments": ["vol"],
                "parameters": {
                    "index_volatility": {"low": 0.1, "high": 0.5},
                    "garch_nu": {"low": 3, "high": 9},
                },
            },
            "at least as many",
        ),
        ({"parameters": {"n_indices": 1}}, "at least one {low, high}"),
        ({"parameters": {"no_such": {"low": 0, "high": 1}}}, "no_such"),
        ({"optimizer": {"method": "annealing"}}, "optimizer.method"),
        ({"target": {"start": "2008-01-01"}}, "target.source"),
        ({"parameters": {"index_volatility": {"low": 0.1, "high": 0.5}, "n_teams": 0}}, "n_teams"),
    ],
)
def test_bad_specs_are_one_line_errors(overrides, needle):
    with pytest.raises(UsageError) as err:
        parse_fit_spec(spec(**overrides), source="x.toml")
    assert needle in str(err.value) and str(err.value).startswith("x.toml: ")
    assert "\n" not in str(err.value)


def test_an_invalid_candidate_is_refused_not_run(tmp_path):
    s = parse_fit_spec(
        spec(parameters={"garch_alpha": {"low": 0.05, "high": 0.3}, "index_process": "garch"})
    )
    sim = ModelSimulator(s, 20, tmp_path)
    assert sim.valid({"garch_alpha": 0.05}) and not sim.valid(
        {"garch_alpha": 0.3, "garch_beta": 0.9}
    )
    assert sim([{"garch_alpha": 0.2, "garch_beta": 0.85}]) == [[]]  # alpha + beta >= 1
    assert not (tmp_path / "runs").exists()


def test_history_windows_by_date():
    h = load_history("sp500")
    part = h.window("2009-01-01", "2018-12-31")
    assert part.span() == "2009-01-02 to 2018-12-31" and part.returns.size == part.prices.size - 1
    assert part.volume is not None and part.volume.size == part.prices.size
    with pytest.raises(UsageError, match="not a date"):
        h.window("2009-13-45")


# ------------------------------------------------------------------ the command


def test_fit_end_to_end_writes_a_config_and_resumes(tmp_path, capsys):
    path = tmp_path / "tiny.toml"
    lines = [
        'scenario = "small"', "burn_in = 10", "seeds = [1]",
        'moments = ["vol", "kurtosis", "acf_abs_1", "acf_r_1"]',
        "[target]", 'source = "sp500"', 'start = "2008-01-01"', 'end = "2008-03-31"',
        "[check]", 'start = "2009-01-01"', 'end = "2009-03-31"',
        "[bootstrap]", "block = 10", "draws = 100",
        "[optimizer]", "max_evaluations = 3", "initial = 2",
        "[parameters]", "index_volatility = { low = 0.1, high = 0.6, log = true }",
        "n_indices = 1",
    ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "fit"
    assert main(["fit", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "J = " in printed and "out of sample" in printed and "wrote" in printed
    record = json.loads((out / "fit.json").read_text())
    assert record["runs_made"] == 3 and len(record["evaluations"]) == 3
    assert {r["moment"] for r in record["moments"]} == {"vol", "kurtosis", "acf_abs_1", "acf_r_1"}
    assert record["df"] == 3 and 0.0 <= record["p_value"] <= 1.0
    assert set(record["moments"][0]) == {"moment", "target", "low", "high", "fitted", "t"}
    assert record["check"]["target"].startswith("check: sp500 2009-01-02")
    # The config: the scenario, the fixed and the fitted values, run --config reads it.
    cfg = load_config(out / "fitted.toml")
    assert cfg["scenario"] == "small" and cfg["n_indices"] == 1
    assert cfg["index_volatility"] == record["best"]["index_volatility"]
    assert "J = " in (out / "fitted.toml").read_text()
    make_params(cfg.pop("scenario"), **cfg)
    tomllib.loads((out / "fitted.toml").read_text())
    # Started again, the same candidates are found written: nothing runs.
    assert main(["fit", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert json.loads((out / "fit.json").read_text())["runs_made"] == 0
    assert json.loads((out / "fit.json").read_text())["best"] == record["best"]


def test_fit_bad_spec_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('scenario = "small"\nseeds = [1]\n[target]\nsource = "sp500"\n')
    assert main(["fit", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "at least one {low, high}" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("name", "scenario", "series"),
    [
        ("sp500_stylized", "stylized", "price"),
        ("sp500_index", "stylized", "index"),
        ("sp500_market", "market", "index"),
    ],
)
def test_the_shipped_examples_are_valid(name, scenario, series, tmp_path):
    import itertools

    from llm_market.cli.sweep import spec_path
    from llm_market.experiments.fit import load_fit_spec

    s = load_fit_spec(spec_path(f"fits/{name}"))
    assert (s.scenario, s.series) == (scenario, series)
    assert s.check is not None and len(s.bounds) < len(s.moments)
    assert s.target["start"] == "1999-01-01" and s.check["start"] == "2009-01-01"
    if scenario == "market":
        # The traded index is fitted on its own parameters, and every corner of the box is a
        # model the candidates can run (the GARCH fits' corners may break alpha + beta < 1).
        assert {"market_s", "market_v2", "market_sentiment_sd"} <= set(s.names)
        sim = ModelSimulator(s, 2615, tmp_path)
        for corner in itertools.product(*[(b.low, b.high) for b in s.bounds]):
            assert sim.valid(dict(zip(s.names, corner, strict=True))), corner
        assert make_params(s.scenario, **s.fixed).index_process == "market"
