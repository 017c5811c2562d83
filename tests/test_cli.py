import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from llm_market.cli import COMMAND_MODULES, main, parse_set
from llm_market.cli.app import APP_MODULE, server_env, solara_argv
from llm_market.cli.sweep import spec_path


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "llm_market.cli", *args], capture_output=True, text=True
    )


def test_run_writes_summary_logs_and_report(tmp_path):
    out = tmp_path / "run"
    code = main(
        ["run", "--scenario", "small", "--steps", "25", "--seed", "4", "--out", str(out), "--quiet"]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 4 and summary["steps"] == 25 and summary["scenario"] == "small"
    assert len(summary["digest"]) == 64
    assert summary["parameters"]["n_teams"] == 8
    assert summary["package_version"]
    assert summary["results"]["trades"] > 0
    for name in ["trades", "predictions", "budgets", "news", "model", "teams"]:
        assert len(pd.read_parquet(out / f"{name}.parquet")) > 0
    png = (out / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000


def test_config_file_and_set_overrides(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('scenario = "small"\nseed = 8\nn_teams = 6\n[params]\nsteps = 10\n')
    out = tmp_path / "o"
    assert (
        main(["run", "--config", str(cfg), "--set", "n_teams=5", "--out", str(out), "--quiet"]) == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameters"]["n_teams"] == 5 and summary["seed"] == 8
    assert summary["steps"] == 10


def test_parse_set_reads_toml_values_and_bare_words():
    assert parse_set(["n_teams=5", "horizons=[5, 10]", "network=erdos_renyi", "x=0.5"]) == {
        "n_teams": 5,
        "horizons": [5, 10],
        "network": "erdos_renyi",
        "x": 0.5,
    }


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "n_teams=-2"], "n_teams"),
        (["--set", "unknown_knob=1"], "unknown_knob"),
        (["--set", "diffusion_prob=2"], "diffusion_prob"),
        (["--set", "demand_transition=[[0.9,0.2,0],[0,1,0],[0,0,1]]"], "demand_transition"),
        (["--set", "network=ring"], "network"),
        (["--set", "mechanism=barter"], "mechanism"),
        (["--set", "oops"], "key=value"),
        (["--steps", "0"], "--steps"),
        (["--scenario", "nope"], "scenario"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, args, needle):
    res = run_cli("run", *args, "--out", str(tmp_path / "x"), "--quiet")
    assert res.returncode == 2
    assert needle in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_malformed_config_file(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("n_teams = = 3\n")
    res = run_cli("run", "--config", str(cfg), "--quiet")
    assert res.returncode == 2 and "not valid TOML" in res.stderr
    assert "Traceback" not in res.stderr


def test_scenarios_lists_one_line_each():
    res = run_cli("scenarios")
    assert res.returncode == 0
    lines = res.stdout.strip().splitlines()
    assert lines[0].startswith("default") and any(line.startswith("large") for line in lines)


GOLDEN_ARGS = [
    "--scenario",
    "small",
    "--seed",
    "3",
    "--policy",
    "llm",
    "--llm-base-url",
    "http://127.0.0.1:9/v1",
    "--llm-model",
    "SmolLM2-135M-Instruct",
    "--set",
    "llm_cache_mode=replay",
    "--set",
    "llm_cache_path=tests/data/smollm2_small.sqlite",
    "--set",
    "llm_share=0.5",
    "--set",
    "llm_seed=3",
    "--set",
    "llm_max_retries=1",
    "--set",
    "llm_max_tokens=320",
    "--set",
    "llm_prompt_price_per_1k=0.01",
    "--set",
    "llm_completion_price_per_1k=0.03",
    "--set",
    "llm_response_format=json_object_schema",
    "--set",
    "llm_template=v1",  # the golden run was recorded with the v1 prompt
    "--quiet",
]


def test_cli_replays_the_recorded_real_model_run(tmp_path):
    golden = json.loads(open("tests/data/smollm2_small.json").read())
    steps = str(golden["steps"])
    res = run_cli("run", *GOLDEN_ARGS, "--steps", steps, "--out", str(tmp_path / "r"))
    assert res.returncode == 0, res.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["digest"] == golden["digest"]
    calls = golden["summary"]["calls"]
    assert summary["llm"]["calls"] == summary["llm"]["cached_calls"] == calls
    assert summary["results"]["money_out"]["llm"] == pytest.approx(golden["summary"]["cost"])


def golden_args(path: str) -> list[str]:
    """CLI arguments that replay a recorded real-model run from its JSON."""
    g = json.loads(open(path).read())
    args = ["--scenario", g["scenario"], "--seed", str(g["seed"]), "--policy", "llm"]
    args += ["--llm-base-url", g.get("base_url", "http://127.0.0.1:9/v1")]
    settings = {**{f"llm_{k}": v for k, v in g["llm"].items()}, "llm_share": g["llm_share"]}
    settings |= {"llm_cache_mode": "replay", "llm_cache_path": f"tests/data/{g['cache']}"}
    for key, value in settings.items():
        args += ["--set", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    return [*args, "--steps", str(g["steps"]), "--quiet"]


def test_cli_replays_the_v2_real_model_run_and_its_league(tmp_path):
    path = "tests/data/smollm2_small_v2.json"
    if not os.path.exists(path):
        pytest.skip("no v2 recording")
    golden = json.loads(open(path).read())
    res = run_cli("run", *golden_args(path), "--out", str(tmp_path / "r"))
    assert res.returncode == 0, res.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["digest"] == golden["digest"]
    assert summary["llm"]["calls"] == summary["llm"]["cached_calls"] == golden["summary"]["calls"]
    decisions = pd.read_parquet(tmp_path / "r" / "decisions.parquet")
    assert len(decisions) == golden["steps"] * len(summary["llm"]["llm_teams"])
    league = run_cli("league", str(tmp_path / "r"))
    assert league.returncode == 0 and "llm:SmolLM2-135M-Instruct" in league.stdout


def test_cli_replay_miss_stops_naming_team_and_day_and_keeps_the_days_run(tmp_path):
    # The recording covers its first `steps` days (0 to steps - 1): day `steps` is the first miss.
    days = json.loads(open("tests/data/smollm2_small.json").read())["steps"]
    res = run_cli("run", *GOLDEN_ARGS, "--steps", str(days + 2), "--out", str(tmp_path / "r"))
    assert res.returncode == 2
    assert "team" in res.stderr and f"day {days}" in res.stderr and "Traceback" not in res.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["interrupted"] and summary["steps"] == days
    assert len(pd.read_parquet(tmp_path / "r" / "trades.parquet")) > 0


@pytest.mark.parametrize(
    "args",
    [
        ["facts", "/no/such/dir"],
        ["sweep", "/no/such.toml"],
        ["calibrate", "/no/such.csv"],
        ["compare", "--steps", "0"],
    ],
)
def test_subcommands_report_bad_input_in_one_line_under_python_m(args):
    res = run_cli(*args)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


COMMAND_NAMES = [name for module in COMMAND_MODULES for name in module.COMMANDS]


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], *([n, "--help"] for n in COMMAND_NAMES)]
)
def test_every_help_and_the_version_exit_0_with_text(args, capsys):
    # argparse formats every help text with % (a bare "95%" used to crash --help).
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.strip()
    if args == ["--help"]:
        assert all(name in out for name in COMMAND_NAMES)


def test_building_the_parser_imports_no_heavy_library():
    # What keeps `llm-market --version` and `--help` quick (benchmarks/bench_startup.py).
    heavy = ("mesa", "numpy", "pandas", "scipy", "networkx", "matplotlib", "pydantic", "solara")
    code = (
        "import sys\nfrom llm_market.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('loaded:' + ','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.splitlines()[-1] == "loaded:"


def test_the_model_imports_without_scipy_stats_or_the_command_line():
    code = (
        "import sys\nfrom llm_market import MarketModel\n"
        "print(','.join(m for m in ('scipy.stats', 'llm_market.cli', 'matplotlib', 'solara')"
        " if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == ""


def test_app_command_builds_the_production_solara_invocation(capsys):
    assert main(["app", "--port", "8799", "--dry-run"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("SOLARA_TELEMETRY_MIXPANEL_ENABLE=False ")
    argv = solara_argv(8799)
    assert line.endswith(" ".join(argv))
    assert argv[:5] == [sys.executable, "-m", "solara", "run", "llm_market.viz.app"]
    assert argv[argv.index("--port") + 1] == "8799"
    assert "--production" in argv and "--no-open" in argv
    assert "--open" in solara_argv(0, "0.0.0.0", open_browser=True)
    # The app is a module of the package (so a wheel carries it) and defines Solara's Page.
    spec = importlib.util.find_spec(APP_MODULE)
    assert spec is not None and "def Page(" in Path(spec.origin).read_text()


def test_app_server_env_turns_telemetry_off_unless_the_caller_chose():
    assert server_env({})["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"
    assert server_env({"SOLARA_TELEMETRY_MIXPANEL_ENABLE": "True"}) == {
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "True"
    }


def test_app_refuses_a_port_out_of_range(capsys):
    assert main(["app", "--port", "70000", "--dry-run"]) == 2
    assert "--port" in capsys.readouterr().err


def test_sweep_names_a_shipped_example_instead_of_a_path(tmp_path, monkeypatch, capsys):
    examples = Path(importlib.util.find_spec("llm_market.experiments").origin).parent / "examples"
    shipped = sorted(p.stem for p in examples.glob("*.toml"))
    assert {"pivot_network", "research_news", "mechanism_demand"} <= set(shipped)
    monkeypatch.chdir(tmp_path)  # no batch/ here: the name must resolve to the package's copy
    assert spec_path("pivot_network") == str(examples / "pivot_network.toml")
    assert spec_path("no_such_example") == "no_such_example"
    assert main(["sweep", "pivot_network", "--dry-run", "--out", str(tmp_path / "s")]) == 0
    assert "pivot_network: 160 runs valid" in capsys.readouterr().out
