"""The headline numbers shown above the app's views."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..recording.columns import (
    BUDGET_HHI,
    CROWD_BRIER,
    EFFICIENCY,
    MEAN_TEAM_BRIER,
    NOINFO_BRIER,
    PRICE,
    VOLUME,
)
from .series import series_by_good

if TYPE_CHECKING:
    from ..model import MarketModel


def headline(model: MarketModel) -> list[tuple[str, str]]:
    """The numbers shown above the views: ``(label, value)`` pairs, values formatted."""
    latest, (volumes, prices) = series_by_good(
        model, (EFFICIENCY, CROWD_BRIER, MEAN_TEAM_BRIER, NOINFO_BRIER, BUDGET_HHI), (VOLUME, PRICE)
    )
    eff, crowd, teams, noinfo, hhi = (c[-1] for c in latest)
    traded = int(sum(v[-1] for v in volumes))
    closes = [v[-1] for v in prices]
    p = model.params
    state = p.demand_states[model.demand.state]
    return [
        ("day", f"{model.day}"),
        ("demand now", f"{state} (x{model.demand.level:g})"),
        ("reports traded today", f"{traded}"),
        ("closing prices", " / ".join(number(x, "{:.2f}") for x in closes)),
        ("efficiency today", number(eff, "{:.0%}")),
        (
            "Brier: crowd / mean team / no information",
            " / ".join(number(x, "{:.3f}") for x in (crowd, teams, noinfo)),
        ),
        ("funding HHI", number(hhi, "{:.3f}")),
        ("active teams", f"{int(model.active.sum())} of {model.n_teams}"),
    ]


def number(x: float, spec: str) -> str:
    """``x`` formatted by ``spec``, or a dash where it is not finite (nothing to show yet)."""
    return spec.format(x) if np.isfinite(x) else "–"
