"""The errors a user's mistake raises, shared by the library and the command line.

Library code raises these; the command line (:mod:`llm_market.cli`) catches them and prints one
line with exit status 2. Keeping them here means no library module imports the CLI.
"""

EXIT_USAGE = 2


class ParameterError(ValueError):
    """A model parameter is unknown or out of range; the message names it and what it accepts."""


class UsageError(Exception):
    """A mistake in the command line, a config file or a spec; the message is shown as is."""
