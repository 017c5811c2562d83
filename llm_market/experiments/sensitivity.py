"""A design sweep's record and its sensitivity analysis.

A design sweep (``design = "sobol" | "morris" | "lhs"`` in its spec) keeps, in
``DIR/design.json``, everything the analysis needs besides the results: the design, its sample
matrix (sample space) and, for each row, the key of its run for every seed
(:func:`record_design`, called when the sweep starts). :func:`analyze_sweep` reads that record
and ``results.parquet``, averages the metric over the seeds of each row and computes the indices
(:func:`~llm_market.experiments.designs.analyze`); the analysis can be repeated for any metric
the sweep kept, without the spec.

Heavy libraries (pandas, NumPy, SALib) are imported inside the functions.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..params import Params
from .designs import Design, Sensitivity, analyze
from .specs import Sweep, design_keys, normalised_combinations
from .store import DESIGN_FILE, DIGEST, ID_COLUMNS, load_results, read_design, write_design

# Bump when the layout of design.json changes.
RECORD_VERSION = 1
# What must agree for a directory to take more runs of a design (seeds and steps may change).
_SAME_DESIGN = ("scenario", "fixed", "design", "x")


def design_record(sweep: Sweep) -> dict[str, Any]:
    """The record of a design sweep: design, sample matrix, fixed parameters, run keys.

    Raises:
        UsageError: The sweep is not a design sweep, or a design point is invalid.
    """
    if sweep.design is None:
        raise UsageError(f"{sweep.source}: not a design sweep (no design = ... in the spec)")
    combos = normalised_combinations(sweep)
    return {
        "version": RECORD_VERSION,
        "sweep": sweep.name,
        "scenario": sweep.scenario,
        "steps": sweep.steps,
        "seeds": list(sweep.seeds),
        "fixed": {k: v for k, v in combos[0].items() if k not in sweep.design.names},
        "design": sweep.design.to_dict(),
        "problem": sweep.design.problem(),
        "x": sweep.design.sample().tolist(),
        "keys": design_keys(sweep, combos),
    }


def record_design(sweep: Sweep, out: str | Path) -> Path | None:
    """Write ``DIR/design.json`` for a design sweep (nothing for a grid).

    A directory keeps one design: running the same design again with other seeds or another run
    length rewrites the record, another design is refused.

    Args:
        sweep: The sweep about to run.
        out: Its directory.

    Returns:
        The path written, or None for a grid sweep.

    Raises:
        UsageError: ``out`` holds the record of another design.
    """
    if sweep.design is None:
        return None
    record = design_record(sweep)
    old = read_design(out)
    if old is not None and any(old.get(k) != record[k] for k in _SAME_DESIGN):
        was = Design.from_dict(old["design"]).describe() if "design" in old else "another design"
        raise UsageError(
            f"{out}: holds the runs of another design ({was}); use a new --out for this one"
        )
    return write_design(out, record)


def _numeric_columns(results) -> list[str]:
    skip = {*ID_COLUMNS, DIGEST, *Params.model_fields}
    return [
        c
        for c in results.columns
        if c not in skip and results[c].dtype.kind in "fiu" and results[c].notna().any()
    ]


def analyze_sweep(out: str | Path, metric: str) -> Sensitivity:
    """Sensitivity indices of one metric of a finished design sweep.

    Args:
        out: The sweep directory (``design.json`` and ``results.parquet``).
        metric: A metric the sweep kept (a column of the results), or ``wall_s`` / ``cpu_s``.

    Returns:
        The indices (see :class:`~llm_market.experiments.designs.Sensitivity`).

    Raises:
        UsageError: ``out`` is not a design sweep, the metric is unknown or has no value in some
            run, or runs of the design are missing.
    """
    import numpy as np

    out = Path(out)
    if not out.is_dir():
        raise UsageError(f"{out}: no such directory")
    record = read_design(out)
    if record is None:
        raise UsageError(
            f"{out}: not a design sweep (no {DESIGN_FILE}); run a spec with "
            'design = "sobol", "morris" or "lhs" (see docs/sweeps.md)'
        )
    design = Design.from_dict(record["design"])
    results = load_results(out)
    if results.empty:
        raise UsageError(f"{out}: no finished runs yet")
    choices = _numeric_columns(results)
    if metric not in choices:
        close = difflib.get_close_matches(metric, choices, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UsageError(f"--y: unknown metric {metric!r}{hint}; choose from {', '.join(choices)}")
    values = dict(zip(results["key"], results[metric], strict=True))
    keys = record["keys"]
    unique = {k for row in keys for k in row}
    missing = unique - set(values)
    if missing:
        raise UsageError(
            f"{out}: {len(missing)} of {len(unique)} runs of the design are not finished; "
            "run the same sweep command again to finish them"
        )
    y = np.array([[values[k] for k in row] for row in keys], dtype=float)
    empty = int(np.isnan(y).sum())
    if empty:
        raise UsageError(
            f"--y {metric}: {empty} runs have no value (such as a Brier score before any "
            "question resolves); choose another metric or longer runs"
        )
    y = y.mean(axis=1)
    if np.ptp(y) == 0:
        raise UsageError(f"--y {metric}: the same value in every run; nothing to analyse")
    return analyze(
        design, record["x"], y, metric=metric, runs=len(unique), seeds=len(record["seeds"])
    )


def format_sensitivity(result: Sensitivity) -> list[str]:
    """The indices as aligned text lines (value and 95% interval per column pair)."""
    table = result.table
    width = max(len("parameter"), *(len(str(p)) for p in table.index))
    cols = [c for c in table.columns if not c.endswith("_conf")]
    head = "parameter".ljust(width) + "".join(
        f"  {c + (' [95% interval]' if f'{c}_conf' in table else ''):>26}" for c in cols
    )
    lines = [head]
    for name, row in table.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if f"{c}_conf" in table:
                h = row[f"{c}_conf"]
                cells.append(f"{v:>8.3f} [{v - h:>7.3f}, {v + h:>7.3f}]")
            else:
                cells.append(f"{v:>8.3g}")
        lines.append(str(name).ljust(width) + "".join(f"  {c:>26}" for c in cells))
    return lines
