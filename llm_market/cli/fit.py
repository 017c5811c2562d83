"""The ``llm-market fit`` command: estimate model parameters by simulated moments, write a config.

The method, the spec and the files are :mod:`~llm_market.experiments.fit`'s; this module reads
the arguments, prints the moment table and says where the files went.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import UsageError
from .sweep import add_engine_arguments, spec_path


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``fit`` command's arguments."""
    parser.add_argument(
        "spec",
        metavar="SPEC",
        help="fit specification (TOML, see batch/fits/), or the name of an example shipped "
        "with the package (fits/sp500_stylized)",
    )
    add_engine_arguments(parser)
    parser.add_argument(
        "--out", default=None, help="fit directory (default runs/fits/SPEC); a rerun resumes"
    )
    parser.add_argument(
        "--max-evaluations",
        type=int,
        default=None,
        metavar="N",
        help="most candidates to evaluate (default: the spec's optimizer.max_evaluations)",
    )
    parser.add_argument("--quiet", action="store_true", help="no line per candidate")


def _print_table(title: str, rows: list[dict]) -> None:
    print(title)
    print(f"  {'moment':<11}{'target':>10}  {'95% bootstrap band':>22}{'fitted':>11}{'t':>8}")
    for r in rows:
        band = f"[{r['low']:.4g}, {r['high']:.4g}]"
        print(
            f"  {r['moment']:<11}{r['target']:>10.4g}  {band:>22}{r['fitted']:>11.4g}{r['t']:>8.2f}"
        )


def run(args: argparse.Namespace) -> int:
    """Run ``llm-market fit``: estimate, print the moments and J, write fitted.toml and fit.json."""
    from ..experiments.fit import CONFIG_FILE, FIT_FILE, load_fit_spec, moment_table, run_fit
    from ..experiments.specs import SweepRunError

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers: must be >= 1 (got {args.workers})")
    if args.max_evaluations is not None and args.max_evaluations < 1:
        raise UsageError(f"--max-evaluations: must be >= 1 (got {args.max_evaluations})")
    spec = load_fit_spec(spec_path(args.spec))
    out = Path(args.out or Path("runs") / "fits" / spec.name)
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    try:
        outcome = run_fit(
            spec,
            out,
            workers=workers,
            dask=args.dask,
            max_evaluations=args.max_evaluations,
            echo=(lambda m: m.startswith("warning") and print(m)) if args.quiet else print,
        )
    except SweepRunError as err:
        print(
            f"error: {err}\nfinished runs are kept in {out}; fix the cause and run again",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(
            f"interrupted: the runs so far are in {out}; the same command resumes", file=sys.stderr
        )
        return 130
    res = outcome.result
    print(
        "fitted: " + ", ".join(f"{k} = {v:.6g}" for k, v in res.best.items()) + f" ({res.message})"
    )
    _print_table(
        f"moments ({outcome.target.label}; S = {res.replications} simulated series)",
        moment_table(outcome.target.names, outcome.target, res.moments),
    )
    print(f"J = {res.j:.4g}, df = {res.df}, p = {res.p_value:.3g}")
    if outcome.check is not None:
        _print_table(
            f"out of sample ({outcome.check.label})",
            moment_table(outcome.check.names, outcome.check, res.moments),
        )
        print(
            f"J = {outcome.check_j:.4g}, df = {len(outcome.check.names)}, p = {outcome.check_p:.3g}"
        )
    print(
        f"{len(res.evaluations)} candidates, {outcome.runs} runs made here, "
        f"{outcome.wall_s:.0f} s; wrote {out / CONFIG_FILE} and {out / FIT_FILE}"
    )
    return 0


COMMANDS = {
    "fit": (
        "fit model parameters to a real series by simulated moments; write a config",
        configure,
        run,
    )
}
