"""Design sweeps (Sobol, Morris, Latin hypercube) and ``llm-market sensitivity``."""

import json

import numpy as np
import pandas as pd
import pytest

from llm_market.cli import UsageError, main
from llm_market.experiments.designs import Bound, Design, analyze
from llm_market.experiments.execution import run_sweep
from llm_market.experiments.sensitivity import analyze_sweep, design_record, record_design
from llm_market.experiments.specs import parse_spec, plan

QUIET = {"progress": False, "echo": lambda _: None}

# Sixteen short runs: a Sobol design of N = 4 over two parameters, no second order.
TINY = {
    "scenario": "small",
    "steps": 20,
    "seeds": [1],
    "metrics": ["trades", "mean_efficiency"],
    "design": "sobol",
    "samples": 4,
    "second_order": False,
    "parameters": {
        "n_clients": {"low": 50, "high": 150},
        "public_news_rate": {"low": 0.0, "high": 1.0},
        "herding_weight": 0.3,
    },
}


def tiny(**changes):
    return parse_spec({**TINY, **changes}, name="tiny")


def run_design(sweep, out, **kwargs):
    # run_sweep writes design.json itself once the hook is in; writing it first is harmless.
    record_design(sweep, out)
    return run_sweep(sweep, out, workers=1, **QUIET, **kwargs)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("design")
    report = run_design(tiny(), out)
    return out, report


def digests(out):
    df = pd.read_parquet(out / "results.parquet")
    return dict(zip(df["key"], df["digest"], strict=True))


# --------------------------------------------------------------------------- the spec


@pytest.mark.parametrize(
    ("method", "extra", "rows"),
    [
        ("sobol", {"samples": 8}, 8 * (2 * 3 + 2)),
        ("sobol", {"samples": 8, "second_order": False}, 8 * (3 + 2)),
        ("morris", {"samples": 5, "levels": 6}, 5 * (3 + 1)),
        ("lhs", {"samples": 30}, 30),
    ],
)
def test_a_design_has_the_salib_number_of_points_within_its_bounds(method, extra, rows):
    sweep = parse_spec(
        {
            "seeds": [1, 2],
            "steps": 10,
            "design": method,
            **extra,
            "parameters": {
                "pivot_factor": {"low": 0.1, "high": 0.9},
                "research_cost": {"low": 0.25, "high": 4.0, "log": True},
                "n_teams": {"low": 10, "high": 20},
                "herding_weight": 0.35,
            },
        }
    )
    assert sweep.design.rows == rows
    assert sweep.varied == ["pivot_factor", "research_cost", "n_teams"]
    combos = sweep.combinations()
    assert len(combos) == rows
    df = pd.DataFrame(combos)
    assert (df["herding_weight"] == 0.35).all()
    assert df["pivot_factor"].between(0.1, 0.9).all()
    assert df["research_cost"].between(0.25, 4.0).all()
    assert df["n_teams"].map(type).eq(int).all() and df["n_teams"].between(10, 20).all()
    # Log-uniform: the median cost is near the geometric mean of the bounds, 1.
    assert 0.5 < df["research_cost"].median() < 2.0
    runs = plan(sweep)
    # Rows that round to the same run are one run; seeds are the outer loop.
    distinct = len({json.dumps(c, sort_keys=True) for c in combos})
    assert len(runs) == 2 * distinct
    assert [r.seed for r in runs[:distinct]] == [1] * distinct
    assert [r.key for r in plan(sweep)] == [r.key for r in runs]  # the same sample every time
    assert method in sweep.shape() and f"{rows} points x 2 seeds" in sweep.shape()


def test_a_design_point_is_the_run_a_grid_would_make():
    # Same parameters, seed and steps: the same key, so the same digest and the same stored run.
    design_run = plan(tiny())[3]
    grid = parse_spec(
        {
            "scenario": "small",
            "steps": 20,
            "seeds": [1],
            "parameters": {k: [v] for k, v in design_run.params.items()},
        }
    )
    assert plan(grid)[0].key == design_run.key


def test_the_design_seed_changes_the_sample():
    a = tiny().combinations()
    assert tiny().combinations() == a
    assert tiny(design_seed=7).combinations() != a


BAD_DESIGNS = [
    ({"design": "sobel"}, "design: unknown 'sobel'"),
    ({"samples": 6}, "power of 2"),
    ({"samples": 1}, "samples: must be a whole number >= 2"),
    ({"levels": 4}, 'levels: only for design = "morris"'),
    ({"parameters": {"herding_weight": 0.3}}, "at least one parameter with bounds"),
    ({"parameters": {"pivot_factor": [0.1, 0.2]}}, "varies parameters through bounds"),
    ({"parameters": {"pivot_factor": {"low": 0.5, "high": 0.5}}}, "low must be below high"),
    ({"parameters": {"pivot_factor": {"low": 0, "hi": 1}}}, "bounds need low and high"),
    ({"parameters": {"research_cost": {"low": 0, "high": 2, "log": True}}}, "needs low > 0"),
    ({"parameters": {"n_teams": {"low": 10, "high": 20.5}}}, "whole bounds"),
    ({"parameters": {"network": {"low": 0, "high": 1}}}, "varies numbers only"),
]


@pytest.mark.parametrize(("changes", "needle"), BAD_DESIGNS)
def test_a_bad_design_is_one_line_naming_the_key(changes, needle):
    with pytest.raises(UsageError, match="^spec: .*" + needle.replace("(", r"\(")):
        tiny(**changes)


def test_design_keys_belong_to_design_sweeps():
    grid = {"seeds": [1], "parameters": {"pivot_factor": {"low": 0, "high": 1}}}
    with pytest.raises(UsageError, match="bounds .* are for a design sweep"):
        parse_spec(grid)
    with pytest.raises(UsageError, match="samples: only for a design sweep"):
        parse_spec({"seeds": [1], "samples": 8})
    with pytest.raises(UsageError, match="samples: missing"):
        parse_spec({"seeds": [1], "design": "lhs", **{"parameters": grid["parameters"]}})


def test_a_bound_outside_the_parameter_range_is_refused_before_any_run():
    sweep = tiny(parameters={"pivot_factor": {"low": 0.5, "high": 1.5}})
    with pytest.raises(UsageError, match=r"parameters.pivot_factor: high = 1.5: .*less than"):
        plan(sweep)


# --------------------------------------------------------------------------- the analysis


def test_the_indices_find_the_parameter_that_matters():
    # y = 4 x0 + x1 (+ nothing from x2): the three methods rank x0 first and x2 last.
    bounds = tuple(Bound(f"x{i}", 0.0, 1.0) for i in range(3))
    for design in (
        Design("sobol", bounds, 256, seed=1, second_order=False),
        Design("morris", bounds, 40, seed=1),
        Design("lhs", bounds, 200, seed=1),
    ):
        x = design.sample()
        result = analyze(design, x, 4 * x[:, 0] + x[:, 1], "y")
        t = result.table
        main_col = {"sobol": "ST", "morris": "mu_star", "lhs": "src"}[design.method]
        assert list(t[main_col].abs().sort_values(ascending=False).index) == ["x0", "x1", "x2"]
        assert (t.filter(like="_conf") >= 0).all().all()
    # Additive: first-order = total = 16/17 and 1/17 of the variance.
    sobol = analyze(Design("sobol", bounds, 1024, seed=1, second_order=False), *_linear(1024))
    assert sobol.table.loc["x0", "S1"] == pytest.approx(16 / 17, abs=0.05)
    assert sobol.table.loc["x0", "ST"] == pytest.approx(16 / 17, abs=0.05)
    assert abs(sobol.table.loc["x2", "ST"]) < 0.01
    lhs = analyze(Design("lhs", bounds, 200, seed=1), *_linear(200, "lhs"))
    assert lhs.r_squared == pytest.approx(1.0)


def _linear(n, method="sobol"):
    bounds = tuple(Bound(f"x{i}", 0.0, 1.0) for i in range(3))
    x = Design(method, bounds, n, seed=1, second_order=False).sample()
    return x, 4 * x[:, 0] + x[:, 1]


# --------------------------------------------------------------------------- end to end


def test_a_design_sweep_runs_resumes_and_keeps_its_sample(swept, tmp_path):
    out, report = swept
    runs = plan(tiny())
    assert report.total == len(runs) and report.ran == len(runs)
    record = json.loads((out / "design.json").read_text())
    assert record["design"]["method"] == "sobol" and len(record["x"]) == 16
    assert record["fixed"] == {"herding_weight": 0.3}
    assert {k for row in record["keys"] for k in row} == {r.key for r in runs}
    assert np.allclose(record["x"], tiny().design.sample())
    again = run_design(tiny(), out)
    assert again.skipped == len(runs) and again.ran == 0


def test_a_design_sweep_has_the_same_digests_on_processes_and_dask(swept, tmp_path):
    pytest.importorskip("distributed")
    out, _ = swept
    record_design(tiny(), tmp_path / "dask")
    run_sweep(tiny(), tmp_path / "dask", workers=2, dask="local", **QUIET)
    assert digests(tmp_path / "dask") == digests(out)


def test_a_directory_keeps_one_design(swept, tmp_path):
    out, _ = swept
    other = tmp_path / "other"
    other.mkdir()
    (other / "design.json").write_text(json.dumps(design_record(tiny())))
    record_design(tiny(seeds=[1, 2]), other)  # more seeds of the same design: fine
    assert json.loads((other / "design.json").read_text())["seeds"] == [1, 2]
    with pytest.raises(UsageError, match="another design"):
        record_design(tiny(samples=8), other)


def test_sensitivity_prints_and_plots_the_indices(swept, capsys):
    out, _ = swept
    png = out / "s.png"
    assert main(["sensitivity", str(out), "--y", "trades", "--out", str(png)]) == 0
    text = capsys.readouterr().out
    assert "trades: sobol analysis of 16 design points" in text
    assert "S1 [95% interval]" in text and "ST [95% interval]" in text
    assert "n_clients" in text and "public_news_rate" in text
    assert png.stat().st_size > 10_000
    result = analyze_sweep(out, "trades")
    assert list(result.table.index) == ["n_clients", "public_news_rate"]
    assert result.runs == 16 and result.points == 16 and result.seeds == 1
    # The bootstrap is seeded: the same intervals every time.
    pd.testing.assert_frame_equal(analyze_sweep(out, "trades").table, result.table)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--y", "trade"], "--y: unknown metric 'trade' (did you mean trades?)"),
        (["--y", "n_clients"], "--y: unknown metric 'n_clients'"),
    ],
)
def test_sensitivity_refuses_a_wrong_metric(swept, capsys, args, needle):
    out, _ = swept
    assert main(["sensitivity", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_sensitivity_refuses_a_folder_that_is_not_a_finished_design_sweep(swept, tmp_path, capsys):
    assert main(["sensitivity", str(tmp_path / "nope"), "--y", "trades"]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["sensitivity", str(tmp_path), "--y", "trades"]) == 2
    assert "not a design sweep (no design.json)" in capsys.readouterr().err
    # The same design with a second seed: the runs of seed 2 are missing.
    half = tmp_path / "half"
    out, _ = swept
    half.mkdir()
    (half / "results.parquet").write_bytes((out / "results.parquet").read_bytes())
    record_design(tiny(seeds=[1, 2]), half)
    assert main(["sensitivity", str(half), "--y", "trades"]) == 2
    err = capsys.readouterr().err
    assert "runs of the design are not finished" in err and len(err.strip().splitlines()) == 1
