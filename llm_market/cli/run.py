"""The ``llm-market run`` command: run a scenario and write its report.

Every input (parameters, seed, ``--out``, ``--config``, the reply cache) is checked before the
model is built. A run cut short keeps what it simulated, ending on a whole day: Ctrl-C or
SIGTERM finishes the day under way, writes the days run and exits 130 (143); a stopping error of
the language-model policy (a replay miss, a refused endpoint) writes them and exits 2 with the
cause, an endpoint that stays down exits 1. Every ``--checkpoint-every`` days the logs and a
summary (status ``running``) are written, so a SIGKILL loses at most that many days. The logs
are streamed to Parquet parts in the run's folder as the run goes (:mod:`~llm_market.recording.\
stream`), so a checkpoint writes only what is new and memory stays flat. See
``docs/reliability.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import UsageError, check_regular_file
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
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into a folder holding another run's files, removing those files first",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        metavar="N",
        help="write the logs every N days (default steps_per_month; 0: only at the end)",
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

    Everything the user gave (parameters, seed, paths) is checked before the model is built.

    Returns:
        0 for a complete run, 128 + the signal for one stopped by Ctrl-C (130) or SIGTERM (143),
        1 when the language model stays unreachable or the money check fails.

    Raises:
        UsageError: A mistake in the settings, or a stopping error of the policy (after the days
            simulated are written).
    """
    settings: dict[str, Any] = load_config(args.config) if args.config else {}
    settings.update(parse_set(args.overrides))
    given_scenario, given_seed = settings.pop("scenario", None), settings.pop("seed", None)
    if given_scenario is not None and not isinstance(given_scenario, str):
        raise UsageError(f"scenario: must be a scenario's name (got {given_scenario!r})")
    scenario = args.scenario or given_scenario or "default"
    seed = args.seed if args.seed is not None else 42 if given_seed is None else given_seed
    if args.steps is not None:
        settings["steps"] = args.steps
    for name in _PARAMETER_FLAGS:
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps: must be >= 1 (got {args.steps})")
    if args.checkpoint_every is not None and args.checkpoint_every < 0:
        raise UsageError(
            "--checkpoint-every: must be >= 0 days (0: no checkpoints; "
            f"got {args.checkpoint_every})"
        )
    # Validate before the slow imports so that a mistake is answered at once.
    from ..params import check_seed, make_params
    from ..recording.outputs import CACHE_FILE, check_out_dir

    if given_seed is not None:
        check_seed(given_seed)
    seed = check_seed(seed, "--seed" if args.seed is not None else "seed")
    params = make_params(scenario, **settings)
    default_cache = (
        params.policy == "llm"
        and params.llm_cache_mode == "off"
        and "llm_cache_mode" not in settings
    )
    cache = None if params.llm_cache_mode == "off" else Path(params.llm_cache_path)
    if params.policy == "llm" and cache is not None:
        check_cache_file(cache, params.llm_cache_mode)
    out = check_out_dir(
        args.out, f"runs/{scenario}_seed{seed}", args.force, keep=[cache] if cache else []
    )
    if default_cache:
        # Record every language-model reply by default, so that the run can be replayed.
        settings["llm_cache_mode"] = "read-write"
        settings["llm_cache_path"] = str(out / CACHE_FILE)
    every = params.steps_per_month if args.checkpoint_every is None else args.checkpoint_every
    return simulate(args, scenario, seed, settings, out, every)


def check_cache_file(path: Path, mode: str) -> None:
    """Refuse a reply cache that cannot serve the run: a folder, missing, or not a cache.

    Args:
        path: ``llm_cache_path``.
        mode: ``llm_cache_mode`` (``replay`` needs the file; ``read-write`` creates it).

    Raises:
        UsageError: The message names the path and what is wrong.
    """
    import sqlite3

    label = f"llm_cache_path {path}"
    if path.is_dir():
        raise UsageError(f"{label}: is a folder; give the SQLite file of the replies")
    if not path.exists():
        if mode == "replay":
            raise UsageError(f"{label}: no such file (replay reads a cache a run recorded)")
        if not path.parent.is_dir() and path.parent.exists():
            raise UsageError(f"{label}: {path.parent} is not a folder")
        return
    check_regular_file(path, label)
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as err:
        raise UsageError(f"{label}: not a reply cache (SQLite says: {err})") from None
    if "replies" not in tables and (mode == "replay" or tables):
        raise UsageError(f"{label}: a SQLite file without the replies table: not a reply cache")


def simulate(
    args: argparse.Namespace,
    scenario: str,
    seed: int,
    settings: dict[str, Any],
    out: Path,
    checkpoint_every: int,
) -> int:
    """Build the model, run it with checkpoints and signal handling, write its files.

    Returns:
        The exit status (see :func:`run`).
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ..errors import EXIT_FAILURE, MoneyError
    from ..experiments.runner import run_steps
    from ..model import MarketModel
    from ..recording.stream import RunStream
    from ..viz.report import write_run

    model = MarketModel(scenario=scenario, seed=seed, **settings)
    # The logs go to disk as the run goes; checkpoints append; the digest is computed once.
    stream = RunStream(model, out)
    write_run = partial(write_run, stream=stream)
    total = model.params.steps
    # soft_wrap: a message stays one line however narrow the terminal.
    console = Console(stderr=True, soft_wrap=True)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} days"),
        TimeRemainingColumn(),
        console=console,
        disable=args.quiet,
        transient=True,
    )
    stops = StopRequests(console)
    saved = {"day": None}

    def checkpoint() -> None:
        with stops.writing():
            write_run(model, out, {"interrupted": False}, status="running", report=False)
        saved["day"] = model.day

    def after_step(task) -> None:
        stops.stepping = False
        with stops.writing():
            stream.after_step()
        progress.advance(task)
        if stops.requested:
            raise KeyboardInterrupt  # between days: the run ends on a whole day
        if checkpoint_every and model.day % checkpoint_every == 0 and model.day < total:
            checkpoint()
        stops.stepping = True

    def kept() -> str:
        if saved["day"] is None:
            return "no checkpoint was written yet"
        return f"the checkpoint of day {saved['day']} stays in {out}/"

    try:
        with stops, progress:
            task = progress.add_task(f"{scenario} seed {seed}", total=total)
            stops.stepping = True
            outcome = run_steps(
                model, total, on_step=partial(after_step, task), keep_on_interrupt=True
            )
            stops.stepping = False
            if stops.hard:
                console.print(f"stopped during day {model.day + 1} without finishing it; {kept()}")
                return stops.exit_status
            extra: dict[str, Any] = {"interrupted": outcome.interrupted}
            if outcome.stopped_by is not None:
                # A replay miss or a refused endpoint: keep the days simulated, then the cause.
                extra["stopped_by"] = outcome.stopped_by
                with stops.writing():
                    write_run(model, out, extra, status="stopped")
                message = f"stopped after {model.day} days: {outcome.stopped_by}"
                if outcome.exit_code == EXIT_FAILURE:  # the language model is unavailable
                    console.print(f"error: {message}", highlight=False)
                    return EXIT_FAILURE
                raise UsageError(message)
            if outcome.interrupted:
                console.print(f"interrupted after {model.day} days; writing what was simulated")
            with stops.writing():
                status = "interrupted" if outcome.interrupted else "complete"
                summary = write_run(model, out, extra, status=status)
    except MoneyError as err:
        console.print(f"error: {err}; {kept()}", highlight=False)
        return EXIT_FAILURE
    finally:
        close = getattr(model.policy, "close", None)
        if close is not None:
            close()
    r = json.loads(summary.read_text())["results"]
    console.print(
        f"{model.day} days, {r['trades']} trades, efficiency {_number(r['mean_efficiency'], 3)}, "
        f"crowd Brier {_number(r['crowd_brier'], 4)}, budget HHI "
        f"{_number(r['final_budget_hhi'], 3)}\nwrote {summary.parent}/ (summary.json, "
        "report.png, Parquet logs)"
    )
    return stops.exit_status if outcome.interrupted else 0


def _number(x: float | None, digits: int) -> str:
    # The summary's None: a result the run has none of (no trade, no funding, no question).
    return "n/a" if x is None else f"{x:.{digits}f}"


class StopRequests:
    """Ctrl-C (SIGINT) and SIGTERM during a run, taken between days.

    The first signal asks the run to stop once the day under way is finished, so the files
    written end on a whole day. A second signal during a day stops at once without writing that
    day (the last checkpoint stays). Any signal while files are being written waits until they
    are written, so a write is never torn. Handlers are installed only in the main thread (the
    only one Python delivers signals to) and restored on exit.

    Attributes:
        requested: A signal asked the run to stop.
        hard: A second signal stopped it in the middle of a day.
        stepping: A day is under way (set by the run loop).
    """

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self, console: Any):
        self.console = console
        self.requested = self.hard = self.stepping = False
        self.signum: int | None = None
        self._writing = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequests:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                sig = getattr(signal, name, None)
                if sig is not None:
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    @property
    def exit_status(self) -> int:
        """128 + the signal's number, as a shell reports a process ended by it."""
        return 128 + (self.signum or 2)

    @contextlib.contextmanager
    def writing(self):
        """Defer every signal until the block (a write of the run's files) is done."""
        self._writing += 1
        try:
            yield
        finally:
            self._writing -= 1

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = self.signum or signum
        if not self.requested:
            self.requested = True
            self.console.print("stopping after this day (again to stop at once)")
            return
        if self.stepping and not self._writing:
            self.hard = True
            raise KeyboardInterrupt


COMMANDS = {"run": ("run a scenario and write its report", configure, run)}
