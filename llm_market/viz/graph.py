"""The social-graph view: teams on their network (or around their principals), filled by a metric.

Teams are ringed in their principal's colour and filled by their share of funding, their Brier
score or their latest forecast on one open question (:data:`COLOR_BY`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib
import networkx as nx
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .budgets import current_shares
from .chart import Chart
from .style import nice_ceil, principal_color

if TYPE_CHECKING:
    from ..model import MarketModel

COLOR_BY = ("budget share", "Brier score", "forecast")


def graph_question(model: MarketModel) -> int | None:
    """Row of the open question the graph colours teams by: the oldest, longest one.

    The oldest question has the most days of forecasts and so shows herding best.
    """
    q = model.questions
    if not len(q):
        return None
    order = np.lexsort((-q.horizon, q.open_day))
    return int(order[0])


def graph_layout(model: MarketModel) -> dict[str, Any]:
    """Positions of teams (and of principals when there is no social graph).

    With a social graph, the layout is the graph's own (spring layout, seeded by the run's seed)
    so its structure is what the eye sees. Without one, each principal sits in the middle of a
    ring of its teams, which shows who funds whom.
    """
    n, k = model.n_teams, len(model.principals)
    if model.graph is not None:
        pos = nx.spring_layout(model.graph, seed=model.seed, iterations=60)
        xy = np.array([pos[i] for i in range(n)])
        edges = np.array(list(model.graph.edges()), dtype=int).reshape(-1, 2)
        return {"team_xy": xy, "edges": edges, "principal_xy": None}
    angle = 2 * np.pi * np.arange(k) / k + np.pi / 2
    centre = np.c_[np.cos(angle), np.sin(angle)] * (0.0 if k == 1 else 1.0)
    xy = np.zeros((n, 2))
    radius = 0.42 if k > 1 else 0.9
    for p, principal in enumerate(model.principals):
        m = len(principal.teams)
        a = 2 * np.pi * np.arange(m) / max(m, 1)
        for j, team in enumerate(principal.teams):
            xy[team.idx] = centre[p] + radius * np.array([np.cos(a[j]), np.sin(a[j])])
    return {"team_xy": xy, "edges": np.zeros((0, 2), dtype=int), "principal_xy": centre}


class GraphChart(Chart):
    """Teams on the social graph, filled by a metric, ringed in their principal's colour.

    Options of :meth:`update`: ``color_by`` is ``"budget share"`` (this month's share of all
    funding), ``"Brier score"`` (rolling, lower is better) or ``"forecast"`` (each team's latest
    probability on the oldest open question, where neighbours that herd look alike).
    """

    height = 6.2
    width = 8.6  # the layout is about square: a narrower figure wastes less of the page

    def build(self, model: MarketModel) -> None:
        """Lay out the graph once; edges, principals, rings and the legend never change."""
        fig = self.fig
        lay = graph_layout(model)
        self.xy, pxy = lay["team_xy"], lay["principal_xy"]
        self.ax = fig.add_axes((0.01, 0.02, 0.66, 0.84))
        self.cax = fig.add_axes((0.7, 0.12, 0.02, 0.6))
        self.keep_axes = {self.cax}
        self.ax.set_axis_off()
        n = model.n_teams
        self.size = 240 if n <= 30 else (120 if n <= 60 else 60)
        if lay["edges"].size:
            self.ax.add_collection(
                LineCollection(
                    self.xy[lay["edges"]], colors="0.55", linewidths=0.8, alpha=0.7, zorder=1
                )
            )
        if pxy is not None:
            spokes = [(pxy[t.principal.idx], self.xy[t.idx]) for t in model.teams]
            self.ax.add_collection(
                LineCollection(spokes, colors="0.7", linewidths=0.8, linestyles=":", zorder=1)
            )
            self.ax.scatter(
                pxy[:, 0],
                pxy[:, 1],
                marker="s",
                s=420,
                zorder=2,
                edgecolors="k",
                c=[principal_color(p.idx) for p in model.principals],
            )
            for p in model.principals:
                self.ax.text(
                    *pxy[p.idx],
                    f"P{p.idx}",
                    ha="center",
                    va="center",
                    color="white",
                    fontsize=8,
                    fontweight="bold",
                    zorder=3,
                )
        # The principal's colour is a ring behind the team's fill, with a white gap between, so
        # a fill of a similar colour never hides who owns the team.
        self.ax.scatter(
            self.xy[:, 0],
            self.xy[:, 1],
            s=self.size * 1.9,
            c=[principal_color(t.principal.idx) for t in model.teams],
            linewidths=0,
            zorder=2,
        )
        pts = self.xy if pxy is None else np.vstack([self.xy, pxy])
        span = np.ptp(pts, axis=0).max() or 1.0
        lo, hi = pts.min(axis=0) - 0.1 * span, pts.max(axis=0) + 0.1 * span
        self.ax.set_xlim(lo[0], hi[0])
        self.ax.set_ylim(lo[1], hi[1])
        self.ax.set_aspect("equal", adjustable="box")
        self.mappable = ScalarMappable(mcolors.Normalize(0, 1), "viridis")
        self.cbar = fig.colorbar(self.mappable, cax=self.cax)
        self._scale: tuple = ()
        self.cbar.ax.tick_params(labelsize=8)
        net = model.params.network if isinstance(model.params.network, str) else "custom"
        structure = (
            "No social graph: each principal (square) sits among the teams it funds"
            if pxy is not None
            else f"Social graph '{net}': lines join neighbours, who share news and herd"
        )
        fig.text(0.01, 0.935, structure, fontsize=8.5, va="top", color="0.3")
        self.heading = fig.text(0.01, 0.975, "", fontsize=10, va="top")
        handles = [
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                mfc="white",
                mec=principal_color(p.idx),
                mew=3,
                ms=11,
                label=f"P{p.idx}'s teams",
            )
            for p in model.principals
        ]
        handles += [
            Line2D([], [], marker="o", ls="", mfc="white", mec="0.6", ms=11, label="no value yet"),
            Line2D([], [], marker="x", ls="", color="k", label="defunded (exited)"),
        ]
        fig.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(0.8, 0.8),
            fontsize=8,
            frameon=False,
            title="ring = principal",
            title_fontsize=8,
        )

    def draw(self, model: MarketModel, color_by: str = "budget share", **options: Any) -> None:
        """Fill the teams by ``color_by``."""
        values, cmap, norm, label, what = graph_values(model, color_by)
        xy, ax = self.xy, self.ax
        finite = np.isfinite(values)
        fill = np.full((model.n_teams, 4), 1.0)
        cm = matplotlib.colormaps[cmap]
        fill[finite] = cm(norm(values[finite]))
        ax.scatter(
            xy[:, 0], xy[:, 1], c=fill, s=self.size, edgecolors="white", linewidths=1.6, zorder=3
        )
        if model.n_teams <= 40:
            for i in range(model.n_teams):
                ax.text(
                    xy[i, 0],
                    xy[i, 1],
                    str(i),
                    ha="center",
                    va="center",
                    fontsize=7,
                    zorder=4,
                    color="k" if _luminance(fill[i]) > 0.55 else "white",
                )
        inactive = ~model.active
        if inactive.any():
            ax.scatter(
                xy[inactive, 0], xy[inactive, 1], marker="x", c="k", s=self.size * 0.8, zorder=5
            )
        if self._scale != (cmap, norm.vmin, norm.vmax, label):
            self._scale = (cmap, norm.vmin, norm.vmax, label)
            self.mappable.set_cmap(cmap)
            self.mappable.set_norm(norm)
            self.cbar.update_normal(self.mappable)
            self.cbar.set_label(label, fontsize=9)
        self.heading.set_text(f"Teams coloured by {what}")

    def extra_key(self) -> tuple:
        """The colour scale."""
        return self._scale


def _luminance(rgba) -> float:
    r, g, b = rgba[:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def graph_values(model: MarketModel, color_by: str):
    """Values, colormap, norm, colorbar label and description for colouring the graph's teams."""
    if color_by == "Brier score":
        b = model.team_brier.copy()
        b[~model.active] = np.nan
        top = nice_ceil(max(0.3, float(np.nanmax(b)))) if np.isfinite(b).any() else 0.3
        return (
            b,
            "RdYlGn_r",
            mcolors.Normalize(0, top),
            f"Brier score, last {model.params.pivot_window} days (lower is better)",
            "rolling Brier score (green is good)",
        )
    if color_by == "forecast":
        row = graph_question(model)
        if row is None:
            return (
                np.full(model.n_teams, np.nan),
                "RdBu",
                mcolors.Normalize(0, 1),
                "probability",
                "forecast (no question is open)",
            )
        q = model.questions
        f = q.last_forecasts()[row, : model.n_teams].copy()
        f[~model.active] = np.nan
        what = (
            f"their latest forecast that index {q.index[row]} closes at or above "
            f"{q.strike[row]:.1f} on day {q.resolve_day[row]}"
        )
        return f, "RdBu", mcolors.Normalize(0, 1), "probability (the team's latest forecast)", what
    share = current_shares(model)
    share[~model.active] = np.nan
    biggest = float(np.nanmax(share)) if np.isfinite(share).any() else 0.0
    top = nice_ceil(max(biggest, 2 / model.n_teams))
    return (
        share,
        "viridis",
        mcolors.Normalize(0, top),
        "share of this month's funding",
        "share of this month's research funding",
    )


def graph_figure(model: MarketModel, color_by: str = "budget share") -> Figure:
    """Teams on the social graph (see :class:`GraphChart`)."""
    return GraphChart(model).update(model, color_by=color_by)
