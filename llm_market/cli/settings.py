"""Reading a run's settings from the command line: ``--set key=value`` and ``--config FILE``."""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UsageError, read_toml


def add_overrides_argument(
    parser: argparse.ArgumentParser, text: str = "override a parameter (repeatable)"
) -> None:
    """Add ``--set KEY=VALUE`` (repeatable) to a command; read the values with :func:`parse_set`.

    Args:
        parser: The command's parser; the values land in ``args.overrides``.
        text: The option's help text.
    """
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=text
    )


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
    data = read_toml(path, f"--config {path}")
    params = data.pop("params", {})
    if not isinstance(params, dict):
        raise UsageError(f"--config {path}: [params] must be a table")
    data.update(params)
    return data
