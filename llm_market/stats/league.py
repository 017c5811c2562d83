"""The league table: how each group of teams did, with bootstrap intervals.

:func:`league_table` compares *policy groups* of one run: the heuristic teams (one group,
``heuristic``), the language-model teams by model and persona (``llm:<model>/<persona>``, or
``llm:<model>`` without a persona) and, when there is more than one LLM group, all LLM teams
together (``llm:all``). Reference rows follow for the forecasters of the predictions log that are
not teams: the crowd, the no-information forecaster and the prediction market (Brier and skill
only). Which policy decides which team comes from the run's ``roster`` log
(:data:`~llm_market.recording.columns.ROSTER`); a run written before the roster existed is
grouped from ``summary.json`` (the LLM teams and the model's name, no personas).

The measures, one row per group:

* **Brier**: the mean over the (team, question) rows of the predictions log of the group's teams
  (column ``brier``: per question, the mean daily Brier score over the question's life).
* **Skill** against the no-information forecaster: ``1 - Brier_group / Brier_noinfo``, with the
  no-information forecaster scored on the same rows' questions (paired: each question weighs as
  many times as the group has rows on it). 0 is "no better than the index path alone".
* **Intervals** for Brier and skill: a percentile bootstrap over questions. Questions are drawn
  with replacement (``n_boot`` resamples, 2,000 by default, from a seeded generator) and both
  measures recomputed on each resample, with the no-information forecaster on the same resample.
  Every group uses the same resamples, so intervals of different groups are paired too.
* **Revenue** and **profit**: per team, the sum over its sales in the trades log of ``price``
  (revenue) and of ``price - cost`` (profit: the price less the report's unit cost; research and
  call costs are not deducted); the group's value is the mean over its teams (teams that sold
  nothing count as 0), with a percentile bootstrap interval over the group's teams.
* **Funding share** at the end: the group's share of the last month's allocations, the
  ``funding`` rows of the budgets log at their last step (net of penalty cuts). ``fair_share``
  is the group's share of teams, what an even split would give.
* **Fallback rate** (LLM groups): days a team was decided by the heuristic instead of the
  model, over the team's decision days, summed over the group's teams, from the per-team
  accounting in ``summary.json`` (``llm.teams``). A decision day ends in one valid reply or one
  fallback, so decision days are ``calls - failures + fallbacks`` (each call is either accepted
  or counted as a failure), unless the accounting gives ``decisions`` itself. NaN for heuristic
  groups.

A run's files are read with :func:`league_frames`; a live model's logs with
:func:`frames_from_model`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..recording.columns import BUDGETS, CROWD_ID, MARKET_ID, NOINFO_ID, PREDICTIONS, ROSTER, TRADES

if TYPE_CHECKING:
    from ..model import MarketModel

N_BOOT = 2000
LEVEL = 0.95
HEURISTIC = "heuristic"
ALL_LLM = "llm:all"
# Reference forecasters of the predictions log, in the order they are listed.
REFERENCES = {CROWD_ID: "crowd", NOINFO_ID: "no information", MARKET_ID: "prediction market"}
# Elements of the resampled (groups, resamples, questions) arrays held at once.
_CHUNK_CELLS = 4_000_000

COLUMNS = (
    "group",
    "kind",
    "teams",
    "questions",
    "brier",
    "brier_lo",
    "brier_hi",
    "skill",
    "skill_lo",
    "skill_hi",
    "revenue",
    "revenue_lo",
    "revenue_hi",
    "profit",
    "profit_lo",
    "profit_hi",
    "funding_share",
    "fair_share",
    "decisions",
    "fallbacks",
    "fallback_rate",
)


@dataclass(frozen=True)
class LeagueFrames:
    """What a league table is computed from.

    Attributes:
        predictions: The predictions log.
        trades: The trades log.
        budgets: The budgets log.
        roster: One row per team: ``team`` and ``policy``, ``model``, ``persona``.
        llm_teams: The per-team LLM accounting of ``summary.json`` (``llm.teams``: team id as a
            string mapped to its counts), or None for a run without LLM teams.
    """

    predictions: pd.DataFrame
    trades: pd.DataFrame
    budgets: pd.DataFrame
    roster: pd.DataFrame
    llm_teams: dict[str, dict[str, Any]] | None = None


def frames_from_model(model: MarketModel) -> LeagueFrames:
    """The league's inputs from a model's logs and LLM accounting (for the run report)."""
    logs, policy = model.logs, model.policy
    # The policy as it is now, not the roster logged at construction: a test may swap it.
    described = [{"team": t.idx, **policy.describe_team(t.idx)} for t in model.teams]
    llm = policy.summary() if hasattr(policy, "summary") else None
    return LeagueFrames(
        logs[PREDICTIONS].to_frame(),
        logs[TRADES].to_frame(),
        logs[BUDGETS].to_frame(),
        pd.DataFrame(described, columns=["team", "policy", "model", "persona"]),
        None if llm is None else llm.get("teams", {}),
    )


def _roster_from_summary(summary: dict[str, Any]) -> pd.DataFrame:
    """A roster for a run written before the roster log: teams and LLM teams from the summary."""
    n = int(summary.get("parameters", {}).get("n_teams", 0))
    llm = summary.get("llm") or {}
    llm_ids = {int(t) for t in llm.get("llm_teams", [])}
    model = str((llm.get("config") or {}).get("model", ""))
    return pd.DataFrame(
        {
            "team": np.arange(n, dtype=np.int64),
            "policy": ["llm" if t in llm_ids else HEURISTIC for t in range(n)],
            "model": [model if t in llm_ids else "" for t in range(n)],
            "persona": [""] * n,
        }
    )


def league_frames(run_dir: str | Path) -> LeagueFrames:
    """Read the league's inputs from a run directory (what ``llm-market run`` writes).

    Raises:
        UsageError: ``run_dir`` is missing or is not a run directory.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise UsageError(f"{path}: no such directory")
    summary_path = path / "summary.json"
    if not summary_path.exists():
        raise UsageError(f"{path}: not a run directory (no summary.json)")
    missing = [n for n in (PREDICTIONS, TRADES, BUDGETS) if not (path / f"{n}.parquet").exists()]
    if missing:
        raise UsageError(f"{path}: not a run directory (no {missing[0]}.parquet)")
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, ValueError) as err:
        raise UsageError(f"{summary_path}: unreadable ({err})") from None
    roster_path = path / f"{ROSTER}.parquet"
    roster = pd.read_parquet(roster_path) if roster_path.exists() else _roster_from_summary(summary)
    llm = summary.get("llm")
    return LeagueFrames(
        pd.read_parquet(path / f"{PREDICTIONS}.parquet"),
        pd.read_parquet(path / f"{TRADES}.parquet"),
        pd.read_parquet(path / f"{BUDGETS}.parquet"),
        roster,
        None if llm is None else llm.get("teams", {}),
    )


def policy_groups(roster: pd.DataFrame) -> dict[str, np.ndarray]:
    """The team ids of each policy group, in the table's order.

    Heuristic teams first (any other non-LLM policy is a group of its own name), then the LLM
    groups by model and persona, then ``llm:all`` when there are several LLM groups.
    """
    groups: dict[str, list[int]] = {}
    llm: dict[str, list[int]] = {}
    for row in roster.sort_values("team").itertuples(index=False):
        if row.policy == "llm":
            label = f"llm:{row.model}" + (f"/{row.persona}" if row.persona else "")
            llm.setdefault(label, []).append(int(row.team))
        else:
            groups.setdefault(str(row.policy) or HEURISTIC, []).append(int(row.team))
    out = {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}
    out.update({k: np.asarray(v, dtype=np.int64) for k, v in sorted(llm.items())})
    if len(llm) > 1:
        out[ALL_LLM] = np.sort(np.concatenate([out[k] for k in llm]))
    return out


def _question_sums(
    predictions: pd.DataFrame, questions: np.ndarray, members: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Per member set and question: the sum of the rows' Brier scores and the number of rows."""
    q = np.searchsorted(questions, predictions["question"].to_numpy())
    brier = predictions["brier"].to_numpy(dtype=float)
    forecaster = predictions["forecaster"].to_numpy()
    sums = np.zeros((len(members), questions.size))
    counts = np.zeros((len(members), questions.size))
    for g, ids in enumerate(members):
        keep = np.isin(forecaster, ids) & np.isfinite(brier)
        sums[g] = np.bincount(q[keep], brier[keep], minlength=questions.size)
        counts[g] = np.bincount(q[keep], minlength=questions.size)
    return sums, counts


def _percentiles(x: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The lower and upper percentile bounds of each row of ``x`` (NaN resamples ignored)."""
    tail = 100 * (1 - level) / 2
    ok = np.isfinite(x).any(axis=-1)
    lo = np.full(x.shape[0], np.nan)
    hi = np.full(x.shape[0], np.nan)
    if ok.any():
        lo[ok], hi[ok] = np.nanpercentile(x[ok], [tail, 100 - tail], axis=-1)
    return lo, hi


def _forecast_measures(
    predictions: pd.DataFrame,
    members: list[np.ndarray],
    n_boot: int,
    rng: np.random.Generator,
    level: float,
) -> dict[str, np.ndarray]:
    """Brier, skill against the no-information forecaster and their bootstrap intervals."""
    questions = np.unique(predictions["question"].to_numpy())
    g = len(members)
    nan = np.full(g, np.nan)
    if questions.size == 0:
        names = ("brier", "brier_lo", "brier_hi", "skill", "skill_lo", "skill_hi")
        return {"questions": np.zeros(g, dtype=np.int64), **dict.fromkeys(names, nan)}
    sums, counts = _question_sums(predictions, questions, members)
    ni_sums, ni_counts = _question_sums(predictions, questions, [np.array([NOINFO_ID])])
    with np.errstate(invalid="ignore", divide="ignore"):
        noinfo = np.where(ni_counts[0] > 0, ni_sums[0] / ni_counts[0], np.nan)
    has_noinfo = np.isfinite(noinfo)
    # The no-information forecaster weighed like the group: once per row on each question.
    paired = counts * np.where(has_noinfo, noinfo, 0.0)
    paired_sums = sums * has_noinfo

    def measures(s, c, ps, pn):
        # Skill is 1 - (ps / n) / (pn / n) over the n rows on questions the reference scored.
        with np.errstate(invalid="ignore", divide="ignore"):
            return s / c, 1.0 - ps / pn

    brier, skill = measures(sums.sum(1), counts.sum(1), paired_sums.sum(1), paired.sum(1))
    n_q = questions.size
    boot_brier = np.empty((g, n_boot))
    boot_skill = np.empty((g, n_boot))
    chunk = max(1, _CHUNK_CELLS // (g * n_q))
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, n_q, size=(min(chunk, n_boot - start), n_q))
        take = slice(start, start + idx.shape[0])
        boot_brier[:, take], boot_skill[:, take] = measures(
            *(a[:, idx].sum(-1) for a in (sums, counts, paired_sums, paired))
        )
    brier_lo, brier_hi = _percentiles(boot_brier, level)
    skill_lo, skill_hi = _percentiles(boot_skill, level)
    return {
        "questions": (counts > 0).sum(1),
        "brier": brier,
        "brier_lo": brier_lo,
        "brier_hi": brier_hi,
        "skill": skill,
        "skill_lo": skill_lo,
        "skill_hi": skill_hi,
    }


def _mean_with_interval(
    values: np.ndarray, n_boot: int, rng: np.random.Generator, level: float
) -> tuple[float, float, float]:
    """The mean of per-team values and a percentile bootstrap interval over teams."""
    if values.size == 0:
        return np.nan, np.nan, np.nan
    idx = rng.integers(0, values.size, size=(n_boot, values.size))
    lo, hi = _percentiles(values[idx].mean(1)[None, :], level)
    return float(values.mean()), float(lo[0]), float(hi[0])


def team_earnings(trades: pd.DataFrame, teams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each team's revenue (sum of its sale prices) and profit (prices less unit costs)."""
    seller = trades["seller"].to_numpy()
    price = trades["price"].to_numpy(dtype=float)
    cost = trades["cost"].to_numpy(dtype=float)
    size = int(max(teams.max(initial=-1), seller.max(initial=-1))) + 1
    ok = seller >= 0
    revenue = np.bincount(seller[ok], price[ok], minlength=size)
    profit = np.bincount(seller[ok], (price - cost)[ok], minlength=size)
    return revenue[teams], profit[teams]


def final_funding(budgets: pd.DataFrame, n_teams: int) -> np.ndarray:
    """Each team's share of the last month's allocations (all zeros before any funding)."""
    funding = budgets[(budgets["kind"] == "funding") & (budgets["team"] >= 0)]
    out = np.zeros(n_teams)
    if funding.empty:
        return out
    last = funding[funding["step"] == funding["step"].max()]
    amount = np.bincount(last["team"].to_numpy(), last["amount"].to_numpy(), minlength=n_teams)
    total = amount.sum()
    return amount[:n_teams] / total if total > 0 else out


def _fallbacks(
    llm_teams: dict[str, dict[str, Any]] | None, teams: np.ndarray
) -> tuple[float, float, float]:
    """Decision days, fallbacks and their ratio over a group's teams (NaN without LLM stats)."""
    if llm_teams is None:
        return np.nan, np.nan, np.nan
    stats = [llm_teams[str(t)] for t in teams if str(t) in llm_teams]
    if not stats:
        return np.nan, np.nan, np.nan
    fallbacks = sum(int(s.get("fallbacks", 0)) for s in stats)
    decisions = sum(
        int(s["decisions"])
        if "decisions" in s
        else int(s.get("calls", 0)) - int(s.get("failures", 0)) + int(s.get("fallbacks", 0))
        for s in stats
    )
    rate = fallbacks / decisions if decisions > 0 else np.nan
    return float(decisions), float(fallbacks), rate


def league_table(
    source: str | Path | LeagueFrames,
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = LEVEL,
) -> pd.DataFrame:
    """Compare a run's policy groups on forecasting, earnings, funding and fallbacks.

    See the module's description for each measure.

    Args:
        source: A run directory, or :class:`LeagueFrames` (:func:`frames_from_model`).
        n_boot: Bootstrap resamples (of questions for Brier and skill, of teams for earnings).
        seed: Seed of the bootstrap's generator: one seed gives the same intervals.
        level: Coverage of the percentile intervals.

    Returns:
        One row per group (columns :data:`COLUMNS`), the team groups first (``kind`` is
        ``heuristic``, ``llm`` or ``llm_all``), then the reference forecasters present in the
        predictions log (``kind`` ``reference``; NaN beyond Brier and skill).

    Raises:
        UsageError: ``source`` is not a run directory.
        ValueError: ``n_boot`` is below 1 or ``level`` outside (0, 1).
    """
    if n_boot < 1:
        raise ValueError(f"n_boot: must be at least 1 (got {n_boot})")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: must be in (0, 1) (got {level})")
    frames = source if isinstance(source, LeagueFrames) else league_frames(source)
    groups = policy_groups(frames.roster)
    present = set(frames.predictions["forecaster"].unique().tolist())
    references = {label: np.array([fid]) for fid, label in REFERENCES.items() if fid in present}
    members = list(groups.values()) + list(references.values())
    # Independent streams for questions and teams, so that one never shifts the other's draws.
    question_rng, team_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)
    )
    forecasts = _forecast_measures(frames.predictions, members, n_boot, question_rng, level)
    n_teams = len(frames.roster)
    shares = final_funding(frames.budgets, n_teams)
    rows = []
    for g, (label, teams) in enumerate(groups.items()):
        kind = "llm_all" if label == ALL_LLM else "llm" if label.startswith("llm:") else HEURISTIC
        revenue, profit = team_earnings(frames.trades, teams)
        rev = _mean_with_interval(revenue, n_boot, team_rng, level)
        prof = _mean_with_interval(profit, n_boot, team_rng, level)
        decisions, fallbacks, rate = _fallbacks(frames.llm_teams, teams)
        if kind == HEURISTIC:
            decisions = fallbacks = rate = np.nan
        rows.append(
            {
                "group": label,
                "kind": kind,
                "teams": int(teams.size),
                **{k: v[g] for k, v in forecasts.items()},
                **dict(zip(("revenue", "revenue_lo", "revenue_hi"), rev, strict=True)),
                **dict(zip(("profit", "profit_lo", "profit_hi"), prof, strict=True)),
                "funding_share": float(shares[teams[teams < n_teams]].sum()),
                "fair_share": teams.size / n_teams if n_teams else np.nan,
                "decisions": decisions,
                "fallbacks": fallbacks,
                "fallback_rate": rate,
            }
        )
    for r, label in enumerate(references, start=len(groups)):
        rows.append(
            {"group": label, "kind": "reference", "teams": 0}
            | {k: v[r] for k, v in forecasts.items()}
        )
    table = pd.DataFrame(rows).reindex(columns=list(COLUMNS))
    table["questions"] = table["questions"].astype("int64")
    return table


__all__ = [
    "COLUMNS",
    "LeagueFrames",
    "final_funding",
    "frames_from_model",
    "league_frames",
    "league_table",
    "policy_groups",
    "team_earnings",
]
