"""Runs side by side: what the app keeps of each run, the comparison table and the downloads.

Every classroom demo is a comparison (cheap against dear research, herding or not), so the app
keeps each run made since the page opened as a :class:`RunRecord`: a label, the settings that
differ from its scenario, headline results, and the model itself (a finished run no longer
changes, so it is a consistent snapshot to overlay on a chart or to export).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..params import make_params
from ..recording.columns import (
    CROWD_BRIER,
    EFFICIENCY,
    MEAN_TEAM_BRIER,
    NOINFO_BRIER,
    PRICE,
    VOLUME,
)
from .series import series_by_good

if TYPE_CHECKING:
    import pandas as pd

    from ..model import MarketModel

# Columns of the comparison table, in order.
RESULT_COLUMNS = (
    "days",
    "mean efficiency",
    "mean close",
    "reports a day",
    "Brier crowd",
    "Brier mean team",
    "Brier no info",
)


def changed_settings(model: MarketModel) -> dict[str, Any]:
    """The run's parameters that differ from its scenario's (what the teacher changed)."""
    preset = make_params(model.scenario_name).model_dump()
    mine = model.params.model_dump()
    return {k: v for k, v in mine.items() if preset.get(k) != v and k != "seed"}


def results(model: MarketModel) -> dict[str, float]:
    """Headline results of a run so far: its means over the days traded and its latest scores."""
    (eff, crowd, team, noinfo), (price, volume) = series_by_good(
        model, (EFFICIENCY, CROWD_BRIER, MEAN_TEAM_BRIER, NOINFO_BRIER), (PRICE, VOLUME)
    )

    def mean(x: np.ndarray) -> float:
        x = x[1:][np.isfinite(x[1:])]  # day 0 has no trading
        return float(x.mean()) if x.size else float("nan")

    def last(x: np.ndarray) -> float:
        return float(x[-1]) if x.size else float("nan")

    return {
        "days": float(model.day),
        "mean efficiency": mean(eff),
        "mean close": float(np.nanmean([mean(p) for p in price])) if price else float("nan"),
        "reports a day": float(sum(mean(v) for v in volume)) if volume else float("nan"),
        "Brier crowd": last(crowd),
        "Brier mean team": last(team),
        "Brier no info": last(noinfo),
    }


@dataclass
class RunRecord:
    """One run of the page: its label, what it was, and the model (frozen once superseded).

    Attributes:
        number: The run's number on this page (1 for the first).
        model: The model.
        label: ``run N: scenario, seed S`` and the settings changed from the scenario.
    """

    number: int
    model: MarketModel
    label: str = field(default="")

    def __post_init__(self):
        if not self.label:
            self.label = run_label(self.number, self.model)


def run_label(number: int, model: MarketModel) -> str:
    """A short name for a run: its number, scenario, seed and what differs from the scenario."""
    changed = changed_settings(model)
    shown = ", ".join(f"{k}={_short(v)}" for k, v in list(changed.items())[:3])
    more = f" +{len(changed) - 3}" if len(changed) > 3 else ""
    extra = f" · {shown}{more}" if shown else ""
    return f"run {number}: {model.scenario_name}, seed {model.seed}{extra}"


def _short(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def comparison_rows(records: list[RunRecord]) -> list[dict[str, str]]:
    """One row per run: label, mechanism, changed settings and results, formatted."""
    rows = []
    for r in records:
        res = results(r.model)
        changed = changed_settings(r.model)
        row = {
            "run": r.label.split(":")[0],
            "scenario": r.model.scenario_name,
            "seed": str(r.model.seed),
            "mechanism": r.model.params.mechanism,
            "changed": ", ".join(f"{k}={_short(v)}" for k, v in changed.items()) or "–",
        }
        for name in RESULT_COLUMNS:
            x = res[name]
            if not np.isfinite(x):
                row[name] = "–"
            elif name == "days":
                row[name] = f"{int(x)}"
            elif name == "mean efficiency":
                row[name] = f"{x:.1%}"
            elif name.startswith("Brier"):
                row[name] = f"{x:.3f}"
            else:
                row[name] = f"{x:.2f}"
        rows.append(row)
    return rows


def series_frame(model: MarketModel) -> pd.DataFrame:
    """The run's collected model series, one row per day (row 0: before the first day)."""
    frame = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    return frame[["day", *(c for c in frame.columns if c != "day")]]


def series_csv(model: MarketModel) -> bytes:
    """The run's series as CSV, the day first."""
    return series_frame(model).to_csv(index=False).encode()


def logs_zip(model: MarketModel, fmt: str = "csv") -> bytes:
    """A zip of the run's series and event logs, one file each, as ``csv`` or ``parquet``."""
    frames = {"series": series_frame(model)}
    frames.update({name: log.to_frame() for name, log in model.logs.items()})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, frame in frames.items():
            if fmt == "csv":
                z.writestr(f"{name}.csv", frame.to_csv(index=False))
            elif fmt == "parquet":
                buf = io.BytesIO()
                frame.to_parquet(buf, index=False)
                z.writestr(f"{name}.parquet", buf.getvalue())
            else:
                raise ValueError(f"format must be 'csv' or 'parquet' (got {fmt!r})")
    return out.getvalue()
