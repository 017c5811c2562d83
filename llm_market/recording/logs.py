"""Columnar event logs and the run digest.

A log keeps each column as a list of NumPy chunks, one chunk per append (usually one per step),
and concatenates them only when read, so a long run never builds a Python dict per row. Logs are
written as Parquet. The digest is a SHA-256 over the trade and prediction logs in a canonical form
(fixed column order, rows sorted, floats printed to 12 significant digits), so two runs with the
same seed and parameters agree on it in any process, and any change to a trade or a score shows.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .columns import (
    BUDGETS,
    DECISIONS,
    INDEX_TRADERS,
    INDEX_TRADES,
    LOG_SCHEMAS,
    NEWS,
    PREDICTIONS,
    ROSTER,
    TRADES,
)
from .outputs import atomic_write


class ColumnLog:
    """An append-only table stored as chunks of columns.

    Args:
        name: The log's name (and file stem when written).
        columns: Column names mapped to NumPy dtypes.
    """

    def __init__(self, name: str, columns: dict[str, str]):
        self.name = name
        self.dtypes = dict(columns)
        self._chunks: dict[str, list[np.ndarray]] = {c: [] for c in columns}
        self.rows = 0

    def append(self, **columns) -> None:
        """Append rows: arrays of one common length, or scalars broadcast to it."""
        missing = set(self.dtypes) ^ set(columns)
        if missing:
            raise KeyError(f"log {self.name}: columns differ from the schema: {sorted(missing)}")
        n = max((np.size(v) for v in columns.values() if np.ndim(v) > 0), default=1)
        if n == 0:
            return
        for c, dtype in self.dtypes.items():
            v = np.asarray(columns[c], dtype=dtype)
            self._chunks[c].append(np.broadcast_to(v, (n,)) if v.ndim == 0 else v)
        self.rows += n

    def column(self, name: str) -> np.ndarray:
        """Return one whole column."""
        chunks = self._chunks[name]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=self.dtypes[name])

    def to_frame(self) -> pd.DataFrame:
        """Return the log as a DataFrame."""
        return pd.DataFrame({c: self.column(c) for c in self.dtypes})

    def to_parquet(self, path: str | Path) -> Path:
        """Write the log as a Parquet file (atomically: all or nothing) and return its path."""
        table = pa.table({c: self.column(c) for c in self.dtypes})
        return atomic_write(path, lambda p: pq.write_table(table, p))


def canonical_bytes(frame: pd.DataFrame) -> bytes:
    """Return a frame's rows in a canonical text form: columns as given, rows sorted."""
    if frame.empty:
        return ",".join(frame.columns).encode()
    ordered = frame.sort_values(list(frame.columns), kind="mergesort")
    return ordered.to_csv(index=False, float_format="%.12g", lineterminator="\n").encode()


def digest(*frames: pd.DataFrame) -> str:
    """SHA-256 over several frames in canonical form, in the order given."""
    h = hashlib.sha256()
    for frame in frames:
        h.update(canonical_bytes(frame))
        h.update(b"\x00")
    return h.hexdigest()


class EventLogs:
    """The run's event logs: trades, predictions, budgets, news, decisions and the team roster.

    Their columns are :data:`~.columns.LOG_SCHEMAS`.

    Attributes:
        trades: One row per trade.
        predictions: One row per forecaster and resolved question.
        budgets: One row per transfer between a principal and a team.
        news: One row per news item drawn, with its headline.
        decisions: One row per language-model team and day: persona, reasoning, fallback.
        roster: One row per team, written once when the teams are built: its principal, the
            policy that decides it (with the model and persona of a language-model team) and
            its traits.
        index_trades, index_traders: The traded index's fills and its daily trader mix, kept
            (and written) only when the index is traded (``index_market=True``).

    Args:
        index_market: Whether the run trades its index (``index_process="market"``).
    """

    def __init__(self, index_market: bool = False):
        self.trades = ColumnLog(TRADES, LOG_SCHEMAS[TRADES])
        self.predictions = ColumnLog(PREDICTIONS, LOG_SCHEMAS[PREDICTIONS])
        self.budgets = ColumnLog(BUDGETS, LOG_SCHEMAS[BUDGETS])
        self.news = ColumnLog(NEWS, LOG_SCHEMAS[NEWS])
        self.decisions = ColumnLog(DECISIONS, LOG_SCHEMAS[DECISIONS])
        self.roster = ColumnLog(ROSTER, LOG_SCHEMAS[ROSTER])
        self.index_trades = ColumnLog(INDEX_TRADES, LOG_SCHEMAS[INDEX_TRADES])
        self.index_traders = ColumnLog(INDEX_TRADERS, LOG_SCHEMAS[INDEX_TRADERS])
        self.index_market = index_market

    def by_name(self) -> dict[str, ColumnLog]:
        """The logs by name, in the order they are written."""
        logs = (
            self.trades,
            self.predictions,
            self.budgets,
            self.news,
            self.decisions,
            self.roster,
        )
        if self.index_market:
            logs += (self.index_trades, self.index_traders)
        return {log.name: log for log in logs}

    def digest(self) -> str:
        """SHA-256 over the trade and prediction logs in canonical form."""
        return digest(self.trades.to_frame(), self.predictions.to_frame())

    def record_trades(self, step: int, day, reputation: np.ndarray) -> None:
        """Log one good's trades of the day (a :class:`~llm_market.market.clearing.GoodDay`).

        ``reputation`` is each trade's seller's published record when the client chose it.
        """
        self.trades.append(
            step=step,
            good=day.good,
            buyer=day.buyer,
            seller=day.seller,
            price=day.price,
            value=day.value,
            cost=day.cost,
            reputation=reputation,
        )

    def record_index_market(self, step: int, indices) -> None:
        """Log the traded index's day: its fills and, per index, price, fundamental and mix.

        Args:
            step: The day's stamp.
            indices: The run's :class:`~llm_market.information.indices.MarketIndexProcess`.
        """
        m = indices.market
        t = m.trades
        if t["price"].size:
            self.index_trades.append(step=np.full(t["price"].size, step, dtype=np.int64), **t)
        counts = m.counts()
        k = np.arange(m.k, dtype=np.int64)
        self.index_traders.append(
            step=np.full(m.k, step, dtype=np.int64),
            index=k,
            price=m.price.copy(),
            fundamental=indices.fundamental_level.copy(),
            volume=m.volume.copy(),
            fundamentalists=counts[:, 0],
            optimists=counts[:, 1],
            pessimists=counts[:, 2],
            noise=counts[:, 3],
            informed=m.informed_today.sum(axis=1),
            informed_gain=m.gain[:, 0].copy(),
            uninformed_gain=m.gain[:, 1].copy(),
            public_gap=m.public_gap.copy(),
            report_gain=m.report_gain.copy(),
            cash=m.total_cash(),
            shares=m.total_shares(),
        )

    def record_resolutions(self, res, forecaster_ids: np.ndarray) -> None:
        """Log every forecaster's score on the questions resolved today.

        Args:
            res: The day's :class:`~llm_market.information.questions.Resolution`.
            forecaster_ids: The id logged for each forecaster column: the teams keep theirs;
                the crowd, the no-information forecaster and the market are ``CROWD_ID``,
                ``NOINFO_ID`` and ``MARKET_ID`` of :mod:`~.columns`.
        """
        if not len(res):
            return
        n_f = res.brier.shape[1]
        forecaster = np.tile(forecaster_ids, len(res))
        self.predictions.append(
            question=np.repeat(res.qid, n_f),
            forecaster=forecaster,
            index=np.repeat(res.index, n_f),
            horizon=np.repeat(res.horizon, n_f),
            open_step=np.repeat(res.open_day, n_f),
            resolve_step=np.repeat(res.resolve_day, n_f),
            mean_p=res.mean_p.ravel(),
            last_p=res.last_p.ravel(),
            n_forecasts=np.repeat(res.n_forecasts, n_f),
            outcome=np.repeat(res.outcome, n_f),
            brier=res.brier.ravel(),
        )

    def record_roster(self, teams, policy) -> None:
        """Log every team once: its principal, who decides it and its traits.

        Args:
            teams: The model's :class:`~llm_market.agents.Team` agents, in id order.
            policy: The model's policy; its ``describe_team`` names each team's policy, model
                and persona.
        """
        described = [policy.describe_team(t.idx) for t in teams]
        profiles = [t.profile for t in teams]
        self.roster.append(
            team=[t.idx for t in teams],
            principal=[t.principal.idx for t in teams],
            policy=[d["policy"] for d in described],
            model=[d["model"] for d in described],
            persona=[d["persona"] for d in described],
            skill=[f.skill for f in profiles],
            confidence=[f.confidence for f in profiles],
            herding=[f.herding for f in profiles],
            research_intensity=[f.research_intensity for f in profiles],
        )
