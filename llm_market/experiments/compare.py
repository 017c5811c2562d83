"""Compare the market mechanisms on the same economy: ``llm-market compare``.

Each mechanism runs the same scenario with the same seed, so the teams, clients, indices and news
are the same draws and only the institution differs. The table reports, per mechanism: mean
allocative efficiency, the volatility of the goods' daily log price changes, daily volume per
good, the mean price against the competitive equilibrium price, and how the realised surplus
splits between buyers and sellers.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import pandas as pd


def compare_mechanisms(
    mechanisms: tuple[str, ...] | None = None,
    scenario: str = "default",
    seed: int = 42,
    steps: int = 252,
    **params: Any,
) -> pd.DataFrame:
    """Run one scenario under each mechanism and summarise the market's outcome.

    Args:
        mechanisms: Mechanism names (default: all of them).
        scenario: Scenario preset.
        seed: The seed shared by every run.
        steps: Trading days per run.
        **params: Parameter overrides applied to every run.

    Returns:
        One row per mechanism.
    """
    from ..model import MarketModel
    from ..params import MECHANISMS

    rows = []
    for name in mechanisms or MECHANISMS:
        model = MarketModel(scenario=scenario, seed=seed, mechanism=name, **params)
        for _ in range(steps):
            model.step()
        df = model.datacollector.get_model_vars_dataframe().iloc[1:]
        k = model.n_goods
        prices = df[[f"price_{g}" for g in range(k)]].ffill()
        returns = np.log(prices).diff().iloc[1:]
        ce = df[[f"ce_price_{g}" for g in range(k)]].to_numpy()
        buyer, seller = df["buyer_surplus"].sum(), df["seller_surplus"].sum()
        rows.append(
            {
                "mechanism": name,
                "efficiency": df["efficiency"].mean(),
                "price_volatility": float(returns.std().mean()),
                "volume_per_good": df[[f"volume_{g}" for g in range(k)]].to_numpy().mean(),
                "mean_price": float(prices.stack().mean()),
                "mean_ce_price": float(pd.Series(ce.ravel()).mean()),
                "buyer_share_of_surplus": buyer / (buyer + seller) if buyer + seller else np.nan,
                "digest": model.digest()[:12],
            }
        )
    return pd.DataFrame(rows).set_index("mechanism")


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", default="default", help="scenario preset")
    parser.add_argument("--seed", type=int, default=42, help="seed shared by every run")
    parser.add_argument("--steps", type=int, default=252, help="trading days per run")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter for every run (repeatable)",
    )


def _run(args: argparse.Namespace) -> int:
    from ..cli import parse_set
    from ..errors import UsageError
    from ..params import make_params

    if args.steps < 1:
        raise UsageError(f"--steps: must be >= 1 (got {args.steps})")
    overrides = parse_set(args.overrides)
    if "mechanism" in overrides:
        raise UsageError("--set mechanism: compare runs every mechanism; do not set it")
    make_params(args.scenario, **overrides)
    table = compare_mechanisms(
        scenario=args.scenario, seed=args.seed, steps=args.steps, **overrides
    )
    print(markdown_table(table))
    return 0


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """Format a frame as a Markdown table (index first), floats to ``digits`` decimals."""
    header = [table.index.name or "", *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for idx, row in table.iterrows():
        cells = [f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join([str(idx), *cells]) + " |")
    return "\n".join(lines)


COMMANDS = {
    "compare": (
        "run one scenario under every mechanism and tabulate the outcomes",
        _configure,
        _run,
    ),
}
