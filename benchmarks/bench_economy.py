"""The economy of information, measured: does a better forecast earn more?

Prints the figures of the economy issue for the default scenario, pooled over seeds (default
1-5) of 252 days each, with the target beside each. Nothing is asserted: these are measurements
(the test suite checks the mechanics on short runs).

1. Spearman(team revenue, -team Brier): do better forecasters sell more?
2. Research spend at research_cost 5 against 0.2, and with research_productivity 0.
3. Spearman(profit metric, Brier-skill metric) of the teams at the year's end: do the two pivot
   metrics rank teams alike?
4. Budget HHI at pivot_factor 0.9 against 0, and the funding-weighted mean Brier of both.
5. Principals' capital at the year's end over their starting capital.

Run with ``python benchmarks/bench_economy.py [--seeds 5] [--steps 252]``.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import spearmanr

from llm_market import MarketModel, Team
from llm_market.experiments.runner import run_steps
from llm_market.recording.columns import (
    TEAM_ALLOCATION,
    TEAM_BRIER,
    TEAM_PROFIT,
    TEAM_SKILL,
    TRADES,
)


def run(seed: int, steps: int, **params):
    model = MarketModel(seed=seed, steps=steps, **params)
    run_steps(model, steps)
    return model


def research_spend(model: MarketModel) -> float:
    return model.accounts.ledger.outflows.get("research", 0.0)


def team_table(model: MarketModel):
    trades = model.logs[TRADES].to_frame()
    revenue = np.bincount(trades.seller, weights=trades.price, minlength=model.n_teams)
    brier = model.scores.mean_brier()[: model.n_teams]
    return revenue, brier


def funding_weighted_brier(model: MarketModel) -> float:
    teams = model.datacollector.get_agenttype_vars_dataframe(Team).dropna()
    w, b = teams[TEAM_ALLOCATION].to_numpy(), teams[TEAM_BRIER].to_numpy()
    return float((w * b).sum() / w.sum())


def final_metrics(model: MarketModel):
    teams = model.datacollector.get_agenttype_vars_dataframe(Team)
    last = teams.xs(teams.index.get_level_values(0).max(), level=0)
    return last[TEAM_PROFIT].to_numpy(), last[TEAM_SKILL].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=252)
    args = parser.parse_args()
    seeds = range(1, args.seeds + 1)
    steps = args.steps

    base = [run(s, steps) for s in seeds]
    tables = [team_table(m) for m in base]
    revenue = np.concatenate([r for r, _ in tables])
    brier = np.concatenate([b for _, b in tables])
    per_seed = [spearmanr(r, -b)[0] for r, b in tables]
    cv = np.mean([r.std() / r.mean() for r, _ in tables])
    rho = spearmanr(revenue, -brier)[0]
    print(
        f"1. Spearman(team revenue, -Brier): pooled {rho:.3f}, per-seed mean "
        f"{np.mean(per_seed):.3f} (target >= 0.6); revenue CV across teams {cv:.3f}"
    )

    cheap = np.mean([research_spend(run(s, steps, research_cost=0.2)) for s in seeds])
    dear = np.mean([research_spend(run(s, steps, research_cost=5.0)) for s in seeds])
    none = np.mean([research_spend(run(s, steps, research_productivity=0.0)) for s in seeds])
    print(
        f"2. research spend: cost 0.2 -> {cheap:.1f}, cost 5 -> {dear:.1f} "
        f"(ratio {dear / cheap:.3f}, target <= 0.5); productivity 0 -> {none:.1f} "
        f"({none / cheap:.3%} of cost 0.2, target < 5%)"
    )

    rhos = []
    for m in base:
        profit, skill = final_metrics(m)
        ok = np.isfinite(profit) & np.isfinite(skill)
        rhos.append(spearmanr(profit[ok], skill[ok])[0])
    print(
        f"3. Spearman(profit metric, Brier-skill metric) at the year's end: mean "
        f"{np.mean(rhos):.3f} (target >= 0.5)"
    )

    still = [run(s, steps, pivot_factor=0.0) for s in seeds]
    fast = [run(s, steps, pivot_factor=0.9) for s in seeds]
    hhi0 = np.mean([m.budget_hhi for m in still])
    hhi9 = np.mean([m.budget_hhi for m in fast])
    fw0 = np.mean([funding_weighted_brier(m) for m in still])
    fw9 = np.mean([funding_weighted_brier(m) for m in fast])
    print(
        f"4. budget HHI: pivot 0 -> {hhi0:.4f}, pivot 0.9 -> {hhi9:.4f} "
        f"(ratio {hhi9 / hhi0:.2f}, target >= 2); funding-weighted Brier: pivot 0 -> {fw0:.4f},"
        f" pivot 0.9 -> {fw9:.4f} (target: lower at 0.9)"
    )

    ratio = np.concatenate([m.accounts.capital / m.params.principal_capital for m in base])
    print(
        f"5. principal capital after {steps} days / start: min {ratio.min():.2f}, median "
        f"{np.median(ratio):.2f}, max {ratio.max():.2f} (target within 0.5-3)"
    )


if __name__ == "__main__":
    main()
