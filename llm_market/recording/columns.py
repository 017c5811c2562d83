"""The names of everything the model records: one place for each column.

The DataCollector's reporters (:mod:`~llm_market.recording.collector`), the run report, the app,
the sweeps and the mechanism comparison all read series by these constants, so a new metric is
one reporter plus one constant here, and a renamed column cannot drift between its writer and its
readers.

Model series have one row per day. Per-good series are named ``<series>_<good>``
(:func:`good_column`), for example ``price_0``.
"""

from __future__ import annotations

# ---------------------------------------------------------------- model series (one row a day)
DAY = "day"
DEMAND_REGIME = "demand_regime"
DEMAND_LEVEL = "demand_level"
CROWD_BRIER = "crowd_brier"
NOINFO_BRIER = "noinfo_brier"
MARKET_BRIER = "market_brier"
MEAN_TEAM_BRIER = "mean_team_brier"
MEAN_TEAM_SKILL = "mean_team_skill"
BUDGET_HHI = "budget_hhi"
BUDGET_GINI = "budget_gini"
ACTIVE_TEAMS = "active_teams"
OVERBUDGET_COUNT = "overbudget_count"
MONEY_ERROR = "money_error"
EFFICIENCY = "efficiency"
BUYER_SURPLUS = "buyer_surplus"
SELLER_SURPLUS = "seller_surplus"

# ---------------------------------------------------------------- per-good series
PRICE = "price"  # the good's daily price (last trade, or the day's geometric mean)
VOLUME = "volume"
SPREAD = "spread"
GOOD_EFFICIENCY = "efficiency"
CE_PRICE = "ce_price"  # competitive-equilibrium price of the day's submitted values and costs
INDEX = "index"  # the level of the index the good reports on
GOOD_SERIES = (PRICE, VOLUME, SPREAD, GOOD_EFFICIENCY, CE_PRICE, INDEX)


def good_column(series: str, good: int | str) -> str:
    """Return one good's column of a series: ``good_column(PRICE, 0) == "price_0"``."""
    return f"{series}_{good}"


def good_columns(series: str, n_goods: int) -> list[str]:
    """Return the columns of a per-good series for goods ``0 .. n_goods - 1``."""
    return [good_column(series, k) for k in range(n_goods)]


# -------------------------------------------------------- team series (a row a team a day)
TEAM_BUDGET = "budget"
TEAM_CASH = "cash"
TEAM_SHARE = "share"
TEAM_ALLOCATION = "allocation"
TEAM_BRIER = "brier"
TEAM_SKILL = "skill"
TEAM_PROFIT = "profit"
TEAM_OVERBUDGET_DAYS = "overbudget_days"
TEAM_ACTIVE = "active"
TEAM_PRINCIPAL = "principal"

# ---------------------------------------------------------------- event logs and their schemas
TRADES = "trades"
PREDICTIONS = "predictions"
BUDGETS = "budgets"
NEWS = "news"
DECISIONS = "decisions"
# One row per team: who decides it and its fixed traits. Not "teams": teams.parquet is the
# DataCollector's team series.
ROSTER = "roster"
# The traded index (index_process="market"): its fills, and its traders' mix per index and day.
INDEX_TRADES = "index_trades"
INDEX_TRADERS = "index_traders"

LOG_SCHEMAS: dict[str, dict[str, str]] = {
    TRADES: {
        "step": "int64",
        "good": "int64",
        "buyer": "int64",
        "seller": "int64",
        "price": "float64",
        "value": "float64",
        "cost": "float64",
        "reputation": "float64",
    },
    PREDICTIONS: {
        "question": "int64",
        "forecaster": "int64",
        "index": "int64",
        "horizon": "int64",
        "open_step": "int64",
        "resolve_step": "int64",
        "mean_p": "float64",
        "last_p": "float64",
        "n_forecasts": "int64",
        "outcome": "int64",
        "brier": "float64",
    },
    BUDGETS: {
        "step": "int64",
        "principal": "int64",
        "team": "int64",
        "kind": "str",
        "amount": "float64",
        "share": "float64",
    },
    NEWS: {
        "step": "int64",
        "news_id": "int64",
        "kind": "int64",
        "team": "int64",
        "index": "int64",
        "about_day": "int64",
        "value": "float64",
        "noise_sd": "float64",
        "headline": "str",  # what language-model teams read instead of the numbers
    },
    # One row per language-model team and day (the teams of Policy.history_teams).
    DECISIONS: {
        "step": "int64",
        "team": "int64",
        "persona": "str",
        "reasoning": "str",
        "fallback": "int64",  # 1 when the fallback policy decided the day
        "research_spend": "float64",
        "n_forecasts": "int64",
        "mean_forecast": "float64",
    },
    ROSTER: {
        "team": "int64",
        "principal": "int64",
        "policy": "str",
        "model": "str",
        "persona": "str",
        "skill": "float64",
        "confidence": "float64",
        "herding": "float64",
        "research_intensity": "float64",
    },
    # One row per fill of an index's order book (trader ids are 0 .. market_traders - 1).
    INDEX_TRADES: {
        "step": "int64",
        "index": "int64",
        "round": "int64",
        "buyer": "int64",
        "seller": "int64",
        "price": "float64",
        "qty": "int64",
    },
    # One row per index and day: the price against the fundamental, the trader mix, and the
    # day's mark-to-market gain per informed and per uninformed fundamentalist.
    INDEX_TRADERS: {
        "step": "int64",
        "index": "int64",
        "price": "float64",
        "fundamental": "float64",
        "volume": "int64",
        "fundamentalists": "int64",
        "optimists": "int64",
        "pessimists": "int64",
        "noise": "int64",
        "informed": "int64",
        "informed_gain": "float64",
        "uninformed_gain": "float64",
        "public_gap": "float64",
        "report_gain": "float64",
        "cash": "float64",
        "shares": "int64",
    },
}

# Forecaster ids in the predictions log beyond the teams' own (0 .. n_teams - 1).
CROWD_ID = -1
MARKET_ID = -2
NOINFO_ID = -3  # the no-information forecaster: the index path alone
