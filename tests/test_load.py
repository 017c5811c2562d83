"""Joinable results: the run identity in every Parquet file, and ``experiments.load``."""

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from llm_market import __version__
from llm_market.cli import UsageError
from llm_market.experiments import load
from llm_market.experiments.execution import run_sweep
from llm_market.experiments.runner import run_steps
from llm_market.experiments.specs import code_fingerprint, parse_spec, plan
from llm_market.experiments.store import read_metadata
from llm_market.model import MarketModel
from llm_market.viz.report import write_run

README = Path(__file__).resolve().parents[1] / "README.md"
QUIET = {"progress": False, "echo": lambda _: None}

GRID = {
    "scenario": "small",
    "steps": 15,
    "seeds": [1, 2],
    "metrics": ["trades", "final_budget_hhi"],
    "parameters": {"pivot_factor": [0.1, 0.6], "n_clients": 100, "network": "watts_strogatz"},
}


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    model = MarketModel(scenario="small", seed=3, steps=12, pivot_factor=0.5)
    run_steps(model, model.params.steps)
    write_run(model, out)
    return out, json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    run_sweep(parse_spec(GRID, name="grid"), out, workers=1, logs=True, **QUIET)
    return out


def test_every_parquet_file_of_a_run_carries_its_key_seed_and_version(single_run):
    out, summary = single_run
    files = sorted(out.glob("*.parquet"))
    assert {p.name for p in files} >= {"model.parquet", "teams.parquet", "trades.parquet"}
    assert sorted(p.name for p in files) == [f for f in summary["files"] if f.endswith(".parquet")]
    for path in files:
        meta = read_metadata(path)
        assert meta["key"] == summary["key"] and meta["seed"] == 3, path.name
        assert meta["package_version"] == __version__ and meta["code"] == code_fingerprint()
        assert meta["scenario"] == "small" and meta["steps"] == 12
        # Plain pyarrow (or DuckDB's parquet_kv_metadata) sees the same entries.
        raw = pq.read_schema(path).metadata
        assert raw[b"llm_market.key"] == summary["key"].encode()


def test_a_single_run_has_the_key_of_the_sweep_run_naming_its_changed_parameters(single_run):
    _, summary = single_run
    sweep = parse_spec(
        {"scenario": "small", "steps": 12, "seeds": [3], "parameters": {"pivot_factor": [0.5]}}
    )
    assert plan(sweep)[0].key == summary["key"]


def test_the_logs_read_back_as_before(single_run):
    out, summary = single_run
    model = pd.read_parquet(out / "model.parquet")
    assert model.index.name == "step" and len(model) == 13  # construction + 12 steps
    assert len(pd.read_parquet(out / "trades.parquet")) == summary["results"]["trades"]


def test_load_reads_a_run_as_tidy_frames(single_run):
    out, summary = single_run
    data = load(out)
    assert {"runs", "model", "trades", "teams"} <= set(data)
    runs = data["runs"]
    assert len(runs) == 1 and runs.loc[0, "key"] == summary["key"]
    assert runs.loc[0, "digest"] == summary["digest"] and runs.loc[0, "crowd_brier"] is not None
    assert list(runs.columns[:3]) == ["key", "scenario", "seed"]  # as in results.parquet
    for name, frame in data.items():
        if name == "runs":
            continue
        assert list(frame.columns[:2]) == ["key", "seed"], name
        assert (frame["key"] == summary["key"]).all() and (frame["seed"] == 3).all()
    assert data["model"]["step"].tolist() == list(range(13))


def test_sweep_logs_carry_the_run_identity(sweep_dir):
    results = pd.read_parquet(sweep_dir / "results.parquet")
    for row in results.itertuples():
        for name in ("model", "trades"):
            meta = read_metadata(sweep_dir / "runs" / row.key / f"{name}.parquet")
            assert (meta["key"], meta["seed"]) == (row.key, row.seed)
            assert meta["package_version"] == row.package_version and meta["code"] == row.code


def test_load_reads_a_sweep_and_its_logs_join_the_runs(sweep_dir):
    data = load(sweep_dir)
    runs, model, trades = data["runs"], data["model"], data["trades"]
    assert len(runs) == 4 and set(runs.columns) >= {"key", "seed", "pivot_factor", "trades"}
    assert len(model) == 4 * 16 and set(model["key"]) == set(runs["key"])
    assert trades.groupby("key").size().to_dict() == dict(
        zip(runs["key"], runs["trades"], strict=True)
    )


def test_the_readme_query_runs_across_a_sweep(sweep_dir):
    text = README.read_text().split("three lines of pandas:", 1)[1]
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace("runs/sweeps/pivot_network", str(sweep_dir))
    lines = code.strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("from llm_market.experiments import load")
    *head, last = lines
    scope = {}
    exec("\n".join(head), scope)
    hhi = eval(last, scope)  # the daily budget HHI by network and pivot factor
    assert list(hhi.columns) == [0.1, 0.6] and len(hhi) == 16 and hhi.notna().all().all()
    assert hhi.index.get_level_values("network").unique().tolist() == ["watts_strogatz"]


def test_load_of_a_sweep_without_logs_and_of_other_folders(tmp_path):
    out = tmp_path / "nologs"
    run_sweep(parse_spec({**GRID, "seeds": [1], "steps": 5}), out, workers=1, **QUIET)
    assert list(load(out)) == ["runs"] and len(load(out)["runs"]) == 2
    with pytest.raises(UsageError, match="neither a run"):
        load(tmp_path)
    with pytest.raises(UsageError, match="no such directory"):
        load(tmp_path / "missing")
