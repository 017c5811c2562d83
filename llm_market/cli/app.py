"""The ``llm-market app`` command: serve the browser app (:mod:`llm_market.viz.app`) with Solara.

The app is part of the installed package, so the command works from a wheel as well as from a
checkout. It runs ``python -m solara run llm_market.viz.app`` in production mode (no reloader,
no watched files) with Solara's telemetry off; Solara's JavaScript comes from the
``solara-assets`` package, so no network is needed. ``--dry-run`` prints the command instead.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys

from ..errors import UsageError

APP_MODULE = "llm_market.viz.app"
DEFAULT_PORT = 8765  # Solara's own default
DEFAULT_HOST = "localhost"
# Set for the server unless the caller's environment sets them already.
SERVER_ENV = {"SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}


def solara_argv(
    port: int = DEFAULT_PORT, host: str = DEFAULT_HOST, open_browser: bool = False
) -> list[str]:
    """The command that serves the app: Solara in production mode on ``host:port``.

    Args:
        port: The TCP port (0 lets Solara choose a free one).
        host: The interface to listen on (``0.0.0.0`` for every interface).
        open_browser: Open the page in the default browser once the server is up.

    Raises:
        UsageError: The port is not in 0..65535.
    """
    if not 0 <= port <= 65535:
        raise UsageError(f"--port: must be in 0..65535 (got {port})")
    argv = [sys.executable, "-m", "solara", "run", APP_MODULE]
    argv += ["--host", host, "--port", str(port), "--production"]
    argv.append("--open" if open_browser else "--no-open")
    return argv


def server_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: ``environ`` (default ``os.environ``) with :data:`SERVER_ENV`."""
    return {**SERVER_ENV, **(os.environ if environ is None else environ)}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``app`` command's arguments."""
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"interface to listen on (default {DEFAULT_HOST}; 0.0.0.0 for every interface)",
    )
    parser.add_argument("--open", action="store_true", help="open the page in the browser")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the server's command, start nothing"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``llm-market app``: serve the app until the server stops (Ctrl-C stops it).

    Solara prints the page's address once the server is up.
    """
    argv = solara_argv(args.port, args.host, args.open)
    if args.dry_run:
        print(" ".join(f"{k}={shlex.quote(v)}" for k, v in SERVER_ENV.items()), shlex.join(argv))
        return 0
    env = server_env()
    if os.name == "posix":
        # Become the server, so that a signal to this process (Ctrl-C, kill PID) reaches it.
        os.execve(argv[0], argv, env)
    try:
        return subprocess.call(argv, env=env)
    except KeyboardInterrupt:
        return 130


COMMANDS = {"app": ("serve the browser app (Solara, no network needed)", configure, run)}
