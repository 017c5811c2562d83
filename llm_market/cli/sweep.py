"""``llm-market sweep`` and ``llm-market sweep-plot``: their arguments and what they print.

The work is in :mod:`llm_market.experiments` (the spec, the store, the execution) and
:mod:`llm_market.viz.sweep_plot`. Building the parser imports neither Mesa nor matplotlib.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path

from ..errors import UsageError
from .settings import parse_set


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--workers`` and ``--dask``: where the sweep engine runs (sweeps and fits share it)."""
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes, or LocalCluster workers with --dask local (default: the CPUs)",
    )
    parser.add_argument(
        "--dask",
        metavar="ADDRESS|local",
        default=None,
        help="run on Dask: 'local' starts a LocalCluster, else a scheduler address",
    )


def _configure_sweep(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "spec",
        metavar="SPEC",
        help="sweep specification (TOML, see batch/), or the name of an example shipped with "
        "the package (pivot_network, research_news, ...)",
    )
    add_engine_arguments(parser)
    parser.add_argument("--out", default=None, help="sweep directory (default runs/sweeps/SPEC)")
    parser.add_argument(
        "--logs",
        action="store_true",
        help="also write runs/<key>/model.parquet, trades.parquet and summary.json",
    )
    parser.add_argument("--seeds", type=int, default=None, help="use only the first N seeds")
    parser.add_argument("--steps", type=int, default=None, help="override the run length")
    parser.add_argument(
        "--dry-run", action="store_true", help="validate and count the runs, run nothing"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def spec_path(spec: str) -> str:
    """SPEC as given, or the example of that name shipped with the package if no such file exists.

    The examples (``batch/`` in a checkout) are package data, so that ``llm-market sweep
    pivot_network`` works from an installed wheel too.
    """
    if Path(spec).exists():
        return spec
    example = resources.files("llm_market.experiments").joinpath("examples", f"{spec}.toml")
    return str(example) if example.is_file() else spec


def _run_sweep_command(args: argparse.Namespace) -> int:
    from ..experiments.specs import SweepRunError, check_metrics, load_spec, plan, plural
    from ..experiments.store import RESULTS_FILE, done_keys
    from ..recording.outputs import writable_folder

    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps: must be >= 1 (got {args.steps})")
    if args.seeds is not None and args.seeds < 1:
        raise UsageError(f"--seeds: must be >= 1 (got {args.seeds})")
    sweep = load_spec(spec_path(args.spec), seeds=args.seeds, steps=args.steps)
    default = Path("runs") / "sweeps" / sweep.name
    out = Path(args.out or default)
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    # Every combination and metric is checked before the folder is made or anything runs.
    runs = plan(sweep)
    check_metrics(sweep, runs)
    if args.dry_run:
        done = done_keys(out) & {r.key for r in runs}
        print(
            f"{sweep.name}: {plural(len(runs), 'run')} valid ({sweep.shape()}); "
            f"{len(done)} already in {out}"
        )
        return 0

    out = writable_folder(args.out, default)

    def echo(msg: str) -> None:
        print(msg, file=sys.stderr)

    from ..experiments.execution import run_sweep

    try:
        report = run_sweep(
            sweep, out, workers, args.dask, args.logs, progress=not args.quiet, echo=echo
        )
    except SweepRunError as err:
        echo(f"error: {err}\nfinished runs are kept in {out}; fix the cause and run again")
        return 1
    done = len(done_keys(out) & {r.key for r in runs})
    if report.interrupted:
        echo(
            f"interrupted: {done} of {report.total} runs are in {out}/{RESULTS_FILE}; "
            "the same command resumes"
        )
        return 130
    for msg in report.failed:
        echo(f"error: {msg}")
    if not report.ran and not report.failed:
        return 0
    per_run = report.wall_s / report.ran if report.ran else 0.0
    echo(
        f"{report.ran} runs in {report.wall_s:.1f} s ({per_run:.2f} s per run); "
        f"{done} of {report.total} in {out}/{RESULTS_FILE}"
    )
    return 1 if report.failed else 0


def _configure_plot(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="sweep directory (holds results.parquet)")
    parser.add_argument("--x", required=True, metavar="PARAM", help="parameter on the x axis")
    parser.add_argument("--y", required=True, metavar="METRIC", help="metric on the y axis")
    parser.add_argument("--hue", default=None, metavar="PARAM", help="one line per value")
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep only runs with this parameter value (repeatable)",
    )
    parser.add_argument("--logx", action="store_true", help="logarithmic x axis")
    parser.add_argument("--out", default=None, help="PNG path (default DIR/sweep_Y_vs_X.png)")


def _run_plot_command(args: argparse.Namespace) -> int:
    if not Path(args.dir).is_dir():
        raise UsageError(f"{args.dir}: no such directory")
    from ..viz.sweep_plot import plot_sweep

    path, table = plot_sweep(
        args.dir, args.x, args.y, args.hue, parse_set(args.where), args.out, args.logx
    )
    rows = [(str(r.hue), str(r.x), r.n, r.mean, r.lo, r.hi) for r in table.itertuples()]
    wh = max([len(args.hue or "")] + [len(r[0]) for r in rows])
    wx = max([len(args.x)] + [len(r[1]) for r in rows])
    head = f"{args.hue:>{wh}}  " if args.hue else ""
    print(f"{head}{args.x:>{wx}}  {'n':>3}  {'mean':>10}  95% interval")
    for h, xv, n, mean, lo, hi in rows:
        head = f"{h:>{wh}}  " if args.hue else ""
        print(f"{head}{xv:>{wx}}  {n:>3}  {mean:>10.4g}  [{lo:.4g}, {hi:.4g}]")
    print(f"wrote {path}")
    return 0


COMMANDS = {
    "sweep": (
        "run a parameter sweep (every combination x every seed), locally or on Dask",
        _configure_sweep,
        _run_sweep_command,
    ),
    "sweep-plot": (
        # argparse formats help text with %: "%%" is a percent sign.
        "plot a sweep's metric against a parameter, mean over seeds with a 95%% band",
        _configure_plot,
        _run_plot_command,
    ),
}
