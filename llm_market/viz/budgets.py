"""The budgets view: funding shares per team, their concentration, and the principals' capital.

Both histories are read from the budget log, which books every transfer: between a principal and
its teams (``team >= 0``), and the principal's own flows (``team == -1``: dividends paid out and
capital moved by investors).
"""

from __future__ import annotations

import colorsys
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib import colors as mcolors
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..recording.columns import BUDGET_GINI, BUDGET_HHI, BUDGETS, DAY
from .chart import Chart
from .series import series
from .style import day_panels, principal_color, set_day_xlim, set_ylim

if TYPE_CHECKING:
    from ..model import MarketModel

GINI_COLOR = "#8e24aa"


def funding_shares(model: MarketModel) -> tuple[np.ndarray, np.ndarray]:
    """Each team's share of the research funding, at every funding round.

    Returns:
        ``(steps, shares)``: the steps of the funding rounds and an array (rounds x teams) of
        each team's share of that round's total. Read from the budget log, which has every
        transfer, so no history is rebuilt from the DataCollector.
    """
    log = model.logs[BUDGETS]
    # A principal's own rows (team -1) are never funding, but say so rather than trust it.
    funding = (log.column("kind") == "funding") & (log.column("team") >= 0)
    step = log.column("step")[funding]
    team = log.column("team")[funding]
    amount = log.column("amount")[funding]
    rounds, row = np.unique(step, return_inverse=True)
    alloc = np.zeros((rounds.size, model.n_teams))
    np.add.at(alloc, (row, team), amount)
    total = alloc.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(total > 0, alloc / total, 0.0)
    return rounds, shares


def capital_history(model: MarketModel) -> tuple[np.ndarray, np.ndarray]:
    """Each principal's capital after every day on which it changed, rebuilt from the budget log.

    Returns:
        ``(steps, capital)``: the steps at which some capital changed, starting with 0 (the
        starting capital), and an array (len(steps) x principals) of the capital after each.
    """
    log = model.logs[BUDGETS]
    step, principal = log.column("step"), log.column("principal")
    amount, team, kind = log.column("amount"), log.column("team"), log.column("kind")
    # The log's sign is the money's direction for the row's subject: into the team for a team
    # row, into the principal for its own rows (team -1). A penalty cut is booked against the
    # team's allocation (negative) but is paid out of the principal's capital.
    change = np.where((team >= 0) & (kind != "penalty_cut"), -amount, amount)
    steps, row = np.unique(np.r_[0, step], return_inverse=True)
    flows = np.zeros((steps.size, len(model.principals)))
    np.add.at(flows, (row[1:], principal), change)
    return steps, model.params.principal_capital + np.cumsum(flows, axis=0)


def current_shares(model: MarketModel) -> np.ndarray:
    """Each team's share of this month's research funding."""
    alloc = np.array([t.monthly_allocation for t in model.teams])
    total = alloc.sum()
    return alloc / total if total > 0 else np.zeros_like(alloc)


def team_colors(model: MarketModel) -> dict[int, str]:
    """A colour per team: its principal's hue, lighter or darker per team so teams separate."""
    out = {}
    for principal in model.principals:
        hue, _, sat = colorsys.rgb_to_hls(*mcolors.to_rgb(principal_color(principal.idx)))
        n = len(principal.teams)
        for j, team in enumerate(principal.teams):
            light = 0.3 + 0.45 * (j / max(n - 1, 1))
            out[team.idx] = mcolors.to_hex(colorsys.hls_to_rgb(hue, light, sat))
    return out


class BudgetChart(Chart):
    """Each team's share of research funding over time, its concentration, and capital."""

    height = 7.4

    def build(self, model: MarketModel) -> None:
        """Stacked shares, HHI and Gini, and capital; principals in the legend."""
        self.ax, self.axc, self.axk = day_panels(
            self.fig,
            (2.4, 1, 1.3),
            (
                "Share of research funding per team (set at each month end; teams "
                "grouped by principal)",
                "share of funding",
            ),
            ("Concentration of funding", "index"),
            (
                "Each principal's capital (it funds a share of it, collects its teams' profits, "
                "pays dividends, gains or loses investors)",
                "capital",
            ),
            right=0.8,
        )
        self.fig.subplots_adjust(top=0.95, bottom=0.07)
        self.axk.axhline(model.params.principal_capital, color="0.5", lw=1, ls=":")
        self.axk.legend(
            handles=[Line2D([], [], color="0.5", lw=1, ls=":", label="starting capital")],
            fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.05),
            frameon=False,
        )
        self.ax.set_ylim(0, 1)
        handles = [
            Patch(
                color=principal_color(pr.idx), label=f"principal P{pr.idx} ({len(pr.teams)} teams)"
            )
            for pr in model.principals
        ]
        self.ax.legend(
            handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False
        )
        self.axc.axhline(1 / model.n_teams, color="0.5", lw=1, ls=":")
        self.axc.legend(
            handles=[
                Line2D([], [], color="k", lw=1.3, label="HHI"),
                Line2D([], [], color=GINI_COLOR, lw=1.3, label="Gini"),
                Line2D([], [], color="0.5", lw=1, ls=":", label="HHI if shares were equal"),
            ],
            fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.05),
            frameon=False,
        )
        colors = team_colors(model)
        # Teams grouped by principal, so each principal's block of the stack is one hue.
        self.order = [t.idx for pr in model.principals for t in pr.teams]
        self.colors = [colors[i] for i in self.order]

    def draw(self, model: MarketModel, **options: Any) -> None:
        """Stack the funding rounds up to today."""
        day, hhi, gini = series(model, DAY, BUDGET_HHI, BUDGET_GINI)
        rounds, shares = funding_shares(model)
        if rounds.size:
            x = np.append(rounds, max(float(day[-1]), rounds[-1] + 1.0))
            y = np.vstack([shares, shares[-1:]])[:, self.order].T
            self.ax.stackplot(x, y, colors=self.colors, step="post", lw=0.3, edgecolor="white")
        self.axc.plot(day, hhi, color="k", lw=1.3)
        self.axc.plot(day, gini, color=GINI_COLOR, lw=1.3)
        set_ylim(self.axc, hhi, gini, [1 / model.n_teams, 0.25], bottom=0.0, pad=0.15)
        steps, capital = capital_history(model)
        x = np.append(steps, max(float(day[-1]), steps[-1]))
        for principal in model.principals:
            self.axk.step(
                x,
                np.append(capital[:, principal.idx], capital[-1, principal.idx]),
                where="post",
                color=principal_color(principal.idx),
                lw=1.4,
            )
        set_ylim(self.axk, capital, [model.params.principal_capital], bottom=0.0, pad=0.1)
        set_day_xlim(self.axk, day)


def budget_figure(model: MarketModel) -> Figure:
    """Funding shares, their concentration and capital over time (see :class:`BudgetChart`)."""
    return BudgetChart(model).update(model)
