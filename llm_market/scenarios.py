"""The scenario presets: named sets of parameter values that override the defaults.

``MarketModel(scenario=NAME, **keywords)`` starts from the defaults of
:class:`~llm_market.params.Params`, applies the preset and then the explicit keywords. Each
preset's first element is the line ``llm-market scenarios`` prints. A new scenario is one entry
here; the CLI, the app and the sweeps list them from this dict.
"""

from __future__ import annotations

from typing import Any

SCENARIOS: dict[str, tuple[str, dict[str, Any]]] = {
    "default": ("20 teams, 4 principals, 3 indices, CDA, no graph, one year", {}),
    "small": (
        "a quick look: 8 teams, 2 principals, 2 indices, 60 days",
        {"n_teams": 8, "n_principals": 2, "n_indices": 2, "n_clients": 120, "steps": 60},
    ),
    "networked": (
        "default economy on a small-world graph with herding and news diffusion",
        {"network": "watts_strogatz", "herding_weight": 0.35, "diffusion_prob": 0.5},
    ),
    "volatile_demand": (
        "demand regimes switch often and far",
        {"demand_persistence": 0.8, "demand_levels": (0.3, 1.0, 2.5)},
    ),
    "strict_budgets": (
        "budgets enforced by clipping, fast pivot, defunded teams exit",
        {"overbudget": "clip", "pivot_factor": 0.6, "floor_rule": "exit", "budget_floor": 0.03},
    ),
    "classroom": (
        "Gode-Sunder: induced values and costs, zero-intelligence traders, one good, CDA",
        {
            "n_teams": 6,
            "n_principals": 1,
            "n_indices": 1,
            # More buyers than units, as in Gode and Sunder's markets: which buyers get the
            # units is then the market's outcome, for ZI-U traders too (docs/mechanisms.md).
            "n_clients": 30,
            "units_per_team": 4,
            "cost_linear": 1.0,
            "cost_quadratic": 0.5,
            "client_base_value": 5.0,
            "client_value_sd": 0.5,
            "client_participation": 1.0,
            "market_order_share": 0.0,
            "demand_states": ("normal",),
            "demand_levels": (1.0,),
            "value_volatility_elasticity": 0.0,
            "value_quality_weight": 0.0,
            "client_valuation": "induced",
            "investor_pivot": 0.0,
            "zi_traders": "zi_c",
            "zi_price_max": 10.0,
            "cda_rounds": 50,
            "steps": 20,
        },
    ),
    "stylized": (
        "report prices with fat tails and volatility clustering (GARCH index, 2,100 days)",
        {
            # Values induced from the index (not yet the decision value of a record), so that
            # the GARCH index's facts carry into report prices (docs/stylized-facts.md).
            "client_valuation": "induced",
            "index_process": "garch",
            "garch_alpha": 0.05,
            "garch_beta": 0.94,
            "garch_nu": 8.0,
            "value_level_elasticity": 3.0,
            "daily_price": "vwap",
            "markup_decay": 0.2,
            "n_clients": 1000,
            "client_value_sd": 0.1,
            "bid_shading": 0.1,
            "value_volatility_elasticity": 0.0,
            "demand_levels": (1.0, 1.0, 1.0),
            "steps": 2100,
        },
    ),
    "market": (
        "a traded index: GBM fundamental, price made by fundamentalists, chartists and noise "
        "traders in an order book (Lux-Marchesi switching), report buyers informed and paying "
        "what a report earns them in it, 2,100 days",
        {
            "index_process": "market",
            "market_fundamental": "gbm",
            # Grossman-Stiglitz economics (docs/sweeps.md): half of each fundamental move is
            # hidden until the monthly publication or public news; reports are worth their
            # booked trading gain, a client trading one index trader's book (stake 1).
            "market_hidden_share": 0.5,
            "market_public_lag": 21,
            "client_valuation": "trading",
            "client_base_value": 1.0,
            "steps": 2100,
        },
    ),
    "large": (
        "benchmark size: 1,000 teams, 50 principals, 10,000 clients on a scale-free graph",
        {
            "n_teams": 1000,
            "n_principals": 50,
            "n_clients": 10_000,
            "network": "barabasi_albert",
            "client_participation": 0.1,
            "units_per_team": 2,
            "steps": 50,
        },
    ),
}
