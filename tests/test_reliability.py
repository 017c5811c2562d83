"""Hostile input and hostile endings: refused up front, outputs atomic and whole-day, money finite.

Each test backs a promise of docs/reliability.md.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from llm_market.cli import main
from llm_market.cli.run import StopRequests
from llm_market.errors import LLMUnavailable, MoneyError, ParameterError
from llm_market.experiments.execution import run_sweep
from llm_market.experiments.specs import parse_spec, plan
from llm_market.experiments.store import QUARANTINE_DIR, load_results
from llm_market.model import MarketModel
from llm_market.params import make_params
from llm_market.recording.outputs import atomic_write, file_record
from llm_market.recording.summary import money_error_max

SMALL = ["run", "--scenario", "small", "--quiet"]


def cli(capsys, *args):
    code = main(list(args))
    err = capsys.readouterr().err
    return code, err


def one_line(err):
    lines = err.strip().splitlines()
    return len(lines) == 1 and "Traceback" not in err


# --------------------------------------------------------------------------- refused up front

BAD_PARAMETERS = [
    ("index_initial", float("inf")),
    ("principal_capital", float("inf")),
    ("principal_capital", 1e308),
    ("client_base_value", 1e308),
    ("garch_omega", 1e308),
    ("research_cost", 1e-320),
    ("horizons", (10**20,)),
    ("index_correlation", -0.5),  # exactly -1/(K-1) for K = 3: singular
    ("demand_transition", ((1.0,), (0.5, 0.5), (1.0,))),  # ragged
    ("demand_levels", (float("nan"), 1.0, 1.0)),
    ("pm_funding", float("inf")),
    ("llm_seed", -1),
    ("index_initial", 1e308),
    ("cost_quadratic", 1e308),
]


@pytest.mark.parametrize(("name", "value"), BAD_PARAMETERS)
def test_bad_parameters_are_refused_naming_the_parameter(name, value):
    with pytest.raises(ParameterError) as info:
        make_params(**{name: value})
    message = str(info.value)
    assert message.startswith(name) and "\n" not in message


def test_a_scenario_must_be_a_name():
    with pytest.raises(ParameterError, match="scenario: unknown"):
        make_params([1])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--seed", "-1"], "--seed"),
        (["--seed", str(10**20)], "--seed"),
        (["--set", "seed=-3"], "seed"),
        (["--set", "scenario=[1]"], "scenario"),
        (["--set", "index_initial=inf"], "index_initial"),
        (["--set", "horizons=[100000000000000000000]"], "horizons"),
        (["--set", "demand_transition=[[1.0],[0.5,0.5],[1]]"], "demand_transition"),
        (["--checkpoint-every", "-1"], "--checkpoint-every"),
    ],
)
def test_bad_run_arguments_exit_2_before_any_work(tmp_path, capsys, args, needle):
    out = tmp_path / "o"
    code, err = cli(capsys, *SMALL, "--steps", "3", "--out", str(out), *args)
    assert code == 2 and needle in err and one_line(err)
    assert not out.exists()


def test_bad_paths_exit_2_with_one_line(tmp_path, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("mine")
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    long = tmp_path / ("a" * 300)
    cases = [
        (["--out", ""], "--out: empty path"),
        (["--out", str(a_file)], "is a file"),
        (["--out", str(long)], "cannot write there"),
        (["--out", str(a_file / "sub")], "--out"),
        (["--config", str(tmp_path)], "is a folder"),
        (["--config", str(fifo)], "not a regular file"),  # would block on open()
        (["--config", str(tmp_path / "none.toml")], "no such file"),
    ]
    for args, needle in cases:
        code, err = cli(capsys, *SMALL, "--steps", "2", *args)
        assert code == 2 and needle in err and one_line(err), (args, err)
    assert a_file.read_text() == "mine"


@pytest.mark.parametrize(
    ("content", "needle"),
    [(None, "no such file"), ("dir", "is a folder"), (b"not sqlite at all" * 10, "not a reply")],
)
def test_a_bad_reply_cache_is_refused_before_the_model_is_built(tmp_path, capsys, content, needle):
    path = tmp_path / "cache.sqlite"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    code, err = cli(
        capsys,
        *SMALL,
        "--steps",
        "2",
        "--policy",
        "llm",
        "--set",
        "llm_cache_mode=replay",
        "--set",
        f"llm_cache_path={path}",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 2 and needle in err and "llm_cache_path" in err and one_line(err)


# --------------------------------------------------------------------------- outputs


def test_atomic_write_leaves_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("old")

    def torn(p):
        p.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(path, torn)
    assert path.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["a.json"]


def test_summary_is_written_last_and_lists_its_files(tmp_path, capsys):
    out = tmp_path / "r"
    code, _ = cli(capsys, *SMALL, "--steps", "5", "--out", str(out))
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete"
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted([*summary["files"], "summary.json"])
    for name, record in summary["files"].items():
        assert file_record(out / name) == record
        assert (out / name).stat().st_mtime_ns <= (out / "summary.json").stat().st_mtime_ns


def test_another_runs_folder_is_refused_unless_force_which_clears_only_run_files(tmp_path, capsys):
    out = tmp_path / "r"
    assert cli(capsys, *SMALL, "--steps", "3", "--out", str(out))[0] == 0
    (out / "notes.txt").write_text("mine")
    (out / "llm_cache.sqlite").write_bytes(b"stale")  # an earlier LLM run's cache
    code, err = cli(capsys, *SMALL, "--steps", "3", "--out", str(out))
    assert code == 2 and "--force" in err and one_line(err)
    code, _ = cli(capsys, *SMALL, "--steps", "4", "--out", str(out), "--force")
    assert code == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "llm_cache.sqlite").exists()
    assert json.loads((out / "summary.json").read_text())["steps"] == 4


def test_checkpoints_are_whole_days(tmp_path, capsys, monkeypatch):
    # Stop the run from inside its 7th day: the checkpoint of day 5 is what a kill would leave.
    out = tmp_path / "r"
    seen = []

    def act_then_die(model):
        if model.calendar.day == 6:
            seen.append(json.loads((out / "summary.json").read_text()))
            raise SystemExit(9)  # as abrupt as a kill, as far as the files are concerned
        original(model)

    original = MarketModel.agents_act
    monkeypatch.setattr(MarketModel, "agents_act", act_then_die)
    with pytest.raises(SystemExit):
        main([*SMALL, "--steps", "30", "--checkpoint-every", "5", "--out", str(out)])
    summary = seen[0]
    assert summary["status"] == "running" and summary["steps"] == 5
    monkeypatch.undo()
    assert_whole_days(out, 5)


def assert_whole_days(out, days, names=("model", "trades", "budgets", "news")):
    """The files hold exactly the first ``days`` days of the run (small scenario, seed 42)."""
    reference = MarketModel(scenario="small", seed=42)
    for _ in range(days):
        reference.step()
    for name in names:
        frame = pq.read_table(out / f"{name}.parquet").to_pandas()
        if name == "model":
            assert frame.index.max() == days
            continue
        expected = reference.logs[name].to_frame()
        assert frame.reset_index(drop=True).equals(expected), name


def test_ctrl_c_during_a_day_finishes_that_day(tmp_path, capsys, monkeypatch):
    out = tmp_path / "r"
    original = MarketModel.run_market_dynamics

    def trade_then_interrupt(model):
        original(model)
        if model.calendar.stamp == 4:
            os.kill(os.getpid(), signal.SIGINT)  # in the middle of day 4

    monkeypatch.setattr(MarketModel, "run_market_dynamics", trade_then_interrupt)
    code, err = cli(capsys, *SMALL, "--steps", "30", "--out", str(out))
    assert code == 130 and "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["steps"] == 4
    monkeypatch.undo()
    assert_whole_days(out, 4)


def test_signals_while_writing_wait_until_the_write_is_done(capsys):
    class Quiet:
        def print(self, *args):
            pass

    stops = StopRequests(Quiet())
    with stops:
        stops.stepping = True
        with stops.writing():
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGINT):
                os.kill(os.getpid(), sig)  # noted, never raised inside the write
        assert stops.requested and not stops.hard and stops.exit_status == 128 + signal.SIGTERM
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # a further one during a day stops at once
        assert stops.hard
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def start_run(out, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "llm_market.cli", *SMALL, "--out", str(out), *extra],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )


def wait_for_checkpoint(out, proc, least_days):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            summary = json.loads((out / "summary.json").read_text())
            if summary["steps"] >= least_days:
                return summary
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("no checkpoint appeared")


def test_sigterm_behaves_like_ctrl_c(tmp_path):
    out = tmp_path / "r"
    proc = start_run(out, "--steps", "100000", "--checkpoint-every", "3")
    wait_for_checkpoint(out, proc, 3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["steps"] >= 3
    assert "report.png" in summary["files"]
    assert_whole_days(out, summary["steps"])


def test_sigkill_loses_at_most_the_days_since_the_last_checkpoint(tmp_path):
    out = tmp_path / "r"
    proc = start_run(out, "--steps", "100000", "--checkpoint-every", "2")
    wait_for_checkpoint(out, proc, 6)
    proc.kill()
    proc.communicate(timeout=60)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "running" and summary["steps"] >= 6
    # Every file is whole (a kill mid-write leaves a hidden temporary, never a torn file); the
    # ones whose checksum matches the summary hold its days exactly, others a later checkpoint.
    matching = []
    for name, record in summary["files"].items():
        pq.read_table(out / name)
        if file_record(out / name) == record and name != "teams.parquet":
            matching.append(name.removesuffix(".parquet"))
    if matching:
        assert_whole_days(out, summary["steps"], matching)
    else:
        # The kill fell after the next checkpoint had written every file and before its summary
        # (a window that grows on a loaded machine): the files then hold that checkpoint whole.
        later = int(pq.read_table(out / "model.parquet").to_pandas().index.max())
        assert later > summary["steps"]
        assert_whole_days(out, later)


def test_two_ctrl_c_never_tear_the_files(tmp_path):
    out = tmp_path / "r"
    proc = start_run(out, "--steps", "100000", "--checkpoint-every", "2")
    wait_for_checkpoint(out, proc, 2)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] in ("running", "interrupted")
    for name in summary["files"]:
        if name.endswith(".parquet"):
            pq.read_table(out / name)


# --------------------------------------------------------------------------- money


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_money_stops_the_run(bad):
    model = MarketModel(scenario="small", seed=1)
    model.step()
    model.accounts.cash[3] = bad
    with pytest.raises(MoneyError, match="team cash of #3"):
        model.step()


def test_money_overflow_stops_the_run():
    model = MarketModel(scenario="small", seed=1)
    model.accounts.capital[:] = 1e308  # each finite, their sum is not
    with np.errstate(over="ignore"), pytest.raises(MoneyError, match="money check failed"):
        model.step()


def test_the_cli_exits_1_on_a_money_error_keeping_the_checkpoint(tmp_path, capsys, monkeypatch):
    out = tmp_path / "r"
    original = MarketModel.run_market_dynamics

    def poison(model):
        original(model)
        if model.calendar.stamp == 5:
            model.accounts.ledger.inflow("client_payments", float("nan"))

    monkeypatch.setattr(MarketModel, "run_market_dynamics", poison)
    code, err = cli(capsys, *SMALL, "--steps", "20", "--checkpoint-every", "2", "--out", str(out))
    assert code == 1 and "money check failed on day 5" in err and one_line(err)
    assert "checkpoint of day 4" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "running" and summary["steps"] == 4


def test_money_error_max_is_never_fooled_by_nan():
    assert money_error_max(np.array([0.0, 1e-12, -3e-12])) == pytest.approx(3e-12)
    assert money_error_max(np.array([0.0, float("nan")])) is None
    assert money_error_max(np.array([float("inf")])) is None


# --------------------------------------------------------------------------- LLM endpoint


def test_an_unreachable_endpoint_exits_1_after_writing_the_days(tmp_path, capsys, monkeypatch):
    import llm_market.experiments.runner as runner

    out = tmp_path / "r"
    original = MarketModel.agents_act

    def unreachable(model):
        if model.calendar.stamp == 3:
            raise LLMUnavailable("http://127.0.0.1:9/v1", "connection refused", 5)
        original(model)

    monkeypatch.setattr(MarketModel, "agents_act", unreachable)
    monkeypatch.setattr(runner, "stopping_errors", lambda: (LLMUnavailable,))
    code, err = cli(capsys, *SMALL, "--steps", "10", "--out", str(out))
    assert code == 1 and "127.0.0.1:9" in err and "connection refused" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["steps"] == 2


# --------------------------------------------------------------------------- sweeps

TINY = {"scenario": "small", "steps": 3, "seeds": [1, 2], "parameters": {"n_clients": 50}}


@pytest.mark.parametrize(
    ("seeds", "needle"),
    [
        ([10**20], "from 0 to 2"),
        ([-1], "from 0 to 2"),
        ({"start": 0, "count": 10**9}, "seeds.count"),
    ],
)
def test_sweep_seeds_are_checked_before_any_run(seeds, needle):
    from llm_market.errors import UsageError

    with pytest.raises(UsageError, match=needle):
        parse_spec({**TINY, "seeds": seeds}, name="t")


def test_corrupt_and_foreign_parts_are_quarantined_not_fatal(tmp_path, capsys):
    out = tmp_path / "sweep"
    sweep = parse_spec(TINY, name="t")
    parts = out / "parts"
    parts.mkdir(parents=True)
    (parts / "torn.json").write_text('{"key": "to')
    poisoned = {"key": "big", "scenario": "small", "seed": 10**20, "steps": 3, "trades": 1}
    (parts / "big.json").write_text(json.dumps(poisoned))
    (out / "results.parquet").write_bytes(b"PAR1 not really")
    with pytest.warns(UserWarning, match="skipped"):
        assert load_results(out).empty  # a reader skips, and moves nothing
    assert (parts / "big.json").exists()
    with pytest.warns(UserWarning, match="quarantine"):
        report = run_sweep(sweep, out, workers=1, progress=False, echo=lambda _: None)
    assert report.ran == 2
    assert sorted(p.name for p in (out / QUARANTINE_DIR).rglob("*") if p.is_file()) == [
        "big.json",
        "results.parquet",
        "torn.json",
    ]
    assert set(load_results(out)["key"]) == {r.key for r in plan(sweep)}
    code, err = cli(capsys, "sweep-plot", str(out), "--out", str(tmp_path / "p.png"))
    assert "Traceback" not in err


def test_bad_sweep_paths_exit_2_with_one_line(tmp_path, capsys):
    spec = tmp_path / "ok.toml"
    spec.write_text('scenario = "small"\nsteps = 2\nseeds = [1]\n')
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    a_file = tmp_path / "file.txt"
    a_file.write_text("mine")
    for args, needle in [
        ([str(fifo)], "not a regular file"),
        ([str(tmp_path)], "is a folder"),
        ([str(spec), "--out", str(a_file)], "is a file"),
        ([str(spec), "--out", ""], "--out: empty path"),
    ]:
        code, err = cli(capsys, "sweep", *args, "--workers", "1", "--quiet")
        assert code == 2 and needle in err and one_line(err), (args, err)
