"""The picture and the files of a stylized-facts report: ``facts.png`` and ``facts.json``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from ..stats.facts import FactsReport, stylized_facts, zero_return_share
from ..stats.sources import PriceSource


def plot_facts(report_or_returns: FactsReport | Any, path: str | Path) -> Path:
    """Draw the 2x3 stylized-facts figure and save it as a PNG.

    Panels: histogram of standardised returns against the normal density (log y); normal QQ
    plot; ACF of returns with white-noise and robust bands; ACF of ``|r|`` with the white-noise
    band; ACF of ``|r|`` on log-log axes with the fitted power law; excess kurtosis against the
    aggregation level. Uses a bare Agg-backed ``Figure``, so pyplot's global state and backend
    are untouched and nothing is shown.

    Args:
        report_or_returns: A :class:`FactsReport`, or anything :func:`stylized_facts` accepts
            as returns (GARCH is not fitted in that case since it is not plotted).
        path: A directory (the file is then ``path/facts.png``) or a file path ending in
            ``.png``.

    Returns:
        The path of the written file.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rep = (
        report_or_returns
        if isinstance(report_or_returns, FactsReport)
        else stylized_facts(report_or_returns, fit_garch=False)
    )
    out = Path(path)
    if out.suffix.lower() != ".png":
        out = out / "facts.png"
    out.parent.mkdir(parents=True, exist_ok=True)

    # Standardise each series on its own so seeds with different volatility line up.
    z = np.concatenate(
        [(s - s.mean()) / s.std() for s in rep.returns if s.size > 1 and s.std() > 0]
    )

    fig = Figure(figsize=(15, 9), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    title = f"Stylized facts: {rep.n_returns} returns"
    if rep.n_series > 1:
        title += f" pooled from {rep.n_series} series"
    fig.suptitle(title)

    ax = axes[0, 0]
    if z.size:
        lim = max(5.0, float(np.nanmax(np.abs(z))))
        ax.hist(z, bins=80, range=(-lim, lim), density=True, alpha=0.6, label="returns")
        grid = np.linspace(-lim, lim, 400)
        ax.plot(grid, stats.norm.pdf(grid), "k--", label="N(0, 1)")
        ax.set_yscale("log")
        ax.set_ylim(bottom=max(1e-5, 0.5 / z.size))
    ax.set_xlabel("standardised return")
    ax.set_ylabel("density (log scale)")
    ax.set_title(f"Distribution (excess kurtosis {rep.excess_kurtosis:.2f})")
    ax.legend()

    ax = axes[0, 1]
    if z.size:
        (osm, osr), _ = stats.probplot(z, dist="norm")
        ax.plot(osm, osr, ".", ms=2, label="returns")
        lim = float(max(np.abs(osm).max(), np.abs(osr).max()))
        ax.plot([-lim, lim], [-lim, lim], "k--", label="normal")
    ax.set_xlabel("normal quantile")
    ax.set_ylabel("standardised return quantile")
    hl, hr = rep.hill_tail_index["left"], rep.hill_tail_index["right"]
    ax.set_title(f"Normal QQ plot (Hill alpha L {hl:.2f}, R {hr:.2f})")
    ax.legend()

    lags = np.arange(rep.acf_returns.size)
    ax = axes[0, 2]
    ax.vlines(lags[1:], 0, rep.acf_returns[1:], color="C0", label="ACF(r)")
    ax.axhline(0, color="k", lw=0.5)
    ax.fill_between(lags[1:], -rep.band, rep.band, color="grey", alpha=0.3, label="white-noise 95%")
    ax.plot(lags[1:], rep.robust_band_returns[1:], "r:", label="robust 95%")
    ax.plot(lags[1:], -rep.robust_band_returns[1:], "r:")
    ax.set_xlabel("lag")
    ax.set_ylabel("autocorrelation")
    ax.set_title("ACF of returns")
    ax.legend()

    ax = axes[1, 0]
    ax.vlines(lags[1:], 0, rep.acf_abs_returns[1:], color="C1", label="ACF(|r|)")
    ax.axhline(0, color="k", lw=0.5)
    ax.fill_between(lags[1:], -rep.band, rep.band, color="grey", alpha=0.3, label="white-noise 95%")
    ax.set_xlabel("lag")
    ax.set_ylabel("autocorrelation")
    ax.set_title("ACF of absolute returns")
    ax.legend()

    ax = axes[1, 1]
    pos = rep.acf_abs_returns[1:] > 0
    ax.loglog(lags[1:][pos], rep.acf_abs_returns[1:][pos], "o", ms=3, color="C1", label="ACF(|r|)")
    pl = rep.power_law
    if math.isfinite(pl.beta):
        t = np.array(pl.lags, dtype=float)
        ax.loglog(t, pl.C * t ** (-pl.beta), "k--", label=f"{pl.C:.2f} tau^-{pl.beta:.2f}")
    ax.set_xlabel("lag tau")
    ax.set_ylabel("ACF(|r|)")
    ax.set_title(f"Decay of ACF(|r|) (R² {pl.r_squared:.2f})")
    ax.legend()

    ax = axes[1, 2]
    lv = sorted(rep.kurtosis_by_aggregation)
    ax.plot(lv, [rep.kurtosis_by_aggregation[v] for v in lv], "o-", label="returns")
    ax.axhline(0, color="k", ls="--", label="Gaussian")
    ax.set_xscale("log")
    ax.set_xticks(lv, [str(v) for v in lv])
    ax.set_xlabel("aggregation level (observations)")
    ax.set_ylabel("excess kurtosis")
    ax.set_title("Aggregational gaussianity")
    ax.legend()

    fig.savefig(out, dpi=100)
    return out


def write_facts(report: Any, src: PriceSource, out: Path) -> tuple[Path, Path]:
    """Write ``facts.json`` (the report plus where the data came from) and ``facts.png``.

    Returns:
        The paths of the two files.
    """
    out.mkdir(parents=True, exist_ok=True)
    data = report.to_dict()
    data["source"] = src.describe()
    data["zero_return_share"] = zero_return_share(report)
    path = out / "facts.json"
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    return path, plot_facts(report, out)
