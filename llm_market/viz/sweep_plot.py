"""A sweep's metric against a parameter: the mean over seeds with a Student-t band.

``llm-market sweep-plot`` draws it with :func:`plot_sweep`; :func:`seed_bands` is the table
behind the picture.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..experiments.store import DIGEST, ID_COLUMNS, RESULTS_FILE, load_results
from ..params import Params


def _hashable(v: Any) -> Any:
    if hasattr(v, "tolist"):
        v = v.tolist()
    return json.dumps(v) if isinstance(v, list | dict) else v


def seed_bands(df, x: str, y: str, hue: str | None = None, level: float = 0.95):
    """Mean of ``y`` over seeds per (hue, x), with a Student-t confidence interval.

    The interval is ``mean ± t(1 - (1 - level)/2, n - 1) · sd / √n`` over the seeds' values (NaN
    with fewer than two seeds).

    Args:
        df: Results (from :func:`~llm_market.experiments.store.load_results`).
        x: Parameter on the horizontal axis.
        y: Metric.
        hue: Parameter drawn as one line per value, or None.
        level: Confidence level.

    Returns:
        A ``pandas.DataFrame`` with columns ``hue``, ``x``, ``n``, ``mean``, ``lo``, ``hi``.
    """
    import numpy as np
    import pandas as pd
    from scipy import stats

    data = pd.DataFrame(
        {
            "x": df[x].map(_hashable),
            "hue": df[hue].map(_hashable) if hue else "",
            "y": pd.to_numeric(df[y], errors="coerce"),
        }
    ).dropna(subset=["y"])
    rows = []
    for (h, xv), group in data.groupby(["hue", "x"], sort=True):
        v = group["y"].to_numpy(dtype=float)
        n, mean = len(v), float(np.mean(v))
        half = np.nan
        if n > 1:
            half = float(stats.t.ppf(0.5 + level / 2, n - 1) * np.std(v, ddof=1) / np.sqrt(n))
        rows.append({"hue": h, "x": xv, "n": n, "mean": mean, "lo": mean - half, "hi": mean + half})
    return pd.DataFrame(rows, columns=["hue", "x", "n", "mean", "lo", "hi"])


def plot_sweep(
    out: str | Path,
    x: str,
    y: str,
    hue: str | None = None,
    where: dict[str, Any] | None = None,
    path: str | Path | None = None,
    logx: bool = False,
):
    """Draw a metric against a parameter, mean over seeds with a 95% t-interval band.

    Args:
        out: The sweep directory.
        x: Parameter on the horizontal axis.
        y: Metric on the vertical axis.
        hue: Parameter drawn as one line per value.
        where: Keep only runs with these parameter values (``{"network": "none"}``).
        path: Where to write the PNG (default ``out/sweep_<y>_vs_<x>.png``).
        logx: Use a logarithmic x axis (numeric x only).

    Returns:
        The PNG's path and the table drawn (see :func:`seed_bands`).

    Raises:
        UsageError: No results, an unknown column, or another parameter varies as well (the
            band would mix it with the seeds).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out = Path(out)
    df = load_results(out)
    if df.empty:
        raise UsageError(f"{out}: no results yet (run `llm-market sweep SPEC --out {out}`)")
    params = [c for c in df.columns if c in Params.model_fields or c in ("scenario", "steps")]
    metrics = [
        c
        for c in df.columns
        if c not in params and c not in (*ID_COLUMNS, DIGEST, "package_version")
    ]
    for flag, name, pool in (("--x", x, params), ("--hue", hue, params), ("--y", y, metrics)):
        if name is not None and name not in pool:
            raise UsageError(f"{flag} {name}: not in {out}/{RESULTS_FILE}; choose from {pool}")
    for key, value in (where or {}).items():
        if key not in params:
            raise UsageError(f"--where {key}: not a parameter of this sweep; choose from {params}")
        keep = df[key].map(_hashable) == _hashable(value)
        if not keep.any():
            values = sorted({str(_hashable(v)) for v in df[key]})
            raise UsageError(f"--where {key}={value}: no run has it; values: {', '.join(values)}")
        df = df[keep]
    others = [
        p for p in params if p not in (x, hue) and df[p].map(_hashable).nunique(dropna=False) > 1
    ]
    if others:
        raise UsageError(
            f"{', '.join(others)} also vary in {out}: fix them with --where NAME=VALUE or draw "
            "one with --hue, so the band is over seeds only"
        )
    table = seed_bands(df, x, y, hue)
    numeric = bool(table["x"].map(lambda v: isinstance(v, int | float)).all())
    xs_all = sorted(table["x"].unique(), key=lambda v: (0, v) if numeric else (1, str(v)))
    pos = {v: (float(v) if numeric else i) for i, v in enumerate(xs_all)}
    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    for h, group in table.groupby("hue", sort=True):
        group = group.assign(p=group["x"].map(pos)).sort_values("p")
        label = str(h) if hue else f"mean over seeds (n = {group['n'].max()})"
        line = ax.plot(group["p"], group["mean"], marker="o", lw=1.6, label=label)[0]
        ax.fill_between(
            group["p"], group["lo"], group["hi"], color=line.get_color(), alpha=0.2, lw=0
        )
    if not numeric:
        ax.set_xticks([pos[v] for v in xs_all], [str(v) for v in xs_all])
    elif logx:
        if min(xs_all) <= 0:
            raise UsageError(f"--logx: {x} has values <= 0")
        ax.set_xscale("log")
        ax.set_xticks(xs_all, [f"{v:g}" for v in xs_all])
        ax.set_xticks([], minor=True)
    n_seeds = df["seed"].nunique()
    ax.set(xlabel=x, ylabel=y)
    # Two lines: metric names are long, and one line ran off the figure.
    ax.set_title(f"{y} against {x}\nmean over {n_seeds} seeds, 95% t-interval band", fontsize=10)
    if np.isfinite(table["mean"]).any():
        ax.legend(title=hue, fontsize=9)
    ax.grid(alpha=0.3)
    path = Path(path) if path else out / f"sweep_{y}_vs_{x}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path, table
