"""The league table: policy groups compared on Brier, skill, earnings, funding and fallbacks."""

import json
import struct

import numpy as np
import pandas as pd
import pytest
from llm_server import FakeChatServer, team_of, valid_reply

from llm_market.cli import main
from llm_market.errors import UsageError
from llm_market.experiments.runner import run_steps
from llm_market.model import MarketModel
from llm_market.recording.columns import CROWD_ID, NOINFO_ID, ROSTER
from llm_market.stats.league import (
    COLUMNS,
    LeagueFrames,
    frames_from_model,
    league_table,
    policy_groups,
)
from llm_market.viz.report import write_run


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch):
    for name in ("LLM_MARKET_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def png_size(path):
    """Width and height of a PNG (from its IHDR chunk)."""
    return struct.unpack(">II", path.read_bytes()[16:24])


@pytest.fixture(scope="module")
def heuristic_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("heuristic")
    model = MarketModel(scenario="small", seed=4, steps=45)
    run_steps(model, model.params.steps)
    write_run(model, out)
    return out


@pytest.fixture(scope="module")
def llm_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("llm")

    def responder(body):
        # Team 6 never answers in JSON: its every day is a fallback to the heuristic.
        team = team_of(body)
        if team == 6:
            return "no idea"
        return valid_reply(body, spend=0.05, p=0.2 + 0.05 * team)

    with FakeChatServer(responder) as srv:
        model = MarketModel(
            scenario="small",
            seed=2,
            steps=25,
            policy="llm",
            llm_share=0.5,
            llm_base_url=srv.url,
            llm_model="fake-model",
            llm_max_retries=0,
        )
        run_steps(model, model.params.steps)
        model.policy.close()
    write_run(model, out)
    return out, model


# ---------------------------------------------------------------- hand computation on a toy run


def toy_frames():
    """Four teams (two heuristic, two LLM personas), three questions, the crowd and no-info."""
    rows = []
    brier = {  # forecaster: Brier on questions 10, 11, 12
        0: (0.10, 0.20, 0.30),
        1: (0.30, 0.20, 0.10),
        2: (0.05, 0.40, np.nan),  # no score on the last question
        3: (0.25, 0.25, 0.25),
        CROWD_ID: (0.15, 0.15, 0.15),
        NOINFO_ID: (0.20, 0.25, 0.30),
    }
    for f, scores in brier.items():
        for q, b in zip((10, 11, 12), scores, strict=True):
            rows.append({"question": q, "forecaster": f, "brier": b})
    trades = pd.DataFrame(
        {
            "seller": [0, 0, 1, 2, 2, 2],
            "price": [2.0, 3.0, 1.0, 4.0, 4.0, 1.0],
            "cost": [0.5, 0.5, 0.5, 1.0, 1.0, 1.0],
        }
    )
    budgets = pd.DataFrame(
        {
            "step": [0, 0, 0, 0, 21, 21, 21, 21, 21, 21],
            "team": [0, 1, 2, 3, 0, 1, 2, 3, -1, 1],
            "kind": ["funding"] * 4 + ["funding"] * 4 + ["dividend", "budget_return"],
            "amount": [10.0, 10.0, 10.0, 10.0, 20.0, 10.0, 6.0, 4.0, -3.0, -2.0],
        }
    )
    roster = pd.DataFrame(
        {
            "team": [0, 1, 2, 3],
            "policy": ["heuristic", "heuristic", "llm", "llm"],
            "model": ["", "", "m", "m"],
            "persona": ["", "", "bold", "cautious"],
        }
    )
    llm = {
        "2": {"calls": 12, "failures": 4, "fallbacks": 2},  # 10 decision days
        "3": {"calls": 10, "failures": 0, "fallbacks": 0, "decisions": 10},
    }
    return LeagueFrames(pd.DataFrame(rows), trades, budgets, roster, llm)


def test_toy_table_equals_the_hand_computation():
    table = league_table(toy_frames(), n_boot=200).set_index("group")
    assert list(table.columns) == list(COLUMNS[1:])
    assert list(table.index) == [
        "heuristic",
        "llm:m/bold",
        "llm:m/cautious",
        "llm:all",
        "crowd",
        "no information",
    ]
    h, bold, cautious, both = (table.loc[g] for g in table.index[:4])
    assert h.brier == pytest.approx(1.2 / 6)
    assert h.skill == pytest.approx(1 - (1.2 / 6) / 0.25)
    # The bold team has no score on question 12: no-info is paired on questions 10 and 11 only.
    assert bold.brier == pytest.approx(0.225) and bold.questions == 2
    assert bold.skill == pytest.approx(1 - 0.45 / 0.45)
    assert both.brier == pytest.approx((0.45 + 0.75) / 5)
    assert both.skill == pytest.approx(1 - 1.2 / (0.45 + 0.75))
    assert table.loc["crowd", "skill"] == pytest.approx(1 - 0.15 / 0.25)
    assert table.loc["no information", "skill"] == 0.0
    # Revenue and profit per team, teams without sales counting 0.
    assert h.revenue == pytest.approx((5.0 + 1.0) / 2) and h.profit == pytest.approx(
        (4.0 + 0.5) / 2
    )
    assert bold.revenue == 9.0 and bold.profit == 6.0 and cautious.revenue == 0.0
    assert both.revenue == pytest.approx(4.5)
    # Funding: the last month's allocations (step 21), other kinds of rows left out.
    assert h.funding_share == pytest.approx(30 / 40) and h.fair_share == 0.5
    assert bold.funding_share == pytest.approx(6 / 40)
    assert both.funding_share == pytest.approx(10 / 40)
    # Fallbacks: over decision days (calls - failures + fallbacks, or as given).
    assert np.isnan(h.fallback_rate) and np.isnan(h.decisions)
    assert bold.decisions == 10 and bold.fallback_rate == pytest.approx(0.2)
    assert cautious.fallback_rate == 0.0 and both.fallback_rate == pytest.approx(2 / 20)
    assert np.isnan(table.loc["crowd", "revenue"]) and table.loc["crowd", "teams"] == 0


@pytest.mark.parametrize("source", ["toy", "run"])
def test_intervals_hold_the_estimate_and_repeat_for_a_seed(source, heuristic_run):
    frames = toy_frames() if source == "toy" else heuristic_run
    a, b = league_table(frames, 400, seed=3), league_table(frames, 400, seed=3)
    pd.testing.assert_frame_equal(a, b)
    for name in ("brier", "skill", "revenue", "profit"):
        ok = a[name].notna()
        assert (a.loc[ok, f"{name}_lo"] <= a.loc[ok, name] + 1e-12).all()
        assert (a.loc[ok, name] <= a.loc[ok, f"{name}_hi"] + 1e-12).all()
    if source == "run":
        # Another seed draws other resamples (three questions, as in the toy, give the same
        # percentiles whatever the draws).
        c = league_table(frames, 400, seed=4)
        assert not np.allclose(a["brier_lo"], c["brier_lo"])
        assert (a["brier_hi"] - a["brier_lo"] > 0).all()


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="n_boot"):
        league_table(toy_frames(), n_boot=0)
    with pytest.raises(UsageError, match="no such directory"):
        league_table(tmp_path / "missing")
    with pytest.raises(UsageError, match="not a run directory"):
        league_table(tmp_path)


def test_groups_by_policy_model_and_persona():
    roster = pd.DataFrame(
        {
            "team": [3, 0, 1, 2],
            "policy": ["llm", "heuristic", "llm", "llm"],
            "model": ["b", "", "a", "a"],
            "persona": ["", "", "x", "x"],
        }
    )
    groups = policy_groups(roster)
    assert list(groups) == ["heuristic", "llm:a/x", "llm:b", "llm:all"]
    assert groups["llm:a/x"].tolist() == [1, 2] and groups["llm:all"].tolist() == [1, 2, 3]
    one = policy_groups(roster[roster.model != "b"])
    assert list(one) == ["heuristic", "llm:a/x"]  # no "all LLM" row for a single LLM group


# ---------------------------------------------------------------- runs


def test_heuristic_run_has_one_group_and_the_references(heuristic_run):
    table = league_table(heuristic_run, n_boot=300).set_index("group")
    assert list(table.index) == ["heuristic", "crowd", "no information"]
    preds = pd.read_parquet(heuristic_run / "predictions.parquet")
    teams = preds[preds.forecaster >= 0]
    noinfo = preds[preds.forecaster == NOINFO_ID].set_index("question").brier
    h = table.loc["heuristic"]
    assert h.teams == 8 and h.questions == preds.question.nunique()
    assert h.brier == pytest.approx(teams.brier.mean())
    assert h.skill == pytest.approx(1 - teams.brier.mean() / noinfo[teams.question].mean())
    trades = pd.read_parquet(heuristic_run / "trades.parquet")
    assert h.revenue == pytest.approx(trades.price.sum() / 8)
    assert h.profit == pytest.approx((trades.price - trades.cost).sum() / 8)
    assert h.funding_share == pytest.approx(1.0) and np.isnan(h.fallback_rate)
    roster = pd.read_parquet(heuristic_run / f"{ROSTER}.parquet")
    assert roster.team.tolist() == list(range(8)) and set(roster.policy) == {"heuristic"}
    summary = json.loads((heuristic_run / "summary.json").read_text())
    assert f"{ROSTER}.parquet" in summary["files"]
    assert table.loc["crowd", "brier"] == pytest.approx(summary["results"]["crowd_brier"])
    # A heuristic run's report keeps its four rows.
    assert png_size(heuristic_run / "report.png")[1] == 16 * 90


def test_llm_run_groups_llm_teams_by_model_and_persona(llm_run):
    out, model = llm_run
    table = league_table(out, n_boot=300).set_index("group")
    llm_teams = sorted(model.policy.llm_teams)
    roster = pd.read_parquet(out / f"{ROSTER}.parquet")
    llm_rows = roster[roster.policy == "llm"]
    assert llm_rows.team.tolist() == llm_teams and 6 in llm_teams
    assert set(llm_rows.model) == {"fake-model"}
    # Every LLM team is played with a persona, and the roster names it.
    assert all(llm_rows.persona != "")
    personas = sorted(set(llm_rows.persona))
    groups = [f"llm:fake-model/{p}" for p in personas]
    assert list(table.index) == ["heuristic", *groups, "llm:all", "crowd", "no information"]
    llm = table.loc["llm:all"]
    assert llm.teams == len(llm_teams) == 4
    # Four LLM teams decide every day; team 6 falls back on each of them.
    assert llm.decisions == 4 * 25 and llm.fallbacks == 25 and llm.fallback_rate == 0.25
    assert table.loc[groups, "teams"].sum() == 4
    shares = table.loc[["heuristic", *groups], "funding_share"]
    assert shares.sum() == pytest.approx(1.0)
    # The report computes the same table from the live model.
    live = league_table(frames_from_model(model), n_boot=300).set_index("group")
    pd.testing.assert_frame_equal(live, table)
    assert png_size(out / "report.png")[1] == 20 * 90


def test_a_run_without_a_roster_is_grouped_from_its_summary(llm_run, tmp_path):
    out, _ = llm_run
    for path in out.iterdir():
        if path.name != f"{ROSTER}.parquet":
            (tmp_path / path.name).write_bytes(path.read_bytes())
    # An old run's summary names its LLM teams and model but not their personas: one LLM group,
    # the same teams as the full table's "llm:all".
    old = league_table(tmp_path, n_boot=50).set_index("group")
    full = league_table(out, n_boot=50).set_index("group")
    assert list(old.index) == ["heuristic", "llm:fake-model", "crowd", "no information"]
    for name in ("teams", "brier", "skill", "revenue", "fallbacks", "funding_share"):
        assert old.loc["llm:fake-model", name] == pytest.approx(full.loc["llm:all", name])
    pd.testing.assert_series_equal(old.loc["heuristic"], full.loc["heuristic"])


def test_league_command_prints_writes_and_refuses(heuristic_run, tmp_path, capsys):
    csv = tmp_path / "league.csv"
    assert main(["league", str(heuristic_run), "--resamples", "200", "--csv", str(csv)]) == 0
    printed = capsys.readouterr().out
    assert "heuristic" in printed and "no information" in printed and "wrote" in printed
    assert pd.read_csv(csv).group.tolist() == ["heuristic", "crowd", "no information"]
    assert main(["league", str(heuristic_run), "--resamples", "200", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert records[0]["group"] == "heuristic" and records[0]["teams"] == 8
    for bad in (tmp_path / "missing", tmp_path):
        assert main(["league", str(bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err
    assert main(["league", str(heuristic_run), "--resamples", "0"]) == 2


def test_policies_describe_their_teams():
    from llm_market.policies.heuristic import HeuristicPolicy
    from llm_market.policies.llm import LLMConfig, LLMPolicy, MixedPolicy

    heuristic = HeuristicPolicy(np.random.default_rng(0))
    assert heuristic.describe_team(3) == {"policy": "heuristic", "model": "", "persona": ""}
    llm = LLMPolicy(LLMConfig(model="m"), heuristic)
    mixed = MixedPolicy(llm, heuristic, [1, 2])
    assert mixed.describe_team(1) == {"policy": "llm", "model": "m", "persona": ""}
    assert mixed.describe_team(0) == heuristic.describe_team(0)
    # An LLM policy that gives its teams personas names them.
    llm.persona_of = lambda team: "bold" if team == 2 else ""
    assert mixed.describe_team(2)["persona"] == "bold" and mixed.describe_team(1)["persona"] == ""
