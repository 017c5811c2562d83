"""The ``llm-market scenarios`` and ``llm-market params`` commands: what a run can be given."""

from __future__ import annotations

import argparse


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """Neither command takes arguments."""


def scenarios(args: argparse.Namespace) -> int:
    """Print one line per scenario preset: its name and what it is for."""
    from ..scenarios import SCENARIOS

    width = max(len(n) for n in SCENARIOS)
    for name, (text, _) in SCENARIOS.items():
        print(f"{name:<{width}}  {text}")
    return 0


def params(args: argparse.Namespace) -> int:
    """Print one line per parameter: its name, its default and what it does."""
    from ..params import describe_parameters

    rows = describe_parameters()
    width = max(len(n) for n, _, _ in rows)
    for name, default, text in rows:
        print(f"{name:<{width}}  {default!s:<22}  {text}")
    return 0


COMMANDS = {
    "scenarios": ("list the scenario presets", _no_arguments, scenarios),
    "params": ("list every parameter with its default", _no_arguments, params),
}
