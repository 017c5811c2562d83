"""The errors a user's mistake raises, shared by the library and the command line.

Library code raises these; the command line (:mod:`llm_market.cli`) catches them and prints one
line with exit status 2. Keeping them here means no library module imports the CLI.
:func:`read_toml` reads the user's TOML files (configs, sweep and fit specs) with those errors.
"""

from __future__ import annotations

import os
import stat
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
    check_regular_file(path, label)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{label}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"{label}: not valid TOML ({err})") from None
    except OSError as err:
        raise UsageError(f"{label}: cannot read it ({err.strerror or err})") from None


def check_regular_file(path: Path, label: str) -> None:
    """Raise :class:`UsageError` unless ``path`` is a regular file (not a folder, a FIFO, ...).

    Checked with ``stat`` before opening: opening a FIFO for reading would wait for a writer.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UsageError(f"{label}: no such file") from None
    except OSError as err:
        raise UsageError(f"{label}: cannot read it ({err.strerror or err})") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{label}: is a folder; give a file")
    if not stat.S_ISREG(mode):
        raise UsageError(f"{label}: not a regular file (a pipe or a device); give a file")


EXIT_FAILURE = 1


class LLMUnavailable(RuntimeError):
    """The language-model endpoint failed too often in a row: the run cannot go on as asked.

    Not a user's typo but a broken or unreachable service, so the command line prints the message
    (which names the endpoint and the last error) and exits with :data:`EXIT_FAILURE`, after
    writing what the run has made so far.

    Attributes:
        endpoint: The base URL that failed.
        error: The last error, as text.
        failures: Consecutive failed calls when the run stopped.
    """

    def __init__(self, endpoint: str, error: str, failures: int):
        self.endpoint, self.error, self.failures = endpoint, error, failures
        super().__init__(
            f"language model at {endpoint} failed {failures} calls in a row; last error: {error}"
        )


class MoneyError(RuntimeError):
    """The money check found a balance or a flow that is not a finite number.

    Money that is NaN or infinite cannot be conserved or compared, so the run stops at the first
    day the check sees one instead of carrying on with a check that reads as zero. Not a typo in
    the input but values the model could not compute with: the command line prints the message
    and exits with :data:`EXIT_FAILURE`, keeping the last checkpoint of the run's files.
    """


class DataWarning(UserWarning):
    """A stored file was skipped or set aside (a corrupt or foreign part of a sweep, say).

    The command line prints it as one ``warning:`` line; the library goes on without the file.
    """
