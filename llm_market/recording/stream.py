"""A long run's logs on disk as it goes: Parquet parts, appending checkpoints, one final file.

``llm-market run --out DIR`` streams its run (:class:`RunStream`); a model run from Python, the
app, the tests and the sweeps keep everything in memory as before.

While the run goes, every event log whose buffer reaches ``part_rows`` rows moves them to a
part ``DIR/<log>.partNNNNN.parquet`` (one row group), and so do the team series; the model series
(one row a day) stay in memory and are written to parts of ``model_rows`` days. A checkpoint
writes only what is new: ``<name>.parquet`` holds the rows since the name's last part, and
``summary.json`` lists the parts (their checksums are computed once) before it. The rows of a
checkpoint are its parts in number order, then ``<name>.parquet`` (:func:`read_checkpoint`); a
short run has no parts, so its checkpoint files are whole. At the end each name's parts and
buffer are copied, part by part, into one ``<name>.parquet`` and the parts are removed, so a
finished run's folder looks exactly as before. The digest is computed once, as the trade and
prediction rows are spilled (:class:`~.logs.StreamingDigest`), and is ``null`` in a checkpoint's
summary.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .outputs import atomic_write, file_record

if TYPE_CHECKING:
    from ..model import MarketModel

PART_ROWS = 1 << 16  # rows of an event log (or of the team series) per part and row group
PART_BYTES = 1 << 24  # or fewer rows, when they hold this many bytes (long headlines)
MODEL_ROWS = 1 << 12  # days of the model series per part
PART_PATTERN = re.compile(r"^(?P<name>.+)\.part(?P<k>\d{5})\.parquet$")

Put = Callable[[str, Callable[[Path], Any]], None]


def part_name(name: str, k: int) -> str:
    """The file name of part ``k`` of ``name``: ``trades.part00003.parquet``."""
    return f"{name}.part{k:05d}.parquet"


def read_checkpoint(folder: str | Path, name: str) -> pd.DataFrame:
    """Read one of a run folder's files whole: its parts in order, then ``<name>.parquet``.

    A finished run has no parts, so this is ``pd.read_parquet(folder / f"{name}.parquet")``.
    """
    folder = Path(folder)
    parts = sorted(
        folder.glob(f"{name}.part*.parquet"),
        key=lambda p: int(PART_PATTERN.match(p.name)["k"]),  # type: ignore[index]
    )
    frames = [pd.read_parquet(p) for p in parts]
    frames.append(pd.read_parquet(folder / f"{name}.parquet"))
    frames = [f for f in frames if len(f)] or frames[-1:]
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=name != "model")


class RunStream:
    """Spill a model's logs and series to Parquet parts in ``folder`` as it runs.

    Call :meth:`after_step` after every day, before any checkpoint; :func:`~llm_market.viz.\
report.write_run` then calls :meth:`write_files` and, once the final summary is written,
    :meth:`remove_parts`.

    Args:
        model: The model, before its first day (before any spill).
        folder: The run's folder.
        part_rows: Rows per part of an event log and of the team series (default
            :data:`PART_ROWS`).
        model_rows: Days per part of the model series (default :data:`MODEL_ROWS`).
    """

    def __init__(
        self,
        model: MarketModel,
        folder: str | Path,
        part_rows: int | None = None,
        model_rows: int | None = None,
    ):
        self.model = model
        self.folder = Path(folder)
        self.part_rows = part_rows or PART_ROWS
        self.model_rows = model_rows or MODEL_ROWS
        self.part_bytes = PART_BYTES
        self.model_parts: list[Path] = []
        self.model_written = 0  # days of the model series in parts
        self._records: dict[Path, dict[str, Any]] = {}
        model.event_logs.stream_digest(self.folder)

    # ---------------------------------------------------------------- while the run goes

    def question_bound(self) -> float | None:
        """The smallest open question id: every prediction row of an older one is final."""
        open_ids = self.model.questions.qid
        return float(open_ids.min()) if len(open_ids) else None

    def after_step(self) -> None:
        """Spill every buffer that has reached its part size (between days only)."""
        logs = self.model.event_logs
        for name, log in logs.by_name().items():
            if log.buffered >= self.part_rows or log.buffered_bytes >= self.part_bytes:
                bound = self.question_bound() if log is logs.predictions else None
                logs.spill(log, self.folder / part_name(name, len(log.parts)), bound)
        dc = self.model.datacollector
        if hasattr(dc, "spill_teams") and dc.agenttype_reporters:
            teams = max(1, self.model.n_teams)
            if dc.buffered_team_steps * teams >= self.part_rows:
                dc.spill_teams(self.folder / part_name("teams", len(dc.team_parts)))
        if self.model_days() - self.model_written >= self.model_rows:
            frame = self.model_frame(self.model_written)
            path = self.folder / part_name("model", len(self.model_parts))
            atomic_write(path, lambda p: frame.to_parquet(p))
            self.model_parts.append(path)
            self.model_written += len(frame)

    def model_days(self) -> int:
        """Rows of the model series collected so far."""
        series = self.model.datacollector.model_vars
        return len(next(iter(series.values()))) if series else 0

    def model_frame(self, start: int = 0) -> pd.DataFrame:
        """The model series from row ``start`` on, indexed by ``step`` as ``model.parquet`` is."""
        series = self.model.datacollector.model_vars
        frame = pd.DataFrame({k: v[start:] for k, v in series.items()})
        frame.index = pd.RangeIndex(start, start + len(frame), name="step")
        return frame

    # ---------------------------------------------------------------- writing the files

    def _record(self, path: Path) -> dict[str, Any]:
        # A part never changes once written: its checksum is computed once.
        if path not in self._records:
            self._records[path] = file_record(path)
        return self._records[path]

    def write_files(
        self, identity: dict[str, Any], final: bool, put: Put, files: dict[str, Any]
    ) -> None:
        """Write the logs and series: a checkpoint's new rows, or (``final``) whole files.

        Args:
            identity: The run's identity for the Parquet metadata.
            final: Merge the parts into whole files (the run is over); otherwise a checkpoint.
            put: Writes one file atomically and records it in ``files``.
            files: The summary's list of files, to which the parts are added.
        """
        from ..experiments.store import write_parquet

        model = self.model
        dc = model.datacollector
        for name, log in model.logs.items():
            if final:
                table = log.buffer_table()
                put(f"{name}.parquet", lambda p, t=table, ps=log.parts: _merge(ps, t, p, identity))
            else:
                frame = log.buffer_frame()
                put(f"{name}.parquet", lambda p, f=frame: write_parquet(f, p, identity, False))
                files.update({p.name: self._record(p) for p in log.parts})
        if final:
            frame = self.model_frame()
            put("model.parquet", lambda p: write_parquet(frame, p, identity))
        else:
            frame = self.model_frame(self.model_written)
            put("model.parquet", lambda p: write_parquet(frame, p, identity))
            files.update({p.name: self._record(p) for p in self.model_parts})
        teams = dc.team_buffer_frame() if hasattr(dc, "team_buffer_frame") else None
        if teams is None:
            return
        parts = list(dc.team_parts)
        if final and parts:
            table = pa.Table.from_pandas(teams, preserve_index=False) if len(teams) else None
            put("teams.parquet", lambda p: _merge(parts, table, p, identity))
        else:
            put("teams.parquet", lambda p: write_parquet(teams, p, identity, False))
            files.update({p.name: self._record(p) for p in parts})

    def remove_parts(self) -> None:
        """Remove the part files (after the final files and summary are written).

        The logs and the team series then read their rows back from the final files.
        """
        dc = self.model.datacollector
        parts = [p for log in self.model.logs.values() for p in log.parts]
        parts += self.model_parts + list(getattr(dc, "team_parts", []))
        for log in self.model.logs.values():
            if log.parts:
                log.parts = []
                log.spill_record(self.folder / f"{log.name}.parquet")
        if getattr(dc, "team_parts", None):
            dc.reset_team_parts(self.folder / "teams.parquet")
        self.model_parts = []
        for p in parts:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def _merge(parts: list[Path], tail: pa.Table | None, path: Path, identity: dict[str, Any]) -> None:
    # Copy the parts, then the rows in memory, into one file, one part in memory at a time.
    from ..experiments.store import METADATA_FIELDS, METADATA_PREFIX

    first = pq.read_schema(parts[0]) if parts else tail.schema  # type: ignore[union-attr]
    meta = dict(first.metadata or {})
    for name in METADATA_FIELDS:
        if identity.get(name) is not None:
            meta[(METADATA_PREFIX + name).encode()] = str(identity[name]).encode()
    schema = first.with_metadata(meta)
    with pq.ParquetWriter(path, schema) as writer:
        for part in parts:
            writer.write_table(pq.read_table(part).cast(schema))
        if tail is not None and tail.num_rows:
            writer.write_table(tail.cast(schema))
