"""The event logs, their digest and a streamed run's files (llm_market.recording)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from llm_market.cli import main
from llm_market.model import MarketModel
from llm_market.recording import stream as stream_module
from llm_market.recording.logs import CanonicalStream, ColumnLog, canonical_bytes
from llm_market.recording.outputs import owned_files
from llm_market.recording.stream import RunStream, read_checkpoint
from llm_market.viz.report import team_frame, write_run

STEPS = 160


@pytest.fixture(scope="module")
def reference():
    model = MarketModel(scenario="default", seed=5)
    for _ in range(STEPS):
        model.step()
    return model


@pytest.fixture(scope="module")
def streamed(tmp_path_factory, reference):
    """The same run streamed in tiny parts, with a checkpoint half way (what it saw there)."""
    out = tmp_path_factory.mktemp("streamed")
    model = MarketModel(scenario="default", seed=5)
    stream = RunStream(model, out, part_rows=300, model_rows=9)
    checkpoint = {}
    for day in range(1, STEPS + 1):
        model.step()
        stream.after_step()
        if day == STEPS // 2:
            write_run(model, out, status="running", report=False, stream=stream)
            names = ("trades", "predictions", "news", "budgets", "model", "teams")
            checkpoint = {n: read_checkpoint(out, n) for n in names}
            checkpoint["summary"] = json.loads((out / "summary.json").read_text())
            checkpoint["owned"] = {p.name for p in owned_files(out)}
    spilled = {name: len(log.parts) for name, log in model.logs.items()}
    spilled["teams"] = len(model.datacollector.team_parts)
    # Read before the final write merges the parts: the logs read their parts back.
    live = {"trades": model.logs["trades"].to_frame(), "teams": team_frame(model)}
    write_run(model, out, status="complete", report=True, stream=stream)
    return out, model, checkpoint, spilled, live


def test_the_streamed_digest_is_the_in_memory_digest(streamed, reference):
    out, model, _, spilled, _ = streamed
    assert spilled["trades"] > 10 and spilled["predictions"] > 3 and spilled["teams"] > 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["digest"] == reference.digest() == model.digest()
    # The definition itself: SHA-256 of each log's sorted CSV, then a NUL, in that order.
    h = hashlib.sha256()
    for name in ("trades", "predictions"):
        h.update(canonical_bytes(reference.logs[name].to_frame()) + b"\x00")
    assert summary["digest"] == h.hexdigest()


def test_questions_resolve_out_of_id_order_so_the_bound_matters(reference):
    # Why the prediction rows wait for the oldest open question before they are hashed.
    question = reference.logs["predictions"].column("question")
    assert np.any(np.diff(question) < 0)


def test_a_streamed_run_reads_and_writes_what_an_in_memory_run_does(streamed, reference):
    out, model, _, _, live = streamed
    assert live["trades"].equals(reference.logs["trades"].to_frame())
    assert live["teams"].equals(team_frame(reference))
    for name in ("trades", "predictions", "budgets", "news", "roster", "decisions"):
        frame = pd.read_parquet(out / f"{name}.parquet")
        assert frame.equals(reference.logs[name].to_frame()), name
        assert model.logs[name].to_frame().equals(frame), name  # read back from the final file
    assert pd.read_parquet(out / "teams.parquet").equals(team_frame(reference))
    expected = reference.datacollector.get_model_vars_dataframe().rename_axis("step")
    assert pd.read_parquet(out / "model.parquet").equals(expected)
    assert pq.read_schema(out / "trades.parquet").metadata[b"llm_market.seed"] == b"5"
    # No part is left, and the summary lists exactly the final files.
    assert not list(out.glob("*.part*.parquet"))
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["files"]) == {p.name for p in out.iterdir()} - {"summary.json"}
    results = reference.summary()["results"]
    assert summary["results"] == json.loads(json.dumps(results))


def test_a_checkpoint_appends_and_holds_exactly_its_days(streamed, reference):
    _, _, checkpoint, _, _ = streamed
    summary = checkpoint["summary"]
    days = STEPS // 2
    assert summary["status"] == "running" and summary["steps"] == days
    assert summary["digest"] is None  # computed once, at the end
    # The parts written so far are listed (and so are removed by --force).
    parts = {n for n in summary["files"] if ".part" in n}
    assert parts and parts <= checkpoint["owned"]
    trades = reference.logs["trades"].to_frame()
    expected = trades[trades["step"] <= days].reset_index(drop=True)
    assert checkpoint["trades"].reset_index(drop=True).equals(expected)
    model = checkpoint["model"]
    assert list(model.index) == list(range(days + 1))
    teams = checkpoint["teams"]
    assert teams["Step"].max() == days and len(teams) == (days + 1) * reference.n_teams


def test_canonical_stream_writes_the_sorted_csv_for_any_bounds():
    rng = np.random.default_rng(0)
    columns = ["question", "a", "b"]
    frame = pd.DataFrame(
        {
            "question": rng.integers(0, 30, 400),
            "a": rng.integers(-2, 3, 400),
            "b": np.where(rng.random(400) < 0.1, np.nan, rng.normal(size=400) * 1e3),
        }
    )
    # Rows arrive late and out of order (a question resolves a batch after its key's turn);
    # each batch's bound is the smallest key still to come, as the oldest open question is.
    arrival = frame["question"].to_numpy() // 7 + rng.integers(0, 2, len(frame))
    out = bytearray()
    stream = CanonicalStream(columns, out.extend)
    held_at_some_point = False
    for j in range(arrival.max() + 1):
        later = frame["question"].to_numpy()[arrival > j]
        stream.feed(frame[arrival == j], bound=float(later.min()) if later.size else None)
        held_at_some_point |= stream.held is not None and len(stream.held) > 0
    stream.close()
    assert held_at_some_point
    assert bytes(out) == canonical_bytes(frame)
    empty = bytearray()
    stream = CanonicalStream(columns, empty.extend)
    stream.close()
    assert bytes(empty) == canonical_bytes(frame.iloc[:0]) == b"question,a,b"


def test_a_log_merges_its_chunks_and_keeps_its_rows():
    log = ColumnLog("t", {"step": "int64", "x": "float64", "s": "str"})
    for i in range(200):
        log.append(step=i, x=np.arange(i % 3) * 0.5, s="ab" * (i % 4))
    assert len(log._chunks["x"]) < 10
    frame = log.to_frame()
    assert log.rows == len(frame) == sum(i % 3 for i in range(200))
    assert frame["step"].is_monotonic_increasing
    assert list(frame["s"]) == ["ab" * (i % 4) for i in range(200) for _ in range(i % 3)]


def test_the_cli_streams_its_logs_and_force_clears_left_parts(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(stream_module, "PART_ROWS", 200)
    out = tmp_path / "r"
    argv = ["run", "--scenario", "small", "--steps", "30", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    reference = MarketModel(scenario="small", seed=42)
    for _ in range(30):
        reference.step()
    assert summary["digest"] == reference.digest()
    assert pd.read_parquet(out / "trades.parquet").equals(reference.logs["trades"].to_frame())
    # A part left by a kill during the final merge is the run's own file.
    (out / "trades.part00000.parquet").write_bytes(b"left")
    assert out / "trades.part00000.parquet" in owned_files(out)
    assert main([*argv, "--force"]) == 0
    assert not list(out.glob("*.part*.parquet"))
    capsys.readouterr()
