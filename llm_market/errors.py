"""The errors a user's mistake raises, shared by the library and the command line.

Library code raises these; the command line (:mod:`llm_market.cli`) catches them and prints one
line with exit status 2. Keeping them here means no library module imports the CLI.
:func:`read_toml` reads the user's TOML files (configs, sweep and fit specs) with those errors.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

EXIT_USAGE = 2


class ParameterError(ValueError):
    """A model parameter is unknown or out of range; the message names it and what it accepts."""


class UsageError(Exception):
    """A mistake in the command line, a config file or a spec; the message is shown as is."""


def read_toml(path: Path, label: str) -> dict[str, Any]:
    """Read a user's TOML file, or raise :class:`UsageError` with one line that says why not.

    Args:
        path: The file.
        label: How the message names it (``"--config run.toml"``, or the path itself).
    """
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{label}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"{label}: not valid TOML ({err})") from None
