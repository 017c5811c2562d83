"""The picture of a sensitivity analysis: Sobol indices, Morris screening or regression bars.

``llm-market sensitivity`` draws it with :func:`plot_sensitivity` from the result of
:func:`~llm_market.experiments.sensitivity.analyze_sweep`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..experiments.designs import Sensitivity


def plot_sensitivity(result: Sensitivity, path: str | Path) -> Path:
    """Draw the indices of one metric with their 95% intervals and write a PNG.

    - Sobol: first-order (``S1``) and total (``ST``) indices side by side per parameter, the
      parameters ordered by ``ST``;
    - Morris: ``mu*`` against ``sigma`` (the usual screening plot: far right matters, high up
      means nonlinear or interacting), ``mu*`` with its interval;
    - LHS: standardized regression coefficients, ordered by size, with the fit's R².

    Args:
        result: The analysis.
        path: The PNG to write.

    Returns:
        The path written.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = result.table
    height = 5.0 if result.method == "morris" else 1.6 + 0.55 * len(table)
    fig = Figure(figsize=(8, height), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    runs = f"{result.points} points x {result.seeds} seed{'s' if result.seeds != 1 else ''}"
    if result.method == "sobol":
        t = table.sort_values("ST")
        y = np.arange(len(t))
        h = 0.38
        err = {"capsize": 3, "ecolor": "0.25", "elinewidth": 1}
        ax.barh(
            y + h / 2,
            t["ST"],
            h,
            xerr=t["ST_conf"],
            error_kw=err,
            label="total (ST)",
            color="tab:blue",
        )
        ax.barh(
            y - h / 2,
            t["S1"],
            h,
            xerr=t["S1_conf"],
            error_kw=err,
            label="first order (S1)",
            color="tab:orange",
        )
        ax.set_yticks(y, t.index)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_xlabel("Sobol index (share of the output's variance)")
        ax.legend(loc="lower right", fontsize=8)
        title = "Sobol indices"
    elif result.method == "morris":
        ax.errorbar(
            table["mu_star"],
            table["sigma"],
            xerr=table["mu_star_conf"],
            fmt="o",
            capsize=3,
            color="tab:blue",
        )
        for name, row in table.iterrows():
            ax.annotate(
                name, (row["mu_star"], row["sigma"]), textcoords="offset points", xytext=(5, 4)
            )
        ax.set_xlabel("mu* (mean absolute elementary effect)")
        ax.set_ylabel("sigma (spread of the elementary effects)")
        ax.set_xlim(0, float((table["mu_star"] + table["mu_star_conf"]).max()) * 1.1)
        ax.set_ylim(0, float(table["sigma"].max()) * 1.15)
        title = "Morris screening"
    else:
        t = table.reindex(table["src"].abs().sort_values().index)
        y = np.arange(len(t))
        colors = ["tab:blue" if v >= 0 else "tab:red" for v in t["src"]]
        ax.barh(y, t["src"], xerr=t["src_conf"], color=colors, error_kw={"capsize": 3})
        ax.set_yticks(y, t.index)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_xlabel("standardized regression coefficient")
        title = f"Standardized regression coefficients (R² = {result.r_squared:.2f})"
    ax.set_title(f"{result.metric}: {title}, 95% intervals ({runs})", fontsize=10)
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path
