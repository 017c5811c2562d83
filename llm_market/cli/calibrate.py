"""The ``llm-market calibrate`` command: fit the index process to prices, write a config file.

The fits and the file's text are :mod:`~llm_market.stats.calibration`'s; this module reads the
prices, chooses where the file goes and prints the fitted parameters.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``calibrate`` command's arguments."""
    parser.add_argument(
        "prices", help="CSV of dated daily prices (or 'sp500' for the sample shipped with arch)"
    )
    parser.add_argument("--column", default=None, help="the price column (default: detect)")
    parser.add_argument(
        "--out", default=None, help="config file to write (default: PRICES_calibrated.toml)"
    )
    parser.add_argument(
        "--omega",
        choices=("target", "mle"),
        default="target",
        help="garch_omega from the sample variance (variance targeting, default) or the MLE",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``llm-market calibrate``: fit, print the parameters, write the TOML file."""
    from ..stats.calibration import calibrate, config_values
    from ..stats.sources import SP500, load_source

    src = load_source(args.prices, column=args.column)
    if src.kind not in ("csv", "sp500"):
        raise UsageError(f"{args.prices}: calibrate reads a CSV of prices (or sp500)")
    gbm, garch, text = calibrate(src, args.omega)
    if args.out:
        out = Path(args.out)
    elif src.name == SP500:
        out = Path("sp500_calibrated.toml")
    else:
        path = Path(src.name)
        out = path.with_name(f"{path.stem}_calibrated.toml")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    for key, value in config_values(gbm, garch).items():
        print(f"{key:<17} {value if isinstance(value, str) else f'{value:.6g}'}")
    print(
        f"alpha + beta {garch.persistence:.6f}, unconditional daily vol "
        f"{garch.unconditional_daily_vol:.5f} ({garch.omega_from}), {gbm.n_returns} returns"
    )
    print(f"wrote {out}")
    return 0


COMMANDS = {
    "calibrate": (
        "fit GBM and GARCH(1,1)-t to a price series and write a config for `run --config`",
        configure,
        run,
    )
}
