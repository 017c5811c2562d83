"""The DataCollector's reporters: the daily model series and the teams' series.

Every column is named by a constant of :mod:`~.columns`; the run report, the app, the sweeps and
the comparisons read the same constants, so a new series is one reporter here and one constant
there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np
import pandas as pd

from ..agents import Team
from ..budgets.pivot import gini
from . import columns as c

if TYPE_CHECKING:
    from ..model import MarketModel


def model_reporters(n_goods: int) -> dict[str, Any]:
    """The model's daily series, by column name."""
    reporters: dict[str, Any] = {
        c.DAY: "day",
        c.DEMAND_REGIME: lambda m: m.demand.state,
        c.DEMAND_LEVEL: lambda m: m.demand.level,
        c.CROWD_BRIER: lambda m: m.crowd_brier,
        c.MARKET_BRIER: lambda m: m.market_brier,
        c.NOINFO_BRIER: lambda m: m.noinfo_brier,
        c.MEAN_TEAM_BRIER: lambda m: m.mean_team_brier,
        c.MEAN_TEAM_SKILL: lambda m: m.mean_team_skill,
        c.BUDGET_HHI: "budget_hhi",
        c.BUDGET_GINI: lambda m: gini(m.accounts.allocation[m.accounts.active]),
        c.ACTIVE_TEAMS: lambda m: int(m.accounts.active.sum()),
        c.OVERBUDGET_COUNT: lambda m: m.accounts.overbudget_count,
        c.MONEY_ERROR: "money_error",
        c.EFFICIENCY: lambda m: m.market.efficiency_of_day,
        c.BUYER_SURPLUS: lambda m: m.market.day_surplus["buyer"],
        c.SELLER_SURPLUS: lambda m: m.market.day_surplus["seller"],
    }
    for k in range(n_goods):
        reporters[c.good_column(c.PRICE, k)] = lambda m, k=k: m.market.close[k]
        reporters[c.good_column(c.VOLUME, k)] = lambda m, k=k: int(m.market.volume[k])
        reporters[c.good_column(c.SPREAD, k)] = lambda m, k=k: m.market.spread[k]
        reporters[c.good_column(c.GOOD_EFFICIENCY, k)] = lambda m, k=k: m.market.efficiency[k]
        reporters[c.good_column(c.CE_PRICE, k)] = lambda m, k=k: m.market.ce_price[k]
        reporters[c.good_column(c.INDEX, k)] = lambda m, k=k: m.indices.level[k]
    return reporters


TEAM_REPORTERS: dict[str, str | Callable[[Team], Any]] = {
    c.TEAM_BUDGET: "budget",
    c.TEAM_CASH: "cash",
    c.TEAM_SHARE: "share",
    c.TEAM_ALLOCATION: "monthly_allocation",
    c.TEAM_BRIER: "rolling_brier",
    c.TEAM_SKILL: "rolling_skill",
    c.TEAM_PROFIT: "profit",
    c.TEAM_OVERBUDGET_DAYS: "overbudget_days",
    c.TEAM_ACTIVE: "active",
    c.TEAM_PRINCIPAL: lambda t: t.principal.idx,
}

# The same series as whole columns, entry ``i`` being what the reporter gives team ``i``, so that a
# day's rows are built in one pass over the arrays (``tolist`` yields the Python float, int or
# bool the agent's property returns). Keys in the order of TEAM_REPORTERS.
TEAM_COLUMNS: dict[str, Callable[[MarketModel], np.ndarray]] = {
    c.TEAM_BUDGET: lambda m: m.accounts.budget,
    c.TEAM_CASH: lambda m: m.accounts.cash,
    c.TEAM_SHARE: lambda m: m.accounts.share,
    c.TEAM_ALLOCATION: lambda m: m.accounts.allocation,
    c.TEAM_BRIER: lambda m: m.record.brier,
    c.TEAM_SKILL: lambda m: m.record.skill,
    c.TEAM_PROFIT: lambda m: m.record.profit_window.total,
    c.TEAM_OVERBUDGET_DAYS: lambda m: m.accounts.overbudget_days,
    c.TEAM_ACTIVE: lambda m: m.accounts.active,
    # A team's principal is fixed at construction: the accounts' owner of its row.
    c.TEAM_PRINCIPAL: lambda m: m.accounts.owner,
}


def make_datacollector(
    model: MarketModel, extra: dict[str, Any] | None = None, teams: bool = True
) -> mesa.DataCollector:
    """The run's DataCollector.

    Args:
        model: The model (for the number of goods).
        extra: Further model reporters (a sweep's results).
        teams: Whether to record the teams' series (a sweep leaves them out: they cost a few
            percent of every step).
    """
    reporters = model_reporters(model.n_goods)
    reporters.update(extra or {})
    return RunCollector(
        model_reporters=reporters,
        agenttype_reporters={Team: TEAM_REPORTERS} if teams else None,
        team_columns=TEAM_COLUMNS,
    )


def _same(a: Any, b: Any) -> bool:
    """Whether two reported values are the same value of the same type (NaN equals NaN)."""
    return type(a) is type(b) and (a == b or (a != a and b != b))


class RunCollector(mesa.DataCollector):
    """Mesa's DataCollector whose team series can be spilled to Parquet parts on disk.

    The team series are most of what a long run's collector holds (a tuple per team and day);
    :meth:`spill_teams` moves the days collected so far to a part file and forgets them.
    :meth:`get_agenttype_vars_dataframe` reads the parts back, so it returns the same frame
    either way. The model series stay in memory (one value per series and day).

    With ``team_columns`` (the team series as whole arrays, :data:`TEAM_COLUMNS`) a day's team
    rows are built from the model's arrays in one pass instead of one reporter call per team and
    series; the records, and so every frame, are the same. Mesa still computes the first team's
    row, which gives the step key as the installed Mesa writes it (``steps`` or ``time``) and
    checks the columns against the reporters every day: any difference, or a roster that is not
    the model's ``teams`` in order, falls back to Mesa's own collection.

    Args:
        *args: Mesa's DataCollector arguments.
        team_columns: The :class:`~llm_market.agents.Team` series as arrays over the teams, by
            reporter name in the reporters' order (None: Mesa collects them).
        **kwargs: Mesa's DataCollector keyword arguments.

    Attributes:
        team_parts: The team-series part files, in day order.
    """

    def __init__(
        self,
        *args: Any,
        team_columns: dict[str, Callable[[MarketModel], np.ndarray]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.team_parts: list[Path] = []
        self._team_columns = team_columns
        self._roster: tuple[int, list[int] | None] | None = None
        self._last_columns: dict[str, tuple[np.ndarray, list]] = {}

    def _record_agenttype(self, model: Any, agent_type: type) -> Iterable[tuple]:
        """Mesa's records of ``agent_type`` for the day, the teams' built from the arrays.

        Overrides the method Mesa's ``collect`` calls for each agent type (3.3 and 3.5 alike);
        a Mesa whose ``collect`` no longer calls it simply collects the teams itself.
        """
        records = super()._record_agenttype(model, agent_type)
        columns = self._team_columns
        if (
            agent_type is not Team
            or columns is None
            or list(columns) != list(self.agenttype_reporters[Team])
        ):
            return records
        ids = self._team_ids(model)
        if ids is None:
            return records
        records = iter(records)
        first = next(records, None)
        if first is None:
            return []
        values = [self._column_values(name, column(model)) for name, column in columns.items()]
        if any(len(v) != len(ids) for v in values):
            return [first, *records]
        rows = list(zip(repeat(first[0], len(ids)), ids, *values, strict=True))
        if not (len(rows[0]) == len(first) and all(map(_same, rows[0], first))):
            return [first, *records]
        return rows

    def _column_values(self, name: str, array: np.ndarray) -> list:
        """``array.tolist()``, the list of the last day again when every bit is the same.

        Most team series (shares, allocations, scores, principals) change on few days; their
        Python values are then shared between days' records, as equal immutable objects.
        """
        last = self._last_columns.get(name)
        if last is not None:
            bits, values = last
            if array.dtype == bits.dtype and array.shape == bits.shape:
                raw = array.view(np.uint8) if array.flags.c_contiguous else None
                if raw is not None and np.array_equal(raw, bits.view(np.uint8)):
                    return values
        values = array.tolist()
        self._last_columns[name] = (array.copy(), values)
        return values

    def _team_ids(self, model: Any) -> list[int] | None:
        """The teams' ids in Mesa's order, if that is the order of ``model.teams`` (else None).

        Checked again only when agents have joined or left the model since the last check.
        """
        version = getattr(model, "roster_version", None)
        if version is None:
            return None
        if self._roster is None or self._roster[0] != version:
            teams = getattr(model, "teams", None)
            agents = list(model.agents_by_type.get(Team, ()))
            ordered = (
                teams is not None
                and len(agents) == len(teams)
                and all(
                    a is t and t.idx == i
                    for i, (a, t) in enumerate(zip(agents, teams, strict=True))
                )
            )
            self._roster = (version, [t.unique_id for t in teams] if ordered else None)
        return self._roster[1]

    @property
    def buffered_team_steps(self) -> int:
        """Days of team series held in memory."""
        return len(self._agenttype_records)

    def spill_teams(self, path: str | Path) -> Path:
        """Move the team series held in memory to the Parquet part ``path`` and forget them."""
        from .outputs import atomic_write

        frame = super().get_agenttype_vars_dataframe(Team).reset_index()
        path = atomic_write(path, lambda p: frame.to_parquet(p, index=False))
        self.team_parts.append(path)
        self._agenttype_records = {}
        return path

    def reset_team_parts(self, path: Path) -> None:
        """Read the team series back from the one merged file ``path`` from now on."""
        self.team_parts = [path]
        self._agenttype_records = {}

    def team_buffer_frame(self) -> pd.DataFrame:
        """The team series held in memory, one row per team and day (``Step``, ``AgentID``)."""
        return super().get_agenttype_vars_dataframe(Team).reset_index()

    def get_agenttype_vars_dataframe(self, agent_type):
        """Mesa's frame of an agent type's series, with the spilled days read back first."""
        memory = super().get_agenttype_vars_dataframe(agent_type)
        if agent_type is not Team or not self.team_parts:
            return memory
        frames = [pd.read_parquet(p) for p in self.team_parts]
        if len(memory):
            frames.append(memory.reset_index())
        return pd.concat(frames, ignore_index=True).set_index(["Step", "AgentID"])

    def team_series(self, columns: list[str]) -> pd.DataFrame:
        """A few team series (with ``Step`` and ``AgentID``), reading only those from the parts.

        Equal to ``get_agenttype_vars_dataframe(Team).reset_index()[["Step", "AgentID",
        *columns]]`` in the memory of those columns.
        """
        if Team not in (self.agenttype_reporters or {}):
            return pd.DataFrame()  # a sweep's model records no team series
        keep = ["Step", "AgentID", *columns]
        frames = [pd.read_parquet(p, columns=keep) for p in self.team_parts]
        memory = super().get_agenttype_vars_dataframe(Team)
        if len(memory) or not frames:
            frames.append(memory.reset_index()[keep])
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
