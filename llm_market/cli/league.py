"""The ``llm-market league`` command: a run's policy groups compared, with bootstrap intervals.

``llm-market league RUN_DIR`` reads the run's files, computes
:func:`~llm_market.stats.league.league_table` (heuristic teams, LLM teams by model and persona,
and the reference forecasters) and prints it as a table; ``--csv PATH`` also writes it as CSV and
``--json`` prints it as JSON records instead of the table. A missing or non-run directory ends
with exit status 2 and one line.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from ..errors import UsageError


def _num(v: Any, fmt: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return format(v, fmt)


def _with_interval(row: Any, name: str, fmt: str) -> str:
    value = _num(row[name], fmt)
    if value == "n/a":
        return value
    return f"{value} [{_num(row[f'{name}_lo'], fmt)}, {_num(row[f'{name}_hi'], fmt)}]"


def print_table(table: Any, run_dir: Path, n_boot: int, level: float) -> None:
    """Print the league table on standard output."""
    from rich.console import Console
    from rich.table import Table

    out = Table(
        title=f"League of {run_dir}: {level:.0%} bootstrap intervals ({n_boot} resamples of "
        "questions for Brier and skill, of teams for earnings)",
        title_justify="left",
    )
    for name, justify in (
        ("group", "left"),
        ("teams", "right"),
        ("questions", "right"),
        ("Brier", "right"),
        ("skill vs no-info", "right"),
        ("revenue / team", "right"),
        ("profit / team", "right"),
        ("funding share (even)", "right"),
        ("fallbacks", "right"),
    ):
        out.add_column(name, justify=justify, no_wrap=True)
    for _, row in table.iterrows():
        team_row = row["kind"] != "reference"
        funding = (
            f"{_num(row['funding_share'], '.1%')} ({_num(row['fair_share'], '.0%')})"
            if team_row
            else ""
        )
        fallbacks = (
            f"{_num(row['fallback_rate'], '.1%')} of {_num(row['decisions'], '.0f')}"
            if math.isfinite(row["fallback_rate"])
            else ("n/a" if team_row else "")
        )
        out.add_row(
            str(row["group"]),
            str(row["teams"]) if team_row else "",
            str(row["questions"]),
            _with_interval(row, "brier", ".4f"),
            _with_interval(row, "skill", "+.3f"),
            _with_interval(row, "revenue", ".1f") if team_row else "",
            _with_interval(row, "profit", ".1f") if team_row else "",
            funding,
            fallbacks,
        )
    console = Console()
    if not console.is_terminal:
        # Piped or captured output: rich would assume 80 columns and wrap the intervals.
        console = Console(width=200)
    console.print(out)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``league`` command's arguments."""
    parser.add_argument("run_dir", help="a run directory (what `llm-market run --out` writes)")
    parser.add_argument("--csv", default=None, metavar="PATH", help="also write the table as CSV")
    parser.add_argument(
        "--json", action="store_true", help="print the table as JSON records instead"
    )
    parser.add_argument(
        "--resamples",
        type=int,
        default=2000,
        metavar="N",
        help="bootstrap resamples (default 2000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the bootstrap's seed (default 0)")
    parser.add_argument(
        "--level", type=float, default=0.95, help="interval coverage (default 0.95)"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``llm-market league``: print the table, and write it as CSV with ``--csv``."""
    if args.resamples < 1:
        raise UsageError(f"--resamples: must be at least 1 (got {args.resamples})")
    if not 0.0 < args.level < 1.0:
        raise UsageError(f"--level: must be in (0, 1) (got {args.level})")
    from ..stats.league import league_table

    run_dir = Path(args.run_dir)
    table = league_table(run_dir, n_boot=args.resamples, seed=args.seed, level=args.level)
    if args.json:
        print(table.to_json(orient="records", indent=2))
    else:
        print_table(table, run_dir, args.resamples, args.level)
    if args.csv:
        try:
            table.to_csv(args.csv, index=False)
        except OSError as err:
            raise UsageError(f"--csv {args.csv}: cannot write ({err.strerror or err})") from None
        if not args.json:
            print(f"wrote {args.csv}")
    return 0


COMMANDS = {"league": ("compare a run's policy groups (Brier, skill, earnings)", configure, run)}
