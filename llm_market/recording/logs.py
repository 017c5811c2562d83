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

MERGE_CHUNKS = 64  # appends after which a log's newest chunks are merged into one


class ColumnLog:
    """An append-only table stored as chunks of columns.

    In memory by default. A log that :meth:`spill` is called on moves its buffered rows to a
    Parquet file (a *part*) and forgets them: reads (:meth:`column`, :meth:`to_frame`) then
    return the parts' rows followed by the buffer's, so its readers see the same table either
    way while a long run keeps only its last rows in memory.

    Args:
        name: The log's name (and file stem when written).
        columns: Column names mapped to NumPy dtypes.

    Attributes:
        rows: Rows appended in all (on disk and in memory).
        buffered: Rows in memory (appended since the last part).
        buffered_bytes: Their size in bytes.
        parts: The part files written so far, in row order.
    """

    def __init__(self, name: str, columns: dict[str, str]):
        self.name = name
        self.dtypes = dict(columns)
        self._chunks: dict[str, list[np.ndarray]] = {c: [] for c in columns}
        self.rows = 0
        self.buffered = 0
        self.buffered_bytes = 0
        self.parts: list[Path] = []
        self._fresh = 0  # chunks appended since the last merge

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
            chunk = np.broadcast_to(v, (n,)) if v.ndim == 0 else v
            self._chunks[c].append(chunk)
            self.buffered_bytes += chunk.nbytes
        self.rows += n
        self.buffered += n
        self._fresh += 1
        if self._fresh >= MERGE_CHUNKS:
            # A chunk costs about 100 bytes besides its data, and a day appends a few small
            # ones per log: the newest chunks become one, so each row is copied once more.
            for chunks in self._chunks.values():
                chunks[-self._fresh :] = [np.concatenate(chunks[-self._fresh :])]
            self._fresh = 0

    def _buffered_column(self, name: str) -> np.ndarray:
        chunks = self._chunks[name]
        if len(chunks) > 1:
            return np.concatenate(chunks)
        return chunks[0] if chunks else np.zeros(0, dtype=self.dtypes[name])

    def column(self, name: str) -> np.ndarray:
        """Return one whole column (the parts' rows, then the buffer's)."""
        if name not in self.dtypes:
            raise KeyError(name)
        memory = self._buffered_column(name)
        if not self.parts:
            return memory
        dtype = self.dtypes[name]
        disk = [
            np.asarray(pq.read_table(p, columns=[name]).column(name).to_numpy(), dtype=dtype)
            for p in self.parts
        ]
        # Concatenated in their own dtypes: text keeps the width of its longest piece.
        return np.concatenate([*disk, memory] if len(memory) else disk)

    def iter_columns(self, names: list[str]):
        """Yield the log's rows part by part: dicts of the columns ``names``, in row order.

        A reader that can fold the log one piece at a time (a sum, a minimum per day) reads a
        spilled log in the memory of one part; an in-memory log is one piece.
        """
        for path in self.parts:
            table = pq.read_table(path, columns=list(names))
            yield {n: table.column(n).to_numpy().astype(self.dtypes[n], copy=False) for n in names}
        if self.buffered or not self.parts:
            yield {n: self._buffered_column(n) for n in names}

    def buffer_frame(self) -> pd.DataFrame:
        """Return the rows in memory (all of them unless parts were spilled) as a DataFrame."""
        return pd.DataFrame({c: self._buffered_column(c) for c in self.dtypes})

    def to_frame(self) -> pd.DataFrame:
        """Return the log as a DataFrame."""
        if not self.parts:
            return self.buffer_frame()
        return pd.DataFrame({c: self.column(c) for c in self.dtypes})

    def buffer_table(self) -> pa.Table:
        """Return the rows in memory as an Arrow table."""
        return pa.table({c: self._buffered_column(c) for c in self.dtypes})

    def to_parquet(self, path: str | Path) -> Path:
        """Write the log as a Parquet file (atomically: all or nothing) and return its path."""
        table = pa.table({c: self.column(c) for c in self.dtypes})
        return atomic_write(path, lambda p: pq.write_table(table, p))

    def spill(self, path: str | Path) -> Path:
        """Move the buffered rows to the Parquet part ``path`` and forget them.

        Returns:
            ``path``, now last in :attr:`parts`.
        """
        table = self.buffer_table()
        path = atomic_write(path, lambda p: pq.write_table(table, p))
        self.spill_record(path)
        return path

    def spill_record(self, path: Path) -> None:
        """Note that ``path`` holds the buffered rows (written elsewhere) and forget them."""
        self.parts.append(Path(path))
        self._chunks = {c: [] for c in self.dtypes}
        self.buffered = self.buffered_bytes = self._fresh = 0


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


def canonical_rows(frame: pd.DataFrame) -> bytes:
    """The rows of :func:`canonical_bytes` without its header: sorted, 12 significant digits."""
    ordered = frame.sort_values(list(frame.columns), kind="mergesort")
    return ordered.to_csv(
        index=False, header=False, float_format="%.12g", lineterminator="\n"
    ).encode()


class CanonicalStream:
    """:func:`canonical_bytes` of a log fed as its rows become final, in the same bytes.

    The canonical form sorts all rows by all columns, first column first. Rows are passed to
    :meth:`feed` with a bound: those whose first column is below it can no longer be preceded
    by a later row (a day's trades once the day is over; a question's scores once every older
    question is resolved), so they are sorted among themselves and written out; the others wait
    for a later bound. The output is header, then each batch's sorted rows: the whole log's
    sorted CSV, byte for byte, without ever holding the log.

    Args:
        columns: The log's columns, in order.
        write: Receives the bytes, in order.
    """

    def __init__(self, columns: list[str], write):
        self.columns = list(columns)
        self.write = write
        self.started = False
        self.held: pd.DataFrame | None = None

    def feed(self, frame: pd.DataFrame, bound: float | None = None) -> None:
        """Take new rows; write every row held or new whose first column is below ``bound``.

        Args:
            frame: The new rows (any order).
            bound: None: every row is final.
        """
        if self.held is not None and len(self.held):
            frame = pd.concat([self.held, frame], ignore_index=True)
        if bound is None:
            ready, self.held = frame, None
        else:
            final = frame[self.columns[0]].to_numpy() < bound
            ready, self.held = frame[final], frame[~final]
        if len(ready):
            if not self.started:
                self.write((",".join(self.columns) + "\n").encode())
                self.started = True
            self.write(canonical_rows(ready))

    def close(self) -> None:
        """Write the rows still held; an empty log writes its bare header, as before."""
        if self.held is not None:
            self.feed(self.held.iloc[:0])
        if not self.started:
            self.write(",".join(self.columns).encode())
            self.started = True


class StreamingDigest:
    """The run digest (:meth:`EventLogs.digest`) computed while the logs are spilled.

    The trade log's canonical bytes go straight into the hash; the prediction log's, which
    the hash takes after all of the trades, go to an unnamed temporary file in ``folder``
    (removed by the system when closed or when the process dies) and into the hash at the
    end. Each row is formatted once.

    Args:
        folder: Where the temporary file goes (the run's folder: the same disk as its logs).
    """

    def __init__(self, folder: str | Path):
        import tempfile

        self.hash = hashlib.sha256()
        self.spool = tempfile.TemporaryFile(dir=folder)
        self.trades = CanonicalStream(list(LOG_SCHEMAS[TRADES]), self.hash.update)
        self.predictions = CanonicalStream(list(LOG_SCHEMAS[PREDICTIONS]), self.spool.write)
        self.value: str | None = None

    def finish(self) -> str:
        """Close both streams and return the digest (once; later calls return the same)."""
        if self.value is None:
            self.trades.close()
            self.predictions.close()
            self.hash.update(b"\x00")
            self.spool.seek(0)
            for block in iter(lambda: self.spool.read(1 << 20), b""):
                self.hash.update(block)
            self.spool.close()
            self.hash.update(b"\x00")
            self.value = self.hash.hexdigest()
        return self.value


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
        self.streaming: StreamingDigest | None = None
        self._digest_cache: tuple[tuple[int, int], str] | None = None

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
        """SHA-256 over the trade and prediction logs in canonical form.

        Computed once per state of the logs (a second call without new rows is free). When
        the logs are spilled (:meth:`stream_digest`), the value is the same, computed as the
        rows are spilled, and is only known once the run is over: the call ends the stream.
        """
        if self.streaming is not None and self.streaming.value is not None:
            return self.streaming.value
        if self.streaming is not None:
            self.streaming.trades.feed(self.trades.buffer_frame())
            self.streaming.predictions.feed(self.predictions.buffer_frame())
            return self.streaming.finish()
        state = (self.trades.rows, self.predictions.rows)
        if self._digest_cache is None or self._digest_cache[0] != state:
            value = digest(self.trades.to_frame(), self.predictions.to_frame())
            self._digest_cache = (state, value)
        return self._digest_cache[1]

    def stream_digest(self, folder: str | Path) -> None:
        """Compute the digest as the trade and prediction logs are spilled (before any spill).

        See :class:`StreamingDigest`; rows still in memory join at :meth:`digest`.
        """
        if self.trades.parts or self.predictions.parts:
            raise ValueError("stream_digest: the logs were already spilled")
        self.streaming = StreamingDigest(folder)

    def spill(self, log: ColumnLog, path: str | Path, bound: float | None = None) -> Path:
        """Move one log's buffered rows to the part ``path``, feeding the streaming digest.

        Args:
            log: One of these logs.
            path: The part file.
            bound: For the prediction log: the smallest question id still open (every row of
                an older question is final); None: no question is open.
        """
        if self.streaming is not None and log is self.trades:
            self.streaming.trades.feed(log.buffer_frame())
        elif self.streaming is not None and log is self.predictions:
            self.streaming.predictions.feed(log.buffer_frame(), bound)
        return log.spill(path)

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
