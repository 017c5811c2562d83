import subprocess
import sys

import mesa
import networkx as nx
import numpy as np
import pytest

from llm_market import MarketModel, ParameterError, Principal, Team
from llm_market.params import SCENARIOS, make_params

EVERYTHING_ON = dict(
    n_teams=12,
    n_principals=3,
    n_clients=150,
    network="watts_strogatz",
    overbudget="penalize",
    floor_rule="exit",
    budget_floor=0.15,
    pivot_factor=0.8,
    pivot_metric="mix",
    demand_persistence=0.7,
    steps_per_month=10,
    research_intensity_sd=0.6,
    diffusion_prob=0.6,
    private_news_rate=0.5,
)


def test_model_is_a_mesa_model_with_team_and_principal_agents():
    m = MarketModel(scenario="small", seed=1)
    assert isinstance(m, mesa.Model)
    assert len(m.agents_by_type[Team]) == 8 and len(m.agents_by_type[Principal]) == 2
    assert all(t.cell is None for t in m.agents_by_type[Team])
    # Each team belongs to exactly one principal.
    owned = sorted(t.idx for p in m.principals for t in p.teams)
    assert owned == list(range(8))


def test_step_runs_the_stages_in_the_order_of_the_spec(monkeypatch):
    m = MarketModel(scenario="small", seed=1)
    calls = []
    for name in [
        "agents_act",
        "run_market_dynamics",
        "run_information_dynamics",
        "validate_expenditures",
        "allocate_budgets",
        "advance_time",
    ]:
        original = getattr(m, name)

        def spy(original=original, name=name):
            calls.append(name)
            original()

        monkeypatch.setattr(m, name, spy)
    m.step()
    assert calls == [
        "agents_act",
        "run_market_dynamics",
        "run_information_dynamics",
        "validate_expenditures",
        "allocate_budgets",
        "advance_time",
    ]


def test_explicit_keywords_override_the_scenario():
    m = MarketModel(scenario="small", seed=3, n_teams=10)
    assert m.params.n_teams == 10 and m.params.n_indices == SCENARIOS["small"][1]["n_indices"]


@pytest.mark.parametrize("network", ["erdos_renyi", "watts_strogatz", "barabasi_albert"])
def test_teams_sit_on_a_mesa_network(network):
    m = MarketModel(scenario="small", seed=2, network=network)
    assert isinstance(m.social.network, mesa.discrete_space.Network)
    for team in m.teams:
        assert team.cell is m.social.network[team.idx]
        assert team in team.cell.agents
    assert m.graph.number_of_nodes() == 8


def test_a_user_graph_is_used_as_given():
    g = nx.path_graph(["a", "b", "c", "d"])
    m = MarketModel(n_teams=4, n_principals=2, seed=0, network=g, steps_per_month=5)
    assert sorted(m.graph.degree[i] for i in range(4)) == [1, 1, 2, 2]
    for _ in range(12):
        m.step()


def test_money_is_conserved_every_step_with_every_feature_on():
    m = MarketModel(seed=5, **EVERYTHING_ON)
    start = m.accounts.money_held()
    for _ in range(300):
        m.step()
        assert abs(m.money_error) < 1e-6 * max(start, 1.0), m.day
    # The run exercised what it claims to: fines, exits, overspending, pivots, trade.
    kinds = set(m.logs["budgets"].column("kind"))
    assert {"funding", "budget_return", "penalty_cut", "exit", "dividend"} <= kinds
    assert not m.active.all() and m.active.any()
    assert m.logs["trades"].rows > 0 and m.accounts.ledger.outflows["research"] > 0


def test_clip_never_lets_research_overspend():
    m = MarketModel(
        scenario="small", seed=4, overbudget="clip", research_intensity_sd=1.0, steps=60
    )
    for _ in range(60):
        m.step()
        assert m.accounts.overbudget_count == 0
    flagging = MarketModel(scenario="small", seed=4, overbudget="flag", research_intensity_sd=1.0)
    for _ in range(60):
        flagging.step()
    assert sum(t.overbudget_days for t in flagging.teams) > 0


def test_the_pivot_moves_funding_to_the_best_forecasters():
    m = MarketModel(
        seed=11, n_teams=12, n_principals=1, pivot_factor=1.0, skill_sd=1.0, steps_per_month=21
    )
    for _ in range(21 * 6):
        m.step()
    skill = np.array([t.profile.skill for t in m.teams])
    alloc = np.array([t.monthly_allocation for t in m.teams])
    assert np.corrcoef(skill, alloc)[0, 1] > 0.3
    assert m.budget_hhi > 1 / 12


def test_collects_once_at_init_and_once_per_step():
    m = MarketModel(scenario="small", seed=0)
    for _ in range(7):
        m.step()
    df = m.datacollector.get_model_vars_dataframe()
    assert len(df) == 8
    for col in [
        "price_0",
        "volume_0",
        "spread_0",
        "efficiency_0",
        "demand_regime",
        "index_0",
        "crowd_brier",
        "mean_team_brier",
        "budget_hhi",
        "budget_gini",
        "overbudget_count",
        "money_error",
    ]:
        assert col in df.columns
    teams = m.datacollector.get_agenttype_vars_dataframe(Team)
    assert len(teams) == 8 * 8
    assert {"budget", "cash", "share", "brier", "skill"} <= set(teams.columns)


def test_logs_are_columnar_and_complete():
    m = MarketModel(scenario="small", seed=0)
    for _ in range(30):
        m.step()
    trades = m.logs["trades"].to_frame()
    assert (
        len(trades) == m.datacollector.get_model_vars_dataframe().filter(like="volume_").sum().sum()
    )
    assert (trades.price <= trades.value + 1e-9).all()  # no client pays above its value
    preds = m.logs["predictions"].to_frame()
    assert set(preds.outcome) <= {0, 1}
    assert np.allclose(preds.brier.between(0, 1), True)
    assert (preds.forecaster == -1).sum() == preds.question.nunique()


def test_same_seed_same_digest_and_another_seed_another():
    a = MarketModel(scenario="small", seed=9)
    b = MarketModel(scenario="small", seed=9)
    c = MarketModel(scenario="small", seed=10)
    for m in (a, b, c):
        for _ in range(40):
            m.step()
    assert a.digest() == b.digest() != c.digest()


def test_digest_is_the_same_in_two_separate_processes():
    code = (
        "from llm_market import MarketModel\n"
        "m = MarketModel(scenario='small', seed=21, network='erdos_renyi')\n"
        "[m.step() for _ in range(30)]\n"
        "print(m.digest())\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and len(runs[0]) == 64


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        (dict(n_teams=-1), "n_teams"),
        (dict(n_clients=0), "n_clients"),
        (dict(diffusion_prob=1.2), "diffusion_prob"),
        (dict(demand_persistence=-0.1), "demand_persistence"),
        (dict(demand_transition=[[0.5, 0.4, 0.0], [0, 1, 0], [0, 0, 1]]), "demand_transition"),
        (dict(network="lattice"), "network"),
        (dict(mechanism="dutch"), "mechanism"),
        (dict(overbudget="ignore"), "overbudget"),
        (dict(no_such_thing=1), "no_such_thing"),
        (dict(scenario="nope"), "scenario"),
        (dict(n_principals=30), "n_principals"),
    ],
)
def test_bad_parameters_are_refused_with_their_name(kwargs, needle):
    with pytest.raises(ParameterError) as err:
        MarketModel(**kwargs)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_every_parameter_has_a_default():
    p = make_params()
    for name, field in type(p).model_fields.items():
        assert not field.is_required(), name


def test_stylized_rules_change_prices_as_documented():
    base = dict(scenario="small", seed=4, steps=30)
    plain = MarketModel(**base)
    vwap = MarketModel(**base, daily_price="vwap")
    for m in (plain, vwap):
        for _ in range(30):
            m.step()
    t = vwap.logs["trades"].to_frame()
    last = t[t.step == 30]
    # The day's price is the geometric mean of its trades under "vwap", the last trade otherwise.
    g0 = last[last.good == 0].price
    assert vwap.market.close[0] == pytest.approx(np.exp(np.log(g0).mean()))
    tp = plain.logs["trades"].to_frame()
    assert plain.market.close[0] == tp[(tp.step == 30) & (tp.good == 0)].price.iloc[-1]


def test_value_follows_the_index_level_with_the_elasticity():
    m = MarketModel(scenario="small", seed=2, value_level_elasticity=2.0)
    for _ in range(10):
        m.step()
    assert m.market.level_value == pytest.approx((m.indices.level / m.params.index_initial) ** 2)


def test_markup_decay_pulls_markups_toward_zero():
    from llm_market.policies.heuristic import HeuristicPolicy

    m = MarketModel(scenario="small", seed=1)
    obs = [t.observe(m.view) for t in m.teams]
    for o in obs:
        o.markup[:] = 1.0
    keep = HeuristicPolicy(np.random.default_rng(0), markup_step=0.0).decide_all(obs)
    decay = HeuristicPolicy(np.random.default_rng(0), 0.0, markup_decay=0.5).decide_all(obs)
    assert keep[0].markup == pytest.approx(1.0) and decay[0].markup == pytest.approx(0.5)


def test_garch_index_process_runs_in_the_model():
    m = MarketModel(
        scenario="small", seed=5, index_process="garch", garch_alpha=0.1, garch_beta=0.85
    )
    for _ in range(30):
        m.step()
        assert abs(m.money_error) < 1e-6
    assert np.shape(m.view.market.step_sd) == (m.n_goods,)
    with pytest.raises(ParameterError, match="garch_alpha"):
        MarketModel(index_process="garch", garch_alpha=0.5, garch_beta=0.6)
