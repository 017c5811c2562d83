"""The ``llm-market`` command line.

``llm-market run`` runs a scenario and writes its report; ``llm-market scenarios`` lists the
presets; ``llm-market params`` lists every parameter with its default. A user's mistake (an unknown
parameter, a value out of range, an unparsable ``--set`` or config file) ends with exit status 2
and one line that names what is wrong, never a traceback.

Each command is a module of this package with ``COMMANDS = {name: (help, configure, run)}``:
``configure(parser)`` adds the command's arguments and ``run(args) -> int`` runs it, raising
``UsageError`` for a mistake in the user's input. The modules import heavy libraries inside
``run`` only, so that building the parser stays fast.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from .. import __version__
from ..errors import EXIT_USAGE, DataWarning, ParameterError, UsageError
from . import app, calibrate, compare, facts, fit, info, league, run, sensitivity, sweep
from .run import EXIT_INTERRUPTED
from .settings import load_config, parse_set

__all__ = ["COMMAND_MODULES", "UsageError", "load_config", "main", "parse_set"]

# In the order of `llm-market --help`.
COMMAND_MODULES = (run, info, sweep, sensitivity, facts, calibrate, fit, compare, league, app)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 2 (argparse's default, kept short)."""

    def error(self, message: str) -> None:  # noqa: D102
        raise UsageError(f"{self.prog}: {message}")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="llm-market", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"llm-market {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in COMMAND_MODULES:
        for name, (text, configure, _) in module.COMMANDS.items():
            configure(sub.add_parser(name, help=text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).
    """
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _main(argv)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    # The package's own warnings (a skipped file) are one line; others keep Python's form.
    if issubclass(category, DataWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _main(argv: Sequence[str] | None) -> int:
    try:
        args = _build_parser().parse_args(argv)
        for module in COMMAND_MODULES:
            if args.command in module.COMMANDS:
                return module.COMMANDS[args.command][2](args)
        raise UsageError(f"unknown command {args.command}")
    except (UsageError, ParameterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        # Ctrl-C before a run starts (or in a command without its own handling): one line.
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
