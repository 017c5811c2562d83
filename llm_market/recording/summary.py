"""A run's headline results, JSON-serialisable: what ``summary.json`` and the sweeps report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import __version__
from . import columns as c

if TYPE_CHECKING:
    from ..model import MarketModel


def nanmean(x: np.ndarray) -> float:
    """Mean of the finite entries, NaN when there are none (without NumPy's warning)."""
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def finite(x) -> float | None:
    """A float for JSON, or None when missing or not finite."""
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None


def money_error_max(errors: np.ndarray) -> float | None:
    """The largest absolute money error, or None if any is NaN or infinite.

    Not ``nanmax``: a NaN in the check is a failed check, never a small error.
    """
    errors = np.asarray(errors, dtype=float)
    if not np.isfinite(errors).all():
        return None
    return float(np.abs(errors).max()) if errors.size else 0.0


def run_summary(model: MarketModel) -> dict[str, Any]:
    """Headline results of the run so far.

    Brier scores and skills are over every question resolved so far (not the pivot window);
    ``steps`` counts the days completed (a failed step does not count). ``digest`` is None in
    a streamed run until its end (:class:`~llm_market.recording.stream.RunStream`): it is
    computed once, when the last rows are in.
    """
    # The two model series read here, without building the whole frame at every checkpoint.
    series = model.datacollector.model_vars
    efficiency = pd.Series(series[c.EFFICIENCY], dtype=float)
    money_errors = np.asarray(series[c.MONEY_ERROR], dtype=float)
    streaming = model.event_logs.streaming
    scores, accounts = model.scores, model.accounts
    skill, brier = scores.skill(), scores.mean_brier()
    # Skill against the no-information forecaster: what signals and research add.
    skill_ni = scores.skill_against(model.noinfo_col)
    n = model.n_teams
    team_brier, team_skill = brier[:n], skill[:n]
    market = model.market_col
    crowd = model.crowd_col
    return {
        "package_version": __version__,
        "scenario": model.scenario_name,
        "seed": model.seed,
        "steps": int(model.day),
        "digest": model.digest() if streaming is None or streaming.value else None,
        "results": {
            "trades": int(model.logs[c.TRADES].rows),
            "mean_efficiency": finite(efficiency.mean()),  # pandas' NaN-skipping mean, as before
            "questions_resolved": int(scores.total_questions),
            "base_rate": finite(scores.base_rate),
            "crowd_brier": finite(brier[crowd]),
            "mean_team_brier": finite(nanmean(team_brier)),
            "crowd_skill": finite(skill[crowd]),
            "mean_team_skill": finite(nanmean(team_skill)),
            "best_team_skill": finite(
                np.nanmax(team_skill) if np.isfinite(team_skill).any() else None
            ),
            "noinfo_brier": finite(brier[model.noinfo_col]),
            "noinfo_skill": finite(skill[model.noinfo_col]),
            "crowd_skill_vs_noinfo": finite(skill_ni[crowd]),
            "mean_team_skill_vs_noinfo": finite(nanmean(skill_ni[:n])),
            "market_brier": finite(brier[market]) if market is not None else None,
            "market_skill": finite(skill[market]) if market is not None else None,
            "market_skill_vs_noinfo": finite(skill_ni[market]) if market is not None else None,
            "final_budget_hhi": finite(model.budget_hhi),
            "active_teams": int(accounts.active.sum()),
            "principal_capital": [round(float(x), 6) for x in accounts.capital],
            "overbudget_team_days": int(accounts.overbudget_days.sum()),
            "money_error_max": money_error_max(money_errors),
            "money_in": {k: round(v, 6) for k, v in sorted(accounts.ledger.inflows.items())},
            "money_out": {k: round(v, 6) for k, v in sorted(accounts.ledger.outflows.items())},
            **_index_market(model),
        },
        **({"llm": model.policy.summary()} if model.params.policy == "llm" else {}),
    }


def _index_market(model: MarketModel) -> dict[str, Any]:
    # The traded index's figures, only when it runs (a default summary is unchanged).
    if model.params.index_process != "market":
        return {}
    from ..market.index_market import market_results

    frame = model.logs[c.INDEX_TRADERS].to_frame()
    trades = model.logs[c.TRADES].to_frame()
    return {"index_market": market_results(frame, model.params.market_traders, trades)}
