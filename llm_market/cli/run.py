"""The ``llm-market run`` command: run a scenario and write its report.

A run cut short keeps what it simulated: Ctrl-C writes the days run and exits 130; a stopping
error of the language-model policy (a replay miss, a refused endpoint) writes them and exits 2
with the cause.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import EXIT_FAILURE, UsageError
from .settings import add_overrides_argument, load_config, parse_set

EXIT_INTERRUPTED = 130  # the shell's status for a process ended by Ctrl-C (128 + SIGINT)

# Flags that set the parameter of the same name when given.
_PARAMETER_FLAGS = ("policy", "llm_base_url", "llm_model")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``run`` command's arguments."""
    parser.add_argument("--scenario", default=None, help="preset name (see `llm-market scenarios`)")
    parser.add_argument("--steps", type=int, default=None, help="trading days to simulate")
    parser.add_argument("--seed", type=int, default=None, help="integer seed (default 42)")
    add_overrides_argument(parser)
    parser.add_argument("--config", default=None, help="TOML file of parameters")
    parser.add_argument(
        "--out", default=None, help="output directory (default runs/SCENARIO_seedS)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--policy",
        choices=("heuristic", "llm"),
        default=None,
        help="who decides for the teams (llm: a share llm_share of them)",
    )
    parser.add_argument("--llm-base-url", default=None, help="OpenAI-compatible endpoint URL")
    parser.add_argument("--llm-model", default=None, help="model name at the endpoint")


def run(args: argparse.Namespace) -> int:
    """Run ``llm-market run``: simulate, write the run's files, print a one-line result.

    Returns:
        0 for a complete run, 130 for one interrupted by Ctrl-C.

    Raises:
        UsageError: A mistake in the settings, or a stopping error of the policy (after the days
            simulated are written).
    """
    settings: dict[str, Any] = load_config(args.config) if args.config else {}
    settings.update(parse_set(args.overrides))
    scenario = args.scenario or settings.pop("scenario", "default")
    settings.pop("scenario", None)
    seed = args.seed if args.seed is not None else settings.pop("seed", 42)
    settings.pop("seed", None)
    if args.steps is not None:
        settings["steps"] = args.steps
    for name in _PARAMETER_FLAGS:
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise UsageError(f"seed: must be an integer (got {seed!r})")
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps: must be >= 1 (got {args.steps})")

    out = Path(args.out or f"runs/{scenario}_seed{seed}")
    # Validate before the slow imports so that a mistake is answered at once.
    from ..params import make_params

    params = make_params(scenario, **settings)
    if (
        params.policy == "llm"
        and params.llm_cache_mode == "off"
        and "llm_cache_mode" not in settings
    ):
        # Record every language-model reply by default, so that the run can be replayed.
        settings["llm_cache_mode"] = "read-write"
        settings["llm_cache_path"] = str(out / "llm_cache.sqlite")
        out.mkdir(parents=True, exist_ok=True)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ..experiments.runner import run_steps
    from ..model import MarketModel
    from ..viz.report import write_run

    model = MarketModel(scenario=scenario, seed=seed, **settings)
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} days"),
        TimeRemainingColumn(),
        console=console,
        disable=args.quiet,
        transient=True,
    )
    try:
        with progress:
            task = progress.add_task(f"{scenario} seed {seed}", total=model.params.steps)
            outcome = run_steps(
                model,
                model.params.steps,
                on_step=partial(progress.advance, task),
                keep_on_interrupt=True,
            )
    finally:
        close = getattr(model.policy, "close", None)
        if close is not None:
            close()
    extra: dict[str, Any] = {"interrupted": outcome.interrupted}
    if outcome.stopped_by is not None:
        # A replay miss or a refused endpoint: keep the days simulated, then report the cause.
        extra["stopped_by"] = outcome.stopped_by
        write_run(model, out, extra)
        if outcome.exit_code == EXIT_FAILURE:  # the language model is unavailable: exit 1
            print(f"error: stopped after {model.day} days: {outcome.stopped_by}", file=sys.stderr)
            return EXIT_FAILURE
        raise UsageError(f"stopped after {model.day} days: {outcome.stopped_by}")
    if outcome.interrupted:
        console.print(f"interrupted after {model.day} days; writing what was simulated")
    summary = write_run(model, out, extra)
    r = model.summary()["results"]
    console.print(
        f"{model.day} days, {r['trades']} trades, efficiency {r['mean_efficiency'] or 0:.3f}, "
        f"crowd Brier {r['crowd_brier'] or float('nan'):.4f}, budget HHI "
        f"{r['final_budget_hhi']:.3f}\nwrote {summary.parent}/ (summary.json, report.png, "
        f"Parquet logs)"
    )
    return EXIT_INTERRUPTED if outcome.interrupted else 0


COMMANDS = {"run": ("run a scenario and write its report", configure, run)}
