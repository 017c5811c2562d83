"""``llm-market sensitivity``: the sensitivity indices of a design sweep's metric.

The work is in :mod:`llm_market.experiments.sensitivity` and
:mod:`llm_market.viz.sensitivity_plot`. Building the parser imports neither pandas nor SALib.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``sensitivity`` command's arguments."""
    parser.add_argument("dir", metavar="DIR", help="directory of a design sweep (design.json)")
    parser.add_argument("--y", required=True, metavar="METRIC", help="the metric to analyse")
    parser.add_argument(
        "--out", default=None, metavar="PNG", help="plot path (default DIR/sensitivity_Y.png)"
    )


def run(args: argparse.Namespace) -> int:
    """Print the indices with their 95% intervals and write the plot.

    Raises:
        UsageError: DIR is not a finished design sweep, or METRIC is not one of its metrics.
    """
    if not Path(args.dir).is_dir():
        raise UsageError(f"{args.dir}: no such directory")
    from ..experiments.sensitivity import analyze_sweep, format_sensitivity
    from ..viz.sensitivity_plot import plot_sensitivity

    result = analyze_sweep(args.dir, args.y)
    out = Path(args.out or Path(args.dir) / f"sensitivity_{args.y}.png")
    seeds = f"mean of {result.seeds} seeds per point" if result.seeds > 1 else "one seed"
    print(
        f"{args.y}: {result.method} analysis of {result.points} design points "
        f"({result.runs} runs, {seeds}); 95% intervals"
    )
    for line in format_sensitivity(result):
        print(line)
    if result.r_squared is not None:
        print(f"R² of the linear fit: {result.r_squared:.3f}")
    print(f"wrote {plot_sensitivity(result, out)}")
    return 0


COMMANDS = {
    "sensitivity": (
        # argparse formats help text with %: "%%" is a percent sign.
        "sensitivity indices of a design sweep's metric (Sobol, Morris or LHS), 95%% intervals",
        configure,
        run,
    )
}
