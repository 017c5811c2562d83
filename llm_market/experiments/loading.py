"""Read a run's or a sweep's files as tidy DataFrames: :func:`load`.

A run directory (``llm-market run``) holds ``summary.json`` and Parquet logs; a sweep directory
(``llm-market sweep``) holds ``results.parquet`` and, with ``--logs``, ``runs/<key>/`` with each
run's logs. Either way :func:`load` returns a dict of frames: ``runs``, one row per run, and one
frame per kind of log (``model``, ``trades``, ...), every row carrying its run's ``key`` and
``seed`` in the first columns, so that logs join the runs on ``key``.

Imports pandas and pyarrow inside :func:`load` only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .specs import flatten_results
from .store import PARTS_DIR, RESULTS_FILE, RUNS_DIR, load_results, read_metadata, set_aside

SUMMARY_FILE = "summary.json"
# Columns put first in every log frame.
JOIN_COLUMNS = ("key", "seed")


def _read_log(path: Path, fallback: dict[str, Any]):
    """One Parquet log as a tidy frame: the index as a column, key and seed first."""
    import pandas as pd

    frame = pd.read_parquet(path)
    if frame.index.name is not None:
        frame = frame.reset_index()
    identity = {**fallback, **read_metadata(path)}
    for i, name in enumerate(JOIN_COLUMNS):
        if name in frame.columns:
            frame = frame.drop(columns=name)
        frame.insert(i, name, identity.get(name))
    return frame


def _run_row(summary: dict[str, Any]) -> dict[str, Any]:
    head = {k: summary.get(k) for k in ("key", "scenario", "seed", "steps", "digest")}
    tail = {"package_version": summary.get("package_version")}
    return {**head, **flatten_results(summary.get("results", {})), **tail}


def _logs(run_dirs: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    import pandas as pd
    import pyarrow as pa

    pieces: dict[str, list] = {}
    for run_dir, fallback in run_dirs:
        for path in sorted(run_dir.glob("*.parquet")):
            try:
                frame = _read_log(path, fallback)
            except (pa.ArrowException, OSError, ValueError) as err:
                # A damaged log of one run must not hide every other run's.
                set_aside(run_dir, path, f"not a readable log ({err})", move=False)
                continue
            pieces.setdefault(path.stem, []).append(frame)
    return {name: pd.concat(frames, ignore_index=True) for name, frames in sorted(pieces.items())}


def load(path: str | Path) -> dict[str, Any]:
    """Read a run's or a sweep's results and logs as tidy DataFrames.

    Args:
        path: A run directory (``summary.json``) or a sweep directory (``results.parquet`` or
            ``parts/``; the logs of ``sweep --logs`` under ``runs/<key>/``).

    Returns:
        ``{"runs": ..., "model": ..., "trades": ..., ...}``: ``runs`` has one row per run (its
        key, scenario, seed, steps, parameters of a sweep, digest, metrics); every other frame is
        one kind of log of every run, with ``key`` and ``seed`` first and the index written as a
        column (``step`` in ``model``). A sweep without ``--logs`` gives ``runs`` only.

    Raises:
        UsageError: ``path`` is neither a run nor a sweep directory.

    Example:
        >>> data = load("runs/sweeps/pivot_network")                         # doctest: +SKIP
        >>> model = data["model"].merge(data["runs"], on=["key", "seed"])    # doctest: +SKIP
    """
    import pandas as pd

    path = Path(path)
    if not path.is_dir():
        raise UsageError(f"{path}: no such directory")
    if (path / RESULTS_FILE).exists() or (path / PARTS_DIR).is_dir():
        runs = load_results(path)
        seeds = dict(zip(runs["key"], runs["seed"], strict=True)) if not runs.empty else {}
        run_dirs = [
            (d, {"key": d.name, "seed": seeds.get(d.name)})
            for d in sorted((path / RUNS_DIR).glob("*"))
            if d.is_dir()
        ]
        return {"runs": runs, **_logs(run_dirs)}
    summary_path = path / SUMMARY_FILE
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        runs = pd.DataFrame([_run_row(summary)])
        fallback = {"key": summary.get("key"), "seed": summary.get("seed")}
        return {"runs": runs, **_logs([(path, fallback)])}
    raise UsageError(
        f"{path}: neither a run ({SUMMARY_FILE}) nor a sweep ({RESULTS_FILE}) directory"
    )
