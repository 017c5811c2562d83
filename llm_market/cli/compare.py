"""``llm-market compare``: its arguments and the Markdown table it prints.

The comparison itself is :func:`llm_market.experiments.compare.compare_mechanisms`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import UsageError
from .settings import parse_set

if TYPE_CHECKING:
    import pandas as pd


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", default="default", help="scenario preset")
    parser.add_argument("--seed", type=int, default=42, help="seed shared by every run")
    parser.add_argument("--steps", type=int, default=252, help="trading days per run")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter for every run (repeatable)",
    )


def _run(args: argparse.Namespace) -> int:
    from ..experiments.compare import compare_mechanisms
    from ..params import make_params

    if args.steps < 1:
        raise UsageError(f"--steps: must be >= 1 (got {args.steps})")
    overrides = parse_set(args.overrides)
    if "mechanism" in overrides:
        raise UsageError("--set mechanism: compare runs every mechanism; do not set it")
    make_params(args.scenario, **overrides)
    table = compare_mechanisms(
        scenario=args.scenario, seed=args.seed, steps=args.steps, **overrides
    )
    print(markdown_table(table))
    return 0


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """Format a frame as a Markdown table (index first), floats to ``digits`` decimals.

    Args:
        table: The frame; its index becomes the first column.
        digits: Decimals of the float cells.
    """
    header = [table.index.name or "", *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for idx, row in table.iterrows():
        cells = [f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join([str(idx), *cells]) + " |")
    return "\n".join(lines)


COMMANDS = {
    "compare": (
        "run one scenario under every mechanism and tabulate the outcomes",
        _configure,
        _run,
    ),
}
