"""The ``llm-market calibrate`` command: fit index, demand regimes and news; write a config.

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
    parser.add_argument(
        "--regimes",
        choices=("returns", "volume", "none"),
        default="returns",
        help="demand regimes from a Markov-switching fit of the returns (default), of the "
        "CSV's volume column, or none",
    )
    parser.add_argument(
        "--jumps",
        choices=("gumbel", "daily", "none"),
        default="gumbel",
        help="news rate from the Lee-Mykland jumps: family-wise Gumbel threshold (default), "
        "day-by-day threshold, or none",
    )
    parser.add_argument(
        "--jump-level",
        type=float,
        default=0.05,
        metavar="ALPHA",
        help="significance of the jump test (default 0.05)",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``llm-market calibrate``: fit, print the parameters, write the TOML file."""
    from ..stats.calibration import calibrate, config_values
    from ..stats.sources import SP500, load_source

    src = load_source(args.prices, column=args.column)
    if src.kind not in ("csv", "sp500"):
        raise UsageError(f"{args.prices}: calibrate reads a CSV of prices (or sp500)")
    volume = None
    if args.regimes == "volume":
        from ..stats.history import load_history

        volume = load_history(args.prices, args.column).volume
        if volume is None:
            raise UsageError(f"{args.prices}: --regimes volume needs a Volume column")
    cal = calibrate(
        src,
        args.omega,
        regimes=None if args.regimes == "none" else args.regimes,
        volume=volume,
        jump_test=None if args.jumps == "none" else args.jumps,
        jump_significance=args.jump_level,
    )
    gbm, garch = cal.gbm, cal.garch
    if args.out:
        out = Path(args.out)
    elif src.name == SP500:
        out = Path("sp500_calibrated.toml")
    else:
        path = Path(src.name)
        out = path.with_name(f"{path.stem}_calibrated.toml")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(cal.text)
    for key, value in config_values(cal).items():
        print(f"{key:<17} {_show(value)}")
    print(
        f"alpha + beta {garch.persistence:.6f}, unconditional daily vol "
        f"{garch.unconditional_daily_vol:.5f} ({garch.omega_from}), {gbm.n_returns} returns"
    )
    if cal.regimes is not None:
        fit = cal.regimes
        print(f"demand regimes ({fit.series}): {fit.k} by {fit.criterion.upper()}")
        for i, name in enumerate(fit.states):
            print(
                f"  {name:<6} level {fit.levels[i]:.3f}, expected duration "
                f"{fit.durations[i]:.1f} days, stationary share {fit.stationary[i]:.1%}"
            )
    if cal.jumps is not None:
        j = cal.jumps
        print(
            f"jumps ({j.test}, level {j.significance:g}): {j.n_jumps} in {j.n_tested} days "
            f"beyond {j.threshold:.2f} local sds"
        )
    print(f"wrote {out}")
    return 0


def _show(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


COMMANDS = {
    "calibrate": (
        "fit the index (GBM, GARCH-t), demand regimes and news rate to prices; write a config",
        configure,
        run,
    )
}
