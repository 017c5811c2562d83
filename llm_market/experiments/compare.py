"""Compare the market mechanisms on the same economy (``llm-market compare``).

Each mechanism runs the same scenario with the same seed, so the teams, clients, indices and news
are the same draws and only the institution differs. The table reports, per mechanism: mean
allocative efficiency, the volatility of the goods' daily log price changes, daily volume per
good, the mean price against the competitive equilibrium price, and how the realised surplus
splits between buyers and sellers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..market.mechanisms import MECHANISMS
from ..recording.columns import (
    BUYER_SURPLUS,
    CE_PRICE,
    EFFICIENCY,
    PRICE,
    SELLER_SURPLUS,
    VOLUME,
    good_columns,
)
from .runner import run_steps


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

    Raises:
        UsageError: A run stopped early (a language-model replay miss or a refused endpoint), so
            the mechanisms would not be compared over the same days.
    """
    from ..model import MarketModel

    rows = []
    for name in mechanisms or MECHANISMS:
        model = MarketModel(scenario=scenario, seed=seed, mechanism=name, **params)
        outcome = run_steps(model, steps)
        if outcome.stopped_by is not None:
            raise UsageError(f"{name}: stopped after {outcome.days} days: {outcome.stopped_by}")
        df = model.datacollector.get_model_vars_dataframe().iloc[1:]
        k = model.n_goods
        prices = df[good_columns(PRICE, k)].ffill()
        returns = np.log(prices).diff().iloc[1:]
        ce = df[good_columns(CE_PRICE, k)].to_numpy()
        buyer, seller = df[BUYER_SURPLUS].sum(), df[SELLER_SURPLUS].sum()
        rows.append(
            {
                "mechanism": name,
                "efficiency": df[EFFICIENCY].mean(),
                "price_volatility": float(returns.std().mean()),
                "volume_per_good": df[good_columns(VOLUME, k)].to_numpy().mean(),
                "mean_price": float(prices.stack().mean()),
                "mean_ce_price": float(pd.Series(ce.ravel()).mean()),
                "buyer_share_of_surplus": buyer / (buyer + seller) if buyer + seller else np.nan,
                "digest": model.digest()[:12],
            }
        )
    return pd.DataFrame(rows).set_index("mechanism")
