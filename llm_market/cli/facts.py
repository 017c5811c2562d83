"""The ``llm-market facts`` command: the stylized facts of a run, a sweep or a price file.

``llm-market facts SOURCE`` reads price series (see :mod:`~llm_market.stats.sources` for what
SOURCE may be), computes :func:`~llm_market.stats.facts.stylized_facts`, prints a table of facts
with pass or fail and writes ``facts.json`` and ``facts.png``. ``--burn-in N`` drops the first N
steps of every run; it defaults to 100 for runs and sweeps and 0 for price files.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..stats.sources import (
    DEFAULT_RUN_BURN_IN,
    SERIES,
    SP500,
    PriceSource,
    compute,
    load_source,
    series_label,
)


def _fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v:.4g}"


def _fmt_test(fact: Any) -> str:
    if fact.pvalue is not None and fact.pvalue == fact.pvalue:
        return f"p={fact.pvalue:.2g}"
    if fact.band is not None:
        return f"[{fact.band[0]:.3g}, {fact.band[1]:.3g}]"
    return "n/a"


def print_table(report: Any, src: PriceSource) -> None:
    """Print the facts (value, rule and result) as a table on standard output."""
    from rich.console import Console
    from rich.table import Table

    from ..stats.facts import zero_return_share

    colour = {"pass": "green", "fail": "red", "n/a": "yellow"}
    table = Table(
        title=(
            f"Stylized facts of {src.name} ({src.kind}, {src.column}): {report.n_returns} "
            f"returns from {report.n_series} series, burn-in {src.burn_in}"
        ),
        title_justify="left",
    )
    table.add_column("fact")
    table.add_column("value", justify="right")
    table.add_column("p / band", justify="right")
    table.add_column("rule")
    table.add_column("result")
    table.add_column("shuffled", justify="right")
    table.add_column("result (shuffled)")
    sur = report.surrogate
    for f in report.facts:
        name = f.name + (" (informative)" if f.informative else "")
        s = sur.fact(f.name) if sur is not None else None
        table.add_row(
            name,
            _fmt(f.value),
            _fmt_test(f),
            f.rule,
            f"[{colour[f.result]}]{f.result}[/]",
            _fmt(s.value) if s is not None else "n/a",
            f"[{colour[s.result]}]{s.result}[/]" if s is not None else "n/a",
        )
    console = Console()
    if not console.is_terminal:
        # Piped or captured output: rich would assume 80 columns and wrap every rule.
        console = Console(width=190)
    console.print(table)
    console.print(
        f"share of zero returns (days without a price change): {zero_return_share(report):.1%}"
    )
    console.print(
        "shuffled: the same returns permuted in time (same distribution, no time structure); "
        "a fact that passes there too comes from the distribution alone"
    )
    for note in src.notes:
        console.print(f"note: {note}")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``facts`` command's arguments."""
    parser.add_argument(
        "source",
        nargs="?",
        default=None,
        help="run directory, sweep directory (pools runs/*/model.parquet), CSV of dated "
        "prices, or 'sp500' for the S&P 500 sample shipped with arch (./sp500 is a folder)",
    )
    parser.add_argument(
        "--sp500", action="store_true", help="use the S&P 500 daily sample 1999-2018 (arch)"
    )
    parser.add_argument(
        "--series",
        choices=tuple(SERIES),
        default="price",
        help=f"runs: the goods' closing prices ({series_label('price')}, default) or the index "
        f"levels ({series_label('index')})",
    )
    parser.add_argument("--column", default=None, help="CSV: the price column (default: detect)")
    parser.add_argument(
        "--burn-in",
        type=int,
        default=None,
        metavar="N",
        help=f"drop the first N steps of each run (default {DEFAULT_RUN_BURN_IN} for runs, "
        "0 for price files)",
    )
    parser.add_argument(
        "--out", default=None, help="output directory (default: the run or sweep directory)"
    )
    parser.add_argument(
        "--no-garch", action="store_true", help="skip the GARCH fit (the slowest statistic)"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``llm-market facts``: print the table, write facts.json and facts.png."""
    if args.sp500 and args.source not in (None, SP500):
        raise UsageError(f"give either --sp500 or SOURCE, not both (got {args.source!r})")
    source = SP500 if args.sp500 else args.source
    if source is None:
        raise UsageError("facts: give a SOURCE (run directory, sweep directory, CSV or sp500)")
    src = load_source(source, args.series, args.column, args.burn_in)
    report = compute(src, fit_garch=not args.no_garch)
    out = Path(args.out) if args.out else src.default_out
    print_table(report, src)
    from ..viz.facts_report import write_facts

    json_path, png_path = write_facts(report, src, out)
    print(f"wrote {json_path} and {png_path}")
    return 0


COMMANDS = {"facts": ("stylized facts of a run, a sweep or a CSV of prices", configure, run)}
