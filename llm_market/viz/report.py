"""The run report: a one-page picture of a run, and the files a run writes.

``write_run`` is what ``llm-market run`` calls at the end (or on an interrupt): it writes the event
logs and the collected series as Parquet, ``summary.json`` and ``report.png``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..experiments.specs import code_fingerprint, overrides_key
from ..experiments.store import write_parquet
from ..recording.columns import (
    BUYER_SURPLUS,
    CE_PRICE,
    CROWD_BRIER,
    DEMAND_REGIME,
    EFFICIENCY,
    INDEX,
    MEAN_TEAM_BRIER,
    NOINFO_BRIER,
    PRICE,
    SELLER_SURPLUS,
    TEAM_ALLOCATION,
    TEAM_BRIER,
    VOLUME,
    good_column,
)
from ..recording.outputs import REPORT_FILE, SUMMARY_FILE, atomic_write, file_record, write_json
from .budgets import capital_history
from .forecasts import NOINFO_COLOR, rank_correlation
from .index_market import draw_price_vs_fundamental, draw_trader_mix, trader_frame
from .series import trade_price_range, window_revenue
from .style import ROLLING, VOLUME_WINDOW, principal_color

if TYPE_CHECKING:
    from ..model import MarketModel
    from ..recording.stream import RunStream


def team_frame(model: MarketModel) -> pd.DataFrame:
    """Team-level series collected by the model's DataCollector (one row per team and step)."""
    from ..agents import Team

    return model.datacollector.get_agenttype_vars_dataframe(Team).reset_index()


def plot_report(model: MarketModel, path: str | Path) -> Path:
    """Draw the run's report: prices, volumes, indices, Brier, budgets, efficiency, earnings.

    The fourth row asks whether a better forecast earns more (revenue against Brier) and shows each
    principal's capital. A run with more than one policy group (LLM teams beside heuristic ones)
    gets a fifth row: the league table's Brier and skill per group, with bootstrap intervals
    (:func:`~llm_market.stats.league.league_table`). A run whose index is traded
    (``index_process="market"``) gets a last row: index 0's price against its fundamental and
    its trader mix (:mod:`~llm_market.viz.index_market`).

    Args:
        model: A model that has run.
        path: Where to write the PNG.

    Returns:
        The path written.
    """
    df = model.datacollector.get_model_vars_dataframe()
    dc = model.datacollector
    # Only the two team series drawn: a long streamed run reads just those from its parts.
    teams = (
        dc.team_series([TEAM_BRIER, TEAM_ALLOCATION])
        if hasattr(dc, "team_series")
        else team_frame(model)
    )
    k = model.n_goods
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    league = _league(model)
    traded = trader_frame(model)  # the traded index's log (index_process="market")
    rows = 4 + (league is not None) + (traded is not None)
    # A bare Agg figure, not pyplot: drawing the report changes no global state (the backend).
    fig = Figure(figsize=(14, 4 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 2)
    p = model.params
    fig.suptitle(
        f"llm-market: scenario '{model.scenario_name}', seed {model.seed}, {model.day} days, "
        f"{p.n_teams} teams, {p.n_principals} principals, mechanism {p.mechanism}",
        fontsize=13,
    )

    ax = axes[0, 0]
    low, high = trade_price_range(model, len(df))
    for g in range(k):
        c = colors[g % len(colors)]
        lo = pd.Series(low[g], index=df.index).rolling(VOLUME_WINDOW, min_periods=1).mean()
        hi = pd.Series(high[g], index=df.index).rolling(VOLUME_WINDOW, min_periods=1).mean()
        ax.fill_between(df.index, lo, hi, color=c, alpha=0.15, lw=0)
        ax.plot(df.index, df[good_column(PRICE, g)], color=c, lw=1.2, label=f"good {g} close")
        ax.plot(df.index, df[good_column(CE_PRICE, g)], color=c, lw=0.8, ls="--", alpha=0.7)
    ax.fill_between([], [], [], color="gray", alpha=0.3, label="cheapest to dearest trade")
    # Reports valued by their seller's record differ by seller: no single competitive price.
    alike = "" if p.client_valuation == "induced" else " (while sellers are alike)"
    ax.plot([], [], color="gray", ls="--", label=f"competitive price{alike}")
    ax.set(
        title=f"Report prices: close, the day's range ({VOLUME_WINDOW}-day mean), competitive",
        xlabel="day",
        ylabel="price",
    )
    ax.legend(fontsize=8, ncol=2)

    ax = axes[0, 1]
    for g in range(k):
        vol = df[good_column(VOLUME, g)].rolling(VOLUME_WINDOW, min_periods=1).mean()
        ax.plot(df.index, vol, color=colors[g % len(colors)], lw=1, label=f"good {g}")
    ax.set(
        title=f"Volume (reports traded per day, {VOLUME_WINDOW}-day mean)",
        xlabel="day",
        ylabel="reports",
    )
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    for g in range(k):
        c = colors[g % len(colors)]
        ax.plot(df.index, df[good_column(INDEX, g)], color=c, lw=1.2, label=f"index {g}")
    regime = df[DEMAND_REGIME].to_numpy()
    top = ax.get_ylim()[1]
    ax.scatter(
        df.index,
        np.full(len(df), top),
        c=regime,
        cmap="coolwarm",
        marker="|",
        s=60,
        label="demand regime (blue low, red high)",
    )
    ax.set(title="Indices and the demand regime", xlabel="day", ylabel="level")
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    if not teams.empty:
        brier = teams.pivot(index="Step", columns="AgentID", values=TEAM_BRIER)
        ax.plot(brier.index, brier.to_numpy(), color="tab:gray", lw=0.6, alpha=0.5)
        ax.plot([], [], color="tab:gray", lw=0.6, label="each team")
    ax.plot(df.index, df[CROWD_BRIER], color="black", lw=2, label="crowd (mean forecast)")
    ax.plot(df.index, df[MEAN_TEAM_BRIER], color="tab:red", lw=1.5, label="mean of teams")
    ax.plot(
        df.index,
        df[NOINFO_BRIER],
        color=NOINFO_COLOR,
        lw=1.5,
        ls="-.",
        label="no information (the index path alone)",
    )
    base = model.scores.base_rate
    if np.isfinite(base):
        ax.axhline(base * (1 - base), color="tab:blue", ls=":", label="climatology (base rate)")
    ax.set(
        title=f"Rolling Brier score ({p.pivot_window}-day window; lower is better)",
        xlabel="day",
        ylabel="Brier score",
    )
    ax.legend(fontsize=8)

    ax = axes[2, 0]
    if not teams.empty:
        alloc = teams.pivot(index="Step", columns="AgentID", values=TEAM_ALLOCATION)
        shares = alloc.div(alloc.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)
        # Largest final share at the bottom, so the winners of the pivot are easy to see.
        order = np.argsort(-shares.iloc[-1].to_numpy())
        ax.stackplot(shares.index, shares.iloc[:, order].to_numpy().T, lw=0)
    ax.set(
        title=f"Share of research funding per team (HHI now {model.budget_hhi:.3f})",
        xlabel="day",
        ylabel="share of funding",
        ylim=(0, 1),
    )

    ax = axes[2, 1]
    ax.plot(
        df.index,
        df[EFFICIENCY].rolling(ROLLING, min_periods=1).mean(),
        color="tab:green",
        lw=1.5,
        label=f"allocative efficiency ({ROLLING}-day mean)",
    )
    ax.set(title="Efficiency and surplus", xlabel="day", ylabel="efficiency", ylim=(0, 1.05))
    axs = ax.twinx()
    for column, color, label in (
        (BUYER_SURPLUS, "tab:blue", "buyer surplus"),
        (SELLER_SURPLUS, "tab:orange", "seller surplus"),
    ):
        surplus = df[column].rolling(ROLLING, min_periods=1).mean()
        axs.plot(df.index, surplus, color=color, lw=1, label=label)
    axs.set_ylabel("surplus per day")
    lines = ax.get_legend_handles_labels()
    lines2 = axs.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="lower right")

    _earnings_panel(axes[3, 0], model)
    _capital_panel(axes[3, 1], model)
    if league is not None:
        _league_panels(axes[4, 0], axes[4, 1], league)
    if traded is not None:
        draw_price_vs_fundamental(axes[-1, 0], traded, 0)
        draw_trader_mix(axes[-1, 1], traded, 0)

    path = Path(path)
    fig.savefig(path, dpi=90)
    return path


def _earnings_panel(ax, model: MarketModel) -> None:
    """Revenue over the pivot window against each team's rolling Brier score."""
    window = model.params.pivot_window
    brier, revenue = model.team_brier, window_revenue(model, window)
    ok = np.isfinite(brier)
    colors = [principal_color(t.principal.idx) for t in model.teams]
    ax.scatter(brier[ok], revenue[ok], c=[c for c, keep in zip(colors, ok, strict=True) if keep])
    if np.isfinite(model.noinfo_brier):
        ax.axvline(model.noinfo_brier, color=NOINFO_COLOR, ls="-.", label="no information")
        ax.legend(fontsize=8)
    rho = rank_correlation(revenue[ok], -brier[ok]) if ok.sum() >= 3 else float("nan")
    ax.set(
        title=f"Revenue against Brier, last {window} days (rank correlation {rho:+.2f}; "
        "colour = principal)",
        xlabel="rolling Brier score (lower is better)",
        ylabel="revenue from reports",
    )


def _capital_panel(ax, model: MarketModel) -> None:
    """Each principal's capital over the run."""
    steps, capital = capital_history(model)
    x = np.append(steps, max(model.day, steps[-1]))
    for principal in model.principals:
        i = principal.idx
        y = np.append(capital[:, i], capital[-1, i])
        ax.step(x, y, where="post", color=principal_color(i), label=f"P{i}")
    ax.axhline(model.params.principal_capital, color="0.5", ls=":", label="starting capital")
    ax.set(title="Each principal's capital", xlabel="day", ylabel="capital")
    ax.legend(fontsize=8, ncol=2)


def _league(model: MarketModel) -> pd.DataFrame | None:
    """The run's league table, or None when every team follows one policy."""
    from ..stats.league import frames_from_model, league_table, policy_groups

    # The policies first: a one-policy run never reads its logs whole for a table it lacks.
    roster = pd.DataFrame(
        [{"team": t.idx, **model.policy.describe_team(t.idx)} for t in model.teams],
        columns=["team", "policy", "model", "persona"],
    )
    if len(policy_groups(roster)) < 2:
        return None
    return league_table(frames_from_model(model))


def _league_panels(ax_brier, ax_skill, league: pd.DataFrame) -> None:
    """Brier and skill against the no-information forecaster per group, with 95% intervals."""
    y = np.arange(len(league))[::-1]
    reference = (league["kind"] == "reference").to_numpy()
    colors = np.where(reference, "0.55", "tab:purple")
    colors[(league["kind"] == "heuristic").to_numpy()] = "tab:blue"
    for ax, name in ((ax_brier, "brier"), (ax_skill, "skill")):
        value = league[name].to_numpy(dtype=float)
        lo = league[f"{name}_lo"].to_numpy(dtype=float)
        hi = league[f"{name}_hi"].to_numpy(dtype=float)
        err = np.vstack([value - lo, hi - value])
        for i in range(len(league)):
            ax.errorbar(value[i], y[i], xerr=err[:, i : i + 1], fmt="o", color=colors[i], capsize=4)
        ax.set_yticks(y, league["group"])
    noinfo = league.loc[league["group"] == "no information", "brier"]
    if len(noinfo):
        ax_brier.axvline(noinfo.iloc[0], color=NOINFO_COLOR, ls="-.", label="no information")
        ax_brier.legend(fontsize=8)
    ax_brier.set(
        title="League: Brier score per group (95% bootstrap over questions)",
        xlabel="Brier score (lower is better)",
    )
    ax_skill.axvline(0.0, color=NOINFO_COLOR, ls="-.")
    # Funding and fallbacks under each team group's name: what the market and the endpoint made
    # of it.
    labels = []
    for row in league.itertuples(index=False):
        label = str(row.group)
        if row.kind != "reference":
            label += f"\nfunding {row.funding_share:.0%} (even {row.fair_share:.0%})"
            if np.isfinite(row.fallback_rate):
                label += f"\nfallbacks {row.fallback_rate:.0%}"
        labels.append(label)
    ax_skill.set_yticks(y, labels, fontsize=8)
    ax_skill.set(
        title="League: skill against no information (paired, 95% bootstrap)",
        xlabel="skill (1 - Brier / Brier of no information; higher is better)",
    )


def parameters_for_json(model: MarketModel) -> dict[str, Any]:
    """The run's parameters, JSON-serialisable (a passed-in graph is described, not dumped)."""
    out = model.params.model_dump()
    if not isinstance(out["network"], str):
        g = out["network"]
        out["network"] = f"custom graph ({g.number_of_nodes()} nodes, {g.number_of_edges()} edges)"
    return json.loads(json.dumps(out, default=list))


def write_run(
    model: MarketModel,
    out: str | Path,
    extra: dict[str, Any] | None = None,
    *,
    status: str = "complete",
    report: bool = True,
    stream: RunStream | None = None,
) -> Path:
    """Write a run's files into ``out``: Parquet logs and series, report.png, then summary.json.

    Every file is written atomically (:func:`~llm_market.recording.outputs.atomic_write`), and
    ``summary.json`` comes last and lists the files that belong to it with their sizes and
    SHA-256, so a reader can tell a complete set from files a later, killed write left. A
    checkpoint (``status="running"``, ``report=False``) skips the picture.

    Each Parquet file carries the run's ``key`` (see
    :func:`~llm_market.experiments.specs.overrides_key`), ``seed``, ``scenario``, ``steps``,
    ``package_version`` and ``code`` in its schema metadata; ``summary.json`` has the key too.

    Args:
        model: The model between steps (after its run, or at a checkpoint).
        out: Output directory (created if needed).
        extra: More keys for summary.json (for example, that the run was interrupted).
        status: ``summary.json``'s ``status``: running (a checkpoint), complete, interrupted,
            stopped.
        report: Also draw report.png.
        stream: The run's logs are streamed to parts in ``out``
            (:class:`~llm_market.recording.stream.RunStream`): a checkpoint writes only the
            rows since the last part, and the final write merges the parts into whole files.

    Returns:
        The path of summary.json.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final = status != "running"
    if stream is not None and final:
        model.digest()  # ends the streamed digest: the summary reads it
    summary = model.summary()
    # Every Parquet file carries the run's identity (key, seed, version) in its metadata.
    summary["key"] = overrides_key(model.scenario_name, model.params, model.seed)
    identity = {**summary, "code": code_fingerprint()}
    files: dict[str, dict[str, Any]] = {}

    def put(name: str, write) -> None:
        files[name] = file_record(atomic_write(out / name, write))

    if stream is not None:
        stream.write_files(identity, final, put, files)
    else:
        for name, log in model.logs.items():
            frame = log.to_frame()
            put(f"{name}.parquet", lambda p, f=frame: write_parquet(f, p, identity, index=False))
        model_frame = model.datacollector.get_model_vars_dataframe().rename_axis("step")
        put("model.parquet", lambda p: write_parquet(model_frame, p, identity))
        teams = team_frame(model)
        put("teams.parquet", lambda p: write_parquet(teams, p, identity, index=False))
    if report:
        put(REPORT_FILE, lambda p: plot_report(model, p))
    summary["parameters"] = parameters_for_json(model)
    summary["status"] = status
    summary["files"] = dict(sorted(files.items()))
    summary.update(extra or {})
    path = write_json(out / SUMMARY_FILE, summary)
    if stream is not None and final:
        stream.remove_parts()
    return path
