"""The sweep directory: one part file per finished run, consolidated into ``results.parquet``.

Every finished run is written at once as ``DIR/parts/<key>.json`` (temporary file, then
``os.replace``), its optional logs under ``DIR/runs/<key>/`` just before, and the parts are
consolidated into ``DIR/results.parquet`` atomically. A kill at any moment therefore loses no
finished run, and :func:`done_keys` tells a sweep started again which runs to skip. A lock file
(:func:`sweep_lock`) keeps two sweeps from consolidating over each other's parts. A design sweep
also keeps its sample matrix in ``DIR/design.json`` (:func:`write_design`).

Every Parquet log of a run carries the run's identity in its file metadata (:func:`write_parquet`,
:func:`read_metadata`): ``llm_market.key``, ``llm_market.seed``, ``llm_market.package_version``
and more, so that files copied out of their directory can still be joined.

This module is imported when the command-line parser is built, so it imports pandas and pyarrow
only inside functions.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DataWarning, UsageError
from ..params import MAX_SEED, Params

RESULTS_FILE = "results.parquet"
PARTS_DIR = "parts"
RUNS_DIR = "runs"
DESIGN_FILE = "design.json"
# Where a sweep puts the files it cannot read (corrupt or foreign parts), instead of failing.
QUARANTINE_DIR = "quarantine"
# Prefix of the keys this package puts in a Parquet file's metadata.
METADATA_PREFIX = "llm_market."
# The run's identity in that metadata, in this order.
METADATA_FIELDS = ("key", "seed", "scenario", "steps", "package_version", "code")
# Columns of results.parquet that are neither parameters nor metrics: the identity first, the
# digest ahead of the metrics, the provenance last.
ID_COLUMNS = ("key", "scenario", "seed", "steps")
DIGEST = "digest"
TAIL_COLUMNS = ("wall_s", "cpu_s", "package_version", "code")


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same directory, then rename: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_parquet(frame, path: str | Path, identity: dict[str, Any], index: bool = True) -> Path:
    """Write a DataFrame as Parquet with the run's identity in the file's schema metadata.

    Args:
        frame: The frame (pandas).
        path: The file to write.
        identity: Entries of :data:`METADATA_FIELDS` (others are ignored), such as a results row;
            stored as text under ``llm_market.<name>``.
        index: Keep the frame's index (a named index becomes a column when read by other tools).

    Returns:
        The path written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=index)
    meta = dict(table.schema.metadata or {})
    for name in METADATA_FIELDS:
        if identity.get(name) is not None:
            meta[(METADATA_PREFIX + name).encode()] = str(identity[name]).encode()
    path = Path(path)
    pq.write_table(table.replace_schema_metadata(meta), path)
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The run identity stored in a Parquet file by :func:`write_parquet` (``seed`` an int).

    Returns:
        ``{"key": ..., "seed": ..., ...}``; empty for a file written otherwise.
    """
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    out: dict[str, Any] = {}
    for name in METADATA_FIELDS:
        value = meta.get((METADATA_PREFIX + name).encode())
        if value is not None:
            text = value.decode()
            out[name] = int(text) if name in ("seed", "steps") else text
    return out


def write_run_files(out: Path, row: dict[str, Any], logs: dict[str, Any] | None = None) -> None:
    """Write a finished run: its logs under ``runs/<key>/`` first, then its part file.

    The part file is written last, so a run whose part exists has complete logs too.

    Args:
        out: The sweep directory.
        row: The run's results row.
        logs: ``model`` and ``trades`` frames and the ``summary`` dict, or None.
    """
    if logs is not None:
        run_dir = out / RUNS_DIR / row["key"]
        _atomic_write(run_dir / "model.parquet", lambda p: write_parquet(logs["model"], p, row))
        _atomic_write(
            run_dir / "trades.parquet", lambda p: write_parquet(logs["trades"], p, row, index=False)
        )
        text = json.dumps(logs["summary"], indent=2, allow_nan=False) + "\n"
        _atomic_write(run_dir / "summary.json", lambda p: p.write_text(text))
    text = json.dumps(row, allow_nan=False)
    _atomic_write(out / PARTS_DIR / f"{row['key']}.json", lambda p: p.write_text(text))


def row_problem(row: Any) -> str | None:
    """Why ``row`` is not a results row of this package (None when it is one).

    A row needs a text ``key`` and ``scenario``, a ``seed`` from 0 to 2**63-1 (what the results
    file stores as int64) and whole ``steps`` >= 1.
    """
    if not isinstance(row, dict):
        return "not a JSON object"
    if not isinstance(row.get("key"), str) or not row["key"]:
        return "no key"
    if not isinstance(row.get("scenario"), str):
        return "no scenario"
    seed, steps = row.get("seed"), row.get("steps")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        return f"seed {seed!r} is not a whole number from 0 to 2**63-1"
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        return f"steps {steps!r} is not a whole number >= 1"
    return None


def set_aside(out: Path, path: Path, why: str, move: bool) -> None:
    """Warn about an unreadable or foreign file and, with ``move``, put it in ``quarantine/``.

    Moving is for the sweep that owns the directory (it holds the lock); readers only skip, so
    that reading stays safe while a sweep runs.
    """
    where = path.relative_to(out) if path.is_relative_to(out) else path
    if move:
        target = out / QUARANTINE_DIR / where
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, target)
        action = f"moved to {QUARANTINE_DIR}/"
    else:
        action = "skipped"
    warnings.warn(f"{out / where}: {why}; {action}", DataWarning, stacklevel=3)


def _read_parts(out: Path, move: bool = False) -> list[tuple[Path, dict[str, Any]]]:
    parts = []
    for path in sorted((out / PARTS_DIR).glob("*.json")):
        try:
            row = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
            # Writes go through os.replace, so only damage or a foreign file does this: the
            # run is then simply done again.
            set_aside(out, path, f"not a readable part file ({type(err).__name__})", move)
            continue
        why = row_problem(row)
        if why is None and row["key"] != path.stem:
            why = f"its key {row['key']!r} is not its name"
        if why is not None:
            set_aside(out, path, f"not a part file of this package ({why})", move)
            continue
        parts.append((path, row))
    return parts


def _read_results_rows(out: Path, move: bool = False) -> list[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = out / RESULTS_FILE
    if not path.exists():
        return []
    try:
        rows = pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError) as err:
        set_aside(out, path, f"not a readable results file ({err})", move)
        return []
    good = [row for row in rows if row_problem(row) is None]
    if len(good) < len(rows):
        warnings.warn(
            f"{path}: {len(rows) - len(good)} rows are not results of this package; skipped",
            DataWarning,
            stacklevel=3,
        )
    return good


def _merge_rows(out: Path, move: bool = False) -> tuple[list[dict[str, Any]], list[Path]]:
    rows: dict[str, dict[str, Any]] = {}
    for row in _read_results_rows(out, move):
        rows[row["key"]] = {k: v for k, v in row.items() if v is not None}
    parts = _read_parts(out, move)
    for _, row in parts:
        rows.setdefault(row["key"], row)
    return list(rows.values()), [p for p, _ in parts]


def _column_order(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    cols = list(seen)
    params = [c for c in cols if c in Params.model_fields]
    head = [c for c in ID_COLUMNS if c in seen]
    tail = [c for c in TAIL_COLUMNS if c in seen]
    metrics = [c for c in cols if c not in params and c not in head and c not in tail]
    if DIGEST in metrics:
        metrics.remove(DIGEST)
        metrics.insert(0, DIGEST)
    return head + params + metrics + tail


def _to_table(rows: list[dict[str, Any]]):
    import pyarrow as pa

    cols = _column_order(rows)
    arrays = {}
    for c in cols:
        values = [row.get(c) for row in rows]
        try:
            arrays[c] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed kinds in one column (two specs in one directory): keep them readable.
            arrays[c] = pa.array([None if v is None else json.dumps(v) for v in values])
    return pa.table(arrays)


def _sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cols = _column_order(rows)
    params = [c for c in cols if c in Params.model_fields]

    def sort_key(row):
        return tuple(json.dumps(row.get(c), sort_keys=True) for c in ("scenario", "steps"))

    # Sort numerically where values are numbers; everything else by its JSON text.
    def value_key(v):
        if isinstance(v, int | float) and not isinstance(v, bool):
            return (0, float(v), "")
        return (1, 0.0, json.dumps(v, sort_keys=True))

    return sorted(
        rows,
        key=lambda r: (sort_key(r), tuple(value_key(r.get(c)) for c in params), r["seed"]),
    )


def consolidate(out: str | Path) -> int:
    """Merge the part files into ``results.parquet`` (atomically), then delete them.

    ``results.parquet`` is replaced in one ``os.replace``; parts are deleted only after, so a kill
    at any point leaves every finished run in the parts, in the results file, or in both.

    Args:
        out: The sweep directory.

    Returns:
        The number of runs in ``results.parquet``.
    """
    import pyarrow.parquet as pq

    out = Path(out)
    rows, parts = _merge_rows(out, move=True)
    if not rows:
        return 0
    if parts or not (out / RESULTS_FILE).exists():
        table = _to_table(_sort_rows(rows))
        _atomic_write(out / RESULTS_FILE, lambda p: pq.write_table(table, p))
        for p in parts:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    return len(rows)


def done_keys(out: str | Path) -> set[str]:
    """Keys of the runs already written in ``out`` (in ``results.parquet`` or as parts)."""
    out = Path(out)
    keys = {row["key"] for row in _read_results_rows(out)}
    # Only parts that can be read count: an unreadable one is run again rather than lost.
    keys.update(row["key"] for _, row in _read_parts(out))
    return keys


def code_versions(out: str | Path) -> set[str]:
    """The model-code fingerprints (column ``code``) of the runs already written in ``out``."""
    return {row["code"] for row in _merge_rows(Path(out))[0] if row.get("code") is not None}


def load_results(out: str | Path):
    """Read a sweep's results as a DataFrame, including runs not yet consolidated.

    It only reads, so it is safe while a sweep is running.

    Args:
        out: The sweep directory.

    Returns:
        One row per run (``pandas.DataFrame``), empty when nothing has finished.
    """
    import pandas as pd

    rows, _ = _merge_rows(Path(out))
    if not rows:
        return pd.DataFrame()
    return _to_table(_sort_rows(rows)).to_pandas()


def write_design(out: str | Path, record: dict[str, Any]) -> Path:
    """Write a design sweep's record (its design, sample matrix and run keys) atomically.

    Args:
        out: The sweep directory.
        record: JSON-able data (see :func:`~llm_market.experiments.sensitivity.design_record`).

    Returns:
        The path of ``design.json``.
    """
    path = Path(out) / DESIGN_FILE
    text = json.dumps(record, allow_nan=False) + "\n"
    _atomic_write(path, lambda p: p.write_text(text))
    return path


def read_design(out: str | Path) -> dict[str, Any] | None:
    """The record written by :func:`write_design`, or None when ``out`` has none."""
    path = Path(out) / DESIGN_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text())


@contextlib.contextmanager
def sweep_lock(out: Path) -> Iterator[None]:
    """Hold a lock on ``out`` so two sweeps never consolidate over each other's parts.

    Raises:
        UsageError: Another sweep holds it.
    """
    try:
        import fcntl
    except ImportError:  # not on Windows: one sweep per directory is then up to the user
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".sweep.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"{out}: another sweep is writing here; wait for it or choose another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
