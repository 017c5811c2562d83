"""What the prediction market costs a step: the default scenario with and without it.

Target (issue 16, item 1): a step with ``prediction_market=True`` costs at most 1.5 times a step
without it, with results bit-identical to the general numpy LMSR maker (the tests check that).

The contenders run in one process, interleaved: each repetition steps every model by one block of
days, in a rotating order, and times the block in CPU time (``time.process_time``), so machine
noise falls on all of them alike. The figure is the median over repetitions of the time per step.
All models start from the same seed and are on the same day when timed. ``--reference`` adds the
numpy maker the fast path replaced (``PredictionMarkets._trade_reference``, patched in on one
model), to show the old cost beside the new.

Run with ``python benchmarks/bench_prediction_market.py [--reference] [--reps 15] [--block 10]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import types

from llm_market import MarketModel
from llm_market.market.prediction_market import PredictionMarkets


def timed_trade(model: MarketModel, clock: list[float], reference: bool) -> None:
    """Route the model's bets through a timer (and, if asked, through the numpy maker)."""
    pm = model.prediction_markets
    trade = PredictionMarkets._trade_reference if reference else PredictionMarkets.trade
    if reference:
        pm.prices = types.MethodType(PredictionMarkets._prices_reference, pm)

    def run(self, *args):
        start = time.process_time()
        try:
            return trade(self, *args)
        finally:
            clock[0] += time.process_time() - start

    pm.trade = types.MethodType(run, pm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="timed blocks per contender")
    parser.add_argument("--block", type=int, default=10, help="days per timed block")
    parser.add_argument("--warmup", type=int, default=30, help="untimed days first")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reference", action="store_true", help="also time the numpy maker")
    args = parser.parse_args()
    horizon = args.warmup + args.reps * args.block + 1

    names = ["without", "with"] + (["reference"] if args.reference else [])
    models, clocks = {}, {}
    for name in names:
        models[name] = MarketModel(
            seed=args.seed, steps=horizon, prediction_market=name != "without"
        )
        clocks[name] = [0.0]
        if name != "without":
            timed_trade(models[name], clocks[name], reference=name == "reference")
    for model in models.values():
        for _ in range(args.warmup):
            model.step()
    for clock in clocks.values():
        clock[0] = 0.0

    per_step = {name: [] for name in names}
    for rep in range(args.reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            model = models[name]
            start = time.process_time()
            for _ in range(args.block):
                model.step()
            per_step[name].append((time.process_time() - start) / args.block)

    median = {name: statistics.median(v) for name, v in per_step.items()}
    steps = args.reps * args.block
    print(
        f"default scenario, seed {args.seed}, days {args.warmup}-{horizon - 1}, "
        f"{args.reps} interleaved blocks of {args.block} days (median CPU time per step)"
    )
    for name in names:
        trade_ms = 1e3 * clocks[name][0] / steps if name != "without" else 0.0
        share = f", PredictionMarkets.trade {trade_ms:.2f} ms" if name != "without" else ""
        print(f"  {name:>9}: {1e3 * median[name]:6.2f} ms/step{share}")
    ratio = median["with"] / median["without"]
    print(f"with / without prediction market: {ratio:.2f} (target <= 1.5)")
    if args.reference:
        old = median["reference"] / median["without"]
        print(
            f"reference (numpy maker) / without: {old:.2f}; "
            f"reference / with: {median['reference'] / median['with']:.1f}"
        )
    digests = {name: m.digest() for name, m in models.items() if name != "without"}
    if len(set(digests.values())) > 1:
        raise SystemExit(f"the fast and the numpy maker disagree: {digests}")


if __name__ == "__main__":
    main()
