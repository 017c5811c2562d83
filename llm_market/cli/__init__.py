"""The ``llm-market`` command line.

``llm-market run`` runs a scenario and writes its report; ``llm-market scenarios`` lists the
presets; ``llm-market params`` lists every parameter with its default. A user's mistake (an unknown
parameter, a value out of range, an unparsable ``--set`` or config file) ends with exit status 2
and one line that names what is wrong, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import EXIT_USAGE, ParameterError, UsageError
from ..params import SCENARIOS, describe_parameters, make_params


class _NeverRaised(Exception):
    """Stands in for the language-model errors when the optional policy cannot be imported."""


def _stopping_errors() -> tuple[type[Exception], ...]:
    try:
        from ..policies.llm import EndpointError, ReplayMiss
    except ImportError:
        return (_NeverRaised,)
    return (ReplayMiss, EndpointError)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 2 (argparse's default, kept short)."""

    def error(self, message: str) -> None:  # noqa: D102
        raise UsageError(f"{self.prog}: {message}")


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """Parse ``key=value`` overrides; values are read as TOML (numbers, lists) or plain strings.

    Args:
        items: Strings such as ``"n_teams=50"``, ``"horizons=[5, 21]"``, ``"network=erdos_renyi"``.

    Returns:
        The overrides by name.

    Raises:
        UsageError: An item has no ``=`` or no name.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set {item!r}: expected key=value, for example --set n_teams=50")
        try:
            out[key] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            # Bare words such as erdos_renyi are not TOML; take them as strings.
            out[key] = raw.strip()
    return out


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a TOML config: top-level keys are parameters, plus optional ``scenario`` and ``seed``.

    A ``[params]`` table is also accepted, for files that keep other tables beside it.

    Raises:
        UsageError: The file is missing or is not valid TOML.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"--config {path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"--config {path}: not valid TOML ({err})") from None
    params = data.pop("params", {})
    if not isinstance(params, dict):
        raise UsageError(f"--config {path}: [params] must be a table")
    data.update(params)
    return data


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="llm-market", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"llm-market {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario and write its report")
    run.add_argument("--scenario", default=None, help="preset name (see `llm-market scenarios`)")
    run.add_argument("--steps", type=int, default=None, help="trading days to simulate")
    run.add_argument("--seed", type=int, default=None, help="integer seed (default 42)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter (repeatable)",
    )
    run.add_argument("--config", default=None, help="TOML file of parameters")
    run.add_argument("--out", default=None, help="output directory (default runs/SCENARIO_seedS)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--policy",
        choices=("heuristic", "llm"),
        default=None,
        help="who decides for the teams (llm: a share llm_share of them)",
    )
    run.add_argument("--llm-base-url", default=None, help="OpenAI-compatible endpoint URL")
    run.add_argument("--llm-model", default=None, help="model name at the endpoint")

    sub.add_parser("scenarios", help="list the scenario presets")
    sub.add_parser("params", help="list every parameter with its default")
    for module in _command_modules():
        for name, (text, configure, _) in module.COMMANDS.items():
            configure(sub.add_parser(name, help=text))
    return parser


# Modules that add subcommands. Each has ``COMMANDS = {name: (help, configure, run)}`` where
# ``configure(parser)`` adds the arguments and ``run(args) -> int`` runs the command; a mistake in
# the user's input raises ``UsageError``. They import heavy libraries inside ``run`` only, so that
# building the parser stays fast.
COMMAND_MODULES: tuple[str, ...] = (
    "llm_market.experiments.sweeps",
    "llm_market.cli.facts",
    "llm_market.stats.calibration",
    "llm_market.experiments.compare",
)


def _command_modules() -> list[Any]:
    from importlib import import_module

    return [import_module(name) for name in COMMAND_MODULES]


def _run(args: argparse.Namespace) -> int:
    settings: dict[str, Any] = load_config(args.config) if args.config else {}
    settings.update(parse_set(args.overrides))
    scenario = args.scenario or settings.pop("scenario", "default")
    settings.pop("scenario", None)
    seed = args.seed if args.seed is not None else settings.pop("seed", 42)
    settings.pop("seed", None)
    if args.steps is not None:
        settings["steps"] = args.steps
    for flag, name in (
        ("policy", "policy"),
        ("llm_base_url", "llm_base_url"),
        ("llm_model", "llm_model"),
    ):
        if getattr(args, flag) is not None:
            settings[name] = getattr(args, flag)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise UsageError(f"seed: must be an integer (got {seed!r})")
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps: must be >= 1 (got {args.steps})")

    out = Path(args.out or f"runs/{scenario}_seed{seed}")
    # Validate before the slow imports so that a mistake is answered at once.
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

    from ..model import MarketModel
    from ..viz.report import write_run

    model = MarketModel(scenario=scenario, seed=seed, **settings)
    steps = model.params.steps
    console = Console(stderr=True)
    extra: dict[str, Any] = {"interrupted": False}
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
            task = progress.add_task(f"{scenario} seed {seed}", total=steps)
            for _ in range(steps):
                model.step()
                progress.advance(task)
    except KeyboardInterrupt:
        # Keep what has been simulated: write it, marked as interrupted.
        extra["interrupted"] = True
        console.print(f"interrupted after {model.day} days; writing what was simulated")
    except _stopping_errors() as err:
        # A replay miss or a refused endpoint: keep the days simulated, then report the cause.
        extra["interrupted"] = True
        extra["stopped_by"] = str(err)
        write_run(model, out, extra)
        raise UsageError(f"stopped after {model.day} days: {err}") from None
    finally:
        close = getattr(model.policy, "close", None)
        if close is not None:
            close()
    summary = write_run(model, out, extra)
    r = model.summary()["results"]
    console.print(
        f"{model.day} days, {r['trades']} trades, efficiency {r['mean_efficiency'] or 0:.3f}, "
        f"crowd Brier {r['crowd_brier'] or float('nan'):.4f}, budget HHI "
        f"{r['final_budget_hhi']:.3f}\nwrote {summary.parent}/ (summary.json, report.png, "
        f"Parquet logs)"
    )
    return 130 if extra["interrupted"] else 0


def _scenarios() -> int:
    width = max(len(n) for n in SCENARIOS)
    for name, (text, _) in SCENARIOS.items():
        print(f"{name:<{width}}  {text}")
    return 0


def _params() -> int:
    rows = describe_parameters()
    width = max(len(n) for n, _, _ in rows)
    for name, default, text in rows:
        print(f"{name:<{width}}  {default!s:<22}  {text}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).
    """
    try:
        args = _build_parser().parse_args(argv)
        if args.command == "run":
            return _run(args)
        if args.command == "scenarios":
            return _scenarios()
        if args.command == "params":
            return _params()
        for module in _command_modules():
            if args.command in module.COMMANDS:
                return module.COMMANDS[args.command][2](args)
        raise UsageError(f"unknown command {args.command}")
    except (UsageError, ParameterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE

