"""Parameter sweeps: the spec, the run identity, three ways to run, resume, the plot."""

import json
from pathlib import Path

import pandas as pd
import pytest

from llm_market.cli import UsageError, main
from llm_market.experiments.execution import run_sweep
from llm_market.experiments.specs import (
    check_metrics,
    code_fingerprint,
    load_spec,
    parse_spec,
    plan,
    run_key,
)
from llm_market.experiments.store import consolidate, load_results, sweep_lock, write_run_files
from llm_market.experiments.sweep_model import SweepModel, payload, simulate
from llm_market.viz.sweep_plot import seed_bands

BATCH = Path(__file__).resolve().parents[1] / "batch"

# Four short runs whose digests differ by seed and by the swept parameter.
TINY = {
    "scenario": "small",
    "steps": 25,
    "seeds": [1, 2],
    "metrics": ["crowd_brier", "mean_efficiency", "trades"],
    "parameters": {"public_news_rate": [0.1, 0.6], "n_clients": 100},
}


def tiny(**changes):
    return parse_spec({**TINY, **changes}, name="tiny")


def digests(out):
    df = pd.read_parquet(Path(out) / "results.parquet")
    return dict(zip(df["key"], df["digest"], strict=True))


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    report = run_sweep(tiny(), out, workers=1, logs=True, progress=False, echo=lambda _: None)
    return out, report


# --------------------------------------------------------------------------- the spec


def test_ranges_seeds_and_fixed_values_expand():
    sweep = parse_spec(
        {
            "seeds": {"start": 3, "count": 3},
            "steps": 10,
            "parameters": {
                "pivot_factor": {"start": 0.0, "stop": 0.6, "num": 4},
                "research_cost": {"start": 0.5, "stop": 2.0, "step": 0.5},
                "n_teams": {"start": 10, "stop": 30, "step": 10},
                "horizons": [[5, 21], [10]],
                "network": "erdos_renyi",
            },
        }
    )
    assert sweep.seeds == [3, 4, 5]
    assert sweep.parameters["pivot_factor"] == [0.0, 0.2, 0.4, 0.6]
    assert sweep.parameters["research_cost"] == [0.5, 1.0, 1.5, 2.0]
    assert sweep.parameters["n_teams"] == [10, 20, 30]
    assert all(isinstance(v, int) for v in sweep.parameters["n_teams"])
    assert sweep.parameters["network"] == ["erdos_renyi"]
    assert sweep.varied == ["pivot_factor", "research_cost", "n_teams", "horizons"]
    runs = plan(sweep)
    assert len(runs) == 4 * 4 * 3 * 2 * 3
    # Seeds are the outer loop: the first runs cover the whole grid with the first seed.
    assert {r.seed for r in runs[: len(runs) // 3]} == {3}
    assert len({r.key for r in runs}) == len(runs)


def test_seed_and_step_overrides():
    sweep = parse_spec({**TINY, "seeds": {"start": 1, "count": 10}}, seeds=3, steps=7)
    assert sweep.seeds == [1, 2, 3] and sweep.steps == 7
    with pytest.raises(UsageError, match="--seeds 11"):
        parse_spec({**TINY, "seeds": {"start": 1, "count": 10}}, seeds=11)


def test_run_key_is_stable_and_normalised():
    a = plan(tiny(parameters={"pivot_factor": [0]}))[0]
    b = plan(tiny(parameters={"pivot_factor": [0.0]}))[0]
    assert a.key == b.key == run_key("small", {"pivot_factor": 0.0}, 1, 25)
    assert run_key("small", {"a": 1, "b": 2}, 1, 25) == run_key("small", {"b": 2, "a": 1}, 1, 25)
    assert run_key("small", {"a": 1}, 1, 25) != run_key("small", {"a": 1}, 2, 25)
    assert run_key("small", {"a": 1}, 1, 25) != run_key("small", {"a": 1}, 1, 26)
    assert run_key("small", {"a": 1}, 1, 25) != run_key("default", {"a": 1}, 1, 25)


def test_example_sweeps_are_valid():
    specs = sorted(BATCH.glob("*.toml"))
    assert len(specs) >= 3
    for path in specs:
        sweep = load_spec(path)
        runs = plan(sweep)
        assert len(runs) >= 16 and sweep.metrics
        assert check_metrics(sweep, runs) == sweep.metrics


BAD_SPECS = [
    ("seeds = [1]\n[parameters]\npivot_fator = [0.1]\n", "parameters.pivot_fator"),
    ("seeds = [1]\n[parameters]\npivot_factor = []\n", "parameters.pivot_factor: empty list"),
    (
        "seeds = [1]\n[parameters]\npivot_factor = {start = 0, stop = 1}\n",
        "parameters.pivot_factor",
    ),
    (
        "seeds = [1]\n[parameters]\npivot_factor = {start = 0, stop = 1, step = -0.1}\n",
        "moves away from stop",
    ),
    ("seeds = [1]\n[parameters]\npivot_factor = {start = 0, stop = 1, num = 0}\n", "num"),
    ("seeds = [1]\n[parameters]\npivot_factor = [0.2, 1.5]\n", "pivot_factor"),
    ("seeds = [1]\n[parameters]\nn_teams = [2, 10]\nn_principals = 4\n", "n_principals"),
    ('seeds = [1]\nmetrics = ["crowd_brierr"]\n', "crowd_brierr"),
    ("seeds = [1]\nmetrics = []\n", "metrics: empty list"),
    ("seeds = []\n", "seeds: empty list"),
    ("steps = 10\n", "seeds: missing"),
    ("seed = [1]\n", "seed: unknown key"),
    ('seeds = [1]\nscenario = "nope"\n', "scenario"),
    ("seeds = [1]\n[parameters]\nsteps = [5, 10]\n", "parameters.steps"),
    ("seeds = [1\n", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "needle"), BAD_SPECS)
def test_bad_spec_is_refused_before_any_run(tmp_path, capsys, text, needle):
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--quiet", "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and err.startswith("error:") and "\n" not in err
    assert not out.exists()


def test_missing_spec_and_bad_flags(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "none.toml")]) == 2
    assert "no such file" in capsys.readouterr().err
    spec = tmp_path / "s.toml"
    spec.write_text("seeds = [1]\n")
    assert main(["sweep", str(spec), "--steps", "0"]) == 2
    assert "--steps" in capsys.readouterr().err


# --------------------------------------------------------------------------- running


def test_serial_sweep_writes_one_row_per_run(serial):
    out, report = serial
    assert (report.total, report.skipped, report.ran) == (4, 0, 4)
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 4 and df["key"].is_unique
    assert list(df.columns[:4]) == ["key", "scenario", "seed", "steps"]
    for col in [
        "public_news_rate",
        "n_clients",
        "digest",
        "crowd_brier",
        "mean_efficiency",
        "trades",
        "wall_s",
        "cpu_s",
        "package_version",
    ]:
        assert col in df.columns
    assert (df["steps"] == 25).all() and (df["n_clients"] == 100).all()
    assert df["digest"].nunique() == 4
    assert not list((out / "parts").glob("*.json"))  # consolidated


def test_a_sweep_run_is_the_same_as_a_model_run(serial):
    from llm_market import MarketModel

    out, _ = serial
    row = pd.read_parquet(out / "results.parquet").iloc[0]
    model = MarketModel(
        scenario="small",
        seed=int(row["seed"]),
        public_news_rate=row["public_news_rate"],
        n_clients=100,
    )
    for _ in range(25):
        model.step()
    assert model.digest() == row["digest"]
    assert model.summary()["results"]["trades"] == row["trades"]


def test_per_run_logs_layout(serial):
    out, _ = serial
    keys = set(digests(out))
    assert {p.name for p in (out / "runs").iterdir()} == keys
    key = sorted(keys)[0]
    run_dir = out / "runs" / key
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "model.parquet",
        "summary.json",
        "trades.parquet",
    ]
    model = pd.read_parquet(run_dir / "model.parquet")
    assert len(model) == 26 and model.index.name == "step"  # init + 25 steps
    assert not [c for c in model.columns if c.startswith("sweep:")]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["key"] == key and summary["digest"] == digests(out)[key]
    assert summary["steps"] == 25 and summary["parameters"]["n_clients"] == 100
    assert len(pd.read_parquet(run_dir / "trades.parquet")) == summary["results"]["trades"]


def test_same_digests_serially_with_processes_and_on_dask(serial, tmp_path):
    pytest.importorskip("distributed")
    out, _ = serial
    expected = digests(out)
    quiet = {"progress": False, "echo": lambda _: None}
    run_sweep(tiny(), tmp_path / "procs", workers=2, **quiet)
    assert digests(tmp_path / "procs") == expected
    run_sweep(tiny(), tmp_path / "dask", workers=2, dask="local", **quiet)
    assert digests(tmp_path / "dask") == expected


def test_interrupted_sweep_resumes_without_recomputing_or_losing(
    serial, tmp_path, monkeypatch, capsys
):
    cls = SweepModel
    finished = []
    original_step, original_finish = cls.step, cls.finish

    def finish(self):
        original_finish(self)
        finished.append(self.sweep_run["key"])

    def step(self):
        if len(finished) == 2:  # Ctrl-C during the third run
            raise KeyboardInterrupt
        original_step(self)

    monkeypatch.setattr(cls, "finish", finish)
    monkeypatch.setattr(cls, "step", step)
    spec = tmp_path / "tiny.toml"
    spec.write_text(
        'scenario = "small"\nsteps = 25\nseeds = [1, 2]\nmetrics = ["crowd_brier", '
        '"mean_efficiency", "trades"]\n[parameters]\npublic_news_rate = [0.1, 0.6]\n'
        "n_clients = 100\n"
    )
    out = tmp_path / "out"
    args = ["sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"]
    assert main(args) == 130
    assert "interrupted: 2 of 4 runs" in capsys.readouterr().err
    first = pd.read_parquet(out / "results.parquet")
    assert sorted(first["key"]) == sorted(finished)

    monkeypatch.setattr(cls, "step", original_step)
    finished.clear()
    assert main(args) == 0
    assert "2 already in" in capsys.readouterr().err
    assert len(finished) == 2 and not set(finished) & set(first["key"])  # nothing recomputed
    after = pd.read_parquet(out / "results.parquet").set_index("key")
    assert len(after) == 4
    for row in first.itertuples():  # nothing lost or rewritten
        assert after.loc[row.key, "wall_s"] == row.wall_s
    assert digests(out) == digests(serial[0])
    finished.clear()
    assert main(args) == 0 and not finished  # a finished sweep runs nothing


def test_parts_left_by_a_kill_are_kept(serial, tmp_path):
    # A kill after two runs wrote their part files, before consolidation, while a third was
    # half-way through writing its own (a temporary file that was never renamed).
    out = tmp_path / "killed"
    runs = plan(tiny())
    for run in runs[:2]:
        row, logs = simulate(
            payload(run, ["crowd_brier", "mean_efficiency", "trades"], None, False)
        )
        write_run_files(out, row, logs)
    (out / "parts" / f".{runs[2].key}.json.tmp-99999").write_text('{"key": "tor')
    assert not (out / "results.parquet").exists()
    assert set(load_results(out)["key"]) == {r.key for r in runs[:2]}  # readable meanwhile
    report = run_sweep(tiny(), out, workers=1, progress=False, echo=lambda _: None)
    assert (report.skipped, report.ran) == (2, 2)
    assert digests(out) == digests(serial[0])
    assert consolidate(out) == 4


def test_runs_of_other_model_code_are_kept_with_a_warning(serial, tmp_path):
    out = tmp_path / "mixed"
    run = plan(tiny())[0]
    row, _ = simulate(payload(run, ["crowd_brier"], None, False))
    assert row["code"] == code_fingerprint()
    write_run_files(out, {**row, "code": "0123456789ab"})
    said = []
    report = run_sweep(tiny(), out, workers=1, progress=False, echo=said.append)
    assert "other versions of the model code (0123456789ab" in said[0]
    assert (report.skipped, report.ran) == (1, 3)


def test_two_sweeps_cannot_write_one_directory(tmp_path):
    out = tmp_path / "busy"
    with sweep_lock(out), pytest.raises(UsageError, match="another sweep"):
        run_sweep(tiny(), out, workers=1, progress=False, echo=lambda _: None)


# --------------------------------------------------------------------------- the plot


def test_seed_bands_are_t_intervals():
    from scipy import stats

    df = pd.DataFrame({"x": [1, 1, 1, 2, 2], "y": [1.0, 2.0, 3.0, 5.0, 5.0]})
    table = seed_bands(df, "x", "y")
    one = table[table["x"] == 1].iloc[0]
    half = stats.t.ppf(0.975, 2) * 1.0 / 3**0.5
    assert one["n"] == 3 and one["mean"] == 2.0
    assert one["lo"] == pytest.approx(2.0 - half) and one["hi"] == pytest.approx(2.0 + half)
    two = table[table["x"] == 2].iloc[0]
    assert two["lo"] == two["hi"] == 5.0


def test_sweep_plot_writes_a_png(serial, capsys):
    out, _ = serial
    code = main(["sweep-plot", str(out), "--x", "public_news_rate", "--y", "crowd_brier"])
    assert code == 0
    png = out / "sweep_crowd_brier_vs_public_news_rate.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    assert "0.6" in text and str(png) in text
    target = out / "by_seed.png"
    assert (
        main(
            [
                "sweep-plot",
                str(out),
                "--x",
                "public_news_rate",
                "--y",
                "trades",
                "--hue",
                "n_clients",
                "--out",
                str(target),
            ]
        )
        == 0
    )
    assert target.exists()
    assert main(["sweep-plot", str(out), "--x", "public_news_rate", "--y", "wall_s", "--logx"]) == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--x", "nope", "--y", "crowd_brier"], "--x nope"),
        (["--x", "public_news_rate", "--y", "nope"], "--y nope"),
        (["--x", "public_news_rate", "--y", "trades", "--where", "n_clients=7"], "n_clients=7"),
    ],
)
def test_sweep_plot_refuses_unknown_names(serial, capsys, args, needle):
    out, _ = serial
    assert main(["sweep-plot", str(out), *args]) == 2
    assert needle in capsys.readouterr().err


def test_sweep_plot_refuses_to_pool_another_parameter(tmp_path, capsys):
    out = tmp_path / "two"
    quiet = {"progress": False, "echo": lambda _: None}
    run_sweep(
        tiny(
            steps=3, seeds=[1], parameters={"public_news_rate": [0.1, 0.6], "n_clients": [90, 100]}
        ),
        out,
        **quiet,
    )
    assert main(["sweep-plot", str(out), "--x", "public_news_rate", "--y", "trades"]) == 2
    assert "n_clients also vary" in capsys.readouterr().err
    assert (
        main(
            [
                "sweep-plot",
                str(out),
                "--x",
                "public_news_rate",
                "--y",
                "trades",
                "--where",
                "n_clients=90",
            ]
        )
        == 0
    )
